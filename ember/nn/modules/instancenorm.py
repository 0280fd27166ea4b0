"""nn.modules.instancenorm (mirrors torch/nn/modules/instancenorm.py)."""
from __future__ import annotations

__all__ = []
