"""scaled_dot_product_attention's backward takes rowsum(dP * P) from the output
(rowsum(dO * O)): gradients against torch, with dropout against ember's own create_graph
formula, and torch's error when the output was changed in place."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from oracle import assert_same, check, check_error, randn, to_ember

import ember


def _sdpa(**kw):
    return lambda lib, q, k, v: lib.nn.functional.scaled_dot_product_attention(q, k, v, **kw)


@pytest.mark.parametrize("kw", [{}, {"is_causal": True}, {"scale": 0.3}])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gradients_match_torch(kw, dtype):
    q, k, v = (randn(2, 3, 6, 4, seed=s, dtype=dtype) for s in (1, 2, 3))
    check(_sdpa(**kw), q, k, v)


def test_gradients_with_masks_and_cross_lengths():
    q, k, v = randn(2, 5, 4, seed=4), randn(2, 7, 4, seed=5), randn(2, 7, 3, seed=6)
    keep = np.random.default_rng(7).random((5, 7)) > 0.3
    keep[0] = False  # a query with no key left: zeros in both libraries
    check(lambda lib, q, k, v: lib.nn.functional.scaled_dot_product_attention(
        q, k, v, attn_mask=lib.tensor(keep)), q, k, v)
    check(_sdpa(attn_mask=None, is_causal=True), q, k, v)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_half_dtypes(dtype):
    q, k, v = (randn(2, 2, 8, 4, seed=s, dtype=np.float32) for s in (8, 9, 10))
    tdt, edt = getattr(torch, dtype), getattr(ember, dtype)
    ts = [torch.tensor(a).to(tdt).requires_grad_(True) for a in (q, k, v)]
    es = [ember.tensor(a).to(edt).requires_grad_(True) for a in (q, k, v)]
    yt = torch.nn.functional.scaled_dot_product_attention(*ts, is_causal=True)
    ye = ember.nn.functional.scaled_dot_product_attention(*es, is_causal=True)
    assert_same(ye, yt)
    g = randn(2, 2, 8, 4, seed=11, dtype=np.float32)
    yt.backward(torch.tensor(g).to(tdt))
    ye.backward(ember.tensor(g).to(edt))
    for e, t in zip(es, ts):
        assert_same(e.grad, t.grad)


def test_dropout_gradients_match_the_reference_formula():
    """With dropout the row sums come from the dropped-out output; the create_graph path
    (the formula written with ember ops from the same noise) must agree."""
    ember.manual_seed(0)
    q, k, v = (to_ember(randn(2, 3, 6, 4, seed=s), True) for s in (12, 13, 14))
    y = ember.nn.functional.scaled_dot_product_attention(q, k, v, dropout_p=0.4,
                                                         is_causal=True)
    gy = to_ember(randn(2, 3, 6, 4, seed=15))
    fast = ember.autograd.grad(y, (q, k, v), gy, retain_graph=True)
    ref = ember.autograd.grad(y, (q, k, v), gy, create_graph=True)
    for a, b in zip(fast, ref):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-10,
                                   atol=1e-12)


def test_output_changed_in_place_is_an_error():
    def fn(lib, q):
        y = lib.nn.functional.scaled_dot_product_attention(q, q, q, is_causal=True)
        y.mul_(2)
        y.sum().backward()
    q = randn(2, 3, 5, 4, seed=16, dtype=np.float32)
    check_error(lambda lib, q: fn(lib, q.requires_grad_(True)), q,
                match="modified by an inplace operation.*output 0 of "
                      "ScaledDotProductFlashAttentionForCpu, is at version 1")

