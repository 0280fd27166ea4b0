"""ember.cuda: GPU queries. CuPy is imported only when asked, never by `import ember`."""
from __future__ import annotations

__all__ = ["is_available", "device_count", "current_device", "synchronize", "manual_seed",
           "manual_seed_all", "get_device_name", "empty_cache"]


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


def manual_seed(seed: int) -> None:
    """Seed the current GPU's generator (remembered for later ones while none exists yet)."""
    from ember.random import _seed_cuda
    _seed_cuda(int(seed) & 0xFFFF_FFFF_FFFF_FFFF, current_device() if is_available() else None)


def manual_seed_all(seed: int) -> None:
    """Seed every GPU's generator, now and as they are created."""
    from ember.random import _seed_cuda
    _seed_cuda(int(seed) & 0xFFFF_FFFF_FFFF_FFFF)


def get_device_name(device=None) -> str:
    cupy = _cupy()
    if cupy is None or not is_available():
        raise RuntimeError("Found no NVIDIA driver on your system.")
    index = current_device() if device is None else int(str(device).rpartition(":")[2] or 0)
    return cupy.cuda.runtime.getDeviceProperties(index)["name"].decode()


def empty_cache() -> None:
    """Give cached GPU memory back (CuPy's memory pools); nothing to do without a GPU."""
    cupy = _cupy()
    if cupy is not None and is_available():
        cupy.get_default_memory_pool().free_all_blocks()
        cupy.get_default_pinned_memory_pool().free_all_blocks()


from ember.cuda import amp  # noqa: E402  (torch.cuda.amp after `import torch`)
