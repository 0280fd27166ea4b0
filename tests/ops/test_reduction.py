"""Reductions, scans, softmax and norms against torch: values, dtypes, grads, errors."""
import math
import pickle
import warnings

import ml_dtypes
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from oracle import assert_same, check, check_error, randn, to_ember, to_torch

import ember

INF, NAN = math.inf, math.nan


def ints(*shape, lo=-5, hi=6, dtype=np.int64, seed=0):
    return np.random.default_rng(seed).integers(lo, hi, shape).astype(dtype)


def second_order(fn, x: np.ndarray, seed: int = 1, **tol):
    """Compare d/dx <v, d/dx <w, fn(x)>> (a Hessian-vector product) between the libraries."""
    rng = np.random.default_rng(seed)
    results = []
    for lib, conv in ((torch, to_torch), (ember, to_ember)):
        xt = conv(x, True)
        y = fn(lib, xt)
        w = conv(rng.standard_normal(tuple(y.shape)))
        (g,) = lib.autograd.grad((y * w).sum(), xt, create_graph=True)
        v = conv(rng.standard_normal(x.shape))
        (h,) = lib.autograd.grad((g * v).sum(), xt)
        results.append((g, h))
        rng = np.random.default_rng(seed)
    (tg, th), (eg, eh) = results
    assert_same(eg, tg, what="gradient", **tol)
    assert_same(eh, th, what="second derivative", **tol)


def node_name(lib, fn, x):
    out = fn(lib, to_torch(x, True) if lib is torch else to_ember(x, True))
    out = out[0] if isinstance(out, tuple) else out
    return out.grad_fn.name()


# ----------------------------------------------------------------- node names
NAMED = [
    lambda lib, x: x.sum(), lambda lib, x: x.sum(1), lambda lib, x: x.sum([]),
    lambda lib, x: x.nansum(1), lambda lib, x: x.mean(), lambda lib, x: x.mean((0, 1)),
    lambda lib, x: x.nanmean(), lambda lib, x: x.prod(), lambda lib, x: x.prod(0),
    lambda lib, x: x.max(), lambda lib, x: x.max(1), lambda lib, x: x.min(),
    lambda lib, x: x.min(0), lambda lib, x: x.amax(1), lambda lib, x: x.amin(),
    lambda lib, x: lib.aminmax(x), lambda lib, x: x.std(), lambda lib, x: x.var(1),
    lambda lib, x: lib.std_mean(x, 1), lambda lib, x: lib.var_mean(x),
    lambda lib, x: x.logsumexp(1), lambda lib, x: x.softmax(1),
    lambda lib, x: x.log_softmax(0), lambda lib, x: x.cumsum(1), lambda lib, x: x.cumprod(0),
    lambda lib, x: x.norm(), lambda lib, x: x.norm(3, 1),
    lambda lib, x: lib.linalg.vector_norm(x, 1), lambda lib, x: lib.linalg.matrix_norm(x),
    lambda lib, x: lib.linalg.matrix_norm(x, 1), lambda lib, x: lib.linalg.matrix_norm(x, -INF),
    lambda lib, x: lib.linalg.norm(x),
]


@pytest.mark.parametrize("i", range(len(NAMED)))
def test_grad_fn_names(i):
    x = randn(3, 4)
    assert node_name(ember, NAMED[i], x) == node_name(torch, NAMED[i], x)


# ----------------------------------------------------------------- sum / mean / nansum
@pytest.mark.parametrize("dim", [None, 0, 1, -1, -3, (0, 2), [2, -3], (), (0, 1, 2)])
@pytest.mark.parametrize("keepdim", [False, True])
def test_sum_mean_dims(dim, keepdim):
    x = randn(2, 3, 4)
    if dim is None:
        check(lambda lib, a: (a.sum(), a.mean()) if not keepdim else
              (lib.sum(a), lib.mean(a)), x)
    else:
        check(lambda lib, a: (a.sum(dim, keepdim), lib.mean(a, dim, keepdim=keepdim),
                              lib.sum(a, dim=dim, keepdim=keepdim)), x)


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.int8, np.uint8, np.bool_])
def test_sum_integers_and_bools_give_int64(dtype):
    x = ints(3, 4, lo=0, hi=3, dtype=dtype)
    check(lambda lib, a: (a.sum(), a.sum(0), a.sum(-1, keepdim=True), a.nansum(1),
                          a.prod(1), a.cumsum(0), a.cumprod(1)), x)


@pytest.mark.parametrize("dtype", [np.float16, ml_dtypes.bfloat16, np.float32])
def test_low_precision_floats_accumulate_in_float32(dtype):
    x = randn(64, 33).astype(dtype)
    check(lambda lib, a: (a.sum(), a.sum(0), a.mean(1), a.std(0), a.var(), a.prod(1) * 0,
                          a.softmax(1), a.log_softmax(0), a.logsumexp(1), a.cumsum(1),
                          lib.linalg.vector_norm(a), a.amax(1), a.max(0)), x)


def test_sum_and_mean_dtype_argument():
    check(lambda lib, a: (a.sum(dtype=lib.float32), a.sum(1, dtype=lib.int8),
                          a.sum(0, dtype=lib.int32)), ints(3, 4).astype(np.float32) * 40,
          grad=False)
    check(lambda lib, a: (a.sum(dtype=lib.float32), a.mean(dtype=lib.float64),
                          a.mean(0, dtype=lib.float32),
                          a.prod(dtype=lib.float64), a.cumsum(1, dtype=lib.float64),
                          a.nanmean(dtype=lib.float64)), ints(3, 4).astype(np.float32) * 7,
          rtol=1e-6)
    check(lambda lib, a: (a.sum(dtype=lib.float64), a.mean(dtype=lib.float64),
                          a.nansum(0, dtype=lib.float64)), randn(3, 4, dtype=np.float32))
    check(lambda lib, a: (a.sum(dtype=lib.float32), a.mean(dtype=lib.float32),
                          a.cumprod(0, dtype=lib.float64)), ints(3, 4), grad=False)


def test_sum_non_contiguous_and_broadcast_views():
    x = randn(4, 3)
    check(lambda lib, a: (a.t().sum(0), a.transpose(0, 1).mean(-1), a.t().prod(1),
                          a.t().cumsum(0), a.t().softmax(0), a.t().std(1), a.t().amax(0)), x)
    check(lambda lib, a: a.expand(2, 4, 3).sum((0, 2)), x)


def test_zero_dim_and_empty_inputs():
    s = np.array(2.5)
    check(lambda lib, a: (a.sum(), a.sum(0), a.sum(-1, keepdim=True), a.mean(0), a.prod(0),
                          a.max(), a.max(0), a.amax(0), a.argmax(), a.argmax(0), a.cumsum(0),
                          a.cumprod(-1), a.softmax(0), a.log_softmax(0), a.logsumexp(0),
                          a.std(correction=0), lib.aminmax(a, dim=0), a.all(), a.any(0),
                          a.count_nonzero(), a.norm(), lib.linalg.vector_norm(a, 3, 0)), s)
    e = np.zeros((0, 3))
    check(lambda lib, a: (a.sum(), a.sum(0), a.sum(1), a.mean(1), a.prod(), a.prod(0),
                          a.max(1), a.amax(1), a.argmax(1), a.cumsum(0), a.softmax(1),
                          a.logsumexp(0), a.logsumexp(1), a.all(), a.any(), a.all(0),
                          a.count_nonzero(0), a.norm(), lib.linalg.vector_norm(a, INF, 1),
                          lib.linalg.vector_norm(a, 0), lib.aminmax(a, dim=1), a.nansum(0)), e)
    with np.errstate(all="ignore"):
        check(lambda lib, a: (a.mean(), a.mean(0), a.nanmean(0)), e)
    with pytest.warns(UserWarning, match="degrees of freedom"):
        check(lambda lib, a: a.var(0), e)
    with pytest.warns(UserWarning, match="degrees of freedom"):
        check(lambda lib, a: lib.std_mean(a), e, grad=False)


def test_nansum_nanmean_skip_nans():
    x = randn(3, 4)
    x[0, 1] = x[2, 2] = x[2, 0] = NAN
    x[1] = NAN
    check(lambda lib, a: (a.nansum(), a.nansum(1), a.nanmean(), a.nanmean(0, keepdim=True),
                          lib.nansum(a, (0, 1))), x)
    check(lambda lib, a: (a.nansum(), a.nansum(1)), x.astype(ml_dtypes.bfloat16))


def test_mean_and_nanmean_of_integers_error():
    check_error(lambda lib, a: a.mean(), ints(3), match="Got: Long")
    check_error(lambda lib, a: a.mean(), np.array([True]), match="Got: Bool")
    check_error(lambda lib, a: a.mean(dtype=lib.int64), randn(3), match="Optional dtype")
    check_error(lambda lib, a: a.nanmean(), ints(3), match="but got Long")
    check_error(lambda lib, a: lib.nanmean(a, dtype=lib.float32), ints(3), match="Long")


def test_dim_errors():
    x = randn(2, 3)
    check_error(lambda lib, a: a.sum(2), x, match=r"range of \[-2, 1\], but got 2")
    check_error(lambda lib, a: a.sum((0, 0)), x, match="dim 0 appears multiple times")
    check_error(lambda lib, a: a.mean((1, -1)), x, match="dim 1 appears multiple times")
    check_error(lambda lib, a: a.amax((0, -2)), x, match="appears multiple times")
    check_error(lambda lib, a: a.std((0, 0)), x, match="appears multiple times")
    check_error(lambda lib, a: a.all((0, 0)), x, match="appears multiple times")
    check_error(lambda lib, a: a.count_nonzero((1, 1)), x, match="appears multiple times")
    check_error(lambda lib, a: a.sum(1), np.array(1.0), match="but got 1")
    check_error(lambda lib, a: a.cumsum(-3), x, match="but got -3")
    check_error(lambda lib, a: a.softmax(2), x, match="but got 2")
    check_error(lambda lib, a: a.argmax(5), x, match="but got 5")
    check_error(lambda lib, a: a.max(2), x, match="but got 2")
    check_error(lambda lib, a: a.prod((0, 1)), x)
    check_error(lambda lib, a: a.prod(keepdim=True), x)
    check_error(lambda lib, a: a.cumsum((0,)), x, match="must be int")
    check_error(lambda lib, a: a.softmax((0,)), x, match="must be int")
    check_error(lambda lib, a: a.argmax((0,)), x, match="must be int")
    check_error(lambda lib, a: lib.aminmax(a, dim=(0,)), x, match="must be int")


@settings(max_examples=25, deadline=None)
@given(shape=st.lists(st.integers(1, 4), min_size=1, max_size=4), data=st.data())
def test_reductions_over_random_dims(shape, data):
    ndim = len(shape)
    dims = data.draw(st.lists(st.integers(-ndim, ndim - 1), max_size=ndim,
                              unique_by=lambda d: d % ndim))
    dim = data.draw(st.sampled_from([tuple(dims), dims[0] if dims else None]))
    keepdim = data.draw(st.booleans())
    x = randn(*shape, seed=len(dims))
    # torch's logsumexp rejects dim=() and its std/var backward take () as "no dims"
    every = dim if dim not in (None, ()) else tuple(range(ndim))

    def fn(lib, a):
        return (a.sum(dim, keepdim), a.mean(dim, keepdim), a.amax(every, keepdim),
                a.std(every, keepdim=keepdim, correction=0), lib.var(a, every, keepdim=keepdim),
                a.logsumexp(every, keepdim), lib.linalg.vector_norm(a, 2.5, dim, keepdim),
                a.nansum(dim, keepdim), a.count_nonzero(dim), a.all(every, keepdim),
                a.any(every, keepdim))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # var over one element
        check(fn, x, rtol=1e-9, atol=1e-12)


# ----------------------------------------------------------------- prod and cumprod
def test_prod_gradient_with_zeros():
    x = randn(3, 4)
    check(lambda lib, a: (a.prod(), a.prod(1), a.prod(0, keepdim=True)), x)
    x[0, 1] = 0.0
    x[2, 0] = x[2, 3] = 0.0
    check(lambda lib, a: (a.prod(), a.prod(1), a.prod(-2, keepdim=True)), x)
    check(lambda lib, a: a.prod(), np.array([2.0, 0.0, 3.0]))
    check(lambda lib, a: a.prod(), np.array([0.0, 0.0, 3.0]))
    check(lambda lib, a: a.prod(0), np.array(0.0))


def test_cumprod_gradient_with_zeros():
    check(lambda lib, a: a.cumprod(0), randn(6))
    check(lambda lib, a: a.cumprod(0), np.array([2.0, 0.0, 3.0, 0.0, 5.0]))
    x = randn(3, 5)
    x[0, 0] = x[1, 2] = x[1, 4] = 0.0
    check(lambda lib, a: (a.cumprod(1), a.cumprod(-2)), x)


def test_prod_cumprod_second_order():
    second_order(lambda lib, a: a.prod(1), randn(3, 4))
    second_order(lambda lib, a: a.cumprod(1), randn(3, 4))
    x = randn(3, 4)
    x[0, 1] = x[2, 3] = 0.0
    second_order(lambda lib, a: a.prod(1), x)
    second_order(lambda lib, a: a.prod(), x)
    second_order(lambda lib, a: a.cumprod(1), x)
    x[0, 3] = x[1, 1] = x[1, 2] = x[1, 3] = 0.0  # two and three zeros in a slice
    second_order(lambda lib, a: a.prod(1), x)
    second_order(lambda lib, a: a.prod(0), x)
    second_order(lambda lib, a: a.cumprod(1), x)


def test_cumsum():
    x = randn(3, 4, 2)
    check(lambda lib, a: (a.cumsum(0), a.cumsum(-1), lib.cumsum(a, dim=1)), x)
    second_order(lambda lib, a: (a.cumsum(1) ** 2).cumsum(0), x)


# ----------------------------------------------------------------- max / min / amax / argmax
def test_max_min_values_indices_and_ties():
    x = np.array([[3.0, 1.0, 3.0, -2.0], [0.5, 0.5, -1.0, -1.0], [2.0, 7.0, 7.0, 7.0]])
    check(lambda lib, a: (a.max(), a.min(), tuple(a.max(1)), tuple(a.min(0, keepdim=True)),
                          tuple(lib.max(a, -1, True)), tuple(lib.min(a, dim=1)),
                          a.amax(1), a.amin(0), a.amax((0, 1)), a.argmax(), a.argmin(1),
                          a.argmax(0, keepdim=True), a.argmin(None, True),
                          tuple(lib.aminmax(a)), tuple(lib.aminmax(a, dim=1, keepdim=True))), x)


def test_max_with_nan():
    x = np.array([[1.0, NAN, 3.0, NAN], [3.0, 3.0, 1.0, 0.0]])
    check(lambda lib, a: a.max(), x)
    check(lambda lib, a: tuple(a.max(1)), x)
    check(lambda lib, a: tuple(a.min(1)), x)
    check(lambda lib, a: a.amax(1), x)
    check(lambda lib, a: (a.argmax(), a.argmax(1), a.argmin(1)), x, grad=False)


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.uint8, np.bool_])
def test_max_min_integer_and_bool(dtype):
    x = ints(3, 4, lo=0, hi=3, dtype=dtype)
    check(lambda lib, a: (a.max(), a.min(), tuple(a.max(1)), tuple(a.min(0)), a.amax(0),
                          a.amin(), tuple(lib.aminmax(a)), tuple(lib.aminmax(a, dim=0))), x)


def test_max_namedtuple():
    x = np.array([[1.0, 3.0, 3.0], [2.0, 0.0, 2.0]], dtype=np.float32)
    r, t = ember.tensor(x).max(1), torch.tensor(x).max(1)
    assert repr(r) == repr(t) and str(r) == str(t)
    assert type(r).__name__ == "max" and isinstance(r, tuple)
    assert r.values is r[0] and r.indices is r[1]
    values, indices = r
    assert_same(values, t.values)
    assert_same(indices, t.indices)
    assert repr(ember.aminmax(ember.tensor(x))) == repr(torch.aminmax(torch.tensor(x)))
    assert_same(ember.min(ember.tensor(x), 0).indices, torch.min(torch.tensor(x), 0)[1])
    back = pickle.loads(pickle.dumps(r))
    assert type(back) is type(r) and back.indices.tolist() == [1, 0]


def test_max_min_elementwise_forms():
    a, b = randn(3, 4), randn(4, seed=1)
    check(lambda lib, x, y: (lib.max(x, y), lib.min(x, y), x.max(y), x.min(y),
                             lib.max(x, other=y)), a, b)


def test_max_family_errors_on_empty():
    e = np.zeros((0, 3))
    check_error(lambda lib, a: a.max(), e, match=r"max\(\): Expected reduction dim to be "
                "specified for input.numel\\(\\) == 0")
    check_error(lambda lib, a: a.min(), e, match="Specify the reduction dim")
    check_error(lambda lib, a: a.max(0), e, match="reduction dim 0 to have non-zero size")
    check_error(lambda lib, a: a.min(-2), e, match="reduction dim 0 to have non-zero size")
    check_error(lambda lib, a: a.amax(), e, match=r"amax\(\): Expected reduction dim to be")
    check_error(lambda lib, a: a.amin(-2), e, match="reduction dim -2 to have non-zero size")
    check_error(lambda lib, a: a.amax((1, 0)), e, match="dim 0 to have non-zero size")
    check_error(lambda lib, a: a.argmax(), e, match="input.numel")
    check_error(lambda lib, a: a.argmin(0), e, match="dim 0 to have non-zero size")
    check_error(lambda lib, a: lib.aminmax(a), e, match="no identity")
    check_error(lambda lib, a: lib.aminmax(a, dim=0), e, match="aminmax: Expected reduction")
    check_error(lambda lib, a: a.argmax(), np.array([True]), match="does not support bool")
    check_error(lambda lib, a: a.argmin(0), np.array([True]), match="does not support bool")


def test_argmax_argmin_dtypes():
    for x in (ints(3, 4), ints(3, 4, dtype=np.uint8, lo=0), randn(3, 4).astype(np.float16),
              randn(3, 4).astype(ml_dtypes.bfloat16)):
        check(lambda lib, a: (a.argmax(), a.argmin(), a.argmax(1), a.argmin(0, True),
                              lib.argmax(a, dim=-1, keepdim=True)), x, grad=False)


def test_amax_second_order_and_max_dim_grad_of_grad():
    second_order(lambda lib, a: a.amax(1) ** 2, randn(3, 4))
    second_order(lambda lib, a: a.max(0)[0] * a.min(1, keepdim=True)[0], randn(3, 4))
    second_order(lambda lib, a: a.max() * a, randn(3))


# ----------------------------------------------------------------- std / var
@pytest.mark.parametrize("kwargs", [{}, {"correction": 0}, {"correction": 2},
                                    {"correction": 0.5}, {"unbiased": False},
                                    {"unbiased": True}, {"keepdim": True}])
def test_std_var_forms(kwargs):
    x = randn(4, 5)
    check(lambda lib, a: (a.std(**kwargs), a.var(**kwargs), a.std(1, **kwargs),
                          lib.var(a, (0, 1), **kwargs), lib.std(a, dim=-2, **kwargs),
                          lib.std_mean(a, 1, **kwargs), lib.var_mean(a, **kwargs),
                          lib.var_mean(a, [0], **kwargs)), x)


def test_std_var_legacy_positional_unbiased():
    x = randn(4, 5)
    check(lambda lib, a: (a.std(False), lib.var(a, False), a.std(1, False), a.var(0, True, True),
                          lib.std_mean(a, 1, False), lib.var_mean(a, 0, True, True)), x)


def test_std_zero_and_degenerate_gradients():
    check(lambda lib, a: (a.std(), a.std(1)), np.array([[1.0, 1.0, 1.0], [1.0, 2.0, 4.0]]))
    with pytest.warns(UserWarning, match="degrees of freedom"):
        check(lambda lib, a: a.var(), np.array([1.0]), grad=False)
    with pytest.warns(UserWarning), np.errstate(all="ignore"):
        check(lambda lib, a: a.std(correction=3), randn(3), grad=False)


def test_std_var_errors():
    check_error(lambda lib, a: a.std(), ints(3), match="std and var only support floating")
    check_error(lambda lib, a: a.var(0), np.array([True]), match="only support floating")
    check_error(lambda lib, a: lib.var_mean(a), ints(3), match="var_mean only support")
    check_error(lambda lib, a: lib.std_mean(a), ints(3), match="std_mean only support")
    check_error(lambda lib, a: a.std(1, unbiased=True, correction=1), randn(2, 2))


def test_std_var_second_order():
    second_order(lambda lib, a: a.std(1), randn(3, 4))
    second_order(lambda lib, a: a.var(0, correction=0), randn(3, 4))
    second_order(lambda lib, a: lib.std_mean(a, 1)[0] * lib.std_mean(a, 1)[1], randn(3, 4))
    second_order(lambda lib, a: lib.var_mean(a)[0] + lib.var_mean(a)[1] ** 2, randn(3, 4))


# ----------------------------------------------------------------- logsumexp / softmax
def test_logsumexp():
    x = randn(3, 4) * 30
    check(lambda lib, a: (a.logsumexp(1), a.logsumexp(0, True), lib.logsumexp(a, (0, 1)),
                          lib.logsumexp(a, dim=[-1], keepdim=True)), x)
    check(lambda lib, a: a.logsumexp(1), ints(2, 3), grad=False)
    y = np.array([[-INF, -INF], [1.0, -INF], [INF, 1.0], [1000.0, 1000.0]])
    check(lambda lib, a: a.logsumexp(1), y)
    second_order(lambda lib, a: a.logsumexp(1), randn(3, 4))


def test_softmax_log_softmax():
    x = randn(3, 4, 5) * 10
    check(lambda lib, a: (a.softmax(0), a.softmax(-1), lib.softmax(a, 1),
                          a.log_softmax(2), lib.log_softmax(a, dim=-3)), x)
    check(lambda lib, a: (a.softmax(1, dtype=lib.float64), lib.log_softmax(a, 0, lib.float32)),
          randn(3, 4, dtype=np.float32))
    check(lambda lib, a: (a.softmax(1, dtype=lib.float32), a.log_softmax(0, dtype=lib.float64)),
          ints(3, 4), grad=False)
    y = np.array([[-INF, -INF, -INF], [-INF, 0.0, 1.0], [1000.0, -1000.0, 0.0]])
    check(lambda lib, a: (a.softmax(1), a.log_softmax(1)), y)
    second_order(lambda lib, a: a.softmax(1), randn(3, 4))
    second_order(lambda lib, a: a.log_softmax(0), randn(3, 4))


def test_softmax_errors():
    check_error(lambda lib, a: a.softmax(0), ints(3), match="softmax_kernel_impl")
    check_error(lambda lib, a: a.log_softmax(0), ints(3), match="log_softmax_kernel_impl")
    check_error(lambda lib, a: lib.softmax(a), randn(3))


# ----------------------------------------------------------------- all / any / count_nonzero
@pytest.mark.parametrize("dtype", [np.bool_, np.uint8, np.int64, np.float32,
                                   ml_dtypes.bfloat16])
def test_all_any_count_nonzero(dtype):
    x = ints(3, 4, lo=0, hi=2).astype(dtype)
    x[1] = 1
    check(lambda lib, a: (a.all(), a.any(), a.all(1), a.any(0, keepdim=True), a.all((0, 1)),
                          a.any(()), a.all([]), lib.all(a, dim=-1), lib.any(a, 1, True),
                          a.count_nonzero(), a.count_nonzero(1), lib.count_nonzero(a, (0, 1)),
                          lib.count_nonzero(a, dim=())), x, grad=False)


def test_all_any_nan_counts_as_true():
    check(lambda lib, a: (a.all(), a.any(), a.count_nonzero()), np.array([NAN, 1.0]),
          grad=False)


# ----------------------------------------------------------------- norms
@pytest.mark.parametrize("ord", [2, 1, 0, INF, -INF, 3, 1.5, 0.5, -1, -2.5, True])
def test_vector_norm_orders(ord):
    x = randn(3, 4)
    x[1, 2] = 0.0
    x[2, 1] = -x[2, 3]
    check(lambda lib, a: (lib.linalg.vector_norm(a, ord), lib.linalg.vector_norm(a, ord, 1),
                          lib.linalg.vector_norm(a, ord, (0, 1), True),
                          lib.linalg.vector_norm(a, ord=ord, dim=-2)), x)


@pytest.mark.parametrize("ord", [2, 1, INF, 3, 1.5, 0.5, -1])
def test_vector_norm_at_zero(ord):
    check(lambda lib, a: lib.linalg.vector_norm(a, ord, 1), np.array([[0.0, 0.0], [0.0, 1.0]]))


def test_vector_norm_dtype_argument_and_errors():
    x = randn(3, 4, dtype=np.float32)
    check(lambda lib, a: lib.linalg.vector_norm(a, dtype=lib.float64), x)
    check(lambda lib, a: lib.linalg.vector_norm(a, 3, dtype=lib.float32),
          x.astype(ml_dtypes.bfloat16))
    check_error(lambda lib, a: lib.linalg.vector_norm(a, dtype=lib.float16), x,
                match=r"the dtype of the input \(Float\) should be convertible without "
                      r"narrowing to the specified dtype \(Half\)")
    check_error(lambda lib, a: lib.linalg.vector_norm(a, dtype=lib.bfloat16),
                x.astype(np.float16), match="narrowing")
    check_error(lambda lib, a: lib.linalg.vector_norm(a), ints(3), match="Got Long")
    check_error(lambda lib, a: lib.linalg.vector_norm(a, dtype=lib.float32), ints(3),
                match="Got Long")
    check_error(lambda lib, a: lib.linalg.vector_norm(a, dtype=lib.int64), x,
                match="dtype should be floating point")
    check_error(lambda lib, a: lib.linalg.vector_norm(a, "fro"), x, match="must be Number")
    e = np.zeros((0, 2))
    check_error(lambda lib, a: lib.linalg.vector_norm(a, INF), e,
                match="cannot compute the inf norm on an empty tensor")
    check_error(lambda lib, a: lib.linalg.vector_norm(a, -1.0), e,
                match="cannot compute the -1 norm")
    check_error(lambda lib, a: lib.linalg.vector_norm(a, -INF, 0), e,
                match="-inf norm on the dimension 0")


def test_vector_norm_second_order():
    for ord in (2, 1.5, 3, -1, 0.5):
        second_order(lambda lib, a, o=ord: lib.linalg.vector_norm(a, o, 1), randn(3, 4))


def test_torch_norm_forms():
    x = randn(3, 4)
    check(lambda lib, a: (a.norm(), lib.norm(a), a.norm(1), a.norm(p=3, dim=1),
                          a.norm("fro", (0, 1)), a.norm("fro", 1, True), a.norm(INF),
                          a.norm(2, -1, keepdim=True), lib.norm(a, p=None),
                          a.norm(dtype=lib.float64)), x)
    check(lambda lib, a: (a.norm("fro", [0, 2]), lib.norm(a, 1, (1, 2))), randn(2, 3, 4))
    check_error(lambda lib, a: a.norm(), ints(3), match="Got Long")
    check_error(lambda lib, a: a.norm("abc"), x, match="Order abc not supported")
    check_error(lambda lib, a: a.norm("fro", (0, 1, 2)), randn(2, 2, 2),
                match="dim must be a 2-tuple. Got 0 1 2")


@pytest.mark.parametrize("ord", ["fro", 1, -1, INF, -INF])
def test_matrix_norm_elementwise_orders(ord):
    x = randn(2, 3, 4)
    check(lambda lib, a: (lib.linalg.matrix_norm(a, ord), lib.linalg.matrix_norm(a, ord, (0, 2)),
                          lib.linalg.matrix_norm(a, ord, (2, 0), keepdim=True),
                          lib.linalg.matrix_norm(a, ord=ord, dim=(-1, -3)),
                          lib.linalg.norm(a, ord, (1, 2)), lib.linalg.norm(a[0], ord)), x)


@pytest.mark.parametrize("ord, shape", [
    (o, s) for o in ("fro", "nuc", 1, -1, 2, INF, -INF) for s in ((0, 3), (3, 0), (2, 0, 3))
    # a minimum over an empty dim is the error case below
    if not (o == -INF and s[-2] == 0) and not (o == -1 and s[-1] == 0)])
def test_matrix_norm_of_empty_matrices(ord, shape):
    check(lambda lib, a: lib.linalg.matrix_norm(a, ord), np.zeros(shape))


@pytest.mark.parametrize("ord", [-1, -2, -INF])
def test_matrix_norm_minimum_over_empty_dim_errors(ord):
    check_error(lambda lib, a: lib.linalg.matrix_norm(a, ord),
                np.zeros((0, 3) if ord != -1 else (3, 0)), match="to have non-zero size")


@pytest.mark.parametrize("ord", ["nuc", 2, -2])
def test_matrix_norm_singular_value_orders(ord):
    x = randn(2, 3, 4)
    check(lambda lib, a: (lib.linalg.matrix_norm(a, ord),
                          lib.linalg.matrix_norm(a, ord, (0, 2), keepdim=True),
                          lib.linalg.norm(a[1], ord)), x, rtol=1e-8, atol=1e-10)
    check(lambda lib, a: lib.linalg.matrix_norm(a, ord, dtype=lib.float64),
          x.astype(np.float32), rtol=1e-5, atol=1e-6)


def test_matrix_norm_errors():
    x = randn(2, 3)
    check_error(lambda lib, a: lib.linalg.matrix_norm(a, 3), x, match="Order 3 not supported")
    check_error(lambda lib, a: lib.linalg.matrix_norm(a, "abc"), x, match="Order abc")
    check_error(lambda lib, a: lib.linalg.matrix_norm(a), randn(3), match="at least 2 dim")
    check_error(lambda lib, a: lib.linalg.matrix_norm(a), ints(2, 2), match="Got Long")
    check_error(lambda lib, a: lib.linalg.matrix_norm(a, dim=(0, -2)), x,
                match=r"dims must be different. Got \(0, 0\)")
    check_error(lambda lib, a: lib.linalg.matrix_norm(a, dim=(0, 2)), x, match="out of range")
    check_error(lambda lib, a: lib.linalg.matrix_norm(a, dtype=lib.float16),
                x.astype(np.float32), match="narrowing")


def test_linalg_norm_dispatch():
    x = randn(2, 3, 4)
    check(lambda lib, a: (lib.linalg.norm(a), lib.linalg.norm(a, dim=1),
                          lib.linalg.norm(a, 3, -1, True), lib.linalg.norm(a, dim=(0, 2)),
                          lib.linalg.norm(a[0], 1), lib.linalg.norm(a[0, 0], 1),
                          lib.linalg.norm(a, INF, (0,)), lib.linalg.norm(a, dtype=lib.float64)),
          x)
    check_error(lambda lib, a: lib.linalg.norm(a, 2), x, match="must be 1D or 2D. Got 3D")
    check_error(lambda lib, a: lib.linalg.norm(a, None, (0, 1, 2)), x,
                match=r"must be of length 1 or 2. Got \[0, 1, 2\]")
    check_error(lambda lib, a: lib.linalg.norm(a, "fro", 1), x, match="dim must be a 2-tuple")
    check_error(lambda lib, a: lib.linalg.norm(a[0, 0], "fro"), x, match="at least 2")


# ----------------------------------------------------------------- engine helper and views
def test_sum_to_size():
    x = randn(2, 3, 4)
    check(lambda lib, a: (a.sum_to_size(3, 1), a.sum_to_size((1, 3, 4)), a.sum_to_size(2, 3, 4),
                          a.sum_to_size(4), a.sum_to_size(1)), x)
    check_error(lambda lib, a: a.sum_to_size(3), x, match="is not expandable to size")


def test_saved_input_modified_in_place_is_detected():
    for fn in (lambda t: t.prod(), lambda t: t.std(), lambda t: t.amax(0),
               lambda t: t.cumprod(0), lambda t: t.logsumexp(0), lambda t: t.norm(3)):
        x = ember.tensor([1.0, 2.0, 3.0], requires_grad=True)
        y = x * 1
        out = fn(y).sum()
        y.add_(1)
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            out.backward()
