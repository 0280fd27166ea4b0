"""The fused attention kernels against torch and calculus: ScaledDotProductAttention (one
node, raw-array forward/backward, ember-op create_graph backward), multi-head attention's
head views and batch-first layout, and layer_norm's raw-array backward."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from oracle import check, check_module, randn

import ember
from ember.autograd import gradcheck, gradgradcheck


def _sdpa(lib):
    return lib.nn.functional.scaled_dot_product_attention


def _lib(x):
    return torch if isinstance(x, torch.Tensor) else ember


def _bool_mask(shape, seed, blocked_row=None):
    m = np.random.default_rng(seed).random(shape) > 0.3
    if blocked_row is not None:
        m[blocked_row] = False  # every key of that query masked out
    return m


Q, K, V = randn(2, 3, 5, 4), randn(2, 3, 6, 4, seed=1), randn(2, 3, 6, 3, seed=2)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", ["plain", "bool", "bool_blocked", "float", "causal",
                                  "causal_scale"])
def test_sdpa_fused_matches_torch(case, dtype):
    q, k, v = (a.astype(dtype) for a in (Q, K, V))
    kw, mask = {}, None
    if case == "bool":
        mask = _bool_mask((5, 6), 3)
    elif case == "bool_blocked":
        mask = _bool_mask((2, 1, 5, 6), 3, blocked_row=(1, 0, 2))
    elif case == "causal":
        kw["is_causal"] = True
    elif case == "causal_scale":
        kw.update(is_causal=True, scale=0.3)

    def fn(lib, q, k, v):
        m = None if mask is None else lib.tensor(mask)
        return _sdpa(lib)(q, k, v, attn_mask=m, **kw)

    if case == "float":  # an additive mask that takes part in the gradient
        e, t = check(lambda lib, q, k, v, m: _sdpa(lib)(q, k, v, attn_mask=m), q, k, v,
                     randn(5, 6, seed=4).astype(dtype))
    else:
        e, t = check(fn, q, k, v)
    assert e.grad_fn.name() == "ScaledDotProductFlashAttentionForCpuBackward0"


def test_sdpa_node_name_as_torch_flash_kernel():
    # torch picks its flash kernel (and this node name) for float32 heads of this size
    x = randn(2, 4, 8, 16).astype(np.float32)
    e, t = check(lambda lib, q: _sdpa(lib)(q, q, q, is_causal=True), x)
    assert e.grad_fn.name() == t.grad_fn.name()


def test_sdpa_fully_masked_rows_are_zero_with_zero_grads():
    m = np.ones((5, 6), bool)
    m[2] = False
    q = ember.tensor(Q).requires_grad_()
    out = _sdpa(ember)(q, ember.tensor(K), ember.tensor(V), attn_mask=ember.tensor(m))
    assert not np.isnan(out.detach().numpy()).any()
    assert (out.detach().numpy()[:, :, 2] == 0).all()
    out.sum().backward()
    assert (q.grad.numpy()[:, :, 2] == 0).all()


def test_sdpa_strided_views_of_packed_projection():
    # nanoGPT's layout: q, k, v split off one (B, T, 3C) tensor, heads by view + transpose
    qkv = randn(2, 5, 24, seed=5)

    def fn(lib, qkv):
        q, k, v = qkv.split(8, dim=2)
        q, k, v = (z.view(2, 5, 2, 4).transpose(1, 2) for z in (q, k, v))
        y = _sdpa(lib)(q, k, v, is_causal=True)
        return y.transpose(1, 2).contiguous().view(2, 5, 8)
    check(fn, qkv)


def test_sdpa_broadcast_batch_dims():
    check(lambda lib, q, k, v: _sdpa(lib)(q, k, v), Q, randn(3, 6, 4, seed=6),
          randn(1, 6, 3, seed=7))


@pytest.mark.parametrize("case", ["float_mask", "causal", "bool"])
def test_sdpa_second_order_mixed(case):
    m = randn(5, 6, seed=8)

    def fn(lib, q, k, v):
        kw = {"is_causal": True} if case == "causal" else {
            "attn_mask": lib.tensor(m if case == "float_mask" else m > 0)}
        out = _sdpa(lib)(q, k, v, **kw)
        gq, gv = lib.autograd.grad((out * out).sum(), (q, v), create_graph=True)
        return gq.sum() + (gv * v).sum() + gq.pow(2).sum()
    check(fn, Q, K, V)


def _dropped(p):
    def fn(q, k, v):
        ember.manual_seed(11)  # the same mask at every evaluation
        return _sdpa(ember)(q, k, v, dropout_p=p)
    return fn


def test_sdpa_dropout_gradcheck_and_gradgradcheck():
    args = [ember.tensor(a[:1, :2]).requires_grad_() for a in (Q, K, V)]
    assert gradcheck(_dropped(0.4), args)
    assert gradgradcheck(_dropped(0.4), args)


def test_sdpa_dropout_train_and_eval():
    q, k, v = (ember.tensor(a) for a in (Q, K, V))
    plain = _sdpa(ember)(q, k, v)
    a, b = _dropped(0.5)(q, k, v), _dropped(0.5)(q, k, v)
    assert np.array_equal(a.numpy(), b.numpy())  # same seed, same mask
    assert not np.allclose(a.numpy(), plain.numpy())
    assert np.array_equal(_dropped(0.0)(q, k, v).numpy(), plain.numpy())
    assert float(_dropped(1.0)(q, k, v).abs().sum()) == 0.0
    # the expected value of the dropped weights is the weights: average many draws
    qs = ember.tensor(np.repeat(Q[:1, :1], 4000, axis=0))
    ks, vs = ember.tensor(np.repeat(K[:1, :1], 4000, axis=0)), ember.tensor(
        np.repeat(V[:1, :1], 4000, axis=0))
    mean = _sdpa(ember)(qs, ks, vs, dropout_p=0.3).numpy().mean(0)
    np.testing.assert_allclose(mean[0], plain.numpy()[0, 0], atol=0.05)


def test_sdpa_half_precision_with_mask_and_grads():
    import ml_dtypes
    m = _bool_mask((5, 6), 9, blocked_row=1)
    for dt in (np.float16, ml_dtypes.bfloat16):
        q, k, v = (a.astype(dt) for a in (Q, K, V))
        check(lambda lib, q, k, v: _sdpa(lib)(q, k, v, attn_mask=_lib(q).tensor(m)), q, k, v,
              rtol=3e-2, atol=3e-2)


def test_sdpa_mixed_mask_dtype_takes_the_op_path():
    m = randn(5, 6, seed=10).astype(np.float32)  # float32 mask, float64 scores
    e = _sdpa(ember)(*(ember.tensor(a) for a in (Q, K, V)), attn_mask=ember.tensor(m))
    t = _sdpa(torch)(*(torch.tensor(a) for a in (Q, K, V)), attn_mask=torch.tensor(m))
    np.testing.assert_allclose(e.numpy(), t.numpy(), rtol=1e-6, atol=1e-7)


# ------------------------------------------------------------------ multi-head attention
def _mha(lib, **kw):
    lib.manual_seed(0)
    return lib.nn.MultiheadAttention(8, 2, dtype=lib.float64, **kw)


@pytest.mark.parametrize("batch_first", [True, False])
@pytest.mark.parametrize("masks", ["none", "kpm", "both", "causal"])
def test_mha_head_views_match_torch(batch_first, masks):
    x = randn(3, 5, 8, seed=12) if batch_first else randn(5, 3, 8, seed=12)
    kpm = np.zeros((3, 5), bool)
    kpm[0, 3:] = True
    kpm[2, 1] = True
    am = np.triu(np.ones((5, 5), bool), 1)

    def call(m, x):
        lib = _lib(x)
        kw = {"need_weights": False}
        if masks in ("kpm", "both"):
            kw["key_padding_mask"] = lib.tensor(kpm)
        if masks in ("both", "causal"):
            kw["attn_mask"] = lib.tensor(am)
        if masks == "causal":
            kw["is_causal"] = True
        return m(x, x, x, **kw)[0]
    check_module(lambda lib: _mha(lib, batch_first=batch_first, dropout=0.3), x, call=call,
                 train=False)
    check_module(lambda lib: _mha(lib, batch_first=batch_first), x, call=call)


def test_mha_batch_first_output_layout_and_dropout():
    em = _mha(ember, batch_first=True, dropout=0.5)
    x = ember.tensor(randn(3, 5, 8, seed=13)).requires_grad_()
    out = em(x, x, x, need_weights=False)[0]
    assert out.shape == (3, 5, 8) and out.is_contiguous()
    em.eval()
    ev = em(x, x, x, need_weights=False)[0]
    assert not np.allclose(out.detach().numpy(), ev.detach().numpy())
    out.sum().backward()
    assert x.grad.shape == (3, 5, 8) and em.in_proj_weight.grad is not None


def test_mha_key_padding_mask_shape_error():
    em = _mha(ember, batch_first=True)
    x = ember.tensor(randn(3, 5, 8))
    with pytest.raises(AssertionError, match="expecting key_padding_mask shape"):
        em(x, x, x, key_padding_mask=ember.zeros(3, 4, dtype=ember.bool), need_weights=False)


def test_encoder_layer_train_without_dropout_matches_torch():
    def make(lib):
        lib.manual_seed(0)
        return lib.nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True,
                                              dtype=lib.float64)
    kpm = np.zeros((3, 5), bool)
    kpm[1, 2:] = True
    check_module(make, randn(3, 5, 8, seed=14),
                 call=lambda m, x: m(x, src_key_padding_mask=_lib(x).tensor(kpm)))


# ------------------------------------------------------------------ layer norm backward
@pytest.mark.parametrize("shape,norm", [((4, 6), (6,)), ((2, 3, 4), (3, 4))])
def test_layer_norm_array_backward(shape, norm):
    w, b = randn(*norm, seed=15), randn(*norm, seed=16)
    F = lambda lib: lib.nn.functional  # noqa: E731
    check(lambda lib, x, w, b: F(lib).layer_norm(x, norm, w, b), randn(*shape), w, b)
    check(lambda lib, x, b: F(lib).layer_norm(x, norm, None, b), randn(*shape), b)
    check(lambda lib, x: F(lib).layer_norm(x, norm), randn(*shape).astype(np.float32))
    x = ember.tensor(randn(*shape)).requires_grad_()
    wt = ember.tensor(w).requires_grad_()
    assert gradcheck(lambda x, w: F(ember).layer_norm(x, norm, w), (x, wt))


# ------------------------------------------------------------------ gelu backward from Phi
@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.float16])
def test_gelu_backward_from_saved_cdf(dtype):
    x = (np.linspace(-6, 6, 241) + 0.01).astype(dtype)
    tol = {"rtol": 2e-3, "atol": 2e-3} if dtype == np.float16 else {"atol": 2e-6}
    check(lambda lib, x: lib.nn.functional.gelu(x), x, **tol)
    xe = ember.tensor(randn(3, 4)).requires_grad_()
    assert gradcheck(ember.nn.functional.gelu, (xe,))
    assert gradgradcheck(ember.nn.functional.gelu, (xe,))
