"""torch.Size: a tuple of ints with torch's repr."""
from __future__ import annotations

import math


class Size(tuple):
    """The shape of a tensor; a tuple that prints as torch.Size([...])."""

    def __new__(cls, sizes=()):
        return super().__new__(cls, sizes)

    def __repr__(self) -> str:
        return f"torch.Size({list(self)})"

    def __getitem__(self, key):
        out = super().__getitem__(key)
        return Size(out) if isinstance(key, slice) else out

    def __add__(self, other):
        return Size(tuple(self) + tuple(other))

    def __radd__(self, other):
        return Size(tuple(other) + tuple(self))

    def __mul__(self, n):
        return Size(tuple(self) * n)

    def numel(self) -> int:
        return math.prod(self)

    def __reduce__(self):
        return (Size, (tuple(self),))
