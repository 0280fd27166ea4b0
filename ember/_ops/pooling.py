"""Pooling: max/avg pooling over 1-3 spatial dims, adaptive pooling, max_unpool.

Windows are strided views of the (padded) input (`_windows`), reduced by NumPy in
one call. Max pooling remembers, for each output, the flat position of its
maximum inside the input plane (torch's `indices`); its backward scatters the
gradient there (`_Scatter`) and the backward of that gathers (`_Gather`), so
double backward works. Windows that do not overlap skip the indices
(`_WindowScatter`); 2x2 windows tiling the input, the common CNN case, take their
gradient from pairwise comparisons over whole arrays (`_pair_tile_grad`). Average
pooling and adaptive average pooling are linear maps whose backward is their
transpose, and the transpose's backward is the map again. 1-d pooling runs as 2-d
pooling over a unit height, as torch does.
"""
from __future__ import annotations

import sys

import numpy as np

from ember._device import array_module as _xp
from ember._ops.pointwise import _SAME_WIDTH_INT
from ember._ops.shape import squeeze, unsqueeze
from ember._tensor import Tensor, _make
from ember.amp.autocast_mode import _AUTOCAST, autocast_fp32
from ember.autograd.function import Function

__all__ = [
    "max_pool1d", "max_pool2d", "max_pool3d", "max_pool1d_with_indices",
    "max_pool2d_with_indices", "max_pool3d_with_indices", "avg_pool1d", "avg_pool2d",
    "avg_pool3d", "adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_max_pool1d",
    "adaptive_max_pool2d", "adaptive_max_pool1d_with_indices",
    "adaptive_max_pool2d_with_indices", "max_unpool1d", "max_unpool2d", "lp_pool1d",
    "lp_pool2d",
]

_ndarray = np.ndarray
_HALF = frozenset(("float16", "bfloat16"))
_TYPE = {"float32": "Float", "float64": "Double", "float16": "Half", "bfloat16": "BFloat16",
         "int64": "Long", "int32": "Int", "int16": "Short", "int8": "Char", "uint8": "Byte",
         "bool": "Bool"}




def _as_strided(xp, a, shape, strides):
    if xp is np:
        return np.lib.stride_tricks.as_strided(a, shape, strides, writeable=False)
    return xp.lib.stride_tricks.as_strided(a, shape, strides)


def _ntuple(v, n: int, name: str, op: str) -> tuple:
    """An int or a sequence of 1 or n ints as n ints (torch's _single/_pair/_triple)."""
    if isinstance(v, (list, tuple)):
        v = tuple(int(i) for i in v)
        if len(v) == 1:
            return v * n
        if len(v) != n:
            many = {1: "a single int", 2: "a tuple of two ints", 3: "a tuple of three ints"}
            raise RuntimeError(f"{op}: {name} must either be a single int, or {many[n]}")
        return v
    return (int(v),) * n


def _not_implemented(op: str, x: Tensor) -> NotImplementedError:
    return NotImplementedError(f'"{op}" not implemented for \'{_TYPE[x.dtype.name]}\'')


def _out_size(L: int, k: int, s: int, p: int, d: int, ceil_mode: bool) -> int:
    """torch's pooling output length (a window may start in the right padding only in
    ceil mode, and never entirely outside the input and the left padding)."""
    span = L + 2 * p - d * (k - 1) - 1
    o = (-(-span // s) if ceil_mode else span // s) + 1
    if ceil_mode and (o - 1) * s >= L + p:
        o -= 1
    return o


def _check_input(x: Tensor, nsp: int, op: str) -> None:
    """A batch dimension is optional and may be empty; the others must not be."""
    shape = x._data.shape
    if x._data.ndim not in (nsp + 1, nsp + 2) or 0 in shape[-nsp - 1:]:
        lo, hi = nsp + 1, nsp + 2
        prefix = "" if nsp != 1 else f"{op}: "
        raise RuntimeError(f"{prefix}Expected {lo}D or {hi}D (batch mode) tensor with optional "
                           f"0 dim batch size for input, but got:{list(shape)}")


def _geometry(x: Tensor, nsp: int, kernel_size, stride, padding, dilation, ceil_mode,
              op: str) -> tuple:
    """Checked (kernel, stride, padding, dilation, output sizes) for a pooling call."""
    k = _ntuple(kernel_size, nsp, "kernel_size", op)
    s = k if stride is None or (isinstance(stride, (list, tuple)) and not stride) else \
        _ntuple(stride, nsp, "stride", op)
    p = _ntuple(padding, nsp, "padding", op)
    d = _ntuple(dilation, nsp, "dilation", op)
    if min(k) <= 0:
        got = f"kH: {k[-2]} kW: {k[-1]}" if nsp > 1 else f"kW: {k[0]}"
        raise RuntimeError(f"kernel size should be greater than zero, but got {got}")
    if 0 in s:
        raise RuntimeError("stride should not be zero")
    if min(s) < 0:
        raise RuntimeError("stride should be greater than zero")
    if min(d) <= 0:
        raise RuntimeError("dilation should be greater than zero")
    for ki, pi, di in zip(k, p, d):
        if pi < 0:
            raise RuntimeError("pad must be non-negative")
        if pi > (di * (ki - 1) + 1) // 2:
            raise RuntimeError(f"pad should be at most half of effective kernel size, but got "
                               f"pad={pi}, kernel_size={ki} and dilation={di}")
    L = x._data.shape[-nsp:]
    o = tuple(_out_size(*a, ceil_mode) for a in zip(L, k, s, p, d))
    if min(o) < 1:
        c = x._data.shape[-nsp - 1]
        raise RuntimeError(f"Given input size: ({'x'.join(map(str, (c,) + L))}). Calculated "
                           f"output size: ({'x'.join(map(str, (c,) + o))}). Output size is "
                           "too small")
    return k, s, p, d, o


def _padded(a, nsp: int, p, o, k, s, d, fill):
    """`a` with `p` in front of each spatial dim and enough behind for the last window."""
    L = a.shape[-nsp:]
    after = [max(0, (oi - 1) * si + di * (ki - 1) + 1 - Li - pi)
             for Li, oi, ki, si, pi, di in zip(L, o, k, s, p, d)]
    if not any(p) and not any(after):
        return a
    xp = _xp(a)
    out = xp.full(a.shape[:-nsp] + tuple(Li + pi + qi for Li, pi, qi in zip(L, p, after)),
                  fill, a.dtype)
    out[(Ellipsis,) + tuple(slice(pi, pi + Li) for pi, Li in zip(p, L))] = a
    return out


def _windows(a, nsp: int, o, k, s, d):
    """A read-only strided view (..., o1..on, k1..kn) of the pooling windows of `a`."""
    st = a.strides[-nsp:]
    shape = a.shape[:-nsp] + tuple(o) + tuple(k)
    strides = (a.strides[:-nsp] + tuple(si * sti for si, sti in zip(s, st))
               + tuple(di * sti for di, sti in zip(d, st)))
    return _as_strided(_xp(a), a, shape, strides)


def _lowest(dtype):
    if dtype.kind == "f" or dtype.name == "bfloat16":
        return -np.inf
    if dtype.kind == "b":
        return False
    return np.iinfo(dtype).min


# ----------------------------------------------------------------- scatter / gather pair
def _flat2(a, nsp: int):
    """(rows, plane) view of a (..., spatial) array."""
    n = 1
    for v in a.shape[-nsp:]:
        n *= v
    return a.reshape(-1, n)


class _Scatter(Function):
    """Gradient of max pooling: each output's gradient goes to its argmax position.

    `index` (..., o...) holds flat positions within each input plane `plane`;
    positions repeat only when windows overlap (`unique` False), and then add up.
    """

    _node_name = "MaxPool2DWithIndicesBackwardBackward0"

    @staticmethod
    def forward(ctx, grad: Tensor, index, plane: tuple, unique: bool) -> Tensor:
        g = grad._data
        ctx.index, ctx.plane, ctx.unique = index, plane, unique
        xp = _xp(g)
        nsp = len(plane)
        lead = g.shape[:-nsp]
        P = 1
        for v in plane:
            P *= v
        g2 = _flat2(g, nsp)
        i2 = _flat2(index, nsp)
        rows = g2.shape[0]
        if unique or g2.size == 0:
            out = xp.zeros((rows, P), g.dtype)
            g2 = _plus_zero(g2)
            xp.put_along_axis(out, i2, g2, axis=1) if xp is np else _put_rows(out, i2, g2)
        elif xp is np and g.dtype in (np.float16, np.float32, np.float64):
            # as torch: each gradient added into zeros in output order, in the gradient's dtype
            flat = (np.arange(rows, dtype=np.int64)[:, None] * P + i2).reshape(-1)
            out = np.zeros((rows, P), g.dtype)
            with np.errstate(invalid="ignore", over="ignore"):  # inf + -inf is NaN, silently
                np.add.at(out.reshape(-1), flat, g2.reshape(-1))
        else:
            flat = (xp.arange(rows, dtype=np.int64)[:, None] * P + i2).reshape(-1)
            work = g2.reshape(-1)
            if work.dtype.kind != "f" or work.dtype.itemsize < 4:
                work = work.astype(np.float32)
            out = xp.bincount(flat, weights=work, minlength=rows * P).astype(g.dtype)
        return _make(out.reshape(lead + plane))

    @staticmethod
    def backward(ctx, gg: Tensor):
        return _Gather.apply(gg, ctx.index, len(ctx.plane)), None, None, None


def _put_rows(out, i2, g2) -> None:
    rows = out.shape[0]
    xp = _xp(out)
    r = xp.arange(rows)[:, None]
    out[r, i2] = g2


class _Gather(Function):
    """Values of `x` (..., plane) at the flat plane positions `index` (..., o...): the
    transpose of `_Scatter` (max_unpool's backward, and max pooling's double backward)."""

    _node_name = "GatherBackward0"

    @staticmethod
    def forward(ctx, x: Tensor, index, nsp: int) -> Tensor:
        a = x._data
        ctx.index, ctx.plane = index, a.shape[a.ndim - nsp:]
        a2 = _flat2(a, nsp)
        i2 = index.reshape(a2.shape[0], -1)
        xp = _xp(a)
        out = xp.take_along_axis(a2, i2, axis=1) if i2.size else xp.zeros(i2.shape, a.dtype)
        return _make(out.reshape(index.shape))

    @staticmethod
    def backward(ctx, grad: Tensor):
        return _Scatter.apply(grad, ctx.index, ctx.plane, False), None, None


# ----------------------------------------------------------------- max pooling
def _inside(o, k, s, p, d, L, xp):
    """Per kernel offset (row-major), a bool array broadcasting over the outputs (o...) that
    says where the offset's element is a real input element, not padding; None if no window
    reaches into the padding. torch's windows are clipped to the input, so padding never
    wins, not even over -inf (or an integer type's lowest value)."""
    nsp = len(o)
    per_dim = []
    for i in range(nsp):
        c = np.arange(o[i])[:, None] * s[i] - p[i] + np.arange(k[i])[None, :] * d[i]
        per_dim.append((c >= 0) & (c < L[i]))
    if all(m.all() for m in per_dim):
        return None
    masks = []
    for offset in np.ndindex(*k):
        m = None
        for i in range(nsp):
            mi = per_dim[i][:, offset[i]].reshape((o[i],) + (1,) * (nsp - 1 - i))
            m = mi if m is None else m & mi
        masks.append(xp.asarray(m))
    return masks


def _first_hit(get, K: int, best, xp, inside=None):
    """For each window, the first offset j (row-major kernel order) whose element equals the
    window's maximum `best`: the tie rule of torch's kernel. `get(j)` gives every window's
    j-th element; `inside` (from `_inside`) rules out padding. Branch-free: min over j of
    where(hit, j, K), as eq * (j - K) + K."""
    low = xp.zeros(best.shape, np.int16)
    step = xp.empty(best.shape, np.int16)
    for j in range(K - 1, -1, -1):
        hit = get(j) == best
        if inside is not None:
            hit &= inside[j]
        xp.multiply(hit, j - K, out=step, casting="unsafe")
        xp.minimum(low, step, out=low)
    low += K
    return low


def _plus_zero(g):
    """g + 0: the same values except that -0.0 becomes +0.0, which is what torch's
    gradients hold where they were added into zeros."""
    return g + g.dtype.type(0) if g.dtype.kind == "f" or g.dtype.name == "bfloat16" else g


def _has_nan(a) -> bool:
    return (a.dtype.kind == "f" or a.dtype.name == "bfloat16") and bool(_xp(a).isnan(a).any())


def _last_nan(flat, xp, arg):
    """`arg` (positions along the last axis of `flat`), except that a row holding NaNs gets
    its last NaN: torch's kernel lets every NaN it meets replace the running maximum."""
    nan = xp.isnan(flat)
    last = (flat.shape[-1] - 1) - nan[..., ::-1].argmax(-1)
    return xp.where(nan.any(-1), last, arg)


def _max_index(win, values, o, k, s, p, d, L, xp):
    """Flat input-plane positions of the window maxima (the first one on ties, the last NaN
    if the window has any): torch's `indices`."""
    nsp = len(o)
    offsets = list(np.ndindex(*k))
    inside = _inside(o, k, s, p, d, L, xp)
    first = _first_hit(lambda j: win[(Ellipsis,) + offsets[j]], len(offsets), values, xp,
                       inside)
    if _has_nan(values):  # NaN windows found no equal element above: look at them whole
        first = _last_nan(win.reshape(win.shape[:-nsp] + (len(offsets),)), xp, first)
    # flat plane position = (window origin) + (offset within the window)
    strides = [int(np.prod(L[i + 1:], dtype=np.int64)) for i in range(nsp)]
    delta = xp.asarray(np.array([sum(j[i] * d[i] * strides[i] for i in range(nsp))
                                 for j in offsets], np.int64))
    origin = None
    for i in range(nsp):
        g = (np.arange(o[i]) * s[i] - p[i]) * strides[i]
        g = xp.asarray(g.reshape((o[i],) + (1,) * (nsp - 1 - i)))
        origin = g if origin is None else origin + g
    return delta[first] + origin


class _MaxPool(Function):
    """Max pooling over the last `nsp` dims; returns the values, and with `with_indices`
    also the indices (computed only then: the gradient does not need them)."""

    _node_name = "MaxPool2DWithIndicesBackward0"

    @staticmethod
    def forward(ctx, x: Tensor, nsp: int, k, s, p, d, o, with_indices: bool):
        a = x._data
        xp = _xp(a)
        padded = _padded(a, nsp, p, o, k, s, d, _lowest(a.dtype))
        tiled = nsp == 2 and s == k and d == (1, 1) and \
            all(oi * ki == Li for oi, ki, Li in zip(o, k, a.shape[-2:]))
        lanes = None
        if tiled:
            values, lanes = _tile_max(a, o, k, xp)
        else:
            win = _windows(padded, nsp, o, k, s, d)
            values = None
            for offset in np.ndindex(*k):  # one elementwise max per kernel offset (NaNs win)
                v = win[(Ellipsis,) + offset]
                values = v.copy() if values is None else xp.maximum(values, v, out=values)
        ctx.save_for_backward(x)  # as torch: an in-place change of x before backward raises
        ctx.padded, ctx.values, ctx.index = padded, values, None
        ctx.geometry = (o, k, s, p, d, a.shape[-nsp:])
        ctx.unique = all(si >= di * (ki - 1) + 1 for si, ki, di in zip(s, k, d))
        ctx.tiled = tiled
        # the maxima of each window's kernel rows, kept where the gradient uses them
        ctx.lanes = lanes if k == (2, 2) else None
        if not with_indices:
            return _make(values)
        indices = _make(_MaxPool.index(ctx))
        ctx.mark_non_differentiable(indices)
        return _make(values), indices

    @staticmethod
    def index(ctx):
        """The flat argmax positions (..., o...) of the forward saved in ctx, made once."""
        if ctx.index is None:
            o, k, s, p, d, L = ctx.geometry
            xp = _xp(ctx.values)
            win = _windows(ctx.padded, len(o), o, k, s, d)
            index = _max_index(win, ctx.values, o, k, s, p, d, L, xp)
            ctx.index = xp.broadcast_to(index, ctx.values.shape).astype(np.int64, copy=False)
        return ctx.index

    @staticmethod
    def backward(ctx, grad: Tensor, *_grad_indices):
        (_x,) = ctx.saved_tensors  # raises if the input was changed in place since
        if ctx.unique and not _has_nan(ctx.values):
            return _WindowScatter.apply(grad, ctx), *(None,) * 7
        L = ctx.geometry[-1]
        return _Scatter.apply(grad, _MaxPool.index(ctx), L, ctx.unique), *(None,) * 7


class _WindowScatter(Function):
    """Max pooling's gradient for windows that do not overlap: per kernel offset, the
    gradient goes where that offset holds its window's maximum and no earlier offset
    did (torch's tie rule), written through a strided view of the input gradient by a
    multiply with the hit mask."""

    _node_name = "MaxPool2DWithIndicesBackwardBackward0"

    @staticmethod
    def forward(ctx, grad: Tensor, pool):
        g = _plus_zero(grad._data)
        ctx.pool = pool
        if _pair_tiles(pool, g):
            return _make(_pair_tile_grad(pool.padded, pool.lanes, g))
        xp = _xp(g)
        o, k, s, p, d, L = pool.geometry
        nsp = len(o)
        padded, values = pool.padded, pool.values
        win = _windows(padded, nsp, o, k, s, d)
        # tiled windows write every element below, so nothing needs zeroing first
        gpad = (xp.empty if pool.tiled else xp.zeros)(padded.shape, g.dtype)
        # the gradient's bits, multiplied as integers by the 0/1 hit masks below: +0.0
        # where a mask is 0, even under a negative, infinite or NaN gradient
        ints = _SAME_WIDTH_INT[g.itemsize]
        bits, gpad_bits = g.view(ints), gpad.view(ints)
        gwin = _windows(gpad_bits, nsp, o, k, s, d)
        if xp is np:
            gwin = np.lib.stride_tricks.as_strided(gpad_bits, gwin.shape, gwin.strides)
        inside = _inside(o, k, s, p, d, L, xp)
        taken = None
        for j, offset in enumerate(np.ndindex(*k)):
            key = (Ellipsis,) + offset
            hit = win[key] == values
            if inside is not None:
                hit &= inside[j]
            if taken is None:
                taken = hit
            else:
                hit = xp.greater(hit, taken)  # hit and not taken
                xp.logical_or(taken, hit, out=taken)
            xp.multiply(bits, hit, out=gwin[key])
        return _make(gpad[(Ellipsis,) + tuple(slice(pi, pi + Li) for pi, Li in zip(p, L))])

    @staticmethod
    def backward(ctx, gg: Tensor):
        return _Gather.apply(gg, _MaxPool.index(ctx.pool), len(ctx.pool.geometry[-1])), None


def _tile_max(a, o, k, xp):
    """2-d window maxima when the windows tile the input exactly (kernel == stride, no
    padding or dilation, sizes divisible), and the maxima of each window's kernel rows.

    Along a flat row-major `a`, kernel column c of every window is the 1-d strided view
    a[c::kw], so the maxima over kernel columns are whole-array elementwise maxima; they
    give `lanes` (..., Ho, kh, Wo), whose kernel rows are then reduced the same way. NaNs
    win, as in torch."""
    kh, kw = k
    flat = a.reshape(-1)
    lanes = flat[0::kw]
    for c in range(1, kw):
        lanes = xp.maximum(lanes, flat[c::kw], out=None if c == 1 else lanes)
    lanes = lanes.reshape(a.shape[:-2] + (o[0], kh, o[1]))
    values = lanes[..., 0, :]
    for r in range(1, kh):
        values = xp.maximum(values, lanes[..., r, :], out=None if r == 1 else values)
    return (values.copy() if kh == 1 else values), lanes


def _pair_tiles(pool, g) -> bool:
    """Whether `_pair_tile_grad` can take max pooling's gradient: 2x2 windows tiling a NumPy
    input whose items are 2 or 4 bytes wide (so two of them fit one unsigned integer), on a
    little-endian machine (where the low half of that integer is the first item)."""
    return pool.lanes is not None and pool.geometry[1] == (2, 2) and _xp(g) is np \
        and g.dtype.itemsize in (2, 4) and pool.padded.dtype == g.dtype and g.size > 0 \
        and sys.byteorder == "little"


_UINT = {2: np.uint16, 4: np.uint32}
_UINT2 = {2: np.uint32, 4: np.uint64}


def _pair_tile_grad(a, lanes, g):
    """Gradient of 2x2 tiled max pooling: each window's gradient goes to its maximum, the
    first one in row-major window order on ties (torch's rule; the input holds no NaN).

    A window's kernel row is a pair of neighbours in memory (a "lane"); `lanes` holds each
    lane's maximum. The output is written one lane at a time as an unsigned integer of
    twice the item width: the gradient's bits shifted left by 0 (the left item wins), by
    the item width (the right one wins), or by at least twice the width (the other row
    wins), which NumPy defines as 0. Bits are moved, not multiplied, so infinite and NaN
    gradients land exactly where torch puts them. The later column or row wins only if
    strictly greater. Every step is one whole-array operation except the last, which runs
    once per window row."""
    bits = 8 * g.dtype.itemsize
    flat = a.reshape(-1)
    n, wo = lanes.size, lanes.shape[-1]
    # the winning column of each lane: in the uint16 view of `right_gt`, the low byte
    # compares the lane's two items, the high byte compares across lanes and is dropped
    right_gt = np.empty(flat.size, bool)
    np.greater(flat[1:], flat[:-1], out=right_gt[:-1])
    right_gt[-1] = False
    column = np.bitwise_and(right_gt.view(np.uint16), 1)
    # the winning row: lane l's window row below is lane l + wo
    row_lanes = lanes.reshape(-1)
    below = np.zeros(n + wo, bool)
    np.greater(row_lanes[wo:], row_lanes[:-wo], out=below[wo:n])
    below_wins = below[wo:]  # in a top lane: the lane below holds a greater maximum
    i_win = below[:n]  # in a bottom lane: this lane holds a greater maximum than the top
    bottom = np.tile(np.repeat(np.array([False, True]), wo), n // (2 * wo))
    # a top lane loses when below_wins, a bottom lane unless i_win:
    # lost = below_wins ^ (bottom & (i_win == below_wins))
    lost = np.equal(i_win, below_wins)
    np.bitwise_and(lost, bottom, out=lost)
    np.bitwise_xor(lost, below_wins, out=lost)
    shift = np.add(column, np.multiply(lost, np.uint16(4)), out=column)
    np.multiply(shift, bits, out=shift)
    pairs = np.left_shift(g.view(_UINT[g.dtype.itemsize]).reshape(-1, 1, wo),
                          shift.reshape(-1, 2, wo), dtype=_UINT2[g.dtype.itemsize])
    return pairs.view(g.dtype).reshape(a.shape)


class _MaxPool3d(_MaxPool):
    _node_name = "MaxPool3DWithIndicesBackward0"


def _max_pool(input: Tensor, nsp: int, kernel_size, stride, padding, dilation, ceil_mode,
              op: str, with_indices: bool = True):
    _check_input(input, nsp, op)
    if input.dtype.name == "bool":
        raise _not_implemented(op, input)
    k, s, p, d, o = _geometry(input, nsp, kernel_size, stride, padding, dilation, ceil_mode, op)
    cls = _MaxPool3d if nsp == 3 else _MaxPool
    return cls.apply(input, nsp, k, s, p, d, o, with_indices)


def max_pool2d_with_indices(input: Tensor, kernel_size, stride=None, padding=0, dilation=1,
                            ceil_mode: bool = False, return_indices: bool = False) -> tuple:
    """2-d max pooling returning (values, indices into each input plane)."""
    return _max_pool(input, 2, kernel_size, stride, padding, dilation, ceil_mode, "max_pool2d")


def max_pool2d(input: Tensor, kernel_size, stride=None, padding=0, dilation=1,
               ceil_mode: bool = False, return_indices: bool = False):
    """2-d max pooling over (N, C, H, W) or (C, H, W); windows may run into -inf padding
    and, with ceil_mode, past the right edge (torch.nn.functional.max_pool2d)."""
    return _max_pool(input, 2, kernel_size, stride, padding, dilation, ceil_mode, "max_pool2d",
                     bool(return_indices))


def max_pool3d_with_indices(input: Tensor, kernel_size, stride=None, padding=0, dilation=1,
                            ceil_mode: bool = False, return_indices: bool = False) -> tuple:
    """3-d max pooling returning (values, indices into each input volume)."""
    return _max_pool(input, 3, kernel_size, stride, padding, dilation, ceil_mode, "max_pool3d")


def max_pool3d(input: Tensor, kernel_size, stride=None, padding=0, dilation=1,
               ceil_mode: bool = False, return_indices: bool = False):
    """3-d max pooling over (N, C, D, H, W) or (C, D, H, W)."""
    if _AUTOCAST: input, = autocast_fp32(input)
    return _max_pool(input, 3, kernel_size, stride, padding, dilation, ceil_mode, "max_pool3d",
                     bool(return_indices))


def _one(v, name: str) -> tuple:
    """A 1-d pooling argument as the (1, v) pair the 2-d kernel takes."""
    if isinstance(v, (list, tuple)):
        if len(v) != 1:
            raise RuntimeError(f"max_pool1d() {name} must be an int or int list of size 1 but "
                               f"got size {len(v)}")
        v = v[0]
    return v


def _max_pool1d(input: Tensor, kernel_size, stride, padding, dilation, ceil_mode,
                with_indices: bool):
    _check_input(input, 1, "max_pool1d")
    s = None if stride is None or (isinstance(stride, (list, tuple)) and not stride) else \
        (1, _one(stride, "stride"))
    k = (1, _one(kernel_size, "kernel_size"))
    out = _max_pool(unsqueeze(input, -2), 2, k, s if s is not None else k,
                    (0, _one(padding, "padding")), (1, _one(dilation, "dilation")), ceil_mode,
                    "max_pool1d", with_indices)
    if with_indices:
        return squeeze(out[0], -2), squeeze(out[1], -2)
    return squeeze(out, -2)


def max_pool1d_with_indices(input: Tensor, kernel_size, stride=None, padding=0, dilation=1,
                            ceil_mode: bool = False, return_indices: bool = False) -> tuple:
    """1-d max pooling returning (values, indices)."""
    return _max_pool1d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


def max_pool1d(input: Tensor, kernel_size, stride=None, padding=0, dilation=1,
               ceil_mode: bool = False, return_indices: bool = False):
    """1-d max pooling over (N, C, L) or (C, L)."""
    return _max_pool1d(input, kernel_size, stride, padding, dilation, ceil_mode,
                       bool(return_indices))


# ----------------------------------------------------------------- average pooling
def _divisors(L, o, k, s, p, count_include_pad: bool, xp, dtype):
    """How many elements each window averages over, as an (o1, ..., on) array."""
    nsp = len(o)
    div = None
    for i in range(nsp):
        start = np.arange(o[i], dtype=np.int64) * s[i] - p[i]
        end = np.minimum(start + k[i], L[i] + p[i])
        if count_include_pad:
            n = end - start
        else:
            n = np.minimum(end, L[i]) - np.maximum(start, 0)
        n = n.reshape((o[i],) + (1,) * (nsp - 1 - i))
        div = n if div is None else div * n
    return xp.asarray(div.astype(dtype))


class _AvgPool(Function):
    """Average pooling over the last `nsp` dims; `div` holds each window's divisor."""

    _node_name = "AvgPool2DBackward0"

    @staticmethod
    def forward(ctx, x: Tensor, nsp: int, k, s, p, o, div) -> Tensor:
        a = x._data
        ones = (1,) * nsp
        ctx.geometry = (nsp, k, s, p, o, div, a.shape[-nsp:])
        work = np.int64 if a.dtype.kind in "iu" else div.dtype
        total = _padded(a, nsp, p, o, k, s, ones, 0).astype(work, copy=False)
        lead = a.ndim - nsp
        for i in range(nsp):  # window sums are separable: one dim at a time
            acc = None
            for j in range(k[i]):
                key = [slice(None)] * a.ndim
                key[lead + i] = slice(j, j + s[i] * (o[i] - 1) + 1, s[i])
                part = total[tuple(key)]
                acc = part.copy() if acc is None else _xp(a).add(acc, part, out=acc)
            total = acc
        if a.dtype.kind in "iu":  # torch divides integer sums with truncation
            return _make(_xp(a).trunc(total / div).astype(a.dtype))
        total /= div
        return _make(total.astype(a.dtype, copy=False))

    @staticmethod
    def backward(ctx, grad: Tensor):
        return _AvgPoolT.apply(grad, *ctx.geometry), *(None,) * 6


class _AvgPool3d(_AvgPool):
    _node_name = "AvgPool3DBackward0"


class _AvgPoolT(Function):
    """The transpose of average pooling: each window's share goes back to its elements."""

    _node_name = "AvgPool2DBackwardBackward0"

    @staticmethod
    def forward(ctx, grad: Tensor, nsp: int, k, s, p, o, div, L) -> Tensor:
        g = grad._data
        xp = _xp(g)
        ctx.geometry = (nsp, k, s, p, o, div)
        share = g / div if g.dtype.kind == "f" and g.dtype.itemsize >= 4 else \
            g.astype(div.dtype) / div
        lead = g.ndim - nsp
        for i in reversed(range(nsp)):  # the transpose of the separable window sums
            full = max(L[i] + 2 * p[i], (o[i] - 1) * s[i] + k[i])
            shape = list(share.shape)
            shape[lead + i] = full
            buf = xp.zeros(shape, share.dtype)
            for j in range(k[i]):
                key = [slice(None)] * g.ndim
                key[lead + i] = slice(j, j + s[i] * (o[i] - 1) + 1, s[i])
                buf[tuple(key)] += share
            share = buf
        out = share[(Ellipsis,) + tuple(slice(pi, pi + Li) for pi, Li in zip(p, L))]
        return _make(out.astype(g.dtype))

    @staticmethod
    def backward(ctx, gg: Tensor):
        cls = _AvgPool3d if ctx.geometry[0] == 3 else _AvgPool
        return cls.apply(gg, *ctx.geometry), *(None,) * 7


def _avg_pool(input: Tensor, nsp: int, kernel_size, stride, padding, ceil_mode,
              count_include_pad, divisor_override, op: str) -> Tensor:
    if input._data.ndim not in (nsp + 1, nsp + 2) or 0 in input._data.shape[-nsp - 1:]:
        _check_input(input, nsp, op)
    if input.dtype.name == "bool":
        raise _not_implemented(op, input)
    k, s, p, _, o = _geometry(input, nsp, kernel_size, stride, padding, 1, ceil_mode, op)
    if divisor_override is not None and divisor_override == 0:
        raise RuntimeError("divisor must be not zero")
    a = input._data
    xp = _xp(a)
    dtype = np.float64 if a.dtype == np.float64 else np.float32
    if divisor_override is not None:
        div = xp.asarray(np.full((1,) * nsp, divisor_override, dtype))
    else:
        div = _divisors(a.shape[-nsp:], o, k, s, p, count_include_pad, xp, dtype)
    cls = _AvgPool3d if nsp == 3 else _AvgPool
    return cls.apply(input, nsp, k, s, p, o, div)


def avg_pool2d(input: Tensor, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
               count_include_pad: bool = True, divisor_override: int | None = None) -> Tensor:
    """2-d average pooling; zero padding counts toward the divisor unless
    count_include_pad=False, and divisor_override replaces the divisor altogether."""
    return _avg_pool(input, 2, kernel_size, stride, padding, ceil_mode, count_include_pad,
                     divisor_override, "avg_pool2d")


def avg_pool3d(input: Tensor, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
               count_include_pad: bool = True, divisor_override: int | None = None) -> Tensor:
    """3-d average pooling over (N, C, D, H, W) or (C, D, H, W)."""
    if _AUTOCAST: input, = autocast_fp32(input)
    return _avg_pool(input, 3, kernel_size, stride, padding, ceil_mode, count_include_pad,
                     divisor_override, "avg_pool3d")


def avg_pool1d(input: Tensor, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
               count_include_pad: bool = True) -> Tensor:
    """1-d average pooling over (N, C, L) or (C, L)."""
    if input._data.ndim not in (2, 3):
        raise RuntimeError(f"Expected 2 to 3 dimensions, but got {input._data.ndim}-dimensional "
                           "tensor for argument #1 'self' (while checking arguments for "
                           "avg_pool1d)")
    k = (1, _one(kernel_size, "kernel_size"))
    s = k if stride is None or (isinstance(stride, (list, tuple)) and not stride) else \
        (1, _one(stride, "stride"))
    out = _avg_pool(unsqueeze(input, -2), 2, k, s, (0, _one(padding, "padding")), ceil_mode,
                    count_include_pad, None, "avg_pool1d")
    return squeeze(out, -2)


# ----------------------------------------------------------------- adaptive pooling
def _bounds(L: int, o: int):
    """Start and end (exclusive) of torch's adaptive windows along one dim."""
    i = np.arange(o, dtype=np.int64)
    return (i * L) // o, ((i + 1) * L + o - 1) // o


def _adaptive_sizes(input: Tensor, output_size, nsp: int, op: str) -> tuple:
    shape = input._data.shape
    if input._data.ndim not in (nsp + 1, nsp + 2):
        raise RuntimeError(f"{op}(): Expected {nsp + 1}D or {nsp + 2}D tensor, but got "
                           f"{list(shape)}")
    for i in range(input._data.ndim - nsp, input._data.ndim):
        if shape[i] == 0:
            raise RuntimeError(f"{op}(): Expected input to have non-zero size for non-batch "
                               f"dimensions, but input has sizes {list(shape)} with dimension "
                               f"{i} being empty")
    if isinstance(output_size, (list, tuple)):
        if len(output_size) != nsp:
            raise RuntimeError(f"{op}: output_size must be {nsp}")
        sizes = tuple(shape[-nsp + i] if v is None else int(v) for i, v in enumerate(output_size))
    else:
        sizes = (int(output_size),) * nsp
    if min(sizes) < 0:
        raise RuntimeError(f"{op}: elements of output_size must be greater than or equal to 0 "
                           f"but received {list(sizes)}")
    if input.dtype.name not in ("float32", "float64", "float16", "bfloat16"):
        raise _not_implemented(op, input)
    return sizes


def _apply_maps(a, maps):
    """Contract the last len(maps) dims of `a` with per-dim matrices (o_i, L_i)."""
    nsp = len(maps)
    for i, m in enumerate(maps):
        axis = a.ndim - nsp + i
        if axis == a.ndim - 1:
            a = a @ m.T
        elif axis == a.ndim - 2:
            a = m @ a
        else:
            a = _xp(a).moveaxis(_xp(a).moveaxis(a, axis, -1) @ m.T, -1, axis)
    return a


class _AdaptiveAvgPool(Function):
    """Adaptive average pooling as one averaging matrix per spatial dim."""

    _node_name = "AdaptiveAvgPool2DBackward0"

    @staticmethod
    def forward(ctx, x: Tensor, maps) -> Tensor:
        a = x._data
        ctx.maps = maps
        work = a if a.dtype == maps[0].dtype else a.astype(maps[0].dtype)
        return _make(_apply_maps(work, maps).astype(a.dtype, copy=False))

    @staticmethod
    def backward(ctx, grad: Tensor):
        return _AdaptiveAvgPoolT.apply(grad, ctx.maps), None


class _AdaptiveAvgPoolT(Function):
    _node_name = "AdaptiveAvgPool2DBackwardBackward0"

    @staticmethod
    def forward(ctx, grad: Tensor, maps) -> Tensor:
        g = grad._data
        ctx.maps = maps
        work = g if g.dtype == maps[0].dtype else g.astype(maps[0].dtype)
        return _make(_apply_maps(work, [m.T for m in maps]).astype(g.dtype, copy=False))

    @staticmethod
    def backward(ctx, gg: Tensor):
        return _AdaptiveAvgPool.apply(gg, ctx.maps), None


def _averaging_map(L: int, o: int, xp, dtype):
    start, end = _bounds(L, o)
    j = np.arange(L)
    inside = (j >= start[:, None]) & (j < end[:, None])
    return xp.asarray((inside / (end - start)[:, None]).astype(dtype))


def _adaptive_avg(input: Tensor, output_size, nsp: int, op: str) -> Tensor:
    sizes = _adaptive_sizes(input, output_size, nsp, op)
    a = input._data
    xp = _xp(a)
    dtype = np.float64 if a.dtype == np.float64 else np.float32
    maps = [_averaging_map(L, o, xp, dtype) for L, o in zip(a.shape[-nsp:], sizes)]
    return _AdaptiveAvgPool.apply(input, maps)


def adaptive_avg_pool2d(input: Tensor, output_size) -> Tensor:
    """Average pooling to a fixed (H_out, W_out): window i spans
    [floor(i*H/H_out), ceil((i+1)*H/H_out)); None keeps that input size."""
    return _adaptive_avg(input, output_size, 2, "adaptive_avg_pool2d")


def adaptive_avg_pool1d(input: Tensor, output_size) -> Tensor:
    """Average pooling of (N, C, L) or (C, L) to a fixed length."""
    if input._data.ndim not in (2, 3):
        raise RuntimeError(f"adaptive_avg_pool1d(): Expected 2D or 3D tensor, but got "
                           f"{list(input._data.shape)}")
    o = _one(output_size, "output_size")
    return squeeze(_adaptive_avg(unsqueeze(input, -2), (1, o), 2, "adaptive_avg_pool1d"), -2)


def _adaptive_max_exact(a, picks, L, xp):
    """Adaptive max over gathered windows side by side (the path that lets NaNs win)."""
    nsp = len(picks)
    sizes = tuple(pk.shape[0] for pk in picks)
    key = []
    for i, pick in enumerate(picks):  # dims (o1, k1, o2, k2, ...), each pick on its pair
        shape = [1] * (2 * nsp)
        shape[2 * i], shape[2 * i + 1] = pick.shape
        key.append(xp.asarray(pick.reshape(shape)))
    g = a[(Ellipsis,) + tuple(key)]
    lead = g.ndim - 2 * nsp
    g = g.transpose(tuple(range(lead)) + tuple(lead + 2 * i for i in range(nsp))
                    + tuple(lead + 2 * i + 1 for i in range(nsp)))
    kshape = tuple(pk.shape[1] for pk in picks)
    K = 1
    for v in kshape:
        K *= v
    flat = g.reshape(g.shape[:lead + nsp] + (K,))
    if flat.size:
        arg = _last_nan(flat, xp, flat.argmax(-1))
        values = xp.take_along_axis(flat, arg[..., None], -1)[..., 0]
    else:
        arg = xp.zeros(flat.shape[:-1], np.int64)
        values = xp.zeros(flat.shape[:-1], a.dtype)
    offsets = xp.unravel_index(arg, kshape) if nsp > 1 else (arg,)
    index = None
    for i in range(nsp):
        oi = sizes[i]
        grid = xp.arange(oi).reshape((oi,) + (1,) * (nsp - 1 - i))
        pos = xp.asarray(picks[i])[grid, offsets[i]]
        index = pos if index is None else index * L[i] + pos
    return values, index


def _adaptive_max_fast(a, picks, L, xp):
    """Adaptive max by one gather and one elementwise max per window offset."""
    nsp = len(picks)
    combos = list(np.ndindex(*(pk.shape[1] for pk in picks)))
    # Spatial dims go in front (one copy), so each gather moves whole (N, C) blocks; the
    # last dim's gathers are shared by every offset along the dim before it.
    lead = a.ndim - nsp
    at = xp.ascontiguousarray(a.transpose(tuple(range(lead, a.ndim)) + tuple(range(lead))))
    last = [xp.take(at, xp.asarray(picks[-1][:, j]), axis=nsp - 1)
            for j in range(picks[-1].shape[1])]
    rows = None if nsp == 1 else [xp.asarray(picks[0][:, j]) for j in range(picks[0].shape[1])]

    def get(j):
        c = combos[j]
        return last[c[-1]] if nsp == 1 else xp.take(last[c[1]], rows[c[0]], axis=0)
    values = None
    for j in range(len(combos)):
        v = get(j)
        values = v.copy() if values is None else xp.maximum(values, v, out=values)
    first = _first_hit(get, len(combos), values, xp)
    back = tuple(range(nsp, nsp + lead)) + tuple(range(nsp))
    values, first = values.transpose(back).copy(), first.transpose(back)
    offsets = np.array(combos, np.int64).reshape(len(combos), nsp)
    index = None
    for i, pk in enumerate(picks):
        o = pk.shape[0]
        grid = xp.arange(o).reshape((o,) + (1,) * (nsp - 1 - i))
        pos = xp.asarray(pk)[grid, xp.asarray(offsets[:, i])[first]]
        index = pos if index is None else index * L[i] + pos
    return values, index


class _AdaptiveMaxPool(Function):
    """Adaptive max pooling; windows of unequal length are padded by repeating their last
    element (which never changes a maximum or its first position)."""

    _node_name = "AdaptiveMaxPool2DBackward0"

    @staticmethod
    def forward(ctx, x: Tensor, sizes):
        a = x._data
        xp = _xp(a)
        nsp = len(sizes)
        L = a.shape[-nsp:]
        picks = []
        for Li, oi in zip(L, sizes):
            start, end = _bounds(Li, oi)
            width = int((end - start).max())
            pick = np.minimum(start[:, None] + np.arange(width), end[:, None] - 1)
            picks.append(pick)
        if a.size and not _has_nan(a):
            values, index = _adaptive_max_fast(a, picks, L, xp)
        else:
            values, index = _adaptive_max_exact(a, picks, L, xp)
        index = xp.broadcast_to(index, values.shape).astype(np.int64)
        ctx.index, ctx.plane = index, L
        indices = _make(index)
        ctx.mark_non_differentiable(indices)
        return _make(values), indices

    @staticmethod
    def backward(ctx, grad: Tensor, _grad_indices):
        return _Scatter.apply(grad, ctx.index, ctx.plane, False), None


def adaptive_max_pool2d_with_indices(input: Tensor, output_size,
                                     return_indices: bool = False) -> tuple:
    """Adaptive 2-d max pooling returning (values, indices)."""
    sizes = _adaptive_sizes(input, output_size, 2, "adaptive_max_pool2d")
    return _AdaptiveMaxPool.apply(input, sizes)


def adaptive_max_pool2d(input: Tensor, output_size, return_indices: bool = False):
    """Max pooling to a fixed (H_out, W_out), windows as in adaptive_avg_pool2d."""
    out = adaptive_max_pool2d_with_indices(input, output_size)
    return out if return_indices else out[0]


def adaptive_max_pool1d_with_indices(input: Tensor, output_size,
                                     return_indices: bool = False) -> tuple:
    """Adaptive 1-d max pooling returning (values, indices)."""
    if input._data.ndim not in (2, 3):
        raise RuntimeError(f"adaptive_max_pool1d(): Expected 2D or 3D tensor, but got "
                           f"{list(input._data.shape)}")
    o = _one(output_size, "output_size")
    sizes = _adaptive_sizes(unsqueeze(input, -2), (1, o), 2, "adaptive_max_pool1d")
    values, indices = _AdaptiveMaxPool.apply(unsqueeze(input, -2), sizes)
    return squeeze(values, -2), squeeze(indices, -2)


def adaptive_max_pool1d(input: Tensor, output_size, return_indices: bool = False):
    """Max pooling of (N, C, L) or (C, L) to a fixed length."""
    out = adaptive_max_pool1d_with_indices(input, output_size)
    return out if return_indices else out[0]


# ----------------------------------------------------------------- max unpooling
class _MaxUnpool(_Scatter):
    """max_unpool: values written at their indices in a zero plane (the last write wins
    where indices repeat, as in torch)."""

    _node_name = "MaxUnpool2DBackward0"


def _unpool_size(input: Tensor, nsp: int, k, s, p, output_size) -> tuple:
    shape = input._data.shape
    default = tuple((shape[-nsp + i] - 1) * s[i] - 2 * p[i] + k[i] for i in range(nsp))
    if output_size is None:
        return default
    output_size = tuple(int(v) for v in output_size)
    if len(output_size) == nsp + 2 or len(output_size) == input._data.ndim:
        output_size = output_size[-nsp:]
    if len(output_size) != nsp:
        raise ValueError(f"output_size should be a sequence containing {nsp} or {nsp + 2} "
                         f"elements, but it has a length of '{len(output_size)}'")
    for i in range(nsp):
        lo, hi = default[i] - s[i], default[i] + s[i]
        if not lo < output_size[i] < hi:
            raise ValueError(f'invalid output_size "{list(output_size)}" (dim {i} must be '
                             f"between {lo} and {hi})")
    return output_size


def _max_unpool(input: Tensor, indices: Tensor, nsp: int, kernel_size, stride, padding,
                output_size, op: str) -> Tensor:
    k = _ntuple(kernel_size, nsp, "kernel_size", op)
    s = k if stride is None else _ntuple(stride, nsp, "stride", op)
    p = _ntuple(padding, nsp, "padding", op)
    plane = _unpool_size(input, nsp, k, s, p, output_size)
    if indices.dtype.name != "int64":
        raise RuntimeError(f"elements in indices should be type int64 but got: "
                           f"{indices.dtype.name.capitalize()}")
    if indices._data.shape != input._data.shape:
        raise RuntimeError(f"Expected shape of indices to be same as that of the input tensor "
                           f"({list(input._data.shape)}) but got indices tensor with shape: "
                           f"({list(indices._data.shape)})")
    index = indices._data
    P = 1
    for v in plane:
        P *= v
    if index.size and (int(index.min()) < 0 or int(index.max()) >= P):
        bad = int(index.max()) if int(index.max()) >= P else int(index.min())
        raise RuntimeError(f"Found an invalid max index: {bad} (output volumes are of size "
                           f"{'x'.join(map(str, plane))}")
    return _MaxUnpool.apply(input, index, tuple(plane), True)


def max_unpool2d(input: Tensor, indices: Tensor, kernel_size, stride=None, padding=0,
                 output_size=None) -> Tensor:
    """The partial inverse of max_pool2d: values go back to their `indices`, zeros elsewhere;
    output_size picks among the sizes that pooling maps to the input's."""
    return _max_unpool(input, indices, 2, kernel_size, stride, padding, output_size,
                       "max_unpool2d")


def max_unpool1d(input: Tensor, indices: Tensor, kernel_size, stride=None, padding=0,
                 output_size=None) -> Tensor:
    """The partial inverse of max_pool1d."""
    k = _ntuple(kernel_size, 1, "kernel_size", "max_unpool1d")
    s = k if stride is None else _ntuple(stride, 1, "stride", "max_unpool1d")
    p = _ntuple(padding, 1, "padding", "max_unpool1d")
    size = _unpool_size(input, 1, k, s, p, output_size)
    return _max_unpool(input, indices, 1, k, s, p, size, "max_unpool1d")


# ----------------------------------------------------------------- power-average pooling
def _lp_finish(avg: Tensor, norm_type, window: int) -> Tensor:
    """(window * avg) ** (1/p), with negative averages (odd p) clamped to zero as torch."""
    from ember._ops.pointwise import abs as _abs
    from ember._ops.pointwise import relu, sign
    return (sign(avg) * relu(_abs(avg))).mul(window).pow(1.0 / norm_type)


def lp_pool2d(input: Tensor, norm_type: float, kernel_size, stride=None,
              ceil_mode: bool = False) -> Tensor:
    """Power-average pooling: (sum of x**p over each window) ** (1/p), no padding."""
    kh, kw = _ntuple(kernel_size, 2, "kernel_size", "lp_pool2d")
    avg = avg_pool2d(input.pow(norm_type), kernel_size, stride, 0, ceil_mode)
    return _lp_finish(avg, norm_type, kh * kw)


def lp_pool1d(input: Tensor, norm_type: float, kernel_size, stride=None,
              ceil_mode: bool = False) -> Tensor:
    """1-d power-average pooling over (N, C, L) or (C, L)."""
    avg = avg_pool1d(input.pow(norm_type), kernel_size, stride, 0, ceil_mode)
    return _lp_finish(avg, norm_type, _one(kernel_size, "kernel_size"))
