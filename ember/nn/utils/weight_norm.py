"""Weight normalization as a forward pre-hook (mirrors torch/nn/utils/weight_norm.py).

`weight_norm(module)` replaces the parameter `weight` with a magnitude `weight_g`
and a direction `weight_v`; a `WeightNorm` object registered as a forward pre-hook
recomputes the plain attribute `weight = g * v / ||v||` before every forward, so
gradients reach g and v through ordinary ember ops. The norm runs over every dim
except `dim`; `dim=None` (stored as -1, as torch does) takes it over the whole tensor.
"""
from __future__ import annotations

import warnings
from typing import Any, TypeVar

import numpy as np

from ember._tensor import Tensor, _make
from ember.autograd.function import Function
from ember.nn.modules.module import Module
from ember.nn.parameter import Parameter

__all__ = ["WeightNorm", "weight_norm", "remove_weight_norm"]

T_module = TypeVar("T_module", bound=Module)


def _norm_except_dim(v: Tensor, pow: float, dim: int) -> Tensor:
    """The pow-norm of v over all dims but `dim`, kept broadcastable against v;
    dim == -1 means the norm of the whole tensor (a 0-dim result), as in torch."""
    from ember._ops.norms import vector_norm
    if dim == -1:
        return vector_norm(v, pow)
    dim = dim % v.dim() if v.dim() else 0
    others = tuple(d for d in range(v.dim()) if d != dim)
    return vector_norm(v, pow, others, True)


class _WeightNormInterface(Function):
    """w = v * (g / ||v||) in one node, the norm over every dim but the first or last one
    (where torch uses its fused kernel, and so its node name)."""

    _node_name = "WeightNormInterfaceBackward0"

    @staticmethod
    def forward(ctx, v: Tensor, g: Tensor, dim: int) -> Tensor:
        vd = v._data
        axes = tuple(d for d in range(vd.ndim) if d != dim)
        # half precision accumulates the norm in float32, as torch's kernel does
        acc = vd if vd.dtype.itemsize >= 4 else vd.astype(np.float32)
        norm = ((acc * acc).sum(axis=axes, keepdims=True) ** 0.5).astype(vd.dtype)
        ctx.axes = axes
        if ctx.needs_input_grad:
            ctx.save_for_backward(v, g)
        return _make(vd * (g._data / norm))

    @staticmethod
    def backward(ctx, grad: Tensor):
        v, g = ctx.saved_tensors
        axes = ctx.axes
        norm = _norm_except_dim_keep(v, axes)
        grad_dot_v = (grad * v).sum(axes, keepdim=True) if axes else grad * v
        grad_v = (g / norm) * (grad - v * (grad_dot_v / (norm * norm)))
        grad_g = grad_dot_v / norm
        return grad_v, grad_g, None


def _norm_except_dim_keep(v: Tensor, axes: tuple) -> Tensor:
    from ember._ops.norms import vector_norm
    return vector_norm(v, 2, axes, True) if axes else v.abs()  # dim=() would mean "all"


def _weight_norm(v: Tensor, g: Tensor, dim: int) -> Tensor:
    """v * (g / ||v||), the norm taken over all dims but `dim` (-1: the whole tensor)."""
    # torch takes its fused path for dim 0 or ndim-1 exactly as given (not for dim=-2 etc.)
    if dim != -1 and v.dim() and dim in (0, v.dim() - 1) and v.dtype == g.dtype \
            and v.dtype.is_floating_point:
        return _WeightNormInterface.apply(v, g, dim)
    return v * (g / _norm_except_dim(v, 2, dim))


class WeightNorm:
    """The forward pre-hook that recomputes `module.<name>` from `<name>_g` and `<name>_v`."""

    name: str
    dim: int

    def __init__(self, name: str, dim: int | None) -> None:
        self.name = name
        self.dim = -1 if dim is None else dim

    def compute_weight(self, module: Module) -> Tensor:
        g = getattr(module, self.name + "_g")
        v = getattr(module, self.name + "_v")
        return _weight_norm(v, g, self.dim)

    @staticmethod
    def apply(module: Module, name: str, dim: int | None) -> WeightNorm:
        warnings.warn("`torch.nn.utils.weight_norm` is deprecated in favor of "
                      "`torch.nn.utils.parametrizations.weight_norm`.", FutureWarning,
                      stacklevel=3)
        for hook in module._forward_pre_hooks.values():
            if isinstance(hook, WeightNorm) and hook.name == name:
                raise RuntimeError(
                    f"Cannot register two weight_norm hooks on the same parameter {name}")
        fn = WeightNorm(name, dim)
        weight = getattr(module, name)
        if not isinstance(weight, Tensor):
            raise TypeError(f"norm_except_dim(): argument 'v' (position 1) must be Tensor, "
                            f"not {type(weight).__name__}")
        del module._parameters[name]
        module.register_parameter(name + "_g",
                                  Parameter(_norm_except_dim(weight, 2, fn.dim).detach()))
        module.register_parameter(name + "_v", Parameter(weight.detach()))
        setattr(module, name, fn.compute_weight(module))
        module.register_forward_pre_hook(fn)
        return fn

    def remove(self, module: Module) -> None:
        weight = self.compute_weight(module)
        delattr(module, self.name)
        del module._parameters[self.name + "_g"]
        del module._parameters[self.name + "_v"]
        setattr(module, self.name, Parameter(weight.detach()))

    def __call__(self, module: Module, inputs: Any) -> None:
        setattr(module, self.name, self.compute_weight(module))


def weight_norm(module: T_module, name: str = "weight", dim: int | None = 0) -> T_module:
    """Reparameterize `module.<name>` as `g * v / ||v||` (torch's deprecated hook-based API).

    `dim` is the dimension kept by the norm (0: one magnitude per output channel);
    None normalizes over the whole tensor. Warns with torch's FutureWarning.
    """
    WeightNorm.apply(module, name, dim)
    return module


def remove_weight_norm(module: T_module, name: str = "weight") -> T_module:
    """Fold `<name>_g`/`<name>_v` back into one plain parameter `<name>`."""
    for k, hook in module._forward_pre_hooks.items():
        if isinstance(hook, WeightNorm) and hook.name == name:
            hook.remove(module)
            del module._forward_pre_hooks[k]
            return module
    raise ValueError(f"weight_norm of '{name}' not found in {module}")
