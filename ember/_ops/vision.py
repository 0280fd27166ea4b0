"""Padding, resampling and pixel shuffling (torch.nn.functional.pad / interpolate / ...).

Non-constant padding and nearest/linear/cubic interpolation are all *separable
index maps*: along each spatial dim, output position j reads input positions
`idx_t[j]` with weights `w_t[j]` (one tap for nearest and padding, two for linear
and four for cubic interpolation). Dims up to `_DENSE_MAX` long apply the map as a
small matrix product instead. `_Resample` applies such a map with NumPy `take`; its backward is
the transpose (`_ResampleT`: a segment sum of the gradient back to the input
positions, no `np.add.at`), and the transpose's backward is the map again, so
every order of derivative works.
"""
from __future__ import annotations

import math
import warnings

import numpy as np

from ember._device import array_module as _xp
from ember._tensor import Tensor, _make
from ember.amp.autocast_mode import _AUTOCAST, autocast_fp32
from ember.autograd.function import Function

__all__ = ["pad", "interpolate", "upsample", "upsample_nearest", "upsample_bilinear",
           "pixel_shuffle", "pixel_unshuffle", "one_hot"]

_ndarray = np.ndarray
_FLOATS = frozenset(("float32", "float64", "float16", "bfloat16"))
_TYPE = {"float32": "Float", "float64": "Double", "float16": "Half", "bfloat16": "BFloat16",
         "int64": "Long", "int32": "Int", "int16": "Short", "int8": "Char", "uint8": "Byte",
         "bool": "Bool"}




# ----------------------------------------------------------------- separable index maps
def _work_dtype(dtype):
    """Floating work happens in float32 (float64 stays float64); others keep their dtype."""
    if dtype == np.float64 or dtype.kind in "biu":
        return dtype
    return np.dtype(np.float32)


def _segment_sum_axis(g, idx, L: int, axis: int):
    """out[..., i, ...] = sum of g's slices along `axis` whose idx is i (length L there)."""
    xp = _xp(g)
    shape = list(g.shape)
    shape[axis] = L
    if g.size == 0:
        return xp.zeros(shape, g.dtype)
    if xp is not np:  # CuPy: an atomic scatter-add kernel
        import cupyx
        out = xp.zeros([L] + shape[:axis] + shape[axis + 1:], g.dtype)
        cupyx.scatter_add(out, xp.asarray(idx), xp.moveaxis(g, axis, 0))
        return xp.moveaxis(out, 0, axis)
    order = np.argsort(idx, kind="stable")
    sidx = idx[order]
    starts = np.flatnonzero(np.r_[True, sidx[1:] != sidx[:-1]])
    if not np.array_equal(order, np.arange(order.size)):
        g = np.take(g, order, axis=axis)
    sums = np.add.reduceat(g, starts, axis=axis)
    targets = sidx[starts]
    if targets.size == L:  # every input position is read: the sums are the result
        return sums
    out = np.zeros(shape, g.dtype)
    key = [slice(None)] * g.ndim
    key[axis] = targets
    out[tuple(key)] = sums
    return out


def _bcast(w, axis: int, ndim: int):
    """A 1-d weight vector shaped to broadcast along `axis` of an ndim array."""
    return w.reshape((-1,) + (1,) * (ndim - 1 - axis))


_DENSE_MAX = 128  # input lengths up to this resample by a small matrix product (BLAS)


def _dense(L: int, taps, xp, dtype):
    """The (L_out, L) matrix of one dim's map (taps that coincide add up)."""
    o = taps[0][0].shape[0]
    m = np.zeros((o, L), dtype)
    rows = np.arange(o)
    for idx, w in taps:
        m[rows, idx] += 1 if w is None else w
    return xp.asarray(m)


def _along(a, m, axis: int, xp):
    """Contract dim `axis` of `a` with matrix m (new length, old length)."""
    if axis == a.ndim - 1:
        return a @ m.T
    if axis == a.ndim - 2:
        return m @ a
    return xp.moveaxis(xp.moveaxis(a, axis, -1) @ m.T, -1, axis)


def _apply_map(a, maps, xp):
    """The separable map: one (axis, L_in, taps) entry per resampled dim."""
    for axis, L, taps in maps:
        if L <= _DENSE_MAX and a.dtype.kind == "f":
            a = _along(a, _dense(L, taps, xp, a.dtype), axis, xp)
            continue
        out = None
        for idx, w in taps:
            part = xp.take(a, xp.asarray(idx), axis=axis)
            if w is not None:
                part = part * _bcast(xp.asarray(w), axis, a.ndim)
            out = part if out is None else out + part
        a = out
    return a


def _apply_transpose(g, maps, xp):
    for axis, L, taps in reversed(maps):
        if L <= _DENSE_MAX and g.dtype.kind == "f":
            g = _along(g, _dense(L, taps, xp, g.dtype).T, axis, xp)
            continue
        out = None
        for idx, w in taps:
            part = g if w is None else g * _bcast(xp.asarray(w), axis, g.ndim)
            part = _segment_sum_axis(part, idx, L, axis)
            out = part if out is None else out + part
        g = out
    return g


class _Resample(Function):
    """A separable index map (padding, nearest and linear interpolation)."""

    @staticmethod
    def forward(ctx, x: Tensor, maps, name: str) -> Tensor:
        a = x._data
        xp = _xp(a)
        ctx.maps, ctx._node_name = maps, name  # torch's node name for the calling op
        work = _work_dtype(a.dtype)
        out = _apply_map(a if a.dtype == work else a.astype(work), maps, xp)
        return _make(out.astype(a.dtype, copy=False))

    @staticmethod
    def backward(ctx, grad: Tensor):
        return _ResampleT.apply(grad, ctx.maps, ctx._node_name), None, None


class _ResampleT(Function):
    """The transpose of `_Resample`: gradients summed back to the positions they came from."""

    @staticmethod
    def forward(ctx, grad: Tensor, maps, name: str) -> Tensor:
        g = grad._data
        ctx.maps, ctx.name = maps, name
        ctx._node_name = name.replace("Backward0", "BackwardBackward0")
        work = _work_dtype(g.dtype)
        out = _apply_transpose(g if g.dtype == work else g.astype(work), maps, _xp(g))
        return _make(out.astype(g.dtype, copy=False))

    @staticmethod
    def backward(ctx, gg: Tensor):
        return _Resample.apply(gg, ctx.maps, ctx.name), None, None


# ----------------------------------------------------------------- pad
class ConstantPadNd(Function):
    """Constant padding; negative amounts crop. Its backward is the opposite padding."""

    _node_name = "ConstantPadNdBackward0"

    @staticmethod
    def forward(ctx, x: Tensor, pads: tuple, value) -> Tensor:
        a = x._data
        ctx.pads = pads
        n = len(pads) // 2
        shape = list(a.shape)
        src = [slice(None)] * a.ndim
        dst = [slice(None)] * a.ndim
        for i in range(n):
            axis = a.ndim - 1 - i
            before, after = pads[2 * i], pads[2 * i + 1]
            L = a.shape[axis]
            new = L + before + after
            if new < 0 or (L + min(before, 0) < 0) or (L + min(after, 0) < 0):
                raise RuntimeError(f"The input size {L}, plus negative padding {before} and "
                                   f"{after} resulted in a negative output size, which is "
                                   f"invalid. Check dimension {axis} of your input.")
            shape[axis] = new
            src[axis] = slice(max(-before, 0), L - max(-after, 0))
            dst[axis] = slice(max(before, 0), new - max(after, 0))
        out = _xp(a).full(shape, value, a.dtype)
        out[tuple(dst)] = a[tuple(src)]
        return _make(out)

    @staticmethod
    def backward(ctx, grad: Tensor):
        return ConstantPadNd.apply(grad, tuple(-p for p in ctx.pads), 0), None, None


def _pad_index(L: int, before: int, after: int, mode: str):
    j = np.arange(-before, L + after, dtype=np.int64)
    if mode == "reflect":
        j = np.abs(j)
        return np.where(j >= L, 2 * (L - 1) - j, j)
    if mode == "replicate":
        return np.clip(j, 0, L - 1)
    # circular: negative amounts crop first, and the rest wraps around what is left
    lo, hi = max(-before, 0), L - max(-after, 0)
    j = np.arange(-max(before, 0), hi - lo + max(after, 0), dtype=np.int64)
    return j % (hi - lo) + lo


_PAD_SIZES = ("Supported combinations for non-constant padding:\n"
              "  - 2D or 3D input: padding size = 2 (pads last dimension)\n"
              "  - 3D or 4D input: padding size = 4 (pads last 2 dimensions)\n"
              "  - 4D or 5D input: padding size = 6 (pads last 3 dimensions)")
_PAD_NAMES = {"reflect": "Reflection", "replicate": "Replication"}


def pad(input: Tensor, pad, mode: str = "constant", value: float | None = None) -> Tensor:
    """Pad the last len(pad)//2 dims: pad = (left, right, top, bottom, front, back) from the
    last dim backwards. 'constant' takes any number of dims and negative amounts (crop);
    'reflect', 'replicate' and 'circular' pad 1-3 dims of a batched or unbatched input."""
    pads = tuple(int(p) for p in pad)
    ndim = input._data.ndim
    if len(pads) % 2:
        raise RuntimeError("Padding length must be divisible by 2")
    if len(pads) // 2 > ndim:
        raise RuntimeError(f"Padding length should be less than or equal to two times the "
                           f"input dimension but got padding length {len(pads)} and input of "
                           f"dimension {ndim}")
    if mode == "constant":
        if value is None:
            value = 0
        return ConstantPadNd.apply(input, pads, value)
    if mode not in ("reflect", "replicate", "circular"):
        raise NotImplementedError(f"Unrecognised padding mode {mode}")
    if value is not None and value != 0:
        raise RuntimeError(f'Padding mode "{mode}" doesn\'t take in value argument')
    n = len(pads) // 2
    if n not in (1, 2, 3) or ndim not in (n + 1, n + 2):
        raise NotImplementedError(f"Padding size {len(pads)} is not supported for {ndim}D "
                                  f"input tensor.\n{_PAD_SIZES}")
    if _AUTOCAST and (mode == "replicate" or mode == "reflect" and n < 3):
        input, = autocast_fp32(input)  # torch's reflection/replication kernels in float32
    shape = input._data.shape
    if mode != "circular" and 0 in shape[ndim - n - 1:]:
        raise RuntimeError(f"Expected {n + 1}D or {n + 2}D (batch mode) tensor with possibly 0 "
                           f"batch size and other non-zero dimensions for input, but got: "
                           f"{list(shape)}")
    maps = []
    for i in range(n):
        axis = ndim - 1 - i
        before, after = pads[2 * i], pads[2 * i + 1]
        L = shape[axis]
        if mode == "reflect" and (before >= L or after >= L):
            raise RuntimeError(f"Argument #{4 + 2 * i}: Padding size should be less than the "
                               f"corresponding input dimension, but got: padding ({before}, "
                               f"{after}) at dimension {axis} of input {list(shape)}")
        if mode == "circular" and (before > L or after > L):
            raise RuntimeError("Padding value causes wrapping around more than once.")
        maps.append((axis, L, [(_pad_index(L, before, after, mode), None)]))
    name = (f"{_PAD_NAMES[mode]}Pad{n}DBackward0" if mode in _PAD_NAMES
            else "CircularPadBackward0")
    return _Resample.apply(input, maps[::-1], name)


# ----------------------------------------------------------------- interpolate
_LINEAR = {1: "linear", 2: "bilinear", 3: "trilinear"}
_MODES = ("nearest | linear | bilinear | bicubic | trilinear | lanczos | area | nearest-exact")


def _scale(L: int, o: int, align_corners: bool, sf, dtype):
    """torch's source-per-destination step, rounded to the kernel's compute precision."""
    if align_corners:
        return dtype.type((L - 1) / (o - 1) if o > 1 else 0.0)
    if sf is not None and sf > 0:
        return dtype.type(1.0 / sf)
    return dtype.type(L / o)


def _nearest_taps(L: int, o: int, sf, exact: bool, shortcuts: bool):
    """Nearest source index per output position, computed in float32 as torch does.
    torch's 2-d kernel (only) maps equal sizes to the identity and doubled sizes to
    index // 2 whatever the scale factor says: `shortcuts`."""
    f32 = np.dtype(np.float32)
    dst = np.arange(o, dtype=np.float32)
    scale = _scale(L, o, False, sf, f32)
    if exact:
        src = np.floor((dst + np.float32(0.5)) * scale)
    elif shortcuts and o == L:
        src = dst
    elif shortcuts and o == 2 * L:
        src = np.floor(dst / 2)
    else:
        src = np.floor(dst * scale)
    return [(np.minimum(src.astype(np.int64), L - 1), None)]


def _linear_taps(L: int, o: int, align_corners: bool, sf, dtype):
    """Two source indices and weights per output position (torch's linear coordinates)."""
    dst = np.arange(o, dtype=dtype)
    scale = _scale(L, o, align_corners, sf, dtype)
    if align_corners:
        src = dst * scale
    else:
        src = np.maximum((dst + dtype.type(0.5)) * scale - dtype.type(0.5), dtype.type(0))
    i0 = np.minimum(src.astype(np.int64), L - 1)
    i1 = np.minimum(i0 + 1, L - 1)
    w1 = (src - i0.astype(dtype)).astype(dtype)
    w0 = (dtype.type(1) - w1).astype(dtype)
    return [(i0, w0), (i1, w1)]


def _cubic_taps(L: int, o: int, align_corners: bool, sf, dtype):
    """Four source indices (clamped to the edge) and Keys' cubic-convolution weights
    (A = -0.75) per output position; source coordinates are not clamped at 0 for cubic."""
    dst = np.arange(o, dtype=dtype)
    scale = _scale(L, o, align_corners, sf, dtype)
    src = dst * scale if align_corners else (dst + dtype.type(0.5)) * scale - dtype.type(0.5)
    base = np.floor(src)
    t = (src - base).astype(dtype)
    base = base.astype(np.int64)
    A = dtype.type(-0.75)

    def near(x):  # |x| <= 1
        return ((A + 2) * x - (A + 3)) * x * x + 1

    def far(x):  # 1 < |x| < 2
        return ((A * x - 5 * A) * x + 8 * A) * x - 4 * A
    one = dtype.type(1)
    weights = (far(t + one), near(t), near(one - t), far(2 * one - t))
    return [(np.clip(base + (j - 1), 0, L - 1), w.astype(dtype)) for j, w in enumerate(weights)]


def _spatial_list(v, dim: int, what: str, input: Tensor, label: str) -> list | None:
    if v is None:
        return None
    if isinstance(v, (list, tuple)):
        if len(v) != dim:
            raise ValueError(f"Input and {what} must have the same number of spatial "
                             f"dimensions, but got input with spatial dimensions of "
                             f"{list(input._data.shape[2:])} and {label} of {_fmt(v, what)}. "
                             f"Please provide input tensor in (N, C, d1, d2, ...,dK) format "
                             f"and {label} in (o1, o2, ...,oK) format."
                             if what == "output" else
                             f"Input and scale_factor must have the same number of spatial "
                             f"dimensions, but got input with spatial dimensions of "
                             f"{list(input._data.shape[2:])} and scale_factor of shape "
                             f"{_fmt(v, what)}. Please provide input tensor in (N, C, d1, "
                             f"d2, ...,dK) format and scale_factor in (s1, s2, ...,sK) "
                             f"format.")
        return list(v)
    return [v] * dim


def _fmt(v, what: str) -> str:
    return repr(v) if what == "output" else repr(tuple(v))


def interpolate(input: Tensor, size=None, scale_factor=None, mode: str = "nearest",
                align_corners: bool | None = None, recompute_scale_factor: bool | None = None,
                antialias: bool = False) -> Tensor:
    """Resample (N, C, *spatial) to `size` or by `scale_factor`: nearest, nearest-exact,
    (bi/tri)linear and bicubic with or without align_corners, and area (adaptive average
    pooling). antialias is not supported.

    With scale_factor and recompute_scale_factor not True, the kernel maps coordinates by
    1/scale_factor (not in/out), as torch does.
    """
    ndim = input._data.ndim
    dim = ndim - 2
    if size is not None and scale_factor is not None:
        raise ValueError("only one of size or scale_factor should be defined")
    if size is None and scale_factor is None:
        raise ValueError("either size or scale_factor should be defined")
    if dim < 1 or dim > 3:
        raise NotImplementedError(f"Input Error: Only 3D, 4D and 5D input Tensors supported "
                                  f"(got {ndim}D) for the modes: {_MODES} (got {mode})")
    sizes = _spatial_list(size, dim, "output", input, "output size")
    scales = _spatial_list(scale_factor, dim, "scale", input, "scale_factor")
    linear_modes = ("linear", "bilinear", "bicubic", "trilinear")
    if align_corners is not None and mode not in linear_modes:
        raise ValueError("align_corners option can only be set with the interpolating modes: "
                         "linear | bilinear | bicubic | trilinear")
    if align_corners is None:
        align_corners = False
    if recompute_scale_factor is not None and recompute_scale_factor and sizes is not None:
        raise ValueError("recompute_scale_factor is not meaningful with an explicit size.")
    if mode == "area" and sizes is None:
        recompute_scale_factor = True
    shape = input._data.shape
    if sizes is None:
        sizes = [int(math.floor(float(shape[2 + i]) * float(scales[i]))) for i in range(dim)]
        if recompute_scale_factor:
            scales = None
    else:
        sizes = [int(s) for s in sizes]
        scales = None
    if antialias:
        raise NotImplementedError("ember's interpolate does not implement antialias=True")
    needs = {"linear": 3, "bilinear": 4, "trilinear": 5, "bicubic": 4}
    if mode in needs and needs[mode] != ndim:
        raise NotImplementedError(f"Got {ndim}D input, but {mode} mode needs {needs[mode]}D "
                                  "input")
    if mode == "area":
        from ember._ops import pooling
        if dim == 3:
            raise NotImplementedError("ember's interpolate has no 3-d area mode")
        fn = pooling.adaptive_avg_pool1d if dim == 1 else pooling.adaptive_avg_pool2d
        return fn(input, sizes if dim > 1 else sizes[0])
    if mode not in ("nearest", "nearest-exact", "bicubic") + tuple(_LINEAR.values()):
        raise NotImplementedError(f"Input Error: Only 3D, 4D and 5D input Tensors supported "
                                  f"(got {ndim}D) for the modes: {_MODES} (got {mode})")
    if min(sizes) <= 0 or min(shape[2:]) <= 0:
        labels = ("D", "H", "W")[3 - dim:]
        ins = ", ".join(f"{lb}: {v}" for lb, v in zip(labels, shape[2:]))
        outs = ", ".join(f"{lb}: {v}" for lb, v in zip(labels, sizes))
        join = " and" if dim == 1 else ""
        raise RuntimeError(f"Input and output sizes should be greater than 0, but got input "
                           f"({ins}){join} output ({outs})")
    if shape[1] == 0:
        raise RuntimeError(f"Non-empty {ndim}D data tensor expected but got a tensor with "
                           f"sizes {list(shape)}")
    dname = input.dtype.name
    maps = []
    if mode.startswith("nearest"):
        if dname not in _FLOATS and dname != "uint8":
            raise NotImplementedError(
                f'"compute_indices_weights_nearest" not implemented for \'{_TYPE[dname]}\'')
        exact = mode == "nearest-exact"
        for i in range(dim):
            sf = None if scales is None else scales[i]
            maps.append((2 + i, shape[2 + i],
                         _nearest_taps(shape[2 + i], sizes[i], sf, exact, dim == 2)))
        name = f"UpsampleNearest{'Exact' if exact else ''}{dim}DBackward0"
    else:
        if dname not in _FLOATS:
            raise NotImplementedError(f'"upsample_{mode}{dim}d" not implemented for '
                                      f"'{_TYPE[dname]}'")
        dtype = _work_dtype(input._data.dtype)
        taps = _cubic_taps if mode == "bicubic" else _linear_taps
        for i in range(dim):
            sf = None if scales is None else scales[i]
            maps.append((2 + i, shape[2 + i],
                         taps(shape[2 + i], sizes[i], align_corners, sf, dtype)))
        name = f"Upsample{mode.capitalize()}{dim}DBackward0"
    return _Resample.apply(input, maps, name)


def upsample(input: Tensor, size=None, scale_factor=None, mode: str = "nearest",
             align_corners: bool | None = None) -> Tensor:
    """Deprecated spelling of interpolate."""
    warnings.warn("`nn.functional.upsample` is deprecated. Use `nn.functional.interpolate` "
                  "instead.", stacklevel=2)
    return interpolate(input, size, scale_factor, mode, align_corners)


def upsample_nearest(input: Tensor, size=None, scale_factor=None) -> Tensor:
    """Deprecated spelling of interpolate(mode='nearest')."""
    warnings.warn("`nn.functional.upsample_nearest` is deprecated. Use "
                  "`nn.functional.interpolate` instead.", stacklevel=2)
    return interpolate(input, size, scale_factor, mode="nearest")


def upsample_bilinear(input: Tensor, size=None, scale_factor=None) -> Tensor:
    """Deprecated spelling of interpolate(mode='bilinear', align_corners=True)."""
    warnings.warn("`nn.functional.upsample_bilinear` is deprecated. Use "
                  "`nn.functional.interpolate` instead.", stacklevel=2)
    return interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)


# ----------------------------------------------------------------- pixel shuffle
def _shuffle(a, r: int):
    """(*, C*r*r, H, W) -> (*, C, H*r, W*r)."""
    *lead, c, h, w = a.shape
    n = len(lead)
    b = a.reshape(*lead, c // (r * r), r, r, h, w)
    b = b.transpose(*range(n), n, n + 3, n + 1, n + 4, n + 2)
    return b.reshape(*lead, c // (r * r), h * r, w * r)


def _unshuffle(a, r: int):
    """(*, C, H*r, W*r) -> (*, C*r*r, H, W)."""
    *lead, c, h, w = a.shape
    n = len(lead)
    b = a.reshape(*lead, c, h // r, r, w // r, r)
    b = b.transpose(*range(n), n, n + 2, n + 4, n + 1, n + 3)
    return b.reshape(*lead, c * r * r, h // r, w // r)


class PixelShuffle(Function):
    _node_name = "PixelShuffleBackward0"

    @staticmethod
    def forward(ctx, x: Tensor, r: int) -> Tensor:
        ctx.r = r
        return _make(_shuffle(x._data, r))

    @staticmethod
    def backward(ctx, grad: Tensor):
        return PixelUnshuffle.apply(grad, ctx.r), None


class PixelUnshuffle(Function):
    _node_name = "PixelUnshuffleBackward0"

    @staticmethod
    def forward(ctx, x: Tensor, r: int) -> Tensor:
        ctx.r = r
        return _make(_unshuffle(x._data, r))

    @staticmethod
    def backward(ctx, grad: Tensor):
        return PixelShuffle.apply(grad, ctx.r), None


def pixel_shuffle(input: Tensor, upscale_factor: int) -> Tensor:
    """Rearrange (*, C*r^2, H, W) into (*, C, H*r, W*r) (sub-pixel convolution's output)."""
    r = int(upscale_factor)
    shape = input._data.shape
    if len(shape) < 3:
        raise RuntimeError(f"pixel_shuffle expects input to have at least 3 dimensions, but "
                           f"got input with {len(shape)} dimension(s)")
    if r <= 0:
        raise RuntimeError(f"pixel_shuffle expects a positive upscale_factor, but got {r}")
    if shape[-3] % (r * r):
        raise RuntimeError(f"pixel_shuffle expects its input's 'channel' dimension to be "
                           f"divisible by the square of upscale_factor, but input.size(-3)="
                           f"{shape[-3]} is not divisible by {r * r}")
    return PixelShuffle.apply(input, r)


def pixel_unshuffle(input: Tensor, downscale_factor: int) -> Tensor:
    """Rearrange (*, C, H*r, W*r) into (*, C*r^2, H, W): the inverse of pixel_shuffle."""
    r = int(downscale_factor)
    shape = input._data.shape
    if len(shape) < 3:
        raise RuntimeError(f"pixel_unshuffle expects input to have at least 3 dimensions, but "
                           f"got input with {len(shape)} dimension(s)")
    if r <= 0:
        raise RuntimeError(f"pixel_unshuffle expects a positive downscale_factor, but got {r}")
    if shape[-2] % r:
        raise RuntimeError(f"pixel_unshuffle expects height to be divisible by "
                           f"downscale_factor, but input.size(-2)={shape[-2]} is not divisible "
                           f"by {r}")
    if shape[-1] % r:
        raise RuntimeError(f"pixel_unshuffle expects width to be divisible by "
                           f"downscale_factor, but input.size(-1)={shape[-1]} is not divisible "
                           f"by {r}")
    return PixelUnshuffle.apply(input, r)


# ----------------------------------------------------------------- one_hot
def one_hot(tensor: Tensor, num_classes: int = -1) -> Tensor:
    """int64 one-hot encoding along a new last dim; num_classes=-1 uses max(tensor) + 1."""
    if tensor.dtype.name != "int64":
        raise RuntimeError("one_hot is only applicable to index tensor of type LongTensor.")
    a = tensor._data
    xp = _xp(a)
    if num_classes == -1:
        if a.size == 0:
            raise RuntimeError("Can not infer total number of classes from empty tensor.")
        num_classes = int(a.max()) + 1
    if a.size:
        if int(a.min()) < 0:
            raise RuntimeError("Class values must be non-negative.")
        if int(a.max()) >= num_classes:
            raise RuntimeError("Class values must be smaller than num_classes.")
    out = (a[..., None] == xp.arange(num_classes)).astype(np.int64)
    return _make(out)
