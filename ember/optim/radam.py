"""RAdam (torch/optim/radam.py): Adam with a rectified variance term."""
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

__all__ = ["RAdam", "radam"]


class RAdam(Optimizer):
    """RAdam (Liu et al.): plain momentum SGD until the variance estimate is trustworthy."""

    def __init__(self, params: Iterable, lr: float | Tensor = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0, decoupled_weight_decay: bool = False, *,
                 foreach: bool | None = None, maximize: bool = False, capturable: bool = False,
                 differentiable: bool = False) -> None:
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
                        maximize=maximize, foreach=foreach, capturable=capturable,
                        decoupled_weight_decay=decoupled_weight_decay,
                        differentiable=differentiable)
        super().__init__(params, defaults)

    def _init_state(self, group: dict, p: Tensor, state: dict) -> None:
        state["step"] = _scalar_state(0.0)
        state["exp_avg"] = zeros_like(p)
        state["exp_avg_sq"] = zeros_like(p)

    def _apply(self, group: dict, param, grad, state: dict) -> None:
        beta1, beta2 = group["betas"]
        radam(param, grad, state["exp_avg"], state["exp_avg_sq"], state["step"],
              lr=_value(group["lr"]), beta1=beta1, beta2=beta2, eps=group["eps"],
              weight_decay=group["weight_decay"],
              decoupled_weight_decay=group["decoupled_weight_decay"],
              maximize=group["maximize"])


def radam(param, grad, exp_avg, exp_avg_sq, step, *, lr: float, beta1: float, beta2: float,
          eps: float, weight_decay: float, decoupled_weight_decay: bool,
          maximize: bool) -> None:
    """One RAdam update in place (one parameter or a flat group; `step` is advanced)."""
    xp = _xp(param)
    step += 1
    t = _first(step)
    g = -grad if maximize else grad
    if weight_decay != 0:
        if decoupled_weight_decay:
            param *= 1 - lr * weight_decay
        else:
            g = g + weight_decay * param
    _lerp_(exp_avg, g, 1 - beta1)
    sq = g * (1 - beta2)
    sq *= g
    exp_avg_sq *= beta2
    exp_avg_sq += sq
    bias_correction1 = 1 - beta1 ** t
    bias_correction2 = 1 - beta2 ** t
    update = exp_avg / bias_correction1
    update *= lr
    rho_inf = 2 / (1 - beta2) - 1
    rho_t = rho_inf - 2 * t * (beta2 ** t) / bias_correction2
    if rho_t > 5.0:
        rect = ((rho_t - 4) * (rho_t - 2) * rho_inf
                / ((rho_inf - 4) * (rho_inf - 2) * rho_t)) ** 0.5
        adaptive = xp.sqrt(exp_avg_sq, out=sq)
        adaptive += eps
        adaptive = xp.divide(bias_correction2 ** 0.5, adaptive, out=adaptive)
        update *= adaptive
        update *= rect
    param -= update
