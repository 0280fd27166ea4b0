"""safetensors files for ember tensors, on the safetensors package's NumPy API.

The functions mirror `safetensors.torch`: save_file/load_file/save/load for dicts of
tensors, save_model/load_model for modules whose parameters share memory (tied
weights are written once, under one name, and restored into every alias on load).
The NumPy API reads each array's memory from its data pointer, so every array is
made contiguous before it is handed over; bfloat16 arrays use ml_dtypes.
"""
from __future__ import annotations

import os
from collections import defaultdict
from typing import Any

import numpy as np

from ember._device import as_device, to_device
from ember._ops import shape as _sh
from ember._tensor import Tensor, _make

__all__ = ["save_file", "load_file", "save", "load", "save_model", "load_model"]


def _numpy_api():
    try:
        import safetensors.numpy as stnp
    except ImportError:
        raise ImportError("ember.utils.safetensors needs the safetensors package: "
                          "pip install safetensors") from None
    return stnp


def _host_array(name: str, t) -> np.ndarray:
    if not isinstance(t, Tensor):
        raise ValueError(f"Key `{name}` is invalid, expected ember.Tensor but received "
                         f"{type(t)}")
    arr = t._data if isinstance(t._data, np.ndarray) else t._data.get()
    return arr if arr.flags.c_contiguous else arr.copy(order="C")  # (keeps 0-dim shapes)


def _overlap_groups(tensors: dict[str, Tensor]) -> list[list[str]]:
    """Names whose tensors overlap in memory, grouped (only groups of two or more)."""
    by_root: dict[int, list[str]] = defaultdict(list)
    for name, t in tensors.items():
        if t._data.size:
            by_root[id(_sh._storage_root(t))].append(name)
    groups = []
    for names in by_root.values():
        if len(names) < 2:
            continue
        spans = sorted(names, key=lambda n: _span(tensors[n]))
        current = [spans[0]]
        end = _span(tensors[spans[0]])[1]
        for n in spans[1:]:
            lo, hi = _span(tensors[n])
            if lo < end:
                current.append(n)
                end = max(end, hi)
            else:
                if len(current) > 1:
                    groups.append(sorted(current))
                current, end = [n], hi
        if len(current) > 1:
            groups.append(sorted(current))
    return groups


def _span(t: Tensor) -> tuple[int, int]:
    from ember.serialization import _extent
    return _extent(t._data)


def _check_not_shared(tensors: dict[str, Tensor]) -> None:
    groups = _overlap_groups(tensors)
    if groups:
        raise RuntimeError(
            f"Some tensors share memory, this will lead to duplicate memory on disk and "
            f"potential differences when loading them again: {groups}.\nA potential way to "
            "correct this is to use `save_model` (ember.utils.safetensors.save_model), which "
            "keeps one name per shared tensor.")


def save(tensors: dict[str, Tensor], metadata: dict[str, str] | None = None) -> bytes:
    """The safetensors bytes of a dict of tensors."""
    arrays = {k: _host_array(k, v) for k, v in tensors.items()}
    _check_not_shared(tensors)
    return _numpy_api().save(arrays, metadata)


def save_file(tensors: dict[str, Tensor], filename: str | os.PathLike,
              metadata: dict[str, str] | None = None) -> None:
    """Write a dict of tensors to a .safetensors file (tensors must not share memory)."""
    arrays = {k: _host_array(k, v) for k, v in tensors.items()}
    _check_not_shared(tensors)
    _numpy_api().save_file(arrays, os.fspath(filename), metadata)


def _wrap(arrays: dict[str, np.ndarray], device) -> dict[str, Tensor]:
    dev = as_device(device)
    out = {}
    for k, a in arrays.items():
        if not a.flags.writeable:
            a = a.copy()
        out[k] = _make(to_device(a, dev))
    return out


def load(data: bytes, device: Any = "cpu") -> dict[str, Tensor]:
    """Tensors from safetensors bytes."""
    _numpy_api()
    import ml_dtypes
    from safetensors import deserialize
    arrays = {}
    for name, spec in deserialize(data):
        dtype = ml_dtypes.bfloat16 if spec["dtype"] == "BF16" else \
            _numpy_api()._getdtype(spec["dtype"])
        arrays[name] = np.frombuffer(spec["data"], dtype).reshape(spec["shape"])
    return _wrap(arrays, device)


def load_file(filename: str | os.PathLike, device: Any = "cpu") -> dict[str, Tensor]:
    """Tensors from a .safetensors file, on `device`."""
    return _wrap(_numpy_api().load_file(os.fspath(filename)), device)


def _load_safetensors_stream(fh, map_location=None) -> dict[str, Tensor]:
    """ember.load's reader for a .safetensors file (map_location: a device or None)."""
    tensors = load(fh.read())
    if map_location is None or callable(map_location) or isinstance(map_location, dict):
        return tensors
    dev = as_device(map_location)
    return {k: _make(to_device(v._data, dev)) for k, v in tensors.items()}


def _is_complete(t: Tensor) -> bool:
    """The tensor covers its whole storage (so saving it loses nothing)."""
    from ember.serialization import _extent
    root = _sh._storage_root(t)
    return _sh._ptr(t._data) == _extent(root)[0] and t._data.nbytes == root.nbytes


def _remove_duplicate_names(state_dict: dict[str, Tensor], *, preferred_names=None,
                            discard_names=None) -> dict[str, list[str]]:
    """For each group of names sharing memory: the kept name -> the names dropped."""
    preferred_names = set(preferred_names or ())
    discard_names = set(discard_names or ())
    to_remove: dict[str, list[str]] = defaultdict(list)
    for shared in _overlap_groups(state_dict):
        complete = {n for n in shared if _is_complete(state_dict[n])}
        if not complete:
            raise RuntimeError(
                f"Error while trying to find names to remove to save state dict, but found no "
                f"suitable name to keep for saving amongst: {shared}. None is covering the "
                "entire storage. Refusing to save/load the model since you could be storing "
                "much more memory than needed.")
        keep = sorted(complete)[0]
        preferred = complete.difference(discard_names) & preferred_names
        if preferred:
            keep = sorted(preferred)[0]
        elif complete.difference(discard_names):
            keep = sorted(complete.difference(discard_names))[0]
        for name in sorted(shared):
            if name != keep:
                to_remove[keep].append(name)
    return to_remove


def save_model(model, filename: str | os.PathLike, metadata: dict[str, str] | None = None,
               force_contiguous: bool = False) -> None:
    """Save a module's state_dict, writing tied (shared) tensors once.

    The dropped aliases are recorded in the metadata (alias -> kept name), as
    safetensors.torch does.
    """
    state_dict = model.state_dict()
    to_removes = _remove_duplicate_names(state_dict)
    metadata = dict(metadata or {})
    for kept, removed in to_removes.items():
        for name in removed:
            metadata.setdefault(name, kept)
            del state_dict[name]
    if not force_contiguous:
        for k, v in state_dict.items():
            if not v.is_contiguous():
                raise ValueError(
                    f"You are trying to save a non contiguous tensor: `{k}` which is not "
                    "allowed. Use force_contiguous=True to pack it before saving.")
    save_file(state_dict, filename, metadata or None)


def load_model(model, filename: str | os.PathLike, strict: bool = True,
               device: Any = "cpu") -> tuple[list[str], list[str]]:
    """Load a file written by save_model (or safetensors.torch.save_model) into `model`.

    Returns (missing, unexpected) key lists; with strict=True either being non-empty
    raises RuntimeError.
    """
    state_dict = load_file(filename, device=device)
    to_removes = _remove_duplicate_names(model.state_dict(), preferred_names=state_dict.keys())
    result = model.load_state_dict(state_dict, strict=False)
    missing, unexpected = set(result.missing_keys), list(result.unexpected_keys)
    for removed in to_removes.values():
        for name in removed:
            if name in missing:
                missing.discard(name)
            else:
                unexpected.append(name)
    missing_list = sorted(missing)
    if strict and (missing_list or unexpected):
        lines = []
        if missing_list:
            lines.append("Missing key(s) in state_dict: "
                         + ", ".join(f'"{k}"' for k in missing_list) + ".")
        if unexpected:
            lines.append("Unexpected key(s) in state_dict: "
                         + ", ".join(f'"{k}"' for k in sorted(unexpected)) + ".")
        raise RuntimeError(f"Error(s) in loading state_dict for {model.__class__.__name__}:"
                           "\n\t" + "\n\t".join(lines))
    return missing_list, unexpected
