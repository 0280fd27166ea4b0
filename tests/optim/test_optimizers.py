"""Optimizer trajectories against torch: same parameters, same gradients, every step.

Each case builds the same few parameters (varied shapes, a 0-dim one, a transposed
one and one that never gets a gradient) in torch and ember, feeds both identical
gradients for a dozen steps, and compares parameters and every state entry after
each step. The flat (default) and per-parameter (foreach=False) paths must agree
with torch and with each other.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
from oracle import TOL, assert_same, to_ember, to_numpy, to_torch

import ember
import ember.optim as eoptim
from ember.nn import Parameter

SHAPES = [(3, 4), (5,), (2, 3, 2), ()]
STEPS = 10

CASES = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.1, momentum=0.9)),
    ("SGD", dict(lr=0.1, momentum=0.9, dampening=0.3, weight_decay=0.1)),
    ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True, maximize=True)),
    ("Adam", dict(lr=0.01)),
    ("Adam", dict(lr=0.01, amsgrad=True, weight_decay=0.1, maximize=True)),
    ("Adam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True)),
    ("AdamW", dict(lr=0.01)),
    ("AdamW", dict(lr=0.01, amsgrad=True, betas=(0.8, 0.9))),
    ("Adagrad", dict()),
    ("Adagrad", dict(lr_decay=0.1, weight_decay=0.1, initial_accumulator_value=0.1,
                     maximize=True)),
    ("RMSprop", dict()),
    ("RMSprop", dict(centered=True, momentum=0.5, weight_decay=0.1)),
    ("RMSprop", dict(alpha=0.9, momentum=0.9, maximize=True)),
    ("Adadelta", dict()),
    ("Adadelta", dict(lr=0.5, rho=0.8, weight_decay=0.1, maximize=True)),
    ("Adamax", dict()),
    ("Adamax", dict(weight_decay=0.1, maximize=True)),
    ("NAdam", dict()),
    ("NAdam", dict(weight_decay=0.1, momentum_decay=0.01)),
    ("NAdam", dict(weight_decay=0.1, decoupled_weight_decay=True, maximize=True)),
    ("RAdam", dict()),
    ("RAdam", dict(weight_decay=0.1, decoupled_weight_decay=True)),
    ("RAdam", dict(weight_decay=0.1, maximize=True)),
    ("ASGD", dict()),
    ("ASGD", dict(t0=3, lambd=0.01, weight_decay=0.1, maximize=True)),
    ("Rprop", dict()),
    ("Rprop", dict(etas=(0.3, 1.5), step_sizes=(1e-3, 0.2), maximize=True)),
]


def _case_id(case) -> str:
    name, kw = case
    return name + "-" + "-".join(f"{k}={v}" for k, v in kw.items())


def _params(dtype, seed=0):
    """Initial values: the SHAPES plus a transposed (non-contiguous) matrix and a
    parameter that never receives a gradient."""
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal(s).astype(dtype) for s in SHAPES]
    arrays.append(rng.standard_normal((4, 3)).astype(dtype))  # used transposed
    arrays.append(rng.standard_normal((2, 2)).astype(dtype))  # no gradient
    return arrays


def _make_pair(arrays):
    tp = [torch.nn.Parameter(to_torch(a)) for a in arrays[:-2]]
    ep = [Parameter(to_ember(a)) for a in arrays[:-2]]
    tp.append(torch.nn.Parameter(to_torch(arrays[-2]).t()))
    ep.append(Parameter(to_ember(arrays[-2]).t()))
    tp.append(torch.nn.Parameter(to_torch(arrays[-1])))
    ep.append(Parameter(to_ember(arrays[-1])))
    return tp, ep


def _grads(rng, params, dtype):
    """One gradient per parameter except the last (which stays without one)."""
    return [rng.standard_normal(tuple(p.shape)).astype(dtype) for p in params[:-1]]


def _set_grads(params, grads, lib) -> None:
    for p, g in zip(params, grads):
        p.grad = to_torch(g) if lib is torch else to_ember(g)


def _compare(ep, tp, eopt, topt, what, rtol=None, atol=None, check_dtype=True) -> None:
    """Parameters and every state entry equal torch's (one vectorized check per call; the
    per-entry assert_same runs only to explain a failure)."""
    pairs = []
    for i, (e, t) in enumerate(zip(ep, tp)):
        pairs.append((e.detach(), t.detach(), f"{what}: param {i}"))
        tstate = topt.state.get(t)
        estate = eopt.state.get(e)
        if tstate is None:
            assert estate is None or estate == {}, f"{what}: param {i} has state"
            continue
        assert estate is not None and set(estate) == set(tstate), (
            f"{what}: param {i} state keys {sorted(estate or {})} vs {sorted(tstate)}")
        pairs.extend((estate[k], v, f"{what}: state {i}[{k}]") for k, v in tstate.items())
    for e, t, msg in pairs:
        assert tuple(e.shape) == tuple(t.shape), msg
        assert not check_dtype or str(e.dtype) == str(t.dtype), (
            f"{msg}: dtype {e.dtype} vs torch's {t.dtype}")
    dt = str(pairs[0][1].dtype).replace("torch.", "")
    r = TOL[dt][0] if rtol is None else rtol
    a = TOL[dt][1] if atol is None else atol
    ev = np.concatenate([to_numpy(e).astype(np.float64).ravel() for e, _, _ in pairs])
    tv = np.concatenate([to_numpy(t).astype(np.float64).ravel() for _, t, _ in pairs])
    if not np.allclose(ev, tv, rtol=r, atol=a):
        for e, t, msg in pairs:
            assert_same(e, t, r, a, check_dtype, what=msg)


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_trajectory_float32(case) -> None:
    """float32 stays float32 and follows torch, on the flat and the per-parameter path."""
    name, kw = case
    arrays = _params(np.float32)
    tp, ep = _make_pair(arrays)
    _, ep_each = _make_pair(arrays)
    topt = getattr(torch.optim, name)(tp, **kw)
    eopt = getattr(eoptim, name)(ep, **kw)
    eopt_each = getattr(eoptim, name)(ep_each, foreach=False, **kw)
    rng = np.random.default_rng(1)
    for step in range(STEPS):
        grads = _grads(rng, ep, np.float32)
        _set_grads(tp, grads, torch)
        _set_grads(ep, grads, ember)
        _set_grads(ep_each, grads, ember)
        topt.step()
        eopt.step()
        eopt_each.step()
        _compare(ep, tp, eopt, topt, f"step {step}", rtol=2e-5, atol=1e-6)
        _compare(ep_each, tp, eopt_each, topt, f"step {step}, foreach=False", rtol=2e-5,
                 atol=1e-6)
    assert all(p.dtype is ember.float32 for p in ep + ep_each)


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_trajectory_float64_and_paths_agree(case) -> None:
    """float64 against torch at 1e-10, and the flat and per-parameter paths bit for bit."""
    name, kw = case
    arrays = _params(np.float64)
    tp, ep = _make_pair(arrays)
    _, ep_each = _make_pair(arrays)
    topt = getattr(torch.optim, name)(tp, **kw)
    eopt = getattr(eoptim, name)(ep, **kw)
    eopt_each = getattr(eoptim, name)(ep_each, foreach=False, **kw)
    rng = np.random.default_rng(2)
    for step in range(STEPS):
        grads = _grads(rng, ep, np.float64)
        _set_grads(tp, grads, torch)
        _set_grads(ep, grads, ember)
        _set_grads(ep_each, grads, ember)
        topt.step()
        eopt.step()
        eopt_each.step()
        _compare(ep, tp, eopt, topt, f"step {step}")
        for a, b in zip(ep, ep_each):
            np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())


def _state_to_numpy(sd):
    """A state_dict with every tensor as a NumPy array (the plain-dict interchange)."""
    def conv(v):
        if isinstance(v, (torch.Tensor, ember.Tensor)):
            return np.array(v.detach().numpy())
        if isinstance(v, dict):
            return {k: conv(x) for k, x in v.items()}
        if isinstance(v, list):
            return [conv(x) for x in v]
        return v
    return {"state": {k: conv(v) for k, v in sd["state"].items()},
            "param_groups": [dict(g) for g in sd["param_groups"]]}


def _from_numpy(sd, lib):
    def conv(v):
        if isinstance(v, np.ndarray):
            return lib.tensor(v)
        if isinstance(v, dict):
            return {k: conv(x) for k, x in v.items()}
        if isinstance(v, list):
            return [conv(x) for x in v]
        return v
    return {"state": {k: conv(v) for k, v in sd["state"].items()},
            "param_groups": sd["param_groups"]}


@pytest.mark.parametrize("case", [CASES[2], CASES[5], CASES[12], CASES[20], CASES[25],
                                  CASES[27]], ids=_case_id)
def test_state_dict_interchange_and_resume(case) -> None:
    """torch's state_dict loads into ember and ember's into torch mid-run; a resumed run
    continues exactly like the uninterrupted one."""
    name, kw = case
    arrays = _params(np.float64)
    tp, ep = _make_pair(arrays)
    topt = getattr(torch.optim, name)(tp, **kw)
    eopt = getattr(eoptim, name)(ep, **kw)
    rng = np.random.default_rng(3)
    grads = [_grads(rng, ep, np.float64) for _ in range(8)]
    for g in grads[:4]:
        _set_grads(tp, g, torch)
        _set_grads(ep, g, ember)
        topt.step()
        eopt.step()
    # ember resumes from torch's state (and torch from ember's), each with fresh parameters
    # holding the current values.
    t_sd = _state_to_numpy(topt.state_dict())
    e_sd = _state_to_numpy(eopt.state_dict())
    assert sorted(t_sd["state"]) == sorted(e_sd["state"])
    assert t_sd["param_groups"] == e_sd["param_groups"]
    current = ([p.detach().numpy().copy() for p in ep[:-2]]
               + [ep[-2].detach().numpy().T.copy(), ep[-1].detach().numpy().copy()])
    tp2, ep2 = _make_pair(current)
    _, ep3 = _make_pair(current)
    topt2 = getattr(torch.optim, name)(tp2, **kw)
    eopt2 = getattr(eoptim, name)(ep2, **kw)
    eopt3 = getattr(eoptim, name)(ep3, **kw)
    topt2.load_state_dict(_from_numpy(e_sd, torch))
    eopt2.load_state_dict(_from_numpy(t_sd, ember))
    eopt3.load_state_dict(_from_numpy(e_sd, ember))
    for g in grads[4:]:
        for params, lib in ((tp, torch), (ep, ember), (tp2, torch), (ep2, ember), (ep3, ember)):
            _set_grads(params, g, lib)
        for opt in (topt, eopt, topt2, eopt2, eopt3):
            opt.step()
    # Loading casts every state entry but `step` to the parameter's dtype (NAdam's float32
    # mu_product and ASGD's eta and mu become float64 here), in both libraries alike.
    for e, t in zip(ep2, tp2):
        assert {k: str(v.dtype) for k, v in eopt2.state.get(e, {}).items()} == {
            k: str(v.dtype) for k, v in topt2.state.get(t, {}).items()}
    # (so those continue in float64 after a resume: agreement to float32 level)
    tol = dict(rtol=1e-6, atol=1e-9) if name in ("NAdam", "ASGD") else {}
    _compare(ep2, tp, eopt2, topt, "ember resumed from torch", check_dtype=False, **tol)
    _compare(ep, tp2, eopt, topt2, "torch resumed from ember", check_dtype=False, **tol)
    for a, b in zip(ep, ep3):  # resuming from its own state_dict changes nothing
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(),
                                   **(tol or dict(rtol=0, atol=0)))


def test_state_dict_casts_to_parameter_dtype_but_keeps_step() -> None:
    """Loading float64 state into float32 parameters casts it; `step` stays as saved."""
    tp = [torch.nn.Parameter(torch.ones(3))]
    ep = [Parameter(ember.ones(3))]
    topt, eopt = torch.optim.Adam(tp), eoptim.Adam(ep)
    sd = {"state": {0: {"step": np.array(3.0), "exp_avg": np.full(3, 0.5),
                        "exp_avg_sq": np.full(3, 0.25)}},
          "param_groups": [dict(eopt.state_dict()["param_groups"][0])]}
    topt.load_state_dict(_from_numpy(sd, torch))
    eopt.load_state_dict(_from_numpy(sd, ember))
    _compare(ep, tp, eopt, topt, "loaded")
    assert eopt.state[ep[0]]["step"].dtype is ember.float64
    assert eopt.state[ep[0]]["exp_avg"].dtype is ember.float32
    for opt, ps, lib in ((topt, tp, torch), (eopt, ep, ember)):
        ps[0].grad = lib.full((3,), 0.1)
        opt.step()
    _compare(ep, tp, eopt, topt, "after a step")


def test_tensor_lr() -> None:
    tp = [torch.nn.Parameter(torch.ones(4, dtype=torch.float64))]
    ep = [Parameter(ember.ones(4, dtype=ember.float64))]
    topt = torch.optim.Adam(tp, lr=torch.tensor(0.05))
    eopt = eoptim.Adam(ep, lr=ember.tensor(0.05))
    for i in range(3):
        tp[0].grad = torch.full((4,), float(i + 1), dtype=torch.float64)
        ep[0].grad = ember.full((4,), float(i + 1), dtype=ember.float64)
        topt.step()
        eopt.step()
    _compare(ep, tp, eopt, topt, "tensor lr")
    for lib, opt in ((torch, torch.optim), (ember, eoptim)):
        with pytest.raises(ValueError, match="lr as a Tensor is not supported"):
            opt.Adam([lib.ones(1, requires_grad=True)], lr=lib.tensor(0.1), foreach=True)
        with pytest.raises(ValueError, match="Tensor lr must be 1-element"):
            opt.SGD([lib.ones(1, requires_grad=True)], lr=lib.tensor([0.1, 0.2]))


def _fit_tanh(lib, opt_mod, w0, x0):
    w = (torch.nn.Parameter if lib is torch else Parameter)(lib.tensor(w0))
    x = lib.tensor(x0)
    opt = opt_mod.Adam([w], lr=0.1)

    def closure():
        opt.zero_grad()
        loss = ((x @ w).tanh() ** 2).mean()
        loss.backward()
        return loss
    losses = [float(opt.step(closure).detach()) for _ in range(10)]
    return w.detach().numpy().copy(), losses


def test_gradients_from_backward_and_closure_loss() -> None:
    """A real loss: grads from backward, step(closure) returns the closure's loss."""
    rng = np.random.default_rng(4)
    w0, x0 = rng.standard_normal((3, 4)), rng.standard_normal((5, 3))
    tw, tl = _fit_tanh(torch, torch.optim, w0, x0)
    ew, el = _fit_tanh(ember, eoptim, w0, x0)
    np.testing.assert_allclose(ew, tw, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(el, tl, rtol=1e-10)


def _fit_lbfgs(lib, opt_mod, kw, a0, b0, x0, y0):
    make = torch.nn.Parameter if lib is torch else Parameter
    x, y = make(lib.tensor(x0)), make(lib.tensor(y0))
    a, b = lib.tensor(a0), lib.tensor(b0)
    opt = opt_mod.LBFGS([x, y], **kw)

    def closure():
        opt.zero_grad()
        loss = (((a @ x).tanh() + y - b) ** 2).sum() + (x ** 4).sum()
        loss.backward()
        return loss
    losses = [float(opt.step(closure).detach()) for _ in range(3)]
    st = opt.state[x]
    return (x.detach().numpy().copy(), float(y.detach()), losses, st["func_evals"],
            st["n_iter"])


@pytest.mark.parametrize("kw", [dict(), dict(line_search_fn="strong_wolfe"),
                                dict(history_size=3, max_iter=7, lr=0.5),
                                dict(line_search_fn="strong_wolfe", max_eval=9)])
def test_lbfgs(kw) -> None:
    """L-BFGS on a small nonlinear least-squares problem, several outer steps."""
    rng = np.random.default_rng(5)
    args = (rng.standard_normal((6, 4)), rng.standard_normal(6),
            rng.standard_normal(4) * 0.1, rng.standard_normal(()))
    tx, ty, tl, tf, tn = _fit_lbfgs(torch, torch.optim, kw, *args)
    ex, ey, el, ef, en = _fit_lbfgs(ember, eoptim, kw, *args)
    np.testing.assert_allclose(ex, tx, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(ey, ty, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(el, tl, rtol=1e-8)
    assert (ef, en) == (tf, tn)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
@pytest.mark.parametrize("case", [CASES[1], CASES[5], CASES[12], CASES[19], CASES[27]],
                         ids=_case_id)
def test_half_precision_parameters_stay_half(case, dtype) -> None:
    """Half-precision parameters and state keep their dtype; values agree to a few ulps
    (torch rounds each fused update once, NumPy each elementary operation)."""
    import ml_dtypes
    np_dtype = np.float16 if dtype == "float16" else ml_dtypes.bfloat16
    name, kw = case
    tp, ep = _make_pair(_params(np_dtype))
    topt = getattr(torch.optim, name)(tp, **kw)
    eopt = getattr(eoptim, name)(ep, **kw)
    rng = np.random.default_rng(7)
    tol = dict(rtol=1e-2, atol=1e-2) if dtype == "float16" else dict(rtol=5e-2, atol=5e-2)
    for step in range(5):
        grads = _grads(rng, ep, np_dtype)
        _set_grads(tp, grads, torch)
        _set_grads(ep, grads, ember)
        topt.step()
        eopt.step()
        _compare(ep, tp, eopt, topt, f"step {step}", **tol)


def _lbfgs_problem(lib, opt_mod, kw, a0, b0, x0, y0):
    make = torch.nn.Parameter if lib is torch else Parameter
    x, y = make(lib.tensor(x0)), make(lib.tensor(y0))
    a, b = lib.tensor(a0), lib.tensor(b0)
    opt = opt_mod.LBFGS([x, y], **kw)

    def closure():
        opt.zero_grad()
        loss = (((a @ x).tanh() + y - b) ** 2).sum() + (x ** 4).sum()
        loss.backward()
        return loss
    return x, opt, closure


def test_lbfgs_resumes_from_torch_state() -> None:
    """torch's LBFGS state (0-dim tensors for t, ro, H_diag, al) loads into ember, which
    then continues exactly as torch does."""
    rng = np.random.default_rng(6)
    a0, b0, x0, y0 = (rng.standard_normal((6, 4)), rng.standard_normal(6),
                      rng.standard_normal(4) * 0.1, rng.standard_normal(()))
    kw = dict(max_iter=4)
    tx, topt, tclosure = _lbfgs_problem(torch, torch.optim, kw, a0, b0, x0, y0)
    topt.step(tclosure)
    sd = _state_to_numpy(topt.state_dict())
    ty = topt.param_groups[0]["params"][1]
    ex, eopt, eclosure = _lbfgs_problem(ember, eoptim, kw, a0, b0, tx.detach().numpy().copy(),
                                        ty.detach().numpy().copy())
    eopt.load_state_dict(_from_numpy(sd, ember))
    topt.step(tclosure)
    eopt.step(eclosure)
    np.testing.assert_allclose(ex.detach().numpy(), tx.detach().numpy(), rtol=1e-8, atol=1e-10)
    assert eopt.state[ex]["n_iter"] == topt.state[tx]["n_iter"]
