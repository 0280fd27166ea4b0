"""RMSprop, plain or centered, with optional momentum (torch/optim/rmsprop.py)."""
from __future__ import annotations

from collections.abc import Iterable

from ember._ops.creation import zeros_like
from ember._tensor import Tensor
from ember.optim.optimizer import Optimizer, _check_tensor_lr, _lerp_, _scalar_state, _value, _xp

__all__ = ["RMSprop", "rmsprop"]


class RMSprop(Optimizer):
    """RMSprop (Hinton); `centered` normalizes by an estimate of the gradient's variance."""

    def __init__(self, params: Iterable, lr: float | Tensor = 1e-2, alpha: float = 0.99,
                 eps: float = 1e-8, weight_decay: float = 0, momentum: float = 0,
                 centered: bool = False, capturable: bool = False,
                 foreach: bool | None = None, maximize: bool = False,
                 differentiable: bool = False) -> None:
        _check_tensor_lr(lr)
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= momentum:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if not 0.0 <= alpha:
            raise ValueError(f"Invalid alpha value: {alpha}")
        defaults = dict(lr=lr, momentum=momentum, alpha=alpha, eps=eps, centered=centered,
                        weight_decay=weight_decay, capturable=capturable, foreach=foreach,
                        maximize=maximize, differentiable=differentiable)
        super().__init__(params, defaults)

    def _init_state(self, group: dict, p: Tensor, state: dict) -> None:
        state["step"] = _scalar_state(0.0)
        state["square_avg"] = zeros_like(p)
        if group["momentum"] > 0:
            state["momentum_buffer"] = zeros_like(p)
        if group["centered"]:
            state["grad_avg"] = zeros_like(p)

    def _apply(self, group: dict, param, grad, state: dict) -> None:
        rmsprop(param, grad, state["square_avg"], state.get("grad_avg"),
                state.get("momentum_buffer"), state["step"], lr=_value(group["lr"]),
                alpha=group["alpha"], eps=group["eps"], weight_decay=group["weight_decay"],
                momentum=group["momentum"], centered=group["centered"],
                maximize=group["maximize"])


def rmsprop(param, grad, square_avg, grad_avg, momentum_buffer, step, *, lr: float,
            alpha: float, eps: float, weight_decay: float, momentum: float, centered: bool,
            maximize: bool) -> None:
    """One RMSprop update in place (one parameter or a flat group; `step` is advanced)."""
    xp = _xp(param)
    step += 1
    g = -grad if maximize else grad
    if weight_decay != 0:
        g = g + weight_decay * param
    sq = g * (1 - alpha)
    sq *= g
    square_avg *= alpha
    square_avg += sq
    if centered:
        _lerp_(grad_avg, g, 1 - alpha)
        avg = square_avg - grad_avg * grad_avg
        avg = xp.sqrt(avg, out=avg)
    else:
        avg = xp.sqrt(square_avg, out=xp.empty_like(param))
    avg += eps
    if momentum > 0:
        momentum_buffer *= momentum
        momentum_buffer += g / avg
        param += -lr * momentum_buffer
    else:
        update = xp.divide(g, avg, out=avg)
        update *= -lr
        param += update
