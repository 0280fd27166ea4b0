"""Samplers and DistributedSampler against torch.utils.data."""
from __future__ import annotations

import collections

import pytest
import torch
import torch.utils.data as tud
from hypothesis import given, settings
from hypothesis import strategies as st

import ember
import ember.utils.data as eud


def test_sequential_sampler():
    assert list(eud.SequentialSampler(range(5))) == list(tud.SequentialSampler(range(5)))
    assert len(eud.SequentialSampler(range(5))) == 5


@pytest.mark.parametrize("replacement,num_samples", [(False, None), (False, 23), (False, 4),
                                                     (True, None), (True, 50)])
def test_random_sampler_structure(replacement, num_samples):
    data = list(range(10))
    e = list(eud.RandomSampler(data, replacement, num_samples,
                               generator=ember.Generator().manual_seed(0)))
    t = list(tud.RandomSampler(data, replacement, num_samples,
                               generator=torch.Generator().manual_seed(0)))
    assert len(e) == len(t) == len(eud.RandomSampler(data, replacement, num_samples))
    assert all(0 <= i < 10 for i in e)
    if not replacement:  # whole permutations, then part of one (as torch)
        k = len(t) // 10
        for seq in (e, t):
            counts = collections.Counter(seq)
            assert all(k <= counts[i] <= k + 1 for i in data)
            assert len(set(seq[k * 10:])) == len(t) % 10


def test_random_sampler_seeding():
    data = list(range(100))
    a = list(eud.RandomSampler(data, generator=ember.Generator().manual_seed(5)))
    b = list(eud.RandomSampler(data, generator=ember.Generator().manual_seed(5)))
    assert a == b and a != data and sorted(a) == data
    ember.manual_seed(7)
    c = list(eud.RandomSampler(data))
    ember.manual_seed(7)
    assert c == list(eud.RandomSampler(data))
    s = eud.RandomSampler(data)
    assert list(s) != list(s)  # every epoch reshuffles


def test_random_sampler_errors():
    for d in (eud, tud):
        with pytest.raises(TypeError, match="replacement should be a boolean value"):
            d.RandomSampler([1], replacement=1)
        with pytest.raises(ValueError, match="num_samples should be a positive integer value"):
            d.RandomSampler([1], num_samples=0)
        with pytest.raises(ValueError, match="num_samples should be a positive integer value"):
            d.RandomSampler([], num_samples=None)


def test_subset_random_sampler():
    idx = [3, 9, 4, 7]
    e = list(eud.SubsetRandomSampler(idx, generator=ember.Generator().manual_seed(1)))
    assert sorted(e) == sorted(idx) and len(eud.SubsetRandomSampler(idx)) == 4
    assert e == list(eud.SubsetRandomSampler(idx, generator=ember.Generator().manual_seed(1)))


def test_weighted_random_sampler():
    w = [0.0, 1.0, 0.0, 3.0]
    e = list(eud.WeightedRandomSampler(w, 400, generator=ember.Generator().manual_seed(0)))
    assert len(e) == 400 and set(e) == {1, 3}
    assert 0.65 < e.count(3) / 400 < 0.85
    no_rep = list(eud.WeightedRandomSampler([1, 1, 1, 1], 4, replacement=False))
    assert sorted(no_rep) == [0, 1, 2, 3]
    assert len(eud.WeightedRandomSampler(w, 7)) == 7
    for d in (eud, tud):
        with pytest.raises(ValueError, match="num_samples should be a positive integer"):
            d.WeightedRandomSampler(w, 0)
        with pytest.raises(ValueError, match="replacement should be a boolean value"):
            d.WeightedRandomSampler(w, 2, replacement=0)
        with pytest.raises(ValueError, match="weights should be a 1d sequence but given weights "
                                             r"have shape \(1, 4\)"):
            d.WeightedRandomSampler([w], 2)


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 30), st.integers(1, 8), st.booleans())
def test_batch_sampler_matches_torch(n, bs, drop_last):
    e = eud.BatchSampler(eud.SequentialSampler(range(n)), bs, drop_last)
    t = tud.BatchSampler(tud.SequentialSampler(range(n)), bs, drop_last)
    assert list(e) == list(t) and len(e) == len(t)
    assert list(eud.BatchSampler(range(n), bs, drop_last)) == list(t)


def test_batch_sampler_errors():
    for d in (eud, tud):
        for bad in (0, -1, 2.0, True):
            with pytest.raises(ValueError, match="batch_size should be a positive integer"):
                d.BatchSampler(range(3), bad, False)
        with pytest.raises(ValueError, match="drop_last should be a boolean value"):
            d.BatchSampler(range(3), 2, 1)


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 40), st.integers(1, 7), st.booleans(), st.integers(0, 3))
def test_distributed_sampler_partitions_match_torch(n, replicas, drop_last, epoch):
    data = list(range(n))
    parts_e, parts_t = [], []
    for rank in range(replicas):
        e = eud.DistributedSampler(data, replicas, rank, shuffle=False, drop_last=drop_last)
        t = tud.DistributedSampler(data, replicas, rank, shuffle=False, drop_last=drop_last)
        e.set_epoch(epoch)
        t.set_epoch(epoch)
        assert len(e) == len(t) and e.total_size == t.total_size
        parts_e.append(list(e))
        parts_t.append(list(t))
    assert parts_e == parts_t
    # Shuffled: same sizes and the same padding rule over a permutation.
    shuffled = [list(eud.DistributedSampler(data, replicas, r, seed=3, drop_last=drop_last))
                for r in range(replicas)]
    assert [len(p) for p in shuffled] == [len(p) for p in parts_t]
    flat = [i for p in shuffled for i in p]
    if drop_last:
        assert len(set(flat)) == len(flat)
    else:
        assert set(flat) == set(data)


def test_distributed_sampler_epochs_and_errors():
    data = list(range(20))
    s = eud.DistributedSampler(data, 2, 0, seed=1)
    first = list(s)
    assert first == list(s)  # same epoch, same order
    s.set_epoch(1)
    assert first != list(s)
    other = eud.DistributedSampler(data, 2, 1, seed=1)
    assert sorted(first + list(other)) == data
    for d in (eud, tud):
        with pytest.raises(ValueError, match=r"Invalid rank 2, rank should be in the interval "
                                             r"\[0, 1\]"):
            d.DistributedSampler(data, 2, 2)
        with pytest.raises(ValueError, match="Invalid rank -1"):
            d.DistributedSampler(data, 2, -1)


def test_distributed_sampler_without_process_group():
    for d in (eud, tud):
        with pytest.raises(ValueError, match="Default process group has not been initialized"):
            d.DistributedSampler(list(range(4)))
