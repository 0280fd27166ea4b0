"""F.linear and F.bilinear against torch."""
from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from oracle import check, check_error, randn

import ember
from ember.autograd import gradcheck, gradgradcheck


def F(lib):
    return lib.nn.functional


@pytest.mark.parametrize("shape", [(5, 3), (2, 5, 3), (3,), (2, 2, 1, 3), (0, 3), (4, 0, 3)])
@pytest.mark.parametrize("bias", [True, False])
def test_linear_shapes(shape, bias):
    x, w, b = randn(*shape), randn(4, 3, seed=1), randn(4, seed=2)
    if bias:
        e, t = check(lambda lib, x, w, b: F(lib).linear(x, w, b), x, w, b)
    else:
        e, t = check(lambda lib, x, w: F(lib).linear(x, w), x, w)
    assert e.grad_fn.name() == t.grad_fn.name()


def test_linear_noncontiguous_and_broadcast_bias():
    x = randn(3, 2, 5).transpose(1, 0, 2)
    w = randn(5, 4, seed=1).T
    check(lambda lib, x, w: F(lib).linear(x, w), x, w)
    check(lambda lib, x, w, b: F(lib).linear(x, w, b), randn(2, 5), w, randn(2, 4, seed=3))
    check(lambda lib, x, w, b: F(lib).linear(x, w, b), randn(3, 2, 5), w, randn(2, 4, seed=3))
    check(lambda lib, x, w, b: F(lib).linear(x, w, b), randn(2, 5), w, randn(1, seed=3))
    check(lambda lib, x, w: F(lib).linear(x, w), randn(2, 5), randn(5, seed=1))


@settings(max_examples=25, deadline=None)
@given(lead=st.lists(st.integers(0, 3), max_size=3), n_in=st.integers(1, 4),
       n_out=st.integers(1, 4), bias=st.booleans())
def test_linear_hypothesis(lead, n_in, n_out, bias):
    x, w, b = randn(*lead, n_in), randn(n_out, n_in, seed=1), randn(n_out, seed=2)
    if bias:
        check(lambda lib, x, w, b: F(lib).linear(x, w, b), x, w, b)
    else:
        check(lambda lib, x, w: F(lib).linear(x, w), x, w)


@pytest.mark.parametrize("dtype", [np.float32, np.float16, ml_dtypes.bfloat16])
def test_linear_dtypes(dtype):
    tol = {} if dtype == np.float32 else {"rtol": 2e-2, "atol": 3e-2}
    check(lambda lib, x, w, b: F(lib).linear(x, w, b), randn(6, 8, dtype=dtype),
          randn(3, 8, seed=1, dtype=dtype), randn(3, seed=2, dtype=dtype), **tol)


def test_linear_int_and_weight_stays_uncopied():
    check(lambda lib, x, w, b: F(lib).linear(x, w, b), np.arange(6).reshape(2, 3),
          np.arange(12).reshape(4, 3) - 5, np.arange(4))
    x = ember.randn(4, 3)
    w = ember.randn(5, 3, requires_grad=True)
    y = F(ember).linear(x, w)
    assert y.grad_fn.saved_tensors[1] is w


@pytest.mark.parametrize("fn, match", [
    (lambda lib, x, w, b: F(lib).linear(x, w[:, :2]), "mat1 and mat2 shapes cannot be "
                                                      "multiplied \\(5x3 and 2x4\\)"),
    (lambda lib, x, w, b: F(lib).linear(x.float(), w), "expected m1 and m2 to have the same "
                                                       "dtype, but got: float != double"),
    (lambda lib, x, w, b: F(lib).linear(x, w, b.float()), "self and mat2 must have the same "
                                                          "dtype"),
    (lambda lib, x, w, b: F(lib).linear(x, w, x[0, :3]), "The expanded size of the tensor \\(4\\) "
                                                         "must match the existing size \\(3\\)"),
    (lambda lib, x, w, b: F(lib).linear(x, w[None]), "t\\(\\) expects a tensor with <= 2"),
    (lambda lib, x, w, b: F(lib).linear(x, w[0], b), "mat2 must be a matrix"),
    (lambda lib, x, w, b: F(lib).linear(x.bool(), w.bool()), "not implemented for 'Bool'"),
])
def test_linear_errors(fn, match):
    check_error(fn, randn(5, 3), randn(4, 3, seed=1), randn(4, seed=2), match=match)


def test_linear_type_errors():
    check_error(lambda lib, w: F(lib).linear([1.0, 2.0, 3.0], w), randn(4, 3),
                match="argument 'input' \\(position 1\\) must be Tensor, not list")
    check_error(lambda lib, x: F(lib).linear(x, 2.0), randn(4, 3),
                match="argument 'weight' \\(position 2\\) must be Tensor, not float")


def test_linear_gradcheck():
    def t(*shape, seed=0):
        return ember.tensor(randn(*shape, seed=seed), requires_grad=True)
    args = (t(2, 3, 5), t(4, 5, seed=1), t(4, seed=2))
    assert gradcheck(F(ember).linear, args)
    assert gradgradcheck(F(ember).linear, args)


# ----------------------------------------------------------------- bilinear
@pytest.mark.parametrize("lead", [(5,), (2, 3), (), (0,)])
def test_bilinear(lead):
    check(lambda lib, x, y, w, b: F(lib).bilinear(x, y, w, b), randn(*lead, 3),
          randn(*lead, 4, seed=1), randn(6, 3, 4, seed=2), randn(6, seed=3))
    check(lambda lib, x, y, w: F(lib).bilinear(x, y, w), randn(*lead, 3),
          randn(*lead, 4, seed=1), randn(6, 3, 4, seed=2))


@pytest.mark.parametrize("fn, match", [
    (lambda lib, x, y, w: F(lib).bilinear(x[:, :2], y, w), "input1 size does not match weight "
                                                           "size: got 2 but expected 3"),
    (lambda lib, x, y, w: F(lib).bilinear(x, y[:, :2], w), "input2 size does not match"),
    (lambda lib, x, y, w: F(lib).bilinear(x[:2], y, w), "input batch dimensions do not match at "
                                                        "dim 0: got 2 and 5"),
    (lambda lib, x, y, w: F(lib).bilinear(x, y, w, w[0, 0]), "bias size does not match weight "
                                                             "size: got 4 but expected 6"),
])
def test_bilinear_errors(fn, match):
    check_error(fn, randn(5, 3), randn(5, 4, seed=1), randn(6, 3, 4, seed=2), match=match)


def test_bilinear_gradgradcheck():
    def t(*shape, seed=0):
        return ember.tensor(randn(*shape, seed=seed), requires_grad=True)
    assert gradgradcheck(F(ember).bilinear, (t(2, 3), t(2, 2, seed=1), t(3, 3, 2, seed=2),
                                             t(3, seed=3)))


# ----------------------------------------------------------------- modules
@pytest.mark.parametrize("make, shapes", [
    (lambda lib: lib.nn.Linear(3, 4, dtype=lib.float64), [(5, 3)]),
    (lambda lib: lib.nn.Linear(3, 4, bias=False, dtype=lib.float64), [(2, 5, 3)]),
    (lambda lib: lib.nn.Bilinear(3, 2, 4, dtype=lib.float64), [(5, 3), (5, 2)]),
    (lambda lib: lib.nn.Bilinear(3, 2, 4, bias=False, dtype=lib.float64), [(3,), (2,)]),
    (lambda lib: lib.nn.Identity(54, unused="x"), [(2, 3)]),
])
def test_linear_modules(make, shapes):
    from oracle import check_module
    em, tm = check_module(make, *(randn(*s, seed=i) for i, s in enumerate(shapes)))
    assert repr(em) == repr(tm)
    assert list(em.state_dict()) == list(tm.state_dict())


def test_linear_default_init():
    m = ember.nn.Linear(20, 30)
    w, b = m.weight.detach().numpy(), m.bias.detach().numpy()
    assert w.shape == (30, 20) and w.dtype == np.float32 and b.shape == (30,)
    bound = 1 / np.sqrt(20)
    assert bound / 2 < np.abs(w).max() <= bound and np.abs(b).max() <= bound
    assert isinstance(m.weight, ember.nn.Parameter) and m.weight.requires_grad
    assert not ember.nn.Linear(0, 3).bias.detach().numpy().any()
    m = ember.nn.Bilinear(4, 9, 2, dtype=ember.float64)
    assert m.weight.dtype == ember.float64 and np.abs(m.weight.detach().numpy()).max() <= 0.5
    x = ember.randn(2, 20)
    assert ember.nn.Identity()(x) is x
