"""The transform classes: what each applies, reproducibility under ember.manual_seed,
RandomResizedCrop's sampling, argument checks, and the v2 additions."""
from __future__ import annotations

import math
import random

import numpy as np
import pytest
import torch
from oracle import assert_same
from PIL import Image

import ember
from ember.vision import transforms as T
from ember.vision.transforms import functional as F
from ember.vision.transforms import v2


def rgb(h=20, w=24, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3)).astype(np.uint8)


def timg(*shape, seed=0):
    return ember.tensor(np.random.default_rng(seed).random(shape).astype(np.float32))


def test_compose_pipeline_on_pil_gives_normalized_tensor():
    mean, std = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
    a = rgb()
    pipe = T.Compose([T.Resize((10, 12)), T.CenterCrop(8), T.ToTensor(), T.Normalize(mean, std)])
    out = pipe(Image.fromarray(a))
    resized = np.asarray(Image.fromarray(a).resize((12, 10), Image.BILINEAR))[1:9, 2:10]
    t = torch.tensor(resized.transpose(2, 0, 1).copy()).float().div(255)
    expected = (t - torch.tensor(mean).view(-1, 1, 1)) / torch.tensor(std).view(-1, 1, 1)
    assert_same(out, expected)
    assert repr(pipe).startswith("Compose(\n    Resize(size=(10, 12), interpolation=bilinear")


def test_random_transforms_repeat_under_manual_seed():
    pipe = T.Compose([T.RandomResizedCrop(12), T.RandomHorizontalFlip(), T.RandomVerticalFlip(),
                      T.ColorJitter(0.4, 0.4, 0.4, 0.1), T.RandomCrop(10, padding=2),
                      T.RandomApply([T.Grayscale(3)], p=0.5)])
    x = timg(3, 30, 40)

    def run():
        ember.manual_seed(123)
        return [pipe(x).numpy() for _ in range(4)]
    first, second = run(), run()
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
    assert any(not np.array_equal(first[0], o) for o in first[1:])  # and it does vary
    ember.manual_seed(123)
    pil = [np.asarray(pipe(Image.fromarray(rgb()))) for _ in range(2)]
    ember.manual_seed(123)
    np.testing.assert_array_equal(pil[0], np.asarray(pipe(Image.fromarray(rgb()))))


@pytest.mark.parametrize("cls, fn", [(T.RandomHorizontalFlip, F.hflip),
                                     (T.RandomVerticalFlip, F.vflip)])
def test_flips_follow_probability(cls, fn):
    x = timg(3, 4, 5)
    assert_same(cls(p=1.0)(x), torch.tensor(fn(x).numpy()))
    assert cls(p=0.0)(x) is x
    ember.manual_seed(0)
    flipped = sum(not np.array_equal(cls()(x).numpy(), x.numpy()) for _ in range(200))
    assert 60 < flipped < 140


def test_random_resized_crop_params_respect_scale_and_ratio():
    x = timg(3, 50, 60)
    ember.manual_seed(0)
    for _ in range(50):
        i, j, h, w = T.RandomResizedCrop.get_params(x, (0.2, 0.6), (0.5, 2.0))
        assert 0 <= i <= 50 - h and 0 <= j <= 60 - w
        # rounding h and w moves area and ratio a little off their sampled values
        assert 0.2 * 3000 * 0.8 <= h * w <= 0.6 * 3000 * 1.2
        assert 0.5 * 0.8 <= w / h <= 2.0 * 1.2
    assert tuple(T.RandomResizedCrop((7, 9))(x).shape) == (3, 7, 9)


@pytest.mark.parametrize("shape, ratio, expected", [
    ((10, 100), (0.75, 1.333), (0, 43, 10, 13)),   # too wide: h = H, w = round(h * max)
    ((100, 10), (0.75, 1.333), (43, 0, 13, 10)),   # too tall: w = W, h = round(w / min)
    ((30, 30), (0.75, 1.333), (0, 0, 30, 30)),     # ratio fits: the whole image
])
def test_random_resized_crop_falls_back_to_center_crop(shape, ratio, expected):
    x = timg(1, *shape)
    # a scale no crop can satisfy makes every one of the 10 attempts fail
    assert T.RandomResizedCrop.get_params(x, (5.0, 6.0), ratio) == expected


def test_random_resized_crop_checks():
    with pytest.raises(TypeError, match="Scale should be a sequence"):
        T.RandomResizedCrop(8, scale=0.5)
    with pytest.raises(TypeError, match="Ratio should be a sequence"):
        T.RandomResizedCrop(8, ratio=1.0)
    with pytest.warns(UserWarning, match="Scale and ratio should be of kind"):
        T.RandomResizedCrop(8, scale=(1.0, 0.5))
    with pytest.raises(ValueError, match="Please provide only two dimensions"):
        T.RandomResizedCrop((1, 2, 3))


def test_random_crop_padding_and_pad_if_needed():
    x = timg(3, 6, 7)
    ember.manual_seed(1)
    out = T.RandomCrop(6, padding=3, fill=0.5)(x)
    padded = F.pad(x, 3, fill=0.5).numpy()
    windows = [padded[:, i:i + 6, j:j + 6] for i in range(7) for j in range(8)]
    assert any(np.array_equal(out.numpy(), w) for w in windows)
    big = T.RandomCrop((9, 10), pad_if_needed=True, padding_mode="edge")(x)
    assert tuple(big.shape) == (3, 9, 10)
    assert tuple(T.RandomCrop(6)(x).shape) == (3, 6, 6)
    with pytest.raises(ValueError, match=r"Required crop size \(8, 8\) is larger than input "
                                         r"image size \(6, 7\)"):
        T.RandomCrop(8)(x)
    pil = T.RandomCrop(5, padding=2, padding_mode="reflect")(Image.fromarray(rgb(6, 7)))
    assert pil.size == (5, 5)


def test_color_jitter_applies_each_adjustment_in_the_drawn_order():
    x = timg(3, 8, 8)
    cj = T.ColorJitter(brightness=0.5, contrast=0.5, saturation=0.5, hue=0.2)
    ember.manual_seed(5)
    order, b, c, s, h = cj.get_params(cj.brightness, cj.contrast, cj.saturation, cj.hue)
    assert sorted(order.tolist()) == [0, 1, 2, 3]
    assert 0.5 <= b <= 1.5 and 0.5 <= c <= 1.5 and 0.5 <= s <= 1.5 and -0.2 <= h <= 0.2
    expected = x
    fns = {0: lambda y: F.adjust_brightness(y, b), 1: lambda y: F.adjust_contrast(y, c),
           2: lambda y: F.adjust_saturation(y, s), 3: lambda y: F.adjust_hue(y, h)}
    for k in order.tolist():
        expected = fns[k](expected)
    ember.manual_seed(5)
    np.testing.assert_allclose(cj(x).numpy(), expected.numpy(), atol=1e-6)


def test_color_jitter_argument_checks():
    cj = T.ColorJitter(brightness=1.5, hue=(-0.1, 0.2))
    assert cj.brightness == (0.0, 2.5) and cj.hue == (-0.1, 0.2) and cj.contrast is None
    with pytest.raises(ValueError, match="If brightness is a single number, it must be non "
                                         "negative"):
        T.ColorJitter(brightness=-1)
    with pytest.raises(ValueError, match="hue values should be between"):
        T.ColorJitter(hue=0.7)
    with pytest.raises(TypeError, match="single number or a list/tuple with length 2"):
        T.ColorJitter(contrast=(1, 2, 3))


def test_random_apply_choice_lambda():
    x = timg(3, 4, 4)
    double = T.Lambda(lambda t: t * 2)
    assert_same(T.RandomApply([double, double], p=1.0)(x), torch.tensor(x.numpy() * 4))
    assert T.RandomApply([double], p=0.0)(x) is x
    random.seed(0)
    picks = {float(T.RandomChoice([T.Lambda(lambda t: 1), T.Lambda(lambda t: 2)],
                                  p=[0.0, 1.0])(x)) for _ in range(10)}
    assert picks == {2.0}
    with pytest.raises(TypeError, match="Argument lambd should be callable, got 'int'"):
        T.Lambda(3)
    with pytest.raises(TypeError, match="Argument p should be a sequence"):
        T.RandomChoice([double], p=0.5)


def test_resize_pad_grayscale_convert_classes():
    x = timg(2, 3, 10, 20)
    assert tuple(T.Resize(5)(x).shape) == (2, 3, 5, 10)
    assert tuple(T.Resize([5])(x).shape) == (2, 3, 5, 10)
    assert tuple(T.Resize(5, interpolation=0)(x).shape) == (2, 3, 5, 10)  # Pillow's NEAREST
    with pytest.raises(TypeError, match="Size should be int or sequence"):
        T.Resize(5.0)
    with pytest.raises(ValueError, match="it should have 1 or 2 values"):
        T.Resize([1, 2, 3])
    assert tuple(T.Pad((1, 2))(x).shape) == (2, 3, 14, 22)
    with pytest.raises(ValueError, match="Padding mode should be"):
        T.Pad(1, padding_mode="wrap")
    with pytest.raises(ValueError, match="1, 2, or 4 element"):
        T.Pad([1, 2, 3])
    assert tuple(T.Grayscale()(x).shape) == (2, 1, 10, 20)
    u8 = T.ConvertImageDtype(ember.uint8)(x)
    assert u8.dtype == ember.uint8
    assert T.ToPILImage()(x[0]).size == (20, 10)
    pil = Image.fromarray(rgb())
    assert T.PILToTensor()(pil).dtype == ember.uint8


def test_transforms_are_modules_where_torchvision_s_are():
    assert isinstance(T.Normalize([0.5], [0.5]), ember.nn.Module)
    assert isinstance(T.RandomResizedCrop(4), ember.nn.Module)
    assert not isinstance(T.Compose([]), ember.nn.Module)
    assert not isinstance(T.ToTensor(), ember.nn.Module)


def test_v2_to_image_to_dtype():
    a = rgb()
    img = v2.ToImage()(Image.fromarray(a))
    assert img.dtype == ember.uint8 and tuple(img.shape) == (3, 20, 24)
    np.testing.assert_array_equal(v2.ToImage()(a).numpy(), a.transpose(2, 0, 1))
    scaled = v2.ToDtype(ember.float32, scale=True)(img)
    expected = torch.tensor(a.transpose(2, 0, 1).copy()).float().mul_(1.0 / 255)
    assert_same(scaled, expected)
    assert_same(v2.ToDtype(ember.float32)(img), torch.tensor(a.transpose(2, 0, 1).copy()).float())
    back = v2.ToDtype(ember.uint8, scale=True)(scaled)
    np.testing.assert_array_equal(back.numpy(), a.transpose(2, 0, 1))
    pipe = v2.Compose([v2.ToImage(), v2.ToDtype(ember.float32, scale=True),
                       v2.RandomHorizontalFlip(p=1.0), v2.Normalize([0.5] * 3, [0.5] * 3)])
    out = pipe(Image.fromarray(a))
    np.testing.assert_allclose(out.numpy(), (expected.flip(-1).numpy() - 0.5) / 0.5, atol=1e-6)
    with pytest.warns(UserWarning, match="ToTensor\\(\\)` is deprecated"):
        v2.ToTensor()(a)
    with pytest.raises(TypeError, match="numpy array, or a PIL image"):
        v2.ToImage()([1, 2])
    with pytest.raises(TypeError, match="torch.dtype"):
        v2.ToDtype("float32")


def test_interpolation_mode_values():
    assert T.InterpolationMode.BILINEAR.value == "bilinear"
    assert math.isclose(float(T.Resize(4, interpolation=T.InterpolationMode.NEAREST)(
        timg(1, 8, 8)).sum()), float(timg(1, 8, 8)[..., ::2, ::2].sum()), rel_tol=1e-6)


def test_random_erasing_box_value_and_reproducibility():
    x = timg(3, 20, 24)
    ember.manual_seed(7)
    ember.rand(1)  # the transform's coin flip comes first
    i, j, h, w, v = T.RandomErasing.get_params(x, (0.05, 0.2), (0.5, 2.0), value=[0.0])
    assert 0.05 * 480 * 0.7 <= h * w <= 0.2 * 480 * 1.3 and h < 20 and w < 24
    ember.manual_seed(7)
    out = T.RandomErasing(p=1.0, scale=(0.05, 0.2), ratio=(0.5, 2.0), value=(1, 2, 3))(x)
    expected = x.numpy().copy()
    expected[:, i:i + h, j:j + w] = np.array([1, 2, 3])[:, None, None]
    np.testing.assert_array_equal(out.numpy(), expected)
    ember.manual_seed(8)
    noisy = T.RandomErasing(p=1.0, value="random")(x)
    ember.manual_seed(8)
    np.testing.assert_array_equal(noisy.numpy(), T.RandomErasing(p=1.0, value="random")(x).numpy())
    assert T.RandomErasing(p=0.0)(x) is x
    # no box fits: the image comes back unchanged
    assert T.RandomErasing.get_params(x, (0.99, 1.0), (1.0, 1.0))[4] is x


def test_random_erasing_checks():
    with pytest.raises(ValueError, match="If value is str, it should be 'random'"):
        T.RandomErasing(value="zeros")
    with pytest.raises(ValueError, match="Scale should be between 0 and 1"):
        T.RandomErasing(scale=(0.5, 1.5))
    with pytest.raises(ValueError, match="probability should be between 0 and 1"):
        T.RandomErasing(p=2)
    with pytest.raises(ValueError, match="either a single value or 3"):
        T.RandomErasing(p=1.0, value=[1, 2])(timg(3, 8, 8))


def test_random_grayscale_order_and_blur_classes():
    x = timg(3, 6, 6)
    gray = T.RandomGrayscale(p=1.0)(x)
    np.testing.assert_array_equal(gray.numpy(), F.rgb_to_grayscale(x, 3).numpy())
    assert T.RandomGrayscale(p=0.0)(x) is x
    random.seed(1)
    add = [T.Lambda(lambda s: s + "a"), T.Lambda(lambda s: s + "b"), T.Lambda(lambda s: s + "c")]
    orders = {T.RandomOrder(add)("") for _ in range(40)}
    assert all(sorted(o) == ["a", "b", "c"] for o in orders) and len(orders) > 1
    ember.manual_seed(2)
    sigma = T.GaussianBlur.get_params(0.5, 1.5)
    assert 0.5 <= sigma <= 1.5
    ember.manual_seed(2)
    np.testing.assert_array_equal(T.GaussianBlur(3, (0.5, 1.5))(x).numpy(),
                                  F.gaussian_blur(x, [3, 3], [sigma, sigma]).numpy())
    with pytest.raises(ValueError, match="odd and positive number"):
        T.GaussianBlur(4)
    with pytest.raises(ValueError, match="of the form \\(min, max\\)"):
        T.GaussianBlur(3, (2.0, 1.0))
    with pytest.raises(ValueError, match="must be positive"):
        T.GaussianBlur(3, 0)


def test_random_rotation_draws_its_angle_from_degrees():
    x = timg(3, 9, 9)
    ember.manual_seed(4)
    angle = T.RandomRotation.get_params([-20.0, 35.0])
    assert -20.0 <= angle <= 35.0
    ember.manual_seed(4)
    out = T.RandomRotation((-20, 35), fill=0.5)(x)
    np.testing.assert_array_equal(out.numpy(), F.rotate(x, angle, fill=[0.5] * 3).numpy())
    pil = T.RandomRotation(10, expand=True)(Image.fromarray(rgb()))
    assert isinstance(pil, Image.Image)
    assert T.RandomRotation(10).degrees == [-10.0, 10.0]
    assert repr(T.RandomRotation(10)) == ("RandomRotation(degrees=[-10.0, 10.0], "
                                          "interpolation=nearest, expand=False, fill=0)")
    with pytest.raises(ValueError, match="If degrees is a single number, it must be positive"):
        T.RandomRotation(-5)
    with pytest.raises(ValueError, match="degrees should be a sequence of length 2"):
        T.RandomRotation([1, 2, 3])
    with pytest.raises(TypeError, match="Fill should be either a sequence or a number"):
        T.RandomRotation(5, fill={"r": 1})


def test_random_affine_params_and_application():
    ember.manual_seed(6)
    angle, (tx, ty), scale, (shx, shy) = T.RandomAffine.get_params(
        [-10.0, 10.0], (0.2, 0.1), (0.8, 1.2), [-5.0, 5.0, -2.0, 2.0], [20, 30])
    assert -10 <= angle <= 10 and abs(tx) <= 4 and abs(ty) <= 3
    assert 0.8 <= scale <= 1.2 and -5 <= shx <= 5 and -2 <= shy <= 2
    x = timg(3, 30, 20)
    ember.manual_seed(6)
    out = T.RandomAffine(10, translate=(0.2, 0.1), scale=(0.8, 1.2), shear=(-5, 5, -2, 2))(x)
    expected = F.affine(x, angle, [tx, ty], scale, [shx, shy], fill=[0.0] * 3)
    np.testing.assert_array_equal(out.numpy(), expected.numpy())
    assert T.RandomAffine(0).get_params([0.0, 0.0], None, None, None, [4, 4]) == (
        0.0, (0, 0), 1.0, (0.0, 0.0))
    assert repr(T.RandomAffine(5, scale=(0.9, 1.1))) == (
        "RandomAffine(degrees=[-5.0, 5.0], scale=(0.9, 1.1))")
    with pytest.raises(ValueError, match="translation values should be between 0 and 1"):
        T.RandomAffine(0, translate=(0.5, 1.5))
    with pytest.raises(ValueError, match="scale values should be positive"):
        T.RandomAffine(0, scale=(0.0, 1.0))
    with pytest.raises(ValueError, match="shear should be a sequence of length 2 or 4"):
        T.RandomAffine(0, shear=(1, 2, 3))


def test_v2_functional_names():
    from ember.vision.transforms.v2 import functional as F2

    a = rgb(6, 8)
    img = F2.to_image(Image.fromarray(a))
    np.testing.assert_array_equal(F2.horizontal_flip(img).numpy(), img.numpy()[..., ::-1])
    np.testing.assert_array_equal(F2.vertical_flip(img).numpy(), img.numpy()[:, ::-1])
    x = F2.to_dtype(img, ember.float32, scale=True)
    np.testing.assert_allclose(x.numpy(), a.transpose(2, 0, 1) * np.float32(1 / 255))
    assert tuple(F2.to_grayscale(x).shape) == (1, 6, 8)
    assert v2.functional is F2 and F2.resize is F.resize
