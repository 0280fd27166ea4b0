"""torchvision.utils: make_grid (a batch of images tiled into one) and save_image."""
from __future__ import annotations

import math
import os
from typing import Any, BinaryIO

import ember
import ember.nn.functional as F
from ember import Tensor

__all__ = ["make_grid", "save_image"]


def _normalize(tensor: Tensor, value_range, scale_each: bool) -> Tensor:
    """Map [low, high] to [0, 1], clamping outside; the range is value_range or the
    min/max of the batch (of each image with scale_each)."""
    if value_range is not None:
        # Python floats as torchvision uses them: the divisor is rounded once, from
        # the exact difference, to the tensor's dtype
        low, high = float(value_range[0]), float(value_range[1])
        return (tensor.clamp(min=low, max=high) - low) / max(high - low, 1e-5)
    if scale_each:
        low = tensor.amin(dim=(1, 2, 3), keepdim=True)
        high = tensor.amax(dim=(1, 2, 3), keepdim=True)
    else:
        low, high = tensor.min(), tensor.max()
    tensor = ember.maximum(ember.minimum(tensor, high), low)
    return (tensor - low) / ember.clamp(high - low, min=1e-5)


def make_grid(tensor: Tensor | list[Tensor], nrow: int = 8, padding: int = 2,
              normalize: bool = False, value_range: tuple[float, float] | None = None,
              scale_each: bool = False, pad_value: float = 0.0, **kwargs: Any) -> Tensor:
    """Tile a (B, C, H, W) batch (or a list of CHW images) into one (C, H', W') image,
    `nrow` images per row, `padding` pixels of `pad_value` around each.

    One-channel images become three-channel; a single image comes back unpadded."""
    if not isinstance(tensor, Tensor):
        if isinstance(tensor, list):
            for t in tensor:
                if not isinstance(t, Tensor):
                    raise TypeError(f"tensor or list of tensors expected, got a list containing "
                                    f"{type(t)}")
        else:
            raise TypeError(f"tensor or list of tensors expected, got {type(tensor)}")
    if isinstance(tensor, list):
        tensor = ember.stack(tensor, dim=0)
    if tensor.dim() == 2:  # one H x W image
        tensor = tensor.unsqueeze(0)
    if tensor.dim() == 3:  # one C x H x W image
        if tensor.size(0) == 1:
            tensor = ember.cat((tensor, tensor, tensor), 0)
        tensor = tensor.unsqueeze(0)
    if tensor.dim() == 4 and tensor.size(1) == 1:
        tensor = ember.cat((tensor, tensor, tensor), 1)
    if tensor.dim() != 4:
        raise ValueError(f"make_grid expects 2-d, 3-d or 4-d tensors, got shape "
                         f"{tuple(tensor.shape)}")
    if normalize is True:
        if value_range is not None and not isinstance(value_range, tuple):
            raise TypeError("value_range has to be a tuple (min, max) if specified. min and max "
                            "are numbers")
        tensor = _normalize(tensor, value_range, scale_each)
    if tensor.size(0) == 1:
        return tensor.squeeze(0)

    nmaps, channels, height, width = tensor.shape
    xmaps = min(nrow, nmaps)
    ymaps = int(math.ceil(float(nmaps) / xmaps))
    # Every cell is an image with `padding` rows/columns of pad_value before it; empty
    # cells at the end are all pad_value, and one more strip closes the right and bottom.
    cells = F.pad(tensor, (padding, 0, padding, 0), value=float(pad_value))
    missing = ymaps * xmaps - nmaps
    if missing:
        blank = ember.full((missing, *cells.shape[1:]), float(pad_value), dtype=tensor.dtype,
                           device=tensor.device)
        cells = ember.cat((cells, blank), 0)
    ch, cw = height + padding, width + padding
    grid = cells.reshape(ymaps, xmaps, channels, ch, cw).permute(2, 0, 3, 1, 4)
    grid = grid.reshape(channels, ymaps * ch, xmaps * cw)
    return F.pad(grid, (0, padding, 0, padding), value=float(pad_value))


def save_image(tensor: Tensor | list[Tensor], fp: str | os.PathLike | BinaryIO,
               format: str | None = None, **kwargs: Any) -> None:
    """make_grid(tensor, **kwargs), scaled from [0, 1] to 8 bits (rounded), saved by
    Pillow (format from the file name unless `format` is given)."""
    from PIL import Image

    grid = make_grid(tensor, **kwargs)
    ndarr = grid.detach().mul(255).add_(0.5).clamp_(0, 255).permute(1, 2, 0).to(
        "cpu", ember.uint8).numpy()
    Image.fromarray(ndarr).save(fp, format=format)
