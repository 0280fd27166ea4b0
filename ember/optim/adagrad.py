"""Adagrad (torch/optim/adagrad.py): per-coordinate steps scaled by accumulated squares."""
from __future__ import annotations

from collections.abc import Iterable

from ember._ops.creation import full_like
from ember._tensor import Tensor
from ember.optim.optimizer import Optimizer, _check_tensor_lr, _first, _scalar_state, _value, _xp

__all__ = ["Adagrad", "adagrad"]


class Adagrad(Optimizer):
    """Adagrad; like torch, every parameter's state is created up front in the constructor."""

    def __init__(self, params: Iterable, lr: float | Tensor = 1e-2, lr_decay: float = 0,
                 weight_decay: float = 0, initial_accumulator_value: float = 0,
                 eps: float = 1e-10, foreach: bool | None = None, *, maximize: bool = False,
                 differentiable: bool = False, fused: bool | None = None) -> None:
        _check_tensor_lr(lr)
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= lr_decay:
            raise ValueError(f"Invalid lr_decay value: {lr_decay}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if not 0.0 <= initial_accumulator_value:
            raise ValueError("Invalid initial_accumulator_value value: "
                             f"{initial_accumulator_value}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        defaults = dict(lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, foreach=foreach,
                        maximize=maximize, differentiable=differentiable, fused=fused)
        if fused and foreach:
            raise RuntimeError("`fused` and `foreach` cannot be `True` together.")
        super().__init__(params, defaults)
        for group in self.param_groups:
            for p in group["params"]:
                self._init_state(group, p, self.state[p])

    def _init_state(self, group: dict, p: Tensor, state: dict) -> None:
        state["step"] = _scalar_state(0.0)
        state["sum"] = full_like(p, group["initial_accumulator_value"])

    def _apply(self, group: dict, param, grad, state: dict) -> None:
        adagrad(param, grad, state["sum"], state["step"], lr=_value(group["lr"]),
                weight_decay=group["weight_decay"], lr_decay=group["lr_decay"],
                eps=group["eps"], maximize=group["maximize"])


def adagrad(param, grad, state_sum, step, *, lr: float, weight_decay: float, lr_decay: float,
            eps: float, maximize: bool) -> None:
    """One Adagrad update in place (one parameter or a flat group; `step` is advanced)."""
    xp = _xp(param)
    step += 1
    t = _first(step)
    g = -grad if maximize else grad
    if weight_decay != 0:
        g = g + weight_decay * param
    clr = lr / (1 + (t - 1) * lr_decay)
    state_sum += g * g
    std = xp.sqrt(state_sum, out=xp.empty_like(param))
    std += eps
    update = xp.divide(g, std, out=std)
    update *= -clr
    param += update
