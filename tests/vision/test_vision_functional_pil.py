"""transforms.functional on PIL images: conversions against NumPy, and each PIL path
against the tensor path (or NumPy) on the same pixels."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

import ember
from ember.vision.transforms import functional as F
from ember.vision.transforms.functional import InterpolationMode as IM


def rgb(h=9, w=11, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3)).astype(np.uint8)


def chw(arr):
    return ember.tensor(np.ascontiguousarray(arr.transpose(2, 0, 1)))


# ----------------------------------------------------------------------------- conversions
@pytest.mark.parametrize("mode", ["RGB", "L", "RGBA", "1"])
def test_to_tensor_of_pil_scales_uint8(mode):
    pic = Image.fromarray(rgb()).convert(mode)
    out = F.to_tensor(pic)
    arr = np.asarray(pic).astype(np.float32)
    if mode == "1":
        arr = arr * 255.0
    arr = arr.reshape(pic.height, pic.width, -1).transpose(2, 0, 1)
    assert out.dtype == ember.float32
    np.testing.assert_allclose(out.numpy(), arr / np.float32(255), rtol=1e-6)


def test_to_tensor_keeps_non_uint8_modes_and_arrays():
    f = Image.fromarray(np.linspace(-1, 1, 12, dtype=np.float32).reshape(3, 4), mode="F")
    out = F.to_tensor(f)
    assert out.dtype == ember.float32 and tuple(out.shape) == (1, 3, 4)
    np.testing.assert_array_equal(out.numpy()[0], np.asarray(f))
    i32 = Image.fromarray(np.arange(12, dtype=np.int32).reshape(3, 4))
    assert F.to_tensor(i32).dtype == ember.int32
    a = rgb()
    np.testing.assert_allclose(F.to_tensor(a).numpy(), a.transpose(2, 0, 1) / np.float32(255))
    d = np.random.default_rng(1).random((5, 6)).astype(np.float64)
    out = F.to_tensor(d)
    assert out.dtype == ember.float64 and tuple(out.shape) == (1, 5, 6)
    np.testing.assert_array_equal(out.numpy()[0], d)


def test_to_tensor_errors():
    with pytest.raises(TypeError, match="pic should be PIL Image or ndarray"):
        F.to_tensor([1, 2, 3])
    with pytest.raises(ValueError, match="2/3 dimensional. Got 4 dimensions"):
        F.to_tensor(np.zeros((1, 2, 3, 4), np.uint8))


def test_pil_to_tensor_keeps_dtype_and_values():
    a = rgb()
    out = F.pil_to_tensor(Image.fromarray(a))
    assert out.dtype == ember.uint8
    np.testing.assert_array_equal(out.numpy(), a.transpose(2, 0, 1))
    with pytest.raises(TypeError, match="pic should be PIL Image"):
        F.pil_to_tensor(a)


def test_to_pil_image_modes_and_round_trip():
    a = rgb()
    pic = F.to_pil_image(chw(a))
    assert pic.mode == "RGB" and pic.size == (11, 9)
    np.testing.assert_array_equal(np.asarray(pic), a)
    assert F.to_pil_image(a[:, :, 0]).mode == "L"
    assert F.to_pil_image(np.dstack([a, a[:, :, :1]])).mode == "RGBA"
    assert F.to_pil_image(a[:, :, :2]).mode == "LA"
    # float tensors in [0, 1] go to bytes by x * 255, truncated
    x = ember.tensor(np.full((1, 2, 2), 0.5, np.float32))
    assert np.asarray(F.to_pil_image(x)).tolist() == [[127, 127], [127, 127]]
    f = F.to_pil_image(x, mode="F")
    assert f.mode == "F" and np.asarray(f)[0, 0] == 0.5
    assert F.to_pil_image(np.arange(4, dtype=np.int16).reshape(2, 2)).mode == "I;16"


def test_to_pil_image_errors():
    with pytest.raises(TypeError, match="pic should be Tensor or ndarray"):
        F.to_pil_image([1])
    with pytest.raises(ValueError, match="2/3 dimensional"):
        F.to_pil_image(ember.zeros(1, 1, 2, 2))
    with pytest.raises(ValueError, match="> 4 channels"):
        F.to_pil_image(ember.zeros(5, 2, 2))
    with pytest.raises(ValueError, match="Incorrect mode"):
        F.to_pil_image(np.zeros((2, 2), np.uint8), mode="F")
    with pytest.raises(ValueError, match="Only modes"):
        F.to_pil_image(np.zeros((2, 2, 3), np.uint8), mode="RGBA")
    with pytest.raises(TypeError, match="not supported"):
        F.to_pil_image(np.zeros((2, 2, 3), np.float32))


# ----------------------------------------------------------------------------- geometry
def test_flips_crops_match_the_tensor_path():
    a = rgb()
    pic, t = Image.fromarray(a), chw(a)
    for fn in (F.hflip, F.vflip, lambda x: F.crop(x, 2, 3, 4, 5), lambda x: F.center_crop(x, 5),
               lambda x: F.crop(x, -1, -2, 6, 7), lambda x: F.center_crop(x, [12, 13])):
        np.testing.assert_array_equal(F.pil_to_tensor(fn(pic)).numpy(), fn(t).numpy())


@pytest.mark.parametrize("mode", ["constant", "edge", "reflect", "symmetric"])
@pytest.mark.parametrize("padding", [3, [1, 2], (1, 2, 3, 4)])
def test_pad_matches_the_tensor_path(mode, padding):
    a = rgb()
    out = F.pad(Image.fromarray(a), padding, fill=9, padding_mode=mode)
    np.testing.assert_array_equal(F.pil_to_tensor(out).numpy(),
                                  F.pad(chw(a), padding, fill=9, padding_mode=mode).numpy())


def test_pad_fill_per_channel_and_errors():
    out = F.pad(Image.fromarray(rgb(2, 2)), 1, fill=(1, 2, 3))
    assert np.asarray(out)[0, 0].tolist() == [1, 2, 3]
    with pytest.raises(ValueError, match="does not match the number of channels"):
        F.pad(Image.fromarray(rgb(2, 2)), 1, fill=(1, 2))
    with pytest.raises(ValueError, match="1, 2, or 4 element"):
        F.pad(Image.fromarray(rgb(2, 2)), (1, 2, 3))


@pytest.mark.parametrize("size", [(5, 6), (20, 7)])
def test_pil_resize_is_pillows_and_close_to_the_antialiased_tensor_path(size):
    a = rgb(24, 30)
    pic = Image.fromarray(a)
    out = F.resize(pic, list(size))
    np.testing.assert_array_equal(np.asarray(out), np.asarray(pic.resize(size[::-1],
                                                                         Image.BILINEAR)))
    # Pillow and the tensor kernel share the antialiasing filter; they differ only in
    # Pillow's fixed-point arithmetic
    t = F.resize(chw(a), list(size))
    assert np.abs(F.pil_to_tensor(out).numpy().astype(int) - t.numpy()).max() <= 1
    assert F.resize(pic, 12).size == (15, 12)
    assert F.resize(pic, 12, IM.NEAREST).size == (15, 12)
    with pytest.warns(UserWarning, match="Anti-alias option is always applied"):
        F.resize(pic, 12, antialias=False)


# ----------------------------------------------------------------------------- color
@pytest.mark.parametrize("name", ["brightness", "contrast", "saturation"])
def test_color_adjustments_close_to_the_tensor_path(name):
    a = rgb(16, 16)
    pil_out = getattr(F, f"adjust_{name}")(Image.fromarray(a), 1.4)
    t_out = getattr(F, f"adjust_{name}")(chw(a), 1.4)
    diff = np.abs(F.pil_to_tensor(pil_out).numpy().astype(int) - t_out.numpy().astype(int))
    assert diff.max() <= 2  # Pillow rounds its integer blends, the tensor path truncates


def test_adjust_hue_pil():
    a = rgb(6, 6)
    pic = Image.fromarray(a)
    round_trip = np.asarray(pic.convert("HSV").convert("RGB"))  # Pillow's 8-bit HSV
    np.testing.assert_array_equal(np.asarray(F.adjust_hue(pic, 0.0)), round_trip)
    shifted = F.adjust_hue(pic, -0.25)
    h = np.asarray(shifted.convert("HSV"))[..., 0].astype(int)
    h0 = np.asarray(pic.convert("HSV"))[..., 0].astype(int)
    diff = (h - h0) % 256
    assert np.median(diff) in range(256 - 66, 256 - 60)  # -0.25 * 255 = -63, wrapped
    gray = pic.convert("L")
    assert F.adjust_hue(gray, 0.3) is gray


def test_grayscale_pil():
    a = rgb()
    g = F.rgb_to_grayscale(Image.fromarray(a))
    assert g.mode == "L"
    g3 = F.rgb_to_grayscale(Image.fromarray(a), 3)
    assert g3.mode == "RGB" and (np.asarray(g3)[..., 2] == np.asarray(g)).all()
    t = F.rgb_to_grayscale(chw(a))
    assert np.abs(np.asarray(g).astype(int) - t.numpy()[0]).max() <= 1
    with pytest.raises(TypeError, match="PIL Image"):
        F.adjust_brightness("not an image", 1.0)


def test_gaussian_blur_pil_goes_through_the_tensor_path():
    a = rgb(12, 10)
    out = F.gaussian_blur(Image.fromarray(a), [5, 3], [1.5, 0.7])
    assert isinstance(out, Image.Image) and out.mode == "RGB"
    np.testing.assert_array_equal(F.pil_to_tensor(out).numpy(),
                                  F.gaussian_blur(chw(a), [5, 3], [1.5, 0.7]).numpy())


def test_rotate_and_affine_pil_match_the_tensor_path():
    a = rgb(8, 8)
    pic, t = Image.fromarray(a), chw(a)
    for fn in (lambda x: F.rotate(x, 90.0), lambda x: F.rotate(x, 180.0, expand=True),
               lambda x: F.affine(x, 0.0, [2, -1], 1.0, 0.0),
               lambda x: F.affine(x, 0.0, [1, 3], 1.0, 0.0, fill=[9, 9, 9])):
        np.testing.assert_array_equal(F.pil_to_tensor(fn(pic)).numpy(), fn(t).numpy())
    turned = F.rotate(pic, 30.0, fill=(255, 0, 0))
    assert np.asarray(turned)[0, 0].tolist() == [255, 0, 0]
