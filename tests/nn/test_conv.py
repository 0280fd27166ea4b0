"""Convolutions, transposed convolutions, unfold and fold against torch."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from oracle import check, check_error, randn

import ember
from ember.autograd import gradcheck, gradgradcheck


def F(lib):
    return lib.nn.functional


# ----------------------------------------------------------------- forward and gradients
@pytest.mark.parametrize("kw", [
    {}, {"padding": 1}, {"stride": 2, "padding": (1, 2)}, {"dilation": 2, "padding": "same"},
    {"groups": 2, "stride": (2, 1)}, {"padding": "valid"}, {"padding": "same"},
    {"dilation": (2, 1), "stride": (1, 3), "padding": (2, 0), "groups": 4},
])
def test_conv2d(kw):
    g = kw.get("groups", 1)
    check(lambda lib, x, w, b: F(lib).conv2d(x, w, b, **kw),
          randn(2, 4, 7, 6), randn(8, 4 // g, 3, 2, seed=1), randn(8, seed=2))


def test_conv2d_same_even_kernel_pads_more_at_the_end():
    check(lambda lib, x, w: F(lib).conv2d(x, w, padding="same", dilation=(1, 3)),
          randn(1, 2, 6, 7), randn(3, 2, 4, 2, seed=1))


@pytest.mark.parametrize("kw", [{}, {"stride": 2, "padding": 2, "dilation": 2},
                                {"groups": 2, "padding": "same"}])
def test_conv1d(kw):
    g = kw.get("groups", 1)
    check(lambda lib, x, w, b: F(lib).conv1d(x, w, b, **kw),
          randn(2, 4, 9), randn(6, 4 // g, 3, seed=1), randn(6, seed=2))


@pytest.mark.parametrize("kw", [{}, {"stride": 2, "padding": 1, "groups": 2},
                                {"dilation": (1, 2, 1), "padding": "same"}])
def test_conv3d(kw):
    g = kw.get("groups", 1)
    check(lambda lib, x, w, b: F(lib).conv3d(x, w, b, **kw),
          randn(2, 4, 5, 6, 5), randn(6, 4 // g, 3, 3, 2, seed=1), randn(6, seed=2))


def test_conv_unbatched_empty_and_noncontiguous():
    check(lambda lib, x, w, b: F(lib).conv2d(x, w, b), randn(4, 7, 6),
          randn(6, 4, 3, 2, seed=1), randn(6, seed=2))
    check(lambda lib, x, w: F(lib).conv1d(x, w, padding=1), randn(3, 5), randn(2, 3, 3, seed=1))
    check(lambda lib, x, w, b: F(lib).conv2d(x, w, b), randn(0, 4, 5, 5),
          randn(6, 4, 3, 3, seed=1), randn(6, seed=2))
    check(lambda lib, x, w: F(lib).conv_transpose2d(x, w, stride=2), randn(0, 4, 5, 5),
          randn(4, 2, 3, 3, seed=1))
    # channels-last memory and a transposed weight
    x = randn(2, 6, 5, 4).transpose(0, 3, 1, 2)
    w = randn(3, 3, 4, 2, seed=1).transpose(1, 2, 0, 3)
    check(lambda lib, x, w: F(lib).conv2d(x, w, stride=2, padding=1), x, w)


@pytest.mark.parametrize("dtype", [np.float32, np.float16, "bfloat16"])
def test_conv_dtypes(dtype):
    import ml_dtypes
    dt = ml_dtypes.bfloat16 if dtype == "bfloat16" else dtype
    tol = {} if dtype == np.float32 else {"rtol": 2e-2, "atol": 5e-2}
    e, _ = check(lambda lib, x, w, b: F(lib).conv2d(x, w, b, padding=1),
                 randn(2, 3, 5, 5, dtype=dt), (randn(4, 3, 3, 3, seed=1) * 0.3).astype(dt),
                 randn(4, seed=2, dtype=dt), **tol)
    assert e.is_contiguous()


def test_conv_int64_matches_torch():
    x = np.arange(2 * 3 * 4 * 4).reshape(2, 3, 4, 4) % 7
    w = np.arange(5 * 3 * 2 * 2).reshape(5, 3, 2, 2) % 5 - 2
    check(lambda lib, x, w: F(lib).conv2d(x, w, stride=2), x, w)


@settings(max_examples=25, deadline=None)
@given(k=st.tuples(st.integers(1, 3), st.integers(1, 3)), s=st.tuples(st.integers(1, 3),
       st.integers(1, 3)), p=st.tuples(st.integers(0, 2), st.integers(0, 2)),
       d=st.tuples(st.integers(1, 2), st.integers(1, 2)), g=st.sampled_from([1, 2]),
       bias=st.booleans())
def test_conv2d_hyperparameters(k, s, p, d, g, bias):
    x, w, b = randn(2, 4, 7, 8), randn(4, 4 // g, *k, seed=1), randn(4, seed=2)
    if bias:
        check(lambda lib, x, w, b: F(lib).conv2d(x, w, b, s, p, d, g), x, w, b)
    else:
        check(lambda lib, x, w: F(lib).conv2d(x, w, None, s, p, d, g), x, w)


@pytest.mark.parametrize("kw", [
    {}, {"stride": 2, "output_padding": 1}, {"padding": 1},
    {"stride": (2, 3), "padding": (1, 2), "output_padding": (1, 2), "dilation": (1, 2)},
    {"groups": 2, "stride": 2, "dilation": 2, "output_padding": 1},
])
def test_conv_transpose2d(kw):
    g = kw.get("groups", 1)
    check(lambda lib, x, w, b: F(lib).conv_transpose2d(x, w, b, **kw),
          randn(2, 4, 5, 6), randn(4, 6 // g, 3, 3, seed=1), randn(6, seed=2))


def test_conv_transpose1d_and_3d():
    check(lambda lib, x, w, b: F(lib).conv_transpose1d(x, w, b, 3, 1, 2, 1, 2),
          randn(2, 4, 5), randn(4, 3, 3, seed=1), randn(3, seed=2))
    check(lambda lib, x, w: F(lib).conv_transpose1d(x, w, stride=2), randn(4, 5),
          randn(4, 3, 3, seed=1))
    check(lambda lib, x, w: F(lib).conv_transpose3d(x, w, stride=2, padding=1),
          randn(1, 2, 3, 4, 3), randn(2, 3, 3, 2, 3, seed=1))


@settings(max_examples=15, deadline=None)
@given(k=st.integers(1, 3), s=st.integers(1, 3), p=st.integers(0, 2), d=st.integers(1, 2),
       op=st.integers(0, 1), g=st.sampled_from([1, 2]))
def test_conv_transpose2d_hyperparameters(k, s, p, d, op, g):
    if op >= s and op >= d or (4 - 1) * s - 2 * p + d * (k - 1) + op + 1 <= 0:
        return
    check(lambda lib, x, w: F(lib).conv_transpose2d(x, w, None, s, p, op, g, d),
          randn(2, 4, 4, 5), randn(4, 6 // g, k, k, seed=1))


def test_conv_gradcheck_and_double_backward():
    def t(*shape, seed=0):
        return ember.tensor(randn(*shape, seed=seed), requires_grad=True)
    x, w, b = t(1, 4, 4, 4), t(4, 2, 3, 3, seed=1), t(4, seed=2)
    assert gradcheck(lambda x, w, b: F(ember).conv2d(x, w, b, 2, 1, (1, 2), 2), (x, w, b))
    assert gradgradcheck(lambda x, w, b: F(ember).conv2d(x, w, b, 2, 1, (1, 2), 2), (x, w, b))
    wt = t(4, 2, 2, 3, seed=3)
    assert gradgradcheck(lambda x, w: F(ember).conv_transpose2d(x, w, None, 2, 1, 1), (x, wt))
    assert gradgradcheck(lambda x, w: F(ember).conv1d(x, w, stride=2),
                         (t(1, 2, 7), t(3, 2, 3, seed=4)))


def test_conv_double_backward_matches_torch():
    def run(lib, x, w):
        y = F(lib).conv2d(x, w, stride=2, padding=1)
        gx, gw = lib.autograd.grad((y ** 2).sum(), (x, w), create_graph=True)
        return (gx ** 2).sum() + (gw ** 3).sum()
    check(run, randn(2, 3, 6, 5), randn(4, 3, 3, 3, seed=1))


def test_conv_node_names():
    x = ember.randn(1, 2, 5, 5, dtype=ember.float64, requires_grad=True)
    w = ember.randn(3, 2, 3, 3, dtype=ember.float64, requires_grad=True)
    y = F(ember).conv2d(x, w)
    assert y.grad_fn.name() == "ConvolutionBackward0"
    gx, = ember.autograd.grad(y.sum(), x, create_graph=True)
    assert gx.grad_fn.name() == "ConvolutionBackwardBackward0"
    assert F(ember).conv_transpose2d(y, w).grad_fn.name() == "ConvolutionBackward0"
    assert F(ember).unfold(x, 2).grad_fn.name() == "Im2ColBackward0"
    assert F(ember).fold(F(ember).unfold(x, 2), (5, 5), 2).grad_fn.name() == "Col2ImBackward0"


# ----------------------------------------------------------------- errors
X, W = randn(2, 4, 5, 5), randn(6, 4, 3, 3)


@pytest.mark.parametrize("fn, args, match", [
    (lambda lib, x, w: F(lib).conv2d(x[0, 0], w), (X, W), "Expected 3D \\(unbatched\\) or 4D"),
    (lambda lib, x, w: F(lib).conv2d(x, w[:, :3]), (X, W), "to have 3 channels, but got 4"),
    (lambda lib, x, w: F(lib).conv2d(x, w[:, :2], groups=3), (X, W), "groups=3, weight"),
    (lambda lib, x, w: F(lib).conv2d(x, w[:5, :2], groups=2), (X, W), "divisible by 2"),
    (lambda lib, x, w: F(lib).conv2d(x, w, padding=0, dilation=3), (X, W),
     "Kernel size: \\(7 x 7\\). Kernel size can't be greater"),
    (lambda lib, x, w: F(lib).conv2d(x, w, stride=0), (X, W), "non-positive stride"),
    (lambda lib, x, w: F(lib).conv2d(x, w, padding=-1), (X, W), "negative padding"),
    (lambda lib, x, w: F(lib).conv2d(x, w, dilation=0), (X, W), "non-positive dilation"),
    (lambda lib, x, w: F(lib).conv2d(x, w, groups=0), (X, W), "non-positive groups"),
    (lambda lib, x, w: F(lib).conv2d(x, w, padding="same", stride=2), (X, W),
     "not supported for strided"),
    (lambda lib, x, w: F(lib).conv2d(x, w, padding="foo"), (X, W), "Invalid padding string"),
    (lambda lib, x, w: F(lib).conv2d(x, w.double()), (X.astype(np.float32), W),
     "Input type \\(torch.FloatTensor\\) and weight type \\(torch.DoubleTensor\\)"),
    (lambda lib, x, w: F(lib).conv2d(x, w, w[:5, 0, 0, 0]), (X, W), "expected bias to be"),
    (lambda lib, x, w: F(lib).conv2d(x, w, w[:, 0, 0, 0].float()), (X, W),
     "Input type \\(double\\) and bias type \\(float\\)"),
    (lambda lib, x, w: F(lib).conv2d(x, w, stride=(1, 2, 3)), (X, W),
     "list of 2 values to match the convolution dimensions, but got stride=\\[1, 2, 3\\]"),
    (lambda lib, x, w: F(lib).conv2d(x.bool(), w.bool()), (X, W), "not implemented for 'Bool'"),
    (lambda lib, x, w: F(lib).conv_transpose2d(x, w[:4, :3], output_padding=1), (X, W),
     "output padding must be smaller than either stride or dilation, but got "
     "output_padding_height: 1 output_padding_width: 1 stride_height: 1"),
    (lambda lib, x, w: F(lib).conv_transpose2d(x, w[:5, :3]), (X, W), "transposed=1"),
    (lambda lib, x, w: F(lib).conv_transpose2d(x, w[:4], padding="same"), (X, W),
     "must be tuple of ints, not str"),
    (lambda lib, x, w: F(lib).unfold(x[0, 0], 2), (X, W), "Dimension out of range"),
    (lambda lib, x, w: F(lib).unfold(x[None], 2), (X, W), "Expected 3D or 4D \\(batch mode\\)"),
    (lambda lib, x, w: F(lib).fold(x, (3, 3), 2), (X, W), "Expected 2D or 3D \\(batch mode\\)"),
    (lambda lib, x, w: F(lib).unfold(x, 7), (X, W), "calculated shape of the array of sliding"),
    (lambda lib, x, w: F(lib).fold(x[:, :, :, 0], (5, 5), 3), (X, W), "divisible by the "),
    (lambda lib, x, w: F(lib).fold(x[0, :, :4], (5, 5), 2), (X, W),
     "4 \\* 4 = 16, but got input.size\\(2\\)=5"),
])
def test_conv_errors(fn, args, match):
    check_error(fn, *args, match=match)


# ----------------------------------------------------------------- unfold / fold
@pytest.mark.parametrize("kw", [
    {"kernel_size": 2}, {"kernel_size": (2, 3), "dilation": (1, 2), "padding": 1,
                         "stride": (2, 1)},
    {"kernel_size": 3, "padding": (0, 2), "stride": 3},
])
def test_unfold_fold(kw):
    check(lambda lib, x: F(lib).unfold(x, **kw), randn(2, 3, 6, 7))
    check(lambda lib, x: F(lib).unfold(x, **kw), randn(3, 6, 7))
    blocks = F(torch).unfold(torch.zeros(1, 1, 6, 7), **kw).shape[-1]
    k = kw["kernel_size"]
    kp = k * k if isinstance(k, int) else k[0] * k[1]
    check(lambda lib, x: F(lib).fold(x, (6, 7), **kw), randn(2, 2 * kp, blocks))
    check(lambda lib, x: F(lib).fold(x, (6, 7), **kw), randn(2 * kp, blocks))


def test_fold_unfold_double_backward():
    x = ember.tensor(randn(1, 2, 4, 5), requires_grad=True)
    assert gradgradcheck(lambda x: F(ember).fold(F(ember).unfold(x, 2, padding=1) * x.sum(),
                                                 (4, 5), 2, padding=1), (x,))


# ----------------------------------------------------------------- modules
@pytest.mark.parametrize("cls, args, kw, shape", [
    ("Conv1d", (4, 6, 3), {"stride": 2, "padding": 1}, (2, 4, 9)),
    ("Conv1d", (4, 6, 3), {"padding": "same", "padding_mode": "circular", "dilation": 2},
     (2, 4, 9)),
    ("Conv2d", (4, 6, 3), {}, (2, 4, 7, 6)),
    ("Conv2d", (4, 6, (3, 2)), {"stride": (2, 1), "padding": (1, 2), "dilation": (2, 1),
                                "groups": 2, "bias": False}, (2, 4, 7, 6)),
    ("Conv2d", (4, 6, 3), {"padding": 1, "padding_mode": "reflect"}, (2, 4, 7, 6)),
    ("Conv2d", (4, 6, 3), {"padding": (2, 1), "padding_mode": "replicate"}, (4, 7, 6)),
    ("Conv2d", (4, 6, 4), {"padding": "same", "padding_mode": "reflect"}, (2, 4, 7, 6)),
    ("Conv3d", (2, 4, 3), {"padding": 1, "groups": 2}, (1, 2, 4, 5, 4)),
    ("ConvTranspose1d", (4, 6, 3), {"stride": 2, "output_padding": 1}, (2, 4, 5)),
    ("ConvTranspose2d", (4, 6, 3), {"stride": 2, "padding": 1, "groups": 2}, (2, 4, 5, 4)),
    ("ConvTranspose3d", (2, 4, 2), {"stride": 2}, (1, 2, 3, 2, 3)),
])
def test_conv_modules(cls, args, kw, shape):
    from oracle import check_module
    em, tm = check_module(lambda lib: getattr(lib.nn, cls)(*args, **kw, dtype=lib.float64),
                          randn(*shape))
    assert repr(em) == repr(tm)


def test_conv_transpose_output_size():
    from oracle import check_module
    check_module(lambda lib: lib.nn.ConvTranspose2d(2, 3, 3, stride=2, dtype=lib.float64),
                 randn(1, 2, 4, 4), call=lambda m, x: m(x, output_size=(1, 3, 10, 9)))
    check_error(lambda lib, x: lib.nn.ConvTranspose2d(2, 3, 3, stride=2)(x, output_size=(12, 12)),
                randn(1, 2, 4, 4).astype(np.float32), match="valid sizes range from \\[9, 9\\]")
    check_error(lambda lib, x: lib.nn.ConvTranspose2d(2, 3, 3)(x, output_size=(1, 12, 12)),
                randn(1, 2, 4, 4).astype(np.float32), match="must have 2 or 4 elements")


@pytest.mark.parametrize("make, match", [
    (lambda lib: lib.nn.Conv2d(2, 4, 3, groups=0), "groups must be a positive integer"),
    (lambda lib: lib.nn.Conv2d(3, 4, 3, groups=2), "in_channels must be divisible by groups"),
    (lambda lib: lib.nn.Conv2d(2, 3, 3, groups=2), "out_channels must be divisible by groups"),
    (lambda lib: lib.nn.Conv2d(2, 4, 3, padding="foo"), "Invalid padding string 'foo'"),
    (lambda lib: lib.nn.Conv2d(2, 4, 3, padding="same", stride=2), "strided convolutions"),
    (lambda lib: lib.nn.Conv2d(2, 4, 3, padding_mode="bar"), "but got padding_mode='bar'"),
    (lambda lib: lib.nn.ConvTranspose2d(2, 4, 3, padding_mode="reflect"),
     'Only "zeros" padding mode is supported for ConvTranspose2d'),
])
def test_conv_module_errors(make, match):
    check_error(make, match=match)


def test_conv_default_init_and_state():
    m = ember.nn.Conv2d(3, 8, (3, 5), groups=1)
    bound = 1 / np.sqrt(3 * 15)
    w, b = m.weight.detach().numpy(), m.bias.detach().numpy()
    assert w.dtype == np.float32 and w.shape == (8, 3, 3, 5)
    assert np.abs(w).max() <= bound and np.abs(w).max() > bound / 2
    assert np.abs(b).max() <= bound and b.std() > 0
    assert list(m.state_dict()) == ["weight", "bias"]
    t = ember.nn.ConvTranspose2d(4, 6, 3, groups=2, bias=False)
    assert t.weight.shape == (4, 3, 3, 3) and t.bias is None
    assert np.abs(t.weight.detach().numpy()).max() <= 1 / np.sqrt(27)
    assert repr(ember.nn.Conv2d(3, 16, 3)) == "Conv2d(3, 16, kernel_size=(3, 3), stride=(1, 1))"


def test_fold_modules():
    from oracle import check_module
    em, tm = check_module(lambda lib: lib.nn.Unfold((2, 3), padding=1, stride=2),
                          randn(2, 3, 5, 6))
    assert repr(em) == repr(tm)
    em, tm = check_module(lambda lib: lib.nn.Fold((5, 6), 2, dilation=2), randn(2, 8, 12))
    assert repr(em) == repr(tm)
