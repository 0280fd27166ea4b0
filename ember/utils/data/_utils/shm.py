"""Shared-memory transport: how a collated batch crosses from a worker to the main process.

A worker calls `pack(data, name)`: every CPU array in the batch (ember tensors and
NumPy arrays, found by walking dicts, lists, tuples and namedtuples) is copied into
ONE POSIX shared-memory block, `/dev/shm/<name>`, at a 64-byte aligned offset, and
replaced in the structure by a small `_Slot` (offset, shape, dtype). Only that
skeleton is pickled onto the result queue. The main process calls `unpack(msg)`:
it maps the block, unlinks its name at once, and rebuilds the arrays as views of
the mapping, so the batch is never copied again.

Lifetime: after `unpack` the block has no name, only a mapping; the kernel frees
the memory when the last tensor viewing it is garbage-collected. Blocks that were
written but never unpacked (the loader stopped early, a worker died, the main
process was interrupted) still have names, all starting with the iterator's
prefix; `unlink_prefix(prefix)` removes them when the workers are shut down. A
worker whose parent died removes its own blocks before it exits.

Small batches (under `MIN_BYTES`) travel pickled: opening a block costs more than
pickling a few kilobytes. `ENABLED = False` (or EMBER_DATALOADER_SHM=0) turns the
transport off, for comparison.
"""
from __future__ import annotations

import errno
import os

import numpy as np

from ember._shared import SharedMapping
from ember._tensor import Tensor, _make

SHM_DIR = "/dev/shm"
ENABLED = os.environ.get("EMBER_DATALOADER_SHM", "1") != "0" and os.path.isdir(SHM_DIR)
MIN_BYTES = 16384
_ALIGN = 64


class _Slot:
    """Where one array of the batch lies in the block (replaces it in the pickled skeleton)."""

    __slots__ = ("offset", "shape", "dtype", "is_tensor", "requires_grad")

    def __init__(self, offset, shape, dtype, is_tensor, requires_grad):
        self.offset = offset
        self.shape = shape
        self.dtype = dtype
        self.is_tensor = is_tensor
        self.requires_grad = requires_grad

    def __getstate__(self):
        return (self.offset, self.shape, self.dtype, self.is_tensor, self.requires_grad)

    def __setstate__(self, state):
        (self.offset, self.shape, self.dtype, self.is_tensor, self.requires_grad) = state


class ShmBatch:
    """The message a worker sends for a batch in shared memory: block name, size, skeleton."""

    __slots__ = ("name", "size", "skeleton")

    def __init__(self, name: str, size: int, skeleton):
        self.name = name
        self.size = size
        self.skeleton = skeleton

    def __getstate__(self):
        return (self.name, self.size, self.skeleton)

    def __setstate__(self, state):
        self.name, self.size, self.skeleton = state


def _map_structure(fn, data):
    """Apply `fn` to every leaf of dicts/lists/tuples/namedtuples, keeping container types."""
    if isinstance(data, (Tensor, np.ndarray)):
        return fn(data)
    if isinstance(data, dict):
        out = {k: _map_structure(fn, v) for k, v in data.items()}
        if type(data) is not dict:
            try:
                return type(data)(out)
            except TypeError:
                return out
        return out
    if isinstance(data, tuple):
        if hasattr(data, "_fields"):
            return type(data)(*(_map_structure(fn, v) for v in data))
        return tuple(_map_structure(fn, v) for v in data)
    if isinstance(data, list):
        return [_map_structure(fn, v) for v in data]
    return fn(data)


def _shareable(x) -> np.ndarray | None:
    """The NumPy array behind a CPU tensor or array worth sharing, else None."""
    arr = x._data if isinstance(x, Tensor) else x
    if not isinstance(arr, np.ndarray) or arr.dtype.hasobject or arr.dtype.kind in "SUV":
        return None
    if isinstance(x, Tensor) and (x.grad_fn is not None or x._base is not None
                                  and x._base.grad_fn is not None):
        return None  # a non-leaf tensor: pickling gives torch's error or behaviour
    return arr


def _write(fd: int, buf: memoryview, offset: int) -> None:
    # Through the file, not a mapping: one kernel copy with no page faults on our side
    # (about 4x faster than filling a fresh mapping), and a full tmpfs answers ENOSPC
    # here instead of killing the process with SIGBUS when a copy touches a missing page.
    while buf:
        n = os.pwrite(fd, buf, offset)
        buf = buf[n:]
        offset += n


def shm_exhausted_message(size: int, err: OSError) -> str:
    return (f"DataLoader could not allocate {size} bytes of shared memory in {SHM_DIR} "
            f"({os.strerror(err.errno)}): {SHM_DIR} is exhausted. Free space there (or "
            f"raise its size, e.g. docker's --shm-size), lower batch_size, num_workers or "
            f"prefetch_factor, or set EMBER_DATALOADER_SHM=0 to send batches pickled.")


def pack(data, name: str):
    """`data` with its arrays moved into the block `name` (a ShmBatch), or `data` unchanged."""
    if not ENABLED:
        return data
    leaves: list[tuple[np.ndarray, int]] = []
    total = 0

    def plan(x):
        nonlocal total
        arr = _shareable(x)
        if arr is None:
            return x
        off = total
        total = (off + arr.nbytes + _ALIGN - 1) // _ALIGN * _ALIGN
        leaves.append((arr, off))
        is_t = isinstance(x, Tensor)
        return _Slot(off, arr.shape, arr.dtype, is_t, is_t and x._requires_grad)

    skeleton = _map_structure(plan, data)
    if total < MIN_BYTES:
        return data
    path = os.path.join(SHM_DIR, name)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        try:
            os.ftruncate(fd, total)
            for arr, off in leaves:
                flat = np.ascontiguousarray(arr).reshape(-1).view(np.uint8)
                _write(fd, memoryview(flat), off)
        except OSError as e:
            if e.errno in (errno.ENOSPC, errno.ENOMEM):
                raise RuntimeError(shm_exhausted_message(total, e)) from None
            raise
    except BaseException:
        os.close(fd)
        _unlink(path)
        raise
    os.close(fd)
    return ShmBatch(name, total, skeleton)


def unpack(msg):
    """The batch a worker packed, as tensors/arrays viewing the (now nameless) block."""
    if not isinstance(msg, ShmBatch):
        return msg
    path = os.path.join(SHM_DIR, msg.name)
    fd = os.open(path, os.O_RDWR)
    try:
        mm = SharedMapping(fd, msg.size)  # its type marks the batch's tensors is_shared()
    finally:
        os.close(fd)
        _unlink(path)

    def rebuild(x):
        if not isinstance(x, _Slot):
            return x
        arr = np.ndarray(x.shape, x.dtype, buffer=mm, offset=x.offset)
        return _make(arr, x.requires_grad) if x.is_tensor else arr

    return _map_structure(rebuild, msg.skeleton)


def discard(msg) -> None:
    """Free the block of a message that will never be unpacked."""
    if isinstance(msg, ShmBatch):
        _unlink(os.path.join(SHM_DIR, msg.name))


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def unlink_prefix(prefix: str) -> int:
    """Remove every block whose name starts with `prefix`; returns how many."""
    if not os.path.isdir(SHM_DIR):
        return 0
    n = 0
    for entry in os.listdir(SHM_DIR):
        if entry.startswith(prefix):
            _unlink(os.path.join(SHM_DIR, entry))
            n += 1
    return n
