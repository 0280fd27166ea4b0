"""nn.modules.transformer (mirrors torch/nn/modules/transformer.py)."""
from __future__ import annotations

__all__ = []
