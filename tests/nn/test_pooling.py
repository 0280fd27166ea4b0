"""Pooling against torch: max/avg/adaptive pooling, unpooling, indices, grads, errors."""
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from oracle import assert_same, check, check_error, randn, to_ember, to_numpy, to_torch

import ember


def second_order(fn, x: np.ndarray, seed: int = 1):
    """d/dx <v, d/dx <w, fn(x)>>: backward formulas are themselves differentiable."""
    results = []
    for lib, conv in ((torch, to_torch), (ember, to_ember)):
        t = conv(x, True)
        out = fn(lib, t)
        w = conv(np.random.default_rng(seed).standard_normal(tuple(out.shape)))
        (g,) = lib.autograd.grad((out * w).sum(), t, create_graph=True)
        v = conv(np.random.default_rng(seed + 1).standard_normal(x.shape))
        (gg,) = lib.autograd.grad((g * g * v).sum(), t, allow_unused=True)
        results.append(gg)
    if results[1] is None:
        assert results[0] is None
    else:
        assert_same(results[1], results[0], what="second-order grad")


# ----------------------------------------------------------------- max pooling
@settings(max_examples=25, deadline=None)
@given(k=st.integers(1, 3), s=st.integers(1, 3), p=st.integers(0, 1), d=st.integers(1, 2),
       ceil=st.booleans(), H=st.integers(5, 8), W=st.integers(5, 8))
def test_max_pool2d_geometry(k, s, p, d, ceil, H, W):
    if p > (d * (k - 1) + 1) // 2:
        p = 0
    x = randn(2, 3, H, W, seed=H * W)
    check(lambda lib, x: lib.nn.functional.max_pool2d(x, k, s, p, d, ceil, True), x)


@pytest.mark.parametrize("args", [dict(kernel_size=(2, 3)), dict(kernel_size=3, stride=(1, 2)),
                                  dict(kernel_size=2, stride=1, padding=1, ceil_mode=True),
                                  dict(kernel_size=(3, 1), dilation=(2, 1), padding=(1, 0))])
def test_max_pool2d_tuples_unbatched_transposed(args):
    x = randn(3, 7, 6)
    check(lambda lib, x: lib.nn.functional.max_pool2d(x, **args, return_indices=True), x)
    xt = randn(2, 3, 6, 7).transpose(0, 1, 3, 2)  # non-contiguous
    check(lambda lib, x: lib.nn.functional.max_pool2d(x, **args), xt)


@pytest.mark.parametrize("dtype", [np.float32, np.float16, np.int64])
def test_max_pool2d_dtypes(dtype):
    x = (randn(2, 2, 6, 6) * 10).astype(dtype)
    check(lambda lib, x: lib.nn.functional.max_pool2d(x, 3, 2, 1, return_indices=True), x)


def test_max_pool_bfloat16_empty_batch_and_double_backward():
    import ml_dtypes
    x = randn(1, 2, 5, 5).astype(ml_dtypes.bfloat16)
    check(lambda lib, x: lib.nn.functional.max_pool2d(x, 2), x)
    check(lambda lib, x: lib.nn.functional.max_pool2d(x, 2, return_indices=True),
          randn(0, 2, 4, 4))
    second_order(lambda lib, x: lib.nn.functional.max_pool2d(x, 3, 1, 1) ** 2, randn(2, 2, 5, 5))
    second_order(lambda lib, x: lib.nn.functional.max_pool2d(x, 2) ** 2, randn(2, 2, 4, 4))


@pytest.mark.parametrize("args", [(2,), (3, 1, 1), (3, 2, 1, 2, True), (2, 3, 0, 1, True)])
def test_max_pool1d(args):
    check(lambda lib, x: lib.nn.functional.max_pool1d(x, *args, return_indices=True),
          randn(2, 3, 9))
    check(lambda lib, x: lib.nn.functional.max_pool1d(x, *args), randn(3, 9))
    out = ember.nn.functional.max_pool1d(to_ember(randn(2, 3, 9), True), *args)
    assert out.grad_fn.name() == "SqueezeBackward1"


def test_max_pool3d():
    check(lambda lib, x: lib.nn.functional.max_pool3d(x, 2, 1, 1, return_indices=True),
          randn(1, 2, 4, 5, 3))
    check(lambda lib, x: lib.nn.functional.max_pool3d(x, (2, 1, 2)), randn(2, 4, 4, 5))


def test_max_pool_nan_and_ties():
    x = np.zeros((1, 1, 4, 4))
    x[0, 0, 1, 1] = np.nan
    check(lambda lib, x: lib.nn.functional.max_pool2d(x, 2, return_indices=True), x)


def test_max_pool_grad_fn_names():
    x = to_ember(randn(1, 1, 4, 4), True)
    assert ember.nn.functional.max_pool2d(x, 2).grad_fn.name() == \
        "MaxPool2DWithIndicesBackward0"
    assert ember.nn.functional.avg_pool2d(x, 2).grad_fn.name() == "AvgPool2DBackward0"
    assert ember.nn.functional.adaptive_avg_pool2d(x, 3).grad_fn.name() == \
        "AdaptiveAvgPool2DBackward0"
    assert ember.nn.functional.adaptive_max_pool2d(x, 3).grad_fn.name() == \
        "AdaptiveMaxPool2DBackward0"
    idx = ember.nn.functional.max_pool2d(x, 2, return_indices=True)[1]
    assert idx.dtype == ember.int64 and not idx.requires_grad


@pytest.mark.parametrize("call", [
    lambda lib, x: lib.nn.functional.max_pool2d(x, 2, padding=2),
    lambda lib, x: lib.nn.functional.max_pool2d(x, 9),
    lambda lib, x: lib.nn.functional.max_pool2d(x, 2, stride=0),
    lambda lib, x: lib.nn.functional.max_pool2d(x[0, 0], 2),
    lambda lib, x: lib.nn.functional.max_pool2d(x[:, :0], 2),
    lambda lib, x: lib.nn.functional.max_pool1d(x, 2),
    lambda lib, x: lib.nn.functional.avg_pool2d(x, 2, padding=2),
    lambda lib, x: lib.nn.functional.avg_pool2d(x, 9),
    lambda lib, x: lib.nn.functional.avg_pool1d(x, 2),
    lambda lib, x: lib.nn.functional.avg_pool2d(x, 2, divisor_override=0),
    lambda lib, x: lib.nn.functional.adaptive_avg_pool2d(x, (2,)),
    lambda lib, x: lib.nn.functional.adaptive_avg_pool2d(x[0, 0], 2),
    lambda lib, x: lib.nn.functional.adaptive_avg_pool2d(x[:, :, :0], 2),
    lambda lib, x: lib.nn.functional.adaptive_avg_pool2d(x.long(), 2),
    lambda lib, x: lib.nn.functional.adaptive_max_pool2d(x.long(), 2),
])
def test_pool_errors(call):
    check_error(call, randn(2, 3, 8, 8, dtype=np.float32))


def test_pool_error_messages():
    x = randn(2, 3, 8, 8)
    check_error(lambda lib, x: lib.nn.functional.max_pool2d(x, 2, padding=2), x,
                match=r"pad should be at most half of effective kernel size, but got pad=2, "
                      r"kernel_size=2 and dilation=1")
    check_error(lambda lib, x: lib.nn.functional.max_pool2d(x, 9), x,
                match=r"Given input size: \(3x8x8\). Calculated output size: \(3x0x0\). "
                      r"Output size is too small")
    check_error(lambda lib, x: lib.nn.functional.adaptive_avg_pool2d(x.long(), 2), x,
                match="\"adaptive_avg_pool2d\" not implemented for 'Long'")


# ----------------------------------------------------------------- average pooling
@settings(max_examples=25, deadline=None)
@given(k=st.integers(1, 3), s=st.integers(1, 3), p=st.integers(0, 1), ceil=st.booleans(),
       cip=st.booleans(), div=st.sampled_from([None, 3]), H=st.integers(3, 7))
def test_avg_pool2d_geometry(k, s, p, ceil, cip, div, H):
    if 2 * p > k:
        p = 0
    check(lambda lib, x: lib.nn.functional.avg_pool2d(x, k, s, p, ceil, cip, div),
          randn(2, 2, H, 5, seed=H))


def test_avg_pool_variants():
    check(lambda lib, x: lib.nn.functional.avg_pool2d(x, (3, 2), (2, 1), (1, 1)), randn(3, 6, 5))
    check(lambda lib, x: lib.nn.functional.avg_pool2d(x, 2), randn(2, 3, 4, 6).swapaxes(2, 3))
    check(lambda lib, x: lib.nn.functional.avg_pool1d(x, 3, 2, 1, True, False), randn(2, 3, 8))
    check(lambda lib, x: lib.nn.functional.avg_pool1d(x, 2), randn(3, 8))
    check(lambda lib, x: lib.nn.functional.avg_pool3d(x, 2, 1, 1, False, False),
          randn(1, 2, 3, 4, 5))
    check(lambda lib, x: lib.nn.functional.avg_pool2d(x, 2), randn(2, 2, 4, 4, dtype=np.float16))
    check(lambda lib, x: lib.nn.functional.avg_pool2d(x, 2), randn(0, 2, 4, 4))
    ints = np.arange(2 * 2 * 5 * 5).reshape(2, 2, 5, 5) - 40
    check(lambda lib, x: lib.nn.functional.avg_pool2d(x, 3, 2, 1), ints)
    second_order(lambda lib, x: lib.nn.functional.avg_pool2d(x, 3, 1, 1) ** 2, randn(1, 2, 4, 4))
    second_order(lambda lib, x: lib.nn.functional.avg_pool2d(x, 2) ** 2, randn(1, 2, 4, 4))


# ----------------------------------------------------------------- adaptive pooling
@settings(max_examples=25, deadline=None)
@given(H=st.integers(1, 9), W=st.integers(1, 9), oh=st.integers(1, 6), ow=st.integers(1, 6))
def test_adaptive_pool2d(H, W, oh, ow):
    x = randn(2, 3, H, W, seed=H + 10 * W)
    check(lambda lib, x: lib.nn.functional.adaptive_avg_pool2d(x, (oh, ow)), x)
    check(lambda lib, x: lib.nn.functional.adaptive_max_pool2d(x, (oh, ow), True), x)


def test_adaptive_pool_variants():
    check(lambda lib, x: lib.nn.functional.adaptive_avg_pool2d(x, (3, None)), randn(3, 7, 5))
    check(lambda lib, x: lib.nn.functional.adaptive_avg_pool2d(x, 1), randn(2, 3, 7, 5))
    check(lambda lib, x: lib.nn.functional.adaptive_max_pool2d(x, (None, 2)), randn(3, 7, 5))
    check(lambda lib, x: lib.nn.functional.adaptive_avg_pool1d(x, 4), randn(2, 3, 9))
    check(lambda lib, x: lib.nn.functional.adaptive_max_pool1d(x, 4, True), randn(3, 9))
    check(lambda lib, x: lib.nn.functional.adaptive_avg_pool2d(x, 3),
          randn(2, 2, 5, 7, dtype=np.float32).swapaxes(2, 3))
    check(lambda lib, x: lib.nn.functional.adaptive_avg_pool2d(x, 2), randn(0, 2, 5, 5))
    check(lambda lib, x: lib.nn.functional.adaptive_max_pool2d(x, 3),
          randn(1, 2, 5, 5, dtype=np.float16))
    second_order(lambda lib, x: lib.nn.functional.adaptive_avg_pool2d(x, 3) ** 2,
                 randn(1, 2, 5, 4))
    second_order(lambda lib, x: lib.nn.functional.adaptive_max_pool2d(x, 3) ** 2,
                 randn(1, 2, 5, 4))


# ----------------------------------------------------------------- unpooling
@pytest.mark.parametrize("args,n", [((2,), 6), ((3, 2, 1), 5), ((2, 1), 6)])
def test_max_unpool2d(args, n):
    def fn(lib, x):
        F = lib.nn.functional
        y, i = F.max_pool2d(x, *args, return_indices=True)
        return F.max_unpool2d(y * 2, i, *args)
    check(fn, randn(2, 3, n, n))
    check(fn, randn(3, n, n))


def test_max_unpool_output_size_and_1d():
    def fn(lib, x):
        F = lib.nn.functional
        y, i = F.max_pool2d(x, 2, return_indices=True)
        return F.max_unpool2d(y, i, 2, output_size=x.shape), F.max_unpool2d(y, i, 2,
                                                                             output_size=(7, 7))
    check(fn, randn(1, 2, 7, 7))

    def fn1(lib, x):
        F = lib.nn.functional
        y, i = F.max_pool1d(x, 2, return_indices=True)
        return F.max_unpool1d(y, i, 2)
    check(fn1, randn(2, 3, 8))

    def bad(lib, x):
        F = lib.nn.functional
        y, i = F.max_pool2d(x, 2, return_indices=True)
        return F.max_unpool2d(y, i, 2, output_size=(9, 9))
    check_error(bad, randn(1, 2, 7, 7), match="invalid output_size")


# ----------------------------------------------------------------- modules
POOL_MODULES = [
    ("MaxPool2d", (2,), {}), ("MaxPool2d", (3, 2, 1), dict(return_indices=True, ceil_mode=True)),
    ("MaxPool1d", (3, 2, 1), dict(return_indices=True, ceil_mode=True)),
    ("MaxPool3d", ((1, 2, 2),), {}), ("AvgPool1d", (3,), dict(padding=1)),
    ("AvgPool2d", (2,), {}), ("AvgPool2d", ((3, 2), 1, 1), dict(count_include_pad=False,
                                                               divisor_override=2)),
    ("AvgPool3d", (2, 1), {}), ("AdaptiveAvgPool2d", ((3, None),), {}),
    ("AdaptiveAvgPool1d", (3,), {}), ("AdaptiveMaxPool2d", (2,), dict(return_indices=True)),
    ("AdaptiveMaxPool1d", (3,), {}),
]


@pytest.mark.parametrize("name,args,kw", POOL_MODULES)
def test_pool_modules(name, args, kw):
    tm, em = getattr(torch.nn, name)(*args, **kw), getattr(ember.nn, name)(*args, **kw)
    assert repr(em) == repr(tm)
    assert list(em.state_dict()) == [] and list(em.parameters()) == []
    nd = 3 if name.endswith("1d") else 5 if name.endswith("3d") else 4
    x = randn(*(2, 3, 6, 5, 4)[:nd])
    check(lambda lib, x: (tm if lib is torch else em)(x), x)


def test_unpool_modules():
    for name, pool, shape in [("MaxUnpool2d", "MaxPool2d", (2, 3, 6, 4)),
                              ("MaxUnpool1d", "MaxPool1d", (2, 3, 6))]:
        pools = {lib: getattr(lib.nn, pool)(2, return_indices=True) for lib in (torch, ember)}
        unpools = {lib: getattr(lib.nn, name)(2) for lib in (torch, ember)}
        assert repr(unpools[ember]) == repr(unpools[torch])

        def fn(lib, x):
            y, i = pools[lib](x)  # noqa: B023
            return unpools[lib](y, i, output_size=x.shape)  # noqa: B023
        check(fn, randn(*shape))


@pytest.mark.parametrize("p", [1.0, 2.0, 3.0])
def test_lp_pool(p):
    x = np.abs(randn(2, 3, 6, 5)) + 0.1  # positive: x**p is differentiable everywhere
    check(lambda lib, x: lib.nn.functional.lp_pool2d(x, p, 2), x)
    check(lambda lib, x: lib.nn.functional.lp_pool2d(x, p, (3, 2), 1, True), x)
    check(lambda lib, x: lib.nn.functional.lp_pool1d(x, p, 3, 2), x[0])
    for name, args, shape in [("LPPool2d", (p, 3), (2, 3, 6, 5)),
                              ("LPPool1d", (p, 2, 1, True), (2, 3, 6))]:
        tm, em = getattr(torch.nn, name)(*args), getattr(ember.nn, name)(*args)
        assert repr(em) == repr(tm)
        check(lambda lib, x: (tm if lib is torch else em)(x),  # noqa: B023
              np.abs(randn(*shape)) + 0.1)


@pytest.mark.parametrize("dtype", [np.float16, "bfloat16"])
def test_pooling_half_precision(dtype):
    import ml_dtypes
    dt = ml_dtypes.bfloat16 if dtype == "bfloat16" else dtype
    x = randn(1, 2, 6, 6).astype(dt)
    check(lambda lib, x: lib.nn.functional.max_pool2d(x, 3, 2, 1, return_indices=True), x)
    check(lambda lib, x: lib.nn.functional.avg_pool2d(x, 3, 2, 1), x)
    check(lambda lib, x: lib.nn.functional.adaptive_avg_pool2d(x, 4), x)
    check(lambda lib, x: lib.nn.functional.adaptive_max_pool2d(x, 4), x)


# ----------------------------------------------------------------- max pooling: exact ties
def _bits(a: np.ndarray) -> np.ndarray:
    """A float array's bit patterns, so comparisons see infinities, NaN payloads and the
    sign of zero (torch adds gradients into zeros, where a -0.0 gradient becomes 0.0)."""
    return a.view({2: np.uint16, 4: np.uint32, 8: np.uint64}[a.dtype.itemsize])


def _exact_max_pool(x: np.ndarray, g: np.ndarray, **kw) -> None:
    """Values, indices and the input gradient of max_pool2d equal torch's bit for bit."""
    res = []
    for lib, conv in ((torch, to_torch), (ember, to_ember)):
        t = conv(x, True)
        out, idx = lib.nn.functional.max_pool2d(t, return_indices=True, **kw)
        out.backward(conv(g))
        res.append([to_numpy(out), to_numpy(idx), to_numpy(t.grad)])
    (tv, ti, tg), (ev, ei, eg) = res
    np.testing.assert_array_equal(ei, ti)
    assert np.array_equal(_bits(ev), _bits(tv))
    assert np.array_equal(_bits(eg), _bits(tg)), np.argwhere(_bits(eg) != _bits(tg))[:5]


def _tie_inputs(shape, dtype, seed):
    """Inputs where most windows tie: small integers, ReLU'd noise (all-zero windows),
    all zeros, and -inf everywhere but a few places."""
    rng = np.random.default_rng(seed)
    small = rng.integers(-1, 2, shape).astype(np.float64)
    relu = np.maximum(rng.standard_normal(shape), 0)
    ninf = np.where(rng.random(shape) < 0.8, -np.inf, rng.integers(-1, 2, shape))
    return [a.astype(dtype) for a in (small, relu, np.zeros(shape), ninf, -small)]


def _upstream(shape, dtype, seed):
    """A gradient holding inf, -inf, NaN and -0.0 next to ordinary values."""
    rng = np.random.default_rng(seed)
    g = rng.standard_normal(shape)
    flat = g.reshape(-1)
    flat[::7], flat[3::11], flat[5::13], flat[2::9] = np.inf, -np.inf, np.nan, -0.0
    return g.astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float16, np.float64, "bfloat16"])
@pytest.mark.parametrize("shape", [(2, 3, 8, 6), (3, 4, 4), (1, 1, 2, 2), (2, 2, 6, 10)])
def test_max_pool2d_tiled_ties_exact(dtype, shape):
    import ml_dtypes
    dt = ml_dtypes.bfloat16 if dtype == "bfloat16" else dtype
    out_shape = shape[:-2] + (shape[-2] // 2, shape[-1] // 2)
    for i, x in enumerate(_tie_inputs(shape, dt, seed=len(shape))):
        _exact_max_pool(x, _upstream(out_shape, dt, i), kernel_size=2)
        _exact_max_pool(x, np.ones(out_shape, dt), kernel_size=2)


@pytest.mark.parametrize("kw", [dict(kernel_size=3), dict(kernel_size=(2, 3)),
                                dict(kernel_size=(1, 2)), dict(kernel_size=2, stride=1),
                                dict(kernel_size=2, padding=1), dict(kernel_size=3, ceil_mode=True),
                                dict(kernel_size=2, dilation=2)])
def test_max_pool2d_other_windows_ties_exact(kw):
    shape = (2, 2, 6, 6)
    with torch.no_grad():
        out_shape = tuple(torch.nn.functional.max_pool2d(torch.zeros(shape), **kw).shape)
    for i, x in enumerate(_tie_inputs(shape, np.float32, seed=3)):
        _exact_max_pool(x, np.random.default_rng(i).standard_normal(out_shape).astype(np.float32),
                        **kw)
        _exact_max_pool(x, _upstream(out_shape, np.float32, i), **kw)


@pytest.mark.parametrize("dims", [1, 3])
def test_max_pool_1d_3d_gradient_signs_exact(dims):
    """Negative, -0.0, infinite and NaN gradients through 1-d and 3-d windows: the
    positions that lose get +0.0 and -0.0 lands as +0.0, as in torch."""
    shape = (2, 3) + (6,) * dims
    fn = f"max_pool{dims}d"
    for kw in (dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1)):
        for i, x in enumerate(_tie_inputs(shape, np.float32, seed=dims)):
            res = []
            for lib, conv in ((torch, to_torch), (ember, to_ember)):
                t = conv(x, True)
                out = getattr(lib.nn.functional, fn)(t, **kw)
                out.backward(conv(_upstream(tuple(out.shape), np.float32, i)))
                res.append(_bits(to_numpy(t.grad)))
            assert np.array_equal(res[0], res[1]), (kw, i)


def test_max_pool2d_tiled_layouts_and_broadcast_grad():
    """Non-contiguous input, a broadcast upstream gradient (from sum), an empty batch, and a
    window whose NaNs compete (torch's kernel keeps the last NaN)."""
    x = np.maximum(randn(2, 3, 6, 8, seed=4), 0).astype(np.float32)
    check(lambda lib, x: lib.nn.functional.max_pool2d(x.transpose(2, 3), 2), x)
    for lib, conv in ((torch, to_torch), (ember, to_ember)):
        t = conv(x, True)
        lib.nn.functional.max_pool2d(t, 2).sum().backward()
        if lib is torch:
            expected = to_numpy(t.grad)
    np.testing.assert_array_equal(to_numpy(t.grad), expected)
    check(lambda lib, x: lib.nn.functional.max_pool2d(x, 2), np.zeros((0, 2, 4, 4)))
    x = np.zeros((1, 2, 4, 4), np.float32)
    x[0, 0, 0, 1] = x[0, 0, 1, 0] = x[0, 1, 2:, 2:] = x[0, 1, 0, 0] = np.nan
    _exact_max_pool(x, randn(1, 2, 2, 2).astype(np.float32), kernel_size=2)
    _exact_max_pool(x, randn(1, 2, 4, 4).astype(np.float32), kernel_size=3, stride=1, padding=1)
    check(lambda lib, x: lib.nn.functional.adaptive_max_pool2d(x, 3, return_indices=True), x)


def test_max_pool2d_tiled_double_backward_ties():
    x = np.maximum(randn(2, 2, 4, 6, seed=5), 0)
    x[0, 0, :2, :2] = 0.0
    second_order(lambda lib, x: lib.nn.functional.max_pool2d(x, 2) ** 2, x)
    second_order(lambda lib, x: lib.nn.functional.max_pool2d(x, 2).exp(), np.round(x))
