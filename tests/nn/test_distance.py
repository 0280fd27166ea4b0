"""F.cosine_similarity and F.pairwise_distance against torch (broadcasting, dims, eps,
dtypes, gradients of first and second order, errors) and their modules."""
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from oracle import assert_same, check, check_error, randn, to_ember, to_torch

import ember


def F(lib):
    return lib.nn.functional


def second_order(fn, *xs, seed=1):
    """Gradient and Hessian-vector product (create_graph=True) against torch's."""
    results = []
    for lib, conv in ((torch, to_torch), (ember, to_ember)):
        rng = np.random.default_rng(seed)
        ts = [conv(x, True) for x in xs]
        y = fn(lib, *ts)
        w = conv(rng.standard_normal(tuple(y.shape)))
        gs = lib.autograd.grad((y * w).sum(), ts, create_graph=True)
        vs = [conv(rng.standard_normal(x.shape)) for x in xs]
        hs = lib.autograd.grad(sum((g * v).sum() for g, v in zip(gs, vs)), ts)
        results.append((gs, hs))
    (tg, th), (eg, eh) = results
    assert_same(list(eg), list(tg), what="gradient")
    assert_same(list(eh), list(th), what="second derivative")


@pytest.mark.parametrize("s1,s2,dim", [((4, 5), (4, 5), 1), ((4, 5), (4, 5), 0),
                                       ((3, 4, 5), (4, 5), -1), ((3, 1, 5), (1, 4, 5), 2),
                                       ((6,), (6,), 0), ((2, 3, 4), (2, 3, 4), 1)])
def test_cosine_similarity(s1, s2, dim):
    check(lambda lib, a, b: F(lib).cosine_similarity(a, b, dim), randn(*s1, seed=1),
          randn(*s2, seed=2))
    second_order(lambda lib, a, b: F(lib).cosine_similarity(a, b, dim), randn(*s1, seed=3),
                 randn(*s2, seed=4))


def test_cosine_similarity_misc():
    check(lambda lib, a, b: F(lib).cosine_similarity(a, b, eps=0.5), randn(3, 4) * 0.1,
          randn(3, 4, seed=1))
    check(lambda lib, a, b: F(lib).cosine_similarity(a.t(), b), randn(4, 3),
          randn(3, 4, seed=1))
    check(lambda lib, a, b: F(lib).cosine_similarity(a, b), randn(3, 4, dtype=np.float32),
          randn(3, 4, dtype=np.float64, seed=1))
    check(lambda lib, a, b: F(lib).cosine_similarity(a, b), randn(3, 4, dtype=np.float16),
          randn(3, 4, dtype=np.float16, seed=1), rtol=1e-2, atol=1e-2)
    check(lambda lib, a, b: F(lib).cosine_similarity(a, b), randn(0, 4), randn(0, 4))
    check(lambda lib, a, b: F(lib).cosine_similarity(a, b), np.arange(12).reshape(3, 4),
          randn(3, 4, dtype=np.float32))
    check_error(lambda lib, a, b: F(lib).cosine_similarity(a, b), randn(2, 3), randn(3, 3),
                match="The size of tensor a")
    check_error(lambda lib, a, b: F(lib).cosine_similarity(a, b), np.ones((3, 4), np.int64),
                np.ones((3, 4), np.int64),
                match="expected common dtype to be floating point, yet common dtype is Long")
    check_error(lambda lib, a, b: F(lib).cosine_similarity(a, b, 3), randn(2, 3), randn(2, 3),
                match="Dimension out of range")


@pytest.mark.parametrize("p", [2.0, 1.0, 3.0, 0.5, float("inf")])
@pytest.mark.parametrize("s1,s2", [((4, 5), (4, 5)), ((3, 4, 5), (4, 5)), ((6,), (6,)),
                                   ((4, 5), (1, 5))])
def test_pairwise_distance(p, s1, s2):
    check(lambda lib, a, b: F(lib).pairwise_distance(a, b, p), randn(*s1, seed=1),
          randn(*s2, seed=2))
    check(lambda lib, a, b: F(lib).pairwise_distance(a, b, p, 1e-3, True), randn(*s1, seed=1),
          randn(*s2, seed=2))


def test_pairwise_distance_misc():
    second_order(lambda lib, a, b: F(lib).pairwise_distance(a, b), randn(3, 4, seed=3),
                 randn(3, 4, seed=4))
    check(lambda lib, a, b: F(lib).pairwise_distance(a, b), np.arange(12).reshape(3, 4),
          np.ones((3, 4), np.int64))
    check(lambda lib, a, b: F(lib).pairwise_distance(a, b), randn(3, 4, dtype=np.float32),
          randn(3, 4, dtype=np.float32, seed=1))
    check(lambda lib, a, b: F(lib).pairwise_distance(a, b), np.array(1.5), np.array(0.5))
    check_error(lambda lib, a, b: F(lib).pairwise_distance(a, b), randn(2, 3), randn(3, 3),
                match="The size of tensor a")


@settings(max_examples=25, deadline=None)
@given(shape=st.lists(st.integers(1, 4), min_size=1, max_size=3), seed=st.integers(0, 500),
       p=st.sampled_from([1.0, 2.0, 3.0]), dim=st.integers(-1, 0))
def test_hypothesis(shape, seed, p, dim):
    a, b = randn(*shape, seed=seed), randn(*shape, seed=seed + 1)
    check(lambda lib, a, b: F(lib).pairwise_distance(a, b, p), a, b)
    check(lambda lib, a, b: F(lib).cosine_similarity(a, b, dim), a, b)


def test_modules():
    for t_mod, e_mod in [(torch.nn.CosineSimilarity(), ember.nn.CosineSimilarity()),
                         (torch.nn.CosineSimilarity(dim=0, eps=1e-3),
                          ember.nn.CosineSimilarity(dim=0, eps=1e-3)),
                         (torch.nn.PairwiseDistance(), ember.nn.PairwiseDistance()),
                         (torch.nn.PairwiseDistance(1.0, 1e-3, True),
                          ember.nn.PairwiseDistance(1.0, 1e-3, True))]:
        assert repr(e_mod) == repr(t_mod)
        assert list(e_mod.state_dict()) == []
        check(lambda lib, a, b, t_mod=t_mod, e_mod=e_mod: (t_mod if lib is torch else e_mod)(a, b),
              randn(3, 4, seed=5), randn(3, 4, seed=6))
