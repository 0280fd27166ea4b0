"""ember.linalg: torch.linalg's namespace (norms here; decompositions join as they land)."""
from __future__ import annotations

from ember._ops.norms import linalg_norm as norm
from ember._ops.norms import matrix_norm, vector_norm

__all__ = ["vector_norm", "matrix_norm", "norm"]
