"""logsumexp, softmax and log_softmax: the max-shifted exponentials, computed stably.

Each subtracts the maximum along the reduced dim before exponentiating, so large
inputs never overflow and rows of -inf give torch's results (-inf for
logsumexp, NaN for softmax). Half and bfloat16 inputs compute in float32.
"""
from __future__ import annotations

import numpy as np

from ember._ops.inplace import _type_name
from ember._ops.pointwise import _float_array
from ember._ops.reduction import SumDim, _acc, _axes, _back, _count, _kept_shape, _restore, _xp
from ember._ops.shape import _wrap_dim
from ember._tensor import Tensor, _make
from ember.autograd.function import Function

__all__ = ["logsumexp", "softmax", "log_softmax"]


class Logsumexp(Function):
    _node_name = "LogsumexpBackward0"

    @staticmethod
    def forward(ctx, a, axes, keepdim):
        x = _float_array(a)  # integers compute in the default float dtype
        ctx.shape, ctx.axes, ctx.keepdim = x.shape, axes, keepdim
        xp = _xp(x)
        xa = _acc(x)
        if _count(x.shape, axes) == 0:  # log of an empty sum
            out = xp.full(_kept_shape(x.shape, axes) if keepdim else
                          tuple(s for i, s in enumerate(x.shape) if i not in axes),
                          -np.inf, dtype=x.dtype)
        else:
            with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
                m = xa.max(axis=axes, keepdims=True)
                m = xp.where(xp.isinf(m), 0, m)  # all -inf (or an inf) must not give inf - inf
                e = xp.exp(xa - m)
                out = xp.log(e.sum(axis=axes, keepdims=True))
                out += m
            out = _back(out if keepdim else out.reshape(
                tuple(s for i, s in enumerate(x.shape) if i not in axes)), x)
        result = _make(out)
        ctx.save_for_backward(a, result)
        return result

    @staticmethod
    def backward(ctx, grad):
        a, out = ctx.saved_tensors
        g = _restore(grad, ctx.shape, ctx.axes, ctx.keepdim)
        o = _restore(out, ctx.shape, ctx.axes, ctx.keepdim)
        return g * (a - o).exp(), None, None


def logsumexp(input: Tensor, dim, keepdim: bool = False) -> Tensor:
    """log(sum(exp(input))) over `dim`, computed stably (rows of -inf give -inf)."""
    return Logsumexp.apply(input, _axes(dim, input._data.ndim), keepdim)


def _softmax_input(name: str, input: Tensor, dim, dtype):
    if dtype is not None:
        input = input.to(dtype)
    elif not input.dtype.is_floating_point:
        raise NotImplementedError(f'"{name}_kernel_impl" not implemented for '
                                  f"'{_type_name(input.dtype)}'")
    if not isinstance(dim, (int, np.integer)):
        raise TypeError(f"{name}(): argument 'dim' (position 1) must be int, not "
                        f"{type(dim).__name__}")
    return input, _wrap_dim(dim, input._data.ndim)


class Softmax(Function):
    _node_name = "SoftmaxBackward0"

    @staticmethod
    def forward(ctx, a, d):
        x = a._data
        ctx.d = d
        xa = _acc(x)
        if xa.ndim == 0:
            xa = xa.reshape(1)
        xp = _xp(x)
        with np.errstate(invalid="ignore", over="ignore"):
            e = xa - xa.max(axis=d, keepdims=True) if xa.size else xa.copy()
            e = xp.exp(e, out=e)
            e /= e.sum(axis=d, keepdims=True)
        out = _make(_back(e.reshape(x.shape), x))
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (y,) = ctx.saved_tensors
        return y * (grad - SumDim.apply(grad * y, _axes(ctx.d, y.ndim), True, None)), None


def softmax(input: Tensor, dim, dtype=None) -> Tensor:
    """exp(input) normalised to sum to one along `dim`; `dtype` casts the input first."""
    input, d = _softmax_input("softmax", input, dim, dtype)
    return Softmax.apply(input, d)


class LogSoftmax(Function):
    _node_name = "LogSoftmaxBackward0"

    @staticmethod
    def forward(ctx, a, d):
        x = a._data
        ctx.d = d
        xa = _acc(x)
        if xa.ndim == 0:
            xa = xa.reshape(1)
        xp = _xp(x)
        with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
            s = xa - xa.max(axis=d, keepdims=True) if xa.size else xa.copy()
            s -= xp.log(xp.exp(s).sum(axis=d, keepdims=True))
        out = _make(_back(s.reshape(x.shape), x))
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (y,) = ctx.saved_tensors
        return grad - y.exp() * SumDim.apply(grad, _axes(ctx.d, y.ndim), True, None), None


def log_softmax(input: Tensor, dim, dtype=None) -> Tensor:
    """log(softmax(input)) along `dim`, computed without forming the softmax."""
    input, d = _softmax_input("log_softmax", input, dim, dtype)
    return LogSoftmax.apply(input, d)
