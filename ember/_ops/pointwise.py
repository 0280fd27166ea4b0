"""Elementwise ops with broadcasting, torch's type promotion, and their backward formulas.

Every op is a `Function`: forward computes on backend arrays, backward is written
with ember ops on the op's input/output Tensors (so create_graph=True can
differentiate it again). Binary operands go through `_operands`, which yields
arrays (or "weak" Python scalars) already in torch's result dtype; unary float ops
on bool/integer tensors compute in the default float dtype (`_float_array`);
half-precision work that chains several array operations runs in float32 and is
rounded once at the end (`_opmath`), as torch's kernels do.

NumPy reports overflow and invalid values (log(-1), 0/0, exp(1000) ...) with
RuntimeWarnings; torch produces the same inf/nan silently. Ops whose finite inputs
commonly produce them run their kernel through `_silent`; add, sub, mul and the
comparisons (the cheapest, hottest ops) do not, so inf * 0 or a float16 overflow
there can still warn.
"""
from __future__ import annotations

import math
import operator
import warnings

import numpy as np

from ember import _dtype as _dt
from ember._device import array_module as _xp
from ember._device import as_device, to_device
from ember._ops import _erf
from ember._ops.inplace import _type_name, apply_inplace
from ember._tensor import Tensor, _make
from ember.autograd.function import Function
from ember.autograd.grad_mode import _state

__all__ = [
    # arithmetic
    "add", "sub", "subtract", "rsub", "mul", "multiply", "div", "divide", "true_divide",
    "floor_divide", "remainder", "fmod", "pow", "float_power", "neg", "negative", "neg_",
    "negative_", "abs", "absolute", "abs_", "sign", "sgn", "reciprocal", "reciprocal_",
    "square", "square_",
    # exponentials, logarithms, powers
    "exp", "exp_", "exp2", "exp2_", "log", "log_", "log2", "log2_", "log10", "log10_",
    "log1p", "log1p_", "expm1", "expm1_", "sqrt", "sqrt_", "rsqrt", "rsqrt_",
    # trigonometric and hyperbolic
    "sin", "sin_", "cos", "cos_", "tan", "tan_", "asin", "asin_", "acos", "acos_", "atan",
    "atan_", "arcsin", "arcsin_", "arccos", "arccos_", "arctan", "arctan_", "atan2",
    "arctan2", "sinh", "sinh_", "cosh", "cosh_", "tanh", "tanh_", "asinh", "asinh_", "acosh",
    "acosh_", "atanh", "atanh_", "arcsinh", "arcsinh_", "arccosh", "arccosh_", "arctanh",
    "arctanh_",
    # activations and special functions
    "sigmoid", "sigmoid_", "relu", "relu_", "erf", "erf_", "erfc", "erfc_", "erfinv",
    # rounding
    "floor", "floor_", "ceil", "ceil_", "round", "round_", "trunc", "trunc_", "fix", "fix_",
    "frac", "frac_",
    # clamping and selection
    "clamp", "clamp_", "clip", "clip_", "clamp_min", "clamp_min_", "clamp_max", "clamp_max_",
    "where", "maximum", "minimum", "fmax", "fmin",
    # fused
    "lerp", "addcmul", "addcdiv", "nan_to_num", "nan_to_num_",
    # comparisons and tests
    "eq", "ne", "lt", "le", "gt", "ge", "greater", "greater_equal", "less", "less_equal",
    "not_equal", "equal", "allclose", "isclose", "isnan", "isinf", "isfinite", "isposinf",
    "isneginf",
    # logical and bitwise
    "logical_and", "logical_or", "logical_xor", "logical_not", "bitwise_and", "bitwise_or",
    "bitwise_xor", "bitwise_not", "bitwise_left_shift", "bitwise_right_shift",
    # copies
    "clone", "fill", "fill_", "zero_",
]

_ndarray = np.ndarray
_builtin_abs = abs  # `abs`, `round` and `pow` are redefined below as torch's functions
_LN2 = math.log(2.0)
_LN10 = math.log(10.0)
_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)
_SQRT_PI_OVER_TWO = math.sqrt(math.pi) / 2.0
_HALF = frozenset((np.dtype(np.float16), _dt.bfloat16.np))
_BF16 = _dt.bfloat16.np
_INT_LIMITS = {np.dtype(t): (int(np.iinfo(t).min), int(np.iinfo(t).max))
               for t in (np.int8, np.int16, np.int32, np.int64, np.uint8)}
# The C++ names torch's messages use.
_C_INT = {"int8": "int8_t", "uint8": "uint8_t", "int16": "int16_t", "int32": "int",
          "int64": "int64_t"}
_C_NAME = {"float32": "float", "float64": "double", "float16": "c10::Half",
           "bfloat16": "c10::BFloat16", "int64": "long int", "int32": "int",
           "int16": "short int", "int8": "signed char", "uint8": "unsigned char", "bool": "bool"}


# ----------------------------------------------------------------- operand helpers
try:  # the switch np.errstate flips, without np.errstate's per-call overhead
    from numpy._core.umath import _extobj_contextvar, _make_extobj

    _QUIET = _make_extobj(all="ignore")

    def _silent(fn, *args):
        """fn(*args) with NumPy's floating-point warnings off."""
        token = _extobj_contextvar.set(_QUIET)
        try:
            return fn(*args)
        finally:
            _extobj_contextvar.reset(token)
except ImportError:  # a NumPy without that internal: the public context manager
    def _silent(fn, *args):
        """fn(*args) with NumPy's floating-point warnings off."""
        with np.errstate(all="ignore"):
            return fn(*args)




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
    cls = s.__class__
    if cls is float:
        if dtype._category < 2:
            return x.astype(_dt.get_default_dtype().np), s
        if x.dtype == _BF16:  # ml_dtypes does not treat Python floats as weak
            return x, np.asarray(s, _BF16)
        return x, s
    if cls is int:
        cat = dtype._category
        if cat == 2:
            return x, s
        if cat == 0:
            x = x.astype(np.int64)
        return x, _wrap_int(s, x.dtype)
    if cls is bool:
        return x, s
    if isinstance(s, _ndarray) and s.dtype != object:  # torch takes an array as a tensor
        return _operands(_make(x), _make(np.asarray(s, dtype=_dt.from_numpy_dtype(s.dtype).np)))
    return _tensor_and_scalar(x, _as_number(s), dtype)


def _as_number(s):
    """A Python bool/int/float for a scalar operand (NumPy scalars, int subclasses ...)."""
    if isinstance(s, np.generic) and s.dtype.kind in "biuf":
        return s.item()
    if isinstance(s, bool):
        return bool(s)
    if isinstance(s, int):
        return int(s)
    if isinstance(s, float):
        return float(s)
    raise TypeError(f"unsupported operand type(s): 'Tensor' and '{type(s).__name__}'")


def _wrap_int(s: int, np_dtype) -> int:
    """A Python int converted to an integer dtype the way torch does (two's-complement wrap)."""
    lo, hi = _INT_LIMITS[np_dtype]
    if lo <= s <= hi:
        return s
    return (s - lo) % (hi - lo + 1) + lo


def _checked_int(s, d: _dt.dtype) -> int:
    """A Python int converted to integer dtype `d`, refusing values that do not fit."""
    lo, hi = _INT_LIMITS[d.np]
    if not min(lo, -(hi + 1) // 2) <= s <= hi:  # unsigned types also take small negatives
        raise RuntimeError(f"value cannot be converted to type {_C_INT[d.name]} without "
                           "overflow")
    return _wrap_int(int(s), d.np)


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


def _array_in(v, d: _dt.dtype, xp):
    """Operand `v` (tensor or Python scalar) as an array of dtype `d` (scalars checked)."""
    if isinstance(v, Tensor):
        x = v._data
        return x if x.dtype == d.np else x.astype(d.np)
    v = _as_number(v)
    if d._category == 1 and not isinstance(v, bool):
        v = _checked_int(v, d)
    return xp.asarray(v, dtype=d.np)


def _float_array(a: Tensor):
    """a's array, cast to the default float dtype if it is not floating (torch's rule for
    ops like exp and sqrt on integer tensors)."""
    x = a._data
    if a.dtype._category < 2:
        return x.astype(_dt.get_default_dtype().np)
    return x


def _opmath(x):
    """float16/bfloat16 arrays widened to float32 for multi-step kernels."""
    return x.astype(np.float32) if x.dtype in _HALF else x


def _broadcast_error(*operands) -> RuntimeError:
    shapes = [list(t.shape) for t in operands if isinstance(t, Tensor)]
    acc = shapes[0] if shapes else []
    for sb in shapes[1:]:
        sa = acc
        n = max(len(sa), len(sb))
        merged = []
        for i in range(n, 0, -1):
            da = sa[-i] if i <= len(sa) else 1
            db = sb[-i] if i <= len(sb) else 1
            if da != db and da != 1 and db != 1:
                return RuntimeError(f"The size of tensor a ({da}) must match the size of tensor "
                                    f"b ({db}) at non-singleton dimension {n - i}")
            merged.append(da if db == 1 else db)
        acc = merged
    return RuntimeError(f"shapes {shapes} cannot be broadcast together")


def _binary(ufunc, a, b):
    """ufunc(a, b) in torch's result dtype, with torch's broadcasting error."""
    if a.__class__ is Tensor and b.__class__ is Tensor and \
            a._data.dtype == b._data.dtype and a._data.__class__ is b._data.__class__:
        x, y = a._data, b._data  # the common case, without _operands' general path
    else:
        x, y = _operands(a, b)
    try:
        return ufunc(x, y)
    except ValueError:
        raise _broadcast_error(a, b) from None


def _into(out, result: Tensor, name: str) -> Tensor:
    """Write an op's result into its `out=` tensor, resizing it the way torch does."""
    if not isinstance(out, Tensor):
        raise TypeError(f"{name}(): argument 'out' must be Tensor, not {type(out).__name__}")
    if result.grad_fn is not None:
        raise RuntimeError(f"{name}(): functions with out=... arguments don't support automatic "
                           "differentiation, but one of the arguments requires grad.")
    if not _dt.can_cast(result.dtype, out.dtype):
        raise RuntimeError(f"result type {_type_name(result.dtype)} can't be cast to the "
                           f"desired output type {_type_name(out.dtype)}")
    arr = result._data
    if arr.shape != out._data.shape:
        if out._data.size:
            warnings.warn(
                f"An output with one or more elements was resized since it had shape "
                f"{list(out._data.shape)}, which does not match the required output shape "
                f"{list(arr.shape)}. This behavior is deprecated, and in a future PyTorch "
                "release outputs will not be resized unless they have zero elements. You can "
                "explicitly reuse an out tensor t by resizing it, inplace, to zero elements "
                "with t.resize_(0).", UserWarning, stacklevel=3)
        out._data = _xp(arr).empty(arr.shape, out._data.dtype)
    out._data[...] = arr
    out._version_counter[0] += 1
    return out


def _need_tensor(v, fname: str, argname: str, position: int) -> None:
    if not isinstance(v, Tensor):
        raise TypeError(f"{fname}(): argument '{argname}' (position {position}) must be Tensor, "
                        f"not {type(v).__name__}")


def _not_implemented(kernel: str, d: _dt.dtype) -> NotImplementedError:
    return NotImplementedError(f"\"{kernel}\" not implemented for '{_type_name(d)}'")


def _zeros(grad: Tensor) -> Tensor:
    """Zeros shaped like `grad` (the derivative of a piecewise-constant op)."""
    g = grad._data
    return _make(_xp(g).zeros(g.shape, g.dtype))


# ----------------------------------------------------------------- arithmetic
def _result_np(x, y):
    """The dtype of the operand pair from `_operands` (one of them may be a Python scalar)."""
    return x.dtype if hasattr(x, "dtype") else y.dtype


def _scaled(ufunc, a, b, alpha):
    """ufunc(a, alpha * b) in torch's result dtype."""
    x, y = _operands(a, b)
    rt = _result_np(x, y)
    try:
        out = ufunc(x, y * alpha)
    except ValueError:
        raise _broadcast_error(a, b) from None
    return out if out.dtype == rt else out.astype(rt)


def _check_alpha(a, b, alpha) -> None:
    rt = _dt.result_type_of(a, b)
    if isinstance(alpha, bool):
        if rt is not _dt.bool:
            raise RuntimeError("Boolean alpha only supported for Boolean results.")
    elif isinstance(alpha, float) and rt._category < 2:
        raise RuntimeError("For integral input tensors, argument alpha must not be a floating "
                           "point number.")


class Add(Function):
    _node_name = "AddBackward0"

    alpha = 1  # set on the node only when another alpha was given

    @staticmethod
    def forward(ctx, a, b, alpha=1):
        if alpha == 1:
            return _make(_binary(np.add, a, b))
        ctx.alpha = alpha
        return _make(_scaled(np.add, a, b, alpha))

    @staticmethod
    def backward(ctx, grad):
        return grad, (grad if ctx.alpha == 1 else grad * ctx.alpha), None


def add(input, other, *, alpha=1, out=None) -> Tensor:
    """input + alpha * other, broadcast."""
    if alpha.__class__ is int and alpha == 1:
        r = Add.apply(input, other)
    else:
        _check_alpha(input, other, alpha)
        r = Add.apply(input, other, alpha)
    return r if out is None else _into(out, r, "add")


def _direct_inplace(input, other) -> bool:
    """Whether `input op= other` may run as one ufunc writing into input's memory: nothing
    to record, same-shape NumPy/CuPy float arrays of one dtype (an optimizer's update)."""
    if not isinstance(other, Tensor) or (_state.enabled and (
            input._requires_grad or other._requires_grad)) or input._is_inference:
        return False
    x, y = input._data, other._data
    return (x.dtype == y.dtype and x.dtype.kind == "f" and x.shape == y.shape
            and x.__class__ is y.__class__ and x.flags.writeable)


def add_(input, other, *, alpha=1) -> Tensor:
    if _direct_inplace(input, other) and _plain_number(alpha):
        x, y = input._data, other._data
        _xp(x).add(x, y if alpha == 1 else y * alpha, out=x)
        input._version_counter[0] += 1
        return input
    return apply_inplace(input, add, other, alpha=alpha)


def _plain_number(alpha) -> bool:
    return alpha.__class__ is int or alpha.__class__ is float


class Sub(Function):
    _node_name = "SubBackward0"

    alpha = 1  # set on the node only when another alpha was given

    @staticmethod
    def forward(ctx, a, b, alpha=1):
        if alpha == 1:
            return _make(_binary(np.subtract, a, b))
        ctx.alpha = alpha
        return _make(_scaled(np.subtract, a, b, alpha))

    @staticmethod
    def backward(ctx, grad):
        return grad, (-grad if ctx.alpha == 1 else grad * -ctx.alpha), None


def _is_bool_operand(v) -> bool:
    return v.dtype is _dt.bool if isinstance(v, Tensor) else isinstance(v, (bool, np.bool_))


def _check_no_bool_sub(a, b) -> None:
    if _is_bool_operand(a) or _is_bool_operand(b):
        raise RuntimeError("Subtraction, the `-` operator, with a bool tensor is not supported. "
                           "If you are trying to invert a mask, use the `~` or `logical_not()` "
                           "operator instead.")


def sub(input, other, *, alpha=1, out=None) -> Tensor:
    """input - alpha * other, broadcast."""
    _check_no_bool_sub(input, other)
    if alpha.__class__ is int and alpha == 1:
        r = Sub.apply(input, other)
    else:
        _check_alpha(input, other, alpha)
        r = Sub.apply(input, other, alpha)
    return r if out is None else _into(out, r, "sub")


subtract = sub


def sub_(input, other, *, alpha=1) -> Tensor:
    if _direct_inplace(input, other) and _plain_number(alpha):
        return add_(input, other, alpha=-alpha)
    return apply_inplace(input, sub, other, alpha=alpha)


class Rsub(Function):
    """other - alpha * input; torch names the node RsubBackward1 when other is a number."""

    _node_name = "RsubBackward0"

    @staticmethod
    def forward(ctx, a, b, alpha=1):
        if not isinstance(b, Tensor):
            ctx._node_name = "RsubBackward1"
        ctx.alpha = alpha
        if alpha == 1:
            return _make(_binary(np.subtract, b, a))
        return _make(_scaled(np.subtract, b, a, alpha))

    @staticmethod
    def backward(ctx, grad):
        return (-grad if ctx.alpha == 1 else grad * -ctx.alpha), grad, None


def rsub(input, other, *, alpha=1) -> Tensor:
    """other - alpha * input (what `2 - t` calls)."""
    _check_no_bool_sub(input, other)
    if not (alpha.__class__ is int and alpha == 1):
        _check_alpha(input, other, alpha)
    return Rsub.apply(input, other, alpha)


class Mul(Function):
    _node_name = "MulBackward0"

    @staticmethod
    def forward(ctx, a, b):
        if ctx.needs_input_grad:  # empty (falsy) when no graph is recorded
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
    r = Mul.apply(input, other)
    return r if out is None else _into(out, r, "mul")


multiply = mul


def mul_(input, other) -> Tensor:
    return apply_inplace(input, mul, other)


class Div(Function):
    _node_name = "DivBackward0"

    @staticmethod
    def forward(ctx, a, b):
        if ctx.needs_input_grad:  # empty (falsy) when no graph is recorded
            ctx.save_for_backward(a, b if isinstance(b, Tensor) else None)
            ctx.scalar_b = b
        if a.dtype._category < 2 and (not isinstance(b, Tensor) or b.dtype._category < 2):
            # integers divide into the default float dtype; each operand goes there directly
            # (not through their common integer type, which could wrap a negative number)
            ft = _dt.get_default_dtype().np
            x = a._data.astype(ft)
            y = b._data.astype(ft) if isinstance(b, Tensor) else _as_number(b)
            if isinstance(b, Tensor) and x.__class__ is not y.__class__:
                _check_same_device(a, b)
        else:
            x, y = _operands(a, b)
        try:
            return _make(_silent(np.true_divide, x, y))
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


def _rounded_quotient(a, b, mode: str):
    """a / b rounded toward -inf ('floor') or zero ('trunc'), in the operands' dtype."""
    return _silent(_rounded_quotient_kernel, a, b, mode)


def _rounded_quotient_kernel(a, b, mode: str):
    x, y = _operands(a, b)
    if not (isinstance(b, Tensor) and b._data.ndim) and x.dtype in _HALF:
        # torch keeps a number (or 0-dim) divisor of a half-precision tensor in float32
        # rather than rounding it first; the integer part of the quotient can show that
        value = b._data if isinstance(b, Tensor) else _as_number(b)
        fn = _floor_quotient if mode == "floor" else _trunc_quotient
        return fn(x.astype(np.float32), np.asarray(value, np.float32)).astype(x.dtype)
    kind = x.dtype.kind if hasattr(x, "dtype") else y.dtype.kind
    if kind == "b":
        raise _not_implemented(f"div_{mode}_cpu", _dt.bool)
    try:
        if kind in "iu":
            if bool((y == 0).any() if hasattr(y, "dtype") else y == 0):
                raise RuntimeError("ZeroDivisionError")
            if mode == "floor":
                return np.floor_divide(x, y)
            return (x - np.fmod(x, y)) // y  # exact: x - fmod(x, y) is a multiple of y
        if mode == "floor":
            return _widened(_floor_quotient, x, y)
        return _trunc_quotient(x, y)  # torch rounds a half-precision quotient, then truncates
    except ValueError:
        raise _broadcast_error(a, b) from None


def _floor_quotient(x, y):
    return np.floor_divide(x, y)


def _trunc_quotient(x, y):
    return np.trunc(np.true_divide(x, y))


def _widened(fn, x, y):
    """fn(x, y), with float16/bfloat16 operands computed in float32 and rounded once at the
    end (as torch's kernels do), so a quotient is not rounded before it is truncated."""
    d = x.dtype if hasattr(x, "dtype") else y.dtype
    if d not in _HALF:
        return fn(x, y)
    x = x.astype(np.float32) if hasattr(x, "dtype") else x
    y = y.astype(np.float32) if hasattr(y, "dtype") else y
    return fn(x, y).astype(d)


class DivRounded(Function):
    """div with rounding_mode: piecewise constant, so its gradients are zero."""

    _node_name = "DivBackward2"

    @staticmethod
    def forward(ctx, a, b, mode):
        return _make(_rounded_quotient(a, b, mode))

    @staticmethod
    def backward(ctx, grad):
        zeros = _zeros(grad)
        return zeros, (zeros if ctx.needs_input_grad[1] else None), None


def div(input, other, *, rounding_mode=None, out=None) -> Tensor:
    """input / other; rounding_mode 'trunc' or 'floor' rounds the quotient (keeping integer
    dtypes integer), else true division (integers give the default float dtype)."""
    if rounding_mode is None:
        r = Div.apply(input, other)
    elif rounding_mode == "floor" or rounding_mode == "trunc":
        r = DivRounded.apply(input, other, rounding_mode)
    else:
        raise RuntimeError(f"div expected rounding_mode to be one of None, 'trunc', or 'floor' "
                           f"but found '{rounding_mode}'")
    return r if out is None else _into(out, r, "div")


divide = div


def true_divide(input, other, *, out=None) -> Tensor:
    return div(input, other, out=out)


def true_divide_(input, other) -> Tensor:
    return apply_inplace(input, div, other)


def div_(input, other, *, rounding_mode=None) -> Tensor:
    return apply_inplace(input, div, other, rounding_mode=rounding_mode)


class FloorDivide(Function):
    """torch gives floor_divide no derivative: backward through it is an error."""

    _node_name = "torch::autograd::NotImplemented"

    @staticmethod
    def forward(ctx, a, b):
        return _make(_rounded_quotient(a, b, "floor"))

    @staticmethod
    def backward(ctx, grad):
        raise RuntimeError("derivative for aten::floor_divide is not implemented")


def floor_divide(input, other, *, out=None) -> Tensor:
    """input // other rounded toward -inf (Python's rule), in the promoted dtype."""
    r = FloorDivide.apply(input, other)
    return r if out is None else _into(out, r, "floor_divide")


def floor_divide_(input, other) -> Tensor:
    return apply_inplace(input, floor_divide, other)


def _check_int_divisor(x, y, kernel: str) -> None:
    """torch's errors for bools and for integer division by zero."""
    kind = x.dtype.kind if hasattr(x, "dtype") else y.dtype.kind
    if kind == "b":
        raise _not_implemented(kernel, _dt.bool)
    if kind in "iu" and bool((y == 0).any() if hasattr(y, "dtype") else y == 0):
        raise RuntimeError("ZeroDivisionError")


class Remainder(Function):
    """Python's modulus: the result takes the divisor's sign."""

    _node_name = "RemainderBackward1"

    @staticmethod
    def forward(ctx, a, b):
        if isinstance(b, Tensor):
            ctx.save_for_backward(a, b)
        else:
            ctx._node_name = "RemainderBackward0"
        x, y = _operands(a, b)
        _check_int_divisor(x, y, "remainder_cpu")
        try:
            return _make(_silent(_widened, np.remainder, x, y))
        except ValueError:
            raise _broadcast_error(a, b) from None

    @staticmethod
    def backward(ctx, grad):
        if not ctx._saved:
            return grad, None
        a, b = ctx.saved_tensors
        gb = -grad * div(a, b, rounding_mode="floor") if ctx.needs_input_grad[1] else None
        return grad, gb


def remainder(input, other, *, out=None) -> Tensor:
    """input - floor(input / other) * other (sign of the divisor, like Python's %)."""
    if not isinstance(input, Tensor):
        input = _scalar_tensor(input, other)
    r = Remainder.apply(input, other)
    return r if out is None else _into(out, r, "remainder")


def remainder_(input, other) -> Tensor:
    return apply_inplace(input, remainder, other)


class Fmod(Function):
    """C's fmod: the result takes the dividend's sign."""

    _node_name = "FmodBackward1"

    @staticmethod
    def forward(ctx, a, b):
        if isinstance(b, Tensor):
            ctx.save_for_backward(a, b)
        else:
            ctx._node_name = "FmodBackward0"
        x, y = _operands(a, b)
        _check_int_divisor(x, y, "fmod_cpu")
        try:
            return _make(_silent(_widened, np.fmod, x, y))
        except ValueError:
            raise _broadcast_error(a, b) from None

    @staticmethod
    def backward(ctx, grad):
        if not ctx._saved:
            return grad, None
        a, b = ctx.saved_tensors
        gb = -grad * div(a, b, rounding_mode="trunc") if ctx.needs_input_grad[1] else None
        return grad, gb


def fmod(input, other, *, out=None) -> Tensor:
    """input - trunc(input / other) * other (sign of the dividend)."""
    r = Fmod.apply(input, other)
    return r if out is None else _into(out, r, "fmod")


def fmod_(input, other) -> Tensor:
    return apply_inplace(input, fmod, other)


# ----------------------------------------------------------------- powers
def _int_pow(x, e, xp):
    """x ** e for integer arrays; negative exponents give what integer division would
    (1 for base 1, +-1 for base -1, else 0), as torch does, instead of NumPy's error."""
    neg = e < 0
    if not bool(neg.any()):
        return x ** e
    p = x ** xp.where(neg, 0, e)
    odd = (e % 2) != 0
    inverse = xp.where(x == 1, 1, xp.where(x == -1, xp.where(odd, -1, 1), 0))
    return xp.where(neg, inverse, p).astype(p.dtype)


def _check_pow_dtype(rt: _dt.dtype) -> None:
    if rt is _dt.bool:
        raise NotImplementedError("\"pow\" not implemented for 'Bool'")


class PowScalar(Function):
    """tensor ** number."""

    _node_name = "PowBackward0"

    @staticmethod
    def forward(ctx, a, e):
        ctx.save_for_backward(a)
        ctx.exponent = e
        rt = _dt.result_type_of(a, e)
        x = a._data
        if rt is _dt.bool:  # bool ** bool: torch only has the trivial exponents
            if e:
                return _make(x.copy())
            return _make(_xp(x).ones(x.shape, bool))
        if x.dtype != rt.np:
            x = x.astype(rt.np)
        if rt._category == 1:
            if e < 0:
                raise RuntimeError("Integers to negative integer powers are not allowed.")
            e = _checked_int(e, rt)
        elif x.dtype == _BF16:  # ml_dtypes would compute bfloat16 ** float in float32
            return _make(_silent(operator.pow, x.astype(np.float32), e).astype(_BF16))
        return _make(_silent(operator.pow, x, e))

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        e = ctx.exponent
        if e == 0:
            return _zeros(grad), None
        return grad * (e * pow(a, e - 1)), None


class PowTensor(Function):
    """tensor ** tensor."""

    _node_name = "PowBackward1"

    @staticmethod
    def forward(ctx, a, b):
        _check_pow_dtype(_dt.result_type_of(a, b))
        x, y = _operands(a, b)
        try:
            r = _int_pow(x, y, _xp(x)) if x.dtype.kind in "iu" else _silent(operator.pow, x, y)
        except ValueError:
            raise _broadcast_error(a, b) from None
        out = _make(r)
        ctx.save_for_backward(a, b, out)
        return out

    @staticmethod
    def backward(ctx, grad):
        a, b, out = ctx.saved_tensors
        ga = gb = None
        # At a = 0, pow(a, b - 1) = inf meets b = 0 and log(a) = -inf meets out = 0; the masks
        # then zero those entries (the NaN on the way is expected, so NumPy is kept quiet).
        if ctx.needs_input_grad[0]:
            ga = where(b == 0, 0.0, _silent(lambda: grad * (b * pow(a, b - 1))))
        if ctx.needs_input_grad[1]:
            gb = where((a == 0) & (b >= 0), 0.0, _silent(lambda: grad * (out * log(a))))
        return ga, gb


def _scalar_log(s) -> float:
    return math.log(s) if s > 0 else (-math.inf if s == 0 else math.nan)


class PowScalarBase(Function):
    """number ** tensor."""

    _node_name = "PowBackward2"

    @staticmethod
    def forward(ctx, s, b):
        rt = _dt.result_type_of(s, b)
        _check_pow_dtype(rt)
        xp = _xp(b._data)
        y = b._data if b._data.dtype == rt.np else b._data.astype(rt.np)
        base = xp.asarray(_checked_int(s, rt) if rt._category == 1 else s, dtype=rt.np)
        out = _make(_int_pow(base, y, xp) if rt._category == 1 else
                    _silent(operator.pow, base, y))
        ctx.save_for_backward(b, out)
        ctx.base = s
        return out

    @staticmethod
    def backward(ctx, grad):
        b, out = ctx.saved_tensors
        s = ctx.base
        if s == 0:  # log(0) = -inf meets out = 0 where the mask then zeroes the result
            return None, where(b >= 0, 0.0, _silent(lambda: grad * (out * -math.inf)))
        return None, grad * (out * _scalar_log(s))


def pow(input, exponent, *, out=None) -> Tensor:
    """input ** exponent; either may be a number. Integer powers stay integer."""
    if isinstance(input, Tensor):
        if isinstance(exponent, Tensor):
            r = PowTensor.apply(input, exponent)
        else:
            r = PowScalar.apply(input, _as_number(exponent))
    else:
        _need_tensor(exponent, "pow", "exponent", 2)
        r = PowScalarBase.apply(_as_number(input), exponent)
    return r if out is None else _into(out, r, "pow")


def pow_(input, exponent) -> Tensor:
    return apply_inplace(input, pow, exponent)


def float_power_(input, exponent) -> Tensor:
    if input.dtype is not _dt.float64:
        raise RuntimeError(f"the base given to float_power_ has dtype {_type_name(input.dtype)} "
                           "but the operation's result requires dtype Double")
    return apply_inplace(input, float_power, exponent)


def float_power(input, exponent, *, out=None) -> Tensor:
    """pow computed in float64 (the result is float64 whatever the inputs)."""
    a = to_dtype(input, _dt.float64) if isinstance(input, Tensor) else float(input)
    e = to_dtype(exponent, _dt.float64) if isinstance(exponent, Tensor) else float(exponent)
    r = pow(a, e)
    return r if out is None else _into(out, r, "float_power")


def square(input, *, out=None) -> Tensor:
    """input ** 2 (integers and bools give integers, as torch)."""
    r = pow(input, 2)
    return r if out is None else _into(out, r, "square")


def square_(input) -> Tensor:
    return apply_inplace(input, square)


# ----------------------------------------------------------------- sign-like
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
    r = Neg.apply(input)
    return r if out is None else _into(out, r, "neg")


negative = neg


def neg_(input) -> Tensor:
    return apply_inplace(input, neg)


negative_ = neg_


class Abs(Function):
    _node_name = "AbsBackward0"

    @staticmethod
    def forward(ctx, a):
        if a.dtype is _dt.bool:
            raise _not_implemented("abs_cpu", _dt.bool)
        ctx.save_for_backward(a)
        return _make(np.absolute(a._data))

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return grad * sign(a)


def abs(input, *, out=None) -> Tensor:
    r = Abs.apply(input)
    return r if out is None else _into(out, r, "abs")


absolute = abs


def abs_(input) -> Tensor:
    return apply_inplace(input, abs)


def _sign_array(x):
    if x.dtype.kind == "b":
        return x.copy()
    if x.dtype.kind in "iu":
        return np.sign(x)
    # -1, 0 or 1, with 0 for NaN (torch's sign) and no negative zero
    return (x > 0).astype(x.dtype) - (x < 0).astype(x.dtype)


class Sign(Function):
    _node_name = "SignBackward0"

    @staticmethod
    def forward(ctx, a):
        return _make(_sign_array(a._data))

    @staticmethod
    def backward(ctx, grad):
        return _zeros(grad)


class Sgn(Function):
    """sign for real tensors (torch's sgn also covers complex ones)."""

    _node_name = "SgnBackward0"

    @staticmethod
    def forward(ctx, a):
        return _make(_sign_array(a._data))

    @staticmethod
    def backward(ctx, grad):
        return _zeros(grad)


def sign(input, *, out=None) -> Tensor:
    """-1, 0 or 1 by the sign of each element (0 for NaN); bools stay bools."""
    r = Sign.apply(input)
    return r if out is None else _into(out, r, "sign")


def sgn(input, *, out=None) -> Tensor:
    r = Sgn.apply(input)
    return r if out is None else _into(out, r, "sgn")


def sign_(input) -> Tensor:
    return apply_inplace(input, sign)


def sgn_(input) -> Tensor:
    return apply_inplace(input, sgn)


class Reciprocal(Function):
    _node_name = "ReciprocalBackward0"

    @staticmethod
    def forward(ctx, a):
        out = _make(_silent(np.reciprocal, _float_array(a)))
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        return -grad * (out * out)


def reciprocal(input, *, out=None) -> Tensor:
    r = Reciprocal.apply(input)
    return r if out is None else _into(out, r, "reciprocal")


def reciprocal_(input) -> Tensor:
    return apply_inplace(input, reciprocal)


# ----------------------------------------------------------------- exponentials and logs
class Exp(Function):
    _node_name = "ExpBackward0"

    @staticmethod
    def forward(ctx, a):
        out = _make(_silent(np.exp, _float_array(a)))
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        return grad * out


def exp(input, *, out=None) -> Tensor:
    r = Exp.apply(input)
    return r if out is None else _into(out, r, "exp")


def exp_(input) -> Tensor:
    return apply_inplace(input, exp)


class Exp2(Function):
    _node_name = "Exp2Backward0"

    @staticmethod
    def forward(ctx, a):
        out = _make(_silent(np.exp2, _float_array(a)))
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        return grad * (out * _LN2)


def exp2(input, *, out=None) -> Tensor:
    r = Exp2.apply(input)
    return r if out is None else _into(out, r, "exp2")


def exp2_(input) -> Tensor:
    return apply_inplace(input, exp2)


class Expm1(Function):
    _node_name = "Expm1Backward0"

    @staticmethod
    def forward(ctx, a):
        out = _make(_silent(np.expm1, _float_array(a)))
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        return grad * (out + 1)


def expm1(input, *, out=None) -> Tensor:
    r = Expm1.apply(input)
    return r if out is None else _into(out, r, "expm1")


def expm1_(input) -> Tensor:
    return apply_inplace(input, expm1)


class Log(Function):
    _node_name = "LogBackward0"

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return _make(_silent(np.log, _float_array(a)))

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return grad / a


def log(input, *, out=None) -> Tensor:
    r = Log.apply(input)
    return r if out is None else _into(out, r, "log")


def log_(input) -> Tensor:
    return apply_inplace(input, log)


class Log2(Function):
    _node_name = "Log2Backward0"

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return _make(_silent(np.log2, _float_array(a)))

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return grad / (a * _LN2)


def log2(input, *, out=None) -> Tensor:
    r = Log2.apply(input)
    return r if out is None else _into(out, r, "log2")


def log2_(input) -> Tensor:
    return apply_inplace(input, log2)


class Log10(Function):
    _node_name = "Log10Backward0"

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return _make(_silent(np.log10, _float_array(a)))

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return grad / (a * _LN10)


def log10(input, *, out=None) -> Tensor:
    r = Log10.apply(input)
    return r if out is None else _into(out, r, "log10")


def log10_(input) -> Tensor:
    return apply_inplace(input, log10)


class Log1p(Function):
    _node_name = "Log1PBackward0"

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return _make(_silent(np.log1p, _float_array(a)))

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return grad / (a + 1)


def log1p(input, *, out=None) -> Tensor:
    r = Log1p.apply(input)
    return r if out is None else _into(out, r, "log1p")


def log1p_(input) -> Tensor:
    return apply_inplace(input, log1p)


class Sqrt(Function):
    _node_name = "SqrtBackward0"

    @staticmethod
    def forward(ctx, a):
        out = _make(_silent(np.sqrt, _float_array(a)))
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        return grad / (out * 2)


def sqrt(input, *, out=None) -> Tensor:
    r = Sqrt.apply(input)
    return r if out is None else _into(out, r, "sqrt")


def sqrt_(input) -> Tensor:
    return apply_inplace(input, sqrt)


def _rsqrt_kernel(x):
    return np.reciprocal(np.sqrt(_opmath(x))).astype(x.dtype, copy=False)


class Rsqrt(Function):
    _node_name = "RsqrtBackward0"

    @staticmethod
    def forward(ctx, a):
        x = _float_array(a)
        out = _make(_silent(_rsqrt_kernel, x))
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        return grad * (pow(out, 3) * -0.5)


def rsqrt(input, *, out=None) -> Tensor:
    r = Rsqrt.apply(input)
    return r if out is None else _into(out, r, "rsqrt")


def rsqrt_(input) -> Tensor:
    return apply_inplace(input, rsqrt)


# ----------------------------------------------------------------- trigonometric
class Sin(Function):
    _node_name = "SinBackward0"

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return _make(_silent(np.sin, _float_array(a)))

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return grad * cos(a)


def sin(input, *, out=None) -> Tensor:
    r = Sin.apply(input)
    return r if out is None else _into(out, r, "sin")


def sin_(input) -> Tensor:
    return apply_inplace(input, sin)


class Cos(Function):
    _node_name = "CosBackward0"

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return _make(_silent(np.cos, _float_array(a)))

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return grad * -sin(a)


def cos(input, *, out=None) -> Tensor:
    r = Cos.apply(input)
    return r if out is None else _into(out, r, "cos")


def cos_(input) -> Tensor:
    return apply_inplace(input, cos)


class Tan(Function):
    _node_name = "TanBackward0"

    @staticmethod
    def forward(ctx, a):
        out = _make(_silent(np.tan, _float_array(a)))
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        return grad * (out * out + 1)


def tan(input, *, out=None) -> Tensor:
    r = Tan.apply(input)
    return r if out is None else _into(out, r, "tan")


def tan_(input) -> Tensor:
    return apply_inplace(input, tan)


class Asin(Function):
    _node_name = "AsinBackward0"

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return _make(_silent(np.arcsin, _float_array(a)))

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return grad * rsqrt(1 - a * a)


def asin(input, *, out=None) -> Tensor:
    r = Asin.apply(input)
    return r if out is None else _into(out, r, "asin")


def asin_(input) -> Tensor:
    return apply_inplace(input, asin)


class Acos(Function):
    _node_name = "AcosBackward0"

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return _make(_silent(np.arccos, _float_array(a)))

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return -grad * rsqrt(1 - a * a)


def acos(input, *, out=None) -> Tensor:
    r = Acos.apply(input)
    return r if out is None else _into(out, r, "acos")


def acos_(input) -> Tensor:
    return apply_inplace(input, acos)


class Atan(Function):
    _node_name = "AtanBackward0"

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return _make(np.arctan(_float_array(a)))

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return grad / (a * a + 1)


def atan(input, *, out=None) -> Tensor:
    r = Atan.apply(input)
    return r if out is None else _into(out, r, "atan")


def atan_(input) -> Tensor:
    return apply_inplace(input, atan)


arcsin, arccos, arctan = asin, acos, atan
arcsin_, arccos_, arctan_ = asin_, acos_, atan_


class Atan2(Function):
    _node_name = "Atan2Backward0"

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        if a.dtype._category < 2 and b.dtype._category < 2:
            # integers go straight to the default float dtype (as in Div)
            ft = _dt.get_default_dtype().np
            x, y = a._data.astype(ft), b._data.astype(ft)
            if x.__class__ is not y.__class__:
                _check_same_device(a, b)
        else:
            x, y = _operands(a, b)
        try:
            return _make(np.arctan2(x, y))
        except ValueError:
            raise _broadcast_error(a, b) from None

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        scale = grad / (a * a + b * b)
        return (scale * b if ctx.needs_input_grad[0] else None,
                scale * -a if ctx.needs_input_grad[1] else None)


def atan2(input, other, *, out=None) -> Tensor:
    """The angle of the point (other, input): arctan(input / other) in the right quadrant."""
    _need_tensor(other, "atan2", "other", 2)
    r = Atan2.apply(input, other)
    return r if out is None else _into(out, r, "atan2")


arctan2 = atan2


def atan2_(input, other) -> Tensor:
    return apply_inplace(input, atan2, other)


class Sinh(Function):
    _node_name = "SinhBackward0"

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return _make(_silent(np.sinh, _float_array(a)))

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return grad * cosh(a)


def sinh(input, *, out=None) -> Tensor:
    r = Sinh.apply(input)
    return r if out is None else _into(out, r, "sinh")


def sinh_(input) -> Tensor:
    return apply_inplace(input, sinh)


class Cosh(Function):
    _node_name = "CoshBackward0"

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return _make(_silent(np.cosh, _float_array(a)))

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return grad * sinh(a)


def cosh(input, *, out=None) -> Tensor:
    r = Cosh.apply(input)
    return r if out is None else _into(out, r, "cosh")


def cosh_(input) -> Tensor:
    return apply_inplace(input, cosh)


class Tanh(Function):
    _node_name = "TanhBackward0"

    @staticmethod
    def forward(ctx, a):
        out = _make(np.tanh(_float_array(a)))
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        return TanhGrad.apply(grad, out)


class TanhGrad(Function):
    """tanh's backward as one op: grad * (1 - out^2) (torch's tanh_backward)."""

    _node_name = "TanhBackwardBackward0"

    @staticmethod
    def forward(ctx, grad, out):
        ctx.save_for_backward(grad, out)
        o = out._data
        return _make(grad._data * (o.dtype.type(1) - o * o))

    @staticmethod
    def backward(ctx, grad_grad):
        grad, out = ctx.saved_tensors
        return TanhGrad.apply(grad_grad, out), grad_grad * grad * out * -2


def tanh(input, *, out=None) -> Tensor:
    r = Tanh.apply(input)
    return r if out is None else _into(out, r, "tanh")


def tanh_(input) -> Tensor:
    return apply_inplace(input, tanh)


class Asinh(Function):
    _node_name = "AsinhBackward0"

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return _make(np.arcsinh(_float_array(a)))

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return grad * rsqrt(a * a + 1)


def asinh(input, *, out=None) -> Tensor:
    r = Asinh.apply(input)
    return r if out is None else _into(out, r, "asinh")


def asinh_(input) -> Tensor:
    return apply_inplace(input, asinh)


class Acosh(Function):
    _node_name = "AcoshBackward0"

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return _make(_silent(np.arccosh, _float_array(a)))

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return grad * rsqrt(a * a - 1)


def acosh(input, *, out=None) -> Tensor:
    r = Acosh.apply(input)
    return r if out is None else _into(out, r, "acosh")


def acosh_(input) -> Tensor:
    return apply_inplace(input, acosh)


class Atanh(Function):
    _node_name = "AtanhBackward0"

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return _make(_silent(np.arctanh, _float_array(a)))

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return grad / (1 - a * a)


def atanh(input, *, out=None) -> Tensor:
    r = Atanh.apply(input)
    return r if out is None else _into(out, r, "atanh")


def atanh_(input) -> Tensor:
    return apply_inplace(input, atanh)


arcsinh, arccosh, arctanh = asinh, acosh, atanh
arcsinh_, arccosh_, arctanh_ = asinh_, acosh_, atanh_


# ----------------------------------------------------------------- activations
def _sigmoid_kernel(x):
    return (1.0 / (1.0 + np.exp(-_opmath(x)))).astype(x.dtype, copy=False)


class Sigmoid(Function):
    _node_name = "SigmoidBackward0"

    @staticmethod
    def forward(ctx, a):
        out = _make(_silent(_sigmoid_kernel, _float_array(a)))
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        return SigmoidGrad.apply(grad, out)


class SigmoidGrad(Function):
    """sigmoid's backward as one op: grad * out * (1 - out) (torch's sigmoid_backward)."""

    _node_name = "SigmoidBackwardBackward0"

    @staticmethod
    def forward(ctx, grad, out):
        ctx.save_for_backward(grad, out)
        o = out._data
        return _make(grad._data * (o * (o.dtype.type(1) - o)))

    @staticmethod
    def backward(ctx, grad_grad):
        grad, out = ctx.saved_tensors
        return SigmoidGrad.apply(grad_grad, out), grad_grad * grad * (1 - 2 * out)


def sigmoid(input, *, out=None) -> Tensor:
    """1 / (1 + exp(-input))."""
    r = Sigmoid.apply(input)
    return r if out is None else _into(out, r, "sigmoid")


def sigmoid_(input) -> Tensor:
    return apply_inplace(input, sigmoid)


class Relu(Function):
    _node_name = "ReluBackward0"

    @staticmethod
    def forward(ctx, a):
        if a.dtype is _dt.bool:
            raise RuntimeError("Boolean inputs not supported for relu")
        # relu(-0.0) is -0.0 in torch. On a tie NumPy's maximum returns its second operand,
        # except for float16, whose loop returns the first: 0 goes on the other side. NaN
        # propagates either way.
        x = a._data
        out = _make(np.maximum(x, 0) if x.dtype == np.float16 else np.maximum(0, x))
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        return ReluGrad.apply(grad, out)


_SAME_WIDTH_INT = {2: np.int16, 4: np.int32, 8: np.int64}


def _relu_grad(g, out):
    """grad where out is not <= 0, else +0.0: torch's threshold_backward(grad, out, 0).

    A relu output is never negative, so "not <= 0" is "!= 0" (NaN outputs pass the
    gradient on, as in torch). The gradient's bits are multiplied as integers by the 0/1
    mask: a float multiply would turn an inf or NaN gradient under a zero output into NaN
    where torch gives 0."""
    keep = np.not_equal(out, 0)
    if g.dtype.kind != "f" and g.dtype.name != "bfloat16":
        return g * keep
    bits = g.view(_SAME_WIDTH_INT[g.dtype.itemsize])
    return np.multiply(bits, keep, dtype=bits.dtype).view(g.dtype)


class ReluGrad(Function):
    """relu's backward as one op: grad where out > 0, else 0 (torch's threshold_backward)."""

    _node_name = "ThresholdBackwardBackward0"

    @staticmethod
    def forward(ctx, grad, out):
        ctx.save_for_backward(out)
        return _make(_relu_grad(grad._data, out._data))

    @staticmethod
    def backward(ctx, grad_grad):
        (out,) = ctx.saved_tensors
        return ReluGrad.apply(grad_grad, out), None


def relu(input) -> Tensor:
    """max(input, 0); integer tensors stay integer."""
    return Relu.apply(input)


def relu_(input) -> Tensor:
    return apply_inplace(input, relu)


# ----------------------------------------------------------------- error function
def _erf_kernel(x, which):
    """Run an _erf kernel in float64 and return the result in x's (float) dtype."""
    precision = "double" if x.dtype == np.float64 else "single"
    y = x.astype(np.float64)
    r = _silent(_erf.erfinv, y, precision) if which == "erfinv" else \
        _silent(_erf._erf_erfc, y, precision, which)
    return r if x.dtype == np.float64 else r.astype(x.dtype)


class Erf(Function):
    _node_name = "ErfBackward0"

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return _make(_erf_kernel(_float_array(a), 0))

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return grad * (exp(-(a * a)) * _TWO_OVER_SQRT_PI)


def erf(input, *, out=None) -> Tensor:
    """The error function 2/sqrt(pi) * integral of exp(-t^2) from 0 to input."""
    r = Erf.apply(input)
    return r if out is None else _into(out, r, "erf")


def erf_(input) -> Tensor:
    return apply_inplace(input, erf)


class Erfc(Function):
    _node_name = "ErfcBackward0"

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return _make(_erf_kernel(_float_array(a), 1))

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return grad * (exp(-(a * a)) * -_TWO_OVER_SQRT_PI)


def erfc(input, *, out=None) -> Tensor:
    """1 - erf(input), accurate where erf is close to 1."""
    r = Erfc.apply(input)
    return r if out is None else _into(out, r, "erfc")


def erfc_(input) -> Tensor:
    return apply_inplace(input, erfc)


class Erfinv(Function):
    _node_name = "ErfinvBackward0"

    @staticmethod
    def forward(ctx, a):
        out = _make(_erf_kernel(_float_array(a), "erfinv"))
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        return grad * (exp(out * out) * _SQRT_PI_OVER_TWO)


def erfinv(input, *, out=None) -> Tensor:
    """The inverse of erf on (-1, 1); +-inf at +-1 and NaN outside."""
    r = Erfinv.apply(input)
    return r if out is None else _into(out, r, "erfinv")


def erfinv_(input) -> Tensor:
    return apply_inplace(input, erfinv)


# ----------------------------------------------------------------- rounding
def _rounded(a: Tensor, ufunc, kernel: str):
    x = a._data
    kind = x.dtype.kind
    if kind == "b":
        raise _not_implemented(kernel, _dt.bool)
    return ufunc(x) if kind == "f" or x.dtype == _BF16 else x.copy()


class Floor(Function):
    _node_name = "FloorBackward0"

    @staticmethod
    def forward(ctx, a):
        return _make(_rounded(a, np.floor, "floor_vml_cpu"))

    @staticmethod
    def backward(ctx, grad):
        return _zeros(grad)


def floor(input, *, out=None) -> Tensor:
    r = Floor.apply(input)
    return r if out is None else _into(out, r, "floor")


def floor_(input) -> Tensor:
    return apply_inplace(input, floor)


class Ceil(Function):
    _node_name = "CeilBackward0"

    @staticmethod
    def forward(ctx, a):
        return _make(_rounded(a, np.ceil, "ceil_vml_cpu"))

    @staticmethod
    def backward(ctx, grad):
        return _zeros(grad)


def ceil(input, *, out=None) -> Tensor:
    r = Ceil.apply(input)
    return r if out is None else _into(out, r, "ceil")


def ceil_(input) -> Tensor:
    return apply_inplace(input, ceil)


class Trunc(Function):
    _node_name = "TruncBackward0"

    @staticmethod
    def forward(ctx, a):
        return _make(_rounded(a, np.trunc, "trunc_vml_cpu"))

    @staticmethod
    def backward(ctx, grad):
        return _zeros(grad)


def trunc(input, *, out=None) -> Tensor:
    """Round toward zero."""
    r = Trunc.apply(input)
    return r if out is None else _into(out, r, "trunc")


fix = trunc


def trunc_(input) -> Tensor:
    return apply_inplace(input, trunc)


fix_ = trunc_


class Round(Function):
    """Round half to even; with decimals, at that decimal position (negative: left of the
    point). RoundBackward1 is torch's name for the decimals form."""

    _node_name = "RoundBackward0"

    @staticmethod
    def forward(ctx, a, decimals=0):
        if not decimals:
            return _make(_rounded(a, np.rint, "round_vml_cpu"))
        ctx._node_name = "RoundBackward1"
        if not a.dtype.is_floating_point:
            raise _not_implemented("round_cpu", a.dtype)
        x = a._data
        y = _opmath(x)
        if decimals > 0:
            scale = 10.0 ** decimals
            r = np.rint(y * scale) / scale
        else:
            scale = 10.0 ** -decimals
            r = np.rint(y / scale) * scale
        return _make(r.astype(x.dtype, copy=False))

    @staticmethod
    def backward(ctx, grad):
        return _zeros(grad), None


def round(input, *, decimals: int = 0, out=None) -> Tensor:
    r = Round.apply(input, decimals) if decimals else Round.apply(input)
    return r if out is None else _into(out, r, "round")


def round_(input, *, decimals: int = 0) -> Tensor:
    return apply_inplace(input, round, decimals=decimals)


class Frac(Function):
    _node_name = "FracBackward0"

    @staticmethod
    def forward(ctx, a):
        if not a.dtype.is_floating_point:
            raise _not_implemented("frac_cpu", a.dtype)
        x = a._data
        return _make(_silent(np.subtract, x, np.trunc(x)))

    @staticmethod
    def backward(ctx, grad):
        return grad


def frac(input, *, out=None) -> Tensor:
    """input - trunc(input): the fractional part, with input's sign."""
    r = Frac.apply(input)
    return r if out is None else _into(out, r, "frac")


def frac_(input) -> Tensor:
    return apply_inplace(input, frac)


# ----------------------------------------------------------------- clamping
def _clamp_scalars(a: Tensor, lo, hi):
    """a clamped to the numbers lo/hi (either may be None), in the promoted dtype."""
    rt = _dt.result_type_of(a, lo, hi)
    if rt is _dt.bool:
        kernel = "clamp_min" if hi is None else "clamp_max" if lo is None else "clamp"
        raise _not_implemented(f"{kernel}_scalar_cpu", rt)
    x = a._data
    if x.dtype != rt.np:
        x = x.astype(rt.np)
    xp = _xp(x)
    out = x
    if lo is not None:
        out = np.maximum(out, _array_in(lo, rt, xp))
    if hi is not None:
        out = np.minimum(out, _array_in(hi, rt, xp))
    return out


def _clamp_tensors(a: Tensor, lo, hi):
    rt = _dt.result_type_of(a, lo, hi)
    if rt is _dt.bool and lo is not None and hi is not None:
        raise _not_implemented("clamp_cpu", rt)
    x = a._data if a._data.dtype == rt.np else a._data.astype(rt.np)
    try:
        if lo is not None:
            x = np.maximum(x, _array_in(lo, rt, None))
        if hi is not None:
            x = np.minimum(x, _array_in(hi, rt, None))
    except ValueError:
        raise _broadcast_error(a, *(t for t in (lo, hi) if t is not None)) from None
    return x


class ClampScalar(Function):
    """clamp with number bounds: the gradient passes where min <= input <= max."""

    _node_name = "ClampBackward1"

    @staticmethod
    def forward(ctx, a, lo, hi):
        ctx.save_for_backward(a)
        ctx.bounds = (lo, hi)
        return _make(_clamp_scalars(a, lo, hi))

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        lo, hi = ctx.bounds
        if lo is None:
            inside = a <= hi
        elif hi is None:
            inside = a >= lo
        else:
            inside = (a >= lo) & (a <= hi)
        return where(inside, grad, 0.0), None, None


class ClampTensor(Function):
    """clamp with tensor bounds; each bound gets the gradient where it is the result."""

    _node_name = "ClampBackward0"

    @staticmethod
    def forward(ctx, a, lo, hi):
        ctx.save_for_backward(a, lo, hi)
        return _make(_clamp_tensors(a, lo, hi))

    @staticmethod
    def backward(ctx, grad):
        a, lo, hi = ctx.saved_tensors
        need = ctx.needs_input_grad
        if lo is None:
            return where(a <= hi, grad, 0.0), None, where(a > hi, grad, 0.0) if need[2] else None
        if hi is None:
            return where(a >= lo, grad, 0.0), where(a < lo, grad, 0.0) if need[1] else None, None
        ga = where((a >= lo) & (a <= hi), grad, 0.0) if need[0] else None
        # When min > max every element is max, so only max gets a gradient.
        glo = where((a < lo) & (lo < hi), grad, 0.0) if need[1] else None
        ghi = where((a > hi) | (hi < lo), grad, 0.0) if need[2] else None
        return ga, glo, ghi


def clamp(input, min=None, max=None, *, out=None) -> Tensor:
    """Limit input to [min, max]; the bounds are numbers or tensors (not a mix), and take
    part in type promotion."""
    tmin, tmax = isinstance(min, Tensor), isinstance(max, Tensor)
    if tmin or tmax:
        if (min is not None and not tmin) or (max is not None and not tmax):
            raise TypeError(f"clamp() received an invalid combination of arguments - got "
                            f"({type(min).__name__}, {type(max).__name__}), but expected "
                            "(Tensor min = None, Tensor max = None) or "
                            "(Number min = None, Number max = None)")
        r = ClampTensor.apply(input, min, max)
    else:
        if min is None and max is None:
            raise RuntimeError("torch.clamp: At least one of 'min' or 'max' must not be None")
        r = ClampScalar.apply(input, min, max)
    return r if out is None else _into(out, r, "clamp")


clip = clamp


def clamp_(input, min=None, max=None) -> Tensor:
    return apply_inplace(input, clamp, min, max)


clip_ = clamp_


class ClampMin(Function):
    _node_name = "ClampMinBackward0"

    @staticmethod
    def forward(ctx, a, lo):
        ctx.save_for_backward(a)
        ctx.lo = lo
        return _make(_clamp_scalars(a, lo, None))

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return where(a >= ctx.lo, grad, 0.0), None


class ClampMinTensor(Function):
    _node_name = "ClampMinBackward1"

    @staticmethod
    def forward(ctx, a, lo):
        ctx.save_for_backward(a, lo)
        return _make(_clamp_tensors(a, lo, None))

    @staticmethod
    def backward(ctx, grad):
        a, lo = ctx.saved_tensors
        below = a < lo
        return (where(below, 0.0, grad) if ctx.needs_input_grad[0] else None,
                where(below, grad, 0.0) if ctx.needs_input_grad[1] else None)


def clamp_min(input, min, *, out=None) -> Tensor:
    r = ClampMinTensor.apply(input, min) if isinstance(min, Tensor) else ClampMin.apply(input, min)
    return r if out is None else _into(out, r, "clamp_min")


def clamp_min_(input, min) -> Tensor:
    return apply_inplace(input, clamp_min, min)


class ClampMax(Function):
    _node_name = "ClampMaxBackward0"

    @staticmethod
    def forward(ctx, a, hi):
        ctx.save_for_backward(a)
        ctx.hi = hi
        return _make(_clamp_scalars(a, None, hi))

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return where(a <= ctx.hi, grad, 0.0), None


class ClampMaxTensor(Function):
    _node_name = "ClampMaxBackward1"

    @staticmethod
    def forward(ctx, a, hi):
        ctx.save_for_backward(a, hi)
        return _make(_clamp_tensors(a, None, hi))

    @staticmethod
    def backward(ctx, grad):
        a, hi = ctx.saved_tensors
        above = a > hi
        return (where(above, 0.0, grad) if ctx.needs_input_grad[0] else None,
                where(above, grad, 0.0) if ctx.needs_input_grad[1] else None)


def clamp_max(input, max, *, out=None) -> Tensor:
    r = ClampMaxTensor.apply(input, max) if isinstance(max, Tensor) else ClampMax.apply(input, max)
    return r if out is None else _into(out, r, "clamp_max")


def clamp_max_(input, max) -> Tensor:
    return apply_inplace(input, clamp_max, max)


# ----------------------------------------------------------------- selection
class Where(Function):
    _node_name = "WhereBackward0"

    @staticmethod
    def forward(ctx, cond, a, b):
        ctx.save_for_backward(cond)
        rt = _dt.result_type_of(a, b)
        c = cond._data
        xp = _xp(c)
        try:
            out = xp.where(c, _array_in(a, rt, xp), _array_in(b, rt, xp))
        except ValueError:
            raise _broadcast_error(cond, a, b) from None
        return _make(out)

    @staticmethod
    def backward(ctx, grad):
        (cond,) = ctx.saved_tensors
        need = ctx.needs_input_grad
        return (None, where(cond, grad, 0.0) if need[1] else None,
                where(cond, 0.0, grad) if need[2] else None)


def where(condition, input=None, other=None, *, out=None):
    """input where condition holds, else other (numbers allowed); where(condition) alone is
    nonzero(condition, as_tuple=True)."""
    if input is None and other is None:
        from ember._ops.indexing import nonzero
        return nonzero(condition, as_tuple=True)
    if input is None or other is None:
        raise TypeError("where() missing required argument: 'input' and 'other' must both be "
                        "given, or neither")
    _need_tensor(condition, "where", "condition", 1)
    if condition.dtype is not _dt.bool:
        if condition.dtype is not _dt.uint8:
            raise RuntimeError(f"where expected condition to be a boolean tensor, but got a "
                               f"tensor with dtype {_type_name(condition.dtype)}")
        warnings.warn("where received a uint8 condition tensor. This behavior is deprecated "
                      "and will be removed in a future version of PyTorch. Use a boolean "
                      "condition instead.", UserWarning, stacklevel=2)
        condition = _make(condition._data.astype(bool))
    r = Where.apply(condition, input, other)
    return r if out is None else _into(out, r, "where")


class Maximum(Function):
    """Elementwise max (NaN propagates); a tie splits the gradient equally."""

    _node_name = "MaximumBackward0"

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return _make(_binary(np.maximum, a, b))

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        shared = where(a == b, grad / 2, grad)
        return (where(a < b, 0.0, shared) if ctx.needs_input_grad[0] else None,
                where(a > b, 0.0, shared) if ctx.needs_input_grad[1] else None)


def maximum(input, other, *, out=None) -> Tensor:
    _need_tensor(other, "maximum", "other", 2)
    r = Maximum.apply(input, other)
    return r if out is None else _into(out, r, "maximum")


class Minimum(Function):
    """Elementwise min (NaN propagates); a tie splits the gradient equally."""

    _node_name = "MinimumBackward0"

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return _make(_binary(np.minimum, a, b))

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        shared = where(a == b, grad / 2, grad)
        return (where(a > b, 0.0, shared) if ctx.needs_input_grad[0] else None,
                where(a < b, 0.0, shared) if ctx.needs_input_grad[1] else None)


def minimum(input, other, *, out=None) -> Tensor:
    _need_tensor(other, "minimum", "other", 2)
    r = Minimum.apply(input, other)
    return r if out is None else _into(out, r, "minimum")


class Fmax(Function):
    """Elementwise max ignoring NaN; a tie gives the whole gradient to input."""

    _node_name = "FmaxBackward0"

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return _make(_binary(np.fmax, a, b))

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        first = (a >= b) | isnan(b)
        return (where(first, grad, 0.0) if ctx.needs_input_grad[0] else None,
                where(first, 0.0, grad) if ctx.needs_input_grad[1] else None)


def fmax(input, other, *, out=None) -> Tensor:
    _need_tensor(other, "fmax", "other", 2)
    r = Fmax.apply(input, other)
    return r if out is None else _into(out, r, "fmax")


class Fmin(Function):
    """Elementwise min ignoring NaN; a tie gives the whole gradient to input."""

    _node_name = "FminBackward0"

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return _make(_binary(np.fmin, a, b))

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        first = (a <= b) | isnan(b)
        return (where(first, grad, 0.0) if ctx.needs_input_grad[0] else None,
                where(first, 0.0, grad) if ctx.needs_input_grad[1] else None)


def fmin(input, other, *, out=None) -> Tensor:
    _need_tensor(other, "fmin", "other", 2)
    r = Fmin.apply(input, other)
    return r if out is None else _into(out, r, "fmin")


# ----------------------------------------------------------------- fused
def _lerp_kernel(x, y, w):
    """x + w * (y - x), in whichever of two forms is exact at the nearer end (w = 0 gives
    x, w = 1 gives y); w is a number or an array."""
    d = y - x
    if w.__class__ is float:
        return x + w * d if _builtin_abs(w) < 0.5 else y - d * (1 - w)
    return _xp(d).where(np.absolute(w) < 0.5, x + w * d, y - d * (1 - w))


class LerpScalar(Function):
    _node_name = "LerpBackward0"

    @staticmethod
    def forward(ctx, a, b, w):
        ctx.weight = w
        x, y = _opmath(a._data), _opmath(b._data)
        try:
            out = _silent(_lerp_kernel, x, y, w)
        except ValueError:
            raise _broadcast_error(a, b) from None
        return _make(out.astype(a._data.dtype, copy=False))

    @staticmethod
    def backward(ctx, grad):
        w = ctx.weight
        return grad * (1 - w), grad * w, None


class LerpTensor(Function):
    _node_name = "LerpBackward1"

    @staticmethod
    def forward(ctx, a, b, w):
        ctx.save_for_backward(a, b, w)
        x, y = _opmath(a._data), _opmath(b._data)
        try:
            out = _silent(_lerp_kernel, x, y, w._data.astype(x.dtype, copy=False))
        except ValueError:
            raise _broadcast_error(a, b, w) from None
        return _make(out.astype(a._data.dtype, copy=False))

    @staticmethod
    def backward(ctx, grad):
        a, b, w = ctx.saved_tensors
        need = ctx.needs_input_grad
        return (grad * (1 - w) if need[0] else None, grad * w if need[1] else None,
                grad * (b - a) if need[2] else None)


def lerp(input, end, weight, *, out=None) -> Tensor:
    """input + weight * (end - input); end (and a non-scalar weight) must match input's
    dtype, as torch requires."""
    _need_tensor(end, "lerp", "end", 2)
    if end.dtype is not input.dtype:
        raise RuntimeError(f"expected dtype {_C_NAME[input.dtype.name]} for `end` but got dtype "
                           f"{_C_NAME[end.dtype.name]}")
    if isinstance(weight, Tensor):
        if weight._data.ndim and weight.dtype is not input.dtype:
            raise RuntimeError(f"expected dtype {_C_NAME[input.dtype.name]} for `weight` but got "
                               f"dtype {_C_NAME[weight.dtype.name]}")
        if not input.dtype.is_floating_point:
            raise _not_implemented("lerp_kernel_tensor", input.dtype)
        r = LerpTensor.apply(input, end, weight)
    else:
        if not input.dtype.is_floating_point:
            raise _not_implemented("lerp_kernel_scalar", input.dtype)
        r = LerpScalar.apply(input, end, float(weight))
    return r if out is None else _into(out, r, "lerp")


def lerp_(input, end, weight) -> Tensor:
    return apply_inplace(input, lerp, end, weight)


def _three_arrays(a, t1, t2):
    """The arrays of three tensors in their promoted dtype (widened for half precision)."""
    rt = _dt.result_type_of(a, t1, t2)
    arrays = [t._data if t._data.dtype == rt.np else t._data.astype(rt.np) for t in (a, t1, t2)]
    return rt, [_opmath(x) for x in arrays]


def _addcmul_kernel(x, y, z, value):
    return x + value * y * z


class Addcmul(Function):
    _node_name = "AddcmulBackward0"

    @staticmethod
    def forward(ctx, a, t1, t2, value):
        ctx.save_for_backward(t1, t2)
        ctx.value = value
        rt, (x, y, z) = _three_arrays(a, t1, t2)
        if rt._category < 2:
            value = int(value)
        try:
            out = _silent(_addcmul_kernel, x, y, z, value)
        except ValueError:
            raise _broadcast_error(a, t1, t2) from None
        return _make(out.astype(rt.np, copy=False))

    @staticmethod
    def backward(ctx, grad):
        t1, t2 = ctx.saved_tensors
        v = ctx.value
        need = ctx.needs_input_grad
        return (grad, grad * t2 * v if need[1] else None, grad * t1 * v if need[2] else None,
                None)


def addcmul(input, tensor1, tensor2, *, value=1, out=None) -> Tensor:
    """input + value * tensor1 * tensor2."""
    r = Addcmul.apply(input, tensor1, tensor2, value)
    return r if out is None else _into(out, r, "addcmul")


def addcmul_(input, tensor1, tensor2, *, value=1) -> Tensor:
    return apply_inplace(input, addcmul, tensor1, tensor2, value=value)


def _addcdiv_kernel(x, y, z, value):
    return x + value * y / z


class Addcdiv(Function):
    _node_name = "AddcdivBackward0"

    @staticmethod
    def forward(ctx, a, t1, t2, value):
        ctx.save_for_backward(t1, t2)
        ctx.value = value
        rt, (x, y, z) = _three_arrays(a, t1, t2)
        try:
            out = _silent(_addcdiv_kernel, x, y, z, value)
        except ValueError:
            raise _broadcast_error(a, t1, t2) from None
        return _make(out.astype(rt.np, copy=False))

    @staticmethod
    def backward(ctx, grad):
        t1, t2 = ctx.saved_tensors
        v = ctx.value
        need = ctx.needs_input_grad
        return (grad, grad * v / t2 if need[1] else None,
                -grad * v * t1 / (t2 * t2) if need[2] else None, None)


def addcdiv(input, tensor1, tensor2, *, value=1, out=None) -> Tensor:
    """input + value * tensor1 / tensor2 (floating tensors only)."""
    if not tensor1.dtype.is_floating_point and not tensor2.dtype.is_floating_point:
        raise RuntimeError(
            "Integer division with addcdiv is no longer supported, and in a future  release "
            "addcdiv will perform a true division of tensor1 and tensor2. The historic addcdiv "
            "behavior can be implemented as (input + value * torch.trunc(tensor1 / tensor2))."
            "to(input.dtype) for integer inputs and as (input + value * tensor1 / tensor2) for "
            "float inputs. The future addcdiv behavior is just the latter implementation: "
            "(input + value * tensor1 / tensor2), for all dtypes.")
    r = Addcdiv.apply(input, tensor1, tensor2, value)
    return r if out is None else _into(out, r, "addcdiv")


def addcdiv_(input, tensor1, tensor2, *, value=1) -> Tensor:
    return apply_inplace(input, addcdiv, tensor1, tensor2, value=value)


def _nan_to_num_kernel(x, nan, posinf, neginf):
    xp = _xp(x)

    def fill(v):  # replacement values too large for x's dtype become +-inf, as in torch
        return xp.asarray(v, dtype=x.dtype)

    big = xp.where(x > 0, fill(posinf), fill(neginf))
    return xp.where(x != x, fill(nan), xp.where(np.absolute(x) == math.inf, big, x))


class NanToNum(Function):
    _node_name = "NanToNumBackward0"

    @staticmethod
    def forward(ctx, a, nan, posinf, neginf):
        ctx.save_for_backward(a)
        x = a._data
        if not a.dtype.is_floating_point:
            return _make(x.copy())
        info = _dt.finfo(a.dtype)
        posinf = info.max if posinf is None else posinf
        neginf = info.min if neginf is None else neginf
        return _make(_silent(_nan_to_num_kernel, x, nan, posinf, neginf))

    @staticmethod
    def backward(ctx, grad):
        (a,) = ctx.saved_tensors
        return grad * isfinite(a), None, None, None


def nan_to_num(input, nan: float = 0.0, posinf=None, neginf=None, *, out=None) -> Tensor:
    """NaN -> nan, +inf -> posinf, -inf -> neginf (defaults: 0 and the dtype's extremes)."""
    r = NanToNum.apply(input, nan, posinf, neginf)
    return r if out is None else _into(out, r, "nan_to_num")


def nan_to_num_(input, nan: float = 0.0, posinf=None, neginf=None) -> Tensor:
    return apply_inplace(input, nan_to_num, nan, posinf, neginf)


# ----------------------------------------------------------------- comparisons
# These produce bool tensors, which carry no gradient, so they need no Function.
def _compare(ufunc, input, other, out, name: str) -> Tensor:
    r = _make(_binary(ufunc, input, other))
    return r if out is None else _into(out, r, name)


def eq(input, other, *, out=None) -> Tensor:
    return _compare(np.equal, input, other, out, "eq")


def ne(input, other, *, out=None) -> Tensor:
    return _compare(np.not_equal, input, other, out, "ne")


def lt(input, other, *, out=None) -> Tensor:
    return _compare(np.less, input, other, out, "lt")


def le(input, other, *, out=None) -> Tensor:
    return _compare(np.less_equal, input, other, out, "le")


def gt(input, other, *, out=None) -> Tensor:
    return _compare(np.greater, input, other, out, "gt")


def ge(input, other, *, out=None) -> Tensor:
    return _compare(np.greater_equal, input, other, out, "ge")


not_equal, greater, greater_equal, less, less_equal = ne, gt, ge, lt, le


# In place, a comparison stores its 0/1 result in input's own dtype.
def eq_(input, other) -> Tensor:
    return apply_inplace(input, eq, other)


def ne_(input, other) -> Tensor:
    return apply_inplace(input, ne, other)


def lt_(input, other) -> Tensor:
    return apply_inplace(input, lt, other)


def le_(input, other) -> Tensor:
    return apply_inplace(input, le, other)


def gt_(input, other) -> Tensor:
    return apply_inplace(input, gt, other)


def ge_(input, other) -> Tensor:
    return apply_inplace(input, ge, other)


def _comparable(other) -> bool:
    """Whether `tensor == other` compares elementwise; for anything else (None, a string, a
    list) Tensor.__eq__ returns NotImplemented and Python answers by identity, as torch does."""
    return isinstance(other, (Tensor, bool, int, float, np.bool_, np.number, _ndarray))


def equal(input, other) -> bool:
    """True when both have the same shape and the same values (after promotion)."""
    _need_tensor(other, "equal", "other", 2)
    if input._data.shape != other._data.shape:
        return False
    x, y = _operands(input, other)
    return bool((x == y).all())


def _check_tolerances(input, other, rtol, atol) -> None:
    _need_tensor(other, "isclose", "other", 2)
    if input.dtype is not other.dtype:
        raise RuntimeError(f"{_type_name(input.dtype)} did not match {_type_name(other.dtype)}")
    if rtol < 0:
        raise RuntimeError(f"rtol must be greater than or equal to zero, but got {rtol:g}")
    if atol < 0:
        raise RuntimeError(f"atol must be greater than or equal to zero, but got {atol:g}")


def isclose(input, other, rtol: float = 1e-05, atol: float = 1e-08,
            equal_nan: bool = False) -> Tensor:
    """|input - other| <= atol + rtol * |other| elementwise (inf equals inf of the same sign;
    NaN equals NaN only with equal_nan). Both must have the same dtype."""
    _check_tolerances(input, other, rtol, atol)
    x, y = input._data, other._data
    if not input.dtype.is_floating_point:
        x, y = x.astype(np.float64), y.astype(np.float64)
    try:
        return _make(_silent(_isclose_kernel, x, y, rtol, atol, equal_nan))
    except ValueError:
        raise _broadcast_error(input, other) from None


def _isclose_kernel(x, y, rtol, atol, equal_nan):
    close = x == y
    if equal_nan:
        close |= (x != x) & (y != y)
    if rtol or atol:
        err = np.absolute(x - y)
        close |= (err <= atol + rtol * np.absolute(y)) & (err < math.inf)
    return close


def allclose(input, other, rtol: float = 1e-05, atol: float = 1e-08,
             equal_nan: bool = False) -> bool:
    return bool(isclose(input, other, rtol, atol, equal_nan)._data.all())


def isnan(input) -> Tensor:
    x = input._data
    return _make(x != x)


def isinf(input) -> Tensor:
    x = input._data
    if not input.dtype.is_floating_point:
        return _make(_xp(x).zeros(x.shape, bool))
    return _make(np.absolute(x) == math.inf)


def isfinite(input) -> Tensor:
    x = input._data
    if not input.dtype.is_floating_point:
        return _make(_xp(x).ones(x.shape, bool))
    return _make(np.absolute(x) < math.inf)


def isposinf(input) -> Tensor:
    x = input._data
    if not input.dtype.is_floating_point:
        return _make(_xp(x).zeros(x.shape, bool))
    return _make(x == math.inf)


def isneginf(input) -> Tensor:
    x = input._data
    if not input.dtype.is_floating_point:
        return _make(_xp(x).zeros(x.shape, bool))
    return _make(x == -math.inf)


# ----------------------------------------------------------------- logical and bitwise
def _truth(x):
    return x if x.dtype.kind == "b" else x != 0


def _logical(ufunc, input, other, name: str, out) -> Tensor:
    _need_tensor(other, name, "other", 2)
    x, y = input._data, other._data
    if x.__class__ is not y.__class__:
        _check_same_device(input, other)
    try:
        r = _make(ufunc(_truth(x), _truth(y)))
    except ValueError:
        raise _broadcast_error(input, other) from None
    return r if out is None else _into(out, r, name)


def logical_and(input, other, *, out=None) -> Tensor:
    return _logical(np.logical_and, input, other, "logical_and", out)


def logical_or(input, other, *, out=None) -> Tensor:
    return _logical(np.logical_or, input, other, "logical_or", out)


def logical_xor(input, other, *, out=None) -> Tensor:
    return _logical(np.logical_xor, input, other, "logical_xor", out)


def logical_not(input, *, out=None) -> Tensor:
    x = input._data
    r = _make(~x if x.dtype.kind == "b" else x == 0)
    return r if out is None else _into(out, r, "logical_not")


def logical_and_(input, other) -> Tensor:
    return apply_inplace(input, logical_and, other)


def logical_or_(input, other) -> Tensor:
    return apply_inplace(input, logical_or, other)


def logical_xor_(input, other) -> Tensor:
    return apply_inplace(input, logical_xor, other)


def logical_not_(input) -> Tensor:
    return apply_inplace(input, logical_not)


def _bitwise(ufunc, input, other, kernel: str, name: str, out) -> Tensor:
    rt = _dt.result_type_of(input, other)
    if rt.is_floating_point:
        raise _not_implemented(kernel, rt)
    r = _make(_binary(ufunc, input, other))
    return r if out is None else _into(out, r, name)


def bitwise_and(input, other, *, out=None) -> Tensor:
    return _bitwise(np.bitwise_and, input, other, "bitwise_and_cpu", "bitwise_and", out)


def bitwise_or(input, other, *, out=None) -> Tensor:
    return _bitwise(np.bitwise_or, input, other, "bitwise_or_cpu", "bitwise_or", out)


def bitwise_xor(input, other, *, out=None) -> Tensor:
    return _bitwise(np.bitwise_xor, input, other, "bitwise_xor_cpu", "bitwise_xor", out)


def _invert(input) -> Tensor:
    """The ~ operator: bitwise_not, which Python's operator refuses for floating tensors."""
    if input.dtype.is_floating_point:
        raise TypeError("~ (operator.invert) is only implemented on integer and Boolean-type "
                        "tensors")
    return bitwise_not(input)


def bitwise_not(input, *, out=None) -> Tensor:
    if input.dtype.is_floating_point:
        raise _not_implemented("bitwise_not_cpu", input.dtype)
    r = _make(np.invert(input._data))
    return r if out is None else _into(out, r, "bitwise_not")


def bitwise_and_(input, other) -> Tensor:
    return apply_inplace(input, bitwise_and, other)


def bitwise_or_(input, other) -> Tensor:
    return apply_inplace(input, bitwise_or, other)


def bitwise_xor_(input, other) -> Tensor:
    return apply_inplace(input, bitwise_xor, other)


def bitwise_not_(input) -> Tensor:
    return apply_inplace(input, bitwise_not)


def _shift(input, other, left: bool, out) -> Tensor:
    """Shifts with torch's results for counts outside [0, bits): 0 for left shifts, the
    sign fill (0 or -1) for right shifts."""
    rt = _dt.result_type_of(input, other)
    if rt.is_floating_point or rt is _dt.bool:
        raise _not_implemented("lshift_cpu" if left else "rshift_cpu", rt)
    x, s = _operands(input, other)
    if not hasattr(x, "dtype"):  # a number shifted by a tensor
        x = _xp(s).asarray(x, dtype=s.dtype)
    xp = _xp(x)
    bits = x.dtype.itemsize * 8
    bad = (s < 0) | (s >= bits)
    count = xp.where(bad, 0, s) if hasattr(s, "dtype") else (0 if bad else s)
    try:
        shifted = np.left_shift(x, count) if left else np.right_shift(x, count)
        spill = 0 if left else xp.where(x < 0, -1, 0).astype(x.dtype)
        r = _make(xp.where(bad, spill, shifted).astype(x.dtype, copy=False))
    except ValueError:
        raise _broadcast_error(input, other) from None
    return r if out is None else _into(out, r, "bitwise_left_shift" if left else
                                       "bitwise_right_shift")


def bitwise_left_shift(input, other, *, out=None) -> Tensor:
    return _shift(input, other, True, out)


def bitwise_right_shift(input, other, *, out=None) -> Tensor:
    return _shift(input, other, False, out)


def bitwise_left_shift_(input, other) -> Tensor:
    return apply_inplace(input, bitwise_left_shift, other)


def bitwise_right_shift_(input, other) -> Tensor:
    return apply_inplace(input, bitwise_right_shift, other)


# ----------------------------------------------------------------- copies and casts
class ToCopy(Function):
    _node_name = "ToCopyBackward0"

    @staticmethod
    def forward(ctx, a, dtype, device, non_blocking=False):
        ctx.src_device = a.device
        arr = a._data
        if device is not None and device != a.device:
            arr = to_device(arr, device, non_blocking)
        if dtype is not None and arr.dtype != dtype.np:
            arr = arr.astype(dtype.np)
        elif arr is a._data:
            arr = arr.copy()
        return _make(arr)

    @staticmethod
    def backward(ctx, grad):
        if grad.device != ctx.src_device:
            grad = to(grad, ctx.src_device)
        return grad, None, None, None


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
            non_blocking = a  # to(device, dtype, non_blocking) positionally
        elif a is not None:
            device = a
    device = as_device(device) if device is not None else None
    if device is not None and device.type == "cuda" and device.index is None:
        device = as_device("cuda:0")
    same_dev = device is None or device == input.device
    same_dtype = dtype is None or dtype is input.dtype
    if same_dev and same_dtype and not copy:
        return input
    return ToCopy.apply(input, dtype, None if same_dev else device, non_blocking)


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
    """Every element set to a value. torch names the node FillBackward0/1 for torch.fill
    and FillBackward2/3 for fill_ (odd: the value is a tensor, which gets grad.sum())."""

    _node_name = "FillBackward2"

    @staticmethod
    def forward(ctx, a, value, inplace=True):
        ctx.value_is_tensor = isinstance(value, Tensor)
        ctx._node_name = f"FillBackward{2 * bool(inplace) + ctx.value_is_tensor}"
        xp = _xp(a._data)
        v = value._data if ctx.value_is_tensor else _as_number(value)
        if a.dtype._category == 1 and not ctx.value_is_tensor and not isinstance(v, bool):
            v = _checked_int(int(v), a.dtype) if isinstance(v, int) else v
        return _make(xp.full(a._data.shape, v, dtype=a._data.dtype))

    @staticmethod
    def backward(ctx, grad):
        return _zeros(grad), (grad.sum() if ctx.value_is_tensor else None), None


def _check_fill_value(value) -> None:
    if isinstance(value, Tensor) and value._data.ndim:
        raise RuntimeError(f"fill_ only supports 0-dimension value tensor but got tensor with "
                           f"{value._data.ndim} dimensions.")


def fill_(input: Tensor, value) -> Tensor:
    """Set every element to `value` (a number or a 0-dim tensor)."""
    _check_fill_value(value)
    return apply_inplace(input, Fill.apply, value)


def zero_(input: Tensor) -> Tensor:
    return fill_(input, 0)


def fill(input: Tensor, value) -> Tensor:
    """A new tensor like input with every element set to `value`."""
    _check_fill_value(value)
    return Fill.apply(input, value, False)


class Copy(Function):
    _node_name = "torch::autograd::CopyBackwards"

    @staticmethod
    def forward(ctx, dst, src):
        ctx.src_meta = (src.device, src.dtype)
        arr = src._data
        if src.device != dst.device:
            arr = to_device(arr, dst.device)
        shape = dst._data.shape
        if arr.ndim > len(shape):
            raise RuntimeError(f"output with shape {list(shape)} doesn't match the broadcast "
                               f"shape {list(np.broadcast_shapes(arr.shape, shape))}")
        try:
            out = _xp(arr).broadcast_to(arr, shape)
        except ValueError:
            raise _broadcast_error(dst, src) from None
        return _make(out.astype(dst._data.dtype))

    @staticmethod
    def backward(ctx, grad):
        device, dtype = ctx.src_meta
        g = grad if grad.device == device else to(grad, device)
        return _zeros(grad), g


def copy_(input: Tensor, src) -> Tensor:
    """Copy src's values (broadcast, cast to input's dtype, moved across devices) into input."""
    if not isinstance(src, Tensor):
        src = _scalar_tensor(src, input)
    return apply_inplace(input, Copy.apply, src)
