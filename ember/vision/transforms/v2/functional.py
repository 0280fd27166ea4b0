"""torchvision.transforms.v2.functional: v1's functions under their v2 names, plus
to_image and to_dtype. Inputs are PIL images or plain tensors."""
from __future__ import annotations

from ember import Tensor
from ember.vision.transforms.functional import (
    InterpolationMode,
    adjust_brightness,
    adjust_contrast,
    adjust_hue,
    adjust_saturation,
    affine,
    center_crop,
    convert_image_dtype,
    crop,
    erase,
    gaussian_blur,
    get_dimensions,
    normalize,
    pad,
    pil_to_tensor,
    resize,
    resized_crop,
    rgb_to_grayscale,
    rotate,
    to_pil_image,
    to_tensor,
)
from ember.vision.transforms.functional import hflip as horizontal_flip
from ember.vision.transforms.functional import vflip as vertical_flip

__all__ = ["InterpolationMode", "adjust_brightness", "adjust_contrast", "adjust_hue",
           "adjust_saturation", "affine", "center_crop", "convert_image_dtype", "crop", "erase",
           "gaussian_blur", "get_dimensions", "normalize", "pad", "pil_to_tensor", "resize",
           "resized_crop", "rgb_to_grayscale", "rotate", "to_pil_image", "to_tensor",
           "horizontal_flip", "vertical_flip", "to_image", "to_dtype", "to_grayscale"]


def to_grayscale(inpt, num_output_channels: int = 1):
    """v2 accepts tensors here too."""
    return rgb_to_grayscale(inpt, num_output_channels)


def to_image(inpt) -> Tensor:
    """PIL image, HWC ndarray or tensor -> CHW tensor, dtype kept."""
    from ember.vision.transforms.v2 import ToImage
    return ToImage()(inpt)


def to_dtype(inpt: Tensor, dtype, scale: bool = False) -> Tensor:
    """Cast, rescaling values between integer ranges and [0, 1] when scale=True."""
    from ember.vision.transforms.v2 import ToDtype
    return ToDtype(dtype, scale=scale)(inpt)
