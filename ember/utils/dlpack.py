"""DLPack interchange: ember tensors to and from NumPy, CuPy, torch ... without copies.

A tensor exports its backend array's own DLPack capsule (NumPy on the CPU, CuPy on
a GPU), so the consumer sees the same memory. NumPy cannot describe bfloat16 in
DLPack, so a bfloat16 tensor is exported as its uint16 bits with the capsule's
dtype field relabelled kDLBfloat (and the reverse on import); the memory is still
shared. The capsule layout used for that relabelling is DLPack's C ABI.
"""
from __future__ import annotations

import ctypes
from typing import Any

import numpy as np

from ember import _dtype as _dt
from ember._tensor import Tensor, _make

__all__ = ["from_dlpack", "to_dlpack"]

_kDLCPU, _kDLCUDA = 1, 2
_kDLUInt, _kDLBfloat = 1, 4


class _DLDevice(ctypes.Structure):
    _fields_ = [("device_type", ctypes.c_int32), ("device_id", ctypes.c_int32)]


class _DLDataType(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint8), ("bits", ctypes.c_uint8), ("lanes", ctypes.c_uint16)]


class _DLTensor(ctypes.Structure):
    _fields_ = [("data", ctypes.c_void_p), ("device", _DLDevice), ("ndim", ctypes.c_int32),
                ("dtype", _DLDataType), ("shape", ctypes.c_void_p),
                ("strides", ctypes.c_void_p), ("byte_offset", ctypes.c_uint64)]


# Private function pointers (not ctypes.pythonapi's shared attributes, whose restype
# other code may set differently).
_capsule_name = ctypes.PYFUNCTYPE(ctypes.c_char_p, ctypes.py_object)(
    ("PyCapsule_GetName", ctypes.pythonapi))
_capsule_pointer = ctypes.PYFUNCTYPE(ctypes.c_void_p, ctypes.py_object, ctypes.c_char_p)(
    ("PyCapsule_GetPointer", ctypes.pythonapi))
_capsule_is_valid = ctypes.PYFUNCTYPE(ctypes.c_int, ctypes.py_object, ctypes.c_char_p)(
    ("PyCapsule_IsValid", ctypes.pythonapi))
# DLManagedTensorVersioned: version (2 x uint32), manager_ctx, deleter, flags, then DLTensor
_VERSIONED_OFFSET = 8 + 8 + 8 + 8


def _dl_tensor(capsule) -> _DLTensor:
    """The DLTensor inside an unconsumed DLPack capsule."""
    if not isinstance(capsule, object) or type(capsule).__name__ != "PyCapsule":
        raise TypeError(f"expected a DLPack capsule, got {type(capsule).__name__}")
    for name, offset in ((b"dltensor", 0), (b"dltensor_versioned", _VERSIONED_OFFSET)):
        if _capsule_is_valid(capsule, name):
            return _DLTensor.from_address(_capsule_pointer(capsule, name) + offset)
    raise RuntimeError("from_dlpack received an invalid capsule. Note that DLTensor capsules "
                       "can be consumed only once, so you might have already constructed a "
                       "tensor from it once.")


class _Capsule:
    """Hands an already-made capsule to a consumer's from_dlpack (NumPy / CuPy)."""

    def __init__(self, capsule, device: tuple[int, int]):
        self._capsule = capsule
        self._device = device

    def __dlpack__(self, *args, **kwargs):
        capsule, self._capsule = self._capsule, None
        return capsule

    def __dlpack_device__(self) -> tuple[int, int]:
        return self._device


class _WritableView:
    """The memory of a read-only array, offered writable (keeps the array alive)."""

    def __init__(self, array: np.ndarray):
        self.owner = array
        interface = dict(array.__array_interface__)
        interface["data"] = (interface["data"][0], False)
        self.__array_interface__ = interface


def _export(array, **kwargs):
    """`array`'s DLPack capsule (bfloat16 as relabelled uint16 bits)."""
    kwargs = {k: v for k, v in kwargs.items() if v is not None}
    if array.dtype == _dt.bfloat16.np:
        capsule = array.view(np.uint16).__dlpack__(**kwargs)
        dl = _dl_tensor(capsule)
        dl.dtype.code = _kDLBfloat
        return capsule
    return array.__dlpack__(**kwargs)


def tensor_dlpack(tensor: Tensor, stream=None, max_version=None, dl_device=None, copy=None):
    """Tensor.__dlpack__: a capsule over the tensor's memory."""
    if tensor.requires_grad:
        raise BufferError("Can't export tensors that require gradient, use tensor.detach()")
    kwargs: dict[str, Any] = {"max_version": max_version, "dl_device": dl_device, "copy": copy}
    if not isinstance(tensor._data, np.ndarray):
        kwargs["stream"] = stream
    return _export(tensor._data, **kwargs)


def tensor_dlpack_device(tensor: Tensor) -> tuple[int, int]:
    """Tensor.__dlpack_device__: (device type, index) as DLPack numbers them."""
    if isinstance(tensor._data, np.ndarray):
        return (_kDLCPU, 0)
    return (_kDLCUDA, tensor._data.device.id)


def to_dlpack(tensor: Tensor):
    """A DLPack capsule sharing `tensor`'s memory (torch.utils.dlpack.to_dlpack)."""
    return tensor_dlpack(tensor)


def from_dlpack(ext_tensor: Any) -> Tensor:
    """A tensor sharing the memory of a DLPack producer (an object with __dlpack__, such
    as a NumPy array, CuPy array or torch tensor) or of a capsule."""
    if isinstance(ext_tensor, Tensor):
        return ext_tensor
    if hasattr(ext_tensor, "__dlpack__"):
        device = tuple(ext_tensor.__dlpack_device__())
        try:  # a versioned capsule says whether the memory is read-only
            capsule = ext_tensor.__dlpack__(max_version=(1, 0))
        except TypeError:
            capsule = ext_tensor.__dlpack__()
    else:
        dl = _dl_tensor(ext_tensor)
        device = (dl.device.device_type, dl.device.device_id)
        capsule = ext_tensor
    dl = _dl_tensor(capsule)
    legacy = bool(_capsule_is_valid(capsule, b"dltensor"))
    bfloat16 = dl.dtype.code == _kDLBfloat and dl.dtype.bits == 16 and dl.dtype.lanes == 1
    if bfloat16:
        dl.dtype.code = _kDLUInt  # NumPy/CuPy read the bits as uint16; relabelled below
    if device[0] == _kDLCPU:
        array = np.from_dlpack(_Capsule(capsule, device))
        if legacy and not array.flags.writeable:
            # NumPy marks memory from unversioned capsules read-only; DLPack before 1.0
            # had no such flag and producers (torch.utils.dlpack) mean it writable.
            array = np.asarray(_WritableView(array))
    elif device[0] == _kDLCUDA:
        import cupy
        array = cupy.from_dlpack(_Capsule(capsule, device))
    else:
        raise RuntimeError(f"ember cannot use DLPack device type {device[0]} (CPU and CUDA "
                           "only)")
    if bfloat16:
        if not isinstance(array, np.ndarray):
            raise TypeError("bfloat16 DLPack tensors are supported on the CPU only")
        array = array.view(_dt.bfloat16.np)
    if array.dtype not in _dt._FROM_NP or _dt._FROM_NP[array.dtype].np != array.dtype:
        raise TypeError(f"ember has no dtype for DLPack data of type {array.dtype}")
    return _make(array)
