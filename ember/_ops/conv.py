"""Linear maps and convolutions: F.linear, F.bilinear, F.conv*d, F.conv_transpose*d,
F.unfold and F.fold, each a Function with forward and backward side by side.

NOTE [ How a convolution is computed ]
A convolution reads, for every output position, a window of the (zero-padded)
input. `as_strided` gives all windows at once as a view of shape
(C, *kernel, N, *out) without copying (`_columns`). The batch is then processed
in chunks of a few images sized to stay in a core's cache (`_chunks`): one copy
turns a chunk of that view into columns (im2col, the chunk's images side by
side) and one GEMM per group multiplies them with the weight. Building all
columns at once would write kh*kw times the input to memory; per-image GEMMs
would make one BLAS call (a thread sync point) per image.
With stride 1 the output rows are widened to the padded row length: each kernel
offset then reads one long contiguous run of every padded image (a fast copy)
instead of many short rows, and the few extra positions computed are dropped.
The exception is an image with few column rows (C/groups * prod(kernel) < 128,
such as a first layer on 3 colour channels): a chunk-wide GEMM that thin runs
slowly, and its output, a few long rows, must still be transposed into NCHW
order. There the same view is taken in (N, C, *kernel, *out) order: the weight
times one image's columns is that image's output, so one batched GEMM per chunk
writes the output in place (`_per_image_forward`, `_per_image_weight_grad`).
The gradients use the same pieces:
  * weight gradient: output-gradient rows (zero at the widened positions) times
    the rebuilt columns, one GEMM per chunk, summed (the forward does not keep
    its columns);
  * input gradient: the weight times the output gradient gives columns that are
    summed back into the padded input by one add per kernel offset (col2im: a loop
    over kernel positions, never over pixels), through the same window view.
The three maps are bilinear and each one's gradients are the other two, so
`Convolution`, `ConvBackwardInput` (which is also the transposed convolution)
and `ConvBackwardWeight` backpropagate through each other: gradients of any order.
Half-precision inputs are computed in float32 and rounded once at the end.
"""
from __future__ import annotations

import itertools
import math

import numpy as np

from ember import _dtype as _dt
from ember._device import array_module as _xp
from ember._ops.inplace import _type_name
from ember._ops.linalg import _C_NAME, _expand_error, matmul, mm
from ember._tensor import Tensor, _make
from ember.amp.autocast_mode import _AUTOCAST, autocast_lower
from ember.autograd.function import Function

__all__ = ["linear", "bilinear", "conv1d", "conv2d", "conv3d", "conv_transpose1d",
           "conv_transpose2d", "conv_transpose3d", "unfold", "fold"]

_F32 = np.dtype(np.float32)
_HALF = frozenset((np.dtype(np.float16), _dt.bfloat16.np))
_CHUNK_BYTES = 2 << 20  # columns built per batch chunk: about a core's L2 cache
_NARROW = 128  # fewer column rows per image than this (C/g * prod(kernel)): per-image GEMMs




def _acc(x):
    """float16/bfloat16 arrays widened to float32 (NumPy has no BLAS path for them)."""
    return x.astype(_F32) if x.dtype in _HALF else x


def _as_strided(x, shape, strides):
    return _xp(x).lib.stride_tricks.as_strided(x, shape, strides)


# ----------------------------------------------------------------- geometry
class _Geom(tuple):
    """(stride, pads, dilation, groups) of one convolution; pads are (lo, hi) per dim."""

    __slots__ = ()

    @property
    def stride(self):
        return self[0]

    @property
    def pads(self):
        return self[1]

    @property
    def dilation(self):
        return self[2]

    @property
    def groups(self):
        return self[3]


def _out_size(size: int, lo: int, hi: int, k: int, s: int, d: int) -> int:
    return (size + lo + hi - d * (k - 1) - 1) // s + 1


# ----------------------------------------------------------------- array kernels
def _zeros(xp, shape, dtype, spare: int = 0):
    """A zero array followed in memory by `spare` more zeros."""
    size = math.prod(shape)
    return xp.zeros(size + spare, dtype)[:size].reshape(shape)


def _pad_zeros(x, pads, spare: int = 0):
    """x with zeros added around its spatial dims (x itself when there is nothing to add).
    `spare` more zeros follow the padded array in memory: a widened column view (see
    `_columns`) reads that far past the end, for positions whose results are dropped."""
    if not spare and not any(lo or hi for lo, hi in pads):
        return x
    shape = x.shape[:2] + tuple(s + lo + hi for s, (lo, hi) in zip(x.shape[2:], pads))
    out = _zeros(_xp(x), shape, x.dtype, spare)
    out[(slice(None), slice(None)) + tuple(slice(lo, lo + s) for s, (lo, _) in
                                           zip(x.shape[2:], pads))] = x
    return out


def _grid(padded, ksize, out, geom, widen: bool = True):
    """The positions a column view covers per image, and how many elements its windows
    reach past the end of a padded array: the output positions (`out`), or with stride 1
    (and `widen`) the output rows widened to the padded row length. Widened, every
    kernel offset's windows are one contiguous run of each padded image; the extra
    positions are computed and dropped, and a run near the end of the array reads up
    to a row past it (into `spare` zeros that the padded array carries). Rows are not
    widened by more than a quarter (small images with wide padding): the GEMM would spend
    more on dropped positions than the copy saves."""
    if not (widen and len(ksize) > 1 and all(s == 1 for s in geom[0]) and
            4 * math.prod(padded[1:]) <= 5 * math.prod(out[1:])):
        return tuple(out), 0
    spare = sum(d * (k - 1) * math.prod(padded[i + 1:])
                for i, (d, k) in enumerate(zip(geom[2], ksize)) if i)
    return (out[0],) + tuple(padded[1:]), spare


def _window_view(xpad, ksize, grid, geom):
    """The kernel windows of a padded array (N, C, *padded) at the positions of `grid`,
    as a strided (C, *kernel, N, *grid) view (no copy)."""
    st = xpad.strides
    return _as_strided(xpad, (xpad.shape[1],) + tuple(ksize) + (xpad.shape[0],) + grid,
                       (st[1],) + tuple(a * d for a, d in zip(st[2:], geom[2])) + (st[0],) +
                       tuple(a * s for a, s in zip(st[2:], geom[0])))


def _columns(x, ksize, out, geom, widen: bool = True):
    """All kernel windows of x (N, C, *in), padded, as a (C, *kernel, N, *grid) view, and
    the grid (`_grid`). The view costs nothing; copying a batch chunk of it gives that
    chunk's columns, in long runs when the grid is widened."""
    padded = tuple(s + lo + hi for s, (lo, hi) in zip(x.shape[2:], geom[1]))
    grid, spare = _grid(padded, ksize, out, geom, widen)
    return _window_view(_pad_zeros(x, geom[1], spare), ksize, grid, geom), grid


def _chunks(n: int, per_image: int, xp):
    """Batch slices whose columns (per_image bytes each) fit in a core's cache together.

    Building the columns of a few images and multiplying them while they are still in
    cache is faster than building all columns first (they are kh*kw times the input);
    a GPU gets the whole batch at once."""
    step = n if xp is not np else max(1, min(n, _CHUNK_BYTES // max(per_image, 1)))
    return [slice(i, min(i + step, n)) for i in range(0, n, step)]


def _col2im(acc, cols, ksize, grid, geom):
    """Add columns (C, *kernel, N, *grid) back into the windows they came from in the
    padded array `acc` (N, C, *padded): one strided add per kernel offset (a loop over
    kernel positions, never pixels). Widened grids add whole runs; their extra positions
    must hold zeros."""
    win = _window_view(acc, ksize, grid, geom)
    for kk in itertools.product(*(range(k) for k in ksize)):
        win[(slice(None),) + kk] += cols[(slice(None),) + kk]
    return acc


def _crop(xpad, pads, size):
    if not any(lo or hi for lo, hi in pads):
        return xpad
    return xpad[(slice(None), slice(None)) + tuple(slice(lo, lo + s) for (lo, _), s in
                                                   zip(pads, size))]


def _gemm(a, b):
    """Product over the groups axis; one group goes to BLAS as a plain 2-D GEMM."""
    return (a[0] @ b[0])[None] if a.shape[0] == 1 else a @ b


def _chunk_cols(view, b, g):
    """The columns of the images in batch slice `b`, (g, C/g * prod(kernel), B * prod(grid)):
    one copy out of the (C, *kernel, N, *grid) view of `_columns`."""
    nk = (view.ndim - 2) // 2
    cols = _xp(view).ascontiguousarray(view[(slice(None),) * (1 + nk) + (b,)])
    return cols.reshape(g, math.prod(cols.shape[:1 + nk]) // g, -1)


def _chunk_rows(grad, b, g, grid):
    """An output gradient's images in batch slice `b` as (g, O/g, B * prod(grid)), laid
    out like the columns: one copy, with zeros at the positions a widened grid adds."""
    part = grad[b].swapaxes(0, 1)
    xp = _xp(grad)
    if part.shape[2:] == grid:
        rows = xp.ascontiguousarray(part)
    else:
        rows = xp.zeros(part.shape[:2] + grid, grad.dtype)
        rows[(slice(None), slice(None)) + tuple(slice(0, s) for s in part.shape[2:])] = part
    return rows.reshape(g, rows.shape[0] // g, -1)


def _per_image(c: int, g: int, ksize) -> bool:
    """Whether a convolution's columns are narrow enough (fewer than _NARROW rows per
    image) for per-image GEMMs: the forward and the weight gradient take the same path."""
    return c // g * math.prod(ksize) < _NARROW


def _per_image_plan(x, ksize, out, geom):
    """For the per-image path: the windows of x padded as an (N, C, *kernel, *out) view,
    whose image slices flattened are those images' columns, the batch chunks, and one
    buffer (B, g, C/g * prod(kernel), prod(out)) that every chunk's columns reuse."""
    view = _columns(x, ksize, out, geom, widen=False)[0]
    view = _xp(x).moveaxis(view, 1 + len(ksize), 0)
    n, c, g = x.shape[0], x.shape[1], geom[3]
    k, p = c // g * math.prod(ksize), math.prod(out)
    chunks = _chunks(n, k * g * p * x.itemsize, _xp(x))
    return view, chunks, _xp(x).empty((chunks[0].stop if chunks else 0, g, k, p), x.dtype)


def _image_cols(view, b, buf):
    """The columns of the images in batch slice `b`, copied into the front of `buf`."""
    cols = buf[:b.stop - b.start]
    cols.reshape(view[b].shape)[...] = view[b]
    return cols


def _per_image_forward(x, w, geom, out, bias):
    """`_conv_forward` for narrow columns: the weight times each image's columns (one
    batched GEMM per chunk) is that image's output, written in place, already in NCHW
    order; the bias is added while the chunk is still in cache."""
    xp = _xp(x)
    n, o, g = x.shape[0], w.shape[0], geom[3]
    view, chunks, buf = _per_image_plan(x, tuple(w.shape[2:]), out, geom)
    y = xp.empty((n, o) + out, x.dtype)
    yg = y.reshape(n, g, o // g, math.prod(out))
    wg = w.reshape(g, o // g, -1)
    if bias is not None:
        bias = bias.reshape(g, o // g, 1)
    for b in chunks:
        xp.matmul(wg, _image_cols(view, b, buf), out=yg[b])
        if bias is not None:
            yg[b] += bias
    return y


def _per_image_weight_grad(x, grad, geom, ksize):
    """`_conv_weight_grad` for narrow columns: each image's columns times its output
    gradient, transposed, summed over the batch."""
    xp = _xp(x)
    n, c, o, g = x.shape[0], x.shape[1], grad.shape[1], geom[3]
    view, chunks, buf = _per_image_plan(x, ksize, tuple(grad.shape[2:]), geom)
    rows = grad.reshape(n, g, o // g, math.prod(grad.shape[2:])).swapaxes(2, 3)
    gw = xp.zeros((g, c // g * math.prod(ksize), o // g), x.dtype)
    for b in chunks:
        gw += xp.matmul(_image_cols(view, b, buf), rows[b]).sum(0)
    return gw


def _conv_forward(x, w, geom, out=None, bias=None):
    """(N, C, *in) conv (O, C/g, *k) [+ bias (O,)] -> (N, O, *out) on arrays of one dtype.
    `out` may ask for fewer positions than fit (a transposed convolution's output_padding
    can leave positions that no window of the original convolution started at).

    The batch goes in cache-sized chunks: one copy builds a chunk's columns, one GEMM
    per group multiplies them, and the result, cropped to the output positions, is
    written into the chunk's output with the bias added on the way."""
    dtype = x.dtype
    x, w = _acc(x), _acc(w)
    xp = _xp(x)
    ksize = w.shape[2:]
    g = geom[3]
    out = out or tuple(_out_size(s, lo, hi, k, st, d) for s, (lo, hi), k, st, d in
                       zip(x.shape[2:], geom[1], ksize, geom[0], geom[2]))
    n, c, o = x.shape[0], x.shape[1], w.shape[0]
    if _per_image(c, g, ksize):
        y = _per_image_forward(x, w, geom, out, None if bias is None else _acc(bias))
        return y if y.dtype == dtype else y.astype(dtype)
    view, grid = _columns(x, ksize, out, geom)
    crop = (slice(None), slice(None)) + tuple(slice(0, s) for s in out)
    wg = w.reshape(g, o // g, -1)
    y = xp.empty((n, o) + tuple(out), x.dtype)
    if bias is not None:
        bias = _acc(bias).reshape((o, 1) + (1,) * len(out))
    for b in _chunks(n, c * math.prod(ksize) * math.prod(grid) * x.itemsize, xp):
        yc = _gemm(wg, _chunk_cols(view, b, g)).reshape((o, -1) + grid)[crop]
        if bias is None:
            y[b] = yc.swapaxes(0, 1)
        else:
            xp.add(yc, bias, out=y[b].swapaxes(0, 1))
    return y if y.dtype == dtype else y.astype(dtype)


def _conv_input_grad(grad, w, geom, in_size):
    """Gradient of a convolution wrt its input: the transposed convolution of `grad`.

    Chunk by chunk, the transposed weight times the output gradient (widened like the
    forward's columns, zeros at the extra positions) gives columns that col2im adds back
    into a padded chunk; its interior is the input gradient."""
    pads, g = geom[1], geom[3]
    ksize = tuple(w.shape[2:])
    out = tuple(grad.shape[2:])
    o, cg = w.shape[:2]
    dtype = grad.dtype
    grad, w = _acc(grad), _acc(w)
    xp = _xp(grad)
    n = grad.shape[0]
    c = g * cg
    padded = tuple(s + a + b for s, (a, b) in zip(in_size, pads))
    grid, spare = _grid(padded, ksize, out, geom)
    wt = w.reshape(g, o // g, -1).swapaxes(1, 2)  # (g, C/g * k, O/g)
    gx = xp.empty((n, c) + tuple(in_size), grad.dtype)
    for b in _chunks(n, c * math.prod(ksize) * math.prod(grid) * grad.itemsize, xp):
        cols = _gemm(wt, _chunk_rows(grad, b, g, grid)).reshape((c,) + ksize + (-1,) + grid)
        acc = _zeros(xp, (cols.shape[1 + len(ksize)], c) + padded, grad.dtype, spare)
        gx[b] = _crop(_col2im(acc, cols, ksize, grid, geom), pads, in_size)
    return gx if gx.dtype == dtype else gx.astype(dtype)


def _conv_weight_grad(x, grad, geom, ksize):
    """Gradient of a convolution wrt its weight: output gradient rows times columns,
    summed over cache-sized batch chunks whose columns are rebuilt here (keeping them
    from the forward would hold kh*kw copies of every input)."""
    dtype = x.dtype
    x, grad = _acc(x), _acc(grad)
    xp = _xp(x)
    g = geom[3]
    c = x.shape[1]
    o = grad.shape[1]
    # columns on the left: OpenBLAS is faster with them as the untransposed operand
    if _per_image(c, g, ksize):
        gw = _per_image_weight_grad(x, grad, geom, ksize)
    else:
        view, grid = _columns(x, ksize, tuple(grad.shape[2:]), geom)
        gw = xp.zeros((g, c // g * math.prod(ksize), o // g), x.dtype)
        for b in _chunks(x.shape[0], c * math.prod(ksize) * math.prod(grid) * x.itemsize,
                         xp):
            gw += _gemm(_chunk_cols(view, b, g), _chunk_rows(grad, b, g, grid).swapaxes(1, 2))
    gw = gw.swapaxes(1, 2).reshape((o, c // g) + tuple(ksize))
    return gw if gw.dtype == dtype else gw.astype(dtype)


def _bias_view(b, nd):
    return b.reshape((1, -1) + (1,) * nd)


def _bias_sum(grad: Tensor) -> Tensor:
    return grad.sum((0,) + tuple(range(2, grad.ndim)))


# ----------------------------------------------------------------- convolution Functions
class Convolution(Function):
    """input (N, C, *in) convolved with weight (O, C/groups, *k), plus bias (O,)."""

    _node_name = "ConvolutionBackward0"

    @staticmethod
    def forward(ctx, input, weight, bias, geom, out_size=None):
        y = _conv_forward(input._data, weight._data, geom, out_size,
                          None if bias is None else bias._data)
        ctx.save_for_backward(input, weight)
        ctx.geom = geom
        return _make(y)

    @staticmethod
    def backward(ctx, grad):
        input, weight = ctx.saved_tensors
        geom = ctx.geom
        need = ctx.needs_input_grad
        gx = ConvBackwardInput.apply(grad, weight, None, geom, tuple(input.shape[2:]),
                                     "ConvolutionBackwardBackward0") if need[0] else None
        gw = ConvBackwardWeight.apply(input, grad, geom, tuple(weight.shape[2:])) \
            if need[1] else None
        gb = _bias_sum(grad) if need[2] else None
        return gx, gw, gb, None, None


class ConvBackwardInput(Function):
    """The transposed convolution: grad (N, O, *out) with weight (O, C/groups, *k) gives
    (N, C, *in_size). It is conv_transpose's forward and Convolution's input gradient."""

    _node_name = "ConvolutionBackward0"

    @staticmethod
    def forward(ctx, grad, weight, bias, geom, in_size, name="ConvolutionBackward0"):
        if name != "ConvolutionBackward0":
            ctx._node_name = name
        y = _conv_input_grad(grad._data, weight._data, geom, in_size)
        if bias is not None:
            y += _bias_view(bias._data, y.ndim - 2)
        ctx.save_for_backward(grad, weight)
        ctx.geom = geom
        return _make(y)

    @staticmethod
    def backward(ctx, gg):
        grad, weight = ctx.saved_tensors
        geom = ctx.geom
        need = ctx.needs_input_grad
        g_grad = Convolution.apply(gg, weight, None, geom, tuple(grad.shape[2:])) \
            if need[0] else None
        g_weight = ConvBackwardWeight.apply(gg, grad, geom, tuple(weight.shape[2:])) \
            if need[1] else None
        gb = _bias_sum(gg) if need[2] else None
        return g_grad, g_weight, gb, None, None, None


class ConvBackwardWeight(Function):
    """A convolution's weight gradient from its input (N, C, *in) and grad (N, O, *out)."""

    _node_name = "ConvolutionBackwardBackward0"

    @staticmethod
    def forward(ctx, input, grad, geom, ksize):
        ctx.save_for_backward(input, grad)
        ctx.geom = geom
        return _make(_conv_weight_grad(input._data, grad._data, geom, ksize))

    @staticmethod
    def backward(ctx, gg):
        input, grad = ctx.saved_tensors
        geom = ctx.geom
        need = ctx.needs_input_grad
        g_input = ConvBackwardInput.apply(grad, gg, None, geom, tuple(input.shape[2:]),
                                          "ConvolutionBackwardBackward0") if need[0] else None
        g_grad = Convolution.apply(input, gg, None, geom, tuple(grad.shape[2:])) \
            if need[1] else None
        return g_input, g_grad, None, None


# ----------------------------------------------------------------- argument checks
def _int_tuple(value, n: int, name: str) -> tuple:
    if isinstance(value, Tensor):
        value = value.tolist()
    if isinstance(value, (int, np.integer)):
        return (int(value),) * n
    value = tuple(int(v) for v in value)
    if len(value) == 1:
        return value * n
    if len(value) != n:
        raise RuntimeError(f"expected {name} to be a single integer value or a list of {n} "
                           f"values to match the convolution dimensions, but got "
                           f"{name}={list(value)}")
    return value


def _tensor_type(t: Tensor) -> str:
    return f"torch.{_type_name(t.dtype)}Tensor"


def _check_operands(input: Tensor, weight: Tensor, bias, fn: str, nd: int) -> bool:
    """Common checks; returns whether the input is unbatched."""
    for arg, val in (("input", input), ("weight", weight)):
        if not isinstance(val, Tensor):
            raise TypeError(f"{fn}(): argument '{arg}' (position "
                            f"{1 if arg == 'input' else 2}) must be Tensor, not "
                            f"{type(val).__name__}")
    if input.ndim not in (nd + 1, nd + 2):
        raise RuntimeError(f"Expected {nd + 1}D (unbatched) or {nd + 2}D (batched) input to "
                           f"{fn}, but got input of size: {list(input.shape)}")
    if input.dtype != weight.dtype:
        raise RuntimeError(f"Input type ({_tensor_type(input)}) and weight type "
                           f"({_tensor_type(weight)}) should be the same or input should be a "
                           "MKLDNN tensor and weight is a dense tensor")
    if bias is not None and bias.dtype != input.dtype:
        raise RuntimeError(f"Input type ({_C_NAME[input.dtype.name]}) and bias type "
                           f"({_C_NAME[bias.dtype.name]}) should be the same")
    if input.dtype is _dt.bool:
        raise NotImplementedError(f"\"slow_conv{nd}d_cpu\" not implemented for 'Bool'")
    return input.ndim == nd + 1


def _check_hyper(stride, dilation, groups) -> None:
    if any(s <= 0 for s in stride):
        raise RuntimeError("non-positive stride is not supported")
    if any(d <= 0 for d in dilation):
        raise RuntimeError("non-positive dilation is not supported")
    if groups <= 0:
        raise RuntimeError("non-positive groups is not supported")


def _check_groups(weight: Tensor, groups: int) -> None:
    if weight.shape[0] % groups:
        raise RuntimeError(f"Given groups={groups}, expected weight to be divisible by {groups} "
                           f"at dimension 0, but got weight of size [{list(weight.shape)}] "
                           "instead")


def _convnd(input, weight, bias, stride, padding, dilation, groups, nd: int, fn: str):
    if _AUTOCAST: input, weight, bias = autocast_lower(input, weight, bias)
    unbatched = _check_operands(input, weight, bias, fn, nd)
    k = weight.ndim - 2
    stride = _int_tuple(stride, k, "stride")
    dilation = _int_tuple(dilation, k, "dilation")
    ksize = tuple(weight.shape[2:])
    if isinstance(padding, str):
        if padding == "valid":
            pads = ((0, 0),) * k
        elif padding == "same":
            if any(s != 1 for s in stride):
                raise RuntimeError("padding='same' is not supported for strided convolutions")
            pads = tuple((d * (kk - 1) // 2, d * (kk - 1) - d * (kk - 1) // 2)
                         for d, kk in zip(dilation, ksize))
        else:
            raise RuntimeError(f"Invalid padding string: '{padding}'")
    else:
        pads = tuple((p, p) for p in _int_tuple(padding, k, "padding"))
        if any(p < 0 for p, _ in pads):
            raise RuntimeError("negative padding is not supported")
    _check_hyper(stride, dilation, groups)
    if unbatched:
        input = input.unsqueeze(0)
    _check_groups(weight, groups)
    if input.shape[1] != weight.shape[1] * groups:
        raise RuntimeError(f"Given groups={groups}, weight of size {list(weight.shape)}, "
                           f"expected input{list(input.shape)} to have "
                           f"{weight.shape[1] * groups} channels, but got {input.shape[1]} "
                           "channels instead")
    if bias is not None and (bias.ndim != 1 or bias.shape[0] != weight.shape[0]):
        raise RuntimeError(f"Given weight of size {list(weight.shape)}, expected bias to be "
                           f"1-dimensional with {weight.shape[0]} elements, but got bias of "
                           f"size {list(bias.shape)} instead")
    padded = tuple(s + lo + hi for s, (lo, hi) in zip(input.shape[2:], pads))
    dilated = tuple(d * (kk - 1) + 1 for d, kk in zip(dilation, ksize))
    if any(p < kd for p, kd in zip(padded, dilated)):
        raise RuntimeError(f"Calculated padded input size per channel: "
                           f"({' x '.join(map(str, padded))}). Kernel size: "
                           f"({' x '.join(map(str, dilated))}). Kernel size can't be greater "
                           "than actual input size")
    out = Convolution.apply(input, weight, bias, _Geom((stride, pads, dilation, groups)))
    return out.squeeze(0) if unbatched else out


def conv1d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0,
           dilation=1, groups: int = 1) -> Tensor:
    """1-D convolution of (N, C, L) (or unbatched (C, L)); padding may be 'same'/'valid'."""
    return _convnd(input, weight, bias, stride, padding, dilation, groups, 1, "conv1d")


def conv2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0,
           dilation=1, groups: int = 1) -> Tensor:
    """2-D convolution of (N, C, H, W) (or unbatched (C, H, W)); padding may be an int, a
    pair, 'same' (stride 1 only; an odd total goes to the end, as torch) or 'valid'."""
    return _convnd(input, weight, bias, stride, padding, dilation, groups, 2, "conv2d")


def conv3d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0,
           dilation=1, groups: int = 1) -> Tensor:
    """3-D convolution of (N, C, D, H, W) (or unbatched (C, D, H, W))."""
    return _convnd(input, weight, bias, stride, padding, dilation, groups, 3, "conv3d")


def _conv_transposend(input, weight, bias, stride, padding, output_padding, groups, dilation,
                      nd: int, fn: str):
    if _AUTOCAST: input, weight, bias = autocast_lower(input, weight, bias)
    if isinstance(padding, str):
        raise TypeError(f"{fn}(): argument 'padding' must be tuple of ints, not str")
    unbatched = _check_operands(input, weight, bias, fn, nd)
    k = weight.ndim - 2
    stride = _int_tuple(stride, k, "stride")
    padding = _int_tuple(padding, k, "padding")
    output_padding = _int_tuple(output_padding, k, "output_padding")
    dilation = _int_tuple(dilation, k, "dilation")
    if any(p < 0 for p in padding):
        raise RuntimeError("negative padding is not supported")
    _check_hyper(stride, dilation, groups)
    if any(op >= s and op >= d for op, s, d in zip(output_padding, stride, dilation)) or \
            any(op < 0 for op in output_padding):
        names = ("depth", "height", "width")[-k:] if k > 1 else ("width",)
        parts = [f"output_padding_{n}: {v}" for n, v in zip(names, output_padding)]
        parts += [f"stride_{n}: {v}" for n, v in zip(names, stride)]
        parts += [f"dilation_{n}: {v}" for n, v in zip(names, dilation)]
        raise RuntimeError("output padding must be smaller than either stride or dilation, "
                           "but got " + " ".join(parts))
    if unbatched:
        input = input.unsqueeze(0)
    _check_groups(weight, groups)
    if input.shape[1] != weight.shape[0]:
        raise RuntimeError(f"Given transposed=1, weight of size {list(weight.shape)}, expected "
                           f"input{list(input.shape)} to have {weight.shape[0]} channels, but "
                           f"got {input.shape[1]} channels instead")
    c_out = weight.shape[1] * groups
    if bias is not None and (bias.ndim != 1 or bias.shape[0] != c_out):
        raise RuntimeError(f"Given transposed=1, weight of size {list(weight.shape)}, expected "
                           f"bias to be 1-dimensional with {c_out} elements, but got bias of "
                           f"size {list(bias.shape)} instead")
    ksize = weight.shape[2:]
    size = tuple((i - 1) * s - 2 * p + d * (kk - 1) + op + 1 for i, s, p, d, kk, op in
                 zip(input.shape[2:], stride, padding, dilation, ksize, output_padding))
    if any(s <= 0 for s in size):
        given = " x ".join(map(str, input.shape[2:]))
        raise RuntimeError(f"Given input size per channel: ({given}). Calculated output size "
                           f"per channel: "
                           f"({' x '.join(map(str, size))}). Output size is too small")
    # The padded output holds every window position; what output_padding adds beyond the
    # last window is padding on the high side that no window reaches.
    geom = _Geom((stride, tuple((p, p) for p in padding), dilation, groups))
    out = ConvBackwardInput.apply(input, weight, bias, geom, size)
    return out.squeeze(0) if unbatched else out


def conv_transpose1d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1,
                     padding=0, output_padding=0, groups: int = 1, dilation=1) -> Tensor:
    """1-D transposed convolution; weight is (C_in, C_out/groups, k)."""
    return _conv_transposend(input, weight, bias, stride, padding, output_padding, groups,
                             dilation, 1, "conv_transpose1d")


def conv_transpose2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1,
                     padding=0, output_padding=0, groups: int = 1, dilation=1) -> Tensor:
    """2-D transposed convolution (the input gradient of conv2d); weight is
    (C_in, C_out/groups, kh, kw); output_padding adds rows/columns at the end."""
    return _conv_transposend(input, weight, bias, stride, padding, output_padding, groups,
                             dilation, 2, "conv_transpose2d")


def conv_transpose3d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1,
                     padding=0, output_padding=0, groups: int = 1, dilation=1) -> Tensor:
    """3-D transposed convolution; weight is (C_in, C_out/groups, kd, kh, kw)."""
    return _conv_transposend(input, weight, bias, stride, padding, output_padding, groups,
                             dilation, 3, "conv_transpose3d")


# ----------------------------------------------------------------- unfold / fold
def _fold_geom(kernel_size, dilation, padding, stride) -> tuple:
    ks = _int_tuple(kernel_size, 2, "kernel_size")
    d = _int_tuple(dilation, 2, "dilation")
    p = _int_tuple(padding, 2, "padding")
    s = _int_tuple(stride, 2, "stride")
    if any(v <= 0 for v in ks):
        raise RuntimeError(f"kernel size should be greater than zero, but got kernel_height: "
                           f"{ks[0]} kernel_width: {ks[1]}")
    if any(v <= 0 for v in s):
        raise RuntimeError(f"stride should be greater than zero, but got stride_height: {s[0]} "
                           f"stride_width: {s[1]}")
    if any(v <= 0 for v in d):
        raise RuntimeError(f"dilation should be greater than zero, but got dilation_height: "
                           f"{d[0]} dilation_width: {d[1]}")
    if any(v < 0 for v in p):
        raise RuntimeError(f"padding should be non-negative, but got pad_height: {p[0]} "
                           f"pad_width: {p[1]}")
    return ks, _Geom((s, tuple((v, v) for v in p), d, 1))


def _blocks(size, ks, geom) -> tuple:
    return tuple(_out_size(n, lo, hi, k, s, d) for n, (lo, hi), k, s, d in
                 zip(size, geom[1], ks, geom[0], geom[2]))


class Im2Col(Function):
    """(N, C, H, W) -> (N, C*kh*kw, L): every sliding block as a column."""

    _node_name = "Im2ColBackward0"

    @staticmethod
    def forward(ctx, input, ksize, geom):
        x = input._data
        out = _blocks(x.shape[2:], ksize, geom)
        n, c = x.shape[:2]
        view = _columns(x, ksize, out, geom, widen=False)[0]
        cols = _xp(x).ascontiguousarray(view.transpose(3, 0, 1, 2, 4, 5))
        ctx.size, ctx.ksize, ctx.geom = x.shape[2:], ksize, geom
        return _make(cols.reshape(n, c * ksize[0] * ksize[1], out[0] * out[1]))

    @staticmethod
    def backward(ctx, grad):
        return Col2Im.apply(grad, ctx.size, ctx.ksize, ctx.geom), None, None


class Col2Im(Function):
    """(N, C*kh*kw, L) -> (N, C, H, W): columns summed back into their blocks."""

    _node_name = "Col2ImBackward0"

    @staticmethod
    def forward(ctx, input, size, ksize, geom):
        x = input._data
        out = _blocks(size, ksize, geom)
        n = x.shape[0]
        c = x.shape[1] // (ksize[0] * ksize[1])
        cols = x.reshape((n, c) + tuple(ksize) + out).transpose(1, 2, 3, 0, 4, 5)
        padded = (n, c) + tuple(s + lo + hi for s, (lo, hi) in zip(size, geom[1]))
        acc = _col2im(_xp(x).zeros(padded, x.dtype), cols, ksize, out, geom)
        y = _crop(acc, geom[1], size)
        ctx.ksize, ctx.geom = ksize, geom
        return _make(_xp(y).ascontiguousarray(y))

    @staticmethod
    def backward(ctx, grad):
        return Im2Col.apply(grad, ctx.ksize, ctx.geom), None, None, None


def unfold(input: Tensor, kernel_size, dilation=1, padding=0, stride=1) -> Tensor:
    """Extract sliding local blocks: (N, C, H, W) -> (N, C*prod(kernel_size), L) (im2col);
    a 3-D input is treated as one unbatched image."""
    if input.ndim < 3:
        raise IndexError(f"Dimension out of range (expected to be in range of "
                         f"[{-max(input.ndim, 1)}, {max(input.ndim, 1) - 1}], but got 2)")
    if input.ndim != 4 and input.ndim != 3:
        raise RuntimeError(f"Expected 3D or 4D (batch mode) tensor with possibly 0 batch size "
                           f"and other non-zero dimensions for input, but got: "
                           f"{list(input.shape)}")
    ks, geom = _fold_geom(kernel_size, dilation, padding, stride)
    unbatched = input.ndim == 3
    x = input.unsqueeze(0) if unbatched else input
    out = _blocks(x.shape[2:], ks, geom)
    if any(o < 1 for o in out):
        p = tuple(lo for lo, _ in geom[1])
        raise RuntimeError(f"Given input with spatial size {tuple(x.shape[2:])}, kernel_size="
                           f"{ks}, dilation={geom[2]}, padding={p}, calculated shape of the "
                           f"array of sliding blocks as {out}, but its components must be at "
                           "least one.")
    y = Im2Col.apply(x, ks, geom)
    return y.squeeze(0) if unbatched else y


def fold(input: Tensor, output_size, kernel_size, dilation=1, padding=0, stride=1) -> Tensor:
    """Combine sliding blocks (N, C*prod(kernel_size), L) into (N, C, *output_size),
    summing where blocks overlap (col2im); a 2-D input is one unbatched set of blocks."""
    if input.ndim not in (2, 3):
        raise RuntimeError(f"Expected 2D or 3D (batch mode) tensor for input with possibly 0 "
                           f"batch size and non-zero dimensions for input, but got: "
                           f"{list(input.shape)}")
    size = _int_tuple(output_size, 2, "output_size")
    ks, geom = _fold_geom(kernel_size, dilation, padding, stride)
    unbatched = input.ndim == 2
    x = input.unsqueeze(0) if unbatched else input
    kprod = ks[0] * ks[1]
    if x.shape[1] % kprod:
        raise RuntimeError(f"Expected size of input's dimension 1 to be divisible by the "
                           f"product of kernel_size, but got input.size(1)={x.shape[1]} and "
                           f"kernel_size={ks}.")
    out = _blocks(size, ks, geom)
    if any(o < 1 for o in out):
        p = tuple(lo for lo, _ in geom[1])
        raise RuntimeError(f"Given output_size={size}, kernel_size={ks}, dilation={geom[2]}, "
                           f"padding={p}, stride={geom[0]}, calculated shape of the array of "
                           f"sliding blocks as {out}, but its components must be at least one.")
    if x.shape[2] != out[0] * out[1]:
        p = tuple(lo for lo, _ in geom[1])
        raise RuntimeError(f"Given output_size={size}, kernel_size={ks}, dilation={geom[2]}, "
                           f"padding={p}, stride={geom[0]}, expected size of input's dimension "
                           f"2 to match the calculated number of sliding blocks {out[0]} * "
                           f"{out[1]} = {out[0] * out[1]}, but got input.size(2)={x.shape[2]}.")
    y = Col2Im.apply(x, size, ks, geom)
    return y.squeeze(0) if unbatched else y


# ----------------------------------------------------------------- linear maps
_LINEAR_NAMES = {  # torch's grad_fn name by (input is 2-D / 1-D / more, with bias)
    (2, True): "AddmmBackward0", (2, False): "MmBackward0",
    (1, True): "ViewBackward0", (1, False): "SqueezeBackward4",
    (3, True): "ViewBackward0", (3, False): "UnsafeViewBackward0"}


class Linear(Function):
    """input (*, in) @ weight.T (in, out) + bias: one GEMM over all leading dims."""

    _node_name = "AddmmBackward0"

    @staticmethod
    def forward(ctx, input, weight, bias):
        x, w = input._data, weight._data
        lead = x.shape[:-1]
        name = _LINEAR_NAMES[min(x.ndim, 3), bias is not None]
        if name != "AddmmBackward0":
            ctx._node_name = name
        x2 = x.reshape(-1, x.shape[-1]) if x.ndim != 2 else x
        if x.dtype in _HALF:
            y = x2.astype(_F32) @ w.astype(_F32).T
        else:
            y = x2 @ w.T  # the transposed view goes to BLAS as is: W is never copied
        if bias is not None:
            b = bias._data
            try:
                y += b.astype(_F32) if b.dtype != y.dtype else b
            except ValueError:
                raise _expand_error(y.shape, b.shape) from None
        if y.dtype != x.dtype:
            y = y.astype(x.dtype)
        ctx.save_for_backward(input, weight)
        ctx.bias_rows = bias is not None and bias._data.ndim == 1
        return _make(y.reshape(lead + (w.shape[0],)) if x.ndim != 2 else y)

    @staticmethod
    def backward(ctx, grad):
        input, weight = ctx.saved_tensors
        need = ctx.needs_input_grad
        g2 = grad.reshape(-1, weight.shape[0]) if grad.ndim != 2 else grad
        gx = gw = None
        if need[0]:
            gx = mm(g2, weight)
            if input.ndim != 2:
                gx = gx.reshape(input.shape)
        if need[1]:
            gw = mm(g2.mT, input.reshape(-1, weight.shape[1]) if input.ndim != 2 else input)
        gb = None
        if need[2]:  # a (out,) bias sums over the rows; other shapes are reduced by the engine
            gb = g2.sum(0) if ctx.bias_rows else grad
        return gx, gw, gb


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """input @ weight.T + bias for input (*, in_features), weight (out_features,
    in_features): one GEMM and one graph node, named as torch names it."""
    if _AUTOCAST: input, weight, bias = autocast_lower(input, weight, bias)
    try:
        x, w = input._data, weight._data
    except AttributeError:
        _linear_type_error(input, weight)
    # the common case, checked on the raw arrays: matching float dtypes and sizes
    if w.ndim == 2 and x.ndim and x.dtype == w.dtype and x.dtype.kind == "f" and \
            x.shape[-1] == w.shape[1] and (bias is None or bias._data.dtype == w.dtype and
                                           (bias._data.ndim < 2 or x.ndim == 2)):
        return Linear.apply(input, weight, bias)
    if weight.ndim != 2 or input.ndim == 0:
        if weight.ndim > 2:
            raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is "
                               f"{weight.ndim}D")
        if bias is not None and weight.ndim == 1:
            raise RuntimeError("mat2 must be a matrix, got 1-D tensor")
        out = matmul(input, weight.t())
        return out if bias is None else out + bias
    if input.dtype != weight.dtype:
        raise RuntimeError(f"expected m1 and m2 to have the same dtype, but got: "
                           f"{_C_NAME[input.dtype.name]} != {_C_NAME[weight.dtype.name]}")
    if bias is not None and bias.dtype != weight.dtype:
        raise RuntimeError(f"self and mat2 must have the same dtype, but got "
                           f"{_type_name(bias.dtype)} and {_type_name(weight.dtype)}")
    if input.dtype is _dt.bool:
        raise NotImplementedError("\"addmm_impl_cpu_\" not implemented for 'Bool'")
    if input.shape[-1] != weight.shape[1]:
        rows = math.prod(input.shape[:-1])
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({rows}x"
                           f"{input.shape[-1]} and {weight.shape[1]}x{weight.shape[0]})")
    if bias is not None and input.ndim != 2 and bias.ndim > 1:
        # a bias shaped like the output is added after the product, as torch does
        return matmul(input, weight.t()) + bias
    return Linear.apply(input, weight, bias)


def _linear_type_error(input, weight):
    for pos, (arg, val) in enumerate((("input", input), ("weight", weight)), 1):
        if not isinstance(val, Tensor):
            raise TypeError(f"linear(): argument '{arg}' (position {pos}) must be Tensor, not "
                            f"{type(val).__name__}")


def bilinear(input1: Tensor, input2: Tensor, weight: Tensor,
             bias: Tensor | None = None) -> Tensor:
    """y[..., o] = input1[..., i] weight[o, i, j] input2[..., j] + bias[o]: one GEMM for
    input1 against every (o, j) pair, then a product with input2 summed over j."""
    if weight.ndim != 3:
        raise RuntimeError(f"bilinear(): weight must be 3-dimensional, but got "
                           f"{weight.ndim}D")
    if input1.ndim != input2.ndim:
        raise RuntimeError(f"bilinear(): input dimensions do not match: got {input1.ndim} and "
                           f"{input2.ndim}")
    for i in range(input1.ndim - 1):
        if input1.shape[i] != input2.shape[i]:
            raise RuntimeError(f"bilinear(): input batch dimensions do not match at dim {i}: "
                               f"got {input1.shape[i]} and {input2.shape[i]}")
    out_f, in1, in2 = weight.shape
    if input1.shape[-1] != in1:
        raise RuntimeError(f"bilinear(): input1 size does not match weight size: got "
                           f"{input1.shape[-1]} but expected {in1}")
    if input2.shape[-1] != in2:
        raise RuntimeError(f"bilinear(): input2 size does not match weight size: got "
                           f"{input2.shape[-1]} but expected {in2}")
    if bias is not None and (bias.ndim != 1 or bias.shape[0] != out_f):
        got = bias.shape[0] if bias.ndim == 1 else list(bias.shape)
        raise RuntimeError(f"bilinear(): bias size does not match weight size: got {got} but "
                           f"expected {out_f}")
    lead = tuple(input1.shape[:-1])
    w2 = weight.permute(1, 0, 2).reshape(in1, out_f * in2)
    t = matmul(input1.reshape(-1, in1), w2).reshape(-1, out_f, in2)
    y = (t * input2.reshape(-1, 1, in2)).sum(-1).reshape(lead + (out_f,))
    return y if bias is None else y + bias
