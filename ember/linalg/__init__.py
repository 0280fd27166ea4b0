"""ember.linalg: norms (and later decompositions), as torch.linalg."""
from __future__ import annotations

__all__ = []
