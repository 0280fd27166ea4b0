"""The loss kernels (torch.nn.functional's *_loss functions), forward and backward together.

Losses that torch computes with one fused kernel (mse, smooth L1, Huber, soft margin,
BCE, BCE-with-logits, NLL, CTC) are one `Function` here too, named as torch names
their nodes. The others are short compositions of ember ops, written the way torch's
own composite implementations are, so their graphs (and grad_fn names) match.

Numerics follow torch: log-softmax and log-sigmoid subtract the maximum before
exponentiating, BCE clamps its logarithms at -100, and half/bfloat16 inputs compute
in float32 and round once. cross_entropy with class indices is a single fused node:
forward is log-softmax plus a pick, backward is (softmax - one_hot) scaled by each
row's weight.
"""
from __future__ import annotations

import math
import warnings

import numpy as np

from ember import _dtype as _dt
from ember._device import array_module as _xp
from ember._ops.inplace import _type_name
from ember._ops.pointwise import _broadcast_error, _silent, where
from ember._tensor import Tensor, _make
from ember.amp.autocast_mode import _AUTOCAST, autocast_fp32
from ember.autograd.function import Function
from ember.autograd.grad_mode import _state

__all__ = [
    "l1_loss", "mse_loss", "cross_entropy", "nll_loss", "binary_cross_entropy",
    "binary_cross_entropy_with_logits", "kl_div", "huber_loss", "smooth_l1_loss",
    "soft_margin_loss", "multilabel_soft_margin_loss", "multi_margin_loss",
    "multilabel_margin_loss",
    "margin_ranking_loss", "hinge_embedding_loss", "cosine_embedding_loss",
    "triplet_margin_loss", "triplet_margin_with_distance_loss", "ctc_loss",
    "poisson_nll_loss", "gaussian_nll_loss",
]

_F32 = np.dtype(np.float32)
_INDEX_TARGETS = (np.dtype(np.int64), np.dtype(np.uint8))
_BCE_EPS = float(np.float32(1e-12))  # torch's floor of x(1 - x) in BCE's gradient, a float


# ----------------------------------------------------------------- helpers


def _wide(x):
    """float16/bfloat16 arrays widened to float32 for multi-step kernels."""
    return x.astype(_F32) if x.dtype.itemsize == 2 and x.dtype.kind in "fV" else x


def _legacy_reduction(size_average, reduce) -> str:
    """The reduction the deprecated size_average/reduce pair stands for (with torch's warning)."""
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    ret = "mean" if size_average and reduce else "sum" if reduce else "none"
    warnings.warn(f"size_average and reduce args will be deprecated, please use reduction='{ret}'"
                  " instead.", UserWarning, stacklevel=3)
    return ret


def _reduction(reduction: str, size_average=None, reduce=None) -> str:
    """The checked reduction name: legacy arguments win, 'elementwise_mean' means 'mean'."""
    if size_average is not None or reduce is not None:
        return _legacy_reduction(size_average, reduce)
    if reduction in ("mean", "sum", "none"):
        return reduction
    if reduction == "elementwise_mean":
        warnings.warn("reduction='elementwise_mean' is deprecated. Please use reduction='mean' "
                      "instead.", UserWarning, stacklevel=3)
        return "mean"
    raise ValueError(f"{reduction} is not a valid value for reduction")


def _reduce(loss: Tensor, reduction: str) -> Tensor:
    """Apply a (checked) reduction with ember ops."""
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def _reduce_array(loss, reduction: str, np_dtype):
    """Apply a reduction to a loss array and round to the result dtype."""
    if reduction == "mean":
        loss = _silent(loss.mean) if loss.size else _xp(loss).asarray(np.nan, loss.dtype)
    elif reduction == "sum":
        loss = loss.sum()
    return loss if loss.dtype == np_dtype else loss.astype(np_dtype)


def _scaled(grad: Tensor, reduction: str, n: int) -> Tensor:
    """The upstream gradient with the mean's 1/n applied."""
    return grad / n if reduction == "mean" and n else grad


def _size_warning(input: Tensor, target: Tensor) -> None:
    if target.shape != input.shape:
        warnings.warn(f"Using a target size ({target.shape}) that is different to the input size "
                      f"({input.shape}). This will likely lead to incorrect results due to "
                      "broadcasting. Please ensure they have the same size.", UserWarning,
                      stacklevel=3)


def _float_pair(input: Tensor, target: Tensor, kernel: str, broadcast_first: bool = True):
    """(input array, target array, result dtype) for an elementwise loss of the two.

    torch expands input and target to one shape first, so a 0-dim operand promotes like
    a full tensor there (`broadcast_first`)."""
    rt = (_dt.promote_types(input.dtype, target.dtype) if broadcast_first
          else _dt.result_type_of(input, target))
    if not rt.is_floating_point:
        raise NotImplementedError(f'"{kernel}" not implemented for \'{_type_name(rt)}\'')
    x, y = input._data, target._data
    if x.dtype != rt.np:
        x = x.astype(rt.np)
    if y.dtype != rt.np:
        y = y.astype(rt.np)
    return _wide(x), _wide(y), rt


def _diff_t(ctx, input: Tensor, target: Tensor) -> Tensor:
    """input - target in the forward's result dtype (ctx.rt), as ember ops."""
    rt = ctx.rt
    return (input if input.dtype is rt else input.to(rt)) - (
        target if target.dtype is rt else target.to(rt))


def _diff(x, y, input: Tensor, target: Tensor):
    try:
        return x - y
    except ValueError:
        raise _broadcast_error(input, target) from None


def _no_grad_arg(t, fn: str, arg: str) -> None:
    """torch refuses gradients for some arguments (weights) of its fused losses."""
    if t is not None and _state.enabled and t._requires_grad:
        raise RuntimeError(f"The function '{fn}' is not differentiable with respect to argument "
                           f"'{arg}'. This input cannot have requires_grad True.")


def _weighted(loss: Tensor, weight: Tensor, input: Tensor, reduction: str,
              mean_by_weight: bool) -> Tensor:
    """torch's optional per-element weight of l1/mse/huber."""
    if weight.shape != input.shape:
        raise ValueError("Weights and input must have the same size.")
    loss = loss * weight
    if reduction == "none":
        return loss
    if reduction == "sum":
        return loss.sum()
    return loss.sum() / weight.sum() if mean_by_weight else loss.mean()


def _weight_reduction(reduction: str) -> None:
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(f"Invalid reduction mode: {reduction}. Expected one of 'none', 'mean', "
                         "'sum'.")


# ----------------------------------------------------------------- L1, MSE, Huber, smooth L1
def l1_loss(input: Tensor, target: Tensor, size_average=None, reduce=None, reduction: str = "mean",
            weight: Tensor | None = None) -> Tensor:
    """Mean absolute error; `weight` (input's shape) weights each element."""
    if _AUTOCAST: input, target = autocast_fp32(input, target)
    _size_warning(input, target)
    if size_average is not None or reduce is not None:
        reduction = _legacy_reduction(size_average, reduce)
    if input.shape != target.shape:
        from ember._ops.shape import broadcast_tensors
        input, target = broadcast_tensors(input, target)
    if weight is not None:
        _weight_reduction(reduction)
        return _weighted((input - target).abs(), weight, input, reduction, True)
    reduction = _reduction(reduction)
    return _reduce((input - target).abs(), reduction)


class MseLoss(Function):
    """(input - target)^2, reduced; backward 2 (input - target) per element."""

    _node_name = "MseLossBackward0"

    @staticmethod
    def forward(ctx, input, target, reduction):
        x, y, rt = _float_pair(input, target, "mse_cpu")
        ctx.rt = rt
        d = _diff(x, y, input, target)
        loss = d * d
        ctx.reduction, ctx.n = reduction, loss.size
        ctx.save_for_backward(input, target)
        return _make(_reduce_array(loss, reduction, rt.np))

    @staticmethod
    def backward(ctx, grad):
        input, target = ctx.saved_tensors
        g = _diff_t(ctx, input, target) * (_scaled(grad, ctx.reduction, ctx.n) * 2.0)
        return g, (-g if ctx.needs_input_grad[1] else None), None


def mse_loss(input: Tensor, target: Tensor, size_average=None, reduce=None,
             reduction: str = "mean", weight: Tensor | None = None) -> Tensor:
    """Mean squared error; `weight` (input's shape) weights each element."""
    if _AUTOCAST: input, target = autocast_fp32(input, target)
    _size_warning(input, target)
    if size_average is not None or reduce is not None:
        reduction = _legacy_reduction(size_average, reduce)
    if weight is not None:
        _weight_reduction(reduction)
        return _weighted((input - target) ** 2, weight, input, reduction, True)
    return MseLoss.apply(input, target, _reduction(reduction))


class SmoothL1Loss(Function):
    """0.5 d^2 / beta where |d| < beta, else |d| - 0.5 beta (d = input - target)."""

    _node_name = "SmoothL1LossBackward0"

    @staticmethod
    def forward(ctx, input, target, reduction, beta):
        x, y, rt = _float_pair(input, target, "smooth_l1_cpu")
        ctx.rt = rt
        d = _diff(x, y, input, target)
        ad = abs(d)
        loss = ad if beta == 0 else _xp(d).where(ad < beta, (0.5 / beta) * d * d, ad - 0.5 * beta)
        ctx.reduction, ctx.n, ctx.beta = reduction, loss.size, beta
        ctx.save_for_backward(input, target)
        return _make(_reduce_array(loss, reduction, rt.np))

    @staticmethod
    def backward(ctx, grad):
        input, target = ctx.saved_tensors
        d = _diff_t(ctx, input, target)
        beta = ctx.beta
        slope = d.sign() if beta == 0 else where(d.abs() < beta, d / beta, d.sign())
        g = slope * _scaled(grad, ctx.reduction, ctx.n)
        return g, (-g if ctx.needs_input_grad[1] else None), None, None


def smooth_l1_loss(input: Tensor, target: Tensor, size_average=None, reduce=None,
                   reduction: str = "mean", beta: float = 1.0) -> Tensor:
    """Quadratic below `beta`, linear above (beta=0 is the L1 loss)."""
    if _AUTOCAST: input, target = autocast_fp32(input, target)
    _size_warning(input, target)
    reduction = _reduction(reduction, size_average, reduce)
    if beta < 0:
        raise RuntimeError("smooth_l1_loss does not support negative values for beta.")
    return SmoothL1Loss.apply(input, target, reduction, float(beta))


class HuberLoss(Function):
    """0.5 d^2 where |d| < delta, else delta (|d| - 0.5 delta) (d = input - target)."""

    _node_name = "HuberLossBackward0"

    @staticmethod
    def forward(ctx, input, target, reduction, delta):
        x, y, rt = _float_pair(input, target, "huber_cpu")
        ctx.rt = rt
        d = _diff(x, y, input, target)
        ad = abs(d)
        loss = _xp(d).where(ad < delta, 0.5 * d * d, delta * (ad - 0.5 * delta))
        ctx.reduction, ctx.n, ctx.delta = reduction, loss.size, delta
        ctx.save_for_backward(input, target)
        # torch's huber kernel writes into a tensor of the input's dtype
        return _make(_reduce_array(loss, reduction, input._data.dtype))

    @staticmethod
    def backward(ctx, grad):
        input, target = ctx.saved_tensors
        d = _diff_t(ctx, input, target)
        slope = where(d.abs() < ctx.delta, d, d.sign() * ctx.delta)
        g = slope * _scaled(grad, ctx.reduction, ctx.n)
        return g, (-g if ctx.needs_input_grad[1] else None), None, None


def huber_loss(input: Tensor, target: Tensor, reduction: str = "mean", delta: float = 1.0,
               weight: Tensor | None = None) -> Tensor:
    """Quadratic below `delta`, delta-scaled linear above; `weight` weights each element."""
    if _AUTOCAST: input, target = autocast_fp32(input, target)
    _size_warning(input, target)
    if delta <= 0:
        raise RuntimeError("huber_loss does not support non-positive values for delta.")
    if weight is not None:
        _weight_reduction(reduction)
        return _weighted(HuberLoss.apply(input, target, "none", float(delta)), weight, input,
                         reduction, False)
    return HuberLoss.apply(input, target, _reduction(reduction), float(delta))


# ----------------------------------------------------------------- margins on +-1 targets
class SoftMarginLoss(Function):
    """log(1 + exp(-target * input)); backward -target * sigmoid(-target * input)."""

    _node_name = "SoftMarginLossBackward0"

    @staticmethod
    def forward(ctx, input, target, reduction):
        x, y, rt = _float_pair(input, target, "soft_margin_loss", False)
        xp = _xp(x)
        # torch's formula, log1p(exp(-y x)): it overflows to inf for margins beyond ~88 (float32)
        loss = _silent(lambda: xp.log1p(xp.exp(-_diff(0, y, input, target) * -x)))
        ctx.reduction, ctx.n = reduction, loss.size
        ctx.save_for_backward(input, target)
        return _make(_reduce_array(loss, reduction, rt.np))

    @staticmethod
    def backward(ctx, grad):
        input, target = ctx.saved_tensors
        g = (target * input).neg().sigmoid() * _scaled(grad, ctx.reduction, ctx.n)
        need = ctx.needs_input_grad
        return -target * g, (-input * g if need[1] else None), None


def soft_margin_loss(input: Tensor, target: Tensor, size_average=None, reduce=None,
                     reduction: str = "mean") -> Tensor:
    """log(1 + exp(-target * input)) for targets of +1/-1."""
    if _AUTOCAST: input, target = autocast_fp32(input, target)
    _no_grad_arg(target, "soft_margin_loss", "target")
    return SoftMarginLoss.apply(input, target, _reduction(reduction, size_average, reduce))


def margin_ranking_loss(input1: Tensor, input2: Tensor, target: Tensor, margin: float = 0,
                        size_average=None, reduce=None, reduction: str = "mean") -> Tensor:
    """max(0, -target * (input1 - input2) + margin)."""
    if _AUTOCAST: input1, input2, target = autocast_fp32(input1, input2, target)
    reduction = _reduction(reduction, size_average, reduce)
    if input1.ndim != input2.ndim or input1.ndim != target.ndim:
        raise RuntimeError("margin_ranking_loss : All input tensors should have same dimension but "
                           f"got sizes: input1: {input1.shape}, input2: {input2.shape}, target: "
                           f"{target.shape} ")
    return _reduce((-target * (input1 - input2) + margin).clamp_min(0), reduction)


def hinge_embedding_loss(input: Tensor, target: Tensor, margin: float = 1.0, size_average=None,
                         reduce=None, reduction: str = "mean") -> Tensor:
    """input where target is 1, max(0, margin - input) where it is -1."""
    if _AUTOCAST: input, target = autocast_fp32(input, target)
    reduction = _reduction(reduction, size_average, reduce)
    zeros = input.new_zeros(())
    on_margin = where(target != 1, (margin - input).clamp_min(0), zeros)
    on_self = where(target != -1, input, zeros)
    return _reduce(on_margin + on_self, reduction)


def cosine_embedding_loss(input1: Tensor, input2: Tensor, target: Tensor, margin: float = 0,
                          size_average=None, reduce=None, reduction: str = "mean") -> Tensor:
    """1 - cos(input1, input2) for target 1, max(0, cos - margin) for target -1."""
    if _AUTOCAST: input1, input2, target = autocast_fp32(input1, input2, target)
    reduction = _reduction(reduction, size_average, reduce)
    tdim = target.ndim
    if tdim > 1:
        raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
    if tdim == 1 and not (input1.ndim == 2 and input2.ndim == 2):
        raise RuntimeError("1D target tensor expects 2D input tensors, but found inputs with "
                           f"sizes {list(input1.shape)} and {list(input2.shape)}.")
    if tdim == 0 and not (input1.ndim == 1 and input2.ndim == 1):
        raise RuntimeError("0D target tensor expects 1D input tensors, but found inputs with "
                           f"sizes {list(input1.shape)} and {list(input2.shape)}.")
    eps = 1e-12
    dot = (input1 * input2).sum(tdim)
    mag1 = (input1 * input1).sum(tdim) + eps
    mag2 = (input2 * input2).sum(tdim) + eps
    cos = dot / (mag1 * mag2).sqrt()
    zeros = cos.new_zeros(())
    out = where(target == 1, 1 - cos, zeros) + where(target == -1, (cos - margin).clamp_min(0),
                                                      zeros)
    return _reduce(out, reduction)


def _pairwise_distance(x1: Tensor, x2: Tensor, p: float, eps: float) -> Tensor:
    """torch.pairwise_distance: the p-norm of x1 - x2 + eps over the last dim."""
    from ember._ops.norms import norm
    d = x1 - x2 + eps
    if d.ndim == 0:
        return d.abs()
    return norm(d, p, -1)


def triplet_margin_loss(anchor: Tensor, positive: Tensor, negative: Tensor, margin: float = 1.0,
                        p: float = 2, eps: float = 1e-6, swap: bool = False, size_average=None,
                        reduce=None, reduction: str = "mean") -> Tensor:
    """max(0, margin + d(anchor, positive) - d(anchor, negative)) with p-norm distances;
    `swap` uses d(positive, negative) when that is smaller."""
    if _AUTOCAST: anchor, positive, negative = autocast_fp32(anchor, positive, negative)
    reduction = _reduction(reduction, size_average, reduce)
    _triplet_dims(anchor, positive, negative)
    d_pos = _pairwise_distance(anchor, positive, p, eps)
    d_neg = _pairwise_distance(anchor, negative, p, eps)
    if swap:
        d_neg = d_neg.minimum(_pairwise_distance(positive, negative, p, eps))
    return _reduce((margin + d_pos - d_neg).clamp_min(0), reduction)


def _triplet_dims(anchor: Tensor, positive: Tensor, negative: Tensor) -> None:
    a, p, n = anchor.ndim, positive.ndim, negative.ndim
    if not a == p == n:
        raise RuntimeError("The anchor, positive, and negative tensors are expected to have the "
                           f"same number of dimensions, but got: anchor {a}D, positive {p}D, and "
                           f"negative {n}D inputs")


def triplet_margin_with_distance_loss(anchor: Tensor, positive: Tensor, negative: Tensor, *,
                                      distance_function=None, margin: float = 1.0,
                                      swap: bool = False, reduction: str = "mean") -> Tensor:
    """The triplet margin loss with any distance (default: pairwise 2-norm distance)."""
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"{reduction} is not a valid value for reduction")
    if margin <= 0:
        raise ValueError(f"margin must be greater than 0, got {margin}")
    _triplet_dims(anchor, positive, negative)
    if distance_function is None:
        def distance_function(a, b):
            return _pairwise_distance(a, b, 2.0, 1e-6)
    d_pos = distance_function(anchor, positive)
    d_neg = distance_function(anchor, negative)
    if swap:
        d_neg = d_neg.minimum(distance_function(positive, negative))
    return _reduce((margin + d_pos - d_neg).clamp_min(0), reduction)


class MultiMarginLoss(Function):
    """Sum over the wrong classes of max(0, margin - x[y] + x[i])^p (times the
    target class's weight), over C; backward routes each active term to x[i] and -x[y]."""

    _node_name = "MultiMarginLossBackward0"

    @staticmethod
    def forward(ctx, input, target, p, margin, weight, reduction):
        x = _wide(input._data)
        xp = _xp(x)
        x2 = x.reshape(1, -1) if x.ndim <= 1 else x
        t = target._data.reshape(-1).astype(np.int64)
        n, c = x2.shape
        bad = (t < 0) | (t >= c)
        if bad.any():
            raise RuntimeError("target out of range")
        picked = xp.take_along_axis(x2, t[:, None], axis=1)
        z = (margin - picked + x2).clip(0, None)
        if p == 2:
            z = z * z
        if weight is not None:
            z = z * _wide(weight._data)[t][:, None]
        onehot = t[:, None] == xp.arange(c)
        z[onehot] = 0
        loss = z.sum(axis=1) / c
        loss = loss.reshape(()) if x.ndim <= 1 else loss
        ctx.reduction, ctx.p, ctx.margin, ctx.shape = reduction, p, margin, x2.shape
        ctx.target, ctx.onehot, ctx.n = t, onehot, loss.size
        ctx.save_for_backward(input, weight)
        return _make(_reduce_array(loss, reduction, input._data.dtype))

    @staticmethod
    def backward(ctx, grad):
        input, weight = ctx.saved_tensors
        x2 = input.reshape(ctx.shape)
        t = _make(ctx.target[:, None])
        onehot = _make(ctx.onehot)
        z = ctx.margin - x2.gather(1, t) + x2
        active = (z > 0) & ~onehot
        dz = where(active, 2.0 * z if ctx.p == 2 else z.new_ones(()), z.new_zeros(()))
        if weight is not None:
            dz = dz * weight[t]
        g = _scaled(grad, ctx.reduction, ctx.n).reshape(-1, 1) / ctx.shape[1]
        dz = dz * g
        gi = dz - onehot * dz.sum(1, keepdim=True)
        return gi.reshape(input.shape), None, None, None, None, None


def multi_margin_loss(input: Tensor, target: Tensor, p: int = 1, margin: float = 1.0,
                      weight: Tensor | None = None, size_average=None, reduce=None,
                      reduction: str = "mean") -> Tensor:
    """Multi-class hinge loss: sum over wrong classes of max(0, margin - x[y] + x[i])^p / C."""
    if _AUTOCAST: input, target, weight = autocast_fp32(input, target, weight)
    reduction = _reduction(reduction, size_average, reduce)
    if p not in (1, 2):
        raise ValueError("only p == 1 and p == 2 supported")
    if weight is not None and weight.ndim != 1:
        raise ValueError("weight must be one-dimensional")
    _no_grad_arg(weight, "multi_margin_loss", "weight")
    nd = input.ndim
    if nd > 2 or (nd == 2 and input.shape[1] == 0) or (nd < 2 and input.numel() == 0):
        raise RuntimeError("Expected non-empty vector or matrix with optional 0-dim batch size, "
                           f"but got: {list(input.shape)}")
    rows = input.shape[0] if nd == 2 else 1
    if target.ndim > 1 or target.numel() != rows:
        raise RuntimeError("multi_margin_loss: target tensor should be 1-D with size equal to the "
                           f"number of input samples (batch size). Expected target size [{rows}], "
                           f"but got {list(target.shape)}. Input has shape {list(input.shape)}.")
    if target.dtype != _dt.int64:
        raise RuntimeError(f"expected scalar type Long but found {_type_name(target.dtype)}")
    if weight is not None:
        c = input.shape[-1] if nd else 1
        if weight.numel() != c:
            raise RuntimeError(f"inconsistent weight size, expected {c} but got "
                               f"{list(weight.shape)}")
        if weight.dtype != input.dtype:
            raise RuntimeError(f"expected scalar type {_type_name(input.dtype)} but found "
                               f"{_type_name(weight.dtype)}")
    return MultiMarginLoss.apply(input, target, p, float(margin), weight, reduction)


def multilabel_margin_loss(input: Tensor, target: Tensor, size_average=None, reduce=None,
                           reduction: str = "mean") -> Tensor:
    """Multi-label hinge loss: for each listed target class j (a row of class indices ended
    by -1) and each class i not listed, max(0, 1 - (x[j] - x[i])), summed and divided by C."""
    if _AUTOCAST: input, target = autocast_fp32(input, target)
    reduction = _reduction(reduction, size_average, reduce)
    if input.ndim > 2 or input.shape != target.shape:
        raise RuntimeError("inconsistent target size: " + str(list(target.shape)) +
                           " for input of size: " + str(list(input.shape)))
    x = input.reshape(1, -1) if input.ndim < 2 else input
    c = x.shape[1]
    t = target._data.reshape(x.shape).astype(np.int64)
    xp = _xp(t)
    listed = xp.cumsum(t < 0, axis=1) == 0  # the slots before the first -1
    first_unlisted = ~listed & xp.concatenate([xp.ones_like(listed[:, :1]), listed[:, :-1]], 1)
    if ((listed & (t >= c)) | (first_unlisted & (t < -1))).any():
        raise RuntimeError("argument #2 'target' is out of range")
    slots = xp.where(listed, t, 0)
    is_target = ((slots[:, :, None] == xp.arange(c)) & listed[:, :, None]).any(axis=1)
    pairs = listed[:, :, None] & ~is_target[:, None, :]  # (row, listed slot, other class)
    picked = x.gather(1, _make(slots))
    z = (1 - picked.unsqueeze(2) + x.unsqueeze(1)).clamp_min(0)
    loss = (z * _make(pairs.astype(z._data.dtype))).sum((1, 2)) / c
    if input.ndim < 2:
        loss = loss.reshape(())
    return _reduce(loss, reduction)


# ----------------------------------------------------------------- binary cross entropy
class _LogSigmoid(Function):
    """log(sigmoid(x)) = min(x, 0) - log1p(exp(-|x|)), finite for any finite x."""

    _node_name = "LogSigmoidBackward0"

    @staticmethod
    def forward(ctx, input):
        x = _wide(input._data)
        xp = _xp(x)
        out = xp.minimum(x, 0) - xp.log1p(xp.exp(-abs(x)))
        ctx.save_for_backward(input)
        return _make(out.astype(input._data.dtype, copy=False))

    @staticmethod
    def backward(ctx, grad):
        (input,) = ctx.saved_tensors
        return (-input).sigmoid() * grad


def _log_sigmoid(x: Tensor) -> Tensor:
    return _LogSigmoid.apply(x)


class BinaryCrossEntropy(Function):
    """-(t log x + (1 - t) log(1 - x)) with both logs floored at -100."""

    _node_name = "BinaryCrossEntropyBackward0"

    @staticmethod
    def forward(ctx, input, target, weight, reduction):
        x, y = _wide(input._data), _wide(target._data)
        xp = _xp(x)
        if not ((x >= 0) & (x <= 1)).all():  # NaN fails too
            raise RuntimeError("all elements of input should be between 0 and 1")
        with np.errstate(divide="ignore"):
            loss = (y - 1) * xp.maximum(xp.log1p(-x), -100.0) - y * xp.maximum(xp.log(x), -100.0)
        if weight is not None:
            loss *= _wide(weight._data)
        ctx.reduction, ctx.n = reduction, loss.size
        ctx.save_for_backward(input, target, weight)
        return _make(_reduce_array(loss, reduction, input._data.dtype))

    @staticmethod
    def backward(ctx, grad):
        input, target, weight = ctx.saved_tensors
        g = _scaled(grad, ctx.reduction, ctx.n)
        if weight is not None:
            g = g * weight
        need = ctx.needs_input_grad
        gi = (input - target) / ((1 - input) * input).clamp_min(_BCE_EPS) * g if need[0] else None
        gt = ((-input).log1p() - input.log()) * g if need[1] else None
        return gi, gt, None, None


def binary_cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None,
                         size_average=None, reduce=None, reduction: str = "mean") -> Tensor:
    """-w (t log x + (1 - t) log(1 - x)) for probabilities x; logs are clamped at -100."""
    if _AUTOCAST: input, target, weight = autocast_fp32(input, target, weight)
    reduction = _reduction(reduction, size_average, reduce)
    if target.shape != input.shape:
        raise ValueError(f"Using a target size ({target.shape}) that is different to the input "
                         f"size ({input.shape}) is deprecated. Please ensure they have the same "
                         "size.")
    if target.dtype != input.dtype:
        raise RuntimeError(f"Found dtype {_type_name(target.dtype)} but expected "
                           f"{_type_name(input.dtype)}")
    if weight is not None:
        _no_grad_arg(weight, "binary_cross_entropy", "weight")
        from ember._ops.shape import broadcast_shapes
        weight = weight.expand(broadcast_shapes(target.shape, weight.shape))
    return BinaryCrossEntropy.apply(input, target, weight, reduction)


class BinaryCrossEntropyWithLogits(Function):
    """(1 - t) x - log_sigmoid(x) (times the pos_weight mix), from logits x;
    backward sigmoid(x) - t (with pos_weight: (1 + (pw - 1) t) sigmoid(x) - pw t)."""

    _node_name = "BinaryCrossEntropyWithLogitsBackward0"

    @staticmethod
    def forward(ctx, input, target, weight, pos_weight, reduction):
        x, y = _wide(input._data), _wide(target._data)
        xp = _xp(x)
        # log(sigmoid(x)) in the softplus form: finite for any finite logit
        log_sig = xp.minimum(x, 0) - xp.log1p(xp.exp(-abs(x)))
        if pos_weight is not None:
            log_sig = log_sig * ((_wide(pos_weight._data) - 1) * y + 1)
        loss = (1 - y) * x - log_sig
        if weight is not None:
            loss = loss * _wide(weight._data)
        ctx.reduction, ctx.n = reduction, loss.size
        ctx.save_for_backward(input, target, weight, pos_weight)
        # torch accumulates into a tensor of the target's dtype
        return _make(_reduce_array(loss, reduction, target._data.dtype))

    @staticmethod
    def backward(ctx, grad):
        input, target, weight, pos_weight = ctx.saved_tensors
        g = _scaled(grad, ctx.reduction, ctx.n)
        if weight is not None:
            g = g * weight
        need = ctx.needs_input_grad
        gi = gt = None
        if need[0]:
            if pos_weight is None:
                gi = (input.sigmoid() - target) * g
            else:
                pt = pos_weight * target
                gi = ((pt + 1 - target) * input.sigmoid() - pt) * g
        if need[1]:
            if pos_weight is None:
                gt = -input * g
            else:
                gt = (_log_sigmoid(-input) - _log_sigmoid(input) * pos_weight) * g
        return gi, gt, None, None, None


def binary_cross_entropy_with_logits(input: Tensor, target: Tensor, weight: Tensor | None = None,
                                     size_average=None, reduce=None, reduction: str = "mean",
                                     pos_weight: Tensor | None = None) -> Tensor:
    """binary_cross_entropy(sigmoid(input), target) computed stably from the logits;
    `pos_weight` scales the positive term per class."""
    if _AUTOCAST:
        input, target, weight, pos_weight = autocast_fp32(input, target, weight, pos_weight)
    reduction = _reduction(reduction, size_average, reduce)
    if target.shape != input.shape:
        raise ValueError(f"Target size ({target.shape}) must be the same as input size "
                         f"({input.shape})")
    if not target.dtype.is_floating_point and input.dtype.is_floating_point:
        raise RuntimeError(f"result type {_type_name(input.dtype)} can't be cast to the desired "
                           f"output type {_type_name(target.dtype)}")
    _no_grad_arg(weight, "binary_cross_entropy_with_logits", "weight")
    _no_grad_arg(pos_weight, "binary_cross_entropy_with_logits", "pos_weight")
    return BinaryCrossEntropyWithLogits.apply(input, target, weight, pos_weight, reduction)


# ----------------------------------------------------------------- NLL and cross entropy
def _check_class_target(input: Tensor, target: Tensor, weight: Tensor | None) -> None:
    """torch's shape and dtype checks for class-index targets (nll_loss_nd's order)."""
    nd = input.ndim
    if nd < 1:
        raise ValueError(f"Expected 1 or more dimensions (got {nd})")
    if nd != 1 and input.shape[0] != (target.shape[0] if target.ndim else 0):
        raise ValueError(f"Expected input batch_size ({input.shape[0]}) to match target "
                         f"batch_size ({target.shape[0] if target.ndim else 0}).")
    if nd <= 2:
        if target.ndim > 1:
            raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
        if nd == 1 and target.ndim == 1 and target.shape[0] != 1:
            raise ValueError("For 1D input, 1D target must have size 1, but got target size: "
                             f"{target.shape[0]}")
    elif nd == 4:
        if target.ndim != 3:
            raise RuntimeError("only batches of spatial targets supported (3D tensors) but got "
                               f"targets of dimension: {target.ndim}")
        if tuple(target.shape[1:]) != tuple(input.shape[2:]):
            raise RuntimeError(f"size mismatch (got input: {list(input.shape)} , target: "
                               f"{list(target.shape)}")
    elif tuple(target.shape[1:]) != tuple(input.shape[2:]):
        raise RuntimeError(f"Expected target size {[input.shape[0], *input.shape[2:]]}, got "
                           f"{list(target.shape)}")
    if target._data.dtype not in _INDEX_TARGETS:
        raise RuntimeError("expected target dtype to be Long or Byte, but got "
                           f"{_type_name(target.dtype)}")
    c = input.shape[0 if nd == 1 else 1]
    if weight is not None:
        if weight.ndim != 1 or weight.numel() != c:
            raise RuntimeError(f"weight tensor should be defined either for all {c} classes or no "
                               f"classes but got weight tensor of shape: {list(weight.shape)}")
        if weight.dtype != input.dtype:
            raise RuntimeError(f"expected scalar type {_type_name(input.dtype)} but found "
                               f"{_type_name(weight.dtype)}")


def _pick_targets(x2, target: Tensor, weight: Tensor | None, ignore_index: int):
    """For scores x2 of shape (N, C, ...): (index array (N, 1, ...), per-row weight (N, ...)).

    Ignored rows get weight 0 (and index 0); other targets must lie in [0, C)."""
    xp = _xp(x2)
    t = target._data.reshape((x2.shape[0], *x2.shape[2:])).astype(np.int64, copy=False)
    keep = t != ignore_index
    c = x2.shape[1]
    bad = keep & ((t < 0) | (t >= c))
    if bad.any():
        raise IndexError(f"Target {int(t[bad][0])} is out of bounds.")
    idx = xp.where(keep, t, 0)
    w = keep.astype(x2.dtype) if weight is None else xp.where(keep, _wide(weight._data)[idx], 0)
    return idx[:, None], w


def _row_coef(ctx):
    """d loss / d log-probability of each row's target: -weight (over the summed weight for
    'mean'; rows count 0 when every target is ignored)."""
    if ctx.reduction != "mean":
        return -ctx.w
    return -ctx.w / ctx.total if ctx.total else ctx.w * 0


def _one_hot(idx, shape, dtype):
    """1 where the class (dim 1) equals idx (N, 1, ...), else 0, as `dtype`."""
    xp = _xp(idx)
    classes = xp.arange(shape[1]).reshape(1, -1, *([1] * (len(shape) - 2)))
    return (idx == classes).astype(dtype)


def _as_batch(x):
    """A 1-D (C,) input as a batch of one (1, C)."""
    return x.reshape(1, -1) if x.ndim == 1 else x


class NllLoss(Function):
    """-weight[t] * input[n, t, ...] for class indices t, over any extra dims; ignored
    targets count with weight 0. Linear in input, so backward scatters constants."""

    _node_name = "NllLossBackward0"

    @staticmethod
    def forward(ctx, input, target, weight, reduction, ignore_index):
        x = _as_batch(_wide(input._data))
        idx, w = _pick_targets(x, target, weight, ignore_index)
        xp = _xp(x)
        loss = -w * xp.take_along_axis(x, idx, axis=1)[:, 0]
        total = w.sum()
        if reduction == "mean":
            loss = _silent(lambda: loss.sum() / total)
        elif reduction == "sum":
            loss = loss.sum()
        elif input.ndim == 1:
            loss = loss.reshape(())
        ctx.reduction, ctx.idx, ctx.w, ctx.total = reduction, idx, w, total
        ctx.shape, ctx.in_shape = x.shape, input._data.shape
        return _make(loss.astype(input._data.dtype, copy=False))

    @staticmethod
    def backward(ctx, grad):
        dt = grad._data.dtype
        g = _make(_row_coef(ctx).astype(dt, copy=False)) * grad
        onehot = _one_hot(ctx.idx, ctx.shape, dt)
        gi = _make(onehot) * g.reshape(ctx.shape[0], 1, *ctx.shape[2:])
        return gi.reshape(ctx.in_shape), None, None, None, None


def _nll(input: Tensor, target: Tensor, weight, reduction: str, ignore_index: int) -> Tensor:
    _no_grad_arg(weight, "nll_loss_forward", "weight")
    _check_class_target(input, target, weight)
    return NllLoss.apply(input, target, weight, reduction, ignore_index)


def nll_loss(input: Tensor, target: Tensor, weight: Tensor | None = None, size_average=None,
             ignore_index: int = -100, reduce=None, reduction: str = "mean") -> Tensor:
    """-input[n, target[n], ...] (log-probabilities in, class indices as targets); the mean
    divides by the summed weight of the targets that are not `ignore_index`."""
    if _AUTOCAST: input, target, weight = autocast_fp32(input, target, weight)
    return _nll(input, target, weight, _reduction(reduction, size_average, reduce), ignore_index)


class CrossEntropy(Function):
    """log_softmax + nll_loss for class-index targets as one node.

    The output's grad_fn reads NllLossBackward0, as it does in torch (whose graph has a
    separate LogSoftmaxBackward0 behind it)."""

    _node_name = "NllLossBackward0"

    @staticmethod
    def forward(ctx, input, target, weight, reduction, ignore_index):
        x = _as_batch(_wide(input._data))
        idx, w = _pick_targets(x, target, weight, ignore_index)
        xp = _xp(x)
        with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
            shifted = x - x.max(axis=1, keepdims=True) if x.size else x
            e = xp.exp(shifted)
            s = e.sum(axis=1, keepdims=True)
            logp = xp.take_along_axis(shifted, idx, axis=1) - xp.log(s)
            loss = -w * logp[:, 0]
            total = w.sum()
            if reduction == "mean":
                loss = loss.sum() / total
            elif reduction == "sum":
                loss = loss.sum()
            elif input.ndim == 1:
                loss = loss.reshape(())
            e /= s  # the softmax, for a backward that records no graph
        ctx.reduction, ctx.idx, ctx.w, ctx.total = reduction, idx, w, total
        # saved like a tensor so that backward (without retain_graph) releases it
        ctx.save_for_backward(input, _make(e))
        return _make(loss.astype(input._data.dtype, copy=False))

    @staticmethod
    def backward(ctx, grad):
        input, softmax = ctx.saved_tensors
        p = softmax._data
        shape = p.shape
        dt = input._data.dtype
        if _state.enabled:  # create_graph: the softmax must be differentiable in the input
            prob = input.softmax(0 if input.ndim == 1 else 1).reshape(shape)
        else:
            prob = _make(p if p.dtype == dt else p.astype(dt))
        g = _make(_row_coef(ctx).astype(dt, copy=False)) * grad
        onehot = _one_hot(ctx.idx, shape, dt)
        gi = (_make(onehot) - prob) * g.reshape(shape[0], 1, *shape[2:])
        return gi.reshape(input.shape), None, None, None, None


def _class_weight_view(weight: Tensor, ndim: int) -> Tensor:
    """weight (C,) shaped to broadcast along the class dim of an ndim input."""
    return weight if ndim == 1 else weight.reshape(1, -1, *([1] * (ndim - 2)))


def cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None,
                  size_average=None, ignore_index: int = -100, reduce=None,
                  reduction: str = "mean", label_smoothing: float = 0.0) -> Tensor:
    """log_softmax over the class dim (1, or 0 for a 1-D input) followed by the NLL loss.

    `target` holds class indices (shape (N, d1, ...)) or, with input's shape, class
    probabilities. With `label_smoothing` e the target mixes in e / C of each class."""
    if _AUTOCAST: input, target, weight = autocast_fp32(input, target, weight)
    reduction = _reduction(reduction, size_average, reduce)
    cdim = 0 if input.ndim == 1 else 1
    if not input.dtype.is_floating_point:
        raise NotImplementedError('"log_softmax_lastdim_kernel_impl" not implemented for '
                                  f"'{_type_name(input.dtype)}'")
    if input.shape == target.shape:
        return _cross_entropy_probs(input, target, weight, reduction, ignore_index,
                                    label_smoothing, cdim)
    if label_smoothing > 0.0:
        if label_smoothing > 1.0:
            raise RuntimeError(f"label_smoothing must be between 0.0 and 1.0. Got: "
                               f"{label_smoothing}")
        return _cross_entropy_smoothed(input, target, weight, reduction, ignore_index,
                                       label_smoothing, cdim)
    _no_grad_arg(weight, "nll_loss_forward", "weight")
    _check_class_target(input, target, weight)
    return CrossEntropy.apply(input, target, weight, reduction, ignore_index)


def _cross_entropy_probs(input, target, weight, reduction, ignore_index, label_smoothing, cdim):
    if not target.dtype.is_floating_point:
        raise RuntimeError("Expected floating point type for target with class probabilities, "
                           f"got {_type_name(target.dtype)}")
    if ignore_index >= 0:
        raise RuntimeError("ignore_index is not supported for floating point target")
    c = input.shape[cdim]
    if weight is not None and (weight.ndim != 1 or weight.numel() != c):
        raise RuntimeError(f"cross_entropy: weight tensor should be defined either for all {c} "
                           "classes or no classes but got weight tensor of shape: "
                           f"{list(weight.shape)}")
    logp = input.log_softmax(cdim)
    if label_smoothing > 0.0:
        if label_smoothing > 1.0:
            raise RuntimeError(f"label_smoothing must be between 0.0 and 1.0. Got: "
                               f"{label_smoothing}")
        target = target * (1 - label_smoothing) + label_smoothing / c
    prod = logp * target
    if weight is not None:
        prod = prod * _class_weight_view(weight, input.ndim)
    if reduction == "none":
        return -prod.sum(cdim)
    if reduction == "sum":
        return -prod.sum()
    if input.numel() == 0:
        return -prod.sum().fill_(math.nan)
    return -prod.sum() / (input.numel() // c)


def _cross_entropy_smoothed(input, target, weight, reduction, ignore_index, label_smoothing,
                            cdim):
    c = input.shape[cdim]
    logp = input.log_softmax(cdim)
    nll = _nll(logp, target, weight, reduction, ignore_index)
    ignored = target == ignore_index
    if weight is not None:
        smooth = -(logp * _class_weight_view(weight, input.ndim)).sum(cdim)
    else:
        smooth = -logp.sum(cdim)
    smooth = smooth.masked_fill(ignored, 0.0)
    if reduction == "mean":
        if weight is not None:
            kept = target[~ignored].reshape(-1)
            ret = smooth.sum() / weight.gather(0, kept).sum()
        else:
            ret = smooth.sum() / (~ignored).sum()
    elif reduction == "sum":
        ret = smooth.sum()
    else:
        ret = smooth
    return (1 - label_smoothing) * nll + ret * (label_smoothing / c)


def multilabel_soft_margin_loss(input: Tensor, target: Tensor, weight: Tensor | None = None,
                                size_average=None, reduce=None, reduction: str = "mean") -> Tensor:
    """Per-class binary logistic losses averaged over the classes (last dim)."""
    if size_average is not None or reduce is not None:
        reduction = _legacy_reduction(size_average, reduce)
    loss = -(target * _log_sigmoid(input) + (1 - target) * _log_sigmoid(-input))
    if weight is not None:
        loss = loss * weight
    class_dim = input.ndim - 1
    loss = loss.sum(class_dim) / input.shape[class_dim]
    if reduction == "none":
        return loss
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    raise ValueError(reduction + " is not valid")


# ----------------------------------------------------------------- distributions
class _XLogX(Function):
    """t * log(t), 0 where t is 0 (torch.xlogy(t, t))."""

    _node_name = "XlogyBackward0"

    @staticmethod
    def forward(ctx, t):
        x = t._data
        xp = _xp(x)
        with np.errstate(divide="ignore", invalid="ignore"):
            out = xp.where(x == 0, 0, x * xp.log(x))
        ctx.save_for_backward(t)
        return _make(out.astype(x.dtype, copy=False))

    @staticmethod
    def backward(ctx, grad):
        (t,) = ctx.saved_tensors
        # xlogy's two partials: log(t) (0 where t is 0) and t / t (NaN at 0), as torch sums them
        return grad * (where(t == 0, t.new_zeros(()), t.log()) + t / t)


def kl_div(input: Tensor, target: Tensor, size_average=None, reduce=None, reduction: str = "mean",
           log_target: bool = False) -> Tensor:
    """Pointwise KL divergence target * (log target - input), input given as log-probabilities;
    'batchmean' divides the sum by the batch size."""
    if _AUTOCAST: input, target = autocast_fp32(input, target)
    if size_average is not None or reduce is not None:
        reduction = _legacy_reduction(size_average, reduce)
    else:
        if reduction == "mean":
            warnings.warn("reduction: 'mean' divides the total loss by both the batch size and "
                          "the support size.'batchmean' divides only by the batch size, and "
                          "aligns with the KL div math definition.'mean' will be changed to "
                          "behave the same as 'batchmean' in the next major release.",
                          UserWarning, stacklevel=2)
        if reduction != "batchmean":
            reduction = _reduction(reduction)
    if not input.dtype.is_floating_point or not target.dtype.is_floating_point:
        raise RuntimeError("kl_div: Integral inputs not supported.")
    if log_target:
        loss = target.exp() * (target - input)
    else:
        loss = _XLogX.apply(target) - target * input
    if reduction == "batchmean":
        out = loss.sum()
        return out / input.shape[0] if input.ndim != 0 else out
    return _reduce(loss, reduction)


def poisson_nll_loss(input: Tensor, target: Tensor, log_input: bool = True, full: bool = False,
                     size_average=None, eps: float = 1e-8, reduce=None,
                     reduction: str = "mean") -> Tensor:
    """Negative log-likelihood of a Poisson target: exp(input) - target * input for log-rates
    (rate - target * log(rate + eps) otherwise); `full` adds the Stirling term."""
    if _AUTOCAST: input, target = autocast_fp32(input, target)
    if size_average is not None or reduce is not None:
        reduction = _legacy_reduction(size_average, reduce)
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(reduction + " is not a valid value for reduction")
    if log_input:
        loss = input.exp() - target * input
    else:
        loss = input - target * (input + eps).log()
    if full:
        stirling = target * target.log() - target + 0.5 * (2 * math.pi * target).log()
        loss = loss + stirling.masked_fill(target <= 1, 0)
    return _reduce(loss, reduction)


def gaussian_nll_loss(input: Tensor, target: Tensor, var, full: bool = False, eps: float = 1e-6,
                      reduction: str = "mean") -> Tensor:
    """Negative log-likelihood of target under N(input, var); var is clamped to at least eps
    without blocking its gradient, and may omit one broadcast dim (homoscedastic case)."""
    if not isinstance(var, (float, Tensor)):
        raise TypeError(f"gaussian_nll_loss(): var must be a Tensor or a float, not "
                        f"{type(var).__name__}")
    if isinstance(var, float):
        if var < 0:
            raise ValueError("var has negative entry/entries")
        var = var * input.new_ones(input.shape)
    elif bool((var < 0).any()):
        raise ValueError("var has negative entry/entries")
    if var.shape != input.shape:
        if tuple(input.shape[:-1]) == tuple(var.shape):
            var = var.unsqueeze(-1)
        elif input.ndim == var.ndim and sum(
                b for a, b in zip(input.shape, var.shape) if a != b) == 1:
            pass
        else:
            raise ValueError("var is of incorrect size")
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(reduction + " is not valid")
    var = var.clone()
    from ember.autograd.grad_mode import no_grad
    with no_grad():
        var.clamp_(min=eps)
    loss = 0.5 * (var.log() + (input - target) ** 2 / var)
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return _reduce(loss, reduction)


# ----------------------------------------------------------------- CTC
def _lse3(a, b, c, xp):
    """log(exp(a) + exp(b) + exp(c)) elementwise; -inf where all three are -inf."""
    m = xp.maximum(xp.maximum(a, b), c)
    m = xp.where(m == -np.inf, 0, m)
    return xp.log(xp.exp(a - m) + xp.exp(b - m) + xp.exp(c - m)) + m


class CtcLoss(Function):
    """Per-sample CTC negative log-likelihood over log_probs (T, N, C).

    Forward runs the alpha recursion in log space, vectorised over the batch and the
    extended label sequence (blank, l1, blank, l2, ..., blank); one Python step per time
    step. Backward runs the beta recursion the same way and forms torch's gradient
    exp(log_probs) - exp(log(sum alpha*beta over a class's positions) + nll - log_probs),
    which assumes log_probs are normalised (as they are after log_softmax)."""

    _node_name = "CtcLossBackward0"

    @staticmethod
    def forward(ctx, log_probs, targets, input_lengths, target_lengths, blank, zero_infinity):
        lp = log_probs._data
        xp = _xp(lp)
        big_t, n, _ = lp.shape
        max_len = int(target_lengths.max()) if n else 0
        s = 2 * max_len + 1
        ext = xp.full((n, s), blank, dtype=np.int64)
        # labels past a sample's target length are padding (any value): blanks here
        ext[:, 1::2] = xp.where(xp.arange(max_len) < target_lengths[:, None],
                                targets[:, :max_len], blank)
        skip = xp.zeros((n, s), dtype=bool)  # may alpha jump from s-2 to s?
        skip[:, 2:] = (ext[:, 2:] != blank) & (ext[:, 2:] != ext[:, :-2])
        emit = xp.take_along_axis(lp, xp.broadcast_to(ext[None], (big_t, n, s)), axis=2)
        ninf = -np.inf
        alpha = xp.full((big_t, n, s), ninf, dtype=lp.dtype)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            if big_t:
                alpha[0, :, 0] = emit[0, :, 0]
                if s > 1:
                    alpha[0, :, 1] = xp.where(target_lengths > 0, emit[0, :, 1], ninf)
            pad1 = xp.full((n, 1), ninf, dtype=lp.dtype)
            pad2 = xp.full((n, 2), ninf, dtype=lp.dtype)
            for t in range(1, big_t):
                prev = alpha[t - 1]
                one = xp.concatenate([pad1, prev], axis=1)[:, :s]
                two = xp.where(skip, xp.concatenate([pad2, prev], axis=1)[:, :s], ninf)
                alpha[t] = _lse3(prev, one, two, xp) + emit[t]
            rows = xp.arange(n)
            last = alpha[xp.maximum(input_lengths - 1, 0), rows]  # (N, S) at each end time
            end = last[rows, 2 * target_lengths]
            before = xp.where(target_lengths > 0,
                              last[rows, xp.maximum(2 * target_lengths - 1, 0)], ninf)
            ll = xp.logaddexp(end, before)
            # an empty input explains only an empty target
            ll = xp.where(input_lengths == 0, xp.where(target_lengths == 0, 0.0, ninf), ll)
        nll = (-ll).astype(lp.dtype)
        ctx.ext, ctx.skip, ctx.nll = ext, skip, nll
        ctx.lengths = (input_lengths, target_lengths)
        ctx.zero_infinity = zero_infinity
        # the (T, N, S) arrays are saved like tensors so that backward releases them
        ctx.save_for_backward(log_probs, _make(alpha), _make(emit))
        return _make(nll)

    @staticmethod
    def backward(ctx, grad):
        log_probs, alpha, emit = ctx.saved_tensors
        lp, alpha, emit = log_probs._data, alpha._data, emit._data
        xp = _xp(lp)
        ext, skip, nll = ctx.ext, ctx.skip, ctx.nll
        il, tl = ctx.lengths
        big_t, n, c = lp.shape
        s = ext.shape[1]
        ninf = -np.inf
        beta = xp.full((big_t, n, s), ninf, dtype=lp.dtype)
        skip_ahead = xp.zeros((n, s), dtype=bool)  # may beta take from s+2?
        skip_ahead[:, :-2] = skip[:, 2:]
        pos = xp.arange(s)[None]
        is_end = (pos == 2 * tl[:, None]) | ((pos == 2 * tl[:, None] - 1) & (tl[:, None] > 0))
        pad1 = xp.full((n, 1), ninf, dtype=lp.dtype)
        pad2 = xp.full((n, 2), ninf, dtype=lp.dtype)
        nxt = xp.full((n, s), ninf, dtype=lp.dtype)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            for t in range(big_t - 1, -1, -1):
                one = xp.concatenate([nxt, pad1], axis=1)[:, 1:]
                two = xp.where(skip_ahead, xp.concatenate([nxt, pad2], axis=1)[:, 2:], ninf)
                cur = _lse3(nxt, one, two, xp) + emit[t]
                start = (il - 1 == t)[:, None]
                cur = xp.where(start, xp.where(is_end, emit[t], ninf), cur)
                beta[t] = cur
                nxt = cur
            ab = alpha + beta
            m = ab.max(axis=2, keepdims=True) if s else xp.zeros((big_t, n, 1), lp.dtype)
            m = xp.where(m == ninf, 0, m)
            onehot = (ext[:, :, None] == xp.arange(c)[None, None]).astype(lp.dtype)  # (N, S, C)
            summed = xp.matmul(xp.exp(ab - m).transpose(1, 0, 2), onehot).transpose(1, 0, 2)
            lcab = xp.log(summed) + m
            g = xp.exp(lp) - xp.exp(lcab + nll[None, :, None] - lp)
        g[xp.arange(big_t)[:, None] >= il[None, :]] = 0
        if ctx.zero_infinity:
            g[:, nll == np.inf] = 0
        return _make(g) * grad.reshape(1, n, 1), None, None, None, None, None


def _lengths(lengths, name: str, xp):
    if isinstance(lengths, Tensor):
        arr = lengths._data.reshape(-1)
        arr = arr if isinstance(arr, np.ndarray) else arr.get()
    else:
        arr = np.asarray(lengths).reshape(-1)
    return xp.asarray(arr.astype(np.int64))


def ctc_loss(log_probs: Tensor, targets: Tensor, input_lengths, target_lengths, blank: int = 0,
             reduction: str = "mean", zero_infinity: bool = False) -> Tensor:
    """Connectionist Temporal Classification loss of log_probs (T, N, C) (or (T, C)) against
    targets padded (N, S) or concatenated (sum(target_lengths),); 'mean' divides each
    sample's loss by its target length, then averages; `zero_infinity` zeroes impossible
    alignments (and their gradients)."""
    if _AUTOCAST: log_probs, = autocast_fp32(log_probs)
    reduction = _reduction(reduction)
    batched = log_probs.ndim == 3
    lp = log_probs if batched else log_probs.unsqueeze(1)
    if lp.dtype not in (_dt.float32, _dt.float64):
        raise NotImplementedError(f'"ctc_loss_cpu" not implemented for '
                                  f"'{_type_name(lp.dtype)}'")
    xp = _xp(lp._data)
    big_t, n, c = lp.shape
    il = _lengths(input_lengths, "input_lengths", xp)
    tl = _lengths(target_lengths, "target_lengths", xp)
    if not 0 <= blank < c:
        raise RuntimeError("blank must be in label range")
    if il.shape[0] != n:
        raise RuntimeError("input_lengths must be of size batch_size")
    if tl.shape[0] != n:
        raise RuntimeError("target_lengths must be of size batch_size")
    tg = targets._data.astype(np.int64)
    if not batched and tg.ndim == 1:
        tg = tg[None]
    max_len = int(tl.max()) if n else 0
    if tg.ndim == 1:  # concatenated targets: pad them into rows
        total = int(tl.sum())
        if tg.shape[0] != total:
            raise RuntimeError(f"Expected tensor to have size {total} at dimension 0, but got size "
                               f"{tg.shape[0]} for argument #2 'targets' (while checking "
                               "arguments for ctc_loss_allocate_outputs)")
        starts = xp.cumsum(tl) - tl
        cols = xp.arange(max_len)[None]
        take = xp.minimum(starts[:, None] + cols, max(total - 1, 0))
        tg = xp.where(cols < tl[:, None], tg[take] if total else 0, blank)
    elif tg.shape[1] < max_len:
        raise RuntimeError(f"Expected tensor to have size at least {max_len} at dimension 1, but "
                           f"got size {tg.shape[1]} for argument #2 'targets' (while checking "
                           "arguments for ctc_loss_allocate_outputs)")
    if n and int(il.max()) > big_t:
        raise RuntimeError(f"Expected input_lengths to have value at most {big_t}, but got value "
                           f"{int(il.max())} (while checking arguments for "
                           "ctc_loss_allocate_outputs)")
    res = CtcLoss.apply(lp, tg, il, tl, blank, zero_infinity)
    if zero_infinity:
        res = where(res == math.inf, res.new_zeros(()), res)
    if reduction == "mean":
        return (res / _make(tl.astype(res._data.dtype)).clamp_min(1)).mean()
    if reduction == "sum":
        return res.sum()
    return res if batched else res.squeeze(0)
