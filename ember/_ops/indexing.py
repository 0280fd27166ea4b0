"""Indexing: __getitem__/__setitem__, gather/scatter, index_*, masked_*, sort/topk/unique.

NOTE [ How t[index] runs ]
torch applies an index in two stages, and so does `getitem`:
1. The basic part (ints, slices, None, Ellipsis, 0-dim integer tensors) becomes
   one NumPy basic-indexing key. The result is a view that shares memory with
   `t`; its node is named after the last step torch would take (Select, Slice,
   Unsqueeze, or Alias when nothing changes).
2. The advanced part (integer tensors and lists, bool masks, Python bools)
   is then applied to that view as a tuple with one entry per view dimension:
   `slice(None)` or an integer array (bool masks become their nonzero
   coordinates; negative indices are wrapped). That gives a copy (IndexBackward0).
   With only full slices and arrays left, NumPy's placement rule for the
   broadcast index dimensions (in place when adjacent, in front when split by a
   slice) is torch's, so NumPy computes it directly.
Doing the ints first matters: `x[0, :, [0, 1]]` is (5, 2) in torch for x of shape
(4, 5, 6), while NumPy's all-at-once rule would give (2, 5).

The gradient of an advanced index scatters back with repeated positions adding
up; `_accumulate` does that with one sort (`unique`) and a segment sum instead of
`np.add.at`, which is an order of magnitude slower on large index sets.
"""
from __future__ import annotations

import warnings

import numpy as np

from ember import _dtype as _dt
from ember import return_types
from ember._device import array_module as _xp
from ember._device import to_device
from ember._ops.inplace import _type_name, apply_inplace, set_view
from ember._ops.shape import _wrap_dim
from ember._tensor import Tensor, _make
from ember.autograd.function import Function
from ember.autograd.grad_mode import _state

__all__ = [
    "gather", "scatter", "scatter_add", "scatter_reduce", "index_select", "index_add",
    "index_copy", "index_fill", "index_put", "index_put_", "masked_fill", "masked_select",
    "masked_scatter", "take", "take_along_dim", "nonzero", "argwhere", "sort", "argsort",
    "msort", "topk", "kthvalue", "unique", "unique_consecutive",
]

_ndarray = np.ndarray
_INT_KINDS = "iu"


# ----------------------------------------------------------------- small helpers


def _zeros(shape, like: Tensor) -> Tensor:
    """A constant zero tensor of `like`'s dtype and device."""
    return _make(_xp(like._data).zeros(shape, like._data.dtype))


def _prod(shape) -> int:
    n = 1
    for s in shape:
        n *= s
    return n


def _recording(*tensors) -> bool:
    return _state.enabled and any(isinstance(t, Tensor) and t._requires_grad for t in tensors)


_C_NAMES = {"float32": "float", "float64": "double", "float16": "c10::Half",
            "bfloat16": "c10::BFloat16", "int64": "long int", "int32": "int",
            "int16": "short int", "int8": "signed char", "uint8": "unsigned char", "bool": "bool"}


def _on_device(arr, like):
    """`arr` moved to the device of array `like` (index tensors may live on the CPU)."""
    if type(arr) is type(like):
        return arr
    from ember._device import device_of
    return to_device(arr, device_of(like))


def _index_arg(index, op: str, allowed=("int64", "int32"), msg=None, exc=RuntimeError):
    """The raw array of an index tensor after torch's dtype check for `op`."""
    if not isinstance(index, Tensor):
        raise TypeError(f"{op}(): argument 'index' must be Tensor, not {type(index).__name__}")
    if index.dtype.name not in allowed:
        raise exc(msg.format(_type_name(index.dtype)) if msg else
                  f"{op}(): Expected dtype int32/int64 for index")
    return index._data


def _checked(idx, size: int, dim: int, prefix: str = "", exc=RuntimeError,
             negative_ok: bool = False):
    """idx as int64 after torch's bounds check (naming the first bad entry); with
    negative_ok, negative entries count from the end and are wrapped."""
    if idx.dtype != np.int64:
        idx = idx.astype(np.int64)
    if idx.size == 0:
        return idx
    lo, hi = int(idx.min()), int(idx.max())
    low = -size if negative_ok else 0
    if lo < low or hi >= size:
        bad = idx[(idx < low) | (idx >= size)].ravel()[0]
        raise exc(f"{prefix}index {int(bad)} is out of bounds for dimension {dim} with size "
                  f"{size}")
    return _xp(idx).where(idx < 0, idx + size, idx) if lo < 0 else idx


def _wrap(idx, size: int):
    return idx if idx.size == 0 or int(idx.min()) >= 0 else idx % size if size else idx


def _scalar_value(value, dtype: _dt.dtype):
    """A fill value (number or 0-dim tensor) as a Python scalar usable with `dtype`'s arrays."""
    if isinstance(value, Tensor):
        value = value.item()
    elif isinstance(value, np.generic):
        value = value.item()
    if dtype.is_floating_point or isinstance(value, bool):
        return value
    if dtype is _dt.bool:
        return bool(value)
    return int(value)


# ----------------------------------------------------------------- accumulation kernels
_sparse = []  # [scipy.sparse module or None], resolved on first use


def _scipy_sparse():
    if not _sparse:
        try:
            import scipy.sparse as sp
        except ImportError:
            sp = None
        _sparse.append(sp)
    return _sparse[0]


def _segment_sum(seg, vals, n: int):
    """(n, R) sums of the rows of `vals` (L, R) grouped by `seg` (L,) in [0, n)."""
    xp = _xp(vals)
    dtype = vals.dtype
    L, R = vals.shape
    if xp is np and (dtype.kind == "f" or dtype.name == "bfloat16"):
        work = vals if dtype in (np.float32, np.float64) else vals.astype(np.float32)
        if R == 1:
            out = np.bincount(seg, weights=work[:, 0], minlength=n)[:, None]
        elif (sp := _scipy_sparse()) is not None:
            # A one-hot (n, L) matrix times vals: a sparse GEMM sums the rows in one pass.
            order = np.argsort(seg, kind="stable")
            indptr = np.zeros(n + 1, np.int64)
            np.cumsum(np.bincount(seg, minlength=n), out=indptr[1:])
            onehot = sp.csr_matrix((np.ones(L, work.dtype), order, indptr), shape=(n, L))
            out = onehot @ work
        else:
            out = np.zeros((n, R), work.dtype)
            np.add.at(out, seg, work)
        return out.astype(dtype, copy=False)
    out = xp.zeros((n, R), dtype)
    if xp is np:
        np.add.at(out, seg, vals)
    else:
        import cupyx
        cupyx.scatter_add(out, seg, vals)
    return out


def _bshape(arrays) -> tuple:
    """The shape integer index arrays broadcast to."""
    if len(arrays) == 1:
        return arrays[0].shape
    return np.broadcast_shapes(*[a.shape for a in arrays])


def _result_shape(shape, full) -> tuple:
    """Shape of `array[full]` for a tuple of full slices and integer arrays."""
    pos = [i for i, f in enumerate(full) if not isinstance(f, slice)]
    if not pos:
        return tuple(shape)
    bshape = _bshape([full[i] for i in pos])
    rest = tuple(s for i, s in enumerate(shape) if i not in pos)
    if pos == list(range(pos[0], pos[-1] + 1)):
        return tuple(shape[:pos[0]]) + bshape + tuple(shape[pos[-1] + 1:])
    return bshape + rest


def _accumulate(out, full, vals) -> None:
    """out[full] += vals in place, where repeated positions add up (out may be a view).

    `full` has one entry per dimension of `out`: slice(None) or a non-negative
    integer array. The indexed dimensions are linearised into one row number
    per index; rows that repeat are summed first, then added once.
    """
    xp = _xp(out)
    pos = [i for i, f in enumerate(full) if not isinstance(f, slice)]
    bshape = _bshape([full[i] for i in pos])
    L = _prod(bshape)
    if L == 0:
        return
    rest = [i for i in range(out.ndim) if i not in pos]
    rshape = _result_shape(out.shape, full)
    vals = xp.broadcast_to(vals, rshape)
    nb = len(bshape)
    if pos == list(range(pos[0], pos[-1] + 1)) and pos[0] > 0:  # index dims to the front
        p = pos[0]
        vals = vals.transpose(list(range(p, p + nb)) + list(range(p))
                              + list(range(p + nb, len(rshape))))
    target = out.transpose(pos + rest) if pos + rest != list(range(out.ndim)) else out
    sizes = tuple(out.shape[i] for i in pos)
    rest_shape = tuple(out.shape[i] for i in rest)
    vals2 = vals.reshape(L, _prod(rest_shape))
    lin = None
    for a, s in zip((full[i] for i in pos), sizes):
        a = xp.broadcast_to(a, bshape).reshape(-1)
        lin = a.astype(np.int64, copy=False) if lin is None else lin * s + a
    M = _prod(sizes)
    if xp is np and vals2.shape[1] == 1 and vals2.dtype.kind == "f" and M <= 8 * L + 4096:
        dense = np.bincount(lin, weights=vals2[:, 0], minlength=M)
        target += dense.reshape(sizes + rest_shape).astype(out.dtype, copy=False)
        return
    uniq, inv = xp.unique(lin, return_inverse=True)
    inv = inv.reshape(-1)
    if uniq.size == L:  # no repeated positions: a plain fancy-index add is exact
        target[xp.unravel_index(lin, sizes)] += vals2.reshape((L,) + rest_shape)
        return
    sums = _segment_sum(inv, vals2, uniq.size)
    target[xp.unravel_index(uniq, sizes)] += sums.reshape((uniq.size,) + rest_shape)


def _put(out, full, vals, accumulate: bool) -> None:
    """out[full] = vals (or += with accumulate), after torch's shape check on vals."""
    if vals.ndim:  # (a 0-dim value fits any result)
        rshape = _result_shape(out.shape, full)
        if vals.shape != rshape:
            try:
                if np.broadcast_shapes(vals.shape, rshape) != rshape:
                    raise ValueError
            except ValueError:
                raise RuntimeError(f"shape mismatch: value tensor of shape {list(vals.shape)} "
                                   f"cannot be broadcast to indexing result of shape "
                                   f"{list(rshape)}") from None
    if accumulate and any(not isinstance(f, slice) for f in full):
        _accumulate(out, full, vals)
    elif accumulate:
        out[...] += vals
    else:
        out[full] = vals


# ----------------------------------------------------------------- t[index]: parsing
_MASK_DTYPES = ("bool", "uint8")
_INDEX_DTYPES = ("int64", "int32")


def _sequence_is_tuple(seq) -> bool:
    """torch's legacy rule: a short list holding slices, tensors or lists means a tuple."""
    if len(seq) >= 32:
        return False
    return any(isinstance(s, (Tensor, list, tuple, slice, _ndarray)) or s is None or s is Ellipsis
               for s in seq)


def _classify(item):
    """(kind, payload) for one entry of an index: int, slice, none, ell, bool, mask, adv."""
    if isinstance(item, Tensor):
        name = item.dtype.name
        if name in _MASK_DTYPES:
            if name == "uint8":
                warnings.warn("indexing with dtype torch.uint8 is now deprecated, please use a "
                              "dtype torch.bool instead.", UserWarning, stacklevel=4)
            if item._data.ndim == 0:
                return "bool", bool(item._data)
            return "mask", item._data.astype(bool, copy=False)
        if name in _INDEX_DTYPES or name in ("int16", "int8"):
            if name not in _INDEX_DTYPES:
                raise IndexError("tensors used as indices must be long, int, byte or bool tensors")
            if item._data.ndim == 0:
                return "int", int(item._data)
            return "adv", item._data
        raise IndexError("tensors used as indices must be long, int, byte or bool tensors")
    if isinstance(item, bool) or isinstance(item, np.bool_):
        return "bool", bool(item)
    if isinstance(item, (int, np.integer)):
        return "int", int(item)
    if isinstance(item, slice):
        return "slice", item
    if item is None:
        return "none", None
    if item is Ellipsis:
        return "ell", None
    if isinstance(item, (list, tuple, range, _ndarray)):
        arr = np.asarray(item)
        if arr.dtype == bool:
            return ("bool", bool(arr)) if arr.ndim == 0 else ("mask", arr)
        if arr.size == 0 or arr.dtype.kind == "f" and not isinstance(item, _ndarray):
            arr = arr.astype(np.int64)  # torch builds a long tensor from a list
        if arr.dtype.kind not in _INT_KINDS:
            raise IndexError("tensors used as indices must be long, int, byte or bool tensors")
        return ("int", int(arr)) if arr.ndim == 0 else ("adv", arr.astype(np.int64, copy=False))
    if isinstance(item, str):
        raise TypeError(f"new(): invalid data type '{type(item).__name__}'")
    if hasattr(item, "__index__"):
        return "int", item.__index__()
    raise IndexError("only integers, slices (`:`), ellipsis (`...`), None and long or byte "
                     f"Variables are valid indices (got {type(item).__name__})")


def _slice_bound(v):
    if v is None:
        return None
    if isinstance(v, Tensor):
        return v.__index__()
    if not isinstance(v, int):
        if not hasattr(v, "__index__"):
            raise TypeError("slice indices must be integers or None or have an __index__ method")
        return v.__index__()
    return v


def _parse(x: Tensor, index):
    """Split `index` into a basic key, the view node class, and the advanced entries.

    Returns (key, view_cls, full): `key` indexes x's array to a view (it ends with
    Ellipsis so a 0-dim result is still an array); `view_cls` is None when the key
    changes nothing; `full` is None or the advanced part, one entry per view dim (see NOTE).
    """
    shape = x._data.shape
    ndim = len(shape)
    single = not isinstance(index, tuple)
    if single:
        if isinstance(index, list) and _sequence_is_tuple(index):
            warnings.warn("Using a non-tuple sequence for multidimensional indexing is deprecated "
                          "and will be changed in pytorch 2.9; use x[tuple(seq)] instead of "
                          "x[seq].", UserWarning, stacklevel=3)
            index = tuple(index)
        else:
            index = (index,)
    items = []
    for it in index:  # the common kinds inline; the rest through _classify
        t = type(it)
        if t is int:
            items.append(("int", it))
        elif t is slice:
            items.append(("slice", it))
        elif it is None:
            items.append(("none", None))
        elif it is Ellipsis:
            items.append(("ell", None))
        else:
            items.append(_classify(it))
    consumed = 0
    for kind, val in items:
        if kind in ("int", "slice", "adv"):
            consumed += 1
        elif kind == "mask":
            consumed += val.ndim
    if consumed > ndim:
        if ndim == 0 and items[0][0] == "int":
            raise IndexError("invalid index of a 0-dim tensor. Use `tensor.item()` in Python or "
                             "`tensor.item<T>()` in C++ to convert a 0-dim tensor to a number")
        if ndim == 0 and items[0][0] == "slice":
            raise IndexError("slice() cannot be applied to a 0-dim tensor.")
        raise IndexError(f"too many indices for tensor of dimension {ndim}")

    key = []
    vshape = []  # the view's shape, built as the key grows
    adv = []  # (view dim, integer array)
    masks = []  # (view dim, mask) checked once the view's shape is known
    d = 0
    last = None
    ell_left = True
    for i, (kind, val) in enumerate(items):
        if kind == "int":
            size = shape[d]
            if not -size <= val < size:  # torch names the entry's place in the index
                raise IndexError(f"index {val} is out of bounds for dimension {i} with size {size}")
            key.append(val)
            d += 1
            last = Select
        elif kind == "slice":
            start, stop, step = _slice_bound(val.start), _slice_bound(val.stop), \
                _slice_bound(val.step)
            if step is not None and step <= 0:
                raise ValueError("slice step cannot be zero" if step == 0 else
                                 "step must be greater than zero")
            size = shape[d]
            s = slice(start, stop, step)
            a, b, c = s.indices(size)
            n = len(range(a, b, c))
            if single or not (a == 0 and n == size and c == 1):
                last = Slice
            key.append(s)
            vshape.append(n)
            d += 1
        elif kind == "none":
            key.append(None)
            vshape.append(1)
            last = Unsqueeze
        elif kind == "ell":
            k = ndim - consumed if ell_left else 0
            ell_left = False
            key.extend([slice(None)] * k)
            vshape.extend(shape[d:d + k])
            d += k
        elif kind == "bool":
            key.append(None)
            adv.append((len(vshape), np.arange(1 if val else 0)))
            vshape.append(1)
            last = Unsqueeze
        elif kind == "mask":
            masks.append((len(vshape), val))
            for j in range(val.ndim):
                key.append(slice(None))
                vshape.append(shape[d + j])
            d += val.ndim
        else:  # "adv"
            adv.append((len(vshape), val))
            key.append(slice(None))
            vshape.append(shape[d])
            d += 1
    vshape.extend(shape[d:])
    key.append(Ellipsis)
    if last is None and not adv and not masks:
        last = Alias
    if not adv and not masks:
        return tuple(key), last, None

    return tuple(key), last, _advanced(x._data, vshape, adv, masks)


def _advanced(like, vshape, adv, masks) -> tuple:
    """The full tuple for advanced entries (view dim, array) and masks over a view of
    shape vshape: masks become coordinates, arrays are bounds-checked and wrapped."""
    for p, mask in masks:
        for j, (ms, vs) in enumerate(zip(mask.shape, vshape[p:])):
            if ms != vs:
                raise IndexError(f"The shape of the mask {list(mask.shape)} at index {j} does not "
                                 f"match the shape of the indexed tensor {vshape} at index {p + j}")
        mask = _on_device(mask, like)
        adv.extend((p + j, nz) for j, nz in enumerate(_xp(mask).nonzero(mask)))
    if len(adv) > 1:
        adv.sort(key=lambda e: e[0])
    try:
        _bshape([a for _, a in adv])
    except ValueError:
        shapes = ", ".join(str(list(a.shape)) for _, a in adv)
        raise IndexError(f"shape mismatch: indexing tensors could not be broadcast together with "
                         f"shapes {shapes}") from None
    full = [slice(None)] * len(vshape)
    for k, (p, arr) in enumerate(adv):
        size = vshape[p]
        if arr.size and size == 0:
            raise IndexError("index is out of bounds for dimension with size 0")
        arr = _on_device(arr, like)
        full[p] = _checked(arr, size, k, exc=IndexError, negative_ok=True)
    return tuple(full)


# ----------------------------------------------------------------- t[index]: views
class _BasicView(Function):
    """x[key] for a basic key: a view sharing x's memory (see NOTE above)."""

    @staticmethod
    def forward(ctx, a, key):
        out = _view_of(type(ctx), a, key)
        ctx.in_shape = a._data.shape
        ctx.key = key
        ctx.same_size = out._data.size == a._data.size
        return out

    @staticmethod
    def backward(ctx, grad):
        if ctx.same_size:  # the view keeps every element in order (unsqueeze, alias, ...)
            return grad.reshape(ctx.in_shape), None
        return _BasicViewGrad.apply(grad, ctx.in_shape, ctx.key), None


def _view_of(cls, a: Tensor, key) -> Tensor:
    """a._data[key] as a Tensor view of `a` that `cls` rebuilds from a base."""
    return set_view(_make(a._data[key]), a, lambda b: cls.apply(b, key))


def _basic(cls, a: Tensor, key) -> Tensor:
    """The view; without a graph to record it skips the Function machinery."""
    if _state.enabled and a._requires_grad:
        return cls.apply(a, key)
    return _view_of(cls, a, key)


class Select(_BasicView):
    _node_name = "SelectBackward0"


class Slice(_BasicView):
    _node_name = "SliceBackward0"


class Unsqueeze(_BasicView):
    _node_name = "UnsqueezeBackward0"


class Alias(_BasicView):
    _node_name = "AliasBackward0"


class _BasicViewGrad(Function):
    """Zeros of the base's shape with `grad` written where the view was."""

    _node_name = "SliceBackwardBackward0"

    @staticmethod
    def forward(ctx, grad, shape, key):
        ctx.key = key
        out = _xp(grad._data).zeros(shape, grad._data.dtype)
        out[key] = grad._data
        return _make(out)

    @staticmethod
    def backward(ctx, grad):
        return Slice.apply(grad, ctx.key), None, None


class Index(Function):
    """x[full] for a tuple of full slices and integer arrays: a copy."""

    _node_name = "IndexBackward0"

    @staticmethod
    def forward(ctx, a, full):
        ctx.in_shape = a._data.shape
        ctx.full = full
        return _make(a._data[full])

    @staticmethod
    def backward(ctx, grad):
        return IndexPut.apply(_zeros(ctx.in_shape, grad), grad, ctx.full, True), None


class IndexPut(Function):
    """A copy of x with x[full] set to (or, accumulating, increased by) values."""

    _node_name = "IndexPutBackward0"

    @staticmethod
    def forward(ctx, a, values, full, accumulate):
        ctx.full, ctx.accumulate = full, accumulate
        out = a._data.copy()
        _put(out, full, _on_device(values._data, out), accumulate)
        return _make(out)

    @staticmethod
    def backward(ctx, grad):
        g_self = g_values = None
        if ctx.needs_input_grad[0]:
            g_self = grad if ctx.accumulate else IndexPut.apply(grad, _zeros((), grad), ctx.full,
                                                                False)
        if ctx.needs_input_grad[1]:
            g_values = Index.apply(grad, ctx.full)
        return g_self, g_values, None, None


def getitem(input: Tensor, index) -> Tensor:
    """input[index] with torch's rules: basic indexing gives a view, advanced a copy."""
    if type(index) is int and input._data.ndim:
        size = input._data.shape[0]
        if not -size <= index < size:
            raise IndexError(f"index {index} is out of bounds for dimension 0 with size {size}")
        return _basic(Select, input, (index, Ellipsis))
    key, view_cls, full = _parse(input, index)
    v = _basic(view_cls, input, key) if view_cls is not None else input
    if full is None:
        return v
    return Index.apply(v, full)


def _value_tensor(value, x: Tensor) -> Tensor:
    """A setitem value as a Tensor on x's device (numbers take x's dtype)."""
    if isinstance(value, Tensor):
        if value.device != x.device and value._data.ndim == 0:
            return _make(_on_device(value._data, x._data))
        return value
    if isinstance(value, (bool, int, float, np.generic)):
        xp = _xp(x._data)
        return _make(xp.asarray(_scalar_value(value, x.dtype), dtype=x._data.dtype))
    from ember._ops.creation import type_string
    kind = type(value).__name__
    if isinstance(value, _ndarray):
        kind = "numpy.ndarray"
    raise TypeError(f"can't assign a {kind} to a {type_string(x)}")


def _check_copy_shape(vshape, target, type_str: str):
    """torch's expand check for copying a value of shape vshape into target (leading 1s drop)."""
    vshape = tuple(vshape)
    while len(vshape) > len(target) and vshape[0] == 1:
        vshape = vshape[1:]
    if len(vshape) > len(target):
        raise RuntimeError(f"expand({type_str}{{{list(vshape)}}}, size={list(target)}): the "
                           f"number of sizes provided ({len(target)}) must be greater or equal "
                           f"to the number of dimensions in the tensor ({len(vshape)})")
    lead = len(target) - len(vshape)
    for i, s in enumerate(vshape):
        if s != 1 and s != target[lead + i]:
            raise RuntimeError(f"The expanded size of the tensor ({target[lead + i]}) must match "
                               f"the existing size ({s}) at non-singleton dimension {lead + i}.  "
                               f"Target sizes: {list(target)}.  Tensor sizes: {list(vshape)}")
    return vshape


def _check_same_dtype(x: Tensor, v: Tensor) -> None:
    if v.dtype is not x.dtype:
        raise RuntimeError(f"Index put requires the source and destination dtypes match, got "
                           f"{_type_name(x.dtype)} for the destination and "
                           f"{_type_name(v.dtype)} for the source.")


def _write_error(e: ValueError, arr) -> RuntimeError:
    """A failed write into `arr` as torch reports it (read-only arrays are expanded views)."""
    if not getattr(arr.flags, "writeable", True):
        return RuntimeError("unsupported operation: more than one element of the written-to "
                            "tensor refers to a single memory location. Please clone() the "
                            f"tensor before performing the operation. ({e})")
    return RuntimeError(str(e))


def setitem(input: Tensor, index, value) -> None:
    """input[index] = value: written straight into memory unless a graph is recorded.

    Under autograd the basic part becomes a view and the write an in-place copy_
    (the base gets CopySlices) or index_put_ (IndexPutBackward0), as in torch.
    """
    key, view_cls, full = _parse(input, index)
    if type(value) in (float, int, bool) and not (_state.enabled and input._requires_grad):
        target = input._data[key]  # a number into memory that needs no graph: write it
        try:
            if full is None:
                target[...] = _scalar_value(value, input.dtype)
            else:
                target[full] = _scalar_value(value, input.dtype)
        except ValueError as e:
            raise _write_error(e, target) from None
        input._version_counter[0] += 1
        return
    v = _value_tensor(value, input)
    if full is not None:
        if isinstance(value, Tensor):
            _check_same_dtype(input, v)
        lead = 0
        while v._data.ndim - lead > 0 and v._data.shape[lead] == 1:
            lead += 1
        if lead:  # like torch, t[index] = value ignores leading 1s of value's shape
            v = v.reshape(v._data.shape[lead:])
    if not _recording(input, v):
        target = input._data[key]
        vals = _on_device(v._data, target)
        try:
            if full is None:
                vshape = _check_copy_shape(vals.shape, target.shape, _type_string(v))
                target[...] = vals.reshape(vshape) if vshape != vals.shape else vals
            else:
                _put(target, full, vals, False)
        except ValueError as e:
            raise _write_error(e, target) from None
        input._version_counter[0] += 1
        return
    view = view_cls.apply(input, key) if view_cls is not None else input
    if full is None:
        vshape = _check_copy_shape(v._data.shape, view._data.shape, _type_string(v))
        if vshape != v._data.shape:
            v = v.reshape(vshape)
        view.copy_(v)
    else:
        apply_inplace(view, IndexPut.apply, v, full, False)


def _type_string(t: Tensor) -> str:
    from ember._ops.creation import type_string
    return type_string(t)


# ----------------------------------------------------------------- index_put
def _put_indices(input: Tensor, indices) -> tuple:
    """index_put's tuple of index tensors as a full tuple (see NOTE)."""
    if not isinstance(indices, (tuple, list)):
        raise TypeError(f"index_put(): argument 'indices' must be tuple of Tensors, not "
                        f"{type(indices).__name__}")
    for i, t in enumerate(indices):
        if not isinstance(t, Tensor):
            raise TypeError(f"expected Tensor as element {i} in argument 0, but got "
                            f"{type(t).__name__}")
    n = sum(t._data.ndim if t.dtype.name in _MASK_DTYPES else 1 for t in indices)
    if n > input._data.ndim:
        raise IndexError(f"too many indices for tensor of dimension {input._data.ndim} (got {n})")
    # Unlike t[...], every tensor here is an index tensor, 0-dim ones included.
    adv, masks, d = [], [], 0
    for t in indices:
        kind, arr = _classify(t)
        if kind == "mask":
            masks.append((d, arr))
            d += arr.ndim
        elif kind == "bool":
            raise IndexError("index_put(): 0-dim bool index tensors are not supported")
        else:
            adv.append((d, t._data))
            d += 1
    return _advanced(input._data, list(input._data.shape), adv, masks)


def index_put(input: Tensor, indices, values: Tensor, accumulate: bool = False) -> Tensor:
    """A copy of input with input[indices] = values (+= with accumulate, repeats adding up)."""
    if not isinstance(values, Tensor):
        raise TypeError(f"index_put(): argument 'values' (position 2) must be Tensor, not "
                        f"{type(values).__name__}")
    full = _put_indices(input, indices)
    _check_same_dtype(input, values)
    return IndexPut.apply(input, values, full, bool(accumulate))


def index_put_(input: Tensor, indices, values: Tensor, accumulate: bool = False) -> Tensor:
    """In-place index_put."""
    if not isinstance(values, Tensor):
        raise TypeError(f"index_put_(): argument 'values' (position 2) must be Tensor, not "
                        f"{type(values).__name__}")
    full = _put_indices(input, indices)
    _check_same_dtype(input, values)
    if not _recording(input, values):
        try:
            _put(input._data, full, _on_device(values._data, input._data), bool(accumulate))
        except ValueError as e:
            raise _write_error(e, input._data) from None
        input._version_counter[0] += 1
        return input
    return apply_inplace(input, IndexPut.apply, values, full, bool(accumulate))


# ----------------------------------------------------------------- in-place driver
def _apply_(cls, input: Tensor, *args) -> Tensor:
    """In-place form of op `cls`: its kernel writes straight into input's memory when no
    graph is recorded (no copy); otherwise apply_inplace runs the out-of-place op."""
    if _recording(input, *args):
        return apply_inplace(input, cls.apply, *args)
    raw = [_on_device(a._data, input._data) if isinstance(a, Tensor) else a for a in args]
    try:
        cls._kernel(input._data, *raw)
    except ValueError as e:
        raise _write_error(e, input._data) from None
    input._version_counter[0] += 1
    return input


def _out_of_place(cls, ctx, a, *args):
    """Forward of an op that updates a copy of `a` with its kernel."""
    out = a._data.copy()
    cls._kernel(out, *[_on_device(x._data, out) if isinstance(x, Tensor) else x for x in args])
    return _make(out)


def _dim_key(idx, dim: int, ndim: int) -> tuple:
    """A full tuple selecting `idx` along `dim` (index_add, index_copy, index_fill)."""
    return (slice(None),) * dim + (idx,) + (slice(None),) * (ndim - dim - 1)


def _coords(idx, dim: int) -> tuple:
    """Per-element coordinates for scatter/gather: idx along dim, the position elsewhere."""
    xp = _xp(idx)
    nd = idx.ndim
    out = []
    for j, n in enumerate(idx.shape):
        if j == dim:
            out.append(idx)
        else:
            shape = [1] * nd
            shape[j] = n
            out.append(xp.arange(n).reshape(shape))
    return tuple(out)


def _lead(shape) -> tuple:
    return tuple(slice(0, n) for n in shape) + (Ellipsis,)


def _pad_to(g: Tensor, shape) -> Tensor:
    """g placed in the leading corner of zeros of `shape` (grad of an index-shaped src part)."""
    if tuple(g.shape) == tuple(shape):
        return g
    return _BasicViewGrad.apply(g, shape, _lead(g.shape))


# ----------------------------------------------------------------- gather / scatter
def _scatter_checks(op: str, x: Tensor, dim, index: Tensor, src=None, what="self"):
    """Validate gather/scatter arguments as torch does; returns (dim, index array)."""
    idx = _index_arg(index, op)
    nd = max(x._data.ndim, 1)
    dim = _wrap_dim(dim, x._data.ndim)
    if max(idx.ndim, 1) != nd:
        raise RuntimeError(f"Index tensor must have the same number of dimensions as {what} tensor")
    if src is not None and max(src._data.ndim, 1) != nd:
        raise RuntimeError("Index tensor must have the same number of dimensions as src tensor")
    xs = x._data.shape or (1,)
    ishape = idx.shape or (1,)
    for d in range(nd):
        bad_self = d != dim and ishape[d] > xs[d]
        bad_src = src is not None and ishape[d] > (src._data.shape or (1,))[d]
        if bad_self or bad_src:
            if op == "gather":
                raise RuntimeError(f"Size does not match at dimension {d} expected index "
                                   f"{list(ishape)} to be no larger than self {list(xs)} apart "
                                   f"from dimension {dim}")
            msg = (f"Expected index {list(ishape)} to be no larger than self {list(xs)} apart "
                   f"from dimension {dim}")
            if src is not None:
                msg += f" and to be no larger size than src {list(src._data.shape or (1,))}"
            raise RuntimeError(msg)
    idx = _on_device(idx, x._data)
    return dim, _checked(idx, xs[dim], dim)


def _as_1d(a):
    return a.reshape(1) if a.ndim == 0 else a


def _gather_raw(x, dim: int, idx):
    """gather on arrays: x's leading block (index-sized off dim) taken along dim."""
    x1, i = _as_1d(x), _as_1d(idx)
    x1 = x1[tuple(slice(0, n) if j != dim else slice(None) for j, n in enumerate(i.shape))]
    return _xp(x1).take_along_axis(x1, i, axis=dim).reshape(idx.shape)


class Gather(Function):
    _node_name = "GatherBackward0"

    @staticmethod
    def forward(ctx, a, dim, idx):
        ctx.in_shape, ctx.dim, ctx.idx = a._data.shape, dim, idx
        return _make(_gather_raw(a._data, dim, idx))

    @staticmethod
    def backward(ctx, grad):
        return ScatterAdd.apply(_zeros(ctx.in_shape, grad), ctx.dim, ctx.idx, grad), None, None


def gather(input: Tensor, dim: int, index: Tensor, *, sparse_grad: bool = False,
           out=None) -> Tensor:
    """out[i][j] = input[index[i][j]][j] (for dim=0); index may be smaller than input."""
    dim, idx = _scatter_checks("gather", input, dim, index, what="input")
    return Gather.apply(input, dim, idx)


def _src_part(src, idx):
    """The leading idx-shaped block of src (scatter only reads that much of it)."""
    if src.shape == idx.shape:
        return src
    return _as_1d(src)[_lead(_as_1d(idx).shape)].reshape(idx.shape)


class Scatter(Function):
    """scatter with a src tensor (reduce None, 'add' or 'multiply')."""

    _node_name = "ScatterBackward0"

    @staticmethod
    def _kernel(out, dim, idx, src, reduce=None):
        o = _as_1d(out)
        coords = _coords(_as_1d(idx), dim)
        vals = _src_part(src, idx) if not np.isscalar(src) else src
        if reduce is None:
            o[coords] = vals
        elif reduce == "add":
            _accumulate(o, coords, _xp(o).asarray(vals, dtype=o.dtype))
        else:
            _ufunc_at("multiply", o, coords, vals)

    @staticmethod
    def forward(ctx, a, dim, idx, src, reduce=None):
        ctx.dim, ctx.idx, ctx.reduce = dim, idx, reduce
        ctx.src_shape = src._data.shape if isinstance(src, Tensor) else None
        return _out_of_place(Scatter, ctx, a, dim, idx, src, reduce)

    @staticmethod
    def backward(ctx, grad):
        if ctx.reduce is not None:
            raise RuntimeError("derivative for aten::scatter is not implemented")
        g_self = g_src = None
        if ctx.needs_input_grad[0]:
            g_self = ScatterValue.apply(grad, ctx.dim, ctx.idx, 0)
        if ctx.src_shape is not None and ctx.needs_input_grad[3]:
            g_src = _pad_to(Gather.apply(grad, ctx.dim, ctx.idx), ctx.src_shape)
        return g_self, None, None, g_src, None


class ScatterValue(Scatter):
    """scatter with a scalar value."""

    _node_name = "ScatterBackward1"

    @staticmethod
    def forward(ctx, a, dim, idx, value, reduce=None):
        ctx.dim, ctx.idx, ctx.reduce, ctx.src_shape = dim, idx, reduce, None
        return _out_of_place(Scatter, ctx, a, dim, idx, value, reduce)


def _ufunc_at(name: str, out, coords, vals) -> None:
    """ufunc.at (unbuffered in-place multiply/maximum/minimum at repeated positions)."""
    xp = _xp(out)
    if xp is not np:
        import cupyx
        fn = {"maximum": getattr(cupyx, "scatter_max", None),
              "minimum": getattr(cupyx, "scatter_min", None)}.get(name)
        if fn is None:
            raise NotImplementedError(f"scatter with reduce '{name}' is not supported on CUDA")
        fn(out, coords, vals)
        return
    if out.dtype.name in ("float16", "bfloat16"):
        work = out.astype(np.float32)
        getattr(np, name).at(work, coords, np.asarray(vals).astype(np.float32))
        out[...] = work
    else:
        getattr(np, name).at(out, coords, vals)


def _scatter_args(name: str, input: Tensor, dim, index, src, value, reduce):
    if src is not None and not isinstance(src, Tensor):
        src, value = None, src
    if reduce is not None and reduce not in ("add", "multiply"):
        raise RuntimeError("reduce argument must be either add or multiply.")
    if src is None and value is None:
        raise TypeError(f"{name}() missing 1 required positional argument: 'src' or 'value'")
    dim, idx = _scatter_checks("scatter", input, dim, index, src)
    if src is not None:
        if src.dtype is not input.dtype:
            raise RuntimeError("scatter(): Expected self.dtype to be equal to src.dtype")
        if reduce is not None:
            warnings.warn("The reduce argument of torch.scatter with Tensor src is deprecated and "
                          "will be removed in a future PyTorch release. Use torch.scatter_reduce "
                          "instead for more reduction options.", UserWarning, stacklevel=3)
        return Scatter, (dim, idx, src, reduce)
    return ScatterValue, (dim, idx, _scalar_value(value, input.dtype), reduce)


def scatter(input: Tensor, dim: int, index: Tensor, src=None, *, value=None,
            reduce=None) -> Tensor:
    """A copy of input with src (or value) written at index along dim (see Tensor.scatter_)."""
    cls, args = _scatter_args("scatter", input, dim, index, src, value, reduce)
    return cls.apply(input, *args)


def scatter_(input: Tensor, dim: int, index: Tensor, src=None, *, value=None,
             reduce=None) -> Tensor:
    """self[index[i][j]][j] = src[i][j] (dim=0) in place; reduce 'add'/'multiply' combines."""
    cls, args = _scatter_args("scatter_", input, dim, index, src, value, reduce)
    return _apply_(cls, input, *args)


class ScatterAdd(Function):
    _node_name = "ScatterAddBackward0"

    @staticmethod
    def _kernel(out, dim, idx, src):
        o = _as_1d(out)
        _accumulate(o, _coords(_as_1d(idx), dim), _src_part(src, idx))

    @staticmethod
    def forward(ctx, a, dim, idx, src):
        ctx.dim, ctx.idx, ctx.src_shape = dim, idx, src._data.shape
        return _out_of_place(ScatterAdd, ctx, a, dim, idx, src)

    @staticmethod
    def backward(ctx, grad):
        g_src = None
        if ctx.needs_input_grad[3]:
            g_src = _pad_to(Gather.apply(grad, ctx.dim, ctx.idx), ctx.src_shape)
        return grad, None, None, g_src


def _scatter_add_args(input, dim, index, src):
    if not isinstance(src, Tensor):
        raise TypeError(f"scatter_add(): argument 'src' (position 3) must be Tensor, not "
                        f"{type(src).__name__}")
    dim, idx = _scatter_checks("scatter", input, dim, index, src)
    if src.dtype is not input.dtype:
        raise RuntimeError("scatter(): Expected self.dtype to be equal to src.dtype")
    return dim, idx, src


def scatter_add(input: Tensor, dim: int, index: Tensor, src: Tensor) -> Tensor:
    """A copy of input with src added at index along dim; repeated indices add up."""
    return ScatterAdd.apply(input, *_scatter_add_args(input, dim, index, src))


def scatter_add_(input: Tensor, dim: int, index: Tensor, src: Tensor) -> Tensor:
    return _apply_(ScatterAdd, input, *_scatter_add_args(input, dim, index, src))


_REDUCES = ("sum", "prod", "mean", "amax", "amin")


def _identity(reduce: str, dtype):
    if reduce in ("sum", "mean"):
        return 0
    if reduce == "prod":
        return 1
    if dtype.kind == "f" or dtype.name == "bfloat16":
        return -np.inf if reduce == "amax" else np.inf
    if dtype.kind == "b":
        return reduce == "amin"
    info = np.iinfo(dtype)
    return info.min if reduce == "amax" else info.max


class ScatterReduce(Function):
    _node_name = "ScatterReduceBackward0"

    @staticmethod
    def _kernel(out, dim, idx, src, reduce, include_self, counts_out=None):
        o = _as_1d(out)
        coords = _coords(_as_1d(idx), dim)
        vals = _src_part(src, idx)
        if not include_self:
            o[coords] = _identity(reduce, o.dtype)
        if reduce in ("sum", "mean"):
            _accumulate(o, coords, vals)
        else:
            _ufunc_at({"prod": "multiply", "amax": "maximum", "amin": "minimum"}[reduce], o,
                      coords, vals)
        if reduce == "mean":
            xp = _xp(o)
            counts = xp.full(o.shape, 1 if include_self else 0, np.int64)
            _accumulate(counts, coords, xp.ones(vals.shape, np.int64))
            counts = xp.maximum(counts, 1)
            if o.dtype.kind in "iu":
                o //= counts
            else:
                o /= counts.astype(o.dtype)
            if counts_out is not None:
                counts_out.append(counts.reshape(out.shape))

    @staticmethod
    def forward(ctx, a, dim, idx, src, reduce, include_self):
        ctx.dim, ctx.idx, ctx.reduce, ctx.include_self = dim, idx, reduce, include_self
        ctx.src_shape = src._data.shape
        out = a._data.copy()
        counts = []
        ScatterReduce._kernel(out, dim, idx, _on_device(src._data, out), reduce, include_self,
                              counts)
        ctx.counts = counts[0] if counts else None
        result = _make(out)
        if reduce in ("prod", "amax", "amin"):
            ctx.save_for_backward(a, src, result)
        return result

    @staticmethod
    def backward(ctx, grad):
        dim, idx, reduce, inc = ctx.dim, ctx.idx, ctx.reduce, ctx.include_self
        scattered = None
        if not inc or reduce in ("amax", "amin"):
            mask = _xp(grad._data).zeros(grad._data.shape, bool)
            _as_1d(mask)[_coords(_as_1d(idx), dim)] = True
            scattered = mask
        if reduce == "sum":
            g_self = grad if inc else grad.masked_fill(_make(scattered), 0)
            g_src = Gather.apply(grad, dim, idx)
        elif reduce == "mean":
            share = grad / _make(ctx.counts.astype(grad._data.dtype))
            g_self = share if inc else grad.masked_fill(_make(scattered), 0)
            g_src = Gather.apply(share, dim, idx)
        elif reduce == "prod":
            g_self, g_src = _scatter_prod_backward(ctx, grad, scattered)
        else:
            a, src, result = ctx.saved_tensors
            dt = grad._data.dtype
            # Ties share the gradient evenly. Like torch, an excluded self value that equals
            # the result still counts as a tie (it then gets no gradient itself).
            self_hit = a._data == result._data
            sp = _src_part(src._data, idx)
            src_hit = sp == _gather_raw(result._data, dim, idx)
            count = self_hit.astype(dt)
            ScatterAdd._kernel(count, dim, idx, src_hit.astype(dt))
            share = grad / _make(count)
            if not inc:
                self_hit &= ~scattered
            g_self = share * _make(self_hit.astype(dt))
            g_src = Gather.apply(share, dim, idx) * _make(src_hit.astype(dt))
        return g_self, None, None, _pad_to(g_src, ctx.src_shape), None, None


def _scatter_prod_backward(ctx, grad, scattered):
    """Gradients of a scattered product, exact where inputs are zero (one zero: the product
    of the others; two or more: nothing)."""
    a, src, result = ctx.saved_tensors
    dim, idx, inc = ctx.dim, ctx.idx, ctx.include_self
    if inc:
        self_zero = _make(a._data == 0)
        masked_self = a.masked_fill(self_zero, 1)
        others = ScatterReduce.apply(masked_self, dim, idx, src, "prod", True)
        g_self = grad * others / masked_self
    else:
        g_self = grad.masked_fill(_make(scattered), 0)
    sp = _src_part(src._data, idx)
    src_zero = sp == 0
    zeros_at = src_zero.astype(np.int64)
    n_zero = _xp(zeros_at).zeros(result._data.shape, np.int64)
    ScatterAdd._kernel(n_zero, dim, idx, zeros_at)
    single = src_zero & (_gather_raw(n_zero, dim, idx) == 1)
    src_used = src if src._data.shape == idx.shape else Slice.apply(src, _lead(idx.shape))
    if single.any():
        pad = np.zeros(src._data.shape, bool) if src._data.shape != idx.shape else None
        if pad is not None:
            pad[_lead(idx.shape)] = single
        masked_src = src.masked_fill(_make(pad if pad is not None else single), 1)
        without = ScatterReduce.apply(a, dim, idx, masked_src, "prod", inc)
        from_zero = Gather.apply(grad * without, dim, idx).masked_fill(_make(~single), 0)
    else:
        from_zero = None
    g_src = Gather.apply(grad * result, dim, idx) / src_used.masked_fill(_make(src_zero), 1)
    if from_zero is not None:
        g_src = g_src + from_zero
    return g_self, g_src


def _scatter_reduce_args(input, dim, index, src, reduce, include_self):
    if reduce not in _REDUCES:
        if reduce in ("max", "min"):
            reduce = "a" + reduce
        else:
            raise RuntimeError(f"reduce argument must be either sum, prod, mean, amax or amin, "
                               f"got {reduce}")
    dim, idx = _scatter_checks("scatter", input, dim, index, src)
    if src.dtype is not input.dtype:
        raise RuntimeError("scatter(): Expected self.dtype to be equal to src.dtype")
    return dim, idx, src, reduce, bool(include_self)


def scatter_reduce(input: Tensor, dim: int, index: Tensor, src: Tensor, reduce: str, *,
                   include_self: bool = True) -> Tensor:
    """Reduce src into a copy of input at index along dim: sum, prod, mean, amax or amin;
    include_self=False leaves input's own values out where anything is scattered."""
    return ScatterReduce.apply(input, *_scatter_reduce_args(input, dim, index, src, reduce,
                                                            include_self))


def scatter_reduce_(input: Tensor, dim: int, index: Tensor, src: Tensor, reduce: str, *,
                    include_self: bool = True) -> Tensor:
    return _apply_(ScatterReduce, input, *_scatter_reduce_args(input, dim, index, src, reduce,
                                                               include_self))


# ----------------------------------------------------------------- index_select / add / copy / fill
class IndexSelect(Function):
    _node_name = "IndexSelectBackward0"

    @staticmethod
    def forward(ctx, a, dim, idx):
        ctx.in_shape, ctx.dim, ctx.idx = a._data.shape, dim, idx
        x = a._data
        if x.ndim == 0:
            return _make(x.copy())
        return _make(_xp(x).take(x, idx, axis=dim))

    @staticmethod
    def backward(ctx, grad):
        if not ctx.in_shape:
            return grad.reshape(()), None, None
        return IndexAdd.apply(_zeros(ctx.in_shape, grad), ctx.dim, ctx.idx, grad, 1), None, None


def index_select(input: Tensor, dim: int, index: Tensor, *, out=None) -> Tensor:
    """The entries of input at `index` (a vector) along dim."""
    idx = _index_arg(index, "index_select",
                     msg="index_select(): Expected dtype int32 or int64 for index")
    if idx.ndim > 1:
        raise IndexError("index_select(): Index is supposed to be a vector")
    dim = _wrap_dim(dim, input._data.ndim)
    idx = _on_device(idx.reshape(-1), input._data)
    if input._data.ndim == 0:
        if idx.size != 1:
            raise RuntimeError(f"index_select(): Index to scalar can have only 1 value, got "
                               f"{idx.size} value(s)")
        size = 1
    else:
        size = input._data.shape[dim]
    if idx.size and (int(idx.min()) < 0 or int(idx.max()) >= size):
        bad = idx[(idx < 0) | (idx >= size)][0]
        raise RuntimeError(f"INDICES element is out of DATA bounds, id={int(bad)} "
                           f"axis_dim={size}")
    return IndexSelect.apply(input, dim, idx.astype(np.int64, copy=False))


def _vector_index(op: str, index: Tensor, input: Tensor, dim: int, allowed, dtype_msg,
                  dtype_exc=RuntimeError):
    idx = _index_arg(index, op, allowed=allowed, msg=dtype_msg, exc=dtype_exc)
    return _on_device(idx, input._data)


def _as_row(t: Tensor) -> Tensor:
    return t.reshape(1) if t._data.ndim == 0 else t


class IndexAdd(Function):
    _node_name = "IndexAddBackward0"

    @staticmethod
    def _kernel(out, dim, idx, src, alpha):
        vals = src if alpha == 1 else src * alpha
        _accumulate(_as_1d(out), _dim_key(idx, dim, max(out.ndim, 1)), _as_1d(vals))

    @staticmethod
    def forward(ctx, a, dim, idx, src, alpha):
        ctx.dim, ctx.idx, ctx.alpha, ctx.src_shape = dim, idx, alpha, src._data.shape
        return _out_of_place(IndexAdd, ctx, a, dim, idx, src, alpha)

    @staticmethod
    def backward(ctx, grad):
        g_src = None
        if ctx.needs_input_grad[3]:
            g_src = IndexSelect.apply(_as_row(grad), ctx.dim, ctx.idx)
            if ctx.alpha != 1:
                g_src = g_src * ctx.alpha
            g_src = g_src.reshape(ctx.src_shape)
        return grad, None, None, g_src, None


def _index_add_args(input, dim, index, source, alpha):
    idx = _vector_index("index_add_", index, input, dim, ("int64", "int32"),
                        "index_add_(): Expected dtype int32/int64 for index but got: {}")
    if idx.ndim > 1:
        raise IndexError(f"index_add_(): Index is supposed to be a vector, but got dim: "
                         f"{idx.ndim} with type: {_type_name(index.dtype)} and size: "
                         f"{list(idx.shape)}")
    dim = _wrap_dim(dim, input._data.ndim)
    if source.dtype is not input.dtype:
        raise RuntimeError(f"index_add_(): self ({_type_name(input.dtype)}) and source "
                           f"({_type_name(source.dtype)}) must have the same scalar type")
    idx = idx.reshape(-1)
    sshape = source._data.shape or (1,)
    xshape = input._data.shape or (1,)
    if source._data.ndim and idx.size != sshape[dim]:
        raise RuntimeError(f"index_add_(): Number of indices ({idx.size}) should be equal to "
                           f"source.size(dim): ({sshape[dim]}), for dim: {dim}")
    if len(sshape) != len(xshape) or any(s != x for i, (s, x) in enumerate(zip(sshape, xshape))
                                         if i != dim):
        raise RuntimeError(f"source tensor shape must match self tensor shape, excluding the "
                           f"specified dimension. Got self.shape = {list(input._data.shape)} "
                           f"source.shape = {list(source._data.shape)}")
    idx = _checked(idx, xshape[dim], dim)
    if not input.dtype.is_floating_point:
        alpha = int(alpha)
    return dim, idx, source, alpha


def index_add(input: Tensor, dim: int, index: Tensor, source: Tensor, *, alpha=1) -> Tensor:
    """A copy of input with alpha * source added at `index` along dim (repeats add up)."""
    return IndexAdd.apply(input, *_index_add_args(input, dim, index, source, alpha))


def index_add_(input: Tensor, dim: int, index: Tensor, source: Tensor, *, alpha=1) -> Tensor:
    return _apply_(IndexAdd, input, *_index_add_args(input, dim, index, source, alpha))


class IndexCopy(Function):
    _node_name = "IndexCopyBackward0"

    @staticmethod
    def _kernel(out, dim, idx, src):
        o = _as_1d(out)
        o[_dim_key(idx, dim, o.ndim)] = _as_1d(src)

    @staticmethod
    def forward(ctx, a, dim, idx, src):
        ctx.dim, ctx.idx, ctx.src_shape = dim, idx, src._data.shape
        return _out_of_place(IndexCopy, ctx, a, dim, idx, src)

    @staticmethod
    def backward(ctx, grad):
        g_self = g_src = None
        if ctx.needs_input_grad[0]:
            g_self = IndexFill.apply(grad, ctx.dim, ctx.idx, 0)
        if ctx.needs_input_grad[3]:
            g_src = IndexSelect.apply(_as_row(grad), ctx.dim, ctx.idx).reshape(ctx.src_shape)
        return g_self, None, None, g_src


def _index_copy_args(input, dim, index, source):
    idx = _vector_index("index_copy_", index, input, dim, ("int64",),
                        "index_copy_(): Expected a long tensor for index, but got {}")
    if idx.ndim > 1:
        raise IndexError(f"index_copy_(): Index should have dimension 1 or 0 (got {idx.ndim})")
    dim = _wrap_dim(dim, input._data.ndim)
    idx = idx.reshape(-1)
    sshape = source._data.shape or (1,)
    xshape = input._data.shape or (1,)
    n_src = sshape[dim] if source._data.ndim else 1
    if idx.size != n_src:
        raise IndexError(f"index_copy_(): Number of indices ({idx.size}) should be equal to "
                         f"source.size(dim) ({n_src})")
    xs = [s for i, s in enumerate(xshape) if i != dim]
    ss = [s for i, s in enumerate(sshape) if i != dim]
    if source._data.ndim and xs != ss:
        raise RuntimeError(f"index_copy_(): Source/destination tensor must have same slice "
                           f"shapes. Destination slice shape: {' '.join(map(str, xs))} at "
                           f"dimension {dim} and source slice shape: {' '.join(map(str, ss))} "
                           f"at dimension 0.")
    if source.dtype is not input.dtype:
        raise RuntimeError(f"index_copy_(): self and source expected to have the same dtype, "
                           f"but got (self) {_type_name(input.dtype)} and (source) "
                           f"{_type_name(source.dtype)}")
    idx = _checked(idx, xshape[dim], dim, prefix="index_copy_(): ", exc=IndexError)
    return dim, idx, source


def index_copy(input: Tensor, dim: int, index: Tensor, source: Tensor) -> Tensor:
    """A copy of input with the slices at `index` along dim replaced by source's."""
    return IndexCopy.apply(input, *_index_copy_args(input, dim, index, source))


def index_copy_(input: Tensor, dim: int, index: Tensor, source: Tensor) -> Tensor:
    return _apply_(IndexCopy, input, *_index_copy_args(input, dim, index, source))


class IndexFill(Function):
    _node_name = "IndexFillBackward0"

    @staticmethod
    def _kernel(out, dim, idx, value):
        o = _as_1d(out)
        o[_dim_key(idx, dim, o.ndim)] = value

    @staticmethod
    def forward(ctx, a, dim, idx, value):
        ctx.dim, ctx.idx = dim, idx
        return _out_of_place(IndexFill, ctx, a, dim, idx, value)

    @staticmethod
    def backward(ctx, grad):
        return IndexFill.apply(grad, ctx.dim, ctx.idx, 0), None, None, None


class IndexFillTensor(IndexFill):
    """index_fill with a 0-dim value tensor (which gets a gradient)."""

    _node_name = "IndexFillBackward1"

    @staticmethod
    def _kernel(out, dim, idx, value):
        IndexFill._kernel(out, dim, idx, value.reshape(()).astype(out.dtype))

    @staticmethod
    def forward(ctx, a, dim, idx, value):
        ctx.dim, ctx.idx = dim, idx
        return _out_of_place(IndexFillTensor, ctx, a, dim, idx, value)

    @staticmethod
    def backward(ctx, grad):
        g_value = None
        if ctx.needs_input_grad[3]:
            g_value = IndexSelect.apply(_as_row(grad), ctx.dim, ctx.idx).sum()
        return IndexFill.apply(grad, ctx.dim, ctx.idx, 0), None, None, g_value


def _index_fill_args(input, dim, index, value):
    idx = _vector_index("index_fill_", index, input, dim, ("int64",),
                        "index_fill_(): Expected dtype int64 for index.", IndexError)
    if idx.ndim > 1:
        raise RuntimeError("Index has to be a vector/scalar")
    dim = _wrap_dim(dim, input._data.ndim)
    idx = idx.reshape(-1)
    size = (input._data.shape or (1,))[dim]
    idx = _checked(idx, size, dim, exc=IndexError, negative_ok=True)
    if isinstance(value, Tensor):
        if value._data.ndim:
            raise RuntimeError(f"index_fill_ only supports a 0-dimensional value tensor, but got "
                               f"tensor with {value._data.ndim} dimension(s).")
        return IndexFillTensor, (dim, idx, value)
    return IndexFill, (dim, idx, _scalar_value(value, input.dtype))


def index_fill(input: Tensor, dim: int, index: Tensor, value) -> Tensor:
    """A copy of input with the slices at `index` along dim set to value."""
    cls, args = _index_fill_args(input, dim, index, value)
    return cls.apply(input, *args)


def index_fill_(input: Tensor, dim: int, index: Tensor, value) -> Tensor:
    cls, args = _index_fill_args(input, dim, index, value)
    return _apply_(cls, input, *args)


# ----------------------------------------------------------------- masked_*
def _mask_arg(mask, op_msg: str, name_of=_type_name):
    if not isinstance(mask, Tensor):
        raise TypeError(f"expected mask to be a Tensor, got {type(mask).__name__}")
    if mask.dtype is not _dt.bool:
        raise RuntimeError(op_msg.format(name_of(mask.dtype)))
    return mask._data


def _broadcast_shape(a_shape, b_shape) -> tuple:
    """np.broadcast_shapes with torch's message (a is the mask, b the tensor)."""
    try:
        return np.broadcast_shapes(a_shape, b_shape)
    except ValueError:
        for i in range(1, max(len(a_shape), len(b_shape)) + 1):
            da = a_shape[-i] if i <= len(a_shape) else 1
            db = b_shape[-i] if i <= len(b_shape) else 1
            if da != db and da != 1 and db != 1:
                dim = max(len(a_shape), len(b_shape)) - i
                raise RuntimeError(f"The size of tensor a ({da}) must match the size of tensor b "
                                   f"({db}) at non-singleton dimension {dim}") from None
        raise


def _inplace_shape(self_shape, shape) -> None:
    if tuple(shape) != tuple(self_shape):
        raise RuntimeError(f"output with shape {list(self_shape)} doesn't match the broadcast "
                           f"shape {list(shape)}")


class MaskedFill(Function):
    _node_name = "MaskedFillBackward0"

    @staticmethod
    def _kernel(out, mask, value):
        xp = _xp(out)
        if isinstance(value, (bool, int, float)):
            value = xp.asarray(value).astype(out.dtype)
        xp.copyto(out, value.reshape(()).astype(out.dtype, copy=False), where=mask)

    @staticmethod
    def forward(ctx, a, mask, value):
        ctx.mask = mask
        x = a._data
        shape = _broadcast_shape(mask.shape, x.shape)
        out = x.copy() if shape == x.shape else _xp(x).broadcast_to(x, shape).copy()
        type(ctx)._kernel(out, _on_device(mask, out),
                          _on_device(value._data, out) if isinstance(value, Tensor) else value)
        return _make(out)

    @staticmethod
    def backward(ctx, grad):
        return grad.masked_fill(_make(ctx.mask), 0), None, None


class MaskedFillTensor(MaskedFill):
    """masked_fill with a 0-dim value tensor (which gets a gradient)."""

    _node_name = "MaskedFillBackward1"

    @staticmethod
    def backward(ctx, grad):
        g_value = None
        if ctx.needs_input_grad[2]:
            g_value = grad.masked_fill(_make(~ctx.mask), 0).sum()
        return grad.masked_fill(_make(ctx.mask), 0), None, g_value


def _masked_fill_args(input, mask, value):
    m = _mask_arg(mask, "masked_fill_ only supports boolean masks, but got mask with dtype {}",
                  lambda d: _C_NAMES[d.name])
    m = _on_device(m, input._data)
    if isinstance(value, Tensor):
        if value._data.ndim:
            raise RuntimeError(f"masked_fill_ only supports a 0-dimensional value tensor, but "
                               f"got tensor with {value._data.ndim} dimension(s).")
        return MaskedFillTensor, m, value
    if not isinstance(value, (bool, int, float, np.generic)):
        raise TypeError(f"masked_fill(): argument 'value' must be Number or Tensor, not "
                        f"{type(value).__name__}")
    return MaskedFill, m, _scalar_value(value, input.dtype)


def masked_fill(input: Tensor, mask: Tensor, value) -> Tensor:
    """input with value where mask is True (mask and input broadcast together)."""
    cls, m, value = _masked_fill_args(input, mask, value)
    return cls.apply(input, m, value)


def masked_fill_(input: Tensor, mask: Tensor, value) -> Tensor:
    """Fill input in place where mask (broadcast to input's shape) is True."""
    cls, m, value = _masked_fill_args(input, mask, value)
    _inplace_shape(input._data.shape, _broadcast_shape(m.shape, input._data.shape))
    return _apply_(cls, input, m, value)


class MaskedSelect(Function):
    _node_name = "MaskedSelectBackward0"

    @staticmethod
    def forward(ctx, a, mask):
        xp = _xp(a._data)
        shape = _broadcast_shape(mask.shape, a._data.shape)
        ctx.mask = xp.broadcast_to(mask, shape)
        return _make(xp.broadcast_to(a._data, shape)[ctx.mask])

    @staticmethod
    def backward(ctx, grad):
        return MaskedScatter.apply(_zeros(ctx.mask.shape, grad), ctx.mask, grad), None


def masked_select(input: Tensor, mask: Tensor, *, out=None) -> Tensor:
    """The entries of input where mask is True, as a 1-D tensor (the two broadcast)."""
    m = _mask_arg(mask, "masked_select: expected BoolTensor for mask")
    return MaskedSelect.apply(input, _on_device(m, input._data))


class MaskedScatter(Function):
    _node_name = "MaskedScatterBackward0"

    @staticmethod
    def _kernel(out, mask, src):
        xp = _xp(out)
        m = xp.broadcast_to(mask, out.shape)
        n = int(m.sum())
        if n > src.size:
            raise RuntimeError("Number of elements of source < number of ones in mask")
        out[m] = src.reshape(-1)[:n]

    @staticmethod
    def forward(ctx, a, mask, src):
        x = a._data
        shape = _broadcast_shape(mask.shape, x.shape)
        ctx.mask = _xp(x).broadcast_to(mask, shape)
        ctx.src_shape = src._data.shape
        out = x.copy() if shape == x.shape else _xp(x).broadcast_to(x, shape).copy()
        MaskedScatter._kernel(out, ctx.mask, _on_device(src._data, out))
        return _make(out)

    @staticmethod
    def backward(ctx, grad):
        mask = _make(ctx.mask)
        g_self = g_src = None
        if ctx.needs_input_grad[0]:
            g_self = grad.masked_fill(mask, 0)
        if ctx.needs_input_grad[2]:
            xp = _xp(ctx.mask)
            n = int(ctx.mask.sum())
            # The source entries that were used: its first n, in row-major order.
            used = (xp.arange(_prod(ctx.src_shape)) < n).reshape(ctx.src_shape)
            picked = MaskedSelect.apply(grad, ctx.mask)
            g_src = MaskedScatter.apply(_zeros(ctx.src_shape, grad), used, picked)
        return g_self, None, g_src


def _masked_scatter_args(input, mask, source):
    m = _mask_arg(mask, "masked_scatter_ only supports boolean masks, but got mask with dtype {}")
    if source.dtype is not input.dtype:
        raise RuntimeError(f"masked_scatter: expected self and source to have same dtypes but "
                           f"got{_type_name(input.dtype)} and {_type_name(source.dtype)}")
    return _on_device(m, input._data), source


def masked_scatter(input: Tensor, mask: Tensor, source: Tensor) -> Tensor:
    """input with source's leading entries copied, in order, to where mask is True."""
    return MaskedScatter.apply(input, *_masked_scatter_args(input, mask, source))


def masked_scatter_(input: Tensor, mask: Tensor, source: Tensor) -> Tensor:
    m, source = _masked_scatter_args(input, mask, source)
    _inplace_shape(input._data.shape, _broadcast_shape(m.shape, input._data.shape))
    return _apply_(MaskedScatter, input, m, source)


# ----------------------------------------------------------------- take / take_along_dim
class Take(Function):
    _node_name = "TakeBackward0"

    @staticmethod
    def forward(ctx, a, idx):
        ctx.in_shape, ctx.idx = a._data.shape, idx
        return _make(a._data.reshape(-1)[idx])

    @staticmethod
    def backward(ctx, grad):
        flat = _zeros((_prod(ctx.in_shape),), grad)
        return IndexPut.apply(flat, grad, (ctx.idx,), True).reshape(ctx.in_shape), None


def take(input: Tensor, index: Tensor) -> Tensor:
    """input treated as 1-D, read at `index` (negative entries count from the end)."""
    idx = _index_arg(index, "take", allowed=("int64",),
                     msg="take(): Expected a long tensor for index, but got {}")
    idx = _on_device(idx, input._data)
    n = input._data.size
    if n == 0 and idx.size:
        raise IndexError("take(): tried to take from an empty tensor")
    if idx.size and (int(idx.min()) < -n or int(idx.max()) >= n):
        bad = idx[(idx < -n) | (idx >= n)].ravel()[0]
        raise IndexError(f"out of range: tried to access index {int(bad)} on a tensor of {n} "
                         f"elements.")
    return Take.apply(input, _wrap(idx, n))


def take_along_dim(input: Tensor, indices: Tensor, dim: int | None = None, *,
                   out=None) -> Tensor:
    """gather with broadcasting between input and indices; dim=None reads input flattened."""
    idx = _index_arg(indices, "take_along_dim", allowed=("int64",),
                     msg="torch.take_along_dim(): dtype of indices should be Long but got {}")
    idx = _on_device(idx, input._data)
    if dim is None:
        flat = input.reshape(-1)
        n = flat._data.shape[0]
        idx = idx.reshape(-1)
        return Gather.apply(flat, 0, _checked(idx, n, 0, negative_ok=True))
    if idx.ndim != input._data.ndim:
        raise RuntimeError(f"torch.take_along_dim(): input and indices should have the same "
                           f"number of dimensions, but got {input._data.ndim} dimensions for "
                           f"input, and {idx.ndim} dimensions for indices")
    dim = _wrap_dim(dim, input._data.ndim)
    x_shape = list(input._data.shape)
    size = x_shape[dim] if x_shape else 1
    x_shape_d = list(x_shape)
    if x_shape_d:
        x_shape_d[dim] = idx.shape[dim]
    bshape = list(_broadcast_shape(tuple(x_shape_d), idx.shape))
    idx = _xp(idx).broadcast_to(idx, tuple(bshape))
    if bshape:
        bshape[dim] = size
    x = input.expand(tuple(bshape)) if tuple(bshape) != tuple(x_shape) else input
    return Gather.apply(x, dim, _checked(idx, size, dim, negative_ok=True))


# ----------------------------------------------------------------- nonzero
def nonzero(input: Tensor, *, out=None, as_tuple: bool = False) -> Tensor | tuple:
    """Coordinates of the nonzero entries: an (n, ndim) int64 tensor, or one 1-D tensor per
    dim with as_tuple (what the one-argument torch.where returns)."""
    x = input._data
    xp = _xp(x)
    if as_tuple:
        if x.ndim == 0:
            return (_make(xp.arange(1 if bool(x) else 0, dtype=np.int64)),)
        return tuple(_make(i.astype(np.int64, copy=False)) for i in xp.nonzero(x))
    return _make(xp.argwhere(x).astype(np.int64, copy=False))


def argwhere(input: Tensor) -> Tensor:
    """nonzero(input): the (n, ndim) coordinates of the nonzero entries."""
    return nonzero(input)


# ----------------------------------------------------------------- sort / topk / kthvalue
def _sortable(x):
    """x in a dtype NumPy sorts correctly (ml_dtypes' bfloat16 misplaces NaN)."""
    return x.astype(np.float32) if x.dtype.name == "bfloat16" else x


def _argsort(x, axis: int, descending: bool):
    """Stable argsort; descending keeps equal elements in their original order and puts NaN
    first (ascending puts it last), as torch does."""
    x = _sortable(x)
    xp = _xp(x)
    kw = {"kind": "stable"} if xp is np else {}
    if not descending:
        return xp.argsort(x, axis=axis, **kw)
    # Sorting the reversed array ascending and reversing the result gives descending order
    # with ties in original order.
    n = x.shape[axis]
    idx = xp.argsort(xp.flip(x, axis), axis=axis, **kw)
    return xp.flip((n - 1) - idx, axis)


def _select_backward(grad: Tensor, dim: int, idx, in_shape) -> Tensor:
    """Gradient of values picked at idx along dim: zeros with grad scattered back."""
    if not in_shape:
        return grad.reshape(())
    return Scatter.apply(_zeros(in_shape, grad), dim, idx, grad)


class Sort(Function):
    _node_name = "SortBackward0"

    @staticmethod
    def forward(ctx, a, dim, descending):
        x = a._data
        ctx.in_shape, ctx.dim = x.shape, dim
        if x.ndim == 0:
            idx = _xp(x).zeros((), np.int64)
            ctx.idx = idx
            return _make(x.copy()), _make(idx)
        idx = _argsort(x, dim, descending)
        ctx.idx = idx
        return _make(_xp(x).take_along_axis(x, idx, axis=dim)), _make(idx)

    @staticmethod
    def backward(ctx, grad, grad_indices):
        return _select_backward(grad, ctx.dim, ctx.idx, ctx.in_shape), None, None


def sort(input: Tensor, dim: int = -1, descending: bool = False, stable: bool = False, *,
         out=None) -> tuple[Tensor, Tensor]:
    """(values, indices) sorted along dim; always stable (equal elements keep their order)."""
    dim = _wrap_dim(dim, input._data.ndim)
    return return_types.sort(*Sort.apply(input, dim, bool(descending)))


def argsort(input: Tensor, dim: int = -1, descending: bool = False, stable: bool = False) -> Tensor:
    """The indices that sort input along dim (stable)."""
    x = input._data
    dim = _wrap_dim(dim, x.ndim)
    if x.ndim == 0:
        return _make(_xp(x).zeros((), np.int64))
    return _make(_argsort(x, dim, descending))


def msort(input: Tensor, *, out=None) -> Tensor:
    """input sorted along its first dimension."""
    return sort(input, 0)[0]


class Topk(Function):
    _node_name = "TopkBackward0"

    @staticmethod
    def forward(ctx, a, k, dim, largest):
        x = a._data
        xp = _xp(x)
        ctx.in_shape, ctx.dim = x.shape, dim
        if x.ndim == 0:
            ctx.idx = xp.zeros((), np.int64)
            return _make(x.copy()), _make(ctx.idx)
        n = x.shape[dim]
        if xp is np and n >= 64 and 0 < k < n:
            # Partition first, then sort only the k candidates.
            w = _sortable(x)
            kth = n - k if largest else k - 1
            part = np.argpartition(w, kth, axis=dim)
            cand = np.take(part, range(n - k, n) if largest else range(k), axis=dim)
            cand = np.sort(cand, axis=dim)
            order = _argsort(np.take_along_axis(w, cand, axis=dim), dim, largest)
            idx = np.take_along_axis(cand, order, axis=dim)
        else:
            idx = xp.take(_argsort(x, dim, largest), xp.arange(k), axis=dim)
        ctx.idx = idx
        return _make(xp.take_along_axis(x, idx, axis=dim)), _make(idx)

    @staticmethod
    def backward(ctx, grad, grad_indices):
        return _select_backward(grad, ctx.dim, ctx.idx, ctx.in_shape), None, None, None


def topk(input: Tensor, k: int, dim: int = -1, largest: bool = True, sorted: bool = True, *,
         out=None) -> tuple[Tensor, Tensor]:
    """The k largest (or smallest) entries along dim and their indices, in sorted order."""
    dim = _wrap_dim(dim, input._data.ndim)
    n = input._data.shape[dim] if input._data.ndim else 1
    k = int(k)
    if not 0 <= k <= n:
        raise RuntimeError("selected index k out of range")
    return return_types.topk(*Topk.apply(input, k, dim, bool(largest)))


class Kthvalue(Function):
    _node_name = "KthvalueBackward0"

    @staticmethod
    def forward(ctx, a, k, dim, keepdim):
        x = a._data
        xp = _xp(x)
        ctx.in_shape, ctx.dim, ctx.keepdim = x.shape, dim, keepdim
        if x.ndim == 0:
            ctx.idx = xp.zeros((), np.int64)
            return _make(x.copy()), _make(ctx.idx)
        idx = xp.argpartition(_sortable(x), k - 1, axis=dim)
        idx = xp.take(idx, xp.arange(k - 1, k), axis=dim)
        ctx.idx = idx
        vals = xp.take_along_axis(x, idx, axis=dim)
        if not keepdim:
            vals, idx = vals.squeeze(dim), idx.squeeze(dim)
        return _make(vals), _make(idx)

    @staticmethod
    def backward(ctx, grad, grad_indices):
        if ctx.in_shape and not ctx.keepdim:
            shape = list(grad.shape)
            shape.insert(ctx.dim, 1)
            grad = grad.reshape(shape)
        return _select_backward(grad, ctx.dim, ctx.idx, ctx.in_shape), None, None, None


def kthvalue(input: Tensor, k: int, dim: int = -1, keepdim: bool = False, *,
             out=None) -> tuple[Tensor, Tensor]:
    """The k-th smallest entry (k counts from 1) along dim and its index."""
    dim = _wrap_dim(dim, input._data.ndim)
    n = input._data.shape[dim] if input._data.ndim else 1
    if not 1 <= k <= n:
        raise RuntimeError(f"kthvalue(): selected number k out of range for dimension {dim}")
    return return_types.kthvalue(*Kthvalue.apply(input, int(k), dim, bool(keepdim)))


# ----------------------------------------------------------------- unique
def _run_starts(rows):
    """Flags marking where a new run of equal rows (or elements) starts."""
    xp = _xp(rows)
    flags = xp.ones(rows.shape[0], bool)
    if rows.shape[0] > 1:
        diff = rows[1:] != rows[:-1]
        flags[1:] = diff if diff.ndim == 1 else diff.any(axis=tuple(range(1, diff.ndim)))
    return flags


def _runs(rows, flags):
    """(first row of each run, run number per row, run lengths)."""
    xp = _xp(rows)
    starts = xp.flatnonzero(flags)
    inverse = xp.cumsum(flags) - 1
    counts = xp.diff(xp.concatenate([starts, xp.asarray([rows.shape[0]])]))
    return starts, inverse.astype(np.int64), counts.astype(np.int64)


def _rows_along(x, dim):
    """x with dim moved first and the rest flattened, plus a function to undo it."""
    moved = _xp(x).moveaxis(x, dim, 0)
    rest = moved.shape[1:]
    return moved.reshape(moved.shape[0], -1), lambda r: _xp(r).moveaxis(
        r.reshape((r.shape[0],) + rest), 0, dim)


class _UniqueBase(Function):
    """unique and friends are not differentiable; their backward says so, like torch's."""

    _derivative = "_unique2"

    @staticmethod
    def backward(ctx, *grads):
        raise NotImplementedError(f"the derivative for '{ctx._derivative}' is not implemented.")


class Unique(_UniqueBase):
    _node_name = "Unique2Backward0"

    @staticmethod
    def forward(ctx, a, dim):
        x = a._data
        xp = _xp(x)
        if dim is None:
            flat = x.reshape(-1)
            order = xp.argsort(_sortable(flat), kind="stable") if xp is np else xp.argsort(flat)
            srt = flat[order]
            flags = _run_starts(_sortable(srt))
            starts, inv_sorted, counts = _runs(srt, flags)
            inverse = xp.empty(flat.shape[0], np.int64)
            inverse[order] = inv_sorted
            return _make(srt[starts]), _make(inverse.reshape(x.shape)), _make(counts)
        rows, back = _rows_along(x, dim)
        keys = _sortable(rows)
        order = xp.lexsort(keys.T[::-1]) if rows.shape[1] else xp.arange(rows.shape[0])
        srt = keys[order]
        starts, inv_sorted, counts = _runs(srt, _run_starts(srt))
        inverse = xp.empty(rows.shape[0], np.int64)
        inverse[order] = inv_sorted
        return _make(back(rows[order][starts])), _make(inverse), _make(counts)


class UniqueDim(Unique):
    _node_name = "UniqueDimBackward0"
    _derivative = "unique_dim"


class UniqueConsecutive(_UniqueBase):
    _node_name = "UniqueConsecutiveBackward0"
    _derivative = "unique_consecutive"

    @staticmethod
    def forward(ctx, a, dim):
        x = a._data
        if dim is None:
            flat = x.reshape(-1)
            starts, inverse, counts = _runs(flat, _run_starts(_sortable(flat)))
            return _make(flat[starts]), _make(inverse.reshape(x.shape)), _make(counts)
        rows, back = _rows_along(x, dim)
        starts, inverse, counts = _runs(rows, _run_starts(_sortable(rows)))
        return _make(back(rows[starts])), _make(inverse), _make(counts)


def _unique_result(out, return_inverse: bool, return_counts: bool):
    values, inverse, counts = out
    if return_inverse and return_counts:
        return values, inverse, counts
    if return_inverse:
        return values, inverse
    if return_counts:
        return values, counts
    return values


def _unique_dim(input: Tensor, dim):
    if dim is None:
        return None
    if input._data.ndim == 0:
        raise IndexError(f"Dimension specified as {dim} but tensor has no dimensions")
    return _wrap_dim(dim, input._data.ndim)


def unique(input: Tensor, sorted: bool = True, return_inverse: bool = False,
           return_counts: bool = False, dim: int | None = None) -> Tensor | tuple:
    """The distinct values (or slices along dim), sorted; optionally the index of each input
    entry among them and how often each occurs. NaNs are never merged, as in torch."""
    dim = _unique_dim(input, dim)
    cls = Unique if dim is None else UniqueDim
    return _unique_result(cls.apply(input, dim), return_inverse, return_counts)


def unique_consecutive(input: Tensor, return_inverse: bool = False, return_counts: bool = False,
                       dim: int | None = None) -> Tensor | tuple:
    """Collapse each run of equal consecutive values (or slices along dim) to one."""
    dim = _unique_dim(input, dim)
    return _unique_result(UniqueConsecutive.apply(input, dim), return_inverse, return_counts)
