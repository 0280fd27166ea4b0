"""Elementwise ops with broadcasting, torch's type promotion, and their backward formulas."""
from __future__ import annotations

import numpy as np

from ember import _dtype as _dt
from ember._device import as_device, to_device
from ember._ops.inplace import apply_inplace
from ember._tensor import Tensor, _make
from ember.autograd.function import Function

_ndarray = np.ndarray


# ----------------------------------------------------------------- operand helpers
def _operands(a, b):
    """(array_a, array_b) ready for a NumPy/CuPy ufunc that yields torch's result dtype.

    Either side may be a Python scalar; it stays a Python scalar (NumPy treats it
    as "weak", as torch does) unless its category is higher than the tensor's.
    """
    if isinstance(a, Tensor):
        x = a._data
        if isinstance(b, Tensor):
            y = b._data
            if x.dtype == y.dtype:
                if type(x) is not type(y):
                    _check_same_device(a, b)
                return x, y
            _check_same_device(a, b)
            rt = _dt.result_type_of(a, b).np
            return (x if x.dtype == rt else x.astype(rt)), (y if y.dtype == rt else y.astype(rt))
        return _tensor_and_scalar(x, b, a.dtype)
    y, x = _tensor_and_scalar(b._data, a, b.dtype)
    return x, y


def _tensor_and_scalar(x, s, dtype):
    if isinstance(s, Tensor):  # unreachable guard for clarity of the two branches
        raise TypeError
    if isinstance(s, np.generic):
        s = s.item()
    cat = dtype._category
    if isinstance(s, bool):
        return x, s
    if isinstance(s, int):
        if cat == 0:
            return x.astype(np.int64), s
        return x, s
    if isinstance(s, float):
        if cat < 2:
            return x.astype(_dt.get_default_dtype().np), s
        return x, s
    raise TypeError(f"unsupported operand type(s): 'Tensor' and '{type(s).__name__}'")


def _check_same_device(a: Tensor, b: Tensor) -> None:
    da, db = a.device, b.device
    # torch lets a 0-dim CPU tensor take part in a CUDA op (it is treated as a scalar).
    if da != db and not (a._data.ndim == 0 and da.type == "cpu") and not (
            b._data.ndim == 0 and db.type == "cpu"):
        raise RuntimeError(f"Expected all tensors to be on the same device, but found at "
                           f"least two devices, {da} and {db}!")


def _scalar_tensor(value, like: Tensor) -> Tensor:
    """A Python scalar as a 0-dim tensor of its torch dtype, on `like`'s device."""
    if isinstance(value, Tensor):
        return value
    d = _dt._scalar_dtype(value)
    arr = np.asarray(value, dtype=d.np)
    return _make(arr if like.is_cpu else to_device(arr, like.device))


def _float_array(a: Tensor):
    """a's array, cast to the default float dtype if it is not floating (torch's rule for
    ops like exp and sqrt on integer tensors)."""
    x = a._data
    if a.dtype._category < 2:
        return x.astype(_dt.get_default_dtype().np)
    return x


def _broadcast_error(a, b) -> RuntimeError:
    sa = list(a.shape) if isinstance(a, Tensor) else []
    sb = list(b.shape) if isinstance(b, Tensor) else []
    for i in range(1, max(len(sa), len(sb)) + 1):
        da = sa[-i] if i <= len(sa) else 1
        db = sb[-i] if i <= len(sb) else 1
        if da != db and da != 1 and db != 1:
            dim = max(len(sa), len(sb)) - i
            return RuntimeError(f"The size of tensor a ({da}) must match the size of tensor b "
                                f"({db}) at non-singleton dimension {dim}")
    return RuntimeError(f"shapes {sa} and {sb} cannot be broadcast")


def _binary(ufunc, a, b):
    x, y = _operands(a, b)
    try:
        return ufunc(x, y)
    except ValueError:
        raise _broadcast_error(a, b) from None


# ----------------------------------------------------------------- arithmetic
class Add(Function):
    _node_name = "AddBackward0"

    @staticmethod
    def forward(ctx, a, b, alpha=1):
        ctx.alpha = alpha
        if alpha != 1:
            b = b * alpha if not isinstance(b, Tensor) else _make(_operands(b, alpha)[0] * alpha)
        return _make(_binary(np.add, a, b))

    @staticmethod
    def backward(ctx, grad):
        return grad, (grad if ctx.alpha == 1 else grad * ctx.alpha), None


def add(input, other, *, alpha=1, out=None) -> Tensor:
    """input + alpha * other, broadcast."""
    return Add.apply(input, other, alpha) if alpha != 1 else Add.apply(input, other)


def add_(input, other, *, alpha=1) -> Tensor:
    return apply_inplace(input, add, other, alpha=alpha)


class Sub(Function):
    _node_name = "SubBackward0"

    @staticmethod
    def forward(ctx, a, b, alpha=1):
        ctx.alpha = alpha
        if alpha != 1:
            b = b * alpha if not isinstance(b, Tensor) else _make(_operands(b, alpha)[0] * alpha)
        return _make(_binary(np.subtract, a, b))

    @staticmethod
    def backward(ctx, grad):
        return grad, (-grad if ctx.alpha == 1 else grad * -ctx.alpha), None


def sub(input, other, *, alpha=1, out=None) -> Tensor:
    """input - alpha * other, broadcast."""
    if isinstance(input, Tensor) and input.dtype is _dt.bool or (
            isinstance(other, Tensor) and other.dtype is _dt.bool):
        raise RuntimeError("Subtraction, the `-` operator, with a bool tensor is not supported. "
                           "If you are trying to invert a mask, use the `~` or `logical_not()` "
                           "operator instead.")
    return Sub.apply(input, other, alpha) if alpha != 1 else Sub.apply(input, other)


def sub_(input, other, *, alpha=1) -> Tensor:
    return apply_inplace(input, sub, other, alpha=alpha)


def rsub(input, other, *, alpha=1) -> Tensor:
    """other - alpha * input (what `2 - t` calls)."""
    return sub(_scalar_tensor(other, input), input, alpha=alpha)


class Mul(Function):
    _node_name = "MulBackward0"

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a if isinstance(a, Tensor) else None,
                              b if isinstance(b, Tensor) else None)
        ctx.scalars = (a, b)
        return _make(_binary(np.multiply, a, b))

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        sa, sb = ctx.scalars
        ga = grad * (b if b is not None else sb) if ctx.needs_input_grad[0] else None
        gb = grad * (a if a is not None else sa) if ctx.needs_input_grad[1] else None
        return ga, gb


def mul(input, other, *, out=None) -> Tensor:
    """input * other, broadcast."""
    return Mul.apply(input, other)


def mul_(input, other) -> Tensor:
    return apply_inplace(input, mul, other)


class Div(Function):
    _node_name = "DivBackward0"

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a if isinstance(a, Tensor) else None,
                              b if isinstance(b, Tensor) else None)
        ctx.scalar_b = b
        x, y = _operands(a, b)
        if x.dtype.kind in "biu" and (not isinstance(y, float)):
            x = x.astype(_dt.get_default_dtype().np)  # true division of integers is float
        try:
            return _make(np.true_divide(x, y))
        except ValueError:
            raise _broadcast_error(a, b) from None

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        if b is None:
            return grad / ctx.scalar_b, None
        ga = grad / b if ctx.needs_input_grad[0] else None
        gb = -grad * a / (b * b) if ctx.needs_input_grad[1] else None
        return ga, gb


def div(input, other, *, rounding_mode=None, out=None) -> Tensor:
    """input / other; rounding_mode 'trunc' or 'floor' rounds the quotient."""
    if rounding_mode is None:
        return Div.apply(input, other)
    if rounding_mode == "floor":
        return floor_divide(input, other)
    if rounding_mode == "trunc":
        q = Div.apply(input, other)
        rt = _dt.result_type_of(input, other)
        return trunc(q) if rt.is_floating_point else to_dtype(trunc(q), rt)
    raise RuntimeError(f"div expected rounding_mode to be one of None, 'trunc', or 'floor' but "
                       f"found '{rounding_mode}'")


def div_(input, other, *, rounding_mode=None) -> Tensor:
    return apply_inplace(input, div, other, rounding_mode=rounding_mode)


class Neg(Function):
    _node_name = "NegBackward0"

    @staticmethod
    def forward(ctx, a):
        if a.dtype is _dt.bool:
            raise RuntimeError("Negation, the `-` operator, on a bool tensor is not supported. "
                               "If you are trying to invert a mask, use the `~` or "
                               "`logical_not()` operator instead.")
        return _make(np.negative(a._data))

    @staticmethod
    def backward(ctx, grad):
        return -grad


def neg(input, *, out=None) -> Tensor:
    return Neg.apply(input)


def neg_(input) -> Tensor:
    return apply_inplace(input, neg)


class Exp(Function):
    _node_name = "ExpBackward0"

    @staticmethod
    def forward(ctx, a):
        out = _make(np.exp(_float_array(a)))
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        return grad * out


def exp(input, *, out=None) -> Tensor:
    return Exp.apply(input)


def exp_(input) -> Tensor:
    return apply_inplace(input, exp)


# ----------------------------------------------------------------- copies and casts
class ToCopy(Function):
    _node_name = "ToCopyBackward0"

    @staticmethod
    def forward(ctx, a, dtype, device):
        ctx.src_device = a.device
        arr = a._data
        if device is not None and device != a.device:
            arr = to_device(arr, device)
        if dtype is not None and arr.dtype != dtype.np:
            arr = arr.astype(dtype.np)
        elif arr is a._data:
            arr = arr.copy()
        return _make(arr)

    @staticmethod
    def backward(ctx, grad):
        if grad.device != ctx.src_device:
            grad = to(grad, ctx.src_device)
        return grad, None, None


def to_dtype(input: Tensor, dtype: _dt.dtype, copy: bool = False) -> Tensor:
    """input cast to `dtype` (input itself when it already has it and copy is False)."""
    if input.dtype is dtype and not copy:
        return input
    return ToCopy.apply(input, dtype, None)


def to(input: Tensor, *args, dtype=None, device=None, non_blocking: bool = False,
       copy: bool = False, memory_format=None) -> Tensor:
    """Tensor.to: to(dtype), to(device[, dtype]), to(other) and the keyword forms."""
    for a in args:
        if isinstance(a, _dt.dtype):
            dtype = a
        elif isinstance(a, Tensor):
            dtype, device = a.dtype, a.device
        elif isinstance(a, bool):
            non_blocking = a
        elif a is not None:
            device = a
    device = as_device(device) if device is not None else None
    if device is not None and device.type == "cuda" and device.index is None:
        device = as_device("cuda:0")
    same_dev = device is None or device == input.device
    same_dtype = dtype is None or dtype is input.dtype
    if same_dev and same_dtype and not copy:
        return input
    return ToCopy.apply(input, dtype, None if same_dev else device)


class Clone(Function):
    _node_name = "CloneBackward0"

    @staticmethod
    def forward(ctx, a):
        return _make(a._data.copy())

    @staticmethod
    def backward(ctx, grad):
        return grad


def clone(input, *, memory_format=None) -> Tensor:
    return Clone.apply(input)


class Fill(Function):
    _node_name = "FillBackward0"

    @staticmethod
    def forward(ctx, a, value):
        xp = a._data.__array_namespace__() if not a.is_cpu else np
        v = value._data if isinstance(value, Tensor) else value
        return _make(xp.full(a._data.shape, v, dtype=a._data.dtype))

    @staticmethod
    def backward(ctx, grad):
        return grad * 0, None


def fill_(input: Tensor, value) -> Tensor:
    """Set every element to `value` (a number or a 0-dim tensor)."""
    if isinstance(value, Tensor) and value._data.ndim:
        raise RuntimeError(f"fill_ only supports 0-dimension value tensor but got tensor with "
                           f"{value._data.ndim} dimensions.")
    return apply_inplace(input, Fill.apply, value)


class Copy(Function):
    _node_name = "CopyBackward0"

    @staticmethod
    def forward(ctx, dst, src):
        ctx.src_meta = (src.device, src.dtype)
        arr = src._data
        if src.device != dst.device:
            arr = to_device(arr, dst.device)
        xp = np if dst.is_cpu else arr.__array_namespace__()
        try:
            out = xp.broadcast_to(arr, dst._data.shape)
        except ValueError:
            raise RuntimeError(f"The size of tensor a ({dst._data.shape[-1] if dst._data.ndim else 1}) must match the "
                               f"size of tensor b ({arr.shape[-1] if arr.ndim else 1}) at non-singleton "
                               f"dimension {dst._data.ndim - 1}") from None
        return _make(out.astype(dst._data.dtype))

    @staticmethod
    def backward(ctx, grad):
        device, dtype = ctx.src_meta
        g = grad if grad.device == device else to(grad, device)
        return grad * 0, g


def copy_(input: Tensor, src) -> Tensor:
    """Copy src's values (broadcast, cast to input's dtype, moved across devices) into input."""
    if not isinstance(src, Tensor):
        src = _scalar_tensor(src, input)
    return apply_inplace(input, Copy.apply, src)
