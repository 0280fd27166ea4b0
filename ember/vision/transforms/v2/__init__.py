"""torchvision.transforms.v2: the v1 transforms under their v2 names, plus ToImage and
ToDtype. Images here are plain tensors (ember has no tv_tensors wrapper types)."""
from __future__ import annotations

import warnings

import numpy as np

import ember
from ember import Tensor, nn
from ember.vision.transforms import _functional_pil as F_pil
from ember.vision.transforms import __all__ as _v1_all
from ember.vision.transforms import _functional_tensor as F_t
from ember.vision.transforms import transforms as _v1
from ember.vision.transforms.transforms import (
    CenterCrop,
    ColorJitter,
    Compose,
    ConvertImageDtype,
    GaussianBlur,
    Grayscale,
    InterpolationMode,
    Lambda,
    Normalize,
    Pad,
    PILToTensor,
    RandomAffine,
    RandomApply,
    RandomChoice,
    RandomCrop,
    RandomErasing,
    RandomGrayscale,
    RandomHorizontalFlip,
    RandomOrder,
    RandomRotation,
    RandomResizedCrop,
    RandomVerticalFlip,
    Resize,
    ToPILImage,
)
from ember.vision.transforms.v2 import functional

__all__ = [*_v1_all, "ToImage", "ToDtype"]


class ToTensor(_v1.ToTensor):
    """v1's ToTensor, with v2's deprecation warning."""

    def __call__(self, pic) -> Tensor:
        warnings.warn("The transform `ToTensor()` is deprecated and will be removed in a future "
                      "release. Instead, please use `v2.Compose([v2.ToImage(), "
                      "v2.ToDtype(torch.float32, scale=True)])`.Output is equivalent up to "
                      "float precision.", stacklevel=2)
        return super().__call__(pic)


class ToImage(nn.Module):
    """PIL image, HWC ndarray or tensor -> CHW tensor, keeping the dtype (no scaling)."""

    def forward(self, inpt) -> Tensor:
        if isinstance(inpt, Tensor):
            return inpt
        if isinstance(inpt, np.ndarray):
            arr = inpt if inpt.ndim >= 3 else inpt[:, :, None] if inpt.ndim == 2 else None
            if arr is None:
                raise ValueError(f"Expected an array with 2 or 3 dimensions, got {inpt.ndim}")
            return ember.from_numpy(np.ascontiguousarray(arr)).permute((2, 0, 1))
        if F_pil._is_pil_image(inpt):
            return functional.pil_to_tensor(inpt)
        raise TypeError(f"Input can either be a pure Tensor, a numpy array, or a PIL image, "
                        f"but got {type(inpt)} instead.")


class ToDtype(nn.Module):
    """Cast to `dtype`; with scale=True also rescale values between the integer range
    and [0, 1] as v2 does."""

    def __init__(self, dtype, scale: bool = False) -> None:
        super().__init__()
        if not isinstance(dtype, ember.dtype):
            raise TypeError(f"dtype should be a torch.dtype, but got {type(dtype)} instead.")
        self.dtype = dtype
        self.scale = scale

    def forward(self, inpt: Tensor) -> Tensor:
        if inpt.dtype == self.dtype:
            return inpt
        if not self.scale:
            return inpt.to(self.dtype)
        if not inpt.is_floating_point() and self.dtype.is_floating_point:
            # v2 multiplies by the reciprocal where v1 divides: the last bit can differ
            return inpt.to(self.dtype).mul_(1.0 / F_t._max_value(inpt.dtype))
        return F_t.convert_image_dtype(inpt, self.dtype)

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}(dtype={self.dtype}, scale={self.scale})"
