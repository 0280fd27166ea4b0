"""Embedding lookups: F.embedding and F.embedding_bag.

A lookup gathers rows of `weight`; its backward sums the incoming row gradients
into the rows they were read from (`_EmbeddingBackward`, a segment sum with no
`np.add.at`), skipping `padding_idx` and dividing by each index's frequency with
`scale_grad_by_freq`. That backward is linear in the gradient and its own
backward is the lookup again, so double backward works. `max_norm` rescales the
looked-up rows of `weight` in place, without recording a graph, before the lookup
(torch's embedding_renorm_).
"""
from __future__ import annotations

import numpy as np

from ember._device import array_module as _xp
from ember._ops.indexing import _segment_sum
from ember._tensor import Tensor, _make
from ember.autograd.function import Function
from ember.autograd.grad_mode import no_grad

__all__ = ["embedding", "embedding_bag"]

_ndarray = np.ndarray




def _row_factor(idx, num: int, padding_idx, freq: bool):
    """Per looked-up row: 0 at padding_idx, 1/count(index) with scale_grad_by_freq, else 1;
    None when every factor is 1."""
    if padding_idx is None and not freq:
        return None
    xp = _xp(idx)
    factor = xp.ones(idx.shape, np.float64)
    if freq:
        factor /= xp.bincount(idx.reshape(-1), minlength=num)[idx]
    if padding_idx is not None:
        factor[idx == padding_idx] = 0.0
    return factor


class _Embedding(Function):
    """weight[idx] for an integer array idx of any shape."""

    _node_name = "EmbeddingBackward0"

    @staticmethod
    def forward(ctx, weight: Tensor, idx, padding_idx, freq: bool) -> Tensor:
        ctx.idx, ctx.num, ctx.padding_idx, ctx.freq = idx, weight._data.shape[0], padding_idx, freq
        return _make(weight._data[idx])

    @staticmethod
    def backward(ctx, grad: Tensor):
        return (_EmbeddingBackward.apply(grad, ctx.idx, ctx.num, ctx.padding_idx, ctx.freq),
                None, None, None)


class _EmbeddingBackward(Function):
    """Row gradients (*idx.shape, D) summed into a (num, D) weight gradient."""

    _node_name = "EmbeddingBackwardBackward0"

    @staticmethod
    def forward(ctx, grad: Tensor, idx, num: int, padding_idx, freq: bool) -> Tensor:
        g = grad._data
        ctx.idx, ctx.padding_idx, ctx.freq = idx, padding_idx, freq
        ctx.factor = factor = _row_factor(idx, num, padding_idx, freq)
        rows = g.reshape(-1, g.shape[-1])
        seg = idx.reshape(-1)
        if factor is not None:
            f = factor.reshape(-1)
            keep = f != 0
            rows, seg, f = rows[keep], seg[keep], f[keep]
            if freq:
                rows = rows * f[:, None].astype(_work(rows.dtype))
        if rows.size == 0:
            return _make(_xp(g).zeros((num, g.shape[-1]), g.dtype))
        return _make(_segment_sum(seg, rows, num).astype(g.dtype, copy=False))

    @staticmethod
    def backward(ctx, gg: Tensor):
        rows = _Embedding.apply(gg, ctx.idx, ctx.padding_idx, ctx.freq)
        if ctx.factor is not None:
            rows = rows * _make(ctx.factor[..., None].astype(_work(gg._data.dtype)))
        return rows, None, None, None, None


def _work(dtype):
    return np.float64 if dtype == np.float64 else np.float32


def _indices(input: Tensor, op: str):
    if input.dtype.name not in ("int64", "int32"):
        raise RuntimeError(f"Expected tensor for argument #1 'indices' to have one of the "
                           f"following scalar types: Long, Int; but got {input.type()} instead "
                           f"(while checking arguments for {op})")
    return input._data.astype(np.int64, copy=False)


def _renorm_(weight: Tensor, idx, max_norm: float, norm_type: float) -> None:
    """Rescale the rows of `weight` that idx reads so their norm is at most max_norm."""
    with no_grad():
        w = weight._data
        xp = _xp(w)
        rows = xp.unique(idx.reshape(-1))
        if rows.size == 0:
            return
        sel = w[rows].astype(_work(w.dtype))
        if norm_type == float("inf"):
            norms = xp.abs(sel).max(1)
        else:
            norms = (xp.abs(sel) ** norm_type).sum(1) ** (1.0 / norm_type)
        big = norms > max_norm
        if bool(big.any()):
            scale = max_norm / (norms[big] + 1e-7)
            w[rows[big]] = (sel[big] * scale[:, None]).astype(w.dtype)
        weight._version_counter[0] += 1


def _padding(padding_idx, num: int, message: str, exc=AssertionError):
    if padding_idx is None:
        return None
    if not -num <= padding_idx < num:
        raise exc(message)
    return padding_idx + num if padding_idx < 0 else padding_idx


def embedding(input: Tensor, weight: Tensor, padding_idx: int | None = None,
              max_norm: float | None = None, norm_type: float = 2.0,
              scale_grad_by_freq: bool = False, sparse: bool = False) -> Tensor:
    """Rows of `weight` (num_embeddings, D) at the integer `input`, shape (*input, D).

    padding_idx's row is looked up as usual but gets no gradient; max_norm renormalises the
    looked-up rows of weight in place first; scale_grad_by_freq divides each row's gradient
    by how often its index occurs in input. sparse gradients are not supported (dense).
    """
    num = weight._data.shape[0] if weight._data.ndim else 0
    padding_idx = _padding(padding_idx, num, "Padding_idx must be within num_embeddings")
    if weight._data.ndim != 2:
        raise RuntimeError("'weight' must be 2-D")
    idx = _indices(input, "embedding")
    if idx.size and (int(idx.min()) < 0 or int(idx.max()) >= num):
        raise IndexError("index out of range in self")
    if max_norm is not None:
        _renorm_(weight, idx, max_norm, norm_type)
    return _Embedding.apply(weight, idx, padding_idx, scale_grad_by_freq)


# ----------------------------------------------------------------- embedding_bag
class _EmbeddingBag(Function):
    """Bags of rows reduced by sum (optionally weighted), mean or max."""

    _node_name = "EmbeddingBagBackward0"

    @staticmethod
    def forward(ctx, weight: Tensor, psw, idx, bag, nbags: int, mode: str, freq: bool):
        w = weight._data
        xp = _xp(w)
        D = w.shape[1]
        work = _work(w.dtype)
        rows = w[idx].astype(work, copy=False)
        counts = xp.bincount(bag, minlength=nbags)
        ctx.saved = (idx, bag, nbags, mode, freq, w.shape[0])
        ctx.weighted = psw is not None
        if mode == "max":
            out = xp.zeros((nbags, D), work)
            pos = None
            if idx.size:
                full = counts > 0
                starts = xp.concatenate([xp.zeros(1, np.int64), xp.cumsum(counts)[:-1]])[full]
                top = np.maximum.reduceat(rows, starts, axis=0) if xp is np else \
                    _reduceat_max(rows, bag, nbags, xp)[full]
                out[full] = top
                # first element of each bag reaching the maximum, per column
                hit = rows == out[bag]
                cand = xp.where(hit, xp.arange(idx.size)[:, None], idx.size)
                pos = np.minimum.reduceat(cand, starts, axis=0) if xp is np else \
                    _reduceat_min(cand, bag, nbags, xp)[full]
                ctx.full = full
            ctx.pos = pos
            return _make(out.astype(w.dtype, copy=False))
        if psw is not None:
            ctx.save_for_backward(weight, psw)
            rows = rows * psw._data[:, None].astype(work)
        out = _segment_sum(bag, rows, nbags) if idx.size else xp.zeros((nbags, D), work)
        if mode == "mean":
            ctx.inv_count = inv = 1.0 / xp.maximum(counts, 1).astype(work)
            out = out * inv[:, None]
        return _make(out.astype(w.dtype, copy=False))

    @staticmethod
    def backward(ctx, grad: Tensor):
        idx, bag, nbags, mode, freq, num = ctx.saved
        D = grad._data.shape[1]
        if mode == "max":
            if ctx.pos is None:
                return grad.new_zeros((num, D)), None, None, None, None, None, None
            from ember._ops.creation import zeros
            full = _make(_xp(ctx.full).flatnonzero(ctx.full))
            rows = zeros((idx.size, D), dtype=grad.dtype, device=grad.device).scatter(
                0, _make(ctx.pos), grad.index_select(0, full))
            return (_EmbeddingBackward.apply(rows, idx, num, None, freq),
                    None, None, None, None, None, None)
        rows = grad.index_select(0, _make(bag))
        grad_psw = None
        if mode == "mean":
            rows = rows * _make(ctx.inv_count[bag][:, None].astype(_work(grad._data.dtype)))
        elif ctx.weighted:
            weight, psw = ctx.saved_tensors
            if ctx.needs_input_grad[1]:
                grad_psw = (rows * weight.index_select(0, _make(idx))).sum(1)
            rows = rows * psw.unsqueeze(1)
        return (_EmbeddingBackward.apply(rows, idx, num, None, freq), grad_psw,
                None, None, None, None, None)


def _reduceat_max(rows, bag, nbags, xp):
    import cupyx
    out = xp.full((nbags, rows.shape[1]), -xp.inf, rows.dtype)
    cupyx.scatter_max(out, bag, rows)
    return out


def _reduceat_min(cand, bag, nbags, xp):
    import cupyx
    out = xp.full((nbags, cand.shape[1]), cand.shape[0], cand.dtype)
    cupyx.scatter_min(out, bag, cand)
    return out


def embedding_bag(input: Tensor, weight: Tensor, offsets: Tensor | None = None,
                  max_norm: float | None = None, norm_type: float = 2,
                  scale_grad_by_freq: bool = False, mode: str = "mean", sparse: bool = False,
                  per_sample_weights: Tensor | None = None, include_last_offset: bool = False,
                  padding_idx: int | None = None) -> Tensor:
    """Sums, means or maxima of bags of embeddings without materialising the lookups' graph.

    input is (B, N) (B bags of N indices) or 1-d with `offsets` giving where each bag starts
    (include_last_offset: offsets has B+1 entries, the last one ending the final bag).
    Entries equal to padding_idx are left out of every bag (and of the mean's count); an
    empty bag gives zeros. per_sample_weights scale the rows in mode='sum'.
    """
    if per_sample_weights is not None and input.shape != per_sample_weights.shape:
        raise ValueError(f"embedding_bag: If per_sample_weights ({per_sample_weights.shape}) is "
                         f"not None, then it must have the same shape as the input "
                         f"({input.shape})")
    if weight._data.ndim != 2:
        raise ValueError(f"weight has to be a 2D Tensor, but got Tensor of dimension "
                         f"{weight._data.ndim}")
    num = weight._data.shape[0]
    if padding_idx is not None and not -num <= padding_idx < num:
        raise RuntimeError(f"padding_idx must be within the number of embeddings, {-num} "
                           f"through {num - 1}, but got {padding_idx}")
    if padding_idx is not None and padding_idx < 0:
        padding_idx += num
    xp = _xp(weight._data)
    if input._data.ndim == 2:
        if offsets is not None:
            raise ValueError("if input is 2D, then offsets has to be None, as input is treated "
                             "is a mini-batch of fixed length sequences. However, found offsets "
                             f"of type {type(offsets)}")
        B, N = input._data.shape
        if N == 0:  # torch builds the offsets with arange(0, B * N, N)
            raise RuntimeError("step must be nonzero")
        starts = np.arange(0, B * N, N, dtype=np.int64)
        idx = _indices(input, "embedding_bag").reshape(-1)
        if per_sample_weights is not None:
            per_sample_weights = per_sample_weights.reshape(-1)
    elif input._data.ndim == 1:
        if offsets is None:
            raise ValueError("offsets has to be a 1D Tensor but got None")
        if offsets._data.ndim != 1:
            raise ValueError("offsets has to be a 1D Tensor")
        idx = _indices(input, "embedding_bag")
        starts = np.asarray(offsets.detach().cpu().numpy() if hasattr(offsets, "cpu")
                            else offsets._data, dtype=np.int64)
    else:
        raise ValueError(f"input has to be 1D or 2D Tensor, but got Tensor of dimension "
                         f"{input._data.ndim}")
    if mode not in ("sum", "mean", "max"):
        raise ValueError("mode has to be one of sum, mean or max")
    if mode == "max" and scale_grad_by_freq:
        raise ValueError("max mode does not support scaling the gradient by the frequency")
    M = idx.size
    if starts.size and starts[0] != 0:
        raise RuntimeError(f"offsets[0] has to be 0, i.e., the first sequence in the mini-batch "
                           f"has to start from position 0. However, got {int(starts[0])}")
    if starts.size and starts[-1] > M:
        raise RuntimeError(f"offsets[-1] can not be greater than input's length {M} but got "
                           f"offsets[-1] of {int(starts[-1])}")
    if starts.size > 1 and bool((np.diff(starts) < 0).any()):
        raise RuntimeError("offsets must be a non-decreasing sequence")
    host_idx = idx if isinstance(idx, _ndarray) else idx.get()
    if M and (host_idx.min() < 0 or host_idx.max() >= num):
        bad = int(np.flatnonzero((host_idx < 0) | (host_idx >= num))[0])
        raise RuntimeError(f"Index {bad} of input takes value {int(host_idx[bad])} which is not "
                           f"in the valid range [0, {num})")
    if max_norm is not None:
        _renorm_(weight, idx, max_norm, norm_type)
    if per_sample_weights is not None and mode != "sum":
        raise NotImplementedError(f"embedding_bag: per_sample_weights was not None. "
                                  f"per_sample_weights is only supported for mode='sum' (got "
                                  f"mode='{mode}'). Please open a feature request on GitHub.")
    if per_sample_weights is not None and per_sample_weights.dtype != weight.dtype:
        raise RuntimeError(f"Expected tensor for argument #1 'weight' to have the same type as "
                           f"tensor for argument #1 'per_sample_weights'; but type "
                           f"{weight.type()} does not equal {per_sample_weights.type()} (while "
                           f"checking arguments for embedding_bag)")
    if include_last_offset:
        end, nbags = (int(starts[-1]), starts.size - 1) if starts.size else (0, 0)
        starts = starts[:-1]
    else:
        end, nbags = M, starts.size
    # each entry's bag; entries past `end` and padding entries belong to no bag
    bag = np.searchsorted(starts, np.arange(M), side="right") - 1
    keep = np.arange(M) < end
    if padding_idx is not None:
        keep &= host_idx != padding_idx
    positions = None if bool(keep.all()) else np.flatnonzero(keep)
    if positions is not None:
        bag = bag[positions]
        idx = idx[xp.asarray(positions)]
        if per_sample_weights is not None:
            per_sample_weights = per_sample_weights[_make(positions)]
    return _EmbeddingBag.apply(weight, per_sample_weights, idx, xp.asarray(bag), nbags, mode,
                               scale_grad_by_freq)
