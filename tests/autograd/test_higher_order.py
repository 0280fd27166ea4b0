"""Higher-order gradients against torch: double backward through single ops (both
inputs, mixed partials), a gradient penalty, Hessian-vector products and third
derivatives, all in float64."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from oracle import check, randn


def leaf(lib, *shape, seed=0):
    return lib.tensor(randn(*shape, seed=seed)).requires_grad_()


def const(lib, *shape, seed=0):
    return lib.tensor(randn(*shape, seed=seed))


def same(prog):
    return check(prog, grad=False)


def double_backward(lib, f, x, y, seed=10):
    """First and second derivatives of <w, f(x, y)>, contracted with random directions."""
    out = f(lib, x, y)
    w = const(lib, *out.shape, seed=seed)
    gx, gy = lib.autograd.grad((out * w).sum(), [x, y], create_graph=True,
                               materialize_grads=True)
    u, v = const(lib, *x.shape, seed=seed + 1), const(lib, *y.shape, seed=seed + 2)
    second = (gx * u).sum() + (gy * v).sum()
    if not second.requires_grad:  # f is linear in both inputs
        return out, gx, gy, None
    hx, hy = lib.autograd.grad(second, [x, y], materialize_grads=True)
    return out, gx, gy, (hx, hy)


# f(lib, x, y) with x of shape (3, 4) and y of shape (4,) (broadcast) unless noted.
UNARY_AND_BINARY = {
    "mul": lambda lib, x, y: x * y,
    "div": lambda lib, x, y: x / (y * y + 1.5),
    "div_by_x": lambda lib, x, y: y / (x * x + 1.0),
    "add_sub": lambda lib, x, y: (x + y) * (x - 2 * y),
    "exp": lambda lib, x, y: (x * y).exp(),
    "log": lambda lib, x, y: (x * x + y * y + 0.5).log(),
    "sqrt": lambda lib, x, y: (x * x + y * y + 0.5).sqrt(),
    "rsqrt": lambda lib, x, y: (x * x + 1.0).rsqrt() * y,
    "reciprocal": lambda lib, x, y: (x * x + 1.0).reciprocal() * y,
    "pow_scalar": lambda lib, x, y: (x * y) ** 3,
    "pow_tensor": lambda lib, x, y: (x * x + 1.0) ** y,
    "rpow": lambda lib, x, y: 2.0 ** (x * y),
    "tanh": lambda lib, x, y: (x * y).tanh(),
    "sigmoid": lambda lib, x, y: (x * y).sigmoid(),
    "sin_cos": lambda lib, x, y: x.sin() * y.cos(),
    "square_neg": lambda lib, x, y: -(x * y).square(),
    "abs": lambda lib, x, y: (x * y).abs() * x,
    "relu": lambda lib, x, y: (x * y).relu() * x,
    "clamp": lambda lib, x, y: (x * y).clamp(-0.5, 0.5) * x,
    "maximum": lambda lib, x, y: lib.maximum(x, y) * x,
    "where": lambda lib, x, y: lib.where(x > 0, x * x, y * x),
    "sum_dim": lambda lib, x, y: (x * x).sum(0) * y,
    "sum_all": lambda lib, x, y: (x * y).sum() * (x * x).sum(),
    "mean": lambda lib, x, y: (x * x * y).mean(-1),
    "prod": lambda lib, x, y: (x * y).prod(1),
    "var": lambda lib, x, y: (x * y).var(1),
    "norm": lambda lib, x, y: (x * y).norm(dim=1),
    "softmax": lambda lib, x, y: (x * y).softmax(-1),
    "log_softmax": lambda lib, x, y: (x * y).log_softmax(0),
    "logsumexp": lambda lib, x, y: (x * y).logsumexp(1),
    "amax": lambda lib, x, y: (x * y).amax(1) * x.sum(1),
    "cumsum": lambda lib, x, y: (x * y).cumsum(1) * x,
    "matmul": lambda lib, x, y: (x @ y) * (x @ y),
    "matmul_2d": lambda lib, x, y: (x * y) @ (x * y).t(),
    "transpose_reshape": lambda lib, x, y: (x.t() * y.reshape(4, 1)).reshape(2, 6) ** 2,
    "expand": lambda lib, x, y: (y.expand(3, 4) * x).exp(),
    "index": lambda lib, x, y: x[1:, ::2] * y[::2] * x[:2, 1::2],
    "cat_stack": lambda lib, x, y: lib.cat([x * y, x * x]).tanh() * lib.stack([y, y]).sum(),
}


@pytest.mark.parametrize("name", sorted(UNARY_AND_BINARY))
def test_double_backward_through_op(name):
    f = UNARY_AND_BINARY[name]
    same(lambda lib: double_backward(lib, f, leaf(lib, 3, 4), leaf(lib, 4, seed=1)))


def test_double_backward_of_linear_ops_gives_no_graph():
    def prog(lib):
        x, y = leaf(lib, 3, 4), leaf(lib, 4, seed=1)
        g, = lib.autograd.grad((x * 2 + 1).sum(), x, create_graph=True)
        h, = lib.autograd.grad((x * y).sum(), x, create_graph=True)
        return g, g.requires_grad, h.requires_grad, h
    same(prog)


# ----------------------------------------------------------------- gradient penalty
def _critic(lib, x, w1, b1, w2):
    return ((x @ w1 + b1).tanh() @ w2).sum(1)


def _params(lib):
    return leaf(lib, 3, 5, seed=1), leaf(lib, 5, seed=2), leaf(lib, 5, 2, seed=3)


@pytest.mark.parametrize("form", ["norm_squared", "pow_sum", "wgan_gp"])
def test_gradient_penalty(form):
    def prog(lib):
        w1, b1, w2 = _params(lib)
        x = leaf(lib, 4, 3)
        out = _critic(lib, x, w1, b1, w2)
        g = lib.autograd.grad(out.sum(), x, create_graph=True)[0]
        if form == "norm_squared":
            penalty = g.norm() ** 2
        elif form == "pow_sum":
            penalty = g.pow(2).sum()
        else:
            penalty = ((g.norm(2, dim=1) - 1) ** 2).mean()
        penalty.backward()
        return penalty, g, x.grad, w1.grad, b1.grad, w2.grad
    same(prog)


def test_gradient_penalty_added_to_loss_with_retain():
    def prog(lib):
        w1, b1, w2 = _params(lib)
        x = leaf(lib, 4, 3)
        out = _critic(lib, x, w1, b1, w2)
        g, = lib.autograd.grad(out.sum(), x, create_graph=True)
        loss = out.mean() + 10.0 * g.pow(2).sum()
        loss.backward()
        return loss, w1.grad, b1.grad, w2.grad, x.grad
    same(prog)


# ----------------------------------------------------------------- Hessian-vector products
def _energy(lib, x, a):
    return (x @ a @ x) * 0.5 + x.exp().sum() + (x * x).sum() ** 2


@pytest.mark.parametrize("how", ["grad_outputs", "dot_then_grad", "backward"])
def test_hessian_vector_product(how):
    def prog(lib):
        x = leaf(lib, 5)
        a = const(lib, 5, 5, seed=1)
        a = a + a.t()
        v = const(lib, 5, seed=2)
        g, = lib.autograd.grad(_energy(lib, x, a), x, create_graph=True)
        if how == "grad_outputs":
            hv, = lib.autograd.grad(g, x, grad_outputs=v)
        elif how == "dot_then_grad":
            hv, = lib.autograd.grad((g * v).sum(), x)
        else:
            (g * v).sum().backward()
            hv = x.grad
        return g, hv
    same(prog)


def test_hessian_vector_product_matches_explicit_hessian():
    # ember alone, against an explicit Hessian assembled row by row from torch
    import torch

    import ember
    xa, aa = randn(4), randn(4, 4, seed=1)
    aa = aa + aa.T
    va = randn(4, seed=2)

    t = torch.tensor(xa, requires_grad=True)
    hess = torch.autograd.functional.hessian(lambda z: _energy(torch, z, torch.tensor(aa)), t)
    expect = hess.numpy() @ va

    x = ember.tensor(xa).requires_grad_()
    g, = ember.autograd.grad(_energy(ember, x, ember.tensor(aa)), x, create_graph=True)
    hv, = ember.autograd.grad(g, x, grad_outputs=ember.tensor(va))
    np.testing.assert_allclose(hv.detach().numpy(), expect, rtol=1e-10, atol=1e-12)


# ----------------------------------------------------------------- third order and beyond
def test_third_derivative_chain():
    def prog(lib):
        x = leaf(lib, 4)
        y = (x.tanh() * x.exp()).sum()
        g1, = lib.autograd.grad(y, x, create_graph=True)
        g2, = lib.autograd.grad(g1.sum(), x, create_graph=True)
        g3, = lib.autograd.grad(g2.sum(), x)
        return g1, g2, g3
    same(prog)


def test_backward_create_graph_then_grad_of_grad():
    def prog(lib):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch warns about the .grad reference cycle
            x = leaf(lib, 3)
            w = leaf(lib, 3, seed=1)
            (x.sigmoid() * w).sum().backward(create_graph=True)
            gx = x.grad
            flags = [gx.requires_grad, w.grad.requires_grad]
            (gx * gx).sum().backward()
            return flags, x.grad, w.grad
    same(prog)


def test_mixed_partials_through_shared_intermediate():
    def prog(lib):
        x, y = leaf(lib, 3), leaf(lib, 3, seed=1)
        h = (x * y).exp()
        f = (h * x + h * y).sum()
        gx, gy = lib.autograd.grad(f, [x, y], create_graph=True)
        hxy, = lib.autograd.grad(gx.sum(), y, retain_graph=True)
        hyx, = lib.autograd.grad(gy.sum(), x)
        return gx, gy, hxy, hyx
    same(prog)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.sampled_from(["exp", "tanh", "sigmoid", "mul", "div", "square", "sin",
                                 "sum_keep", "mean_keep"]), min_size=1, max_size=5),
       st.integers(0, 2 ** 16))
def test_random_chains_double_backward(chain, seed):
    steps = {
        "exp": lambda lib, t, c: (t * 0.3).exp(),
        "tanh": lambda lib, t, c: t.tanh(),
        "sigmoid": lambda lib, t, c: t.sigmoid(),
        "mul": lambda lib, t, c: t * c,
        "div": lambda lib, t, c: t / (c * c + 1.0),
        "square": lambda lib, t, c: t * t,
        "sin": lambda lib, t, c: t.sin(),
        "sum_keep": lambda lib, t, c: t.sum(-1, keepdim=True) * c,
        "mean_keep": lambda lib, t, c: t.mean(0, keepdim=True) + t,
    }

    def f(lib, x, c):
        t = x
        for name in chain:
            t = steps[name](lib, t, c)
        return t
    xa, ca = randn(2, 3, seed=seed), randn(3, seed=seed + 1)
    same(lambda lib: double_backward(lib, f, lib.tensor(xa).requires_grad_(),
                                     lib.tensor(ca).requires_grad_(), seed=seed % 1000))
