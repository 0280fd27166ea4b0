"""Shared memory for CPU tensors: where `Tensor.share_memory_()` moves an array.

A shared array lives in a `SharedMapping`, an anonymous MAP_SHARED `mmap`: a process
forked after the move maps the same pages, so an in-place write in any process (an
optimizer step in a Hogwild worker) is seen by all of them. The mapping's type is the
mark: an array is shared when the chain of its `.base`s ends in a SharedMapping, so views
taken afterwards are shared too, as in torch. The DataLoader's worker batches arrive in
POSIX shared memory mapped the same way, so they report is_shared() as torch's do.

`move` keeps each array's strides and the arrays' relative offsets, so a view and its
base still alias each other after the move (torch keeps strides too). Arrays that alias
the old memory without being passed in (a `detach()` or a view whose base was not
moved) keep the old, private memory.
"""
from __future__ import annotations

import mmap

import numpy as np

try:
    from numpy.lib.array_utils import byte_bounds
except ImportError:  # NumPy 1.x
    from numpy import byte_bounds

__all__ = ["SharedMapping", "is_shared_array", "move"]


class SharedMapping(mmap.mmap):
    """An mmap whose pages are shared with forked children; its type marks shared arrays."""


def is_shared_array(arr: np.ndarray) -> bool:
    """Whether `arr` views memory in a SharedMapping."""
    base = arr
    while isinstance(base, np.ndarray):
        base = base.base
    return isinstance(base, SharedMapping)


def move(arrays: list[np.ndarray]) -> list[np.ndarray]:
    """Copies of `arrays` (views of one block of memory) in one new SharedMapping.

    Each copy has its array's shape, dtype and strides, at the same distance from the
    others as before, so copies of arrays that aliased each other still do.
    """
    spans = [byte_bounds(a) for a in arrays]
    filled = [s for s, a in zip(spans, arrays) if a.size]
    lo = min((s[0] for s in filled), default=0)
    hi = max((s[1] for s in filled), default=0)
    mapping = SharedMapping(-1, max(hi - lo, 1))  # a mapping can't be empty
    out = []
    for a in arrays:
        # The offset is that of the first element, which negative strides put above `start`;
        # an empty array has no elements to place: any offset inside the mapping will do.
        offset = a.__array_interface__["data"][0] - lo if a.size else 0
        new = np.ndarray(a.shape, a.dtype, buffer=mapping, offset=offset, strides=a.strides)
        new[...] = a
        out.append(new)
    return out
