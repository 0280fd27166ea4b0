"""nn.modules.rnn (mirrors torch/nn/modules/rnn.py)."""
from __future__ import annotations

__all__ = []
