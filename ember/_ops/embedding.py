"""The embedding kernels: Functions with forward and backward side by side (nn.functional uses them)."""
from __future__ import annotations

__all__ = []
