"""swa_utils against torch: AveragedModel's running averages (SWA, EMA, custom functions,
with and without buffers), update_bn's recomputed BatchNorm statistics, and SWALR's lr
sequences, all from the same weights and data in both libraries."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from oracle import assert_same, to_ember, to_numpy

import ember

SWA = ember.optim.swa_utils


def _model(lib, dtype=None):
    m = lib.nn.Sequential(lib.nn.Linear(3, 4), lib.nn.BatchNorm1d(4), lib.nn.ReLU(),
                          lib.nn.Linear(4, 2))
    return m if dtype is None else m.to(getattr(lib, dtype))


def _pair(dtype=None, seed=0):
    """The same model in torch and ember (ember loads torch's weights)."""
    torch.manual_seed(seed)
    tm = _model(torch, dtype)
    em = _model(ember, dtype)
    em.load_state_dict({k: to_ember(to_numpy(v)) for k, v in tm.state_dict().items()})
    return tm, em


def _perturb(tm, em, seed):
    """Give both models the same new weights and buffers (as training would)."""
    rng = np.random.default_rng(seed)
    sd = {}
    for k, v in tm.state_dict().items():
        arr = to_numpy(v)
        if arr.dtype.kind == "f":
            arr = (arr + rng.standard_normal(arr.shape)).astype(arr.dtype)
        else:
            arr = arr + 3
        sd[k] = arr
    tm.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in sd.items()})
    em.load_state_dict({k: ember.tensor(np.array(v)) for k, v in sd.items()})


def _same_state(e, t):
    es, ts = e.state_dict(), t.state_dict()
    assert list(es) == list(ts)
    for k in ts:
        assert_same(es[k], ts[k], what=k)


def _kwargs(lib, kind):
    fn = lib.optim.swa_utils
    return {"swa": {}, "ema": {"avg_fn": fn.get_ema_avg_fn(0.8)},
            "ema_multi": {"multi_avg_fn": fn.get_ema_multi_avg_fn(0.8)},
            "swa_multi": {"multi_avg_fn": fn.get_swa_multi_avg_fn()},
            "swa_fn": {"avg_fn": fn.get_swa_avg_fn()},
            "custom": {"avg_fn": lambda a, c, n: 0.5 * a + 0.5 * c + n * 0.01}}[kind]


@pytest.mark.parametrize("dtype", [None, "float64"])
@pytest.mark.parametrize("kind,use_buffers", [
    (kind, use_buffers) for kind in ("swa", "ema", "ema_multi", "swa_multi", "swa_fn", "custom")
    for use_buffers in (False, True)
    if (kind, use_buffers) != ("swa_multi", True)])  # an error in torch: tested below
def test_averaged_model_matches_torch(kind, use_buffers, dtype):
    tm, em = _pair(dtype)
    ta = torch.optim.swa_utils.AveragedModel(tm, use_buffers=use_buffers, **_kwargs(torch, kind))
    ea = SWA.AveragedModel(em, use_buffers=use_buffers, **_kwargs(ember, kind))
    _same_state(ea, ta)
    for step in range(5):
        ta.update_parameters(tm)
        ea.update_parameters(em)
        _same_state(ea, ta)
        _perturb(tm, em, step)
    assert int(ea.n_averaged) == 5 and ea.n_averaged.dtype == ember.int64
    # the average is a copy: the source model is untouched, forward goes through the copy
    x = np.random.default_rng(9).standard_normal((5, 3)).astype(to_numpy(
        next(tm.parameters())).dtype)
    ta.eval()
    ea.eval()
    assert_same(ea(to_ember(x)), ta(torch.from_numpy(x)))
    assert next(ea.module.parameters()) is not next(em.parameters())


def test_averaged_model_integer_buffers_multi_fn():
    """With use_buffers the int64 num_batches_tracked goes through the multi functions'
    integer branches: EMA by copy_; SWA by addcdiv_ with a tensor count, which torch
    refuses for integers (so both raise the same RuntimeError on the second update)."""
    tm, em = _pair()
    ta = torch.optim.swa_utils.AveragedModel(tm, use_buffers=True, **_kwargs(torch, "ema_multi"))
    ea = SWA.AveragedModel(em, use_buffers=True, **_kwargs(ember, "ema_multi"))
    for step in range(4):
        ta.update_parameters(tm)
        ea.update_parameters(em)
        _perturb(tm, em, step + 10)
    _same_state(ea, ta)
    tm, em = _pair()
    ta = torch.optim.swa_utils.AveragedModel(tm, use_buffers=True, **_kwargs(torch, "swa_multi"))
    ea = SWA.AveragedModel(em, use_buffers=True, **_kwargs(ember, "swa_multi"))
    ta.update_parameters(tm)
    ea.update_parameters(em)
    for a in (ta, ea):
        with pytest.raises(RuntimeError, match="Integer division with addcdiv is no longer "
                                               "supported"):
            a.update_parameters(tm if a is ta else em)


def test_swa_multi_avg_fn_int_count():
    """A plain int count: floats are lerped; integer tensors take the add_(alpha=float)
    branch, which torch refuses, and so does ember."""
    out = []
    for lib in (torch, ember):
        avg = [lib.tensor([1.0, 2.0]), lib.tensor([1.5, -2.0])]
        cur = [lib.tensor([3.0, 6.0]), lib.tensor([0.5, 2.0])]
        lib.optim.swa_utils.get_swa_multi_avg_fn()(avg, cur, 1)
        lib.optim.swa_utils.get_swa_multi_avg_fn()(avg, cur, 3)
        out.append(avg)
        with pytest.raises(RuntimeError, match="For integral input tensors, argument alpha "
                                               "must not be a floating point number"):
            lib.optim.swa_utils.get_swa_multi_avg_fn()([lib.tensor([10])], [lib.tensor([14])], 3)
    assert_same(out[1], out[0])


def test_averaged_model_device_and_errors():
    em = _model(ember)
    ea = SWA.AveragedModel(em, device="cpu")
    assert ea.n_averaged.device == ember.device("cpu")
    for lib in (torch, ember):
        fn = lib.optim.swa_utils
        with pytest.raises(AssertionError, match="Only one of avg_fn and multi_avg_fn"):
            fn.AveragedModel(_model(lib), avg_fn=fn.get_swa_avg_fn(),
                             multi_avg_fn=fn.get_swa_multi_avg_fn())
        for make in (fn.get_ema_avg_fn, fn.get_ema_multi_avg_fn):
            with pytest.raises(ValueError, match="Invalid decay value 1.5 provided"):
                make(1.5)
            with pytest.raises(ValueError, match="Invalid decay value -0.1 provided"):
                make(-0.1)


def test_avg_fns_do_not_record_gradients():
    a = ember.ones(3, requires_grad=True)
    c = ember.zeros(3, requires_grad=True)
    for fn in (SWA.get_swa_avg_fn(), SWA.get_ema_avg_fn()):
        out = fn(a, c, 1)
        assert not out.requires_grad
    t = torch.optim.swa_utils.get_ema_avg_fn(0.5)(torch.ones(3), torch.zeros(3), 1)
    assert_same(SWA.get_ema_avg_fn(0.5)(ember.ones(3), ember.zeros(3), 1), t)


# ----------------------------------------------------------------------------- update_bn

class _DictNet:
    """Wraps a model so it takes {"x": batch} (update_bn passes dicts through)."""

    @staticmethod
    def make(lib, inner):
        class DictNet(lib.nn.Module):
            def __init__(self):
                super().__init__()
                self.inner = inner

            def forward(self, batch):
                return self.inner(batch["x"])
        return DictNet()


@pytest.mark.parametrize("form", ["tensor", "tuple", "list", "dict"])
@pytest.mark.parametrize("train", [True, False])
def test_update_bn_matches_torch(form, train):
    tm, em = _pair()
    _perturb(tm, em, 3)  # running stats away from their reset values
    tm[1].momentum = em[1].momentum = 0.3
    rng = np.random.default_rng(5)
    xs = [rng.standard_normal((n, 3)).astype(np.float32) for n in (8, 5, 11)]

    def loader(lib):
        for x in xs:
            t = lib.tensor(x)
            yield {"tensor": t, "tuple": (t, lib.zeros(1)), "list": [t, 0],
                   "dict": {"x": t}}[form]

    if form == "dict":
        tm, em = _DictNet.make(torch, tm), _DictNet.make(ember, em)
    tm.train(train)
    em.train(train)
    torch.optim.swa_utils.update_bn(loader(torch), tm)
    SWA.update_bn(loader(ember), em)
    _same_state(em, tm)
    bn = em.inner[1] if form == "dict" else em[1]
    assert bn.momentum == 0.3 and em.training is train and bn.training is train
    assert int(bn.num_batches_tracked) == 3


def test_update_bn_device_and_no_batchnorm():
    tm, em = _pair()
    xs = [np.ones((4, 3), np.float32) * i for i in range(3)]
    torch.optim.swa_utils.update_bn([torch.tensor(x) for x in xs], tm, device="cpu")
    SWA.update_bn([ember.tensor(x) for x in xs], em, device="cpu")
    _same_state(em, tm)

    def never():
        raise AssertionError("the loader must not be read")
        yield

    lin = ember.nn.Linear(3, 2)
    SWA.update_bn(never(), lin)  # no BatchNorm: returns before reading the loader


# ----------------------------------------------------------------------------- SWALR

def _sgd(lib):
    return lib.optim.SGD([{"params": [lib.zeros(2, requires_grad=True)]},
                          {"params": [lib.zeros(1, requires_grad=True)], "lr": 0.5}],
                         lr=1.0, momentum=0.9)


def _swalr_trace(lib, steps, **kw):
    opt = _sgd(lib)
    sched = lib.optim.swa_utils.SWALR(opt, **kw)
    out = [(sched.get_last_lr(), [g["lr"] for g in opt.param_groups])]
    for _ in range(steps):
        opt.step()
        sched.step()
        out.append((sched.get_last_lr(), [g["lr"] for g in opt.param_groups]))
    return out, opt, sched


@pytest.mark.parametrize("kw", [
    dict(swa_lr=0.05),
    dict(swa_lr=[0.05, 0.2], anneal_epochs=4, anneal_strategy="linear"),
    dict(swa_lr=0.1, anneal_epochs=0),
    dict(swa_lr=0.1, anneal_epochs=1, anneal_strategy="cos"),
    dict(swa_lr=2.0, anneal_epochs=3),
])
def test_swalr_matches_torch(kw):
    t, t_opt, t_sched = _swalr_trace(torch, 14, **kw)
    e, e_opt, e_sched = _swalr_trace(ember, 14, **kw)
    assert e == t
    assert [g["swa_lr"] for g in e_opt.param_groups] == [g["swa_lr"] for g in t_opt.param_groups]
    sd = e_sched.state_dict()
    assert "anneal_func" not in sd and sd == t_sched.state_dict()


def test_swalr_resume_mid_run():
    kw = dict(swa_lr=[0.05, 0.2], anneal_epochs=6)
    full, _, _ = _swalr_trace(torch, 10, **kw)
    t_opt = _sgd(torch)
    t_sched = torch.optim.swa_utils.SWALR(t_opt, **kw)
    for _ in range(4):
        t_opt.step()
        t_sched.step()
    e_opt = _sgd(ember)
    e_sched = SWA.SWALR(e_opt, anneal_strategy="linear", **kw)  # restored from the dict
    e_opt.load_state_dict(t_opt.state_dict())
    e_sched.load_state_dict(t_sched.state_dict())
    assert e_sched.anneal_func is SWA.SWALR._cosine_anneal
    out = []
    for _ in range(6):
        e_opt.step()
        e_sched.step()
        out.append((e_sched.get_last_lr(), [g["lr"] for g in e_opt.param_groups]))
    assert out == full[5:]


def test_swalr_errors_and_warning():
    for lib in (torch, ember):
        fn = lib.optim.swa_utils
        with pytest.raises(ValueError, match="anneal_strategy must be one of 'cos' or 'linear', "
                                             "instead got exp"):
            fn.SWALR(_sgd(lib), 0.1, anneal_strategy="exp")
        for bad in (-1, 2.5):
            with pytest.raises(ValueError, match=f"anneal_epochs must be equal or greater than "
                                                 f"0, got {bad}"):
                fn.SWALR(_sgd(lib), 0.1, anneal_epochs=bad)
        with pytest.raises(ValueError, match="swa_lr must have the same length"):
            fn.SWALR(_sgd(lib), [0.1])
        with pytest.warns(UserWarning, match="please use `get_last_lr\\(\\)`"):
            fn.SWALR(_sgd(lib), 0.1).get_lr()


def test_swa_training_loop_matches_torch():
    """The documented recipe: cosine schedule, then SWALR with averaging each epoch, then
    update_bn over the data. The averaged weights and statistics match torch's."""
    tm, em = _pair("float64", seed=1)
    rng = np.random.default_rng(2)
    data = [(rng.standard_normal((6, 3)), rng.standard_normal((6, 2))) for _ in range(3)]
    results = []
    for lib, model in ((torch, tm), (ember, em)):
        sw = lib.optim.swa_utils
        opt = lib.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
        swa_model = sw.AveragedModel(model)
        sched = lib.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=4)
        swa_sched = sw.SWALR(opt, swa_lr=0.02, anneal_epochs=2)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # both warn alike when schedulers share an opt
            for epoch in range(6):
                for x, y in data:
                    opt.zero_grad()
                    loss = ((model(lib.tensor(x)) - lib.tensor(y)) ** 2).mean()
                    loss.backward()
                    opt.step()
                if epoch >= 3:
                    swa_model.update_parameters(model)
                    swa_sched.step()
                else:
                    sched.step()
        sw.update_bn([lib.tensor(x) for x, _ in data], swa_model)
        results.append(swa_model)
    _same_state(results[1], results[0])
    assert int(results[1].n_averaged) == 3


def test_averaged_model_state_dict_through_files(tmp_path):
    """An ember AveragedModel checkpoint loads into torch's and back."""
    tm, em = _pair()
    ea = SWA.AveragedModel(em)
    for step in range(3):
        ea.update_parameters(em)
        _perturb(tm, em, step)
    ember.save(ea.state_dict(), tmp_path / "avg.pt")
    ta = torch.optim.swa_utils.AveragedModel(_model(torch))
    ta.load_state_dict(torch.load(tmp_path / "avg.pt", weights_only=True))
    _same_state(ea, ta)
    torch.save(ta.state_dict(), tmp_path / "back.pt")
    eb = SWA.AveragedModel(_model(ember))
    eb.load_state_dict(ember.load(tmp_path / "back.pt"))
    _same_state(eb, ta)
    assert int(eb.n_averaged) == 3
