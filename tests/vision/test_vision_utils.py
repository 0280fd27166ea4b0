"""make_grid and save_image against a grid built independently with torch ops: a
canvas of pad_value with each image copied into its cell, row by row."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from oracle import assert_same
from PIL import Image

import ember
from ember.vision.utils import make_grid, save_image


def batch(*shape, seed=0, low=0.0, high=1.0):
    return np.random.default_rng(seed).uniform(low, high, shape).astype(np.float32)


def torch_grid(t: torch.Tensor, nrow=8, padding=2, pad_value=0.0):
    if t.dim() == 3:
        t = t.unsqueeze(0)
    if t.size(1) == 1:
        t = t.repeat(1, 3, 1, 1)
    if t.size(0) == 1:
        return t[0]
    n, c, h, w = t.shape
    cols = min(nrow, n)
    rows = math.ceil(n / cols)
    grid = torch.full((c, rows * (h + padding) + padding, cols * (w + padding) + padding),
                      float(pad_value), dtype=t.dtype)
    for k in range(n):
        y, x = divmod(k, cols)
        top, left = y * (h + padding) + padding, x * (w + padding) + padding
        grid[:, top:top + h, left:left + w] = t[k]
    return grid


@pytest.mark.parametrize("n, nrow, padding, pad_value", [
    (5, 8, 2, 0.0), (7, 3, 1, 0.5), (6, 2, 0, 1.0), (4, 4, 3, 0.25), (1, 8, 2, 0.0)])
def test_make_grid_layout(n, nrow, padding, pad_value):
    a = batch(n, 3, 5, 6)
    out = make_grid(ember.tensor(a), nrow=nrow, padding=padding, pad_value=pad_value)
    assert_same(out, torch_grid(torch.tensor(a), nrow, padding, pad_value))


def test_make_grid_single_channel_list_and_2d_inputs():
    a = batch(3, 1, 4, 4)
    assert_same(make_grid(ember.tensor(a), nrow=2), torch_grid(torch.tensor(a), nrow=2))
    as_list = [ember.tensor(x) for x in a]
    assert_same(make_grid(as_list, nrow=2), torch_grid(torch.tensor(a), nrow=2))
    one = batch(4, 5)
    assert_same(make_grid(ember.tensor(one)), torch.tensor(one).expand(3, 4, 5))


def torch_normalized(t: torch.Tensor, value_range, scale_each: bool) -> torch.Tensor:
    """torchvision's documented rule: clamp to [low, high], subtract low, divide by
    max(high - low, 1e-5), with low/high the given range or the (per-image) min/max."""
    out = t.clone()
    for img in (out if scale_each else [out]):
        low, high = value_range if value_range is not None else (float(img.min()),
                                                                  float(img.max()))
        img.clamp_(min=low, max=high).sub_(low).div_(max(high - low, 1e-5))
    return out


@pytest.mark.parametrize("value_range", [None, (0.1, 0.7), (-1.0 / 3, 2.9)])
@pytest.mark.parametrize("scale_each", [False, True])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_make_grid_normalize_is_exact(value_range, scale_each, seed):
    a = batch(4, 3, 3, 3, seed=seed, low=-2.0, high=5.0)
    expected = torch_grid(torch_normalized(torch.tensor(a), value_range, scale_each))
    out = make_grid(ember.tensor(a), normalize=True, value_range=value_range,
                    scale_each=scale_each)
    assert_same(out, expected, rtol=0, atol=0)  # save_image rounds these: bits matter
    x = ember.tensor(a)
    make_grid(x, normalize=True, value_range=value_range, scale_each=scale_each)
    np.testing.assert_array_equal(x.numpy(), a)  # the input is left alone


def test_make_grid_normalize_constant_image():
    out = make_grid(ember.full((2, 3, 2, 2), 0.7), normalize=True, padding=0)
    np.testing.assert_array_equal(out.numpy(), np.zeros((3, 2, 4), np.float32))


def test_make_grid_errors():
    with pytest.raises(TypeError, match="tensor or list of tensors expected, got <class 'str'>"):
        make_grid("x")
    with pytest.raises(TypeError, match="a list containing <class 'int'>"):
        make_grid([ember.zeros(3, 2, 2), 1])
    with pytest.raises(TypeError, match="value_range has to be a tuple"):
        make_grid(ember.zeros(2, 3, 2, 2), normalize=True, value_range=[0, 1])


def test_save_image_writes_the_rounded_grid(tmp_path):
    a = batch(5, 3, 6, 7)
    a[0, 0, 0, 0], a[0, 1, 0, 0] = 1.2, -0.3  # clamped
    path = tmp_path / "grid.png"
    save_image(ember.tensor(a), str(path), nrow=3, padding=1, pad_value=1.0)
    grid = torch_grid(torch.tensor(a), nrow=3, padding=1, pad_value=1.0)
    expected = grid.mul(255).add_(0.5).clamp_(0, 255).permute(1, 2, 0).to(torch.uint8).numpy()
    with Image.open(path) as im:
        assert im.format == "PNG" and im.mode == "RGB"
        np.testing.assert_array_equal(np.asarray(im), expected)
    with open(tmp_path / "f.bin", "wb") as f:
        save_image(ember.tensor(a[0]), f, format="png")
    with Image.open(tmp_path / "f.bin") as im:
        assert im.size == (7, 6)
