"""Graph node types, under the names torch.autograd.graph exposes."""
from __future__ import annotations

from ember.autograd.function import AccumulateGrad, Node

__all__ = ["Node", "AccumulateGrad"]
