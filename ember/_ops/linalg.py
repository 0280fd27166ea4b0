"""Matrix products: matmul with torch's broadcasting, mm, bmm, mv, dot, addmm, einsum ...

Every product computes on raw arrays with `@` (NumPy's matmul, which hands 2-D float32
and float64 work straight to BLAS, transposed views included). Half precision has no
BLAS path in NumPy, so float16/bfloat16 products accumulate in float32 and round
once at the end, as torch's kernels do. Backward formulas are products themselves
(the gradient of `a @ b` is `grad @ b.mT` and `a.mT @ grad`), written with these
same functions so that they can be differentiated again.
"""
from __future__ import annotations

import math
import warnings

import ml_dtypes
import numpy as np

from ember import _dtype as _dt
from ember._device import array_module
from ember._ops.inplace import _type_name, apply_inplace
from ember._ops.pointwise import _check_same_device, mul
from ember._ops.shape import _wrap_dim
from ember._tensor import Tensor, _make
from ember.amp.autocast_mode import _AUTOCAST, autocast_lower
from ember.autograd.function import Function

__all__ = ["matmul", "mm", "bmm", "mv", "dot", "vdot", "inner", "outer", "ger", "addmm",
           "addmv", "addmv_", "addbmm", "baddbmm", "addr", "einsum", "tensordot",
           "chain_matmul"]

# NumPy dtypes whose products are computed in float32.
_HALF = frozenset((np.dtype(np.float16), np.dtype(ml_dtypes.bfloat16)))
_F32 = np.dtype(np.float32)

# The C++ type names torch prints in some dtype errors ("float != double").
_C_NAME = {"float32": "float", "float64": "double", "float16": "c10::Half",
           "bfloat16": "c10::BFloat16", "int64": "long int", "int32": "int",
           "int16": "short int", "int8": "signed char", "uint8": "unsigned char", "bool": "bool"}


# ----------------------------------------------------------------- array-level helpers
def _acc(x):
    """x in the dtype products accumulate in (float32 for half types, else x itself)."""
    return x.astype(_F32) if x.dtype in _HALF else x


def _mm_arrays(x, y):
    """x @ y on backend arrays (any of NumPy's matmul shapes)."""
    if x.dtype in _HALF:
        return (x.astype(_F32) @ y.astype(_F32)).astype(x.dtype)
    return x @ y


def _tname(t: Tensor) -> str:
    return _type_name(t.dtype)


def _cname(t: Tensor) -> str:
    return _C_NAME[t.dtype.name]


def _dims_str(shape) -> str:
    return "x".join(str(s) for s in shape)


def _check_tensor(x, fn: str, arg: str, pos: int) -> None:
    if not isinstance(x, Tensor):
        raise TypeError(f"{fn}(): argument '{arg}' (position {pos}) must be Tensor, not "
                        f"{type(x).__name__}")


def _check_pair(a: Tensor, b: Tensor, kernel: str, dtype_error, *error_args) -> None:
    """Same device, same dtype (torch never promotes inside a product), and not bool.
    The message for a dtype mismatch is dtype_error(*error_args), built only on failure."""
    if type(a._data) is not type(b._data):
        _check_same_device(a, b)
    if a._data.dtype != b._data.dtype:
        raise RuntimeError(dtype_error(*error_args))
    if a._data.dtype.kind == "b":
        raise NotImplementedError(f"\"{kernel}\" not implemented for 'Bool'")


def _mm_dtype_error(a: Tensor, b: Tensor) -> str:
    return f"expected m1 and m2 to have the same dtype, but got: {_cname(a)} != {_cname(b)}"


def _scalar_type_error(a: Tensor, b: Tensor) -> str:
    return f"expected scalar type {_tname(a)} but found {_tname(b)}"


def _mv_dtype_error(inp: Tensor, mat: Tensor, vec: Tensor) -> str:
    return (f"addmv input tensors must have the same dtype, but got {_tname(inp)}, "
            f"{_tname(mat)}, and {_tname(vec)}")


def _dot_dtype_error(a: Tensor, b: Tensor) -> str:
    return (f"dot : expected both vectors to have same dtype, but found {_tname(a)} and "
            f"{_tname(b)}")


def _expand_error(target, shape) -> RuntimeError:
    """torch's message when a bias cannot be broadcast to a product's shape."""
    lead = len(target) - len(shape)
    dim = next((lead + i for i, s in enumerate(shape)
                if lead + i >= 0 and s != 1 and s != target[lead + i]), 0)
    return RuntimeError(f"The expanded size of the tensor ({target[dim]}) must match the "
                        f"existing size ({shape[dim - lead]}) at non-singleton dimension {dim}."
                        f"  Target sizes: {list(target)}.  Tensor sizes: {list(shape)}")


def _coef(value, t: Tensor):
    """alpha/beta as the Python number torch uses for t's dtype (ints truncate)."""
    if isinstance(value, Tensor):
        value = value.item()
    if t.dtype is _dt.bool:
        return bool(value)
    if not t.dtype.is_floating_point:
        return int(value)
    return float(value) if not isinstance(value, int) else value


def _add_scaled(acc, inp: Tensor, beta, alpha, out_dtype):
    """alpha * acc + beta * inp, written into the fresh product array `acc`, cast last."""
    if alpha != 1:
        acc *= alpha
    if beta != 0:
        x = inp._data
        if x.dtype in _HALF:
            x = x.astype(_F32)
        try:
            if beta == 1:
                acc += x
            else:
                acc += x * beta
        except ValueError:
            raise _expand_error(acc.shape, x.shape) from None
    return acc if acc.dtype == out_dtype else acc.astype(out_dtype)


def _check_bias(inp: Tensor, shape) -> None:
    s = inp._data.shape
    if len(s) > len(shape) or any(a != b and a != 1 for a, b in zip(s[::-1], shape[::-1])):
        raise _expand_error(shape, s)


def _write_out(out: Tensor | None, result: Tensor, fn: str) -> Tensor:
    """Copy `result` into a user-given out= tensor (resized if its shape differs)."""
    if out is None:
        return result
    if result._requires_grad or out._requires_grad:
        raise RuntimeError(f"{fn}(): functions with out=... arguments don't support automatic "
                           "differentiation, but one of the arguments requires grad.")
    if out.dtype is not result.dtype:
        raise RuntimeError(f"Expected out tensor to have dtype {result.dtype}, but got "
                           f"{out.dtype} instead")
    if out._data.shape == result._data.shape:
        out._data[...] = result._data
    else:
        out._data = result._data
    out._version_counter[0] += 1
    return out


# ----------------------------------------------------------------- 2-D, batched, vector
class Mm(Function):
    _node_name = "MmBackward0"

    @staticmethod
    def forward(ctx, a, b):
        x, y = a._data, b._data
        if x.ndim != 2:
            raise RuntimeError("self must be a matrix")
        if y.ndim != 2:
            raise RuntimeError("mat2 must be a matrix")
        _check_pair(a, b, "addmm_impl_cpu_", _mm_dtype_error, a, b)
        if x.shape[1] != y.shape[0]:
            raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({_dims_str(x.shape)} "
                               f"and {_dims_str(y.shape)})")
        ctx.save_for_backward(a, b)
        return _make(_mm_arrays(x, y))

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        ga = mm(grad, b.mT) if ctx.needs_input_grad[0] else None
        gb = mm(a.mT, grad) if ctx.needs_input_grad[1] else None
        return ga, gb


def mm(input: Tensor, mat2: Tensor, *, out: Tensor | None = None) -> Tensor:
    """Matrix product of two 2-D tensors (no broadcasting; see matmul for that)."""
    if _AUTOCAST: input, mat2 = autocast_lower(input, mat2)
    _check_tensor(input, "mm", "input", 1)
    _check_tensor(mat2, "mm", "mat2", 2)
    return _write_out(out, Mm.apply(input, mat2), "mm")


class Bmm(Function):
    _node_name = "BmmBackward0"

    @staticmethod
    def forward(ctx, a, b):
        x, y = a._data, b._data
        if x.ndim != 3:
            raise RuntimeError("batch1 must be a 3D tensor")
        if y.ndim != 3:
            raise RuntimeError("batch2 must be a 3D tensor")
        _check_pair(a, b, "bmm", _scalar_type_error, a, b)
        _check_batch2(x.shape[0], x.shape[2], y.shape)
        ctx.save_for_backward(a, b)
        return _make(_mm_arrays(x, y))

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        ga = bmm(grad, b.mT) if ctx.needs_input_grad[0] else None
        gb = bmm(a.mT, grad) if ctx.needs_input_grad[1] else None
        return ga, gb


def _check_batch2(batch: int, k: int, y_shape) -> None:
    if y_shape[0] != batch or y_shape[1] != k:
        raise RuntimeError(f"Expected size for first two dimensions of batch2 tensor to be: "
                           f"[{batch}, {k}] but got: [{y_shape[0]}, {y_shape[1]}].")


def bmm(input: Tensor, mat2: Tensor, *, out: Tensor | None = None) -> Tensor:
    """Batched matrix product of (b, n, m) and (b, m, p) tensors (batch sizes must match)."""
    if _AUTOCAST: input, mat2 = autocast_lower(input, mat2)
    _check_tensor(mat2, "bmm", "mat2", 2)
    return _write_out(out, Bmm.apply(input, mat2), "bmm")


class Mv(Function):
    _node_name = "MvBackward0"

    @staticmethod
    def forward(ctx, a, v):
        x, y = a._data, v._data
        if x.ndim != 2 or y.ndim != 1:
            raise RuntimeError(f"vector + matrix @ vector expected, got 1, {x.ndim}, {y.ndim}")
        _check_pair(a, v, "addmv_impl_cpu", _mv_dtype_error, v, a, v)
        if x.shape[1] != y.shape[0]:
            raise RuntimeError(f"size mismatch, got input ({x.shape[0]}), mat "
                               f"({_dims_str(x.shape)}), vec ({y.shape[0]})")
        ctx.save_for_backward(a, v)
        return _make(_mm_arrays(x, y))

    @staticmethod
    def backward(ctx, grad):
        a, v = ctx.saved_tensors
        ga = outer(grad, v) if ctx.needs_input_grad[0] else None
        gv = mv(a.mT, grad) if ctx.needs_input_grad[1] else None
        return ga, gv


def mv(input: Tensor, vec: Tensor, *, out: Tensor | None = None) -> Tensor:
    """Matrix (n, m) times vector (m,)."""
    _check_tensor(vec, "mv", "vec", 2)
    return _write_out(out, Mv.apply(input, vec), "mv")


class Dot(Function):
    _node_name = "DotBackward0"

    @staticmethod
    def forward(ctx, a, b):
        x, y = a._data, b._data
        if x.ndim != 1 or y.ndim != 1:
            raise RuntimeError(f"1D tensors expected, but got {x.ndim}D and {y.ndim}D tensors")
        _check_pair(a, b, "dot", _dot_dtype_error, a, b)
        if x.shape[0] != y.shape[0]:
            raise RuntimeError(f"inconsistent tensor size, expected tensor [{x.shape[0]}] and "
                               f"src [{y.shape[0]}] to have the same number of elements, but "
                               f"got {x.shape[0]} and {y.shape[0]} elements respectively")
        ctx.save_for_backward(a, b)
        return _make(_mm_arrays(x, y))

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        ga = grad * b if ctx.needs_input_grad[0] else None
        gb = grad * a if ctx.needs_input_grad[1] else None
        return ga, gb


def dot(input: Tensor, tensor: Tensor, *, out: Tensor | None = None) -> Tensor:
    """Inner product of two 1-D tensors of the same dtype, as a 0-dim tensor."""
    _check_tensor(tensor, "dot", "tensor", 2)
    return _write_out(out, Dot.apply(input, tensor), "dot")


class Vdot(Dot):
    _node_name = "VdotBackward0"  # the same as dot for real tensors


def vdot(input: Tensor, other: Tensor, *, out: Tensor | None = None) -> Tensor:
    """dot with the first argument conjugated (identical to dot for real dtypes)."""
    _check_tensor(other, "vdot", "other", 2)
    return _write_out(out, Vdot.apply(input, other), "vdot")


# ----------------------------------------------------------------- matmul
class Matmul(Function):
    """matmul for the shapes that are not plain dot/mv/mm: batched, broadcast, 1-D with N-D.

    torch builds these from reshapes and mm/bmm; here NumPy's matmul does the batching
    in one call and one node carries the gradient. Its name is the one torch shows at
    the top of its decomposition.
    """

    _node_name = "UnsafeViewBackward0"

    @staticmethod
    def forward(ctx, a, b):
        x, y = a._data, b._data
        _check_matmul(a, b)
        ctx.save_for_backward(a, b)
        if x.ndim == 1 and y.ndim == 2:
            ctx._node_name = "SqueezeBackward4"
        elif x.ndim == 2:
            ctx._node_name = "CloneBackward0"
        if x.ndim >= 3 and y.ndim <= 2 and x.flags.c_contiguous:
            # (..., n, k) @ (k, p): fold the batch into the rows for one large GEMM
            # instead of NumPy's loop of small ones.
            rows = math.prod(x.shape[:-1])
            out = _mm_arrays(x.reshape(rows, x.shape[-1]), y)
            return _make(out.reshape(x.shape[:-1] + y.shape[1:]))
        return _make(_mm_arrays(x, y))

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        # View 1-D operands as a row (1, k) / column (k, 1) so every case is (batch, n, p).
        k = a.shape[-1]
        a2 = a if a.ndim > 1 else a.reshape(1, k)
        b2 = b if b.ndim > 1 else b.reshape(k, 1)
        n, p = a2.shape[-2], b2.shape[-1]
        batch = tuple(grad.shape[:grad.ndim - (a.ndim > 1) - (b.ndim > 1)])
        g2 = grad.reshape(batch + (n, p))
        ga = gb = None
        if ctx.needs_input_grad[0]:
            ga = matmul(g2, b2.mT)  # batch + (n, k); the engine sums broadcast batch dims
            if a.ndim == 1:
                ga = ga.reshape(tuple(ga.shape[:-2]) + (k,))
        if ctx.needs_input_grad[1]:
            if a.ndim >= 3 and b.ndim <= 2:  # fold the batch: one (k, rows) @ (rows, p)
                rows = math.prod(batch) * n
                gb = mm(a2.reshape(rows, k).mT, g2.reshape(rows, p))
            else:
                gb = matmul(a2.mT, g2)
            if b.ndim == 1:
                gb = gb.reshape(tuple(gb.shape[:-2]) + (k,))
        return ga, gb


def _check_matmul(a: Tensor, b: Tensor) -> None:
    """dtype and shape checks with the message of the kernel torch would reach."""
    x, y = a._data, b._data
    folds = y.ndim <= 2  # torch folds into mm (y 2-D) or mv (y 1-D)
    if folds and y.ndim == 2:
        _check_pair(a, b, "addmm_impl_cpu_", _mm_dtype_error, a, b)
    elif folds:
        _check_pair(a, b, "addmv_impl_cpu", _mv_dtype_error, b, a, b)
    else:
        _check_pair(a, b, "bmm", _scalar_type_error, a, b)
    k = x.shape[-1]
    k2 = y.shape[-2] if y.ndim > 1 else y.shape[0]
    if folds:
        if k != k2:
            rows = math.prod(x.shape[:-1])
            if y.ndim == 2:
                raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({rows}x{k} and "
                                   f"{_dims_str(y.shape)})")
            raise RuntimeError(f"size mismatch, got input ({rows}), mat ({rows}x{k}), "
                               f"vec ({k2})")
        return
    bx, by = x.shape[:-2], y.shape[:-2]
    try:
        batch = np.broadcast_shapes(bx, by)
    except ValueError:
        nd = max(len(bx), len(by))
        for i in range(1, nd + 1):
            sa = bx[-i] if i <= len(bx) else 1
            sb = by[-i] if i <= len(by) else 1
            if sa != sb and sa != 1 and sb != 1:
                raise RuntimeError(f"The size of tensor a ({sa}) must match the size of tensor b "
                                   f"({sb}) at non-singleton dimension {nd - i}") from None
        raise
    if k != k2:
        nb = math.prod(batch)
        raise RuntimeError(f"Expected size for first two dimensions of batch2 tensor to be: "
                           f"[{nb}, {k}] but got: [{nb}, {k2}].")


def matmul(input: Tensor, other: Tensor, *, out: Tensor | None = None) -> Tensor:
    """torch.matmul: dot (1-D, 1-D), mv (2-D, 1-D), mm (2-D, 2-D), else batched with
    broadcast batch dims, where a 1-D operand becomes a row/column and is squeezed away."""
    if _AUTOCAST: input, other = autocast_lower(input, other)
    _check_tensor(input, "matmul", "input", 1)
    _check_tensor(other, "matmul", "other", 2)
    da, db = input._data.ndim, other._data.ndim
    if da == 2 and db == 2:
        result = Mm.apply(input, other)
    elif da == 0 or db == 0:
        raise RuntimeError(f"both arguments to matmul need to be at least 1D, but they are "
                           f"{da}D and {db}D")
    elif da == 1 and db == 1:
        result = Dot.apply(input, other)
    elif da == 2 and db == 1:
        result = Mv.apply(input, other)
    else:
        result = Matmul.apply(input, other)
    return result if out is None else _write_out(out, result, "matmul")


def chain_matmul(*matrices: Tensor, out: Tensor | None = None) -> Tensor:
    """Product of 2-D matrices left to right (deprecated in torch, like here)."""
    warnings.warn("torch.chain_matmul is deprecated and will be removed in a future PyTorch "
                  "release. Use torch.linalg.multi_dot instead, which accepts a list of two or "
                  "more tensors rather than multiple parameters.", UserWarning, stacklevel=2)
    if len(matrices) == 1 and not isinstance(matrices[0], Tensor):
        matrices = tuple(matrices[0])
    if not matrices:
        raise RuntimeError("chain_matmul(): Expected one or more matrices")
    if len(matrices) == 1:
        if matrices[0].ndim != 2:
            raise RuntimeError(f"Tensor dimension is {matrices[0].ndim}, expected 2 instead.")
        return _write_out(out, matrices[0].clone(), "chain_matmul")
    result = matrices[0]
    for m in matrices[1:]:
        result = mm(result, m)
    return _write_out(out, result, "chain_matmul")


# ----------------------------------------------------------------- outer, inner, tensordot
def outer(input: Tensor, vec2: Tensor, *, out: Tensor | None = None) -> Tensor:
    """Outer product of two 1-D tensors: input (n,) as a column times vec2 (m,), promoted
    like multiplication (torch does exactly this)."""
    _check_tensor(vec2, "outer", "vec2", 2)
    for t, name in ((input, "self"), (vec2, "vec2")):
        if t._data.ndim != 1:
            raise RuntimeError(f"outer: Expected 1-D argument {name}, but got {t._data.ndim}-D")
    return _write_out(out, mul(input.reshape(input._data.shape[0], 1), vec2), "outer")


def ger(input: Tensor, vec2: Tensor, *, out: Tensor | None = None) -> Tensor:
    """Old name of outer."""
    return outer(input, vec2, out=out)


def inner(input: Tensor, other: Tensor, *, out: Tensor | None = None) -> Tensor:
    """Sum over the last dims of both: result shape input.shape[:-1] + other.shape[:-1].
    A 0-dim operand multiplies instead."""
    _check_tensor(other, "inner", "other", 2)
    x, y = input._data, other._data
    if x.ndim == 0 or y.ndim == 0:
        return _write_out(out, mul(input, other), "inner")
    if x.dtype != y.dtype:
        raise RuntimeError("both inputs should have same dtype")
    if x.shape[-1] != y.shape[-1]:
        raise RuntimeError(f"inner() the last dimension must match on both input tensors but "
                           f"got shapes {list(x.shape)} and {list(y.shape)}")
    return _write_out(out, tensordot(input, other, ([-1], [-1])), "inner")


def _tensordot_dims(dims, na: int, nb: int):
    if isinstance(dims, Tensor):
        dims = dims.tolist()
    if isinstance(dims, (int, np.integer)):
        if dims < 0:
            raise RuntimeError(f"tensordot expects dims >= 0, but got dims={dims}")
        if dims > na or dims > nb:
            raise RuntimeError(f"tensordot expects dims < ndim_a or ndim_b, but got dims={dims}")
        return list(range(-dims, 0)), list(range(dims))
    da, db = dims
    for d, name in ((da, "dims_self"), (db, "dims_other")):
        if not isinstance(d, (list, tuple)):
            raise TypeError(f"tensordot(): argument '{name}' (position 3) must be tuple of ints, "
                            f"not {type(d).__name__}")
    if len(da) != len(db):
        raise RuntimeError("both dimension lists should have same length")
    return list(da), list(db)


def tensordot(a: Tensor, b: Tensor, dims=2, out: Tensor | None = None) -> Tensor:
    """Contract dims of a with dims of b; `dims` is an int n (last n of a with first n of b)
    or a pair of dim lists. Computed as one mm between two reshaped (permuted) operands."""
    _check_tensor(a, "tensordot", "a", 1)
    _check_tensor(b, "tensordot", "b", 2)
    sa, sb = a._data.shape, b._data.shape
    dims_a, dims_b = _tensordot_dims(dims, len(sa), len(sb))
    ca = [_wrap_dim(d, len(sa)) for d in dims_a]
    cb = [_wrap_dim(d, len(sb)) for d in dims_b]
    for c in (ca, cb):
        for d in c:
            if c.count(d) > 1:
                raise RuntimeError(f"dim {d} appears multiple times in the list of dims")
    for da, db, i, j in zip(dims_a, dims_b, ca, cb):
        if sa[i] != sb[j]:
            raise RuntimeError(f"contracted dimensions need to match, but first has size "
                               f"{sa[i]} in dim {da} and second has size {sb[j]} in dim {db}")
    if a._data.dtype != b._data.dtype:
        raise RuntimeError("both inputs should have same dtype")
    free_a = [d for d in range(len(sa)) if d not in ca]
    free_b = [d for d in range(len(sb)) if d not in cb]
    contracted = math.prod(sa[d] for d in ca)
    rows = math.prod(sa[d] for d in free_a)
    cols = math.prod(sb[d] for d in free_b)
    pa, pb = free_a + ca, cb + free_b
    am = a if pa == list(range(len(sa))) else a.permute(pa)
    bm = b if pb == list(range(len(sb))) else b.permute(pb)
    result = mm(am.reshape(rows, contracted), bm.reshape(contracted, cols))
    result = result.reshape(tuple(sa[d] for d in free_a) + tuple(sb[d] for d in free_b))
    return _write_out(out, result, "tensordot")


# ----------------------------------------------------------------- fused add + product
class Addmm(Function):
    _node_name = "AddmmBackward0"

    @staticmethod
    def forward(ctx, inp, m1, m2, beta, alpha):
        x, y = m1._data, m2._data
        if x.ndim != 2:
            raise RuntimeError(f"mat1 must be a matrix, got {x.ndim}-D tensor")
        if y.ndim != 2:
            raise RuntimeError(f"mat2 must be a matrix, got {y.ndim}-D tensor")
        if inp._data.dtype != y.dtype or x.dtype != y.dtype:
            other = inp if inp._data.dtype != y.dtype else m1
            raise RuntimeError(f"self and mat2 must have the same dtype, but got "
                               f"{_tname(other)} and {_tname(m2)}")
        _check_pair(m1, m2, "addmm_impl_cpu_", _mm_dtype_error, m1, m2)
        if x.shape[1] != y.shape[0]:
            raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({_dims_str(x.shape)} "
                               f"and {_dims_str(y.shape)})")
        shape = (x.shape[0], y.shape[1])
        _check_bias(inp, shape)
        ctx.beta, ctx.alpha = beta, alpha
        ctx.save_for_backward(m1, m2)
        return _make(_add_scaled(_acc(x) @ _acc(y), inp, beta, alpha, x.dtype))

    @staticmethod
    def backward(ctx, grad):
        m1, m2 = ctx.saved_tensors
        beta, alpha = ctx.beta, ctx.alpha
        need = ctx.needs_input_grad
        gi = (grad if beta == 1 else grad * beta) if need[0] else None
        g1 = _scaled(mm(grad, m2.mT), alpha) if need[1] else None
        g2 = _scaled(mm(m1.mT, grad), alpha) if need[2] else None
        return gi, g1, g2, None, None


def _scaled(t: Tensor, alpha) -> Tensor:
    return t if alpha == 1 else t * alpha


def addmm(input: Tensor, mat1: Tensor, mat2: Tensor, *, beta=1, alpha=1,
          out: Tensor | None = None) -> Tensor:
    """beta * input + alpha * (mat1 @ mat2), input broadcast to the product's shape
    (with beta=0 input is ignored, NaNs included)."""
    if _AUTOCAST: input, mat1, mat2 = autocast_lower(input, mat1, mat2)
    return _write_out(out, Addmm.apply(input, mat1, mat2, _coef(beta, mat1), _coef(alpha, mat1)),
                      "addmm")


def addmm_(input: Tensor, mat1: Tensor, mat2: Tensor, *, beta=1, alpha=1) -> Tensor:
    """In-place addmm; input must already have the product's shape."""
    _check_inplace_shape(input, (mat1._data.shape[0], mat2._data.shape[-1]))
    return apply_inplace(input, addmm, mat1, mat2, beta=beta, alpha=alpha)


def _check_inplace_shape(t: Tensor, shape) -> None:
    if t._data.shape != tuple(shape):
        raise RuntimeError(f"Bad in-place call: input tensor size {list(t._data.shape)} and "
                           f"output tensor size {list(shape)} should match")


class Baddbmm(Function):
    _node_name = "BaddbmmBackward0"

    @staticmethod
    def forward(ctx, inp, b1, b2, beta, alpha):
        x, y = b1._data, b2._data
        if x.ndim != 3:
            raise RuntimeError("batch1 must be a 3D tensor")
        if y.ndim != 3:
            raise RuntimeError("batch2 must be a 3D tensor")
        _check_pair(b1, b2, "bmm", _scalar_type_error, b1, b2)
        if inp._data.dtype != x.dtype:
            raise RuntimeError(f"Input dtypes must be the same, got: input {_cname(inp)}, "
                               f"batch1: {_cname(b1)}, batch2: {_cname(b2)}")
        _check_batch2(x.shape[0], x.shape[2], y.shape)
        _check_bias(inp, (x.shape[0], x.shape[1], y.shape[2]))
        ctx.beta, ctx.alpha = beta, alpha
        ctx.save_for_backward(b1, b2)
        return _make(_add_scaled(_acc(x) @ _acc(y), inp, beta, alpha, x.dtype))

    @staticmethod
    def backward(ctx, grad):
        b1, b2 = ctx.saved_tensors
        beta, alpha = ctx.beta, ctx.alpha
        need = ctx.needs_input_grad
        gi = (grad if beta == 1 else grad * beta) if need[0] else None
        g1 = _scaled(bmm(grad, b2.mT), alpha) if need[1] else None
        g2 = _scaled(bmm(b1.mT, grad), alpha) if need[2] else None
        return gi, g1, g2, None, None


def baddbmm(input: Tensor, batch1: Tensor, batch2: Tensor, *, beta=1, alpha=1,
            out: Tensor | None = None) -> Tensor:
    """beta * input + alpha * bmm(batch1, batch2), input broadcast to (b, n, p)."""
    if _AUTOCAST: input, batch1, batch2 = autocast_lower(input, batch1, batch2)
    return _write_out(out, Baddbmm.apply(input, batch1, batch2, _coef(beta, batch1),
                                         _coef(alpha, batch1)), "baddbmm")


def baddbmm_(input: Tensor, batch1: Tensor, batch2: Tensor, *, beta=1, alpha=1) -> Tensor:
    _check_inplace_shape(input, batch1._data.shape[:2] + batch2._data.shape[2:])
    return apply_inplace(input, baddbmm, batch1, batch2, beta=beta, alpha=alpha)


class Addbmm(Function):
    _node_name = "AddbmmBackward0"

    @staticmethod
    def forward(ctx, inp, b1, b2, beta, alpha):
        x, y = b1._data, b2._data
        if x.ndim != 3:
            raise RuntimeError("batch1 must be a 3D tensor")
        if y.ndim != 3:
            raise RuntimeError("batch2 must be a 3D tensor")
        if x.shape[0] != y.shape[0]:
            raise RuntimeError(f"batch1 and batch2 must have same number of batches, got "
                               f"{x.shape[0]} and {y.shape[0]}")
        if x.shape[2] != y.shape[1]:
            raise RuntimeError(f"Incompatible matrix sizes for bmm ({x.shape[1]}x{x.shape[2]} "
                               f"and {y.shape[1]}x{y.shape[2]})")
        if inp._data.dtype != y.dtype:
            raise RuntimeError(f"self and mat2 must have the same dtype, but got {_tname(inp)} "
                               f"and {_tname(b2)}")
        _check_pair(b1, b2, "addmm_impl_cpu_", _mm_dtype_error, b1, b2)
        _check_bias(inp, (x.shape[1], y.shape[2]))
        ctx.beta, ctx.alpha = beta, alpha
        ctx.save_for_backward(b1, b2)
        acc = (_acc(x) @ _acc(y)).sum(axis=0)
        return _make(_add_scaled(acc, inp, beta, alpha, x.dtype))

    @staticmethod
    def backward(ctx, grad):
        b1, b2 = ctx.saved_tensors
        beta, alpha = ctx.beta, ctx.alpha
        need = ctx.needs_input_grad
        gi = (grad if beta == 1 else grad * beta) if need[0] else None
        # grad (n, p) broadcasts against every batch entry.
        g1 = _scaled(matmul(grad, b2.mT), alpha) if need[1] else None
        g2 = _scaled(matmul(b1.mT, grad), alpha) if need[2] else None
        return gi, g1, g2, None, None


def addbmm(input: Tensor, batch1: Tensor, batch2: Tensor, *, beta=1, alpha=1,
           out: Tensor | None = None) -> Tensor:
    """beta * input + alpha * sum over the batch of batch1[i] @ batch2[i]."""
    if _AUTOCAST: input, batch1, batch2 = autocast_lower(input, batch1, batch2)
    return _write_out(out, Addbmm.apply(input, batch1, batch2, _coef(beta, batch1),
                                        _coef(alpha, batch1)), "addbmm")


def addbmm_(input: Tensor, batch1: Tensor, batch2: Tensor, *, beta=1, alpha=1) -> Tensor:
    _check_inplace_shape(input, (batch1._data.shape[1], batch2._data.shape[2]))
    return apply_inplace(input, addbmm, batch1, batch2, beta=beta, alpha=alpha)


class Addmv(Function):
    _node_name = "AddmvBackward0"

    @staticmethod
    def forward(ctx, inp, mat, vec, beta, alpha):
        x, y = mat._data, vec._data
        if x.ndim != 2 or y.ndim != 1 or inp._data.ndim > 1:
            raise RuntimeError(f"vector + matrix @ vector expected, got {inp._data.ndim}, "
                               f"{x.ndim}, {y.ndim}")
        if not (inp._data.dtype == x.dtype == y.dtype):
            raise RuntimeError(_mv_dtype_error(inp, mat, vec))
        _check_pair(mat, vec, "addmv_impl_cpu", _mv_dtype_error, inp, mat, vec)
        n = inp._data.shape[0] if inp._data.ndim == 1 else x.shape[0]
        if x.shape[1] != y.shape[0] or n not in (1, x.shape[0]):
            raise RuntimeError(f"size mismatch, got input ({n}), mat ({_dims_str(x.shape)}), "
                               f"vec ({y.shape[0]})")
        ctx.beta, ctx.alpha = beta, alpha
        ctx.save_for_backward(mat, vec)
        return _make(_add_scaled(_acc(x) @ _acc(y), inp, beta, alpha, x.dtype))

    @staticmethod
    def backward(ctx, grad):
        mat, vec = ctx.saved_tensors
        beta, alpha = ctx.beta, ctx.alpha
        need = ctx.needs_input_grad
        gi = (grad if beta == 1 else grad * beta) if need[0] else None
        gm = _scaled(outer(grad, vec), alpha) if need[1] else None
        gv = _scaled(mv(mat.mT, grad), alpha) if need[2] else None
        return gi, gm, gv, None, None


def addmv(input: Tensor, mat: Tensor, vec: Tensor, *, beta=1, alpha=1,
          out: Tensor | None = None) -> Tensor:
    """beta * input + alpha * (mat @ vec)."""
    return _write_out(out, Addmv.apply(input, mat, vec, _coef(beta, mat), _coef(alpha, mat)),
                      "addmv")


def addmv_(input: Tensor, mat: Tensor, vec: Tensor, *, beta=1, alpha=1) -> Tensor:
    _check_inplace_shape(input, mat._data.shape[:1])
    return apply_inplace(input, addmv, mat, vec, beta=beta, alpha=alpha)


class Addr(Function):
    _node_name = "AddrBackward0"

    @staticmethod
    def forward(ctx, inp, v1, v2, beta, alpha):
        for t, name in ((v1, "vec1"), (v2, "vec2")):
            if t._data.ndim != 1:
                raise RuntimeError(f"addr: Expected 1-D argument {name}, but got "
                                   f"{t._data.ndim}-D")
        # Unlike the other products, addr promotes (0-dim tensors count fully here).
        dtype = _dt.promote_types(_dt.promote_types(inp.dtype, v1.dtype), v2.dtype).np
        shape = v1._data.shape + v2._data.shape
        _check_bias(inp, shape)
        ctx.beta, ctx.alpha = beta, alpha
        ctx.save_for_backward(v1, v2)
        x, y = _acc(v1._data.astype(dtype, copy=False)), _acc(v2._data.astype(dtype, copy=False))
        return _make(_add_scaled(x[:, None] * y, inp, beta, alpha, dtype))

    @staticmethod
    def backward(ctx, grad):
        v1, v2 = ctx.saved_tensors
        beta, alpha = ctx.beta, ctx.alpha
        need = ctx.needs_input_grad
        gi = (grad if beta == 1 else grad * beta) if need[0] else None
        g1 = _scaled(mv(grad, v2.to(grad.dtype)), alpha) if need[1] else None
        g2 = _scaled(mv(grad.mT, v1.to(grad.dtype)), alpha) if need[2] else None
        return gi, g1, g2, None, None


def addr(input: Tensor, vec1: Tensor, vec2: Tensor, *, beta=1, alpha=1,
         out: Tensor | None = None) -> Tensor:
    """beta * input + alpha * outer(vec1, vec2), with type promotion across all three."""
    rt = _dt.promote_types(_dt.promote_types(input.dtype, vec1.dtype), vec2.dtype)
    probe = vec1 if vec1.dtype is rt else input if input.dtype is rt else vec2
    return _write_out(out, Addr.apply(input, vec1, vec2, _coef(beta, probe),
                                      _coef(alpha, probe)), "addr")


def addr_(input: Tensor, vec1: Tensor, vec2: Tensor, *, beta=1, alpha=1) -> Tensor:
    _check_inplace_shape(input, vec1._data.shape + vec2._data.shape)
    return apply_inplace(input, addr, vec1, vec2, beta=beta, alpha=alpha)


# ----------------------------------------------------------------- einsum
# Subscript letters in torch's order (A-Z then a-z): sublist integers index this string,
# and the implicit output lists its labels in this order.
_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


class Einsum(Function):
    """One einsum over explicit, ellipsis-free subscripts ("ij,jk->ik").

    The gradient for operand k is itself an einsum: the output's gradient contracted with
    every other operand, producing operand k's subscripts. Two extra kinds of factor make
    that possible for any equation: an identity matrix for each repeated label (the
    gradient of a diagonal lives on the diagonal) and a ones vector for each label summed
    only inside operand k (its gradient is broadcast along that label).
    """

    _node_name = "EinsumBackward0"

    @staticmethod
    def forward(ctx, equation, *operands):
        lhs, ctx.out_sub = equation.split("->")
        ctx.subs = lhs.split(",")
        ctx.save_for_backward(*operands)
        arrays = [_acc(t._data) for t in operands]
        x = operands[0]._data
        xp = array_module(x)
        out = xp.einsum(equation, *arrays, optimize=len(arrays) > 1)
        if len(arrays) == 1 and getattr(out, "base", None) is not None:
            out = out.copy()  # a permutation or diagonal comes back as a view of the input
        return _make(out.astype(x.dtype) if out.dtype != x.dtype else out)

    @staticmethod
    def backward(ctx, grad):
        operands = ctx.saved_tensors
        subs, out_sub = ctx.subs, ctx.out_sub
        used = set("".join(subs))
        spare = iter(c for c in _LETTERS if c not in used)
        grads = [None]
        for k, t in enumerate(operands):
            if not ctx.needs_input_grad[k + 1]:
                grads.append(None)
                continue
            terms = [out_sub] + [s for j, s in enumerate(subs) if j != k]
            factors = [grad] + [o for j, o in enumerate(operands) if j != k]
            target, seen = "", set()
            for c, size in zip(subs[k], t._data.shape):
                if c in seen:  # repeated label: a fresh one tied to c by an identity
                    fresh = next(spare)
                    terms.append(c + fresh)
                    factors.append(_const(grad, "eye", size))
                    c = fresh
                seen.add(c)
                target += c
            present = set("".join(terms))
            for c, size in zip(subs[k], t._data.shape):
                if c not in present:  # summed only inside operand k
                    terms.append(c)
                    factors.append(_const(grad, "ones", size))
                    present.add(c)
            g = Einsum.apply(",".join(terms) + "->" + target, *factors)
            if g._data.shape != t._data.shape:
                # A label of size 1 here that other operands broadcast: g is constant along it.
                g = g.expand(tuple(max(a, b) for a, b in zip(g._data.shape, t._data.shape)))
            grads.append(g)
        return tuple(grads)


def _const(like: Tensor, kind: str, n: int) -> Tensor:
    x = like._data
    xp = array_module(x)
    return _make(xp.eye(n, dtype=x.dtype) if kind == "eye" else xp.ones(n, dtype=x.dtype))


def _einsum_args(args):
    """(equation, operands) from einsum(eq, *ops), einsum(eq, [ops]) or the sublist form."""
    if not args or (isinstance(args[0], str) and len(args) < 2):
        raise ValueError("einsum(): must specify the equation string and at least one operand, "
                         "or at least one operand and its subscripts list")
    if isinstance(args[0], str):
        ops = args[1:]
        if len(ops) == 1 and isinstance(ops[0], (list, tuple)):
            ops = tuple(ops[0])
        return args[0], list(ops)
    if not isinstance(args[0], Tensor):
        raise TypeError(f"einsum(): argument 'equation' (position 1) must be str, not "
                        f"{type(args[0]).__name__}")
    # Sublist form: op0, [labels0], op1, [labels1], ..., [output labels]
    def term(labels):
        s = ""
        for v in labels:
            if v is Ellipsis:
                s += "..."
            elif not 0 <= int(v) < 52:
                raise ValueError("einsum(): subscript in subscript list is not within the valid "
                                 "range [0, 52)")
            else:
                s += _LETTERS[int(v)]
        return s
    ops = list(args[0::2][:len(args) // 2])
    terms = [term(lab) for lab in args[1::2]]
    eq = ",".join(terms[:len(ops)])
    if len(args) % 2:
        eq += "->" + term(args[-1])
    return eq, ops


def _parse_term(term: str, who: str) -> tuple[str, bool]:
    """A term's letters with one '...' kept as '.', checking torch's rules."""
    if term.count(".") and (term.count(".") != 3 or "..." not in term):
        if "..." in term:
            raise RuntimeError(f"einsum(): found '.' for {who} for which an ellipsis was "
                               "already found")
        suffix = " (...)" if who == "output" else ""
        raise RuntimeError(f"einsum(): found '.' for {who} that is not part of any "
                           f"ellipsis{suffix}")
    return term.replace("...", "."), "..." in term


def _normalize_einsum(equation: str, operands) -> str:
    """torch's einsum equation -> explicit letters with '->', ellipses spelled out."""
    for i, c in enumerate(equation):
        if not (c.isascii() and c.isalpha()) and c not in " ,.":
            if c == "-" and equation[i + 1:i + 2] == ">" and equation.find("->") == i:
                continue
            if c == ">" and equation[i - 1:i] == "-" and equation.find("->") == i - 1:
                continue
            raise RuntimeError(f"einsum(): invalid subscript given at index {i} in the equation "
                               "string, subscripts must be in [a-zA-Z]")
    eq = equation.replace(" ", "")
    lhs, arrow, rhs = eq.partition("->")
    terms = lhs.split(",")
    if len(terms) > len(operands):
        raise RuntimeError("einsum(): fewer operands were provided than specified in the "
                           "equation")
    if len(terms) < len(operands):
        raise RuntimeError("einsum(): more operands were provided than specified in the "
                           "equation")
    parsed = []
    ell_dims = 0  # the widest ellipsis
    for i, (term, t) in enumerate(zip(terms, operands)):
        _check_tensor(t, "einsum", "operands", 2)
        s, has_ell = _parse_term(term, f"operand {i}")
        n_labels = len(s) - has_ell
        ndim = t._data.ndim
        if has_ell:
            if n_labels > ndim:
                raise RuntimeError(f"einsum(): the number of subscripts in the equation "
                                   f"({n_labels}) is more than the number of dimensions "
                                   f"({ndim}) for operand {i}")
            ell_dims = max(ell_dims, ndim - n_labels)
        elif n_labels != ndim:
            raise RuntimeError(f"einsum(): the number of subscripts in the equation "
                               f"({n_labels}) does not match the number of dimensions ({ndim}) "
                               f"for operand {i} and no ellipsis was given")
        parsed.append((s, has_ell))
    used = set(lhs)
    ell = "".join(c for c in _LETTERS if c not in used)[-ell_dims:] if ell_dims else ""
    subs = []
    for (s, has_ell), t in zip(parsed, operands):
        n = t._data.ndim - (len(s) - has_ell)
        subs.append(s.replace(".", ell[len(ell) - n:]) if has_ell else s)
    if arrow:
        out, has_ell = _parse_term(rhs, "output")
        seen = set()
        for c in out.replace(".", ""):
            if c not in used:
                raise RuntimeError(f"einsum(): output subscript {c} does not appear in the "
                                   "equation for any input operand")
            if c in seen:
                raise RuntimeError(f"einsum(): output subscript {c} appears more than once in "
                                   "the output")
            seen.add(c)
        out = out.replace(".", ell)
    else:
        joined = "".join(subs)
        out = ell + "".join(c for c in _LETTERS if c not in ell and joined.count(c) == 1)
    _check_einsum_sizes(subs, operands, ell)
    return ",".join(subs) + "->" + out


def _check_einsum_sizes(subs, operands, ell: str) -> None:
    sizes = {}
    for i, (s, t) in enumerate(zip(subs, operands)):
        own = {}
        for c, n in zip(s, t._data.shape):
            if c in own and own[c] != n:
                raise RuntimeError(f"einsum(): subscript {c} is repeated for operand {i} but the "
                                   f"sizes don't match, {own[c]} != {n}")
            own[c] = n
            prev = sizes.get(c)
            if prev is not None and prev != n and prev != 1 and n != 1:
                if c in ell:
                    raise RuntimeError(f"einsum(): dimension {ell.index(c)} covered by ellipsis "
                                       f"in operand {i}has size {n} which does not broadcast "
                                       f"with previously seen ellipsis with size {prev} for "
                                       "the respective dimension")
                raise RuntimeError(f"einsum(): subscript {c} has size {n} for operand {i} which "
                                   f"does not broadcast with previously seen size {prev}")
            if prev is None or prev == 1:
                sizes[c] = n


def einsum(*args) -> Tensor:
    """Einstein summation: einsum("ij,jk->ik", a, b), operands as varargs or one list, or
    the sublist form einsum(a, [0, 1], b, [1, 2], [0, 2]). Supports '...', repeated labels
    (diagonals), implicit output (labels seen once, in order), and size-1 broadcasting."""
    equation, operands = _einsum_args(args)
    if not isinstance(equation, str):
        raise TypeError(f"einsum(): argument 'equation' (position 1) must be str, not "
                        f"{type(equation).__name__}")
    eq = _normalize_einsum(equation, operands)
    if _AUTOCAST and len(operands) > 1: operands = autocast_lower(*operands)
    first = operands[0]
    for t in operands[1:]:
        if t._data.dtype != first._data.dtype:
            raise RuntimeError(f"expected scalar type {_tname(first)} but found {_tname(t)}")
        if type(t._data) is not type(first._data):
            _check_same_device(first, t)
    if first.dtype is _dt.bool and len(operands) > 1:
        lhs, out = eq.split("->")
        if any(c not in out and sum(c in s for s in lhs.split(",")) > 1 for c in set(lhs)):
            raise NotImplementedError("\"bmm\" not implemented for 'Bool'")
    return Einsum.apply(eq, *operands)
