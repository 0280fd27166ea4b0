"""Matrix products: matmul with torch's broadcasting, mm, bmm, addmm, einsum ..."""
from __future__ import annotations

__all__ = []
