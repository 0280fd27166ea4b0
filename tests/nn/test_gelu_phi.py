"""float32 gelu's normal CDF (a tanh form, ember/_ops/activation.py `_phi`) against torch:
values and gradients over a dense grid, extreme values, infinities, NaN and the half dtypes."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from oracle import assert_same, check, to_ember, to_torch

import ember


def _gelu(lib, x):
    return lib.nn.functional.gelu(x)


def test_cdf_within_float32_rounding_of_the_exact_cdf():
    from ember._ops.activation import _phi
    x = np.linspace(-12, 12, 48001).astype(np.float32)
    exact = torch.special.ndtr(torch.tensor(x, dtype=torch.float64)).numpy()
    got = _phi(x)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, exact, rtol=0, atol=2.5e-7)
    assert np.all(np.diff(got) >= 0)  # monotone, as a CDF must be


def test_gradient_over_a_grid_and_at_the_extremes():
    x = np.concatenate([np.linspace(-10, 10, 8001), [-1e4, -30.0, 30.0, 1e4]])
    check(_gelu, x.astype(np.float32), atol=2e-6)


def test_large_tensor_gradient_blockwise_matches_whole():
    """A tensor of several kernel blocks: the blockwise backward equals torch's."""
    x = np.random.default_rng(3).standard_normal((70, 1000)).astype(np.float32) * 4
    check(_gelu, x, atol=2e-6)


def test_infinities_and_nan():
    x = np.array([-np.inf, np.inf, np.nan, -10.0, 10.0, 0.0, -0.0, -3e38, 3e38, -1e30, 1e30],
                 dtype=np.float32)
    # torch's float32 kernel gives NaN at +inf, its float64 one inf: ember follows float64
    exact = torch.nn.functional.gelu(torch.tensor(x, dtype=torch.float64))
    assert_same(ember.nn.functional.gelu(to_ember(x)).double(), exact, atol=1e-6, rtol=1e-6)
    xt = to_torch(x.astype(np.float64), requires_grad=True)
    torch.nn.functional.gelu(xt).sum().backward()
    xe = to_ember(x, requires_grad=True)
    ember.nn.functional.gelu(xe).sum().backward()
    assert_same(xe.grad.double(), xt.grad, atol=1e-6, rtol=1e-6)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_half_dtypes(dtype):
    x = np.linspace(-10, 10, 2001).astype(np.float32)
    tdt = getattr(torch, dtype)
    xt = torch.tensor(x).to(tdt).requires_grad_(True)
    xe = ember.tensor(x).to(getattr(ember, dtype)).requires_grad_(True)
    yt, ye = torch.nn.functional.gelu(xt), ember.nn.functional.gelu(xe)
    assert_same(ye, yt)
    g = np.cos(x)
    yt.backward(torch.tensor(g).to(tdt))
    ye.backward(ember.tensor(g).to(getattr(ember, dtype)))
    assert_same(xe.grad, xt.grad)


def test_float64_keeps_the_exact_path():
    x = np.linspace(-8, 8, 1601)
    check(_gelu, x)
    xt = to_torch(x[:50] / 4, True)
    assert torch.autograd.gradcheck(torch.nn.functional.gelu, (xt,))
    xe = to_ember(x[:50] / 4, True)
    assert ember.autograd.gradcheck(ember.nn.functional.gelu, (xe,))
