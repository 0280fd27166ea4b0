"""Normalization kernels (torch.nn.functional): batch, instance, layer, group and RMS norm,
local response norm, normalize, cosine similarity and pairwise distance.

NOTE [ Fused norm backward ]
Batch, layer, group and RMS norm are each one `Function`. The forward returns, besides
y, the statistics it normalised with (mean and 1/std, kept in broadcastable shape) as
extra outputs, the way torch's native_batch_norm / native_layer_norm do; the public
functions hand back y only. With xhat = (x - mean) * rstd the backward is the
analytic formula

    dx = rstd * (gxhat - mean(gxhat) - xhat * mean(gxhat * xhat))     (means over the
                                                                        normalised axes)

with gxhat = dy * weight, a handful of whole-array ember ops. Because the statistics
are real outputs of the node, a create_graph=True backward that used them sends
their gradients back into this same node, whose backward then adds
d mean / dx = 1/n and d rstd / dx = -rstd^2 xhat / n. So second (and higher)
derivatives are exact without a chain of tiny ops in the forward.

Half and bfloat16 inputs compute their statistics in float32 (the statistics
outputs stay float32) and y is rounded once.
"""
from __future__ import annotations

import math

import numpy as np

from ember import _dtype as _dt
from ember._ops.inplace import _type_name
from ember._ops.norms import vector_norm
from ember._ops.pointwise import _not_implemented, _silent, _xp
from ember._ops.reduction import _acc, _back
from ember._ops.shape import _wrap_dim, cat
from ember._tensor import Tensor, _make
from ember.autograd.function import Function
from ember.autograd.grad_mode import _state

__all__ = [
    "batch_norm", "instance_norm", "layer_norm", "group_norm", "rms_norm",
    "local_response_norm", "normalize", "cosine_similarity", "pairwise_distance",
]


def _centred_grad(gxhat: Tensor, xhat: Tensor, rstd: Tensor, axes: tuple, n: int,
                  gmean, grstd, centred: bool = True) -> Tensor:
    """dL/dx for xhat = (x - mean) * rstd normalised over `axes` (n elements each), given
    dL/dxhat and the incoming gradients of the mean and rstd outputs (None when unused).
    centred=False is RMS norm: no mean is subtracted."""
    # (n gxhat - sum(gxhat) - xhat sum(gxhat xhat)) rstd / n: few ops on the big arrays
    gx = gxhat * float(n) - xhat * (gxhat * xhat).sum(axes, keepdim=True)
    if centred:
        gx = gx - gxhat.sum(axes, keepdim=True)
    gx = gx * (rstd * (1.0 / max(n, 1)))  # n = 0: empty normalised dims, nothing to scale
    extra = _stats_grad(xhat, rstd, n, gmean, grstd)
    return gx if extra is None else gx + extra


def _stats_grad(xhat: Tensor, rstd: Tensor, n: int, gmean, grstd):
    """dL/dx through the statistics outputs alone: d mean/dx = 1/n, d rstd/dx =
    -rstd^2 xhat / n. None when neither statistic got a gradient (the usual case)."""
    gx = None
    n = max(n, 1)
    if grstd is not None:
        gx = xhat * (grstd * rstd * rstd * (-1.0 / n))
    if gmean is not None:
        gx = gmean * (1.0 / n) if gx is None else gx + gmean * (1.0 / n)
    return gx


def _check_params(x: Tensor, params, stats=()) -> None:
    """torch's CPU dtype rules: parameters share the input's dtype, or are float32 for a
    half/bfloat16 input."""
    xd = x.dtype
    for p in params:
        if p is not None and p.dtype is not xd and not (
                xd in (_dt.float16, _dt.bfloat16) and p.dtype is _dt.float32):
            raise RuntimeError(f"mixed dtype (CPU): expect parameter to have scalar type of "
                               f"{_type_name(xd)}")
    for s in stats:
        if s is not None and s.dtype is not xd and not (
                xd in (_dt.float16, _dt.bfloat16) and s.dtype is _dt.float32):
            raise RuntimeError("mixed dtype (CPU): all inputs must share same datatype.")


def _param(p: Tensor | None, shape):
    """A parameter's array in float32-or-wider, shaped to broadcast against the input."""
    return None if p is None else _acc(p._data).reshape(shape)


# ----------------------------------------------------------------- batch norm
class NativeBatchNorm(Function):
    """y = (x - mean) / sqrt(var + eps) * weight + bias per channel (dim 1).

    Training: statistics of this batch (biased variance), and the running buffers move
    towards them (with the unbiased variance). Evaluation: the running buffers are used.
    """

    _node_name = "NativeBatchNormBackward0"

    @staticmethod
    def forward(ctx, a, weight, bias, running_mean, running_var, training, momentum, eps):
        x = a._data
        xa = _acc(x)
        xp = _xp(x)
        c = x.shape[1]
        bshape = (1, c) + (1,) * (x.ndim - 2)
        axes = (0,) + tuple(range(2, x.ndim))
        n = x.size // c if c else 0
        ctx.training, ctx.axes, ctx.n, ctx.bshape = training, axes, n, bshape
        ctx.set_materialize_grads(False)
        if training:
            if n:
                mean = xa.mean(axis=axes, keepdims=True)
                xc = xa - mean
                var = (xc * xc).mean(axis=axes, keepdims=True)
            else:  # an empty batch: NaN statistics, an empty output
                mean = xp.full(bshape, np.nan, xa.dtype)
                var = mean.copy()
                xc = xa
            # an empty batch leaves the running buffers as they were (as torch)
            if running_mean is not None and n:
                _update(running_mean, mean, momentum)
            if running_var is not None and n:
                _update(running_var, var * (n / (n - 1)) if n > 1 else var, momentum)
        else:
            mean = _acc(running_mean._data).reshape(bshape)
            var = _acc(running_var._data).reshape(bshape)
            xc = xa - mean
        invstd = 1.0 / _silent(xp.sqrt, var + eps)
        scale = invstd if weight is None else invstd * _param(weight, bshape)
        y = xc * scale
        if bias is not None:
            y += _param(bias, bshape)
        out = _make(_back(y, x))
        m, r = _make(mean.astype(xa.dtype, copy=False)), _make(invstd.astype(xa.dtype,
                                                                              copy=False))
        if not training:
            ctx.mark_non_differentiable(m, r)
        ctx.save_for_backward(a, weight, m, r)
        return out, m, r

    @staticmethod
    def backward(ctx, gy, gmean, ginvstd):
        a, weight, mean, invstd = ctx.saved_tensors
        need = ctx.needs_input_grad
        axes, n, bshape = ctx.axes, max(ctx.n, 1), ctx.bshape
        ga = gw = gb = None
        if gy is not None:
            xhat = (a - mean) * invstd
            sum_gy = gy.sum(axes, keepdim=True) if need[2] or (need[0] and ctx.training) \
                else None
            sum_gyx = (gy * xhat).sum(axes, keepdim=True) if need[1] or (
                need[0] and ctx.training) else None
            if need[0]:
                scale = invstd if weight is None else invstd * weight.reshape(bshape)
                if ctx.training:  # the statistics depend on x too
                    ga = (gy - sum_gy * (1.0 / n) - xhat * (sum_gyx * (1.0 / n))) * scale
                else:
                    ga = gy * scale
            if need[1]:
                gw = sum_gyx.reshape(weight.shape)
            if need[2]:
                gb = sum_gy.reshape(weight.shape if weight is not None else (-1,))
        if ctx.training and need[0] and (gmean is not None or ginvstd is not None):
            # only reached when a create_graph backward used the saved statistics
            extra = _stats_grad((a - mean) * invstd, invstd, n, gmean, ginvstd)
            ga = extra if ga is None else ga + extra
        return ga, gw, gb, None, None, None, None, None


def _update(buf: Tensor, stat, momentum: float) -> None:
    """running = (1 - momentum) * running + momentum * stat, in place (a new version)."""
    arr = buf._data
    new = arr * (1.0 - momentum) + stat.reshape(arr.shape) * momentum
    arr[...] = new.astype(arr.dtype, copy=False)
    buf._version_counter[0] += 1


def _check_numel(name: str, t: Tensor | None, c: int) -> None:
    if t is not None and t.numel() != c:
        raise RuntimeError(f"{name} should contain {c} elements not {t.numel()}")


def batch_norm(input: Tensor, running_mean: Tensor | None, running_var: Tensor | None,
               weight: Tensor | None = None, bias: Tensor | None = None,
               training: bool = False, momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Normalise each channel (dim 1) over the batch and spatial dims; see NativeBatchNorm."""
    if training:
        size = input.shape
        if size and math.prod(size[:1] + size[2:]) == 1:
            raise ValueError(f"Expected more than 1 value per channel when training, got "
                             f"input size {size}")
    elif running_mean is None or running_var is None:
        raise RuntimeError(f"running_{'mean' if running_mean is None else 'var'} must be "
                           "defined in evaluation mode")
    c = input.size(1)  # torch's IndexError for an input without a channel dim
    if not input.dtype.is_floating_point:
        raise _not_implemented("batch_norm", input.dtype)
    for name, t in (("weight", weight), ("bias", bias), ("running_mean", running_mean),
                    ("running_var", running_var)):
        _check_numel(name, t, c)
    _check_params(input, (weight, bias), (running_mean, running_var))
    return NativeBatchNorm.apply(input, weight, bias, running_mean, running_var, bool(training),
                                 float(momentum), float(eps))[0]


def instance_norm(input: Tensor, running_mean: Tensor | None = None,
                  running_var: Tensor | None = None, weight: Tensor | None = None,
                  bias: Tensor | None = None, use_input_stats: bool = True,
                  momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Normalise every (sample, channel) plane on its own: batch norm of the input seen as
    one sample with N*C channels. Running buffers get the mean over the batch of the
    per-sample statistics."""
    if not use_input_stats and (running_mean is None or running_var is None):
        raise RuntimeError("Expected running_mean and running_var to be defined when "
                           "use_input_stats is false")
    if use_input_stats:
        size = input.shape
        if math.prod(size[2:]) == 1:
            raise ValueError(f"Expected more than 1 spatial element when training, got input "
                             f"size {size}")
    shape = input.shape
    b, c = shape[0], shape[1]
    flat = input.reshape(1, b * c, *shape[2:])
    w = weight.repeat(b) if weight is not None else None
    bb = bias.repeat(b) if bias is not None else None
    rm = _tiled(running_mean, b)
    rv = _tiled(running_var, b)
    _check_numel("running_mean", rm, b * c)
    _check_numel("running_var", rv, b * c)
    out = batch_norm(flat, rm, rv, w, bb, use_input_stats, momentum, eps)
    if use_input_stats:
        for buf, tiled in ((running_mean, rm), (running_var, rv)):
            if buf is not None:
                buf._data[...] = tiled._data.reshape(b, c).mean(axis=0).astype(buf._data.dtype)
                buf._version_counter[0] += 1
    return out.view(shape)


def _tiled(buf: Tensor | None, times: int) -> Tensor | None:
    if buf is None:
        return None
    return _make(_xp(buf._data).tile(buf._data, times))


# ----------------------------------------------------------------- layer norm
class NativeLayerNorm(Function):
    """y = (x - mean) * rstd * weight + bias over the last `k` dims."""

    _node_name = "NativeLayerNormBackward0"

    @staticmethod
    def forward(ctx, a, weight, bias, k, eps):
        x = a._data
        xa = _acc(x)
        axes = tuple(range(x.ndim - k, x.ndim))
        n = math.prod(x.shape[x.ndim - k:])
        ctx.axes, ctx.n = axes, n
        ctx.set_materialize_grads(False)
        xp = _xp(x)
        if n:
            # row means and variances as products (BLAS and einsum's dot loops): several
            # times faster than NumPy's reductions over a short last axis
            kept = x.shape[:x.ndim - k] + (1,) * k
            x2 = xa.reshape(-1, n)
            mean = x2 @ xp.full(n, 1.0 / n, x2.dtype)
            y = x2 - mean[:, None]
            var = xp.einsum("ij,ij->i", y, y)
            var *= 1.0 / n
            mean, var, y = mean.reshape(kept), var.reshape(kept), y.reshape(x.shape)
        else:
            kept = x.shape[:x.ndim - k] + (1,) * k
            mean = xp.full(kept, np.nan, xa.dtype)
            var = mean.copy()
            y = xa.copy()
        rstd = 1.0 / _silent(xp.sqrt, var + eps)
        y *= rstd
        if weight is not None:
            y *= _acc(weight._data)
        if bias is not None:
            y += _acc(bias._data)
        m, r = _make(mean), _make(rstd)
        ctx.save_for_backward(a, weight, m, r)
        return _make(_back(y, x)), m, r

    @staticmethod
    def backward(ctx, gy, gmean, grstd):
        a, weight, mean, rstd = ctx.saved_tensors
        need = ctx.needs_input_grad
        axes, n = ctx.axes, ctx.n
        if not _state.enabled and gy is not None and gmean is None and grstd is None and n:
            return _layer_norm_backward_arrays(gy, a, weight, mean, rstd, axes, n, need)
        lead = tuple(range(a.ndim - len(axes)))
        xhat = (a - mean) * rstd
        ga = gw = gb = None
        if gy is not None:
            if need[1]:
                gw = (gy * xhat).sum(lead) if lead else gy * xhat
            if need[2]:
                gb = gy.sum(lead) if lead else gy
        if need[0]:
            gxhat = (gy if weight is None else gy * weight) if gy is not None else a * 0.0
            ga = _centred_grad(gxhat, xhat, rstd, axes, n, gmean, grstd)
        return ga, gw, gb, None, None


def _layer_norm_backward_arrays(gy, a, weight, mean, rstd, axes, n, need):
    """NativeLayerNorm's backward on raw arrays when no graph is recorded: the formula of
    NOTE [ Fused norm backward ] over rows of n elements, computed in place."""
    x = a._data
    wshape = x.shape[x.ndim - len(axes):]
    g = _acc(gy._data).reshape(-1, n)
    xhat = _acc(x).reshape(-1, n) - mean._data.reshape(-1, 1)
    r = rstd._data.reshape(-1, 1)
    xhat *= r
    xp = _xp(g)
    ga = gw = gb = None
    # weight and bias grads stay in the accumulation dtype; the engine casts them. Sums
    # are products (einsum, BLAS), faster than NumPy's reductions here.
    if need[1]:
        gw = _make(xp.einsum("ij,ij->j", g, xhat).reshape(wshape))
    if need[2]:
        gb = _make((xp.ones(g.shape[0], g.dtype) @ g).reshape(wshape))
    if need[0]:
        gx = g * _acc(weight._data).reshape(-1) if weight is not None else g.copy()
        c1 = xp.einsum("ij,ij->i", gx, xhat)[:, None]
        c1 *= 1.0 / n
        c2 = (gx @ xp.full(n, 1.0 / n, gx.dtype))[:, None]
        gx -= c2
        xhat *= c1
        gx -= xhat
        gx *= r
        ga = _make(_back(gx.reshape(x.shape), x))
    return ga, gw, gb, None, None


def _normalized_shape(name: str, normalized_shape) -> tuple:
    if not isinstance(normalized_shape, (tuple, list)) and not (
            normalized_shape.__class__.__name__ == "Size"):
        raise TypeError(f"{name}(): argument 'normalized_shape' (position 2) must be tuple of "
                        f"ints, not {type(normalized_shape).__name__}")
    return tuple(int(s) for s in normalized_shape)


def _check_norm_shape(input: Tensor, shape: tuple, weight, bias, star: str) -> None:
    k = len(shape)
    if k == 0 or tuple(input.shape[input.ndim - k:]) != shape or input.ndim < k:
        raise RuntimeError(f"Given normalized_shape={list(shape)}, expected input with shape "
                           f"[*{star}{', '.join(map(str, shape))}], but got input of size"
                           f"{list(input.shape)}")
    for name, p in (("weight", weight), ("bias", bias)):
        if p is not None and tuple(p.shape) != shape:
            raise RuntimeError(f"Expected {name} to be of same shape as normalized_shape, but "
                               f"got {name} of shape {list(p.shape)} and normalized_shape = "
                               f"{list(shape)}")


def layer_norm(input: Tensor, normalized_shape, weight: Tensor | None = None,
               bias: Tensor | None = None, eps: float = 1e-5) -> Tensor:
    """Normalise over the trailing dims `normalized_shape`, then scale and shift
    element-wise by weight and bias of that shape."""
    shape = _normalized_shape("layer_norm", normalized_shape)
    _check_norm_shape(input, shape, weight, bias, ", ")
    if not input.dtype.is_floating_point:
        raise _not_implemented("LayerNormKernelImpl", input.dtype)
    _check_params(input, (weight, bias))
    return NativeLayerNorm.apply(input, weight, bias, len(shape), float(eps))[0]


# ----------------------------------------------------------------- group norm
class NativeGroupNorm(Function):
    """Normalise each group of C/G channels of every sample, then scale and shift each
    channel."""

    _node_name = "NativeGroupNormBackward0"

    @staticmethod
    def forward(ctx, a, weight, bias, groups, eps):
        x = a._data
        xa = _acc(x)
        xp = _xp(x)
        b, c = x.shape[0], x.shape[1]
        n = math.prod(x.shape[1:]) // groups
        xg = xa.reshape(b, groups, n)
        ctx.groups, ctx.n = groups, n
        ctx.set_materialize_grads(False)
        if n:
            mean = xg.mean(axis=2, keepdims=True)
            y = xg - mean
            var = (y * y).mean(axis=2, keepdims=True)
        else:
            mean = xp.full((b, groups, 1), np.nan, xa.dtype)
            var = mean.copy()
            y = xg.copy()
        rstd = 1.0 / _silent(xp.sqrt, var + eps)
        y *= rstd
        y = y.reshape(x.shape)
        bshape = (1, c) + (1,) * (x.ndim - 2)
        if weight is not None:
            y *= _param(weight, bshape)
        if bias is not None:
            y += _param(bias, bshape)
        m, r = _make(mean), _make(rstd)
        ctx.save_for_backward(a, weight, m, r)
        return _make(_back(y, x)), m, r

    @staticmethod
    def backward(ctx, gy, gmean, grstd):
        a, weight, mean, rstd = ctx.saved_tensors
        need = ctx.needs_input_grad
        shape = a.shape
        b, c = shape[0], shape[1]
        bshape = (1, c) + (1,) * (a.ndim - 2)
        other = (0,) + tuple(range(2, a.ndim))
        xhat_g = (a.reshape(b, ctx.groups, ctx.n) - mean) * rstd
        ga = gw = gb = None
        if gy is not None:
            if need[1]:
                gw = (gy * xhat_g.reshape(shape)).sum(other)
            if need[2]:
                gb = gy.sum(other)
        if need[0]:
            if gy is None:
                gxhat = a * 0.0
            else:
                gxhat = gy if weight is None else gy * weight.reshape(bshape)
            ga = _centred_grad(gxhat.reshape(b, ctx.groups, ctx.n), xhat_g, rstd, (2,), ctx.n,
                               gmean, grstd).reshape(shape)
        return ga, gw, gb, None, None


def group_norm(input: Tensor, num_groups: int, weight: Tensor | None = None,
               bias: Tensor | None = None, eps: float = 1e-5) -> Tensor:
    """Normalise groups of channels (dim 1) within each sample; weight and bias are per
    channel."""
    if input.ndim < 2:
        raise RuntimeError(f"Expected at least 2 dimensions for input tensor but received "
                           f"{input.ndim}")
    c = input.shape[1]
    if c % num_groups:
        raise RuntimeError(f"Expected number of channels in input to be divisible by "
                           f"num_groups, but got input of shape {list(input.shape)} and "
                           f"num_groups={num_groups}")
    for name, p in (("weight", weight), ("bias", bias)):
        if p is not None and (p.ndim != 1 or p.numel() != c):
            raise RuntimeError(f"Expected {name} to be a vector of size equal to the number of "
                               f"channels in input, but got {name} of shape {list(p.shape)} "
                               f"and input of shape {list(input.shape)}")
    if not input.dtype.is_floating_point:
        raise _not_implemented("GroupNormKernelImpl", input.dtype)
    _check_params(input, (weight, bias))
    return NativeGroupNorm.apply(input, weight, bias, int(num_groups), float(eps))[0]


# ----------------------------------------------------------------- RMS norm
class FusedRmsNorm(Function):
    """y = x * rsqrt(mean(x^2) + eps) * weight over the last `k` dims."""

    _node_name = "FusedRmsNormBackward0"

    @staticmethod
    def forward(ctx, a, weight, k, eps):
        x = a._data
        xa = _acc(x)
        xp = _xp(x)
        axes = tuple(range(x.ndim - k, x.ndim))
        ctx.axes, ctx.n = axes, math.prod(x.shape[x.ndim - k:])
        ctx.set_materialize_grads(False)
        rstd = 1.0 / _silent(xp.sqrt, (xa * xa).mean(axis=axes, keepdims=True) + eps)
        y = xa * rstd
        if weight is not None:
            y *= _acc(weight._data)
        r = _make(rstd)
        ctx.save_for_backward(a, weight, r)
        return _make(_back(y, x)), r

    @staticmethod
    def backward(ctx, gy, grstd):
        a, weight, rstd = ctx.saved_tensors
        need = ctx.needs_input_grad
        axes = ctx.axes
        lead = tuple(range(a.ndim - len(axes)))
        xhat = a * rstd
        ga = gw = None
        if gy is not None and need[1]:
            gw = (gy * xhat).sum(lead) if lead else gy * xhat
        if need[0]:
            gxhat = (gy if weight is None else gy * weight) if gy is not None else a * 0.0
            ga = _centred_grad(gxhat, xhat, rstd, axes, ctx.n, None, grstd, centred=False)
        return ga, gw, None, None


def rms_norm(input: Tensor, normalized_shape, weight: Tensor | None = None,
             eps: float | None = None) -> Tensor:
    """x / sqrt(mean(x^2) + eps) over the trailing dims, times weight; eps defaults to the
    machine epsilon of the input's dtype (torch's default)."""
    shape = _normalized_shape("rms_norm", normalized_shape)
    _check_norm_shape(input, shape, weight, None, "")
    if not input.dtype.is_floating_point:
        raise _not_implemented("rms_norm", input.dtype)
    if eps is None:
        eps = float(_dt.finfo(input.dtype).eps)
    _check_params(input, (weight,))
    return FusedRmsNorm.apply(input, weight, len(shape), float(eps))[0]


# ----------------------------------------------------------------- composites
def local_response_norm(input: Tensor, size: int, alpha: float = 1e-4, beta: float = 0.75,
                        k: float = 1.0) -> Tensor:
    """input / (k + alpha * mean of squares over `size` neighbouring channels) ** beta.

    The window over channels (dim 1) reaches size // 2 channels back and (size - 1) // 2
    forward, zero-padded at the ends; it is summed from `size` shifted slices.
    """
    dim = input.ndim
    if dim < 3:
        raise ValueError(f"Expected 3D or higher dimensionality                          "
                         f"input (got {dim} dimensions)")
    if input.numel() == 0:
        return input
    c = input.shape[1]
    sq = input * input
    xp, arr = _xp(sq._data), sq._data
    rest = tuple(input.shape[2:])
    before, after = size // 2, (size - 1) // 2
    padded = cat([_make(xp.zeros((arr.shape[0], before) + rest, arr.dtype)), sq,
                  _make(xp.zeros((arr.shape[0], after) + rest, arr.dtype))], 1)
    window = padded[:, 0:c]
    for o in range(1, size):  # over the window's offsets, not over channels
        window = window + padded[:, o:o + c]
    div = (window / size * alpha + k) ** beta
    return input / div


def normalize(input: Tensor, p: float = 2.0, dim: int = 1, eps: float = 1e-12,
              out: Tensor | None = None) -> Tensor:
    """input divided by its p-norm along `dim` (at least eps)."""
    denom = vector_norm(input, p, dim, True).clamp_min(eps).expand_as(input)
    if out is not None:
        from ember._ops.pointwise import div
        return div(input, denom, out=out)
    return input / denom


def cosine_similarity(x1: Tensor, x2: Tensor, dim: int = 1, eps: float = 1e-8) -> Tensor:
    """sum(x1/|x1| * x2/|x2|) along `dim`, after broadcasting; each norm is at least eps."""
    rt = _dt.result_type_of(x1, x2)
    if not rt.is_floating_point:
        raise RuntimeError(f"expected common dtype to be floating point, yet common dtype is "
                           f"{_type_name(rt)}")
    # integer inputs join the common dtype; floating ones keep their own (as torch)
    if not x1.dtype.is_floating_point:
        x1 = x1.to(rt)
    if not x2.dtype.is_floating_point:
        x2 = x2.to(rt)
    if tuple(x1.shape) != tuple(x2.shape):
        from ember._ops.shape import broadcast_tensors
        x1, x2 = broadcast_tensors(x1, x2)
    d = _wrap_dim(dim, x1.ndim)
    return ((x1 / _floored_norm(x1, d, eps)) * (x2 / _floored_norm(x2, d, eps))).sum(d)


def _floored_norm(x: Tensor, d: int, eps: float) -> Tensor:
    """The 2-norm along d (kept), raised to at least eps. As in torch the floor changes
    the value only: the gradient is that of the plain norm."""
    n = vector_norm(x, 2, d, True)
    low = n._data < eps
    if low.any():
        n = n + _make(_xp(n._data).where(low, eps - n._data, 0).astype(n._data.dtype))
    return n


def pairwise_distance(x1: Tensor, x2: Tensor, p: float = 2.0, eps: float = 1e-6,
                      keepdim: bool = False) -> Tensor:
    """The p-norm of x1 - x2 + eps over the last dim (of the wider input)."""
    d = max(x1.ndim, x2.ndim) - 1
    diff = x1 - x2 + eps
    if d < 0:  # two numbers: the norm of a single element
        return vector_norm(diff, p, None, False)
    return vector_norm(diff, p, d, keepdim)
