"""nn.modules.activation (mirrors torch/nn/modules/activation.py)."""
from __future__ import annotations

__all__ = []
