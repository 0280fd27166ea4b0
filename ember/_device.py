"""Device objects and the array module (NumPy or CuPy) that serves each device.

`cpu` tensors hold NumPy arrays; `cuda[:N]` tensors hold CuPy arrays, and CuPy
is imported only when a CUDA tensor is first asked for, so `import ember` stays
fast and CPU behaviour never depends on CuPy being installed.
"""
from __future__ import annotations

import numpy as np

__all__ = ["device", "get_array_module", "array_module", "device_of"]


class device:
    """`device('cpu')`, `device('cuda')`, `device('cuda:1')`, `device('cuda', 1)`."""

    __slots__ = ("type", "index")

    def __init__(self, type, index: int | None = None):
        if isinstance(type, device):
            self.type, self.index = type.type, type.index
            return
        if isinstance(type, int):  # torch.device(0) means cuda:0
            type, index = "cuda", type
        if not isinstance(type, str):
            raise TypeError(f"device() received an invalid combination of arguments: {type!r}")
        if ":" in type:
            if index is not None:
                raise RuntimeError(f"type (string) must not include an index because index "
                                   f"was passed explicitly: {type}")
            type, _, idx = type.partition(":")
            if not idx.isdigit():
                raise RuntimeError(f"Invalid device string: '{type}:{idx}'")
            index = int(idx)
        if type not in ("cpu", "cuda", "meta"):
            raise RuntimeError(f"Expected one of cpu, cuda, meta device type at start of "
                               f"device string: {type}")
        if index is not None and index < 0:
            raise RuntimeError(f"Device index must not be negative, got {index}")
        self.type = type
        self.index = index

    def __repr__(self) -> str:
        idx = "" if self.index is None else f", index={self.index}"
        return f"device(type='{self.type}'{idx})"

    def __str__(self) -> str:
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __eq__(self, other) -> bool:
        if isinstance(other, str):
            other = device(other)
        return isinstance(other, device) and self.type == other.type and self.index == other.index

    def __hash__(self) -> int:
        return hash((self.type, self.index))

    def __reduce__(self):
        return (device, (self.type, self.index))


CPU = device("cpu")


def _cupy():
    """CuPy, imported on first use with an error that says what is missing."""
    try:
        import cupy
    except ImportError:
        raise RuntimeError("CUDA tensors need CuPy: pip install 'ember[cuda]'") from None
    return cupy


def get_array_module(dev: device):
    """The array module (NumPy or CuPy) that computes on `dev`."""
    if dev.type == "cpu":
        return np
    if dev.type == "cuda":
        return _cupy()
    raise RuntimeError(f"ember cannot compute on device {dev}")


def array_module(array):
    """The array module of a backend array: NumPy for NumPy arrays, else CuPy.

    The one place that tells the two apart; kernels call it as `xp = array_module(x)`.
    """
    if isinstance(array, (np.ndarray, np.generic)):  # NumPy scalars come from 0-dim math
        return np
    return _cupy()


def device_of(array) -> device:
    """The device an array lives on: NumPy arrays are on the CPU."""
    if isinstance(array, np.ndarray):
        return CPU
    return device("cuda", array.device.id)


def to_device(array, dev: device, non_blocking: bool = False):
    """`array` on `dev` (the same object where it already is there).

    A host-to-GPU copy from page-locked memory with `non_blocking` is queued on the
    current stream and returns at once, as in torch; later GPU work on that stream
    waits for it. Every other copy is synchronous.
    """
    if dev.type == "cpu":
        return array if isinstance(array, np.ndarray) else array.get()
    cupy = _cupy()
    with cupy.cuda.Device(dev.index or 0):
        if non_blocking and isinstance(array, np.ndarray) and is_pinned(array):
            out = cupy.empty(array.shape, array.dtype)
            out.set(array, stream=cupy.cuda.get_current_stream())
            return out
        return cupy.asarray(array)


def pin(array: np.ndarray) -> np.ndarray:
    """A copy of host `array` in page-locked memory, which the GPU can read asynchronously."""
    _cupy()  # the clear error when CuPy is missing
    import cupyx
    out = cupyx.empty_pinned(array.shape, array.dtype)
    np.copyto(out, array)
    return out


def is_pinned(array) -> bool:
    """Whether a host array lives in page-locked memory (views of pinned memory are too)."""
    if not isinstance(array, np.ndarray) or array.size == 0:
        return False
    from ember import cuda
    if not cuda.is_available():
        return False
    runtime = _cupy().cuda.runtime
    attributes = runtime.pointerGetAttributes(array.ctypes.data)
    return attributes.type == getattr(runtime, "memoryTypeHost", 1)


def as_device(dev) -> device:
    """Accept a device, a string, an int or None (None means the CPU)."""
    if dev is None:
        return CPU
    if isinstance(dev, device):
        return dev
    return device(dev)
