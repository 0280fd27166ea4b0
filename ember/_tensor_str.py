"""repr/str of tensors, formatted as torch prints them."""
from __future__ import annotations


def _str(t) -> str:
    return f"tensor({t._data!r})"
