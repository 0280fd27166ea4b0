"""nn.modules.normalization (mirrors torch/nn/modules/normalization.py)."""
from __future__ import annotations

__all__ = []
