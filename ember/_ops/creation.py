"""Factories: tensor(), zeros/ones/full/empty (+ _like), arange, linspace, eye, random draws.

Every factory builds one array with NumPy (or, for random draws on a GPU, with
the CUDA generator's CuPy stream) and wraps it; nothing here records a graph
except the random ops that take tensors (normal, bernoulli, poisson and the
in-place fills), whose nodes pass a zero gradient back as torch's do.
"""
from __future__ import annotations

import math
import warnings

import numpy as np

from ember import _device
from ember import _dtype as _dt
from ember import random as _random
from ember._device import array_module, as_device, to_device
from ember._ops.inplace import apply_inplace
from ember._size import Size
from ember._tensor import Tensor, _make
from ember.autograd.function import Function

__all__ = ["tensor", "as_tensor", "asarray", "from_numpy", "scalar_tensor", "zeros", "ones",
           "full", "empty", "zeros_like", "ones_like", "full_like", "empty_like", "arange",
           "range", "linspace", "logspace", "eye", "rand", "randn", "randint", "randperm",
           "rand_like", "randn_like", "randint_like", "normal", "bernoulli", "multinomial",
           "poisson"]

_builtin_range = range

# torch's names for dtypes in its error messages: the dispatch name ('Long'), the C++
# type (random_ bounds, cauchy_) and the C type that a filled value must fit (full).
_KERNEL_NAME = {"uint8": "Byte", "int8": "Char", "int16": "Short", "int32": "Int",
                "int64": "Long", "bool": "Bool", "float16": "Half", "bfloat16": "BFloat16",
                "float32": "Float", "float64": "Double"}
_CPP_NAME = {"uint8": "unsigned char", "int8": "signed char", "int16": "short int",
             "int32": "int", "int64": "long int", "bool": "bool", "float16": "c10::Half",
             "bfloat16": "c10::BFloat16", "float32": "float", "float64": "double"}
_FILL_NAME = {"uint8": "uint8_t", "int8": "int8_t", "int16": "int16_t", "int32": "int",
              "int64": "int64_t", "float16": "c10::Half", "bfloat16": "c10::BFloat16",
              "float32": "float", "float64": "double"}
_MANTISSA_DIGITS = {"float16": 11, "bfloat16": 8, "float32": 24, "float64": 53}
_INT_RANGE = {"bool": (0, 1), **{n: (int(np.iinfo(n).min), int(np.iinfo(n).max))
                                 for n in ("uint8", "int8", "int16", "int32", "int64")}}
_FLOAT_MAX = {"float16": 65504.0, "bfloat16": 3.3895313892515355e38,
              "float32": 3.4028234663852886e38, "float64": 1.7976931348623157e308}


def _not_implemented(kernel: str, dtype: _dt.dtype) -> NotImplementedError:
    return NotImplementedError(f'"{kernel}" not implemented for \'{_KERNEL_NAME[dtype.name]}\'')


def _num_str(x) -> str:
    """A number as C++ streams it into torch's messages (-1, 0.5, 3e+38, nan)."""
    if isinstance(x, int) and not isinstance(x, bool):
        return str(x)
    return f"{float(x):g}"


# ----------------------------------------------------------------- argument helpers
def _as_dtype(dtype) -> _dt.dtype | None:
    """A dtype argument: an ember dtype, or the Python types torch also accepts."""
    if dtype is None or isinstance(dtype, _dt.dtype):
        return dtype
    if dtype is bool:
        return _dt.bool
    if dtype is int:
        return _dt.int64
    if dtype is float:
        return _dt.float64
    raise TypeError(f"argument 'dtype' must be torch.dtype, not {type(dtype).__name__}")


def _float_default(dtype) -> _dt.dtype:
    return _dt.get_default_dtype() if dtype is None else _as_dtype(dtype)


def _is_int(x) -> bool:
    return isinstance(x, (int, np.integer)) and not isinstance(x, (bool, np.bool_))


def _parse_size(size, name: str = "empty") -> tuple:
    """Sizes as torch accepts them: f(2, 3), f((2, 3)), f([2, 3]), f(Size), 0-dim int tensors.

    `size` is the tuple of positional arguments; errors are torch's for `name`().
    """
    if len(size) == 1 and type(size[0]) in (tuple, list, Size):  # f((2, 3))
        dims = size[0]
        if all(type(d) is int and d >= 0 for d in dims):  # the common case, quickly
            return tuple(dims)
        return _check_dims(dims, name, in_sequence=True)
    if all(type(d) is int and d >= 0 for d in size):  # f(2, 3)
        return size
    if len(size) > 1 and isinstance(size[0], (tuple, list)):
        raise TypeError(f"{name}() takes 1 positional argument but {len(size)} were given")
    return _check_dims(size, name, in_sequence=False)


def _check_dims(dims, name: str, in_sequence: bool) -> tuple:
    out = []
    for pos, d in enumerate(dims):
        if isinstance(d, Tensor) and d._data.ndim == 0 and not d.dtype.is_floating_point:
            d = int(d._data.item())
        if not _is_int(d):
            kind = type(d).__name__
            if in_sequence:
                raise TypeError(f"{name}(): argument 'size' (position 1) must be tuple of ints, "
                                f"but found element of type {kind} at pos {pos}")
            if pos == 0:
                raise TypeError(f"{name}(): argument 'size' (position 1) must be tuple of ints, "
                                f"not {kind}")
            raise TypeError(f"{name}(): argument 'size' failed to unpack the object at pos "
                            f"{pos + 1} with error \"type must be tuple of ints,but got {kind}\"")
        out.append(int(d))
    for d in out:
        if d < 0:
            if name == "zeros":
                raise RuntimeError("zeros: Dimension size must be non-negative.")
            raise RuntimeError(f"Trying to create tensor with negative dimension {d}: {out}")
    return tuple(out)


def _size_args(args: tuple, size, name: str) -> tuple:
    """The size of a varargs factory, given positionally or as size=."""
    if size is not None:
        if args:
            raise TypeError(f"{name}() got multiple values for argument 'size'")
        args = (size,)
    if not args:
        raise TypeError(f'{name}() missing 1 required positional arguments: "size"')
    return _parse_size(args, name)


def _check_grad_dtype(dtype: _dt.dtype, requires_grad: bool) -> None:
    if requires_grad and not dtype.is_floating_point:
        raise RuntimeError("Only Tensors of floating point and complex dtype can require "
                           "gradients")


def _wrap(arr, requires_grad: bool, out=None, pin_memory: bool = False) -> Tensor:
    """Wrap a freshly made array (already on its device) as a leaf, or write it into `out`."""
    if pin_memory:
        arr = _pinned_array(arr)
    if out is not None:
        return _into(out, arr)
    t = _make(arr)
    if requires_grad:
        _check_grad_dtype(t.dtype, True)
        t._requires_grad = True
    return t


def _finish(arr, device, requires_grad: bool, out=None, pin_memory: bool = False) -> Tensor:
    """Move a freshly made NumPy array to `device` and wrap it."""
    if device is not None:
        dev = as_device(device)
        if dev.type != "cpu":
            arr = to_device(arr, dev)
    return _wrap(arr, requires_grad, out, pin_memory)


def _pinned_array(arr):
    """`pin_memory=True` of the factories: a page-locked copy, which needs a GPU as in torch."""
    if not isinstance(arr, np.ndarray):
        raise RuntimeError("Only dense CPU tensors can be pinned")
    if not _accelerator():
        raise RuntimeError("pin_memory=True requires a CUDA or other accelerator backend; no "
                           "pinned memory allocator is available on this system.")
    return _device.pin(arr)


def _accelerator() -> bool:
    from ember import cuda
    return cuda.is_available()


# ----------------------------------------------------------------- pinned memory
class PinMemory(Function):
    """A copy in page-locked host memory; gradients pass straight through (torch's
    `_pin_memory`)."""

    _node_name = "PinMemoryBackward0"

    @staticmethod
    def forward(ctx, a):
        return _make(_device.pin(a._data))

    @staticmethod
    def backward(ctx, grad):
        return grad


def pin_memory(input: Tensor) -> Tensor:
    """Tensor.pin_memory: `input` itself when already pinned, else a pinned copy."""
    if input.device.type != "cpu":
        raise RuntimeError(f"cannot pin '{input.type()}' only dense CPU tensors can be pinned")
    if not _accelerator():
        raise RuntimeError("Cannot access accelerator device when none is available.")
    if _device.is_pinned(input._data):
        return input
    return PinMemory.apply(input)


def is_pinned(input: Tensor) -> bool:
    """Tensor.is_pinned: whether the data lives in page-locked host memory."""
    return _device.is_pinned(input._data)


def _into(out: Tensor, arr) -> Tensor:
    """The out= convention: results land in `out`, resized if its shape differs."""
    if not isinstance(out, Tensor):
        raise TypeError(f"argument 'out' must be Tensor, not {type(out).__name__}")
    if out._data.shape == arr.shape:
        out._data[...] = arr
    else:
        out._data = arr.astype(out._data.dtype)
    out._version_counter[0] += 1
    return out


# ----------------------------------------------------------------- tensor() and friends
def _leaf_dtype(x) -> _dt.dtype:
    """The dtype one element of nested data stands for (torch's infer_scalar_type)."""
    if isinstance(x, (np.ndarray, np.generic)):  # before float: np.float64 subclasses float
        return _numpy_dtype(x.dtype)
    if isinstance(x, bool):
        return _dt.bool
    if isinstance(x, int):
        return _dt.int64
    if isinstance(x, float):
        return _dt.get_default_dtype()
    if isinstance(x, Tensor):
        return x.dtype
    if isinstance(x, str):
        raise TypeError(f"new(): invalid data type '{type(x).__name__}'")
    if isinstance(x, complex):
        raise TypeError("ember has no complex dtypes yet")
    raise RuntimeError(f"Could not infer dtype of {type(x).__name__}")


_FAST_LEAVES = {float: None, int: _dt.int64, bool: _dt.bool}


def _infer_dtype(data) -> tuple:
    """(dtype, holds_tensors, NumPy scalar types without __index__) for nested sequences:
    every leaf's dtype, promoted together."""
    result = None
    has_tensor = False
    no_index = []  # NumPy bools and non-double floats: torch cannot store them as integers
    stack = [data]
    while stack:
        x = stack.pop()
        if isinstance(x, (list, tuple, _builtin_range)):
            kinds = set(map(type, x))
            if kinds.issubset(_FAST_LEAVES):  # the common case: a row of Python numbers
                for k in kinds:
                    d = _FAST_LEAVES[k] or _dt.get_default_dtype()
                    result = d if result is None else _dt.promote_types(result, d)
            else:
                stack.extend(x)
            continue
        if isinstance(x, Tensor):
            has_tensor = True
        elif isinstance(x, np.generic) and not isinstance(x, (float, np.integer)):
            no_index.append(x)
        d = _leaf_dtype(x)
        result = d if result is None else _dt.promote_types(result, d)
    return (result or _dt.get_default_dtype()), has_tensor, no_index


def _check_storable(no_index: list, dtype: _dt.dtype) -> None:
    """torch stores integer and bool elements through __index__ (Python floats aside)."""
    if dtype.is_floating_point:
        return
    for x in no_index:
        if dtype is not _dt.bool or not isinstance(x, np.bool_):
            name = "bool" if isinstance(x, np.bool_) else type(x).__name__
            raise TypeError(f"'numpy.{name}' object cannot be interpreted as an integer")


def _tensors_to_scalars(data):
    """Nested data with each (one-element) tensor replaced by its Python number."""
    if isinstance(data, Tensor):
        if data._data.size != 1:
            raise ValueError("only one element tensors can be converted to Python scalars")
        return data._data.reshape(()).item()
    if isinstance(data, (list, tuple)):
        return [_tensors_to_scalars(x) for x in data]
    return data


def _ragged_error(data) -> Exception:
    """torch's error for nested data that is not rectangular (walks like torch's filler)."""
    shape = []
    x = data
    while isinstance(x, (list, tuple, _builtin_range, np.ndarray)):
        shape.append(len(x))
        if len(x) == 0:
            break
        x = x[0]

    def walk(x, dim):
        if dim == len(shape):
            if isinstance(x, (list, tuple, _builtin_range)):
                return TypeError(f"'{type(x).__name__}' object cannot be interpreted as an "
                                 "integer")
            return None
        if not isinstance(x, (list, tuple, _builtin_range, np.ndarray)):
            return TypeError("not a sequence")
        if len(x) != shape[dim]:
            return ValueError(f"expected sequence of length {shape[dim]} at dim {dim} "
                              f"(got {len(x)})")
        for item in x:
            err = walk(item, dim + 1)
            if err is not None:
                return err
        return None

    return walk(data, 0) or ValueError("expected a rectangular sequence to build a tensor")


def _nested_array(data, np_dtype):
    try:
        with np.errstate(over="ignore", invalid="ignore"):
            return np.array(data, dtype=np_dtype)
    except ValueError:
        raise _ragged_error(data) from None
    except OverflowError:
        raise ValueError("Overflow when unpacking long long") from None


def _check_fits(arr, dtype: _dt.dtype, name: str) -> None:
    """torch's overflow check for Python numbers stored into an integer dtype (floating
    dtypes take any value: too large ones become inf)."""
    if arr.size == 0 or dtype is _dt.bool or dtype.is_floating_point:
        return
    lo, hi = _INT_RANGE[dtype.name]
    if arr.dtype.kind == "f":  # floats must lie in the type's range before truncation
        bad = not np.isfinite(arr).all() or arr.min() < lo or arr.max() > hi
    else:  # integers: negatives wrap into unsigned types (-1 -> 255)
        bad = arr.min() < (-hi if lo == 0 else lo) or arr.max() > hi
    if bad:
        raise RuntimeError(f"value cannot be converted to type {name} without overflow")


def _cast(arr, dtype: _dt.dtype):
    """arr as dtype; half types go through float32 as torch's scalar conversion does."""
    if arr.dtype == dtype.np:
        return arr
    with np.errstate(over="ignore", invalid="ignore"):
        if dtype.itemsize == 2 and dtype.is_floating_point and arr.dtype == np.float64:
            arr = arr.astype(np.float32)
        return arr.astype(dtype.np)


def _numpy_dtype(np_dtype) -> _dt.dtype:
    """The ember dtype of a NumPy array's dtype, with torch's error for unsupported ones."""
    d = _dt._FROM_NP.get(np_dtype)
    if d is None:
        raise TypeError(f"can't convert np.ndarray of type {np_dtype.type.__module__}."
                        f"{np_dtype.type.__name__}. The only supported types are: float64, "
                        "float32, float16, bfloat16, int64, int32, int16, int8, uint8, and bool.")
    return d


def _check_ndarray(a: np.ndarray) -> None:
    if any(s < 0 for s in a.strides):
        raise ValueError("At least one stride in the given numpy array is negative, and tensors "
                         "with negative strides are not currently supported. (You can probably "
                         "work around this by making a copy of your array  with array.copy().) ")
    if not a.dtype.isnative:
        raise ValueError("given numpy array has byte order different from the native byte "
                         "order. Conversion between byte orders is currently not supported.")


def tensor(data, *, dtype=None, device=None, requires_grad: bool = False,
           pin_memory: bool = False) -> Tensor:
    """A new tensor holding a copy of `data` (nested sequences, scalars, arrays, tensors).

    Without `dtype`, the dtype is torch's: Python bools/ints/floats are bool/int64/the
    default float, NumPy scalars, arrays and tensors keep theirs, all promoted together.
    """
    dtype = _as_dtype(dtype)
    if isinstance(data, Tensor):
        warnings.warn("To copy construct from a tensor, it is recommended to use "
                      "sourceTensor.detach().clone() or sourceTensor.detach().clone()"
                      ".requires_grad_(True), rather than torch.tensor(sourceTensor).",
                      UserWarning, stacklevel=2)
        arr = data._data.copy()
        if device is None:
            device = data.device
        if dtype is not None:
            arr = _cast(arr, dtype)
        return _finish(arr, device, requires_grad, pin_memory=pin_memory)
    if isinstance(data, np.ndarray):
        if pin_memory:
            raise RuntimeError("Can't pin tensor constructed from numpy")
        _check_ndarray(data)
        arr = np.array(data, dtype=_numpy_dtype(data.dtype).np)
        return _finish(arr if dtype is None else _cast(arr, dtype), device, requires_grad)
    inferred, has_tensor, no_index = _infer_dtype(data)
    if no_index:
        _check_storable(no_index, dtype or inferred)
    if has_tensor:
        data = _tensors_to_scalars(data)
    if dtype is None or dtype is inferred:
        arr = _nested_array(data, _cast_source(inferred).np)
        arr = _cast(arr, inferred)
    elif inferred.is_floating_point and not dtype.is_floating_point and dtype is not _dt.bool:
        arr = _mixed_to_int(data, dtype)
    else:
        # Build in a wide type, check the values fit (torch's overflow rule), then cast.
        arr = _nested_array(data, np.float64 if inferred.is_floating_point else (
            np.int64 if inferred is not _dt.bool else np.bool_))
        _check_fits(arr, dtype, dtype.name)
        arr = _cast(arr, dtype)
    return _finish(arr, device, requires_grad, pin_memory=pin_memory)


def _mixed_to_int(data, dtype: _dt.dtype):
    """Floats (and maybe ints) stored into an integer dtype: torch applies each element's own
    rule, so the ints wrap (-1 -> 255 in uint8) while the floats must fit the range."""
    objects = _nested_array(data, object)
    is_int = np.asarray(np.frompyfunc(lambda v: isinstance(v, (int, np.integer)), 1, 1)(objects),
                        dtype=bool)
    values = objects.astype(np.float64)
    ints = objects[is_int].astype(np.int64)
    _check_fits(values[~is_int], dtype, dtype.name)
    _check_fits(ints, dtype, dtype.name)
    out = _cast(values, dtype)
    out[is_int] = ints.astype(dtype.np)  # two's-complement wrap, as torch
    return out


def _cast_source(d: _dt.dtype) -> _dt.dtype:
    # Python floats reach half types through float32 (as torch converts them).
    return _dt.float32 if d.itemsize == 2 and d.is_floating_point else d


def as_tensor(data, dtype=None, device=None) -> Tensor:
    """Like tensor(), but shares memory when `data` already is a matching array/tensor."""
    dtype = _as_dtype(dtype)
    if isinstance(data, Tensor):
        if dtype is None and device is None:
            return data
        return data.to(device=device, dtype=dtype)
    if isinstance(data, np.ndarray):
        _check_ndarray(data)
        if (dtype is None or data.dtype == dtype.np) and data.dtype in _dt._FROM_NP and (
                data.dtype.type not in (np.uint16, np.uint32, np.uint64)) and (
                device is None or as_device(device).type == "cpu"):
            return _make(data)
    return _quiet_tensor(data, dtype, device)


def _quiet_tensor(data, dtype, device) -> Tensor:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return tensor(data, dtype=dtype, device=device)


def asarray(obj, *, dtype=None, device=None, copy=None, requires_grad: bool = False) -> Tensor:
    """torch.asarray: shares memory with tensors and arrays unless a copy is needed or asked."""
    if copy:
        if isinstance(obj, Tensor):
            t = _detached_copy(obj.detach())
            t = t if dtype is None and device is None else t.to(device=device, dtype=dtype)
        else:
            t = _quiet_tensor(obj, _as_dtype(dtype), device)
    else:
        if copy is False and not isinstance(obj, (Tensor, np.ndarray)):
            raise ValueError("can't alias arbitrary sequence into a tensor.")
        t = as_tensor(obj, dtype=dtype, device=device)
    if requires_grad:
        t = t.detach() if t.grad_fn is not None else t
        t.requires_grad_(True)
    return t


def _detached_copy(t: Tensor) -> Tensor:
    return _make(t._data.copy())


def from_numpy(ndarray: np.ndarray) -> Tensor:
    """A tensor sharing `ndarray`'s memory (writes through either are seen by both)."""
    if not isinstance(ndarray, np.ndarray):
        raise TypeError(f"expected np.ndarray (got {type(ndarray).__name__})")
    _check_ndarray(ndarray)
    if ndarray.dtype.type in (np.uint16, np.uint32, np.uint64):
        # ember has no unsigned types wider than uint8, so their memory cannot be shared
        raise TypeError(f"can't convert np.ndarray of type numpy.{ndarray.dtype.name}. The "
                        "only supported types are: float64, float32, float16, bfloat16, int64, "
                        "int32, int16, int8, uint8, and bool.")
    _numpy_dtype(ndarray.dtype)
    return _make(ndarray)


def scalar_tensor(s, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """A 0-dim tensor of `s` (default float dtype unless `dtype` says otherwise)."""
    return full((), s, dtype=_float_default(dtype), device=device, requires_grad=requires_grad)


# ----------------------------------------------------------------- constant fills
def zeros(*size, out=None, dtype=None, layout=None, device=None, requires_grad: bool = False,
          pin_memory: bool = False, **kwargs) -> Tensor:
    """A tensor of zeros; size as separate ints, one sequence, or size=."""
    shape = _size_args(size, kwargs.pop("size", None), "zeros")
    dtype = _float_default(dtype)
    _check_grad_dtype(dtype, requires_grad)
    return _finish(np.zeros(shape, dtype.np), device, requires_grad, out, pin_memory=pin_memory)


def ones(*size, out=None, dtype=None, layout=None, device=None, requires_grad: bool = False,
         pin_memory: bool = False, **kwargs) -> Tensor:
    """A tensor of ones; size as separate ints, one sequence, or size=."""
    shape = _size_args(size, kwargs.pop("size", None), "ones")
    dtype = _float_default(dtype)
    _check_grad_dtype(dtype, requires_grad)
    return _finish(np.ones(shape, dtype.np), device, requires_grad, out, pin_memory=pin_memory)


def empty(*size, out=None, dtype=None, layout=None, device=None, requires_grad: bool = False,
          pin_memory: bool = False, memory_format=None, **kwargs) -> Tensor:
    """An uninitialised tensor; size as separate ints, one sequence, or size=."""
    shape = _size_args(size, kwargs.pop("size", None), "empty")
    dtype = _float_default(dtype)
    _check_grad_dtype(dtype, requires_grad)
    return _finish(np.empty(shape, dtype.np), device, requires_grad, out, pin_memory=pin_memory)


def _fill_scalar(fill_value, fn: str):
    """A fill value as a Python number (0-dim tensors allowed), with torch's TypeError."""
    if isinstance(fill_value, Tensor):
        if fill_value._data.ndim != 0:
            raise TypeError(f"{fn}(): argument 'fill_value' (position 2) must be Number, "
                            "not Tensor")
        return fill_value._data.item() if fill_value.dtype is not _dt.bfloat16 else float(
            fill_value._data.item())
    if isinstance(fill_value, np.generic):
        return fill_value.item()
    if not isinstance(fill_value, (bool, int, float)):
        raise TypeError(f"{fn}(): argument 'fill_value' (position 2) must be Number, not "
                        f"{type(fill_value).__name__}")
    return fill_value


def _check_fill(value, dtype: _dt.dtype) -> None:
    """torch's check that a fill value fits the dtype (ints wrap only for unsigned negatives)."""
    if dtype is _dt.bool:
        return
    if dtype.is_floating_point:
        if abs(value) > _FLOAT_MAX[dtype.name] and not (isinstance(value, float) and (
                math.isinf(value) or math.isnan(value))):
            raise RuntimeError(f"value cannot be converted to type {_FILL_NAME[dtype.name]} "
                               "without overflow")
        return
    lo, hi = _INT_RANGE[dtype.name]
    if lo == 0:
        lo = -hi  # unsigned: negatives wrap around
    if isinstance(value, float) and not math.isfinite(value) or not lo <= value <= hi:
        raise RuntimeError(f"value cannot be converted to type {_FILL_NAME[dtype.name]} "
                           "without overflow")


def _fill_array(shape, value, dtype: _dt.dtype):
    if dtype is _dt.uint8 and not isinstance(value, bool) and value < 0:
        value = int(value) & 0xFF  # two's-complement wrap, as torch stores -1 as 255
    if dtype.itemsize == 2 and dtype.is_floating_point:  # Python floats reach half via float
        return np.full(shape, value, np.float32).astype(dtype.np)
    return np.full(shape, value, dtype.np)


def full(size, fill_value, *, out=None, dtype=None, layout=None, device=None,
         requires_grad: bool = False, pin_memory: bool = False) -> Tensor:
    """A tensor of `size` filled with `fill_value`; dtype inferred from the value like torch."""
    if not isinstance(size, (tuple, list)):
        raise TypeError(f"full(): argument 'size' (position 1) must be tuple of ints, not "
                        f"{type(size).__name__}")
    shape = _parse_size((size,), "full")
    value = _fill_scalar(fill_value, "full")
    dtype = _dt._scalar_dtype(value) if dtype is None else _as_dtype(dtype)
    _check_fill(value, dtype)
    _check_grad_dtype(dtype, requires_grad)
    return _finish(_fill_array(shape, value, dtype), device, requires_grad, out,
                   pin_memory=pin_memory)


def _like(input: Tensor, dtype, device, fn: str):
    if not isinstance(input, Tensor):
        raise TypeError(f"{fn}(): argument 'input' (position 1) must be Tensor, not "
                        f"{type(input).__name__}")
    dtype = input.dtype if dtype is None else _as_dtype(dtype)
    same = device is None or as_device(device) == input.device
    return dtype, same



def _empty_like(arr, np_dtype):
    """Uninitialised memory shaped like `arr`, laid out like it (torch's preserve_format).

    Dimensions are ordered by the input's strides with torch's stable insertion sort,
    in which a zero stride (an expanded dimension) never moves, so expanded and
    contiguous inputs get contiguous results and permuted ones keep their order.
    """
    xp = array_module(arr)
    if arr.flags.c_contiguous or arr.ndim < 2:
        return xp.empty(arr.shape, np_dtype)
    shape, strides = arr.shape, arr.strides
    perm = list(_builtin_range(arr.ndim - 1, -1, -1))  # innermost dimension first

    def order(d0: int, d1: int) -> int:  # 1: d0 is outside d1; 0: undecided
        s0, s1 = strides[d0], strides[d1]
        if s0 == 0 or s1 == 0:
            return 0
        if s0 != s1:
            return 1 if s0 > s1 else -1
        return 1 if shape[d0] > shape[d1] else 0

    for i in _builtin_range(1, arr.ndim):
        d1 = i
        for d0 in _builtin_range(i - 1, -1, -1):
            c = order(perm[d0], perm[d1])
            if c > 0:
                perm[d0], perm[d1] = perm[d1], perm[d0]
                d1 = d0
            elif c < 0:
                break
    outer_first = perm[::-1]
    buf = xp.empty([shape[d] for d in outer_first], np_dtype)
    return buf.transpose(np.argsort(outer_first).tolist())


def zeros_like(input: Tensor, *, dtype=None, layout=None, device=None,
               requires_grad: bool = False, memory_format=None) -> Tensor:
    """Zeros with input's shape, dtype, device and (dense) memory layout."""
    dtype, same = _like(input, dtype, device, "zeros_like")
    _check_grad_dtype(dtype, requires_grad)
    if same:
        out = _empty_like(input._data, dtype.np)
        out[...] = 0
        return _wrap(out, requires_grad)
    return zeros(input.shape, dtype=dtype, device=device, requires_grad=requires_grad)


def ones_like(input: Tensor, *, dtype=None, layout=None, device=None,
              requires_grad: bool = False, memory_format=None) -> Tensor:
    """Ones with input's shape, dtype, device and (dense) memory layout."""
    dtype, same = _like(input, dtype, device, "ones_like")
    _check_grad_dtype(dtype, requires_grad)
    if same:
        out = _empty_like(input._data, dtype.np)
        out[...] = 1
        return _wrap(out, requires_grad)
    return ones(input.shape, dtype=dtype, device=device, requires_grad=requires_grad)


def empty_like(input: Tensor, *, dtype=None, layout=None, device=None,
               requires_grad: bool = False, memory_format=None) -> Tensor:
    """Uninitialised memory with input's shape, dtype, device and (dense) layout."""
    dtype, same = _like(input, dtype, device, "empty_like")
    _check_grad_dtype(dtype, requires_grad)
    if same:
        return _wrap(_empty_like(input._data, dtype.np), requires_grad)
    return empty(input.shape, dtype=dtype, device=device, requires_grad=requires_grad)


def full_like(input: Tensor, fill_value, *, dtype=None, layout=None, device=None,
              requires_grad: bool = False, memory_format=None) -> Tensor:
    """`fill_value` with input's shape, dtype and device (the value is cast to the dtype)."""
    dtype, same = _like(input, dtype, device, "full_like")
    value = _fill_scalar(fill_value, "full_like")
    _check_fill(value, dtype)
    _check_grad_dtype(dtype, requires_grad)
    arr = _fill_array(input._data.shape, value, dtype)
    return _finish(arr, input.device if device is None else device, requires_grad)


# ----------------------------------------------------------------- ranges
def _num(x):
    """A bound given as a number, NumPy scalar or one-element tensor, as a Python number."""
    if isinstance(x, Tensor):
        return x._data.item() if x.dtype is not _dt.bfloat16 else float(x._data.item())
    if isinstance(x, np.generic):
        return x.item()
    if not isinstance(x, (int, float)):
        raise TypeError(f"arange() received an invalid combination of arguments - got "
                        f"({type(x).__name__}), but expected numbers for start, end and step")
    return x


def _range_dtype(values, dtype) -> _dt.dtype:
    if dtype is not None:
        return _as_dtype(dtype)
    is_float = any(isinstance(v, float) for v in values)
    return _dt.get_default_dtype() if is_float else _dt.int64


def _acc(v, dtype: _dt.dtype):
    """A bound converted to the type torch accumulates `start + i * step` in on the CPU."""
    if dtype.is_floating_point:
        return float(v)
    return int(v)  # integer outputs truncate float bounds first (C++ conversion)


def arange(start=0, end=None, step=1, *, out=None, dtype=None, layout=None, device=None,
           requires_grad: bool = False) -> Tensor:
    """Values start, start+step, ... below `end`; int64 unless a bound is a float.

    The length is torch's: ceil((end - start) / step) in double precision (int64
    arithmetic for int64 results); values are start + i * step computed in torch's
    accumulation type (double for float32/float64, float32 for the half types, int64
    for integer results, whose bounds are truncated to integers first).
    """
    if end is None:
        start, end = 0, start
    start, end, step = _num(start), _num(end), _num(step)
    dtype = _range_dtype((start, end, step), dtype)
    if dtype is _dt.bool:
        raise _not_implemented("arange_cpu", dtype)
    _check_grad_dtype(dtype, requires_grad)
    dstart, dend, dstep = float(start), float(end), float(step)
    if dstep == 0:
        raise RuntimeError("step must be nonzero")
    if not (math.isfinite(dstart) and math.isfinite(dend)):
        raise RuntimeError(f"unsupported range: {_num_str(dstart)} -> {_num_str(dend)}")
    if (dstep > 0 and dend < dstart) or (dstep < 0 and dend > dstart):
        raise RuntimeError("upper bound and lower bound inconsistent with step sign")
    xstart, xstep = _acc(start, dtype), _acc(step, dtype)
    if dtype is _dt.int64:
        n = _int64_arange_size(xstart, _acc(end, dtype), xstep)
    else:
        n = math.ceil((dend - dstart) / dstep)
        if n > 2 ** 63 - 1:
            raise RuntimeError("invalid size, possible overflow?")
    if dtype.is_floating_point:
        acc = np.float32 if dtype.itemsize == 2 else np.float64
        arr = (acc(xstart) + np.arange(n, dtype=acc) * acc(xstep)).astype(dtype.np)
    else:
        try:  # one exact integer arange (the common case)
            arr = np.arange(xstart, xstart + n * xstep, xstep, dtype=np.int64)[:n]
        except (OverflowError, ZeroDivisionError):
            # bounds at the edge of int64 (wrap as torch's int64 arithmetic does), or a step
            # that truncated to 0 for a narrower integer type (every value is start)
            arr = xstart + np.arange(n, dtype=np.int64) * np.int64(xstep)
        if dtype is not _dt.int64:
            arr = arr.astype(dtype.np)
    return _finish(arr, device, requires_grad, out)


def _int64_arange_size(xstart: int, xend: int, xstep: int) -> int:
    """torch's int64 length: (end - start + step - sign(step)) / step in wrapping int64."""
    if xstep == 0:
        raise ValueError("step must be nonzero")
    sgn = 1 if xstep > 0 else -1
    v = (xend - xstart + xstep - sgn) & ((1 << 64) - 1)
    v = v - (1 << 64) if v >= 1 << 63 else v  # what the C++ int64 arithmetic wraps to
    n = abs(v) // abs(xstep) * (1 if (v >= 0) == (xstep > 0) else -1)
    if n < 0:
        raise RuntimeError("invalid size, possible overflow?")
    return n


def range(start, end, step=1, *, out=None, dtype=None, layout=None, device=None,
          requires_grad: bool = False) -> Tensor:
    """Deprecated torch.range: like arange but includes `end`, default float dtype.

    The length is int((end - start) / step + 1), truncated, in the accumulation type.
    """
    warnings.warn("torch.range is deprecated and will be removed in a future release because "
                  "its behavior is inconsistent with Python's range builtin. Instead, use "
                  "torch.arange, which produces values in [start, end).", UserWarning,
                  stacklevel=2)
    start, end, step = _num(start), _num(end), _num(step)
    dtype = _float_default(dtype)
    if dtype is _dt.bool:
        raise _not_implemented("range_cpu", dtype)
    _check_grad_dtype(dtype, requires_grad)
    xstart, xend, xstep = _acc(start, dtype), _acc(end, dtype), _acc(step, dtype)
    if xstep == 0:
        raise RuntimeError("step must be nonzero")
    if not (math.isfinite(xstart) and math.isfinite(xend)):
        raise RuntimeError(f"unsupported range: {_num_str(xstart)} -> {_num_str(xend)}")
    if (xstep > 0 and xend < xstart) or (xstep < 0 and xend > xstart):
        raise RuntimeError("upper bound and lower bound inconsistent with step sign")
    if dtype.is_floating_point:
        n = int((xend - xstart) / xstep + 1)
        acc = np.float32 if dtype.itemsize == 2 else np.float64
        arr = (acc(xstart) + np.arange(n, dtype=acc) * acc(xstep)).astype(dtype.np)
    else:
        q = abs(xend - xstart) // abs(xstep)  # C++ integer division truncates toward zero
        n = q + 1
        arr = (xstart + np.arange(n, dtype=np.int64) * xstep).astype(dtype.np)
    return _finish(arr, device, requires_grad, out)


def _space_bound(x, name: str, fn: str):
    if isinstance(x, Tensor) and x._data.ndim != 0:
        raise RuntimeError(f"{fn} only supports 0-dimensional start and end tensors, but got "
                           f"{name} with {x._data.ndim} dimension(s).")
    return _num(x)


def _check_steps(steps, fn: str) -> int:
    if isinstance(steps, Tensor):
        steps = steps.__index__()
    if not _is_int(steps):
        raise TypeError(f"{fn}() received an invalid combination of arguments - got steps of "
                        f"type {type(steps).__name__}, but expected int steps")
    if steps < 0:
        raise RuntimeError("number of steps must be non-negative")
    return int(steps)


def _fma_ramp(first, last, step, steps: int, out_type, fused: bool = True):
    """first + step*i for the first half, last - step*(steps-1-i) for the rest, in
    `out_type`; `fused` rounds each multiply-add once, as torch's vectorised-ISA kernels
    (linspace) are compiled to, otherwise twice (logspace)."""
    wide = np.longdouble if fused else np.float64
    idx = np.arange(steps)
    up = wide(first) + wide(step) * idx.astype(wide)
    down = wide(last) - wide(step) * (steps - 1 - idx).astype(wide)
    with np.errstate(over="ignore", invalid="ignore"):
        return np.where(idx < steps // 2, up, down).astype(out_type)


def _linspace_values(start, end, steps: int, dtype: _dt.dtype):
    """torch's CPU linspace: the first half counts up from start, the second down from end.

    float32/float64 results step in their own type; the half types compute every
    operation in half precision (as c10::Half arithmetic rounds each one); integer
    results step in double from integer bounds and truncate.
    """
    if steps == 1:
        v = float(start) if dtype.is_floating_point else int(start)
        return np.full(1, v).astype(dtype.np)
    with np.errstate(over="ignore", invalid="ignore"):
        if dtype.itemsize == 2 and dtype.is_floating_point:
            ct = dtype.np.type
            s, e = np.asarray(float(start)).astype(ct), np.asarray(float(end)).astype(ct)
            step = (e - s) / np.asarray(steps - 1).astype(ct)
            idx = np.arange(steps)
            up = s + step * idx.astype(ct)
            down = e - step * (steps - 1 - idx).astype(ct)
            return np.where(idx < steps // 2, up, down).astype(ct)
        if dtype.is_floating_point:
            ct = dtype.np.type
            s, e = ct(float(start)), ct(float(end))
            return _fma_ramp(s, e, (e - s) / ct(steps - 1), steps, ct)
        s, e = int(start), int(end)
        ramp = _fma_ramp(float(s), float(e), (float(e) - float(s)) / (steps - 1), steps,
                         np.float64)
        return ramp.astype(dtype.np)


def linspace(start, end, steps: int, *, out=None, dtype=None, layout=None, device=None,
             requires_grad: bool = False) -> Tensor:
    """`steps` evenly spaced values from start to end inclusive (default float dtype)."""
    start = _space_bound(start, "start", "linspace")
    end = _space_bound(end, "end", "linspace")
    steps = _check_steps(steps, "linspace")
    dtype = _float_default(dtype)
    if dtype is _dt.bool:
        raise _not_implemented("linspace_cpu", dtype)
    _check_grad_dtype(dtype, requires_grad)
    arr = _linspace_values(start, end, steps, dtype) if steps else np.empty(0, dtype.np)
    return _finish(arr, device, requires_grad, out)


def logspace(start, end, steps: int, base: float = 10.0, *, out=None, dtype=None, layout=None,
             device=None, requires_grad: bool = False) -> Tensor:
    """`steps` values base**linspace(start, end) (exponents in double precision)."""
    start = _space_bound(start, "start", "logspace")
    end = _space_bound(end, "end", "logspace")
    steps = _check_steps(steps, "logspace")
    dtype = _float_default(dtype)
    if dtype is _dt.bool:
        raise _not_implemented("logspace_cpu", dtype)
    _check_grad_dtype(dtype, requires_grad)
    if steps == 0:
        arr = np.empty(0, dtype.np)
    else:
        # The exponents step in double from bounds first stored in the result's dtype.
        with np.errstate(over="ignore", invalid="ignore"):
            if dtype.is_floating_point:
                s = np.asarray(float(start)).astype(dtype.np)
                e = np.asarray(float(end)).astype(dtype.np)
                span = float(e - s)
            else:
                s, e = int(start), int(end)
                span = float(e - s)
            if steps == 1:  # torch fills base**start, start taken as given
                exps = np.full(1, float(start))
            else:
                exps = _fma_ramp(float(s), float(e), span / (steps - 1), steps, np.float64,
                                 fused=False)
            arr = np.power(float(base), exps).astype(dtype.np)
    return _finish(arr, device, requires_grad, out)


def eye(n: int, m: int | None = None, *, out=None, dtype=None, layout=None, device=None,
        requires_grad: bool = False) -> Tensor:
    """An n x m matrix with ones on the diagonal (m defaults to n)."""
    for name, v in (("n", n), ("m", m)):
        if v is not None and not _is_int(v):
            raise TypeError(f"eye(): argument '{name}' (position {1 if name == 'n' else 2}) "
                            f"must be int, not {type(v).__name__}")
    if n < 0:
        raise RuntimeError(f"n must be greater or equal to 0, got {n}")
    if m is not None and m < 0:
        raise RuntimeError(f"m must be greater or equal to 0, got {m}")
    dtype = _float_default(dtype)
    _check_grad_dtype(dtype, requires_grad)
    return _finish(np.eye(n, m, dtype=dtype.np), device, requires_grad, out)


# ----------------------------------------------------------------- legacy type strings
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



# ----------------------------------------------------------------- random draws
# Each distribution is drawn from a generator's primitive streams (see ember/random.py)
# in the output's precision: float32 draws stay float32 (no float64 detour); the half
# types draw in float32 (uniforms with exactly the bits the half type can hold) and cast.
def _draw_device(device):
    return None if device is None else as_device(device)


def _uniform01(g, shape, dtype: _dt.dtype):
    """Uniform [0, 1) values: float32/float64 arrays, float32 for the half types."""
    if dtype.itemsize >= 4:
        return g._stream.random(shape, dtype.np)
    digits = _MANTISSA_DIGITS[dtype.name]
    k = g._stream.integers(0, (1 << digits) - 1, shape)
    return k.astype(np.float32) * (1.0 / (1 << digits))


def _normal01(g, shape, dtype: _dt.dtype):
    """Standard normal values (float32 for the half types)."""
    return g._stream.normal(shape, dtype.np if dtype.itemsize >= 4 else np.float32)


def _work_dtype(dtype: _dt.dtype):
    """The NumPy type a float distribution computes in before the final cast."""
    return dtype.np.type if dtype.itemsize >= 4 and dtype.is_floating_point else np.float32


def _no_extra(kwargs: dict, name: str) -> None:
    for k in kwargs:
        raise TypeError(f"{name}() got an unexpected keyword argument '{k}'")


def rand(*size, generator=None, out=None, dtype=None, layout=None, device=None,
         requires_grad: bool = False, pin_memory: bool = False, **kwargs) -> Tensor:
    """Uniform samples on [0, 1); size as separate ints, one sequence, or size=."""
    shape = _size_args(size, kwargs.pop("size", None), "rand")
    _no_extra(kwargs, "rand")
    dtype = _float_default(dtype)
    if not dtype.is_floating_point:
        raise _not_implemented("check_uniform_bounds", dtype)
    g = _random.generator_for(generator, _draw_device(device))
    return _wrap(_uniform01(g, shape, dtype).astype(dtype.np, copy=False), requires_grad, out,
                 pin_memory=pin_memory)


def randn(*size, generator=None, out=None, dtype=None, layout=None, device=None,
          requires_grad: bool = False, pin_memory: bool = False, **kwargs) -> Tensor:
    """Standard normal samples; size as separate ints, one sequence, or size=."""
    shape = _size_args(size, kwargs.pop("size", None), "randn")
    _no_extra(kwargs, "randn")
    dtype = _float_default(dtype)
    if not dtype.is_floating_point:
        raise _not_implemented("normal_kernel_cpu", dtype)
    g = _random.generator_for(generator, _draw_device(device))
    return _wrap(_normal01(g, shape, dtype).astype(dtype.np, copy=False), requires_grad, out,
                 pin_memory=pin_memory)


def _int_bound(x, name: str):
    if isinstance(x, Tensor) and x._data.ndim == 0 and not x.dtype.is_floating_point:
        return int(x._data.item())
    if not _is_int(x):
        raise TypeError(f"{name}() received an invalid combination of arguments - got a bound "
                        f"of type {type(x).__name__}, but expected int low and high")
    return int(x)


def _dtype_max(dtype: _dt.dtype) -> int:
    """The largest value random_ draws for a dtype: 2**mantissa for floats, max for ints."""
    if dtype.is_floating_point:
        return 1 << _MANTISSA_DIGITS[dtype.name]
    return _INT_RANGE[dtype.name][1]


def _check_in_range(value: int, dtype: _dt.dtype, what: str) -> None:
    """torch's check that a random_/randint bound fits the dtype (floats: warn past 2**digits)."""
    if dtype.is_floating_point:
        fi = _dt.finfo(dtype)
        if not fi.min <= value <= fi.max:
            raise RuntimeError(f"{what} is out of bounds for {_CPP_NAME[dtype.name]}")
        digits = _MANTISSA_DIGITS[dtype.name]
        if abs(value) > 1 << digits:
            warnings.warn(f"{what} is out of bounds [-(2^{digits}), 2^{digits}]. Due to "
                          f"precision limitations {_CPP_NAME[dtype.name]} can support discrete "
                          "uniform distribution only within this range. This warning will "
                          "become an error in version 1.7 release, please fix the code in "
                          "advance", UserWarning, stacklevel=4)
        return
    lo, hi = _INT_RANGE[dtype.name]
    if not lo <= value <= hi:
        raise RuntimeError(f"{what} is out of bounds for {_CPP_NAME[dtype.name]}")


def _random_ints(g, low: int, high, shape, dtype: _dt.dtype):
    """Integers in [low, high) (high=None: up to the dtype's random_ maximum, inclusive)."""
    if high is None:
        top = _dtype_max(dtype)
        if low > top:
            raise RuntimeError(f"random_ expects 'from' casted to dtype to be less than or "
                               f"equal to 'to_inc' casted to dtype, but got from={low} > "
                               f"to_inc={top}")
        _check_in_range(low, dtype, "from")
    else:
        if low >= high:
            raise RuntimeError(f"random_ expects 'from' to be less than 'to', but got "
                               f"from={low} >= to={high}")
        _check_in_range(low, dtype, "from")
        _check_in_range(high - 1, dtype, "to - 1")
        top = high - 1
    arr = g._stream.integers(low, top, shape)
    return arr if dtype is _dt.int64 else arr.astype(dtype.np)


def randint(low=0, high=None, size=None, *, generator=None, out=None, dtype=None, layout=None,
            device=None, requires_grad: bool = False, pin_memory: bool = False) -> Tensor:
    """Integers drawn uniformly from [low, high): randint(high, size) or randint(low, high, size).

    The result is int64 unless `dtype` says otherwise (floats allowed, as in torch).
    """
    if size is None and isinstance(high, (tuple, list)):
        low, high, size = 0, low, high
    if high is None or size is None:
        raise TypeError("randint() received an invalid combination of arguments - expected "
                        "(int high, tuple of ints size) or (int low, int high, tuple of ints "
                        "size)")
    if not isinstance(size, (tuple, list)):
        raise TypeError(f"randint() received an invalid combination of arguments - got size of "
                        f"type {type(size).__name__}, but expected tuple of ints size")
    low, high = _int_bound(low, "randint"), _int_bound(high, "randint")
    shape = _parse_size((size,), "randint")
    dtype = _dt.int64 if dtype is None else _as_dtype(dtype)
    _check_grad_dtype(dtype, requires_grad)
    g = _random.generator_for(generator, _draw_device(device))
    return _wrap(_random_ints(g, low, high, shape, dtype), requires_grad, out)


_PERM_LIMIT = {"float16": 2049, "bfloat16": 257, "float32": (1 << 24) + 1,
               "float64": (1 << 53) + 1}


def randperm(n: int, *, generator=None, out=None, dtype=None, layout=None, device=None,
             requires_grad: bool = False, pin_memory: bool = False) -> Tensor:
    """A random permutation of 0 .. n-1 (int64 unless `dtype` says otherwise)."""
    if isinstance(n, Tensor) and n._data.ndim == 0 and not n.dtype.is_floating_point:
        n = int(n._data.item())
    if not _is_int(n):
        raise TypeError(f"randperm(): argument 'n' (position 1) must be int, not "
                        f"{type(n).__name__}")
    n = int(n)
    if n < 0:
        raise RuntimeError(f"Trying to create tensor with negative dimension {n}: [{n}]")
    dtype = _dt.int64 if dtype is None else _as_dtype(dtype)
    if dtype is _dt.bool:
        raise _not_implemented("randperm", dtype)
    if dtype.is_floating_point and n > _PERM_LIMIT[dtype.name]:
        raise RuntimeError(f"n cannot be greater than {_PERM_LIMIT[dtype.name]} for "
                           f"{_KERNEL_NAME[dtype.name]} type.")
    if not dtype.is_floating_point and n - 1 > np.iinfo(dtype.np).max:
        raise RuntimeError(f"value cannot be converted to type {_FILL_NAME[dtype.name]} "
                           "without overflow")
    _check_grad_dtype(dtype, requires_grad)
    g = _random.generator_for(generator, _draw_device(device))
    return _wrap(g._stream.permutation(n).astype(dtype.np, copy=False), requires_grad, out)


def _laid_out_like(input: Tensor, t: Tensor, same_device: bool) -> Tensor:
    """t's values in input's memory layout (what torch's *_like draws produce)."""
    if same_device and not input._data.flags.c_contiguous and input._data.ndim > 1:
        out = _empty_like(input._data, t._data.dtype)
        out[...] = t._data
        t._data = out
    return t


def rand_like(input: Tensor, *, generator=None, dtype=None, layout=None, device=None,
              requires_grad: bool = False, memory_format=None) -> Tensor:
    """rand() with input's shape, dtype, device and memory layout."""
    dtype, same = _like(input, dtype, device, "rand_like")
    t = rand(input._data.shape, generator=generator, dtype=dtype,
             device=input.device if device is None else device, requires_grad=requires_grad)
    return _laid_out_like(input, t, same)


def randn_like(input: Tensor, *, generator=None, dtype=None, layout=None, device=None,
               requires_grad: bool = False, memory_format=None) -> Tensor:
    """randn() with input's shape, dtype, device and memory layout."""
    dtype, same = _like(input, dtype, device, "randn_like")
    t = randn(input._data.shape, generator=generator, dtype=dtype,
              device=input.device if device is None else device, requires_grad=requires_grad)
    return _laid_out_like(input, t, same)


def randint_like(input: Tensor, low=0, high=None, *, generator=None, dtype=None, layout=None,
                 device=None, requires_grad: bool = False, memory_format=None) -> Tensor:
    """randint() with input's shape, dtype and device: randint_like(x, high) or (x, low, high)."""
    if high is None:
        low, high = 0, low
    dtype, same = _like(input, dtype, device, "randint_like")
    t = randint(low, high, input._data.shape, generator=generator, dtype=dtype,
                device=input.device if device is None else device, requires_grad=requires_grad)
    return _laid_out_like(input, t, same)


# Sampled outputs take no gradient: each node below hands zeros back to its tensor inputs
# (the draw itself happens before apply and arrives as the last argument).
class _Sampled(Function):
    @staticmethod
    def forward(ctx, *args):
        return _make(args[-1])

    @staticmethod
    def backward(ctx, grad):
        return tuple(zeros_like(grad) if need else None for need in ctx.needs_input_grad)


class NormalTensorFloat(_Sampled):
    _node_name = "NormalBackward1"


class NormalFloatTensor(_Sampled):
    _node_name = "NormalBackward2"


class NormalTensorTensor(_Sampled):
    _node_name = "NormalBackward3"


def _check_std(std: float) -> None:
    if not std >= 0.0:
        raise RuntimeError(f"normal expects std >= 0.0, but found std {_num_str(std)}")


def _check_std_tensor(std: Tensor) -> None:
    if not bool((std._data >= 0).all()):
        raise RuntimeError("normal expects all elements of std >= 0.0")


def normal(mean, std=1.0, size=None, *, generator=None, out=None, dtype=None, layout=None,
           device=None, pin_memory: bool = False, requires_grad: bool = False) -> Tensor:
    """Normal samples: normal(mean, std) for tensor means and/or stds (broadcast; the dtype
    is the mean's, or the std's when the mean is a number), or normal(mean, std, size)
    for numbers. No gradient flows to mean or std, as in torch."""
    mean_t, std_t = isinstance(mean, Tensor), isinstance(std, Tensor)
    if not mean_t and not std_t:
        if size is None or not isinstance(size, (tuple, list)):
            raise TypeError("normal() received an invalid combination of arguments - expected "
                            "(Tensor mean, Tensor std), (Tensor mean, float std), (float mean, "
                            "Tensor std) or (float mean, float std, tuple of ints size)")
        mean, std = float(_num(mean)), float(_num(std))
        _check_std(std)
        shape = _parse_size((size,), "normal")
        dtype = _float_default(dtype)
        if not dtype.is_floating_point:
            raise _not_implemented("normal_kernel_cpu", dtype)
        g = _random.generator_for(generator, _draw_device(device))
        arr = (_normal01(g, shape, dtype) * std + mean).astype(dtype.np, copy=False)
        return _wrap(arr, requires_grad, out)
    if size is not None:
        raise TypeError("normal() received an invalid combination of arguments - a size is "
                        "only accepted with a float mean and a float std")
    if mean_t and not std_t:
        std = float(_num(std))
        _check_std(std)
        if not mean.dtype.is_floating_point:
            raise _not_implemented("normal_kernel_cpu", mean.dtype)
        g = _random.generator_for(generator, mean.device)
        z = _normal01(g, mean._data.shape, mean.dtype)
        arr = (z * std + mean._data).astype(mean._data.dtype, copy=False)
        result = NormalTensorFloat.apply(mean, arr)
    elif std_t and not mean_t:
        mean = float(_num(mean))
        if not std.dtype.is_floating_point:
            raise _not_implemented("normal_kernel_cpu", std.dtype)
        _check_std_tensor(std)
        g = _random.generator_for(generator, std.device)
        z = _normal01(g, std._data.shape, std.dtype)
        arr = (z * std._data + mean).astype(std._data.dtype, copy=False)
        result = NormalFloatTensor.apply(std, arr)
    else:
        if not mean.dtype.is_floating_point:
            raise _not_implemented("normal_kernel_cpu", mean.dtype)
        _check_std_tensor(std)
        try:
            shape = np.broadcast_shapes(mean._data.shape, std._data.shape)
        except ValueError:
            from ember._ops.pointwise import _broadcast_error
            raise _broadcast_error(mean, std) from None
        g = _random.generator_for(generator, mean.device)
        z = _normal01(g, shape, mean.dtype)
        arr = (z * std._data + mean._data).astype(mean._data.dtype, copy=False)
        result = NormalTensorTensor.apply(mean, std, arr)
    return result if out is None else _into(out, result._data)


class Bernoulli(_Sampled):
    _node_name = "BernoulliBackward0"


class _BernoulliScalarP(Function):
    """bernoulli(input, p): torch records a node whose backward is not implemented."""

    _node_name = "torch::autograd::NotImplemented"

    @staticmethod
    def forward(ctx, input, values):
        return _make(values)

    @staticmethod
    def backward(ctx, grad):
        raise RuntimeError("derivative for aten::bernoulli is not implemented")


_P_RANGE_MSG = ("Expected p_in >= 0 && p_in <= 1 to be true, but got false.  (Could this error "
                "message be improved?  If so, please report an enhancement request to PyTorch.)")


def _check_p(p: float) -> float:
    p = float(_num(p))
    if not 0.0 <= p <= 1.0:
        raise RuntimeError(f"bernoulli_ expects p to be in [0, 1], but got p={_num_str(p)}")
    return p


def _check_p_tensor(p: Tensor) -> None:
    if not p.dtype.is_floating_point:
        raise _not_implemented("bernoulli_tensor_cpu_p_", p.dtype)
    d = p._data
    if not bool(((d >= 0) & (d <= 1)).all()):
        raise RuntimeError(_P_RANGE_MSG)


def bernoulli(input: Tensor, p=None, *, generator=None, out=None) -> Tensor:
    """0/1 samples: with probabilities `input` (floating), or with one probability `p` in
    input's shape and dtype."""
    g = _random.generator_for(generator, input.device)
    if p is None:
        _check_p_tensor(input)
        u = g._stream.random(input._data.shape, np.float32)
        values = (u < input._data).astype(input._data.dtype)
        result = Bernoulli.apply(input, values)
    else:
        p = _check_p(p)
        values = (g._stream.random(input._data.shape, np.float32) < p).astype(input._data.dtype)
        result = _BernoulliScalarP.apply(input, values)
    return result if out is None else _into(out, result._data)


class Poisson(_Sampled):
    _node_name = "PoissonBackward0"


def poisson(input: Tensor, generator=None) -> Tensor:
    """Poisson samples with rates `input` (floating), in input's dtype."""
    if not input.dtype.is_floating_point:
        raise _not_implemented("poisson_cpu", input.dtype)
    lam = input._data
    if not bool((lam >= 0).all()):
        raise RuntimeError("invalid Poisson rate, expected rate to be non-negative")
    xp = array_module(lam)
    infinite = xp.isinf(lam)
    g = _random.generator_for(generator, input.device)
    counts = g._stream.poisson(xp.where(infinite, 0, lam).astype(np.float64))
    values = xp.where(infinite, -(2.0 ** 63), counts).astype(lam.dtype)
    return Poisson.apply(input, values)


def multinomial(input: Tensor, num_samples: int, replacement: bool = False, *, generator=None,
                out=None) -> Tensor:
    """Category indices (int64) drawn from each row of weights `input` (1-D or 2-D).

    Without replacement every row's indices are distinct: the categories with the
    num_samples largest keys weight/E (E ~ Exp(1)) win, which is sequential weighted
    sampling without replacement. With replacement each draw is placed on the row's
    normalised cumulative weights by one searchsorted over all rows at once.
    """
    if not _is_int(num_samples):
        raise TypeError(f"multinomial(): argument 'num_samples' (position 2) must be int, not "
                        f"{type(num_samples).__name__}")
    p = input._data
    if not input.dtype.is_floating_point:
        raise RuntimeError(f"multinomial only supports floating-point dtypes for input, got: "
                           f"{_KERNEL_NAME[input.dtype.name]}")
    if p.ndim not in (1, 2):
        raise RuntimeError("prob_dist must be 1 or 2 dim")
    n_cat = p.shape[-1]
    if num_samples <= 0:
        raise RuntimeError("cannot sample n_sample <= 0 samples")
    if not replacement and num_samples > n_cat:
        raise RuntimeError("cannot sample n_sample > prob_dist.size(-1) samples without "
                           "replacement")
    if n_cat == 0:
        raise RuntimeError("aminmax(): cannot compute aminmax over an empty dimension as the "
                           "operation has no identity.")
    xp = array_module(p)
    rows = p.reshape(-1, n_cat)
    if rows.shape[0] == 0:
        result = xp.empty(p.shape[:-1] + (num_samples,), dtype=np.int64)
        return _wrap(result, False, out)
    work = rows.astype(np.float64 if p.dtype == np.float64 else np.float32)
    if not bool((xp.isfinite(work) & (work >= 0)).all()):
        raise RuntimeError("probability tensor contains either `inf`, `nan` or element < 0")
    if not bool((work.sum(axis=1) > 0).all()):
        raise RuntimeError("invalid multinomial distribution (sum of probabilities <= 0)")
    g = _random.generator_for(generator, input.device)
    if replacement:
        cdf = xp.cumsum(work.astype(np.float64), axis=1)
        cdf /= cdf[:, -1:]
        offsets = xp.arange(rows.shape[0], dtype=np.float64)[:, None]
        u = g._stream.random((rows.shape[0], num_samples), np.float64) + offsets
        flat = xp.searchsorted((cdf + offsets).ravel(), u.ravel(), side="right")
        idx = flat.reshape(u.shape) - (offsets * n_cat).astype(np.int64)
        idx = xp.minimum(idx, n_cat - 1)
    else:
        e = g._stream.exponential(work.shape, work.dtype.type)
        with np.errstate(divide="ignore", invalid="ignore"):
            keys = work / e
        keys = xp.where(xp.isnan(keys), -1.0, keys)
        if num_samples < n_cat:
            top = xp.argpartition(-keys, num_samples - 1, axis=1)[:, :num_samples]
        else:
            top = xp.broadcast_to(xp.arange(n_cat), keys.shape)
        order = xp.argsort(-xp.take_along_axis(keys, top, axis=1), axis=1, kind="stable")
        idx = xp.take_along_axis(top, order, axis=1)
    result = idx.astype(np.int64).reshape(p.shape[:-1] + (num_samples,))
    return _wrap(result, False, out)


# ----------------------------------------------------------------- in-place random fills
# Each fill is an in-place op (apply_inplace handles versions, leaves and views) whose node
# carries torch's name and passes a zero gradient to the tensor's previous value.
class _Refill(Function):
    @staticmethod
    def forward(ctx, self_, values):
        return _make(values)

    @staticmethod
    def backward(ctx, grad):
        return zeros_like(grad), None


class Uniform_(_Refill):
    _node_name = "UniformBackward0"


class Normal_(_Refill):
    _node_name = "NormalBackward0"


class BernoulliTensor_(_Refill):
    _node_name = "BernoulliBackward1"


class BernoulliFloat_(_Refill):
    _node_name = "BernoulliBackward2"


class RandomFromTo_(_Refill):
    _node_name = "RandomBackward0"


class RandomTo_(_Refill):
    _node_name = "RandomBackward1"


class Random_(_Refill):
    _node_name = "RandomBackward2"


class Exponential_(_Refill):
    _node_name = "ExponentialBackward0"


class Geometric_(_Refill):
    _node_name = "GeometricBackward0"


class LogNormal_(_Refill):
    _node_name = "LogNormalBackward0"


class Cauchy_(_Refill):
    _node_name = "CauchyBackward0"


def _fill(self: Tensor, node, values) -> Tensor:
    return apply_inplace(self, node.apply, values)


def uniform_(self: Tensor, from_=0, to=1, *, generator=None) -> Tensor:
    """Fill with uniform samples on [from_, to)."""
    dtype = self.dtype
    if not dtype.is_floating_point:
        raise _not_implemented("check_uniform_bounds", dtype)
    lo, hi = float(_num(from_)), float(_num(to))
    fi = _dt.finfo(dtype)
    if not fi.min <= lo <= fi.max:
        raise RuntimeError(f"from is out of bounds for {_CPP_NAME[dtype.name]}")
    if not fi.min <= hi <= fi.max:
        raise RuntimeError(f"to is out of bounds for {_CPP_NAME[dtype.name]}")
    if lo > hi:
        raise RuntimeError(f"uniform_ expects to return a [from, to) range, but found "
                           f"from={_num_str(lo)} > to={_num_str(hi)}")
    if hi - lo > fi.max:
        raise RuntimeError(f"uniform_ expects to-from <= std::numeric_limits<"
                           f"{_KERNEL_NAME[dtype.name]}>::max(), but found to={_num_str(hi)} "
                           f"and from={_num_str(lo)} which result in to-from to exceed the limit")
    g = _random.generator_for(generator, self.device)
    wt = _work_dtype(dtype)
    lo_w, span = float(wt(lo)), float(wt(hi) - wt(lo))  # from, to - from in the work type
    values = (_uniform01(g, self._data.shape, dtype) * span + lo_w).astype(dtype.np)
    return _fill(self, Uniform_, values)


def normal_(self: Tensor, mean=0, std=1, *, generator=None) -> Tensor:
    """Fill with normal samples N(mean, std**2)."""
    std = float(_num(std))
    _check_std(std)
    if not self.dtype.is_floating_point:
        raise _not_implemented("normal_kernel_cpu", self.dtype)
    g = _random.generator_for(generator, self.device)
    values = (_normal01(g, self._data.shape, self.dtype) * std + float(_num(mean)))
    return _fill(self, Normal_, values.astype(self._data.dtype, copy=False))


def bernoulli_(self: Tensor, p=0.5, *, generator=None) -> Tensor:
    """Fill with 0/1 samples that are 1 with probability p (a number, or a tensor that
    broadcasts to self's shape)."""
    g = _random.generator_for(generator, self.device)
    shape = self._data.shape
    if isinstance(p, Tensor):
        _check_p_tensor(p)
        probs = p.expand(shape)._data if p._data.shape != shape else p._data
        values = g._stream.random(shape, np.float32) < probs
        return _fill(self, BernoulliTensor_, values.astype(self._data.dtype))
    p = _check_p(p)
    values = g._stream.random(shape, np.float32) < p
    return _fill(self, BernoulliFloat_, values.astype(self._data.dtype))


def random_(self: Tensor, *args, generator=None, **kwargs) -> Tensor:
    """Fill with integers: random_() over [0, 2**mantissa] (floats) or [0, max] (ints),
    random_(to) over [0, to), random_(from, to) over [from, to) (to=None: up to the max)."""
    if len(args) > 2 or set(kwargs) - {"to", "from_"}:
        raise TypeError("random_() received an invalid combination of arguments")
    if "from_" in kwargs:
        args = (kwargs.pop("from_"),) + args
    if "to" in kwargs:
        args = (args[0] if args else 0, kwargs.pop("to"))
    g = _random.generator_for(generator, self.device)
    shape, dtype = self._data.shape, self.dtype
    if not args:
        node, low, high = Random_, 0, None
    elif len(args) == 1:
        node, low, high = RandomTo_, 0, _int_bound(args[0], "random_")
    else:
        node = RandomFromTo_
        low = _int_bound(args[0], "random_")
        high = None if args[1] is None else _int_bound(args[1], "random_")
    return _fill(self, node, _random_ints(g, low, high, shape, dtype))


def _continuous_only(dtype: _dt.dtype, name: str, cpp: bool = False) -> None:
    if not dtype.is_floating_point:
        shown = _CPP_NAME[dtype.name] if cpp else _KERNEL_NAME[dtype.name]
        raise RuntimeError(f"{name} distribution is a continuous probability distribution. "
                           f"dtype must be a floating point but you specified {shown}")


def exponential_(self: Tensor, lambd=1, *, generator=None) -> Tensor:
    """Fill with exponential samples of rate `lambd`."""
    lambd = float(_num(lambd))
    if not lambd > 0.0:
        raise RuntimeError(f"exponential_ expects lambda > 0.0, but found "
                           f"lambda={_num_str(lambd)}")
    _continuous_only(self.dtype, "Exponential")
    g = _random.generator_for(generator, self.device)
    e = g._stream.exponential(self._data.shape, _work_dtype(self.dtype))
    return _fill(self, Exponential_, (e * (1.0 / lambd)).astype(self._data.dtype, copy=False))


def geometric_(self: Tensor, p, *, generator=None) -> Tensor:
    """Fill with geometric samples: trials up to and including the first success (>= 1)."""
    p = float(_num(p))
    if not 0.0 < p < 1.0:
        raise RuntimeError(f"geometric_ expects p to be in (0, 1), but got p={_num_str(p)}")
    if self.dtype is _dt.bool:
        raise _not_implemented("geometric_cpu", self.dtype)
    g = _random.generator_for(generator, self.device)
    wt = np.float64 if self.dtype is _dt.float64 else np.float32
    u = 1.0 - g._stream.random(self._data.shape, wt)  # in (0, 1]
    xp = array_module(u)
    k = xp.ceil(xp.log(u) / math.log1p(-p))
    k = xp.maximum(k, 1.0)
    with np.errstate(invalid="ignore"):
        return _fill(self, Geometric_, k.astype(self._data.dtype))


def log_normal_(self: Tensor, mean=1, std=2, *, generator=None) -> Tensor:
    """Fill with exp(N(mean, std**2)) samples."""
    std = float(_num(std))
    if not std > 0.0:
        raise RuntimeError(f"log_normal_ expects std > 0.0, but found std={_num_str(std)}")
    if not self.dtype.is_floating_point:
        raise _not_implemented("log_normal_cpu", self.dtype)
    g = _random.generator_for(generator, self.device)
    z = _normal01(g, self._data.shape, self.dtype)
    xp = array_module(z)
    with np.errstate(over="ignore"):
        values = xp.exp(z * std + float(_num(mean)))
    return _fill(self, LogNormal_, values.astype(self._data.dtype, copy=False))


def cauchy_(self: Tensor, median=0, sigma=1, *, generator=None) -> Tensor:
    """Fill with Cauchy samples: median + sigma * tan(pi * (u - 1/2))."""
    sigma = float(_num(sigma))
    if not sigma > 0.0:
        raise RuntimeError(f"cauchy_ expects sigma > 0.0, but found sigma={_num_str(sigma)}")
    _continuous_only(self.dtype, "Cauchy", cpp=True)
    g = _random.generator_for(generator, self.device)
    u = g._stream.random(self._data.shape, _work_dtype(self.dtype))
    xp = array_module(u)
    values = xp.tan(math.pi * (u - 0.5)) * sigma + float(_num(median))
    return _fill(self, Cauchy_, values.astype(self._data.dtype, copy=False))
