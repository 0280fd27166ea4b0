"""Tensor.share_memory_ / is_shared / Module.share_memory against torch, and Hogwild training
across forked processes (the shared memory must really be shared, and the optimizers must
update it in place)."""
from __future__ import annotations

import multiprocessing as mp

import numpy as np
import pytest
import torch

import ember
from tests.oracle import to_numpy

_fork = mp.get_context("fork")

DTYPES = ["float32", "float64", "float16", "bfloat16", "bool", "int8", "int64", "uint8"]
SHAPES = [(4, 3), (), (0,), (0, 3), (1,)]


def _pair(shape, dtype: str):
    """The same values as an ember and a torch tensor."""
    a = np.arange(int(np.prod(shape)), dtype=np.float32).reshape(shape) % 3
    return ember.tensor(a).to(getattr(ember, dtype)), torch.tensor(a).to(getattr(torch, dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
def test_share_memory_matches_torch(shape, dtype):
    e, t = _pair(shape, dtype)
    assert e.is_shared() == t.is_shared() is False
    before = to_numpy(e).copy()
    assert e.share_memory_() is e
    assert t.share_memory_() is t
    assert e.is_shared() == t.is_shared() is True
    assert e.dtype == getattr(ember, dtype) and tuple(e.shape) == tuple(t.shape)
    np.testing.assert_array_equal(to_numpy(e), before)
    assert e._version == t._version == 0


def test_second_call_is_a_no_op():
    e = ember.randn(3, 2).share_memory_()
    arr = e._data
    assert e.share_memory_() is e and e._data is arr


def test_views_strides_and_offsets_kept():
    e = ember.randn(3, 4).t()
    t = torch.tensor(to_numpy(e).T.copy()).t()
    for x in (e, t):
        x.share_memory_()
    assert e.stride() == t.stride() == (1, 4)
    assert e.is_shared() and e[1:].is_shared() and e.detach().is_shared()
    assert t[1:].is_shared() and t.detach().is_shared()
    # a view taken afterwards shares the memory: a write through it shows in the base
    v = e[:, 1]
    v[0] = 100.0
    assert e[0, 1].item() == 100.0


def test_move_keeps_reversed_and_empty_arrays():
    # NumPy arrays behind ember tensors may have negative strides; their first element is
    # not their lowest address
    from ember._shared import is_shared_array, move
    a = np.arange(12.0).reshape(3, 4)
    base, view = move([a, a[::-1, ::2]])
    assert np.array_equal(view, a[::-1, ::2]) and view.strides == (-32, 16)
    assert np.shares_memory(base, view) and is_shared_array(view)
    (empty,) = move([np.empty((0, 3))])
    assert empty.shape == (0, 3) and is_shared_array(empty)


def test_sharing_a_view_moves_its_base():
    for lib in (ember, torch):
        base = lib.arange(6.0)
        view = base[2:4]
        view.share_memory_()
        assert base.is_shared() and view.is_shared()
        assert view.storage_offset() == 2
        view[0] = 100.0
        assert base[2].item() == 100.0
        base[3] = -1.0
        assert view[1].item() == -1.0


def test_autograd_state_kept():
    for lib in (ember, torch):
        p = lib.nn.Parameter(lib.tensor([1.0, 2.0, 3.0]))
        assert p.share_memory_() is p
        assert p.is_leaf and p.requires_grad and type(p) is lib.nn.Parameter
    w_e = ember.tensor([1.0, 2.0], requires_grad=True)
    w_t = torch.tensor([1.0, 2.0], requires_grad=True)
    outs = []
    for w in (w_e, w_t):
        y = w * w
        y.share_memory_()
        assert y.grad_fn is not None and y.is_shared() and not w.is_shared()
        (y * 3).sum().backward()
        outs.append(to_numpy(w.grad))
    np.testing.assert_allclose(outs[0], outs[1])


def test_grad_left_alone_by_tensor_share_memory():
    for lib in (ember, torch):
        p = lib.zeros(3, requires_grad=True)
        p.grad = lib.ones(3)
        p.share_memory_()
        assert p.is_shared() and not p.grad.is_shared()


def _modules(lib):
    m = lib.nn.Sequential(lib.nn.Linear(3, 4), lib.nn.BatchNorm1d(4))
    m[0].weight.grad = lib.ones(4, 3)
    return m


def test_module_share_memory_matches_torch():
    me, mt = _modules(ember), _modules(torch)
    mt.load_state_dict({k: torch.tensor(to_numpy(v)) for k, v in me.state_dict().items()})
    for m in (me, mt):
        params = list(m.parameters())
        assert m.share_memory() is m
        assert list(m.parameters()) == params  # same Parameter objects
    for (ke, ve), (kt, vt) in zip(me.state_dict(keep_vars=True).items(),
                                  mt.state_dict(keep_vars=True).items()):
        assert ke == kt and ve.is_shared() == vt.is_shared() is True
        np.testing.assert_allclose(to_numpy(ve), to_numpy(vt))
    assert me[0].weight.grad.is_shared() == mt[0].weight.grad.is_shared() is True
    assert me[0].bias.grad is None


def test_cuda_tensors_count_as_shared():
    if not ember.cuda.is_available():
        pytest.skip("no GPU")
    x = ember.ones(3, device="cuda")
    assert x.is_shared() and x.share_memory_() is x


# ----------------------------------------------------------------- optimizers in one process
def _train(lib, model, opt, steps: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    for _ in range(steps):
        x = lib.tensor(rng.standard_normal((5, 3)).astype(np.float32))
        y = lib.tensor(rng.standard_normal((5, 2)).astype(np.float32))
        opt.zero_grad()
        lib.nn.functional.mse_loss(model(x), y).backward()
        opt.step()


def test_pickle_copies_a_shared_tensor():
    """Plain pickling (files, spawn-started processes in ember) copies the values."""
    import pickle
    for lib in (ember, torch):
        t = lib.arange(4.0).share_memory_()
        u = pickle.loads(pickle.dumps(t))
        assert not u.is_shared() and u.tolist() == [0.0, 1.0, 2.0, 3.0]


def _linear_pair():
    me = ember.nn.Sequential(ember.nn.Linear(3, 4), ember.nn.Tanh(), ember.nn.Linear(4, 2))
    mt = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 2))
    mt.load_state_dict({k: torch.tensor(to_numpy(v)) for k, v in me.state_dict().items()})
    return me, mt


OPTIMS = [("SGD", dict(lr=0.1, momentum=0.9)), ("Adam", dict(lr=0.01)),
          ("AdamW", dict(lr=0.01, foreach=False)), ("RMSprop", dict(lr=0.01))]


@pytest.mark.parametrize("share", ["all", "some"])
@pytest.mark.parametrize("name,kw", OPTIMS)
def test_optimizer_keeps_shared_params_in_place(name, kw, share):
    me, mt = _linear_pair()
    if share == "all":
        me.share_memory()
    else:
        me[0].share_memory()
    shared = [p for p in me.parameters() if p.is_shared()]
    arrays = [p._data for p in shared]
    watchers = [p.detach() for p in shared]  # aliases taken before stepping
    oe = getattr(ember.optim, name)(me.parameters(), **kw)
    ot = getattr(torch.optim, name)(mt.parameters(), **kw)
    _train(ember, me, oe, 4)
    _train(torch, mt, ot, 4)
    for p, arr, w in zip(shared, arrays, watchers):
        assert p.is_shared() and p._data is arr  # updated where it lives, never re-homed
        np.testing.assert_array_equal(to_numpy(w), to_numpy(p))
    for pe, pt in zip(me.parameters(), mt.parameters()):
        np.testing.assert_allclose(to_numpy(pe), to_numpy(pt), rtol=1e-5, atol=1e-6)


def test_params_shared_after_optimizer_built():
    """An optimizer that already packed the parameters notices they moved."""
    me, mt = _linear_pair()
    oe, ot = ember.optim.Adam(me.parameters(), lr=0.01), torch.optim.Adam(mt.parameters(), lr=0.01)
    _train(ember, me, oe, 2)
    _train(torch, mt, ot, 2)
    me.share_memory()
    arrays = [p._data for p in me.parameters()]
    _train(ember, me, oe, 2, seed=1)
    _train(torch, mt, ot, 2, seed=1)
    assert all(p._data is a for p, a in zip(me.parameters(), arrays))
    for pe, pt in zip(me.parameters(), mt.parameters()):
        np.testing.assert_allclose(to_numpy(pe), to_numpy(pt), rtol=1e-5, atol=1e-6)


# ----------------------------------------------------------------- across processes (fork)
def _run(target, *args, n: int = 1):
    procs = [_fork.Process(target=target, args=(*args, i)) for i in range(n)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    codes = [p.exitcode for p in procs]
    for p in procs:
        if p.is_alive():
            p.kill()
    assert codes == [0] * n, f"child exit codes {codes}"


def _write_child(shared, private, _rank):
    shared.add_(1.0)
    shared[0] = 42.0
    private.add_(1.0)


@pytest.mark.slow
def test_child_writes_are_seen_by_parent():
    shared = ember.zeros(4).share_memory_()
    view = shared[1:]
    private = ember.zeros(4)
    _run(_write_child, shared, private)
    assert shared.tolist() == [42.0, 1.0, 1.0, 1.0]
    assert view.tolist() == [1.0, 1.0, 1.0]
    assert private.tolist() == [0.0] * 4  # not shared: the child wrote its own copy


def _replay_child(model, steps, _rank):
    ember.manual_seed(0)
    _train(ember, model, ember.optim.SGD(model.parameters(), lr=0.1, momentum=0.9), steps)
    _train(ember, model, ember.optim.Adam(model.parameters(), lr=0.01), steps, seed=1)


@pytest.mark.slow
def test_one_child_trains_the_parents_model_like_torch():
    me, mt = _linear_pair()
    me.share_memory()
    _run(_replay_child, me, 3)
    _train(torch, mt, torch.optim.SGD(mt.parameters(), lr=0.1, momentum=0.9), 3)
    _train(torch, mt, torch.optim.Adam(mt.parameters(), lr=0.01), 3, seed=1)
    for pe, pt in zip(me.parameters(), mt.parameters()):
        np.testing.assert_allclose(to_numpy(pe), to_numpy(pt), rtol=1e-5, atol=1e-6)


STEPS, SGD_LR, ADAM_LR = 6, 0.25, 0.125


class _SumModel(ember.nn.Module):
    """loss = sum of the weights: every gradient is ones, whatever the weights are, so each
    step moves every weight by a fixed amount and the children's updates add up."""

    def __init__(self):
        super().__init__()
        self.w = ember.nn.Parameter(ember.zeros(5, 3, dtype=ember.float64))
        self.b = ember.nn.Parameter(ember.zeros(7, dtype=ember.float64))

    def forward(self):
        return self.w.sum() + self.b.sum()


def _hogwild_child(model, lock, rank):
    opt = (ember.optim.SGD(model.parameters(), lr=SGD_LR) if rank == 0
           else ember.optim.Adam(model.parameters(), lr=ADAM_LR))
    for _ in range(STEPS):
        opt.zero_grad()
        model().backward()
        with lock:  # the step itself serialised, so the expected sum is exact
            opt.step()


@pytest.mark.slow
def test_hogwild_two_children_update_the_same_model():
    model = _SumModel().share_memory()
    _run(_hogwild_child, model, _fork.Lock(), n=2)
    # SGD moves each weight by lr per step; Adam with a constant gradient by lr / (1 + eps)
    expected = -STEPS * SGD_LR - STEPS * ADAM_LR / (1 + 1e-8)
    for p in model.parameters():
        np.testing.assert_allclose(to_numpy(p), np.full(p.shape, expected), rtol=1e-12)
