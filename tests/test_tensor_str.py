"""repr/str of tensors: ember must print exactly what torch prints for the same values."""
import math

import ml_dtypes
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from oracle import check_error, to_ember, to_torch

import ember


@pytest.fixture(autouse=True)
def default_printoptions():
    yield
    torch.set_printoptions(profile="default")
    ember.set_printoptions(profile="default")


def same_repr(a: np.ndarray) -> str:
    t, e = to_torch(a), to_ember(a)
    assert repr(e) == repr(t), f"\nember: {e!r}\ntorch: {t!r}"
    assert str(e) == str(t)
    return repr(e)


HANDPICKED = [
    np.array([1.0, 2.0, 3.0], np.float32),
    np.array([1, 2, 3]),
    np.array([True, False, True]),
    np.array(3.5, np.float32),
    np.array(7),
    np.array(True),
    np.array(-0.0, np.float32),
    np.array([-0.0, 0.0, 1.5], np.float32),
    np.array([-0.0, 2.0], np.float32),
    np.array([np.nan, np.inf, -np.inf, 1.0], np.float32),
    np.array([np.nan, np.inf, -np.inf], np.float32),
    np.array([np.nan, 2.5]),
    np.array([0.0, 0.0], np.float32),
    np.array([1e-5, 1.0], np.float32),
    np.array([1e-4, 1.0], np.float32),
    np.array([1.0, 1000.0], np.float32),
    np.array([1.0, 1000.5], np.float32),
    np.array([1.0, 1001.0], np.float32),
    np.array([1e8, 1.0e8 + 8], np.float32),
    np.array([1e9, -3.0], np.float32),
    np.array([[1e-8, 2e9]]),
    np.array([123456.789, -0.5]),
    np.array([1.5, 2], np.float16),
    np.array([65504.0, -1.0], np.float16),
    np.array([1, -2], np.int8),
    np.array([1, 2], np.int16),
    np.array([1, 2], np.int32),
    np.array([1, 255], np.uint8),
    np.array([-(2 ** 63), 2 ** 63 - 1]),
    np.arange(30).reshape(2, 3, 5),
    np.arange(24, dtype=np.float64).reshape(2, 3, 2, 2) / 7,
    np.random.default_rng(0).standard_normal((5, 30)).astype(np.float32),
    np.random.default_rng(1).standard_normal((3, 400)),
    np.random.default_rng(2).standard_normal((4, 4, 4, 4)).astype(np.float32) * 1e5,
    np.arange(1000),
    np.arange(1001),
    np.arange(2000, dtype=np.float32).reshape(40, 50),
    np.arange(4000, dtype=np.float32).reshape(10, 20, 20) - 2000,
    np.ones((1001, 1), np.float32),
    np.zeros((0, 3), np.float32),
    np.zeros((0,), np.float32),
    np.zeros((0,), np.float64),
    np.zeros((0,), np.int64),
    np.zeros((2, 0, 3), np.int32),
    np.zeros((0,), np.bool_),
    np.array([[True, False], [False, True]]),
    np.full(1200, True),
]


@pytest.mark.parametrize("a", HANDPICKED, ids=lambda a: f"{a.dtype}{list(a.shape)}")
def test_repr_matches_torch(a):
    same_repr(a)


def test_bfloat16_repr_and_suffix():
    same_repr(np.array([1.5, 2.25, 3.0, -0.0078125], dtype=ml_dtypes.bfloat16))
    same_repr(np.array([3e38, 1.0], dtype=ml_dtypes.bfloat16))


def test_float64_default_dtype_moves_the_suffix():
    a = np.array([1.5, 2.0])
    torch.set_default_dtype(torch.float64)
    ember.set_default_dtype(ember.float64)
    try:
        text = same_repr(a)
        assert "dtype" not in text
        assert "dtype=torch.float32" in same_repr(a.astype(np.float32))
        assert "dtype=torch.float32" in same_repr(np.zeros(0, np.float32))
    finally:
        torch.set_default_dtype(torch.float32)
        ember.set_default_dtype(ember.float32)


def test_autograd_suffixes():
    x, y = torch.ones(2, requires_grad=True), ember.ones(2, requires_grad=True)
    assert repr(y) == repr(x) == "tensor([1., 1.], requires_grad=True)"
    assert repr(y * 2) == repr(x * 2) == "tensor([2., 2.], grad_fn=<MulBackward0>)"
    assert repr((y * 2).sum()) == repr((x * 2).sum())
    assert repr(y.detach()) == repr(x.detach())
    a64 = np.arange(3, dtype=np.float64)
    assert repr(to_ember(a64, True) + 1) == repr(to_torch(a64, True) + 1)


def test_suffixes_wrap_at_linewidth():
    a = np.linspace(-1, 1, 12)  # float64 data that nearly fills the last line
    t, e = to_torch(a, True) * 3, to_ember(a, True) * 3
    assert repr(e) == repr(t)
    assert repr(e).count("\n") == repr(t).count("\n")


def test_empty_tensor_suffixes():
    assert same_repr(np.zeros((0, 3), np.float32)) == "tensor([], size=(0, 3))"
    assert same_repr(np.zeros((0,), np.int64)) == "tensor([], dtype=torch.int64)"
    e = ember.zeros(0, 2, requires_grad=True)
    assert repr(e) == repr(torch.zeros(0, 2, requires_grad=True))


@pytest.mark.parametrize("opts", [
    dict(precision=2), dict(precision=8), dict(precision=0), dict(threshold=5),
    dict(threshold=5, edgeitems=1), dict(edgeitems=0, threshold=10), dict(linewidth=40),
    dict(linewidth=200), dict(sci_mode=True), dict(sci_mode=False), dict(profile="short"),
    dict(profile="full"), dict(profile="short", precision=6),
])
def test_printoptions_match_torch(opts):
    torch.set_printoptions(**opts)
    ember.set_printoptions(**opts)
    rng = np.random.default_rng(3)
    for a in (rng.standard_normal((6, 7)).astype(np.float32), np.arange(40).reshape(2, 20),
              np.arange(2000, dtype=np.float32) * 1.5, rng.standard_normal(12) * 1e6,
              np.array([0.25, 1e-7]), np.arange(3, dtype=np.float32), np.array(2.5)):
        same_repr(a)


def test_sci_mode_is_reset_by_set_printoptions():
    ember.set_printoptions(sci_mode=True)
    ember.set_printoptions(precision=4)  # omitting sci_mode resets it, as in torch
    assert repr(ember.tensor([1.5, 2.0])) == "tensor([1.5000, 2.0000])"


def test_printoptions_context_manager_restores():
    from ember._tensor_str import get_printoptions, printoptions
    before = get_printoptions()
    with printoptions(precision=1):
        assert repr(ember.tensor([1.25])) == "tensor([1.2])"
    assert get_printoptions() == before


def test_str_of_views_and_noncontiguous():
    base = np.arange(24, dtype=np.float32).reshape(4, 6) / 3
    t, e = to_torch(base), to_ember(base)
    assert repr(e.t()) == repr(t.t())
    assert repr(e[1:, ::2]) == repr(t[1:, ::2])
    assert repr(e[2]) == repr(t[2])


def test_format_and_formatted_0dim():
    t, e = torch.tensor(2.5), ember.tensor(2.5)
    assert f"{e:.3f}" == f"{t:.3f}"
    assert f"{e}" == f"{t}"
    for lib in (torch, ember):  # 0-dim ints, bools, bfloat16; specs on bigger tensors
        assert f"{lib.tensor(7):05d}|{lib.tensor(True)}|{lib.tensor(3):>4}" == "00007|True|   3"
        assert f"{lib.tensor(1.5, dtype=lib.bfloat16):.2f}" == "1.50"
        assert f"{lib.tensor([1.5, 2.0])}" == "tensor([1.5000, 2.0000])"
    check_error(lambda lib: f"{lib.tensor([1.5]):.2f}", match="unsupported format string")
    check_error(lambda lib: f"{lib.nn.Parameter(lib.tensor(1.5)):.2f}",
                match="Parameter.__format__")


@st.composite
def float_arrays(draw):
    dtype = draw(st.sampled_from([np.float32, np.float64, np.float16]))
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=6))
    scale = draw(st.sampled_from([1.0, 1e-6, 1e-3, 1e3, 1e7, 1e9]))
    width = 16 if dtype is np.float16 else 32
    elems = st.one_of(st.floats(-1e4, 1e4, width=width),
                      st.sampled_from([math.nan, math.inf, -math.inf, -0.0]))
    a = draw(hnp.arrays(dtype, shape, elements=elems))
    if draw(st.booleans()):
        a = np.round(a)
    with np.errstate(over="ignore", invalid="ignore"):
        return (a * scale).astype(dtype)


@settings(max_examples=25, deadline=None)
@given(float_arrays())
def test_hypothesis_float_reprs(a):
    same_repr(a)


@settings(max_examples=25, deadline=None)
@given(st.sampled_from([np.int64, np.int32, np.int8, np.uint8, np.bool_]).flatmap(
    lambda d: hnp.arrays(d, hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=7))))
def test_hypothesis_integer_and_bool_reprs(a):
    same_repr(a)


@settings(max_examples=10, deadline=None)
@given(st.integers(1001, 3000), st.sampled_from([np.float32, np.int64]),
       st.integers(0, 2 ** 31))
def test_hypothesis_summarized_reprs(n, dtype, seed):
    rng = np.random.default_rng(seed)
    a = (rng.standard_normal(n) * 100).astype(dtype)
    same_repr(a)
    rows = max(1, n // 50)
    same_repr(a[: rows * 50].reshape(rows, 50))


def test_large_tensor_prints_its_corners():
    a = np.arange(4_000_000, dtype=np.int64).reshape(2000, 2000)
    text = same_repr(a)
    assert text.count("\n") == 6 and "3999999]" in text and " 1999]" in text


def test_parameter_repr_matches_torch():
    e = ember.nn.Parameter(ember.tensor([1.5, -2.0]))
    t = torch.nn.Parameter(torch.tensor([1.5, -2.0]))
    assert repr(e) == repr(t)
    e = ember.nn.Parameter(ember.zeros(2, 3, dtype=ember.float64), requires_grad=False)
    t = torch.nn.Parameter(torch.zeros(2, 3, dtype=torch.float64), requires_grad=False)
    assert repr(e) == repr(t)


def test_custom_function_node_name_in_repr():
    def run(lib):
        class Twice(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                return x * 2

            @staticmethod
            def backward(ctx, g):
                return g * 2

        return repr(Twice.apply(lib.ones(2, requires_grad=True)))

    assert run(ember) == run(torch) == "tensor([2., 2.], grad_fn=<TwiceBackward>)"
