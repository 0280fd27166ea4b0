"""NAdam (torch/optim/nadam.py): Adam with Nesterov momentum and a momentum-decay schedule."""
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

__all__ = ["NAdam", "nadam"]


class NAdam(Optimizer):
    """NAdam (Dozat); `mu_product` is the running product of the momentum schedule."""

    def __init__(self, params: Iterable, lr: float | Tensor = 2e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0, momentum_decay: float = 4e-3,
                 decoupled_weight_decay: bool = False, *, foreach: bool | None = None,
                 maximize: bool = False, capturable: bool = False,
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
        if not 0.0 <= momentum_decay:
            raise ValueError(f"Invalid momentum_decay value: {momentum_decay}")
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                        momentum_decay=momentum_decay,
                        decoupled_weight_decay=decoupled_weight_decay, maximize=maximize,
                        foreach=foreach, capturable=capturable, differentiable=differentiable)
        super().__init__(params, defaults)

    _scalar_keys = ("step", "mu_product")

    def _init_state(self, group: dict, p: Tensor, state: dict) -> None:
        state["step"] = _scalar_state(0.0)
        state["mu_product"] = _scalar_state(1.0)
        state["exp_avg"] = zeros_like(p)
        state["exp_avg_sq"] = zeros_like(p)

    def _apply(self, group: dict, param, grad, state: dict) -> None:
        beta1, beta2 = group["betas"]
        nadam(param, grad, state["exp_avg"], state["exp_avg_sq"], state["mu_product"],
              state["step"], lr=_value(group["lr"]), beta1=beta1, beta2=beta2,
              eps=group["eps"], weight_decay=group["weight_decay"],
              momentum_decay=group["momentum_decay"],
              decoupled_weight_decay=group["decoupled_weight_decay"],
              maximize=group["maximize"])


def nadam(param, grad, exp_avg, exp_avg_sq, mu_product, step, *, lr: float, beta1: float,
          beta2: float, eps: float, weight_decay: float, momentum_decay: float,
          decoupled_weight_decay: bool, maximize: bool) -> None:
    """One NAdam update in place; `step` and `mu_product` (one entry per parameter covered,
    all equal) are advanced here, `mu_product` in its own (float32) precision as torch's."""
    xp = _xp(param)
    step += 1
    t = _first(step)
    g = -grad if maximize else grad
    bias_correction2 = 1 - beta2 ** t
    if weight_decay != 0:
        if decoupled_weight_decay:
            param *= 1 - lr * weight_decay
        else:
            g = g + weight_decay * param
    mu = beta1 * (1.0 - 0.5 * (0.96 ** (t * momentum_decay)))
    mu_next = beta1 * (1.0 - 0.5 * (0.96 ** ((t + 1) * momentum_decay)))
    mu_product *= mu
    prod = _first(mu_product)
    _lerp_(exp_avg, g, 1 - beta1)
    sq = g * (1 - beta2)
    sq *= g
    exp_avg_sq *= beta2
    exp_avg_sq += sq
    denom = xp.divide(exp_avg_sq, bias_correction2, out=sq)
    denom = xp.sqrt(denom, out=denom)
    denom += eps
    update = g / denom
    update *= -lr * (1.0 - mu) / (1.0 - prod)
    param += update
    update = xp.divide(exp_avg, denom, out=update)
    update *= (-lr * mu_next) / (1.0 - prod * mu_next)
    param += update
