"""Matrix products against torch: values, dtypes, grads, node names and error messages."""
import os
import sys
import warnings

sys.path.insert(0, os.path.dirname(os.path.dirname(__file__)))

import ml_dtypes
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from oracle import assert_same, check, check_error, randn

import ember
from ember.autograd.gradcheck import gradcheck, gradgradcheck

F32, F16, BF16 = np.float32, np.float16, ml_dtypes.bfloat16


def ints(*shape, seed=0, dtype=np.int64):
    return np.random.default_rng(seed).integers(-4, 5, shape).astype(dtype)


def leaf(arr):
    return ember.tensor(arr).requires_grad_()


# ----------------------------------------------------------------- matmul: every shape case
MATMUL_CASES = [
    ((3,), (3,)), ((2, 3), (3,)), ((3,), (3, 4)), ((2, 3), (3, 4)),
    ((5, 2, 3), (3,)), ((3,), (5, 3, 4)), ((5, 2, 3), (3, 4)), ((2, 3), (5, 3, 4)),
    ((5, 2, 3), (5, 3, 4)), ((1, 2, 3), (5, 3, 4)), ((5, 2, 3), (1, 3, 4)),
    ((7, 1, 2, 3), (5, 3, 4)), ((5, 2, 3), (7, 5, 3, 4)), ((2, 3), (7, 5, 3, 4)),
    ((3,), (7, 5, 3, 4)), ((7, 5, 2, 3), (3,)), ((7, 5, 2, 3), (3, 4)),
    # empty
    ((0, 3), (3, 2)), ((2, 0), (0, 2)), ((0,), (0,)), ((0, 2, 3), (3, 2)), ((2, 3), (3, 0)),
    ((4, 2, 0), (0, 3)), ((0,), (2, 0, 3)),
]


@pytest.mark.parametrize("sa,sb", MATMUL_CASES)
def test_matmul_shapes_values_grads(sa, sb):
    check(lambda lib, a, b: lib.matmul(a, b), randn(*sa), randn(*sb, seed=1))


@pytest.mark.parametrize("sa,sb", [((2, 3), (3, 4)), ((5, 2, 3), (5, 3, 4)), ((3,), (3,))])
def test_matmul_operator_and_method(sa, sb):
    check(lambda lib, a, b: a @ b, randn(*sa), randn(*sb, seed=1))
    check(lambda lib, a, b: a.matmul(b), randn(*sa), randn(*sb, seed=1))


@pytest.mark.parametrize("sa,sb", [
    ((3,), (3,)), ((2, 3), (3,)), ((3,), (3, 4)), ((2, 3), (3, 4)), ((5, 2, 3), (5, 3, 4)),
    ((5, 2, 3), (3,)), ((7, 5, 2, 3), (7, 5, 3, 4)), ((5, 2, 3), (3, 4)), ((2, 3), (5, 3, 4))])
def test_matmul_node_names(sa, sb):
    t = torch.matmul(torch.randn(sa, requires_grad=True), torch.randn(sb, requires_grad=True))
    e = ember.matmul(leaf(randn(*sa, dtype=F32)), leaf(randn(*sb, dtype=F32)))
    assert e.grad_fn.name() == t.grad_fn.name()


@st.composite
def matmul_shapes(draw):
    n, k, m = (draw(st.integers(0, 3)) for _ in range(3))
    batch = draw(st.lists(st.integers(1, 3), max_size=2))

    def side(last2):
        nd = draw(st.integers(1, 2 + len(batch)))
        if nd == 1:
            return (k,)
        lead = [1 if draw(st.booleans()) else b for b in batch[len(batch) - (nd - 2):]]
        return tuple(lead) + last2

    return side((n, k)), side((k, m))


@settings(max_examples=25, deadline=None)
@given(matmul_shapes())
def test_matmul_hypothesis(shapes):
    sa, sb = shapes
    check(lambda lib, a, b: lib.matmul(a, b), randn(*sa), randn(*sb, seed=1))


@pytest.mark.parametrize("sa,sb", [((3, 2), (4, 3)), ((5, 3, 2), (4, 3)), ((3, 2), (5, 4, 3)),
                                   ((5, 3, 2), (5, 4, 3))])
def test_matmul_transposed_inputs(sa, sb):
    check(lambda lib, a, b: lib.matmul(a.mT, b.mT), randn(*sa), randn(*sb, seed=1))


def test_matmul_strided_slices():
    check(lambda lib, a, b: lib.matmul(a[:, ::2], b[::2]), randn(4, 6), randn(6, 3, seed=1))


@pytest.mark.parametrize("dtype", [F32, F16, BF16])
@pytest.mark.parametrize("sa,sb", [((4, 5), (5, 3)), ((2, 4, 5), (5, 3)), ((2, 4, 5), (2, 5, 3)),
                                   ((5,), (5,)), ((4, 5), (5,))])
def test_matmul_low_precision(dtype, sa, sb):
    e, _ = check(lambda lib, a, b: lib.matmul(a, b), randn(*sa, dtype=dtype),
                 randn(*sb, dtype=dtype, seed=1))
    assert e._data.dtype == np.dtype(dtype)


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.uint8, np.int16])
@pytest.mark.parametrize("sa,sb", [((4, 5), (5, 3)), ((2, 4, 5), (5, 3)), ((5,), (5,)),
                                   ((4, 5), (5,)), ((2, 4, 5), (2, 5, 3))])
def test_matmul_integers(dtype, sa, sb):
    a, b = np.abs(ints(*sa, dtype=dtype)), np.abs(ints(*sb, seed=1, dtype=dtype))
    check(lambda lib, a, b: lib.matmul(a, b), a, b)


def test_matmul_float32_contiguous_result_is_plain_array():
    a, b = leaf(randn(64, 32, dtype=F32)), leaf(randn(32, 16, dtype=F32))
    out = a @ b
    assert out._data.dtype == np.float32 and out._data.flags.c_contiguous


def test_matmul_double_backward():
    def f(lib, a, b):
        out = lib.matmul(a, b)
        (ga,) = lib.autograd.grad((out * out).sum(), a, create_graph=True)
        return ga
    check(f, randn(3, 2, 4), randn(4, 5, seed=1))
    check(f, randn(3,), randn(2, 3, 4, seed=1))


# ----------------------------------------------------------------- matmul errors
@pytest.mark.parametrize("sa,sb,msg", [
    ((2, 3), (4, 5), r"mat1 and mat2 shapes cannot be multiplied \(2x3 and 4x5\)"),
    ((3,), (4,), r"inconsistent tensor size, expected tensor \[3\] and src \[4\] to have the "
                 r"same number of elements, but got 3 and 4 elements respectively"),
    ((2, 3), (4,), r"size mismatch, got input \(2\), mat \(2x3\), vec \(4\)"),
    ((3,), (4, 5), r"mat1 and mat2 shapes cannot be multiplied \(1x3 and 4x5\)"),
    ((5, 2, 3), (4,), r"size mismatch, got input \(10\), mat \(10x3\), vec \(4\)"),
    ((5, 2, 3), (4, 2), r"mat1 and mat2 shapes cannot be multiplied \(10x3 and 4x2\)"),
    ((3,), (5, 4, 2), r"first two dimensions of batch2 tensor to be: \[5, 3\] but got: \[5, 4\]"),
    ((2, 3), (6, 5, 4, 2), r"batch2 tensor to be: \[30, 3\] but got: \[30, 4\]"),
    ((2, 2, 3), (2, 4, 5), r"batch2 tensor to be: \[2, 3\] but got: \[2, 4\]"),
    ((2, 2, 3), (3, 3, 5), r"The size of tensor a \(2\) must match the size of tensor b \(3\) at "
                           r"non-singleton dimension 0"),
    ((6, 5, 2, 3), (4, 3, 2), r"size of tensor a \(5\) must match the size of tensor b \(4\) at "
                              r"non-singleton dimension 1"),
    ((), (3,), "both arguments to matmul need to be at least 1D, but they are 0D and 1D"),
    ((3,), (), "both arguments to matmul need to be at least 1D, but they are 1D and 0D"),
])
def test_matmul_shape_errors(sa, sb, msg):
    check_error(lambda lib, a, b: lib.matmul(a, b), randn(*sa), randn(*sb, seed=1), match=msg)


@pytest.mark.parametrize("sa,sb,msg", [
    ((2, 3), (3, 5), r"expected m1 and m2 to have the same dtype, but got: float != double"),
    ((3,), (3,), r"dot : expected both vectors to have same dtype, but found Float and Double"),
    ((2, 3), (3,), r"addmv input tensors must have the same dtype, but got Double, Float, and "
                   r"Double"),
    ((3,), (3, 2), r"expected m1 and m2 to have the same dtype, but got: float != double"),
    ((4, 2, 3), (3, 2), r"expected m1 and m2 to have the same dtype, but got: float != double"),
    ((7, 2, 3), (7, 3, 5), r"expected scalar type Float but found Double"),
    ((2, 3), (4, 3, 2), r"expected scalar type Float but found Double"),
])
def test_matmul_dtype_errors(sa, sb, msg):
    check_error(lambda lib, a, b: lib.matmul(a, b), randn(*sa, dtype=F32), randn(*sb, seed=1),
                match=msg)


@pytest.mark.parametrize("other,msg", [
    (np.float16, r"float != c10::Half"), (BF16, r"float != c10::BFloat16"),
    (np.int64, r"float != long int"), (np.int32, r"float != int"), (np.int16, r"short int"),
    (np.int8, r"signed char"), (np.uint8, r"unsigned char"), (np.bool_, r"float != bool")])
def test_mm_dtype_error_names(other, msg):
    check_error(lambda lib, a, b: lib.mm(a, b), randn(2, 3, dtype=F32),
                np.ones((3, 2), dtype=other), match=msg)


@pytest.mark.parametrize("fn,sa,sb,msg", [
    ("mm", (2, 3), (3, 2), "\"addmm_impl_cpu_\" not implemented for 'Bool'"),
    ("matmul", (3,), (3,), "\"dot\" not implemented for 'Bool'"),
    ("matmul", (2, 2, 3), (2, 3, 2), "\"bmm\" not implemented for 'Bool'"),
    ("mv", (2, 3), (3,), "\"addmv_impl_cpu\" not implemented for 'Bool'"),
    ("bmm", (2, 2, 3), (2, 3, 2), "\"bmm\" not implemented for 'Bool'"),
])
def test_bool_products_not_implemented(fn, sa, sb, msg):
    check_error(lambda lib, a, b: getattr(lib, fn)(a, b), np.ones(sa, bool), np.ones(sb, bool),
                match=msg)


def test_matmul_non_tensor_argument():
    check_error(lambda lib, a: lib.matmul(a, [1.0, 2.0]), randn(2),
                match=r"matmul\(\): argument 'other' \(position 2\) must be Tensor, not list")
    check_error(lambda lib, a: lib.mm(a, 3), randn(2, 2),
                match=r"mm\(\): argument 'mat2' \(position 2\) must be Tensor, not int")


# ----------------------------------------------------------------- mm, bmm, mv, dot, vdot
PRODUCTS = [("mm", (2, 3), (3, 4)), ("bmm", (5, 2, 3), (5, 3, 4)), ("mv", (2, 3), (3,)),
            ("dot", (3,), (3,)), ("vdot", (3,), (3,))]


@pytest.mark.parametrize("fn,sa,sb", PRODUCTS)
def test_mm_bmm_mv_dot_vdot_values_grads_names(fn, sa, sb):
    e, t = check(lambda lib, a, b: getattr(lib, fn)(a, b), randn(*sa), randn(*sb, seed=1))
    assert e.grad_fn.name() == t.grad_fn.name()
    if fn != "vdot":
        check(lambda lib, a, b: getattr(a, fn)(b), randn(*sa), randn(*sb, seed=1))


def test_products_transposed_and_empty():
    check(lambda lib, a, b: lib.mm(a.t(), b.t()), randn(3, 2), randn(4, 3, seed=1))
    check(lambda lib, a, b: lib.bmm(a.mT, b.transpose(1, 2)), randn(5, 3, 2),
          randn(5, 4, 3, seed=1))
    check(lambda lib, a, b: lib.mv(a.t(), b), randn(3, 2), randn(3, seed=1))
    check(lambda lib, a, b: lib.dot(a[::2], b), randn(6), randn(3, seed=1))
    check(lambda lib, a, b: lib.bmm(a, b), randn(0, 2, 3), randn(0, 3, 4, seed=1))
    check(lambda lib, a, b: lib.mv(a, b), randn(2, 0), randn(0, seed=1))
    check(lambda lib, a, b: lib.dot(a, b), randn(0), randn(0, seed=1))


@pytest.mark.parametrize("dtype", [F16, BF16, F32])
@pytest.mark.parametrize("fn,sa,sb", PRODUCTS[:4])
def test_mm_bmm_mv_dot_low_precision(dtype, fn, sa, sb):
    check(lambda lib, a, b: getattr(lib, fn)(a, b), randn(*sa, dtype=dtype),
          randn(*sb, dtype=dtype, seed=1))


def test_integer_products():
    check(lambda lib, a, b: lib.mm(a, b), ints(2, 3), ints(3, 4, seed=1))
    check(lambda lib, a, b: lib.bmm(a, b), ints(2, 2, 3, dtype=np.int32),
          ints(2, 3, 4, seed=1, dtype=np.int32))
    check(lambda lib, a, b: lib.dot(a, b), ints(5), ints(5, seed=1))
    check(lambda lib, a, b: lib.mv(a, b), ints(2, 5), ints(5, seed=1))


@pytest.mark.parametrize("fn,sa,sb,msg", [
    ("mm", (3,), (3, 5), "self must be a matrix"),
    ("mm", (2, 3), (2, 3, 5), "mat2 must be a matrix"),
    ("mm", (2, 3), (4, 5), r"mat1 and mat2 shapes cannot be multiplied \(2x3 and 4x5\)"),
    ("bmm", (2, 3), (2, 3, 5), "batch1 must be a 3D tensor"),
    ("bmm", (2, 2, 3), (3, 5), "batch2 must be a 3D tensor"),
    ("bmm", (2, 2, 3), (3, 3, 5), r"Expected size for first two dimensions of batch2 tensor to be:"
                                  r" \[2, 3\] but got: \[3, 3\]\."),
    ("bmm", (2, 2, 3), (2, 4, 5), r"to be: \[2, 3\] but got: \[2, 4\]\."),
    ("mv", (2, 3), (4,), r"size mismatch, got input \(2\), mat \(2x3\), vec \(4\)"),
    ("mv", (2, 3), (3, 1), "vector \\+ matrix @ vector expected, got 1, 2, 2"),
    ("mv", (3,), (3,), "vector \\+ matrix @ vector expected, got 1, 1, 1"),
    ("dot", (3,), (4,), r"expected tensor \[3\] and src \[4\] to have the same number of elements"),
    ("dot", (3, 1), (3,), "1D tensors expected, but got 2D and 1D tensors"),
    ("dot", (), (), "1D tensors expected, but got 0D and 0D tensors"),
    ("vdot", (3,), (4,), r"inconsistent tensor size"),
])
def test_product_shape_errors(fn, sa, sb, msg):
    check_error(lambda lib, a, b: getattr(lib, fn)(a, b), randn(*sa), randn(*sb, seed=1),
                match=msg)


@pytest.mark.parametrize("fn,sa,sb,msg", [
    ("mm", (2, 3), (3, 5), "expected m1 and m2 to have the same dtype, but got: double != float"),
    ("bmm", (2, 2, 3), (2, 3, 2), "expected scalar type Double but found Float"),
    ("mv", (2, 3), (3,), "addmv input tensors must have the same dtype, but got Float, Double, "
                         "and Float"),
    ("dot", (3,), (3,), "dot : expected both vectors to have same dtype, but found Double and "
                        "Float"),
])
def test_product_dtype_errors(fn, sa, sb, msg):
    check_error(lambda lib, a, b: getattr(lib, fn)(a, b), randn(*sa), randn(*sb, dtype=F32),
                match=msg)


def test_out_argument():
    a, b = randn(2, 3), randn(3, 4, seed=1)
    for lib in (torch, ember):
        ta = lib.tensor(a)
        out = lib.empty(2, 4, dtype=lib.float64)
        res = lib.matmul(ta, lib.tensor(b), out=out)
        assert res is out
    assert_same(ember.mm(ember.tensor(a), ember.tensor(b), out=ember.empty(2, 4,
                                                                            dtype=ember.float64)),
                torch.mm(torch.tensor(a), torch.tensor(b)))
    check_error(lambda lib, a, b: lib.mm(a, b, out=lib.empty(2, 4)), a, b,
                match="Expected out tensor to have dtype")


# ----------------------------------------------------------------- inner, outer, tensordot
@pytest.mark.parametrize("sa,sb", [((3,), (3,)), ((2, 3), (4, 3)), ((3,), (2, 4, 3)),
                                   ((2, 1, 3), (3,)), ((), (2, 4)), ((2, 3), ()), ((), ()),
                                   ((0, 3), (2, 3))])
def test_inner(sa, sb):
    check(lambda lib, a, b: lib.inner(a, b), randn(*sa), randn(*sb, seed=1))
    check(lambda lib, a, b: a.inner(b), randn(*sa), randn(*sb, seed=1))


def test_inner_errors_and_dtypes():
    check_error(lambda lib, a, b: lib.inner(a, b), randn(2, 3), randn(2, 4),
                match=r"inner\(\) the last dimension must match on both input tensors but got "
                      r"shapes \[2, 3\] and \[2, 4\]")
    check_error(lambda lib, a, b: lib.inner(a, b), randn(2, 3), randn(2, 3, dtype=F32),
                match="both inputs should have same dtype")
    check(lambda lib, a, b: lib.inner(a, b), ints(2, 3), ints(3, seed=1))
    check(lambda lib, a, b: lib.inner(a, b), randn(2, 3, dtype=F16), randn(3, dtype=F16, seed=1))


@pytest.mark.parametrize("fn", ["outer", "ger"])
def test_outer(fn):
    e, t = check(lambda lib, a, b: getattr(lib, fn)(a, b), randn(2), randn(3, seed=1))
    assert e.grad_fn.name() == t.grad_fn.name() == "MulBackward0"
    check(lambda lib, a, b: getattr(a, fn)(b), randn(0), randn(3, seed=1))
    check(lambda lib, a, b: getattr(lib, fn)(a, b), randn(2, dtype=F32), randn(3, seed=1))
    check(lambda lib, a, b: getattr(lib, fn)(a, b), ints(2), randn(3, dtype=F32, seed=1))
    check(lambda lib, a, b: getattr(lib, fn)(a, b), np.array([True, False]),
          np.array([True, True, False]))
    check(lambda lib, a, b: getattr(lib, fn)(a[::2], b), randn(4), randn(3, seed=1))


def test_outer_errors():
    check_error(lambda lib, a, b: lib.outer(a, b), randn(2, 3), randn(3),
                match="outer: Expected 1-D argument self, but got 2-D")
    check_error(lambda lib, a, b: lib.outer(a, b), randn(3), randn(),
                match="outer: Expected 1-D argument vec2, but got 0-D")


@pytest.mark.parametrize("sa,sb,dims", [
    ((2, 3, 4), (3, 4, 5), 2), ((2, 3), (3, 4), 1), ((2, 3), (4, 5), 0), ((2, 3), (2, 3), 2),
    ((2, 3, 4), (4, 3, 5), ([1, 2], [1, 0])), ((2, 3), (3, 4), ([-1], [-2])),
    ((2, 3), (3, 4), [[1], [0]]), ((3, 2, 4), (4, 2), ((2, 1), (0, 1))), ((0, 3), (3, 2), 1),
])
def test_tensordot(sa, sb, dims):
    check(lambda lib, a, b: lib.tensordot(a, b, dims), randn(*sa), randn(*sb, seed=1))
    check(lambda lib, a, b: lib.tensordot(a, b, dims=dims), randn(*sa, dtype=F32),
          randn(*sb, dtype=F32, seed=1))


def test_tensordot_tensor_dims_and_ints():
    check(lambda lib, a, b: lib.tensordot(a, b, lib.tensor(1)), randn(2, 3), randn(3, 4, seed=1))
    check(lambda lib, a, b: lib.tensordot(a, b, 1), ints(2, 3), ints(3, 4, seed=1))
    check(lambda lib, a, b: lib.tensordot(a.mT, b, 1), randn(3, 2), randn(3, 4, seed=1))


@pytest.mark.parametrize("sa,sb,dims,msg", [
    ((2, 3, 4), (3, 5, 4), 2, r"contracted dimensions need to match, but first has size 4 in "
                              r"dim -1 and second has size 5 in dim 1"),
    ((2, 3), (4, 4), ([1], [0]), r"first has size 3 in dim 1 and second has size 4 in dim 0"),
    ((2, 3, 4), (3, 5, 4), -1, r"tensordot expects dims >= 0, but got dims=-1"),
    ((2, 3), (3, 5), 3, r"tensordot expects dims < ndim_a or ndim_b, but got dims=3"),
    ((2, 3, 4), (3, 5, 4), ([1, 2], [0]), "both dimension lists should have same length"),
    ((3, 3), (3, 3), ([0, 0], [0, 1]), "dim 0 appears multiple times in the list of dims"),
    ((2, 3), (3, 4), ([2], [0]), r"Dimension out of range \(expected to be in range of "
                                 r"\[-2, 1\], but got 2\)"),
    ((2, 3), (3, 5), (1, 0), r"argument 'dims_self' \(position 3\) must be tuple of ints, not "
                             r"int"),
])
def test_tensordot_errors(sa, sb, dims, msg):
    check_error(lambda lib, a, b: lib.tensordot(a, b, dims), randn(*sa), randn(*sb), match=msg)
    check_error(lambda lib, a, b: lib.tensordot(a, b, 1), randn(2, 3), randn(3, 2, dtype=F32),
                match="both inputs should have same dtype")


# ----------------------------------------------------------------- addmm and friends
@pytest.mark.parametrize("bias", [(4,), (2, 4), (1, 4), (2, 1), (), (1,)])
@pytest.mark.parametrize("beta,alpha", [(1, 1), (0.5, 2), (0, 1.5), (2, 0)])
def test_addmm(bias, beta, alpha):
    e, t = check(lambda lib, x, a, b: lib.addmm(x, a, b, beta=beta, alpha=alpha), randn(*bias),
                 randn(2, 3, seed=1), randn(3, 4, seed=2))
    assert e.grad_fn.name() == t.grad_fn.name() == "AddmmBackward0"
    check(lambda lib, x, a, b: x.addmm(a.t(), b, beta=beta, alpha=alpha), randn(*bias),
          randn(3, 2, seed=1), randn(3, 4, seed=2))


@pytest.mark.parametrize("beta,alpha", [(1, 1), (3, 2), (0.5, 1), (1, 0.5), (True, False)])
def test_addmm_integer_coefficients_truncate(beta, alpha):
    check(lambda lib, x, a, b: lib.addmm(x, a, b, beta=beta, alpha=alpha), ints(2),
          ints(2, 3, seed=1), ints(3, 2, seed=2))


def test_addmm_beta_zero_ignores_nan_and_tensor_alpha():
    check(lambda lib, x, a, b: lib.addmm(x, a, b, beta=0), np.full(4, np.nan),
          randn(2, 3, seed=1), randn(3, 4, seed=2))
    check(lambda lib, x, a, b: lib.addmm(x, a, b, alpha=lib.tensor(2.0)), randn(2),
          randn(2, 3, seed=1), randn(3, 2, seed=2))


@pytest.mark.parametrize("dtype", [F16, BF16, F32])
def test_addmm_low_precision(dtype):
    check(lambda lib, x, a, b: lib.addmm(x, a, b, beta=3, alpha=2), randn(5, dtype=dtype),
          randn(4, 6, dtype=dtype, seed=1), randn(6, 5, dtype=dtype, seed=2))
    # Python float coefficients never upcast the result
    check(lambda lib, x, a, b: lib.addmm(x, a, b, beta=0.5, alpha=1.5), randn(5, dtype=dtype),
          randn(4, 6, dtype=dtype, seed=1), randn(6, 5, dtype=dtype, seed=2))


@pytest.mark.parametrize("shapes,msg", [
    (((4,), (2, 3), (4, 5)), r"mat1 and mat2 shapes cannot be multiplied \(2x3 and 4x5\)"),
    (((3,), (2, 3), (3, 5)), r"The expanded size of the tensor \(5\) must match the existing "
                             r"size \(3\) at non-singleton dimension 1\.  Target sizes: "
                             r"\[2, 5\]\.  Tensor sizes: \[3\]"),
    (((5,), (3,), (3, 5)), "mat1 must be a matrix, got 1-D tensor"),
    (((5,), (2, 3), (3,)), "mat2 must be a matrix, got 1-D tensor"),
])
def test_addmm_shape_errors(shapes, msg):
    arrays = [randn(*s, seed=i) for i, s in enumerate(shapes)]
    check_error(lambda lib, x, a, b: lib.addmm(x, a, b), *arrays, match=msg)


def test_addmm_dtype_errors():
    check_error(lambda lib, x, a, b: lib.addmm(x, a, b), randn(5, dtype=F32),
                randn(2, 3, dtype=F32), randn(3, 5),
                match="self and mat2 must have the same dtype, but got Float and Double")
    check_error(lambda lib, x, a, b: lib.addmm(x, a, b), randn(5), randn(2, 3, dtype=F32),
                randn(3, 5, dtype=F32),
                match="self and mat2 must have the same dtype, but got Double and Float")


def test_addmm_inplace():
    check(lambda lib, x, a, b: x.clone().addmm_(a, b, beta=0.5, alpha=2), randn(2, 4),
          randn(2, 3, seed=1), randn(3, 4, seed=2))
    check(lambda lib, x, a, b: x.clone().addmm_(a, b), randn(2, 4, dtype=F32),
          randn(2, 3, dtype=F32, seed=1), randn(3, 4, dtype=F32, seed=2))
    check_error(lambda lib, x, a, b: x.addmm_(a, b), randn(4), randn(2, 3), randn(3, 4),
                match=r"Bad in-place call: input tensor size \[4\] and output tensor size "
                      r"\[2, 4\] should match")
    check_error(lambda lib, x, a, b: x.addmm_(a, b), randn(2, 4, dtype=F32), randn(2, 3),
                randn(3, 4), match="self and mat2 must have the same dtype")
    # returns self, bumps the version, and a leaf that requires grad refuses
    x = ember.tensor(randn(2, 2))
    assert x.addmm_(ember.tensor(randn(2, 3)), ember.tensor(randn(3, 2))) is x
    assert x._version == 1
    check_error(lambda lib, x, a, b: x.requires_grad_().addmm_(a, b), randn(2, 2), randn(2, 3),
                randn(3, 2), match="a leaf Variable that requires grad")


@pytest.mark.parametrize("bias", [(5,), (2, 1, 5), (1, 2, 5), (2, 2, 5), ()])
def test_baddbmm(bias):
    e, t = check(lambda lib, x, a, b: lib.baddbmm(x, a, b, beta=0.5, alpha=-2), randn(*bias),
                 randn(2, 2, 3, seed=1), randn(2, 3, 5, seed=2))
    assert e.grad_fn.name() == t.grad_fn.name()
    check(lambda lib, x, a, b: x.baddbmm(a, b.mT), randn(*bias), randn(2, 2, 3, seed=1),
          randn(2, 5, 3, seed=2))


def test_baddbmm_errors_and_inplace():
    check_error(lambda lib, x, a, b: lib.baddbmm(x, a, b), randn(5), randn(2, 3),
                randn(2, 3, 5), match="batch1 must be a 3D tensor")
    check_error(lambda lib, x, a, b: lib.baddbmm(x, a, b), randn(3), randn(2, 2, 3),
                randn(2, 3, 5), match=r"The expanded size of the tensor \(5\) must match the "
                                      r"existing size \(3\) at non-singleton dimension 2")
    check_error(lambda lib, x, a, b: lib.baddbmm(x, a, b), randn(2, dtype=F32), randn(2, 2, 3),
                randn(2, 3, 2), match="Input dtypes must be the same, got: input float, batch1: "
                                      "double, batch2: double")
    check_error(lambda lib, x, a, b: lib.baddbmm(x, a, b), randn(2), randn(2, 2, 3),
                randn(3, 3, 2), match=r"batch2 tensor to be: \[2, 3\] but got: \[3, 3\]")
    check(lambda lib, x, a, b: x.clone().baddbmm_(a, b, alpha=3) if lib is torch else
          ember._ops.linalg.baddbmm_(x.clone(), a, b, alpha=3), randn(2, 2, 5),
          randn(2, 2, 3, seed=1), randn(2, 3, 5, seed=2))
    check(lambda lib, x, a, b: lib.baddbmm(x, a, b), randn(5, dtype=F16),
          randn(2, 2, 3, dtype=F16, seed=1), randn(2, 3, 5, dtype=F16, seed=2))


@pytest.mark.parametrize("bias", [(2,), (1,), ()])
def test_addmv(bias):
    e, t = check(lambda lib, x, a, b: lib.addmv(x, a, b, beta=2, alpha=3), randn(*bias),
                 randn(2, 3, seed=1), randn(3, seed=2))
    assert e.grad_fn.name() == t.grad_fn.name()
    check(lambda lib, x, a, b: lib.addmv_(x.clone(), a.t(), b), randn(3), randn(4, 3, seed=1),
          randn(4, seed=2))
    check_error(lambda lib, x, a, b: lib.addmv(x, a, b), randn(2), randn(2, 3), randn(4),
                match=r"size mismatch, got input \(2\), mat \(2x3\), vec \(4\)")
    check_error(lambda lib, x, a, b: lib.addmv(x, a, b), randn(3), randn(2, 3), randn(3),
                match=r"size mismatch, got input \(3\), mat \(2x3\), vec \(3\)")
    check_error(lambda lib, x, a, b: lib.addmv(x, a, b), randn(2, dtype=F32), randn(2, 3),
                randn(3), match="addmv input tensors must have the same dtype, but got Float, "
                                "Double, and Double")


@pytest.mark.parametrize("bias", [(2, 5), (5,), ()])
def test_addbmm(bias):
    e, t = check(lambda lib, x, a, b: lib.addbmm(x, a, b, beta=0.5, alpha=2), randn(*bias),
                 randn(3, 2, 4, seed=1), randn(3, 4, 5, seed=2))
    assert e.grad_fn.name() == t.grad_fn.name()
    check_error(lambda lib, x, a, b: lib.addbmm(x, a, b), randn(2, 5), randn(2, 2, 3),
                randn(3, 3, 5), match="batch1 and batch2 must have same number of batches, "
                                      "got 2 and 3")
    check_error(lambda lib, x, a, b: lib.addbmm(x, a, b), randn(2, 2), randn(2, 2, 3),
                randn(2, 4, 2), match=r"Incompatible matrix sizes for bmm \(2x3 and 4x2\)")
    check(lambda lib, x, a, b: x.clone().addbmm_(a, b, beta=2) if lib is torch else
          ember._ops.linalg.addbmm_(x.clone(), a, b, beta=2), randn(2, 5),
          randn(3, 2, 4, seed=1), randn(3, 4, 5, seed=2))


@pytest.mark.parametrize("bias", [(2, 3), (3,), ()])
def test_addr(bias):
    e, t = check(lambda lib, x, a, b: lib.addr(x, a, b, beta=2, alpha=0.5), randn(*bias),
                 randn(2, seed=1), randn(3, seed=2))
    assert e.grad_fn.name() == t.grad_fn.name()
    # mixed dtypes promote (torch's own backward fails on them, so values only)
    check(lambda lib, x, a, b: lib.addr(x, a, b), randn(*bias),
          randn(2, dtype=F32, seed=1), randn(3, dtype=F32, seed=2), grad=False)
    check(lambda lib, x, a, b: lib.addr(x, a, b), ints(*bias),
          randn(2, dtype=F32, seed=1), randn(3, dtype=F32, seed=2))
    check(lambda lib, x, a, b: lib.addr(x, a, b, alpha=2), ints(*bias), ints(2, seed=1),
          ints(3, seed=2))
    check(lambda lib, x, a, b: lib.addr(x, a, b), np.ones((2, 3), bool), np.array([True, False]),
          np.array([False, True, True]))
    check_error(lambda lib, x, a, b: lib.addr(x, a, b), randn(2, 3), randn(2, 1), randn(3),
                match="addr: Expected 1-D argument vec1, but got 2-D")
    check(lambda lib, x, a, b: x.clone().addr_(a, b, alpha=3) if lib is torch else
          ember._ops.linalg.addr_(x.clone(), a, b, alpha=3), randn(2, 3),
          randn(2, seed=1), randn(3, seed=2))


def test_chain_matmul_warns():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check(lambda lib, a, b, c: lib.chain_matmul(a, b, c), randn(2, 3), randn(3, 4, seed=1),
              randn(4, 5, seed=2))
    with pytest.warns(UserWarning, match="chain_matmul is deprecated"):
        ember.chain_matmul(ember.tensor(randn(2, 3)), ember.tensor(randn(3, 2)))


# ----------------------------------------------------------------- einsum
EINSUM_CASES = [
    ("ij,jk->ik", [(2, 3), (3, 4)]), ("ij,jk", [(2, 3), (3, 4)]), ("ij->ji", [(2, 3)]),
    ("ij->", [(2, 3)]), ("ii->i", [(3, 3)]), ("ii", [(3, 3)]), ("iii->i", [(2, 2, 2)]),
    ("iij->ji", [(2, 2, 3)]), ("i,j->ij", [(2,), (3,)]), ("i,i->", [(3,), (3,)]),
    ("i,i", [(3,), (3,)]), ("i,i->i", [(3,), (3,)]), ("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]),
    ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 2)]), ("ij,ij->ij", [(2, 1), (2, 3)]),
    ("ij,jk->ik", [(2, 1), (3, 5)]), ("ij,j->i", [(2, 3), (1,)]), ("ij,j->ij", [(2, 1), (3,)]),
    ("...ij,...jk->...ik", [(7, 2, 3), (3, 5)]), ("...i,...i->...", [(4, 3), (2, 1, 3)]),
    ("...ij,jk", [(4, 2, 3), (3, 5)]), ("...ij,jk->ik", [(4, 2, 3), (3, 5)]),
    ("...ij", [(4, 2, 3)]), ("j...i", [(4, 2, 3)]), ("ij->...i", [(2, 3)]),
    ("i...j,j...->i...", [(2, 4, 3), (3, 4)]), ("ba", [(2, 3)]), ("bA", [(2, 3)]),
    (" i j , j k -> i k ", [(2, 3), (3, 4)]), ("ij,jk->", [(2, 3), (3, 4)]),
    ("ij,kl->ijkl", [(2, 3), (1, 2)]), ("ii,ij->j", [(3, 3), (3, 2)]), ("i->", [(0,)]),
    ("ij,jk->ik", [(2, 0), (0, 3)]), ("->", [()]), (",->", [(), ()]), ("i,->i", [(3,), ()]),
    ("ijk,k->ij", [(2, 3, 4), (4,)]),
]


@pytest.mark.parametrize("eq,shapes", EINSUM_CASES)
def test_einsum(eq, shapes):
    arrays = [randn(*s, seed=i) for i, s in enumerate(shapes)]
    check(lambda lib, *ops: lib.einsum(eq, *ops), *arrays)


def test_einsum_operand_forms_and_noncontiguous():
    a, b = randn(2, 3), randn(3, 5, seed=1)
    check(lambda lib, a, b: lib.einsum("ij,jk->ik", [a, b]), a, b)
    check(lambda lib, a, b: lib.einsum("ij,jk->ik", (a, b)), a, b)
    check(lambda lib, a, b: lib.einsum(a, [0, 1], b, [1, 2], [0, 2]), a, b)
    check(lambda lib, a, b: lib.einsum(a, [0, 1], b, [1, 27]), a, b)
    check(lambda lib, a: lib.einsum(a, [0, Ellipsis]), a)
    check(lambda lib, a, b: lib.einsum("ij,jk->ik", a.t(), b[::2]), randn(3, 2), randn(6, 4))


@pytest.mark.parametrize("dtype", [F32, F16, BF16])
def test_einsum_dtypes(dtype):
    check(lambda lib, a, b: lib.einsum("bij,bjk->bik", a, b), randn(2, 3, 4, dtype=dtype),
          randn(2, 4, 5, dtype=dtype, seed=1))
    check(lambda lib, a: lib.einsum("ii->i", a), randn(3, 3, dtype=dtype))


def test_einsum_integers_and_bool():
    check(lambda lib, a, b: lib.einsum("ij,jk->ik", a, b), ints(2, 3), ints(3, 2, seed=1))
    check(lambda lib, a, b: lib.einsum("ij,jk", a, b), ints(2, 3, dtype=np.int32),
          ints(3, 2, seed=1, dtype=np.int32))
    check(lambda lib, a: lib.einsum("ij->ji", a), np.ones((2, 3), bool))
    check(lambda lib, a, b: lib.einsum("ij,ij->ij", a, b), np.ones((2, 3), bool),
          np.zeros((2, 3), bool))
    check_error(lambda lib, a, b: lib.einsum("ij,jk", a, b), np.ones((2, 3), bool),
                np.ones((3, 2), bool), match="\"bmm\" not implemented for 'Bool'")


def test_einsum_result_does_not_alias_input():
    x = ember.tensor(randn(3, 3))
    y = ember.einsum("ij->ji", x)
    y += 1
    np.testing.assert_array_equal(x.numpy(), randn(3, 3))


def test_einsum_double_backward():
    def f(lib, a, b):
        out = lib.einsum("ij,jk->ik", a, b)
        (ga,) = lib.autograd.grad((out * out).sum(), a, create_graph=True)
        return ga
    check(f, randn(2, 3), randn(3, 4, seed=1))

    def g(lib, a):
        d = lib.einsum("ii->i", a)
        (ga,) = lib.autograd.grad((d * d * d).sum(), a, create_graph=True)
        return ga
    check(g, randn(3, 3))


@pytest.mark.parametrize("eq,shapes,msg,exc", [
    ("ij,jk->ik", [(2, 3), (4, 5)], "einsum\\(\\): subscript j has size 4 for operand 1 which "
                                    "does not broadcast with previously seen size 3", None),
    ("ij,jk->ik", [(2, 3)], "fewer operands were provided than specified in the equation", None),
    ("ij->ij", [(2, 3), (3, 5)], "more operands were provided than specified in the equation",
     None),
    ("ijk,jk->ik", [(2, 3), (3, 5)], r"the number of subscripts in the equation \(3\) does not "
                                     r"match the number of dimensions \(2\) for operand 0 and no "
                                     r"ellipsis was given", None),
    ("ijk...", [(2, 3)], r"the number of subscripts in the equation \(3\) is more than the number"
                         r" of dimensions \(2\) for operand 0", None),
    ("ij,jk->iz", [(2, 3), (3, 5)], "output subscript z does not appear in the equation for any "
                                    "input operand", None),
    ("ij,jk->ii", [(2, 3), (3, 5)], "output subscript i appears more than once in the output",
     None),
    ("i1,1k->ik", [(2, 3), (3, 5)], "invalid subscript given at index 1 in the equation string, "
                                    r"subscripts must be in \[a-zA-Z\]", None),
    ("ij-ij", [(2, 3)], "invalid subscript given at index 2", None),
    ("ij->i->j", [(2, 3)], "invalid subscript given at index 5", None),
    ("ij->i>", [(2, 3)], "invalid subscript given at index 5", None),
    ("i.j", [(2, 3)], "found '.' for operand 0 that is not part of any ellipsis", None),
    ("i......j", [(2, 3)], "found '.' for operand 0 for which an ellipsis was already found",
     None),
    ("ij->i.", [(2, 3)], r"found '.' for output that is not part of any ellipsis \(\.\.\.\)",
     None),
    ("ii->i", [(2, 3)], "subscript i is repeated for operand 0 but the sizes don't match, 2 != 3",
     None),
    ("...i,...i->...", [(2, 3), (4, 3)], "dimension 0 covered by ellipsis in operand 1has size 4 "
                                         "which does not broadcast with previously seen ellipsis "
                                         "with size 2", None),
    ("ij->ij", [], "must specify the equation string and at least one operand", ValueError),
])
def test_einsum_errors(eq, shapes, msg, exc):
    arrays = [randn(*s, seed=i) for i, s in enumerate(shapes)]
    e, _ = check_error(lambda lib, *ops: lib.einsum(eq, *ops), *arrays, match=msg)
    if exc is not None:
        assert isinstance(e, exc)


def test_einsum_argument_errors():
    check_error(lambda lib, a, b: lib.einsum("ij,jk->ik", a, b), randn(2, 3, dtype=F32),
                randn(3, 5), match="expected scalar type Float but found Double")
    check_error(lambda lib, a: lib.einsum(3, a), randn(2),
                match=r"argument 'equation' \(position 1\) must be str, not int")
    check_error(lambda lib, a: lib.einsum(a, [0, 60]), randn(2, 3),
                match=r"subscript in subscript list is not within the valid range \[0, 52\)")


# ----------------------------------------------------------------- gradcheck per product
def _dbl(*shape, seed=0):
    return leaf(randn(*shape, seed=seed))


@pytest.mark.parametrize("fn,shapes", [
    (lambda a, b: ember.matmul(a, b), [(2, 3), (3, 2)]),
    (lambda a, b: ember.matmul(a, b), [(2, 1, 2, 3), (2, 3, 2)]),
    (lambda a, b: ember.matmul(a, b), [(3,), (2, 3, 2)]),
    (lambda a, b: ember.matmul(a, b), [(2, 2, 3), (3,)]),
    (lambda a, b: ember.matmul(a, b), [(2, 3), (2, 3, 2)]),
    (lambda a, b: ember.mm(a, b), [(2, 3), (3, 2)]),
    (lambda a, b: ember.bmm(a, b), [(2, 2, 3), (2, 3, 2)]),
    (lambda a, b: ember.mv(a, b), [(2, 3), (3,)]),
    (lambda a, b: ember.dot(a, b), [(3,), (3,)]),
    (lambda a, b: ember.inner(a, b), [(2, 3), (2, 3)]),
    (lambda a, b: ember.outer(a, b), [(2,), (3,)]),
    (lambda a, b: ember.tensordot(a, b, ([0, 2], [1, 0])), [(2, 3, 2), (2, 2)]),
    (lambda x, a, b: ember.addmm(x, a, b, beta=0.5, alpha=2), [(2,), (2, 3), (3, 2)]),
    (lambda x, a, b: ember.baddbmm(x, a, b, beta=2, alpha=0.5), [(1, 2), (2, 2, 3), (2, 3, 2)]),
    (lambda x, a, b: ember.addbmm(x, a, b, alpha=3), [(2, 2), (2, 2, 3), (2, 3, 2)]),
    (lambda x, a, b: ember.addmv(x, a, b, beta=-1), [(2,), (2, 3), (3,)]),
    (lambda x, a, b: ember.addr(x, a, b, alpha=2), [(2, 3), (2,), (3,)]),
    (lambda a, b: ember.einsum("ij,jk->ik", a, b), [(2, 3), (3, 2)]),
    (lambda a, b: ember.einsum("ii,ij->j", a, b), [(2, 2), (2, 3)]),
    (lambda a, b: ember.einsum("...ij,j->...", a, b), [(2, 2, 3), (1,)]),
    (lambda a, b, c: ember.einsum("ij,jk,kl", a, b, c), [(2, 2), (2, 3), (3, 2)]),
])
def test_gradcheck_and_gradgradcheck(fn, shapes):
    inputs = [_dbl(*s, seed=i) for i, s in enumerate(shapes)]
    assert gradcheck(fn, inputs)
    assert gradgradcheck(fn, inputs)
