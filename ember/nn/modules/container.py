"""nn.modules.container (mirrors torch/nn/modules/container.py)."""
from __future__ import annotations

__all__ = []
