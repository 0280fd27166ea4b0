"""dtype objects and torch's type-promotion rules.

A `dtype` pairs torch's name with the NumPy dtype that stores it. Promotion
follows `torch.result_type`, not NumPy: tensors with dimensions outrank 0-dim
tensors, which outrank Python scalars, and a lower-priority operand only
matters when it is of a higher category (bool < integer < floating).
"""
from __future__ import annotations

import ml_dtypes
import numpy as np

__all__ = [
    "dtype", "float16", "bfloat16", "float32", "float64", "int8", "int16", "int32",
    "int64", "uint8", "bool", "half", "float", "double", "short", "int", "long",
    "get_default_dtype", "set_default_dtype", "promote_types", "finfo", "iinfo",
    "can_cast",
]

_builtin_bool = bool
_builtin_float = float
_builtin_int = int


class dtype:
    """A tensor element type; compares by identity like torch's dtypes."""

    __slots__ = ("name", "np", "itemsize", "is_floating_point", "is_signed", "is_complex",
                 "_category")

    def __init__(self, name: str, np_dtype, category: _builtin_int):
        self.name = name
        self.np = np.dtype(np_dtype)
        self.itemsize = self.np.itemsize
        self.is_floating_point = category == 2
        self.is_complex = False
        self.is_signed = name not in ("uint8", "bool")
        self._category = category  # 0 bool, 1 integer, 2 floating

    def __repr__(self) -> str:
        return "torch." + self.name

    def __reduce__(self):
        return self.name

    def to_real(self) -> dtype:
        return self

    def to_complex(self):
        raise NotImplementedError("ember has no complex dtypes yet")


float16 = half = dtype("float16", np.float16, 2)
bfloat16 = dtype("bfloat16", ml_dtypes.bfloat16, 2)
float32 = float = dtype("float32", np.float32, 2)
float64 = double = dtype("float64", np.float64, 2)
int8 = dtype("int8", np.int8, 1)
int16 = short = dtype("int16", np.int16, 1)
int32 = int = dtype("int32", np.int32, 1)
int64 = long = dtype("int64", np.int64, 1)
uint8 = dtype("uint8", np.uint8, 1)
bool = dtype("bool", np.bool_, 0)

_ALL = (float16, bfloat16, float32, float64, int8, int16, int32, int64, uint8, bool)
# NumPy dtype -> ember dtype; NumPy types ember lacks map to torch's nearest choice.
_FROM_NP = {d.np: d for d in _ALL}
_FROM_NP.update({np.dtype(np.uint16): int32, np.dtype(np.uint32): int64,
                 np.dtype(np.uint64): int64})
_BY_NAME = {d.name: d for d in _ALL}


def from_numpy_dtype(np_dtype) -> dtype:
    """The ember dtype for a NumPy dtype, with a clear error for unsupported ones."""
    try:
        return _FROM_NP[np.dtype(np_dtype)]
    except (KeyError, TypeError):
        raise TypeError(f"can't convert np.ndarray of type {np.dtype(np_dtype)}. The only "
                        "supported types are: float64, float32, float16, bfloat16, int64, "
                        "int32, int16, int8, uint8, and bool.") from None


_default = [float32]


def get_default_dtype() -> dtype:
    return _default[0]


def set_default_dtype(d: dtype) -> None:
    """Set the dtype Python floats and float factories produce (float32 or float64 ...)."""
    if not isinstance(d, dtype) or not d.is_floating_point:
        raise TypeError(f"only floating-point types are supported as the default type, got {d}")
    _default[0] = d


def promote_types(type1: dtype, type2: dtype) -> dtype:
    """The smallest dtype both can be cast to, by torch's lattice."""
    if type1 is type2:
        return type1
    c1, c2 = type1._category, type2._category
    if c1 != c2:
        return type1 if c1 > c2 else type2
    if c1 == 2:
        if {type1, type2} == {float16, bfloat16}:
            return float32
        return type1 if type1.itemsize >= type2.itemsize else type2
    return _FROM_NP[np.promote_types(type1.np, type2.np)]


def _scalar_dtype(value) -> dtype:
    """dtype a Python scalar stands for when it is an operand (torch's "wrapped number")."""
    if isinstance(value, _builtin_bool):
        return bool
    if isinstance(value, _builtin_int):
        return int64
    if isinstance(value, _builtin_float):
        return _default[0]
    if isinstance(value, complex):
        raise NotImplementedError("ember has no complex dtypes yet")
    if isinstance(value, np.generic):
        return _scalar_dtype(value.item())
    raise TypeError(f"unsupported operand type {type(value).__name__}")


def _combine(higher: dtype | None, lower: dtype | None) -> dtype | None:
    # A higher-priority result stands unless the lower one is of a higher category.
    if higher is None:
        return lower
    if lower is None or higher._category >= lower._category:
        return higher
    return promote_types(higher, lower)


def result_type_of(*operands) -> dtype:
    """torch.result_type over tensors and Python scalars (any number of them)."""
    from ember._tensor import Tensor

    dim_result = zero_result = scalar_result = None
    for op in operands:
        if isinstance(op, Tensor):
            d = op.dtype
            if op._data.ndim:
                dim_result = d if dim_result is None else promote_types(dim_result, d)
            else:
                zero_result = d if zero_result is None else promote_types(zero_result, d)
        elif op is not None:
            d = _scalar_dtype(op)
            scalar_result = d if scalar_result is None else promote_types(scalar_result, d)
    return _combine(dim_result, _combine(zero_result, scalar_result))


def can_cast(from_: dtype, to: dtype) -> _builtin_bool:
    """torch.can_cast: same-kind casting (no float -> int, no number -> bool)."""
    return from_._category <= to._category


class finfo:
    """Machine limits of a floating dtype, as torch.finfo reports them."""

    def __init__(self, type: dtype | None = None):
        type = _default[0] if type is None else type
        if not type.is_floating_point:
            raise TypeError(f"torch.finfo() requires a floating point input type. Use "
                            f"torch.iinfo to handle '{type.name}'")
        info = ml_dtypes.finfo(type.np) if type is bfloat16 else np.finfo(type.np)
        self.bits = type.itemsize * 8
        self.eps = _builtin_float(info.eps)
        self.max = _builtin_float(info.max)
        self.min = _builtin_float(info.min)
        self.tiny = self.smallest_normal = _builtin_float(info.tiny)
        self.resolution = 10.0 ** -_builtin_int(info.precision)
        self.dtype = type.name

    def __repr__(self) -> str:
        return (f"finfo(resolution={self.resolution:g}, min={self.min:g}, max={self.max:g}, "
                f"eps={self.eps:g}, smallest_normal={self.tiny:g}, tiny={self.tiny:g}, "
                f"dtype={self.dtype})")


class iinfo:
    """Limits of an integer dtype, as torch.iinfo reports them."""

    def __init__(self, type: dtype):
        if type.is_floating_point:
            raise TypeError(f"torch.iinfo() requires an integer input type. Use torch.finfo "
                            f"to handle '{type.name}'")
        if type is bool:
            self.bits, self.min, self.max = 8, 0, 1
        else:
            info = np.iinfo(type.np)
            self.bits = info.bits
            self.min, self.max = _builtin_int(info.min), _builtin_int(info.max)
        self.dtype = type.name

    def __repr__(self) -> str:
        return f"iinfo(min={self.min}, max={self.max}, dtype={self.dtype})"
