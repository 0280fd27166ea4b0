"""nn.utils.weight_norm / spectral_norm (and their removal) against torch."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import ember
from tests.oracle import assert_same, check, check_error, randn, to_ember, to_numpy

pytestmark = pytest.mark.filterwarnings("ignore:`torch.nn.utils.weight_norm` is deprecated")

MAKERS = {
    "linear": (lambda lib: lib.nn.Linear(5, 4), (3, 5)),
    "conv2d": (lambda lib: lib.nn.Conv2d(3, 4, 3), (2, 3, 6, 5)),
    "convT2d": (lambda lib: lib.nn.ConvTranspose2d(3, 4, (2, 3)), (2, 3, 4, 4)),
    "conv1d_nobias": (lambda lib: lib.nn.Conv1d(2, 3, 2, bias=False), (2, 2, 7)),
}


def _pair(kind: str):
    """The same float64 module in torch and ember (torch's initial values copied over)."""
    make, shape = MAKERS[kind]
    tm, em = make(torch).double(), make(ember).double()
    em.load_state_dict({k: to_ember(to_numpy(v)) for k, v in tm.state_dict().items()})
    return tm, em, randn(*shape, seed=1)


def _copy_state(tm, em) -> None:
    em.load_state_dict({k: to_ember(to_numpy(v)) for k, v in tm.state_dict().items()})


def _assert_state_same(em, tm) -> None:
    assert [n for n, _ in em.named_parameters()] == [n for n, _ in tm.named_parameters()]
    assert [n for n, _ in em.named_buffers()] == [n for n, _ in tm.named_buffers()]
    assert list(em.state_dict()) == list(tm.state_dict())
    for (name, ev), tv in zip(em.state_dict().items(), tm.state_dict().values()):
        assert_same(ev, tv, what=name)


def _forward_backward(tm, em, x: np.ndarray, seed: int = 0):
    """One forward with the same input and upstream gradient; compares output and x.grad."""
    tx, ex = torch.tensor(x, requires_grad=True), ember.tensor(x, requires_grad=True)
    tout, eout = tm(tx), em(ex)
    assert_same(eout, tout)
    g = np.random.default_rng(seed).standard_normal(tuple(tout.shape))
    tout.backward(torch.tensor(g))
    eout.backward(ember.tensor(g))
    assert_same(ex.grad, tx.grad, what="grad of input")
    return eout, tout


def _assert_param_grads_same(em, tm) -> None:
    for (name, tp), (_, ep) in zip(tm.named_parameters(), em.named_parameters()):
        assert (ep.grad is None) == (tp.grad is None), name
        if tp.grad is not None:
            assert_same(ep.grad, tp.grad, what=f"grad of {name}")


# ---------------------------------------------------------------- weight_norm

@settings(max_examples=25, deadline=None)
@given(kind=st.sampled_from(sorted(MAKERS)), dim=st.sampled_from([0, 1, None, -1, -2]))
def test_weight_norm_matches_torch(kind, dim):
    tm, em, x = _pair(kind)
    torch.nn.utils.weight_norm(tm, dim=dim)
    ember.nn.utils.weight_norm(em, dim=dim)
    _assert_state_same(em, tm)
    assert "weight" not in em._parameters and isinstance(em.weight, ember.Tensor)
    assert_same(em.weight, tm.weight, what="weight recomputed at registration")
    assert em.weight.grad_fn.name() == tm.weight.grad_fn.name()
    _forward_backward(tm, em, x)
    _assert_param_grads_same(em, tm)
    # the hook recomputes the weight from the current g and v before every forward
    with torch.no_grad():
        tm.weight_g.mul_(1.5)
        tm.weight_v.add_(0.25)
    _copy_state(tm, em)
    tm.zero_grad()
    em.zero_grad()
    _forward_backward(tm, em, x, seed=1)
    _assert_param_grads_same(em, tm)
    torch.nn.utils.remove_weight_norm(tm)
    ember.nn.utils.remove_weight_norm(em)
    _assert_state_same(em, tm)
    assert isinstance(em.weight, ember.nn.Parameter) and em.weight.is_leaf
    assert not em._forward_pre_hooks
    _forward_backward(tm, em, x, seed=2)


@pytest.mark.parametrize("shape,dim", [((4, 3), 0), ((4, 3), 1), ((4, 3, 2, 2), 0),
                                       ((4, 3, 2, 2), 3), ((4, 3, 2, 2), 1), ((4, 3, 2), -1),
                                       ((5,), 0)])
def test_weight_norm_kernel(shape, dim):
    """The fused node (first/last dim) and the composite path, values and gradients."""
    from ember.nn.utils.weight_norm import _weight_norm
    gshape = () if dim == -1 else [n if i == dim else 1 for i, n in enumerate(shape)]
    v, g = randn(*shape, seed=2), randn(*gshape, seed=3)
    check(lambda lib, v, g: (lib._weight_norm if lib is torch else _weight_norm)(v, g, dim), v, g)
    # non-contiguous v
    check(lambda lib, v, g: (lib._weight_norm if lib is torch else _weight_norm)(
        v.transpose(0, -1).transpose(0, -1), g, dim), np.ascontiguousarray(v.T).T, g)
    assert ember.autograd.gradcheck(lambda a, b: _weight_norm(a, b, dim),
                                    (ember.tensor(v, requires_grad=True),
                                     ember.tensor(g, requires_grad=True)))


def test_weight_norm_float32_module():
    tm, em = torch.nn.Conv2d(3, 4, 3), ember.nn.Conv2d(3, 4, 3)
    _copy_state(tm, em)
    torch.nn.utils.weight_norm(tm)
    ember.nn.utils.weight_norm(em)
    x = randn(2, 3, 5, 5, dtype=np.float32)
    assert_same(em(ember.tensor(x)), tm(torch.tensor(x)), rtol=1e-4, atol=1e-5)
    assert em.weight.dtype == ember.float32


def test_weight_norm_shapes_and_warning():
    with pytest.warns(FutureWarning, match=r"`torch.nn.utils.weight_norm` is deprecated in "
                                           r"favor of `torch.nn.utils.parametrizations"):
        m = ember.nn.utils.weight_norm(ember.nn.Linear(20, 40), name="weight")
    assert tuple(m.weight_g.shape) == (40, 1) and tuple(m.weight_v.shape) == (40, 20)
    assert m.weight_g.requires_grad and m.weight_v.requires_grad
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        whole = ember.nn.utils.weight_norm(ember.nn.Conv2d(3, 4, 2), dim=None)
    assert tuple(whole.weight_g.shape) == ()
    # float32 modules stay float32
    assert m.weight.dtype == ember.float32 and m.weight_g.dtype == ember.float32


def test_weight_norm_on_bias_and_two_names():
    """Any parameter can be normalized; two names on one module each get a hook."""
    tm, em, x = _pair("linear")
    for lib, m in ((torch, tm), (ember, em)):
        lib.nn.utils.weight_norm(m, name="bias", dim=None)
        lib.nn.utils.weight_norm(m, name="weight", dim=1)
    _assert_state_same(em, tm)
    _forward_backward(tm, em, x)
    _assert_param_grads_same(em, tm)
    for lib, m in ((torch, tm), (ember, em)):
        lib.nn.utils.remove_weight_norm(m, name="bias")
    _assert_state_same(em, tm)
    assert len(em._forward_pre_hooks) == 1


def test_weight_norm_second_order():
    """A gradient penalty (create_graph) reaches g and v through the recomputed weight."""
    tm, em, x = _pair("linear")
    torch.nn.utils.weight_norm(tm)
    ember.nn.utils.weight_norm(em)
    for lib, m in ((torch, tm), (ember, em)):
        xt = lib.tensor(x, requires_grad=True)
        (gx,) = lib.autograd.grad(m(xt).tanh().sum(), xt, create_graph=True)
        (gx ** 2).sum().backward()
    _assert_param_grads_same(em, tm)


def test_weight_norm_errors():
    def twice(lib):
        lib.nn.utils.weight_norm(lib.nn.utils.weight_norm(lib.nn.Linear(3, 4)))
    check_error(twice, match="Cannot register two weight_norm hooks on the same parameter weight")
    check_error(lambda lib: lib.nn.utils.remove_weight_norm(lib.nn.Linear(3, 4)),
                match=r"weight_norm of 'weight' not found in Linear\(in_features=3")
    check_error(lambda lib: lib.nn.utils.remove_weight_norm(
        lib.nn.utils.weight_norm(lib.nn.Linear(3, 4)), name="bias"), match="'bias' not found")
    check_error(lambda lib: lib.nn.utils.weight_norm(lib.nn.Linear(3, 4, bias=False), "bias"),
                match="must be Tensor, not NoneType")
    check_error(lambda lib: lib.nn.utils.weight_norm(lib.nn.Linear(3, 4), "foo"),
                match="'Linear' object has no attribute 'foo'")


# -------------------------------------------------------------- spectral_norm

def _spectral_pair(kind: str, **kw):
    tm, em, x = _pair(kind)
    torch.nn.utils.spectral_norm(tm, **kw)
    ember.nn.utils.spectral_norm(em, **kw)
    _assert_state_same_names(em, tm)
    _copy_state(tm, em)  # the random initial u, v differ: start from torch's
    return tm, em, x


def _assert_state_same_names(em, tm) -> None:
    assert [n for n, _ in em.named_parameters()] == [n for n, _ in tm.named_parameters()]
    assert [n for n, _ in em.named_buffers()] == [n for n, _ in tm.named_buffers()]
    assert list(em.state_dict()) == list(tm.state_dict())
    for (name, ev), tv in zip(em.state_dict().items(), tm.state_dict().values()):
        assert tuple(ev.shape) == tuple(tv.shape), name


@pytest.mark.parametrize("kind", sorted(MAKERS))
@pytest.mark.parametrize("n_power_iterations", [1, 3])
def test_spectral_norm_matches_torch(kind, n_power_iterations):
    tm, em, x = _spectral_pair(kind, n_power_iterations=n_power_iterations)
    eu, ev = em.weight_u, em.weight_v
    for step in range(3):  # training mode: each forward refines u, v in place
        tm.zero_grad()
        em.zero_grad()
        _forward_backward(tm, em, x, seed=step)
        _assert_state_same(em, tm)
        assert_same(em.weight, tm.weight, what="normalized weight")
        _assert_param_grads_same(em, tm)
        with torch.no_grad():  # a plain SGD step, so the next power iteration has work to do
            for p in tm.parameters():
                p.sub_(0.3 * p.grad)
        with ember.no_grad():
            for p in em.parameters():
                p.sub_(0.3 * p.grad)
    assert em.weight_u is eu and em.weight_v is ev, "buffers must be updated in place"
    tm.eval()
    em.eval()
    u_before = em.weight_u.clone()
    tm.zero_grad()
    em.zero_grad()
    _forward_backward(tm, em, x, seed=5)
    _assert_param_grads_same(em, tm)
    assert ember.equal(em.weight_u, u_before), "eval mode must not run power iteration"
    _assert_state_same(em, tm)
    torch.nn.utils.remove_spectral_norm(tm)
    ember.nn.utils.remove_spectral_norm(em)
    _assert_state_same(em, tm)
    assert isinstance(em.weight, ember.nn.Parameter) and em.weight.is_leaf
    assert not em._forward_pre_hooks and not em._state_dict_hooks
    assert not em._load_state_dict_pre_hooks
    tm.train()
    em.train()
    _forward_backward(tm, em, x, seed=6)


def test_spectral_norm_float32_keeps_parameter_identity():
    tm, em = torch.nn.Linear(4, 3), ember.nn.Linear(4, 3)
    _copy_state(tm, em)
    w = em.weight
    torch.nn.utils.spectral_norm(tm)
    ember.nn.utils.spectral_norm(em)
    assert em.weight_orig is w, "an optimizer built earlier must keep training the weight"
    _copy_state(tm, em)
    x = randn(2, 4, dtype=np.float32)
    for _ in range(2):
        assert_same(em(ember.tensor(x)), tm(torch.tensor(x)))
        assert_same(em.weight_u, tm.weight_u)
        assert em.weight.dtype == ember.float32


def test_spectral_norm_defaults_and_sigma():
    """dim defaults to 1 for ConvTranspose; u, v are unit vectors; sigma approaches ||W||_2."""
    # Seeded: how fast power iteration converges depends on the random weight's spectral gap.
    ember.manual_seed(0)
    m = ember.nn.utils.spectral_norm(ember.nn.ConvTranspose2d(3, 5, 2))
    assert tuple(m.weight_u.shape) == (5,) and tuple(m.weight_v.shape) == (12,)
    m = ember.nn.utils.spectral_norm(ember.nn.Linear(6, 4).double(), n_power_iterations=50)
    assert tuple(m.weight_u.shape) == (4,) and tuple(m.weight_v.shape) == (6,)
    assert abs(float(m.weight_u.norm()) - 1) < 1e-12 and abs(float(m.weight_v.norm()) - 1) < 1e-12
    assert not m.weight_u.requires_grad and m.weight_orig.requires_grad
    assert not m.weight.requires_grad  # a detached copy until the first forward
    m(ember.zeros(1, 6, dtype=ember.float64))
    top = np.linalg.svd(m.weight.detach().numpy(), compute_uv=False)[0]
    assert abs(top - 1) < 1e-8
    assert m.weight.grad_fn.name() == "DivBackward0"
    f32 = ember.nn.utils.spectral_norm(ember.nn.Linear(3, 2))
    f32(ember.ones(1, 3))
    assert f32.weight.dtype == f32.weight_u.dtype == ember.float32


def test_spectral_norm_state_dict_metadata_and_version0_upgrade():
    tm, em, _ = _spectral_pair("linear")
    tsd, esd = tm.state_dict(), em.state_dict()
    assert dict(esd._metadata) == {k: dict(v) for k, v in tsd._metadata.items()}
    # an older checkpoint: `weight` saved instead of `weight_v`, version 0
    for m, sd in ((tm, tsd), (em, esd)):
        sd._metadata[""]["spectral_norm"]["weight.version"] = 0
        del sd["weight_v"]
        sd["weight"] = m.weight.detach().clone()
    esd["weight"] = to_ember(to_numpy(tsd["weight"]))
    t2 = torch.nn.utils.spectral_norm(torch.nn.Linear(5, 4).double())
    e2 = ember.nn.utils.spectral_norm(ember.nn.Linear(5, 4).double())
    t2.load_state_dict(tsd)
    e2.load_state_dict(esd)
    _assert_state_same(e2, t2)
    # nested modules keep their own metadata entry
    ts = torch.nn.Sequential(torch.nn.utils.spectral_norm(torch.nn.Linear(2, 2)))
    es = ember.nn.Sequential(ember.nn.utils.spectral_norm(ember.nn.Linear(2, 2)))
    assert es.state_dict()._metadata["0"] == ts.state_dict()._metadata["0"]


def test_spectral_norm_missing_keys_on_version0():
    tm, em, _ = _spectral_pair("linear")
    for m in (tm, em):
        sd = m.state_dict()
        sd._metadata[""]["spectral_norm"]["weight.version"] = 0
        del sd["weight_v"]
        with pytest.raises(RuntimeError, match="Missing key"):
            m.load_state_dict(sd)


def test_spectral_norm_errors():
    def twice(lib):
        lib.nn.utils.spectral_norm(lib.nn.utils.spectral_norm(lib.nn.Linear(3, 4)))
    check_error(twice, match="Cannot register two spectral_norm hooks on the same parameter")
    check_error(lambda lib: lib.nn.utils.spectral_norm(lib.nn.Linear(3, 4), n_power_iterations=0),
                match="Expected n_power_iterations to be positive, but got n_power_iterations=0")
    check_error(lambda lib: lib.nn.utils.spectral_norm(lib.nn.Linear(3, 4, bias=False), "bias"),
                match="`SpectralNorm` cannot be applied as parameter `bias` is None")
    check_error(lambda lib: lib.nn.utils.remove_spectral_norm(lib.nn.Linear(3, 4)),
                match=r"spectral_norm of 'weight' not found in Linear\(in_features=3")


def test_spectral_norm_checkpoint_round_trip(tmp_path):
    """The version metadata survives ember.save -> torch.load and torch.save -> ember.load."""
    em = ember.nn.utils.spectral_norm(ember.nn.Linear(3, 4))
    em(ember.ones(1, 3))
    ember.save(em.state_dict(), tmp_path / "e.pt")
    sd = torch.load(tmp_path / "e.pt", weights_only=True)
    assert sd._metadata[""]["spectral_norm"] == {"weight.version": 1}
    tm = torch.nn.utils.spectral_norm(torch.nn.Linear(3, 4))
    tm.load_state_dict(sd)
    tm.eval()
    em.eval()
    x = randn(2, 3, dtype=np.float32)
    assert_same(em(ember.tensor(x)), tm(torch.tensor(x)))
    torch.save(tm.state_dict(), tmp_path / "t.pt")
    e2 = ember.nn.utils.spectral_norm(ember.nn.Linear(3, 4))
    e2.load_state_dict(ember.load(tmp_path / "t.pt"))
    _assert_state_same(e2, tm)
