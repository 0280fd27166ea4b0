"""Adamax (torch/optim/adamax.py): Adam with an infinity-norm second moment."""
from __future__ import annotations

from collections.abc import Iterable

from ember._ops.creation import zeros_like
from ember._tensor import Tensor
from ember.optim.optimizer import (
    Optimizer,
    _check_tensor_lr,
    _first,
    _lerp_,
    _scalar_state,
    _value,
    _xp,
)

__all__ = ["Adamax", "adamax"]


class Adamax(Optimizer):
    """Adamax (Kingma & Ba, section 7)."""

    def __init__(self, params: Iterable, lr: float | Tensor = 2e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0, foreach: bool | None = None, *,
                 maximize: bool = False, differentiable: bool = False,
                 capturable: bool = False) -> None:
        _check_tensor_lr(lr)
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= betas[0] < 1.0:
            raise ValueError(f"Invalid beta parameter at index 0: {betas[0]}")
        if not 0.0 <= betas[1] < 1.0:
            raise ValueError(f"Invalid beta parameter at index 1: {betas[1]}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                        foreach=foreach, maximize=maximize, differentiable=differentiable,
                        capturable=capturable)
        super().__init__(params, defaults)

    def _init_state(self, group: dict, p: Tensor, state: dict) -> None:
        state["step"] = _scalar_state(0.0)
        state["exp_avg"] = zeros_like(p)
        state["exp_inf"] = zeros_like(p)

    def _apply(self, group: dict, param, grad, state: dict) -> None:
        beta1, beta2 = group["betas"]
        adamax(param, grad, state["exp_avg"], state["exp_inf"], state["step"],
               lr=_value(group["lr"]), beta1=beta1, beta2=beta2, eps=group["eps"],
               weight_decay=group["weight_decay"], maximize=group["maximize"])


def adamax(param, grad, exp_avg, exp_inf, step, *, lr: float, beta1: float, beta2: float,
           eps: float, weight_decay: float, maximize: bool) -> None:
    """One Adamax update in place (one parameter or a flat group; `step` is advanced)."""
    xp = _xp(param)
    step += 1
    t = _first(step)
    g = -grad if maximize else grad
    if weight_decay != 0:
        g = g + weight_decay * param
    _lerp_(exp_avg, g, 1 - beta1)
    norm = xp.abs(g, out=xp.empty_like(param))
    norm += eps
    exp_inf *= beta2
    xp.maximum(exp_inf, norm, out=exp_inf)
    clr = lr / (1 - beta1 ** t)
    update = xp.divide(exp_avg, exp_inf, out=norm)
    update *= -clr
    param += update
