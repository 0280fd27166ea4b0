"""nn.modules.dropout (mirrors torch/nn/modules/dropout.py)."""
from __future__ import annotations

__all__ = []
