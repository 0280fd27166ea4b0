"""transforms.functional on tensor images, against the same computation done in torch
(torchvision's tensor kernels are torch ops, so torch itself is the oracle)."""
from __future__ import annotations

import colorsys
import math

import numpy as np
import pytest
import torch
from oracle import assert_same, to_torch

import ember
from ember.vision.transforms import functional as F
from ember.vision.transforms.functional import InterpolationMode as IM


def img(*shape, dtype=np.float32, seed=0):
    rng = np.random.default_rng(seed)
    if np.dtype(dtype).kind == "u":
        return rng.integers(0, 256, shape).astype(dtype)
    return rng.random(shape).astype(dtype)


def E(a):
    return ember.tensor(a)


# ----------------------------------------------------------------------------- normalize
@pytest.mark.parametrize("shape", [(3, 5, 6), (2, 3, 4, 4)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_normalize_matches_torch(shape, dtype):
    a = img(*shape, dtype=dtype)
    mean, std = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
    tt = to_torch(a)
    expected = (tt - torch.tensor(mean, dtype=tt.dtype).view(-1, 1, 1)) / torch.tensor(
        std, dtype=tt.dtype).view(-1, 1, 1)
    x = E(a)
    out = F.normalize(x, mean, std)
    assert_same(out, expected)
    assert_same(x, tt)  # out of place by default


def test_normalize_inplace_and_grad():
    x = E(img(3, 4, 4))
    out = F.normalize(x, [0.5, 0.5, 0.5], [0.25, 0.5, 1.0], inplace=True)
    assert out is x
    leaf = E(img(3, 2, 2, dtype=np.float64)).requires_grad_()
    F.normalize(leaf, [0.1, 0.2, 0.3], [2.0, 4.0, 8.0]).sum().backward()
    np.testing.assert_allclose(leaf.grad.numpy()[:, 0, 0], [0.5, 0.25, 0.125])


def test_normalize_errors():
    with pytest.raises(TypeError, match="float tensor"):
        F.normalize(E(img(3, 4, 4, dtype=np.uint8)), [0.5] * 3, [0.5] * 3)
    with pytest.raises(ValueError, match=r"\(\.\.\., C, H, W\)"):
        F.normalize(E(img(4, 4)), [0.5], [0.5])
    with pytest.raises(ValueError, match="std evaluated to zero"):
        F.normalize(E(img(3, 4, 4)), [0.5] * 3, [0.5, 0.0, 0.5])
    with pytest.raises(TypeError, match="Tensor Image"):
        F.normalize(img(3, 4, 4), [0.5] * 3, [0.5] * 3)
    # a mean with the wrong number of channels fails the way torch's broadcast does
    with pytest.raises(RuntimeError) as t_err:
        torch.tensor(img(3, 4, 4)).sub_(torch.tensor([0.5, 0.5]).view(-1, 1, 1))
    with pytest.raises(type(t_err.value)):
        F.normalize(E(img(3, 4, 4)), [0.5, 0.5], [0.5, 0.5])


# ----------------------------------------------------------------------------- resize
@pytest.mark.parametrize("size", [(16, 20), (40, 9), (7, 33), (24, 24)])
@pytest.mark.parametrize("mode", ["bilinear", "bicubic"])
def test_resize_antialias_matches_torch_interpolate(size, mode):
    a = img(2, 3, 24, 30)
    out = F.resize(E(a), list(size), IM(mode))
    expected = torch.nn.functional.interpolate(torch.tensor(a), size=size, mode=mode,
                                               align_corners=False, antialias=True)
    assert_same(out, expected, rtol=1e-5, atol=2e-6)


@pytest.mark.parametrize("mode", ["bilinear", "nearest", "bicubic"])
def test_resize_without_antialias_matches_torch_interpolate(mode):
    a = img(3, 13, 17)
    out = F.resize(E(a), [20, 8], IM(mode), antialias=False)
    expected = torch.nn.functional.interpolate(
        torch.tensor(a)[None], size=(20, 8), mode=mode,
        align_corners=None if mode == "nearest" else False, antialias=False)[0]
    assert_same(out, expected)


def test_resize_int_size_keeps_aspect_and_uint8_rounds():
    a = img(1, 3, 30, 45, dtype=np.uint8)
    out = F.resize(E(a), 20)  # shorter side (30) -> 20, longer 45 -> int(20 * 45 / 30) = 30
    assert tuple(out.shape) == (1, 3, 20, 30) and out.dtype == ember.uint8
    expected = torch.nn.functional.interpolate(torch.tensor(a).float(), size=(20, 30),
                                               mode="bilinear", antialias=True).round().byte()
    assert_same(out, expected)
    tall = F.resize(E(img(3, 45, 30)), [20])
    assert tuple(tall.shape) == (3, 30, 20)
    assert F.resize(E(a), 30) is not None and tuple(F.resize(E(a), 30).shape) == a.shape
    capped = F.resize(E(img(3, 10, 40)), 8, max_size=16)
    assert tuple(capped.shape) == (3, 4, 16)


def test_resize_keeps_grad():
    x = E(img(3, 8, 8, dtype=np.float64)).requires_grad_()
    F.resize(x, [4, 4]).sum().backward()
    # each output averages its inputs, so the gradient sums to the number of outputs
    np.testing.assert_allclose(x.grad.numpy().sum(), 3 * 16)


def test_resize_errors():
    x = E(img(3, 8, 8))
    with pytest.raises(ValueError, match="1 or 2 element"):
        F.resize(x, [1, 2, 3])
    with pytest.raises(ValueError, match="max_size should only be passed"):
        F.resize(x, [4, 4], max_size=10)
    with pytest.raises(ValueError, match="must be strictly greater"):
        F.resize(x, 4, max_size=4)
    with pytest.raises(TypeError, match="InterpolationMode"):
        F.resize(x, 4, interpolation="bilinear")
    with pytest.raises(TypeError, match="not a torch image"):
        F.resize(E(np.zeros(5, np.float32)), 4)


# ----------------------------------------------------------------------------- crops, flips, pad
def test_crop_center_crop_and_flips_match_torch_slicing():
    a = img(2, 3, 10, 13)
    t = torch.tensor(a)
    assert_same(F.crop(E(a), 2, 3, 5, 6), t[..., 2:7, 3:9])
    assert_same(F.center_crop(E(a), 4), t[..., 3:7, 4:8])  # round((10-4)/2), round((13-4)/2)
    assert_same(F.center_crop(E(a), [5, 6]), t[..., 2:7, 4:10])
    assert_same(F.hflip(E(a)), t.flip(-1))
    assert_same(F.vflip(E(a)), t.flip(-2))


def test_crop_outside_the_image_pads_with_zeros():
    a = img(3, 6, 6)
    t = torch.nn.functional.pad(torch.tensor(a), (2, 1, 1, 0))  # l, r, t, b
    assert_same(F.crop(E(a), -1, -2, 7, 9), t)
    big = F.center_crop(E(a), [9, 8])  # pads (1, 1) left/right, (1, 2) top/bottom
    assert_same(big, torch.nn.functional.pad(torch.tensor(a), (1, 1, 1, 2)))


@pytest.mark.parametrize("padding, ltrb", [(2, (2, 2, 2, 2)), ([1, 3], (1, 3, 1, 3)),
                                           ((1, 2, 3, 4), (1, 2, 3, 4)), ([2], (2, 2, 2, 2))])
@pytest.mark.parametrize("mode", ["constant", "edge", "reflect", "symmetric"])
def test_pad_modes_match_numpy(padding, ltrb, mode):
    a = img(3, 5, 6, dtype=np.uint8)
    out = F.pad(E(a), padding, fill=7, padding_mode=mode)
    left, top, right, bottom = ltrb
    np_mode = {"edge": "edge", "reflect": "reflect", "symmetric": "symmetric"}.get(mode)
    widths = ((0, 0), (top, bottom), (left, right))
    expected = (np.pad(a, widths, constant_values=7) if mode == "constant"
                else np.pad(a, widths, mode=np_mode))
    assert out.dtype == ember.uint8
    np.testing.assert_array_equal(out.numpy(), expected)


def test_pad_batched_float_matches_torch():
    a = img(2, 3, 5, 6)
    out = F.pad(E(a), [1, 2, 3, 4], padding_mode="reflect")
    assert_same(out, torch.nn.functional.pad(torch.tensor(a), (1, 3, 2, 4), mode="reflect"))


def test_pad_errors():
    x = E(img(3, 4, 4))
    with pytest.raises(ValueError, match="1, 2, or 4 element"):
        F.pad(x, [1, 2, 3])
    with pytest.raises(ValueError, match="Padding mode should be"):
        F.pad(x, 1, padding_mode="wrap")
    with pytest.raises(TypeError, match="padding arg"):
        F.pad(x, "1")


# ----------------------------------------------------------------------------- color
def _gray_torch(t):
    r, g, b = t.unbind(dim=-3)
    return (0.2989 * r + 0.587 * g + 0.114 * b).to(t.dtype).unsqueeze(-3)


@pytest.mark.parametrize("dtype", [np.float32, np.uint8])
def test_rgb_to_grayscale(dtype):
    a = img(2, 3, 4, 5, dtype=dtype)
    expected = _gray_torch(torch.tensor(a))
    assert_same(F.rgb_to_grayscale(E(a)), expected)
    assert_same(F.rgb_to_grayscale(E(a), 3), expected.expand(2, 3, 4, 5))
    with pytest.raises(ValueError, match="1 or 3"):
        F.rgb_to_grayscale(E(a), 2)
    with pytest.raises(TypeError, match="permitted channel values"):
        F.rgb_to_grayscale(E(img(2, 4, 4)))


@pytest.mark.parametrize("dtype", [np.float32, np.uint8])
@pytest.mark.parametrize("factor", [0.0, 0.6, 1.7])
def test_brightness_contrast_saturation_match_torch_blends(dtype, factor):
    a = img(2, 3, 6, 7, dtype=dtype)
    t = torch.tensor(a)
    bound = 1.0 if dtype == np.float32 else 255

    def blend(x, y):
        return (factor * x + (1.0 - factor) * y).clamp(0, bound).to(t.dtype)
    mean = _gray_torch(t).to(torch.float32 if dtype == np.uint8 else t.dtype).mean(
        dim=(-3, -2, -1), keepdim=True)
    assert_same(F.adjust_brightness(E(a), factor), blend(t, torch.zeros_like(t)))
    assert_same(F.adjust_contrast(E(a), factor), blend(t, mean))
    assert_same(F.adjust_saturation(E(a), factor), blend(t, _gray_torch(t)))


def test_color_factor_errors():
    x = E(img(3, 4, 4))
    for fn, name in [(F.adjust_brightness, "brightness"), (F.adjust_contrast, "contrast"),
                     (F.adjust_saturation, "saturation")]:
        with pytest.raises(ValueError, match=f"{name}_factor \\(-0.5\\) is not non-negative"):
            fn(x, -0.5)
    with pytest.raises(ValueError, match=r"hue_factor \(0.7\) is not in \[-0.5, 0.5\]"):
        F.adjust_hue(x, 0.7)


@pytest.mark.parametrize("hue", [-0.5, -0.2, 0.0, 0.13, 0.5])
def test_adjust_hue_matches_colorsys(hue):
    a = img(3, 4, 5, dtype=np.float64)
    a[:, 0, 0] = 0.5  # a gray pixel: no hue to rotate
    out = F.adjust_hue(E(a.astype(np.float32)), hue).numpy()
    expected = np.empty_like(a)
    for y in range(4):
        for x in range(5):
            h, s, v = colorsys.rgb_to_hsv(*a[:, y, x])
            expected[:, y, x] = colorsys.hsv_to_rgb((h + hue) % 1.0, s, v)
    np.testing.assert_allclose(out, expected, atol=1e-5)


def test_adjust_hue_uint8_and_single_channel():
    a = img(3, 4, 4, dtype=np.uint8)
    out = F.adjust_hue(E(a), 0.0)
    assert out.dtype == ember.uint8
    assert np.abs(out.numpy().astype(int) - a).max() <= 1  # float round trip, truncated
    one = E(img(1, 4, 4))
    assert F.adjust_hue(one, 0.3) is one


# ----------------------------------------------------------------------------- dtype conversion
@pytest.mark.parametrize("src, dst", [("uint8", "float32"), ("float32", "uint8"),
                                      ("uint8", "int32"), ("int32", "uint8"),
                                      ("float64", "float32"), ("int16", "float64")])
def test_convert_image_dtype_matches_formula(src, dst):
    a = img(3, 4, 4, dtype=np.uint8).astype(src)
    if src.startswith("float"):
        a = a / 255.0
    a = a.astype(src)
    t = torch.tensor(a)
    tdst = getattr(torch, dst)
    if t.is_floating_point() and tdst.is_floating_point:
        expected = t.to(tdst)
    elif t.is_floating_point():
        expected = t.mul(torch.iinfo(tdst).max + 1.0 - 1e-3).to(tdst)
    elif tdst.is_floating_point:
        expected = t.to(tdst) / float(torch.iinfo(t.dtype).max)
    elif torch.iinfo(t.dtype).max > torch.iinfo(tdst).max:
        factor = (torch.iinfo(t.dtype).max + 1) // (torch.iinfo(tdst).max + 1)
        expected = torch.div(t, factor, rounding_mode="floor").to(tdst)
    else:
        expected = t.to(tdst) * ((torch.iinfo(tdst).max + 1) // (torch.iinfo(t.dtype).max + 1))
    assert_same(F.convert_image_dtype(E(a), getattr(ember, dst)), expected)


def test_convert_image_dtype_unsafe_cast_raises():
    with pytest.raises(RuntimeError, match="cannot be performed safely"):
        F.convert_image_dtype(E(img(3, 2, 2)), ember.int32)
    with pytest.raises(TypeError, match="Tensor Image"):
        F.convert_image_dtype(img(3, 2, 2))


# ----------------------------------------------------------------------------- blur, erase
def _torch_blur(t, kernel_size, sigma):
    def k1(n, s):
        x = torch.linspace(-(n - 1) * 0.5, (n - 1) * 0.5, n, dtype=torch.float64)
        p = torch.exp(-0.5 * (x / s) ** 2)
        return p / p.sum()
    kx, ky = kernel_size
    k = (k1(ky, sigma[1])[:, None] * k1(kx, sigma[0])[None, :]).to(torch.float32)
    c = t.shape[-3]
    x = torch.nn.functional.pad(t.float().reshape(-1, c, *t.shape[-2:]),
                                (kx // 2, kx // 2, ky // 2, ky // 2), mode="reflect")
    out = torch.nn.functional.conv2d(x, k.expand(c, 1, ky, kx), groups=c)
    return out.reshape(t.shape)


@pytest.mark.parametrize("kernel_size, sigma", [(3, None), ([3, 5], [0.8, 1.4]), ([7, 1], 2.0)])
def test_gaussian_blur_matches_torch_conv(kernel_size, sigma):
    a = img(2, 3, 9, 11)
    out = F.gaussian_blur(E(a), kernel_size, sigma)
    ks = [kernel_size] * 2 if isinstance(kernel_size, int) else kernel_size
    sg = ([k * 0.15 + 0.35 for k in ks] if sigma is None
          else [sigma] * 2 if isinstance(sigma, float) else sigma)
    assert_same(out, _torch_blur(torch.tensor(a), ks, sg), rtol=1e-5, atol=1e-6)
    u8 = img(3, 9, 11, dtype=np.uint8)
    out8 = F.gaussian_blur(E(u8), kernel_size, sigma)
    assert out8.dtype == ember.uint8
    expected = _torch_blur(torch.tensor(u8), ks, sg).round().to(torch.uint8).numpy()
    assert np.abs(out8.numpy().astype(int) - expected).max() <= 1  # float sums can tie-flip


def test_gaussian_blur_errors():
    x = E(img(3, 8, 8))
    with pytest.raises(ValueError, match="odd and positive integers"):
        F.gaussian_blur(x, 4)
    with pytest.raises(ValueError, match="its length should be 2"):
        F.gaussian_blur(x, [3, 3, 3])
    with pytest.raises(ValueError, match="sigma should have positive values"):
        F.gaussian_blur(x, 3, -1.0)
    with pytest.raises(TypeError, match="PIL Image or Tensor"):
        F.gaussian_blur(img(3, 8, 8), 3)


def test_erase_in_and_out_of_place():
    a = img(3, 6, 7)
    x = E(a)
    out = F.erase(x, 1, 2, 3, 4, ember.tensor([1.0, 2.0, 3.0])[:, None, None])
    expected = a.copy()
    expected[:, 1:4, 2:6] = np.array([1.0, 2.0, 3.0])[:, None, None]
    np.testing.assert_array_equal(out.numpy(), expected)
    np.testing.assert_array_equal(x.numpy(), a)
    assert F.erase(x, 0, 0, 1, 1, ember.tensor(0.0), inplace=True) is x
    with pytest.raises(TypeError, match="Tensor Image"):
        F.erase(a, 0, 0, 1, 1, 0)


# ----------------------------------------------------------------------------- rotate, affine
def _torch_rotate(t, angle, mode, fill=None):
    """torchvision's tensor rotation written out in torch: output pixel centers relative
    to the image center, rotated back by `angle`, normalized, then grid_sample."""
    n, c, h, w = t.shape
    rad = math.radians(angle)
    inv = torch.tensor([[math.cos(rad), -math.sin(rad), 0.0], [math.sin(rad), math.cos(rad), 0.0]],
                       dtype=t.dtype)
    ys, xs = torch.meshgrid(torch.arange(h, dtype=t.dtype) - h * 0.5 + 0.5,
                            torch.arange(w, dtype=t.dtype) - w * 0.5 + 0.5, indexing="ij")
    pts = torch.stack((xs, ys, torch.ones_like(xs)), dim=-1).reshape(-1, 3)
    grid = (pts @ (inv.T / torch.tensor([0.5 * w, 0.5 * h], dtype=t.dtype))).reshape(1, h, w, 2)
    x = t if fill is None else torch.cat((t, torch.ones_like(t[:, :1])), 1)
    out = torch.nn.functional.grid_sample(x, grid.expand(n, h, w, 2), mode=mode,
                                          padding_mode="zeros", align_corners=False)
    if fill is None:
        return out
    mask, out = out[:, -1:].expand_as(out[:, :-1]), out[:, :-1]
    fill_img = torch.tensor(fill, dtype=t.dtype).view(1, -1, 1, 1).expand_as(out)
    return torch.where(mask < 0.5, fill_img, out) if mode == "nearest" else \
        out * mask + (1 - mask) * fill_img


@pytest.mark.parametrize("k", [1, 2, 3])
@pytest.mark.parametrize("mode", ["nearest", "bilinear"])
def test_rotate_quarter_turns_are_rot90(k, mode):
    a = img(2, 3, 8, 8)
    out = F.rotate(E(a), 90.0 * k, interpolation=IM(mode))
    assert_same(out, torch.tensor(a).rot90(k, dims=(2, 3)), atol=1e-6)


@pytest.mark.parametrize("angle", [17.0, -33.3, 123.0])
@pytest.mark.parametrize("mode", ["nearest", "bilinear"])
@pytest.mark.parametrize("fill", [None, [0.2, 0.5, 1.0]])
def test_rotate_matches_torch_grid_sample(angle, mode, fill):
    a = img(2, 3, 9, 12)
    out = F.rotate(E(a), angle, interpolation=IM(mode), fill=fill)
    assert_same(out, _torch_rotate(torch.tensor(a), angle, mode, fill), rtol=1e-5, atol=1e-5)


def test_rotate_expand_uint8_and_errors():
    a = img(3, 6, 10, dtype=np.uint8)
    out = F.rotate(E(a), 90.0, expand=True)
    assert out.dtype == ember.uint8
    np.testing.assert_array_equal(out.numpy(), np.rot90(a, 1, axes=(1, 2)))
    assert tuple(F.rotate(E(a), 45.0, expand=True).shape) == (3, 12, 12)  # Pillow's canvas
    with pytest.raises(ValueError, match="'bicubic' is unsupported with Tensor input"):
        F.rotate(E(a), 10.0, interpolation=IM.BICUBIC)
    with pytest.raises(ValueError, match="cannot broadcast to match the number of channels"):
        F.rotate(E(a), 10.0, fill=[1.0, 2.0])
    with pytest.raises(TypeError, match="angle should be int or float"):
        F.rotate(E(a), "10")


def test_affine_translation_shifts_pixels():
    a = img(3, 7, 9)
    out = F.affine(E(a), angle=0.0, translate=[2, 1], scale=1.0, shear=0.0)
    expected = np.zeros_like(a)
    expected[:, 1:, 2:] = a[:, :-1, :-2]
    np.testing.assert_array_equal(out.numpy(), expected)
    rot = F.affine(E(img(3, 8, 8)), angle=-90.0, translate=[0, 0], scale=1.0, shear=[0.0])
    np.testing.assert_allclose(rot.numpy(), np.rot90(img(3, 8, 8), 1, axes=(1, 2)), atol=1e-6)
    with pytest.raises(ValueError, match="scale should be positive"):
        F.affine(E(a), 0.0, [0, 0], 0.0, 0.0)
    with pytest.raises(ValueError, match="translate should be a sequence of length 2"):
        F.affine(E(a), 0.0, [0], 1.0, 0.0)
