"""Adadelta (torch/optim/adadelta.py): steps scaled by running RMS of updates and grads."""
from __future__ import annotations

from collections.abc import Iterable

from ember._ops.creation import zeros_like
from ember._tensor import Tensor
from ember.optim.optimizer import Optimizer, _check_tensor_lr, _scalar_state, _value, _xp

__all__ = ["Adadelta", "adadelta"]


class Adadelta(Optimizer):
    """Adadelta (Zeiler); `lr` scales the update as in torch (1.0 is the paper's rule)."""

    def __init__(self, params: Iterable, lr: float | Tensor = 1.0, rho: float = 0.9,
                 eps: float = 1e-6, weight_decay: float = 0, foreach: bool | None = None, *,
                 capturable: bool = False, maximize: bool = False,
                 differentiable: bool = False) -> None:
        _check_tensor_lr(lr)
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= rho <= 1.0:
            raise ValueError(f"Invalid rho value: {rho}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        defaults = dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize,
                        capturable=capturable, foreach=foreach, differentiable=differentiable)
        super().__init__(params, defaults)

    def _init_state(self, group: dict, p: Tensor, state: dict) -> None:
        state["step"] = _scalar_state(0.0)
        state["square_avg"] = zeros_like(p)
        state["acc_delta"] = zeros_like(p)

    def _apply(self, group: dict, param, grad, state: dict) -> None:
        adadelta(param, grad, state["square_avg"], state["acc_delta"], state["step"],
                 lr=_value(group["lr"]), rho=group["rho"], eps=group["eps"],
                 weight_decay=group["weight_decay"], maximize=group["maximize"])


def adadelta(param, grad, square_avg, acc_delta, step, *, lr: float, rho: float, eps: float,
             weight_decay: float, maximize: bool) -> None:
    """One Adadelta update in place (one parameter or a flat group; `step` is advanced)."""
    xp = _xp(param)
    step += 1
    g = -grad if maximize else grad
    if weight_decay != 0:
        g = g + weight_decay * param
    sq = g * (1 - rho)
    sq *= g
    square_avg *= rho
    square_avg += sq
    std = square_avg + eps
    std = xp.sqrt(std, out=std)
    delta = acc_delta + eps
    delta = xp.sqrt(delta, out=delta)
    delta /= std
    delta *= g
    sq = delta * (1 - rho)
    sq *= delta
    acc_delta *= rho
    acc_delta += sq
    delta *= -lr
    param += delta
