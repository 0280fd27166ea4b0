"""Pointwise ops against torch: values, dtypes, gradients, node names, errors, in-place forms."""
import math
import warnings

import ml_dtypes
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from oracle import assert_same, check, check_error, randn, to_ember, to_torch

import ember

INF, NAN = math.inf, math.nan
BF16 = ml_dtypes.bfloat16


def ints(*shape, lo=-5, hi=6, dtype=np.int64, seed=0):
    return np.random.default_rng(seed).integers(lo, hi, shape).astype(dtype)


def uniform(*shape, lo=-1.0, hi=1.0, dtype=np.float64, seed=0):
    return np.random.default_rng(seed).uniform(lo, hi, shape).astype(dtype)


def same_outcome(fn, *inputs, grad=False, **tol):
    """Either both libraries raise the same exception type, or both agree (values, dtypes)."""
    ts = [to_torch(x) if isinstance(x, np.ndarray) else x for x in inputs]
    try:
        fn(torch, *ts)
    except Exception:
        return check_error(fn, *inputs)
    return check(fn, *inputs, grad=grad, **tol)


def second_order(fn, *xs: np.ndarray, seed: int = 1, **tol):
    """Compare a gradient and a Hessian-vector product (create_graph=True) with torch's."""
    results = []
    for lib, conv in ((torch, to_torch), (ember, to_ember)):
        rng = np.random.default_rng(seed)
        ts = [conv(x, True) for x in xs]
        y = fn(lib, *ts)
        w = conv(rng.standard_normal(tuple(y.shape)))
        gs = lib.autograd.grad((y * w).sum(), ts, create_graph=True)
        vs = [conv(rng.standard_normal(x.shape)) for x in xs]
        total = sum((g * v).sum() for g, v in zip(gs, vs))
        hs = lib.autograd.grad(total, ts, allow_unused=True)
        results.append((gs, [h if h is not None else lib.zeros_like(t) for h, t in zip(hs, ts)]))
    (tg, th), (eg, eh) = results
    assert_same(list(eg), list(tg), what="gradient", **tol)
    assert_same(list(eh), list(th), what="second derivative", **tol)


# ----------------------------------------------------------------- unary ops
# name -> (fn, domain of the inputs: any, pos, unit, gt1, nonzero)
UNARY = {
    "neg": (lambda lib, x: lib.neg(x), "any"),
    "negative": (lambda lib, x: x.negative(), "any"),
    "abs": (lambda lib, x: lib.abs(x), "any"),
    "absolute": (lambda lib, x: x.absolute(), "any"),
    "sign": (lambda lib, x: lib.sign(x), "any"),
    "sgn": (lambda lib, x: x.sgn(), "any"),
    "reciprocal": (lambda lib, x: lib.reciprocal(x), "nonzero"),
    "square": (lambda lib, x: lib.square(x), "any"),
    "exp": (lambda lib, x: lib.exp(x), "any"),
    "exp2": (lambda lib, x: lib.exp2(x), "any"),
    "expm1": (lambda lib, x: x.expm1(), "any"),
    "log": (lambda lib, x: lib.log(x), "pos"),
    "log2": (lambda lib, x: x.log2(), "pos"),
    "log10": (lambda lib, x: lib.log10(x), "pos"),
    "log1p": (lambda lib, x: lib.log1p(x), "pos"),
    "sqrt": (lambda lib, x: lib.sqrt(x), "pos"),
    "rsqrt": (lambda lib, x: x.rsqrt(), "pos"),
    "sin": (lambda lib, x: lib.sin(x), "any"),
    "cos": (lambda lib, x: x.cos(), "any"),
    "tan": (lambda lib, x: lib.tan(x), "any"),
    "asin": (lambda lib, x: lib.asin(x), "unit"),
    "acos": (lambda lib, x: x.acos(), "unit"),
    "atan": (lambda lib, x: lib.atan(x), "any"),
    "arcsin": (lambda lib, x: lib.arcsin(x), "unit"),
    "arccos": (lambda lib, x: x.arccos(), "unit"),
    "arctan": (lambda lib, x: x.arctan(), "any"),
    "sinh": (lambda lib, x: lib.sinh(x), "any"),
    "cosh": (lambda lib, x: x.cosh(), "any"),
    "tanh": (lambda lib, x: lib.tanh(x), "any"),
    "asinh": (lambda lib, x: lib.asinh(x), "any"),
    "acosh": (lambda lib, x: lib.acosh(x), "gt1"),
    "atanh": (lambda lib, x: x.atanh(), "unit"),
    "arcsinh": (lambda lib, x: lib.arcsinh(x), "any"),
    "arccosh": (lambda lib, x: x.arccosh(), "gt1"),
    "arctanh": (lambda lib, x: lib.arctanh(x), "unit"),
    "sigmoid": (lambda lib, x: lib.sigmoid(x), "any"),
    "relu": (lambda lib, x: lib.relu(x), "any"),
    "erf": (lambda lib, x: lib.erf(x), "any"),
    "erfc": (lambda lib, x: x.erfc(), "any"),
    "erfinv": (lambda lib, x: lib.erfinv(x), "unit"),
    "floor": (lambda lib, x: lib.floor(x), "any"),
    "ceil": (lambda lib, x: x.ceil(), "any"),
    "round": (lambda lib, x: lib.round(x), "any"),
    "round_decimals": (lambda lib, x: lib.round(x * 10, decimals=1), "any"),
    "round_negative_decimals": (lambda lib, x: x.mul(100).round(decimals=-1), "any"),
    "trunc": (lambda lib, x: lib.trunc(x), "any"),
    "fix": (lambda lib, x: x.fix(), "any"),
    "frac": (lambda lib, x: lib.frac(x * 3), "any"),
    "nan_to_num": (lambda lib, x: lib.nan_to_num(x), "any"),
    "clamp": (lambda lib, x: lib.clamp(x, -0.5, 0.5), "any"),
    "clip": (lambda lib, x: x.clip(max=0.25), "any"),
    "clamp_min": (lambda lib, x: lib.clamp_min(x, 0.1), "any"),
    "clamp_max": (lambda lib, x: x.clamp_max(-0.1), "any"),
}


def domain_values(domain, *shape, dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    if np.dtype(dtype).kind in "iub":
        lo, hi = {"any": (-4, 5), "pos": (1, 6), "unit": (0, 1), "gt1": (1, 5),
                  "nonzero": (1, 5)}[domain]
        return np.asarray(rng.integers(lo, hi, shape)).astype(dtype)
    x = np.asarray(rng.standard_normal(shape))
    x = {"any": x, "pos": np.abs(x) + 0.1, "unit": np.tanh(x) * 0.9,
         "gt1": np.abs(x) + 1.1, "nonzero": np.where(np.abs(x) < 0.1, 0.5, x)}[domain]
    return np.asarray(x).astype(dtype)


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_float64_values_and_grads(name):
    fn, domain = UNARY[name]
    check(fn, domain_values(domain, 3, 4))
    # a transposed (non-contiguous) input, a 0-dim one and an empty one
    check(lambda lib, x: fn(lib, x.t()), domain_values(domain, 4, 3, seed=1))
    check(fn, domain_values(domain, seed=2))
    check(fn, domain_values(domain, 0, 3))


FLOAT_TYPES = [np.float32, np.float16, BF16]


@pytest.mark.parametrize("dtype", FLOAT_TYPES, ids=["float32", "float16", "bfloat16"])
@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_low_precision(name, dtype):
    fn, domain = UNARY[name]
    check(fn, domain_values(domain, 2, 5, dtype=dtype, seed=3))


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.uint8, np.bool_])
@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_integer_and_bool_inputs(name, dtype):
    """Float functions of integers compute in the default float dtype; the rest keep the
    dtype or raise torch's error."""
    fn, domain = UNARY[name]
    same_outcome(fn, domain_values(domain, 7, dtype=dtype, seed=4))


def test_unary_default_dtype_float64():
    prev = ember.get_default_dtype()
    ember.set_default_dtype(ember.float64)
    try:
        assert ember.exp(ember.tensor([1, 2])).dtype is ember.float64
        assert ember.sqrt(ember.tensor([True])).dtype is ember.float64
    finally:
        ember.set_default_dtype(prev)


def test_special_values():
    x = np.array([0.0, -0.0, INF, -INF, NAN, 1e-300, -1e300, 88.0, -88.0, 710.0])
    for name in ("neg", "abs", "sign", "sgn", "exp", "exp2", "expm1", "log", "log1p", "sqrt",
                 "rsqrt", "reciprocal", "sin", "tanh", "sigmoid", "relu", "erf", "erfc",
                 "floor", "round", "trunc", "frac", "nan_to_num", "atan", "asinh"):
        check(UNARY[name][0], x, grad=False)
    check(lambda lib, x: lib.erfinv(x), np.array([-1.0, 1.0, 1.5, -2.0, NAN, 0.0, -0.0]),
          grad=False)
    check(lambda lib, x: lib.sigmoid(x), np.array([-100.0, -20.0, 0.0, 20.0, 100.0],
                                                  dtype=np.float16), grad=False)


def test_sign_of_nan_and_negative_zero_is_zero():
    e = ember.sign(ember.tensor([NAN, -0.0, -3.0]))
    assert e.tolist() == [0.0, 0.0, -1.0]


def test_erf_family_accuracy_float64():
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.standard_normal(3000) * 3, rng.uniform(-27, 27, 2000),
                        np.sign(rng.standard_normal(300)) * 10.0 ** rng.uniform(-300, 0, 300),
                        [0.5, 1.0, -1.0, 0.999999, 1.000001, 26.0, -26.0, 40.0]])
    t = torch.from_numpy(x)
    e = ember.tensor(x)
    np.testing.assert_allclose(ember.erf(e).numpy(), torch.erf(t).numpy(), rtol=4e-15, atol=0)
    ref = torch.erfc(t).numpy()
    keep = ref > 1e-290  # below that erfc is subnormal: both lose precision
    np.testing.assert_allclose(ember.erfc(e).numpy()[keep], ref[keep], rtol=1e-14, atol=0)
    y = np.concatenate([rng.uniform(-1, 1, 3000), 1 - 10.0 ** rng.uniform(-16, 0, 500),
                        -1 + 10.0 ** rng.uniform(-16, 0, 200), 10.0 ** rng.uniform(-300, -1, 200),
                        [1 - 2.0 ** -53, -1 + 2.0 ** -53, 0.5, -0.5]])
    np.testing.assert_allclose(ember.erfinv(ember.tensor(y)).numpy(),
                               torch.erfinv(torch.from_numpy(y)).numpy(), rtol=1e-13, atol=0)


def test_erf_family_accuracy_float32():
    x = (np.random.default_rng(1).standard_normal(20000) * 3).astype(np.float32)
    t, e = torch.from_numpy(x), ember.tensor(x)
    np.testing.assert_allclose(ember.erf(e).numpy(), torch.erf(t).numpy(), rtol=3e-7, atol=1e-30)
    ref = torch.erfc(t).numpy()
    keep = ref > 1e-36
    np.testing.assert_allclose(ember.erfc(e).numpy()[keep], ref[keep], rtol=2e-6)
    y = np.random.default_rng(2).uniform(-0.999, 0.999, 20000).astype(np.float32)
    np.testing.assert_allclose(ember.erfinv(ember.tensor(y)).numpy(),
                               torch.erfinv(torch.from_numpy(y)).numpy(), rtol=2e-6)


# ----------------------------------------------------------------- binary ops
BINARY = {
    "add": lambda lib, a, b: a + b,
    "add_alpha": lambda lib, a, b: lib.add(a, b, alpha=2.5),
    "sub": lambda lib, a, b: a - b,
    "sub_alpha": lambda lib, a, b: lib.sub(a, b, alpha=-0.5),
    "subtract": lambda lib, a, b: lib.subtract(a, b),
    "rsub": lambda lib, a, b: lib.rsub(a, b),
    "rsub_alpha": lambda lib, a, b: lib.rsub(a, b, alpha=3),
    "mul": lambda lib, a, b: a * b,
    "multiply": lambda lib, a, b: lib.multiply(a, b),
    "div": lambda lib, a, b: a / b,
    "divide": lambda lib, a, b: lib.divide(a, b),
    "true_divide": lambda lib, a, b: lib.true_divide(a, b),
    "div_trunc": lambda lib, a, b: lib.div(a * 4, b, rounding_mode="trunc"),
    "div_floor": lambda lib, a, b: a.mul(4).div(b, rounding_mode="floor"),
    "remainder": lambda lib, a, b: lib.remainder(a * 4, b),
    "mod": lambda lib, a, b: (a * 4) % b,
    "fmod": lambda lib, a, b: lib.fmod(a * 4, b),
    "pow": lambda lib, a, b: lib.pow(a.abs() + 0.5, b),
    "pow_operator": lambda lib, a, b: (a.abs() + 0.5) ** b,
    "float_power": lambda lib, a, b: lib.float_power(a.abs() + 0.5, b),
    "atan2": lambda lib, a, b: lib.atan2(a, b),
    "arctan2": lambda lib, a, b: a.arctan2(b),
    "maximum": lambda lib, a, b: lib.maximum(a, b),
    "minimum": lambda lib, a, b: a.minimum(b),
    "fmax": lambda lib, a, b: lib.fmax(a, b),
    "fmin": lambda lib, a, b: lib.fmin(a, b),
    "lerp": lambda lib, a, b: lib.lerp(a, b, 0.3),
    "lerp_far": lambda lib, a, b: a.lerp(b, 0.8),
    "clamp_min_tensor": lambda lib, a, b: lib.clamp_min(a, b),
    "clamp_max_tensor": lambda lib, a, b: a.clamp_max(b),
    "clamp_tensor_min": lambda lib, a, b: lib.clamp(a, min=b),
    "clamp_tensor_max": lambda lib, a, b: a.clamp(max=b),
    "where": lambda lib, a, b: lib.where(a > b, a, b),
}


@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_broadcast_values_and_grads(name):
    fn = BINARY[name]
    check(fn, randn(3, 1, 4), randn(2, 4, seed=1))
    check(fn, randn(4, 3, seed=2), randn(4, 3, seed=3))  # same shape
    check(lambda lib, a, b: fn(lib, a.t(), b), randn(4, 2, seed=4), randn(2, 4, seed=5))
    check(fn, randn(2, 3, seed=6), randn(seed=7))  # a 0-dim operand
    check(fn, randn(0, 3, seed=8), randn(3, seed=9))  # empty


@pytest.mark.parametrize("name", ["add", "sub", "mul", "div", "pow_operator", "remainder",
                                  "fmod", "div_floor", "div_trunc", "rsub", "add_alpha"])
def test_binary_with_python_scalars(name):
    fn = BINARY[name]
    x = randn(3, 4)
    for s in (2, 3.5, -1.25, True):
        same_outcome(lambda lib, a, s=s: fn(lib, a, s), x, grad=True)  # x - True is an error


def test_reflected_operators():
    x = np.abs(randn(3, 4)) + 0.5
    check(lambda lib, a: (2 - a, 2.5 / a, 3 * a, 1.5 + a, 2 ** a, 0.5 ** a, True * a), x)
    check(lambda lib, a: (7 // a, 7.5 % a), x, grad=False)
    check(lambda lib, a: (2 / a, 2 ** a, 7 // a, 7 % a, 2 - a), ints(5, lo=1, hi=9), grad=False)
    check(lambda lib, a: 2.5 ** a, ints(5, lo=-3, hi=9), grad=False)


OPERAND_DTYPES = [np.float64, np.float32, np.float16, BF16, np.int64, np.int32, np.int16,
                  np.int8, np.uint8, np.bool_]
SCALARS = [2, -3, 2.5, -0.75, True, False]
BINARY_FOR_DTYPES = {
    "add": lambda lib, a, b: lib.add(a, b),
    "sub": lambda lib, a, b: lib.sub(a, b),
    "mul": lambda lib, a, b: lib.mul(a, b),
    "div": lambda lib, a, b: lib.div(a, b),
    "div_floor": lambda lib, a, b: lib.div(a, b, rounding_mode="floor"),
    "div_trunc": lambda lib, a, b: lib.div(a, b, rounding_mode="trunc"),
    "floor_divide": lambda lib, a, b: lib.floor_divide(a, b),
    "remainder": lambda lib, a, b: lib.remainder(a, b),
    "fmod": lambda lib, a, b: lib.fmod(a, b),
    "pow": lambda lib, a, b: lib.pow(a, b),
    "maximum": lambda lib, a, b: lib.maximum(a, b),
    "fmin": lambda lib, a, b: lib.fmin(a, b),
    "atan2": lambda lib, a, b: lib.atan2(a, b),
    "eq": lambda lib, a, b: lib.eq(a, b),
    "lt": lambda lib, a, b: a < b,
    "ge": lambda lib, a, b: lib.ge(a, b),
    "bitwise_and": lambda lib, a, b: lib.bitwise_and(a, b),
    "bitwise_xor": lambda lib, a, b: a ^ b,
    "logical_or": lambda lib, a, b: lib.logical_or(a, b),
    "where": lambda lib, a, b: lib.where(a > 1, a, b),
    "lshift": lambda lib, a, b: a << b,
    "rshift": lambda lib, a, b: lib.bitwise_right_shift(a, b),
}


def operand(kind: str, dtype, seed: int):
    """A tensor with dimensions ('dim'), a 0-dim tensor ('zero') of `dtype`."""
    rng = np.random.default_rng(seed)
    shape = (2, 3) if kind == "dim" else ()
    if np.dtype(dtype).kind in "iu":
        v = rng.integers(1 if dtype == np.uint8 else -4, 6, shape)
    elif dtype == np.bool_:
        v = rng.integers(0, 2, shape)
    else:
        v = np.round(rng.standard_normal(shape) * 3, 1)
        v = np.where(v == 0, 1.5, v)
    return np.asarray(v).astype(dtype)


@settings(max_examples=25, deadline=None)
@given(st.sampled_from(sorted(BINARY_FOR_DTYPES)), st.sampled_from(OPERAND_DTYPES),
       st.sampled_from(OPERAND_DTYPES), st.sampled_from(["dim", "zero", "scalar"]),
       st.integers(0, 2 ** 16))
def test_binary_dtype_promotion_hypothesis(name, da, db, kind_b, seed):
    """Tensor op tensor / 0-dim tensor / Python scalar: same dtype and values as torch (or the
    same exception)."""
    fn = BINARY_FOR_DTYPES[name]
    a = operand("dim", da, seed)
    b = SCALARS[seed % len(SCALARS)] if kind_b == "scalar" else operand(kind_b, db, seed + 1)
    same_outcome(fn, a, b)
    if kind_b == "zero":
        same_outcome(lambda lib, x, y: fn(lib, y, x), a, b)  # a 0-dim tensor in front


@pytest.mark.parametrize("da", OPERAND_DTYPES)
@pytest.mark.parametrize("s", SCALARS)
def test_tensor_with_scalar_dtypes(da, s):
    x = operand("dim", da, 5)
    for fn in (lambda lib, a: a + s, lambda lib, a: a * s, lambda lib, a: a - s,
               lambda lib, a: s - a, lambda lib, a: a / s if s else a / 4,
               lambda lib, a: a == s, lambda lib, a: lib.where(a > 0, a, s),
               lambda lib, a: a.clamp(min=s), lambda lib, a: a ** s, lambda lib, a: s ** a):
        same_outcome(fn, x)


def test_integer_scalars_wrap_like_torch():
    x = np.array([1, -3, 100], dtype=np.int8)
    check(lambda lib, a: (a + 1000, a * 1000, a == 1000 - 1024 + 1, a - 300), x, grad=False)
    check(lambda lib, a: (a - 1, a + (-1), a * 300), np.array([0, 1, 200], np.uint8), grad=False)
    check(lambda lib, a: a + 2 ** 63, np.array([1, 2]), grad=False)


def test_overflowing_scalars_raise_where_torch_checks():
    i8 = np.array([1, 2], np.int8)
    check_error(lambda lib, a: a ** 200, i8, match="value cannot be converted to type int8_t "
                                                   "without overflow")
    check_error(lambda lib, a: a.clamp(1000), i8, match="int8_t")
    check_error(lambda lib, a: lib.where(a > 1, a, 1000), i8, match="int8_t")
    check_error(lambda lib, a: a ** 2 ** 40, np.array([1], np.int32), match="type int without")
    check(lambda lib, a: a.clamp(-1), np.array([0, 7], np.uint8), grad=False)


def test_division_family_on_integers():
    a, b = np.array([7, -7, 7, -7, 0]), np.array([2, 2, -2, -2, 3])
    check(lambda lib, x, y: (x / y, x // y, x % y, lib.fmod(x, y),
                             lib.div(x, y, rounding_mode="trunc"),
                             lib.div(x, y, rounding_mode="floor"), lib.remainder(x, 3),
                             lib.fmod(x, -3), lib.remainder(-7, y)), a, b, grad=False)
    for fn in (lambda lib, x, y: x // y, lambda lib, x, y: x % y,
               lambda lib, x, y: lib.fmod(x, y), lambda lib, x, y: x.div(y, rounding_mode="trunc"),
               lambda lib, x, y: x // 0):
        check_error(fn, a, np.array([1, 0, 1, 1, 1]), match="ZeroDivisionError")
    check_error(lambda lib, x: x.div(x, rounding_mode="floor"), np.array([True]))
    check(lambda lib, x: x / 0, a, grad=False)


def test_division_family_on_floats_special_values():
    a = np.array([5.5, -5.5, 5.5, -5.5, 0.0, 1.0, -1.0, INF, NAN, 3.0])
    b = np.array([2.0, 2.0, -2.0, -2.0, 0.0, 0.0, 0.0, 2.0, 1.0, INF])
    check(lambda lib, x, y: (x / y, x // y, x % y, lib.fmod(x, y),
                             lib.div(x, y, rounding_mode="trunc")), a, b, grad=False)
    check(lambda lib, x, y: x % y, a, b)  # gradients
    check(lambda lib, x, y: lib.fmod(x, y), a, b)


def test_floor_divide_has_no_derivative():
    x = ember.tensor([3.0, 4.0], requires_grad=True)
    y = x // 2
    assert y.grad_fn.name() == (torch.tensor([3.0], requires_grad=True) // 2).grad_fn.name()
    with pytest.raises(RuntimeError, match="derivative for aten::floor_divide is not impl"):
        y.sum().backward()


def test_pow_forms():
    x, e = np.abs(randn(3, 4)) + 0.2, randn(4, seed=1)
    check(lambda lib, a, b: (a ** b, a ** 2, a ** 0.5, a ** -1.5, a ** 0, 2.5 ** b, 0.5 ** a,
                             lib.pow(a, 3), a.pow(b), lib.pow(2, b)), x, e)
    # integers: powers stay integer; negative integer exponents give torch's values
    base = np.array([0, 1, -1, 2, -2, 3, 5])
    check(lambda lib, a, b: (a ** b, a ** 2, 2 ** b, a ** 0, (-1) ** b, a.pow(3)),
          base, np.array([-1, -1, -3, -2, 0, 3, 2]), grad=False)
    check(lambda lib, a: (a ** 2, lib.pow(2, a), a ** 2.0), np.array([True, False]), grad=False)
    check(lambda lib, a: (a ** 3, a ** 2), np.array([3, 7], np.int8), grad=False)
    check_error(lambda lib, a: a ** -1, base, match="Integers to negative integer powers")
    check_error(lambda lib, a: a ** a, np.array([True, False]), match="not implemented for 'Bool'")
    check(lambda lib, a, b: a ** b, randn(4), np.array([True, False, True, True]), grad=False)


def test_pow_gradients_at_zero_and_negative_bases():
    a = np.array([0.0, 0.0, 2.0, -2.0, 0.0, 3.0])
    b = np.array([0.0, 2.0, 0.0, 0.5, -1.0, 1.0])
    check(lambda lib, x, y: x ** y, a, b)
    check(lambda lib, y: lib.pow(0.0, y), b)
    check(lambda lib, y: lib.pow(0, y), b)
    check(lambda lib, y: lib.pow(-2.0, y), b)
    check(lambda lib, x: x ** 0, a)
    check(lambda lib, x: (x ** 2, x ** 3.0, x ** 1.5), a)


def test_float_power_is_float64():
    check(lambda lib, a, b: (lib.float_power(a, b), lib.float_power(a, 2),
                             lib.float_power(2, b), a.float_power(b)),
          np.abs(randn(5, dtype=np.float32)) + 0.1, randn(5, dtype=np.float32, seed=1))
    check(lambda lib, a: lib.float_power(a, 2), ints(4), grad=False)


def test_add_sub_alpha_rules():
    i, x = ints(4), randn(4)
    check(lambda lib, a, b: (lib.add(a, b, alpha=2), lib.sub(a, 1, alpha=3),
                             lib.add(a, 2.5, alpha=2)), i, i, grad=False)
    check(lambda lib, a, b: (lib.add(a, b, alpha=0.5), lib.sub(a, b, alpha=0.5)), x, i)
    check(lambda lib, a: lib.add(a, True, alpha=True), np.array([True, False]), grad=False)
    check_error(lambda lib, a: lib.add(a, 2, alpha=2.5), i, match="alpha must not be a floating")
    check_error(lambda lib, a: lib.add(a, 1, alpha=True), i, match="Boolean alpha only")
    check(lambda lib, a, b: (lib.add(a, b, alpha=2.5), lib.sub(b, a, alpha=-1.5)),
          ints(4, dtype=np.int8), randn(4, dtype=np.float16), grad=False)


def test_bool_subtraction_and_negation_raise():
    b = np.array([True, False])
    check_error(lambda lib, a: a - a, b, match="Subtraction, the `-` operator, with a bool")
    check_error(lambda lib, a: 1 - a, b, match="Subtraction")
    check_error(lambda lib, a: -a, b, match="Negation, the `-` operator, on a bool")
    check_error(lambda lib, a: a.abs(), b, match="not implemented for 'Bool'")
    check_error(lambda lib, a: a.relu(), b, match="Boolean inputs not supported for relu")
    check(lambda lib, a: (a + a, a * a, a / a, a + True, a * 2.5), b, grad=False)


def test_broadcast_errors():
    msg = r"The size of tensor a \(3\) must match the size of tensor b \(4\) at non-singleton " \
          r"dimension 1"
    a, b = randn(2, 3), randn(2, 4)
    for fn in (lambda lib, x, y: x + y, lambda lib, x, y: x * y, lambda lib, x, y: x / y,
               lambda lib, x, y: x ** y, lambda lib, x, y: lib.maximum(x, y),
               lambda lib, x, y: x == y, lambda lib, x, y: lib.atan2(x, y),
               lambda lib, x, y: lib.where(x > 0, x, y), lambda lib, x, y: lib.lerp(x, y, 0.5),
               lambda lib, x, y: lib.addcmul(x, x, y), lambda lib, x, y: x % y,
               lambda lib, x, y: lib.clamp(x, min=y), lambda lib, x, y: lib.logical_and(x, y)):
        check_error(fn, a, b, match=msg)
    check_error(lambda lib, x, y: x - y, randn(2, 3), randn(4, 3),
                match=r"tensor a \(2\) must match the size of tensor b \(4\) at non-singleton "
                      r"dimension 0")


def test_type_errors_for_tensor_only_arguments():
    x = randn(3)
    check_error(lambda lib, a: lib.maximum(a, 2), x, match=r"maximum\(\): argument 'other'")
    check_error(lambda lib, a: lib.atan2(a, 1.0), x)
    check_error(lambda lib, a: lib.logical_xor(a, 0), x, match="must be Tensor, not int")
    check_error(lambda lib, a: a + None, x)
    check_error(lambda lib, a: a + "s", x)
    check_error(lambda lib, a: lib.eq(a, None), x)
    check_error(lambda lib, a: a < None, x)


def test_equality_with_non_numbers_is_identity():
    x = ember.tensor([1.0, 2.0])
    assert (x == None) is False  # noqa: E711
    assert (x != None) is True  # noqa: E711
    assert (x == "a") is False
    assert (x == [1.0, 2.0]) is False
    check(lambda lib, a: (a == np.float32(1.5), a < np.int64(1), a + np.float64(1)),
          randn(3, dtype=np.float32), grad=False)


# ----------------------------------------------------------------- clamp, where, min/max
def test_clamp_scalar_bounds_and_ties():
    x = np.array([-2.0, -0.5, 0.0, 0.5, 1.0, 2.0, NAN])
    check(lambda lib, a: (lib.clamp(a, -0.5, 1.0), a.clamp(min=0.0), a.clamp(max=0.5),
                          a.clip(-1, 1), lib.clamp(a, 1.0, -1.0)), x)
    check(lambda lib, a: (lib.clamp_min(a, 0.5), a.clamp_max(0.0)), x)
    check(lambda lib, a: (a.clamp(0, 3), a.clamp(0.5), a.clamp(-1, 2.5)), ints(6), grad=False)
    check(lambda lib, a: a.clamp(0, 1), np.array([True, False]), grad=False)
    check(lambda lib, a: a.clamp(torch.tensor(0.5) if lib is torch else ember.tensor(0.5)),
          ints(4), grad=False)
    check_error(lambda lib, a: a.clamp(), x, match="At least one of 'min' or 'max'")


def test_clamp_tensor_bounds_gradients():
    a = np.array([0.0, 1, 2, 3, 4, 1, 1, 0, 1, 2])
    lo = np.array([1.0, 1, 1, 1, 1, 2, 2, 1, 1, 1])
    hi = np.array([3.0, 3, 3, 3, 3, 1, 0.5, 1, 1, 1])
    check(lambda lib, x, lo, hi: lib.clamp(x, lo, hi), a, lo, hi)
    check(lambda lib, x, m: (lib.clamp(x, min=m), lib.clamp_min(x, m), lib.clamp_max(x, m)),
          a, lo)
    check(lambda lib, x, lo, hi: lib.clamp(x, lo, hi), randn(3, 4), randn(4, seed=1) - 1,
          randn(3, 1, seed=2) + 1)
    check(lambda lib, x, m: lib.clamp(x, m, None), randn(2, 3, dtype=np.float16),
          randn(3, dtype=np.float32))
    check_error(lambda lib, x, m: x.clamp(m, 1.0), a, lo)


def test_where_forms():
    c = np.array([True, False, True, False])
    check(lambda lib, m, x, y: (lib.where(m, x, y), x.where(m, y), lib.where(m, x, 0.5),
                                lib.where(m, -1.0, y)), c, randn(3, 4), randn(1, seed=1))
    check(lambda lib, m: (lib.where(m, 1, 2), lib.where(m, 1.0, 2), lib.where(m, True, 2)),
          c, grad=False)
    check(lambda lib, m, x, y: lib.where(m, x, y), c, ints(4, dtype=np.int8),
          ints(4, dtype=np.uint8, lo=0), grad=False)
    check(lambda lib, m, x, y: lib.where(m, x, y), c, randn(4, dtype=np.float16),
          randn(dtype=np.float64, seed=3))
    check(lambda lib, m, x, y: lib.where(m, x, y), c, randn(4), ints(4), grad=False)
    check(lambda lib, m: lib.where(m), np.array([[True, False], [False, True]]), grad=False)
    check(lambda lib, m: lib.where(m), ints(5), grad=False)
    check_error(lambda lib, m, x: lib.where(m, x, x), ints(4), randn(4),
                match="where expected condition to be a boolean tensor, but got a tensor with "
                      "dtype Long")
    with pytest.warns(UserWarning, match="uint8 condition"):
        out = ember.where(ember.tensor([1, 0], dtype=ember.uint8), 1.0, 2.0)
    assert out.tolist() == [1.0, 2.0]


def test_maximum_minimum_ties_and_nan():
    a = np.array([0.0, 1, 2, NAN, 1, NAN])
    b = np.array([1.0, 1, 1, 1, NAN, NAN])
    for fn in (lambda lib, x, y: lib.maximum(x, y), lambda lib, x, y: lib.minimum(x, y),
               lambda lib, x, y: lib.fmax(x, y), lambda lib, x, y: lib.fmin(x, y)):
        check(fn, a, b)
    check(lambda lib, x, y: (lib.maximum(x, y), lib.fmin(x, y)), ints(5), randn(5), grad=False)
    check(lambda lib, x, y: lib.maximum(x, y), np.array([True, False]), np.array([False, False]),
          grad=False)


# ----------------------------------------------------------------- fused ops
def test_lerp():
    x, y, w = randn(3, 4), randn(4, seed=1), uniform(3, 1, lo=-0.5, hi=1.5, seed=2)
    check(lambda lib, a, b, c: (lib.lerp(a, b, c), a.lerp(b, 0.25), a.lerp(b, 1.0),
                                lib.lerp(a, b, -0.5)), x, y, w)
    check(lambda lib, a, b, c: lib.lerp(a, b, c), randn(4, dtype=np.float32),
          randn(4, dtype=np.float32, seed=1), np.array(0.7))  # 0-dim double weight
    check(lambda lib, a, b: lib.lerp(a, b, 0.3), randn(4, dtype=np.float16),
          randn(4, dtype=np.float16, seed=1))
    check_error(lambda lib, a, b: lib.lerp(a, b, 0.5), randn(3, dtype=np.float32), randn(3),
                match="expected dtype float for `end` but got dtype double")
    check_error(lambda lib, a, b, c: lib.lerp(a, b, c), randn(3), randn(3),
                randn(3, dtype=np.float32), match="for `weight` but got dtype float")
    check_error(lambda lib, a: lib.lerp(a, a, 0.5), ints(3), match="not implemented for 'Long'")


def test_addcmul_addcdiv():
    x, t1, t2 = randn(3, 1), randn(1, 4, seed=1), randn(3, 4, seed=2) + 3
    check(lambda lib, a, b, c: (lib.addcmul(a, b, c), lib.addcmul(a, b, c, value=-0.5),
                                a.addcdiv(b, c), lib.addcdiv(a, b, c, value=2)), x, t1, t2)
    check(lambda lib, a, b, c: lib.addcmul(a, b, c, value=2.5), randn(3, dtype=np.float16),
          randn(3, dtype=np.float16, seed=1), randn(3, dtype=np.float16, seed=2))
    check(lambda lib, a, b, c: (lib.addcmul(a, b, c), lib.addcmul(a, b, c, value=2)),
          ints(4), ints(4, seed=1), ints(4, seed=2), grad=False)
    check(lambda lib, a, b, c: lib.addcmul(a, b, c, value=2.5), randn(4), ints(4), ints(4))
    check_error(lambda lib, a, b: lib.addcdiv(a, b, b), randn(3), ints(3, lo=1),
                match="Integer division with addcdiv is no longer supported")


def test_nan_to_num():
    x = np.array([0.5, NAN, INF, -INF, -2.0])
    check(lambda lib, a: (lib.nan_to_num(a), a.nan_to_num(1.0, 2.0, -3.0),
                          lib.nan_to_num(a, posinf=1e300)), x)
    for dt in (np.float32, np.float16, BF16):
        check(lambda lib, a: (lib.nan_to_num(a), lib.nan_to_num(a, nan=1e6)), x.astype(dt),
              grad=False)
    check(lambda lib, a: lib.nan_to_num(a, nan=1.5), ints(3), grad=False)


# ----------------------------------------------------------------- comparisons and tests
def test_comparisons():
    a = np.array([1.0, 2.0, NAN, INF, -1.0, 0.0])
    b = np.array([1.0, 3.0, NAN, INF, -2.0, -0.0])
    check(lambda lib, x, y: (x == y, x != y, x < y, x <= y, x > y, x >= y, lib.eq(x, y),
                             lib.ne(x, 1.0), lib.lt(x, y), lib.le(x, 2), lib.gt(x, y),
                             lib.ge(x, y), lib.greater(x, y), lib.greater_equal(x, y),
                             lib.less(x, y), lib.less_equal(x, y), lib.not_equal(x, y),
                             x.eq(y), x.ne(y), x.lt(y), x.le(y), x.gt(y), x.ge(y)), a, b,
          grad=False)
    check(lambda lib, x, y: (x == y, x < y, x >= 2.5, x == 7.0), ints(3, 4), randn(4), grad=False)
    x = ember.tensor([1.0], requires_grad=True)
    assert not (x > 0).requires_grad and (x > 0).grad_fn is None


def test_equal_allclose_isclose():
    a, b = randn(3, 4), randn(3, 4) + 1e-9
    for fn in (lambda lib, x, y: lib.equal(x, y), lambda lib, x, y: lib.equal(x, x),
               lambda lib, x, y: lib.allclose(x, y), lambda lib, x, y: x.allclose(y, rtol=0,
                                                                                  atol=0),
               lambda lib, x, y: lib.equal(x, x[:1]), lambda lib, x, y: lib.isclose(x, y),
               lambda lib, x, y: x.isclose(y, rtol=0, atol=1e-10)):
        check(fn, a, b, grad=False)
    s = np.array([1.0, NAN, INF, -INF, INF, 0.0])
    t = np.array([1.0 + 1e-6, NAN, INF, -INF, -INF, 1e-9])
    check(lambda lib, x, y: (lib.isclose(x, y), lib.isclose(x, y, equal_nan=True),
                             lib.isclose(x, y, rtol=0, atol=0), lib.allclose(x, x),
                             lib.allclose(x, x, equal_nan=True), lib.equal(x, x)), s, t,
          grad=False)
    check(lambda lib, x, y: (lib.isclose(x, y, atol=1.5, rtol=0), lib.isclose(x, y, rtol=0.5),
                             lib.equal(x, y), lib.allclose(x, x)), ints(6), ints(6, seed=1),
          grad=False)
    check(lambda lib, x: lib.isclose(x, ~x, atol=2), np.array([True, False]), grad=False)
    check(lambda lib, x, y: lib.equal(x, y), ints(3), ints(3).astype(np.float32), grad=False)
    check(lambda lib, x, y: lib.allclose(x, y), randn(2), randn(1), grad=False)
    check_error(lambda lib, x, y: lib.isclose(x, y), ints(3), randn(3), match="Long did not "
                                                                               "match Double")
    check_error(lambda lib, x: lib.isclose(x, x, rtol=-1.5), randn(3), match="rtol must be "
                "greater than or equal to zero, but got -1.5")
    check_error(lambda lib, x: lib.isclose(x, x, atol=-1), randn(3), match="atol must be")
    check_error(lambda lib, x, y: lib.allclose(x, y), randn(2), randn(3))


def test_isnan_family():
    x = np.array([0.0, NAN, INF, -INF, -1.5])
    for dt in (np.float64, np.float32, np.float16, BF16):
        check(lambda lib, a: (lib.isnan(a), lib.isinf(a), lib.isfinite(a), lib.isposinf(a),
                              lib.isneginf(a), a.isnan(), a.isinf(), a.isfinite(),
                              a.isposinf(), a.isneginf()), x.astype(dt), grad=False)
    for v in (ints(2, 3), np.array([True, False])):
        check(lambda lib, a: (lib.isnan(a), lib.isinf(a), lib.isfinite(a), lib.isposinf(a),
                              lib.isneginf(a)), v, grad=False)


def test_logical_ops():
    a = np.array([0.0, 1.5, -2.0, NAN])
    b = np.array([0, 0, 3, 1])
    check(lambda lib, x, y: (lib.logical_and(x, y), lib.logical_or(x, y), lib.logical_xor(x, y),
                             lib.logical_not(x), lib.logical_not(y), x.logical_and(y),
                             y.logical_or(x), x.logical_xor(x), y.logical_not()), a, b,
          grad=False)
    check(lambda lib, x: lib.logical_not(x), a.astype(BF16), grad=False)
    check(lambda lib, x, y: lib.logical_and(x, y), np.array([[True], [False]]),
          np.array([True, False, True]), grad=False)


def test_bitwise_and_shifts():
    a, b = ints(6, lo=-40, hi=40), ints(6, lo=-40, hi=40, seed=1)
    check(lambda lib, x, y: (x & y, x | y, x ^ y, ~x, lib.bitwise_and(x, 5),
                             lib.bitwise_or(x, y), lib.bitwise_xor(x, y), lib.bitwise_not(y),
                             x.bitwise_and(y), x.bitwise_or(y), x.bitwise_xor(y),
                             x.bitwise_not()), a, b, grad=False)
    bools = np.array([True, False, True])
    check(lambda lib, x: (x & x, x | ~x, x ^ True, x & 1, ~x, x << 1), bools, grad=False)
    for dt in (np.int8, np.uint8, np.int32):
        x = ints(7, lo=0, hi=100, dtype=dt) * (1 if dt == np.uint8 else -1)
        counts = np.array([0, 1, 3, 7, 9, 70, -1])
        check(lambda lib, v: (v << 2, v >> 1, v << 9, v >> 9, v << -1, v >> -1,
                              lib.bitwise_left_shift(v, 3), lib.bitwise_right_shift(v, 70)),
              x.astype(dt), grad=False)
        check(lambda lib, v, c: (v << c, v >> c), x.astype(dt), counts.astype(dt)
              if dt != np.uint8 else np.abs(counts).astype(dt), grad=False)
    for fn in (lambda lib, x: x & x, lambda lib, x: lib.bitwise_not(x), lambda lib, x: x << 1,
               lambda lib, x: x >> 1, lambda lib, x: lib.bitwise_or(x, 1)):
        check_error(fn, randn(3), match="not implemented for 'Double'")
    check_error(lambda lib, x: ~x, randn(3), match=r"~ \(operator.invert\) is only implemented")
    check_error(lambda lib, x: x & 2.5, ints(3), match="not implemented for 'Float'")


# ----------------------------------------------------------------- node names
NAMED = [
    lambda lib, x, y: x + y, lambda lib, x, y: x + 2, lambda lib, x, y: x - y,
    lambda lib, x, y: 2 - x, lambda lib, x, y: lib.rsub(x, y), lambda lib, x, y: x * y,
    lambda lib, x, y: x / y, lambda lib, x, y: x / 2, lambda lib, x, y: 2 / x,
    lambda lib, x, y: x.div(y, rounding_mode="trunc"), lambda lib, x, y: x // y,
    lambda lib, x, y: x % y, lambda lib, x, y: x % 2, lambda lib, x, y: lib.fmod(x, y),
    lambda lib, x, y: lib.fmod(x, 2), lambda lib, x, y: x ** 2, lambda lib, x, y: x ** y,
    lambda lib, x, y: 2 ** x, lambda lib, x, y: lib.float_power(x, y),
    lambda lib, x, y: lib.float_power(x, 2), lambda lib, x, y: -x, lambda lib, x, y: x.abs(),
    lambda lib, x, y: x.sign(), lambda lib, x, y: x.sgn(), lambda lib, x, y: x.reciprocal(),
    lambda lib, x, y: x.square(), lambda lib, x, y: x.round(decimals=2),
    lambda lib, x, y: x.round(), lambda lib, x, y: x.frac(), lambda lib, x, y: x.fix(),
    lambda lib, x, y: x.clamp(0, 1), lambda lib, x, y: x.clamp(min=0),
    lambda lib, x, y: x.clamp(y, y + 1), lambda lib, x, y: x.clamp(min=y),
    lambda lib, x, y: x.clamp_min(0), lambda lib, x, y: x.clamp_max(0),
    lambda lib, x, y: x.clamp_min(y), lambda lib, x, y: x.clamp_max(y),
    lambda lib, x, y: lib.where(x > 0, x, y), lambda lib, x, y: lib.maximum(x, y),
    lambda lib, x, y: lib.minimum(x, y), lambda lib, x, y: lib.fmax(x, y),
    lambda lib, x, y: lib.fmin(x, y), lambda lib, x, y: lib.lerp(x, y, 0.5),
    lambda lib, x, y: lib.lerp(x, y, y), lambda lib, x, y: lib.addcmul(x, x, y),
    lambda lib, x, y: lib.addcdiv(x, x, y), lambda lib, x, y: x.nan_to_num(),
    lambda lib, x, y: lib.atan2(x, y), lambda lib, x, y: x.to(lib.float32),
    lambda lib, x, y: x.clone(), lambda lib, x, y: (x * 1).fill_(2),
    lambda lib, x, y: (x * 1).fill_(y.sum()), lambda lib, x, y: lib.fill(x, 2.0),
    lambda lib, x, y: (x * 1).copy_(y), lambda lib, x, y: (x * 1).add_(y),
    lambda lib, x, y: (x * 1).sigmoid_(), lambda lib, x, y: (x * 1).clamp_(0, 1),
] + [lambda lib, x, y, n=n: UNARY[n][0](lib, x.abs() * 0.5 + 0.1 if UNARY[n][1] in
                                          ("pos", "unit", "nonzero") else x.abs() + 1.1
                                          if UNARY[n][1] == "gt1" else x) for n in sorted(UNARY)]


@pytest.mark.parametrize("i", range(len(NAMED)))
def test_node_names(i):
    fn = NAMED[i]
    names = []
    for lib, conv in ((torch, to_torch), (ember, to_ember)):
        out = fn(lib, conv(randn(3) * 0.5, True), conv(randn(3, seed=1) * 0.5 + 2, True))
        names.append(out.grad_fn.name())
    assert names[1] == names[0]


# ----------------------------------------------------------------- second derivatives
SECOND = {
    "mul_div": lambda lib, x, y: x * y / (y * y + 1),
    "pow": lambda lib, x, y: (x.abs() + 0.5) ** y,
    "pow_scalar": lambda lib, x, y: (x ** 3) + 2.0 ** y + (x.abs() + 1) ** 2.5,
    "exp_log": lambda lib, x, y: lib.exp(x) * lib.log(y.abs() + 1) + lib.log1p(x.abs()),
    "trig": lambda lib, x, y: lib.sin(x) * lib.cos(y) + lib.tan(x * 0.3) + lib.atan(y),
    "inverse_trig": lambda lib, x, y: lib.asin(lib.tanh(x) * 0.5) + lib.acos(lib.tanh(y) * 0.5),
    "hyperbolic": lambda lib, x, y: lib.sinh(x) + lib.cosh(y) + lib.asinh(x) + lib.atanh(
        lib.tanh(y) * 0.5) + lib.acosh(x.abs() + 1.5),
    "sqrt_rsqrt": lambda lib, x, y: lib.sqrt(x.abs() + 1) * lib.rsqrt(y.abs() + 1),
    "sigmoid_tanh": lambda lib, x, y: lib.sigmoid(x) * lib.tanh(y),
    "erf": lambda lib, x, y: lib.erf(x) * lib.erfc(y) + lib.erfinv(lib.tanh(x) * 0.5),
    "exp2_expm1_logs": lambda lib, x, y: lib.exp2(x) + lib.expm1(y) + lib.log2(x.abs() + 1) +
    lib.log10(y.abs() + 1),
    "reciprocal": lambda lib, x, y: (x.abs() + 1).reciprocal() * y.square(),
    "atan2": lambda lib, x, y: lib.atan2(x, y),
    "where_clamp_relu": lambda lib, x, y: lib.where(x > 0, x * y, y * y) + lib.clamp(x * y, -1, 1)
    + lib.relu(x * y),
    "maximum": lambda lib, x, y: lib.maximum(x * x, y) + lib.fmin(x, y * y),
    "lerp_addc": lambda lib, x, y: lib.lerp(x, y, x.sigmoid()) + lib.addcmul(x, x, y) +
    lib.addcdiv(x, y, x * x + 1),
    "remainder": lambda lib, x, y: lib.remainder(x, y.abs() + 1) * y,
    "abs_sign": lambda lib, x, y: x.abs() * y + x.sign() * y,
}


@pytest.mark.parametrize("name", sorted(SECOND))
def test_second_derivatives(name):
    second_order(SECOND[name], randn(3, 4), randn(3, 4, seed=5))


# ----------------------------------------------------------------- in-place forms
INPLACE = {
    "add_": lambda lib, t, o: t.add_(o), "add_alpha": lambda lib, t, o: t.add_(o, alpha=2),
    "iadd": lambda lib, t, o: t.__iadd__(o), "sub_": lambda lib, t, o: t.sub_(o, alpha=0.5),
    "isub": lambda lib, t, o: t.__isub__(o), "mul_": lambda lib, t, o: t.mul_(o),
    "imul": lambda lib, t, o: t.__imul__(2.5), "div_": lambda lib, t, o: t.div_(o + 3),
    "itruediv": lambda lib, t, o: t.__itruediv__(o + 3),
    "div_floor_": lambda lib, t, o: t.div_(o + 3, rounding_mode="floor"),
    "remainder_": lambda lib, t, o: t.remainder_(o + 3), "imod": lambda lib, t, o: t.__imod__(1.5),
    "pow_": lambda lib, t, o: t.abs_().pow_(o), "ipow": lambda lib, t, o: t.__ipow__(2),
    "neg_": lambda lib, t, o: t.neg_(), "abs_": lambda lib, t, o: t.abs_(),
    "reciprocal_": lambda lib, t, o: t.add_(5).reciprocal_(), "exp_": lambda lib, t, o: t.exp_(),
    "log_": lambda lib, t, o: t.abs_().add_(0.5).log_(),
    "sqrt_": lambda lib, t, o: t.abs_().add_(0.5).sqrt_(), "tanh_": lambda lib, t, o: t.tanh_(),
    "sigmoid_": lambda lib, t, o: t.sigmoid_(), "relu_": lambda lib, t, o: t.relu_(),
    "floor_": lambda lib, t, o: t.floor_(), "ceil_": lambda lib, t, o: t.ceil_(),
    "round_": lambda lib, t, o: t.round_(), "round_decimals_": lambda lib, t, o: t.round_(
        decimals=1), "trunc_": lambda lib, t, o: t.trunc_(),
    "clamp_": lambda lib, t, o: t.clamp_(-0.5, 0.5), "clamp_tensor_": lambda lib, t, o:
    t.clamp_(min=o), "clip_": lambda lib, t, o: t.clip_(max=0.1),
    "clamp_min_": lambda lib, t, o: t.clamp_min_(0.2), "clamp_max_": lambda lib, t, o:
    t.clamp_max_(o), "lerp_": lambda lib, t, o: t.lerp_(o, 0.3),
    "addcmul_": lambda lib, t, o: t.addcmul_(o, o, value=0.5),
    "addcdiv_": lambda lib, t, o: t.addcdiv_(o, o.abs() + 1, value=2),
    "nan_to_num_": lambda lib, t, o: t.nan_to_num_(), "fill_": lambda lib, t, o: t.fill_(1.5),
    "fill_tensor_": lambda lib, t, o: t.fill_(o.sum()), "zero_": lambda lib, t, o: t.zero_(),
    "copy_": lambda lib, t, o: t.copy_(o), "floor_divide_": lambda lib, t, o: t.floor_divide_(2),
    "torch_relu_": lambda lib, t, o: lib.relu_(t), "torch_sin_": lambda lib, t, o: lib.sin_(t),
    "torch_clamp_": lambda lib, t, o: lib.clamp_(t, min=0.0),
    "torch_square_": lambda lib, t, o: lib.square_(t),
}


@pytest.mark.parametrize("name", sorted(INPLACE))
def test_inplace_on_non_leaf(name):
    """In-place on an intermediate: value, returned object, version bump and gradients."""
    fn = INPLACE[name]
    no_grad = name == "floor_divide_"

    def prog(lib, x, o):
        t = x * 1
        v0 = t._version
        r = fn(lib, t, o)
        return r, r is t, t._version - v0 > 0
    e, t = check(prog, randn(3, 4), randn(4, seed=1), grad=not no_grad)
    assert e[1] and e[2]


@pytest.mark.parametrize("name", ["add_", "mul_", "sigmoid_", "clamp_", "copy_", "fill_"])
def test_inplace_through_a_view(name):
    fn = INPLACE[name]

    def prog(lib, x, o):
        base = x * 1
        view = base[1]
        fn(lib, view, o)
        return base * 2
    check(prog, randn(3, 4), randn(4, seed=1))


def test_inplace_integer_and_bool_tensors():
    check(lambda lib, a: (a.clone().add_(2), a.clone().mul_(3), a.clone().floor_divide_(2),
                          a.clone().remainder_(3), a.clone().pow_(2), a.clone().neg_(),
                          a.clone().abs_(), a.clone().clamp_(-1, 2), a.clone().bitwise_and_(6),
                          a.clone().bitwise_or_(1), a.clone().bitwise_xor_(3),
                          a.clone().div_(2, rounding_mode="trunc"), a.clone().__iand__(5),
                          a.clone().__ior__(2), a.clone().__ixor__(7), a.clone().__ifloordiv__(2)),
          ints(5), grad=False)
    check(lambda lib, a: (a.clone().bitwise_not_(), a.clone().__iand__(True), a.clone().add_(True),
                          a.clone().mul_(False)), np.array([True, False]), grad=False)


def test_inplace_dtype_and_shape_errors():
    msg = "result type Float can't be cast to the desired output type Long"
    for fn in (lambda lib, a: a.add_(1.5), lambda lib, a: a.mul_(lib.tensor(1.5)),
               lambda lib, a: a.sqrt_(), lambda lib, a: a.exp_(), lambda lib, a: a.div_(2),
               lambda lib, a: a.pow_(2.0), lambda lib, a: a.sigmoid_()):
        check_error(fn, ints(3), match=msg)
    check_error(lambda lib, a: a.add_(1), np.array([True]), match="result type Long can't be "
                                                                   "cast to the desired output "
                                                                   "type Bool")
    check_error(lambda lib, a, b: a.add_(b), randn(2, 3), randn(4, 2, 3),
                match=r"output with shape \[2, 3\] doesn't match the broadcast shape \[4, 2, 3\]")
    x = ember.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad is being used in "
                                           "an in-place operation"):
        x.add_(1)


def test_inplace_invalidates_saved_tensors():
    for lib in (torch, ember):
        x = lib.tensor([0.5, 1.5], requires_grad=True)
        y = x * 1
        z = y.exp()  # saves its output
        z.add_(1)
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            z.sum().backward()


# ----------------------------------------------------------------- casts and copies
def test_to_and_casts():
    x = randn(3, 4) * 3
    check(lambda lib, a: (a.to(lib.float32), a.float(), a.half(), a.bfloat16(), a.double(),
                          a.to(dtype=lib.float16), a.to("cpu", lib.float32), a.type(lib.float32),
                          a.long(), a.int(), a.short(), a.char(), a.bool(),
                          a.to(lib.float32).to(lib.float64)), x)
    check(lambda lib, a, b: (a.type_as(b), a.to(b)), x, ints(2), grad=False)
    check(lambda lib, a: (a.float(), a.bool(), a.byte(), a.half()), ints(6, lo=-300, hi=300),
          grad=False)
    e = ember.tensor([1.0, 2.0])
    assert e.to(ember.float32) is e and e.to("cpu") is e
    assert e.to(ember.float32, copy=True) is not e
    assert ember.tensor([1.0]).double().dtype is ember.float64


def test_grads_through_to():
    check(lambda lib, a: (a.to(lib.float32) * 2).sum(), randn(3))
    check(lambda lib, a: a.to(lib.float64) * a, randn(3, dtype=np.float32))
    check(lambda lib, a: a.half().float() * 3, randn(4))
    check(lambda lib, a: (a.long(), a * 2), randn(3))


def test_clone():
    check(lambda lib, a: (a.clone(), lib.clone(a) * 2, a.t().clone()), randn(2, 3))
    e = ember.tensor([1.0, 2.0])
    c = e.clone()
    c.add_(1)
    assert e.tolist() == [1.0, 2.0]


def test_fill():
    check(lambda lib, a: ((a * 1).fill_(2.5), (a * 1).zero_(), lib.fill(a, -1.0)), randn(2, 3))
    check(lambda lib, a, v: (a * 1).fill_(v), randn(2, 3), randn(seed=1))
    check(lambda lib, a: (a.clone().fill_(2.7), a.clone().fill_(True), a.clone().zero_()),
          ints(4), grad=False)
    check(lambda lib, a: a.clone().fill_(0.5), np.array([True, False]), grad=False)
    check_error(lambda lib, a, v: a.fill_(v), randn(3), randn(2), match="fill_ only supports "
                                                                          "0-dimension value")


def test_copy_broadcasts_and_casts():
    check(lambda lib, a, s: (a * 1).copy_(s), randn(2, 3), randn(3, seed=1))
    check(lambda lib, a, s: (a * 1).copy_(s), randn(2, 3), randn(2, 1, seed=1).astype(np.float32))
    check(lambda lib, a, s: (a * 1).copy_(s), randn(2, 3), randn(seed=1))
    check(lambda lib, a, s: a.clone().copy_(s), ints(3, dtype=np.int32),
          np.array([1.7, -2.7, 3.5]), grad=False)
    check(lambda lib, a, s: a.clone().copy_(s), np.zeros(3, np.uint8), np.array([-1, 256, 3]),
          grad=False)
    check(lambda lib, a, s: a.clone().copy_(s), np.zeros(3, bool), np.array([1.7, 0.0, -3.5]),
          grad=False)
    check(lambda lib, a, s: a.clone().copy_(s), randn(3, dtype=np.float32), randn(3),
          grad=False)
    check(lambda lib, a, s: a.clone().copy_(s), randn(3, dtype=np.float16), randn(3, dtype=BF16),
          grad=False)
    check_error(lambda lib, a, s: a.copy_(s), randn(2, 3), randn(4, 3),
                match=r"The size of tensor a \(2\) must match the size of tensor b \(4\) at "
                      r"non-singleton dimension 0")
    check_error(lambda lib, a, s: a.copy_(s), randn(3), randn(1, 3),
                match=r"output with shape \[3\] doesn't match the broadcast shape \[1, 3\]")


# ----------------------------------------------------------------- out= and warnings
def test_out_argument():
    a, b = randn(2, 3), randn(3, seed=1)
    eo, to = to_ember(np.zeros((2, 3))), to_torch(np.zeros((2, 3)))
    assert ember.add(to_ember(a), to_ember(b), alpha=2, out=eo) is eo
    torch.add(to_torch(a), to_torch(b), alpha=2, out=to)
    assert_same(eo, to)
    assert eo._version == 1
    eo = ember.empty(0)
    ember.mul(to_ember(a), to_ember(b), out=eo)
    assert_same(eo, torch.mul(to_torch(a), to_torch(b)).float())
    eo = ember.zeros(2, 3, dtype=ember.float16)
    ember.sin(to_ember(a), out=eo)
    assert_same(eo, torch.sin(to_torch(a)).half())
    eo = ember.zeros(2)
    ember.eq(ember.tensor([1.0, 2.0]), 1, out=eo)
    assert eo.tolist() == [1.0, 0.0]
    with pytest.warns(UserWarning, match="An output with one or more elements was resized"):
        eo = ember.zeros(5)
        ember.exp(to_ember(a), out=eo)
    assert tuple(eo.shape) == (2, 3)
    check_error(lambda lib, x: lib.add(x, x, out=lib.zeros(2, 3, dtype=lib.long)), a,
                match="result type Double can't be cast to the desired output type Long")
    check_error(lambda lib, x: lib.mul(x.requires_grad_(), 2, out=lib.zeros(2, 3,
                                                                            dtype=lib.float64)),
                a, match=r"mul\(\): functions with out=... arguments don't support automatic")


def test_no_numpy_warnings_for_inf_and_nan():
    x = ember.tensor([-1.0, 0.0, 1000.0, INF, NAN])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for name in ("log", "log2", "log10", "log1p", "sqrt", "rsqrt", "reciprocal", "exp",
                     "exp2", "expm1", "asin", "acos", "acosh", "atanh", "sinh", "cosh",
                     "sigmoid", "erf", "erfc", "erfinv"):
            getattr(ember, name)(x)
        x / 0, x // 0, x % 0, ember.fmod(x, 0.0), x ** 0.5, ember.tensor(0.0) ** -1.0
        ember.isclose(x, x), ember.lerp(x, x.flip(0), 0.7), ember.addcdiv(x, x, x.flip(0))
        ember.addcmul(x, x, x.flip(0)), ember.atan2(x, x), ember.sigmoid(-x)


INPLACE_METHODS = [
    ("absolute_", ()), ("negative_", ()), ("sign_", ()), ("sgn_", ()), ("square_", ()),
    ("subtract_", (0.5,)), ("multiply_", (2.0,)), ("divide_", (4.0,)), ("true_divide_", (3.0,)),
    ("fmod_", (0.7,)), ("exp2_", ()), ("expm1_", ()), ("sin_", ()), ("cos_", ()), ("tan_", ()),
    ("atan_", ()), ("arctan_", ()), ("sinh_", ()), ("cosh_", ()), ("asinh_", ()),
    ("arcsinh_", ()), ("erf_", ()), ("erfc_", ()), ("fix_", ()), ("frac_", ()),
    ("eq_", (0.5,)), ("ne_", (0.5,)), ("lt_", (0.0,)), ("le_", (0.0,)), ("gt_", (0.0,)),
    ("ge_", (0.0,)), ("not_equal_", (0.0,)), ("greater_", (0.1,)), ("greater_equal_", (0.1,)),
    ("less_", (0.1,)), ("less_equal_", (0.1,)), ("logical_not_", ()),
]
DOMAIN_METHODS = [  # need |x| < 1 or x > 1
    ("asin_", ()), ("acos_", ()), ("arcsin_", ()), ("arccos_", ()), ("atanh_", ()),
    ("arctanh_", ()), ("erfinv_", ()), ("log2_", ()), ("log10_", ()), ("log1p_", ()),
    ("rsqrt_", ()),
]


@pytest.mark.parametrize("name,args", INPLACE_METHODS + DOMAIN_METHODS,
                         ids=[n for n, _ in INPLACE_METHODS + DOMAIN_METHODS])
def test_inplace_methods_values(name, args):
    x = uniform(3, 4, lo=0.05, hi=0.95) if (name, args) in DOMAIN_METHODS else randn(3, 4)
    check(lambda lib, a: (getattr(a.clone(), name)(*args), a), x, grad=False)


def test_inplace_methods_with_tensor_arguments_and_shifts():
    check(lambda lib, a, b: (a.clone().atan2_(b), a.clone().arctan2_(b),
                             a.clone().logical_and_(b), a.clone().logical_or_(b),
                             a.clone().logical_xor_(b), a.clone().eq_(b), a.clone().lt_(b)),
          randn(3, 4), randn(4, seed=1), grad=False)
    check(lambda lib, a: (a.double().float_power_(2), lib.asinh_(a.clone()),
                          lib.acosh_(a.abs() + 1.5), lib.atanh_(a.clone().tanh_()),
                          lib.arcsinh_(a.clone()), lib.zero_(a.clone())), randn(4), grad=False)
    check_error(lambda lib, a: a.float_power_(2), randn(3, dtype=np.float32),
                match="the base given to float_power_ has dtype Float but the operation's "
                      "result requires dtype Double")
    i = ints(5, lo=0, hi=20)
    check(lambda lib, a: (a.clone().bitwise_left_shift_(2), a.clone().bitwise_right_shift_(1),
                          a.clone().__ilshift__(3), a.clone().__irshift__(2), 2 << a.clamp(max=8),
                          100 >> a, a.clone().eq_(3), a.clone().logical_not_()), i, grad=False)
    check_error(lambda lib, a: a.true_divide_(2), i, match="result type Float can't be cast")


def test_inplace_chains_gradients():
    # ops whose backward needs their input can be chained; those that save their output
    # (exp2, rsqrt, erfinv ...) must come last, or torch refuses the backward
    check(lambda lib, a: (a * 1).sin_().cos_().exp2_(), randn(3))
    check(lambda lib, a: (a.abs() + 0.5).atan_().log1p_().rsqrt_(), randn(3))
    check(lambda lib, a: (a * 0.5).atan_().erf_().erfinv_(), randn(3))


@pytest.mark.filterwarnings("ignore:__array_wrap__:DeprecationWarning")  # torch's, via NumPy
def test_numpy_array_operands_act_as_tensors():
    """tensor op ndarray gives a tensor, the array taking part like a tensor of its dtype
    (torch gets there through NumPy's reflected operators)."""
    arrays = [np.array([1.5, -2.0, 3.0]), np.array(2.5), np.array([1, 3, 5], np.int8),
              np.array([True, False, True])]
    for arr in arrays:
        check(lambda lib, a, arr=arr: (a + arr, a * arr, a == arr, a - arr), ints(3), grad=False)
        check(lambda lib, a, arr=arr: (a * arr, a + arr), randn(3), grad=False)


def test_integer_operands_of_float_results_are_not_wrapped_first():
    """uint8 with a negative 0-dim integer: the common type is uint8, but true division and
    atan2 take each operand to float directly."""
    u, m = np.array([255, 1, 4], np.uint8), np.array(-1)
    check(lambda lib, a, b: (a / b, lib.atan2(a, b), a == b, a < b, a + b, lib.maximum(a, b),
                             a / -3, a // b, a % b), u, m, grad=False)
