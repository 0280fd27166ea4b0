"""nn.modules.flatten (mirrors torch/nn/modules/flatten.py)."""
from __future__ import annotations

__all__ = []
