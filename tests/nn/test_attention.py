"""F.scaled_dot_product_attention, F.multi_head_attention_forward and nn.MultiheadAttention
against torch."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from oracle import check, check_error, check_module, randn

import ember


def _lib(x):
    return torch if isinstance(x, torch.Tensor) else ember


def _t(x, arr):
    return _lib(x).tensor(arr)


# ------------------------------------------------------------------ scaled_dot_product_attention
@settings(max_examples=25, deadline=None)
@given(L=st.integers(1, 5), S=st.integers(1, 5), E=st.integers(1, 4), Ev=st.integers(1, 4),
       causal=st.booleans(), scale=st.sampled_from([None, 0.3]))
def test_sdpa_shapes(L, S, E, Ev, causal, scale):
    q, k, v = randn(2, 3, L, E), randn(2, 3, S, E, seed=1), randn(2, 3, S, Ev, seed=2)
    check(lambda lib, q, k, v: lib.nn.functional.scaled_dot_product_attention(
        q, k, v, is_causal=causal, scale=scale), q, k, v)


def test_sdpa_bool_mask_with_fully_masked_rows_gives_zeros():
    q, k, v = randn(2, 3, 4), randn(2, 4, 4, seed=1), randn(2, 4, 5, seed=2)
    m = np.array([[True, False, False, True], [False] * 4, [True] * 4])
    check(lambda lib, q, k, v: lib.nn.functional.scaled_dot_product_attention(
        q, k, v, attn_mask=_t(q, m)), q, k, v)


def test_sdpa_float_mask_broadcast_and_transposed_inputs():
    q = randn(2, 4, 3).transpose(0, 2, 1)  # non-contiguous (2, 3, 4)
    k, v = randn(2, 5, 4, seed=1), randn(2, 5, 4, seed=2)
    m = randn(3, 5, seed=3)
    check(lambda lib, q, k, v, m: lib.nn.functional.scaled_dot_product_attention(
        q, k, v, attn_mask=m), q, k, v, m)


def test_sdpa_float32_and_gqa():
    q, k, v = (randn(1, 4, 3, 2, dtype=np.float32), randn(1, 2, 3, 2, seed=1, dtype=np.float32),
               randn(1, 2, 3, 2, seed=2, dtype=np.float32))
    check(lambda lib, q, k, v: lib.nn.functional.scaled_dot_product_attention(
        q, k, v, enable_gqa=True), q, k, v)


def test_sdpa_dropout_keeps_shape_and_grads():
    q = ember.randn(2, 3, 4, requires_grad=True)
    out = ember.nn.functional.scaled_dot_product_attention(q, q, q, dropout_p=0.5)
    assert out.shape == (2, 3, 4)
    out.sum().backward()
    assert q.grad.shape == (2, 3, 4)
    full = ember.nn.functional.scaled_dot_product_attention(q, q, q, dropout_p=1.0)
    assert float(full.abs().sum()) == 0.0


def test_sdpa_second_order():
    q = randn(2, 3, 4)

    def fn(lib, q):
        out = lib.nn.functional.scaled_dot_product_attention(q, q, q)
        (g,) = lib.autograd.grad(out.pow(2).sum(), q, create_graph=True)
        return g
    check(fn, q)


def test_sdpa_errors():
    q, k, m = randn(2, 3, 4), randn(2, 4, 3), np.ones((3, 4), bool)
    check_error(lambda lib, q: lib.nn.functional.scaled_dot_product_attention(
        q, q, q, attn_mask=_t(q, m), is_causal=True), q, match="is_causal=True")
    check_error(lambda lib, q, k: lib.nn.functional.scaled_dot_product_attention(q, k, k), q, k)


# ------------------------------------------------------------------ MultiheadAttention
def _mha(lib, **kw):
    lib.manual_seed(0)
    return lib.nn.MultiheadAttention(8, 2, dtype=lib.float64, **kw)


X, Y = randn(5, 3, 8), randn(4, 3, 8, seed=1)


@pytest.mark.parametrize("need_weights", [True, False])
@pytest.mark.parametrize("average", [True, False])
def test_mha_self_and_cross(need_weights, average):
    check_module(_mha, X, call=lambda m, x: m(x, x, x, need_weights=need_weights,
                                              average_attn_weights=average))
    check_module(_mha, X, Y, call=lambda m, x, y: m(x, y, y, need_weights=need_weights,
                                                    average_attn_weights=average))


def test_mha_distinct_key_value_and_kdim_vdim():
    z = randn(4, 3, 8, seed=2)
    check_module(_mha, X, Y, z, call=lambda m, x, y, z: m(x, y, z))
    k, v = randn(4, 3, 5, seed=3), randn(4, 3, 6, seed=4)
    check_module(lambda lib: _mha(lib, kdim=5, vdim=6), X, k, v,
                 call=lambda m, x, k, v: m(x, k, v))


@pytest.mark.parametrize("need_weights", [True, False])
def test_mha_masks(need_weights):
    kpm = np.zeros((3, 4), bool)
    kpm[0, 2:] = True
    am = np.zeros((5, 4), bool)
    am[1, :2] = True
    check_module(_mha, X, Y, call=lambda m, x, y: m(
        x, y, y, key_padding_mask=_t(x, kpm), attn_mask=_t(x, am), need_weights=need_weights))
    fam = randn(6, 5, 4, seed=5)  # per-head float mask (N * heads, L, S)
    check_module(_mha, X, Y, fam, call=lambda m, x, y, a: m(
        x, y, y, attn_mask=a.detach(), need_weights=need_weights))


def test_mha_causal_batch_first_bias_kv_zero_attn():
    def causal(x):
        return _lib(x).nn.Transformer.generate_square_subsequent_mask(5, dtype=x.dtype)
    check_module(_mha, X, call=lambda m, x: m(x, x, x, attn_mask=causal(x), is_causal=True,
                                              need_weights=False))
    xb = randn(3, 5, 8, seed=6)
    check_module(lambda lib: _mha(lib, batch_first=True, add_bias_kv=True, add_zero_attn=True),
                 xb, call=lambda m, x: m(x, x, x))
    kpm = np.zeros((3, 5), bool)
    kpm[1, 3:] = True
    check_module(lambda lib: _mha(lib, add_bias_kv=True, bias=False), X,
                 call=lambda m, x: m(x, x, x, key_padding_mask=_t(x, kpm)))


def test_mha_unbatched_and_eval_dropout():
    check_module(_mha, randn(5, 8), randn(4, 8, seed=1),
                 call=lambda m, x, y: m(x, y, y))
    check_module(lambda lib: _mha(lib, dropout=0.5), X, train=False,
                 call=lambda m, x: m(x, x, x))


def test_mha_dropout_in_training_is_random_but_shaped():
    m = _mha(ember, dropout=0.5)
    x = ember.tensor(X)
    out, w = m(x, x, x)
    assert out.shape == (5, 3, 8) and w.shape == (3, 5, 5)
    out.sum().backward()
    assert m.in_proj_weight.grad is not None


def test_mha_state_dict_repr_and_init():
    for kw in ({}, {"kdim": 5, "vdim": 6, "add_bias_kv": True}, {"bias": False}):
        t, e = _mha(torch, **kw), _mha(ember, **kw)
        assert list(e.state_dict()) == list(t.state_dict())
        assert [p.shape for p in e.parameters()] == [tuple(p.shape) for p in t.parameters()]
        assert repr(e) == repr(t)
    e = ember.nn.MultiheadAttention(64, 4)
    assert float(e.in_proj_bias.abs().sum()) == 0.0
    bound = (6 / (64 + 192)) ** 0.5
    assert float(e.in_proj_weight.abs().max()) <= bound
    assert float(e.in_proj_weight.abs().max()) > bound * 0.9


def test_mha_functional_matches():
    lt, le = _mha(torch), _mha(ember)
    le.load_state_dict({k: ember.tensor(v.numpy()) for k, v in lt.state_dict().items()})

    def fn(lib, x):
        m = lt if lib is torch else le
        return lib.nn.functional.multi_head_attention_forward(
            x, x, x, 8, 2, m.in_proj_weight, m.in_proj_bias, None, None, False, 0.0,
            m.out_proj.weight, m.out_proj.bias, training=False)
    check(fn, X)


def test_mha_errors():
    check_error(lambda lib, x: _mha(lib)(x, x, x), randn(5, 3, 6), match="embedding dimension")
    check_error(lambda lib: lib.nn.MultiheadAttention(6, 4))
    check_error(lambda lib: lib.nn.MultiheadAttention(0, 4), match="greater than 0")
    check_error(lambda lib, x: _mha(lib)(x, x, x, attn_mask=_t(x, np.ones((2, 2), bool))),
                X, match="2D attn_mask")
    check_error(lambda lib, x: _mha(lib)(x, x, x, is_causal=True), X, match="Need attn_mask")
    check_error(lambda lib, x: _mha(lib)(x[None], x[None], x[None]), X)


def test_sdpa_half_precision():
    import ml_dtypes
    for dt in (np.float16, ml_dtypes.bfloat16):
        q = randn(2, 3, 4).astype(dt)
        check(lambda lib, q: lib.nn.functional.scaled_dot_product_attention(q, q, q), q,
              rtol=3e-2, atol=3e-2)


@pytest.mark.parametrize("need_weights", [True, False])
def test_mha_float_key_padding_mask(need_weights):
    fk = np.zeros((3, 4))
    fk[1, 1], fk[2, 0] = -np.inf, -2.0
    am = np.zeros((5, 4))
    am[0, 1] = -1.0
    check_module(_mha, X, Y, call=lambda m, x, y: m(
        x, y, y, key_padding_mask=_t(x, fk), attn_mask=_t(x, am), need_weights=need_weights))
