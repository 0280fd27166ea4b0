"""Shape ops and views: view/reshape, transpose/permute, expand, cat/stack/split ...

NOTE [ Views ]
An op whose torch result shares memory with its input (view, transpose, narrow,
expand, split outputs ...) builds a NumPy/CuPy view of the input's array and marks
the result with `set_view(out, input, view_func)`: the result shares the input's
version counter and remembers its root `_base` and how to rebuild itself from it
(`view_func`, written with these same ops). In-place ops on a view use that to
route gradients (CopySlices, ember/_ops/inplace.py). Strides are NumPy's; the only
freedom NumPy and torch resolve differently is the stride of a size-1 dim, which
unsqueeze and expand set the way torch does.
"""
from __future__ import annotations

import math
import warnings

import numpy as np

from ember import _dtype as _dt
from ember._device import array_module as _xp
from ember._device import to_device
from ember._ops.inplace import _type_name, apply_inplace, set_view
from ember._tensor import Tensor, _make
from ember.amp.autocast_mode import _AUTOCAST, autocast_fp32
from ember.autograd.function import Function, _check_inplace
from ember.autograd.grad_mode import _state

__all__ = [
    "reshape", "flatten", "unflatten", "ravel", "squeeze", "unsqueeze", "permute",
    "transpose", "swapaxes", "swapdims", "t", "adjoint", "movedim", "moveaxis",
    "broadcast_to", "broadcast_tensors", "broadcast_shapes", "tile", "repeat_interleave",
    "cat", "concat", "concatenate", "stack", "hstack", "vstack", "row_stack", "dstack",
    "column_stack", "atleast_1d", "atleast_2d", "atleast_3d", "split", "tensor_split",
    "chunk", "unbind", "hsplit", "vsplit", "dsplit", "narrow", "select", "flip", "fliplr",
    "flipud", "roll", "tril", "triu", "diagonal", "diag", "diag_embed", "trace",
    "as_strided", "meshgrid",
]

_ndarray = np.ndarray
_int_types = (int, np.integer)


# ----------------------------------------------------------------- helpers
def _wrap_dim(dim: int, ndim: int) -> int:
    """A non-negative dim, with torch's IndexError for out-of-range dims."""
    n = max(ndim, 1)
    if not -n <= dim < n:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], "
                         f"but got {dim})")
    return dim + n if dim < 0 else dim


def _wrap_dims(dims, ndim: int) -> tuple:
    """An int or a sequence of dims, wrapped, with torch's error for repeats."""
    if isinstance(dims, _int_types):
        return (_wrap_dim(dims, ndim),)
    out = tuple(_wrap_dim(d, ndim) for d in dims)
    if len(set(out)) != len(out):
        seen = set()
        dup = next(d for d in out if d in seen or seen.add(d))
        raise RuntimeError(f"dim {dup} appears multiple times in the list of dims")
    return out


def _shape_arg(shape) -> tuple:
    """Sizes given as f(2, 3), f((2, 3)), f([2, 3]) or f(Size) -> a tuple."""
    if len(shape) == 1 and not isinstance(shape[0], _int_types) and not (
            isinstance(shape[0], Tensor) and shape[0]._data.ndim == 0):
        return tuple(shape[0])
    return shape


def _infer_shape(shape, numel: int) -> tuple:
    """Resolve one -1 in `shape` against numel, with torch's errors."""
    for s in shape:
        if type(s) is not int:
            shape = tuple(map(int, shape))
            break
    if -1 not in shape and math.prod(shape) == numel and (not shape or min(shape) >= 0):
        return tuple(shape)
    if shape.count(-1) > 1:
        raise RuntimeError("only one dimension can be inferred")
    known = 1
    for i, s in enumerate(shape):
        if s != -1:
            if s < 0:
                raise RuntimeError(f"invalid shape dimension {s} at index {i} of shape "
                                   f"{list(shape)}")
            known *= s
    if -1 in shape:
        if known == 0 and numel == 0:
            raise RuntimeError(f"cannot reshape tensor of 0 elements into shape {list(shape)} "
                               "because the unspecified dimension size -1 can be any value and "
                               "is ambiguous")
        if known == 0 or numel % known:
            raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel}")
        return tuple(numel // known if s == -1 else s for s in shape)
    if known != numel:
        raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel}")
    return shape




def _as_strided_array(arr, shape, strides_bytes):
    """A view of `arr`'s memory (from its first element) with the given byte strides."""
    if type(arr) is _ndarray and arr.flags.c_contiguous:
        # the ndarray constructor over arr's buffer is ~10x cheaper than as_strided, and the
        # result's .base is arr itself (storage_offset follows .base to the storage)
        try:
            return _ndarray(shape, arr.dtype, arr, 0, strides_bytes)
        except (ValueError, TypeError, BufferError):
            pass
    return _xp(arr).lib.stride_tricks.as_strided(arr, shape, strides_bytes)


def _root(arr):
    """The array that owns the memory `arr` looks into (its storage)."""
    while True:
        b = arr.base
        while b is not None and not isinstance(b, type(arr)):
            b = getattr(b, "base", None)  # e.g. the holder as_strided puts in between
        if b is None:
            return arr
        arr = b


def _ptr(arr) -> int:
    if isinstance(arr, _ndarray):
        return arr.__array_interface__["data"][0]
    return arr.data.ptr


def _storage_root(t: Tensor):
    return _root(t._base._data if t._base is not None else t._data)


def _check_tensors(tensors, name: str) -> list:
    """The list argument of cat/stack/...: a sequence of Tensors (torch's TypeErrors)."""
    if isinstance(tensors, Tensor) or not isinstance(tensors, (list, tuple)):
        raise TypeError(f"{name}(): argument 'tensors' (position 1) must be tuple of Tensors, "
                        f"not {type(tensors).__name__}")
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(f"expected Tensor as element {i} in argument 0, but got "
                            f"{type(t).__name__}")
    return list(tensors)


def _same_device(tensors) -> None:
    if all(type(t._data) is _ndarray for t in tensors):
        return
    first = tensors[0].device
    for t in tensors[1:]:
        if t.device != first:
            raise RuntimeError(f"Expected all tensors to be on the same device, but found at "
                               f"least two devices, {first} and {t.device}!")


def _promoted(tensors) -> _dt.dtype:
    d = tensors[0].dtype
    for t in tensors[1:]:
        if t.dtype is not d:
            d = _dt.promote_types(d, t.dtype)
    return d


def _inplace_view(self: Tensor, fn, *args) -> Tensor:
    """squeeze_/unsqueeze_/t_/transpose_: change self's shape (metadata) in place.

    The out-of-place view op runs on a stand-in that holds self's place in the
    graph; self then takes the result's array and graph node.
    """
    base = self._base
    if _state.enabled and self._requires_grad:
        _check_inplace(self)
        if base is not None and base.grad_fn is None and base._requires_grad:
            raise RuntimeError("a view of a leaf Variable that requires grad is being used in "
                               "an in-place operation.")
    old = _make(self._data)
    old._requires_grad = self._requires_grad
    old.grad_fn, old._output_nr = self.grad_fn, self._output_nr
    old._version_counter = self._version_counter
    if base is not None:
        old._base, old._view_func = base, self._view_func
    out = fn(old, *args)
    self._data = out._data
    if base is not None:
        self._view_func = out._view_func
    if out.grad_fn is not None:
        self.grad_fn, self._output_nr = out.grad_fn, out._output_nr
    self._version_counter[0] += 1
    return self


# ----------------------------------------------------------------- metadata
def stride(input: Tensor, dim: int | None = None) -> tuple | int:
    """Element strides (torch's stride()); one dim's stride when `dim` is given."""
    x = input._data
    if x.size == 0 and not any(x.strides):  # NumPy's fresh empty arrays have zero strides;
        strides = _contiguous_strides(x.shape)  # torch's are row-major
    else:
        size = x.itemsize
        strides = tuple(s // size for s in x.strides)
    if dim is None:
        return strides
    if not strides:
        raise IndexError(f"Dimension specified as {dim} but tensor has no dimensions")
    return strides[_wrap_dim(dim, x.ndim)]


def storage_offset(input: Tensor) -> int:
    """Elements between the start of the storage and the tensor's first element."""
    x = input._data
    return (_ptr(x) - _ptr(_storage_root(input))) // x.itemsize


_storage_offset = storage_offset


def is_contiguous(input: Tensor) -> bool:
    """Row-major and dense (size-1 dims and empty tensors count as contiguous, as in torch)."""
    return bool(input._data.flags.c_contiguous)


def data_ptr(input: Tensor) -> int:
    return _ptr(input._data)


def contiguous(input: Tensor) -> Tensor:
    """input itself when already contiguous, else a row-major copy (CloneBackward0)."""
    return input if input._data.flags.c_contiguous else input.clone()


# ----------------------------------------------------------------- view and reshape
def _try_view(x, shape):
    """A view of array x with `shape`, or None where that would need a copy."""
    v = x.view()
    try:
        v.shape = shape
    except (AttributeError, ValueError):
        return None
    return v


def _view_strides(old_shape, old_strides, new_shape) -> tuple:
    """torch's strides for a view of a non-contiguous layout (they differ from NumPy's only
    on size-1 dims). Old dims are walked innermost first in runs that are laid out back to
    back; new dims covering a run step through it from the run's innermost stride."""
    if not old_shape:
        old_shape, old_strides = (1,), (1,)
    out = [0] * len(new_shape)
    vd = len(new_shape) - 1
    base = old_strides[-1]
    run = view_run = 1
    for td in range(len(old_shape) - 1, -1, -1):
        run *= old_shape[td]
        if td == 0 or (old_shape[td - 1] != 1 and old_strides[td - 1] != run * base):
            while vd >= 0 and (view_run < run or new_shape[vd] == 1):
                out[vd] = view_run * base
                view_run *= new_shape[vd]
                vd -= 1
            if td:
                base, run, view_run = old_strides[td - 1], 1, 1
    return tuple(out)


class View(Function):
    _node_name = "ViewBackward0"

    @staticmethod
    def forward(ctx, a, shape):
        x = a._data
        ctx.in_shape = x.shape
        v = x.view()
        try:
            v.shape = shape
        except (AttributeError, ValueError):
            raise RuntimeError("view size is not compatible with input tensor's size and stride "
                               "(at least one dimension spans across two contiguous subspaces). "
                               "Use .reshape(...) instead.") from None
        # NumPy and torch can only disagree on size-1 dims, and not for a plain row-major x
        if 1 in shape and x.size and (1 in x.shape or not x.flags.c_contiguous):
            size = x.itemsize
            want = _view_strides(x.shape, [s // size for s in x.strides], shape)
            want = tuple(s * size for s in want)
            if v.strides != want:
                v = _as_strided_array(x, shape, want)
        return set_view(_make(v), a, lambda b: View.apply(b, shape))

    @staticmethod
    def backward(ctx, grad):
        return grad.reshape(ctx.in_shape), None


def _view_dtype(input: Tensor, dtype: _dt.dtype) -> Tensor:
    """The same bytes read as another dtype (the last dim rescales by the size ratio)."""
    x = input._data
    old, new = x.itemsize, dtype.itemsize
    if old != new:
        what = f"to view {_type_name(input.dtype)} as {_type_name(dtype)} (different element sizes)"
        if x.ndim == 0:
            raise RuntimeError(f"self.dim() cannot be 0 {what}")
        strides = stride(input)
        if strides[-1] != 1 and x.shape[-1] != 1:
            raise RuntimeError(f"self.stride(-1) must be 1 {what}, but got {strides[-1]}")
        if new > old:
            ratio = new // old
            if x.shape[-1] % ratio:
                raise RuntimeError(f"self.size(-1) must be divisible by {ratio} {what}, but got "
                                   f"{x.shape[-1]}")
            if storage_offset(input) % ratio:
                raise RuntimeError(f"self.storage_offset() must be divisible by {ratio} {what}, "
                                   f"but got {storage_offset(input)}")
            for i, s in enumerate(strides[:-1]):
                if s % ratio:
                    raise RuntimeError(f"self.stride({i}) must be divisible by {ratio} {what}, "
                                       f"but got {s}")
    out = _make(x.view(dtype.np))
    out._version_counter = input._version_counter
    return out


def view(input: Tensor, *shape) -> Tensor:
    """The same memory seen with another shape (fails where a copy would be needed);
    view(dtype) reinterprets the bytes instead."""
    if len(shape) == 1 and not isinstance(shape[0], _int_types):
        if isinstance(shape[0], _dt.dtype):
            return _view_dtype(input, shape[0])
        shape = _shape_arg(shape)
    return View.apply(input, _infer_shape(shape, input._data.size))


class UnsafeView(Function):
    """reshape's node where the result had to be a copy (torch's _unsafe_view of a clone)."""

    _node_name = "UnsafeViewBackward0"

    @staticmethod
    def forward(ctx, a, shape):
        ctx.in_shape = a._data.shape
        return _make(a._data.reshape(shape))

    @staticmethod
    def backward(ctx, grad):
        return grad.reshape(ctx.in_shape), None


def reshape(input: Tensor, *shape) -> Tensor:
    """A view when the memory layout allows it, else a copy (as torch)."""
    if len(shape) == 1 and not isinstance(shape[0], _int_types):
        shape = _shape_arg(shape)
    return _reshape(input, _infer_shape(shape, input._data.size))


def _reshape(input: Tensor, shape: tuple) -> Tensor:
    if _try_view(input._data, shape) is not None:
        return View.apply(input, shape)
    return UnsafeView.apply(input.clone(), shape)


def flatten(input: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Merge dims start_dim..end_dim into one (a view when possible)."""
    shape = input._data.shape
    n = len(shape)
    if not n:
        return _reshape(input, (1,))
    s = start_dim + n if start_dim < 0 else start_dim
    e = end_dim + n if end_dim < 0 else end_dim
    if not (0 <= s < n and 0 <= e < n):
        s, e = _wrap_dim(start_dim, n), _wrap_dim(end_dim, n)
    if s > e:
        raise RuntimeError("flatten() has invalid args: start_dim cannot come after end_dim")
    if s == e:
        return input
    return _reshape(input, shape[:s] + (math.prod(shape[s:e + 1]),) + shape[e + 1:])


def unflatten(input: Tensor, dim: int, sizes) -> Tensor:
    """Split dim `dim` into `sizes` (one of them may be -1)."""
    shape = input._data.shape
    d = _wrap_dim(dim, len(shape))
    sizes = tuple(int(s) for s in sizes)
    if not sizes:
        raise RuntimeError("unflatten: sizes must be non-empty")
    if sizes.count(-1) > 1:
        raise RuntimeError("unflatten got an unexpected error:\nonly one dimension can be "
                           "inferred")
    n = shape[d] if shape else 1
    known = math.prod(s for s in sizes if s != -1)
    if -1 in sizes and known and n % known == 0:
        sizes = tuple(n // known if s == -1 else s for s in sizes)
    if math.prod(sizes) != n or -1 in sizes:
        raise RuntimeError(f"unflatten: Provided sizes {list(sizes)} don't multiply up to the "
                           f"size of dim {dim} ({n}) in the input tensor")
    return View.apply(input, shape[:d] + sizes + shape[d + 1:])


def ravel(input: Tensor) -> Tensor:
    """1-D contents (a view when contiguous)."""
    return reshape(input, -1)


# ----------------------------------------------------------------- squeeze / unsqueeze
class Squeeze(Function):
    _node_name = "SqueezeBackward0"

    @staticmethod
    def forward(ctx, a, axes, name):
        ctx._node_name = name  # torch names the variants: no dim, one dim, dims, in-place
        ctx.in_shape = a._data.shape
        out = _make(a._data.squeeze(axes) if axes else a._data.view())
        return set_view(out, a, lambda b: Squeeze.apply(b, axes, name))

    @staticmethod
    def backward(ctx, grad):
        return grad.reshape(ctx.in_shape), None, None


_SQUEEZE_NAMES = {  # (dim given as, in place) -> torch's node name
    ("none", False): "SqueezeBackward0", ("int", False): "SqueezeBackward1",
    ("dims", False): "SqueezeBackward2", ("none", True): "SqueezeBackward3",
    ("int", True): "SqueezeBackward4", ("dims", True): "SqueezeBackward5",
}


def _squeeze(input: Tensor, dim, inplace: bool) -> Tensor:
    shape = input._data.shape
    if dim is None:
        kind, dims = "none", range(len(shape))
    elif isinstance(dim, _int_types):
        kind, dims = "int", (_wrap_dim(dim, len(shape)),)
    else:
        kind, dims = "dims", _wrap_dims(dim, len(shape))
    axes = tuple(d for d in dims if d < len(shape) and shape[d] == 1)
    return Squeeze.apply(input, axes, _SQUEEZE_NAMES[kind, inplace])


def squeeze(input: Tensor, dim=None) -> Tensor:
    """Drop size-1 dims (all, one, or a tuple of them; others are left alone)."""
    return _squeeze(input, dim, False)


def squeeze_(input: Tensor, dim=None) -> Tensor:
    return _inplace_view(input, _squeeze, dim, True)


class Unsqueeze(Function):
    _node_name = "UnsqueezeBackward0"

    @staticmethod
    def forward(ctx, a, dim, name):
        ctx._node_name = name
        ctx.dim = dim
        x = a._data
        shape = x.shape[:dim] + (1,) + x.shape[dim:]
        v = x.view()
        v.shape = shape  # always possible: only a size-1 dim is added
        # torch gives the new dim the stride it would have in a contiguous layout
        want = x.strides[dim] * x.shape[dim] if dim < x.ndim else x.itemsize
        if v.strides[dim] != want:
            v = _as_strided_array(x, shape, x.strides[:dim] + (want,) + x.strides[dim:])
        return set_view(_make(v), a, lambda b: Unsqueeze.apply(b, dim, name))

    @staticmethod
    def backward(ctx, grad):
        return grad.squeeze(ctx.dim), None, None


def unsqueeze(input: Tensor, dim: int) -> Tensor:
    """A view with a new size-1 dim at `dim` (dim may be -ndim-1 .. ndim)."""
    return Unsqueeze.apply(input, _wrap_dim(dim, input._data.ndim + 1), "UnsqueezeBackward0")


def unsqueeze_(input: Tensor, dim: int) -> Tensor:
    d = _wrap_dim(dim, input._data.ndim + 1)
    return _inplace_view(input, Unsqueeze.apply, d, "UnsqueezeBackward1")


# ----------------------------------------------------------------- permutations
class Permute(Function):
    _node_name = "PermuteBackward0"

    @staticmethod
    def forward(ctx, a, dims):
        ctx.dims = dims
        out = _make(a._data.transpose(dims))
        return set_view(out, a, lambda b: Permute.apply(b, dims))

    @staticmethod
    def backward(ctx, grad):
        inverse = [0] * len(ctx.dims)
        for i, d in enumerate(ctx.dims):
            inverse[d] = i
        return grad.permute(inverse), None


def permute(input: Tensor, *dims) -> Tensor:
    """A view with the dims reordered: result dim i is input dim dims[i]."""
    dims = _shape_arg(dims)
    n = input._data.ndim
    if len(dims) != n:
        raise RuntimeError(f"permute(sparse_coo): number of dimensions in the tensor input does "
                           f"not match the length of the desired ordering of dimensions i.e. "
                           f"input.dim() = {n} is not equal to len(dims) = {len(dims)}")
    wrapped = tuple(d + n if d < 0 else d for d in dims)
    if sorted(wrapped) != list(range(n)):
        for d in dims:
            _wrap_dim(d, n)  # torch's IndexError for a dim out of range comes first
        raise RuntimeError("permute(): duplicate dims are not allowed.")
    return Permute.apply(input, wrapped)


class Transpose(Function):
    _node_name = "TransposeBackward0"

    @staticmethod
    def forward(ctx, a, dim0, dim1, name):
        ctx._node_name = name
        ctx.dims = (dim0, dim1)
        x = a._data
        out = _make(x.swapaxes(dim0, dim1) if x.ndim else x.view())
        return set_view(out, a, lambda b: Transpose.apply(b, dim0, dim1, name))

    @staticmethod
    def backward(ctx, grad):
        return grad.transpose(*ctx.dims), None, None, None


def transpose(input: Tensor, dim0: int, dim1: int) -> Tensor:
    """A view with dims dim0 and dim1 swapped."""
    n = input._data.ndim
    return Transpose.apply(input, _wrap_dim(dim0, n), _wrap_dim(dim1, n), "TransposeBackward0")


def transpose_(input: Tensor, dim0: int, dim1: int) -> Tensor:
    n = input._data.ndim
    return _inplace_view(input, Transpose.apply, _wrap_dim(dim0, n), _wrap_dim(dim1, n),
                         "TransposeBackward1")


swapaxes = swapdims = transpose


class MatrixT(Function):
    _node_name = "TBackward0"

    @staticmethod
    def forward(ctx, a, name):
        ctx._node_name = name
        out = _make(a._data.T if a._data.ndim == 2 else a._data.view())
        return set_view(out, a, lambda b: MatrixT.apply(b, name))

    @staticmethod
    def backward(ctx, grad):
        return grad.t(), None


def _check_t(input: Tensor, name: str) -> None:
    if input._data.ndim > 2:
        raise RuntimeError(f"{name}() expects a tensor with <= 2 dimensions, but self is "
                           f"{input._data.ndim}D")


def t(input: Tensor) -> Tensor:
    """Transpose of a matrix; 0-D and 1-D tensors come back as they are (a view)."""
    _check_t(input, "t")
    return MatrixT.apply(input, "TBackward0")


def t_(input: Tensor) -> Tensor:
    _check_t(input, "t_")
    return _inplace_view(input, MatrixT.apply, "TBackward1")


def T(input: Tensor) -> Tensor:
    """Tensor.T: all dims reversed (torch deprecates it for tensors that are not 2-D)."""
    n = input._data.ndim
    if n == 0:
        warnings.warn("Tensor.T is deprecated on 0-D tensors. This function is the identity in "
                      "these cases.", UserWarning, stacklevel=3)
    elif n != 2:
        warnings.warn("The use of `x.T` on tensors of dimension other than 2 to reverse their "
                      "shape is deprecated and it will throw an error in a future release. "
                      "Consider `x.mT` to transpose batches of matrices or `x.permute(*torch."
                      "arange(x.ndim - 1, -1, -1))` to reverse the dimensions of a tensor.",
                      UserWarning, stacklevel=3)
    return Permute.apply(input, tuple(range(n - 1, -1, -1)))


def _matrix_transpose(input: Tensor, what: str) -> Tensor:
    n = input._data.ndim
    if n < 2:
        raise RuntimeError(f"tensor.{what} is only supported on matrices or batches of "
                           f"matrices. Got {n}-D tensor.")
    return Transpose.apply(input, n - 2, n - 1, "TransposeBackward0")


def mT(input: Tensor) -> Tensor:
    """Tensor.mT: the last two dims swapped (batches of matrices)."""
    return _matrix_transpose(input, "mT")


def mH(input: Tensor) -> Tensor:
    return _matrix_transpose(input, "mH")


def adjoint(input: Tensor) -> Tensor:
    """Conjugate transpose of the last two dims (a plain transpose for real dtypes)."""
    return _matrix_transpose(input, "adjoint()")


def H(input: Tensor) -> Tensor:
    n = input._data.ndim
    if n != 2:
        extra = " For batches of matrices, consider using tensor.mH" if n > 2 else ""
        raise RuntimeError(f"tensor.H is only supported on matrices (2-D tensors). Got {n}-D "
                           f"tensor.{extra}")
    return Transpose.apply(input, 0, 1, "TransposeBackward0")


def movedim(input: Tensor, source, destination) -> Tensor:
    """Move dims `source` to positions `destination`; the rest keep their order."""
    n = input._data.ndim
    src = [source] if isinstance(source, _int_types) else list(source)
    dst = [destination] if isinstance(destination, _int_types) else list(destination)
    if len(src) != len(dst):
        raise RuntimeError(f"movedim: Invalid source or destination dims: source ({src} dims) "
                           f"should contain the same number of dims as destination ({dst} dims)")
    src = [_wrap_dim(d, n) for d in src]
    dst = [_wrap_dim(d, n) for d in dst]
    for name, ds in (("source", src), ("destination", dst)):
        if len(set(ds)) != len(ds):
            raise RuntimeError(f"movedim: repeated dim in `{name}` ({ds})")
    order = [None] * max(n, 1)
    for s, d in zip(src, dst):
        order[d] = s
    rest = iter(d for d in range(n) if d not in src)
    perm = tuple(o if o is not None else next(rest) for o in order[:n])
    return Permute.apply(input, perm)


moveaxis = movedim


# ----------------------------------------------------------------- expand / broadcast
class Expand(Function):
    _node_name = "ExpandBackward0"

    @staticmethod
    def forward(ctx, a, shape):
        x = a._data
        ctx.in_shape = x.shape
        strides, repeats = _expand_strides(x, shape)
        v = _as_strided_array(x, shape, strides)
        if repeats and type(v) is _ndarray:
            v.flags.writeable = False  # repeated elements: in-place writes must fail, as in torch
        return set_view(_make(v), a, lambda b: Expand.apply(b, shape))

    @staticmethod
    def backward(ctx, grad):
        return grad.sum_to_size(ctx.in_shape), None


def _expand_strides(x, shape) -> tuple:
    """torch's byte strides for x expanded to shape (kept dims keep theirs, broadcast dims
    get 0, a new leading size-1 dim gets the stride a contiguous layout would give it), and
    whether some element now appears more than once."""
    lead = len(shape) - x.ndim
    tail = shape[lead:]
    if tail == x.shape:
        want, repeats = list(x.strides), False
    else:
        want = [0 if s != o else st for s, o, st in zip(x.shape, tail, x.strides)]
        repeats = True
    if lead:
        nxt_size, nxt_stride = (shape[lead], want[0]) if x.ndim else (1, 0)
        for i in range(lead - 1, -1, -1):
            size = shape[i]
            stride = nxt_size * nxt_stride if size == 1 else 0
            repeats = repeats or size > 1
            want.insert(0, stride)
            nxt_size, nxt_stride = size, stride
    return tuple(want), repeats and x.size > 0


def expand(input: Tensor, *sizes) -> Tensor:
    """A broadcast view: size-1 dims repeat without copying; -1 keeps a size."""
    if len(sizes) == 1 and not isinstance(sizes[0], _int_types):
        sizes = _shape_arg(sizes)
    sizes = tuple(map(int, sizes))
    shape = input._data.shape
    if len(sizes) < len(shape):
        raise RuntimeError(f"expand({input.type()}{{{list(shape)}}}, size={list(sizes)}): "
                           f"the number of sizes provided ({len(sizes)}) must be greater or "
                           f"equal to the number of dimensions in the tensor ({len(shape)})")
    lead = len(sizes) - len(shape)
    for i in range(lead):
        if sizes[i] < 0:
            raise RuntimeError(f"The expanded size of the tensor ({sizes[i]}) isn't allowed in "
                               f"a leading, non-existing dimension {i}")
    out = list(sizes)
    for i, s in enumerate(shape):
        want = sizes[lead + i]
        if want == -1:
            out[lead + i] = s
        elif s != want and s != 1 or want < 0:
            raise RuntimeError(f"The expanded size of the tensor ({want}) must match the existing "
                               f"size ({s}) at non-singleton dimension {lead + i}.  Target sizes: "
                               f"{list(sizes)}.  Tensor sizes: {list(shape)}")
    return Expand.apply(input, tuple(out))


def expand_as(input: Tensor, other: Tensor) -> Tensor:
    return expand(input, other._data.shape)


def broadcast_to(input: Tensor, size) -> Tensor:
    """input expanded to `size` (torch.broadcast_to)."""
    return expand(input, tuple(size))


def broadcast_shapes(*shapes) -> tuple:
    """The shape that tensors of all these shapes broadcast to (ints count as 1-D shapes)."""
    from ember._size import Size
    as_tuples = [(s,) if isinstance(s, _int_types) else tuple(s) for s in shapes]
    result = [1] * max((len(s) for s in as_tuples), default=0)
    for i, shape in enumerate(as_tuples):
        for j in range(-1, -len(shape) - 1, -1):
            s = shape[j]
            if s < 0 or (s != 1 and s != result[j] and result[j] != 1):
                raise RuntimeError(f"Attempting to broadcast a dimension of length {s} at {j}! "
                                   f"Mismatching argument at index {i} had {shape}; but "
                                   f"expected shape should be broadcastable to {result}")
            if s != 1:
                result[j] = s
    return Size(result)


def broadcast_tensors(*tensors) -> tuple:
    """All tensors expanded to their common broadcast shape (unchanged ones returned as is)."""
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    shapes = [t._data.shape for t in tensors]
    try:
        target = np.broadcast_shapes(*shapes)
    except ValueError:
        n = max(len(s) for s in shapes)
        first = [1] * n
        for s in shapes:
            for j in range(1, len(s) + 1):
                a, b = first[-j], s[-j]
                if a != b and a != 1 and b != 1:
                    raise RuntimeError(f"The size of tensor a ({a}) must match the size of tensor "
                                       f"b ({b}) at non-singleton dimension {n - j}") from None
                if b != 1:
                    first[-j] = b
        raise
    return tuple(t if t._data.shape == target else Expand.apply(t, target) for t in tensors)


# ----------------------------------------------------------------- repeat / tile
class Repeat(Function):
    _node_name = "RepeatBackward0"

    @staticmethod
    def forward(ctx, a, repeats):
        x = a._data
        lead = len(repeats) - x.ndim
        shape = (1,) * lead + x.shape
        ctx.in_shape, ctx.repeats, ctx.padded = x.shape, repeats, shape
        # out[r * s + j] = x[j] along each dim: broadcast over interleaved (r, s) pairs
        pairs_in = tuple(v for s in shape for v in (1, s))
        pairs_out = tuple(v for r, s in zip(repeats, shape) for v in (r, s))
        out_shape = tuple(r * s for r, s in zip(repeats, shape))
        tiled = _xp(x).broadcast_to(x.reshape(pairs_in), pairs_out)
        return _make(tiled.reshape(out_shape))

    @staticmethod
    def backward(ctx, grad):
        pairs = tuple(v for r, s in zip(ctx.repeats, ctx.padded) for v in (r, s))
        summed = grad.reshape(pairs).sum(tuple(range(0, len(pairs), 2)))
        return summed.reshape(ctx.in_shape), None


def repeat(input: Tensor, *sizes) -> Tensor:
    """Tile the tensor `sizes[i]` times along each dim (new leading dims allowed)."""
    repeats = tuple(int(s) for s in _shape_arg(sizes))
    shape = input._data.shape
    if len(repeats) < len(shape):
        raise RuntimeError("Number of dimensions of repeat dims can not be smaller than number "
                           "of dimensions of tensor")
    padded = (1,) * (len(repeats) - len(shape)) + shape
    out = [r * s for r, s in zip(repeats, padded)]
    for s in out:
        if s < 0:
            raise RuntimeError(f"Trying to create tensor with negative dimension {s}: {out}")
    return Repeat.apply(input, repeats)


def tile(input: Tensor, *dims) -> Tensor:
    """repeat() where missing leading repeats count as 1."""
    dims = tuple(int(d) for d in _shape_arg(dims))
    n = input._data.ndim
    if len(dims) < n:
        dims = (1,) * (n - len(dims)) + dims
    return repeat(input, dims)


def repeat_interleave(input: Tensor, repeats=None, dim: int | None = None, *,
                      output_size: int | None = None) -> Tensor:
    """Repeat each element `repeats` times (an int or one count per element) along `dim`
    (the flattened input when dim is None). With only a repeats tensor, the indices
    0..n-1 repeated by it."""
    if repeats is None:  # torch.repeat_interleave(repeats)
        reps = input
        if reps._data.ndim > 1:
            raise RuntimeError("repeats must be 0-dim or 1-dim tensor")
        return _repeat_index(_int_repeats(reps), reps)
    if dim is None:
        input, dim = flatten(input), 0
    dim = _wrap_dim(dim, input._data.ndim)
    n = input._data.shape[dim] if input._data.ndim else 1
    if isinstance(repeats, Tensor) and repeats._data.ndim == 0 or not isinstance(repeats, Tensor):
        count = int(repeats._data) if isinstance(repeats, Tensor) else int(repeats)
        if count < 0:
            raise RuntimeError("Repeats must be non-negative")
        if output_size is not None and output_size != n * count:
            raise RuntimeError(f"repeat_interleave: Invalid output_size, expected {n * count} "
                               f"but got {output_size}")
        if not isinstance(repeats, Tensor):
            x = unsqueeze(input, dim + 1)
            shape = list(x._data.shape)
            shape[dim + 1] = count
            return flatten(expand(x, shape).clone(), dim, dim + 1)
        repeats = reshape(repeats, 1)
    if repeats._data.ndim > 1:
        raise RuntimeError("repeats must be 0-dim or 1-dim tensor")
    r = _int_repeats(repeats)
    if r.size == 1 and n != 1:
        r = np.broadcast_to(r, (n,))
    if r.size != n:
        raise RuntimeError(f"repeats must have the same size as input along dim, but got "
                           f"repeats.size(0) = {r.size} and input.size({dim}) = {n}")
    if output_size is not None and output_size != int(r.sum()):
        raise RuntimeError("allocated size does not match required size")
    return input.index_select(dim, _repeat_index(r, input))


def _int_repeats(repeats: Tensor) -> np.ndarray:
    """The repeat counts as a 1-D NumPy array (they steer shapes, so they live on the host)."""
    if repeats.dtype not in (_dt.int64, _dt.int32):
        raise NotImplementedError(f'"repeat_interleave_cpu" not implemented for '
                                  f"'{_type_name(repeats.dtype)}'")
    r = repeats.detach().numpy(force=True).reshape(-1)
    if r.size and r.min() < 0:
        raise RuntimeError("repeats can not be negative")
    return r


def _repeat_index(r: np.ndarray, like: Tensor) -> Tensor:
    """0..len(r)-1 with entry i repeated r[i] times, as an int64 tensor on like's device."""
    index = np.repeat(np.arange(r.size, dtype=np.int64), r)
    return _make(index) if like.is_cpu else _make(to_device(index, like.device))


# ----------------------------------------------------------------- cat / stack
class Cat(Function):
    _node_name = "CatBackward0"

    @staticmethod
    def forward(ctx, *tensors, dim, dtype, skip):
        ctx.dim = dim
        ctx.sizes = [0 if s else t._data.shape[dim] for t, s in zip(tensors, skip)]
        ctx.skip = skip
        want = dtype.np
        arrays = [t._data if t._data.dtype == want else t._data.astype(want)
                  for t, s in zip(tensors, skip) if not s]
        if not arrays:
            return _make(_xp(tensors[0]._data).zeros((0,), want))
        if len(arrays) == 1:
            return _make(arrays[0].copy())
        return _make(_xp(arrays[0]).concatenate(arrays, axis=dim))

    @staticmethod
    def backward(ctx, grad):
        grads = []
        offset = 0
        for need, size, s in zip(ctx.needs_input_grad, ctx.sizes, ctx.skip):
            if s:
                grads.append(grad.new_zeros((0,)) if need else None)
                continue
            grads.append(Slice.apply(grad, ctx.dim, offset, size) if need else None)
            offset += size
        return tuple(grads)


def cat(tensors, dim: int = 0, *, out=None) -> Tensor:
    """Concatenate along an existing dim, promoting dtypes; 1-D empty tensors are skipped
    as torch's legacy rule says."""
    tensors = _check_tensors(tensors, "cat")
    if not tensors:
        raise ValueError("torch.cat(): expected a non-empty list of Tensors")
    skip = []
    shape = None
    d = 0
    for i, t in enumerate(tensors):
        other = t._data.shape
        if other == (0,):
            skip.append(True)
            continue
        skip.append(False)
        if shape is None:
            if not other:
                raise RuntimeError(f"zero-dimensional tensor (at position {i}) cannot be "
                                   "concatenated")
            shape = other
            d = _wrap_dim(dim, len(shape))
            pre, post = shape[:d], shape[d + 1:]
        elif not (len(other) == len(shape) and other[:d] == pre and other[d + 1:] == post):
            _cat_shape_error(shape, other, d, i)
    if shape is not None:
        _same_device(tensors)
    result = Cat.apply(*tensors, dim=d, dtype=_promoted(tensors), skip=skip)
    return result if out is None else _write_out(out, result)


def _cat_shape_error(shape, other, d: int, i: int):
    if not other:
        raise RuntimeError(f"zero-dimensional tensor (at position {i}) cannot be concatenated")
    if len(other) != len(shape):
        raise RuntimeError(f"Tensors must have same number of dimensions: got {len(shape)} and "
                           f"{len(other)}")
    k = next(k for k, (a, b) in enumerate(zip(shape, other)) if a != b and k != d)
    raise RuntimeError(f"Sizes of tensors must match except in dimension {d}. Expected size "
                       f"{shape[k]} but got size {other[k]} for tensor number {i} in the list.")


def concat(tensors, dim: int = 0, *, out=None) -> Tensor:
    return cat(tensors, dim, out=out)


def concatenate(tensors, axis: int = 0, out=None) -> Tensor:
    return cat(tensors, axis, out=out)


def _write_out(out, result: Tensor) -> Tensor:
    """Copy a result into a user's out= tensor (resized when its shape differs)."""
    if out is None:
        return result
    if out._data.shape != result._data.shape:
        if out._data.size:
            warnings.warn(f"An output with one or more elements was resized since it had shape "
                          f"{list(out._data.shape)}, which does not match the required output "
                          f"shape {list(result._data.shape)}. This behavior is deprecated, and "
                          "in a future PyTorch release outputs will not be resized unless they "
                          "have zero elements. You can explicitly reuse an out tensor t by "
                          "resizing it, inplace, to zero elements with t.resize_(0).",
                          UserWarning, stacklevel=3)
        out._data = _xp(out._data).empty(result._data.shape, out._data.dtype)
    out.copy_(result)
    return out


class Stack(Function):
    _node_name = "StackBackward0"

    @staticmethod
    def forward(ctx, *tensors, dim, dtype):
        ctx.dim = dim
        want = dtype.np
        x = tensors[0]._data
        shape = x.shape[:dim] + (1,) + x.shape[dim:]
        # each input seen with the new size-1 dim, then joined along it (cheaper than xp.stack)
        arrays = [(t._data if t._data.dtype == want else t._data.astype(want)).reshape(shape)
                  for t in tensors]
        return _make(_xp(x).concatenate(arrays, axis=dim))

    @staticmethod
    def backward(ctx, grad):
        parts = unbind(grad, ctx.dim)
        return tuple(g if need else None for g, need in zip(parts, ctx.needs_input_grad))


def stack(tensors, dim: int = 0, *, out=None) -> Tensor:
    """Join equal-shaped tensors along a new dim `dim`."""
    tensors = _check_tensors(tensors, "stack")
    if not tensors:
        raise RuntimeError("stack expects a non-empty TensorList")
    shape = tensors[0]._data.shape
    for i, t in enumerate(tensors):
        if t._data.shape != shape:
            raise RuntimeError(f"stack expects each tensor to be equal size, but got "
                               f"{list(shape)} at entry 0 and {list(t._data.shape)} at entry {i}")
    d = _wrap_dim(dim, len(shape) + 1)
    _same_device(tensors)
    return _write_out(out, Stack.apply(*tensors, dim=d, dtype=_promoted(tensors)))


def _nonempty(tensors, name: str) -> list:
    tensors = _check_tensors(tensors, name)
    if not tensors:
        raise RuntimeError(f"{name} expects a non-empty TensorList")
    return tensors


def hstack(tensors, *, out=None) -> Tensor:
    """Concatenate column-wise (along dim 0 for 1-D inputs, else dim 1)."""
    ts = atleast_1d(_nonempty(tensors, "hstack"))
    return cat(ts, 0 if ts[0]._data.ndim == 1 else 1, out=out)


def vstack(tensors, *, out=None) -> Tensor:
    """Concatenate row-wise after making every input at least 2-D."""
    return cat(atleast_2d(_nonempty(tensors, "vstack")), 0, out=out)


row_stack = vstack


def dstack(tensors, *, out=None) -> Tensor:
    """Concatenate depth-wise (dim 2) after making every input at least 3-D."""
    return cat(atleast_3d(_nonempty(tensors, "dstack")), 2, out=out)


def column_stack(tensors, *, out=None) -> Tensor:
    """hstack where 0-D and 1-D inputs become columns."""
    ts = _nonempty(tensors, "column_stack")
    cols = [reshape(t, (t._data.size, 1)) if t._data.ndim <= 1 else t for t in ts]
    return cat(cols, 1, out=out)


def _atleast(tensors, fn):
    if len(tensors) == 1:
        if isinstance(tensors[0], Tensor):
            return fn(tensors[0])
        tensors = tuple(tensors[0])
    return tuple(fn(t) for t in tensors)


def _at_least_1d(t: Tensor) -> Tensor:
    return reshape(t, (1,)) if t._data.ndim == 0 else t


def _at_least_2d(t: Tensor) -> Tensor:
    n = t._data.ndim
    return reshape(t, (1, 1)) if n == 0 else unsqueeze(t, 0) if n == 1 else t


def _at_least_3d(t: Tensor) -> Tensor:
    n = t._data.ndim
    if n == 0:
        return reshape(t, (1, 1, 1))
    if n == 1:
        return unsqueeze(unsqueeze(t, 0), -1)
    return unsqueeze(t, -1) if n == 2 else t


def atleast_1d(*tensors) -> Tensor | tuple:
    """Each input viewed with at least one dim (a tuple when given several)."""
    return _atleast(tensors, _at_least_1d)


def atleast_2d(*tensors) -> Tensor | tuple:
    """Each input viewed with at least two dims (1-D becomes a row)."""
    return _atleast(tensors, _at_least_2d)


def atleast_3d(*tensors) -> Tensor | tuple:
    """Each input viewed with at least three dims (as torch/NumPy place them)."""
    return _atleast(tensors, _at_least_3d)


# ----------------------------------------------------------------- split / unbind
class SplitWithSizes(Function):
    """split()'s node: several views along `dim`; backward concatenates their grads."""

    _node_name = "SplitWithSizesBackward0"

    @staticmethod
    def forward(ctx, a, sizes, dim, name):
        ctx._node_name = name
        ctx.sizes, ctx.dim = sizes, dim
        ctx.set_materialize_grads(False)
        x = a._data
        pre = (slice(None),) * dim
        outs = []
        start = 0
        for size in sizes:
            stop = start + size
            out = _make(x[pre + (slice(start, stop),)])
            outs.append(set_view(out, a, _narrow_func(dim, start, size)))
            start = stop
        return tuple(outs)

    @staticmethod
    def backward(ctx, *grads):
        like = next(g for g in grads if g is not None)
        shape = list(like.shape)
        parts = []
        for g, size in zip(grads, ctx.sizes):
            if g is None:
                shape[ctx.dim] = size
                g = like.new_zeros(shape)
            parts.append(g)
        return cat(parts, ctx.dim), None, None, None


def _narrow_func(dim, start, length):
    return lambda b: Slice.apply(b, dim, start, length)


def split(tensor: Tensor, split_size_or_sections, dim: int = 0) -> tuple:
    """Views of consecutive pieces along `dim`: equal pieces of an int size (the last may be
    smaller), or pieces of the listed sizes."""
    shape = tensor._data.shape
    d = _wrap_dim(dim, len(shape))
    n = shape[d] if shape else 1
    if isinstance(split_size_or_sections, _int_types) or (
            isinstance(split_size_or_sections, Tensor) and
            split_size_or_sections._data.ndim == 0):
        size = int(split_size_or_sections)
        if size < 0:
            raise RuntimeError(f"split expects split_size be non-negative, but got "
                               f"split_size={size}")
        if size == 0 and n != 0:
            raise RuntimeError(f"split_size can only be 0 if dimension size is 0, but got "
                               f"dimension size of {n}")
        count = max((n + size - 1) // size, 1) if size else 1
        sizes = [size] * (count - 1) + [n - size * (count - 1)]
        return SplitWithSizes.apply(tensor, tuple(sizes), d, "SplitBackward0")
    sizes = tuple(int(s) for s in split_size_or_sections)
    if sum(sizes) != n or any(s < 0 for s in sizes):
        raise RuntimeError(f"split_with_sizes expects split_sizes to sum exactly to {n} (input "
                           f"tensor's size at dimension {d}), but got split_sizes={list(sizes)}")
    return SplitWithSizes.apply(tensor, sizes, d, "SplitWithSizesBackward0")


def chunk(input: Tensor, chunks: int, dim: int = 0) -> tuple:
    """Up to `chunks` equal views along `dim` (the last may be smaller)."""
    if chunks <= 0:
        raise RuntimeError(f"chunk expects `chunks` to be greater than 0, got: {chunks}")
    shape = input._data.shape
    d = _wrap_dim(dim, len(shape))
    n = shape[d]
    size = (n + chunks - 1) // chunks
    if size == 0:  # an empty dim gives `chunks` empty pieces
        return SplitWithSizes.apply(input, (0,) * chunks, d, "SplitWithSizesBackward0")
    return split(input, size, d)


def tensor_split(input: Tensor, indices_or_sections, dim: int = 0) -> tuple:
    """Views split into n nearly equal sections, or at the given indices (slice semantics)."""
    shape = input._data.shape
    d = _wrap_dim(dim, len(shape))
    n = shape[d]
    ios = indices_or_sections
    if isinstance(ios, Tensor):
        if ios.dtype is not _dt.int64:
            raise RuntimeError(f"tensor_split expected tensor_indices_or_sections to have dtype "
                               f"of long, but got {_type_name(ios.dtype)}")
        if ios._data.ndim > 1:
            raise RuntimeError(f"tensor_split expected tensor_indices_or_sections to be a "
                               f"zero-dimensional or one-dimensional tensor, but got a tensor "
                               f"with {ios._data.ndim} dims")
        ios = int(ios._data) if ios._data.ndim == 0 else ios._data.tolist()
    if isinstance(ios, _int_types):
        sections = int(ios)
        if sections <= 0:
            raise RuntimeError(f"number of sections must be larger than 0, got {sections}")
        small, extra = divmod(n, sections)
        bounds, start = [], 0
        for i in range(sections):
            size = small + (i < extra)
            bounds.append((start, size))
            start += size
    else:
        bounds, prev = [], 0
        for idx in list(ios) + [None]:
            start, stop, _ = slice(prev, idx).indices(n)
            bounds.append((start, max(stop - start, 0)))
            prev = idx
    return tuple(Slice.apply(input, d, start, size) for start, size in bounds)


def _split_dim(name: str, input: Tensor, ios, dim: int, min_dims: int) -> tuple:
    n = input._data.ndim
    if n < min_dims:
        raise RuntimeError(f"torch.{name} requires a tensor with at least {min_dims} dimension, "
                           f"but got a tensor with {n} dimensions!")
    if isinstance(ios, _int_types):
        size = input._data.shape[dim]
        if ios == 0 or size % ios:
            raise RuntimeError(f"torch.{name} attempted to split along dimension {dim}, but the "
                               f"size of the dimension {size} is not divisible by the split_size "
                               f"{ios}!")
    return tensor_split(input, ios, dim)


def hsplit(input: Tensor, indices_or_sections) -> tuple:
    """tensor_split along dim 1 (dim 0 for 1-D input); int sections must divide evenly."""
    return _split_dim("hsplit", input, indices_or_sections,
                      1 if input._data.ndim > 1 else 0, 1)


def vsplit(input: Tensor, indices_or_sections) -> tuple:
    return _split_dim("vsplit", input, indices_or_sections, 0, 2)


def dsplit(input: Tensor, indices_or_sections) -> tuple:
    return _split_dim("dsplit", input, indices_or_sections, 2, 3)


class Unbind(Function):
    _node_name = "UnbindBackward0"

    @staticmethod
    def forward(ctx, a, dim):
        ctx.dim = dim
        ctx.set_materialize_grads(False)
        x = a._data
        pre = (slice(None),) * dim
        return tuple(set_view(_make(x[pre + (i, Ellipsis)]), a, _select_func(dim, i))
                     for i in range(x.shape[dim]))

    @staticmethod
    def backward(ctx, *grads):
        like = next(g for g in grads if g is not None)
        return stack([g if g is not None else like.new_zeros(like.shape) for g in grads],
                     ctx.dim), None


def _select_func(dim, index):
    return lambda b: Select.apply(b, dim, index)


def unbind(input: Tensor, dim: int = 0) -> tuple:
    """Views of every slice along `dim`, with that dim removed."""
    if input._data.ndim == 0:
        raise IndexError("Dimension specified as 0 but tensor has no dimensions")
    return Unbind.apply(input, _wrap_dim(dim, input._data.ndim))


# ----------------------------------------------------------------- slicing views
def _pad_along(grad: Tensor, dim: int, before: int, after: int) -> Tensor:
    """grad with zero blocks of `before`/`after` entries added along dim (differentiable)."""
    if not before and not after:
        return grad
    shape = list(grad.shape)
    parts = []
    if before:
        shape[dim] = before
        parts.append(grad.new_zeros(shape))
    parts.append(grad)
    if after:
        shape[dim] = after
        parts.append(grad.new_zeros(shape))
    return cat(parts, dim)


class Slice(Function):
    _node_name = "SliceBackward0"

    @staticmethod
    def forward(ctx, a, dim, start, length):
        x = a._data
        ctx.dim, ctx.start, ctx.length, ctx.size = dim, start, length, x.shape[dim]
        out = _make(x[(slice(None),) * dim + (slice(start, start + length),)])
        return set_view(out, a, _narrow_func(dim, start, length))

    @staticmethod
    def backward(ctx, grad):
        after = ctx.size - ctx.start - ctx.length
        return _pad_along(grad, ctx.dim, ctx.start, after), None, None, None


def narrow(input: Tensor, dim: int, start, length: int) -> Tensor:
    """A view of `length` entries along `dim` beginning at `start` (negative start wraps)."""
    x = input._data
    if x.ndim == 0:
        raise RuntimeError("narrow() cannot be applied to a 0-dim tensor.")
    if length < 0:
        raise RuntimeError("narrow(): length must be non-negative.")
    d = _wrap_dim(dim, x.ndim)
    size = x.shape[d]
    start = int(start)
    if not -size <= start <= size:
        raise IndexError(f"start out of range (expected to be in range of [{-size}, {size}], "
                         f"but got {start})")
    if start < 0:
        start += size
    if start + length > size:
        raise RuntimeError(f"start ({start}) + length ({length}) exceeds dimension size "
                           f"({size}).")
    return Slice.apply(input, d, start, int(length))


class Select(Function):
    _node_name = "SelectBackward0"

    @staticmethod
    def forward(ctx, a, dim, index):
        x = a._data
        ctx.dim, ctx.index, ctx.size = dim, index, x.shape[dim]
        out = _make(x[(slice(None),) * dim + (index, Ellipsis)])  # a view even when 0-d
        return set_view(out, a, _select_func(dim, index))

    @staticmethod
    def backward(ctx, grad):
        g = grad.unsqueeze(ctx.dim)
        return _pad_along(g, ctx.dim, ctx.index, ctx.size - ctx.index - 1), None, None


def select(input: Tensor, dim: int, index: int) -> Tensor:
    """A view of entry `index` along `dim`, with that dim removed."""
    x = input._data
    if x.ndim == 0:
        raise IndexError("select() cannot be applied to a 0-dim tensor.")
    d = _wrap_dim(dim, x.ndim)
    size = x.shape[d]
    index = int(index)
    if not -size <= index < size:
        raise IndexError(f"select(): index {index} out of range for tensor of size "
                         f"{list(x.shape)} at dimension {d}")
    return Select.apply(input, d, index + size if index < 0 else index)


class Restride(Function):
    """Moves values between two strided layouts of one flat buffer of `n` elements:
    scatter-add from layout `src`, then gather at layout `dst`. It is the backward of
    unfold and as_strided, and its own backward is the same move reversed."""

    _node_name = "AsStridedBackwardBackward0"

    @staticmethod
    def forward(ctx, g, src, dst, n):
        ctx.src, ctx.dst, ctx.n = src, dst, n
        x = g._data
        xp = _xp(x)
        idx = _layout_index(xp, src)
        flat = xp.bincount(idx.reshape(-1), weights=x.reshape(-1).astype(np.float64),
                           minlength=n)
        return _make(flat[_layout_index(xp, dst)].astype(x.dtype))

    @staticmethod
    def backward(ctx, grad):
        return Restride.apply(grad, ctx.dst, ctx.src, ctx.n), None, None, None


def _layout_index(xp, layout):
    """Flat buffer positions of every element of a (shape, strides, offset) layout."""
    shape, strides, offset = layout
    idx = xp.asarray(offset, dtype=np.int64).reshape((1,) * len(shape))
    for d, (size, st) in enumerate(zip(shape, strides)):
        step = xp.arange(size, dtype=np.int64) * st
        idx = idx + step.reshape((1,) * d + (size,) + (1,) * (len(shape) - d - 1))
    return xp.broadcast_to(idx, shape)


def _contiguous_strides(shape) -> tuple:
    out, acc = [], 1
    for s in reversed(shape):
        out.append(acc)
        acc *= s
    return tuple(reversed(out))


class Unfold(Function):
    _node_name = "UnfoldBackward0"

    @staticmethod
    def forward(ctx, a, dim, size, step):
        x = a._data
        ctx.in_shape = x.shape
        if x.ndim == 0:  # a 0-d tensor is one window of size 1
            ctx.layout = ((size,), (1,), 0)
            out_shape, out_strides = (size,), (x.itemsize,)
        else:
            shape, strides = list(x.shape), list(x.strides)
            count = (shape[dim] - size) // step + 1
            out_shape = shape[:dim] + [count] + shape[dim + 1:] + [size]
            out_strides = strides[:dim] + [strides[dim] * step] + strides[dim + 1:] + [strides[dim]]
            # the same windows over a contiguous buffer of the input, for backward
            cs = list(_contiguous_strides(shape))
            ctx.layout = (tuple(out_shape),
                          tuple(cs[:dim] + [cs[dim] * step] + cs[dim + 1:] + [cs[dim]]), 0)
        out = _make(_as_strided_array(x, tuple(out_shape), tuple(out_strides)))
        return set_view(out, a, lambda b: Unfold.apply(b, dim, size, step))

    @staticmethod
    def backward(ctx, grad):
        shape = ctx.in_shape
        n = math.prod(shape)
        g = Restride.apply(grad, ctx.layout, (shape, _contiguous_strides(shape), 0), n)
        return g, None, None, None


def unfold(input: Tensor, dimension: int, size: int, step: int) -> Tensor:
    """A view of all windows of `size` entries, `step` apart, along `dimension`
    (the window becomes a new last dim)."""
    x = input._data
    d = _wrap_dim(dimension, x.ndim)
    n = x.shape[d] if x.ndim else 1
    if size < 0:
        raise RuntimeError(f"size is {size} but must be >= 0")
    if size > n:
        raise RuntimeError(f"maximum size for tensor at dimension {d} is {n} but size is {size}")
    if step <= 0:
        raise RuntimeError(f"step is {step} but must be > 0")
    return Unfold.apply(input, d, int(size), int(step))


def _storage_array(root, dtype, shape, strides, offset):
    """An array over `root`'s memory (the storage) at element offset/strides."""
    size = dtype.itemsize
    sb = tuple(s * size for s in strides)
    if isinstance(root, _ndarray):
        if not (root.flags.c_contiguous or root.flags.f_contiguous):
            raise RuntimeError("as_strided: ember needs the tensor's storage to be one "
                               "contiguous buffer")
        return np.ndarray(shape, dtype, buffer=root, offset=offset * size, strides=sb)
    xp = _xp(root)
    return xp.ndarray(shape, dtype, memptr=root.data + offset * size, strides=sb)


class AsStrided(Function):
    _node_name = "AsStridedBackward0"

    @staticmethod
    def forward(ctx, a, size, strides, offset):
        x = a._data
        root = _storage_root(a)
        in_offset = (_ptr(x) - _ptr(root)) // x.itemsize
        in_strides = tuple(s // x.itemsize for s in x.strides)
        ctx.src = (size, strides, offset)
        ctx.dst = (x.shape, in_strides, in_offset)
        ctx.n = root.nbytes // x.itemsize
        out = _make(_storage_array(root, x.dtype, size, strides, offset))
        return set_view(out, a, lambda b: AsStrided.apply(b, size, strides, offset))

    @staticmethod
    def backward(ctx, grad):
        return Restride.apply(grad, ctx.src, ctx.dst, ctx.n), None, None, None


def as_strided(input: Tensor, size, stride, storage_offset: int | None = None) -> Tensor:
    """A view of input's storage with any sizes/strides/offset (elements, not bytes)."""
    size = tuple(int(s) for s in size)
    strides = tuple(int(s) for s in stride)
    if len(size) != len(strides):
        raise RuntimeError("mismatch in length of strides and shape")
    if any(s < 0 for s in strides):
        raise RuntimeError(f"as_strided: Negative strides are not supported at the moment, got "
                           f"strides: {list(strides)}")
    for s in size:
        if s < 0:
            raise RuntimeError(f"Trying to create tensor with negative dimension {s}: "
                               f"{list(size)}")
    offset = _storage_offset(input) if storage_offset is None else int(storage_offset)
    x = input._data
    item = x.itemsize
    have = _storage_root(input).nbytes
    need = 0 if 0 in size else item * (offset + 1 + sum((n - 1) * s for n, s in
                                                        zip(size, strides)))
    if need > have:
        raise RuntimeError(f"setStorage: sizes {list(size)}, strides {list(strides)}, storage "
                           f"offset {offset}, and itemsize {item} requiring a storage size of "
                           f"{need} are out of bounds for storage of size {have}")
    return AsStrided.apply(input, size, strides, offset)


# ----------------------------------------------------------------- reorderings (copies)
class Flip(Function):
    _node_name = "FlipBackward0"

    @staticmethod
    def forward(ctx, a, dims):
        ctx.dims = dims
        x = a._data
        return _make(_xp(x).ascontiguousarray(_xp(x).flip(x, dims)) if dims else x.copy())

    @staticmethod
    def backward(ctx, grad):
        return grad.flip(ctx.dims), None


def flip(input: Tensor, *dims) -> Tensor:
    """A copy with the order of entries reversed along `dims`."""
    dims = _shape_arg(dims) if dims else ()
    return Flip.apply(input, _wrap_dims(dims, input._data.ndim))


def fliplr(input: Tensor) -> Tensor:
    """Reverse dim 1 (columns); needs at least 2 dims."""
    if input._data.ndim < 2:
        raise RuntimeError("Input must be >= 2-d.")
    return Flip.apply(input, (1,))


def flipud(input: Tensor) -> Tensor:
    """Reverse dim 0 (rows); needs at least 1 dim."""
    if input._data.ndim < 1:
        raise RuntimeError("Input must be >= 1-d.")
    return Flip.apply(input, (0,))


class Roll(Function):
    _node_name = "RollBackward0"

    @staticmethod
    def forward(ctx, a, shifts, dims):
        ctx.shifts, ctx.dims = shifts, dims
        x = a._data
        xp = _xp(x)
        if dims is None:
            return _make(xp.roll(x.reshape(-1), shifts[0]).reshape(x.shape))
        return _make(xp.roll(x, shifts, dims))

    @staticmethod
    def backward(ctx, grad):
        back = tuple(-s for s in ctx.shifts)
        return Roll.apply(grad, back, ctx.dims), None, None


def roll(input: Tensor, shifts, dims=None) -> Tensor:
    """Entries shifted circularly along dims (the flattened tensor when dims is None)."""
    shifts = (int(shifts),) if isinstance(shifts, _int_types) else tuple(int(s) for s in shifts)
    if dims is None:
        if len(shifts) != 1:
            raise RuntimeError(f"shifts and dimensions must align. shifts: {len(shifts)}, "
                               f"dims:0")
        return Roll.apply(input, shifts, None)
    dims = (dims,) if isinstance(dims, _int_types) else tuple(dims)
    if not shifts:
        raise RuntimeError("`shifts` required")
    if len(shifts) != len(dims):
        raise RuntimeError(f"shifts and dimensions must align. shifts: {len(shifts)}, "
                           f"dims:{len(dims)}")
    n = input._data.ndim
    if n == 0:
        raise IndexError(f"Dimension specified as {dims[0]} but tensor has no dimensions")
    return Roll.apply(input, shifts, tuple(_wrap_dim(d, n) for d in dims))


# ----------------------------------------------------------------- triangles and diagonals
class Tril(Function):
    _node_name = "TrilBackward0"

    @staticmethod
    def forward(ctx, a, diagonal):
        ctx.diagonal = diagonal
        return _make(_xp(a._data).tril(a._data, diagonal))

    @staticmethod
    def backward(ctx, grad):
        return grad.tril(ctx.diagonal), None


class Triu(Function):
    _node_name = "TriuBackward0"

    @staticmethod
    def forward(ctx, a, diagonal):
        ctx.diagonal = diagonal
        return _make(_xp(a._data).triu(a._data, diagonal))

    @staticmethod
    def backward(ctx, grad):
        return grad.triu(ctx.diagonal), None


def _check_matrix(input: Tensor, name: str) -> None:
    if input._data.ndim < 2:
        raise RuntimeError(f"{name}: input tensor must have at least 2 dimensions")


def tril(input: Tensor, diagonal: int = 0) -> Tensor:
    """Lower triangle of the last two dims (entries above `diagonal` zeroed)."""
    _check_matrix(input, "tril")
    return Tril.apply(input, int(diagonal))


def tril_(input: Tensor, diagonal: int = 0) -> Tensor:
    _check_matrix(input, "tril")
    return apply_inplace(input, Tril.apply, int(diagonal))


def triu(input: Tensor, diagonal: int = 0) -> Tensor:
    """Upper triangle of the last two dims (entries below `diagonal` zeroed)."""
    _check_matrix(input, "triu")
    return Triu.apply(input, int(diagonal))


def triu_(input: Tensor, diagonal: int = 0) -> Tensor:
    _check_matrix(input, "triu")
    return apply_inplace(input, Triu.apply, int(diagonal))


def _diagonal_array(x, offset: int, dim1: int, dim2: int):
    """x's diagonal as a writable view (NumPy hands it out read-only)."""
    d = x.diagonal(offset, dim1, dim2)
    if isinstance(d, _ndarray) and x.flags.writeable:
        d.flags.writeable = True
    return d


def _diag_scatter(x, shape, offset: int, dim1: int, dim2: int):
    """Zeros of `shape` with x written on the given diagonal."""
    out = _xp(x).zeros(shape, x.dtype)
    _diagonal_array(out, offset, dim1, dim2)[...] = x
    return out


class Diagonal(Function):
    _node_name = "DiagonalBackward0"

    @staticmethod
    def forward(ctx, a, offset, dim1, dim2):
        ctx.args = (a._data.shape, offset, dim1, dim2)
        out = _make(_diagonal_array(a._data, offset, dim1, dim2))
        return set_view(out, a, lambda b: Diagonal.apply(b, offset, dim1, dim2))

    @staticmethod
    def backward(ctx, grad):
        return DiagonalScatter.apply(grad, *ctx.args), None, None, None


class DiagonalScatter(Function):
    """diagonal()'s backward: zeros of the input's shape with grad on the diagonal."""

    _node_name = "DiagonalBackwardBackward0"

    @staticmethod
    def forward(ctx, g, shape, offset, dim1, dim2):
        ctx.args = (offset, dim1, dim2)
        return _make(_diag_scatter(g._data, shape, offset, dim1, dim2))

    @staticmethod
    def backward(ctx, grad):
        return Diagonal.apply(grad, *ctx.args), None, None, None, None


def _diag_dims(ndim: int, dim1: int, dim2: int) -> tuple:
    d1, d2 = _wrap_dim(dim1, ndim), _wrap_dim(dim2, ndim)
    if d1 == d2:
        raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    return d1, d2


def diagonal(input: Tensor, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Tensor:
    """A view of the diagonal of dims (dim1, dim2), appended as the last dim."""
    d1, d2 = _diag_dims(input._data.ndim, dim1, dim2)
    return Diagonal.apply(input, int(offset), d1, d2)


class DiagEmbed(Function):
    _node_name = "DiagEmbedBackward0"

    @staticmethod
    def forward(ctx, a, offset, dim1, dim2):
        ctx.args = (offset, dim1, dim2)
        x = a._data
        n = x.shape[-1] + abs(offset)
        shape = list(x.shape[:-1])
        for d in sorted((dim1, dim2)):
            shape.insert(d, n)
        return _make(_diag_scatter(x, tuple(shape), offset, dim1, dim2))

    @staticmethod
    def backward(ctx, grad):
        return Diagonal.apply(grad, *ctx.args), None, None, None


def diag_embed(input: Tensor, offset: int = 0, dim1: int = -2, dim2: int = -1) -> Tensor:
    """Tensors whose (dim1, dim2) diagonals hold input's last dim; zeros elsewhere."""
    d1, d2 = _diag_dims(input._data.ndim + 1, dim1, dim2)
    return DiagEmbed.apply(input, int(offset), d1, d2)


class DiagCopy(Function):
    """diag() of a matrix: its diagonal as a new 1-D tensor."""

    _node_name = "DiagonalBackward0_copy"

    @staticmethod
    def forward(ctx, a, offset):
        ctx.args = (a._data.shape, offset, 0, 1)
        return _make(a._data.diagonal(offset).copy())

    @staticmethod
    def backward(ctx, grad):
        return DiagonalScatter.apply(grad, *ctx.args), None


def diag(input: Tensor, diagonal: int = 0) -> Tensor:
    """1-D input: a square matrix with it on the `diagonal`; 2-D input: that diagonal."""
    n = input._data.ndim
    if n == 1:
        return DiagEmbed.apply(input, int(diagonal), 0, 1)
    if n == 2:
        return DiagCopy.apply(input, int(diagonal))
    raise RuntimeError(f"diag(): Supports 1D or 2D tensors. Got {n}D")


class Trace(Function):
    _node_name = "TraceBackward0"

    @staticmethod
    def forward(ctx, a):
        x = a._data
        ctx.shape = x.shape
        if a.dtype._category < 2:
            return _make(x.trace(dtype=np.int64))
        if a.dtype.itemsize < 4:  # accumulate half precision in float32, like torch
            return _make(x.trace(dtype=np.float32).astype(x.dtype))
        return _make(x.trace())

    @staticmethod
    def backward(ctx, grad):
        k = min(ctx.shape)
        return DiagonalScatter.apply(grad.expand(k), ctx.shape, 0, 0, 1)


def trace(input: Tensor) -> Tensor:
    """Sum of the main diagonal of a matrix (integers sum in int64)."""
    if _AUTOCAST: input, = autocast_fp32(input)
    n = input._data.ndim
    if n != 2:
        raise RuntimeError(f"trace: expected a matrix, but got tensor with dim {n}")
    if input.dtype is _dt.bool:
        raise NotImplementedError("\"trace\" not implemented for 'Bool'")
    return Trace.apply(input)


# ----------------------------------------------------------------- meshgrid
def meshgrid(*tensors, indexing: str | None = None) -> tuple:
    """Coordinate grids from 0-D/1-D tensors: result i varies along dim i ('ij'), or with
    the first two dims swapped ('xy', NumPy's default). The grids are expanded views."""
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    if not tensors:
        raise RuntimeError("meshgrid expects a non-empty TensorList")
    if indexing is None:
        warnings.warn("torch.meshgrid: in an upcoming release, it will be required to pass the "
                      "indexing argument.", UserWarning, stacklevel=2)
        indexing = "ij"
    if indexing not in ("ij", "xy"):
        raise RuntimeError(f'torch.meshgrid: indexing must be one of "xy" or "ij", but '
                           f"received: {indexing}")
    for t in tensors:
        if t._data.ndim > 1:
            raise RuntimeError(f"torch.meshgrid: Expected 0D or 1D tensor in the tensor list "
                               f"but got: {t}")
    if any(t.dtype is not tensors[0].dtype for t in tensors):
        raise RuntimeError("meshgrid expects all tensors to have the same dtype")
    if any(t.device != tensors[0].device for t in tensors):
        raise RuntimeError("meshgrid expects all tensors to have the same device")
    n = len(tensors)
    positions = list(range(n))
    if indexing == "xy" and n >= 2:
        positions[0], positions[1] = 1, 0
    shape = [0] * n
    for t, p in zip(tensors, positions):
        shape[p] = t._data.size
    grids = []
    for t, p in zip(tensors, positions):
        view_shape = [1] * n
        view_shape[p] = -1
        grids.append(expand(reshape(t, view_shape), shape))
    return tuple(grids)
