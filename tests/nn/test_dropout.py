"""Dropout: structure (zeros x scale), statistics, gradients, edge cases and errors vs torch.

Random streams differ from torch's, so values are checked by structure and statistics;
deterministic cases (p=0, p=1, eval mode, errors, warnings) are compared with torch.
"""
import ml_dtypes
import numpy as np
import pytest
import torch
from oracle import check, check_error, randn, to_ember

import ember

F = ember.nn.functional
ALPHA = 1.7580993408473766


@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_dropout_structure_statistics_and_grad(p):
    x = to_ember(randn(200, 500) + 3.0, True)  # no zeros in the input
    ember.manual_seed(0)
    y = F.dropout(x, p)
    assert y.grad_fn.name() == "MulBackward0" and y.dtype == ember.float64
    yn, xn = y.detach().numpy(), x.detach().numpy()
    kept = yn != 0
    np.testing.assert_allclose(yn[kept], xn[kept] / (1 - p), rtol=1e-12)
    frac = 1 - kept.mean()
    assert abs(frac - p) < 4 * np.sqrt(p * (1 - p) / kept.size)
    g = randn(200, 500, seed=1)
    y.backward(ember.tensor(g))
    np.testing.assert_allclose(x.grad.numpy(), g * kept / (1 - p), rtol=1e-12)


def test_dropout_seeded_and_half_precision():
    x = ember.randn(50, 50)
    ember.manual_seed(3)
    a = F.dropout(x, 0.3)
    ember.manual_seed(3)
    b = F.dropout(x, 0.3)
    assert ember.equal(a, b)
    assert not ember.equal(a, F.dropout(x, 0.3))  # the stream moved on
    for dt in (ember.float16, ember.bfloat16):
        h = (x.to(dt).abs() + 1)
        y = F.dropout(h, 0.3)
        assert y.dtype == dt
        scale = (ember.tensor(1.0 / 0.7).to(dt)).float()
        kept = y != 0
        assert ember.equal((h.float() * scale)[kept].to(dt), y[kept])


def test_dropout_identity_cases_match_torch():
    x = randn(3, 4)
    for kw in (dict(p=0.0), dict(p=0.5, training=False), dict(p=1.0), dict(p=1.0, inplace=False)):
        check(lambda lib, x: lib.nn.functional.dropout(x * 1, **kw), x)  # noqa: B023
    for fn, shape in [("dropout1d", (2, 3, 4)), ("dropout2d", (2, 3, 4, 2)),
                      ("dropout3d", (2, 3, 4, 2, 2)), ("alpha_dropout", (2, 3)),
                      ("feature_alpha_dropout", (2, 3, 4))]:
        check(lambda lib, x: getattr(lib.nn.functional, fn)(x * 1, 1.0, True),  # noqa: B023
              randn(*shape))
        check(lambda lib, x: getattr(lib.nn.functional, fn)(x * 1, 0.5, False),  # noqa: B023
              randn(*shape))
    e = to_ember(randn(3))
    assert F.dropout(e, 0.5, training=False) is e and F.dropout(e, 0.0) is e
    assert F.alpha_dropout(e, 0.5) is e  # alpha dropout defaults to training=False
    z = to_ember(randn(3), True)
    out = F.dropout(z, 1.0)
    assert out.grad_fn.name() == "MulBackward0" and not out.detach().numpy().any()
    out.sum().backward()
    assert not z.grad.numpy().any()
    check(lambda lib, x: lib.nn.functional.dropout(x, 0.5), np.zeros((0, 3)))


def test_dropout_inplace():
    x = ember.ones(100, 100)
    v = x._version
    y = F.dropout(x, 0.5, inplace=True)
    assert y is x and x._version > v
    assert set(np.unique(x.numpy())) <= {0.0, 2.0}
    check_error(lambda lib, t: lib.nn.functional.dropout(t.requires_grad_(), 0.5,
                                                         inplace=True), np.ones(3),
                match="leaf Variable that requires grad")
    base = ember.ones(50, 4, 1, 1, requires_grad=True)
    h = base * 1
    F.dropout2d(h, 0.5, inplace=True)
    assert h.grad_fn.name() == "MulBackward0"
    h.sum().backward()
    np.testing.assert_allclose(base.grad.numpy(), h.detach().numpy())


@pytest.mark.parametrize("fn,shape", [("dropout1d", (40, 30, 5)), ("dropout1d", (300, 5)),
                                      ("dropout2d", (40, 30, 2, 3)),
                                      ("dropout3d", (40, 30, 2, 2, 2)),
                                      ("dropout3d", (300, 2, 2, 2))])
def test_feature_dropout_zeroes_whole_channels(fn, shape):
    x = to_ember(np.abs(randn(*shape)) + 1, True)
    y = getattr(F, fn)(x, 0.4)
    yn = y.detach().numpy()
    batched = len(shape) == {"dropout1d": 3, "dropout2d": 4, "dropout3d": 5}[fn]
    per_channel = yn.reshape(shape[:2 if batched else 1] + (-1,))
    zero = (per_channel == 0).all(-1)
    assert ((per_channel != 0).all(-1) | zero).all()  # a channel is dropped whole or kept
    assert abs(zero.mean() - 0.4) < 0.1
    kept = yn != 0
    np.testing.assert_allclose(yn[kept], x.detach().numpy()[kept] / 0.6, rtol=1e-12)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), kept / 0.6, rtol=1e-12)


@pytest.mark.parametrize("feature", [False, True])
def test_alpha_dropout(feature):
    p = 0.3
    fn = F.feature_alpha_dropout if feature else F.alpha_dropout
    x = to_ember(randn(400, 500, 1), True)
    y = fn(x, p, True)
    assert y.grad_fn.name() == "AddBackward0"
    a = 1 / np.sqrt((ALPHA ** 2 * p + 1) * (1 - p))
    yn, xn = y.detach().numpy(), x.detach().numpy()
    dropped = np.isclose(yn, ALPHA * a * (p - 1), rtol=0, atol=1e-12)
    kept_val = a * xn + ALPHA * a * p
    assert np.allclose(np.where(dropped, kept_val, yn), kept_val, rtol=1e-12)
    assert abs(dropped.mean() - p) < 0.02
    if feature:
        assert (dropped.all(-1) | ~dropped.any(-1)).all()
    else:  # SELU's self-normalisation: zero mean and unit variance survive
        assert abs(yn.mean()) < 0.01 and abs(yn.std() - 1) < 0.01
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.where(dropped, 0.0, a), rtol=1e-12)


def test_dropout_errors_and_warnings():
    x = randn(2, 3, 8, 8)
    for fn in ("dropout", "alpha_dropout", "dropout2d", "feature_alpha_dropout"):
        check_error(lambda lib, x: getattr(lib.nn.functional, fn)(x, 1.5), x,  # noqa: B023
                    match="dropout probability has to be between 0 and 1, but got 1.5")
        check_error(lambda lib, x: getattr(lib.nn.functional, fn)(x, -0.1), x,  # noqa: B023
                    match="but got -0.1")
    check_error(lambda lib, x: lib.nn.functional.dropout1d(x), x,
                match="dropout1d: Expected 2D or 3D input, but received a 4D input")
    check_error(lambda lib, x: lib.nn.functional.dropout(x.long(), 0.5), x,
                match="result type Float can't be cast to the desired output type Long")
    check_error(lambda lib, x: lib.nn.functional.feature_alpha_dropout(x[0, 0, 0], 0.5, True), x,
                match="Feature dropout requires at least 2 dimensions")
    for fn, shape, match in [("dropout2d", (3, 8, 8), "assuming that channel-wise 1D dropout"),
                             ("dropout2d", (8, 8), "Received a 2-D input to dropout2d"),
                             ("dropout3d", (3, 8, 8), "Received a 3-D input to dropout3d")]:
        for lib in (torch, ember):
            t = lib.ones(*shape)
            with pytest.warns(UserWarning, match=match):
                getattr(lib.nn.functional, fn)(t)
    e = ember.tensor(np.ones((2, 3), ml_dtypes.bfloat16))
    assert F.dropout(e, 0.5).dtype == ember.bfloat16


# ----------------------------------------------------------------- modules
@pytest.mark.parametrize("name,shape", [("Dropout", (40, 50)), ("Dropout1d", (40, 50, 3)),
                                        ("Dropout2d", (40, 50, 2, 2)),
                                        ("Dropout3d", (40, 50, 2, 1, 2)),
                                        ("AlphaDropout", (40, 50)),
                                        ("FeatureAlphaDropout", (40, 50, 3))])
def test_dropout_modules(name, shape):
    for kw in ({}, dict(p=0.2, inplace=True)):
        tm, em = getattr(torch.nn, name)(**kw), getattr(ember.nn, name)(**kw)
        assert repr(em) == repr(tm)
    em = getattr(ember.nn, name)(p=0.3)
    x = to_ember(randn(*shape) + 5, True)
    assert em.training
    y = em(x)
    frac = (y.detach().numpy() != y.detach().numpy().flat[0]).mean()  # not all one value
    assert frac > 0.1 and not np.allclose(y.detach().numpy(), x.detach().numpy())
    em.eval()
    assert em(x) is x  # identity in eval mode, as torch returns its input
    check_error(lambda lib, x: getattr(lib.nn, name)(p=1.5), randn(1),  # noqa: B023
                match="dropout probability has to be between 0 and 1, but got 1.5")
