"""nn.modules.padding (mirrors torch/nn/modules/padding.py)."""
from __future__ import annotations

__all__ = []
