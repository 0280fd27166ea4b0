"""Split inputs over devices and concatenate outputs back (torch.nn.parallel.scatter_gather).

`Scatter` and `Gather` are autograd Functions that are each other's backward: the
gradient of a scatter is the gather of the pieces' gradients, and vice versa.
Containers are walked by `_unzip` (one structure -> one structure per device) and
`_zip` (one structure per device -> one structure); non-tensors are copied by reference.
"""
from __future__ import annotations

import warnings

import numpy as np

from ember._device import as_device, device, to_device
from ember._tensor import Tensor, _make
from ember.autograd.function import Function

__all__ = ["scatter", "scatter_kwargs", "gather", "Scatter", "Gather"]


def _as_dev(d) -> device:
    """A device id as DataParallel takes it (int = CUDA index, 'cpu', device) as a device."""
    if isinstance(d, int) and not isinstance(d, bool):
        return device("cuda", d)
    return as_device(d)


def _xp(array):
    return np if isinstance(array, np.ndarray) else array.__array_namespace__()


def _chunk_sizes(n: int, parts: int) -> list[int]:
    """Piece lengths as torch.chunk makes them: ceil(n / parts) each, fewer pieces if short."""
    size = -(-n // parts)
    if size == 0:
        return [0] * parts
    return [min(size, n - s) for s in range(0, n, size)]


class Scatter(Function):
    """Split `input` along `dim` into pieces placed on `target_devices` (copies, not views)."""
    _node_name = "ScatterBackward"

    @staticmethod
    def forward(ctx, target_devices, chunk_sizes, dim: int, input: Tensor):
        arr = input._data
        if arr.ndim == 0:
            raise RuntimeError("chunk expects at least a 1-dimensional tensor")
        d = dim + arr.ndim if dim < 0 else dim
        ctx.dim = d
        ctx.input_device = input.device
        sizes = list(chunk_sizes) if chunk_sizes is not None else _chunk_sizes(
            arr.shape[d], len(target_devices))
        outs = []
        start = 0
        index = [slice(None)] * arr.ndim
        for dev, size in zip(target_devices, sizes):
            index[d] = slice(start, start + size)
            piece = arr[tuple(index)]
            dev = _as_dev(dev)
            moved = to_device(piece, dev)
            # Each replica gets its own memory, so an in-place op in one replica cannot
            # change another's input or the caller's tensor.
            outs.append(_make(moved.copy() if moved is piece else moved))
            start += size
        return tuple(outs)

    @staticmethod
    def backward(ctx, *grads):
        return (None, None, None, Gather.apply(ctx.input_device, ctx.dim, *grads))


class Gather(Function):
    """Concatenate `inputs` along `dim` on `target_device`; 0-dim inputs become a vector."""
    _node_name = "GatherBackward"

    @staticmethod
    def forward(ctx, target_device, dim: int, *inputs: Tensor):
        dev = _as_dev(target_device)
        arrays = [t._data for t in inputs]
        ctx.unsqueezed = all(a.ndim == 0 for a in arrays)
        if ctx.unsqueezed:
            warnings.warn("Was asked to gather along dimension 0, but all input tensors were "
                          "scalars; will instead unsqueeze and return a vector.", stacklevel=2)
            arrays = [a.reshape(1) for a in arrays]
            dim = 0
        d = dim + arrays[0].ndim if dim < 0 else dim
        ctx.dim = d
        ctx.input_devices = [t.device for t in inputs]
        ctx.input_sizes = [a.shape[d] for a in arrays]
        arrays = [to_device(a, dev) for a in arrays]
        return _make(_xp(arrays[0]).concatenate(arrays, axis=d))

    @staticmethod
    def backward(ctx, grad):
        pieces = Scatter.apply(ctx.input_devices, ctx.input_sizes, ctx.dim, grad)
        if ctx.unsqueezed:
            pieces = tuple(p.reshape(()) for p in pieces)
        return (None, None) + tuple(pieces)


def _is_namedtuple(obj) -> bool:
    return isinstance(obj, tuple) and hasattr(obj, "_asdict") and hasattr(obj, "_fields")


def _unzip(obj, leaf, n: int) -> list:
    """One structure -> a list of structures, `leaf(tensor)` giving each tensor's pieces.

    As torch, the result is as long as the shortest piece list (a batch smaller than
    the number of devices gives fewer replicas); non-tensors are repeated `n` times."""
    if isinstance(obj, Tensor):
        return list(leaf(obj))
    if _is_namedtuple(obj):
        return [type(obj)(*args) for args in zip(*(_unzip(o, leaf, n) for o in obj))]
    if isinstance(obj, tuple) and obj:
        return list(zip(*(_unzip(o, leaf, n) for o in obj)))
    if isinstance(obj, list) and obj:
        return [list(i) for i in zip(*(_unzip(o, leaf, n) for o in obj))]
    if isinstance(obj, dict) and obj:
        return [type(obj)(i) for i in zip(*(_unzip(kv, leaf, n) for kv in obj.items()))]
    return [obj] * n


def _zip(objs: list, leaf):
    """A list of structures alike -> one structure, `leaf(tensors)` joining the tensors."""
    out = objs[0]
    if isinstance(out, Tensor):
        return leaf(objs)
    if out is None:
        return None
    if isinstance(out, dict):
        if not all(len(out) == len(d) for d in objs):
            raise ValueError("All dicts must have the same number of keys")
        return type(out)((k, _zip([d[k] for d in objs], leaf)) for k in out)
    if _is_namedtuple(out):
        return type(out)._make(_zip(list(x), leaf) for x in zip(*objs))
    return type(out)(_zip(list(x), leaf) for x in zip(*objs))


def scatter(inputs, target_gpus, dim: int = 0) -> list:
    """Split the tensors in `inputs` (recursing into tuples, lists, dicts) over the devices."""
    return _unzip(inputs, lambda t: Scatter.apply(target_gpus, None, dim, t), len(target_gpus))


def scatter_kwargs(inputs, kwargs, target_gpus, dim: int = 0) -> tuple[tuple, tuple]:
    """Scatter positional and keyword inputs; pad the shorter list with empty ones."""
    scattered_inputs = scatter(inputs, target_gpus, dim) if inputs else []
    scattered_kwargs = scatter(kwargs, target_gpus, dim) if kwargs else []
    if len(scattered_inputs) < len(scattered_kwargs):
        scattered_inputs.extend(() for _ in range(len(scattered_kwargs) - len(scattered_inputs)))
    elif len(scattered_kwargs) < len(scattered_inputs):
        scattered_kwargs.extend({} for _ in range(len(scattered_inputs) - len(scattered_kwargs)))
    return tuple(scattered_inputs), tuple(scattered_kwargs)


def gather(outputs, target_device, dim: int = 0):
    """Concatenate the replicas' outputs (tensors in matching containers) on `target_device`."""
    return _zip(list(outputs), lambda ts: Gather.apply(target_device, dim, *ts))
