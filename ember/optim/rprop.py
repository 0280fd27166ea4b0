"""Rprop (torch/optim/rprop.py): sign-based steps with per-coordinate adaptive sizes."""
from __future__ import annotations

from collections.abc import Iterable

from ember._ops.creation import full_like, zeros_like
from ember._tensor import Tensor
from ember.optim.optimizer import Optimizer, _check_tensor_lr, _scalar_state, _value, _xp

__all__ = ["Rprop", "rprop"]


class Rprop(Optimizer):
    """Resilient backpropagation (Riedmiller & Braun)."""

    def __init__(self, params: Iterable, lr: float | Tensor = 1e-2,
                 etas: tuple[float, float] = (0.5, 1.2),
                 step_sizes: tuple[float, float] = (1e-6, 50), *, capturable: bool = False,
                 foreach: bool | None = None, maximize: bool = False,
                 differentiable: bool = False) -> None:
        _check_tensor_lr(lr)
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 < etas[0] < 1.0 < etas[1]:
            raise ValueError(f"Invalid eta values: {etas[0]}, {etas[1]}")
        defaults = dict(lr=lr, etas=etas, step_sizes=step_sizes, foreach=foreach,
                        maximize=maximize, differentiable=differentiable,
                        capturable=capturable)
        super().__init__(params, defaults)

    def _init_state(self, group: dict, p: Tensor, state: dict) -> None:
        state["step"] = _scalar_state(0.0)
        state["prev"] = zeros_like(p)
        state["step_size"] = full_like(p, _value(group["lr"]))

    def _apply(self, group: dict, param, grad, state: dict) -> None:
        etaminus, etaplus = group["etas"]
        step_size_min, step_size_max = group["step_sizes"]
        rprop(param, grad, state["prev"], state["step_size"], state["step"],
              etaminus=etaminus, etaplus=etaplus, step_size_min=step_size_min,
              step_size_max=step_size_max, maximize=group["maximize"])


def rprop(param, grad, prev, step_size, step, *, etaminus: float, etaplus: float,
          step_size_min: float, step_size_max: float, maximize: bool) -> None:
    """One Rprop update in place (one parameter or a flat group; `step` is advanced)."""
    xp = _xp(param)
    step += 1
    g = -grad if maximize else grad
    sign = xp.sign(g * prev)
    flipped = sign < 0  # the gradient changed sign: shrink the step and skip this update
    factor = xp.where(sign > 0, etaplus, xp.where(flipped, etaminus, 1.0)).astype(
        param.dtype, copy=False)
    step_size *= factor
    xp.clip(step_size, step_size_min, step_size_max, out=step_size)
    g = g.copy()
    g[flipped] = 0
    update = xp.sign(g)
    update *= step_size
    param -= update
    prev[...] = g
