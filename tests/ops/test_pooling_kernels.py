"""Max pooling's gradient paths against torch: the per-offset masked write for windows
that do not overlap (ties after a ReLU, padding, 3-d), and the index scatter it leaves
to overlapping windows, NaN inputs and non-finite gradients."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from oracle import assert_same, check, check_error

import ember


def F(lib):
    return lib.nn.functional


def _tied(*shape, seed=0):
    """ReLU-like data: many zeros, so windows often hold several equal maxima."""
    rng = np.random.default_rng(seed)
    return np.maximum(rng.integers(-2, 3, shape), 0).astype(np.float64)


@pytest.mark.parametrize("kw", [
    {"kernel_size": 2}, {"kernel_size": 3, "stride": 3, "padding": 1},
    {"kernel_size": 2, "ceil_mode": True}, {"kernel_size": (2, 3), "dilation": (2, 1),
                                            "stride": (3, 3)},
    {"kernel_size": 3, "stride": 2, "padding": 1},  # overlapping windows
])
def test_max_pool2d_ties_match_torch(kw):
    check(lambda lib, x: F(lib).max_pool2d(x, **kw), _tied(2, 3, 9, 8))
    check(lambda lib, x: F(lib).max_pool2d(x, return_indices=True, **kw)[1],
          _tied(2, 3, 9, 8), grad=False)


def test_max_pool3d_and_1d_ties_match_torch():
    check(lambda lib, x: F(lib).max_pool3d(x, 2), _tied(2, 2, 4, 6, 5))
    check(lambda lib, x: F(lib).max_pool1d(x, 3), _tied(2, 3, 10))


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_max_pool2d_nonfinite_gradient_goes_to_the_max_only(bad):
    x = _tied(2, 3, 8, 8)
    g = np.random.default_rng(1).standard_normal((2, 3, 4, 4))
    g[0, 0, 1, 1] = g[1, 2, 3, 0] = bad
    grads = []
    for lib in (torch, ember):
        xt = lib.tensor(x, requires_grad=True)
        F(lib).max_pool2d(xt, 2).backward(lib.tensor(g))
        grads.append(xt.grad)
    assert_same(grads[1], grads[0])


def test_max_pool2d_nan_input_wins_its_window():
    x = _tied(2, 3, 8, 8)
    x[0, 0, 1, 1] = x[1, 1, 4, 5] = np.nan
    check(lambda lib, x: F(lib).max_pool2d(x, 2), x)


def test_max_pool2d_double_backward_through_masked_gradient():
    def run(lib, x):
        y = F(lib).max_pool2d(x, 2)
        (gx,) = lib.autograd.grad((y ** 2).sum(), (x,), create_graph=True)
        return (gx ** 3).sum()
    check(run, np.random.default_rng(0).standard_normal((2, 3, 6, 6)))


def test_max_pool2d_indices_only_when_asked():
    x = ember.randn(2, 3, 8, 8, requires_grad=True)
    y = F(ember).max_pool2d(x, 2)
    assert isinstance(y, ember.Tensor) and y.grad_fn.name() == "MaxPool2DWithIndicesBackward0"
    values, indices = F(ember).max_pool2d(x, 2, return_indices=True)
    assert_same(values, F(torch).max_pool2d(torch.tensor(x.detach().numpy()), 2))
    assert indices.dtype == ember.int64 and not indices.requires_grad


def test_max_pool2d_input_changed_in_place_before_backward_raises():
    def run(lib, x):
        y = x.requires_grad_() * 1
        z = F(lib).max_pool2d(y, 2)
        y.add_(1)
        z.sum().backward()
    check_error(run, np.random.default_rng(0).standard_normal((1, 2, 4, 4)),
                match="modified by an inplace operation")


# Windows that tile the input exactly (kernel == stride, no padding or dilation, sizes
# divisible) take a reshaped forward and an unzeroed gradient; the rest the strided path.
@pytest.mark.parametrize("shape,kw", [
    ((2, 3, 8, 6), {"kernel_size": 2}),
    ((2, 2, 6, 8), {"kernel_size": (3, 4)}),
    ((2, 3, 6, 8), {"kernel_size": (2, 1)}),
    ((2, 3, 6, 8), {"kernel_size": (1, 2)}),
    ((2, 3, 4, 5), {"kernel_size": 1}),
    ((3, 8, 8), {"kernel_size": 4, "stride": 4}),  # no batch dim
    ((2, 3, 7, 6), {"kernel_size": 2}),  # odd height: strided path
    ((2, 3, 8, 8), {"kernel_size": 2, "stride": 1}),  # overlapping: strided path
])
def test_max_pool2d_tiled_windows_ties_match_torch(shape, kw):
    check(lambda lib, x: F(lib).max_pool2d(x, **kw), _tied(*shape, seed=3))
    check(lambda lib, x: F(lib).max_pool2d(x, return_indices=True, **kw)[1],
          _tied(*shape, seed=3), grad=False)


def test_max_pool2d_tiled_all_zero_windows_first_offset_gets_gradient():
    x = np.zeros((1, 1, 4, 4))
    x[0, 0, 1, 1] = x[0, 0, 1, 0] = 5.0  # a tie at offsets 2 and 3 of the first window
    check(lambda lib, x: F(lib).max_pool2d(x, 2), x)
    xe = ember.tensor(x, requires_grad=True)
    F(ember).max_pool2d(xe, 2).sum().backward()
    expect = np.zeros((4, 4))
    expect[1, 0] = expect[0, 2] = expect[2, 0] = expect[2, 2] = 1.0
    assert np.array_equal(xe.grad.numpy()[0, 0], expect)


def test_max_pool2d_tiled_large_window_and_low_precision():
    check(lambda lib, x: F(lib).max_pool2d(x, 12), _tied(1, 2, 12, 24, seed=4))
    check(lambda lib, x: F(lib).max_pool2d(x, 2),
          np.random.default_rng(5).standard_normal((2, 3, 4, 6)).astype(np.float16))
    check(lambda lib, x: F(lib).max_pool2d(x, 2), _tied(2, 3, 4, 6).astype(np.int64))


def test_max_pool2d_tiled_non_contiguous_input_and_1d():
    x = np.random.default_rng(6).standard_normal((2, 6, 4, 3))
    check(lambda lib, x: F(lib).max_pool2d(x.transpose(1, 3), 2), x)
    check(lambda lib, x: F(lib).max_pool1d(x, 2), _tied(2, 3, 10, seed=7))


def test_max_pool2d_tiled_nan_and_inf_inputs():
    x = _tied(2, 2, 4, 4, seed=8)
    x[0, 0, 0, 1] = np.nan
    x[1, 1, 2, 3] = np.inf
    x[1, 0, 3, 3] = -np.inf
    check(lambda lib, x: F(lib).max_pool2d(x, 2), x)
    check(lambda lib, x: F(lib).max_pool2d(x, 2, return_indices=True)[1], x, grad=False)


def test_max_pool2d_tiled_double_backward_with_ties():
    def run(lib, x):
        y = F(lib).max_pool2d(x, (2, 3))
        (gx,) = lib.autograd.grad((y ** 2).sum(), (x,), create_graph=True)
        return (gx ** 3).sum()
    check(run, _tied(2, 2, 4, 6, seed=9))
