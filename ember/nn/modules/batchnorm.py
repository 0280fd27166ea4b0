"""nn.modules.batchnorm (mirrors torch/nn/modules/batchnorm.py)."""
from __future__ import annotations

__all__ = []
