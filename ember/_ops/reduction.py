"""Reductions (sum, mean, prod, max/min, std/var, all/any ...) and the cumulative scans.

Every reduction takes torch's `dim` forms: None (all dims), an int, or a
sequence of ints, negative ones counting from the end; `keepdim=True` keeps the
reduced dims with size 1. Forward computes on the backend arrays; half and
bfloat16 inputs are accumulated in float32 and the result cast back, as torch's
CPU kernels do. Backward formulas first restore the reduced dims as size 1 so
the gradient broadcasts back over the input.

Gradients that pick elements out (max, amax, the zeros of prod) use masks built
from the forward values: masks are piecewise constant, so treating them as
constants keeps the formulas differentiable for create_graph=True.
"""
from __future__ import annotations

import builtins
import math
import warnings

import numpy as np

from ember import _dtype as _dt
from ember import return_types
from ember._device import array_module as _xp
from ember._ops.inplace import _type_name
from ember._ops.shape import _wrap_dim
from ember._tensor import Tensor, _make
from ember.amp.autocast_mode import _AUTOCAST, autocast_fp32
from ember.autograd.function import Function

__all__ = [
    "sum", "nansum", "mean", "nanmean", "prod", "max", "min", "amax", "amin", "aminmax",
    "argmax", "argmin", "std", "var", "std_mean", "var_mean", "logsumexp", "softmax",
    "log_softmax", "cumsum", "cumprod", "all", "any", "count_nonzero", "norm",
]

_F32 = np.dtype(np.float32)


# ----------------------------------------------------------------- helpers


def _axes(dim, ndim: int) -> tuple:
    """`dim` as a sorted tuple of non-negative axes; None and an empty sequence mean all."""
    if dim is None:
        return tuple(range(ndim))
    if isinstance(dim, (int, np.integer)):
        d = _wrap_dim(dim, ndim)
        return (d,) if ndim else ()
    axes = sorted(_wrap_dim(d, ndim) for d in dim)
    for i in range(1, len(axes)):
        if axes[i] == axes[i - 1]:
            raise RuntimeError(f"dim {axes[i]} appears multiple times in the list of dims")
    if not axes or not ndim:
        return tuple(range(ndim))
    return tuple(axes)


def _kept_shape(shape, axes) -> tuple:
    """`shape` with the reduced axes set to 1 (what keepdim=True produces)."""
    return tuple(1 if i in axes else s for i, s in enumerate(shape))


def _restore(grad: Tensor, shape, axes, keepdim: bool) -> Tensor:
    """A reduced gradient (or result) reshaped so it broadcasts over the input's shape."""
    if keepdim or not axes:
        return grad
    return grad.reshape(_kept_shape(shape, axes))


def _count(shape, axes) -> int:
    return math.prod(shape[a] for a in axes)


def _const(mask, dtype) -> Tensor:
    """A mask or scale array as a constant tensor of the gradient's dtype."""
    return _make(mask.astype(dtype, copy=False))


def _acc(x):
    """x ready to accumulate: half and bfloat16 arrays become float32."""
    return x.astype(_F32) if x.dtype.itemsize == 2 and x.dtype.kind in "fV" else x


def _back(arr, like):
    """A float32 accumulation result cast back to the input's 16-bit dtype."""
    return arr if arr.dtype == like.dtype else arr.astype(like.dtype)


def _int_default(x, dtype):
    """(array, accumulation dtype) for sum/prod/cumsum: bools and integers go to int64."""
    if dtype is not None:
        if x.dtype != dtype.np:
            x = x.astype(dtype.np)
        return x, x.dtype
    if x.dtype.kind in "biu":
        return x, np.dtype(np.int64)
    return x, x.dtype


# ----------------------------------------------------------------- sum and mean
_F_WIDE = (np.dtype(np.float32), np.dtype(np.float64))


def _sum_array(x, axes, keepdim, dtype):
    if len(axes) == x.ndim:
        axes = None  # NumPy's whole-array reduction is the fastest path
    if dtype is None and x.dtype in _F_WIDE:
        return x.sum(axis=axes, keepdims=keepdim)
    x, acc = _int_default(x, dtype)
    if acc.itemsize == 2 and acc.kind in "fV":
        return x.sum(axis=axes, keepdims=keepdim, dtype=_F32).astype(acc)
    return x.sum(axis=axes, keepdims=keepdim, dtype=acc)


class Sum(Function):
    """sum over every dim (dim=None)."""

    _node_name = "SumBackward0"

    @staticmethod
    def forward(ctx, a, axes, keepdim, dtype):
        x = a._data
        ctx.shape, ctx.axes, ctx.keepdim = x.shape, axes, keepdim
        return _make(_sum_array(x, axes, keepdim, dtype))

    @staticmethod
    def backward(ctx, grad):
        return _restore(grad, ctx.shape, ctx.axes, ctx.keepdim).expand(ctx.shape), None, None, None


class SumDim(Sum):
    """sum over the given dims."""

    _node_name = "SumBackward1"


def sum(input: Tensor, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
    """Sum over `dim` (all dims by default); bools and integers sum to int64 unless `dtype`."""
    axes = _axes(dim, input._data.ndim)
    return (Sum if dim is None else SumDim).apply(input, axes, keepdim, dtype)


class Nansum(Function):
    _node_name = "NansumBackward0"

    @staticmethod
    def forward(ctx, a, axes, keepdim, dtype):
        x = a._data
        ctx.shape, ctx.axes, ctx.keepdim = x.shape, axes, keepdim
        if a.dtype.is_floating_point:
            ctx.save_for_backward(a)
            x = _xp(x).where(x != x, 0, x)
        return _make(_sum_array(x, axes, keepdim, dtype))

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        x = a._data
        g = _restore(grad, ctx.shape, ctx.axes, ctx.keepdim)
        return g * _const(x == x, grad._data.dtype), None, None, None


def nansum(input: Tensor, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
    """sum that treats NaN as zero."""
    return Nansum.apply(input, _axes(dim, input._data.ndim), keepdim, dtype)


class Mean(Function):
    """mean over every dim (dim=None)."""

    _node_name = "MeanBackward0"

    @staticmethod
    def forward(ctx, a, axes, keepdim):
        x = a._data
        n = _count(x.shape, axes)
        ctx.shape, ctx.axes, ctx.keepdim, ctx.n = x.shape, axes, keepdim, n
        s = _acc(x).sum(axis=None if len(axes) == x.ndim else axes, keepdims=keepdim)
        if n == 0:
            return _make(_xp(x).full(np.shape(s), np.nan, dtype=x.dtype))
        return _make(_back(s / n, x))

    @staticmethod
    def backward(ctx, grad):
        g = _restore(grad, ctx.shape, ctx.axes, ctx.keepdim)
        if ctx.n:
            g = g / ctx.n
        return g.expand(ctx.shape), None, None


class MeanDim(Mean):
    """mean over the given dims."""

    _node_name = "MeanBackward1"


def _mean_dtype(name: str, input: Tensor, dtype) -> Tensor:
    """input cast to `dtype`, with torch's errors for non-floating inputs or dtypes."""
    if dtype is not None:
        if not dtype.is_floating_point:
            raise RuntimeError(f"{name}(): could not infer output dtype. Optional dtype must be "
                               f"either a floating point or complex dtype. Got: "
                               f"{_type_name(dtype)}")
        return input.to(dtype)
    if not input.dtype.is_floating_point:
        raise RuntimeError(f"{name}(): could not infer output dtype. Input dtype must be either "
                           f"a floating point or complex dtype. Got: {_type_name(input.dtype)}")
    return input


def mean(input: Tensor, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
    """Arithmetic mean over `dim`; integer inputs need a floating `dtype` (as torch)."""
    x = _mean_dtype("mean", input, dtype)
    return (Mean if dim is None else MeanDim).apply(x, _axes(dim, x._data.ndim), keepdim)


def nanmean(input: Tensor, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
    """mean of the non-NaN elements: nansum divided by their count."""
    if not input.dtype.is_floating_point:
        raise RuntimeError(f"nanmean(): expected input to have floating point or complex dtype "
                           f"but got {_type_name(input.dtype)}")
    x = input if dtype is None else input.to(dtype)
    axes = _axes(dim, x._data.ndim)
    d = x._data
    count = (d == d).sum(axis=axes, keepdims=keepdim, dtype=np.int64)
    return nansum(x, dim, keepdim) / _make(count)


def sum_to_size(input: Tensor, *size) -> Tensor:
    """Sum `input` down to `size`, undoing broadcasting (what the engine uses for grads)."""
    from ember._ops.creation import _parse_size
    shape = _parse_size(size)
    x_shape = input._data.shape
    lead = len(x_shape) - len(shape)
    if lead < 0 or builtins.any(s != 1 and s != x for s, x in zip(shape, x_shape[lead:])):
        raise RuntimeError(f"size {{{', '.join(map(str, shape))}}} is not expandable to size "
                           f"{{{', '.join(map(str, x_shape))}}}.")
    dims = tuple(range(lead)) + tuple(lead + i for i, s in enumerate(shape)
                                      if s == 1 and x_shape[lead + i] != 1)
    if not dims:
        return input
    out = SumDim.apply(input, dims, True, None)
    return out.reshape(shape) if lead else out


# ----------------------------------------------------------------- prod
def _zero_ranks(zero, axes):
    """Masks of the first and of the second zero of each reduced slice (C order over axes)."""
    if not axes:
        return zero, None
    if len(axes) == 1:
        seen = zero.cumsum(axis=axes[0])
    else:  # prod over every dim: count along the flattened array
        seen = zero.reshape(-1).cumsum().reshape(zero.shape)
    second = zero & (seen == 2)
    return zero & (seen == 1), (second if second.any() else None)


class Prod(Function):
    """prod over every dim."""

    _node_name = "ProdBackward0"

    @staticmethod
    def forward(ctx, a, axes, keepdim, dtype):
        x, acc = _int_default(a._data, dtype)
        ctx.shape, ctx.axes, ctx.keepdim = x.shape, axes, keepdim
        if acc.itemsize == 2 and acc.kind in "fV":
            out = x.prod(axis=axes, keepdims=keepdim, dtype=_F32).astype(acc)
        else:
            out = x.prod(axis=axes, keepdims=keepdim, dtype=acc)
        result = _make(out)
        ctx.save_for_backward(a, result)
        return result

    @staticmethod
    def backward(ctx, grad):
        a, out = ctx.saved_tensors
        axes = ctx.axes
        g = _restore(grad, ctx.shape, axes, ctx.keepdim)
        o = _restore(out, ctx.shape, axes, ctx.keepdim)
        x = a._data
        zero = x == 0
        if not zero.any():
            return g * o / a, None, None, None
        # Where x != 0 the derivative is out / x (zero if the slice has a zero elsewhere).
        # At a zero it is the product of the others: the product of the slice with that
        # zero replaced by one. Only the first two zeros of a slice need it: at any later
        # zero both the value and its derivatives vanish.
        dt = x.dtype
        nonzero = _const(~zero, dt)
        safe = a * nonzero + _const(zero, dt)
        total = o / safe * nonzero
        for rank in _zero_ranks(zero, axes):
            if rank is not None:
                at = _const(rank, dt)
                total = total + Prod.apply(a * (1 - at) + at, axes, True, None) * at
        return g * total, None, None, None


class ProdDim(Prod):
    _node_name = "ProdBackward1"


def prod(input: Tensor, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
    """Product over one `dim` (or all); bools and integers multiply in int64 unless `dtype`."""
    if _AUTOCAST: input, = autocast_fp32(input)
    if dim is None:
        if keepdim:
            raise TypeError("prod(): keepdim=True needs an int dim")
        return Prod.apply(input, _axes(None, input._data.ndim), False, dtype)
    if not isinstance(dim, (int, np.integer)):
        raise TypeError(f"prod(): argument 'dim' must be int, not {type(dim).__name__}")
    return ProdDim.apply(input, _axes(dim, input._data.ndim), keepdim, dtype)


# ----------------------------------------------------------------- max / min
def _extreme_array(x, fn: str, axes, keepdim):
    # bfloat16 reductions in ml_dtypes are slow and warn on NaN; float32 is exact for them
    if x.dtype.kind == "V":
        return getattr(x.astype(_F32), fn)(axis=axes, keepdims=keepdim).astype(x.dtype)
    return getattr(x, fn)(axis=axes, keepdims=keepdim)


def _tie_scale(x, value, axes, nan_ties: bool, dtype):
    """mask / count over the elements equal to the extreme value (torch splits ties evenly)."""
    mask = x == value
    if nan_ties:
        mask |= (x != x) & (value != value)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (mask / mask.sum(axis=axes, keepdims=True)).astype(dtype, copy=False)


class MaxAll(Function):
    """max() of every element; ties (and NaNs) share the gradient evenly."""

    _node_name = "MaxBackward1"
    _fn = "max"

    @staticmethod
    def forward(ctx, a):
        x = a._data
        if x.size == 0:
            raise RuntimeError(f"{ctx._fn}(): Expected reduction dim to be specified for "
                               "input.numel() == 0. Specify the reduction dim with the 'dim' "
                               "argument.")
        out = _make(_extreme_array(x, ctx._fn, None, False))
        ctx.save_for_backward(a, out)
        return out

    @staticmethod
    def backward(ctx, grad):
        a, out = ctx.saved_tensors
        x = a._data
        return grad * _make(_tie_scale(x, out._data, None, True, grad._data.dtype))


class MinAll(MaxAll):
    _node_name = "MinBackward1"
    _fn = "min"


class MaxDim(Function):
    """max(dim): values and the index of the first maximum along `dim`."""

    _node_name = "MaxBackward0"
    _fn = "max"

    @staticmethod
    def forward(ctx, a, d, keepdim):
        x = a._data
        ctx.shape, ctx.d, ctx.keepdim = x.shape, d, keepdim
        if x.ndim == 0:
            values, idx = x.copy(), _xp(x).zeros((), dtype=np.int64)
        else:
            if x.shape[d] == 0:
                raise IndexError(f"{ctx._fn}(): Expected reduction dim {d} to have non-zero "
                                 "size.")
            src = x.astype(_F32) if x.dtype.kind == "V" else x
            idx = getattr(src, "arg" + ctx._fn)(axis=d, keepdims=True)
            values = _xp(x).take_along_axis(x, idx, axis=d)
            if not keepdim:
                idx, values = idx.squeeze(d), values.squeeze(d)
        indices = _make(idx.astype(np.int64, copy=False))
        ctx.mark_non_differentiable(indices)
        ctx.save_for_backward(indices)
        return _make(values), indices

    @staticmethod
    def backward(ctx, grad, grad_indices):
        (indices,) = ctx.saved_tensors
        shape, d = ctx.shape, ctx.d
        if not shape:
            return grad, None, None
        idx = indices._data
        if not ctx.keepdim:
            idx = _xp(idx).expand_dims(idx, d)
        g = _restore(grad, shape, (d,), ctx.keepdim)
        positions = _xp(idx).arange(shape[d]).reshape([-1 if i == d else 1
                                                       for i in range(len(shape))])
        return g * _const(positions == idx, grad._data.dtype), None, None


class MinDim(MaxDim):
    _node_name = "MinBackward0"
    _fn = "min"


def max(input: Tensor, dim=None, keepdim: bool = False, *, other=None):
    """max(): the largest value; max(dim): (values, indices); max(other): elementwise."""
    if isinstance(dim, Tensor) or other is not None:
        from ember._ops.pointwise import maximum
        return maximum(input, dim if other is None else other)
    if dim is None:
        return MaxAll.apply(input)
    d = _wrap_dim(dim, input._data.ndim)
    return return_types.max(*MaxDim.apply(input, d, keepdim))


def min(input: Tensor, dim=None, keepdim: bool = False, *, other=None):
    """min(): the smallest value; min(dim): (values, indices); min(other): elementwise."""
    if isinstance(dim, Tensor) or other is not None:
        from ember._ops.pointwise import minimum
        return minimum(input, dim if other is None else other)
    if dim is None:
        return MinAll.apply(input)
    d = _wrap_dim(dim, input._data.ndim)
    return return_types.min(*MinDim.apply(input, d, keepdim))


def _check_nonempty(name: str, x, dim, axes, sep: str = "()") -> None:
    """torch's errors for max-like reductions over zero-size dims (they have no identity)."""
    if x.size:
        return
    if dim is None or (not isinstance(dim, (int, np.integer)) and not len(dim)):
        raise RuntimeError(f"{name}(): Expected reduction dim to be specified for input.numel() "
                           "== 0. Specify the reduction dim with the 'dim' argument.")
    given = (dim,) if isinstance(dim, (int, np.integer)) else tuple(dim)
    for raw, ax in zip(sorted(given, key=lambda v: _wrap_dim(v, x.ndim)), axes):
        if x.shape[ax] == 0:
            raise IndexError(f"{name}{sep}: Expected reduction dim {raw} to have non-zero size.")


class Amax(Function):
    _node_name = "AmaxBackward0"
    _fn = "max"

    @staticmethod
    def forward(ctx, a, axes, keepdim):
        x = a._data
        ctx.shape, ctx.axes, ctx.keepdim = x.shape, axes, keepdim
        out = _make(_extreme_array(x, ctx._fn, axes, keepdim))
        ctx.save_for_backward(a, out)
        return out

    @staticmethod
    def backward(ctx, grad):
        a, out = ctx.saved_tensors
        shape, axes, keepdim = ctx.shape, ctx.axes, ctx.keepdim
        value = out._data if keepdim else out._data.reshape(_kept_shape(shape, axes))
        scale = _tie_scale(a._data, value, axes, False, grad._data.dtype)
        return _restore(grad, shape, axes, keepdim) * _make(scale), None, None


class Amin(Amax):
    _node_name = "AminBackward0"
    _fn = "min"


def amax(input: Tensor, dim=(), keepdim: bool = False) -> Tensor:
    """Largest value over `dim` (all dims for ()); the gradient splits evenly among ties."""
    axes = _axes(dim, input._data.ndim)
    _check_nonempty("amax", input._data, dim, axes)
    return Amax.apply(input, axes, keepdim)


def amin(input: Tensor, dim=(), keepdim: bool = False) -> Tensor:
    """Smallest value over `dim` (all dims for ()); the gradient splits evenly among ties."""
    axes = _axes(dim, input._data.ndim)
    _check_nonempty("amin", input._data, dim, axes)
    return Amin.apply(input, axes, keepdim)


class Aminmax(Function):
    _node_name = "AminmaxBackward0"

    @staticmethod
    def forward(ctx, a, axes, keepdim):
        x = a._data
        ctx.shape, ctx.axes, ctx.keepdim = x.shape, axes, keepdim
        lo = _make(_extreme_array(x, "min", axes, keepdim))
        hi = _make(_extreme_array(x, "max", axes, keepdim))
        ctx.save_for_backward(a, lo, hi)
        return lo, hi

    @staticmethod
    def backward(ctx, grad_min, grad_max):
        a, lo, hi = ctx.saved_tensors
        shape, axes, keepdim = ctx.shape, ctx.axes, ctx.keepdim
        kept = _kept_shape(shape, axes)
        dt = grad_min._data.dtype
        s_lo = _make(_tie_scale(a._data, lo._data.reshape(kept), axes, False, dt))
        s_hi = _make(_tie_scale(a._data, hi._data.reshape(kept), axes, False, dt))
        return (_restore(grad_min, shape, axes, keepdim) * s_lo
                + _restore(grad_max, shape, axes, keepdim) * s_hi), None, None


def aminmax(input: Tensor, *, dim=None, keepdim: bool = False):
    """(min, max) in one call, as torch.return_types.aminmax."""
    x = input._data
    if dim is not None and not isinstance(dim, (int, np.integer)):
        raise TypeError(f"aminmax(): argument 'dim' must be int, not {type(dim).__name__}")
    axes = _axes(dim, x.ndim)
    if x.size == 0:
        if dim is None:
            raise RuntimeError("aminmax(): cannot compute aminmax over an empty dimension as the "
                               "operation has no identity.")
        _check_nonempty("aminmax", x, dim, axes, sep="")
    return return_types.aminmax(*Aminmax.apply(input, axes, keepdim))


def _arg_extreme(name: str, input: Tensor, dim, keepdim: bool) -> Tensor:
    x = input._data
    if input.dtype is _dt.bool:
        raise RuntimeError(f"{name}(): does not support bool input")
    if x.dtype.kind == "V":
        x = x.astype(_F32)
    fn = getattr(x, name)
    if dim is None:
        if x.size == 0:
            raise IndexError(f"{name}(): Expected reduction dim to be specified for "
                             "input.numel() == 0.")
        idx = _xp(x).asarray(fn())
        if keepdim:
            idx = idx.reshape((1,) * x.ndim)
    else:
        if not isinstance(dim, (int, np.integer)):
            raise TypeError(f"{name}(): argument 'dim' (position 1) must be int, not "
                            f"{type(dim).__name__}")
        d = _wrap_dim(dim, x.ndim)
        if x.ndim == 0:
            idx = _xp(x).zeros((), dtype=np.int64)
        else:
            if x.shape[d] == 0:
                raise IndexError(f"{name}(): Expected reduction dim {d} to have non-zero size.")
            idx = fn(axis=d, keepdims=keepdim)
    return _make(idx.astype(np.int64, copy=False))


def argmax(input: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    """Index of the (first) largest value; over the flattened tensor when dim is None."""
    return _arg_extreme("argmax", input, dim, keepdim)


def argmin(input: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    """Index of the (first) smallest value; over the flattened tensor when dim is None."""
    return _arg_extreme("argmin", input, dim, keepdim)


# ----------------------------------------------------------------- std / var
def _std_var_args(name: str, input: Tensor, dim, unbiased, correction):
    """(axes, correction) from torch's calling conventions, warning when N - correction <= 0."""
    if not input.dtype.is_floating_point:
        raise RuntimeError(f"{'std and var' if name in ('std', 'var') else name} only support "
                           "floating point and complex dtypes")
    if isinstance(dim, bool):  # the legacy std(input, unbiased) form
        dim, unbiased = None, dim
    if unbiased is not None and correction is not None:
        raise TypeError(f"{name}() received an invalid combination of arguments - got both "
                        "'unbiased' and 'correction'; pass only one of them")
    if correction is None:
        correction = 0 if unbiased is False else 1
    x = input._data
    axes = _axes(dim, x.ndim)
    if _count(x.shape, axes) - correction <= 0:
        warnings.warn(f"{name}(): degrees of freedom is <= 0. Correction should be strictly "
                      "less than the reduction factor (input numel divided by output numel).",
                      UserWarning, stacklevel=3)
    return axes, correction


def _moments(x, axes, correction, keepdim):
    """(variance, kept-dims mean, N, divisor) of x over axes."""
    n = _count(x.shape, axes)
    denom = builtins.max(0, n - correction)
    xa = _acc(x)
    with np.errstate(invalid="ignore", divide="ignore"):
        m = xa.sum(axis=axes, keepdims=True) / n if n else \
            _xp(x).full(_kept_shape(x.shape, axes), np.nan, dtype=xa.dtype)
        d = xa - m
        d *= d
        v = d.sum(axis=axes, keepdims=keepdim)
        v = v / denom if denom else v / 0.0
    return v, m, n, denom


def _scale(denom) -> float:
    return 1.0 / denom if denom else math.inf


class Var(Function):
    _node_name = "VarBackward0"

    @staticmethod
    def forward(ctx, a, axes, correction, keepdim):
        x = a._data
        v, _, ctx.n, ctx.denom = _moments(x, axes, correction, keepdim)
        ctx.shape, ctx.axes, ctx.keepdim = x.shape, axes, keepdim
        ctx.save_for_backward(a)
        return _make(_back(v, x))

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        g = _restore(grad, ctx.shape, ctx.axes, ctx.keepdim)
        centered = a - MeanDim.apply(a, ctx.axes, True)
        return centered * (g * (2.0 * _scale(ctx.denom))), None, None, None


class Std(Function):
    _node_name = "StdBackward0"

    @staticmethod
    def forward(ctx, a, axes, correction, keepdim):
        x = a._data
        v, _, ctx.n, ctx.denom = _moments(x, axes, correction, keepdim)
        ctx.shape, ctx.axes, ctx.keepdim = x.shape, axes, keepdim
        out = _make(_back(_xp(v).sqrt(v), x))
        ctx.save_for_backward(a, out)
        return out

    @staticmethod
    def backward(ctx, grad):
        a, out = ctx.saved_tensors
        return _std_grad(ctx, a, out, grad), None, None, None


def _std_grad(ctx, a: Tensor, out: Tensor, grad: Tensor) -> Tensor:
    """d std / d a: (a - mean) / (denom * std), zero where std is zero (as torch)."""
    g = _restore(grad, ctx.shape, ctx.axes, ctx.keepdim)
    s = _restore(out, ctx.shape, ctx.axes, ctx.keepdim)
    zero = s._data == 0
    if zero.any():
        s = s + _const(zero, s._data.dtype)
        g = g * _const(~zero, g._data.dtype)
    centered = a - MeanDim.apply(a, ctx.axes, True)
    return centered * (g * _scale(ctx.denom) / s)


def var(input: Tensor, dim=None, unbiased=None, keepdim: bool = False, *,
        correction=None) -> Tensor:
    """Variance over `dim`, dividing by N - correction (correction=1 unless unbiased=False)."""
    axes, c = _std_var_args("var", input, dim, unbiased, correction)
    return Var.apply(input, axes, c, keepdim)


def std(input: Tensor, dim=None, unbiased=None, keepdim: bool = False, *,
        correction=None) -> Tensor:
    """Standard deviation over `dim` (the square root of var with the same arguments)."""
    axes, c = _std_var_args("std", input, dim, unbiased, correction)
    return Std.apply(input, axes, c, keepdim)


class VarMean(Function):
    _node_name = "VarMeanBackward0"

    @staticmethod
    def forward(ctx, a, axes, correction, keepdim):
        x = a._data
        v, m, ctx.n, ctx.denom = _moments(x, axes, correction, keepdim)
        ctx.shape, ctx.axes, ctx.keepdim = x.shape, axes, keepdim
        ctx.save_for_backward(a)
        m = m if keepdim else m.reshape(v.shape)
        return _make(_back(v, x)), _make(_back(m, x))

    @staticmethod
    def backward(ctx, grad_var, grad_mean):
        (a,) = ctx.saved_tensors
        g = _restore(grad_var, ctx.shape, ctx.axes, ctx.keepdim)
        gm = _restore(grad_mean, ctx.shape, ctx.axes, ctx.keepdim)
        centered = a - MeanDim.apply(a, ctx.axes, True)
        return centered * (g * (2.0 * _scale(ctx.denom))) + gm / builtins.max(ctx.n, 1), \
            None, None, None


class StdMean(Function):
    _node_name = "StdMeanBackward0"

    @staticmethod
    def forward(ctx, a, axes, correction, keepdim):
        x = a._data
        v, m, ctx.n, ctx.denom = _moments(x, axes, correction, keepdim)
        ctx.shape, ctx.axes, ctx.keepdim = x.shape, axes, keepdim
        out = _make(_back(_xp(v).sqrt(v), x))
        ctx.save_for_backward(a, out)
        m = m if keepdim else m.reshape(v.shape)
        return out, _make(_back(m, x))

    @staticmethod
    def backward(ctx, grad_std, grad_mean):
        a, out = ctx.saved_tensors
        gm = _restore(grad_mean, ctx.shape, ctx.axes, ctx.keepdim)
        return _std_grad(ctx, a, out, grad_std) + gm / builtins.max(ctx.n, 1), None, None, None


def var_mean(input: Tensor, dim=None, unbiased=None, keepdim: bool = False, *,
             correction=None) -> tuple:
    """(var, mean) over `dim`, computed together."""
    axes, c = _std_var_args("var_mean", input, dim, unbiased, correction)
    return VarMean.apply(input, axes, c, keepdim)


def std_mean(input: Tensor, dim=None, unbiased=None, keepdim: bool = False, *,
             correction=None) -> tuple:
    """(std, mean) over `dim`, computed together."""
    axes, c = _std_var_args("std_mean", input, dim, unbiased, correction)
    return StdMean.apply(input, axes, c, keepdim)


# ----------------------------------------------------------------- cumulative ops
def _scan_dim(name: str, dim, ndim: int) -> int:
    if not isinstance(dim, (int, np.integer)):
        raise TypeError(f"{name}(): argument 'dim' (position 1) must be int, not "
                        f"{type(dim).__name__}")
    return _wrap_dim(dim, ndim)


def _scan(x, fn: str, d: int, dtype):
    x, acc = _int_default(x, dtype)
    if x.ndim == 0:
        return x.astype(acc)
    if acc.itemsize == 2 and acc.kind in "fV":
        return getattr(x, fn)(axis=d, dtype=_F32).astype(acc)
    return getattr(x, fn)(axis=d, dtype=acc)


class _ReverseCumsum(Function):
    """Sums from each position to the end of `dim` (the adjoint of cumsum)."""

    _node_name = "ReverseCumsumBackward0"

    @staticmethod
    def forward(ctx, a, d):
        x = a._data
        ctx.d = d
        if x.ndim == 0:
            return _make(x.copy())
        xp = _xp(x)
        return _make(_back(xp.flip(xp.flip(_acc(x), d).cumsum(axis=d), d), x))

    @staticmethod
    def backward(ctx, grad):
        return Cumsum.apply(grad, ctx.d, None), None


class Cumsum(Function):
    _node_name = "CumsumBackward0"

    @staticmethod
    def forward(ctx, a, d, dtype):
        ctx.d = d
        return _make(_scan(a._data, "cumsum", d, dtype))

    @staticmethod
    def backward(ctx, grad):
        return _ReverseCumsum.apply(grad, ctx.d), None, None


def cumsum(input: Tensor, dim, *, dtype=None) -> Tensor:
    """Running sum along `dim`; bools and integers accumulate in int64 unless `dtype`."""
    return Cumsum.apply(input, _scan_dim("cumsum", dim, input._data.ndim), dtype)


class Cumprod(Function):
    _node_name = "CumprodBackward0"

    @staticmethod
    def forward(ctx, a, d, dtype):
        ctx.d = d
        out = _make(_scan(a._data, "cumprod", d, dtype))
        ctx.save_for_backward(a, out)
        return out

    @staticmethod
    def backward(ctx, grad):
        a, out = ctx.saved_tensors
        d = ctx.d
        x = a._data
        if x.ndim == 0:
            return grad, None, None
        zero = x == 0
        if not zero.any():
            return _ReverseCumsum.apply(grad * out, d) / a, None, None
        # For x_i != 0 the derivative is sum_{k>=i} g_k out_k / x_i (out_k vanishes after
        # the first zero). At a zero it is the same sum over the cumprod of the slice with
        # that zero replaced by one; as for prod, only the first two zeros need it.
        dt = x.dtype
        nonzero = _const(~zero, dt)
        safe = a * nonzero + _const(zero, dt)
        total = _ReverseCumsum.apply(grad * out, d) / safe * nonzero
        for rank in _zero_ranks(zero, (d,)):
            if rank is not None:
                at = _const(rank, dt)
                replaced = Cumprod.apply(a * (1 - at) + at, d, None)
                total = total + _ReverseCumsum.apply(grad * replaced, d) * at
        return total, None, None


def cumprod(input: Tensor, dim, *, dtype=None) -> Tensor:
    """Running product along `dim`; the gradient stays correct where the input has zeros."""
    return Cumprod.apply(input, _scan_dim("cumprod", dim, input._data.ndim), dtype)


# ----------------------------------------------------------------- logical reductions
def _logical(fn: str, input: Tensor, dim, keepdim: bool) -> Tensor:
    x = input._data
    if x.dtype.kind != "b":
        x = x != 0
    if dim is not None and not isinstance(dim, (int, np.integer)) and not len(dim):
        out = x.copy()  # an empty dim list reduces nothing here (unlike sum)
        _axes(dim, x.ndim)
    else:
        out = getattr(x, fn)(axis=_axes(dim, x.ndim), keepdims=keepdim)
    if input.dtype is _dt.uint8:  # torch keeps uint8 for uint8 inputs
        out = out.astype(np.uint8)
    return _make(out)


def all(input: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    """Whether every element (along `dim`) is nonzero; uint8 inputs give uint8."""
    return _logical("all", input, dim, keepdim)


def any(input: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    """Whether some element (along `dim`) is nonzero; uint8 inputs give uint8."""
    return _logical("any", input, dim, keepdim)


def count_nonzero(input: Tensor, dim=None) -> Tensor:
    """Number of nonzero elements along `dim` (all dims by default), as int64."""
    x = input._data
    return _make((x != 0).sum(axis=_axes(dim, x.ndim), dtype=np.int64))


# norms and softmax build on the reductions above
from ember._ops.norms import norm  # noqa: E402
from ember._ops.softmax import log_softmax, logsumexp, softmax  # noqa: E402
