"""The PIL halves of transforms.functional: each works on a `PIL.Image.Image`.

Pillow is imported inside the functions, so `import ember.vision` works without it;
only a program that hands PIL images in needs it installed.
"""
from __future__ import annotations

import numbers
import sys
from typing import Any

import numpy as np


def _is_pil_image(img: Any) -> bool:
    # A PIL image exists only if Pillow was imported, so an unloaded PIL means "no".
    image_module = sys.modules.get("PIL.Image")
    return image_module is not None and isinstance(img, image_module.Image)


def _check(img: Any) -> None:
    if not _is_pil_image(img):
        raise TypeError(f"img should be PIL Image. Got {type(img)}")


def get_dimensions(img: Any) -> list[int]:
    """[channels, height, width] of a PIL image."""
    _check(img)
    width, height = img.size
    return [get_image_num_channels(img), height, width]


def get_image_size(img: Any) -> list[int]:
    _check(img)
    return list(img.size)


def get_image_num_channels(img: Any) -> int:
    _check(img)
    return len(img.getbands())


def hflip(img: Any) -> Any:
    from PIL import Image
    _check(img)
    return img.transpose(Image.Transpose.FLIP_LEFT_RIGHT)


def vflip(img: Any) -> Any:
    from PIL import Image
    _check(img)
    return img.transpose(Image.Transpose.FLIP_TOP_BOTTOM)


def crop(img: Any, top: int, left: int, height: int, width: int) -> Any:
    """Pillow fills the part of the box outside the image with zeros."""
    _check(img)
    return img.crop((left, top, left + width, top + height))


def resize(img: Any, size: list[int], interpolation: int) -> Any:
    """Resize to size = [h, w] with a Pillow resampling filter (always antialiased)."""
    _check(img)
    if not (isinstance(size, list) and len(size) == 2):
        raise TypeError(f"Got inappropriate size arg: {size}")
    return img.resize(tuple(size[::-1]), interpolation)


def _parse_fill(fill, img: Any, name: str = "fillcolor") -> dict:
    """Pillow's fill argument for `img`: one int (or float for mode F) per channel."""
    num_channels = get_image_num_channels(img)
    if fill is None:
        fill = 0
    if isinstance(fill, (int, float)) and num_channels > 1:
        fill = tuple([fill] * num_channels)
    if isinstance(fill, (list, tuple)):
        if len(fill) == 1:
            fill = tuple(fill) * num_channels
        elif len(fill) != num_channels:
            raise ValueError(f"The number of elements in 'fill' does not match the number of "
                             f"channels of the image ({len(fill)} != {num_channels})")
        fill = tuple(fill)
    if img.mode != "F":
        fill = tuple(int(x) for x in fill) if isinstance(fill, tuple) else int(fill)
    return {name: fill}


def pad(img: Any, padding, fill=0, padding_mode: str = "constant") -> Any:
    """Pad (left, top, right, bottom); non-constant modes go through numpy.pad, and
    negative amounts crop first."""
    from PIL import Image, ImageOps
    _check(img)
    if not isinstance(padding, (numbers.Number, tuple, list)):
        raise TypeError("Got inappropriate padding arg")
    if fill is not None and not isinstance(fill, (numbers.Number, tuple, list)):
        raise TypeError("Got inappropriate fill arg")
    if not isinstance(padding_mode, str):
        raise TypeError("Got inappropriate padding_mode arg")
    if isinstance(padding, list):
        padding = tuple(padding)
    if isinstance(padding, tuple) and len(padding) not in (1, 2, 4):
        raise ValueError(f"Padding must be an int or a 1, 2, or 4 element tuple, not a "
                         f"{len(padding)} element tuple")
    if isinstance(padding, tuple) and len(padding) == 1:
        padding = padding[0]
    if padding_mode not in ("constant", "edge", "reflect", "symmetric"):
        raise ValueError("Padding mode should be either constant, edge, reflect or symmetric")

    if padding_mode == "constant":
        opts = _parse_fill(fill, img, name="fill")
        if img.mode == "P":
            palette = img.getpalette()
            image = ImageOps.expand(img, border=padding, **opts)
            image.putpalette(palette)
            return image
        return ImageOps.expand(img, border=padding, **opts)

    if isinstance(padding, int):
        p = [padding] * 4
    elif len(padding) == 2:
        p = [padding[0], padding[1], padding[0], padding[1]]
    else:
        p = list(padding)
    left, top, right, bottom = (max(-v, 0) for v in p)
    if left or top or right or bottom:
        img = img.crop((left, top, img.width - right, img.height - bottom))
    left, top, right, bottom = (max(v, 0) for v in p)
    palette = img.getpalette() if img.mode == "P" else None
    arr = np.asarray(img)
    widths = [(top, bottom), (left, right)] + [(0, 0)] * (arr.ndim - 2)
    out = Image.fromarray(np.pad(arr, widths, padding_mode))
    if palette is not None:
        out.putpalette(palette)
    return out


def adjust_brightness(img: Any, brightness_factor: float) -> Any:
    from PIL import ImageEnhance
    _check(img)
    return ImageEnhance.Brightness(img).enhance(brightness_factor)


def adjust_contrast(img: Any, contrast_factor: float) -> Any:
    from PIL import ImageEnhance
    _check(img)
    return ImageEnhance.Contrast(img).enhance(contrast_factor)


def adjust_saturation(img: Any, saturation_factor: float) -> Any:
    from PIL import ImageEnhance
    _check(img)
    return ImageEnhance.Color(img).enhance(saturation_factor)


def adjust_hue(img: Any, hue_factor: float) -> Any:
    """Rotate the hue channel of Pillow's 8-bit HSV, wrapping around 255."""
    from PIL import Image
    if not (-0.5 <= hue_factor <= 0.5):
        raise ValueError(f"hue_factor ({hue_factor}) is not in [-0.5, 0.5].")
    _check(img)
    mode = img.mode
    if mode in {"L", "1", "I", "F"}:
        return img
    h, s, v = img.convert("HSV").split()
    shift = np.uint8(int(hue_factor * 255) % 256)
    np_h = np.asarray(h, dtype=np.uint8) + shift  # uint8 arithmetic wraps, as a hue should
    h = Image.fromarray(np_h, "L")
    return Image.merge("HSV", (h, s, v)).convert(mode)


def to_grayscale(img: Any, num_output_channels: int = 1) -> Any:
    from PIL import Image
    _check(img)
    if num_output_channels == 1:
        return img.convert("L")
    if num_output_channels == 3:
        gray = np.asarray(img.convert("L"), dtype=np.uint8)
        return Image.fromarray(np.dstack([gray, gray, gray]), "RGB")
    raise ValueError("num_output_channels should be either 1 or 3")


def rotate(img: Any, angle: float, interpolation: int = 0, expand: bool = False,
           center=None, fill=None) -> Any:
    _check(img)
    opts = _parse_fill(fill, img)
    return img.rotate(angle, interpolation, expand, center, **opts)


def affine(img: Any, matrix: list[float], interpolation: int = 0, fill=None) -> Any:
    """Pillow's affine transform: `matrix` maps output pixels to input pixels."""
    from PIL import Image
    _check(img)
    opts = _parse_fill(fill, img)
    return img.transform(img.size, Image.Transform.AFFINE, matrix, interpolation, **opts)
