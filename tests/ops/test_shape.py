"""Shape ops and views against torch: values, dtypes, strides, memory sharing, grads, errors."""
import warnings

import ml_dtypes
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from oracle import assert_same, check, check_error, randn, to_ember, to_torch

import ember


def ints(*shape, lo=-5, hi=6, dtype=np.int64, seed=0):
    return np.random.default_rng(seed).integers(lo, hi, shape).astype(dtype)


def both(x: np.ndarray, requires_grad: bool = False):
    return to_torch(x, requires_grad), to_ember(x, requires_grad)


def same_layout(e, t, what="output"):
    """Shape, strides, storage offset and contiguity agree."""
    assert tuple(e.shape) == tuple(t.shape), what
    assert e.stride() == t.stride(), f"{what}: strides {e.stride()} vs torch {t.stride()}"
    assert e.storage_offset() == t.storage_offset(), f"{what}: storage offset"
    assert e.is_contiguous() == t.is_contiguous(), f"{what}: contiguity"


def name_of(fn, x, lib):
    out = fn(lib, to_torch(x, True) if lib is torch else to_ember(x, True))
    out = out[0] if isinstance(out, (tuple, list)) else out
    return out.grad_fn.name() if out.grad_fn is not None else None


def second_order(fn, x: np.ndarray, seed: int = 1):
    """d/dx <v, d/dx <w, fn(x)>> agrees (backward formulas are themselves differentiable)."""
    results = []
    for lib, conv in ((torch, to_torch), (ember, to_ember)):
        rng = np.random.default_rng(seed)
        xt = conv(x, True)
        y = fn(lib, xt)
        w = conv(rng.standard_normal(tuple(y.shape)))
        (g,) = lib.autograd.grad((y * w).sum(), xt, create_graph=True)
        v = conv(rng.standard_normal(x.shape))
        (h,) = lib.autograd.grad((g * g * v).sum(), xt)
        results.append((g, h))
    (tg, th), (eg, eh) = results
    assert_same(eg, tg, what="gradient")
    assert_same(eh, th, what="second derivative")


# ----------------------------------------------------------------- node names
NAMED = [
    lambda lib, x: x.view(12, 5), lambda lib, x: x.reshape(3, 20),
    lambda lib, x: x.transpose(0, 1).reshape(-1), lambda lib, x: x.flatten(),
    lambda lib, x: x.transpose(0, 1).flatten(), lambda lib, x: x.unflatten(1, (2, 2)),
    lambda lib, x: x.ravel(), lambda lib, x: x.unsqueeze(0).squeeze(),
    lambda lib, x: x.unsqueeze(0).squeeze(0), lambda lib, x: x.unsqueeze(0).squeeze((0, 1)),
    lambda lib, x: x.unsqueeze(1), lambda lib, x: x.permute(2, 0, 1),
    lambda lib, x: x.transpose(0, 2), lambda lib, x: x[0].t(), lambda lib, x: x.mT,
    lambda lib, x: x.movedim(0, 2), lambda lib, x: x.expand(2, 3, 4, 5),
    lambda lib, x: x.repeat(2, 1, 1), lambda lib, x: x.repeat_interleave(2),
    lambda lib, x: x.repeat_interleave(2, dim=1), lambda lib, x: x.tile((2,)),
    lambda lib, x: lib.cat([x, x]), lambda lib, x: lib.stack([x, x]),
    lambda lib, x: lib.hstack([x, x]), lambda lib, x: lib.atleast_3d(x[0, 0]),
    lambda lib, x: x.split(2), lambda lib, x: x.split([1, 2]),
    lambda lib, x: x.tensor_split(2), lambda lib, x: x.chunk(2), lambda lib, x: x.unbind(),
    lambda lib, x: x.narrow(0, 0, 1), lambda lib, x: x.select(0, 1),
    lambda lib, x: x.unfold(2, 2, 1), lambda lib, x: x.flip(0), lambda lib, x: x.roll(1),
    lambda lib, x: x.roll(1, 0), lambda lib, x: x.tril(), lambda lib, x: x.triu(1),
    lambda lib, x: x.diagonal(), lambda lib, x: x[0, 0].diag(), lambda lib, x: x[0].diag(),
    lambda lib, x: x.diag_embed(), lambda lib, x: x[0].trace(),
    lambda lib, x: x.as_strided((2, 2), (1, 2)), lambda lib, x: x.transpose(0, 1).contiguous(),
    lambda lib, x: x.swapaxes(0, 1), lambda lib, x: lib.meshgrid(x[0, 0], x[0, 1],
                                                                    indexing="ij"),
    lambda lib, x: x[0].T, lambda lib, x: x[0].H, lambda lib, x: x.mH,
    lambda lib, x: x.adjoint(), lambda lib, x: lib.broadcast_tensors(x, x[0])[1],
]


@pytest.mark.parametrize("i", range(len(NAMED)))
def test_node_names_match_torch(i):
    x = randn(3, 4, 5)
    assert name_of(NAMED[i], x, ember) == name_of(NAMED[i], x, torch)


# ----------------------------------------------------------------- metadata
LAYOUTS = [
    lambda x: x, lambda x: x.t() if x.dim() == 2 else x.transpose(0, 2),
    lambda x: x.transpose(0, 1), lambda x: x.permute(2, 0, 1), lambda x: x[1:],
    lambda x: x.narrow(2, 1, 3), lambda x: x.select(1, 2), lambda x: x.unsqueeze(0),
    lambda x: x.unsqueeze(3), lambda x: x.transpose(0, 1).unsqueeze(2),
    lambda x: x.transpose(0, 2).unsqueeze(3), lambda x: x[:, :1].squeeze(1),
    lambda x: x.narrow(1, 1, 1), lambda x: x.view(12, 5), lambda x: x.view(3, 1, 20),
    lambda x: x.view(1, 60, 1), lambda x: x.unsqueeze(1).expand(3, 2, 4, 5),
    lambda x: x[:, :1].expand(3, 4, 5), lambda x: x[:, :1].expand(2, 3, 1, 5),
    lambda x: x.diagonal(), lambda x: x.diagonal(1, 1, 2), lambda x: x.diagonal(-1, 0, 2),
    lambda x: x.unfold(2, 2, 1), lambda x: x.unfold(1, 3, 2), lambda x: x.split(2)[1],
    lambda x: x.chunk(3, 2)[2], lambda x: x.unbind(1)[3], lambda x: x.tensor_split(3, 1)[1],
    lambda x: x.as_strided((2, 3), (5, 1), 7), lambda x: x[1:].as_strided((4,), (2,)),
    lambda x: x.movedim((0, 1), (2, 0)), lambda x: x.mT, lambda x: x.transpose(1, 2).contiguous(),
    lambda x: x.flatten(1), lambda x: x.transpose(1, 2).flatten(1), lambda x: x.select(0, 1).t(),
    lambda x: x.view(torch.int32 if isinstance(x, torch.Tensor) else ember.int32),
    lambda x: x[:, 1:].view(torch.int16 if isinstance(x, torch.Tensor) else ember.int16),
    lambda x: x.repeat(1, 2, 1), lambda x: x.flip(1), lambda x: x.tril(),
]


@pytest.mark.parametrize("i", range(len(LAYOUTS)))
def test_strides_offsets_contiguity_match_torch(i):
    t, e = both(randn(3, 4, 5, dtype=np.float32))
    to, eo = LAYOUTS[i](t), LAYOUTS[i](e)
    same_layout(eo, to)
    assert_same(eo, to)
    assert (eo._base is e) == (to._base is t)
    if to._base is t:  # a view: the same position inside the same memory
        assert eo.data_ptr() - e.data_ptr() == to.data_ptr() - t.data_ptr()


def test_stride_with_dim_and_errors():
    t, e = both(randn(3, 4))
    assert e.stride(0) == t.stride(0) and e.stride(-1) == t.stride(-1)
    assert ember.tensor(1.0).stride() == torch.tensor(1.0).stride() == ()
    check_error(lambda lib, x: x.stride(2), randn(3, 4), match=r"range of \[-2, 1\]")
    e0 = ember.zeros(0, 3)
    assert e0.is_contiguous() and e0.stride() == torch.zeros(0, 3).stride()


def test_contiguous_copies_only_when_needed():
    t, e = both(randn(3, 4), True)
    assert e.contiguous() is e
    assert t.contiguous() is t
    check(lambda lib, x: x.t().contiguous(), randn(3, 4))
    c = e.t().contiguous()
    assert c.is_contiguous() and c.grad_fn.name() == "CloneBackward0" and c._base is None


# ----------------------------------------------------------------- view / reshape
@pytest.mark.parametrize("shape", [(12, 5), (-1,), (3, -1), ((6, 10),), ([60],), (2, 1, 30, 1),
                                   (1, -1, 3)])
def test_view_shapes_and_grads(shape):
    check(lambda lib, x: x.view(*shape) * 2, randn(3, 4, 5))


def test_view_accepts_size_and_zero_dim_and_empty():
    check(lambda lib, x: x.view(x.shape), randn(2, 3))
    check(lambda lib, x: x.view(()), randn(1, 1))
    check(lambda lib, x: x.view(1, 1), randn())
    check(lambda lib, x: x.view(-1), randn())
    check(lambda lib, x: x.view(0, 4, 2), randn(2, 0, 3), grad=False)
    check_error(lambda lib, x: x.view(0, 4, -1), randn(2, 0, 3),
                match=r"cannot reshape tensor of 0 elements into shape \[0, 4, -1\] because the "
                      "unspecified dimension size -1 can be any value and is ambiguous")
    check_error(lambda lib, x: x.stride(0), randn(), match="Dimension specified as 0 but tensor "
                                                           "has no dimensions")
    check(lambda lib, x: x.view_as(lib.zeros(6)), randn(2, 3))
    check(lambda lib, x: x.view(lib.tensor(6)), randn(2, 3))


def test_view_shares_memory_and_version():
    for x in both(randn(3, 4)):
        v = x.view(12)
        assert v._base is x
        v.fill_(7.0)
        w = x.view(2, 6)
        w.mul_(2.0)
        assert x._version == 2 and w._version == 2 and v._version == 2
        assert float(x.sum()) == 14.0 * 12
        assert w.view(12)._base is x  # a view of a view has the root as base


@pytest.mark.parametrize("fn,match", [
    (lambda lib, x: x.t().view(-1), r"view size is not compatible.*Use \.reshape"),
    (lambda lib, x: x.view(5, -1), r"shape '\[5, -1\]' is invalid for input of size 12"),
    (lambda lib, x: x.view(5, 3), r"shape '\[5, 3\]' is invalid for input of size 12"),
    (lambda lib, x: x.view(-1, -1), "only one dimension can be inferred"),
    (lambda lib, x: x.view(-2, 6), r"invalid shape dimension -2 at index 0 of shape \[-2, 6\]"),
    (lambda lib, x: x.reshape(5, -1), r"shape '\[5, -1\]' is invalid for input of size 12"),
    (lambda lib, x: x.view(0, -1), r"shape '\[0, -1\]' is invalid"),
])
def test_view_errors(fn, match):
    check_error(fn, randn(3, 4), match=match)


def test_reshape_view_or_copy():
    t, e = both(randn(3, 4), True)
    r = e.reshape(4, 3)
    assert r._base is e and r.grad_fn.name() == "ViewBackward0"
    c = e.t().reshape(-1)
    assert c._base is None and c.grad_fn.name() == "UnsafeViewBackward0"
    assert c.grad_fn.next_functions[0][0].name() == "CloneBackward0"
    check(lambda lib, x: x.t().reshape(2, 6) * lib.arange(6.0, dtype=lib.float64), randn(3, 4))
    check(lambda lib, x: x.reshape_as(lib.zeros(2, 6)), randn(3, 4))
    check(lambda lib, x: x[:, ::2].reshape(-1) if lib is torch else x.t()[::2].t().reshape(-1),
          randn(3, 4))


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(1, 4), min_size=1, max_size=4), st.randoms(use_true_random=False))
def test_reshape_permuted_hypothesis(shape, rnd):
    perm = list(range(len(shape)))
    rnd.shuffle(perm)
    x = randn(*shape)
    n = x.size
    target = [d for d in (1, 2, 3, 4, 6, 12) if n % d == 0]
    first = rnd.choice(target)
    check(lambda lib, a: a.permute(*perm).reshape(first, -1), x)
    t, e = both(x)
    to, eo = t.permute(*perm).reshape(first, -1), e.permute(*perm).reshape(first, -1)
    assert (to._base is t) == (eo._base is e)
    if eo._base is e:
        same_layout(eo, to)


def test_view_dtype():
    x = randn(2, 4, dtype=np.float32)
    for name in ("int32", "int16", "float16", "bfloat16", "uint8", "bool", "float64", "int64",
                 "float32"):
        t, e = both(x)
        to, eo = t.view(getattr(torch, name)), e.view(getattr(ember, name))
        assert tuple(eo.shape) == tuple(to.shape) and eo.stride() == to.stride()
        assert str(eo.dtype) == str(to.dtype)
        np.testing.assert_array_equal(eo.detach().numpy().view(np.uint8),
                                      to.numpy().view(np.uint8) if name != "bfloat16" else
                                      to.view(torch.int16).numpy().view(np.uint8))
    t, e = both(x, True)
    assert not e.view(ember.int32).requires_grad and not t.view(torch.int32).requires_grad
    e2 = ember.zeros(4)
    e2.view(ember.int32).add_(1)
    assert e2._version == 1 and e2[0].item() != 0.0
    check(lambda lib, a: a[:, 1:].view(lib.float16), x, grad=False)
    check(lambda lib, a: a.view(lib.int8)[:, 2:].view(lib.int16), x, grad=False)
    check(lambda lib, a: a.t().view(lib.int32), x, grad=False)


@pytest.mark.parametrize("fn,match", [
    (lambda lib, x: x.view(lib.float64)[0].view(lib.int8)[0], None),
    (lambda lib, x: x[0, 0].view(lib.int16), r"self.dim\(\) cannot be 0 to view Float as Short"),
    (lambda lib, x: x.t().view(lib.int16), r"self.stride\(-1\) must be 1 to view Float as Short"),
    (lambda lib, x: x[:, :3].view(lib.float64), r"self.size\(-1\) must be divisible by 2"),
    (lambda lib, x: x.view(-1)[:15].view(3, 5)[:, :2].view(lib.float64),
     r"self.stride\(0\) must be divisible by 2 to view Float as Double \(different element "
     r"sizes\), but got 5"),
    (lambda lib, x: x.view(-1)[1:5].view(lib.float64), r"storage_offset\(\) must be divisible"),
])
def test_view_dtype_errors(fn, match):
    x = randn(3, 6, dtype=np.float32)
    if match is None:
        check(fn, x, grad=False)
    else:
        check_error(fn, x, match=match)


# ----------------------------------------------------------------- flatten / unflatten / ravel
@pytest.mark.parametrize("args", [(), (1,), (0, 1), (-2, -1), (1, 1), (0, -1), (2,)])
def test_flatten(args):
    check(lambda lib, x: x.flatten(*args), randn(2, 3, 4))
    check(lambda lib, x: lib.flatten(x.transpose(0, 2), *args), randn(2, 3, 4))


def test_flatten_edge_cases():
    t, e = both(randn(2, 3), True)
    assert e.flatten(1, 1) is e and t.flatten(1, 1) is t
    check(lambda lib, x: x.flatten(), randn())
    check(lambda lib, x: lib.ravel(x.t()), randn(3, 4))
    check(lambda lib, x: x.ravel(), randn(3, 4))
    check(lambda lib, x: x.flatten(), randn(0, 3), grad=False)
    check_error(lambda lib, x: x.flatten(2, 1), randn(2, 3, 4),
                match="start_dim cannot come after end_dim")
    check_error(lambda lib, x: x.flatten(0, 5), randn(2, 3, 4), match="Dimension out of range")


@pytest.mark.parametrize("dim,sizes", [(1, (2, 2)), (-1, (5, 1)), (0, (-1, 3)), (2, (1, 5, 1)),
                                       (1, [4])])
def test_unflatten(dim, sizes):
    check(lambda lib, x: x.unflatten(dim, sizes), randn(3, 4, 5))
    check(lambda lib, x: lib.unflatten(x.permute(1, 0, 2), dim, sizes), randn(4, 3, 5))


@pytest.mark.parametrize("sizes,match", [
    ((3, 2), r"Provided sizes \[3, 2\] don't multiply up to the size of dim 1 \(4\)"),
    ((), "sizes must be non-empty"), ((-1, -1), "only one dimension can be inferred"),
    ((3, -1), "unflatten: Provided sizes"),
])
def test_unflatten_errors(sizes, match):
    check_error(lambda lib, x: x.unflatten(1, sizes), randn(3, 4, 5), match=match)


# ----------------------------------------------------------------- squeeze / unsqueeze
@pytest.mark.parametrize("dim", [None, 0, 2, -1, 1, (0, 2), (1,), (), (-1, 0, 1)])
def test_squeeze(dim):
    x = randn(1, 3, 1)
    check(lambda lib, a: a.squeeze() if dim is None else a.squeeze(dim), x)
    check(lambda lib, a: lib.squeeze(a.transpose(0, 1), dim) if dim is not None else
          lib.squeeze(a.transpose(0, 1)), x)


def test_squeeze_zero_dim_and_errors():
    check(lambda lib, x: x.squeeze(0), randn())
    check(lambda lib, x: x.squeeze(-1), randn())
    check(lambda lib, x: x.squeeze(), randn(1, 0, 1), grad=False)
    check_error(lambda lib, x: x.squeeze(3), randn(1, 3, 1), match=r"range of \[-3, 2\]")
    check_error(lambda lib, x: x.squeeze((0, 0)), randn(1, 3, 1),
                match="dim 0 appears multiple times")


@pytest.mark.parametrize("dim", [0, 1, 2, 3, -1, -4])
def test_unsqueeze(dim):
    check(lambda lib, x: x.unsqueeze(dim), randn(2, 3, 4))
    t, e = both(randn(2, 3, 4))
    same_layout(e.transpose(0, 2).unsqueeze(dim), t.transpose(0, 2).unsqueeze(dim))
    d = max(min(dim, 2), -3)
    same_layout(e[:, 1].unsqueeze(d), t[:, 1].unsqueeze(d))


def test_unsqueeze_errors_and_scalars():
    check(lambda lib, x: x.unsqueeze(-1), randn())
    check(lambda lib, x: x.unsqueeze(0).unsqueeze(0), randn())
    check_error(lambda lib, x: x.unsqueeze(4), randn(2, 3, 4), match=r"range of \[-4, 3\]")


@pytest.mark.parametrize("op", [
    lambda y: y.squeeze_(), lambda y: y.squeeze_(0), lambda y: y.squeeze_((0, 2)),
    lambda y: y.unsqueeze_(1), lambda y: y.unsqueeze_(-1), lambda y: y.transpose_(0, 1),
    lambda y: y.squeeze_().t_(), lambda y: y.transpose_(-1, 0).unsqueeze_(0).squeeze_(2),
])
def test_inplace_metadata_ops(op):
    x = randn(1, 3, 1)
    res = []
    for conv in (to_torch, to_ember):
        a = conv(x, True)
        y = a * 2
        v0 = y._version
        out = op(y)
        assert out is y
        res.append((y, y._version - v0, y.grad_fn.name(), a))
        (y * conv(np.arange(y.numel(), dtype=np.float64).reshape(tuple(y.shape)))).sum().backward()
    (ty, tv, tn, ta), (ey, ev, en, ea) = res
    assert_same(ey, ty)
    same_layout(ey, ty)
    assert ev == tv and en == tn
    assert_same(ea.grad, ta.grad)


def test_inplace_metadata_ops_on_views_and_leaves():
    check_error(lambda lib, x: x.requires_grad_().t_(), randn(3, 4),
                match="a leaf Variable that requires grad")
    check_error(lambda lib, x: x.requires_grad_().unsqueeze(0).unsqueeze_(0), randn(3, 4),
                match="a view of a leaf Variable that requires grad")
    for lib in (torch, ember):
        z = lib.zeros(3, 4)
        w = z.t()
        w.unsqueeze_(0)
        assert tuple(w.shape) == (1, 4, 3) and w._base is z and z._version == 1
        w.fill_(1.0)
        assert float(z.sum()) == 12.0
        with lib.no_grad():
            leaf = lib.zeros(2, 3, requires_grad=True)
            leaf.t_()
            assert tuple(leaf.shape) == (3, 2) and leaf.is_leaf
    check(lambda lib, x: (lambda y: y[1:].t_() * 3)(x * 1) if lib is torch else
          (lambda y: y.narrow(0, 1, 2).t_() * 3)(x * 1), randn(3, 4))


# ----------------------------------------------------------------- permutations
@pytest.mark.parametrize("dims", [(2, 0, 1), (0, 1, 2), (-1, -2, -3), ((1, 2, 0),), ([2, 1, 0],)])
def test_permute(dims):
    check(lambda lib, x: x.permute(*dims), randn(2, 3, 4))
    check(lambda lib, x: lib.permute(x.transpose(0, 1), *dims) if len(dims) == 1 else
          lib.permute(x.transpose(0, 1), dims), randn(2, 3, 4))


@pytest.mark.parametrize("fn,match", [
    (lambda lib, x: x.permute(0, 1), r"input.dim\(\) = 3 is not equal to len\(dims\) = 2"),
    (lambda lib, x: x.permute(0, 1, 1), "duplicate dims are not allowed"),
    (lambda lib, x: x.permute(0, 1, 3), "Dimension out of range"),
    (lambda lib, x: x.transpose(0, 3), r"range of \[-3, 2\], but got 3"),
    (lambda lib, x: x.t(), "t\\(\\) expects a tensor with <= 2 dimensions, but self is 3D"),
    (lambda lib, x: x.t_(), r"t_\(\) expects a tensor with <= 2 dimensions, but self is 3D"),
    (lambda lib, x: x[0, 0].mT, "tensor.mT is only supported on matrices or batches of matrices. "
     "Got 1-D tensor."),
    (lambda lib, x: x[0, 0].mH, "tensor.mH is only supported"),
    (lambda lib, x: x[0, 0].adjoint(), r"tensor.adjoint\(\) is only supported"),
    (lambda lib, x: x.H, "Got 3-D tensor. For batches of matrices, consider using tensor.mH"),
    (lambda lib, x: x[0, 0].H, r"tensor.H is only supported on matrices \(2-D tensors\). Got 1-D"),
    (lambda lib, x: x.movedim((0, 0), (1, 2)), r"repeated dim in `source` \(\[0, 0\]\)"),
    (lambda lib, x: x.movedim((0, 1), (2, 2)), r"repeated dim in `destination`"),
    (lambda lib, x: x.movedim((0, 1), (1,)), r"source \(\[0, 1\] dims\) should contain the same"),
])
def test_permutation_errors(fn, match):
    check_error(fn, randn(2, 3, 4), match=match)


def test_transposes():
    check(lambda lib, x: x.transpose(0, -1), randn(2, 3, 4))
    check(lambda lib, x: lib.transpose(x, 1, 1), randn(2, 3, 4))
    check(lambda lib, x: lib.swapaxes(x, 0, 1), randn(2, 3, 4))
    check(lambda lib, x: lib.swapdims(x, 2, 1), randn(2, 3, 4))
    check(lambda lib, x: x.transpose(0, -1), randn())
    check(lambda lib, x: lib.t(x), randn(3, 4))
    check(lambda lib, x: x.t(), randn(3))
    check(lambda lib, x: x.t(), randn())
    check(lambda lib, x: x.mT, randn(2, 3, 4))
    check(lambda lib, x: x.mH, randn(3, 4))
    check(lambda lib, x: x.H, randn(3, 4))
    check(lambda lib, x: lib.adjoint(x), randn(2, 3, 4))
    check(lambda lib, x: x.T, randn(3, 4))
    with pytest.warns(UserWarning, match="Tensor.T is deprecated on 0-D tensors"):
        check(lambda lib, x: x.T, randn())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check(lambda lib, x: x.T, randn(2, 3, 4))
    assert sum("x.T" in str(w.message) for w in caught) == 2
    check(lambda lib, x: x.t(), ints(2, 3), grad=False)


@pytest.mark.parametrize("src,dst", [(0, 2), (-1, 0), ((0, 1), (2, 0)), ([2, 0], [0, 1]),
                                     ((), ()), ((0, 1, 2), (2, 1, 0))])
def test_movedim(src, dst):
    check(lambda lib, x: x.movedim(src, dst), randn(2, 3, 4))
    check(lambda lib, x: lib.moveaxis(x, src, dst), randn(2, 3, 4))


# ----------------------------------------------------------------- expand / broadcast
@pytest.mark.parametrize("src,sizes", [
    ((3, 1), (3, 4)), ((1,), (2, 3, 5)), ((3, 1), (2, -1, 4)), ((), (2, 3)), ((2, 3), (2, 3)),
    ((3, 1), (3, 1)), ((1, 1), (1, 1, 4, 1)), ((4,), (0, 4)),
])
def test_expand(src, sizes):
    check(lambda lib, x: x.expand(*sizes), randn(*src))
    check(lambda lib, x: x.expand(sizes), randn(*src))
    check(lambda lib, x: lib.broadcast_to(x, sizes), randn(*src))
    t, e = both(randn(*src))
    same_layout(e.expand(*sizes), t.expand(*sizes))
    if len(src) == 2:
        same_layout(e.t().expand(*sizes[:-2], src[1], src[0]),
                    t.t().expand(*sizes[:-2], src[1], src[0]))


def test_expand_is_a_read_only_alias():
    t, e = both(randn(3, 1), True)
    ee = e.expand(3, 1)
    assert ee is not e and ee._base is e and ee.grad_fn.name() == "ExpandBackward0"
    check(lambda lib, x: x.expand_as(lib.zeros(2, 3, 4)), randn(3, 1))
    check_error(lambda lib, x: x.expand(2, 3).add_(1), randn(1, 3), match="single memory")


@pytest.mark.parametrize("sizes,match", [
    ((4, 5), r"expand\(torch.DoubleTensor\{\[3, 4, 5\]\}, size=\[4, 5\]\): the number of sizes "
             r"provided \(2\) must be greater or equal to the number of dimensions in the tensor "
             r"\(3\)"),
    ((3, 3, 5), r"The expanded size of the tensor \(3\) must match the existing size \(4\) at "
                r"non-singleton dimension 1.  Target sizes: \[3, 3, 5\].  Tensor sizes: "
                r"\[3, 4, 5\]"),
    ((-1, 3, 4, 5), r"\(-1\) isn't allowed in a leading, non-existing dimension 0"),
    ((3, -2, 5), r"The expanded size of the tensor \(-2\) must match the existing size \(4\)"),
])
def test_expand_errors(sizes, match):
    check_error(lambda lib, x: x.expand(*sizes), randn(3, 4, 5), match=match)


def test_broadcast_tensors_and_shapes():
    check(lambda lib, a, b, c: lib.broadcast_tensors(a, b, c), randn(3, 1), randn(4),
          randn(2, 1, 1))
    t, e = both(randn(2, 3))
    assert ember.broadcast_tensors(e, e)[0] is e and torch.broadcast_tensors(t, t)[0] is t
    assert type(ember.broadcast_tensors(e)) is tuple
    check_error(lambda lib, a, b: lib.broadcast_tensors(a, b), randn(3, 4, 5), randn(2, 5),
                match=r"The size of tensor a \(4\) must match the size of tensor b \(2\) at "
                      r"non-singleton dimension 1")
    for shapes in [((3, 1), (4,), 1, ()), (), ((2, 1), [3]), (ember.Size([2, 1]), (1, 0)),
                   (5, (5,))]:
        got = ember.broadcast_shapes(*shapes)
        want = torch.broadcast_shapes(*[torch.Size(s) if isinstance(s, ember.Size) else s
                                        for s in shapes])
        assert got == want and isinstance(got, ember.Size)
    check_error(lambda lib: lib.broadcast_shapes((3, 4), (2, 4)),
                match=r"length 2 at -2! Mismatching argument at index 1 had \(2, 4\); but "
                      r"expected shape should be broadcastable to \[3, 4\]")
    check_error(lambda lib: lib.broadcast_shapes(3, (-1,)), match="length -1 at -1")
    check_error(lambda lib: lib.broadcast_shapes((3, 4), (2, 1, 5)),
                match=r"broadcastable to \[1, 3, 4\]")


# ----------------------------------------------------------------- repeat / tile / interleave
@pytest.mark.parametrize("src,reps", [((2, 3), (2, 2)), ((2, 3), (3, 1, 2)), ((3,), (2, 0)),
                                      ((), (3,)), ((), ()), ((2, 1), (1, 4)), ((0, 2), (2, 2))])
def test_repeat(src, reps):
    if reps:
        check(lambda lib, x: x.repeat(*reps), randn(*src))
    check(lambda lib, x: x.repeat(reps), randn(*src))
    check(lambda lib, x: x.t().repeat(1, *reps) if len(src) == 2 else x.repeat(*reps, 1),
          randn(*src))


def test_repeat_dtypes_and_errors():
    check(lambda lib, x: x.repeat(2, 3), ints(2, 2), grad=False)
    check(lambda lib, x: x.repeat(2, 1), ints(2, 2) > 0, grad=False)
    check(lambda lib, x: x.repeat(2, 1), randn(2, 3).astype(ml_dtypes.bfloat16))
    check_error(lambda lib, x: x.repeat(2), randn(2, 3),
                match="Number of dimensions of repeat dims can not be smaller")
    check_error(lambda lib, x: x.repeat(2, -1, 1), randn(3, 4, 5),
                match=r"Trying to create tensor with negative dimension -4: \[6, -4, 5\]")


@pytest.mark.parametrize("dims", [(2,), (2, 2), (1, 1, 3), (), [3], (0, 1)])
def test_tile(dims):
    check(lambda lib, x: x.tile(dims), randn(2, 3))
    check(lambda lib, x: lib.tile(x, dims), randn(3))
    if dims:
        check(lambda lib, x: x.tile(*dims), randn(2, 3))


@pytest.mark.parametrize("args", [(2,), (3, 0), (2, 1), (2, -1), (1, None), (0, 1)])
def test_repeat_interleave_int(args):
    check(lambda lib, x: x.repeat_interleave(*args), randn(2, 3))
    check(lambda lib, x: lib.repeat_interleave(x.t(), *args), randn(2, 3))
    check(lambda lib, x: x.repeat_interleave(args[0]), randn())


def test_repeat_interleave_tensor():
    check(lambda lib, x: x.repeat_interleave(lib.tensor([1, 0, 2]), dim=1), randn(2, 3))
    check(lambda lib, x: x.repeat_interleave(lib.tensor([1, 2, 0, 3, 1, 1])), randn(2, 3))
    check(lambda lib, x: x.repeat_interleave(lib.tensor([2]), dim=0), randn(2, 3))
    check(lambda lib, x: x.repeat_interleave(lib.tensor(2), dim=-1), randn(2, 3))
    check(lambda lib, x: x.repeat_interleave(lib.tensor([2, 1], dtype=lib.int32), dim=0),
          randn(2, 3))
    check(lambda lib, x: x.repeat_interleave(lib.tensor([1, 2]), dim=0, output_size=3),
          randn(2, 3))
    check(lambda lib, x: x.repeat_interleave(2, dim=0, output_size=4), ints(2, 3), grad=False)
    check(lambda lib: lib.repeat_interleave(lib.tensor([1, 2, 0, 3])), grad=False)
    check(lambda lib: lib.repeat_interleave(lib.tensor([], dtype=lib.int64)), grad=False)


@pytest.mark.parametrize("fn,exc_match", [
    (lambda lib, x: x.repeat_interleave(-1), "Repeats must be non-negative"),
    (lambda lib, x: x.repeat_interleave(lib.tensor([1, 2]), dim=1),
     r"repeats must have the same size as input along dim, but got repeats.size\(0\) = 2 and "
     r"input.size\(1\) = 3"),
    (lambda lib, x: x.repeat_interleave(lib.tensor([1, -2, 1]), dim=1),
     "repeats can not be negative"),
    (lambda lib, x: x.repeat_interleave(lib.tensor([1.0, 2.0, 1.0]), dim=1),
     "\"repeat_interleave_cpu\" not implemented for 'Float'"),
    (lambda lib, x: x.repeat_interleave(lib.tensor([[1, 2, 1]]), dim=1),
     "repeats must be 0-dim or 1-dim tensor"),
    (lambda lib, x: x.repeat_interleave(lib.tensor([1, 2]), dim=0, output_size=4),
     "allocated size does not match required size"),
    (lambda lib, x: x.repeat_interleave(2, dim=0, output_size=3),
     "repeat_interleave: Invalid output_size, expected 4 but got 3"),
])
def test_repeat_interleave_errors(fn, exc_match):
    check_error(fn, randn(2, 3), match=exc_match)


# ----------------------------------------------------------------- cat / stack
@pytest.mark.parametrize("dim", [0, 1, -1, 2, -3])
def test_cat_dims_and_grads(dim):
    check(lambda lib, a, b, c: lib.cat([a, b, c], dim),
          randn(2, 3, 4), randn(2, 3, 4, seed=1), randn(2, 3, 4, seed=2))
    check(lambda lib, a, b: lib.cat((a.transpose(0, 1), b.transpose(0, 1)), dim=dim),
          randn(3, 2, 4), randn(3, 2, 4, seed=1))


def test_cat_promotion_and_legacy_empty_tensors():
    check(lambda lib, a, b: lib.cat([a, b]), ints(2), randn(3))
    check(lambda lib, a, b: lib.cat([a, b]), ints(2, dtype=np.int8), ints(1, dtype=np.uint8),
          grad=False)
    check(lambda lib, a, b: lib.cat([a, b]), randn(2).astype(np.float16),
          randn(1).astype(ml_dtypes.bfloat16))
    check(lambda lib, a, b: lib.cat([a, b], 1), randn(2, 3).astype(np.float32), randn(2, 1))
    check(lambda lib, a, b: lib.cat([a, b]), ints(2) > 0, ints(2), grad=False)
    check(lambda lib, a, b: lib.cat([a, b]), np.array([True]), randn(1).astype(np.float32))
    check(lambda lib, a, b: lib.cat([a, b]), randn(2, 3), randn(0))
    check(lambda lib, a, b: lib.cat([a, b], dim=1), randn(0), randn(2, 3))
    check(lambda lib, a, b: lib.cat([a, b], dim=5), randn(0), randn(0))
    check(lambda lib, a, b: lib.cat([a, b]), randn(2, 3), randn(0, 3))
    check(lambda lib, a, b: lib.cat([a, b]), ints(2, 3, dtype=np.int32), randn(0))
    check(lambda lib, a: lib.cat([a]), randn(2, 2))
    check(lambda lib, a, b: lib.concat([a, b], dim=1), randn(2, 2), randn(2, 1))
    check(lambda lib, a, b: lib.concatenate([a, b], axis=1), randn(2, 2), randn(2, 1))
    check(lambda lib, a, b: lib.cat([a, b, a]), randn(1, 2), randn(2, 2).astype(np.float32))


def test_cat_with_some_inputs_not_requiring_grad():
    a, b = randn(2, 3), randn(1, 3, seed=1)
    for lib, conv in ((torch, to_torch), (ember, to_ember)):
        x, y = conv(a, True), conv(b)
        lib.cat([y, x]).sum().backward()
        assert x.grad is not None and y.grad is None


def test_cat_out():
    for lib in (torch, ember):
        out = lib.zeros(5)
        res = lib.cat([lib.ones(2), lib.zeros(1), lib.ones(2)], out=out)
        assert res is out and out.tolist() == [1, 1, 0, 1, 1]


@pytest.mark.parametrize("fn,match", [
    (lambda lib, x: lib.cat([]), "expected a non-empty list of Tensors"),
    (lambda lib, x: lib.cat([x, x[:, :3]]), r"Sizes of tensors must match except in dimension 0. "
                                           r"Expected size 4 but got size 3 for tensor number 1 "
                                           r"in the list."),
    (lambda lib, x: lib.cat([x, x[0]]), "Tensors must have same number of dimensions: got 3 and 2"),
    (lambda lib, x: lib.cat([x[0, 0], x[0, 0, :2].reshape(2, 1)]),
     "Tensors must have same number of dimensions: got 1 and 2"),
    (lambda lib, x: lib.cat([x[0, 0, 0], x[0, 0, 1]]),
     r"zero-dimensional tensor \(at position 0\) cannot be concatenated"),
    (lambda lib, x: lib.cat([x, x], dim=3), r"range of \[-3, 2\], but got 3"),
    (lambda lib, x: lib.cat([x, x], dim=-4), "but got -4"),
    (lambda lib, x: lib.cat([x, 1]), "expected Tensor as element 1 in argument 0, but got int"),
    (lambda lib, x: lib.cat(x), "must be tuple of Tensors, not Tensor"),
    (lambda lib, x: lib.stack([x, x[0]]), r"stack expects each tensor to be equal size, but got "
                                          r"\[3, 4, 5\] at entry 0 and \[4, 5\] at entry 1"),
    (lambda lib, x: lib.stack([]), "stack expects a non-empty TensorList"),
    (lambda lib, x: lib.stack([x, x], dim=4), r"range of \[-4, 3\], but got 4"),
    (lambda lib, x: lib.hstack([]), "hstack expects a non-empty TensorList"),
    (lambda lib, x: lib.vstack([]), "vstack expects a non-empty TensorList"),
    (lambda lib, x: lib.dstack([]), "dstack expects a non-empty TensorList"),
    (lambda lib, x: lib.vstack([x[0, 0, 0], x[0, 0, :2]]),
     "Expected size 1 but got size 2 for tensor number 1"),
])
def test_cat_stack_errors(fn, match):
    check_error(fn, randn(3, 4, 5), match=match)


@pytest.mark.parametrize("dim", [0, 1, 2, -1, -3])
def test_stack(dim):
    check(lambda lib, a, b: lib.stack([a, b], dim), randn(2, 3), randn(2, 3, seed=1))
    check(lambda lib, a, b: lib.stack((a.t(), b.t()), dim=dim), randn(3, 2), randn(3, 2, seed=1))


def test_stack_dtypes_and_scalars():
    check(lambda lib, a, b: lib.stack([a, b]), ints(2, dtype=np.int32), ints(2, dtype=np.uint8),
          grad=False)
    check(lambda lib, a, b: lib.stack([a, b], dim=-1), randn(), randn(seed=1))
    check(lambda lib, a, b: lib.stack([a, b]), ints(), randn().astype(np.float32))
    check(lambda lib, a: lib.stack([a]), randn(0, 2), grad=False)
    check(lambda lib, a, b: lib.stack([a, b]), randn(2).astype(np.float16), randn(2))
    for lib in (torch, ember):
        out = lib.zeros(1)
        with pytest.warns(UserWarning, match=r"resized since it had shape \[1\], which does "
                                             r"not match the required output shape \[2, 2\]"):
            res = lib.stack([lib.ones(2), lib.zeros(2)], out=out)
        assert res is out and out.tolist() == [[1, 1], [0, 0]]


@pytest.mark.parametrize("shapes", [[(), ()], [(3,), (2,)], [(2, 3), (2, 1)], [(3,), ()],
                                    [(2, 3, 1), (2, 1, 1)]])
def test_hstack(shapes):
    arrays = [randn(*s, seed=i) for i, s in enumerate(shapes)]
    check(lambda lib, *ts: lib.hstack(ts), *arrays)


@pytest.mark.parametrize("shapes", [[(), ()], [(3,), (3,)], [(2, 3), (3,)], [(1, 2, 3), (2, 2, 3)]])
def test_vstack_row_stack(shapes):
    arrays = [randn(*s, seed=i) for i, s in enumerate(shapes)]
    check(lambda lib, *ts: lib.vstack(ts), *arrays)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check(lambda lib, *ts: lib.row_stack(list(ts)), *arrays)


@pytest.mark.parametrize("shapes", [[(), ()], [(3,), (3,)], [(2, 3), (2, 3)], [(1, 2, 3), (1, 2)]])
def test_dstack_column_stack(shapes):
    arrays = [randn(*s, seed=i) for i, s in enumerate(shapes)]
    check(lambda lib, *ts: lib.dstack(ts), *arrays)
    if len(shapes[0]) < 3:
        check(lambda lib, *ts: lib.column_stack(ts), *arrays)


@pytest.mark.parametrize("fn", ["atleast_1d", "atleast_2d", "atleast_3d"])
def test_atleast(fn):
    for shape in [(), (3,), (2, 3), (2, 3, 4), (1, 2, 3, 4)]:
        check(lambda lib, x: getattr(lib, fn)(x), randn(*shape))
    check(lambda lib, a, b: getattr(lib, fn)(a, b), randn(), randn(3))
    check(lambda lib, a, b: getattr(lib, fn)([a, b]), randn(2, 3), randn(3))
    check(lambda lib, a: getattr(lib, fn)((a,)), randn(2))
    assert getattr(ember, fn)() == getattr(torch, fn)() == ()
    t, e = both(randn(2, 3, 4))
    assert getattr(ember, fn)(e) is e and getattr(torch, fn)(t) is t
    t, e = both(randn(3))
    assert ember.atleast_2d(e)._base is e and torch.atleast_2d(t)._base is t


# ----------------------------------------------------------------- split family
def _uses(parts, keep):
    return [p * (i + 1) for i, p in enumerate(parts) if i in keep]


@pytest.mark.parametrize("size,dim", [(2, 0), (1, 1), (3, -1), (5, 2), (10, 0), ([1, 2], 0),
                                      ([4, 0, 1], 2), ((2, 2), 1)])
def test_split(size, dim):
    x = randn(3, 4, 5)
    check(lambda lib, a: a.split(size, dim), x)
    check(lambda lib, a: lib.split(a.transpose(0, 1), size, dim), randn(4, 3, 5))
    # only some outputs take part: the others get zero gradient
    check(lambda lib, a: _uses(a.split(size, dim), {0}), x)
    check(lambda lib, a: _uses(lib.split(a, size, dim), {1, 2}), x)


def test_split_views_and_edge_cases():
    t, e = both(randn(5, 2), True)
    tp, ep = t * 1, e * 1
    for parts, base in ((tp.split(2), tp), (ep.split(2), ep)):
        assert all(p._base is base for p in parts)
        assert [p.output_nr for p in parts] == [0, 1, 2]
        assert parts[0].grad_fn is parts[1].grad_fn
    check(lambda lib, a: a.split(2), randn(0), grad=False)
    check(lambda lib, a: a.split(0), randn(0), grad=False)
    check(lambda lib, a: a.split([0]), randn(0, 3), grad=False)
    check(lambda lib, a: a.split(lib.tensor(2)), randn(5))
    with ember.no_grad():
        z = ember.zeros(4)
        z.split(2)[1].add_(1)
    assert z.tolist() == [0, 0, 1, 1]


@pytest.mark.parametrize("fn,match", [
    (lambda lib, x: x.split(0), "split_size can only be 0 if dimension size is 0, but got "
                                "dimension size of 3"),
    (lambda lib, x: x.split(-1), "split expects split_size be non-negative, but got "
                                 "split_size=-1"),
    (lambda lib, x: x.split([1, 1]), r"split_with_sizes expects split_sizes to sum exactly to 3 "
                                     r"\(input tensor's size at dimension 0\), but got "
                                     r"split_sizes=\[1, 1\]"),
    (lambda lib, x: x.split(2, 3), "Dimension out of range"),
    (lambda lib, x: x.chunk(0), "chunk expects `chunks` to be greater than 0, got: 0"),
    (lambda lib, x: x.chunk(-1), "got: -1"),
    (lambda lib, x: x.tensor_split(0), "number of sections must be larger than 0, got 0"),
    (lambda lib, x: x.tensor_split(lib.tensor([1.0])), "expected tensor_indices_or_sections to "
                                                       "have dtype of long, but got Float"),
    (lambda lib, x: x.tensor_split(lib.tensor([[1]])), "zero-dimensional or one-dimensional"),
    (lambda lib, x: x.unbind(3), r"range of \[-3, 2\], but got 3"),
    (lambda lib, x: x[0, 0, 0].unbind(), "Dimension specified as 0 but tensor has no dimensions"),
    (lambda lib, x: lib.hsplit(x, 3), "torch.hsplit attempted to split along dimension 1, but "
                                      "the size of the dimension 4 is not divisible by the "
                                      "split_size 3!"),
    (lambda lib, x: lib.hsplit(x[0, 0, 0], 1), "torch.hsplit requires a tensor with at least 1 "
                                               "dimension, but got a tensor with 0 dimensions!"),
    (lambda lib, x: lib.vsplit(x[0, 0], 1), "torch.vsplit requires a tensor with at least 2 "
                                            "dimension, but got a tensor with 1 dimensions!"),
    (lambda lib, x: lib.dsplit(x[0], 1), "at least 3 dimension, but got a tensor with 2 "),
    (lambda lib, x: lib.dsplit(x, 2), "along dimension 2, but the size of the dimension 5"),
])
def test_split_errors(fn, match):
    check_error(fn, randn(3, 4, 5), match=match)


@pytest.mark.parametrize("chunks,dim", [(2, 0), (3, 1), (4, 1), (5, 2), (6, -1), (1, 0)])
def test_chunk(chunks, dim):
    check(lambda lib, a: a.chunk(chunks, dim), randn(3, 4, 5))
    check(lambda lib, a: _uses(lib.chunk(a, chunks, dim), {0}), randn(3, 4, 5))


def test_chunk_empty():
    check(lambda lib, a: a.chunk(2), randn(0), grad=False)
    check(lambda lib, a: a.chunk(2, 1), randn(0, 3), grad=False)
    check(lambda lib, a: a.chunk(3), randn(5))
    check(lambda lib, a: a.chunk(4), randn(6))


@pytest.mark.parametrize("ios,dim", [(2, 0), (3, 1), (7, 2), ([1, 2], 0), ((-1, 2, 7), 2),
                                     ([-7], 2), ([3, 1], 1), ([], 0), ([0, 0], 1)])
def test_tensor_split(ios, dim):
    check(lambda lib, a: a.tensor_split(ios, dim), randn(3, 4, 5))
    check(lambda lib, a: _uses(lib.tensor_split(a, ios, dim), {0}), randn(3, 4, 5))


def test_tensor_split_tensor_indices_and_dim_splits():
    check(lambda lib, a: a.tensor_split(lib.tensor(2)), randn(5))
    check(lambda lib, a: a.tensor_split(lib.tensor([1, 3])), randn(5))
    check(lambda lib, a: lib.hsplit(a, 2), randn(3, 4, 5))
    check(lambda lib, a: lib.hsplit(a, [1, 3]), randn(6))
    check(lambda lib, a: lib.vsplit(a, 3), randn(3, 4, 5))
    check(lambda lib, a: lib.dsplit(a, [2]), randn(3, 4, 5))
    t, e = both(randn(5), True)
    tp, ep = (t * 1).tensor_split(2), (e * 1).tensor_split(2)
    assert ep[0].grad_fn is not ep[1].grad_fn and tp[0].grad_fn is not tp[1].grad_fn


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_unbind(dim):
    check(lambda lib, a: a.unbind(dim), randn(3, 4, 2))
    check(lambda lib, a: lib.unbind(a.transpose(0, 2), dim), randn(3, 4, 2))
    check(lambda lib, a: _uses(a.unbind(dim), {1}), randn(3, 4, 2))
    check(lambda lib, a: a.unbind(1), randn(3, 0), grad=False)
    check(lambda lib, a: list(a), randn(3, 2))


def test_unbind_outputs_are_views():
    t, e = both(randn(3, 2))
    parts = e.unbind()
    assert all(p._base is e for p in parts)
    parts[1].fill_(5.0)
    assert e[1].tolist() == [5.0, 5.0] and e._version == 1
    assert e.unbind(1)[0].shape == (3,) and e.unbind(1)[0].stride() == t.unbind(1)[0].stride()
    one = ember.tensor([1.0, 2.0]).unbind()[1]
    assert one.shape == () and one._base is not None


# ----------------------------------------------------------------- narrow / select
@pytest.mark.parametrize("dim,start,length", [(0, 0, 1), (1, 1, 2), (-1, -3, 3), (2, 5, 0),
                                              (0, -3, 3), (1, 4, 0)])
def test_narrow(dim, start, length):
    check(lambda lib, x: x.narrow(dim, start, length), randn(3, 4, 5))
    check(lambda lib, x: lib.narrow(x.transpose(0, 1), dim, start, length), randn(4, 3, 5))


def test_narrow_tensor_start_and_errors():
    check(lambda lib, x: x.narrow(0, lib.tensor(1), 2), randn(3, 4))
    for fn, match in [
            (lambda lib, x: x.narrow(0, 2, 2), r"start \(2\) \+ length \(2\) exceeds dimension "
                                               r"size \(3\)."),
            (lambda lib, x: x.narrow(0, 0, -1), r"narrow\(\): length must be non-negative."),
            (lambda lib, x: x.narrow(0, 4, 0), r"start out of range \(expected to be in range "
                                               r"of \[-3, 3\], but got 4\)"),
            (lambda lib, x: x[0, 0].narrow(0, 0, 1), "cannot be applied to a 0-dim tensor"),
            (lambda lib, x: x.narrow(2, 0, 1), "Dimension out of range")]:
        check_error(fn, randn(3, 4), match=match)


@pytest.mark.parametrize("dim,index", [(0, 0), (1, -1), (-1, 2), (2, 4)])
def test_select(dim, index):
    check(lambda lib, x: x.select(dim, index), randn(3, 4, 5))
    check(lambda lib, x: lib.select(x.transpose(1, 2), dim, index), randn(3, 5, 5))
    check(lambda lib, x: x.select(0, index), randn(5))


def test_select_errors():
    check_error(lambda lib, x: x.select(0, 3), randn(3, 4),
                match=r"select\(\): index 3 out of range for tensor of size \[3, 4\] at "
                      r"dimension 0")
    check_error(lambda lib, x: x.select(-1, -5), randn(3, 4),
                match=r"index -5 out of range for tensor of size \[3, 4\] at dimension 1")
    check_error(lambda lib, x: x.select(0, 0), randn(),
                match=r"select\(\) cannot be applied to a 0-dim tensor.")


# ----------------------------------------------------------------- unfold / as_strided
@pytest.mark.parametrize("dim,size,step", [(0, 2, 1), (1, 3, 2), (-1, 2, 3), (2, 5, 1),
                                           (1, 1, 1), (2, 0, 2), (0, 3, 3)])
def test_unfold(dim, size, step):
    check(lambda lib, x: x.unfold(dim, size, step), randn(3, 4, 5))
    check(lambda lib, x: x.transpose(0, 2).unfold(dim, min(size, 3), step), randn(3, 4, 5))
    t, e = both(randn(3, 4, 5))
    same_layout(e.unfold(dim, size, step), t.unfold(dim, size, step))


def test_unfold_scalar_errors_and_second_order():
    check(lambda lib, x: x.unfold(0, 1, 1), randn())
    check(lambda lib, x: x.unfold(0, 2, 1), ints(5), grad=False)
    check_error(lambda lib, x: x.unfold(0, 4, 1), randn(3, 4),
                match="maximum size for tensor at dimension 0 is 3 but size is 4")
    check_error(lambda lib, x: x.unfold(0, 2, 0), randn(3, 4), match="step is 0 but must be > 0")
    check_error(lambda lib, x: x.unfold(0, -1, 1), randn(3, 4), match="size is -1 but must be >= 0")
    second_order(lambda lib, x: x.unfold(1, 3, 1) ** 2, randn(2, 6))


@pytest.mark.parametrize("size,stride,offset", [((2, 2), (1, 2), None), ((3, 3), (1, 1), 2),
                                                ((4,), (3,), 0), ((2, 3), (0, 1), 5), ((), (), 7),
                                                ((0, 3), (1, 1), 5)])
def test_as_strided(size, stride, offset):
    check(lambda lib, x: x.as_strided(size, stride, offset), randn(3, 4))
    check(lambda lib, x: lib.as_strided(x[1:], size, stride), randn(5, 3))
    t, e = both(randn(3, 4))
    same_layout(e[1:].as_strided(size, stride, offset), t[1:].as_strided(size, stride, offset))


def test_as_strided_views_and_errors():
    t, e = both(randn(3, 4))
    v = e.as_strided((2, 2), (4, 1), 1)
    assert v._base is e
    v.fill_(0.0)
    assert float(e[0, 1]) == 0.0 and float(e[1, 2]) == 0.0
    check_error(lambda lib, x: x.as_strided((5,), (1,)), randn(4).astype(np.float32),
                match=r"setStorage: sizes \[5\], strides \[1\], storage offset 0, and itemsize 4 "
                      r"requiring a storage size of 20 are out of bounds for storage of size 16")
    check_error(lambda lib, x: x.as_strided((2, 2), (1,)), randn(4),
                match="mismatch in length of strides and shape")
    check_error(lambda lib, x: x.as_strided((2,), (-1,)), randn(4),
                match=r"Negative strides are not supported at the moment, got strides: \[-1\]")
    second_order(lambda lib, x: x.as_strided((3, 2), (1, 1), 1) ** 2, randn(5))


# ----------------------------------------------------------------- flip / roll
@pytest.mark.parametrize("dims", [(0,), (1, 2), (-1, 0), (), [2], 1])
def test_flip(dims):
    check(lambda lib, x: x.flip(dims), randn(2, 3, 4))
    if not isinstance(dims, int):
        check(lambda lib, x: lib.flip(x.transpose(0, 2), dims), randn(2, 3, 4))
    res = ember.tensor(randn(2, 3, 4)).flip(dims)
    assert res.is_contiguous() and res._base is None


def test_flip_variants_and_errors():
    check(lambda lib, x: x.flip(0, 1), randn(2, 3))
    check(lambda lib, x: x.flip(0), ints(3), grad=False)
    check(lambda lib, x: x.fliplr(), randn(2, 3))
    check(lambda lib, x: lib.flipud(x), randn(2, 3))
    check(lambda lib, x: lib.fliplr(x), randn(2, 3, 2).astype(np.float16))
    check(lambda lib, x: x.flip([]), randn())
    check_error(lambda lib, x: x.flip(0, 0), randn(2, 3), match="dim 0 appears multiple times")
    check_error(lambda lib, x: x.fliplr(), randn(3), match="Input must be >= 2-d.")
    check_error(lambda lib, x: x.flipud(), randn(), match="Input must be >= 1-d.")


@pytest.mark.parametrize("shifts,dims", [(1, None), (-7, None), (1, 0), ((1, 2), (0, 1)),
                                         ((5, -1), (-1, 0)), ([2], [1]), (0, None)])
def test_roll(shifts, dims):
    check(lambda lib, x: x.roll(shifts, dims), randn(2, 3, 4))
    check(lambda lib, x: lib.roll(x.transpose(0, 2), shifts, dims), randn(2, 3, 4))


def test_roll_edge_cases():
    check(lambda lib, x: x.roll(1), randn())
    check(lambda lib, x: x.roll(1), randn(0), grad=False)
    check(lambda lib, x: x.roll(1, 1), ints(2, 3) > 0, grad=False)
    check_error(lambda lib, x: x.roll((1, 2), (0,)), randn(2, 3),
                match="shifts and dimensions must align. shifts: 2, dims:1")
    check_error(lambda lib, x: x.roll((), ()), randn(2, 3), match="`shifts` required")
    check_error(lambda lib, x: x.roll(1, 0), randn(),
                match="Dimension specified as 0 but tensor has no dimensions")
    check_error(lambda lib, x: x.roll(1, 2), randn(2, 3), match="Dimension out of range")


# ----------------------------------------------------------------- triangles and diagonals
@pytest.mark.parametrize("k", [0, 1, -1, 5, -5])
def test_tril_triu(k):
    for shape in [(3, 4), (2, 4, 3), (0, 2)]:
        check(lambda lib, x: x.tril(k), randn(*shape))
        check(lambda lib, x: lib.triu(x, k), randn(*shape))
        check(lambda lib, x: lib.tril(x.transpose(-1, -2), diagonal=k), randn(*shape))
    check(lambda lib, x: x.triu(k), ints(3, 3) > 0, grad=False)
    check(lambda lib, x: x.tril(k), randn(3, 3).astype(ml_dtypes.bfloat16))


def test_tril_triu_inplace_and_errors():
    check(lambda lib, x: (x * 1).tril_(1) * 2, randn(3, 4))
    check(lambda lib, x: (x * 1).triu_() * 2, randn(2, 3, 3))
    t, e = both(randn(3, 3))
    assert e.tril_() is e and e._version == 1
    assert_same(e, t.tril_())
    check_error(lambda lib, x: x.tril(), randn(3),
                match="tril: input tensor must have at least 2 dimensions")
    check_error(lambda lib, x: x.triu_(), randn(3), match="triu: input tensor must have")
    check_error(lambda lib, x: x.requires_grad_().tril_(), randn(3, 3),
                match="a leaf Variable that requires grad")


@pytest.mark.parametrize("offset,dim1,dim2", [(0, 0, 1), (1, 1, 2), (-1, 0, 2), (2, -1, 0),
                                              (5, 0, 1), (-4, 2, 1)])
def test_diagonal(offset, dim1, dim2):
    check(lambda lib, x: x.diagonal(offset, dim1, dim2), randn(3, 4, 5))
    check(lambda lib, x: lib.diagonal(x.transpose(0, 1), offset=offset, dim1=dim1, dim2=dim2),
          randn(3, 4, 5))


def test_diagonal_view_and_errors():
    t, e = both(randn(3, 3))
    d = e.diagonal()
    assert d._base is e
    d.fill_(0.0)
    assert float(e.trace()) == 0.0 and e._version == 1
    check_error(lambda lib, x: x.diagonal(0, 1, 1), randn(3, 4, 5),
                match="diagonal dimensions cannot be identical 1, 1")
    check_error(lambda lib, x: x.diagonal(0, 0, 3), randn(3, 4, 5), match="Dimension out of range")
    second_order(lambda lib, x: x.diagonal(1) ** 2, randn(3, 4))


@pytest.mark.parametrize("k", [0, 1, -2])
def test_diag(k):
    check(lambda lib, x: x.diag(k), randn(3))
    check(lambda lib, x: lib.diag(x, k), randn(3, 4))
    check(lambda lib, x: lib.diag(x.t(), diagonal=k), randn(3, 4))
    check(lambda lib, x: x.diag(k), ints(4), grad=False)
    check(lambda lib, x: x.diag(k), ints(3, 3), grad=False)


def test_diag_errors_and_second_order():
    check_error(lambda lib, x: x.diag(), randn(2, 2, 2),
                match=r"diag\(\): Supports 1D or 2D tensors. Got 3D")
    check_error(lambda lib, x: x.diag(), randn(), match="Got 0D")
    second_order(lambda lib, x: x.diag(1) ** 2, randn(3))
    second_order(lambda lib, x: x.diag(-1) ** 2, randn(3, 3))


@pytest.mark.parametrize("offset,dim1,dim2", [(0, -2, -1), (1, 0, 2), (-1, 2, 0), (0, 1, -1)])
def test_diag_embed(offset, dim1, dim2):
    check(lambda lib, x: x.diag_embed(offset, dim1, dim2), randn(2, 3))
    check(lambda lib, x: lib.diag_embed(x.t(), offset, dim1, dim2), randn(2, 3))
    check(lambda lib, x: x.diag_embed(offset, dim1, dim2), ints(2, 3) > 0, grad=False)


def test_diag_embed_errors_and_second_order():
    check_error(lambda lib, x: x.diag_embed(0, 0, 0), randn(3),
                match="diagonal dimensions cannot be identical 0, 0")
    check_error(lambda lib, x: x.diag_embed(0, 0, 3), randn(3), match="Dimension out of range")
    second_order(lambda lib, x: x.diag_embed(1) ** 2, randn(2, 3))


def test_trace():
    check(lambda lib, x: x.trace(), randn(3, 4))
    check(lambda lib, x: lib.trace(x.t()), randn(3, 4))
    check(lambda lib, x: x.trace(), randn(0, 3))
    check(lambda lib, x: x.trace(), ints(3, 3, dtype=np.int32), grad=False)
    check(lambda lib, x: x.trace(), ints(3, 3, dtype=np.uint8, lo=0), grad=False)
    check(lambda lib, x: x.trace(), randn(5, 5).astype(np.float16))
    check_error(lambda lib, x: x.trace(), randn(3),
                match="trace: expected a matrix, but got tensor with dim 1")
    check_error(lambda lib, x: x.trace(), ints(2, 2) > 0, match="\"trace\" not implemented for "
                                                                "'Bool'")
    second_order(lambda lib, x: x.trace() ** 3, randn(3, 3))


# ----------------------------------------------------------------- meshgrid
@pytest.mark.parametrize("indexing", ["ij", "xy"])
def test_meshgrid(indexing):
    check(lambda lib, a, b: lib.meshgrid(a, b, indexing=indexing), randn(3), randn(2, seed=1))
    check(lambda lib, a, b, c: lib.meshgrid([a, b, c], indexing=indexing), randn(3),
          randn(2, seed=1), randn(4, seed=2))
    check(lambda lib, a, b: lib.meshgrid((a, b), indexing=indexing), randn(), randn(2, seed=1))
    check(lambda lib, a: lib.meshgrid(a, indexing=indexing), randn(3))
    check(lambda lib, a, b: lib.meshgrid(a, b, indexing=indexing), ints(3), ints(0), grad=False)
    t, e = both(randn(3))
    tg, eg = torch.meshgrid(t, t, indexing=indexing), ember.meshgrid(e, e, indexing=indexing)
    for a, b in zip(eg, tg):
        same_layout(a, b)
        assert a._base is e


def test_meshgrid_default_and_errors():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check(lambda lib, a, b: lib.meshgrid(a, b), randn(3), randn(2, seed=1))
    assert sum("indexing argument" in str(w.message) for w in caught) == 2
    check_error(lambda lib, a, b: lib.meshgrid(a, b, indexing="ij"), randn(2, 2), randn(2),
                match="torch.meshgrid: Expected 0D or 1D tensor in the tensor list but got: ")
    check_error(lambda lib, a, b: lib.meshgrid(a, b, indexing="foo"), randn(2), randn(2),
                match='indexing must be one of "xy" or "ij", but received: foo')
    check_error(lambda lib: lib.meshgrid([], indexing="ij"),
                match="meshgrid expects a non-empty TensorList")
    check_error(lambda lib, a, b: lib.meshgrid(a, b, indexing="ij"), randn(2),
                randn(2).astype(np.float32), match="meshgrid expects all tensors to have the "
                                                   "same dtype")


# ----------------------------------------------------------------- dtypes
DTYPE_OPS = [
    lambda lib, x: x.view(-1), lambda lib, x: x.t().reshape(-1), lambda lib, x: x.unsqueeze(1),
    lambda lib, x: x.expand(2, 3, 4), lambda lib, x: x.repeat(2, 1),
    lambda lib, x: x.repeat_interleave(2, 0), lambda lib, x: lib.cat([x, x], 1),
    lambda lib, x: lib.stack([x, x], 2), lambda lib, x: x.split(1), lambda lib, x: x.unbind(1),
    lambda lib, x: x.unfold(1, 2, 1), lambda lib, x: x.flip(1), lambda lib, x: x.roll(1, 1),
    lambda lib, x: x.diagonal(), lambda lib, x: x.diag_embed(),
    lambda lib, x: x.as_strided((2, 2), (1, 1)), lambda lib, x: x.tril(), lambda lib, x: x.diag(),
]


@pytest.mark.parametrize("i", range(len(DTYPE_OPS)))
@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.uint8, np.bool_, np.float16,
                                   ml_dtypes.bfloat16, np.float32])
def test_dtypes(i, dtype):
    x = (ints(3, 4) > 0) if dtype is np.bool_ else ints(3, 4, lo=0).astype(dtype)
    check(DTYPE_OPS[i], x, grad=dtype in (np.float16, ml_dtypes.bfloat16, np.float32))


# ----------------------------------------------------------------- views and in-place ops
INPLACE_THROUGH_VIEWS = [
    lambda y: y.narrow(0, 0, 1).mul_(2), lambda y: y.t().add_(1), lambda y: y.select(1, 2).mul_(3),
    lambda y: y.unsqueeze(0).mul_(2), lambda y: y.diagonal().mul_(0.5),
    lambda y: y.view(-1).narrow(0, 2, 5).mul_(4), lambda y: y.transpose(0, 1)[1:].mul_(2),
    lambda y: y.permute(1, 0).narrow(1, 1, 2).mul_(y.narrow(0, 0, 2).t().clone()),
    lambda y: y.as_strided((2,), (5,), 1).mul_(3), lambda y: y.movedim(0, 1).sub_(2),
    lambda y: y.tril_(), lambda y: y.narrow(1, 1, 2).tril_(),
    lambda y: y.unfold(1, 2, 2).mul_(2), lambda y: y.squeeze().mul_(2),
    lambda y: y.tensor_split(2, 1)[1].mul_(2), lambda y: y[:, 0].mul_(2),
    lambda y: y.t()[1].mul_(y.t()[2].clone()), lambda y: y.unflatten(1, (2, 2))[:, 1].add_(1),
]


@pytest.mark.parametrize("i", range(len(INPLACE_THROUGH_VIEWS)))
def test_grads_through_inplace_on_views_of_non_leaf(i):
    def fn(lib, x):
        y = x * 1
        INPLACE_THROUGH_VIEWS[i](y)
        return y * lib.arange(1.0, 13.0, dtype=lib.float64).reshape(3, 4)
    check(fn, randn(3, 4))


def test_inplace_on_view_is_seen_by_base_and_other_views():
    t, e = both(randn(3, 4))
    for x in (t, e):
        v1, v2 = x.t(), x.narrow(0, 1, 1)
        v1.mul_(0.0)
        assert float(v2.abs().sum()) == 0.0 and x._version == v1._version == v2._version == 1
        x.narrow(1, 0, 1).add_(1)
        assert float(x.sum()) == 3.0 and v1._version == 2


def test_base_relations_match_torch():
    ops = [lambda x: x.view(-1), lambda x: x.t(), lambda x: x.view(-1).view(3, 4),
           lambda x: x.t().t(), lambda x: x.reshape(-1), lambda x: x.t().reshape(-1),
           lambda x: x.narrow(0, 0, 1), lambda x: x.select(0, 0), lambda x: x.expand(2, 3, 4),
           lambda x: x.unfold(0, 2, 1), lambda x: x.diagonal(), lambda x: x.flip(0),
           lambda x: x.contiguous(), lambda x: x.t().contiguous(), lambda x: x.roll(1),
           lambda x: x.repeat(1, 1), lambda x: x.movedim(0, 1), lambda x: x.unsqueeze(0)]
    t, e = both(randn(3, 4))
    for op in ops:
        to, eo = op(t), op(e)
        assert (to._base is t) == (eo._base is e)
        assert (to is t) == (eo is e)
        assert (to._version == t._version)


def test_saved_tensor_modified_through_view_raises():
    def fn(lib, x):
        y = x.requires_grad_() * 1
        z = y * y
        y.t().add_(1)
        z.sum().backward()
    check_error(fn, randn(3, 4), match="modified by an inplace operation")

    def through_split_output(lib, x):
        y = x.requires_grad_().exp()
        y.narrow(0, 0, 1).mul_(2)
        y.sum().backward()
    check_error(through_split_output, randn(3, 4), match="modified by an inplace operation")


@pytest.mark.parametrize("op", [
    lambda v: v.t().add_(1), lambda v: v.narrow(0, 0, 1).mul_(2), lambda v: v.diagonal().zero_(),
    lambda v: v.unsqueeze(0).mul_(2), lambda v: v.view(-1).narrow(0, 1, 2).add_(1),
])
def test_inplace_on_view_of_leaf_raises(op):
    check_error(lambda lib, x: op(x.requires_grad_()), randn(3, 3),
                match="a view of a leaf Variable that requires grad is being used in an "
                      "in-place operation.")


# ----------------------------------------------------------------- double backward, hypothesis
@pytest.mark.parametrize("fn", [
    lambda lib, x: x.t().reshape(-1) ** 2, lambda lib, x: lib.cat([x, x * x], 1) ** 2,
    lambda lib, x: lib.stack([x, x * x]) ** 2, lambda lib, x: x.split(2, 1)[1] ** 3,
    lambda lib, x: x.unbind(1)[2] ** 3, lambda lib, x: x.narrow(1, 1, 2) ** 3,
    lambda lib, x: x.select(0, 1) ** 3, lambda lib, x: x.repeat(2, 1) ** 2,
    lambda lib, x: x.expand(2, 3, 4) ** 2, lambda lib, x: x.flip(0) ** 3,
    lambda lib, x: x.roll(1, 1) ** 3, lambda lib, x: x.tril() ** 3,
    lambda lib, x: x.unsqueeze(1).squeeze(1) ** 3, lambda lib, x: x.permute(1, 0) ** 3,
    lambda lib, x: x.repeat_interleave(2, 1) ** 2,
])
def test_second_order(fn):
    second_order(fn, randn(3, 4))


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(0, 3), min_size=1, max_size=3), st.integers(1, 3),
       st.integers(-3, 2), st.booleans())
def test_cat_split_roundtrip_hypothesis(shape, n, dim, transposed):
    dim = dim % len(shape)
    arrays = []
    for i in range(n):
        s = list(shape)
        s[dim] = (i * 2) % 4
        arrays.append(randn(*s, seed=i))

    def fn(lib, *ts):
        if transposed:
            ts = [t.transpose(0, -1).transpose(0, -1) for t in ts]
        joined = lib.cat(ts, dim)
        return joined.split([a.shape[dim] for a in arrays], dim), lib.stack(ts[:1], -1)
    check(fn, *arrays)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(1, 3), min_size=0, max_size=3), st.lists(st.integers(1, 3),
                                                                    min_size=0, max_size=2),
       st.data())
def test_expand_broadcast_hypothesis(shape, lead, data):
    mask = data.draw(st.lists(st.booleans(), min_size=len(shape), max_size=len(shape)))
    src = [1 if m else s for s, m in zip(shape, mask)]
    check(lambda lib, x: x.expand((*lead, *shape)), randn(*src))
    check(lambda lib, x, y: lib.broadcast_tensors(x, y), randn(*src), randn(*shape, seed=1))
    t, e = both(randn(*src))
    same_layout(e.expand((*lead, *shape)), t.expand((*lead, *shape)))
