"""nn.modules.distance (mirrors torch/nn/modules/distance.py)."""
from __future__ import annotations

__all__ = []
