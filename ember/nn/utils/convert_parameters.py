"""Flatten parameters into one vector and back (mirrors torch/nn/utils/convert_parameters.py)."""
from __future__ import annotations

from collections.abc import Iterable

from ember._tensor import Tensor

__all__ = ["parameters_to_vector", "vector_to_parameters"]


def parameters_to_vector(parameters: Iterable[Tensor]) -> Tensor:
    """All parameters flattened and concatenated into one 1-D tensor (differentiable)."""
    from ember._ops.shape import cat
    device = None
    pieces = []
    for param in parameters:
        device = _check_param_device(param, device)
        pieces.append(param.view(-1))
    return cat(pieces)


def vector_to_parameters(vec: Tensor, parameters: Iterable[Tensor]) -> None:
    """Make each parameter's data the next slice of `vec` (sharing vec's memory)."""
    if not isinstance(vec, Tensor):
        from ember.nn.modules.module import _typename
        raise TypeError(f"expected torch.Tensor, but got: {_typename(vec)}")
    device = None
    pointer = 0
    for param in parameters:
        device = _check_param_device(param, device)
        n = param.numel()
        param.data = vec[pointer:pointer + n].view_as(param).data
        pointer += n


def _check_param_device(param: Tensor, old_device: int | None) -> int:
    """The GPU index all parameters share (-1 for CPU); two different ones are an error."""
    here = (param.device.index or 0) if param.device.type == "cuda" else -1
    if old_device is None:
        return here
    if here != old_device:
        raise TypeError("Found two parameters on different devices, this is currently not "
                        "supported.")
    return old_device
