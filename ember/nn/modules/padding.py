"""Padding layers (mirrors torch/nn/modules/padding.py): each one is F.pad with a fixed mode.

`padding` is stored as the full tuple torch stores: (left, right) for 1-d,
(left, right, top, bottom) for 2-d, and (left, right, top, bottom, front, back) for 3-d.
"""
from __future__ import annotations

from ember._tensor import Tensor
from ember.nn import functional as F
from ember.nn.modules.module import Module

__all__ = ["ConstantPad1d", "ConstantPad2d", "ConstantPad3d", "ZeroPad1d", "ZeroPad2d",
           "ZeroPad3d", "ReflectionPad1d", "ReflectionPad2d", "ReflectionPad3d",
           "ReplicationPad1d", "ReplicationPad2d", "ReplicationPad3d", "CircularPad1d",
           "CircularPad2d", "CircularPad3d"]


def _amounts(padding, n: int) -> tuple:
    """An int padding repeated on both sides of n dims; a sequence kept as a tuple."""
    return tuple(padding) if isinstance(padding, (list, tuple)) else (padding,) * (2 * n)


class _PadNd(Module):
    """A padding layer of one mode; `padding` already expanded to 2*n amounts."""

    __constants__ = ["padding"]
    _mode = "constant"
    _dims = 1

    def __init__(self, padding) -> None:
        super().__init__()
        self.padding = _amounts(padding, self._dims)

    def forward(self, input: Tensor) -> Tensor:
        return F.pad(input, self.padding, self._mode)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class _ConstantPadNd(_PadNd):
    __constants__ = ["padding", "value"]

    def __init__(self, padding, value: float) -> None:
        super().__init__(padding)
        self.value = value

    def forward(self, input: Tensor) -> Tensor:
        return F.pad(input, self.padding, "constant", self.value)

    def extra_repr(self) -> str:
        return f"padding={self.padding}, value={self.value}"


class ConstantPad1d(_ConstantPadNd):
    """Pads the last dim with a constant value."""


class ConstantPad2d(_ConstantPadNd):
    """Pads the last two dims with a constant value."""

    _dims = 2


class ConstantPad3d(_ConstantPadNd):
    """Pads the last three dims with a constant value."""

    _dims = 3


class _ZeroPadNd(_ConstantPadNd):
    def __init__(self, padding) -> None:
        super().__init__(padding, 0.0)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class ZeroPad1d(_ZeroPadNd):
    """Pads the last dim with zeros."""


class ZeroPad2d(_ZeroPadNd):
    """Pads the last two dims with zeros."""

    _dims = 2


class ZeroPad3d(_ZeroPadNd):
    """Pads the last three dims with zeros."""

    _dims = 3


class ReflectionPad1d(_PadNd):
    """Pads the last dim with its reflection (the edge itself not repeated)."""

    _mode = "reflect"


class ReflectionPad2d(_PadNd):
    """Pads the last two dims by reflection."""

    _mode, _dims = "reflect", 2


class ReflectionPad3d(_PadNd):
    """Pads the last three dims by reflection."""

    _mode, _dims = "reflect", 3


class ReplicationPad1d(_PadNd):
    """Pads the last dim by repeating its edge values."""

    _mode = "replicate"


class ReplicationPad2d(_PadNd):
    """Pads the last two dims by repeating edge values."""

    _mode, _dims = "replicate", 2


class ReplicationPad3d(_PadNd):
    """Pads the last three dims by repeating edge values."""

    _mode, _dims = "replicate", 3


class CircularPad1d(_PadNd):
    """Pads the last dim by wrapping around."""

    _mode = "circular"


class CircularPad2d(_PadNd):
    """Pads the last two dims by wrapping around."""

    _mode, _dims = "circular", 2


class CircularPad3d(_PadNd):
    """Pads the last three dims by wrapping around."""

    _mode, _dims = "circular", 3
