"""nn.modules.module (mirrors torch/nn/modules/module.py)."""
from __future__ import annotations

__all__ = []
