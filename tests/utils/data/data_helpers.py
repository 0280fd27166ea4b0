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


__all__ = ["same_batch", "lib_tensor", "shm_blocks", "live_children", "ember"]
