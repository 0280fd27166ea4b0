"""nn.DataParallel over CPU replicas against one torch module on the whole batch."""
from __future__ import annotations

import warnings
from collections import namedtuple

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from oracle import assert_same, randn, to_ember, to_numpy, to_torch

import ember
from ember.nn.parallel import gather, parallel_apply, replicate, scatter, scatter_kwargs


def _pair(make):
    """A torch module and an ember module with the same float64 weights."""
    tm = make(torch).double()
    em = make(ember).double()
    em.load_state_dict({k: to_ember(to_numpy(v)) for k, v in tm.state_dict().items()})
    return tm, em


def _mlp(lib):
    nn = lib.nn
    return nn.Sequential(nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 3), nn.GELU())


def _cnn(lib):
    nn = lib.nn
    return nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 3, 3),
                         nn.Sigmoid())


def _compare(tm, em, dp, *arrays, dim=0, seed=1, **kw):
    ts = [to_torch(a, True) for a in arrays]
    es = [to_ember(a, True) for a in arrays]
    t_out = tm(*ts, **kw)
    e_out = dp(*es, **kw)
    assert_same(e_out, t_out)
    g = np.random.default_rng(seed).standard_normal(tuple(t_out.shape))
    t_out.backward(torch.tensor(g))
    e_out.backward(ember.tensor(g))
    for (name, tp), ep in zip(tm.named_parameters(), em.parameters()):
        assert_same(ep.grad, tp.grad, what=f"grad of {name}")
    for i, (e, t) in enumerate(zip(es, ts)):
        assert_same(e.grad, t.grad, what=f"grad of input {i}")
    return e_out


@pytest.mark.parametrize("n, devices", [(8, 2), (7, 2), (7, 3), (2, 3), (1, 2), (5, 1)])
def test_mlp_matches_whole_batch(n, devices):
    tm, em = _pair(_mlp)
    dp = ember.nn.DataParallel(em, device_ids=["cpu"] * devices)
    out = _compare(tm, em, dp, randn(n, 6))
    if devices > 1 and n > 1:
        assert out.grad_fn.name() == "GatherBackward"


def test_conv_non_contiguous_input():
    tm, em = _pair(_cnn)
    dp = ember.nn.DataParallel(em, device_ids=["cpu", "cpu", "cpu"])
    x = randn(2, 5, 6, 5).transpose(1, 0, 3, 2)  # (5, 2, 5, 6), not contiguous
    _compare(tm, em, dp, x)


def test_scatter_along_dim_1_and_negative_dim():
    def make(lib):
        class Transposed(lib.nn.Module):
            def __init__(self):
                super().__init__()
                self.lin = lib.nn.Linear(4, 3)

            def forward(self, x):
                return self.lin(x.t()).t()
        return Transposed()

    for dim in (1, -1):
        tm, em = _pair(make)
        dp = ember.nn.DataParallel(em, device_ids=["cpu", "cpu"], dim=dim)
        _compare(tm, em, dp, randn(4, 5))


def test_gradients_accumulate_over_steps():
    tm, em = _pair(_mlp)
    dp = ember.nn.DataParallel(em, device_ids=["cpu", "cpu"])
    x = randn(6, 6)
    for _ in range(2):
        tm(to_torch(x)).sum().backward()
        dp(to_ember(x)).sum().backward()
    for tp, ep in zip(tm.parameters(), em.parameters()):
        assert_same(ep.grad, tp.grad)


def test_containers_kwargs_and_non_tensors():
    Pair = namedtuple("Pair", "a b")

    def make(lib):
        class M(lib.nn.Module):
            def __init__(self):
                super().__init__()
                self.lin = lib.nn.Linear(3, 2)

            def forward(self, pair, d, scale=1.0, *, bias=None, tag="x"):
                assert tag == "t"
                y = self.lin(pair.a) * scale + pair.b + d["u"][0] * d["k"]
                return {"y": y + bias, "parts": (y, [y.sum(1)])}
        return M()

    tm, em = _pair(make)
    dp = ember.nn.DataParallel(em, device_ids=["cpu", "cpu"])
    a, b, u, bias = randn(5, 3), randn(5, 2, seed=1), randn(5, 2, seed=2), randn(5, 2, seed=3)

    def run(lib, m, conv):
        return m(Pair(conv(a, True), conv(b, True)), {"u": [conv(u, True)], "k": 2.0}, 0.5,
                 bias=conv(bias, True), tag="t")

    t_out = run(torch, tm, to_torch)
    e_out = run(ember, dp, to_ember)
    assert isinstance(e_out, dict) and list(e_out) == ["y", "parts"]
    assert isinstance(e_out["parts"], tuple) and isinstance(e_out["parts"][1], list)
    assert_same([e_out["y"], *e_out["parts"][:1], *e_out["parts"][1]],
                [t_out["y"], *t_out["parts"][:1], *t_out["parts"][1]])
    (t_out["y"].sum() + t_out["parts"][1][0].pow(2).sum()).backward()
    (e_out["y"].sum() + e_out["parts"][1][0].pow(2).sum()).backward()
    for tp, ep in zip(tm.parameters(), em.parameters()):
        assert_same(ep.grad, tp.grad)


def test_no_grad_and_grad_mode_in_threads():
    seen = []

    class Probe(ember.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = ember.nn.Linear(2, 2)

        def forward(self, x):
            seen.append(ember.is_grad_enabled())
            return self.lin(x)

    dp = ember.nn.DataParallel(Probe(), device_ids=["cpu", "cpu"])
    with ember.no_grad():
        out = dp(ember.randn(4, 2))
    assert not out.requires_grad and seen == [False, False]
    seen.clear()
    out = dp(ember.randn(4, 2))
    assert out.requires_grad and seen == [True, True]


def test_autocast_reaches_the_replica_threads():
    tm, em = _pair(_mlp)
    tm, em = tm.float(), em.float()
    dp = ember.nn.DataParallel(em, device_ids=["cpu", "cpu"])
    x = randn(6, 6, dtype=np.float32)
    with torch.autocast("cpu"):
        t_out = tm(to_torch(x))
    with ember.autocast("cpu"):
        e_out = dp(to_ember(x))
        assert ember.is_autocast_enabled("cpu")
    assert not ember.is_autocast_enabled("cpu")
    assert_same(e_out, t_out)  # bfloat16, as each replica ran under autocast
    assert dp(to_ember(x)).dtype == ember.float32

def test_replica_exception_reraised_with_context():
    class Bad(ember.nn.Module):
        def forward(self, x):
            if x.shape[0] == 1:
                raise KeyError("missing")
            if x.shape[0] == 3:
                raise ValueError("bad piece")
            return x

    dp = ember.nn.DataParallel(Bad(), device_ids=["cpu", "cpu"])
    with pytest.raises(ValueError, match=r"(?s)Caught ValueError in replica 0 on device cpu\."
                       r".*Original Traceback.*bad piece"):
        dp(ember.randn(5, 1))
    with pytest.raises(KeyError, match="in replica 1 on device cpu"):
        dp(ember.randn(3, 1))  # pieces of 2 and 1 rows


def test_scalar_input_and_mismatched_gather_errors():
    dp = ember.nn.DataParallel(ember.nn.Identity(), device_ids=["cpu", "cpu"])
    with pytest.raises(RuntimeError, match="at least a 1-dimensional"):
        dp(ember.tensor(1.0))
    a = [{"x": ember.ones(1)}, {"x": ember.ones(1), "y": ember.ones(1)}]
    with pytest.raises(ValueError, match="same number of keys"):
        gather(a, "cpu")


def test_scalar_outputs_are_unsqueezed_into_a_vector():
    class Loss(ember.nn.Module):
        def forward(self, x):
            return (x * x).sum()

    dp = ember.nn.DataParallel(Loss(), device_ids=["cpu", "cpu"])
    x = ember.tensor(randn(4, 2), requires_grad=True)
    with pytest.warns(UserWarning, match="all input tensors were scalars"):
        out = dp(x)
    assert tuple(out.shape) == (2,)
    out.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * x.detach().numpy())


def test_buffers_updated_by_the_first_replica_only():
    # As torch: the first replica holds the original buffers, the others copies, so
    # BatchNorm's running statistics come from the first piece of the batch.
    x = ember.tensor(randn(6, 3))
    bn = ember.nn.BatchNorm1d(3).double()
    ref = ember.nn.BatchNorm1d(3).double()
    ember.nn.DataParallel(bn, device_ids=["cpu", "cpu"])(x)
    ref(x[:3])
    assert_same(bn.running_mean, torch.tensor(ref.running_mean.numpy()))
    assert_same(bn.running_var, torch.tensor(ref.running_var.numpy()))
    assert bn.num_batches_tracked.item() == 1


def test_state_dict_module_attribute_and_no_devices():
    tm, em = _pair(_mlp)
    tdp = torch.nn.DataParallel(tm)
    edp = ember.nn.DataParallel(em, device_ids=["cpu", "cpu"])
    assert list(edp.state_dict()) == list(tdp.state_dict())
    assert edp.module is em and edp.device_ids == [ember.device("cpu")] * 2
    edp.load_state_dict({k: to_ember(to_numpy(v)) * 2 for k, v in tdp.state_dict().items()})
    assert_same(em[0].weight.detach(), tm[0].weight.detach() * 2)
    if not ember.cuda.is_available():  # no devices at all: the module itself runs, as torch
        plain = ember.nn.DataParallel(em)
        assert plain.device_ids == []
        x = ember.randn(3, 6, dtype=ember.float64)
        assert ember.equal(plain(x), em(x))
    assert isinstance(ember.nn.parallel.DataParallel(em, ["cpu"]), ember.nn.Module)


def test_functional_helpers():
    em = _pair(_mlp)[1]
    x = ember.randn(5, 6, dtype=ember.float64)
    y = ember.nn.parallel.data_parallel(em, x, device_ids=["cpu", "cpu"])
    assert ember.allclose(y, em(x))
    pieces = scatter((x, "s", {"k": x}), ["cpu"] * 3)
    assert len(pieces) == 3 and [p[0].shape[0] for p in pieces] == [2, 2, 1]
    assert all(p[1] == "s" and p[2]["k"].shape[0] == p[0].shape[0] for p in pieces)
    ins, kws = scatter_kwargs((), {"x": x}, ["cpu", "cpu"])
    assert ins == ((), ()) and [k["x"].shape[0] for k in kws] == [3, 2]
    reps = replicate(em, ["cpu", "cpu"])
    assert reps[0] is not em and reps[0][0] is not reps[1][0]
    assert reps[0][0].weight.grad_fn is not None and not reps[0]._parameters
    outs = parallel_apply(reps, [(x[:2],), (x[2:],)])
    assert ember.allclose(gather(outs, "cpu"), em(x))
    with ember.no_grad():
        assert replicate(em, ["cpu"])[0][0].weight.grad_fn is None
    with pytest.raises(AssertionError, match="number of modules"):
        parallel_apply(reps, [(x,)])


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 9), devices=st.integers(1, 4), dtype=st.sampled_from(["f4", "f8"]))
def test_hypothesis_batch_and_devices(n, devices, dtype):
    tm, em = _pair(_mlp)
    if dtype == "f4":
        tm, em = tm.float(), em.float()
    dp = ember.nn.DataParallel(em, device_ids=["cpu"] * devices)
    x = randn(n, 6, dtype=np.dtype(dtype))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _compare(tm, em, dp, x)
