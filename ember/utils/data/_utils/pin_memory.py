"""Pinning batches in page-locked host memory, in a thread of the main process.

On a machine without a GPU pinning has no meaning: the DataLoader warns (as torch
does) and never starts the thread, so `pin_memory=True` returns the same batches.
With a GPU the thread takes each batch off the workers' result queue, calls
`.pin_memory()` on its tensors and hands it on to the main thread.
"""
from __future__ import annotations

import queue
import threading

from ember.utils.data._utils import MP_STATUS_CHECK_INTERVAL, ExceptionWrapper


def pin_memory(data, device=None):
    """`data` with every tensor replaced by its pinned copy (containers kept)."""
    from ember.utils.data._utils.shm import _map_structure

    def pin(x):
        if hasattr(x, "pin_memory") and callable(x.pin_memory):
            return x.pin_memory()
        return x
    return _map_structure(pin, data)


def _pin_memory_loop(in_queue, out_queue, device, done_event: threading.Event,
                     unpack=None) -> None:
    """Move (idx, batch) pairs from `in_queue` to `out_queue`, pinning each batch."""
    while not done_event.is_set():
        try:
            r = in_queue.get(timeout=MP_STATUS_CHECK_INTERVAL)
        except queue.Empty:
            continue
        idx, data = r
        if not done_event.is_set() and not isinstance(data, ExceptionWrapper):
            try:
                if unpack is not None:
                    data = unpack(data)
                data = pin_memory(data, device)
            except Exception:
                data = ExceptionWrapper(where=f"in pin memory thread for device {device}")
            r = (idx, data)
        while not done_event.is_set():
            try:
                out_queue.put(r, timeout=MP_STATUS_CHECK_INTERVAL)
                break
            except queue.Full:
                continue
