"""Indexing: __getitem__/__setitem__, gather/scatter, index_*, masked_*, sort/topk/unique."""
from __future__ import annotations

__all__ = []
