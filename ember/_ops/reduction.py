"""Reductions over dims (int, tuple, negative, keepdim) and their backward formulas."""
from __future__ import annotations

import numpy as np

from ember import _dtype as _dt
from ember._ops.shape import _wrap_dim
from ember._tensor import Tensor, _make
from ember.autograd.function import Function

__all__ = ["sum", "mean", "sum_to_size"]


def _dims(dim, ndim: int) -> tuple | None:
    """Normalise `dim` (None, int, or sequence; negative allowed) to a sorted tuple."""
    if dim is None:
        return None
    if isinstance(dim, (int, np.integer)):
        return (_wrap_dim(dim, ndim),)
    dims = tuple(sorted(_wrap_dim(d, ndim) for d in dim))
    if len(set(dims)) != len(dims):
        raise RuntimeError(f"dim {dims[0]} appears multiple times in the list of dims")
    return dims if dims else None


def _unsqueeze_to(grad: Tensor, shape, dims, keepdim: bool) -> Tensor:
    """Reshape a reduced gradient so it broadcasts back over the input's shape."""
    if keepdim or dims is None:
        return grad.reshape([1] * len(shape)) if dims is None and not keepdim else grad
    kept = list(grad.shape)
    for d in dims:
        kept.insert(d, 1)
    return grad.reshape(kept)


class Sum(Function):
    _node_name = "SumBackward1"

    @staticmethod
    def forward(ctx, a, dim, keepdim, dtype):
        x = a._data
        axis = _dims(dim, x.ndim)
        ctx.shape, ctx.dims, ctx.keepdim = x.shape, axis, keepdim
        if dtype is None and a.dtype._category < 2:
            dtype = _dt.int64  # torch sums bools and integers in int64
        return _make(x.sum(axis=axis, keepdims=keepdim,
                           dtype=None if dtype is None else dtype.np))

    @staticmethod
    def backward(ctx, grad):
        g = _unsqueeze_to(grad, ctx.shape, ctx.dims, ctx.keepdim)
        return g.expand(ctx.shape), None, None, None


def sum(input: Tensor, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
    """Sum of elements over `dim` (all of them by default)."""
    return Sum.apply(input, dim, keepdim, dtype)


def mean(input: Tensor, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
    """Arithmetic mean over `dim`; integer inputs need an explicit floating dtype."""
    if dtype is None and not input.dtype.is_floating_point:
        raise RuntimeError(f"mean(): could not infer output dtype. Input dtype must be either a "
                           f"floating point or complex dtype. Got: {_type_word(input.dtype)}")
    x = input if dtype is None else input.to(dtype)
    axis = _dims(dim, x.ndim)
    count = x.numel() if axis is None else int(np.prod([x.shape[d] for d in axis]))
    return sum(x, dim, keepdim) / count if count else sum(x, dim, keepdim) * float("nan")


def _type_word(d: _dt.dtype) -> str:
    from ember._ops.inplace import _type_name
    return _type_name(d)


def sum_to_size(input: Tensor, *size) -> Tensor:
    """Sum `input` down to `size`, undoing broadcasting (what the engine uses for grads)."""
    from ember._ops.creation import _parse_size
    shape = _parse_size(size)
    x_shape = input.shape
    lead = len(x_shape) - len(shape)
    if lead < 0 or any(s != 1 and s != x for s, x in zip(shape, x_shape[lead:])):
        raise RuntimeError(f"size {{{', '.join(map(str, shape))}}} is not expandable to size "
                           f"{{{', '.join(map(str, x_shape))}}}.")
    dims = list(range(lead)) + [lead + i for i, s in enumerate(shape)
                                if s == 1 and x_shape[lead + i] != 1]
    if not dims:
        return input
    out = sum(input, dims, keepdim=True)
    return out.reshape(shape) if lead else out
