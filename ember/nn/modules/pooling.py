"""nn.modules.pooling (mirrors torch/nn/modules/pooling.py)."""
from __future__ import annotations

__all__ = []
