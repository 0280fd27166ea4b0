"""Shape ops and views: view/reshape, transpose/permute, expand, cat/stack/split ..."""
from __future__ import annotations

import numpy as np

from ember._ops.inplace import set_view
from ember._tensor import Tensor, _make
from ember.autograd.function import Function

__all__ = ["reshape", "broadcast_to"]


def _wrap_dim(dim: int, ndim: int) -> int:
    """A non-negative dim, with torch's IndexError for out-of-range dims."""
    n = max(ndim, 1)
    if not -n <= dim < n:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], "
                         f"but got {dim})")
    return dim + n if dim < 0 else dim


def _shape_arg(shape) -> tuple:
    if len(shape) == 1 and not isinstance(shape[0], (int, np.integer)):
        return tuple(shape[0])
    return shape


def _infer_shape(shape, numel: int) -> tuple:
    """Resolve one -1 in `shape` against numel, with torch's errors."""
    shape = tuple(int(s) for s in shape)
    if shape.count(-1) > 1:
        raise RuntimeError("only one dimension can be inferred")
    known = 1
    for s in shape:
        if s != -1:
            if s < 0:
                raise RuntimeError(f"invalid shape dimension {s}")
            known *= s
    if -1 in shape:
        if known == 0 or numel % known:
            raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel}")
        return tuple(numel // known if s == -1 else s for s in shape)
    if known != numel:
        raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel}")
    return shape


class View(Function):
    _node_name = "ViewBackward0"

    @staticmethod
    def forward(ctx, a, shape):
        ctx.in_shape = a._data.shape
        v = a._data.view()
        try:
            v.shape = shape
        except AttributeError:
            raise RuntimeError("view size is not compatible with input tensor's size and stride "
                               "(at least one dimension spans across two contiguous subspaces). "
                               "Use .reshape(...) instead.") from None
        return set_view(_make(v), a, lambda b: view(b, shape))

    @staticmethod
    def backward(ctx, grad):
        return grad.reshape(ctx.in_shape), None


def view(input: Tensor, *shape) -> Tensor:
    """The same memory seen with another shape (fails where a copy would be needed)."""
    return View.apply(input, _infer_shape(_shape_arg(shape), input._data.size))


class Reshape(Function):
    _node_name = "ReshapeAliasBackward0"

    @staticmethod
    def forward(ctx, a, shape):
        ctx.in_shape = a._data.shape
        out = a._data.reshape(shape)
        t = _make(out)
        if out.base is not None and np.may_share_memory(out, a._data):
            set_view(t, a, lambda b: reshape(b, shape))
        return t

    @staticmethod
    def backward(ctx, grad):
        return grad.reshape(ctx.in_shape), None


def reshape(input: Tensor, *shape) -> Tensor:
    """A view when the memory layout allows it, else a copy (as torch)."""
    shape = _infer_shape(_shape_arg(shape), input._data.size)
    if shape == input._data.shape:
        return View.apply(input, shape)
    return Reshape.apply(input, shape)


class Expand(Function):
    _node_name = "ExpandBackward0"

    @staticmethod
    def forward(ctx, a, shape):
        ctx.in_shape = a._data.shape
        xp = np if isinstance(a._data, np.ndarray) else a._data.__array_namespace__()
        return set_view(_make(xp.broadcast_to(a._data, shape)), a, lambda b: expand(b, shape))

    @staticmethod
    def backward(ctx, grad):
        return grad.sum_to_size(ctx.in_shape), None


def expand(input: Tensor, *sizes) -> Tensor:
    """A broadcast view: size-1 dims repeat without copying; -1 keeps a size."""
    sizes = tuple(int(s) for s in _shape_arg(sizes))
    shape = input._data.shape
    if len(sizes) < len(shape):
        raise RuntimeError(f"expand(torch.FloatTensor{{{list(shape)}}}, size={list(sizes)}): the "
                           "number of sizes provided ({len(sizes)}) must be greater or equal to "
                           f"the number of dimensions in the tensor ({len(shape)})")
    lead = len(sizes) - len(shape)
    out = list(sizes)
    for i, s in enumerate(shape):
        want = sizes[lead + i]
        if want == -1:
            out[lead + i] = s
        elif s != want and s != 1:
            raise RuntimeError(f"The expanded size of the tensor ({want}) must match the existing "
                               f"size ({s}) at non-singleton dimension {lead + i}.  Target sizes: "
                               f"{list(sizes)}.  Tensor sizes: {list(shape)}")
    out = tuple(out)
    if out == shape:
        return input
    return Expand.apply(input, out)


def broadcast_to(input: Tensor, size) -> Tensor:
    return expand(input, size)
