"""Loss functions against torch: values, dtypes, input grads, reductions, errors, extremes."""
import math
import warnings

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from oracle import assert_same, check, check_error, randn, to_ember, to_torch

import ember

REDUCTIONS = ["none", "mean", "sum"]


def F(lib):
    return lib.nn.functional


def ints(*shape, lo=0, hi=5, dtype=np.int64, seed=0):
    return np.random.default_rng(seed).integers(lo, hi, shape).astype(dtype)


def rand(*shape, dtype=np.float64, seed=0, lo=0.0, hi=1.0):
    return (np.random.default_rng(seed).uniform(lo, hi, shape)).astype(dtype)


def signs(*shape, seed=0):
    return np.where(np.random.default_rng(seed).random(shape) < 0.5, -1.0, 1.0)


def second_order(fn, *arrays, seed: int = 1, **tol):
    """Compare a Hessian-vector product of fn's first input between the libraries."""
    results = []
    for lib, conv in ((torch, to_torch), (ember, to_ember)):
        rng = np.random.default_rng(seed)
        xs = [conv(a, i == 0) for i, a in enumerate(arrays)]
        y = fn(lib, *xs)
        w = conv(rng.standard_normal(tuple(y.shape)))
        (g,) = lib.autograd.grad((y * w).sum(), xs[0], create_graph=True)
        v = conv(rng.standard_normal(arrays[0].shape))
        (h,) = lib.autograd.grad((g * v).sum(), xs[0])
        results.append((g, h))
    (tg, th), (eg, eh) = results
    assert_same(eg, tg, what="gradient", **tol)
    assert_same(eh, th, what="second derivative", **tol)


# ----------------------------------------------------------------- regression losses
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name", ["l1_loss", "mse_loss", "smooth_l1_loss", "huber_loss"])
def test_regression_losses(name, reduction):
    check(lambda lib, x, y: getattr(F(lib), name)(x, y, reduction=reduction),
          randn(4, 5), randn(4, 5, seed=1))


def test_regression_transposed_and_broadcast():
    x = randn(5, 4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check(lambda lib, a, b: F(lib).mse_loss(a.t(), b), x, randn(4, 5, seed=1))
        check(lambda lib, a, b: F(lib).l1_loss(a.t(), b), x, randn(5, seed=1))
        check(lambda lib, a, b: F(lib).smooth_l1_loss(a, b, beta=0.5), x, randn(4, seed=2))


def test_regression_broadcast_warns_like_torch():
    with pytest.warns(UserWarning, match="different to the input size"):
        F(ember).mse_loss(ember.zeros(2, 3), ember.zeros(3))


@pytest.mark.parametrize("beta", [0.0, 0.3, 2.0])
def test_smooth_l1_beta(beta):
    check(lambda lib, x, y: F(lib).smooth_l1_loss(x, y, beta=beta), randn(30), randn(30, seed=3))


@pytest.mark.parametrize("delta", [0.2, 1.0, 3.0])
def test_huber_delta(delta):
    check(lambda lib, x, y: F(lib).huber_loss(x, y, delta=delta, reduction="sum"),
          randn(30), randn(30, seed=3))


@pytest.mark.parametrize("name", ["l1_loss", "mse_loss", "huber_loss"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_weighted_regression(name, reduction):
    check(lambda lib, x, y, w: getattr(F(lib), name)(x, y, reduction=reduction, weight=w),
          randn(3, 4), randn(3, 4, seed=1), rand(3, 4, seed=2))


def test_regression_dtypes():
    x32 = randn(6, dtype=np.float32)
    check(lambda lib, x, y: F(lib).mse_loss(x, y), x32, randn(6, dtype=np.float64, seed=1))
    check(lambda lib, x, y: F(lib).mse_loss(x, y), x32, ints(6), grad=True)
    check(lambda lib, x, y: F(lib).smooth_l1_loss(x, y), randn(6, dtype=np.float16),
          randn(6, dtype=np.float16, seed=1))
    import ml_dtypes
    check(lambda lib, x, y: F(lib).huber_loss(x, y), randn(6, dtype=ml_dtypes.bfloat16),
          randn(6, dtype=ml_dtypes.bfloat16, seed=1))
    # float32 stays float32 (no float64 upcast)
    e = F(ember).mse_loss(to_ember(x32), to_ember(x32 * 2))
    assert e.dtype == ember.float32


def test_regression_empty_and_scalar():
    check(lambda lib, x, y: F(lib).l1_loss(x, y), randn(0), randn(0))
    check(lambda lib, x, y: F(lib).mse_loss(x, y), randn(0), randn(0))
    check(lambda lib, x, y: F(lib).mse_loss(x, y, reduction="sum"), randn(0), randn(0))
    check(lambda lib, x, y: F(lib).smooth_l1_loss(x, y), np.array(0.3),
          np.zeros(()))


def test_regression_errors():
    with pytest.warns(UserWarning, match="different to the input size"):
        check_error(lambda lib, x, y: F(lib).mse_loss(x, y), randn(2, 5), randn(2, 3),
                    match="must match the size")
    check_error(lambda lib, x, y: F(lib).mse_loss(x, y), ints(3), ints(3), match="mse")
    check_error(lambda lib, x, y: F(lib).huber_loss(x, y), ints(3), ints(3), match="huber")
    check_error(lambda lib, x, y: F(lib).mse_loss(x, y, reduction="foo"), randn(3), randn(3),
                match="foo is not a valid value for reduction")
    check_error(lambda lib, x, y: F(lib).huber_loss(x, y, delta=-1.0), randn(3), randn(3),
                match="non-positive values for delta")
    check_error(lambda lib, x, y: F(lib).smooth_l1_loss(x, y, beta=-1.0), randn(3), randn(3),
                match="negative values for beta")
    check_error(lambda lib, x, y, w: F(lib).mse_loss(x, y, weight=w), randn(3), randn(3),
                randn(4), match="Weights and input must have the same size")


def test_legacy_size_average_reduce():
    x, y = randn(3, 4), randn(3, 4, seed=1)
    for sa, red in [(False, None), (None, False), (True, True), (False, True)]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            check(lambda lib, a, b, sa=sa, red=red: F(lib).mse_loss(a, b, size_average=sa,
                                                                 reduce=red), x, y)
            check(lambda lib, a, c, sa=sa, red=red: F(lib).cross_entropy(a, c, size_average=sa,
                                                                      reduce=red), x,
                  ints(3, hi=4))
    with pytest.warns(UserWarning, match="reduction='sum' instead"):
        F(ember).l1_loss(ember.zeros(2), ember.zeros(2), size_average=False)


def test_regression_second_order():
    second_order(lambda lib, x, y: F(lib).mse_loss(x, y), randn(4, 3), randn(4, 3, seed=1))
    second_order(lambda lib, x, y: F(lib).smooth_l1_loss(x, y, beta=0.7, reduction="none"),
                 randn(4, 3), randn(4, 3, seed=1))


# ----------------------------------------------------------------- cross entropy and NLL
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_indices(reduction):
    check(lambda lib, x, t: F(lib).cross_entropy(x, t, reduction=reduction), randn(6, 5),
          ints(6))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", [(2, 3, 4), (2, 3, 4, 2), (2, 3, 2, 2, 2)])
def test_cross_entropy_spatial(shape, reduction):
    target = ints(shape[0], *shape[2:], hi=3)
    target.flat[0] = -100
    check(lambda lib, x, t, w: F(lib).cross_entropy(x, t, weight=w.detach(),
                                                    reduction=reduction),
          randn(*shape), target, rand(3, seed=4))


def test_cross_entropy_grads_are_torchs():
    # weight is not a float input to differentiate (torch forbids it), compare input grads only
    for reduction in REDUCTIONS:
        def fn(lib, x, t, reduction=reduction):
            w = lib.tensor([0.5, 2.0, 1.0, 0.1, 3.0], dtype=lib.float64)
            return F(lib).cross_entropy(x, t, weight=w, ignore_index=2, reduction=reduction)
        check(fn, randn(7, 5), ints(7))


def test_cross_entropy_1d_and_transposed():
    check(lambda lib, x, t: F(lib).cross_entropy(x, t), randn(5), np.array(3))
    # (torch's own backward refuses this target shape, so only values are compared)
    check(lambda lib, x, t: F(lib).cross_entropy(x, t), randn(5), np.array([3]), grad=False)
    check(lambda lib, x, t: F(lib).cross_entropy(x.t(), t), randn(5, 6), ints(6))
    check(lambda lib, x, t: F(lib).nll_loss(x, t, reduction="none"), randn(5), np.array(1))


def test_cross_entropy_uint8_targets_and_empty():
    check(lambda lib, x, t: F(lib).cross_entropy(x, t), randn(4, 5), ints(4, dtype=np.uint8))
    check(lambda lib, x, t: F(lib).cross_entropy(x, t), randn(0, 5), ints(0))
    check(lambda lib, x, t: F(lib).cross_entropy(x, t, reduction="sum"), randn(0, 5), ints(0))
    check(lambda lib, x, t: F(lib).cross_entropy(x, t, reduction="none"), randn(0, 5), ints(0))
    check(lambda lib, x, t: F(lib).cross_entropy(x, t), randn(3, 5), np.full(3, -100))


def test_cross_entropy_extreme_logits():
    x = np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 0.0], [1e4, 1e4, -1e4]], dtype=np.float32)
    t = np.array([1, 1, 0])
    for reduction in REDUCTIONS:
        check(lambda lib, a, b, r=reduction: F(lib).cross_entropy(a, b, reduction=r), x, t)
    check(lambda lib, a, b: F(lib).cross_entropy(a, b), x.astype(np.float64), t)


def test_cross_entropy_half_precision():
    import ml_dtypes
    check(lambda lib, x, t: F(lib).cross_entropy(x, t), randn(4, 5, dtype=np.float16), ints(4))
    check(lambda lib, x, t: F(lib).cross_entropy(x, t, reduction="none"),
          randn(4, 5, dtype=ml_dtypes.bfloat16), ints(4))
    e = F(ember).cross_entropy(to_ember(randn(4, 5, dtype=np.float32)), to_ember(ints(4)))
    assert e.dtype == ember.float32


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_probabilities(reduction):
    p = rand(4, 5, seed=2)
    p /= p.sum(1, keepdims=True)
    check(lambda lib, x, t: F(lib).cross_entropy(x, t, reduction=reduction), randn(4, 5), p)
    check(lambda lib, x, t, w: F(lib).cross_entropy(x, t, weight=w, reduction=reduction,
                                                    label_smoothing=0.2),
          randn(4, 5), p, rand(5, seed=1))
    check(lambda lib, x, t: F(lib).cross_entropy(x, t, reduction=reduction),
          randn(2, 5, 3), rand(2, 5, 3, seed=5))


def test_cross_entropy_probabilities_empty():
    check(lambda lib, x, t: F(lib).cross_entropy(x, t), randn(0, 5), randn(0, 5))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_label_smoothing(reduction):
    t = ints(6)
    t[1] = 3
    check(lambda lib, x, t: F(lib).cross_entropy(x, t, reduction=reduction,
                                                 label_smoothing=0.15, ignore_index=3),
          randn(6, 5), t)

    def weighted(lib, x, t):
        w = lib.tensor([0.5, 2.0, 1.0, 0.1, 3.0], dtype=lib.float64)
        return F(lib).cross_entropy(x, t, weight=w, reduction=reduction, label_smoothing=0.3)
    check(weighted, randn(6, 5), t)
    check(lambda lib, x, t: F(lib).cross_entropy(x, t, reduction=reduction,
                                                 label_smoothing=0.1),
          randn(2, 5, 3), ints(2, 3))


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 5), c=st.integers(1, 6), extra=st.lists(st.integers(1, 3), max_size=2),
       reduction=st.sampled_from(REDUCTIONS), weighted=st.booleans(),
       ignore=st.sampled_from([-100, 0, 1]), smoothing=st.sampled_from([0.0, 0.25]),
       seed=st.integers(0, 1000))
def test_cross_entropy_hypothesis(n, c, extra, reduction, weighted, ignore, smoothing, seed):
    x = randn(n, c, *extra, seed=seed)
    t = ints(n, *extra, hi=c, seed=seed + 1)
    w = rand(c, seed=seed + 2) + 0.1 if weighted else None

    def fn(lib, x, t):
        wt = None if w is None else lib.tensor(w)
        return F(lib).cross_entropy(x, t, weight=wt, ignore_index=ignore, reduction=reduction,
                                    label_smoothing=smoothing)
    check(fn, x, t)


def test_cross_entropy_grad_fn_and_double_backward():
    x = to_ember(randn(4, 5), True)
    assert F(ember).cross_entropy(x, to_ember(ints(4))).grad_fn.name() == "NllLossBackward0"
    t = ints(4)
    second_order(lambda lib, x, tt: F(lib).cross_entropy(x, tt), randn(4, 5), t)
    second_order(lambda lib, x, tt: F(lib).cross_entropy(x, tt, reduction="none"), randn(4, 5), t)
    w = rand(5, seed=3)
    second_order(lambda lib, x, tt: F(lib).cross_entropy(x, tt, weight=lib.tensor(w)),
                 randn(2, 5, 3), ints(2, 3))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_nll_loss(reduction):
    t = ints(6)
    t[0] = 4
    check(lambda lib, x, t: F(lib).nll_loss(x.log_softmax(1), t, reduction=reduction,
                                            ignore_index=4), randn(6, 5), t)

    def weighted(lib, x, t):
        w = lib.tensor([0.5, 2.0, 1.0, 0.1, 3.0], dtype=lib.float64)
        return F(lib).nll_loss(x, t, weight=w, reduction=reduction)
    check(weighted, randn(6, 5), t)
    check(weighted, randn(6, 5, 2, 2), ints(6, 2, 2))
    second_order(lambda lib, x, tt: F(lib).nll_loss(x.log_softmax(1), tt, reduction=reduction),
                 randn(6, 5), t)


def test_class_target_errors():
    x = randn(4, 5)
    check_error(lambda lib, a, t: F(lib).cross_entropy(a, t), x, np.array([0, 1, 2, 7]),
                match="Target 7 is out of bounds.")
    check_error(lambda lib, a, t: F(lib).nll_loss(a, t), x, np.array([0, 1, 2, -3]),
                match="Target -3 is out of bounds.")
    check_error(lambda lib, a, t: F(lib).cross_entropy(a, t), randn(2, 3, 4),
                np.array([[0, 1, 2, 7], [0, 0, 0, 0]]), match="out of bounds")
    check_error(lambda lib, a, t: F(lib).cross_entropy(a, t), x, ints(4, dtype=np.int32),
                match="expected target dtype to be Long or Byte, but got Int")
    check_error(lambda lib, a, t: F(lib).cross_entropy(a, t), x, ints(4, 5),
                match="Expected floating point type for target with class probabilities, got Long")
    check_error(lambda lib, a, t: F(lib).nll_loss(a, t), x, ints(4, 2),
                match="0D or 1D target tensor expected, multi-target not supported")
    check_error(lambda lib, a, t: F(lib).nll_loss(a, t), x, ints(3),
                match=r"Expected input batch_size \(4\) to match target batch_size \(3\)\.")
    check_error(lambda lib, a, t: F(lib).nll_loss(a, t), randn(2, 3, 4), ints(2, 5),
                match=r"Expected target size \[2, 4\], got \[2, 5\]")
    check_error(lambda lib, a, t: F(lib).nll_loss(a, t), randn(2, 3, 4, 4), ints(2, 5, 4),
                match=r"size mismatch \(got input: \[2, 3, 4, 4\] , target: \[2, 5, 4\]")
    check_error(lambda lib, a, t: F(lib).nll_loss(a, t), randn(2, 3, 4, 4), ints(2, 4),
                match="only batches of spatial targets supported")
    check_error(lambda lib, a, t: F(lib).nll_loss(a, t), np.zeros(()), np.array(0),
                match=r"Expected 1 or more dimensions \(got 0\)")
    check_error(lambda lib, a, t: F(lib).nll_loss(a, t), randn(5), ints(2),
                match="For 1D input, 1D target must have size 1")
    check_error(lambda lib, a, t, w: F(lib).nll_loss(a, t, weight=w), x, ints(4), randn(3),
                match="weight tensor should be defined either for all 5 classes")
    check_error(lambda lib, a, t, w: F(lib).cross_entropy(a, t, weight=w), x, rand(4, 5),
                randn(3), match="cross_entropy: weight tensor should be defined")
    check_error(lambda lib, a, t, w: F(lib).cross_entropy(a, t, weight=w), x, ints(4),
                randn(5, dtype=np.float32), match="expected scalar type Double but found Float")
    check_error(lambda lib, a, t: F(lib).cross_entropy(a, t, label_smoothing=1.5), x, ints(4),
                match="label_smoothing must be between 0.0 and 1.0. Got: 1.5")
    check_error(lambda lib, a, t: F(lib).cross_entropy(a, t, ignore_index=1), x, rand(4, 5),
                match="ignore_index is not supported for floating point target")
    check_error(lambda lib, a, t: F(lib).cross_entropy(a, t), ints(4, 5), ints(4),
                match="not implemented for 'Long'")
    check_error(lambda lib, a, t: F(lib).cross_entropy(a, t, reduction="avg"), x, ints(4),
                match="avg is not a valid value for reduction")


def test_weight_requiring_grad_is_refused():
    for lib in (torch, ember):
        w = lib.ones(5, requires_grad=True)
        x = lib.zeros(3, 5, requires_grad=True)
        with pytest.raises(RuntimeError, match="not differentiable with respect to argument "
                                               "'weight'"):
            F(lib).cross_entropy(x, lib.tensor([0, 1, 2]), weight=w)


# ----------------------------------------------------------------- binary cross entropy
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_binary_cross_entropy(reduction):
    check(lambda lib, x, t: F(lib).binary_cross_entropy(x, t, reduction=reduction),
          rand(4, 3, lo=0.05, hi=0.95), rand(4, 3, seed=1))
    check(lambda lib, x, t, w: F(lib).binary_cross_entropy(x, t, weight=w.detach(),
                                                           reduction=reduction),
          rand(4, 3, lo=0.05, hi=0.95), rand(4, 3, seed=1), rand(3, seed=2))


def test_binary_cross_entropy_clamps_logs():
    x = np.array([0.0, 1.0, 0.5, 1e-50, 1.0 - 1e-16])
    t = np.array([1.0, 0.0, 0.5, 1.0, 0.0])
    check(lambda lib, a, b: F(lib).binary_cross_entropy(a, b, reduction="none"), x, t)
    check(lambda lib, a, b: F(lib).binary_cross_entropy(a, b, reduction="sum"),
          np.array([0.0, 0.5, 1.0]), np.array([0.0, 0.3, 1.0]))
    check(lambda lib, a, b: F(lib).binary_cross_entropy(a, b), rand(5, dtype=np.float32),
          rand(5, dtype=np.float32, seed=1))
    second_order(lambda lib, a, b: F(lib).binary_cross_entropy(a, b), rand(4, lo=0.1, hi=0.9),
                 rand(4, seed=1))


def test_binary_cross_entropy_errors():
    check_error(lambda lib, a, b: F(lib).binary_cross_entropy(a, b), rand(4, 5), rand(4),
                match="that is different to the input size")
    check_error(lambda lib, a, b: F(lib).binary_cross_entropy(a, b), randn(4) + 3, rand(4),
                match="all elements of input should be between 0 and 1")
    check_error(lambda lib, a, b: F(lib).binary_cross_entropy(a, b), rand(4), ints(4, hi=2),
                match="Found dtype Long but expected Double")


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_bce_with_logits(reduction):
    check(lambda lib, x, t: F(lib).binary_cross_entropy_with_logits(x, t, reduction=reduction),
          randn(4, 3), rand(4, 3, seed=1))
    check(lambda lib, x, t, w, pw: F(lib).binary_cross_entropy_with_logits(
        x, t, weight=w.detach(), pos_weight=pw.detach(), reduction=reduction),
        randn(4, 3), rand(4, 3, seed=1), rand(4, 1, seed=2), rand(3, seed=3) * 3)


def test_bce_with_logits_extreme_and_dtypes():
    x = np.array([1e4, -1e4, 0.0, 50.0, -50.0], dtype=np.float32)
    t = np.array([0.0, 1.0, 0.5, 1.0, 0.0], dtype=np.float32)
    check(lambda lib, a, b: F(lib).binary_cross_entropy_with_logits(a, b, reduction="none"), x, t)
    check(lambda lib, a, b: F(lib).binary_cross_entropy_with_logits(
        a, b, reduction="sum", pos_weight=lib.tensor([2.0, 3, 4, 1, 1])), x, t)
    check(lambda lib, a, b: F(lib).binary_cross_entropy_with_logits(a, b),
          randn(6, dtype=np.float16), rand(6, dtype=np.float16))
    second_order(lambda lib, a, b: F(lib).binary_cross_entropy_with_logits(
        a, b, pos_weight=lib.tensor([2.0, 0.5, 1, 3])), randn(4), rand(4, seed=1))
    check_error(lambda lib, a, b: F(lib).binary_cross_entropy_with_logits(a, b), randn(4, 5),
                randn(4), match="must be the same as input size")


# ----------------------------------------------------------------- margins
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_margin_losses(reduction):
    x, y = randn(5, 4), signs(5, 4, seed=1)
    check(lambda lib, a, b: F(lib).soft_margin_loss(a, b.detach(), reduction=reduction), x, y)
    check(lambda lib, a, b: F(lib).hinge_embedding_loss(a, b, margin=0.5, reduction=reduction),
          x, y)
    check(lambda lib, a, b, t: F(lib).margin_ranking_loss(a, b, t, margin=0.2,
                                                          reduction=reduction),
          randn(6), randn(6, seed=2), signs(6, seed=3))
    check(lambda lib, a, b, t: F(lib).cosine_embedding_loss(a, b, t, margin=0.1,
                                                            reduction=reduction),
          randn(6, 3), randn(6, 3, seed=2), signs(6, seed=3))
    check(lambda lib, a, t, w: F(lib).multilabel_soft_margin_loss(a, t, weight=w,
                                                                  reduction=reduction),
          randn(4, 5), (rand(4, 5, seed=1) > 0.5).astype(np.float64), rand(5, seed=2))


def test_margin_losses_edge_cases():
    check(lambda lib, a, b, t: F(lib).cosine_embedding_loss(a, b, t), randn(3), randn(3, seed=1),
          np.array(-1.0))
    check(lambda lib, a, b: F(lib).soft_margin_loss(a, b, reduction="none"),
          np.array([1e4, -1e4, 0.0, 30.0], dtype=np.float32),
          np.array([-1.0, 1.0, 1.0, 1.0], dtype=np.float32), grad=False)
    check_error(lambda lib, a, b, t: F(lib).cosine_embedding_loss(a, b, t), randn(3, 2),
                randn(3, 2), signs(3, 1), match="0D or 1D target tensor expected")
    check_error(lambda lib, a, b, t: F(lib).cosine_embedding_loss(a, b, t), randn(3),
                randn(3), signs(3), match="1D target tensor expects 2D input tensors")
    check_error(lambda lib, a, b, t: F(lib).margin_ranking_loss(a, b, t), randn(3), randn(3),
                signs(3, 1), match="All input tensors should have same dimension")


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("p", [1, 2])
def test_multi_margin_loss(p, reduction):
    check(lambda lib, x, t: F(lib).multi_margin_loss(x, t, p=p, margin=0.7, reduction=reduction),
          randn(6, 4) * 0.5, ints(6, hi=4))
    check(lambda lib, x, t, w: F(lib).multi_margin_loss(x, t, p=p, weight=w.detach(),
                                                        reduction=reduction),
          randn(6, 4) * 0.5, ints(6, hi=4), rand(4, seed=3))
    check(lambda lib, x, t: F(lib).multi_margin_loss(x, t, p=p, reduction=reduction),
          randn(4) * 0.5, np.array(2))


@pytest.mark.parametrize("swap", [False, True])
@pytest.mark.parametrize("p", [1, 2, 3])
def test_triplet_margin_loss(p, swap):
    a, b, c = randn(5, 4), randn(5, 4, seed=1), randn(5, 4, seed=2)
    for reduction in REDUCTIONS:
        check(lambda lib, x, y, z, r=reduction: F(lib).triplet_margin_loss(
            x, y, z, margin=0.5, p=p, swap=swap, reduction=r), a, b, c)
    check(lambda lib, x, y, z: F(lib).triplet_margin_loss(x, y, z, p=p, swap=swap), a[0], b[0],
          c[0])


def test_triplet_margin_with_distance_loss():
    a, b, c = randn(5, 4), randn(5, 4, seed=1), randn(5, 4, seed=2)
    check(lambda lib, x, y, z: F(lib).triplet_margin_with_distance_loss(x, y, z, swap=True), a,
          b, c)
    check(lambda lib, x, y, z: F(lib).triplet_margin_with_distance_loss(
        x, y, z, distance_function=lambda u, v: (u - v).abs().sum(-1), margin=2.0,
        reduction="none"), a, b, c)
    check_error(lambda lib, x, y, z: F(lib).triplet_margin_loss(x, y, z), a, b, c[0],
                match="same number of dimensions")
    check_error(lambda lib, x, y, z: F(lib).triplet_margin_with_distance_loss(x, y, z, margin=0),
                a, b, c, match="margin must be greater than 0")


# ----------------------------------------------------------------- distributions
@pytest.mark.parametrize("reduction", ["none", "sum", "batchmean", "mean"])
@pytest.mark.parametrize("log_target", [False, True])
def test_kl_div(reduction, log_target):
    p = rand(4, 5, seed=1)
    p[0, 0] = 0.0
    target = np.log(p + 0.1) if log_target else p
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check(lambda lib, x, t: F(lib).kl_div(x, t, reduction=reduction, log_target=log_target),
              np.log(rand(4, 5) + 0.1), target)


def test_kl_div_warns_and_errors():
    with pytest.warns(UserWarning, match="'batchmean' divides only by the batch size"):
        F(ember).kl_div(ember.zeros(2), ember.ones(2))
    check_error(lambda lib, x, t: F(lib).kl_div(x, t, reduction="sum"), ints(3), ints(3),
                match="Integral inputs not supported")


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("log_input", [True, False])
@pytest.mark.parametrize("full", [False, True])
def test_poisson_nll_loss(reduction, log_input, full):
    x = randn(4, 3) if log_input else rand(4, 3, lo=0.1, hi=3)
    check(lambda lib, a, t: F(lib).poisson_nll_loss(a, t, log_input=log_input, full=full,
                                                    reduction=reduction),
          x, rand(4, 3, seed=1, hi=4))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_gaussian_nll_loss(reduction):
    x, t = randn(4, 3), randn(4, 3, seed=1)
    check(lambda lib, a, b, v: F(lib).gaussian_nll_loss(a, b, v, reduction=reduction), x, t,
          rand(4, 3, seed=2, hi=2))
    check(lambda lib, a, b, v: F(lib).gaussian_nll_loss(a, b, v, full=True, reduction=reduction),
          x, t, rand(4, seed=2, hi=2))
    check(lambda lib, a, b, v: F(lib).gaussian_nll_loss(a, b, v, eps=0.3, reduction=reduction),
          x, t, rand(4, 1, seed=2, hi=2))
    check(lambda lib, a, b: F(lib).gaussian_nll_loss(a, b, 0.5, reduction=reduction), x, t)
    check_error(lambda lib, a, b, v: F(lib).gaussian_nll_loss(a, b, v), x, t, rand(3),
                match="var is of incorrect size")
    check_error(lambda lib, a, b, v: F(lib).gaussian_nll_loss(a, b, v), x, t, -rand(4, 3),
                match="var has negative entry")


# ----------------------------------------------------------------- CTC
def _ctc_case(seed=0, t=12, n=3, c=5, s=4):
    rng = np.random.default_rng(seed)
    lp = torch.randn(t, n, c, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))
    lp = lp.log_softmax(2).numpy()
    tl = rng.integers(1, s + 1, n)
    il = rng.integers(max(2 * s + 1, 1), t + 1, n)
    targets = rng.integers(1, c, (n, s))
    return lp, targets, il, tl


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_ctc_loss(reduction):
    lp, targets, il, tl = _ctc_case()
    targets[0, 1] = targets[0, 0]  # a repeated label needs a blank between
    check(lambda lib, x, tg: F(lib).ctc_loss(x, tg, lib.tensor(il), lib.tensor(tl),
                                             reduction=reduction), lp, targets)
    check(lambda lib, x, tg: F(lib).ctc_loss(x, tg, list(il), list(tl), blank=2,
                                             reduction=reduction), lp, targets % 2)


def test_ctc_loss_concatenated_targets_float32_and_unbatched():
    lp, targets, il, tl = _ctc_case(seed=1)
    flat = np.concatenate([targets[i, :tl[i]] for i in range(len(tl))])
    check(lambda lib, x, tg: F(lib).ctc_loss(x, tg, lib.tensor(il), lib.tensor(tl)), lp, flat)
    check(lambda lib, x, tg: F(lib).ctc_loss(x, tg, lib.tensor(il), lib.tensor(tl),
                                             reduction="none"),
          lp.astype(np.float32), targets.astype(np.int32), rtol=1e-4, atol=1e-5)
    check(lambda lib, x, tg: F(lib).ctc_loss(x, tg, lib.tensor(il[0]), lib.tensor(tl[0]),
                                             reduction="none"), lp[:, 0], targets[0, :tl[0]])
    # padding past each target length may hold anything (here -1 and out-of-range labels)
    padded = targets.copy()
    padded[np.arange(4)[None] >= tl[:, None]] = -1
    padded[0, -1] = 99 if tl[0] < 4 else padded[0, -1]
    check(lambda lib, x, tg: F(lib).ctc_loss(x, tg, lib.tensor(il), lib.tensor(tl),
                                             reduction="sum"), lp, padded)
    # empty target, input length 1
    check(lambda lib, x, tg: F(lib).ctc_loss(x, tg, [12, 1, 5], [0, 0, 2], reduction="none"),
          lp, targets)


@pytest.mark.parametrize("zero_infinity", [False, True])
def test_ctc_loss_impossible_alignment(zero_infinity):
    lp, _, _, _ = _ctc_case(t=6, n=2, s=2)
    targets = np.array([[1, 1, 1], [1, 2, 3]])
    for reduction in REDUCTIONS:
        check(lambda lib, x, tg, r=reduction: F(lib).ctc_loss(
            x, tg, [3, 5], [3, 2], reduction=r, zero_infinity=zero_infinity), lp, targets)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), t=st.integers(1, 10), n=st.integers(1, 3),
       c=st.integers(2, 5), s=st.integers(0, 4))
def test_ctc_loss_hypothesis(seed, t, n, c, s):
    rng = np.random.default_rng(seed)
    lp = np.log(rng.dirichlet(np.ones(c), (t, n)))
    il = rng.integers(0, t + 1, n)
    tl = rng.integers(0, s + 1, n)
    targets = rng.integers(1, c, (n, s))
    check(lambda lib, x, tg: F(lib).ctc_loss(x, tg, list(il), list(tl), reduction="none",
                                             zero_infinity=True), lp, targets)


def test_ctc_loss_errors():
    lp, _, _, _ = _ctc_case(t=6, n=2, s=2)
    targets = ints(2, 3, lo=1)
    check_error(lambda lib, x, tg: F(lib).ctc_loss(x, tg, [6, 7], [3, 2]), lp, targets,
                match="Expected input_lengths to have value at most 6, but got value 7")
    check_error(lambda lib, x, tg: F(lib).ctc_loss(x, tg, [6, 5], [4, 2]), lp, targets,
                match="Expected tensor to have size at least 4 at dimension 1")
    check_error(lambda lib, x, tg: F(lib).ctc_loss(x, tg, [6, 5, 5], [3, 2]), lp, targets,
                match="input_lengths must be of size batch_size")
    check_error(lambda lib, x, tg: F(lib).ctc_loss(x, tg, [6, 5], [3]), lp, targets,
                match="target_lengths must be of size batch_size")
    check_error(lambda lib, x, tg: F(lib).ctc_loss(x, tg, [6, 5], [3, 2], blank=5), lp, targets,
                match="blank must be in label range")
    check_error(lambda lib, x, tg: F(lib).ctc_loss(x, tg, [6, 5], [3, 2]), lp, ints(4),
                match="Expected tensor to have size 5 at dimension 0")
    check_error(lambda lib, x, tg: F(lib).ctc_loss(x, tg, [6, 5], [3, 2]),
                lp.astype(np.float16), targets, match="not implemented for 'Half'")


def test_ctc_gradcheck_through_log_softmax():
    x = to_ember(randn(5, 2, 4), True)
    tg = ember.tensor([[1, 2], [3, 3]])

    def fn(a):
        return F(ember).ctc_loss(a.log_softmax(2), tg, [5, 4], [2, 2])
    assert ember.autograd.gradcheck(fn, (x,))


def test_gradcheck_float64():
    def gc(fn, *arrays):
        xs = [to_ember(a, True) for a in arrays]
        assert ember.autograd.gradcheck(fn, tuple(xs))
    t = ember.tensor([0, 2, 1])
    gc(lambda x: F(ember).cross_entropy(x, t, label_smoothing=0.1), randn(3, 4))
    gc(lambda x, y: F(ember).huber_loss(x, y, delta=0.5), randn(6), randn(6, seed=1))
    gc(lambda x, y: F(ember).binary_cross_entropy_with_logits(x, y), randn(6), rand(6))
    gc(lambda x, y: F(ember).binary_cross_entropy(x, y), rand(6, lo=0.1, hi=0.9), rand(6, seed=2))
    gc(lambda x: F(ember).soft_margin_loss(x, ember.tensor(signs(6))), randn(6))
    gc(lambda x: F(ember).multi_margin_loss(x, t, p=2), randn(3, 4))


def test_results_match_under_no_grad():
    x, t = randn(4, 5), ints(4)
    with torch.no_grad():
        tv = torch.nn.functional.cross_entropy(to_torch(x), to_torch(t))
    with ember.no_grad():
        ev = F(ember).cross_entropy(to_ember(x), to_ember(t))
    assert_same(ev, tv)
    assert math.isfinite(float(ev))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_multilabel_margin_loss(reduction):
    t = np.array([[3, 0, -1, 1], [0, 1, 2, 3], [1, -1, 2, 0], [-1, 0, 0, 0]])
    check(lambda lib, x, tt: F(lib).multilabel_margin_loss(x, tt, reduction=reduction),
          randn(4, 4) * 0.3, t)
    check(lambda lib, x, tt: F(lib).multilabel_margin_loss(x, tt, reduction=reduction),
          randn(4) * 0.3, t[0])
    check_error(lambda lib, x, tt: F(lib).multilabel_margin_loss(x, tt), randn(2, 4), t[:1],
                match="inconsistent target size")
    check_error(lambda lib, x, tt: F(lib).multilabel_margin_loss(x, tt), randn(1, 4),
                np.array([[1, 7, -1, 0]]), match="'target' is out of range")


# ----------------------------------------------------------------- modules
P = rand(4, 5, seed=7) / rand(4, 5, seed=7).sum(1, keepdims=True)
MODULE_CASES = [
    ("L1Loss", {}, lambda: (randn(4, 5), randn(4, 5, seed=1))),
    ("MSELoss", {"reduction": "sum"}, lambda: (randn(4, 5), randn(4, 5, seed=1))),
    ("SmoothL1Loss", {"beta": 0.5}, lambda: (randn(4, 5), randn(4, 5, seed=1))),
    ("HuberLoss", {"delta": 0.7, "reduction": "none"}, lambda: (randn(4, 5), randn(4, 5, seed=1))),
    ("CrossEntropyLoss", {"label_smoothing": 0.1, "ignore_index": 2}, lambda: (randn(4, 5),
                                                                               ints(4))),
    ("CrossEntropyLoss", {}, lambda: (randn(4, 5), P)),
    ("NLLLoss", {"reduction": "sum"}, lambda: (randn(4, 5), ints(4))),
    ("BCELoss", {}, lambda: (rand(4, 5, lo=0.1, hi=0.9), rand(4, 5, seed=1))),
    ("BCEWithLogitsLoss", {}, lambda: (randn(4, 5), rand(4, 5, seed=1))),
    ("KLDivLoss", {"reduction": "batchmean", "log_target": True},
     lambda: (randn(4, 5), randn(4, 5, seed=1))),
    ("SoftMarginLoss", {}, lambda: (randn(4, 5), signs(4, 5))),
    ("MultiLabelSoftMarginLoss", {}, lambda: (randn(4, 5), rand(4, 5, seed=1).round())),
    ("MultiLabelMarginLoss", {}, lambda: (randn(2, 3), np.array([[2, -1, 0], [0, 1, -1]]))),
    ("MultiMarginLoss", {"p": 2, "margin": 0.5}, lambda: (randn(4, 5), ints(4))),
    ("HingeEmbeddingLoss", {"margin": 0.3}, lambda: (randn(4, 5), signs(4, 5))),
    ("MarginRankingLoss", {"margin": 0.1}, lambda: (randn(4), randn(4, seed=1), signs(4))),
    ("CosineEmbeddingLoss", {"margin": 0.2}, lambda: (randn(4, 5), randn(4, 5, seed=1),
                                                      signs(4))),
    ("TripletMarginLoss", {"p": 1.0, "swap": True},
     lambda: (randn(4, 5), randn(4, 5, seed=1), randn(4, 5, seed=2))),
    ("TripletMarginWithDistanceLoss", {"margin": 0.5},
     lambda: (randn(4, 5), randn(4, 5, seed=1), randn(4, 5, seed=2))),
    ("PoissonNLLLoss", {"full": True}, lambda: (randn(4, 5), rand(4, 5, seed=1, hi=3))),
    ("GaussianNLLLoss", {"full": True}, lambda: (randn(4, 5), randn(4, 5, seed=1),
                                                 rand(4, 5, seed=2, lo=0.1))),
]


@pytest.mark.parametrize("name,kwargs,make", MODULE_CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(MODULE_CASES)])
def test_loss_modules(name, kwargs, make):
    arrays = make()

    def fn(lib, *xs):
        xs = [x if x.is_floating_point() and i == 0 else x.detach() for i, x in enumerate(xs)]
        module = getattr(lib.nn, name)(**kwargs)
        # (the default distance's module comes from nn/modules/distance.py when present)
        if name != "TripletMarginWithDistanceLoss" or hasattr(ember.nn, "PairwiseDistance"):
            assert repr(module) == repr(getattr(torch.nn, name)(**kwargs))
        return module(*xs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check(fn, *arrays)


def test_ctc_module():
    lp, targets, il, tl = _ctc_case(seed=3)
    check(lambda lib, x, tg: lib.nn.CTCLoss(blank=0, reduction="sum", zero_infinity=True)(
        x, tg, lib.tensor(il), lib.tensor(tl)), lp, targets)
    assert repr(ember.nn.CTCLoss()) == "CTCLoss()"


def test_weighted_module_buffers():
    w = np.array([0.5, 2.0, 1.0, 0.1, 3.0], dtype=np.float32)
    for lib in (torch, ember):
        m = lib.nn.CrossEntropyLoss(weight=lib.tensor(w))
        assert list(m.state_dict()) == ["weight"]
        assert [n for n, _ in m.named_buffers()] == ["weight"]
        assert m.double().weight.dtype == lib.float64
        b = lib.nn.BCEWithLogitsLoss(pos_weight=lib.tensor(w))
        assert list(b.state_dict()) == ["pos_weight"]
        assert list(lib.nn.MSELoss().state_dict()) == []
    x, t = randn(6, 5), ints(6)
    check(lambda lib, a, b: lib.nn.CrossEntropyLoss(weight=lib.tensor(w).double(),
                                                    reduction="mean")(a, b), x, t)
    check(lambda lib, a, b: lib.nn.NLLLoss(weight=lib.tensor(w).double(), ignore_index=1)(a, b),
          x, t)


def test_module_legacy_arguments_and_errors():
    for lib in (torch, ember):
        with pytest.warns(UserWarning, match="reduction='none' instead"):
            assert lib.nn.MSELoss(reduce=False).reduction == "none"
        with pytest.warns(UserWarning, match="reduction='sum' instead"):
            assert lib.nn.CrossEntropyLoss(size_average=False).reduction == "sum"
        with pytest.warns(FutureWarning):
            lib.nn.NLLLoss2d()
        with pytest.raises(ValueError, match="only p == 1 and p == 2 supported"):
            lib.nn.MultiMarginLoss(p=3)
        with pytest.raises(ValueError, match="expected margin to be greater than 0"):
            lib.nn.TripletMarginLoss(margin=0)
        with pytest.raises(TypeError, match="delta must be a float or int"):
            lib.nn.HuberLoss(delta="1")
    assert isinstance(ember.nn.CrossEntropyLoss(), ember.nn.Module)


NAME_CASES = {  # loss -> fn(F, x, reduction, conv) on a (4, 5) float64 input x
    "l1": lambda F, x, r, c: F.l1_loss(x, c(randn(4, 5, seed=1)), reduction=r),
    "mse": lambda F, x, r, c: F.mse_loss(x, c(randn(4, 5, seed=1)), reduction=r),
    "ce": lambda F, x, r, c: F.cross_entropy(x, c(ints(4)), reduction=r),
    "ce_smooth": lambda F, x, r, c: F.cross_entropy(x, c(ints(4)), reduction=r,
                                                    label_smoothing=0.1),
    "nll": lambda F, x, r, c: F.nll_loss(x, c(ints(4)), reduction=r),
    "bce": lambda F, x, r, c: F.binary_cross_entropy(x.sigmoid(), c(rand(4, 5)), reduction=r),
    "bce_logits": lambda F, x, r, c: F.binary_cross_entropy_with_logits(x, c(rand(4, 5)),
                                                                        reduction=r),
    "kl": lambda F, x, r, c: F.kl_div(x, c(rand(4, 5)), reduction=r),
    "huber": lambda F, x, r, c: F.huber_loss(x, c(randn(4, 5, seed=1)), reduction=r),
    "smooth_l1": lambda F, x, r, c: F.smooth_l1_loss(x, c(randn(4, 5, seed=1)), reduction=r),
    "soft_margin": lambda F, x, r, c: F.soft_margin_loss(x, c(signs(4, 5)), reduction=r),
    "multilabel_soft": lambda F, x, r, c: F.multilabel_soft_margin_loss(x, c(rand(4, 5)),
                                                                        reduction=r),
    "ranking": lambda F, x, r, c: F.margin_ranking_loss(x, c(randn(4, 5)), c(signs(4, 5)),
                                                        reduction=r),
    "hinge": lambda F, x, r, c: F.hinge_embedding_loss(x, c(signs(4, 5)), reduction=r),
    "cosine": lambda F, x, r, c: F.cosine_embedding_loss(x, c(randn(4, 5)), c(signs(4)),
                                                         reduction=r),
    "triplet": lambda F, x, r, c: F.triplet_margin_loss(x, c(randn(4, 5)), c(rand(4, 5)),
                                                        reduction=r),
    "poisson": lambda F, x, r, c: F.poisson_nll_loss(x, c(rand(4, 5)), reduction=r),
    "gaussian": lambda F, x, r, c: F.gaussian_nll_loss(x, c(randn(4, 5)), c(rand(4, 5)),
                                                       reduction=r),
    "multi_margin": lambda F, x, r, c: F.multi_margin_loss(x, c(ints(4)), reduction=r),
}


@pytest.mark.parametrize("name", list(NAME_CASES))
def test_grad_fn_names(name):
    for reduction in REDUCTIONS:
        names = []
        for lib, conv in ((torch, to_torch), (ember, to_ember)):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                out = NAME_CASES[name](lib.nn.functional, conv(randn(4, 5), True), reduction,
                                       conv)
            names.append(out.grad_fn.name())
        assert names[1] == names[0], (reduction, names)


@settings(max_examples=25, deadline=None)
@given(shape=st.lists(st.integers(0, 4), min_size=0, max_size=3),
       name=st.sampled_from(["l1_loss", "mse_loss", "smooth_l1_loss", "huber_loss",
                             "binary_cross_entropy_with_logits", "soft_margin_loss"]),
       reduction=st.sampled_from(REDUCTIONS), transpose=st.booleans(),
       seed=st.integers(0, 1000))
def test_elementwise_losses_hypothesis(shape, name, reduction, transpose, seed):
    x = randn(*shape, seed=seed)
    y = rand(*shape, seed=seed + 1) if "entropy" in name else randn(*shape, seed=seed + 1)

    def fn(lib, a, b):
        if transpose and a.ndim >= 2:
            a, b = a.transpose(0, 1), b.transpose(0, 1)
        return getattr(F(lib), name)(a, b.detach(), reduction=reduction)
    check(fn, x, y)


def test_promotion_follows_torch():
    x32 = randn(4, 5, dtype=np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name in ["l1_loss", "mse_loss", "smooth_l1_loss", "huber_loss"]:
            # torch expands the operands first: a 0-dim float64 target promotes like a tensor
            check(lambda lib, a, b, name=name: getattr(F(lib), name)(a, b), x32, np.array(0.5),
                  grad=name != "huber_loss")  # (torch's huber backward refuses the mix)
    check(lambda lib, a, b: F(lib).soft_margin_loss(a, b.detach()), x32, np.array(-1.0))
    # binary_cross_entropy_with_logits returns the target's dtype
    check(lambda lib, a, b: F(lib).binary_cross_entropy_with_logits(a, b), x32,
          rand(4, 5, seed=1), rtol=1e-6)  # (its log-sigmoid is a float32 computation)
    check(lambda lib, a, b: F(lib).binary_cross_entropy_with_logits(a, b), randn(4, 5),
          rand(4, 5, seed=1, dtype=np.float32), rtol=1e-6, atol=1e-9)


def test_more_errors():
    x = randn(4, 5)
    check_error(lambda lib, a, b: F(lib).binary_cross_entropy(a, b), np.array([np.nan, 0.5]),
                np.array([0.5, 0.5]), match="between 0 and 1")
    check_error(lambda lib, a, b: F(lib).multi_margin_loss(a, b), x, np.array([0, 1, 2, 9]),
                match="target out of range")
    check_error(lambda lib, a, b: F(lib).multi_margin_loss(a, b), x, ints(4, 1),
                match=r"Expected target size \[4\], but got \[4, 1\]. Input has shape \[4, 5\].")
    check_error(lambda lib, a, b: F(lib).multi_margin_loss(a, b), x, ints(4, dtype=np.int32),
                match="expected scalar type Long but found Int")
    check_error(lambda lib, a, b: F(lib).multi_margin_loss(a, b), x[None], ints(4),
                match=r"Expected non-empty vector or matrix .* got: \[1, 4, 5\]")
    check_error(lambda lib, a, b, w: F(lib).multi_margin_loss(a, b, weight=w), x, ints(4),
                np.ones(3), match=r"inconsistent weight size, expected 5 but got \[3\]")
    check_error(lambda lib, a, b: F(lib).gaussian_nll_loss(a, b, 1), x, x)
    check_error(lambda lib, a, b: F(lib).l1_loss(a, b), ints(3), ints(3),
                match="could not infer output dtype")


def test_saved_arrays_are_released_like_torchs():
    lp, targets, il, tl = _ctc_case(seed=4)
    calls = [
        lambda lib, x: F(lib).cross_entropy(x, lib.tensor(ints(4))),
        lambda lib, x: F(lib).ctc_loss(x.reshape(12, 3, 5).log_softmax(2), lib.tensor(targets),
                                       lib.tensor(il), lib.tensor(tl)),
    ]
    for fn in calls:
        for lib, conv in ((torch, to_torch), (ember, to_ember)):
            x = conv(randn(4, 45), True)
            loss = fn(lib, x)
            loss.backward(retain_graph=True)
            first = x.grad.clone()
            loss.backward()  # the retained graph still holds what backward needs
            np.testing.assert_allclose(x.grad.numpy(), 2 * first.numpy(), rtol=1e-12)
            with pytest.raises(RuntimeError, match="backward through the graph a second time"):
                loss.backward()
