"""Activation functions against torch: values, dtypes, gradients (first and second order),
node names, kinks, in-place forms, errors, and the activation modules."""
import ml_dtypes
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from oracle import assert_same, check, check_error, randn, to_ember, to_torch

import ember

BF16 = ml_dtypes.bfloat16

# name -> fn(lib, x); each is run through torch.nn.functional and ember.nn.functional
ACTS = {
    "relu": lambda F, x: F.relu(x),
    "relu6": lambda F, x: F.relu6(x),
    "leaky_relu": lambda F, x: F.leaky_relu(x, 0.2),
    "elu": lambda F, x: F.elu(x, 0.7),
    "selu": lambda F, x: F.selu(x),
    "celu": lambda F, x: F.celu(x, 1.3),
    "gelu": lambda F, x: F.gelu(x),
    "gelu_tanh": lambda F, x: F.gelu(x, approximate="tanh"),
    "silu": lambda F, x: F.silu(x),
    "mish": lambda F, x: F.mish(x),
    "sigmoid": lambda F, x: F.sigmoid(x),
    "tanh": lambda F, x: F.tanh(x),
    "hardtanh": lambda F, x: F.hardtanh(x, -0.5, 1.0),
    "hardsigmoid": lambda F, x: F.hardsigmoid(x),
    "hardswish": lambda F, x: F.hardswish(x),
    "softplus": lambda F, x: F.softplus(x),
    "softplus_beta": lambda F, x: F.softplus(x, beta=2.0, threshold=3.0),
    "softsign": lambda F, x: F.softsign(x),
    "softmin": lambda F, x: F.softmin(x, dim=-1),
    "threshold": lambda F, x: F.threshold(x, 0.5, -2.0),
    "logsigmoid": lambda F, x: F.logsigmoid(x),
    "tanhshrink": lambda F, x: F.tanhshrink(x),
    "softshrink": lambda F, x: F.softshrink(x, 0.5),
    "hardshrink": lambda F, x: F.hardshrink(x, 0.5),
    "glu": lambda F, x: F.glu(x, -1),
}
SMOOTH = ["elu", "selu", "celu", "gelu", "gelu_tanh", "silu", "mish", "sigmoid", "tanh",
          "softplus", "softplus_beta", "softsign", "softmin", "logsigmoid", "tanhshrink", "glu"]
# values on every kink of the activations above, plus ordinary points
KINKS = np.array([0.0, -3.0, 3.0, -0.5, 0.5, 1.0, -1.0, 6.0, 1.5, -2.5, 25.0, -30.0],
                 dtype=np.float64)


def F(lib):
    return lib.nn.functional


def run(name):
    fn = ACTS[name]
    return lambda lib, x: fn(F(lib), x)


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
        total = sum((g * v).sum() for g, v in zip(gs, vs) if g.requires_grad)
        if not isinstance(total, lib.Tensor):  # every gradient is constant in x
            results.append((gs, [lib.zeros_like(t) for t in ts]))
            continue
        hs = lib.autograd.grad(total, ts, allow_unused=True)
        results.append((gs, [h if h is not None else lib.zeros_like(t) for h, t in zip(hs, ts)]))
    (tg, th), (eg, eh) = results
    assert_same(list(eg), list(tg), what="gradient", **tol)
    assert_same(list(eh), list(th), what="second derivative", **tol)


@pytest.mark.parametrize("name", sorted(ACTS))
def test_float64_values_and_grads(name):
    x = np.concatenate([KINKS, randn(12, seed=3) * 4]).reshape(4, 6)
    e, t = check(run(name), x)
    assert e.grad_fn.name() == t.grad_fn.name()


@pytest.mark.parametrize("name", sorted(ACTS))
@pytest.mark.parametrize("dtype", [np.float32, np.float16, BF16])
def test_low_precision(name, dtype):
    x = (randn(3, 8, seed=5) * 3).astype(dtype)
    tol = {} if dtype is np.float32 else {"rtol": 2e-2, "atol": 2e-2}
    check(run(name), x, **tol)


@pytest.mark.parametrize("name", sorted(SMOOTH) + ["leaky_relu", "hardswish", "hardtanh",
                                                    "threshold", "softshrink", "relu"])
def test_second_order(name):
    x = randn(3, 4, seed=7) * 2
    second_order(run(name), x)


@pytest.mark.parametrize("name", sorted(ACTS))
def test_transposed_zero_dim_and_empty(name):
    check(lambda lib, x: ACTS[name](F(lib), x.t()), randn(4, 6, seed=2))
    check(lambda lib, x: ACTS[name](F(lib), x), randn(0, 4))
    if name not in ("glu", "softmin"):
        check(run(name), np.array(0.7))


def test_float32_stays_float32():
    x = ember.randn(5, 6)
    for name, fn in ACTS.items():
        assert fn(F(ember), x).dtype is ember.float32, name
        y = ember.randn(5, 6, requires_grad=True)
        fn(F(ember), y).sum().backward()
        assert y.grad.dtype is ember.float32, name


@pytest.mark.parametrize("name", ["relu", "relu6", "hardtanh", "threshold"])
def test_integer_inputs_stay_integer(name):
    x = np.arange(-4, 8).reshape(3, 4)
    check(run(name), x)


def test_softsign_tanhshrink_integer_to_float():
    check(run("softsign"), np.arange(-3, 3))
    check(run("tanhshrink"), np.arange(-3, 3))


@pytest.mark.parametrize("name", ["leaky_relu", "elu", "selu", "celu", "gelu", "silu", "mish",
                                  "hardsigmoid", "hardswish", "softplus", "logsigmoid",
                                  "softshrink", "hardshrink", "relu6", "threshold"])
def test_integer_and_bool_errors(name):
    if name not in ("relu6", "threshold"):
        check_error(run(name), np.arange(4), match="not implemented for 'Long'")
    check_error(run(name), np.array([True, False]))


def test_errors():
    x = randn(2, 3)
    check_error(lambda lib, x: F(lib).hardtanh(x, 2.0, 1.0), x,
                match="min_val cannot be greater than max_val")
    check_error(lambda lib, x: F(lib).celu(x, 0.0), x, match="alpha cannot be 0 for CELU")
    for dt in (np.float64, np.float32, np.float16):
        check_error(lambda lib, x: F(lib).softshrink(x, -1.0), x.astype(dt),
                    match=r"lambda must be in range \[0, .*\] for input dtype .*, but found -1")
    check_error(lambda lib, x: F(lib).gelu(x, approximate="foo"), x,
                match="approximate argument must be either none or tanh.")
    check_error(lambda lib, x: F(lib).glu(x, 1), x,
                match="Halving dimension must be even, but dimension 1 is size 3")
    check_error(lambda lib, x: F(lib).glu(x, 2), x)
    check_error(lambda lib: F(lib).glu(lib.tensor(1.0)),
                match="glu does not support scalars because halving size must be even")
    _, te = check_error(lambda lib, x: F(lib).softshrink(x, -1.0), x.astype(BF16))
    assert "3.38953e+38" in str(te)


def test_hardshrink_negative_lambda_allowed():
    check(lambda lib, x: F(lib).hardshrink(x, -0.5), randn(3, 4))


def test_kink_conventions():
    """torch's subgradients at the kinks (relu'(0)=0, hardtanh' 0 on its bounds ...)."""
    x = np.array([0.0, -1.0, 1.0, -3.0, 3.0, 0.5, -0.5])
    for name in ("relu", "relu6", "hardtanh", "hardsigmoid", "hardswish", "leaky_relu",
                 "elu", "softshrink", "hardshrink", "threshold"):
        check(run(name), x)
    check(lambda lib, x: F(lib).hardtanh(x), x)
    check(lambda lib, x: F(lib).threshold(x, 0.0, 0.0), x)


def test_extreme_values():
    x = np.array([-1e4, -100.0, -30.0, 30.0, 100.0, 1e4], dtype=np.float32)
    for name in ("softplus", "logsigmoid", "silu", "mish", "elu", "gelu", "sigmoid", "selu"):
        check(run(name), x)


@pytest.mark.parametrize("name,inplace_fn", [
    ("relu", lambda F, x: F.relu(x, inplace=True)),
    ("relu_", lambda F, x: F.relu_(x)),
    ("relu6", lambda F, x: F.relu6(x, inplace=True)),
    ("leaky_relu", lambda F, x: F.leaky_relu(x, 0.3, inplace=True)),
    ("leaky_relu_", lambda F, x: F.leaky_relu_(x, 0.3)),
    ("elu", lambda F, x: F.elu(x, inplace=True)),
    ("elu_", lambda F, x: F.elu_(x, 0.5)),
    ("selu", lambda F, x: F.selu(x, inplace=True)),
    ("celu", lambda F, x: F.celu(x, 2.0, inplace=True)),
    ("hardtanh_", lambda F, x: F.hardtanh_(x, -0.3, 0.3)),
    ("threshold", lambda F, x: F.threshold(x, 0.1, 5.0, inplace=True)),
    ("threshold_", lambda F, x: F.threshold_(x, 0.1, 5.0)),
    ("silu", lambda F, x: F.silu(x, inplace=True)),
    ("mish", lambda F, x: F.mish(x, inplace=True)),
    ("hardsigmoid", lambda F, x: F.hardsigmoid(x, inplace=True)),
    ("hardswish", lambda F, x: F.hardswish(x, inplace=True)),
])
def test_inplace(name, inplace_fn):
    def fn(lib, x):
        y = x * 1.0
        out = inplace_fn(F(lib), y)
        assert out is y
        return y
    check(fn, randn(3, 5, seed=4) * 3)
    # on a leaf requiring grad: torch's error
    check_error(lambda lib, x: inplace_fn(F(lib), x.requires_grad_()), randn(2, 2))
    # without grad: the tensor itself changes and its version moves
    for lib, conv in ((torch, to_torch), (ember, to_ember)):
        x = conv(randn(2, 3))
        v = x._version
        assert inplace_fn(F(lib), x) is x and x._version > v


def test_inplace_through_view():
    def fn(lib, x):
        y = x * 1.0
        F(lib).relu_(y[:, 1:3])
        return y

    def fn2(lib, x):
        y = x * 1.0
        F(lib).elu_(y.t()[0])
        return y
    check(fn, randn(4, 5, seed=9))
    check(fn2, randn(4, 5, seed=9))


@pytest.mark.parametrize("shape,wshape", [((2, 4, 3), (4,)), ((2, 4, 3), (1,)), ((2, 4), ()),
                                          ((5,), (1,)), ((2, 3, 2, 2), (3,)), ((0, 3), (3,))])
def test_prelu(shape, wshape):
    x = randn(*shape, seed=1)
    w = randn(*wshape, seed=2) if wshape else np.array(0.25)
    e, t = check(lambda lib, x, w: F(lib).prelu(x, w), x, w)
    assert e.grad_fn.name() == t.grad_fn.name() == "PreluKernelBackward0"
    second_order(lambda lib, x, w: F(lib).prelu(x, w), x, w)


def test_prelu_errors():
    check_error(lambda lib, x, w: F(lib).prelu(x, w), randn(2, 4, 3), randn(3),
                match=r"Mismatch of parameter numbers and input channel size. Found parameter "
                      r"numbers = 3 and channel size = 4.")
    check_error(lambda lib, x, w: F(lib).prelu(x, w), randn(2, 4), randn(2, 2),
                match=r"prelu: Expected `weight` to be a scalar or 1D tensor, but got: ndim = 2")
    check_error(lambda lib, x, w: F(lib).prelu(x, w), randn(2, 4), randn(1, dtype=np.float32),
                match="prelu: Type promoting not supported. Got Double and Float")
    check_error(lambda lib, x, w: F(lib).prelu(x, w), np.array(1.0), randn(2),
                match="Not allow zero-dim input tensor.")
    check_error(lambda lib, x, w: F(lib).prelu(x, w), np.arange(4), np.arange(1))


@pytest.mark.parametrize("dim", [0, 1, -1, 2])
def test_glu_dims(dim):
    check(lambda lib, x: F(lib).glu(x, dim), randn(4, 6, 2, seed=dim + 5))
    second_order(lambda lib, x: F(lib).glu(x, dim), randn(4, 6, 2, seed=dim + 5))


def test_softmin_default_dim_warns():
    for shape in [(3,), (2, 3), (2, 3, 4), (2, 3, 4, 5)]:
        with pytest.warns(UserWarning, match="Implicit dimension choice for softmin"):
            e = F(ember).softmin(to_ember(randn(*shape)))
        with pytest.warns(UserWarning):
            t = torch.nn.functional.softmin(to_torch(randn(*shape)))
        assert_same(e, t)
    check(lambda lib, x: F(lib).softmin(x, 1, dtype=lib.float64), randn(2, 3, dtype=np.float32))


def test_gradcheck_and_gradgradcheck():
    x = ember.tensor(np.concatenate([randn(10, seed=11) * 3, [0.3, -0.7]]),
                     requires_grad=True)
    for name in sorted(SMOOTH):
        fn = run(name)
        assert ember.autograd.gradcheck(lambda t, fn=fn: fn(ember, t), (x,)), name
        assert ember.autograd.gradgradcheck(lambda t, fn=fn: fn(ember, t), (x,)), name
    w = ember.tensor([0.3, -0.2, 0.1], dtype=ember.float64, requires_grad=True)
    xs = ember.tensor(randn(2, 3, 2, seed=12), requires_grad=True)
    assert ember.autograd.gradcheck(lambda a, b: F(ember).prelu(a, b), (xs, w))
    assert ember.autograd.gradgradcheck(lambda a, b: F(ember).prelu(a, b), (xs, w))


def test_third_order_gelu():
    """Gradients of the backward op's own backward: three levels of create_graph."""
    for lib, conv in ((torch, to_torch), (ember, to_ember)):
        x = conv(randn(5, seed=13), True)
        y = lib.nn.functional.gelu(x).sum()
        (g1,) = lib.autograd.grad(y, x, create_graph=True)
        (g2,) = lib.autograd.grad(g1.sum(), x, create_graph=True)
        (g3,) = lib.autograd.grad(g2.sum(), x)
        if lib is torch:
            ref = (g1, g2, g3)
        else:
            assert_same([g1, g2, g3], list(ref))


@settings(max_examples=25, deadline=None)
@given(name=st.sampled_from(sorted(ACTS)),
       shape=st.lists(st.integers(1, 4), min_size=1, max_size=3),
       dtype=st.sampled_from([np.float64, np.float32]), seed=st.integers(0, 1000))
def test_hypothesis(name, shape, dtype, seed):
    if name == "glu":
        shape[-1] *= 2
    # torch's own float32 gelu is up to 1e-6 off where 1 + erf cancels (see the grid test)
    tol = {"atol": 2e-6} if name == "gelu" and dtype is np.float32 else {}
    check(run(name), (randn(*shape, seed=seed) * 3).astype(dtype), **tol)


# ----------------------------------------------------------------- modules
MODULES = [
    ("ReLU", (), {}), ("ReLU6", (), {}), ("LeakyReLU", (0.2,), {}), ("ELU", (), {"alpha": 0.5}),
    ("SELU", (), {}), ("CELU", (2.0,), {}), ("GELU", (), {}), ("GELU", (), {"approximate": "tanh"}),
    ("SiLU", (), {}), ("Mish", (), {}), ("Sigmoid", (), {}), ("Tanh", (), {}),
    ("Hardtanh", (-0.5, 0.5), {}), ("Hardsigmoid", (), {}), ("Hardswish", (), {}),
    ("Softplus", (), {"beta": 2.0, "threshold": 5.0}), ("Softsign", (), {}),
    ("Softmax", (), {"dim": 1}), ("LogSoftmax", (), {"dim": -1}), ("Softmin", (), {"dim": 0}),
    ("Softmax2d", (), {}), ("GLU", (), {"dim": 1}), ("Threshold", (0.1, 20.0), {}),
    ("LogSigmoid", (), {}), ("Tanhshrink", (), {}), ("Softshrink", (0.3,), {}),
    ("Hardshrink", (), {"lambd": 0.2}), ("ReLU", (), {"inplace": True}),
    ("LeakyReLU", (), {"negative_slope": 0.1, "inplace": True}), ("Hardtanh", (), {}),
    ("ELU", (), {"inplace": True}), ("Threshold", (0.5, 1.0, True), {}),
]


@pytest.mark.parametrize("name,args,kwargs", MODULES)
def test_modules(name, args, kwargs):
    t_mod = getattr(torch.nn, name)(*args, **kwargs)
    e_mod = getattr(ember.nn, name)(*args, **kwargs)
    assert repr(e_mod) == repr(t_mod)
    check(lambda lib, x: (t_mod if lib is torch else e_mod)(x * 1.0), randn(2, 4, 3, 2, seed=3))


def test_prelu_module():
    t_mod, e_mod = torch.nn.PReLU(3, init=0.1), ember.nn.PReLU(3, init=0.1)
    assert repr(e_mod) == repr(t_mod)
    assert list(e_mod.state_dict()) == list(t_mod.state_dict()) == ["weight"]
    x = randn(2, 3, 4, seed=8, dtype=np.float32)
    xt, xe = to_torch(x, True), to_ember(x, True)
    yt, ye = t_mod(xt), e_mod(xe)
    assert_same(ye, yt)
    g = randn(2, 3, 4, seed=9, dtype=np.float32)
    yt.backward(to_torch(g))
    ye.backward(to_ember(g))
    assert_same(xe.grad, xt.grad)
    assert_same(e_mod.weight.grad, t_mod.weight.grad)
    assert repr(ember.nn.PReLU()) == repr(torch.nn.PReLU())


def test_softmax2d_checks_dims():
    check_error(lambda lib, x: lib.nn.Softmax2d()(x), randn(3, 4),
                match="Softmax2d: expected input to be 3D or 4D, got 2D instead")


def test_module_extra_repr_fields():
    assert repr(ember.nn.Softmax()) == repr(torch.nn.Softmax())
    assert repr(ember.nn.Softplus()) == repr(torch.nn.Softplus())
    assert repr(ember.nn.ReLU6(inplace=True)) == repr(torch.nn.ReLU6(inplace=True))
    assert repr(ember.nn.SiLU(inplace=True)) == repr(torch.nn.SiLU(inplace=True))
    assert repr(ember.nn.Hardswish()) == repr(torch.nn.Hardswish())


@pytest.mark.parametrize("name", ["gelu", "gelu_tanh", "silu", "elu", "celu", "softplus", "mish",
                                  "logsigmoid", "hardswish", "leaky_relu"])
def test_large_inputs_run_blockwise(name):
    """Tensors bigger than one kernel block (32K elements), transposed, with the expanded
    gradient that sum() sends back."""
    x = randn(250, 150, seed=21, dtype=np.float32) * 4
    check(lambda lib, x: ACTS[name](F(lib), x.t()), x)
    check(lambda lib, x: ACTS[name](F(lib), x).sum(), x.astype(np.float64))


def test_gelu_float32_accuracy_over_a_grid():
    """float32 gelu (its erf is a float32 rational fit) stays within 1e-6 of the exact
    values (torch's float64 result), and so within 2e-6 of torch's float32 kernel, which
    is itself up to 1e-6 off where 1 + erf cancels."""
    # (torch's float32 kernel gives NaN at +inf, its float64 one inf: infinities left out)
    x = np.concatenate([np.linspace(-10, 10, 40001), [np.nan, 0.0, -0.0]]).astype(np.float32)
    exact = torch.nn.functional.gelu(torch.tensor(x, dtype=torch.float64))
    assert_same(F(ember).gelu(to_ember(x)).double(), exact, atol=1e-6, rtol=1e-6)
    check(run("gelu"), x, atol=2e-6, rtol=1e-6, grad=False)
    check(run("gelu"), np.linspace(-6, 6, 2001).astype(np.float32), atol=2e-6, rtol=1e-6)


@pytest.mark.parametrize("fn,args", [
    (lambda lib, x: lib.nn.functional.threshold(x, 1.5, -1.7), (np.arange(6),)),
    (lambda lib, x: lib.nn.functional.hardtanh(x, -1.5, 2.5), (np.arange(-4, 5),)),
    (lambda lib, x: lib.nn.functional.softplus(x, beta=100.0, threshold=1000.0),
     (randn(5, dtype=np.float32),)),
    (lambda lib, x: lib.nn.functional.elu(x, -0.5), (randn(6),)),
    (lambda lib, x: lib.nn.functional.leaky_relu(x, -0.5), (randn(6),)),
    (lambda lib, x: lib.nn.functional.leaky_relu(x, 2.0), (randn(6),)),
    (lambda lib, x: lib.nn.functional.celu(x, -2.0), (randn(6),)),
    (lambda lib, x: lib.nn.functional.glu(x, 0), (randn(4, 3, dtype=np.float16),)),
    (lambda lib, x, w: lib.nn.functional.prelu(x, w), (randn(2, 3, dtype=np.float16),
                                                       randn(3, dtype=np.float16))),
])
def test_parameter_edge_cases(fn, args):
    tol = {"rtol": 1e-2, "atol": 1e-2} if args[0].dtype == np.float16 else {}
    check(fn, *args, **tol)


def test_modules_pickle_and_deepcopy():
    import copy
    import pickle
    for m in (ember.nn.PReLU(2), ember.nn.Softmax(1), ember.nn.GELU("tanh")):
        for m2 in (pickle.loads(pickle.dumps(m)), copy.deepcopy(m)):
            assert repr(m2) == repr(m)
            assert list(m2.state_dict()) == list(m.state_dict())


@pytest.mark.parametrize("name", ["Softmax", "LogSoftmax", "Softmin"])
def test_softmax_modules_implicit_dim(name):
    x = randn(2, 3, 4, seed=3)
    with pytest.warns(UserWarning, match="Implicit dimension choice for"):
        e = getattr(ember.nn, name)()(to_ember(x))
    with pytest.warns(UserWarning):
        t = getattr(torch.nn, name)()(to_torch(x))
    assert_same(e, t)


def test_array_module_of_numpy_scalars():
    """0-dim NumPy arithmetic yields NumPy scalars; kernels ask their module too."""
    from ember._device import array_module
    assert array_module(np.float32(1.0) * np.float32(2.0)) is np
    assert array_module(np.zeros(()) + 1.0) is np


def test_rrelu_eval_matches_torch():
    x = np.concatenate([randn(11, seed=30), [0.0]])
    for lo, hi in ((1.0 / 8, 1.0 / 3), (0.2, 0.2), (0.0, 0.9)):
        e, t = check(lambda lib, x, lo=lo, hi=hi: F(lib).rrelu(x, lo, hi), x)
        assert e.grad_fn.name() == t.grad_fn.name() == "RreluWithNoiseBackward0"
    check(lambda lib, x: F(lib).rrelu(x), x.astype(np.float32))
    check(lambda lib, x: lib.nn.RReLU(0.1, 0.3).eval()(x), randn(3, 4, seed=31))
    assert repr(ember.nn.RReLU()) == repr(torch.nn.RReLU())
    assert repr(ember.nn.RReLU(0.1, 0.3, True)) == repr(torch.nn.RReLU(0.1, 0.3, True))


def test_rrelu_training_draws_slopes_in_range():
    x = to_ember(randn(50, 40, seed=32), True)
    y = F(ember).rrelu(x, 0.1, 0.3, training=True)
    y.backward(ember.ones_like(y))
    xs, ys, g = x.detach().numpy(), y.detach().numpy(), x.grad.numpy()
    neg = xs < 0
    slope = ys[neg] / xs[neg]
    assert slope.min() >= 0.1 and slope.max() <= 0.3 and slope.std() > 0.03
    np.testing.assert_allclose(g[neg], slope)  # the gradient is the drawn slope
    assert np.all(ys[~neg] == xs[~neg]) and np.all(g[~neg] == 1.0)
    m = ember.nn.RReLU(inplace=True)
    z = to_ember(randn(3, 4, seed=33)) * 1.0
    assert m(z) is z
    check_error(lambda lib, x: F(lib).rrelu(x, 0.5, 0.1), randn(3),
                match="Lower bound should be less than or equal to the upper bound")
    check_error(lambda lib, x: F(lib).rrelu(x), np.arange(3),
                match="not implemented for 'Long'")


# ----------------------------------------------------------------- relu: exact edge cases
def _relu_pair(x: np.ndarray, g: np.ndarray, dtype):
    """relu's output and input gradient in torch and ember, as NumPy arrays."""
    res = []
    for lib in (torch, ember):
        t = lib.tensor(x, dtype=getattr(lib, dtype), requires_grad=True)
        y = lib.nn.functional.relu(t)
        y.backward(lib.tensor(g, dtype=getattr(lib, dtype)))
        res.append((y.detach().to(lib.float64).numpy(), t.grad.to(lib.float64).numpy()))
    return res


@pytest.mark.parametrize("dtype", ["float32", "float64", "float16", "bfloat16"])
def test_relu_threshold_backward_exact(dtype):
    """Gradients pass where the output is not <= 0 (so NaN outputs pass them on) and are
    exactly 0 elsewhere, even when the upstream gradient is inf or NaN there."""
    nan, inf = np.nan, np.inf
    x = np.array([nan, -1.0, 0.0, -0.0, 2.0, -inf, inf, -nan, -2.0, 1e-30, -1e-30, 3.0])
    g = np.array([1.0, inf, nan, -inf, 3.0, nan, 5.0, 7.0, -0.0, inf, -inf, nan])
    (ty, tg), (ey, eg) = _relu_pair(x, g, dtype)
    np.testing.assert_array_equal(ey, ty)
    np.testing.assert_array_equal(eg, tg)
    # the sign of zeros: relu(-0.0) is -0.0, a gradient held back is +0.0 (NaN signs vary
    # with torch's bfloat16 conversions and mean nothing)
    for e, t in ((ey, ty), (eg, tg)):
        np.testing.assert_array_equal(np.signbit(e[e == 0]), np.signbit(t[t == 0]))
    rng = np.random.default_rng(0)
    x = np.where(rng.random((64, 33)) < 0.3, 0.0, rng.standard_normal((64, 33)))
    g = np.where(rng.random(x.shape) < 0.2, inf, rng.standard_normal(x.shape))
    (ty, tg), (ey, eg) = _relu_pair(x, g, dtype)
    np.testing.assert_array_equal(ey, ty)
    np.testing.assert_array_equal(eg, tg)


def test_relu_integer_inplace_and_double_backward():
    for dt in (np.int8, np.int32, np.int64):
        check(lambda lib, x: F(lib).relu(x), np.array([-3, 0, 5, 127], dtype=dt))
    check(lambda lib, x: F(lib).relu(x), np.array([0, 5, 255], dtype=np.uint8))
    check(lambda lib, x: F(lib).relu_(x * 1), np.array([-2, 0, 3], dtype=np.int64))
    x = randn(3, 4, seed=2)
    x[0, :2] = 0.0
    second_order(lambda lib, x: F(lib).relu(x * 2.0) ** 3, x)
