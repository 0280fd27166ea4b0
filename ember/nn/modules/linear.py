"""nn.modules.linear (mirrors torch/nn/modules/linear.py)."""
from __future__ import annotations

__all__ = []
