"""nn.modules.sparse (mirrors torch/nn/modules/sparse.py)."""
from __future__ import annotations

__all__ = []
