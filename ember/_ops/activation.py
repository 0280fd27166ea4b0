"""Activation functions (torch.nn.functional): forward kernels and their derivatives.

Each smooth or piecewise activation f is a `Function` whose forward works on the
raw arrays: one or two passes for the piecewise ones, and for the kernels of many
steps (gelu, silu, mish, elu ...) a pass over cache-sized blocks (`_blockwise`).
Its backward is itself an op, `ActivationBackward` (torch's `GeluBackwardBackward0`,
`EluBackwardBackward0` ... nodes), that computes grad * f'(x) in one fused pass
from the activation's `derivative` array kernel; its own backward uses the
activation's `second` derivative written with ember ops, so gradients of
gradients work to any order.

float16/bfloat16 inputs compute in float32 and are rounded once at the end, and
constants stay Python floats so float32 work never widens to float64.
Kinks follow torch: relu'(0) = 0, hardtanh' is 0 on its boundaries, elu takes
its negative branch at 0, the shrinks are flat on their closed dead zone.
"""
from __future__ import annotations

import math

import numpy as np

from ember import _dtype as _dt
from ember._ops import pointwise as _pw
from ember._ops.inplace import _type_name, apply_inplace
from ember._ops.pointwise import (
    _erf_kernel,
    _not_implemented,
    _opmath,
    _silent,
    _xp,
    where,
)
from ember._ops.shape import _wrap_dim, cat
from ember._ops.softmax import softmax
from ember._tensor import Tensor, _make
from ember.amp.autocast_mode import _AUTOCAST, autocast_lower
from ember.autograd.function import Function
from ember.autograd.grad_mode import _state

__all__ = [
    "relu", "relu_", "relu6", "leaky_relu", "leaky_relu_", "prelu", "elu", "elu_", "selu",
    "selu_", "celu", "celu_", "gelu", "silu", "mish", "hardtanh", "hardtanh_", "hardsigmoid",
    "hardswish", "softplus", "softsign", "softmin", "glu", "threshold", "threshold_", "rrelu",
    "rrelu_",
    "logsigmoid", "tanhshrink", "softshrink", "hardshrink", "sigmoid", "tanh",
]

_SQRT_HALF = math.sqrt(0.5)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_K_TANH = math.sqrt(2.0 / math.pi)  # the tanh approximation of gelu: tanh(k (x + c x^3))
_C_TANH = 0.044715
_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946
# torch's hardsigmoid derivative uses 1/6 rounded to float32
_SIXTH = float(np.float32(1.0 / 6.0))
_BLOCK = 1 << 15  # elements per block of the multi-step kernels (see _blockwise)


def _need_float(a: Tensor, kernel: str) -> None:
    if a.dtype._category != 2:
        raise _not_implemented(kernel, a.dtype)


def _work(a: Tensor):
    """a's array ready for a multi-step kernel: half dtypes widened to float32, and at
    least 1-d so that in-place array steps (out=...) always have an array to write to."""
    x = _opmath(a._data)
    return x.reshape(1) if x.ndim == 0 else x


def _blockwise(kernel, x, params, g=None):
    """kernel(x, *params), times g when given, over 32K-element blocks of a large NumPy x.

    Kernels of many array steps are memory-bound on big tensors; on blocks their
    temporaries stay in cache. (A loop over blocks, never over elements.)"""
    if x.size <= _BLOCK or x.__class__ is not np.ndarray:
        r = _silent(kernel, x, *params)
        return r if g is None else g * r
    xf = x.reshape(-1)
    gf = None if g is None else g.reshape(-1)
    out = np.empty(xf.shape, x.dtype if g is None else np.result_type(g.dtype, x.dtype))
    for i in range(0, xf.size, _BLOCK):
        r = _silent(kernel, xf[i:i + _BLOCK], *params)
        out[i:i + _BLOCK] = r if gf is None else gf[i:i + _BLOCK] * r
    return out.reshape(x.shape)


def _out(result, like):
    """A kernel result in the input's dtype and shape (float32 rounded back to half)."""
    if result.dtype != like.dtype:
        result = result.astype(like.dtype)
    return result.reshape(()) if like.ndim == 0 else result


class ActivationBackward(Function):
    """grad * f'(x) for the activation class `op`: the backward of every activation below.

    Being an op of its own (as in torch) keeps the first backward one fused pass while
    still recording a graph under create_graph=True.
    """

    @staticmethod
    def forward(ctx, grad, a, op, params):
        ctx._node_name = op._grad_node
        ctx.op, ctx.params = op, params
        ctx.save_for_backward(grad, a)
        g = grad._data
        x = _work(a)
        if g.shape != x.shape:
            g = _xp(g).broadcast_to(g, x.shape)
        return _make(_out(_blockwise(op.derivative, x, params, g), g))

    @staticmethod
    def backward(ctx, gg):
        grad, a = ctx.saved_tensors
        op, params = ctx.op, ctx.params
        need = ctx.needs_input_grad
        # d/dgrad (grad * f'(x)) = f'(x): the same op applied to gg.
        g_grad = ActivationBackward.apply(gg, a, op, params) if need[0] else None
        g_a = None
        if need[1]:
            second = op.second(a, *params)
            g_a = None if second is None else gg * grad * second
        return g_grad, g_a, None, None


# ----------------------------------------------------------------- piecewise linear
class Hardtanh(Function):
    _node_name = "HardtanhBackward0"
    _grad_node = "HardtanhBackwardBackward0"

    @staticmethod
    def forward(ctx, a, lo, hi):
        ctx.params = (lo, hi)
        ctx.save_for_backward(a)
        x = a._data
        if x.dtype.kind in "iu":  # torch keeps integer tensors integer
            return _make(_xp(x).clip(x, math.ceil(lo), math.floor(hi)).astype(x.dtype))
        return _make(_out(_opmath(x).clip(lo, hi), x))

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return ActivationBackward.apply(grad, a, Hardtanh, ctx.params), None, None

    @staticmethod
    def derivative(x, lo, hi):
        return (x > lo) & (x < hi)

    @staticmethod
    def second(a, lo, hi):
        return None


def hardtanh(input: Tensor, min_val: float = -1.0, max_val: float = 1.0,
             inplace: bool = False) -> Tensor:
    """input clipped to [min_val, max_val]; the gradient is zero on and beyond the bounds."""
    if min_val > max_val:
        raise ValueError("min_val cannot be greater than max_val")
    if inplace:
        return hardtanh_(input, min_val, max_val)
    if input.dtype is _dt.bool:
        raise RuntimeError("Bool inputs not supported for hardtanh")
    return Hardtanh.apply(input, float(min_val), float(max_val))


def hardtanh_(input: Tensor, min_val: float = -1.0, max_val: float = 1.0) -> Tensor:
    return apply_inplace(input, hardtanh, min_val, max_val)


def relu6(input: Tensor, inplace: bool = False) -> Tensor:
    """min(max(input, 0), 6): torch computes it as hardtanh(input, 0, 6)."""
    return hardtanh(input, 0.0, 6.0, inplace)


def relu(input: Tensor, inplace: bool = False) -> Tensor:
    """max(input, 0); integer tensors stay integer."""
    return _pw.relu_(input) if inplace else _pw.Relu.apply(input)


relu_ = _pw.relu_


class Threshold(Function):
    _node_name = "ThresholdBackward0"
    _grad_node = "ThresholdBackwardBackward0"

    @staticmethod
    def forward(ctx, a, th, value):
        ctx.params = (th,)
        ctx.save_for_backward(a)
        x = a._data
        return _make(_xp(x).where(x > th, x, _xp(x).asarray(value, x.dtype)))

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return ActivationBackward.apply(grad, a, Threshold, ctx.params), None, None

    @staticmethod
    def derivative(x, th):
        return x > th

    @staticmethod
    def second(a, th):
        return None


def threshold(input: Tensor, threshold: float, value: float, inplace: bool = False) -> Tensor:
    """input where input > threshold, else value."""
    if inplace:
        return threshold_(input, threshold, value)
    if input.dtype is _dt.bool:
        raise _not_implemented("threshold_cpu", input.dtype)
    return Threshold.apply(input, threshold, value)


_threshold = threshold  # reachable inside functions whose argument is named threshold


def threshold_(input: Tensor, threshold: float, value: float) -> Tensor:
    return apply_inplace(input, _threshold, threshold, value)


class LeakyRelu(Function):
    _node_name = "LeakyReluBackward0"
    _grad_node = "LeakyReluBackwardBackward0"

    @staticmethod
    def forward(ctx, a, slope):
        ctx.params = (slope,)
        ctx.save_for_backward(a)
        x = _opmath(a._data)
        xp = _xp(x)
        if 0.0 <= slope <= 1.0:  # the larger (smaller) of x and slope * x: two passes
            y = xp.maximum(x, x * slope)
        elif slope > 1.0:
            y = xp.minimum(x, x * slope)
        else:
            y = xp.where(x > 0, x, x * slope)
        return _make(_out(y, a._data))

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return ActivationBackward.apply(grad, a, LeakyRelu, ctx.params), None

    @staticmethod
    def derivative(x, slope):
        return _xp(x).where(x > 0, 1.0, slope).astype(x.dtype)

    @staticmethod
    def second(a, slope):
        return None


def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    """input where positive, negative_slope * input elsewhere."""
    if inplace:
        return leaky_relu_(input, negative_slope)
    _need_float(input, "leaky_relu_cpu")
    return LeakyRelu.apply(input, float(negative_slope))


def leaky_relu_(input: Tensor, negative_slope: float = 0.01) -> Tensor:
    return apply_inplace(input, leaky_relu, negative_slope)


class RreluWithNoise(Function):
    """input times a slope drawn per negative element (1 where positive): the slopes are
    a constant of the op, so its derivative is the same product."""

    _node_name = "RreluWithNoiseBackward0"

    @staticmethod
    def forward(ctx, a, noise):
        ctx.noise = noise
        return _make(_out(_opmath(a._data) * noise, a._data))

    @staticmethod
    def backward(ctx, grad):
        return grad * _make(ctx.noise), None


def rrelu(input: Tensor, lower: float = 1.0 / 8, upper: float = 1.0 / 3,
          training: bool = False, inplace: bool = False) -> Tensor:
    """Randomized leaky ReLU: in training each negative element gets a slope drawn
    uniformly from [lower, upper]; in evaluation the slope is (lower + upper) / 2."""
    if lower > upper:
        raise RuntimeError("Lower bound should be less than or equal to the upper bound")
    if inplace:
        return rrelu_(input, lower, upper, training)
    _need_float(input, "leaky_relu_cpu")
    x = _opmath(input._data)
    xp = _xp(x)
    if training:
        from ember._ops.creation import empty
        draws = empty(x.shape, dtype=_dt._FROM_NP[x.dtype],
                      device=input.device).uniform_(lower, upper)._data
        noise = xp.where(x > 0, xp.ones((), x.dtype), draws)
    else:
        noise = xp.where(x > 0, 1.0, (lower + upper) / 2).astype(x.dtype)
    return RreluWithNoise.apply(input, noise)


def rrelu_(input: Tensor, lower: float = 1.0 / 8, upper: float = 1.0 / 3,
           training: bool = False) -> Tensor:
    return apply_inplace(input, rrelu, lower, upper, training)


class Hardshrink(Function):
    _node_name = "HardshrinkBackward0"
    _grad_node = "HardshrinkBackwardBackward0"

    @staticmethod
    def forward(ctx, a, lambd):
        ctx.params = (lambd,)
        ctx.save_for_backward(a)
        x = a._data
        return _make(_xp(x).where((x >= -lambd) & (x <= lambd), _xp(x).zeros((), x.dtype), x))

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return ActivationBackward.apply(grad, a, Hardshrink, ctx.params), None

    @staticmethod
    def derivative(x, lambd):
        return (x < -lambd) | (x > lambd)

    @staticmethod
    def second(a, lambd):
        return None


def hardshrink(input: Tensor, lambd: float = 0.5) -> Tensor:
    """0 on [-lambd, lambd], input elsewhere."""
    _need_float(input, "hardshrink_cpu")
    return Hardshrink.apply(input, float(lambd))


class Softshrink(Hardshrink):
    _node_name = "SoftshrinkBackward0"
    _grad_node = "SoftshrinkBackwardBackward0"

    @staticmethod
    def forward(ctx, a, lambd):
        ctx.params = (lambd,)
        ctx.save_for_backward(a)
        x = _opmath(a._data)
        xp = _xp(x)
        shrunk = x - xp.clip(x, -lambd, lambd)  # x - lambd, x + lambd, or 0 in between
        return _make(_out(shrunk, a._data))

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return ActivationBackward.apply(grad, a, Softshrink, ctx.params), None


def softshrink(input: Tensor, lambd: float = 0.5) -> Tensor:
    """input moved towards zero by lambd, and 0 on [-lambd, lambd]."""
    _need_float(input, "softshrink_check")
    if lambd < 0:
        top = float(_dt.finfo(input.dtype).max)
        raise RuntimeError(f"lambda must be in range [0, {top:g}] for input dtype "
                           f"{_type_name(input.dtype)}, but found {lambd:g}")
    return Softshrink.apply(input, float(lambd))


class Hardsigmoid(Function):
    _node_name = "HardsigmoidBackward0"
    _grad_node = "HardsigmoidBackwardBackward0"

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        x = _work(a)
        y = x + 3.0
        y = y.clip(0.0, 6.0, out=y)
        y /= 6.0
        return _make(_out(y, a._data))

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return ActivationBackward.apply(grad, a, Hardsigmoid, ())

    @staticmethod
    def derivative(x):
        return ((x > -3.0) & (x < 3.0)).astype(x.dtype) * _SIXTH

    @staticmethod
    def second(a):
        return None


def hardsigmoid(input: Tensor, inplace: bool = False) -> Tensor:
    """relu6(input + 3) / 6."""
    if inplace:
        return apply_inplace(input, hardsigmoid)
    _need_float(input, "hardsigmoid_cpu")
    return Hardsigmoid.apply(input)


class Hardswish(Function):
    _node_name = "HardswishBackward0"
    _grad_node = "HardswishBackwardBackward0"

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return _make(_out(_blockwise(Hardswish.kernel, _work(a), ()), a._data))

    @staticmethod
    def kernel(x):
        y = x + 3.0
        y = y.clip(0.0, 6.0, out=y)
        y *= x
        y /= 6.0
        return y

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return ActivationBackward.apply(grad, a, Hardswish, ())

    @staticmethod
    def derivative(x):
        xp = _xp(x)
        # 0 up to -3, x/3 + 1/2 on (-3, 3), 1 from 3 on
        return xp.where(x <= -3.0, 0.0, xp.where(x < 3.0, x / 3.0 + 0.5, 1.0)).astype(x.dtype)

    @staticmethod
    def second(a):
        inside = (a > -3.0) & (a < 3.0)
        return inside.to(a.dtype) * (1.0 / 3.0)


def hardswish(input: Tensor, inplace: bool = False) -> Tensor:
    """input * relu6(input + 3) / 6."""
    if inplace:
        return apply_inplace(input, hardswish)
    _need_float(input, "hardswish_cpu")
    return Hardswish.apply(input)


# ----------------------------------------------------------------- exponential family
class Elu(Function):
    """scale * x for x > 0, scale * alpha * (exp(input_scale * x) - 1) otherwise."""

    _node_name = "EluBackward0"
    _grad_node = "EluBackwardBackward0"

    @staticmethod
    def forward(ctx, a, alpha, scale, input_scale):
        ctx.params = (alpha, scale, input_scale)
        ctx.save_for_backward(a)
        return _make(_out(_blockwise(Elu.kernel, _work(a), ctx.params), a._data))

    @staticmethod
    def kernel(x, alpha, scale, input_scale):
        xp = _xp(x)
        neg = xp.minimum(x, 0.0)  # clipped: exp cannot overflow for large x
        if input_scale != 1.0:
            neg *= input_scale
        neg = xp.expm1(neg, out=neg)
        neg *= alpha * scale
        return xp.where(x > 0, x * scale if scale != 1.0 else x, neg)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return ActivationBackward.apply(grad, a, Elu, ctx.params), None, None, None

    @staticmethod
    def derivative(x, alpha, scale, input_scale):
        xp = _xp(x)
        neg = xp.exp(xp.minimum(x, 0.0) * input_scale)
        neg *= input_scale * alpha * scale
        return xp.where(x > 0, scale, neg).astype(x.dtype)

    @staticmethod
    def second(a, alpha, scale, input_scale):
        neg = (a.clamp(max=0.0) * input_scale).exp() * (input_scale * input_scale * alpha * scale)
        return where(a > 0, 0.0, neg)


class Celu(Elu):
    _node_name = "CeluBackward0"

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        alpha = ctx.params[0]
        # torch's celu derivative takes 1/alpha from alpha rounded to float32
        params = (alpha, 1.0, 1.0 / float(np.float32(alpha)))
        return ActivationBackward.apply(grad, a, Elu, params), None, None, None


def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """input where positive, alpha * (exp(input) - 1) elsewhere."""
    if inplace:
        return elu_(input, alpha)
    _need_float(input, "elu_cpu")
    return Elu.apply(input, float(alpha), 1.0, 1.0)


def elu_(input: Tensor, alpha: float = 1.0) -> Tensor:
    return apply_inplace(input, elu, alpha)


def selu(input: Tensor, inplace: bool = False) -> Tensor:
    """elu with the self-normalising constants (alpha ~ 1.6733, scale ~ 1.0507)."""
    if inplace:
        return selu_(input)
    _need_float(input, "elu_cpu")
    return Elu.apply(input, _SELU_ALPHA, _SELU_SCALE, 1.0)


def selu_(input: Tensor) -> Tensor:
    return apply_inplace(input, selu)


def celu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """max(0, x) + min(0, alpha * (exp(x / alpha) - 1))."""
    if inplace:
        return celu_(input, alpha)
    _need_float(input, "elu_cpu")
    if alpha == 0:
        raise RuntimeError("ZeroDivisionError: alpha cannot be 0 for CELU")
    return Celu.apply(input, float(alpha), 1.0, 1.0 / alpha)


def celu_(input: Tensor, alpha: float = 1.0) -> Tensor:
    return apply_inplace(input, celu, alpha)


class Softplus(Function):
    _node_name = "SoftplusBackward0"
    _grad_node = "SoftplusBackwardBackward0"

    @staticmethod
    def forward(ctx, a, beta, th):
        ctx.params = (beta, th)
        ctx.save_for_backward(a)
        return _make(_out(_blockwise(Softplus.kernel, _work(a), ctx.params), a._data))

    @staticmethod
    def kernel(x, beta, th):
        xp = _xp(x)
        xb = x * beta if beta != 1.0 else x
        soft = xp.exp(xb)
        soft = xp.log1p(soft, out=soft)  # overflows to inf only where xb > th anyway
        if beta != 1.0:
            soft /= beta
        return xp.where(xb > th, x, soft)

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return ActivationBackward.apply(grad, a, Softplus, ctx.params), None, None

    @staticmethod
    def derivative(x, beta, th):
        xp = _xp(x)
        xb = x * beta
        s = 1.0 / (1.0 + xp.exp(-xb))  # sigmoid(beta x)
        return xp.where(xb > th, 1.0, s).astype(x.dtype)

    @staticmethod
    def second(a, beta, th):
        ab = a * beta
        s = ab.sigmoid()
        return where(ab > th, 0.0, s * (1.0 - s) * beta)


def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """log(1 + exp(beta * input)) / beta; linear where beta * input > threshold."""
    _need_float(input, "softplus_cpu")
    return Softplus.apply(input, float(beta), float(threshold))


class LogSigmoid(Function):
    _node_name = "LogSigmoidBackward0"
    _grad_node = "LogSigmoidBackwardBackward0"

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return _make(_out(_blockwise(LogSigmoid.kernel, _work(a), ()), a._data))

    @staticmethod
    def kernel(x):
        xp = _xp(x)
        y = xp.abs(x)
        y *= -1.0
        y = xp.exp(y, out=y)
        y = xp.log1p(y, out=y)
        return xp.subtract(xp.minimum(x, 0.0), y, out=y)  # min(x, 0) - log(1 + exp(-|x|))

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return ActivationBackward.apply(grad, a, LogSigmoid, ())

    @staticmethod
    def derivative(x):
        return 1.0 / (1.0 + _xp(x).exp(x))  # sigmoid(-x)

    @staticmethod
    def second(a):
        s = (-a).sigmoid()
        return s * (s - 1.0)


def logsigmoid(input: Tensor) -> Tensor:
    """log(sigmoid(input)), computed without overflow for large |input|."""
    _need_float(input, "log_sigmoid_cpu")
    return LogSigmoid.apply(input)


# ----------------------------------------------------------------- smooth gates
class Gelu(Function):
    _node_name = "GeluBackward0"
    _grad_node = "GeluBackwardBackward0"

    @staticmethod
    def forward(ctx, a, tanh_approx):
        ctx.params = (tanh_approx,)
        x = _work(a)
        if tanh_approx or not ctx._recording:
            ctx.save_for_backward(a)
            return _make(_out(_blockwise(Gelu.kernel, x, ctx.params), a._data))
        # keep Phi(x) for backward: its erf is most of the cost of the derivative
        if x.size <= _BLOCK or x.__class__ is not np.ndarray:
            cdf = _silent(_phi, x)
            y = _silent(np.multiply, x, cdf)
        else:  # block by block, each result written in place
            xf = x.reshape(-1)
            cdf, y = np.empty_like(xf), np.empty_like(xf)
            for i in range(0, xf.size, _BLOCK):
                part = slice(i, i + _BLOCK)
                _silent(Gelu.parts, xf[part], cdf[part], y[part])
            cdf, y = cdf.reshape(x.shape), y.reshape(x.shape)
        ctx.save_for_backward(a, _make(cdf))
        return _make(_out(y, a._data))

    @staticmethod
    def parts(x, cdf, y):
        """Phi(x) into cdf and x Phi(x) into y."""
        _phi(x, cdf)
        np.multiply(x, cdf, out=y)

    @staticmethod
    def kernel(x, tanh_approx):
        if tanh_approx:  # torch's operation order: k * (x + c * x^3)
            inner = x * x
            inner *= x
            inner *= _C_TANH
            inner += x
            inner *= _K_TANH
            y = _rounded_tanh(inner)
            y += 1.0
            y *= x
            y *= 0.5
            return y
        y = _phi(x)
        y *= x
        return y

    @staticmethod
    def backward(ctx, grad):
        a, *cdf = ctx.saved_tensors
        if cdf and not _state.enabled:  # no graph to record: grad * (Phi + x phi) directly
            x, c, g = _work(a), cdf[0]._data, grad._data
            if x.size <= _BLOCK or x.__class__ is not np.ndarray or g.shape != x.shape:
                return _make(_out(_silent(Gelu.grad_kernel, x, c, g), g)), None
            # on cache-sized blocks, as _blockwise does for one input
            xf, cf, gf = x.reshape(-1), c.reshape(-1), g.reshape(-1)
            d = np.empty(xf.shape, np.result_type(x.dtype, g.dtype))
            for i in range(0, xf.size, _BLOCK):
                part = slice(i, i + _BLOCK)
                _silent(Gelu.grad_kernel, xf[part], cf[part], gf[part], d[part])
            return _make(_out(d.reshape(x.shape), g)), None
        return ActivationBackward.apply(grad, a, Gelu, ctx.params), None

    @staticmethod
    def grad_kernel(x, cdf, g, out=None):
        """g * (Phi(x) + x phi(x)), given Phi(x) (written to out when given)."""
        d = x * x
        d *= -0.5
        _xp(d).exp(d, out=d)
        d *= x
        d *= _INV_SQRT_2PI
        d += cdf
        return _xp(d).multiply(d, g, out=out)

    @staticmethod
    def derivative(x, tanh_approx):
        xp = _xp(x)
        x2 = x * x
        if tanh_approx:
            t = _rounded_tanh(_K_TANH * (x + _C_TANH * (x2 * x)))
            du = _K_TANH * (1.0 + 3.0 * _C_TANH * x2)
            return 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * du
        return _phi(x) + x * (xp.exp(-0.5 * x2) * _INV_SQRT_2PI)

    @staticmethod
    def second(a, tanh_approx):
        a2 = a * a
        if tanh_approx:
            t = (a * (1.0 + _C_TANH * a2) * _K_TANH).tanh()
            du = (1.0 + 3.0 * _C_TANH * a2) * _K_TANH
            # (1 - t^2) (u' - x t u'^2 + x u''/2) with u'' = 6 c k x
            return (1.0 - t * t) * (du - a * t * du * du + a2 * (3.0 * _C_TANH * _K_TANH))
        return (a2 * -0.5).exp() * (_INV_SQRT_2PI * (2.0 - a2))


# Phi(x) = (1 + tanh(u)) / 2 with u = atanh(erf(x / sqrt 2)) = x R(x^2). R is smooth and
# slowly varying, so a degree-6 polynomial in t = x^2 (a minimax fit weighted by how much
# an error in R moves gelu) holds Phi within 3e-8 on [-5, 5], 1.6e-7 once evaluated in
# float32. Beyond |x| = 5 the polynomial only grows (u >= 7.5 there, rising with |x|, and an
# overflow to inf stays inf), so tanh saturates where Phi rounds to 0 or 1 and float32 gelu
# stays within 1e-6 of the exact values everywhere, with no clamp. About 17 array steps,
# against some 30 for a rational erf and the steps around it.
_PHI_R = (0.7978850104638574, 0.036331816677469105, -3.116614940094273e-05,
          -5.5872156119859536e-05, 4.0626361328733995e-06, -1.3971594436239006e-07,
          1.95763852931962e-09)


def _phi(x, out=None):
    """The standard normal CDF (written to out when given): the tanh form above for
    float32 arrays, the float64 erf series otherwise."""
    xp = _xp(x)
    if x.dtype != np.float32:
        y = _erf_kernel(x * _SQRT_HALF, 0)
        y += 1.0
        y *= 0.5
        if out is None:
            return y
        out[...] = y
        return out
    t = x * x
    p = t * _PHI_R[6]
    for c in _PHI_R[5:0:-1]:
        p += c
        p *= t
    p += _PHI_R[0]
    p *= x
    p = xp.tanh(p, out=p if out is None else out)
    p *= 0.5
    p += 0.5
    return p


def _rounded_tanh(v):
    """tanh of a float32 array through float64: NumPy's float32 tanh can be one ulp off
    near +-1, which gelu's 1 + tanh and 1 - tanh^2 would magnify."""
    if v.dtype == np.float32:
        return _xp(v).tanh(v.astype(np.float64)).astype(np.float32)
    return _xp(v).tanh(v)


def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    """input * Phi(input) (Phi the standard normal CDF); approximate='tanh' uses torch's
    tanh formula 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))."""
    if approximate not in ("none", "tanh"):
        raise RuntimeError("approximate argument must be either none or tanh.")
    _need_float(input, "GeluKernelImpl")
    return Gelu.apply(input, approximate == "tanh")


class Silu(Function):
    _node_name = "SiluBackward0"
    _grad_node = "SiluBackwardBackward0"

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return _make(_out(_blockwise(Silu.kernel, _work(a), ()), a._data))

    @staticmethod
    def kernel(x):
        xp = _xp(x)
        y = xp.negative(x)
        y = xp.exp(y, out=y)
        y += 1.0
        return xp.divide(x, y, out=y)  # x / (1 + exp(-x))

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return ActivationBackward.apply(grad, a, Silu, ())

    @staticmethod
    def derivative(x):
        s = 1.0 / (1.0 + _xp(x).exp(-x))
        return s * (1.0 + x * (1.0 - s))

    @staticmethod
    def second(a):
        s = a.sigmoid()
        return s * (1.0 - s) * (2.0 + a * (1.0 - 2.0 * s))


def silu(input: Tensor, inplace: bool = False) -> Tensor:
    """input * sigmoid(input) (also called swish)."""
    if inplace:
        return apply_inplace(input, silu)
    _need_float(input, "silu_cpu")
    return Silu.apply(input)


class Mish(Function):
    _node_name = "MishBackward0"
    _grad_node = "MishBackwardBackward0"

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return _make(_out(_blockwise(Mish.kernel, _work(a), ()), a._data))

    @staticmethod
    def kernel(x):
        xp = _xp(x)
        y = xp.exp(x)
        y = xp.log1p(y, out=y)  # softplus (inf for huge x, where tanh gives 1)
        y = xp.tanh(y, out=y)
        y *= x
        return y

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return ActivationBackward.apply(grad, a, Mish, ())

    @staticmethod
    def derivative(x):
        xp = _xp(x)
        t = xp.tanh(xp.log1p(xp.exp(x)))
        s = 1.0 / (1.0 + xp.exp(-x))
        return t + x * s * (1.0 - t * t)

    @staticmethod
    def second(a):
        s = a.sigmoid()
        t = softplus(a).tanh()
        sech2 = 1.0 - t * t
        return s * sech2 * (2.0 + a * (1.0 - s) - 2.0 * a * s * t)


def mish(input: Tensor, inplace: bool = False) -> Tensor:
    """input * tanh(softplus(input))."""
    if inplace:
        return apply_inplace(input, mish)
    _need_float(input, "mish_cpu")
    return Mish.apply(input)


# ----------------------------------------------------------------- with parameters or dims
class PreluKernel(Function):
    """input where positive, weight * input elsewhere; weight per channel (dim 1) or shared."""

    _node_name = "PreluKernelBackward0"

    @staticmethod
    def forward(ctx, a, w, shape):
        ctx.shape = shape
        ctx.save_for_backward(a, w)
        x = _opmath(a._data)
        wb = _opmath(w._data).reshape(shape)
        return _make(_out(_xp(x).where(x > 0, x, x * wb), a._data))

    @staticmethod
    def backward(ctx, grad):
        a, w = ctx.saved_tensors
        need = ctx.needs_input_grad
        pos = a > 0
        wb = w.reshape(ctx.shape)
        ga = where(pos, grad, grad * wb) if need[0] else None
        gw = None
        if need[1]:
            # a shared slope sums over everything, a per-channel one over all but dim 1
            dims = tuple(i for i in range(a.ndim) if i != 1 or w.numel() == 1)
            part = where(pos, 0.0, a * grad)
            gw = (part.sum(dims) if dims else part).reshape(w.shape)
        return ga, gw, None


def prelu(input: Tensor, weight: Tensor) -> Tensor:
    """leaky_relu with a learned slope: one per channel (dim 1) or one shared."""
    if _AUTOCAST: input, weight = autocast_lower(input, weight)
    if input.dtype is not weight.dtype:
        if not input.dtype.is_floating_point:
            raise _not_implemented("prelu_cpu", input.dtype)
        raise RuntimeError(f"prelu: Type promoting not supported. Got {_type_name(input.dtype)} "
                           f"and {_type_name(weight.dtype)}")
    _need_float(input, "prelu_cpu")
    if weight.ndim > 1:
        raise RuntimeError(f"prelu: Expected `weight` to be a scalar or 1D tensor, but got: "
                           f"ndim = {weight.ndim}")
    channels = input.shape[1] if input.ndim > 1 else 1
    n = weight.numel()
    if input.ndim == 0 and n != 1:
        raise RuntimeError("Not allow zero-dim input tensor.")
    if n != 1 and n != channels:
        raise RuntimeError(f"Mismatch of parameter numbers and input channel size. Found "
                           f"parameter numbers = {n} and channel size = {channels}.")
    shape = (1,) * input.ndim if n == 1 else (1, n) + (1,) * (input.ndim - 2)
    return PreluKernel.apply(input, weight, shape)


class Glu(Function):
    _node_name = "GluBackward0"

    @staticmethod
    def forward(ctx, a, d):
        ctx.d = d
        ctx.save_for_backward(a)
        x = _opmath(a._data)
        h = x.shape[d] // 2
        first = x[(slice(None),) * d + (slice(0, h),)]
        gate = x[(slice(None),) * d + (slice(h, None),)]
        y = _silent(_xp(x).exp, -gate)
        y += 1.0
        y = _xp(x).divide(first, y, out=y)  # first * sigmoid(gate)
        return _make(_out(y, a._data))

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        first, gate = a.chunk(2, ctx.d)
        s = gate.sigmoid()
        gs = grad * s
        return cat([gs, gs * (1.0 - s) * first], ctx.d), None


def glu(input: Tensor, dim: int = -1) -> Tensor:
    """The gated linear unit: first half * sigmoid(second half) along `dim`."""
    if input.ndim == 0:
        raise RuntimeError("glu does not support scalars because halving size must be even")
    d = _wrap_dim(dim, input.ndim)
    if input.shape[d] % 2:
        raise RuntimeError(f"Halving dimension must be even, but dimension {d} is size "
                           f"{input.shape[d]}")
    return Glu.apply(input, d)


def _softmax_dim(ndim: int) -> int:
    """torch's legacy choice of dim when softmax-like functions get dim=None."""
    import warnings
    warnings.warn("Implicit dimension choice for softmin has been deprecated. Change the call "
                  "to include dim=X as an argument.", UserWarning, stacklevel=3)
    return 0 if ndim in (0, 1, 3) else 1


def softmin(input: Tensor, dim: int | None = None, _stacklevel: int = 3,
            dtype=None) -> Tensor:
    """softmax(-input): weights that favour the smallest entries along `dim`."""
    if dim is None:
        dim = _softmax_dim(input.ndim)
    if dtype is not None:
        input = input.to(dtype)
    return softmax(-input, dim)


def softsign(input: Tensor) -> Tensor:
    """input / (1 + |input|) (composite, as in torch)."""
    return input / (input.abs() + 1)


def tanhshrink(input: Tensor) -> Tensor:
    """input - tanh(input) (composite, as in torch)."""
    return input - input.tanh()


def sigmoid(input: Tensor) -> Tensor:
    """1 / (1 + exp(-input)) (torch.sigmoid)."""
    return _pw.sigmoid(input)


def tanh(input: Tensor) -> Tensor:
    """The hyperbolic tangent (torch.tanh)."""
    return _pw.tanh(input)

