"""L-BFGS with an optional strong-Wolfe line search (torch/optim/lbfgs.py).

All parameters are handled as one flat vector: gradients are gathered with one
concatenate, and the two-loop recursion runs on flat arrays. Scalars that torch
keeps as 0-dim tensors in the state (`t`, `H_diag`, `ro`, `al`) are Python floats
here; the direction and history vectors are Tensors, as in torch.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable

from ember._tensor import Tensor, _make
from ember.optim.optimizer import Optimizer, _check_tensor_lr, _value, _xp

__all__ = ["LBFGS"]


def _cubic_interpolate(x1, f1, g1, x2, f2, g2, bounds=None) -> float:
    """Minimizer of the cubic through (x1, f1, g1) and (x2, f2, g2), clamped to bounds."""
    if bounds is not None:
        xmin_bound, xmax_bound = bounds
    else:
        xmin_bound, xmax_bound = (x1, x2) if x1 <= x2 else (x2, x1)
    d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
    d2_square = d1 ** 2 - g1 * g2
    if d2_square >= 0:
        d2 = d2_square ** 0.5
        if x1 <= x2:
            min_pos = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
        else:
            min_pos = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
        return min(max(min_pos, xmin_bound), xmax_bound)
    return (xmin_bound + xmax_bound) / 2.0


def _strong_wolfe(obj_func, x, t, d, f, g, gtd, c1=1e-4, c2=0.9, tolerance_change=1e-9,
                  max_ls=25):
    """Line search along d satisfying the strong Wolfe conditions (bracket, then zoom).

    Works on flat arrays; returns (loss, flat grad, step, function evaluations)."""
    d_norm = float(abs(d).max())
    g = g.copy()
    f_new, g_new = obj_func(x, t, d)
    ls_func_evals = 1
    gtd_new = float(g_new.dot(d))
    t_prev, f_prev, g_prev, gtd_prev = 0, f, g, gtd
    done = False
    ls_iter = 0
    while ls_iter < max_ls:
        if f_new > (f + c1 * t * gtd) or (ls_iter > 1 and f_new >= f_prev):
            bracket, bracket_f = [t_prev, t], [f_prev, f_new]
            bracket_g, bracket_gtd = [g_prev, g_new.copy()], [gtd_prev, gtd_new]
            break
        if abs(gtd_new) <= -c2 * gtd:
            bracket, bracket_f, bracket_g = [t], [f_new], [g_new]
            done = True
            break
        if gtd_new >= 0:
            bracket, bracket_f = [t_prev, t], [f_prev, f_new]
            bracket_g, bracket_gtd = [g_prev, g_new.copy()], [gtd_prev, gtd_new]
            break
        min_step = t + 0.01 * (t - t_prev)
        max_step = t * 10
        tmp = t
        t = _cubic_interpolate(t_prev, f_prev, gtd_prev, t, f_new, gtd_new,
                               bounds=(min_step, max_step))
        t_prev, f_prev, g_prev, gtd_prev = tmp, f_new, g_new.copy(), gtd_new
        f_new, g_new = obj_func(x, t, d)
        ls_func_evals += 1
        gtd_new = float(g_new.dot(d))
        ls_iter += 1
    if ls_iter == max_ls:
        bracket, bracket_f, bracket_g = [0, t], [f, f_new], [g, g_new]
    insuf_progress = False
    low_pos, high_pos = (0, 1) if bracket_f[0] <= bracket_f[-1] else (1, 0)
    while not done and ls_iter < max_ls:
        if abs(bracket[1] - bracket[0]) * d_norm < tolerance_change:
            break
        t = _cubic_interpolate(bracket[0], bracket_f[0], bracket_gtd[0], bracket[1],
                               bracket_f[1], bracket_gtd[1])
        # Keep the trial point away from the bracket's ends unless progress stalls.
        eps = 0.1 * (max(bracket) - min(bracket))
        if min(max(bracket) - t, t - min(bracket)) < eps:
            if insuf_progress or t >= max(bracket) or t <= min(bracket):
                if abs(t - max(bracket)) < abs(t - min(bracket)):
                    t = max(bracket) - eps
                else:
                    t = min(bracket) + eps
                insuf_progress = False
            else:
                insuf_progress = True
        else:
            insuf_progress = False
        f_new, g_new = obj_func(x, t, d)
        ls_func_evals += 1
        gtd_new = float(g_new.dot(d))
        ls_iter += 1
        if f_new > (f + c1 * t * gtd) or f_new >= bracket_f[low_pos]:
            bracket[high_pos], bracket_f[high_pos] = t, f_new
            bracket_g[high_pos], bracket_gtd[high_pos] = g_new.copy(), gtd_new
            low_pos, high_pos = (0, 1) if bracket_f[0] <= bracket_f[1] else (1, 0)
        else:
            if abs(gtd_new) <= -c2 * gtd:
                done = True
            elif gtd_new * (bracket[high_pos] - bracket[low_pos]) >= 0:
                bracket[high_pos], bracket_f[high_pos] = bracket[low_pos], bracket_f[low_pos]
                bracket_g[high_pos] = bracket_g[low_pos]
                bracket_gtd[high_pos] = bracket_gtd[low_pos]
            bracket[low_pos], bracket_f[low_pos] = t, f_new
            bracket_g[low_pos], bracket_gtd[low_pos] = g_new.copy(), gtd_new
    return bracket_f[low_pos], bracket_g[low_pos], bracket[low_pos], ls_func_evals


class LBFGS(Optimizer):
    """Limited-memory BFGS; step(closure) runs up to `max_iter` iterations."""

    def __init__(self, params: Iterable, lr: float | Tensor = 1, max_iter: int = 20,
                 max_eval: int | None = None, tolerance_grad: float = 1e-7,
                 tolerance_change: float = 1e-9, history_size: int = 100,
                 line_search_fn: str | None = None) -> None:
        _check_tensor_lr(lr)
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if max_eval is None:
            max_eval = max_iter * 5 // 4
        defaults = dict(lr=lr, max_iter=max_iter, max_eval=max_eval,
                        tolerance_grad=tolerance_grad, tolerance_change=tolerance_change,
                        history_size=history_size, line_search_fn=line_search_fn)
        super().__init__(params, defaults)
        if len(self.param_groups) != 1:
            raise ValueError("LBFGS doesn't support per-parameter options (parameter groups)")
        self._params = self.param_groups[0]["params"]

    def _gather_flat_grad(self):
        p0 = self._params[0]._data
        xp = _xp(p0)
        return xp.concatenate([p._grad._data.reshape(-1) if p._grad is not None
                               else xp.zeros(p._data.size, dtype=p._data.dtype)
                               for p in self._params])

    def _add_grad(self, step_size: float, update) -> None:
        offset = 0
        for p in self._params:
            n = p._data.size
            p._data += step_size * update[offset:offset + n].reshape(p._data.shape)
            p._version_counter[0] += 1
            offset += n

    def _set_param(self, params_data: list) -> None:
        for p, data in zip(self._params, params_data):
            p._data[...] = data

    def _directional_evaluate(self, closure, x, t, d):
        self._add_grad(t, d)
        loss = float(closure())
        flat_grad = self._gather_flat_grad()
        self._set_param(x)
        return loss, flat_grad

    def step(self, closure: Callable):
        """Minimize along L-BFGS directions; `closure` must zero grads, run backward and
        return the loss. Returns the loss of the first evaluation."""
        from ember.autograd.grad_mode import enable_grad, no_grad
        group = self.param_groups[0]
        lr = _value(group["lr"])
        max_iter, max_eval = group["max_iter"], group["max_eval"]
        tolerance_grad, tolerance_change = group["tolerance_grad"], group["tolerance_change"]
        line_search_fn, history_size = group["line_search_fn"], group["history_size"]

        def evaluate():
            with enable_grad():
                return closure()

        with no_grad():
            state = self.state[self._params[0]]
            state.setdefault("func_evals", 0)
            state.setdefault("n_iter", 0)
            orig_loss = evaluate()
            loss = float(orig_loss)
            current_evals = 1
            state["func_evals"] += 1
            flat_grad = self._gather_flat_grad()
            if float(abs(flat_grad).max()) <= tolerance_grad:
                return orig_loss
            # (a state loaded from torch holds 0-dim tensors where this keeps floats)
            d = _array(state.get("d"))
            t = _number(state.get("t"))
            old_dirs = [_array(v) for v in state.get("old_dirs", [])]
            old_stps = [_array(v) for v in state.get("old_stps", [])]
            ro = [_number(v) for v in state.get("ro", [])]
            h_diag = _number(state.get("H_diag"))
            prev_flat_grad = _array(state.get("prev_flat_grad"))
            prev_loss = _number(state.get("prev_loss"))
            if "al" in state:
                state["al"] = [_number(v) for v in state["al"]]
            n_iter = 0
            while n_iter < max_iter:
                n_iter += 1
                state["n_iter"] += 1
                if state["n_iter"] == 1:
                    d = -flat_grad
                    old_dirs, old_stps, ro = [], [], []
                    h_diag = 1
                else:
                    # Update the curvature pairs, then the two-loop recursion.
                    y = flat_grad - prev_flat_grad
                    s = d * t
                    ys = float(y.dot(s))
                    if ys > 1e-10:
                        if len(old_dirs) == history_size:
                            old_dirs.pop(0)
                            old_stps.pop(0)
                            ro.pop(0)
                        old_dirs.append(y)
                        old_stps.append(s)
                        ro.append(1.0 / ys)
                        h_diag = ys / float(y.dot(y))
                    num_old = len(old_dirs)
                    if "al" not in state:
                        state["al"] = [None] * history_size
                    al = state["al"]
                    q = -flat_grad
                    for i in range(num_old - 1, -1, -1):
                        al[i] = float(old_stps[i].dot(q)) * ro[i]
                        q -= al[i] * old_dirs[i]
                    d = r = q * h_diag
                    for i in range(num_old):
                        be_i = float(old_dirs[i].dot(r)) * ro[i]
                        r += (al[i] - be_i) * old_stps[i]
                prev_flat_grad = flat_grad.copy()
                prev_loss = loss
                if state["n_iter"] == 1:
                    t = min(1.0, 1.0 / float(abs(flat_grad).sum())) * lr
                else:
                    t = lr
                gtd = float(flat_grad.dot(d))
                if gtd > -tolerance_change:
                    break
                ls_func_evals = 0
                if line_search_fn is not None:
                    if line_search_fn != "strong_wolfe":
                        raise RuntimeError("only 'strong_wolfe' is supported")
                    x_init = [p._data.copy() for p in self._params]

                    def obj_func(x, t, d):
                        return self._directional_evaluate(evaluate, x, t, d)

                    loss, flat_grad, t, ls_func_evals = _strong_wolfe(
                        obj_func, x_init, t, d, loss, flat_grad, gtd,
                        max_ls=max_eval - current_evals)
                    self._add_grad(t, d)
                    opt_cond = float(abs(flat_grad).max()) <= tolerance_grad
                else:
                    self._add_grad(t, d)
                    if n_iter != max_iter:
                        loss = float(evaluate())
                        flat_grad = self._gather_flat_grad()
                        opt_cond = float(abs(flat_grad).max()) <= tolerance_grad
                        ls_func_evals = 1
                current_evals += ls_func_evals
                state["func_evals"] += ls_func_evals
                if n_iter == max_iter or current_evals >= max_eval or opt_cond:
                    break
                if float(abs(d * t).max()) <= tolerance_change:
                    break
                if abs(loss - prev_loss) < tolerance_change:
                    break
            state["d"] = _tensor(d)
            state["t"] = t
            state["old_dirs"] = [_make(v) for v in old_dirs]
            state["old_stps"] = [_make(v) for v in old_stps]
            state["ro"] = ro
            state["H_diag"] = h_diag
            state["prev_flat_grad"] = _tensor(prev_flat_grad)
            state["prev_loss"] = prev_loss
        return orig_loss


def _number(x):
    return x.item() if isinstance(x, Tensor) else x


def _array(t):
    return t._data if isinstance(t, Tensor) else t


def _tensor(a):
    return _make(a) if a is not None else None

