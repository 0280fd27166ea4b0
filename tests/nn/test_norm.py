"""Normalization against torch: F.batch_norm / instance_norm / layer_norm / group_norm /
rms_norm / local_response_norm / normalize (values, input and parameter gradients,
running buffers, second derivatives, errors) and the norm modules (train and eval,
state_dict, repr, old checkpoints)."""
import re

import ml_dtypes
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from oracle import assert_same, check, check_error, randn, to_ember, to_torch

import ember

BF16 = ml_dtypes.bfloat16


def F(lib):
    return lib.nn.functional


def second_order(fn, *xs, seed=1, **tol):
    """Gradient and Hessian-vector product (create_graph=True) against torch's."""
    results = []
    for lib, conv in ((torch, to_torch), (ember, to_ember)):
        rng = np.random.default_rng(seed)
        ts = [conv(x, True) for x in xs]
        y = fn(lib, *ts)
        w = conv(rng.standard_normal(tuple(y.shape)))
        gs = lib.autograd.grad((y * w).sum(), ts, create_graph=True)
        vs = [conv(rng.standard_normal(x.shape)) for x in xs]
        total = sum((g * v).sum() for g, v in zip(gs, vs))
        hs = lib.autograd.grad(total, ts, allow_unused=True)
        results.append((gs, [h if h is not None else lib.zeros_like(t) for h, t in zip(hs, ts)]))
    (tg, th), (eg, eh) = results
    assert_same(list(eg), list(tg), what="gradient", **tol)
    assert_same(list(eh), list(th), what="second derivative", **tol)


def stats(c, dtype=np.float64, seed=20):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(c).astype(dtype), rng.uniform(0.5, 2.0, c).astype(dtype))


# ----------------------------------------------------------------- batch norm
SHAPES = [(4, 3), (5, 3, 4), (2, 3, 4, 5), (2, 3, 2, 3, 2)]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("affine", [True, False])
def test_batch_norm_training_updates_running_stats(shape, affine):
    c = shape[1]
    rm, rv = stats(c)
    bufs = {}

    def fn(lib, x, w, b):
        m, v = (to_torch(rm), to_torch(rv)) if lib is torch else (to_ember(rm), to_ember(rv))
        out = F(lib).batch_norm(x, m, v, w if affine else None, b if affine else None,
                                training=True, momentum=0.3, eps=1e-3)
        bufs[lib.__name__] = (m, v)
        return out

    e, t = check(fn, randn(*shape, seed=1) * 2 + 1, randn(c, seed=2), randn(c, seed=3))
    assert e.grad_fn.name() == t.grad_fn.name() == "NativeBatchNormBackward0"
    assert_same(list(bufs["ember"]), list(bufs["torch"]), what="running stats")


@pytest.mark.parametrize("shape", SHAPES)
def test_batch_norm_eval_uses_running_stats(shape):
    c = shape[1]
    rm, rv = stats(c)
    check(lambda lib, x, m, v, w, b: F(lib).batch_norm(x, m.detach(), v.detach(), w, b,
                                                       training=False),
          randn(*shape, seed=4), rm, rv, randn(c, seed=5), randn(c, seed=6))
    second_order(lambda lib, x, w, b: F(lib).batch_norm(
        x, lib.tensor(rm), lib.tensor(rv), w, b, training=False), randn(*shape, seed=4),
        randn(c, seed=5), randn(c, seed=6))


def test_batch_norm_without_running_stats_and_no_affine():
    check(lambda lib, x: F(lib).batch_norm(x, None, None, training=True), randn(6, 4, 3))


@pytest.mark.parametrize("shape", [(4, 3), (3, 2, 5), (2, 3, 2, 2)])
def test_batch_norm_second_order(shape):
    c = shape[1]
    def fn(lib, x, w, b):
        return F(lib).batch_norm(x, None, None, w, b, training=True)
    second_order(fn, randn(*shape, seed=7) * 3, randn(c, seed=8), randn(c, seed=9))
    second_order(lambda lib, x: F(lib).batch_norm(x, None, None, training=True),
                 randn(*shape, seed=7))


def test_batch_norm_gradcheck_gradgradcheck():
    x = ember.tensor(randn(3, 2, 2, seed=10), requires_grad=True)
    w = ember.tensor(randn(2, seed=11), requires_grad=True)
    b = ember.tensor(randn(2, seed=12), requires_grad=True)

    def fn(x, w, b):
        return F(ember).batch_norm(x, None, None, w, b, training=True)
    assert ember.autograd.gradcheck(fn, (x, w, b))
    assert ember.autograd.gradgradcheck(fn, (x, w, b))


@pytest.mark.parametrize("dtype", [np.float32, np.float16, BF16])
def test_batch_norm_low_precision(dtype):
    # half inputs take float32 parameters and running stats (torch's mixed CPU path)
    pd = np.float32 if dtype is not np.float32 else dtype
    rm, rv = stats(3, pd)
    tol = {} if dtype is np.float32 else {"rtol": 3e-2, "atol": 3e-2}
    bufs = {}

    def fn(lib, x, w, b):
        m, v = (to_torch(rm), to_torch(rv)) if lib is torch else (to_ember(rm), to_ember(rv))
        bufs[lib.__name__] = (m, v)
        return F(lib).batch_norm(x, m, v, w, b, training=True)
    check(fn, randn(8, 3, 4, dtype=dtype), randn(3, dtype=pd, seed=1), randn(3, dtype=pd,
                                                                              seed=2), **tol)
    assert_same(list(bufs["ember"]), list(bufs["torch"]), **tol)
    check(lambda lib, x, w, b: F(lib).batch_norm(x, None, None, w, b, training=True),
          randn(8, 3, dtype=dtype), randn(3, dtype=dtype, seed=1),
          randn(3, dtype=dtype, seed=2), **tol)


def test_batch_norm_non_contiguous_and_empty():
    check(lambda lib, x, w: F(lib).batch_norm(x.transpose(0, 1), None, None, w, training=True),
          randn(3, 5, 4, seed=3), randn(3, seed=4))
    check(lambda lib, x: F(lib).batch_norm(x.permute(0, 3, 1, 2), None, None, training=True),
          randn(2, 3, 4, 5, seed=5))
    bufs = {}

    def empty_batch(lib, x, w, b):
        m, v = lib.zeros(3, dtype=lib.float64), lib.ones(3, dtype=lib.float64)
        bufs[lib.__name__] = (m, v)
        return F(lib).batch_norm(x, m, v, w, b, training=True)
    check(empty_batch, randn(0, 3), randn(3), randn(3, seed=1))  # buffers stay, zero grads
    assert_same(list(bufs["ember"]), list(bufs["torch"]))


def test_batch_norm_errors():
    x = randn(4, 3, 5)
    ones = lambda n: np.ones(n)  # noqa: E731
    check_error(lambda lib, x: F(lib).batch_norm(x, None, None, training=False), x,
                match="running_mean must be defined in evaluation mode")
    check_error(lambda lib, x, m, v: F(lib).batch_norm(x, m, v, training=True), x, ones(4),
                ones(3), match="running_mean should contain 3 elements not 4")
    check_error(lambda lib, x, m, v: F(lib).batch_norm(x, m, v, training=True), x, ones(3),
                ones(4), match="running_var should contain 3 elements not 4")
    check_error(lambda lib, x, w: F(lib).batch_norm(x, None, None, w, training=True), x,
                ones(4), match="weight should contain 3 elements not 4")
    check_error(lambda lib, x, b: F(lib).batch_norm(x, None, None, None, b, training=True), x,
                ones(4), match="bias should contain 3 elements not 4")
    check_error(lambda lib, x: F(lib).batch_norm(x, None, None, training=True), randn(1, 3),
                match=r"Expected more than 1 value per channel when training, got input size "
                      r"torch.Size\(\[1, 3\]\)")
    check_error(lambda lib, x: F(lib).batch_norm(x, None, None, training=True), randn(3),
                match="Dimension out of range")
    check_error(lambda lib, x: F(lib).batch_norm(x, None, None, training=True),
                np.ones((3, 3), np.int64), match="\"batch_norm\" not implemented for 'Long'")
    check_error(lambda lib, x, m, v: F(lib).batch_norm(x, m, v, training=True), x,
                ones(3).astype(np.float32), ones(3).astype(np.float32),
                match=r"mixed dtype \(CPU\): all inputs must share same datatype.")
    check_error(lambda lib, x, w: F(lib).batch_norm(x, None, None, w, training=True),
                x.astype(np.float32), ones(3),
                match=r"mixed dtype \(CPU\): expect parameter to have scalar type of Float")


def test_batch_norm_running_stats_version_bumps():
    m, v = ember.zeros(3), ember.ones(3)
    before = m._version, v._version
    F(ember).batch_norm(ember.randn(4, 3), m, v, training=True)
    assert m._version > before[0] and v._version > before[1]


# ----------------------------------------------------------------- instance norm
@pytest.mark.parametrize("shape", [(2, 3, 5), (3, 2, 3, 4), (2, 2, 2, 3, 2)])
def test_instance_norm(shape):
    c = shape[1]
    rm, rv = stats(c)
    bufs = {}

    def fn(lib, x, w, b):
        m, v = (to_torch(rm), to_torch(rv)) if lib is torch else (to_ember(rm), to_ember(rv))
        bufs[lib.__name__] = (m, v)
        return F(lib).instance_norm(x, m, v, w, b, use_input_stats=True, momentum=0.2)
    e, t = check(fn, randn(*shape, seed=1), randn(c, seed=2), randn(c, seed=3))
    assert e.grad_fn.name() == t.grad_fn.name()
    assert_same(list(bufs["ember"]), list(bufs["torch"]), what="running stats")
    check(lambda lib, x: F(lib).instance_norm(x), randn(*shape, seed=4))
    check(lambda lib, x, m, v: F(lib).instance_norm(x, m.detach(), v.detach(),
                                                    use_input_stats=False),
          randn(*shape, seed=5), rm, rv)
    second_order(lambda lib, x, w, b: F(lib).instance_norm(x, weight=w, bias=b),
                 randn(*shape, seed=6), randn(c, seed=7), randn(c, seed=8))


def test_instance_norm_errors():
    check_error(lambda lib, x: F(lib).instance_norm(x, use_input_stats=False), randn(2, 3, 4),
                match="Expected running_mean and running_var to be defined when "
                      "use_input_stats is false")
    check_error(lambda lib, x: F(lib).instance_norm(x), randn(2, 3, 1),
                match=r"Expected more than 1 spatial element when training, got input size "
                      r"torch.Size\(\[2, 3, 1\]\)")
    check_error(lambda lib, x, m, v: F(lib).instance_norm(x, m, v), randn(4, 3, 5), np.zeros(2),
                np.ones(2), match="running_mean should contain 12 elements not 8")


# ----------------------------------------------------------------- layer norm
@pytest.mark.parametrize("shape,norm", [((4, 5), (5,)), ((2, 3, 4), (3, 4)), ((3, 4), [4]),
                                        ((2, 3, 4), (2, 3, 4)), ((6,), (6,))])
def test_layer_norm(shape, norm):
    w, b = randn(*norm, seed=2), randn(*norm, seed=3)
    e, t = check(lambda lib, x, w, b: F(lib).layer_norm(x, norm, w, b, 1e-3),
                 randn(*shape, seed=1) * 3, w, b)
    assert e.grad_fn.name() == t.grad_fn.name() == "NativeLayerNormBackward0"
    check(lambda lib, x: F(lib).layer_norm(x, norm), randn(*shape, seed=4))
    check(lambda lib, x, w: F(lib).layer_norm(x, norm, w), randn(*shape, seed=4), w)
    second_order(lambda lib, x, w, b: F(lib).layer_norm(x, norm, w, b), randn(*shape, seed=5),
                 w, b)


def test_layer_norm_gradcheck_and_dtypes():
    x = ember.tensor(randn(3, 4, seed=10), requires_grad=True)
    w = ember.tensor(randn(4, seed=11), requires_grad=True)
    b = ember.tensor(randn(4, seed=12), requires_grad=True)

    def fn(x, w, b):
        return F(ember).layer_norm(x, (4,), w, b)
    assert ember.autograd.gradcheck(fn, (x, w, b))
    assert ember.autograd.gradgradcheck(fn, (x, w, b))
    for dt in (np.float32, np.float16, BF16):
        tol = {} if dt is np.float32 else {"rtol": 3e-2, "atol": 3e-2}
        check(lambda lib, x, w, b: F(lib).layer_norm(x, (8,), w, b), randn(4, 8, dtype=dt),
              randn(8, dtype=np.float32), randn(8, dtype=np.float32, seed=1), **tol)
        check(lambda lib, x, w, b: F(lib).layer_norm(x, (8,), w, b), randn(4, 8, dtype=dt),
              randn(8, dtype=dt), randn(8, dtype=dt, seed=1), **tol)
    check(lambda lib, x: F(lib).layer_norm(x.t(), (3,)), randn(3, 5))
    check(lambda lib, x: F(lib).layer_norm(x, (3,)), randn(0, 3), grad=False)


def test_layer_norm_errors():
    x = randn(4, 3, 5)
    check_error(lambda lib, x: F(lib).layer_norm(x, (4,)), x,
                match=r"Given normalized_shape=\[4\], expected input with shape \[\*, 4\], but "
                      r"got input of size\[4, 3, 5\]")
    check_error(lambda lib, x, w: F(lib).layer_norm(x, (5,), w), x, np.ones(4),
                match=r"Expected weight to be of same shape as normalized_shape, but got "
                      r"weight of shape \[4\] and normalized_shape = \[5\]")
    check_error(lambda lib, x: F(lib).layer_norm(x, 5), x,
                match=r"layer_norm\(\): argument 'normalized_shape' \(position 2\) must be "
                      "tuple of ints, not int")
    check(lambda lib, x: F(lib).layer_norm(x, x.shape[1:]), x)
    check_error(lambda lib, x: F(lib).layer_norm(x, (3,)), np.ones((3, 3), np.int64),
                match="\"LayerNormKernelImpl\" not implemented for 'Long'")
    check_error(lambda lib, x, w: F(lib).layer_norm(x, (5,), w), x.astype(np.float32),
                np.ones(5), match=r"mixed dtype \(CPU\)")


# ----------------------------------------------------------------- group norm
@pytest.mark.parametrize("shape,groups", [((2, 6, 4), 3), ((3, 4), 2), ((2, 4, 3, 2), 1),
                                          ((2, 4, 2, 2), 4), ((1, 6, 2, 1, 2), 2)])
def test_group_norm(shape, groups):
    c = shape[1]
    w, b = randn(c, seed=2), randn(c, seed=3)
    e, t = check(lambda lib, x, w, b: F(lib).group_norm(x, groups, w, b, 1e-4),
                 randn(*shape, seed=1) * 2, w, b)
    assert e.grad_fn.name() == t.grad_fn.name() == "NativeGroupNormBackward0"
    check(lambda lib, x: F(lib).group_norm(x, groups), randn(*shape, seed=4))
    second_order(lambda lib, x, w, b: F(lib).group_norm(x, groups, w, b),
                 randn(*shape, seed=5), w, b)


def test_group_norm_misc():
    check(lambda lib, x: F(lib).group_norm(x.transpose(1, 2), 2), randn(2, 3, 4))
    check(lambda lib, x: F(lib).group_norm(x, 2), randn(0, 4, 2), grad=False)
    check(lambda lib, x, w, b: F(lib).group_norm(x, 2, w, b), randn(3, 4, 5, dtype=np.float16),
          randn(4, dtype=np.float32), randn(4, dtype=np.float32), rtol=3e-2, atol=3e-2)
    x = ember.tensor(randn(2, 4, 3, seed=10), requires_grad=True)
    w = ember.tensor(randn(4, seed=11), requires_grad=True)
    assert ember.autograd.gradgradcheck(lambda x, w: F(ember).group_norm(x, 2, w), (x, w))
    check_error(lambda lib, x: F(lib).group_norm(x, 2), randn(4, 3, 5),
                match=r"Expected number of channels in input to be divisible by num_groups, but "
                      r"got input of shape \[4, 3, 5\] and num_groups=2")
    check_error(lambda lib, x, w: F(lib).group_norm(x, 3, w), randn(4, 3, 5), np.ones(2),
                match=r"Expected weight to be a vector of size equal to the number of channels "
                      r"in input, but got weight of shape \[2\] and input of shape \[4, 3, 5\]")
    check_error(lambda lib, x: F(lib).group_norm(x, 2), randn(4),
                match="Expected at least 2 dimensions for input tensor but received 1")
    check_error(lambda lib, x: F(lib).group_norm(x, 2), np.ones((3, 4), np.int64),
                match="\"GroupNormKernelImpl\" not implemented for 'Long'")


# ----------------------------------------------------------------- RMS norm
@pytest.mark.parametrize("shape,norm", [((4, 5), (5,)), ((2, 3, 4), (3, 4)), ((5,), [5])])
def test_rms_norm(shape, norm):
    w = randn(*norm, seed=2)
    check(lambda lib, x, w: F(lib).rms_norm(x, norm, w, 1e-4), randn(*shape, seed=1), w)
    check(lambda lib, x: F(lib).rms_norm(x, norm), randn(*shape, seed=3))
    second_order(lambda lib, x, w: F(lib).rms_norm(x, norm, w), randn(*shape, seed=4), w)
    second_order(lambda lib, x: F(lib).rms_norm(x, norm), randn(*shape, seed=4))


def test_rms_norm_misc():
    check(lambda lib, x: F(lib).rms_norm(x, (3,)), np.zeros((2, 3), np.float32))  # eps default
    check(lambda lib, x, w: F(lib).rms_norm(x, (4,), w), randn(3, 4, dtype=np.float32),
          randn(4, dtype=np.float32))
    check(lambda lib, x, w: F(lib).rms_norm(x, (4,), w), randn(3, 4, dtype=np.float16),
          randn(4, dtype=np.float16), rtol=2e-2, atol=2e-2)
    x = ember.tensor(randn(3, 4, seed=10), requires_grad=True)
    w = ember.tensor(randn(4, seed=11), requires_grad=True)
    assert ember.autograd.gradgradcheck(lambda x, w: F(ember).rms_norm(x, (4,), w), (x, w))
    check_error(lambda lib, x: F(lib).rms_norm(x, (4,)), randn(4, 3, 5),
                match=r"Given normalized_shape=\[4\], expected input with shape \[\*4\], but "
                      r"got input of size\[4, 3, 5\]")
    check_error(lambda lib, x, w: F(lib).rms_norm(x, (5,), w), randn(4, 3, 5), np.ones(4),
                match="Expected weight to be of same shape as normalized_shape")
    check_error(lambda lib, x: F(lib).rms_norm(x, 4), randn(3, 4), match="must be tuple of ints")
    check_error(lambda lib, x: F(lib).rms_norm(x, (4,)), np.ones((3, 4), np.int64),
                match="\"rms_norm\" not implemented for 'Long'")


# ----------------------------------------------------------------- composites
@pytest.mark.parametrize("shape", [(2, 5, 3), (2, 6, 3, 2), (1, 4, 2, 2, 3)])
@pytest.mark.parametrize("size", [1, 2, 3, 4])
def test_local_response_norm(shape, size):
    e, t = check(lambda lib, x: F(lib).local_response_norm(x, size, 0.1, 0.6, 2.0),
                 randn(*shape, seed=size))
    assert e.grad_fn.name() == t.grad_fn.name()


def test_local_response_norm_misc():
    check(lambda lib, x: F(lib).local_response_norm(x, 3), randn(2, 7, 4, dtype=np.float32))
    check(lambda lib, x: F(lib).local_response_norm(x, 2), randn(0, 3, 2), grad=False)
    second_order(lambda lib, x: F(lib).local_response_norm(x, 3, 0.5), randn(2, 4, 3))
    check_error(lambda lib, x: F(lib).local_response_norm(x, 2), randn(2, 3),
                match="Expected 3D or higher dimensionality")


@pytest.mark.parametrize("p,dim", [(2.0, 1), (1.0, 0), (3.0, -1), (float("inf"), 1)])
def test_normalize(p, dim):
    check(lambda lib, x: F(lib).normalize(x, p, dim), randn(3, 4, seed=2))
    x = randn(3, 4, seed=3)
    x[1] = 0.0  # a zero row: clamped by eps
    check(lambda lib, x: F(lib).normalize(x, p, 1), x)


def test_normalize_misc():
    check(lambda lib, x: F(lib).normalize(x), randn(2, 3, dtype=np.float32))
    second_order(lambda lib, x: F(lib).normalize(x, dim=0), randn(3, 2))
    check_error(lambda lib, x: F(lib).normalize(x), np.ones((3, 4), np.int64),
                match="linalg.vector_norm: Expected a floating point")


@settings(max_examples=25, deadline=None)
@given(kind=st.sampled_from(["batch", "layer", "group", "instance", "rms"]),
       n=st.integers(2, 4), c=st.sampled_from([2, 4]), rest=st.lists(st.integers(1, 3),
                                                                     max_size=2),
       seed=st.integers(0, 100))
def test_hypothesis_norms(kind, n, c, rest, seed):
    shape = (n, c, *rest)
    if kind == "instance" and np.prod(rest) < 2:
        rest = [2]
        shape = (n, c, 2)
    fns = {
        "batch": lambda lib, x, w, b: F(lib).batch_norm(x, None, None, w, b, training=True),
        "layer": lambda lib, x, w, b: F(lib).layer_norm(x, (c, *rest), None, None),
        "group": lambda lib, x, w, b: F(lib).group_norm(x, 2, w, b),
        "instance": lambda lib, x, w, b: F(lib).instance_norm(x, weight=w, bias=b),
        "rms": lambda lib, x, w, b: F(lib).rms_norm(x, (c, *rest)),
    }
    x = randn(*shape, seed=seed) * 2 + 0.5
    fn = fns[kind]
    if kind in ("layer", "rms"):
        check(lambda lib, x: fn(lib, x, None, None), x)
    else:
        check(fn, x, randn(c, seed=seed + 1), randn(c, seed=seed + 2))


# ----------------------------------------------------------------- modules
def load_from_torch(e_mod, t_mod):
    """Copy torch's state_dict into the ember module (same keys, same values)."""
    sd = {k: ember.tensor(to_numpy_any(v)) for k, v in t_mod.state_dict().items()}
    result = e_mod.load_state_dict(sd)
    assert not result.missing_keys and not result.unexpected_keys


def to_numpy_any(t):
    return t.detach().numpy().copy()


def compare_module(t_mod, e_mod, shape, steps=3, tol=None, seed=0):
    """Run both modules for a few train steps and then in eval; compare outputs, input
    and parameter gradients, and every buffer after each step."""
    tol = tol or {}
    load_from_torch(e_mod, t_mod)
    for step in range(steps + 1):
        if step == steps:
            t_mod.eval()
            e_mod.eval()
        x = randn(*shape, seed=seed + step, dtype=np.float32) * 2 + 0.3
        g = randn(*shape, seed=seed + 100 + step, dtype=np.float32)
        xt, xe = to_torch(x, True), to_ember(x, True)
        yt, ye = t_mod(xt), e_mod(xe)
        assert_same(ye, yt, what=f"output at step {step}", **tol)
        yt.backward(to_torch(g))
        ye.backward(to_ember(g))
        assert_same(xe.grad, xt.grad, what=f"input grad at step {step}", **tol)
        for (name, tp), (ename, ep) in zip(t_mod.named_parameters(), e_mod.named_parameters()):
            assert name == ename
            assert_same(ep.grad, tp.grad, what=f"{name}.grad at step {step}", **tol)
            tp.grad = None
            ep.grad = None
        tb, eb = dict(t_mod.named_buffers()), dict(e_mod.named_buffers())
        assert list(tb) == list(eb)
        for name in tb:
            assert_same(eb[name], tb[name], what=f"buffer {name} at step {step}", **tol)
    assert list(e_mod.state_dict()) == list(t_mod.state_dict())
    assert repr(e_mod) == repr(t_mod)


BN_CONFIGS = [{}, {"momentum": None}, {"affine": False}, {"track_running_stats": False},
              {"bias": False, "momentum": 0.5, "eps": 1e-3}]


@pytest.mark.parametrize("cls,shape", [("BatchNorm1d", (6, 3)), ("BatchNorm1d", (4, 3, 5)),
                                       ("BatchNorm2d", (3, 3, 4, 2)),
                                       ("BatchNorm3d", (2, 3, 2, 3, 2))])
@pytest.mark.parametrize("cfg", BN_CONFIGS)
def test_batchnorm_modules(cls, shape, cfg):
    compare_module(getattr(torch.nn, cls)(3, **cfg), getattr(ember.nn, cls)(3, **cfg), shape)


def test_batchnorm_module_details():
    m = ember.nn.BatchNorm1d(4)
    assert m.num_batches_tracked.dtype is ember.int64 and m.num_batches_tracked.item() == 0
    m(ember.randn(5, 4))
    m(ember.randn(5, 4))
    assert m.num_batches_tracked.item() == 2
    m.eval()
    m(ember.randn(5, 4))
    assert m.num_batches_tracked.item() == 2
    m.reset_running_stats()
    assert m.num_batches_tracked.item() == 0
    assert np.all(m.running_var.numpy() == 1) and np.all(m.running_mean.numpy() == 0)
    with ember.no_grad():
        m.weight.fill_(3.0)
    m.reset_parameters()
    assert np.all(m.weight.detach().numpy() == 1)
    m.double()
    assert m.running_mean.dtype is ember.float64 and m.num_batches_tracked.dtype is ember.int64
    for name, bad, msg in [("BatchNorm1d", (2, 4, 3, 3), "expected 2D or 3D input (got 4D input)"),
                           ("BatchNorm2d", (2, 4, 3), "expected 4D input (got 3D input)"),
                           ("BatchNorm3d", (2, 4), "expected 5D input (got 2D input)")]:
        check_error(lambda lib, x, name=name: getattr(lib.nn, name)(4)(x),
                    randn(*bad, dtype=np.float32), match=re.escape(msg))
    # eval without running stats normalises with the batch statistics
    compare_module(torch.nn.BatchNorm2d(3, track_running_stats=False).eval(),
                   ember.nn.BatchNorm2d(3, track_running_stats=False).eval(), (2, 3, 2, 2),
                   steps=1)


def test_batchnorm_old_checkpoint_gets_num_batches_tracked():
    from collections import OrderedDict
    results = []
    for lib in (torch, ember):
        m = lib.nn.BatchNorm1d(3)
        sd = OrderedDict((k, v) for k, v in m.state_dict().items()
                         if k != "num_batches_tracked")
        sd._metadata = OrderedDict([("", {"version": 1})])
        r = m.load_state_dict(sd)
        results.append((list(r.missing_keys), list(r.unexpected_keys),
                        m.num_batches_tracked.item()))
        sd._metadata = OrderedDict([("", {"version": 2})])
        r = m.load_state_dict(sd, strict=False)
        results.append(list(r.missing_keys))
    assert results[:2] == results[2:]
    assert results[0] == ([], [], 0)
    assert results[1] == ["num_batches_tracked"]


IN_CONFIGS = [{}, {"affine": True}, {"track_running_stats": True},
              {"affine": True, "track_running_stats": True, "momentum": 0.3},
              {"affine": True, "bias": False}]


@pytest.mark.parametrize("cls,shape", [("InstanceNorm1d", (3, 3, 5)),
                                       ("InstanceNorm1d", (3, 6)),
                                       ("InstanceNorm2d", (2, 3, 3, 2)),
                                       ("InstanceNorm3d", (2, 3, 2, 2, 3))])
@pytest.mark.parametrize("cfg", IN_CONFIGS)
def test_instancenorm_modules(cls, shape, cfg):
    compare_module(getattr(torch.nn, cls)(3, **cfg), getattr(ember.nn, cls)(3, **cfg), shape)


def test_instancenorm_module_errors():
    check_error(lambda lib, x: lib.nn.InstanceNorm1d(3, affine=True)(x),
                randn(2, 4, 5, dtype=np.float32),
                match=r"expected input's size at dim=1 to match num_features \(3\), but got: 4.")
    check_error(lambda lib, x: lib.nn.InstanceNorm2d(3)(x), randn(2, 3, dtype=np.float32),
                match=r"expected 3D or 4D input \(got 2D input\)")
    with pytest.warns(UserWarning, match="input's size at dim=1 does not match num_features"):
        ember.nn.InstanceNorm1d(3)(ember.randn(2, 4, 5))
    from collections import OrderedDict
    errors = []
    for lib in (torch, ember):
        sd = OrderedDict(running_mean=lib.zeros(3), running_var=lib.ones(3))
        sd._metadata = OrderedDict([("", {})])
        with pytest.raises(RuntimeError) as info:
            lib.nn.InstanceNorm1d(3).load_state_dict(sd)
        errors.append(str(info.value))
    assert errors[0] == errors[1]


@pytest.mark.parametrize("make", [
    lambda nn: nn.LayerNorm(5), lambda nn: nn.LayerNorm((3, 5), eps=1e-3),
    lambda nn: nn.LayerNorm([5], bias=False), lambda nn: nn.LayerNorm(5, elementwise_affine=False),
    lambda nn: nn.GroupNorm(1, 3), lambda nn: nn.GroupNorm(3, 3, affine=False),
    lambda nn: nn.GroupNorm(3, 3, bias=False), lambda nn: nn.RMSNorm(5),
    lambda nn: nn.RMSNorm((3, 5), eps=1e-4), lambda nn: nn.RMSNorm(5, elementwise_affine=False),
    lambda nn: nn.LocalResponseNorm(2), lambda nn: nn.LocalResponseNorm(3, 0.1, 0.5, 2.0),
])
def test_layer_group_rms_lrn_modules(make):
    t_mod, e_mod = make(torch.nn), make(ember.nn)
    with torch.no_grad():  # non-trivial parameters
        for p in t_mod.parameters():
            p.copy_(torch.randn(p.shape, generator=torch.Generator().manual_seed(3)))
    compare_module(t_mod, e_mod, (2, 3, 5), steps=1)


def test_group_norm_module_error():
    with pytest.raises(ValueError, match="num_channels must be divisible by num_groups"):
        ember.nn.GroupNorm(2, 3)


@pytest.mark.parametrize("fn,args", [
    (lambda lib, x: F(lib).layer_norm(x, (0,)), (randn(3, 0),)),
    (lambda lib, x: F(lib).local_response_norm(x, 7), (randn(2, 3, 4),)),
    (lambda lib, x: F(lib).normalize(x, dim=-1), (randn(2, 3, 4),)),
    (lambda lib, x: F(lib).batch_norm(x, lib.zeros(3), lib.ones(3), training=False),
     (randn(4, 3, dtype=np.float16),)),
    (lambda lib, x: F(lib).rms_norm(x, (2, 3)), (randn(2, 3),)),
])
def test_norm_edge_cases(fn, args):
    tol = {"rtol": 1e-2, "atol": 1e-2} if args[0].dtype == np.float16 else {}
    check(fn, *args, **tol)


def test_norm_modules_pickle_and_deepcopy():
    import copy
    import pickle
    m = ember.nn.BatchNorm2d(3)
    m(ember.randn(2, 3, 2, 2))
    for m2 in (pickle.loads(pickle.dumps(m)), copy.deepcopy(m)):
        assert repr(m2) == repr(m)
        for k, v in m.state_dict().items():
            assert_same(m2.state_dict()[k], to_torch(v.numpy()))


def test_negative_running_var_gives_nan_silently():
    """As torch: NaN where the running variance is negative, and no NumPy warning."""
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check(lambda lib, x: F(lib).batch_norm(x, lib.zeros(3, dtype=lib.float64),
                                               lib.tensor([1.0, -2.0, 0.5],
                                                          dtype=lib.float64),
                                               training=False), randn(4, 3))
