"""Numerical gradient checks (finite differences in float64)."""
from __future__ import annotations

__all__ = ["gradcheck", "gradgradcheck"]


def gradcheck(*args, **kwargs):
    raise NotImplementedError


def gradgradcheck(*args, **kwargs):
    raise NotImplementedError
