"""Gradient checking: compare backward's gradients with finite differences (torch.autograd's).

NOTE [ How gradcheck works ]
Take a function f whose inputs x_0, x_1, ... require grad and whose outputs are
y_0, y_1, ... For every (output j, input i) pair there is a Jacobian matrix with one
row per element of x_i and one column per element of y_j (torch's layout):

    J[i][j][a, b] = d y_j[b] / d x_i[a]

gradcheck computes it twice, independently, and compares:
- numerically: nudge one element x_i[a] by +eps and by -eps and take the central
  difference (f(x + eps) - f(x - eps)) / (2 eps). One nudge gives row a of J[i][j]
  for every output j. Only the forward runs; this is plain calculus.
- analytically: backward with grad_output = e_b (1 at output element b, 0 elsewhere)
  returns d y_j[b] / d x_i for every input at once: column b of J[i][j]. This is what
  the ops' backward formulas produce, so a wrong formula shows up here.
The two must agree within `atol + rtol * |numerical|`. Because eps is tiny, rounding
error in float32 swamps the difference: inputs should be float64.

A few more properties are checked, as torch does: backward run twice gives the same
answer (within nondet_tol), and zero grad_outputs give zero gradients of the right dtype
and shape. Running backward from one output at a time also makes every multi-output
node cope with missing gradients for its other outputs (zeros, or None after
ctx.set_materialize_grads(False)): torch's check_undefined_grad has nothing left to do.
`gradgradcheck` applies the same test to the function x -> d f / d x (built with
create_graph=True), which checks the backward of every backward formula.

fast_mode compares one number per (i, j) pair instead of a whole matrix: v^T J u for
random unit vectors u (over the input) and v (over the output). J u is a single
directional finite difference; v^T J is a single backward.
"""
from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence

import numpy as np

from ember._tensor import Tensor, _make

__all__ = ["gradcheck", "gradgradcheck", "GradcheckError"]


class GradcheckError(RuntimeError):
    """gradcheck found analytical and numerical gradients (or their properties) differ."""


def _as_tuple(x) -> tuple:
    if isinstance(x, tuple):
        return x
    if isinstance(x, list):
        return tuple(x)
    return (x,)


def _host64(t: Tensor) -> np.ndarray:
    """A float64 NumPy copy of t's values (never t's own memory, which gets perturbed)."""
    arr = t._data
    if not isinstance(arr, np.ndarray):
        arr = arr.get()
    return np.array(arr, dtype=np.float64)


def _like(t: Tensor, values: np.ndarray) -> Tensor:
    """A new tensor with t's dtype and device holding `values`."""
    arr = values.astype(t._data.dtype)
    if not t.is_cpu:
        from ember._device import to_device
        arr = to_device(arr, t.device)
    return _make(arr)


def _tensor64(values: np.ndarray) -> Tensor:
    return _make(np.asarray(values, dtype=np.float64))


# ----------------------------------------------------------------- the two Jacobians
def _numerical_jacobian(func, inputs, in_idx, out_idx, eps) -> list[list[np.ndarray]]:
    """jac[i][j]: d outputs[out_idx[j]] / d inputs[in_idx[i]] by central differences."""
    jac = []
    for i in in_idx:
        x = inputs[i]
        arr = x._data  # perturbed in place: every view of x sees the nudged value
        per_out = [np.zeros((x.numel(), n)) for _, n in out_idx]
        for row, index in enumerate(np.ndindex(arr.shape)):
            orig = arr[index].copy()
            arr[index] = orig + eps
            plus = _eval(func, inputs, out_idx)
            arr[index] = orig - eps
            minus = _eval(func, inputs, out_idx)
            arr[index] = orig
            for j, (p, m) in enumerate(zip(plus, minus)):
                per_out[j][row] = ((p - m) / (2 * eps)).reshape(-1)
        jac.append(per_out)
    return jac


def _eval(func, inputs, out_idx) -> list[np.ndarray]:
    outs = _as_tuple(func(*inputs))
    return [_host64(outs[k]) for k, _ in out_idx]


def _analytical_jacobian(output: Tensor, diff_inputs, check_grad_dtypes: bool) -> list:
    """jac[i]: d output / d diff_inputs[i], one backward per output element."""
    from ember.autograd import grad
    n_out = output.numel()
    jac = [np.zeros((x.numel(), n_out)) for x in diff_inputs]
    for b in range(n_out):
        onehot = np.zeros(n_out)
        onehot[b] = 1
        grads = grad(output, diff_inputs, _like(output, onehot.reshape(output.shape)),
                     retain_graph=True, allow_unused=True)
        for i, (g, x) in enumerate(zip(grads, diff_inputs)):
            if g is None:
                continue  # x does not influence this output: the column stays zero
            if check_grad_dtypes and g.dtype is not x.dtype:
                raise GradcheckError("Gradient has dtype mismatch")
            if tuple(g.shape) != tuple(x.shape):
                raise GradcheckError("Analytical gradient has incorrect size")
            jac[i][:, b] = _host64(g).reshape(-1)
    return jac


def _mismatch(j: int, i: int, analytical, numerical) -> str:
    return (f"Jacobian mismatch for output {j:d} with respect to input {i:d},\n"
            f"numerical:{_tensor64(numerical)}\nanalytical:{_tensor64(analytical)}\n")


def _not_reentrant(nondet_tol: float) -> GradcheckError:
    return GradcheckError(
        "Backward is not reentrant, i.e., running backward with same input and grad_output "
        "multiple times gives different values, although analytical gradient matches "
        f"numerical gradient.The tolerance for nondeterminism was {nondet_tol}.")


# ----------------------------------------------------------------- the checks
def _check_inputs(inputs) -> list[int]:
    diff = []
    for idx, x in enumerate(inputs):
        if not (isinstance(x, Tensor) and x.requires_grad):
            continue
        if x.dtype.name != "float64":
            warnings.warn(f"Input #{idx} requires gradient and is not a double precision "
                          "floating point or complex. This check will likely fail if all the "
                          "inputs are not of double precision floating point or complex. ",
                          UserWarning, stacklevel=3)
        if any(st == 0 and sz > 1 for st, sz in zip(x._data.strides, x._data.shape)):
            raise RuntimeError(f"The {idx}th input has a dimension with stride 0. gradcheck "
                               "only supports inputs that are non-overlapping to be able to "
                               "compute the numerical gradients correctly. You should call "
                               ".contiguous on the input before passing it to gradcheck.")
        diff.append(idx)
    if not diff:
        raise ValueError("gradcheck expects at least one input tensor to require gradient, but "
                         "none of them have requires_grad=True.")
    return diff


def _slow_check(func, inputs, in_idx, outputs, out_idx, eps, atol, rtol, nondet_tol,
                check_grad_dtypes) -> None:
    numerical = _numerical_jacobian(func, inputs, in_idx, out_idx, eps)
    diff_inputs = [inputs[i] for i in in_idx]
    for j, o in enumerate(outputs):
        analytical = _analytical_jacobian(o, diff_inputs, check_grad_dtypes)
        again = _analytical_jacobian(o, diff_inputs, check_grad_dtypes)
        for i, (a, n) in enumerate(zip(analytical, (numerical[k][j] for k in range(len(in_idx))))):
            if not np.allclose(a, n, rtol=rtol, atol=atol):
                raise GradcheckError(_mismatch(j, i, a, n))
        if any(np.abs(a1 - a2).max(initial=0.0) > nondet_tol
               for a1, a2 in zip(analytical, again)):
            raise _not_reentrant(nondet_tol)


def _fast_check(func, inputs, in_idx, outputs, out_idx, eps, atol, rtol, nondet_tol,
                check_grad_dtypes) -> None:
    from ember.autograd import grad
    rng = np.random.default_rng(0)
    diff_inputs = [inputs[i] for i in in_idx]
    us = [_unit(rng.random(x.numel())) for x in diff_inputs]
    vs = [_unit(rng.random(o.numel())) for o in outputs]
    # numerical J u: one directional central difference per input
    ju = []
    for x, u in zip(diff_inputs, us):
        arr = x._data
        orig, orig64 = arr.copy(), _host64(x)
        step = u.reshape(arr.shape) * eps
        arr[...] = _like(x, orig64 + step)._data
        plus = _eval(func, inputs, out_idx)
        arr[...] = _like(x, orig64 - step)._data
        minus = _eval(func, inputs, out_idx)
        arr[...] = orig
        ju.append([((p - m) / (2 * eps)).reshape(-1) for p, m in zip(plus, minus)])
    for j, (o, v) in enumerate(zip(outputs, vs)):
        vjps = []
        for _ in range(2):  # twice, to catch a backward that is not deterministic
            gs = grad(o, diff_inputs, _like(o, v.reshape(o.shape)), retain_graph=True,
                      allow_unused=True)
            for g, x in zip(gs, diff_inputs):
                if g is not None and check_grad_dtypes and g.dtype is not x.dtype:
                    raise GradcheckError("Gradient has dtype mismatch")
                if g is not None and tuple(g.shape) != tuple(x.shape):
                    raise GradcheckError("Analytical gradient has incorrect size")
            vjps.append([np.zeros(x.numel()) if g is None else _host64(g).reshape(-1)
                         for g, x in zip(gs, diff_inputs)])
        if any(np.abs(a - b).max(initial=0.0) > nondet_tol for a, b in zip(*vjps)):
            raise _not_reentrant(nondet_tol)
        for i, (vjp, u) in enumerate(zip(vjps[0], us)):
            a = float(vjp @ u)
            n = float(v @ ju[i][j])
            tol = atol * u.sum() * v.sum()  # atol per Jacobian entry, summed over u and v
            if not np.isclose(a, n, rtol=rtol, atol=tol):
                numerical = _numerical_jacobian(func, inputs, [in_idx[i]], [out_idx[j]], eps)
                full = _analytical_jacobian(o, [diff_inputs[i]], False)
                raise GradcheckError(
                    _mismatch(j, i, np.array(a), np.array(n)) +
                    "\nThe above quantities relating the numerical and analytical jacobians "
                    "are computed in fast mode (v^T J u for random unit vectors u, v). "
                    "Recomputed in slow mode:\n" +
                    _mismatch(j, i, full[0], numerical[0][0]))


def _unit(v: np.ndarray) -> np.ndarray:
    norm = np.linalg.norm(v)
    return v / norm if norm else v


def _check_zero_grad_outputs(outputs, diff_inputs) -> None:
    """Zero grad_outputs must give zero gradients of each input's dtype and shape."""
    from ember.autograd import grad
    zeros = [_like(o, np.zeros(tuple(o.shape))) for o in outputs]
    for g, x in zip(grad(outputs, diff_inputs, zeros, allow_unused=True), diff_inputs):
        if g is None:
            continue
        if np.any(_host64(g) != 0):
            raise GradcheckError("backward not multiplied by grad_output")
        if g.dtype is not x.dtype:
            raise GradcheckError("grad is incorrect type")
        if g.device != x.device:
            raise GradcheckError("grad is incorrect device")
        if tuple(g.shape) != tuple(x.shape):
            raise GradcheckError("grad is incorrect size")


def _differentiable(outputs) -> tuple:
    return tuple(o for o in outputs if isinstance(o, Tensor) and o.requires_grad)


# ----------------------------------------------------------------- public API
def gradcheck(func: Callable[..., Tensor | Sequence[Tensor]], inputs, *, eps: float = 1e-6,
              atol: float = 1e-5, rtol: float = 1e-3, raise_exception: bool = True,
              nondet_tol: float = 0.0, check_undefined_grad: bool = True,
              check_grad_dtypes: bool = False, check_batched_grad: bool = False,
              check_batched_forward_grad: bool = False, check_forward_ad: bool = False,
              check_backward_ad: bool = True, fast_mode: bool = False,
              masked: bool | None = None) -> bool:
    """Check backward's gradients of `func(*inputs)` against finite differences.

    Returns True, or raises GradcheckError (returns False when raise_exception=False).
    Inputs that require grad should be float64. See NOTE [ How gradcheck works ].
    check_undefined_grad and check_batched_grad are accepted with nothing further to check:
    the analytical Jacobian already runs backward one output and one grad_output at a time
    (ember has no vmap). Forward-mode AD does not exist in ember, so check_forward_ad and
    check_batched_forward_grad must stay False. masked (sparse inputs) is ignored.
    """
    if check_forward_ad or check_batched_forward_grad:
        raise NotImplementedError("ember has no forward-mode AD: check_forward_ad and "
                                  "check_batched_forward_grad are not supported")
    if not check_backward_ad:
        raise AssertionError("Expected at least one of check_forward_ad or check_backward_ad "
                             "to be True")
    try:
        _gradcheck(func, _as_tuple(inputs), eps, atol, rtol, nondet_tol, check_grad_dtypes,
                   fast_mode)
    except GradcheckError:
        if raise_exception:
            raise
        return False
    return True


def _gradcheck(func, inputs, eps, atol, rtol, nondet_tol, check_grad_dtypes,
               fast_mode) -> None:
    in_idx = _check_inputs(inputs)
    results = _as_tuple(func(*inputs))
    # (position among func's results, numel) of each output that carries a gradient
    out_idx = [(k, o.numel()) for k, o in enumerate(results)
               if isinstance(o, Tensor) and o.requires_grad]
    outputs = [results[k] for k, _ in out_idx]
    if not outputs:
        every = [(k, o.numel()) for k, o in enumerate(results) if isinstance(o, Tensor)]
        for per_out in _numerical_jacobian(func, inputs, in_idx, every, eps):
            if any(np.any(jac != 0) for jac in per_out):
                raise GradcheckError("Numerical gradient for function expected to be zero")
        return
    check = _fast_check if fast_mode else _slow_check
    check(func, inputs, in_idx, outputs, out_idx, eps, atol, rtol, nondet_tol,
          check_grad_dtypes)
    _check_zero_grad_outputs(outputs, [inputs[i] for i in in_idx])


def gradgradcheck(func: Callable[..., Tensor | Sequence[Tensor]], inputs, grad_outputs=None,
                  *, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3,
                  gen_non_contig_grad_outputs: bool = False, raise_exception: bool = True,
                  nondet_tol: float = 0.0, check_undefined_grad: bool = True,
                  check_grad_dtypes: bool = False, check_batched_grad: bool = False,
                  check_fwd_over_rev: bool = False, check_rev_over_rev: bool = True,
                  fast_mode: bool = False, masked: bool = False) -> bool:
    """Check second derivatives: gradcheck of (inputs, grad_outputs) -> d func / d inputs.

    grad_outputs default to random values in [-1, 1) (fixed seed) that require grad, so
    the backward's dependence on them is checked as well; gen_non_contig_grad_outputs
    makes them non-contiguous views.
    """
    if check_fwd_over_rev:
        raise NotImplementedError("ember has no forward-mode AD: check_fwd_over_rev is not "
                                  "supported")
    inputs = _as_tuple(inputs)
    if grad_outputs is None:
        rng = np.random.default_rng(0)
        made = []
        for o in _differentiable(_as_tuple(func(*inputs))):
            values = rng.uniform(-1, 1, tuple(o.shape) + ((2,) if gen_non_contig_grad_outputs
                                                         else ()))
            g = _like(o, values)
            if gen_non_contig_grad_outputs:
                g = _make(g._data[..., 0])  # every other element: a strided view
            made.append(g.requires_grad_())
        grad_outputs = tuple(made)
    else:
        grad_outputs = _as_tuple(grad_outputs)
    n_grads = len(grad_outputs)
    diff_in = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]

    def first_derivative(*args):
        from ember.autograd import grad
        xs, gos = args[:-n_grads], args[-n_grads:]
        outs = _differentiable(_as_tuple(func(*xs)))
        grads = grad(outs, [xs[i] for i in diff_in], gos, create_graph=True, allow_unused=True)
        return tuple(g for g in grads if g is not None)

    return gradcheck(first_derivative, inputs + grad_outputs, eps=eps, atol=atol, rtol=rtol,
                     raise_exception=raise_exception, nondet_tol=nondet_tol,
                     check_undefined_grad=check_undefined_grad,
                     check_grad_dtypes=check_grad_dtypes, check_batched_grad=check_batched_grad,
                     fast_mode=fast_mode, masked=masked)
