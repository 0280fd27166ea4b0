"""Optimizer base mechanics against torch: construction and its errors, param groups,
zero_grad, hooks, state_dict layout, repr and signatures; and that the flat buffers
the default path keeps stay invisible (p.data, views, replaced arrays, frozen params)."""
from __future__ import annotations

import inspect
import warnings

import numpy as np
import pytest
import torch
import torch.optim.optimizer as t_optimizer
from oracle import to_ember, to_torch

import ember
import ember.optim as eoptim
from ember.nn import Parameter

NAMES = ["SGD", "Adam", "AdamW", "Adagrad", "RMSprop", "Adadelta", "Adamax", "NAdam", "RAdam",
         "ASGD", "Rprop", "LBFGS"]


def _param(lib, a):
    return (torch.nn.Parameter if lib is torch else Parameter)(
        to_torch(a) if lib is torch else to_ember(a))


def _both(fn):
    """fn(lib, optim module) for torch and ember."""
    return fn(torch, torch.optim), fn(ember, eoptim)


def _raises_alike(fn, match: str | None = None):
    """torch and ember raise the same exception type with the same message."""
    caught = []
    for lib, mod in ((torch, torch.optim), (ember, eoptim)):
        with pytest.raises(Exception) as info:
            fn(lib, mod)
        caught.append(info.value)
    assert type(caught[1]) is type(caught[0]), (caught[1], caught[0])
    assert str(caught[1]) == str(caught[0])
    if match is not None:
        assert match in str(caught[1])


@pytest.mark.parametrize("name", NAMES)
def test_signature_and_defaults(name) -> None:
    t_sig = inspect.signature(getattr(torch.optim, name).__init__)
    e_sig = inspect.signature(getattr(eoptim, name).__init__)
    assert [(p.name, p.kind, p.default) for p in e_sig.parameters.values()] == [
        (p.name, p.kind, p.default) for p in t_sig.parameters.values()]
    a = np.ones(2, np.float32)
    t, e = _both(lambda lib, mod: getattr(mod, name)([_param(lib, a)]))
    assert e.defaults == t.defaults
    assert list(e.param_groups[0]) == list(t.param_groups[0])
    assert repr(e) == repr(t)


@pytest.mark.parametrize("name,kw,match", [
    ("SGD", dict(lr=-1), "Invalid learning rate: -1"),
    ("SGD", dict(lr=0.1, momentum=-0.5), "Invalid momentum value"),
    ("SGD", dict(lr=0.1, weight_decay=-1), "Invalid weight_decay value"),
    ("SGD", dict(lr=0.1, nesterov=True), "Nesterov momentum requires"),
    ("Adam", dict(betas=(1.0, 0.9)), "Invalid beta parameter at index 0"),
    ("Adam", dict(betas=(0.9, -0.1)), "Invalid beta parameter at index 1"),
    ("AdamW", dict(eps=-1e-8), "Invalid epsilon value"),
    ("Adagrad", dict(lr_decay=-1), "Invalid lr_decay value"),
    ("Adagrad", dict(initial_accumulator_value=-1), "Invalid initial_accumulator_value"),
    ("RMSprop", dict(alpha=-1), "Invalid alpha value"),
    ("Adadelta", dict(rho=1.5), "Invalid rho value"),
    ("Adamax", dict(weight_decay=-1), "Invalid weight_decay value"),
    ("NAdam", dict(momentum_decay=-1), "Invalid momentum_decay value"),
    ("RAdam", dict(lr=-0.1), "Invalid learning rate"),
    ("ASGD", dict(weight_decay=-2), "Invalid weight_decay value"),
    ("Rprop", dict(etas=(1.5, 1.2)), "Invalid eta values: 1.5, 1.2"),
    ("LBFGS", dict(lr=-1), "Invalid learning rate"),
])
def test_bad_hyperparameters(name, kw, match) -> None:
    a = np.ones(2, np.float32)
    _raises_alike(lambda lib, mod: getattr(mod, name)([_param(lib, a)], **kw), match)


def test_construction_errors() -> None:
    a = np.ones(3, np.float32)
    _raises_alike(lambda lib, mod: mod.SGD([], lr=0.1), "empty parameter list")
    _raises_alike(lambda lib, mod: mod.SGD(_param(lib, a), lr=0.1))  # a lone Tensor
    _raises_alike(lambda lib, mod: mod.SGD({"params": {_param(lib, a)}}.values(), lr=0.1))
    _raises_alike(lambda lib, mod: mod.SGD([_param(lib, a) * 2], lr=0.1),
                  "can't optimize a non-leaf Tensor")
    _raises_alike(lambda lib, mod: mod.SGD([1.0], lr=0.1), "optimizer can only optimize")

    def shared(lib, mod):
        p = _param(lib, a)
        mod.SGD([{"params": [p]}, {"params": [p]}], lr=0.1)
    _raises_alike(shared, "some parameters appear in more than one parameter group")

    def set_of_params(lib, mod):
        mod.SGD([{"params": {_param(lib, a)}}], lr=0.1)
    _raises_alike(set_of_params, "ordered collections")

    def lbfgs_groups(lib, mod):
        mod.LBFGS([{"params": [_param(lib, a)]}, {"params": [_param(lib, a)]}])
    _raises_alike(lbfgs_groups, "doesn't support per-parameter options")

    def missing_names(lib, mod):
        mod.SGD([("w", _param(lib, a)), _param(lib, a)], lr=0.1)
    _raises_alike(missing_names, "Some param names are missing")

    def required_missing(lib, mod):
        class Opt(mod.Optimizer):
            pass
        req = t_optimizer.required if lib is torch else eoptim.optimizer.required
        Opt([_param(lib, a)], {"lr": req})
    _raises_alike(required_missing, "didn't specify a value of required optimization "
                                    "parameter lr")


def test_duplicate_parameters_within_a_group_warn() -> None:
    for lib, mod in ((torch, torch.optim), (ember, eoptim)):
        p = _param(lib, np.ones(2, np.float32))
        with pytest.warns(UserWarning, match="duplicate parameters"):
            mod.SGD([p, p], lr=0.1)


def test_param_groups_and_add_param_group() -> None:
    arrays = [np.full(2, i, np.float32) for i in range(4)]

    def build(lib, mod):
        ps = [_param(lib, a) for a in arrays]
        opt = mod.SGD([{"params": ps[:2]}, {"params": ps[2], "lr": 0.5, "momentum": 0.9}],
                      lr=0.1, weight_decay=0.01)
        opt.add_param_group({"params": [ps[3]], "nesterov": True, "momentum": 0.5})
        return opt
    t, e = _both(build)
    assert [{k: v for k, v in g.items() if k != "params"} for g in e.param_groups] == [
        {k: v for k, v in g.items() if k != "params"} for g in t.param_groups]
    assert [len(g["params"]) for g in e.param_groups] == [2, 1, 1]
    assert repr(e) == repr(t)
    assert isinstance(e.state, type(t.state)) and e.state.default_factory is dict

    def readd(lib, mod):
        p = _param(lib, arrays[0])
        opt = mod.Adam([p])
        opt.add_param_group({"params": p})
    _raises_alike(readd, "some parameters appear in more than one parameter group")
    _raises_alike(lambda lib, mod: mod.Adam([_param(lib, arrays[0])]).add_param_group([]),
                  "param_group must be a dict")


def test_named_parameters_in_state_dict() -> None:
    def build(lib, mod):
        opt = mod.Adam([("w", _param(lib, np.ones(2, np.float32))),
                        ("b", _param(lib, np.zeros(1, np.float32)))])
        return opt.state_dict()
    t, e = _both(build)
    assert e["param_groups"] == t["param_groups"]
    assert e["param_groups"][0]["param_names"] == ["w", "b"]


def test_zero_grad() -> None:
    for lib, mod in ((torch, torch.optim), (ember, eoptim)):
        p = _param(lib, np.ones(3, np.float32))
        opt = mod.SGD([p], lr=0.1)
        (p * 2).sum().backward()
        g = p.grad
        opt.zero_grad(set_to_none=False)
        assert p.grad is g and float(g.abs().sum()) == 0.0
        (p * 2).sum().backward()
        opt.zero_grad()
        assert p.grad is None


def _check_closure(lib, mod) -> None:
    p = _param(lib, np.ones(3, np.float64))
    opt = mod.SGD([p], lr=0.1)
    seen = []

    def closure():
        seen.append(lib.is_grad_enabled())
        opt.zero_grad()
        loss = (p ** 2).sum()
        loss.backward()
        return loss
    with lib.no_grad():
        loss = opt.step(closure)
    assert seen == [True] and float(loss.detach()) == 3.0
    assert opt.step() is None
    np.testing.assert_allclose(p.detach().numpy(), 0.6)


def test_step_returns_closure_loss_and_runs_it_with_grad() -> None:
    for lib, mod in ((torch, torch.optim), (ember, eoptim)):
        _check_closure(lib, mod)


def test_step_bumps_parameter_versions() -> None:
    """An update is an in-place write: a graph that saved the parameter refuses backward."""
    def run(lib, mod):
        p = _param(lib, np.ones(3, np.float32))
        opt = mod.SGD([p], lr=0.1)
        p.grad = lib.ones(3)
        y = (p * p).sum()
        opt.step()
        y.backward()
    _raises_alike_type(run)


def _raises_alike_type(fn) -> None:
    errors = []
    for lib, mod in ((torch, torch.optim), (ember, eoptim)):
        with pytest.raises(RuntimeError) as info:
            fn(lib, mod)
        errors.append(str(info.value))
    assert "modified by an inplace operation" in errors[1]


def _check_step_hooks(lib, mod) -> None:
    p = _param(lib, np.ones(2, np.float32))
    opt = mod.SGD([p], lr=0.1)
    log = []
    h1 = opt.register_step_pre_hook(lambda o, a, k: log.append(("pre", a, k)))
    h2 = opt.register_step_post_hook(lambda o, a, k: log.append(("post", a, k)))
    optimizer_mod = t_optimizer if lib is torch else eoptim.optimizer
    h3 = optimizer_mod.register_optimizer_step_pre_hook(lambda o, a, k: log.append("gpre"))
    h4 = optimizer_mod.register_optimizer_step_post_hook(
        lambda o, a, k: log.append("gpost"))
    p.grad = lib.ones(2)
    opt.step()
    assert log == ["gpre", ("pre", (opt,), {}), ("post", (opt,), {}), "gpost"]
    for h in (h1, h2, h3, h4):
        h.remove()
    log.clear()
    opt.step()
    assert log == []

    # A pre hook may replace the arguments; a bad return value is an error.
    def closure():
        return 7.0
    opt.register_step_pre_hook(lambda o, a, k: ((o,), {"closure": closure}))
    assert opt.step() == 7.0
    opt2 = mod.SGD([p], lr=0.1)
    opt2.register_step_pre_hook(lambda o, a, k: 5)
    with pytest.raises(RuntimeError, match="must return None or a tuple"):
        opt2.step()


def test_step_hooks() -> None:
    for lib, mod in ((torch, torch.optim), (ember, eoptim)):
        _check_step_hooks(lib, mod)


def test_hooks_on_a_custom_subclass_step() -> None:
    class Mine(eoptim.Optimizer):
        def __init__(self, params):
            super().__init__(params, {"lr": 0.1})

        def step(self, closure=None):
            return "stepped"
    opt = Mine([Parameter(ember.ones(1))])
    log = []
    opt.register_step_post_hook(lambda o, a, k: log.append("post"))
    assert opt.step() == "stepped" and log == ["post"]


def test_state_dict_layout_and_hooks() -> None:
    arrays = [np.full((2, 2), 1.0, np.float32), np.full(3, 2.0, np.float32),
              np.full(1, 3.0, np.float32)]

    def run(lib, mod):
        ps = [_param(lib, a) for a in arrays]
        opt = mod.Adam([{"params": ps[:2]}, {"params": ps[2:], "lr": 0.5}], amsgrad=True)
        for p in ps[:2]:  # the last parameter gets no gradient, hence no state
            p.grad = lib.ones_like(p)
        opt.step()
        calls = []
        opt.register_state_dict_pre_hook(lambda o: calls.append("pre"))
        opt.register_state_dict_post_hook(lambda o, sd: calls.append("post"))
        opt.register_state_dict_post_hook(lambda o, sd: {**sd, "extra": 1}, prepend=False)
        sd = opt.state_dict()
        return sd, calls, opt
    (t_sd, t_calls, t_opt), (e_sd, e_calls, e_opt) = _both(run)
    assert e_calls == t_calls == ["pre", "post"]
    assert e_sd["extra"] == t_sd["extra"] == 1
    assert e_sd["param_groups"] == t_sd["param_groups"]
    assert list(e_sd["state"]) == list(t_sd["state"]) == [0, 1]
    for i in (0, 1):
        assert list(e_sd["state"][i]) == list(t_sd["state"][i])
        for k, v in t_sd["state"][i].items():
            assert str(e_sd["state"][i][k].dtype) == str(v.dtype)
            np.testing.assert_allclose(e_sd["state"][i][k].numpy(), v.numpy(), rtol=1e-6)
    # state_dict holds the live state (not copies), as torch's does
    assert e_sd["state"][0]["exp_avg"] is e_opt.state[e_opt.param_groups[0]["params"][0]][
        "exp_avg"]


def _check_load_hooks(lib, mod) -> None:
    p = _param(lib, np.ones(2, np.float32))
    opt = mod.SGD([p], lr=0.1, momentum=0.9)
    calls = []

    def pre(o, sd):
        calls.append("pre")
        sd = dict(sd)
        sd["param_groups"] = [dict(sd["param_groups"][0], lr=0.25)]
        return sd
    opt.register_load_state_dict_pre_hook(pre)
    opt.register_load_state_dict_post_hook(lambda o: calls.append("post"))
    opt.register_load_state_dict_post_hook(lambda o: calls.append("first"), prepend=True)
    opt.load_state_dict(opt.state_dict())
    assert calls == ["pre", "first", "post"]
    assert opt.param_groups[0]["lr"] == 0.25 and opt.param_groups[0]["params"][0] is p


def test_load_state_dict_errors_and_hooks() -> None:
    a = np.ones(2, np.float32)

    def mismatch_groups(lib, mod):
        src = mod.SGD([_param(lib, a)], lr=0.1)
        dst = mod.SGD([{"params": [_param(lib, a)]}, {"params": [_param(lib, a)]}], lr=0.1)
        dst.load_state_dict(src.state_dict())
    _raises_alike(mismatch_groups, "different number of parameter groups")

    def mismatch_sizes(lib, mod):
        src = mod.SGD([_param(lib, a)], lr=0.1)
        dst = mod.SGD([_param(lib, a), _param(lib, a)], lr=0.1)
        dst.load_state_dict(src.state_dict())
    _raises_alike(mismatch_sizes, "doesn't match the size of optimizer's group")

    for lib, mod in ((torch, torch.optim), (ember, eoptim)):
        _check_load_hooks(lib, mod)


def test_load_state_dict_copies_the_loaded_tensors() -> None:
    """The loaded optimizer never writes into the dict it was loaded from."""
    p, q = Parameter(ember.ones(3)), Parameter(ember.ones(3))
    src, dst = eoptim.Adam([p]), eoptim.Adam([q])
    p.grad, q.grad = ember.ones(3), ember.ones(3)
    src.step()
    sd = src.state_dict()
    before = sd["state"][0]["exp_avg"].numpy().copy()
    dst.load_state_dict(sd)
    dst.step()
    np.testing.assert_array_equal(sd["state"][0]["exp_avg"].numpy(), before)
    np.testing.assert_array_equal(src.state[p]["exp_avg"].numpy(), before)


def test_pickle_and_deepcopy_round_trip() -> None:
    import copy
    import pickle
    p = Parameter(ember.ones(3))
    opt = eoptim.Adam([p], lr=0.1)
    p.grad = ember.ones(3)
    opt.step()
    for clone in (pickle.loads(pickle.dumps(opt)), copy.deepcopy(opt)):
        assert clone.param_groups[0]["lr"] == 0.1
        q = clone.param_groups[0]["params"][0]
        np.testing.assert_array_equal(clone.state[q]["exp_avg"].numpy(),
                                      opt.state[p]["exp_avg"].numpy())
        q.grad = ember.ones(3)
        clone.step()  # the copy steps on its own buffers
    np.testing.assert_allclose(p.detach().numpy(), 0.9)


# ----------------------------------------------------------------- flat buffers stay invisible
def _pair(shapes, dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal(s).astype(dtype) for s in shapes]
    return [_param(torch, a) for a in arrays], [_param(ember, a) for a in arrays]


def _step_both(tp, ep, topt, eopt, rng, skip=()) -> None:
    for i, (t, e) in enumerate(zip(tp, ep)):
        if i in skip:
            t.grad, e.grad = None, None
            continue
        g = rng.standard_normal(tuple(t.shape))
        t.grad = torch.tensor(g, dtype=t.dtype)
        e.grad = ember.tensor(g, dtype=e.dtype)
    topt.step()
    eopt.step()


def _assert_params(tp, ep) -> None:
    for t, e in zip(tp, ep):
        np.testing.assert_allclose(e.detach().numpy(), t.detach().numpy(), rtol=1e-10,
                                   atol=1e-12)


def test_parameters_share_one_buffer_and_stay_themselves() -> None:
    tp, ep = _pair([(3, 4), (4,), (2, 2)])
    ids = [id(p) for p in ep]
    topt, eopt = torch.optim.Adam(tp, lr=0.1), eoptim.Adam(ep, lr=0.1)
    rng = np.random.default_rng(1)
    _step_both(tp, ep, topt, eopt, rng)
    assert [id(p) for p in eopt.param_groups[0]["params"]] == ids
    base = ep[0]._data.base
    assert base is not None and all(p._data.base is base for p in ep)
    st = eopt.state[ep[1]]["exp_avg"]
    assert tuple(st.shape) == (4,) and st._data.base is not None
    d = ep[0].data  # .data taken now shares memory with the parameter from here on
    _step_both(tp, ep, topt, eopt, rng)
    np.testing.assert_array_equal(d.numpy(), ep[0].detach().numpy())
    _assert_params(tp, ep)


def test_views_taken_before_the_first_step_stay_aliased() -> None:
    tp, ep = _pair([(3, 4), (5,)])
    t_view, e_view = tp[0].detach()[1], ep[0].detach()[1]
    t_det, e_det = tp[1].detach(), ep[1].detach()
    topt, eopt = torch.optim.SGD(tp, lr=0.1, momentum=0.9), eoptim.SGD(ep, lr=0.1, momentum=0.9)
    rng = np.random.default_rng(2)
    for _ in range(3):
        _step_both(tp, ep, topt, eopt, rng)
    _assert_params(tp, ep)
    np.testing.assert_allclose(e_view.numpy(), t_view.numpy(), rtol=1e-12)
    np.testing.assert_allclose(e_det.numpy(), t_det.numpy(), rtol=1e-12)
    # writes through the user's alias reach the parameter, as in torch
    t_det.add_(1.0)
    e_det.add_(1.0)
    _step_both(tp, ep, topt, eopt, rng)
    _assert_params(tp, ep)


def test_replaced_parameter_arrays_and_dtypes() -> None:
    """p.data = ... (what Module.to() does) between steps: the buckets are rebuilt."""
    tp, ep = _pair([(3, 4), (5,), (2,)])
    topt, eopt = torch.optim.Adam(tp, lr=0.1), eoptim.Adam(ep, lr=0.1)
    rng = np.random.default_rng(3)
    _step_both(tp, ep, topt, eopt, rng)
    tp[1].data = torch.full((5,), 0.5, dtype=torch.float64)
    ep[1].data = ember.full((5,), 0.5, dtype=ember.float64)
    _step_both(tp, ep, topt, eopt, rng)
    _assert_params(tp, ep)
    # All parameters to float32 before any state exists (a fresh optimizer).
    for t, e in zip(tp, ep):
        t.data = t.data.float()
        e.data = e.data.float()
    topt2, eopt2 = torch.optim.Adam(tp, lr=0.1), eoptim.Adam(ep, lr=0.1)
    for _ in range(3):
        _step_both(tp, ep, topt2, eopt2, rng)
    assert all(e.dtype is ember.float32 for e in ep)
    for t, e in zip(tp, ep):
        np.testing.assert_allclose(e.detach().numpy(), t.detach().numpy(), rtol=1e-5)
        assert eopt2.state[e]["exp_avg"].dtype is ember.float32


def test_frozen_and_intermittent_gradients() -> None:
    """Parameters without a gradient are skipped (no update, no state), also mid-run."""
    tp, ep = _pair([(3,), (4,), (2, 2)])
    topt, eopt = torch.optim.Adam(tp, lr=0.1), eoptim.Adam(ep, lr=0.1)
    rng = np.random.default_rng(4)
    _step_both(tp, ep, topt, eopt, rng, skip=(1,))
    assert ep[1] not in eopt.state and tp[1] not in topt.state
    _step_both(tp, ep, topt, eopt, rng)
    _step_both(tp, ep, topt, eopt, rng, skip=(0,))
    _step_both(tp, ep, topt, eopt, rng)
    _assert_params(tp, ep)
    for t, e in zip(tp, ep):
        assert float(eopt.state[e]["step"]) == float(topt.state[t]["step"])


def test_mixed_dtypes_in_one_group() -> None:
    rng = np.random.default_rng(5)
    arrays = [rng.standard_normal(3), rng.standard_normal(4).astype(np.float32)]
    tp = [_param(torch, a) for a in arrays]
    ep = [_param(ember, a) for a in arrays]
    topt, eopt = torch.optim.RMSprop(tp, lr=0.01), eoptim.RMSprop(ep, lr=0.01)
    for _ in range(4):
        _step_both(tp, ep, topt, eopt, rng)
    assert [e.dtype for e in ep] == [ember.float64, ember.float32]
    for t, e in zip(tp, ep):
        np.testing.assert_allclose(e.detach().numpy(), t.detach().numpy(), rtol=1e-6)


def test_gradients_are_not_modified() -> None:
    """Weight decay and maximize never write into the user's .grad."""
    p = Parameter(ember.ones(3))
    opt = eoptim.SGD([p], lr=0.1, weight_decay=0.5, maximize=True, foreach=False)
    p.grad = ember.ones(3)
    opt.step()
    np.testing.assert_array_equal(p.grad.numpy(), 1.0)


def test_user_replaced_state_tensor_is_used() -> None:
    tp, ep = _pair([(3,), (2,)])
    topt, eopt = torch.optim.SGD(tp, lr=0.1, momentum=0.9), eoptim.SGD(ep, lr=0.1, momentum=0.9)
    rng = np.random.default_rng(6)
    _step_both(tp, ep, topt, eopt, rng)
    topt.state[tp[0]]["momentum_buffer"] = torch.full((3,), 2.0, dtype=torch.float64)
    eopt.state[ep[0]]["momentum_buffer"] = ember.full((3,), 2.0, dtype=ember.float64)
    _step_both(tp, ep, topt, eopt, rng)
    _assert_params(tp, ep)
    np.testing.assert_allclose(eopt.state[ep[0]]["momentum_buffer"].numpy(),
                               topt.state[tp[0]]["momentum_buffer"].numpy(), rtol=1e-12)


def test_no_warnings_on_a_plain_step() -> None:
    p = Parameter(ember.ones(3))
    opt = eoptim.NAdam([p])
    p.grad = ember.ones(3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        opt.step()


def test_load_state_dict_mid_run_keeps_parameters_in_one_buffer() -> None:
    """Reloading rebuilds the buckets; parameters nobody else aliases move again rather than
    being pinned, and the run continues as torch's."""
    tp, ep = _pair([(3, 4), (4,)])
    topt, eopt = torch.optim.Adam(tp, lr=0.1), eoptim.Adam(ep, lr=0.1)
    rng = np.random.default_rng(7)
    _step_both(tp, ep, topt, eopt, rng)
    topt.load_state_dict(topt.state_dict())
    eopt.load_state_dict(eopt.state_dict())
    _step_both(tp, ep, topt, eopt, rng)
    _assert_params(tp, ep)
    buckets = eopt._flat[0][2]
    assert len(buckets) == 1 and buckets[0].pinned == []
    assert all(p._data.base is buckets[0].flat for p in ep)
    assert eopt.state[ep[0]]["exp_avg"]._data.base is buckets[0].state["exp_avg"]


def test_a_parameter_listed_twice_is_updated_twice_like_torch() -> None:
    tp, ep = _pair([(3,)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        topt = torch.optim.Adam([tp[0], tp[0]], lr=0.1)
        eopt = eoptim.Adam([ep[0], ep[0]], lr=0.1)
    rng = np.random.default_rng(8)
    for _ in range(3):
        _step_both(tp, ep, topt, eopt, rng)
    _assert_params(tp, ep)
    assert float(eopt.state[ep[0]]["step"]) == float(topt.state[tp[0]]["step"]) == 6.0


def _train_module(lib, opt_mod, state, x, y):
    lib.manual_seed(0)
    m = lib.nn.Sequential(lib.nn.Linear(4, 8), lib.nn.Tanh(), lib.nn.Linear(8, 2))
    m.load_state_dict({k: lib.tensor(v) for k, v in state.items()})
    opt = opt_mod.Adam(m.parameters(), lr=0.01)
    m.double()  # after the optimizer exists: its parameters' arrays are replaced
    xt, yt = lib.tensor(x), lib.tensor(y)
    for i in range(5):
        opt.zero_grad()
        loss = ((m(xt) - yt) ** 2).mean()
        loss.backward()
        opt.step()
        if i == 2:  # a module reload mid-run copies into the parameters in place
            m.load_state_dict({k: v.clone() for k, v in m.state_dict().items()})
    return m, opt


def test_module_to_and_load_state_dict_after_optimizer_creation() -> None:
    rng = np.random.default_rng(9)
    state = {"0.weight": rng.standard_normal((8, 4)).astype(np.float32),
             "0.bias": rng.standard_normal(8).astype(np.float32),
             "2.weight": rng.standard_normal((2, 8)).astype(np.float32),
             "2.bias": rng.standard_normal(2).astype(np.float32)}
    x, y = rng.standard_normal((16, 4)), rng.standard_normal((16, 2))
    tm, _ = _train_module(torch, torch.optim, state, x, y)
    em, eopt = _train_module(ember, eoptim, state, x, y)
    for (k, t), e in zip(tm.state_dict().items(), em.state_dict().values()):
        assert e.dtype is ember.float64, k
        np.testing.assert_allclose(e.numpy(), t.numpy(), rtol=1e-10, atol=1e-12, err_msg=k)
    bucket = eopt._flat[0][2][0]
    assert bucket.pinned == [] and all(p._data.base is bucket.flat for p in em.parameters())
