"""How the C allocator under NumPy keeps memory that a training step frees.

A training step allocates and frees the same few megabyte-sized arrays every
iteration. glibc's malloc, left alone, hands large freed blocks back to the
kernel (munmap, or trimming the heap's top), so the next step's arrays arrive as
fresh pages: one page fault per 4 KiB, each zeroing its page. On a virtual
machine a fault costs about 2 µs, and a small CNN's step faulted ~7,000 times:
17-23 ms of a 75 ms step. torch faults less because its fused kernels
allocate fewer temporaries.

`keep_freed_memory` sets two fixed thresholds, once, when ember is imported:
blocks up to 32 MiB come from the heap (bigger ones are still mapped and
returned to the kernel on free), and up to 256 MiB of free heap is kept for
reuse rather than returned. That is what a caching allocator does (torch's CUDA
allocator keeps freed blocks the same way), bounded so that a long-lived process
gives back what it no longer uses beyond 256 MiB.

It is a process-wide setting. Where the user has chosen malloc settings through
glibc's own environment variables (MALLOC_*_ or GLIBC_TUNABLES), ember leaves
them alone; on other C libraries it does nothing.
"""
from __future__ import annotations

import ctypes
import os
import sys

_M_TRIM_THRESHOLD = -1  # mallopt parameter numbers from glibc's malloc.h
_M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 << 20
TRIM_THRESHOLD = 256 << 20


def _user_chose() -> bool:
    return "malloc" in os.environ.get("GLIBC_TUNABLES", "") or any(
        name.startswith("MALLOC_") and name.endswith("_") for name in os.environ)


def keep_freed_memory() -> bool:
    """Set glibc's mmap and trim thresholds (above); returns whether they were set."""
    if not sys.platform.startswith("linux") or _user_chose():
        return False
    libc = ctypes.CDLL(None)
    if not hasattr(libc, "gnu_get_libc_version"):  # musl and others: leave their malloc be
        return False
    # Setting either threshold also stops glibc from adjusting the mmap threshold by
    # itself, so both are set: the trim threshold alone would map every block > 128 KiB.
    return bool(libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD) and
                libc.mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD))
