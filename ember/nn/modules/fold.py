"""nn.modules.fold (mirrors torch/nn/modules/fold.py)."""
from __future__ import annotations

__all__ = []
