"""Attention: F.scaled_dot_product_attention and F.multi_head_attention_forward.

The math follows torch's reference ("math") path: scores = q @ k^T * scale, an
additive float mask or a boolean keep-mask, softmax over the key axis, dropout,
then @ v. Rows whose keys are all masked out give zeros instead of NaN, as
torch's safe softmax does. scaled_dot_product_attention is one fused node
(ScaledDotProductAttention) over raw arrays; _math_weights writes the same weights
with ember ops, for its create_graph backward and for inputs the kernel does not
take. multi_head_attention_forward projects, splits the heads and calls it.
"""
from __future__ import annotations

import math
import weakref

import numpy as np

from ember import _dtype as _dt
from ember._ops.conv import linear
from ember._ops.dropout import _keep_mask, dropout
from ember._ops.reduction import _acc, _back
from ember._ops.softmax import softmax
from ember._tensor import Tensor, _make
from ember.amp.autocast_mode import _AUTOCAST, autocast_lower
from ember.autograd.function import Function, _modified_error
from ember.autograd.grad_mode import _state

__all__ = ["scaled_dot_product_attention", "multi_head_attention_forward"]


def _xp(x):
    return np if isinstance(x, np.ndarray) else x.__array_namespace__()


def _causal_keep(query: Tensor, L: int, S: int) -> Tensor:
    """(L, S) boolean mask that keeps key j for query i when j <= i."""
    xp = _xp(query._data)
    return _make(xp.tril(xp.ones((L, S), dtype=bool)))


def _additive(xp, mask, is_causal: bool, L: int, S: int, dtype):
    """The mask as an array added to the scores: 0 where a key takes part, -inf where not
    (a float mask is already additive). None when nothing is masked."""
    add = None
    if mask is not None:
        m = mask._data
        add = xp.where(m, dtype.type(0), dtype.type(-np.inf)) if m.dtype == bool else m
    if is_causal:
        causal = xp.triu(xp.full((L, S), -np.inf, dtype), 1)
        add = causal if add is None else add + causal
    return add


def _safe_softmax_(s, xp):
    """Softmax over axis -2 of s, in place. A column whose scores are all -inf (every key
    masked out) becomes zeros instead of NaN, as torch's safe softmax gives."""
    m = s.max(axis=-2, keepdims=True)
    blocked = m == -np.inf
    any_blocked = bool(blocked.any())
    if any_blocked:
        m[blocked] = 0
    s -= m
    xp.exp(s, out=s)
    z = s.sum(axis=-2, keepdims=True)
    if any_blocked:
        z[blocked] = 1  # the column is all zeros: leave it so
    s *= 1.0 / z
    return s


def _math_weights(query: Tensor, key: Tensor, attn_mask, is_causal: bool, scale: float):
    """softmax(query @ key^T * scale + mask) written with ember ops (differentiable to any
    order); the weights' reference formula, also used by create_graph backwards."""
    scores = query.matmul(key.transpose(-2, -1)) * scale
    if is_causal:
        scores = scores.masked_fill(_causal_keep(query, scores.shape[-2],
                                                 scores.shape[-1]).logical_not(), -math.inf)
    if attn_mask is not None:
        if attn_mask.dtype is _dt.bool:
            scores = scores.masked_fill(attn_mask.logical_not(), -math.inf)
        else:
            scores = scores + attn_mask
    if attn_mask is None and not is_causal:
        return softmax(scores, -1)
    blocked = (scores == -math.inf).all(-1, keepdim=True)
    if bool(blocked.any()):  # a query with no key left: zeros, not NaN
        return softmax(scores.masked_fill(blocked, 0.0), -1).masked_fill(blocked, 0.0)
    return softmax(scores, -1)


class ScaledDotProductAttention(Function):
    """softmax(q k^T * scale + mask) (then dropout) @ v as one node.

    The forward works on raw arrays, masking, soft-maxing and dropping out in place, and
    keeps the weights and the dropout noise for backward. It holds the scores transposed,
    (..., S, L): NumPy reduces over axis -2 several times faster than over a short last
    axis, and every product takes the transposed operands as strided views.
    Backward is the analytic formula dS = P * (dP - rowsum(dP * P)); without create_graph
    it runs on raw arrays, with it the same formula is written with ember ops from q, k
    and v (the weights recomputed by _math_weights), so higher-order gradients are exact.
    """

    _node_name = "ScaledDotProductFlashAttentionForCpuBackward0"

    @staticmethod
    def forward(ctx, query, key, value, attn_mask, dropout_p, is_causal, scale):
        q, k, v = _acc(query._data), _acc(key._data), _acc(value._data)
        xp = _xp(q)
        if q.shape[-1] < k.shape[-2]:  # scale the smaller operand: q when head_dim < S
            st = k @ (q * scale).swapaxes(-1, -2)  # scores, transposed: (..., S, L)
        else:
            st = k @ q.swapaxes(-1, -2)
            st *= scale
        add = _additive(xp, attn_mask, is_causal, st.shape[-1], st.shape[-2], st.dtype)
        if add is not None:
            add = add.swapaxes(-1, -2)
            if xp.broadcast_shapes(st.shape, add.shape) == st.shape:
                st += add
            else:
                st = st + add
        pt = _safe_softmax_(st, xp)
        noise = None
        if dropout_p > 0.0:
            noise = _keep_mask(query, pt.shape, dropout_p, pt.dtype)
            if dropout_p < 1.0:  # p == 1 keeps nothing: the mask is all zeros already
                noise *= 1.0 / (1.0 - dropout_p)
            pt = pt * noise if ctx._recording else _mul_(pt, noise)
        out = pt.swapaxes(-1, -2) @ v
        result = _make(out if out.dtype == query._data.dtype else out.astype(query._data.dtype))
        ctx.scale, ctx.is_causal = scale, is_causal
        # the weights before dropout: st is pt unless dropout made a new array
        ctx.save_for_backward(query, key, value, attn_mask, _make(st),
                              None if noise is None else _make(noise))
        if ctx._recording:  # the output gives backward its row sums, as torch's kernel saves it
            ctx.out, ctx.out_version = out, (weakref.ref(result), result._version_counter,
                                             result._version_counter[0])
        return result

    @staticmethod
    def backward(ctx, grad):
        query, key, value, attn_mask, pt, noise = ctx.saved_tensors
        need = ctx.needs_input_grad
        scale = ctx.scale
        if _state.enabled:  # create_graph: the same formula with ember ops
            p = _math_weights(query, key, attn_mask, ctx.is_causal, scale)
            if noise is not None:
                noise = noise.transpose(-2, -1)
            pd = p if noise is None else p * noise
            gv = pd.transpose(-2, -1).matmul(grad) if need[2] else None
            dp = grad.matmul(value.transpose(-2, -1))
            if noise is not None:
                dp = dp * noise
            ds = p * (dp - (dp * p).sum(-1, keepdim=True))
            gm = ds if need[3] else None
            gq = ds.matmul(key) * scale if need[0] else None
            gk = ds.transpose(-2, -1).matmul(query) * scale if need[1] else None
            return gq, gk, gv, gm, None, None, None
        g, q, k, v = _acc(grad._data), _acc(query._data), _acc(key._data), _acc(value._data)
        pt = pt._data  # (..., S, L), as the forward kept it
        nt = None if noise is None else noise._data
        gv = None
        if need[2]:
            gv = _make(_back((pt if nt is None else pt * nt) @ g, value._data))
        dst = v @ g.swapaxes(-1, -2)  # dP, transposed
        if nt is not None:
            dst *= nt
        ref, counter, version = ctx.out_version
        if counter[0] != version and ref() is not None:
            raise _modified_error(ctx, ref(), version, None)
        if counter[0] == version:
            # rowsum(dP * P) = rowsum(dO * O): O = P v (with dropout's noise in P) turns the
            # sum over keys into one over the head dim, half the size and a contiguous axis
            dst -= _xp(g).einsum("...ld,...ld->...l", g, ctx.out)[..., None, :]
        else:
            dst -= (dst * pt).sum(axis=-2, keepdims=True)
        dst *= pt
        gm = _make(_back(dst.swapaxes(-1, -2).copy(), attn_mask._data)) if need[3] else None
        dst *= scale
        gq = _make(_back(dst.swapaxes(-1, -2) @ k, query._data)) if need[0] else None
        gk = _make(_back(dst @ q, key._data)) if need[1] else None
        return gq, gk, gv, gm, None, None, None


def _mul_(a, b):
    a *= b
    return a


def scaled_dot_product_attention(query: Tensor, key: Tensor, value: Tensor, attn_mask=None,
                                 dropout_p: float = 0.0, is_causal: bool = False, scale=None,
                                 enable_gqa: bool = False) -> Tensor:
    """softmax(query @ key^T * scale + mask) @ value over the last two dims.

    A boolean `attn_mask` marks the positions that take part; a float one is added to
    the scores. `is_causal` applies a lower-triangular mask (and excludes `attn_mask`).
    `enable_gqa` repeats key/value heads (dim -3) to match the query's heads.
    """
    if _AUTOCAST: query, key, value, attn_mask = autocast_lower(query, key, value, attn_mask)
    scale_factor = 1.0 / math.sqrt(query.shape[-1]) if scale is None else float(scale)
    if is_causal and attn_mask is not None:
        raise RuntimeError("_scaled_dot_product_attention: Explicit attn_mask should not be "
                           "set when is_causal=True")
    if enable_gqa and query.dim() >= 3 and key.shape[-3] != query.shape[-3]:
        rep = query.shape[-3] // key.shape[-3]
        key = key.repeat_interleave(rep, dim=-3)
        value = value.repeat_interleave(rep, dim=-3)
    if key.shape[-1] != query.shape[-1]:
        raise RuntimeError(f"Expected size for first two dimensions of batch2 tensor to be: "
                           f"{[*query.shape[:-2], query.shape[-1]]} but got: "
                           f"{[*key.shape[:-2], key.shape[-1]]}.")
    if _fusable(query, key, value, attn_mask):
        return ScaledDotProductAttention.apply(query, key, value, attn_mask, float(dropout_p),
                                               bool(is_causal), scale_factor)
    weights = _math_weights(query, key, attn_mask, is_causal, scale_factor)
    if dropout_p > 0.0:
        weights = dropout(weights, dropout_p, True)
    return weights.matmul(value)


def _fusable(query: Tensor, key: Tensor, value: Tensor, attn_mask) -> bool:
    """Whether the one-node kernel applies: same float dtype, at least 2-D, keys and values
    of one length, and a bool or same-dtype float mask (other cases take the op-by-op
    path, which also reports torch's errors)."""
    q, k, v = query._data, key._data, value._data
    if not q.dtype == k.dtype == v.dtype or q.dtype.kind not in "fV":  # V: bfloat16
        return False
    if min(q.ndim, k.ndim, v.ndim) < 2 or k.shape[-2] != v.shape[-2]:
        return False
    try:
        np.broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2])
    except ValueError:
        return False
    if attn_mask is None:
        return True
    m = attn_mask._data
    return m.dtype == bool or m.dtype == q.dtype


# ------------------------------------------------------------------ multi-head attention
def _none_or_dtype(t):
    return None if t is None else t.dtype


def _canonical_mask(mask, mask_name: str, other_type, other_name: str, target_type,
                    check_other: bool = True):
    """A boolean mask (True = masked out) as an additive float mask of `target_type`."""
    if mask is None:
        return None
    if mask.dtype is not _dt.bool and not mask.dtype.is_floating_point:
        raise AssertionError(f"only bool and floating types of {mask_name} are supported")
    if check_other and other_type is not None and mask.dtype is not other_type:
        import warnings
        warnings.warn(f"Support for mismatched {mask_name} and {other_name} is deprecated. "
                      "Use same type for both instead.", stacklevel=3)
    if mask.dtype is _dt.bool:
        xp = _xp(mask._data)
        arr = xp.zeros(mask._data.shape, dtype=target_type.np)
        arr[mask._data] = -np.inf
        return _make(arr)
    return mask


def _check_batched(query: Tensor, key: Tensor, value: Tensor, key_padding_mask, attn_mask,
                   num_heads: int) -> bool:
    """Whether the inputs carry a batch dim (torch's shape rules for MHA)."""
    if query.dim() == 3:
        if key.dim() != 3 or value.dim() != 3:
            raise AssertionError("For batched (3-D) `query`, expected `key` and `value` to be "
                                 f"3-D but found {key.dim()}-D and {value.dim()}-D tensors "
                                 "respectively")
        if key_padding_mask is not None and key_padding_mask.dim() != 2:
            raise AssertionError("For batched (3-D) `query`, expected `key_padding_mask` to be "
                                 f"`None` or 2-D but found {key_padding_mask.dim()}-D tensor "
                                 "instead")
        if attn_mask is not None and attn_mask.dim() not in (2, 3):
            raise AssertionError("For batched (3-D) `query`, expected `attn_mask` to be `None`, "
                                 f"2-D or 3-D but found {attn_mask.dim()}-D tensor instead")
        return True
    if query.dim() == 2:
        if key.dim() != 2 or value.dim() != 2:
            raise AssertionError("For unbatched (2-D) `query`, expected `key` and `value` to be "
                                 f"2-D but found {key.dim()}-D and {value.dim()}-D tensors "
                                 "respectively")
        if key_padding_mask is not None and key_padding_mask.dim() != 1:
            raise AssertionError("For unbatched (2-D) `query`, expected `key_padding_mask` to "
                                 f"be `None` or 1-D but found {key_padding_mask.dim()}-D tensor "
                                 "instead")
        if attn_mask is not None:
            if attn_mask.dim() not in (2, 3):
                raise AssertionError("For unbatched (2-D) `query`, expected `attn_mask` to be "
                                     f"`None`, 2-D or 3-D but found {attn_mask.dim()}-D tensor "
                                     "instead")
            if attn_mask.dim() == 3:
                expected = (num_heads, query.shape[0], key.shape[0])
                if tuple(attn_mask.shape) != expected:
                    raise AssertionError(f"Expected `attn_mask` shape to be {expected} but got "
                                         f"{tuple(attn_mask.shape)}")
        return False
    raise AssertionError(f"query should be unbatched 2D or batched 3D tensor but received "
                         f"{query.dim()}-D query tensor")


def _pad_last(t, value: float = 0.0):
    """t with one more column (of `value`) on its last dim."""
    if t is None:
        return None
    from ember._ops.vision import pad
    return pad(t, (0, 1), value=value)


def multi_head_attention_forward(
        query: Tensor, key: Tensor, value: Tensor, embed_dim_to_check: int, num_heads: int,
        in_proj_weight, in_proj_bias, bias_k, bias_v, add_zero_attn: bool, dropout_p: float,
        out_proj_weight: Tensor, out_proj_bias, training: bool = True, key_padding_mask=None,
        need_weights: bool = True, attn_mask=None, use_separate_proj_weight: bool = False,
        q_proj_weight=None, k_proj_weight=None, v_proj_weight=None, static_k=None,
        static_v=None, average_attn_weights: bool = True, is_causal: bool = False) -> tuple:
    """torch's multi-head attention on (L, N, E) inputs (or unbatched (L, E)).

    Returns (output, weights); weights are None unless need_weights, averaged over the
    heads when average_attn_weights.
    """
    is_batched = _check_batched(query, key, value, key_padding_mask, attn_mask, num_heads)
    if not is_batched:
        query, key, value = query.unsqueeze(1), key.unsqueeze(1), value.unsqueeze(1)
        if key_padding_mask is not None:
            key_padding_mask = key_padding_mask.unsqueeze(0)
    tgt_len, bsz, embed_dim = query.shape
    src_len = key.shape[0]
    key_padding_mask = _canonical_mask(key_padding_mask, "key_padding_mask",
                                       _none_or_dtype(attn_mask), "attn_mask", query.dtype)
    if is_causal and attn_mask is None:
        raise RuntimeError("Need attn_mask if specifying the is_causal hint. You may use the "
                           "Transformer module method `generate_square_subsequent_mask` to "
                           "create this mask.")
    if is_causal and key_padding_mask is None and not need_weights:
        attn_mask = None  # the scaled_dot_product_attention call applies the causal mask
    else:
        attn_mask = _canonical_mask(attn_mask, "attn_mask", None, "", query.dtype, False)
        if key_padding_mask is not None:
            is_causal = False
    if embed_dim != embed_dim_to_check:
        raise AssertionError(f"was expecting embedding dimension of {embed_dim_to_check}, but "
                             f"got {embed_dim}")
    head_dim = embed_dim // num_heads
    if head_dim * num_heads != embed_dim:
        raise AssertionError(f"embed_dim {embed_dim} not divisible by num_heads {num_heads}")
    if use_separate_proj_weight:
        if tuple(key.shape[:2]) != tuple(value.shape[:2]):
            raise AssertionError(f"key's sequence and batch dims {tuple(key.shape[:2])} do not "
                                 f"match value's {tuple(value.shape[:2])}")
    elif tuple(key.shape) != tuple(value.shape):
        raise AssertionError(f"key shape {tuple(key.shape)} does not match value shape "
                             f"{tuple(value.shape)}")

    # heads as views of the projections (no copies) unless an option needs the
    # (N * heads, L, head_dim) layout
    by_views = not (need_weights or add_zero_attn or static_k is not None or
                    static_v is not None)
    batch_major = (by_views and bias_k is None and query is key and key is value and
                   not use_separate_proj_weight and not query.is_contiguous() and
                   query.transpose(0, 1).is_contiguous())
    if not training:
        dropout_p = 0.0

    # input projections
    if not use_separate_proj_weight:
        if in_proj_weight is None:
            raise AssertionError("use_separate_proj_weight is False but in_proj_weight is None")
        if query is key and key is value:  # self-attention: one product for q, k and v
            # from a batch_first module, project the (N, L, E) memory as it lies
            x = query.transpose(0, 1) if batch_major else query
            q, k, v = linear(x, in_proj_weight, in_proj_bias).chunk(3, -1)
        else:
            w_q, w_k, w_v = in_proj_weight.chunk(3)
            b_q = b_k = b_v = None
            if in_proj_bias is not None:
                b_q, b_k, b_v = in_proj_bias.chunk(3)
            q = linear(query, w_q, b_q)
            if key is value:
                k, v = linear(key, in_proj_weight[embed_dim:], None if in_proj_bias is None
                              else in_proj_bias[embed_dim:]).chunk(2, -1)
            else:
                k, v = linear(key, w_k, b_k), linear(value, w_v, b_v)
    else:
        b_q = b_k = b_v = None
        if in_proj_bias is not None:
            b_q, b_k, b_v = in_proj_bias.chunk(3)
        q = linear(query, q_proj_weight, b_q)
        k = linear(key, k_proj_weight, b_k)
        v = linear(value, v_proj_weight, b_v)

    if attn_mask is not None:
        if attn_mask.dim() == 2:
            if tuple(attn_mask.shape) != (tgt_len, src_len):
                raise RuntimeError(f"The shape of the 2D attn_mask is {tuple(attn_mask.shape)}, "
                                   f"but should be {(tgt_len, src_len)}.")
            attn_mask = attn_mask.unsqueeze(0)
        elif attn_mask.dim() == 3:
            if tuple(attn_mask.shape) != (bsz * num_heads, tgt_len, src_len):
                raise RuntimeError(f"The shape of the 3D attn_mask is {tuple(attn_mask.shape)}, "
                                   f"but should be {(bsz * num_heads, tgt_len, src_len)}.")
        else:
            raise RuntimeError(f"attn_mask's dimension {attn_mask.dim()} is not supported")

    if bias_k is not None and bias_v is not None:
        if static_k is not None or static_v is not None:
            raise AssertionError("bias cannot be added to static key/value.")
        from ember._ops.shape import cat
        k = cat([k, bias_k.expand(1, bsz, embed_dim)])
        v = cat([v, bias_v.expand(1, bsz, embed_dim)])
        attn_mask = _pad_last(attn_mask)
        key_padding_mask = _pad_last(key_padding_mask)

    if by_views:
        return _attend_heads(q, k, v, attn_mask, key_padding_mask, num_heads, dropout_p,
                             is_causal, batch_major, out_proj_weight, out_proj_bias,
                             is_batched)

    q = q.reshape(tgt_len, bsz * num_heads, head_dim).transpose(0, 1)
    k = k.reshape(k.shape[0], bsz * num_heads, head_dim).transpose(0, 1) if static_k is None \
        else static_k
    v = v.reshape(v.shape[0], bsz * num_heads, head_dim).transpose(0, 1) if static_v is None \
        else static_v
    if add_zero_attn:
        from ember._ops.shape import cat
        xp = _xp(k._data)
        zeros = _make(xp.zeros((bsz * num_heads, 1, head_dim), dtype=k._data.dtype))
        k = cat([k, zeros], dim=1)
        v = cat([v, zeros], dim=1)
        attn_mask = _pad_last(attn_mask)
        key_padding_mask = _pad_last(key_padding_mask)
    src_len = k.shape[1]

    if key_padding_mask is not None:
        if tuple(key_padding_mask.shape) != (bsz, src_len):
            raise AssertionError(f"expecting key_padding_mask shape of {(bsz, src_len)}, but got "
                                 f"{tuple(key_padding_mask.shape)}")
        kpm = key_padding_mask.reshape(bsz, 1, 1, src_len).expand(bsz, num_heads, 1, src_len)
        kpm = kpm.reshape(bsz * num_heads, 1, src_len)
        attn_mask = kpm if attn_mask is None else attn_mask + kpm

    if need_weights:
        scores = q.matmul(k.transpose(-2, -1)) * (1.0 / math.sqrt(head_dim))
        if attn_mask is not None:
            scores = scores + attn_mask
        weights = softmax(scores, -1)
        if dropout_p > 0.0:
            weights = dropout(weights, dropout_p, True)
        out = weights.matmul(v)
        out = out.transpose(0, 1).reshape(tgt_len * bsz, embed_dim)
        out = linear(out, out_proj_weight, out_proj_bias).reshape(tgt_len, bsz, embed_dim)
        weights = weights.reshape(bsz, num_heads, tgt_len, src_len)
        if average_attn_weights:
            weights = weights.mean(1)
        if not is_batched:
            out, weights = out.squeeze(1), weights.squeeze(0)
        return out, weights

    if attn_mask is not None:
        if attn_mask.shape[0] == 1 and attn_mask.dim() == 3:
            attn_mask = attn_mask.unsqueeze(0)
        else:
            attn_mask = attn_mask.reshape(bsz, num_heads, -1, src_len)
    q = q.reshape(bsz, num_heads, tgt_len, head_dim)
    k = k.reshape(bsz, num_heads, src_len, head_dim)
    v = v.reshape(bsz, num_heads, src_len, head_dim)
    out = scaled_dot_product_attention(q, k, v, attn_mask, dropout_p, is_causal)
    out = out.permute(2, 0, 1, 3).reshape(bsz * tgt_len, embed_dim)
    out = linear(out, out_proj_weight, out_proj_bias).reshape(tgt_len, bsz, embed_dim)
    if not is_batched:
        out = out.squeeze(1)
    return out, None


def _split_heads(x: Tensor, num_heads: int, batch_major: bool) -> Tensor:
    """The (N, heads, S, head_dim) view of a projection laid out (N, S, E) when batch_major,
    else (S, N, E)."""
    a, b, e = x.shape
    x = x.view(a, b, num_heads, e // num_heads)
    return x.transpose(1, 2) if batch_major else x.permute(1, 2, 0, 3)


def _attend_heads(q, k, v, attn_mask, key_padding_mask, num_heads: int, dropout_p: float,
                  is_causal: bool, batch_major: bool, out_proj_weight, out_proj_bias,
                  is_batched: bool) -> tuple:
    """multi_head_attention_forward's need_weights=False tail: one fused attention over
    head views of q, k, v, then the output projection (see _split_heads for layouts)."""
    qh, kh, vh = (_split_heads(x, num_heads, batch_major) for x in (q, k, v))
    bsz, _, tgt_len, head_dim = qh.shape
    src_len = kh.shape[2]
    embed_dim = num_heads * head_dim
    mask = None
    if attn_mask is not None:  # (1, L, S) or (N * heads, L, S)
        mask = attn_mask.unsqueeze(0) if attn_mask.shape[0] == 1 else \
            attn_mask.reshape(bsz, num_heads, tgt_len, src_len)
    if key_padding_mask is not None:
        if tuple(key_padding_mask.shape) != (bsz, src_len):
            raise AssertionError(f"expecting key_padding_mask shape of {(bsz, src_len)}, but got "
                                 f"{tuple(key_padding_mask.shape)}")
        kpm = key_padding_mask.reshape(bsz, 1, 1, src_len)
        mask = kpm if mask is None else mask + kpm
    out = scaled_dot_product_attention(qh, kh, vh, mask, dropout_p, is_causal)
    if batch_major:
        out = out.transpose(1, 2).reshape(bsz * tgt_len, embed_dim)
        out = linear(out, out_proj_weight, out_proj_bias).view(bsz, tgt_len, embed_dim)
        out = out.transpose(0, 1)
    else:
        out = out.permute(2, 0, 1, 3).reshape(tgt_len * bsz, embed_dim)
        out = linear(out, out_proj_weight, out_proj_bias).view(tgt_len, bsz, embed_dim)
    if not is_batched:
        out = out.squeeze(1)
    return out, None
