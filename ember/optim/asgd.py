"""ASGD (torch/optim/asgd.py): SGD that also keeps a running average of the iterates."""
from __future__ import annotations

from collections.abc import Iterable

from ember._ops.creation import zeros_like
from ember._tensor import Tensor
from ember.optim.optimizer import Optimizer, _check_tensor_lr, _first, _scalar_state, _value

__all__ = ["ASGD", "asgd"]


class ASGD(Optimizer):
    """Averaged SGD (Polyak & Juditsky); the average is `state[p]['ax']`."""

    def __init__(self, params: Iterable, lr: float | Tensor = 1e-2, lambd: float = 1e-4,
                 alpha: float = 0.75, t0: float = 1e6, weight_decay: float = 0,
                 foreach: bool | None = None, maximize: bool = False,
                 differentiable: bool = False, capturable: bool = False) -> None:
        _check_tensor_lr(lr)
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        defaults = dict(lr=lr, lambd=lambd, alpha=alpha, t0=t0, weight_decay=weight_decay,
                        foreach=foreach, maximize=maximize, differentiable=differentiable,
                        capturable=capturable)
        super().__init__(params, defaults)

    _scalar_keys = ("step", "eta", "mu")

    def _init_state(self, group: dict, p: Tensor, state: dict) -> None:
        state["step"] = _scalar_state(0.0)
        state["eta"] = _scalar_state(_value(group["lr"]))
        state["mu"] = _scalar_state(1.0)
        state["ax"] = zeros_like(p)

    def _apply(self, group: dict, param, grad, state: dict) -> None:
        asgd(param, grad, state["ax"], state["step"], state["eta"], state["mu"],
             lr=_value(group["lr"]), lambd=group["lambd"], alpha=group["alpha"],
             t0=group["t0"], weight_decay=group["weight_decay"], maximize=group["maximize"])


def asgd(param, grad, ax, step, eta, mu, *, lr: float, lambd: float, alpha: float, t0: float,
         weight_decay: float, maximize: bool) -> None:
    """One ASGD update in place; `step`, `eta` and `mu` (one entry per parameter covered,
    all equal) are advanced here."""
    step += 1
    g = -grad if maximize else grad
    if weight_decay != 0:
        g = g + weight_decay * param
    eta_value = _first(eta)
    param *= 1 - lambd * eta_value
    param += -eta_value * g
    mu_value = _first(mu)
    if mu_value != 1:
        d = param - ax
        d *= mu_value
        ax += d
    else:
        ax[...] = param
    t = _first(step)
    eta[...] = lr / ((1 + lambd * lr * t) ** alpha)
    mu[...] = 1 / max(1, t - t0)
