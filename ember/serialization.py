"""ember.save / ember.load: PyTorch's zip checkpoint format, read safely and written atomically.

NOTE [ Checkpoint format ]
A checkpoint is an uncompressed zip whose records sit in one folder named after the
file (torch uses the file name without its extension; "archive" for file objects):

    <folder>/data.pkl                 the object, pickled with protocol 2
    <folder>/.format_version          b"1"
    <folder>/.storage_alignment       b"64"
    <folder>/byteorder                b"little"
    <folder>/data/<key>               one raw storage per key, payload 64-byte aligned
    <folder>/version                  b"3\\n" (torch.load requires it)
    <folder>/.data/serialization_id   40 digits

Inside data.pkl a tensor is `torch._utils._rebuild_tensor_v2(storage, offset, size,
stride, requires_grad, OrderedDict())`, and its storage a persistent id
`('storage', torch.FloatStorage, key, location, numel)`. A storage here is the memory
of the NumPy (or CuPy) array that owns a tensor's data: tensors that look into one
array (views, detach(), slices) share one storage and load back sharing memory.
ember writes torch's global names without importing torch: `_Global` stand-ins are
written as GLOBAL opcodes by name, and loading maps those names back onto ember's
objects through an allowlist, so no code from a file ever runs.
"""
from __future__ import annotations

import contextlib
import io
import os
import pickle
import shutil
import struct
import tempfile
import zipfile
from collections import Counter, OrderedDict
from typing import IO, Any

import numpy as np

from ember import _dtype as _dt
from ember._device import array_module, as_device, device, to_device
from ember._ops import shape as _sh
from ember._size import Size
from ember._tensor import Tensor, _make

__all__ = ["save", "load", "add_safe_globals", "get_safe_globals", "clear_safe_globals",
           "safe_globals", "get_unsafe_globals_in_checkpoint"]

_ALIGNMENT = 64
_PROTOCOL = 2

# torch's typed-storage class name for each dtype (the persistent id names them).
_STORAGE_NAME = {
    _dt.float32: "FloatStorage", _dt.float64: "DoubleStorage", _dt.float16: "HalfStorage",
    _dt.bfloat16: "BFloat16Storage", _dt.int64: "LongStorage", _dt.int32: "IntStorage",
    _dt.int16: "ShortStorage", _dt.int8: "CharStorage", _dt.uint8: "ByteStorage",
    _dt.bool: "BoolStorage",
}


# ----------------------------------------------------------------- writing
class _Global:
    """Stands for the global `module.name` in a pickle (written as a GLOBAL opcode)."""

    __slots__ = ("module", "name")

    def __init__(self, module: str, name: str):
        self.module = module
        self.name = name

    def __call__(self, *args):  # the pickler requires a callable in a reduce tuple
        raise TypeError(f"{self.module}.{self.name} is a name written into checkpoints")


_REBUILD_TENSOR = _Global("torch._utils", "_rebuild_tensor_v2")
_REBUILD_PARAMETER = _Global("torch._utils", "_rebuild_parameter")
_TORCH_DEVICE = _Global("torch", "device")
_TORCH_SIZE = _Global("torch", "Size")
_STORAGE_GLOBAL = {dt: _Global("torch", name) for dt, name in _STORAGE_NAME.items()}
_DTYPE_GLOBAL = {dt: _Global("torch", dt.name) for dt in _dt._ALL}


class _StorageRecord:
    """One storage being written: the owning array's bytes and its persistent id."""

    __slots__ = ("key", "dtype", "root", "low", "nbytes", "location")

    def __init__(self, key, dtype, root, low, nbytes, location):
        self.key = key
        self.dtype = dtype
        self.root = root  # kept alive until the bytes are written
        self.low = low  # address of the storage's first byte
        self.nbytes = nbytes
        self.location = location


def _extent(arr) -> tuple[int, int]:
    """[low, high) byte addresses that `arr`'s elements span."""
    low = high = _sh._ptr(arr)
    if arr.size == 0:
        return low, high
    for n, s in zip(arr.shape, arr.strides):
        if s < 0:
            low += (n - 1) * s
        else:
            high += (n - 1) * s
    return low, high + arr.itemsize


def _storage_bytes(rec: _StorageRecord) -> memoryview:
    """The storage's bytes as a flat host buffer (a view where the memory allows)."""
    root = rec.root
    if rec.nbytes == 0:
        return memoryview(b"")
    if not isinstance(root, np.ndarray):  # CuPy: one device-to-host copy of the region
        import cupy
        flat = cupy.ndarray((rec.nbytes,), cupy.uint8, memptr=root.data + (rec.low - root.data.ptr))
        return memoryview(flat.get())
    if root.flags.c_contiguous and _sh._ptr(root) == rec.low:
        return memoryview(root.reshape(-1).view(np.uint8))
    if root.flags.f_contiguous and _sh._ptr(root) == rec.low:
        return memoryview(root.T.reshape(-1).view(np.uint8))
    import ctypes  # an unusual owner (negative or gapped strides): read the span directly
    buf = (ctypes.c_char * rec.nbytes).from_address(rec.low)
    return memoryview(np.frombuffer(buf, np.uint8).copy())


class _CheckpointPickler(pickle._Pickler):
    """Pickles ember objects under torch's names; storages become persistent ids.

    The pure-Python pickler is used because it lets `_Global` write a GLOBAL opcode
    for a name that cannot be imported here (torch's); data.pkl holds only metadata,
    so its speed does not matter next to the storages' bytes.
    """

    dispatch = pickle._Pickler.dispatch.copy()

    def __init__(self, file, protocol):
        super().__init__(file, protocol)
        self.storages: dict[int, _StorageRecord] = {}  # id(owning array) -> record

    def _save_global_by_name(self, obj: _Global) -> None:
        self.write(pickle.GLOBAL + f"{obj.module}\n{obj.name}\n".encode("ascii"))
        self.memoize(obj)

    dispatch[_Global] = _save_global_by_name

    def persistent_id(self, obj):
        if isinstance(obj, _StorageRecord):
            numel = obj.nbytes // obj.dtype.itemsize
            return ("storage", _STORAGE_GLOBAL[obj.dtype], obj.key, obj.location, numel)
        return None

    def reducer_override(self, obj):
        cls = obj.__class__
        if isinstance(obj, Tensor):
            if obj._is_param:
                return (_REBUILD_PARAMETER, (obj.detach(), obj._requires_grad, OrderedDict()))
            return self._reduce_tensor(obj)
        if cls is device:
            return (_TORCH_DEVICE, (str(obj),))
        if cls is Size:
            return (_TORCH_SIZE, (tuple(obj),))
        return NotImplemented

    def save(self, obj, save_persistent_id=True):
        if obj.__class__ is _dt.dtype:  # torch pickles a dtype as the bare global torch.<name>
            obj = _DTYPE_GLOBAL[obj]
        super().save(obj, save_persistent_id)

    def _reduce_tensor(self, t: Tensor):
        data = t._data
        dtype = t.dtype
        itemsize = data.itemsize
        root = _sh._storage_root(t)
        low, high = _extent(root)
        ptr = _sh._ptr(data)
        strides = _sh.stride(t)
        lo_t, hi_t = _extent(data)
        if (any(s < 0 for s in data.strides) or any(s % itemsize for s in data.strides)
                or (ptr - low) % itemsize or lo_t < low or hi_t > high):
            # Not expressible as (offset, stride) over the owner's memory: own storage.
            data = data.copy(order="C")
            root = data
            low, high = _extent(root)
            ptr = low
            strides = _sh._contiguous_strides(data.shape)
        rec = self.storages.get(id(root))
        if rec is None:
            location = "cpu" if isinstance(data, np.ndarray) else f"cuda:{data.device.id}"
            nbytes = (high - low) // itemsize * itemsize
            rec = _StorageRecord(str(len(self.storages)), dtype, root, low, nbytes, location)
            self.storages[id(root)] = rec
        elif rec.dtype is not dtype:
            raise RuntimeError("Cannot save multiple tensors or storages that view the same "
                               "data as different types")
        offset = (ptr - low) // itemsize
        return (_REBUILD_TENSOR, (rec, offset, tuple(data.shape), tuple(strides),
                                  t._requires_grad, OrderedDict()))


def _write_records(zf: zipfile.ZipFile, name: str, payload) -> None:
    """One uncompressed record whose payload starts on a 64-byte boundary."""
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_STORED
    size = len(payload)
    zip64 = size * 1.05 > zipfile.ZIP64_LIMIT  # zipfile then adds a 20-byte extra field
    header = 30 + len(name.encode("utf-8")) + (20 if zip64 else 0)
    pad = (-(zf.start_dir + header + 4)) % _ALIGNMENT
    info.extra = struct.pack("<HH", 0x4246, pad) + b"\0" * pad  # "FB" padding, as torch
    zf.writestr(info, payload)


def _archive_name(f) -> str:
    if isinstance(f, (str, os.PathLike)):
        return os.path.splitext(os.path.basename(os.fspath(f)))[0] or "archive"
    return "archive"


def _write_checkpoint(obj, fh: IO[bytes], archive: str, protocol: int) -> None:
    buf = io.BytesIO()
    pickler = _CheckpointPickler(buf, protocol)
    pickler.dump(obj)  # fails before anything is written if obj cannot be pickled
    with zipfile.ZipFile(fh, "w", zipfile.ZIP_STORED, allowZip64=True) as zf:
        _write_records(zf, f"{archive}/data.pkl", buf.getbuffer())
        _write_records(zf, f"{archive}/.format_version", b"1")
        _write_records(zf, f"{archive}/.storage_alignment", str(_ALIGNMENT).encode())
        _write_records(zf, f"{archive}/byteorder", b"little")
        for rec in pickler.storages.values():
            _write_records(zf, f"{archive}/data/{rec.key}", _storage_bytes(rec))
        _write_records(zf, f"{archive}/version", b"3\n")
        sid = str(int.from_bytes(os.urandom(17), "little") % 10 ** 40).zfill(40)
        _write_records(zf, f"{archive}/.data/serialization_id", sid.encode())


def _umask() -> int:
    try:
        with open("/proc/self/status") as st:
            for line in st:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    return 0o022


def _open_temp(folder: str, path: str) -> tuple[int, str | None]:
    """A file to write the checkpoint into: unnamed (O_TMPFILE) where the OS allows, so
    that even a killed process leaves nothing behind; else a named temporary file."""
    if hasattr(os, "O_TMPFILE"):
        try:
            return os.open(folder, os.O_TMPFILE | os.O_RDWR, 0o666), None
        except OSError:
            pass  # file system without O_TMPFILE support
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=folder)
    return fd, tmp


def _name_temp(fh, folder: str, path: str, mode: int) -> str:
    """Give the finished unnamed file a temporary name next to `path` (to rename over it)."""
    while True:
        tmp = os.path.join(folder, f".{os.path.basename(path)}.{os.urandom(6).hex()}.tmp")
        try:
            os.link(f"/proc/self/fd/{fh.fileno()}", tmp, follow_symlinks=True)
            return tmp
        except FileExistsError:
            continue
        except OSError:  # no /proc: copy the written bytes into a named temporary file
            fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp",
                                       dir=folder)
            try:
                with os.fdopen(fd, "wb") as out:
                    fh.seek(0)
                    shutil.copyfileobj(fh, out)
                    out.flush()
                    os.fchmod(out.fileno(), mode)
                    os.fsync(out.fileno())
            except BaseException:
                os.unlink(tmp)
                raise
            return tmp


def save(obj: Any, f, pickle_module=None, pickle_protocol: int = _PROTOCOL,
         _use_new_zipfile_serialization: bool = True,
         _disable_byteorder_record: bool = False) -> None:
    """Write `obj` as a PyTorch zip checkpoint that torch.load(weights_only=True) reads.

    `f` is a path or a writable binary file object. Saving to a path is atomic: the
    checkpoint is written to a temporary file in the same folder, flushed and fsynced,
    then renamed over the target, so a failed save leaves the previous file intact
    (torch.save writes in place).
    """
    if pickle_module is not None and pickle_module is not pickle:
        raise ValueError("ember.save writes with its own pickler; pickle_module must be None")
    if not _use_new_zipfile_serialization:
        raise ValueError("ember.save writes only the zip checkpoint format")
    if not isinstance(f, (str, os.PathLike)):
        _write_checkpoint(obj, f, "archive", pickle_protocol)
        return
    path = os.fspath(f)
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise RuntimeError(f"Parent directory {os.path.dirname(path) or folder} does not exist.")
    fd, tmp = _open_temp(folder, path)
    try:
        with os.fdopen(fd, "w+b") as fh:
            _write_checkpoint(obj, fh, _archive_name(path), pickle_protocol)
            fh.flush()
            os.fsync(fh.fileno())
            try:
                mode = os.stat(path).st_mode & 0o7777
            except FileNotFoundError:
                mode = 0o666 & ~_umask()
            os.fchmod(fh.fileno(), mode)
            if tmp is None:
                tmp = _name_temp(fh, folder, path, mode)
        os.replace(tmp, path)
    except BaseException:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):  # make the rename itself durable
        dfd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)


# ----------------------------------------------------------------- safe globals
_user_safe_globals: list = []


def add_safe_globals(safe_globals: list) -> None:
    """Allow these globals (objects, or (object, "module.name") pairs) in weights-only loads."""
    _user_safe_globals.extend(safe_globals)


def get_safe_globals() -> list:
    """The globals added with add_safe_globals."""
    return list(_user_safe_globals)


def clear_safe_globals() -> None:
    """Forget every global added with add_safe_globals."""
    _user_safe_globals.clear()


class safe_globals:  # noqa: N801 - torch's name
    """Context manager that allows `safe_globals` in weights-only loads inside its block."""

    def __init__(self, safe_globals: list):
        self.safe_globals = list(safe_globals)

    def __enter__(self):
        self._saved = list(_user_safe_globals)
        _user_safe_globals.extend(self.safe_globals)

    def __exit__(self, *exc):
        _user_safe_globals[:] = self._saved
        return False


def _user_global(module: str, name: str):
    full = f"{module}.{name}"
    for entry in _user_safe_globals:
        if isinstance(entry, tuple):
            obj, entry_name = entry
            if entry_name == full:
                return obj
        elif f"{getattr(entry, '__module__', '')}.{getattr(entry, '__qualname__', '')}" == full:
            return entry
    return None


class WeightsOnlyUnpicklerError(pickle.UnpicklingError):
    """A weights-only load met a global that is not allowlisted."""


class _GlobalNotFound(AttributeError):
    """A full (weights_only=False) load names a class this process does not have; raised as
    torch raises it, not reported as a corrupt file."""


def _refuse(module: str, name: str):
    # torch's wording (without its terminal colours), with ember's function names
    full = f"{module}.{name}"
    raise WeightsOnlyUnpicklerError(
        "Weights only load failed. This file can still be loaded, to do so you have two "
        "options, do those steps only if you trust the source of the checkpoint. \n"
        "\t(1) As in PyTorch 2.6 and later, `ember.load` defaults to `weights_only=True`. "
        "Re-running `ember.load` with `weights_only` set to `False` will likely succeed, but it "
        "can result in arbitrary code execution. Do it only if you got the file from a "
        "trusted source.\n"
        "\t(2) Alternatively, to load with `weights_only=True` please check the recommended "
        "steps in the following error message.\n"
        f"\tWeightsUnpickler error: Unsupported global: GLOBAL {full} was not an allowed "
        f"global by default. Please use `ember.serialization.add_safe_globals([{full}])` or "
        f"the `ember.serialization.safe_globals([{full}])` context manager to allowlist this "
        "global if you trust this class/function.\n\n"
        "Check the documentation of torch.load to learn more about types accepted by default "
        "with weights_only https://pytorch.org/docs/stable/generated/torch.load.html.")


# ----------------------------------------------------------------- loading
class _StorageType:
    """What a torch.<X>Storage global stands for while loading: the element dtype."""

    __slots__ = ("dtype",)

    def __init__(self, dtype):
        self.dtype = dtype


class _LoadedStorage:
    """A storage read from a checkpoint: a flat typed array on some device.

    It is what a map_location callable receives (with the saved location string).
    """

    __slots__ = ("array", "dtype")

    def __init__(self, array, dtype):
        self.array = array
        self.dtype = dtype

    @property
    def device(self) -> device:
        return device("cpu") if isinstance(self.array, np.ndarray) else \
            device("cuda", self.array.device.id)

    def size(self) -> int:
        return self.array.size

    def nbytes(self) -> int:
        return self.array.nbytes

    def cpu(self) -> _LoadedStorage:
        return self.to("cpu")

    def cuda(self, device=None, non_blocking: bool = False) -> _LoadedStorage:
        if isinstance(device, int):
            device = f"cuda:{device}"
        return self.to(device or "cuda")

    def to(self, device=None, non_blocking: bool = False) -> _LoadedStorage:
        return _LoadedStorage(_restore(self.array, str(as_device(device))), self.dtype)


def _restore(array, location: str):
    """`array` moved to the saved (or mapped) location."""
    dev = as_device(location)
    if dev.type == "cuda":
        from ember import cuda
        if not cuda.is_available():
            raise RuntimeError("Attempting to deserialize object on a CUDA device but "
                               "ember.cuda.is_available() is False. If you are running on a "
                               "CPU-only machine, please use ember.load with "
                               "map_location=ember.device('cpu') to map your storages to the "
                               "CPU.")
    elif dev.type != "cpu":
        raise RuntimeError(f"don't know how to restore data location of {location!r}")
    return to_device(array, dev)


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False,
                       backward_hooks=None, metadata=None) -> Tensor:
    """torch._utils._rebuild_tensor_v2: a view (offset, size, stride) of a loaded storage."""
    arr = storage.array
    size = tuple(int(s) for s in size)
    stride = tuple(int(s) for s in stride)
    if len(size) != len(stride) or any(s < 0 for s in size) or any(s < 0 for s in stride):
        raise ValueError(f"bad tensor geometry: size {size}, stride {stride}")
    if 0 not in size:
        last = storage_offset + sum((n - 1) * s for n, s in zip(size, stride))
        if storage_offset < 0 or last >= arr.size:
            raise ValueError(f"tensor of size {list(size)} and stride {list(stride)} at offset "
                             f"{storage_offset} lies outside its storage of {arr.size} "
                             "elements")
        base = arr[storage_offset:]
    else:
        base = arr[:0]
    xp = array_module(arr)
    itemsize = arr.itemsize
    view = xp.lib.stride_tricks.as_strided(base, size, tuple(s * itemsize for s in stride))
    t = _make(view)
    if requires_grad:
        t.requires_grad_(True)
    return t


def _rebuild_tensor_v3(storage, storage_offset, size, stride, requires_grad, backward_hooks,
                       dtype, metadata=None) -> Tensor:
    if dtype is not storage.dtype:
        storage = _LoadedStorage(storage.array.view(dtype.np), dtype)
    return _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad)


def _rebuild_parameter(data, requires_grad, backward_hooks=None):
    from ember.nn.parameter import Parameter
    return Parameter(data, requires_grad)


def _rebuild_parameter_with_state(data, requires_grad, backward_hooks, state):
    return _set_state(_rebuild_parameter(data, requires_grad), state)


def _set_state(t: Tensor, state) -> Tensor:
    """Python attributes saved with a tensor (public names only: the file may not
    replace ember's own fields)."""
    if isinstance(state, tuple):  # (dict state, slots state)
        state = state[0]
    if isinstance(state, dict):
        for k, v in state.items():
            if isinstance(k, str) and not k.startswith("_"):
                setattr(t, k, v)
    return t


def _rebuild_from_type_v2(func, new_type, args, state):
    if new_type is not _TensorTypeName and getattr(new_type, "__name__", "") != "Parameter":
        raise pickle.UnpicklingError(f"unsupported tensor type {new_type!r}")
    t = func(*args)
    from ember.nn.parameter import Parameter
    if new_type is Parameter and not isinstance(t, Parameter):
        t = Parameter(t, t.requires_grad)
    return _set_state(t, state)


def _latin1_encode(obj: str, encoding: str = "latin1") -> bytes:
    """_codecs.encode as protocol-2 pickles use it for bytes (only text encodings)."""
    if encoding.lower().replace("-", "").replace("_", "") not in ("latin1", "utf8", "ascii"):
        raise pickle.UnpicklingError(f"refusing _codecs.encode with encoding {encoding!r}")
    return obj.encode(encoding)


class _TensorTypeName:
    """torch.Tensor as named in a file: only _rebuild_from_type_v2 may use it (calling the
    legacy constructor from a file could allocate any amount of memory)."""


def _bytearray(source=b"", encoding: str = "latin-1") -> bytearray:
    """builtins.bytearray as protocol-2 pickles use it: from text or bytes only."""
    if isinstance(source, str):
        return bytearray(source, encoding)
    if isinstance(source, (bytes, bytearray)):
        return bytearray(source)
    raise pickle.UnpicklingError("refusing bytearray() of a size (allocation from the file)")


def _torch_device(*args):
    return device(*args)


def _torch_size(sizes=()):
    return Size(sizes)


_ALLOWED = {
    ("collections", "OrderedDict"): OrderedDict,
    ("collections", "Counter"): Counter,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
    ("torch._utils", "_rebuild_tensor_v3"): _rebuild_tensor_v3,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter_with_state,
    ("torch._tensor", "_rebuild_from_type_v2"): _rebuild_from_type_v2,
    ("torch", "device"): _torch_device,
    ("torch", "Size"): _torch_size,
    ("torch", "Tensor"): _TensorTypeName,
    ("_codecs", "encode"): _latin1_encode,
}
# Protocol 2 names builtins under their Python 2 module name too.
_ALLOWED.update({(mod, cls.__name__): cls for mod in ("builtins", "__builtin__")
                 for cls in (set, frozenset, complex, slice, range)})
_ALLOWED.update({(mod, "bytearray"): _bytearray for mod in ("builtins", "__builtin__")})
_ALLOWED.update({("torch", name): _StorageType(dt) for dt, name in _STORAGE_NAME.items()})
_ALLOWED.update({("torch", dt.name): dt for dt in _dt._ALL})
_ALLOWED.update({("torch", alias): _dt._BY_NAME[name] for alias, name in (
    ("half", "float16"), ("float", "float32"), ("double", "float64"), ("long", "int64"),
    ("int", "int32"), ("short", "int16"))})


class _CheckpointUnpickler(pickle.Unpickler):
    """Resolves torch's names to ember's; with weights_only, nothing outside the allowlist."""

    def __init__(self, file, weights_only: bool, load_storage, **kwargs):
        super().__init__(file, **kwargs)
        self.weights_only = weights_only
        self.load_storage = load_storage

    def find_class(self, module: str, name: str):
        obj = _ALLOWED.get((module, name))
        if obj is not None:
            return obj
        if module == "torch.nn.parameter" and name == "Parameter":
            from ember.nn.parameter import Parameter
            return Parameter
        obj = _user_global(module, name)
        if obj is not None:
            return obj
        if self.weights_only:
            _refuse(module, name)
        if module == "torch" or module.startswith("torch."):
            import importlib
            try:
                return getattr(importlib.import_module("ember" + module[5:]), name)
            except (ImportError, AttributeError):
                raise _GlobalNotFound(f"ember has no counterpart of {module}.{name}") \
                    from None
        try:
            return super().find_class(module, name)
        except AttributeError as e:
            raise _GlobalNotFound(str(e)) from None

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage"):
            raise pickle.UnpicklingError(f"unsupported persistent id {pid!r}")
        _, storage_type, key, location, numel = pid
        if not isinstance(storage_type, _StorageType):
            raise pickle.UnpicklingError(f"unsupported storage type {storage_type!r}")
        return self.load_storage(storage_type.dtype, str(key), str(location), int(numel))


def _map_location(map_location, storage: _LoadedStorage, location: str) -> _LoadedStorage:
    if map_location is None:
        return _LoadedStorage(_restore(storage.array, location), storage.dtype)
    if callable(map_location):
        result = map_location(storage, location)
        if result is None:
            return _LoadedStorage(_restore(storage.array, location), storage.dtype)
        if isinstance(result, Tensor):
            result = _LoadedStorage(result._data.reshape(-1), storage.dtype)
        return result
    if isinstance(map_location, dict):
        target = map_location.get(location, location)
    else:
        target = map_location
    return _LoadedStorage(_restore(storage.array, str(as_device(target))), storage.dtype)


class InvalidCheckpointError(RuntimeError):
    """The file is truncated, corrupted or not a checkpoint at all."""


def _invalid(name: str, why: str) -> InvalidCheckpointError:
    return InvalidCheckpointError(f"{name} is not a valid checkpoint: {why}. The file may be "
                           "truncated or corrupted (an interrupted save or transfer).")


def _entry_offset(fh: IO[bytes], info: zipfile.ZipInfo) -> int:
    """File offset of a stored zip entry's payload (read from its local header)."""
    fh.seek(info.header_offset)
    header = fh.read(30)
    if len(header) != 30 or header[:4] != b"PK\x03\x04":
        raise zipfile.BadZipFile(f"bad local header for {info.filename}")
    name_len, extra_len = struct.unpack("<HH", header[26:30])
    return info.header_offset + 30 + name_len + extra_len


def _load_zip(fh: IO[bytes], name: str, path: str | None, map_location, weights_only: bool,
              mmap: bool, pickle_load_args: dict):
    zf = zipfile.ZipFile(fh)
    names = zf.namelist()
    pkl = next((n for n in names if n == "data.pkl" or n.endswith("/data.pkl")), None)
    if pkl is None:
        raise _invalid(name, "it has no data.pkl record")
    prefix = pkl[:-len("data.pkl")]
    byteorder = "little"
    if prefix + "byteorder" in names:
        byteorder = zf.read(prefix + "byteorder").decode("ascii").strip()
        if byteorder not in ("little", "big"):
            raise _invalid(name, f"unknown byte order {byteorder!r}")

    mapped = None
    if mmap:
        import mmap as _mmap
        if path is None:
            raise ValueError("mmap=True needs a path (or a file object with a real file name)")
        with open(path, "rb") as raw:
            size = os.fstat(raw.fileno()).st_size
            mapped = _mmap.mmap(raw.fileno(), size, access=_mmap.ACCESS_COPY) if size else None

    raw_storages: dict[str, np.ndarray] = {}  # key -> flat uint8 bytes (shared by views)
    loaded: dict[tuple, _LoadedStorage] = {}

    def load_storage(dtype, key, location, numel):
        cached = loaded.get((key, dtype))
        if cached is not None:
            return cached
        raw = raw_storages.get(key)
        if raw is None:
            record = f"{prefix}data/{key}"
            try:
                info = zf.getinfo(record)
            except KeyError:
                raise _invalid(name, f"storage record {record!r} is missing") from None
            if info.compress_type != zipfile.ZIP_STORED:
                raise _invalid(name, f"storage record {record!r} is compressed")
            if mapped is not None and info.file_size:
                start = _entry_offset(fh, info)
                if start + info.file_size > len(mapped):
                    raise _invalid(name, f"storage record {record!r} runs past the end")
                raw = np.frombuffer(mapped, np.uint8, info.file_size, start)
            else:
                raw = np.empty(info.file_size, np.uint8)
                with zf.open(info) as src:
                    got = src.readinto(memoryview(raw))
                    if got != info.file_size or src.read(1):
                        raise _invalid(name, f"storage record {record!r} has the wrong size")
            raw_storages[key] = raw
        nbytes = numel * dtype.itemsize
        if nbytes > raw.size:
            raise _invalid(name, f"storage {key!r} holds {raw.size} bytes, fewer than "
                                 f"{numel} elements of {dtype}")
        array = raw[:nbytes].view(dtype.np)
        if byteorder != "little" and dtype.itemsize > 1:
            array = array.byteswap()
        storage = _map_location(map_location, _LoadedStorage(array, dtype), location)
        loaded[(key, dtype)] = storage
        return storage

    with zf.open(pkl) as src:
        data = src.read()
    unpickler = _CheckpointUnpickler(io.BytesIO(data), weights_only, load_storage,
                                     **pickle_load_args)
    return unpickler.load()


def get_unsafe_globals_in_checkpoint(f) -> list[str]:
    """The globals a checkpoint's pickle names that a weights-only load would refuse.

    The pickle is only scanned (its opcodes listed), never run.
    """
    import pickletools
    if isinstance(f, (str, os.PathLike)):
        with open(f, "rb") as fh:
            return get_unsafe_globals_in_checkpoint(fh)
    name = "the file"
    try:
        zf = zipfile.ZipFile(f)
        pkl = next(n for n in zf.namelist() if n == "data.pkl" or n.endswith("/data.pkl"))
        data = zf.read(pkl)
        found: list[str] = []
        strings: list = []  # recent string operands, for STACK_GLOBAL (protocol 4+)
        memo: dict = {}
        for op, arg, _ in pickletools.genops(data):
            if op.name in ("GLOBAL", "INST"):
                found.append(arg.replace(" ", ".", 1))
            elif op.name == "STACK_GLOBAL" and len(strings) >= 2:
                found.append(f"{strings[-2]}.{strings[-1]}")
            elif isinstance(arg, str) and op.name.endswith("UNICODE"):
                strings.append(arg)
            elif op.name == "MEMOIZE" and strings:
                memo[len(memo)] = strings[-1]
            elif op.name in ("BINGET", "LONG_BINGET", "GET") and arg in memo:
                strings.append(memo[arg])
    except (zipfile.BadZipFile, StopIteration, ValueError, KeyError, EOFError) as e:
        raise _invalid(name, f"{type(e).__name__}: {e}") from e
    unsafe = []
    for full in found:
        module, _, attr = full.rpartition(".")
        if (module, attr) in _ALLOWED or _user_global(module, attr) is not None:
            continue
        if full == "torch.nn.parameter.Parameter" or full in unsafe:
            continue
        unsafe.append(full)
    return unsafe


def _is_safetensors(head: bytes) -> bool:
    if len(head) < 9:
        return False
    (n,) = struct.unpack("<Q", head[:8])
    return 0 < n < 100_000_000 and head[8:9] == b"{"


def load(f, map_location=None, pickle_module=None, *, weights_only: bool | None = None,
         mmap: bool | None = None, **pickle_load_args) -> Any:
    """Read an object saved by ember.save or torch.save (also a .safetensors file).

    Only the zip format is read (torch's legacy pre-1.6 format is refused). With
    `weights_only=True` (the default, as in torch) the unpickler resolves nothing but
    tensors, containers, numbers and strings plus `add_safe_globals` entries, so a
    file cannot run code. `mmap=True` maps storages from the file (copy-on-write)
    instead of reading them. `map_location` (str, device, dict or callable(storage,
    location)) moves storages as they load.
    """
    if pickle_module is not None and pickle_module is not pickle:
        raise ValueError("ember.load reads with its own unpickler; pickle_module must be None")
    weights_only = True if weights_only is None else bool(weights_only)
    pickle_load_args.setdefault("encoding", "utf-8")
    if isinstance(f, (str, os.PathLike)):
        path = os.fspath(f)
        with open(path, "rb") as fh:
            return _load_file(fh, path, path, map_location, weights_only, bool(mmap),
                              pickle_load_args)
    if mmap:
        fname = getattr(f, "name", None)
        path = fname if isinstance(fname, str) and os.path.isfile(fname) else None
    else:
        path = None
    return _load_file(f, getattr(f, "name", "the file") if path else "the file", path,
                      map_location, weights_only, bool(mmap), pickle_load_args)


def _load_file(fh, name, path, map_location, weights_only, mmap, pickle_load_args):
    name = repr(name) if name != "the file" else name
    start = fh.tell() if fh.seekable() else 0
    if not fh.seekable():
        fh = io.BytesIO(fh.read())
        start = 0
    head = fh.read(16)
    fh.seek(start)
    if head[:4] == b"PK\x03\x04":
        try:
            return _load_zip(fh, name, path, map_location, weights_only, mmap, pickle_load_args)
        except (WeightsOnlyUnpicklerError, InvalidCheckpointError, _GlobalNotFound):
            raise
        except (zipfile.BadZipFile, zipfile.LargeZipFile, KeyError, EOFError, struct.error,
                ValueError, UnicodeDecodeError, pickle.UnpicklingError, IndexError,
                TypeError, AttributeError) as e:
            raise _invalid(name, f"{type(e).__name__}: {e}") from e
    if _is_safetensors(head):
        from ember.utils.safetensors import _load_safetensors_stream
        try:
            return _load_safetensors_stream(fh, map_location)
        except Exception as e:
            raise _invalid(name, f"{type(e).__name__}: {e}") from e
    if head[:2] in (b"\x80\x02", b"\x80\x03", b"\x80\x04", b"\x80\x05"):
        raise _invalid(name, "it is not a zip archive; torch's legacy (pre-1.6, non-zip) "
                             "format and bare pickles are not read. Re-save it with a recent "
                             "torch.save")
    if not head:
        raise _invalid(name, "it is empty")
    raise _invalid(name, "it is neither a zip checkpoint nor a safetensors file")
