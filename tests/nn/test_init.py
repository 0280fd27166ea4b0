"""nn.init against torch: the same fans, gains, bounds and errors; the random fills
match torch's distributions (ember's generator streams differ from torch's)."""
from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch
from oracle import check_error

import ember

SHAPES = [(5, 3), (7, 4, 3), (6, 2, 3, 4), (2, 3, 2, 2, 2), (1, 9)]


def to_np(t) -> np.ndarray:
    lib = torch if isinstance(t, torch.Tensor) else ember
    return t.detach().to(lib.float64).numpy()


@pytest.mark.parametrize("shape", SHAPES)
def test_fan_in_and_fan_out(shape):
    from torch.nn.init import _calculate_fan_in_and_fan_out as t_fans

    from ember.nn.init import _calculate_fan_in_and_fan_out as e_fans
    assert e_fans(ember.empty(*shape)) == t_fans(torch.empty(*shape))


@pytest.mark.parametrize("args", [("linear",), ("conv1d",), ("conv2d",), ("conv3d",),
                                  ("conv_transpose1d",), ("conv_transpose2d",),
                                  ("conv_transpose3d",), ("sigmoid",), ("tanh",), ("relu",),
                                  ("leaky_relu",), ("leaky_relu", 0.2), ("leaky_relu", 3),
                                  ("selu",)])
def test_calculate_gain(args):
    e = ember.nn.init.calculate_gain(*args)
    t = torch.nn.init.calculate_gain(*args)
    assert e == t and type(e) is type(t)


@pytest.mark.parametrize("fn", [
    lambda lib, x: lib.nn.init.calculate_gain("softmax"),
    lambda lib, x: lib.nn.init.calculate_gain("leaky_relu", True),
    lambda lib, x: lib.nn.init.calculate_gain("leaky_relu", "0.1"),
    lambda lib, x: lib.nn.init.xavier_uniform_(x[0]),
    lambda lib, x: lib.nn.init.kaiming_normal_(x, mode="fan_avg"),
    lambda lib, x: lib.nn.init.eye_(x[None]),
    lambda lib, x: lib.nn.init.dirac_(x),
    lambda lib, x: lib.nn.init.dirac_(x[None], groups=2),
    lambda lib, x: lib.nn.init.orthogonal_(x[0]),
    lambda lib, x: lib.nn.init.sparse_(x[None], 0.5),
    lambda lib, x: lib.nn.init.normal_(x, std=-1.0),
])
def test_errors_match_torch(fn):
    e, t = check_error(fn, np.zeros((3, 4), np.float32))
    assert str(e) == str(t)


def test_deterministic_fills_match_torch():
    for name, fn in [
        ("constant", lambda lib, t: lib.nn.init.constant_(t, 0.25)),
        ("ones", lambda lib, t: lib.nn.init.ones_(t)),
        ("zeros", lambda lib, t: lib.nn.init.zeros_(t)),
        ("eye", lambda lib, t: lib.nn.init.eye_(t[:, :, 0, 0])),
        ("dirac", lambda lib, t: lib.nn.init.dirac_(t)),
        ("dirac2", lambda lib, t: lib.nn.init.dirac_(t, groups=2)),
        ("dirac3d", lambda lib, t: lib.nn.init.dirac_(t[:, :, :, 1])),
        ("dirac5d", lambda lib, t: lib.nn.init.dirac_(t[..., None].expand(6, 4, 3, 5, 2)
                                                       .contiguous())),
    ]:
        outs = []
        for lib in (torch, ember):
            t = lib.nn.Parameter(lib.full((6, 4, 3, 5), 7.0))
            r = fn(lib, t)
            outs.append((to_np(r), to_np(t), r.requires_grad, r.grad_fn is None))
        np.testing.assert_array_equal(outs[0][0], outs[1][0], err_msg=name)
        np.testing.assert_array_equal(outs[0][1], outs[1][1], err_msg=name)
        assert outs[0][2:] == outs[1][2:]


def _bound_std(lib, name, shape, kwargs):
    t = lib.empty(*shape, dtype=lib.float64)
    getattr(lib.nn.init, name)(t, **kwargs)
    return to_np(t)


@pytest.mark.parametrize("name,kwargs,kind", [
    ("uniform_", {"a": -0.5, "b": 2.0}, "uniform"),
    ("normal_", {"mean": 1.5, "std": 0.3}, "normal"),
    ("xavier_uniform_", {}, "uniform"),
    ("xavier_uniform_", {"gain": 2.5}, "uniform"),
    ("xavier_normal_", {"gain": 0.5}, "normal"),
    ("kaiming_uniform_", {}, "uniform"),
    ("kaiming_uniform_", {"a": math.sqrt(5)}, "uniform"),
    ("kaiming_uniform_", {"mode": "fan_out", "nonlinearity": "relu"}, "uniform"),
    ("kaiming_normal_", {"mode": "FAN_OUT", "nonlinearity": "tanh"}, "normal"),
    ("kaiming_normal_", {"a": 0.1}, "normal"),
    ("trunc_normal_", {"mean": 0.2, "std": 0.5, "a": -0.3, "b": 1.0}, "trunc"),
])
def test_random_fills_follow_torchs_distribution(name, kwargs, kind):
    shape = (96, 40, 3, 3)  # 34560 samples
    torch.manual_seed(0)
    t = _bound_std(torch, name, shape, kwargs)
    e = _bound_std(ember, name, shape, kwargs)
    assert not np.array_equal(e, t)
    n = e.size
    # Moments within a few standard errors of torch's sample.
    assert abs(e.mean() - t.mean()) < 5 * t.std() / math.sqrt(n) * math.sqrt(2)
    assert abs(e.std() / t.std() - 1) < 0.03
    if kind in ("uniform", "trunc"):
        # The support: same bounds to within the gap between neighbouring samples.
        span = t.max() - t.min()
        assert abs(e.min() - t.min()) < span * 1e-3 and abs(e.max() - t.max()) < span * 1e-3
    if kind == "trunc":
        assert e.min() >= kwargs["a"] and e.max() <= kwargs["b"]


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float32", "float64"])
@pytest.mark.parametrize("name", ["uniform_", "normal_", "xavier_uniform_", "kaiming_normal_",
                                  "trunc_normal_", "orthogonal_", "sparse_", "constant_",
                                  "eye_", "zeros_", "ones_"])
def test_fills_keep_dtype_and_leaf_status(name, dtype):
    extra = {"sparse_": (0.5,), "constant_": (3.0,)}.get(name, ())
    if name == "orthogonal_" and dtype in ("float16", "bfloat16"):  # no half QR in torch
        e, t = check_error(lambda lib, x: lib.nn.init.orthogonal_(x.to(getattr(lib, dtype))),
                           np.zeros((3, 3), np.float32))
        assert str(e) == str(t)
        return
    for lib in (torch, ember):
        p = lib.nn.Parameter(lib.zeros(8, 6, dtype=getattr(lib, dtype)))
        v = p._version
        r = getattr(lib.nn.init, name)(p, *extra)
        assert r is p
        assert str(p.dtype).endswith(dtype) and p.is_leaf and p.requires_grad
        assert p._version > v
        assert np.isfinite(to_np(p)).all()


def test_generator_makes_fills_reproducible():
    for name, extra in [("uniform_", ()), ("normal_", ()), ("xavier_normal_", ()),
                        ("kaiming_uniform_", ()), ("trunc_normal_", ()), ("orthogonal_", ()),
                        ("sparse_", (0.3,))]:
        runs = []
        for _ in range(2):
            g = ember.Generator().manual_seed(123)
            t = ember.empty(7, 5)
            getattr(ember.nn.init, name)(t, *extra, generator=g)
            runs.append(t.numpy().copy())
        np.testing.assert_array_equal(runs[0], runs[1], err_msg=name)
        other = ember.empty(7, 5)
        getattr(ember.nn.init, name)(other, *extra, generator=ember.Generator().manual_seed(7))
        assert not np.array_equal(runs[0], other.numpy()), name


@pytest.mark.parametrize("shape", [(6, 4), (4, 6), (5, 2, 3), (3, 3, 2, 2), (1, 5)])
@pytest.mark.parametrize("gain", [1, 2.5])
def test_orthogonal_rows_or_columns_are_orthonormal(shape, gain):
    res = []
    for lib in (torch, ember):
        t = lib.empty(*shape, dtype=lib.float64)
        lib.nn.init.orthogonal_(t, gain=gain)
        flat = to_np(t).reshape(shape[0], -1)
        gram = flat @ flat.T if shape[0] <= flat.shape[1] else flat.T @ flat
        res.append(gram)
    np.testing.assert_allclose(res[1], res[0], atol=1e-12)
    np.testing.assert_allclose(res[1], gain ** 2 * np.eye(len(res[1])), atol=1e-12)


@pytest.mark.parametrize("sparsity", [0.0, 0.1, 0.5, 0.99, 1.0])
def test_sparse_zero_count_per_column(sparsity):
    counts = []
    for lib in (torch, ember):
        t = lib.empty(20, 7)
        lib.nn.init.sparse_(t, sparsity, std=0.5)
        counts.append((to_np(t) == 0).sum(axis=0))
    np.testing.assert_array_equal(counts[1], counts[0])


def test_trunc_normal_warns_like_torch_when_mean_is_far():
    for lib in (torch, ember):
        with pytest.warns(UserWarning, match="mean is more than 2 std"):
            lib.nn.init.trunc_normal_(lib.empty(10), mean=5.0)


def test_zero_element_kaiming_warns_and_returns():
    for lib in (torch, ember):
        t = lib.empty(0, 3)
        with pytest.warns(UserWarning, match="Initializing zero-element tensors is a no-op"):
            assert lib.nn.init.kaiming_uniform_(t) is t
        with pytest.warns(UserWarning):
            lib.nn.init.kaiming_normal_(t)
    ember.nn.init.xavier_uniform_(ember.empty(0, 3))


def test_deprecated_aliases_warn_and_fill():
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        t = ember.empty(3, 3)
        ember.nn.init.constant(t, 2.0)
        ember.nn.init.xavier_uniform(t)
    assert [str(w.message) for w in rec] == [
        "`nn.init.constant` is now deprecated in favor of `nn.init.constant_`.",
        "`nn.init.xavier_uniform` is now deprecated in favor of `nn.init.xavier_uniform_`."]
    assert all(w.category is FutureWarning for w in rec)


def test_public_names_match_torch():
    names = [n for n in dir(torch.nn.init) if not n.startswith("_") and callable(
        getattr(torch.nn.init, n)) and getattr(torch.nn.init, n).__module__ == "torch.nn.init"]
    missing = [n for n in names if not hasattr(ember.nn.init, n)]
    assert missing == []
