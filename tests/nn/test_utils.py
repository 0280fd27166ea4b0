"""nn.utils (gradient clipping, parameter/vector conversion) against torch."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from oracle import assert_same, check_error, randn

import ember

DTYPES = {"float64": np.float64, "float32": np.float32, "float16": np.float16}


def params_with_grads(lib, specs, seed=0):
    """Parameters of the given (shape, dtype, has_grad) with gradients set from NumPy."""
    out = []
    for i, (shape, dtype, has_grad) in enumerate(specs):
        p = lib.nn.Parameter(lib.tensor(randn(*shape, seed=seed + i).astype(DTYPES[dtype])))
        if has_grad:
            g = randn(*shape, seed=100 + seed + i).astype(DTYPES[dtype]) * (i + 1)
            p.grad = lib.tensor(g)
        out.append(p)
    return out


SPECS = [((3, 4), "float32", True), ((5,), "float32", True), ((2, 2, 2), "float32", False),
         ((), "float32", True)]
MIXED = [((3, 4), "float64", True), ((5,), "float32", True), ((4,), "float16", True)]


@pytest.mark.parametrize("specs", [SPECS, MIXED, SPECS[:1]])
@pytest.mark.parametrize("norm_type", [2.0, 1, 3.5, float("inf"), "inf", 0.5])
@pytest.mark.parametrize("max_norm", [0.5, 1e4])
def test_clip_grad_norm_matches_torch(specs, norm_type, max_norm):
    res = []
    for lib in (torch, ember):
        ps = params_with_grads(lib, specs)
        total = lib.nn.utils.clip_grad_norm_(ps, max_norm, norm_type)
        res.append((total, [p.grad for p in ps]))
    assert_same(res[1][0], res[0][0], what="total norm")
    for i, (e, t) in enumerate(zip(res[1][1], res[0][1])):
        if t is None:
            assert e is None
        else:
            assert_same(e, t, what=f"grad {i}")


@settings(max_examples=25, deadline=None)
@given(shapes=st.lists(st.lists(st.integers(0, 4), max_size=3), min_size=1, max_size=4),
       norm_type=st.sampled_from([1.0, 2.0, 3.0, float("inf")]),
       max_norm=st.floats(0.01, 10.0), seed=st.integers(0, 1000))
def test_clip_grad_norm_hypothesis(shapes, norm_type, max_norm, seed):
    specs = [(tuple(s), "float64", True) for s in shapes]
    if norm_type == float("inf") and any(0 in s for s in shapes):  # no identity for max
        def run(lib):
            lib.nn.utils.clip_grad_norm_(params_with_grads(lib, specs, seed), 1.0, norm_type)
        e, t = check_error(run)
        assert str(e) == str(t)
        return
    res = []
    for lib in (torch, ember):
        ps = params_with_grads(lib, specs, seed)
        total = lib.nn.utils.clip_grad_norm_(iter(ps), max_norm, norm_type=norm_type)
        res.append([total] + [p.grad for p in ps])
    assert_same(res[1], res[0])


def test_clip_grad_norm_single_tensor_and_no_grads():
    for lib_pair in [(torch, ember)]:
        res = []
        for lib in lib_pair:
            (p,) = params_with_grads(lib, [((4,), "float32", True)])
            total = lib.nn.utils.clip_grad_norm_(p, 0.1)
            (q,) = params_with_grads(lib, [((4,), "float32", False)])
            none_total = lib.nn.utils.clip_grad_norm_([q], 0.1)
            empty_total = lib.nn.utils.clip_grad_norm_([], 0.1)
            res.append((total, p.grad, none_total, empty_total, q.grad))
        assert_same(res[1][:4], res[0][:4])
        assert res[1][4] is None and res[0][4] is None


def test_clip_grad_norm_warns_on_empty_generator():
    for lib in (torch, ember):
        with pytest.warns(UserWarning, match="empty generator, no gradient clipping"):
            lib.nn.utils.clip_grad_norm_((p for p in []), 1.0)


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_clip_grad_norm_error_if_nonfinite(bad):
    def run(lib, g):
        p = lib.nn.Parameter(lib.zeros(3))
        p.grad = g
        return lib.nn.utils.clip_grad_norm_([p], 1.0, error_if_nonfinite=True)
    g = np.array([1.0, bad, 2.0], np.float32)
    e, t = check_error(run, g)
    assert str(e) == str(t)
    # Without the flag both scale by the non-finite norm.
    res = []
    for lib in (torch, ember):
        p = lib.nn.Parameter(lib.zeros(3))
        p.grad = lib.tensor(g)
        res.append((lib.nn.utils.clip_grad_norm_([p], 1.0), p.grad))
    assert_same(res[1], res[0])


def test_clip_grad_norm_deprecated_alias_and_parts():
    res = []
    for lib in (torch, ember):
        ps = params_with_grads(lib, SPECS)
        with pytest.warns(FutureWarning, match="clip_grad_norm` is now deprecated"):
            a = lib.nn.utils.clip_grad_norm(ps, 1.0)
        ps2 = params_with_grads(lib, MIXED)
        total = lib.nn.utils.get_total_norm([p.grad for p in ps2], 3.0)
        lib.nn.utils.clip_grads_with_norm_(ps2, 0.7, total)
        single = lib.nn.utils.get_total_norm(ps2[0].grad)
        res.append([a, total, single] + [p.grad for p in ps2])
    assert_same(res[1], res[0])


def test_clip_grad_norm_does_not_record_a_graph():
    p = ember.nn.Parameter(ember.ones(3))
    (p * p).sum().backward(create_graph=True)
    assert p.grad.requires_grad
    total = ember.nn.utils.clip_grad_norm_([p], 1.0)
    assert not total.requires_grad


@pytest.mark.parametrize("specs", [SPECS, MIXED])
@pytest.mark.parametrize("clip", [0.3, 2, 100.0])
def test_clip_grad_value_matches_torch(specs, clip):
    res = []
    for lib in (torch, ember):
        ps = params_with_grads(lib, specs)
        r = lib.nn.utils.clip_grad_value_(ps, clip, foreach=None)
        (single,) = params_with_grads(lib, [((3,), "float64", True)])
        lib.nn.utils.clip_grad_value_(single, clip)
        res.append((r, [p.grad for p in ps], single.grad))
    assert res[1][0] is None and res[0][0] is None
    for e, t in zip(res[1][1], res[0][1]):
        assert (e is None and t is None) or assert_same(e, t) is None
    assert_same(res[1][2], res[0][2])


def test_parameters_to_vector_values_and_gradient():
    x = [randn(2, 3), randn(4, seed=1), randn(seed=2), randn(0, 2, seed=3)]

    def run(lib, *ps):
        return lib.nn.utils.parameters_to_vector(ps) * lib.arange(11.0, dtype=lib.float64)
    from oracle import check
    check(run, *x)


def test_parameters_to_vector_rejects_non_contiguous_like_torch():
    check_error(lambda lib, a: lib.nn.utils.parameters_to_vector([a.t()]), randn(3, 2))


def test_vector_to_parameters_round_trip_and_memory():
    res = []
    for lib in (torch, ember):
        ps = [lib.nn.Parameter(lib.zeros(2, 3, dtype=lib.float64)),
              lib.nn.Parameter(lib.zeros(4, dtype=lib.float64))]
        vec = lib.tensor(randn(10))
        lib.nn.utils.vector_to_parameters(vec, ps)
        with lib.no_grad():
            vec[0] = 100.0  # the parameters now share vec's memory
        res.append([p.detach().clone() for p in ps] +
                   [lib.nn.utils.parameters_to_vector(ps).detach()] +
                   [ps[0].requires_grad, type(ps[0]).__name__])
    assert_same(res[1][:3], res[0][:3])
    assert res[1][3:] == res[0][3:]


def test_vector_to_parameters_type_error():
    e, t = check_error(lambda lib, a: lib.nn.utils.vector_to_parameters(
        a.tolist(), [lib.nn.Parameter(lib.zeros(2))]), randn(2))
    assert str(e) == str(t)


def test_public_names():
    for name in ("clip_grad_norm_", "clip_grad_norm", "clip_grad_value_", "get_total_norm",
                 "clip_grads_with_norm_", "parameters_to_vector", "vector_to_parameters"):
        assert callable(getattr(ember.nn.utils, name)), name
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ember.nn.utils.clip_grad_norm_([], 1.0)  # an empty list is not a generator: no warning
