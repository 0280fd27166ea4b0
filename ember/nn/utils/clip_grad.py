"""Gradient clipping (mirrors torch/nn/utils/clip_grad.py).

`clip_grad_norm_` = `get_total_norm` over the .grad tensors, then
`clip_grads_with_norm_` scales them all by min(1, max_norm / (total + 1e-6)).
The scale is applied unconditionally (a multiply by 1 when no clipping is needed),
as torch does, so no host round trip is needed on a GPU. `foreach` is accepted for
torch compatibility; ember has one implementation.
"""
from __future__ import annotations

import types
import warnings
from collections.abc import Iterable

import numpy as np

from ember._tensor import Tensor
from ember.autograd.grad_mode import no_grad

__all__ = ["clip_grad_norm_", "clip_grad_norm", "clip_grad_value_", "get_total_norm",
           "clip_grads_with_norm_"]

_tensor_or_tensors = Tensor | Iterable[Tensor]


def _group_by_device_and_dtype(tensors: list) -> dict:
    """{(device, dtype): [tensors]} in order of first appearance (torch's grouping)."""
    groups: dict = {}
    for t in tensors:
        groups.setdefault((t.device, t.dtype), []).append(t)
    return groups


def get_total_norm(tensors: _tensor_or_tensors, norm_type: float = 2.0,
                   error_if_nonfinite: bool = False, foreach: bool | None = None) -> Tensor:
    """The norm of all `tensors` taken together, as if concatenated into one vector
    (the norm of the per-tensor norms). norm_type may be 'inf'."""
    from ember._ops.creation import tensor as _tensor
    from ember._ops.norms import vector_norm
    from ember._ops.shape import stack
    tensors = [tensors] if isinstance(tensors, Tensor) else list(tensors)
    norm_type = float(norm_type)
    if not tensors:
        return _tensor(0.0)
    if norm_type == float("inf") and any(t.numel() == 0 for t in tensors):
        raise RuntimeError("_foreach_norm cannot compute the infinity norm on an empty tensor "
                           "because the operation does not have an identity")
    first_device = tensors[0].device
    with no_grad():
        norms = [vector_norm(t, norm_type) for group in _group_by_device_and_dtype(tensors).values()
                 for t in group]
        total = vector_norm(stack([n.to(first_device) for n in norms]), norm_type)
    if error_if_nonfinite and bool(total.isnan() | total.isinf()):
        raise RuntimeError(f"The total norm of order {norm_type} for gradients from `parameters` "
                           "is non-finite, so it cannot be clipped. To disable this error and "
                           "scale the gradients by the non-finite norm anyway, set "
                           "`error_if_nonfinite=False`")
    return total


def clip_grads_with_norm_(parameters: _tensor_or_tensors, max_norm: float, total_norm: Tensor,
                          foreach: bool | None = None) -> None:
    """Scale every .grad by min(1, max_norm / (total_norm + 1e-6)), in place."""
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    grads = [p.grad for p in parameters if p.grad is not None]
    max_norm = float(max_norm)
    if not grads:
        return
    # A non-finite total gives inf * 0 = nan, silently as in torch (NumPy would warn).
    with no_grad(), np.errstate(invalid="ignore", over="ignore"):
        coef = (max_norm / (total_norm + 1e-6)).clamp(max=1.0)
        for (device, _), group in _group_by_device_and_dtype(grads).items():
            coef_here = coef.to(device)
            for g in group:
                g.mul_(coef_here)


def clip_grad_norm_(parameters: _tensor_or_tensors, max_norm: float, norm_type: float = 2.0,
                    error_if_nonfinite: bool = False, foreach: bool | None = None) -> Tensor:
    """Rescale the parameters' gradients so their joint norm is at most max_norm.

    Returns the total norm before clipping. error_if_nonfinite raises instead of
    scaling by a nan/inf norm.
    """
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    else:
        is_generator = isinstance(parameters, types.GeneratorType)
        parameters = list(parameters)  # a generator must survive two passes
        if is_generator and not parameters:
            warnings.warn("`parameters` is an empty generator, no gradient clipping will occur.",
                          stacklevel=2)
    grads = [p.grad for p in parameters if p.grad is not None]
    total_norm = get_total_norm(grads, norm_type, error_if_nonfinite, foreach)
    clip_grads_with_norm_(parameters, max_norm, total_norm, foreach)
    return total_norm


def clip_grad_norm(parameters: _tensor_or_tensors, max_norm: float, norm_type: float = 2.0,
                   error_if_nonfinite: bool = False, foreach: bool | None = None) -> Tensor:
    """Deprecated spelling of clip_grad_norm_."""
    warnings.warn("`torch.nn.utils.clip_grad_norm` is now deprecated in favor of "
                  "`torch.nn.utils.clip_grad_norm_`.", FutureWarning, stacklevel=2)
    return clip_grad_norm_(parameters, max_norm, norm_type, error_if_nonfinite, foreach)


def clip_grad_value_(parameters: _tensor_or_tensors, clip_value: float,
                     foreach: bool | None = None) -> None:
    """Clamp every gradient element into [-clip_value, clip_value], in place."""
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    clip_value = float(clip_value)
    with no_grad():
        for p in parameters:
            g = p.grad
            if g is not None:
                g.clamp_(min=-clip_value, max=clip_value)
