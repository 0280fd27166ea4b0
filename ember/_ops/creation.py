"""Factories: tensor(), zeros/ones/full/empty (+ _like), arange, linspace, eye, random draws."""
from __future__ import annotations

import math

import numpy as np

from ember import _dtype as _dt
from ember._device import as_device, to_device
from ember._tensor import Tensor, _make

__all__ = ["tensor", "as_tensor", "asarray", "from_numpy", "scalar_tensor", "zeros", "ones",
           "full", "empty", "zeros_like", "ones_like", "full_like", "empty_like", "arange",
           "range", "linspace", "logspace", "eye"]

_builtin_range = range


def _parse_size(size) -> tuple:
    """Sizes as torch accepts them: zeros(2, 3), zeros((2, 3)), zeros([2, 3]), zeros(Size)."""
    if len(size) == 1 and not isinstance(size[0], (int, np.integer, Tensor)):
        size = tuple(size[0])
    out = []
    for s in size:
        if isinstance(s, Tensor):
            s = s.__index__()
        if not isinstance(s, (int, np.integer)) or isinstance(s, bool):
            raise TypeError(f"expected a sequence of integers as the size, but got "
                            f"{type(s).__name__}")
        if s < 0:
            raise RuntimeError(f"Trying to create tensor with negative dimension {s}: "
                               f"{list(size)}")
        out.append(int(s))
    return tuple(out)


def _finish(arr, device, requires_grad: bool) -> Tensor:
    """Move a freshly made NumPy array to `device` and wrap it."""
    dev = as_device(device)
    if dev.type != "cpu":
        arr = to_device(arr, dev)
    t = _make(arr)
    if requires_grad:
        t.requires_grad_(True)
    return t


def _infer_dtype(data) -> _dt.dtype:
    """torch.tensor's dtype for nested Python data: bool < int64 < default float."""
    kind = 0
    stack = [data]
    while stack:
        x = stack.pop()
        if isinstance(x, Tensor):
            return x.dtype if kind < 2 or x.dtype.is_floating_point else _dt.get_default_dtype()
        if isinstance(x, (list, tuple)):
            stack.extend(x)
        elif isinstance(x, (bool, np.bool_)):
            pass
        elif isinstance(x, (int, np.integer)):
            kind = max(kind, 1)
        elif isinstance(x, (float, np.floating)):
            kind = 2
        else:
            raise TypeError(f"Could not infer dtype of {type(x).__name__}")
    return (_dt.bool, _dt.int64, _dt.get_default_dtype())[kind]


def _to_nested_arrays(data):
    if isinstance(data, Tensor):
        return data.detach().numpy(force=True)
    if isinstance(data, (list, tuple)):
        return [_to_nested_arrays(x) for x in data]
    return data


def tensor(data, *, dtype=None, device=None, requires_grad: bool = False,
           pin_memory: bool = False) -> Tensor:
    """A new tensor holding a copy of `data` (nested sequences, scalars, arrays, tensors)."""
    if isinstance(data, Tensor):
        arr = data.detach().numpy(force=True).copy()
    elif isinstance(data, np.ndarray):
        _dt.from_numpy_dtype(data.dtype)
        arr = np.array(data)
    else:
        if dtype is None:
            dtype = _infer_dtype(data)
        try:
            arr = np.array(_to_nested_arrays(data), dtype=dtype.np)
        except ValueError as e:
            raise ValueError(f"expected sequence of equal-length rows to build a tensor: {e}") \
                from None
    if dtype is not None and arr.dtype != dtype.np:
        arr = arr.astype(dtype.np)
    elif dtype is None and arr.dtype.type in (np.uint16, np.uint32, np.uint64):
        arr = arr.astype(_dt.from_numpy_dtype(arr.dtype).np)
    return _finish(arr, device, requires_grad)


def as_tensor(data, dtype=None, device=None) -> Tensor:
    """Like tensor(), but shares memory when `data` already is a matching array/tensor."""
    if isinstance(data, Tensor):
        out = data
        if dtype is not None or device is not None:
            out = out.to(device=device, dtype=dtype)
        return out
    if isinstance(data, np.ndarray) and (dtype is None or data.dtype == dtype.np) and (
            device is None or as_device(device).type == "cpu"):
        return from_numpy(data)
    return tensor(data, dtype=dtype, device=device)


def asarray(obj, *, dtype=None, device=None, copy=None, requires_grad: bool = False) -> Tensor:
    if copy:
        return tensor(obj, dtype=dtype, device=device, requires_grad=requires_grad)
    t = as_tensor(obj, dtype=dtype, device=device)
    return t.requires_grad_(requires_grad) if requires_grad else t


def from_numpy(ndarray: np.ndarray) -> Tensor:
    """A tensor sharing `ndarray`'s memory."""
    if not isinstance(ndarray, np.ndarray):
        raise TypeError(f"expected np.ndarray (got {type(ndarray).__name__})")
    if ndarray.dtype not in _dt._FROM_NP or ndarray.dtype.type in (np.uint16, np.uint32,
                                                                   np.uint64):
        _dt.from_numpy_dtype(np.dtype("O"))  # raises torch's message
    return _make(ndarray)


def scalar_tensor(s, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    return full((), s, dtype=dtype or _dt.get_default_dtype(), device=device,
                requires_grad=requires_grad)


def _float_default(dtype) -> _dt.dtype:
    return _dt.get_default_dtype() if dtype is None else dtype


def zeros(*size, out=None, dtype=None, layout=None, device=None, requires_grad: bool = False,
          pin_memory: bool = False) -> Tensor:
    return _finish(np.zeros(_parse_size(size), _float_default(dtype).np), device, requires_grad)


def ones(*size, out=None, dtype=None, layout=None, device=None, requires_grad: bool = False,
         pin_memory: bool = False) -> Tensor:
    return _finish(np.ones(_parse_size(size), _float_default(dtype).np), device, requires_grad)


def empty(*size, out=None, dtype=None, layout=None, device=None, requires_grad: bool = False,
          pin_memory: bool = False, memory_format=None) -> Tensor:
    return _finish(np.empty(_parse_size(size), _float_default(dtype).np), device, requires_grad)


def full(size, fill_value, *, out=None, dtype=None, layout=None, device=None,
         requires_grad: bool = False, pin_memory: bool = False) -> Tensor:
    """A tensor of `size` filled with `fill_value`; dtype inferred from the value like torch."""
    if isinstance(fill_value, Tensor):
        fill_value = fill_value.item()
    if dtype is None:
        dtype = _dt._scalar_dtype(fill_value)
    return _finish(np.full(_parse_size((size,)), fill_value, dtype.np), device, requires_grad)


def _like(input: Tensor, dtype, device):
    return (input.dtype if dtype is None else dtype), (input.device if device is None else device)


def zeros_like(input: Tensor, *, dtype=None, layout=None, device=None,
               requires_grad: bool = False, memory_format=None) -> Tensor:
    dtype, device = _like(input, dtype, device)
    return zeros(input.shape, dtype=dtype, device=device, requires_grad=requires_grad)


def ones_like(input: Tensor, *, dtype=None, layout=None, device=None,
              requires_grad: bool = False, memory_format=None) -> Tensor:
    dtype, device = _like(input, dtype, device)
    return ones(input.shape, dtype=dtype, device=device, requires_grad=requires_grad)


def empty_like(input: Tensor, *, dtype=None, layout=None, device=None,
               requires_grad: bool = False, memory_format=None) -> Tensor:
    dtype, device = _like(input, dtype, device)
    return empty(input.shape, dtype=dtype, device=device, requires_grad=requires_grad)


def full_like(input: Tensor, fill_value, *, dtype=None, layout=None, device=None,
              requires_grad: bool = False, memory_format=None) -> Tensor:
    dtype, device = _like(input, dtype, device)
    return full(input.shape, fill_value, dtype=dtype, device=device,
                requires_grad=requires_grad)


def _num(x):
    return x.item() if isinstance(x, Tensor) else x


def arange(start, end=None, step=1, *, out=None, dtype=None, layout=None, device=None,
           requires_grad: bool = False) -> Tensor:
    """Values from start up to (not including) end; int64 unless any bound is a float."""
    if end is None:
        start, end = 0, start
    start, end, step = _num(start), _num(end), _num(step)
    if step == 0:
        raise RuntimeError("step must be nonzero")
    if (end - start) * step < 0 and end != start:
        raise RuntimeError("upper bound and larger bound inconsistent with step sign")
    if dtype is None:
        is_float = any(isinstance(v, float) for v in (start, end, step))
        dtype = _dt.get_default_dtype() if is_float else _dt.int64
    n = max(0, math.ceil((end - start) / step))
    # Computed in float64/int64 then cast, as torch computes start + i * step.
    arr = (start + np.arange(n, dtype=np.float64 if dtype.is_floating_point else np.int64)
           * step).astype(dtype.np)
    return _finish(arr, device, requires_grad)


def range(start=0, end=None, step=1, *, out=None, dtype=None, layout=None, device=None,
          requires_grad: bool = False) -> Tensor:
    """Deprecated torch.range: like arange but includes `end`, default float dtype."""
    if end is None:
        start, end = 0, start
    n = int(math.floor((end - start) / step)) + 1
    arr = (start + np.arange(n, dtype=np.float64) * step).astype(_float_default(dtype).np)
    return _finish(arr, device, requires_grad)


def linspace(start, end, steps: int, *, out=None, dtype=None, layout=None, device=None,
             requires_grad: bool = False) -> Tensor:
    if steps < 0:
        raise RuntimeError("number of steps must be non-negative")
    arr = np.linspace(_num(start), _num(end), steps, dtype=np.float64)
    return _finish(arr.astype(_float_default(dtype).np), device, requires_grad)


def logspace(start, end, steps: int, base: float = 10.0, *, out=None, dtype=None, layout=None,
             device=None, requires_grad: bool = False) -> Tensor:
    if steps < 0:
        raise RuntimeError("number of steps must be non-negative")
    arr = np.logspace(_num(start), _num(end), steps, base=base, dtype=np.float64)
    return _finish(arr.astype(_float_default(dtype).np), device, requires_grad)


def eye(n: int, m: int | None = None, *, out=None, dtype=None, layout=None, device=None,
        requires_grad: bool = False) -> Tensor:
    if n < 0 or (m is not None and m < 0):
        raise RuntimeError(f"n must be greater or equal to 0, got {n if n < 0 else m}")
    return _finish(np.eye(n, m, dtype=_float_default(dtype).np), device, requires_grad)


_TYPE_NAMES = {"float32": "FloatTensor", "float64": "DoubleTensor", "float16": "HalfTensor",
               "bfloat16": "BFloat16Tensor", "int64": "LongTensor", "int32": "IntTensor",
               "int16": "ShortTensor", "int8": "CharTensor", "uint8": "ByteTensor",
               "bool": "BoolTensor"}


def type_string(t: Tensor) -> str:
    """torch's legacy type name: 'torch.FloatTensor', 'torch.cuda.LongTensor' ..."""
    prefix = "torch." if t.is_cpu else "torch.cuda."
    return prefix + _TYPE_NAMES[t.dtype.name]


def parse_type(t) -> _dt.dtype:
    """A dtype from a dtype or a legacy type string ('torch.FloatTensor')."""
    if isinstance(t, _dt.dtype):
        return t
    name = t.rsplit(".", 1)[-1]
    for dname, tname in _TYPE_NAMES.items():
        if tname == name:
            return _dt._BY_NAME[dname]
    raise ValueError(f"invalid type: '{t}'")


def _rebuild_tensor(array: np.ndarray, requires_grad: bool) -> Tensor:
    """Unpickling target for Tensor.__reduce_ex__."""
    t = _make(array)
    t._requires_grad = requires_grad
    return t


