"""nn.modules.conv (mirrors torch/nn/modules/conv.py)."""
from __future__ import annotations

__all__ = []
