"""Attention kernels (scaled dot-product, multi-head) with forward and backward together."""
from __future__ import annotations

__all__ = []
