"""Tensor metadata and conversions: item, tolist, numpy, Python number protocols, pickling."""
import copy
import pickle

import numpy as np
import pytest
import torch

import ember


def both(data, **kw):
    return ember.tensor(data, **kw), torch.tensor(data, **kw)


def test_metadata_matches_torch():
    e, t = both([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    assert e.shape == t.shape and repr(e.shape) == repr(t.shape)
    assert e.size() == t.size() and e.size(1) == t.size(1) and e.size(-1) == t.size(-1)
    assert (e.dim(), e.ndim, e.numel(), e.nelement()) == (t.dim(), t.ndim, t.numel(),
                                                         t.nelement())
    assert (e.element_size(), e.itemsize, e.nbytes) == (t.element_size(), t.itemsize, t.nbytes)
    assert e.is_floating_point() and not e.is_complex()
    assert e.type() == t.type() == "torch.FloatTensor"
    assert ember.tensor([1]).type() == torch.tensor([1]).type()
    with pytest.raises(IndexError):
        e.size(2)


def test_size_is_a_tuple_with_torch_repr():
    s = ember.Size([2, 3])
    assert s == (2, 3) and isinstance(s, tuple)
    assert repr(s) == repr(torch.Size([2, 3]))
    assert s.numel() == 6 and isinstance(s[1:], ember.Size)


def test_item_tolist_and_number_protocols():
    for data in ([1.5, -2.0], [[1, 2], [3, 4]], [True, False], 3.25, 7):
        e, t = both(data)
        assert e.tolist() == t.tolist()
    e, t = both(2.5)
    assert e.item() == t.item() and type(e.item()) is type(t.item())
    assert float(e) == float(t) and int(e) == int(t)
    assert f"{e:.3f}" == f"{t:.3f}"
    ei = ember.tensor(3)
    assert [10, 20, 30, 40][ei] == 40 and ei.__index__() == 3
    with pytest.raises(TypeError):
        ember.tensor(1.5).__index__()
    with pytest.raises(RuntimeError, match="a Tensor with 2 elements cannot be converted"):
        ember.tensor([1.0, 2.0]).item()


def test_bool_rules():
    assert bool(ember.tensor([1.0])) is True
    assert bool(ember.tensor(0)) is False
    with pytest.raises(RuntimeError, match="Boolean value of Tensor with more than one value"):
        bool(ember.tensor([1, 2]))
    with pytest.raises(RuntimeError):
        bool(torch.tensor([1, 2]))


def test_len_and_iter():
    e, t = both([[1, 2], [3, 4], [5, 6]])
    assert len(e) == len(t) == 3
    rows = list(e)
    assert [r.tolist() for r in rows] == [r.tolist() for r in t]
    with pytest.raises(TypeError, match="len\\(\\) of a 0-d tensor"):
        len(ember.tensor(1.0))
    with pytest.raises(TypeError, match="iteration over a 0-d tensor"):
        iter(ember.tensor(1.0))


def test_numpy_shares_memory_both_ways():
    a = np.arange(4.0, dtype=np.float32)
    e = ember.from_numpy(a)
    e.numpy()[0] = 100.0
    assert a[0] == 100.0
    a[1] = 50.0
    assert e.tolist()[1] == 50.0
    assert np.asarray(e) is a or np.shares_memory(np.asarray(e), a)
    with pytest.raises(RuntimeError, match="Can't call numpy\\(\\) on Tensor that requires grad"):
        ember.ones(2, requires_grad=True).numpy()


@pytest.mark.parametrize("method", ["float", "double", "half", "bfloat16", "long", "int",
                                    "short", "char", "byte", "bool"])
def test_cast_methods(method):
    e, t = both([0.0, 1.5, -2.5, 3.0])
    er, tr = getattr(e, method)(), getattr(t, method)()
    assert repr(er.dtype) == repr(tr.dtype)
    np.testing.assert_array_equal(np.asarray(er.float()), tr.float().numpy())


def test_type_as_and_to_other():
    e = ember.tensor([1, 2])
    other = ember.zeros(1, dtype=ember.float64)
    assert e.type_as(other).dtype is ember.float64
    assert e.to(other).dtype is ember.float64
    assert e.to(ember.float32).dtype is ember.float32
    assert e.to(dtype=ember.int64) is e
    assert e.to(ember.int64, copy=True) is not e


def test_legacy_constructor():
    assert ember.Tensor(2, 3).shape == torch.Tensor(2, 3).shape
    assert repr(ember.Tensor()) == repr(torch.Tensor())
    assert ember.Tensor([1, 2]).dtype is ember.float32
    assert ember.Tensor([1, 2]).tolist() == torch.Tensor([1, 2]).tolist()


def test_new_factories_follow_self():
    e = ember.ones(2, dtype=ember.float64)
    assert e.new_zeros(3).dtype is ember.float64 and e.new_zeros(3).shape == (3,)
    assert e.new_ones((2, 2)).tolist() == [[1.0, 1.0], [1.0, 1.0]]
    assert e.new_full((2,), 7).tolist() == [7.0, 7.0]
    assert e.new_tensor([1, 2]).dtype is ember.float64


def test_pickle_and_deepcopy_keep_values_and_requires_grad():
    e = ember.tensor([[1.0, 2.0]], requires_grad=True)
    for clone in (pickle.loads(pickle.dumps(e)), copy.deepcopy(e)):
        assert clone.tolist() == e.tolist() and clone.requires_grad
        assert clone.detach().numpy() is not e.detach().numpy()
    with pytest.raises(RuntimeError, match="Only Tensors created explicitly by the user"):
        copy.deepcopy(e * 2)


def test_detach_shares_memory_and_version():
    x = ember.ones(3, requires_grad=True)
    y = x * 2
    d = y.detach()
    assert not d.requires_grad and d.grad_fn is None
    d.add_(1)
    assert y.tolist() == [3.0, 3.0, 3.0]
    assert y._version == d._version == 1


def test_requires_grad_rules():
    with pytest.raises(RuntimeError, match="only Tensors of floating point dtype can require"):
        ember.tensor([1, 2]).requires_grad_()
    y = ember.ones(2, requires_grad=True) * 2
    with pytest.raises(RuntimeError, match="you can only change requires_grad flags of leaf"):
        y.requires_grad_(False)


def test_grad_assignment_is_checked():
    x = ember.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="attempting to assign a gradient of size"):
        x.grad = ember.ones(3)
    x.grad = ember.zeros(2)
    assert x.grad.tolist() == [0.0, 0.0]
    del x.grad
    assert x.grad is None


def test_set_num_threads_really_sets_blas_threads():
    from threadpoolctl import threadpool_info
    before = ember.get_num_threads()
    try:
        ember.set_num_threads(1)
        blas = [p for p in threadpool_info() if p.get("user_api") == "blas"]
        assert all(p["num_threads"] == 1 for p in blas)
        assert ember.get_num_threads() == 1
    finally:
        ember.set_num_threads(before)
