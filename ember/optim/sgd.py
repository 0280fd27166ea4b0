"""SGD with momentum, dampening, Nesterov and weight decay (torch/optim/sgd.py)."""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ember._tensor import Tensor
from ember.optim.optimizer import Optimizer, _check_tensor_lr, _value

__all__ = ["SGD", "sgd"]


class SGD(Optimizer):
    """Stochastic gradient descent; `momentum_buffer` starts as the first gradient."""

    def __init__(self, params: Iterable, lr: float | Tensor = 1e-3, momentum: float = 0,
                 dampening: float = 0, weight_decay: float | Tensor = 0, nesterov: bool = False,
                 *, maximize: bool = False, foreach: bool | None = None,
                 differentiable: bool = False, fused: bool | None = None) -> None:
        _check_tensor_lr(lr)
        if lr < 0.0:
            raise ValueError(f"Invalid learning rate: {lr}")
        if momentum < 0.0:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if weight_decay < 0.0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening,
                        weight_decay=weight_decay, nesterov=nesterov, maximize=maximize,
                        foreach=foreach, differentiable=differentiable, fused=fused)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        if fused and foreach:
            raise RuntimeError("`fused` and `foreach` cannot be `True` together.")
        super().__init__(params, defaults)

    _scalar_keys = ()

    def _keeps_state(self, group: dict) -> bool:
        return group["momentum"] != 0

    def _apply(self, group: dict, param, grad, state: dict):
        buf = sgd(param, grad, state.get("momentum_buffer"), lr=_value(group["lr"]),
                  momentum=group["momentum"], dampening=group["dampening"],
                  weight_decay=_value(group["weight_decay"]), nesterov=group["nesterov"],
                  maximize=group["maximize"])
        if buf is not None and "momentum_buffer" not in state:
            return {"momentum_buffer": buf}
        return None


def sgd(param, grad, momentum_buffer, *, lr: float, momentum: float, dampening: float,
        weight_decay: float, nesterov: bool, maximize: bool) -> Any:
    """One SGD update of `param` in place (arrays: one parameter or a flat group).

    Returns the momentum buffer (a new array on the first step, when `momentum_buffer`
    is None), or None without momentum."""
    g = -grad if maximize else grad
    if weight_decay != 0:
        g = g + weight_decay * param
    if momentum != 0:
        if momentum_buffer is None:
            momentum_buffer = g.copy()
        else:
            momentum_buffer *= momentum
            momentum_buffer += g if dampening == 0 else (1 - dampening) * g
        g = g + momentum * momentum_buffer if nesterov else momentum_buffer
    param += -lr * g
    return momentum_buffer
