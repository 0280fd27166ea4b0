"""nn.modules.pixelshuffle (mirrors torch/nn/modules/pixelshuffle.py)."""
from __future__ import annotations

__all__ = []
