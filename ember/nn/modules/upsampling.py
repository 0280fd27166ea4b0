"""nn.modules.upsampling (mirrors torch/nn/modules/upsampling.py)."""
from __future__ import annotations

__all__ = []
