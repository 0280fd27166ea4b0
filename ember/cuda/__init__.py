"""ember.cuda: GPU queries. CuPy is imported only when asked, never by `import ember`."""
from __future__ import annotations

__all__ = ["is_available", "device_count", "current_device", "synchronize"]


def _cupy():
    try:
        import cupy
    except ImportError:
        return None
    return cupy


def is_available() -> bool:
    """True when CuPy is installed and sees at least one GPU."""
    return device_count() > 0


def device_count() -> int:
    cupy = _cupy()
    if cupy is None:
        return 0
    try:
        return cupy.cuda.runtime.getDeviceCount()
    except Exception:  # CuPy without a driver raises its own CUDARuntimeError
        return 0


def current_device() -> int:
    cupy = _cupy()
    if cupy is None or not is_available():
        raise RuntimeError("Found no NVIDIA driver on your system.")
    return cupy.cuda.runtime.getDevice()


def synchronize(device=None) -> None:
    cupy = _cupy()
    if cupy is not None and is_available():
        cupy.cuda.runtime.deviceSynchronize()
