"""Adam, with AMSGrad and coupled or decoupled weight decay (torch/optim/adam.py)."""
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

__all__ = ["Adam", "adam"]


class Adam(Optimizer):
    """Adam (Kingma & Ba); `decoupled_weight_decay=True` is AdamW."""

    def __init__(self, params: Iterable, lr: float | Tensor = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0, amsgrad: bool = False, *,
                 foreach: bool | None = None, maximize: bool = False, capturable: bool = False,
                 differentiable: bool = False, fused: bool | None = None,
                 decoupled_weight_decay: bool = False) -> None:
        _check_adam_args(lr, betas, eps, weight_decay, foreach, capturable)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                        amsgrad=amsgrad, maximize=maximize, foreach=foreach,
                        capturable=capturable, differentiable=differentiable, fused=fused,
                        decoupled_weight_decay=decoupled_weight_decay)
        if fused and foreach:
            raise RuntimeError("`fused` and `foreach` cannot be `True` together.")
        super().__init__(params, defaults)

    def _init_state(self, group: dict, p: Tensor, state: dict) -> None:
        state["step"] = _scalar_state(0.0)
        state["exp_avg"] = zeros_like(p)
        state["exp_avg_sq"] = zeros_like(p)
        if group["amsgrad"]:
            state["max_exp_avg_sq"] = zeros_like(p)

    def _apply(self, group: dict, param, grad, state: dict) -> None:
        beta1, beta2 = group["betas"]
        adam(param, grad, state["exp_avg"], state["exp_avg_sq"], state.get("max_exp_avg_sq"),
             state["step"], lr=_value(group["lr"]), beta1=_value(beta1), beta2=_value(beta2),
             eps=group["eps"], weight_decay=group["weight_decay"], amsgrad=group["amsgrad"],
             maximize=group["maximize"],
             decoupled_weight_decay=group.get("decoupled_weight_decay", False))


def _check_adam_args(lr, betas, eps, weight_decay, foreach, capturable) -> None:
    if isinstance(lr, Tensor):
        if foreach and not capturable:
            raise ValueError("lr as a Tensor is not supported for capturable=False and "
                             "foreach=True")
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


def adam(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, step, *, lr: float, beta1: float,
         beta2: float, eps: float, weight_decay: float, amsgrad: bool, maximize: bool,
         decoupled_weight_decay: bool) -> None:
    """One Adam update in place. Arrays cover one parameter or a flat group; `step` holds
    the (equal) step counts of the parameters covered and is advanced here."""
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
    step_size = lr / (1 - beta1 ** t)
    bias_correction2_sqrt = (1 - beta2 ** t) ** 0.5
    if amsgrad:
        xp.maximum(max_exp_avg_sq, exp_avg_sq, out=max_exp_avg_sq)
        denom = xp.sqrt(max_exp_avg_sq, out=sq)  # sq's memory is free again: reuse it
    else:
        denom = xp.sqrt(exp_avg_sq, out=sq)
    denom /= bias_correction2_sqrt
    denom += eps
    update = xp.divide(exp_avg, denom, out=denom)
    update *= -step_size
    param += update
