"""Shared pieces of the ember.utils.data tests: datasets defined for both libraries, and a
structural comparison of batches (types, container shapes, tensor values and dtypes)."""
from __future__ import annotations

import os

import numpy as np
import torch
from oracle import assert_same

import ember


def same_batch(e, t, what="batch") -> None:
    """ember batch `e` equals torch batch `t`: same container types and tensor contents."""
    if isinstance(t, torch.Tensor):
        assert_same(e, t, what=what)
        return
    if isinstance(t, dict):
        assert type(e) is type(t), f"{what}: {type(e)} vs torch's {type(t)}"
        assert list(e) == list(t), f"{what}: keys {list(e)} vs {list(t)}"
        for k in t:
            same_batch(e[k], t[k], f"{what}[{k!r}]")
        return
    if isinstance(t, (list, tuple)):
        if hasattr(t, "_fields"):
            assert type(e).__name__ == type(t).__name__ and e._fields == t._fields, what
        else:
            assert type(e) is type(t), f"{what}: {type(e)} vs torch's {type(t)}"
        assert len(e) == len(t), f"{what}: len {len(e)} vs {len(t)}"
        for i, (a, b) in enumerate(zip(e, t)):
            same_batch(a, b, f"{what}[{i}]")
        return
    if isinstance(t, np.ndarray):
        np.testing.assert_array_equal(e, t)
        return
    assert type(e) is type(t) and e == t, f"{what}: {e!r} vs torch's {t!r}"


def lib_tensor(lib, a: np.ndarray):
    return lib.from_numpy(np.array(a))


def shm_blocks(prefix: str = "ember_dl_") -> set[str]:
    """Names of our shared-memory blocks in /dev/shm (this process's loaders only)."""
    mine = f"{prefix}{os.getpid()}_"
    return {n for n in os.listdir("/dev/shm") if n.startswith(mine)}


def live_children() -> list[int]:
    """Pids of this process's live child processes (zombies excluded)."""
    out = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == os.getpid() and fields[0] != "Z":
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if b"resource_tracker" in f.read():
                    continue  # multiprocessing's own helper, started once per process
            out.append(int(pid))
    return out


def fake_pinned_memory(monkeypatch) -> list[tuple[int, int]]:
    """Stand in for CuPy's page-locked allocator on a machine without a GPU.

    ember.cuda reports a GPU, `pin` copies into an ordinary buffer and remembers its
    address range, and `is_pinned` looks addresses up there, so everything above the
    allocator (Tensor.pin_memory, the factories, the DataLoader's pin thread) runs as it
    would with a GPU. Returns the list of pinned (start, end) ranges.
    """
    from ember import _device
    ranges: list[tuple[int, int]] = []

    def pin(array):
        out = np.empty_like(array, order="C")
        np.copyto(out, array)
        ranges.append((out.ctypes.data, out.ctypes.data + out.nbytes))
        return out

    def is_pinned(array):
        if not isinstance(array, np.ndarray) or array.size == 0:
            return False
        return any(lo <= array.ctypes.data < hi for lo, hi in ranges)

    monkeypatch.setattr(ember.cuda, "is_available", lambda: True)
    monkeypatch.setattr(_device, "pin", pin)
    monkeypatch.setattr(_device, "is_pinned", is_pinned)
    return ranges


__all__ = ["same_batch", "lib_tensor", "shm_blocks", "live_children", "fake_pinned_memory",
           "ember"]
