"""Vector and matrix norms: torch.linalg.vector_norm / matrix_norm / norm and torch.norm.

`vector_norm` is one op with its own backward (torch's LinalgVectorNormBackward0);
matrix norms are built from reductions (sum of |A| then amax/amin for the 1 and
inf norms, singular values for 2, -2 and 'nuc'), as torch builds them.
"""
from __future__ import annotations

import math

import numpy as np

from ember import _dtype as _dt
from ember._ops.inplace import _type_name
from ember._ops.reduction import (
    _acc,
    _axes,
    _back,
    _const,
    _kept_shape,
    _restore,
    _tie_scale,
    _xp,
    amax,
    amin,
)
from ember._ops.shape import _wrap_dim
from ember._tensor import Tensor, _make
from ember.autograd.function import Function

__all__ = ["vector_norm", "matrix_norm", "linalg_norm", "norm"]

_INF = math.inf


def _ord_str(ord) -> str:
    return f"{ord:g}" if isinstance(ord, float) else str(ord)


def _norm_dtype(name: str, input: Tensor, dtype) -> Tensor | None:
    """torch's dtype checks for the linalg norms; returns the dtype to compute in."""
    if not input.dtype.is_floating_point:
        raise RuntimeError(f"linalg.{name}: Expected a floating point or complex tensor as "
                           f"input. Got {_type_name(input.dtype)}")
    if dtype is None:
        return None
    if not dtype.is_floating_point:
        raise RuntimeError(f"linalg.{name}: dtype should be floating point or complex, but got "
                           f"{_type_name(dtype)}")
    if _dt.promote_types(input.dtype, dtype) is not dtype:
        raise RuntimeError(f"linalg.{name}: the dtype of the input ({_type_name(input.dtype)}) "
                           "should be convertible without narrowing to the specified dtype "
                           f"({_type_name(dtype)})")
    return dtype


def _vector_norm_array(x, ord, axes, keepdim):
    xp = _xp(x)
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        if ord == 2:
            return xp.sqrt((x * x).sum(axis=axes, keepdims=keepdim))
        if ord == 0:
            return (x != 0).sum(axis=axes, keepdims=keepdim, dtype=x.dtype)
        a = xp.abs(x)
        if ord == 1:
            return a.sum(axis=axes, keepdims=keepdim)
        if ord == _INF:
            return a.max(axis=axes, keepdims=keepdim)
        if ord == -_INF:
            return a.min(axis=axes, keepdims=keepdim)
        return (a ** ord).sum(axis=axes, keepdims=keepdim) ** (1.0 / ord)


class LinalgVectorNorm(Function):
    _node_name = "LinalgVectorNormBackward0"

    @staticmethod
    def forward(ctx, a, ord, axes, keepdim, dtype):
        x = a._data
        ctx.shape, ctx.ord, ctx.axes, ctx.keepdim = x.shape, ord, axes, keepdim
        if dtype is not None:  # computed in the wider dtype, with no cast node in between
            x = x.astype(dtype.np, copy=False)
        result = _make(_back(_vector_norm_array(_acc(x), ord, axes, keepdim), x))
        ctx.save_for_backward(a, result)
        return result

    @staticmethod
    def backward(ctx, grad):
        a, out = ctx.saved_tensors
        ord, axes = ctx.ord, ctx.axes
        if ord == 0:
            return None, None, None, None, None
        x = a._data
        dt = np.result_type(x.dtype, grad._data.dtype)
        g = _restore(grad, ctx.shape, axes, ctx.keepdim)
        o = _restore(out, ctx.shape, axes, ctx.keepdim)
        if ord == 1:
            return g * a.sign(), None, None, None, None
        if abs(ord) == _INF:
            scale = _tie_scale(_xp(x).abs(x), o._data, axes, True, dt)
            return g * a.sign() * _make(scale), None, None, None, None
        s = _const(_xp(x).sign(x), dt)
        if ord < 1:
            # sgn(x) |x|^(p-1) norm^(1-p), with zero where x is zero
            zero = x == 0
            absx = a * s + _const(zero, dt)
            return (s * absx ** (ord - 1.0) * _const(~zero, dt)) * (g * o ** (1.0 - ord)), \
                None, None, None, None
        # p > 1: sgn(x) |x|^(p-1) / norm^(p-1), with zero where the norm is zero
        zero = o._data == 0
        if zero.any():
            g = g * _const(~zero, dt)
            o = o + _const(zero, dt)
        if ord == 2:
            return a * (g / o), None, None, None, None
        return (s * (a * s) ** (ord - 1.0)) * (g / o ** (ord - 1.0)), None, None, None, None


def vector_norm(x: Tensor, ord=2, dim=None, keepdim: bool = False, *, dtype=None,
                out=None) -> Tensor:
    """The ord-norm of x's entries over `dim` (all by default): sum(|x|^ord)^(1/ord).

    ord may be any number: inf/-inf give max/min |x|, 0 counts nonzeros. `dtype`
    computes (and returns) in a wider floating dtype.
    """
    if isinstance(ord, str) or not isinstance(ord, (int, float, np.number)):
        raise TypeError(f"linalg_vector_norm(): argument 'ord' (position 2) must be Number, not "
                        f"{type(ord).__name__}")
    dtype = _norm_dtype("vector_norm", x, dtype)
    ord = float(ord)
    data = x._data
    axes = _axes(dim, data.ndim)
    if data.size == 0 and (ord < 0 or ord == _INF):
        if dim is None:
            raise RuntimeError(f"linalg.vector_norm cannot compute the {_ord_str(ord)} norm on "
                               "an empty tensor because the operation does not have an identity")
        for ax in axes:
            if data.shape[ax] == 0:
                raise RuntimeError(f"linalg.vector_norm cannot compute the {_ord_str(ord)} norm "
                                   f"on the dimension {ax}because this dimension is empty and "
                                   "the operation does not have an identity")
    return LinalgVectorNorm.apply(x, ord, axes, keepdim, dtype)


class _SingularValues(Function):
    """Singular values of the matrices in the last two dims, in descending order."""

    _node_name = "LinalgSvdBackward0"

    @staticmethod
    def forward(ctx, a):
        x = a._data
        xp = _xp(x)
        xa = _acc(x)
        u, s, vh = xp.linalg.svd(xa, full_matrices=False)
        ctx.u, ctx.vh = u, vh
        return _make(_back(s, x))

    @staticmethod
    def backward(ctx, grad):
        # dA = U diag(g) Vh; U and Vh enter as constants (first derivatives only).
        u, vh = ctx.u, ctx.vh
        g = grad.reshape(*grad.shape[:-1], 1, grad.shape[-1])
        return (_make(u.astype(grad._data.dtype)) * g) @ _make(vh.astype(grad._data.dtype))


def _move_last(A: Tensor, d0: int, d1: int) -> Tensor:
    """A with dims d0, d1 moved to the end (in that order)."""
    order = [i for i in range(A.ndim) if i not in (d0, d1)] + [d0, d1]
    return A if order == list(range(A.ndim)) else A.permute(order)


def matrix_norm(A: Tensor, ord="fro", dim=(-2, -1), keepdim: bool = False, *, dtype=None,
                out=None) -> Tensor:
    """A matrix norm over the two dims `dim`: 'fro', 'nuc', 1, -1, 2, -2, inf or -inf."""
    if isinstance(ord, str):
        if ord not in ("fro", "nuc"):
            raise RuntimeError(f"linalg.matrix_norm: Order {ord} not supported.")
    elif ord not in (1, -1, 2, -2, _INF, -_INF):
        raise RuntimeError(f"linalg.matrix_norm: Order {_ord_str(ord)} not supported.")
    if A.ndim < 2:
        raise RuntimeError("linalg.matrix_norm: The input tensor A must have at least 2 "
                           "dimensions.")
    dtype = _norm_dtype("matrix_norm", A, dtype)
    dims = (dim,) if isinstance(dim, (int, np.integer)) else tuple(dim)
    if len(dims) != 2:
        raise RuntimeError(f"linalg.matrix_norm: dim must be a 2-tuple. Got "
                           f"{' '.join(map(str, dims))}")
    d0, d1 = (_wrap_dim(d, A.ndim) for d in dims)
    if d0 == d1:
        raise RuntimeError(f"linalg.matrix_norm: dims must be different. Got ({d0}, {d1})")
    if dtype is not None:
        A = A.to(dtype)
    if ord == "fro":
        return vector_norm(A, 2, (d0, d1), keepdim)
    if A.shape[d0] == 0 or A.shape[d1] == 0:
        # as torch: maxima over nothing give 0, minima over nothing raise in amin
        if ord == "nuc":
            return vector_norm(A, 2, (d0, d1), keepdim)
        if ord == -2:
            raise IndexError("amin(): Expected reduction dim -1 to have non-zero size.")
        if ord == 2 or (ord == _INF and A.shape[d0] == 0) or (ord == 1 and A.shape[d1] == 0):
            shape = _kept_shape(A.shape, (d0, d1)) if keepdim else tuple(
                n for i, n in enumerate(A.shape) if i not in (d0, d1))
            return _make(_xp(A._data).zeros(shape, A._data.dtype))
    if ord in ("nuc", 2, -2):
        s = _SingularValues.apply(_move_last(A, d0, d1))
        r = s.sum(-1) if ord == "nuc" else (amax if ord == 2 else amin)(s, -1)
        if keepdim:
            r = r.reshape(_kept_shape(A.shape, (d0, d1)))
        return r
    if abs(ord) == 1:  # largest / smallest column sum
        d0, d1 = d1, d0
    # sum |A| along d1, then take the extreme along d0 (shifted if d1 went away before it)
    sums = A.abs().sum(d1, keepdim=keepdim)
    d0 = d0 - 1 if not keepdim and d1 < d0 else d0
    return (amax if ord > 0 else amin)(sums, d0, keepdim)


def linalg_norm(A: Tensor, ord=None, dim=None, keepdim: bool = False, *, dtype=None,
                out=None) -> Tensor:
    """torch.linalg.norm: a vector norm for one dim (or 1-D input), a matrix norm for two."""
    if dim is not None:
        dims = [dim] if isinstance(dim, (int, np.integer)) else list(dim)
        if len(dims) not in (1, 2):
            raise RuntimeError(f"linalg.norm: If dim is specified, it must be of length 1 or 2. "
                               f"Got {dims}")
    else:
        dims = None
        if ord is not None and A.ndim not in (1, 2):
            raise RuntimeError(f"linalg.norm: If dim is not specified but ord is, the input "
                               f"must be 1D or 2D. Got {A.ndim}D.")
    if ord is None:
        return vector_norm(A, 2, dims, keepdim, dtype=dtype)
    if isinstance(ord, str) or (dims is not None and len(dims) == 2) or (
            dims is None and A.ndim == 2):
        return matrix_norm(A, ord, dims if dims is not None else (-2, -1), keepdim, dtype=dtype)
    return vector_norm(A, ord, dims, keepdim, dtype=dtype)


def norm(input: Tensor, p="fro", dim=None, keepdim: bool = False, out=None,
         dtype=None) -> Tensor:
    """torch.norm: 'fro' (over at most two dims) and numbers are vector norms; 'nuc' and
    'fro' over more dims go to matrix_norm."""
    dims = None if dim is None else ([dim] if isinstance(dim, (int, np.integer)) else list(dim))
    if isinstance(p, str):
        if p == "fro" and (dims is None or len(dims) <= 2):
            return vector_norm(input, 2, dims, keepdim, dtype=dtype)
        return matrix_norm(input, p, dims if dims is not None else list(range(input.ndim)),
                           keepdim, dtype=dtype)
    return vector_norm(input, 2 if p is None else p, dims, keepdim, dtype=dtype)

