"""ember.accelerator: torch.accelerator's questions about the current accelerator.

ember's only accelerator is CUDA through CuPy; on a machine without a GPU every
answer says so, as torch's do on a CPU-only build.
"""
from __future__ import annotations

from ember import cuda as _cuda
from ember._device import device

__all__ = ["is_available", "current_accelerator", "device_count", "current_device_index",
           "synchronize"]


def is_available() -> bool:
    """True when a CUDA device is usable."""
    return _cuda.is_available()


def current_accelerator(check_available: bool = False) -> device | None:
    """`device('cuda')` when ember can use a GPU, else None."""
    return device("cuda") if _cuda.is_available() else None


def device_count() -> int:
    return _cuda.device_count()


def current_device_index() -> int:
    """Index of the current accelerator device; RuntimeError without one, as torch."""
    if not _cuda.is_available():
        raise RuntimeError("Cannot access accelerator device when none is available.")
    return _cuda.current_device()


def synchronize(device=None) -> None:
    """Wait for the accelerator's queued work; RuntimeError without one, as torch."""
    current_device_index()
    _cuda.synchronize(device)
