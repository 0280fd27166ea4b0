"""Learning-rate schedulers against torch: the same optimizer and calls in both libraries,
and after every step the scheduler's get_last_lr() and each param group's lr, momentum and
betas compared (exactly: the scheduler arithmetic is plain Python floats in both)."""
from __future__ import annotations

import math
import pickle
import warnings

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from oracle import assert_same, to_ember, to_numpy, to_torch

import ember

# ----------------------------------------------------------------------------- harness


def _groups(lib) -> list[dict]:
    """Two param groups with different lrs (one parameter each)."""
    return [{"params": [lib.zeros(3, requires_grad=True)]},
            {"params": [lib.zeros(2, requires_grad=True)], "lr": 0.05}]


def _sgd(lib, groups=None, **kw):
    kw = {"lr": 0.1, "momentum": 0.9, **kw}
    return lib.optim.SGD(_groups(lib) if groups is None else groups, **kw)


def _adam(lib, groups=None, **kw):
    kw = {"lr": 0.01, "betas": (0.9, 0.99), **kw}
    return lib.optim.Adam(_groups(lib) if groups is None else groups, **kw)


def _num(x):
    return float(x) if isinstance(x, (torch.Tensor, ember.Tensor)) else x


def _snapshot(opt, sched) -> tuple:
    groups = [(_num(g["lr"]), g.get("momentum"), g.get("betas")) for g in opt.param_groups]
    return [_num(v) for v in sched.get_last_lr()], groups


def _trace(lib, make_opt, make_sched, steps: int, args=None) -> list:
    """Snapshots after construction and after each optimizer.step(); scheduler.step(*args[i])."""
    opt = make_opt(lib)
    sched = make_sched(lib, opt)
    out = [_snapshot(opt, sched)]
    for i in range(steps):
        opt.step()
        sched.step(*(() if args is None else args[i]))
        out.append(_snapshot(opt, sched))
    return out


def _same_trace(make_opt, make_sched, steps: int, args=None) -> list:
    t = _trace(torch, make_opt, make_sched, steps, args)
    e = _trace(ember, make_opt, make_sched, steps, args)
    for i, (ti, ei) in enumerate(zip(t, e)):
        assert ei == ti, f"step {i}: ember {ei} != torch {ti}"
    return e


def _sd_equal(e: dict, t: dict) -> None:
    assert list(e) == list(t), f"state_dict keys {list(e)} vs torch's {list(t)}"
    for k in t:
        if isinstance(t[k], list) and any(isinstance(v, dict) for v in t[k]):
            assert len(e[k]) == len(t[k])
            for ei, ti in zip(e[k], t[k]):
                if isinstance(ti, dict):
                    _sd_equal(ei, ti)
                else:
                    assert ei == ti, f"state_dict[{k!r}]: {ei!r} vs torch's {ti!r}"
        else:
            assert e[k] == t[k], f"state_dict[{k!r}]: {e[k]!r} vs torch's {t[k]!r}"


L = ember.optim.lr_scheduler  # the module under test, also reached as lib.optim.lr_scheduler


def _ls(lib):
    return lib.optim.lr_scheduler


# name -> (optimizer factory, scheduler factory, steps)
CASES = {
    "LambdaLR": (_sgd, lambda lib, o: _ls(lib).LambdaLR(o, lambda e: 0.9 ** e), 12),
    "LambdaLR-list": (_sgd, lambda lib, o: _ls(lib).LambdaLR(
        o, [lambda e: e // 3, lambda e: 1.0 / (e + 1)]), 12),
    "MultiplicativeLR": (_sgd, lambda lib, o: _ls(lib).MultiplicativeLR(
        o, lambda e: 0.95 if e % 2 else 0.8), 12),
    "StepLR": (_sgd, lambda lib, o: _ls(lib).StepLR(o, step_size=3, gamma=0.5), 12),
    "MultiStepLR": (_sgd, lambda lib, o: _ls(lib).MultiStepLR(o, [2, 5, 5, 9], gamma=0.3), 12),
    "ConstantLR": (_sgd, lambda lib, o: _ls(lib).ConstantLR(o, factor=0.25, total_iters=4), 8),
    "LinearLR": (_sgd, lambda lib, o: _ls(lib).LinearLR(o, 0.2, 0.9, total_iters=7), 10),
    "LinearLR-down": (_sgd, lambda lib, o: _ls(lib).LinearLR(o, 1.0, 0.1, total_iters=5), 8),
    "ExponentialLR": (_sgd, lambda lib, o: _ls(lib).ExponentialLR(o, gamma=0.7), 10),
    "PolynomialLR": (_sgd, lambda lib, o: _ls(lib).PolynomialLR(o, total_iters=6, power=2.0), 9),
    "CosineAnnealingLR": (_sgd, lambda lib, o: _ls(lib).CosineAnnealingLR(o, T_max=5), 27),
    "CosineAnnealingLR-eta": (_sgd, lambda lib, o: _ls(lib).CosineAnnealingLR(
        o, T_max=4, eta_min=0.01), 20),
    "CAWR": (_sgd, lambda lib, o: _ls(lib).CosineAnnealingWarmRestarts(o, T_0=4), 14),
    "CAWR-Tmult": (_sgd, lambda lib, o: _ls(lib).CosineAnnealingWarmRestarts(
        o, T_0=2, T_mult=2, eta_min=0.001), 32),
    "CyclicLR": (_sgd, lambda lib, o: _ls(lib).CyclicLR(o, 0.01, 0.1, step_size_up=3), 20),
    "CyclicLR-tri2": (_sgd, lambda lib, o: _ls(lib).CyclicLR(
        o, [0.01, 0.02], [0.1, 0.3], step_size_up=2, step_size_down=4, mode="triangular2",
        base_momentum=[0.7, 0.75], max_momentum=0.95), 26),
    "CyclicLR-exp": (_adam, lambda lib, o: _ls(lib).CyclicLR(
        o, 0.001, 0.01, step_size_up=3, mode="exp_range", gamma=0.9), 20),
    "CyclicLR-fn": (_sgd, lambda lib, o: _ls(lib).CyclicLR(
        o, 0.01, 0.1, step_size_up=2, scale_fn=lambda x: 1 / (x + 1), scale_mode="iterations",
        cycle_momentum=False), 12),
    "CyclicLR-fn-cycle": (_sgd, lambda lib, o: _ls(lib).CyclicLR(
        o, 0.01, 0.1, step_size_up=2, scale_fn=lambda x: 0.5 ** x), 12),
    "OneCycleLR": (_sgd, lambda lib, o: _ls(lib).OneCycleLR(o, 1.0, total_steps=20), 20),
    "OneCycleLR-adam": (_adam, lambda lib, o: _ls(lib).OneCycleLR(
        o, [0.1, 0.2], epochs=3, steps_per_epoch=5, anneal_strategy="linear", pct_start=0.4,
        div_factor=10.0, final_div_factor=100.0, base_momentum=0.8, max_momentum=[0.9, 0.95]),
        15),
    "OneCycleLR-3phase": (_sgd, lambda lib, o: _ls(lib).OneCycleLR(
        o, 0.5, total_steps=17, three_phase=True), 17),
    "OneCycleLR-nomom": (_sgd, lambda lib, o: _ls(lib).OneCycleLR(
        o, 0.5, total_steps=9, cycle_momentum=False), 9),
    "SequentialLR": (_sgd, lambda lib, o: _ls(lib).SequentialLR(
        o, [_ls(lib).ConstantLR(o, factor=0.5, total_iters=2),
            _ls(lib).ExponentialLR(o, gamma=0.9),
            _ls(lib).CosineAnnealingLR(o, T_max=3)], milestones=[3, 7]), 14),
    "SequentialLR-warmup": (_sgd, lambda lib, o: _ls(lib).SequentialLR(
        o, [_ls(lib).LinearLR(o, 0.1, total_iters=4), _ls(lib).StepLR(o, 2, 0.5)], [4]), 12),
    "ChainedScheduler": (_sgd, lambda lib, o: _ls(lib).ChainedScheduler(
        [_ls(lib).ConstantLR(o, factor=0.1, total_iters=2), _ls(lib).ExponentialLR(o, 0.9)]), 8),
    "ChainedScheduler-opt": (_sgd, lambda lib, o: _ls(lib).ChainedScheduler(
        [_ls(lib).LinearLR(o, 0.5, total_iters=3), _ls(lib).CosineAnnealingLR(o, T_max=4)],
        optimizer=o), 12),
}


@pytest.mark.parametrize("name", list(CASES))
def test_lr_sequence_matches_torch(name):
    make_opt, make_sched, steps = CASES[name]
    traces, messages = [], []
    for lib in (torch, ember):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")  # e.g. SequentialLR's children warn: alike in both
            traces.append(_trace(lib, make_opt, make_sched, steps))
        messages.append([str(w.message) for w in caught])
    for i, (ti, ei) in enumerate(zip(*traces)):
        assert ei == ti, f"step {i}: ember {ei} != torch {ti}"
    assert messages[1] == messages[0]


# Schedulers whose state_dict holds only plain data (no functions), resumed mid-run.
RESUMABLE = ["StepLR", "MultiStepLR", "ConstantLR", "LinearLR", "ExponentialLR",
             "PolynomialLR", "CosineAnnealingLR-eta", "CAWR-Tmult", "CyclicLR-tri2",
             "CyclicLR-exp", "OneCycleLR-adam", "OneCycleLR-3phase", "SequentialLR",
             "ChainedScheduler"]


@pytest.mark.parametrize("name", RESUMABLE)
def test_state_dict_round_trip_mid_run(name):
    """ember's state_dict equals torch's; a fresh ember optimizer + scheduler loaded from
    torch's (or ember's) state mid-run continues exactly as the uninterrupted torch run."""
    make_opt, make_sched, steps = CASES[name]
    cut = steps // 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        full = _trace(torch, make_opt, make_sched, steps)
        for source in (torch, ember):
            opt = make_opt(source)
            sched = make_sched(source, opt)
            for _ in range(cut):
                opt.step()
                sched.step()
            if source is ember:  # compare with torch's state at the same point
                t_opt = make_opt(torch)
                t_sched = make_sched(torch, t_opt)
                for _ in range(cut):
                    t_opt.step()
                    t_sched.step()
                _sd_equal(sched.state_dict(), t_sched.state_dict())
            sd = pickle.loads(pickle.dumps(sched.state_dict()))  # plain data only
            opt_sd = opt.state_dict()  # no gradients were given: no tensors in it
            assert not opt_sd["state"]
            # torch's documented order: scheduler first, then the optimizer's state
            opt2 = make_opt(ember)
            sched2 = make_sched(ember, opt2)
            opt2.load_state_dict(opt_sd)
            sched2.load_state_dict(sd)
            out = [_snapshot(opt2, sched2)]
            for _ in range(steps - cut):
                opt2.step()
                sched2.step()
                out.append(_snapshot(opt2, sched2))
            assert out == full[cut:], f"resumed from {source.__name__}'s state"


# ----------------------------------------------------------------------------- base class

def test_state_dict_is_dict_minus_optimizer():
    opt = _sgd(ember)
    sched = L.StepLR(opt, 2)
    sd = sched.state_dict()
    assert "optimizer" not in sd and sd["step_size"] == 2 and sd["base_lrs"] == [0.1, 0.05]
    assert [g["initial_lr"] for g in opt.param_groups] == [0.1, 0.05]
    assert sched.last_epoch == 0 and sched.get_last_lr() == [0.1, 0.05]
    assert isinstance(sched, L.LRScheduler) and issubclass(L._LRScheduler, L.LRScheduler)


def _order_warnings(lib, call_opt_first: bool, replace_step: bool = False) -> list[str]:
    opt = _sgd(lib)
    sched = _ls(lib).StepLR(opt, 2)
    if replace_step:
        opt.step = lambda *a, **k: None
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        for _ in range(3):
            if call_opt_first:
                opt.step()
            sched.step()
            if not call_opt_first:
                opt.step()
    return [str(x.message) for x in w]


@pytest.mark.parametrize("opt_first,replace", [(True, False), (False, False), (True, True)])
def test_step_order_warnings(opt_first, replace):
    t = _order_warnings(torch, opt_first, replace)
    e = _order_warnings(ember, opt_first, replace)
    assert e == t
    if not opt_first:
        assert len(e) == 1 and e[0].startswith("Detected call of `lr_scheduler.step()` before "
                                               "`optimizer.step()`")
    elif replace:
        assert len(e) == 1 and "has been overridden" in e[0]
    else:
        assert e == []


def test_optimizer_step_wrapped_once_and_still_returns():
    opt = _sgd(ember)
    L.StepLR(opt, 2)
    wrapped = opt.step
    L.ExponentialLR(opt, 0.5)
    assert opt.step is wrapped and wrapped._wrapped_by_lr_sched
    assert not getattr(opt, "_opt_called", False)
    assert opt.step(lambda: 3.5) == 3.5
    assert opt._opt_called


def test_get_lr_outside_step_warns():
    for lib in (torch, ember):
        sched = _ls(lib).StepLR(_sgd(lib), 2)
        with pytest.warns(UserWarning, match="please use `get_last_lr\\(\\)`"):
            assert sched.get_lr() == [0.1, 0.05]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        opt = _sgd(ember)
        sched = L.StepLR(opt, 2)
        opt.step()
        sched.step()  # get_lr within step: no warning


@pytest.mark.parametrize("make", [
    lambda lib, o: _ls(lib).StepLR(o, 3, 0.5),
    lambda lib, o: _ls(lib).MultiStepLR(o, [2, 4], 0.5),
    lambda lib, o: _ls(lib).ConstantLR(o, 0.5, 3),
    lambda lib, o: _ls(lib).LinearLR(o, 0.5, 1.0, 4),
    lambda lib, o: _ls(lib).ExponentialLR(o, 0.9),
    lambda lib, o: _ls(lib).PolynomialLR(o, 4, 1.5),
    lambda lib, o: _ls(lib).CosineAnnealingLR(o, 5, 0.01),
    lambda lib, o: _ls(lib).LambdaLR(o, lambda e: 1 / (e + 1)),
])
def test_deprecated_step_epoch_uses_closed_form(make):
    epochs = [(3,), (1,), (6,), (0,), (10,)]
    with pytest.warns(UserWarning, match="The epoch parameter in `scheduler.step\\(\\)`"):
        _same_trace(_sgd, make, len(epochs), epochs)


def test_resume_with_last_epoch():
    """last_epoch >= 0 needs initial_lr in every group; CosineAnnealingLR then restarts from
    its closed form."""
    for lib in (torch, ember):
        with pytest.raises(KeyError, match="param 'initial_lr' is not specified in "
                                           "param_groups\\[0\\]"):
            _ls(lib).StepLR(_sgd(lib), 2, last_epoch=3)

    def make(lib, o):
        for g in o.param_groups:
            g["initial_lr"] = 0.2
        return _ls(lib).CosineAnnealingLR(o, T_max=6, last_epoch=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _same_trace(_sgd, make, 8)


def test_not_an_optimizer():
    class Fake:
        param_groups = [{"lr": 0.1}]
    for name in ("StepLR", "ReduceLROnPlateau", "CyclicLR", "OneCycleLR"):
        args = {"StepLR": (2,), "ReduceLROnPlateau": (), "CyclicLR": (0.1, 1.0),
                "OneCycleLR": (1.0, 10)}[name]
        for lib in (torch, ember):
            with pytest.raises(TypeError, match="Fake is not an Optimizer"):
                getattr(_ls(lib), name)(Fake(), *args)


def test_tensor_lr():
    """A Tensor lr is updated in place (the group keeps the same tensor) and get_last_lr
    returns copies."""
    def make_opt(lib):
        return lib.optim.SGD(_groups(lib)[:1], lr=lib.tensor(0.1), momentum=0.9)

    for name in ("StepLR", "CosineAnnealingLR-eta", "LinearLR", "OneCycleLR-3phase"):
        _, make_sched, steps = CASES[name]
        res = {}
        for lib in (torch, ember):
            opt = make_opt(lib)
            lr = opt.param_groups[0]["lr"]
            sched = make_sched(lib, opt)
            seq = []
            for _ in range(steps):
                opt.step()
                sched.step()
                last = sched.get_last_lr()[0]
                assert type(last) is lib.Tensor and last is not lr
                seq.append(float(last))
            assert opt.param_groups[0]["lr"] is lr
            res[lib.__name__] = seq
        np.testing.assert_allclose(res["ember"], res["torch"], rtol=1e-6)


def test_lr_sequence_drives_parameters():
    """Gradients through a scheduled Adam (OneCycleLR cycling beta1): same parameters."""
    w0 = np.random.default_rng(0).standard_normal((4, 3))
    grads = np.random.default_rng(1).standard_normal((12, 4, 3))
    params = {}
    for lib, conv in ((torch, to_torch), (ember, to_ember)):
        w = conv(w0, True)
        opt = lib.optim.Adam([w], lr=0.01)
        sched = lib.optim.lr_scheduler.OneCycleLR(opt, 0.05, total_steps=12)
        for g in grads:
            w.grad = conv(g)
            opt.step()
            sched.step()
        params[lib.__name__] = w
    assert_same(params["ember"].detach(), params["torch"].detach())


# ----------------------------------------------------------------------------- per-scheduler

def test_lambda_state_dict_keeps_callable_objects():
    class Decay:
        def __init__(self):
            self.rate = 0.5

        def __call__(self, epoch):
            return self.rate ** epoch

    for cls in ("LambdaLR", "MultiplicativeLR"):
        out = {}
        for lib in (torch, ember):
            opt = _sgd(lib)
            fn = Decay()
            sched = getattr(_ls(lib), cls)(opt, [fn, lambda e: 1.0])
            fn.rate = 0.25
            sd = sched.state_dict()
            out[lib.__name__] = sd
            fn2 = Decay()
            sched2 = getattr(_ls(lib), cls)(_sgd(lib), [fn2, lambda e: 1.0])
            sched2.load_state_dict(sd)
            assert fn2.rate == 0.25 and "lr_lambdas" in sd
        _sd_equal(out["ember"], out["torch"])
        assert out["ember"]["lr_lambdas"] == [{"rate": 0.25}, None]


def test_lambda_errors():
    for lib in (torch, ember):
        with pytest.raises(ValueError, match="Expected 2 lr_lambdas, but got 1"):
            _ls(lib).LambdaLR(_sgd(lib), [lambda e: 1.0])
        with pytest.raises(ValueError, match="Expected 2 lr_lambdas, but got 3"):
            _ls(lib).MultiplicativeLR(_sgd(lib), (lambda e: 1.0,) * 3)
        with pytest.raises(TypeError, match="lr_lambda should be a function, but got float"):
            _ls(lib).MultiplicativeLR(_sgd(lib), 0.5)


@pytest.mark.parametrize("call,match", [
    (lambda ls, o: ls.ConstantLR(o, factor=1.5), "Constant multiplicative factor"),
    (lambda ls, o: ls.ConstantLR(o, factor=-0.1), "Constant multiplicative factor"),
    (lambda ls, o: ls.LinearLR(o, start_factor=0), "Starting multiplicative factor"),
    (lambda ls, o: ls.LinearLR(o, end_factor=1.5), "Ending multiplicative factor"),
    (lambda ls, o: ls.CosineAnnealingWarmRestarts(o, T_0=0), "Expected positive integer T_0"),
    (lambda ls, o: ls.CosineAnnealingWarmRestarts(o, T_0=2.0), "Expected positive integer T_0"),
    (lambda ls, o: ls.CosineAnnealingWarmRestarts(o, 2, T_mult=0), "Expected integer T_mult"),
    (lambda ls, o: ls.CosineAnnealingWarmRestarts(o, 2, eta_min="x"), "Expected float or int"),
    (lambda ls, o: ls.OneCycleLR(o, 1.0), "You must define either total_steps OR"),
    (lambda ls, o: ls.OneCycleLR(o, 1.0, total_steps=0), "Expected positive integer total_st"),
    (lambda ls, o: ls.OneCycleLR(o, 1.0, epochs=0, steps_per_epoch=3),
     "Expected positive integer epochs"),
    (lambda ls, o: ls.OneCycleLR(o, 1.0, epochs=2, steps_per_epoch=1.5),
     "Expected positive integer steps_per_epoch"),
    (lambda ls, o: ls.OneCycleLR(o, 1.0, 10, pct_start=1.5), "Expected float between 0 and 1"),
    (lambda ls, o: ls.OneCycleLR(o, 1.0, 10, pct_start=1), "Expected float between 0 and 1"),
    (lambda ls, o: ls.OneCycleLR(o, 1.0, 10, anneal_strategy="exp"), "anneal_strategy must"),
    (lambda ls, o: ls.OneCycleLR(o, [1.0], 10), "max_lr must have the same length as "
                                                 "optimizer.param_groups. max_lr has 1 values"),
    (lambda ls, o: ls.CyclicLR(o, 0.1, 1.0, mode="sine"), "mode is invalid and scale_fn is None"),
    (lambda ls, o: ls.CyclicLR(o, 0.1, 1.0, base_momentum=[0.1]),
     "base_momentum must have the same length"),
    (lambda ls, o: ls.ReduceLROnPlateau(o, factor=1.0), "Factor should be < 1.0."),
    (lambda ls, o: ls.ReduceLROnPlateau(o, mode="mid"), "mode mid is unknown!"),
    (lambda ls, o: ls.ReduceLROnPlateau(o, threshold_mode="x"), "threshold mode x is unknown!"),
    (lambda ls, o: ls.ReduceLROnPlateau(o, min_lr=[0.1]), "expected 2 min_lrs, got 1"),
    (lambda ls, o: ls.SequentialLR(o, [], []), "SequentialLR expects at least one scheduler"),
    (lambda ls, o: ls.SequentialLR(o, [ls.StepLR(o, 2)], [1]),
     "Sequential Schedulers expects number of schedulers provided to be one more"),
    (lambda ls, o: ls.SequentialLR(o, [ls.ReduceLROnPlateau(o)], []),
     "does not support `ReduceLROnPlateau`"),
    (lambda ls, o: ls.ChainedScheduler([]), "ChainedScheduler expects at least one scheduler"),
    (lambda ls, o: ls.ChainedScheduler([ls.StepLR(o, 2), ls.StepLR(type(o)(
        [{"params": [p for g in o.param_groups for p in g["params"]]}], lr=0.1), 2)]),
     "expects all schedulers to belong to the same optimizer"),
    (lambda ls, o: ls.ChainedScheduler([object()]), "at index 0 should have `optimizer`"),
])
def test_constructor_errors(call, match):
    def run(lib):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            call(_ls(lib), _sgd(lib))
    e, t = _check_error(run)
    assert str(e).split(" which is different")[0] == str(t).split(" which is different")[0]


def _check_error(run):
    try:
        run(torch)
    except Exception as exc:
        t = exc
    else:
        raise AssertionError("torch raised nothing")
    with pytest.raises(type(t)) as info:
        run(ember)
    return info.value, t


def test_cycle_momentum_needs_momentum():
    for lib in (torch, ember):
        opt = lib.optim.Adagrad(_groups(lib))
        with pytest.raises(ValueError, match="optimizer must support momentum or beta1"):
            _ls(lib).CyclicLR(opt, 0.1, 1.0)
        with pytest.raises(ValueError, match="optimizer must support momentum or beta1"):
            _ls(lib).OneCycleLR(opt, 1.0, 10)
        _ls(lib).CyclicLR(opt, 0.1, 1.0, cycle_momentum=False)  # fine without momentum


def test_one_cycle_stepped_too_far():
    for lib in (torch, ember):
        opt = _sgd(lib)
        sched = _ls(lib).OneCycleLR(opt, 1.0, total_steps=3)
        for _ in range(3):
            opt.step()
            sched.step()
        with pytest.raises(ValueError, match="Tried to step 4 times. The specified number of "
                                             "total steps is 3"):
            sched.step()


def test_one_cycle_state_dict_and_groups():
    """OneCycleLR writes initial_lr/max_lr/min_lr and the momentum bounds into the groups."""
    _, make, _ = CASES["OneCycleLR-adam"]
    t_opt, e_opt = _adam(torch), _adam(ember)
    make(torch, t_opt)
    make(ember, e_opt)
    for tg, eg in zip(t_opt.param_groups, e_opt.param_groups):
        keys = ["lr", "initial_lr", "max_lr", "min_lr", "betas", "max_momentum", "base_momentum"]
        assert [eg[k] for k in keys] == [tg[k] for k in keys]


def test_cyclic_state_dict_drops_functions():
    class Scale:
        def __init__(self):
            self.k = 2.0

        def __call__(self, x):
            return 1 / self.k ** x

    res = {}
    for lib in (torch, ember):
        fn = Scale()
        sched = _ls(lib).CyclicLR(_sgd(lib), 0.01, 0.1, 2, scale_fn=fn)
        fn.k = 3.0
        sd = sched.state_dict()
        fn2 = Scale()
        sched2 = _ls(lib).CyclicLR(_sgd(lib), 0.01, 0.1, 2, scale_fn=fn2)
        sched2.load_state_dict(dict(sd))
        assert fn2.k == 3.0
        plain = _ls(lib).CyclicLR(_sgd(lib), 0.01, 0.1, 2, mode="exp_range", gamma=0.5)
        sd_plain = plain.state_dict()
        assert "_scale_fn_ref" not in sd_plain and sd_plain["_scale_fn_custom"] is None
        plain.load_state_dict(sd_plain)
        assert plain.scale_fn(2) == 0.25
        res[lib.__name__] = (sd, sd_plain)
    _sd_equal(res["ember"][0], res["torch"][0])
    _sd_equal(res["ember"][1], res["torch"][1])


@settings(max_examples=25, deadline=None)
@given(epochs=st.lists(st.floats(0, 40, allow_nan=False), min_size=1, max_size=8),
       t0=st.integers(1, 5), t_mult=st.integers(1, 3))
def test_warm_restarts_fractional_epochs(epochs, t0, t_mult):
    def make(lib, o):
        return _ls(lib).CosineAnnealingWarmRestarts(o, T_0=t0, T_mult=t_mult, eta_min=0.001)
    out = {}
    for lib in (torch, ember):
        opt = _sgd(lib)
        sched = make(lib, opt)
        seq = []
        for ep in epochs:
            opt.step()
            sched.step(ep)
            seq.append((sched.get_last_lr(), sched.T_cur, sched.T_i, sched.last_epoch))
            opt.step()
            sched.step()  # and a plain step after each jump
            seq.append((sched.get_last_lr(), sched.T_cur, sched.T_i, sched.last_epoch))
        out[lib.__name__] = seq
    assert out["ember"] == out["torch"]


def test_warm_restarts_negative_epoch_and_step_count():
    for lib in (torch, ember):
        sched = _ls(lib).CosineAnnealingWarmRestarts(_sgd(lib), 3)
        with pytest.raises(ValueError, match="Expected non-negative epoch, but got -1"):
            sched.step(-1)
    e = L.CosineAnnealingWarmRestarts(_sgd(ember), 3)
    t = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(_sgd(torch), 3)
    for s in (e, t):
        s.step(1.5)
    _sd_equal(e.state_dict(), t.state_dict())


@settings(max_examples=25, deadline=None)
@given(mode=st.sampled_from(["min", "max"]), threshold_mode=st.sampled_from(["rel", "abs"]),
       patience=st.integers(0, 3), cooldown=st.integers(0, 2),
       min_lr=st.sampled_from([0, 0.004, [0.02, 0.0001]]),
       eps=st.sampled_from([1e-8, 1e-3]), threshold=st.sampled_from([1e-4, 0.1]),
       metrics=st.lists(st.sampled_from([1.0, 0.99, 0.9, 1.1, 0.5, 2.0]), min_size=1,
                        max_size=25))
def test_reduce_on_plateau(mode, threshold_mode, patience, cooldown, min_lr, eps, threshold,
                           metrics):
    def make(lib, o):
        return _ls(lib).ReduceLROnPlateau(o, mode=mode, factor=0.5, patience=patience,
                                          threshold=threshold, threshold_mode=threshold_mode,
                                          cooldown=cooldown, min_lr=min_lr, eps=eps)
    args = [(m,) for m in metrics]
    _same_trace(_sgd, make, len(metrics), args)
    # resume mid-run from torch's state_dict
    cut = len(metrics) // 2
    t_opt = _sgd(torch)
    t_sched = make(torch, t_opt)
    for m in metrics[:cut]:
        t_sched.step(torch.tensor(m))  # a 0-dim tensor metric is read with float()
    e_opt = _sgd(ember)
    for eg, tg in zip(e_opt.param_groups, t_opt.param_groups):
        eg["lr"] = tg["lr"]
    e_sched = make(ember, e_opt)
    e_sched.load_state_dict(t_sched.state_dict())
    _sd_equal(e_sched.state_dict(), t_sched.state_dict())
    for m in metrics[cut:]:
        t_sched.step(torch.tensor(m))
        e_sched.step(ember.tensor(m))
        assert [g["lr"] for g in e_opt.param_groups] == [g["lr"] for g in t_opt.param_groups]
        assert e_sched.get_last_lr() == t_sched.get_last_lr()
        assert (e_sched.num_bad_epochs, e_sched.cooldown_counter, e_sched.best) == (
            t_sched.num_bad_epochs, t_sched.cooldown_counter, t_sched.best)


def test_reduce_on_plateau_epoch_and_new_group():
    for lib in (torch, ember):
        opt = _sgd(lib)
        sched = _ls(lib).ReduceLROnPlateau(opt, patience=0, min_lr=0.001)
        with pytest.warns(UserWarning, match="The epoch parameter"):
            sched.step(1.0, epoch=5)
        assert sched.last_epoch == 5
        opt.add_param_group({"params": [lib.zeros(1, requires_grad=True)], "lr": 0.3})
        sched.step(2.0)  # the scalar min_lr is re-broadcast to the new group
        assert sched.min_lrs == [0.001] * 3 and math.isclose(opt.param_groups[2]["lr"], 0.03)
        sched2 = _ls(lib).ReduceLROnPlateau(_sgd(lib), patience=0, min_lr=[0.0, 0.0])
        sched2.optimizer.add_param_group({"params": [lib.zeros(1, requires_grad=True)]})
        sched2.step(1.0)
        with pytest.raises(RuntimeError, match="The number of param groups in the `optimizer` "
                                               "\\(3\\) differs"):
            sched2.step(2.0)


def test_tensor_lr_state_dict():
    """With a Tensor lr, base_lrs and _last_lr hold float32 0-dim tensors, as in torch."""
    opt = ember.optim.SGD(_groups(ember)[:1], lr=ember.tensor(0.1))
    sched = L.ExponentialLR(opt, 0.5)
    opt.step()
    sched.step()
    sd = sched.state_dict()
    assert float(sd["_last_lr"][0]) == np.float32(0.05)
    assert float(sd["base_lrs"][0]) == np.float32(0.1)
    assert_same(sd["_last_lr"][0], torch.tensor(0.05))
    arr = to_numpy(sd["base_lrs"][0])
    assert arr.shape == () and arr.dtype == np.float32


@pytest.mark.parametrize("name", ["MultiStepLR", "OneCycleLR-adam", "CAWR-Tmult", "SequentialLR"])
def test_state_dict_interchange_through_files(name, tmp_path):
    """torch.save'd scheduler state resumes in ember, and ember.save'd state in torch (read
    with weights_only=True): both continue as the uninterrupted torch run."""
    make_opt, make_sched, steps = CASES[name]
    cut = steps // 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        full = _trace(torch, make_opt, make_sched, steps)
        for src, dst in ((torch, ember), (ember, torch)):
            opt = make_opt(src)
            sched = make_sched(src, opt)
            for _ in range(cut):
                opt.step()
                sched.step()
            path = tmp_path / f"{src.__name__}.pt"
            src.save({"opt": opt.state_dict(), "sched": sched.state_dict()}, path)
            ckpt = dst.load(path, weights_only=True) if dst is torch else dst.load(path)
            opt2 = make_opt(dst)
            sched2 = make_sched(dst, opt2)
            opt2.load_state_dict(ckpt["opt"])
            sched2.load_state_dict(ckpt["sched"])
            out = [_snapshot(opt2, sched2)]
            for _ in range(steps - cut):
                opt2.step()
                sched2.step()
                out.append(_snapshot(opt2, sched2))
            assert out == full[cut:], f"{src.__name__} -> {dst.__name__}"


@settings(max_examples=25, deadline=None)
@given(up=st.integers(1, 5), down=st.one_of(st.none(), st.integers(1, 5)),
       mode=st.sampled_from(["triangular", "triangular2", "exp_range"]),
       gamma=st.sampled_from([1.0, 0.9]), adam=st.booleans(), cycle_momentum=st.booleans())
def test_cyclic_combinations(up, down, mode, gamma, adam, cycle_momentum):
    def make(lib, o):
        return _ls(lib).CyclicLR(o, [0.01, 0.001], 0.1, step_size_up=up, step_size_down=down,
                                 mode=mode, gamma=gamma, cycle_momentum=cycle_momentum,
                                 base_momentum=0.85, max_momentum=[0.9, 0.99])
    _same_trace(_adam if adam else _sgd, make, 3 * (up + (down or up)))


@settings(max_examples=25, deadline=None)
@given(total=st.integers(2, 30), pct=st.sampled_from([0.0, 0.1, 0.25, 0.3, 0.5, 0.9]),
       strategy=st.sampled_from(["cos", "linear"]), three_phase=st.booleans(),
       div=st.sampled_from([25.0, 4.0]), final_div=st.sampled_from([1e4, 10.0]),
       adam=st.booleans())
def test_one_cycle_combinations(total, pct, strategy, three_phase, div, final_div, adam):
    def make(lib, o):
        return _ls(lib).OneCycleLR(o, [1.0, 0.3], total_steps=total, pct_start=pct,
                                   anneal_strategy=strategy, three_phase=three_phase,
                                   div_factor=div, final_div_factor=final_div)
    try:
        t = _trace(torch, _adam if adam else _sgd, make, total)
    except ZeroDivisionError:  # degenerate phases divide by zero in torch: same in ember
        with pytest.raises(ZeroDivisionError):
            _trace(ember, _adam if adam else _sgd, make, total)
        return
    assert _trace(ember, _adam if adam else _sgd, make, total) == t


def test_param_group_added_after_construction():
    """Schedulers that pair groups with their own per-group lists fail as torch does."""
    for lib in (torch, ember):
        opt = _sgd(lib)
        sched = _ls(lib).LambdaLR(opt, lambda e: 0.5)
        opt.add_param_group({"params": [lib.zeros(1, requires_grad=True)]})
        opt.step()
        with pytest.raises(ValueError, match="zip\\(\\) argument 2 is shorter"):
            sched.step()
        opt = _sgd(lib)
        sched = _ls(lib).StepLR(opt, 1, 0.5)  # chainable on group["lr"]: follows new groups
        opt.add_param_group({"params": [lib.zeros(1, requires_grad=True)], "lr": 0.8})
        opt.step()
        sched.step()
        assert sched.get_last_lr() == [0.05, 0.025, 0.4]
