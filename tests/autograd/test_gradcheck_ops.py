"""Every differentiable core op passes ember's own gradcheck (and gradgradcheck) in float64.

The oracle tests compare gradients with torch; these check them against calculus
(central differences), and the second-order check covers create_graph=True.
"""
import numpy as np
import pytest

import ember
from ember.autograd import gradcheck, gradgradcheck

E = ember
rng = np.random.default_rng(0)


def t(*shape, low=-1.0, high=1.0):
    """A float64 leaf of random values in [low, high), away from 0 when low > 0."""
    return ember.tensor(rng.uniform(low, high, shape)).requires_grad_()


def pos(*shape):
    return t(*shape, low=0.5, high=2.0)


def idx(values):
    return ember.tensor(values, dtype=ember.int64)


MASK = ember.tensor([[True, False, True], [False, True, True]])

# (name, function of the inputs, inputs, also run gradgradcheck)
CASES = [
    # pointwise, unary
    ("neg", lambda a: -a, [t(2, 3)], True),
    ("abs", lambda a: a.abs(), [pos(2, 3)], True),
    ("reciprocal", lambda a: a.reciprocal(), [pos(2, 3)], True),
    ("square", lambda a: a.square(), [t(2, 3)], True),
    ("exp", lambda a: a.exp(), [t(2, 3)], True),
    ("exp2", lambda a: a.exp2(), [t(2, 3)], True),
    ("log", lambda a: a.log(), [pos(2, 3)], True),
    ("log2", lambda a: a.log2(), [pos(2, 3)], True),
    ("log10", lambda a: a.log10(), [pos(2, 3)], True),
    ("log1p", lambda a: a.log1p(), [pos(2, 3)], True),
    ("expm1", lambda a: a.expm1(), [t(2, 3)], True),
    ("sqrt", lambda a: a.sqrt(), [pos(2, 3)], True),
    ("rsqrt", lambda a: a.rsqrt(), [pos(2, 3)], True),
    ("sin", lambda a: a.sin(), [t(2, 3)], True),
    ("cos", lambda a: a.cos(), [t(2, 3)], True),
    ("tan", lambda a: a.tan(), [t(2, 3)], True),
    ("asin", lambda a: a.asin(), [t(2, 3, low=-0.8, high=0.8)], True),
    ("acos", lambda a: a.acos(), [t(2, 3, low=-0.8, high=0.8)], True),
    ("atan", lambda a: a.atan(), [t(2, 3)], True),
    ("sinh", lambda a: a.sinh(), [t(2, 3)], True),
    ("cosh", lambda a: a.cosh(), [t(2, 3)], True),
    ("tanh", lambda a: a.tanh(), [t(2, 3)], True),
    ("asinh", lambda a: a.asinh(), [t(2, 3)], True),
    ("acosh", lambda a: a.acosh(), [t(2, 3, low=1.5, high=3.0)], True),
    ("atanh", lambda a: a.atanh(), [t(2, 3, low=-0.8, high=0.8)], True),
    ("sigmoid", lambda a: a.sigmoid(), [t(2, 3)], True),
    ("relu", lambda a: a.relu(), [pos(2, 3) - 1.25], True),
    ("erf", lambda a: a.erf(), [t(2, 3)], True),
    ("erfc", lambda a: a.erfc(), [t(2, 3)], True),
    ("erfinv", lambda a: a.erfinv(), [t(2, 3, low=-0.8, high=0.8)], True),
    ("frac", lambda a: a.frac(), [t(2, 3, low=0.1, high=0.9)], True),
    ("floor", lambda a: a.floor() * a, [t(2, 3, low=0.1, high=0.9)], True),
    ("round", lambda a: a.round() + a.ceil() + a.trunc(), [t(2, 3, low=0.1, high=0.4)], True),
    ("nan_to_num", lambda a: a.nan_to_num(), [t(2, 3)], True),
    ("clamp", lambda a: a.clamp(-0.5, 0.5), [t(3, 4)], True),
    ("clamp_tensor", lambda a, lo: a.clamp(min=lo), [t(3, 4), t(4)], True),
    # pointwise, binary (with broadcasting)
    ("add_alpha", lambda a, b: E.add(a, b, alpha=2.5), [t(2, 3), t(3)], True),
    ("sub", lambda a, b: a - b, [t(2, 1), t(3)], True),
    ("mul", lambda a, b: a * b, [t(2, 3), t(2, 1)], True),
    ("div", lambda a, b: a / b, [t(2, 3), pos(3)], True),
    ("rdiv", lambda a: 2.0 / a, [pos(2, 3)], True),
    ("remainder", lambda a, b: a % b, [pos(2, 3) + 3, pos(3)], True),
    ("fmod", lambda a, b: E.fmod(a, b), [pos(2, 3) + 3, pos(3)], True),
    ("pow_scalar", lambda a: a ** 3, [t(2, 3)], True),
    ("rpow", lambda a: 2.0 ** a, [t(2, 3)], True),
    ("pow_tensor", lambda a, b: a ** b, [pos(2, 3), t(3)], True),
    ("float_power", lambda a, b: E.float_power(a, b), [pos(2, 3), t(3)], True),
    ("atan2", lambda a, b: E.atan2(a, b), [t(2, 3), pos(3)], True),
    ("maximum", lambda a, b: E.maximum(a, b), [t(2, 3), t(3)], True),
    ("minimum", lambda a, b: E.minimum(a, b), [t(2, 3), t(3)], True),
    ("fmax", lambda a, b: E.fmax(a, b), [t(2, 3), t(3)], True),
    ("lerp", lambda a, b, w: E.lerp(a, b, w), [t(2, 3), t(3), t(2, 3)], True),
    ("lerp_scalar", lambda a, b: a.lerp(b, 0.3), [t(2, 3), t(3)], True),
    ("addcmul", lambda a, b, c: E.addcmul(a, b, c, value=0.5), [t(2, 3), t(3), t(2, 1)], True),
    ("addcdiv", lambda a, b, c: E.addcdiv(a, b, c, value=0.5), [t(2, 3), t(3), pos(2, 1)],
     True),
    ("where", lambda a, b: E.where(a > 0, a, b), [t(2, 3), t(3)], True),
    # reductions
    ("sum_dims", lambda a: a.sum((0, 2), keepdim=True), [t(2, 3, 4)], True),
    ("mean", lambda a: a.mean(-1), [t(2, 3)], True),
    ("prod", lambda a: a.prod(1), [t(2, 3)], True),
    ("prod_all", lambda a: a.prod(), [t(2, 3)], True),
    ("max_dim", lambda a: a.max(1).values, [t(3, 4)], True),
    ("min_all", lambda a: a.min(), [t(3, 4)], True),
    ("amax", lambda a: a.amax((0, 1)), [t(3, 4, 2)], True),
    ("std", lambda a: a.std(1), [t(3, 4)], True),
    ("var_correction", lambda a: a.var(0, correction=0), [t(3, 4)], True),
    ("norm_2", lambda a: a.norm(), [t(3, 4)], True),
    ("norm_1_dim", lambda a: a.norm(p=1, dim=1), [t(3, 4)], True),
    ("vector_norm_inf", lambda a: E.linalg.vector_norm(a, float("inf")), [t(3, 4)], True),
    ("matrix_norm", lambda a: E.linalg.matrix_norm(a), [t(3, 4)], True),
    ("logsumexp", lambda a: a.logsumexp(1), [t(3, 4)], True),
    ("softmax", lambda a: a.softmax(-1), [t(3, 4)], True),
    ("log_softmax", lambda a: a.log_softmax(0), [t(3, 4)], True),
    ("cumsum", lambda a: a.cumsum(1), [t(3, 4)], True),
    ("cumprod", lambda a: a.cumprod(1), [t(3, 4)], True),
    # linear algebra
    ("matmul_batched", lambda a, b: a @ b, [t(2, 3, 4), t(4, 2)], True),
    ("mv", lambda a, b: E.mv(a, b), [t(3, 4), t(4)], True),
    ("dot", lambda a, b: E.dot(a, b), [t(4), t(4)], True),
    ("outer", lambda a, b: E.outer(a, b), [t(3), t(4)], True),
    ("baddbmm", lambda x, a, b: E.baddbmm(x, a, b, beta=0.5), [t(2, 3, 2), t(2, 3, 4),
                                                               t(2, 4, 2)], True),
    ("tensordot", lambda a, b: E.tensordot(a, b, dims=([1, 2], [0, 1])), [t(2, 3, 4),
                                                                          t(3, 4, 2)], True),
    ("einsum_trace", lambda a: E.einsum("ii->", a), [t(3, 3)], True),
    # shapes and views
    ("view", lambda a: a.view(4, 3), [t(2, 6)], True),
    ("reshape_copy", lambda a: a.t().reshape(-1), [t(2, 3)], True),
    ("flatten", lambda a: a.flatten(1), [t(2, 3, 2)], True),
    ("unflatten", lambda a: a.unflatten(1, (2, 3)), [t(2, 6)], True),
    ("squeeze_unsqueeze", lambda a: a.squeeze(1).unsqueeze(0), [t(2, 1, 3)], True),
    ("permute", lambda a: a.permute(2, 0, 1), [t(2, 3, 4)], True),
    ("transpose", lambda a: a.transpose(0, 2), [t(2, 3, 4)], True),
    ("expand", lambda a: a.expand(3, 2, 4), [t(2, 1)], True),
    ("repeat", lambda a: a.repeat(2, 3), [t(2, 2)], True),
    ("repeat_interleave", lambda a: a.repeat_interleave(2, dim=1), [t(2, 3)], True),
    ("tile", lambda a: a.tile((2,)), [t(2, 3)], True),
    ("cat", lambda a, b: E.cat([a, b], 1), [t(2, 3), t(2, 2)], True),
    ("stack", lambda a, b: E.stack([a, b], -1), [t(2, 3), t(2, 3)], True),
    ("split", lambda a: a.split([1, 2], 1)[1], [t(2, 3)], True),
    ("chunk", lambda a: E.cat(a.chunk(2, 0)[::-1]), [t(4, 3)], True),
    ("unbind", lambda a: a.unbind(1)[2] * 2, [t(2, 3)], True),
    ("narrow", lambda a: a.narrow(1, 1, 2), [t(2, 4)], True),
    ("select", lambda a: a.select(0, 1), [t(3, 4)], True),
    ("unfold", lambda a: a.unfold(1, 2, 1), [t(2, 4)], True),
    ("flip", lambda a: a.flip(0, 1), [t(2, 3)], True),
    ("roll", lambda a: a.roll(1, 1), [t(2, 3)], True),
    ("tril_triu", lambda a: a.tril(-1) + a.triu(1), [t(3, 3)], True),
    ("movedim", lambda a: a.movedim(0, -1), [t(2, 3, 4)], True),
    ("diagonal", lambda a: a.diagonal(1), [t(3, 4)], True),
    ("diag", lambda a: E.diag(a), [t(3)], True),
    ("diag_embed", lambda a: E.diag_embed(a), [t(2, 3)], True),
    ("trace", lambda a: a.trace(), [t(3, 3)], True),
    # indexing
    ("getitem_basic", lambda a: a[1:, ::2, None, ...], [t(3, 4)], True),
    ("getitem_advanced", lambda a: a[idx([0, 2, 0]), 1:], [t(3, 4)], True),
    ("getitem_mask", lambda a: a[MASK], [t(2, 3)], True),
    ("gather", lambda a: a.gather(1, idx([[0, 0], [2, 1]])), [t(2, 3)], True),
    ("scatter", lambda a, s: a.scatter(1, idx([[0], [2]]), s), [t(2, 3), t(2, 1)], True),
    ("scatter_add", lambda a, s: a.scatter_add(0, idx([[0, 1, 0]]), s), [t(2, 3), t(1, 3)],
     True),
    ("scatter_reduce_amax", lambda a, s: a.scatter_reduce(0, idx([[1, 0, 1]]), s, "amax"),
     [t(2, 3), t(1, 3)], True),
    ("index_select", lambda a: a.index_select(1, idx([2, 0, 2])), [t(2, 3)], True),
    ("index_add", lambda a, s: a.index_add(0, idx([1, 1]), s, alpha=2), [t(2, 3), t(2, 3)],
     True),
    ("index_copy", lambda a, s: a.index_copy(1, idx([2, 0]), s), [t(2, 3), t(2, 2)], True),
    ("index_fill", lambda a: a.index_fill(1, idx([1]), 0.5), [t(2, 3)], True),
    ("index_put_acc", lambda a, v: a.index_put((idx([0, 0]),), v, accumulate=True),
     [t(2, 3), t(3)], True),
    ("masked_fill", lambda a: a.masked_fill(MASK, 0.0), [t(2, 3)], True),
    ("masked_select", lambda a: a.masked_select(MASK), [t(2, 3)], True),
    ("masked_scatter", lambda a, s: a.masked_scatter(MASK, s), [t(2, 3), t(6)], True),
    ("take", lambda a: a.take(idx([5, 0, 5])), [t(2, 3)], True),
    ("take_along_dim", lambda a: a.take_along_dim(idx([[1], [0]]), 1), [t(2, 3)], True),
    ("sort", lambda a: a.sort(1, descending=True).values, [t(2, 4)], True),
    ("topk", lambda a: a.topk(2).values, [t(2, 4)], True),
    ("kthvalue", lambda a: a.kthvalue(2, 1).values, [t(2, 4)], True),
    # in-place ops inside a graph, also through views
    ("inplace_chain", lambda a, b: (a * 1).add_(b).mul_(b).exp_(), [t(2, 3), t(3)], True),
    ("inplace_view", lambda a: _mul_col(a * 1), [t(2, 3)], True),
    ("setitem", lambda a, v: _setitem(a * 1, v), [t(3, 4), t(4)], True),
    ("copy_", lambda a, b: (a * 1).copy_(b), [t(2, 3), t(3)], True),
]


def _mul_col(y):
    y[:, 0].mul_(3)
    return y


def _setitem(y, v):
    y[1] = v
    return y


@pytest.mark.parametrize("name,fn,inputs,second", CASES, ids=[c[0] for c in CASES])
def test_gradcheck(name, fn, inputs, second):
    assert gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3)
    if second:
        assert gradgradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3)
