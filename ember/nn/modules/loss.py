"""nn.modules.loss (mirrors torch/nn/modules/loss.py)."""
from __future__ import annotations

__all__ = []
