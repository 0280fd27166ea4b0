"""Datasets and random_split against torch.utils.data."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.utils.data as tud
from data_helpers import same_batch
from hypothesis import given, settings
from hypothesis import strategies as st

import ember
import ember.utils.data as eud


def both(fn):
    """fn(lib, data_module) for (ember, ember.utils.data) and (torch, torch.utils.data)."""
    return fn(ember, eud), fn(torch, tud)


X = np.arange(30, dtype=np.float64).reshape(10, 3)
Y = np.arange(10)


def test_tensor_dataset():
    e, t = both(lambda lib, d: d.TensorDataset(lib.from_numpy(X.copy()), lib.from_numpy(Y)))
    assert len(e) == len(t) == 10
    for i in (0, 3, -1, slice(2, 5)):
        same_batch(e[i], t[i])
    with pytest.raises(AssertionError, match="Size mismatch between tensors"):
        eud.TensorDataset(ember.zeros(3), ember.zeros(4))
    with pytest.raises(AssertionError):
        tud.TensorDataset(torch.zeros(3), torch.zeros(4))


def test_dataset_base_and_add():
    with pytest.raises(NotImplementedError, match="Subclasses of Dataset should implement"):
        eud.Dataset()[0]
    e = eud.TensorDataset(ember.arange(3)) + eud.TensorDataset(ember.arange(4))
    assert isinstance(e, eud.ConcatDataset) and len(e) == 7


class Squares:
    def __init__(self, lib, n):
        self.lib, self.n = lib, n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return i * i


def test_concat_dataset():
    e, t = both(lambda lib, d: d.ConcatDataset([list(range(3)), list(range(10, 15)), [99]]))
    assert e.cumulative_sizes == t.cumulative_sizes
    assert [e[i] for i in range(-9, 9)] == [t[i] for i in range(-9, 9)]
    for d in (eud, tud):
        ds = d.ConcatDataset([[1, 2]])
        with pytest.raises(ValueError, match="absolute value of index"):
            ds[-3]
        with pytest.raises(IndexError):
            ds[2]
        with pytest.raises(AssertionError, match="empty iterable"):
            d.ConcatDataset([])
        with pytest.raises(AssertionError, match="does not support IterableDataset"):
            d.ConcatDataset([Stream(d, 3)])


def Stream(d, n, start=0):
    class _S(d.IterableDataset):
        def __iter__(self):
            return iter(range(start, start + n))

        def __len__(self):
            return n
    return _S()


def test_chain_dataset_and_iterable_add():
    e, t = both(lambda lib, d: Stream(d, 3) + Stream(d, 2, 10))
    assert isinstance(e, eud.ChainDataset)
    assert list(e) == list(t) and len(e) == len(t) == 5
    bad = eud.ChainDataset([Stream(eud, 2), [1, 2]])
    with pytest.raises(AssertionError, match="ChainDataset only supports IterableDataset"):
        list(bad)
    with pytest.raises(AssertionError, match="ChainDataset only supports IterableDataset"):
        len(bad)


def test_subset_and_getitems():
    class WithGetitems(eud.Dataset):
        def __init__(self):
            self.calls = []

        def __getitem__(self, i):
            return i

        def __getitems__(self, idx):
            self.calls.append(list(idx))
            return [10 * i for i in idx]

        def __len__(self):
            return 10

    base = WithGetitems()
    sub = eud.Subset(base, [5, 1, 7])
    assert len(sub) == 3 and sub[0] == 5 and sub[-1] == 7
    assert sub.__getitems__([0, 2]) == [50, 70] and base.calls == [[5, 7]]
    e, t = both(lambda lib, d: d.Subset(list(range(10, 20)), [3, 4]))
    assert [e[0], e[1]] == [t[0], t[1]] and e.__getitems__([1, 0]) == t.__getitems__([1, 0])


def test_stack_dataset():
    e, t = both(lambda lib, d: d.StackDataset(list(range(4)), lib.from_numpy(np.arange(4.0))))
    same_batch(e[2], t[2])
    same_batch(e.__getitems__([0, 3]), t.__getitems__([0, 3]))
    e, t = both(lambda lib, d: d.StackDataset(a=list(range(4)), b=[str(i) for i in range(4)]))
    same_batch(e[1], t[1])
    same_batch(e.__getitems__([2, 1]), t.__getitems__([2, 1]))
    assert len(e) == len(t) == 4
    for d in (eud, tud):
        with pytest.raises(ValueError, match="Size mismatch between datasets"):
            d.StackDataset([1], [1, 2])
        with pytest.raises(ValueError, match="both types are given"):
            d.StackDataset([1], b=[1])
        with pytest.raises(ValueError, match="Size mismatch between datasets"):
            d.StackDataset(a=[1], b=[1, 2])


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 40), st.lists(st.floats(0.01, 1.0), min_size=1, max_size=5))
def test_random_split_lengths_match_torch(n, weights):
    fracs = [w / sum(weights) for w in weights]
    fracs[-1] = 1.0 - sum(fracs[:-1])
    data = list(range(n))
    for lengths in (fracs, None):
        if lengths is None:  # integer lengths summing to n
            lengths = [int(f * n) for f in fracs]
            lengths[-1] = n - sum(lengths[:-1])
            if lengths[-1] < 0:
                continue
        with np.errstate(all="ignore"):
            import warnings
            with warnings.catch_warnings(record=True) as ew:
                warnings.simplefilter("always")
                e = eud.random_split(data, lengths, generator=ember.Generator().manual_seed(0))
            with warnings.catch_warnings(record=True) as tw:
                warnings.simplefilter("always")
                t = tud.random_split(data, lengths, generator=torch.Generator().manual_seed(0))
        assert [len(s) for s in e] == [len(s) for s in t]
        assert [str(w.message) for w in ew] == [str(w.message) for w in tw]
        got = sorted(i for s in e for i in s)
        assert got == data  # a partition of the dataset


def test_random_split_errors_and_reproducibility():
    for d in (eud, tud):
        with pytest.raises(ValueError, match="Sum of input lengths does not equal"):
            d.random_split(list(range(5)), [2, 2])
        with pytest.raises(ValueError, match="Fraction at index 1 is not between 0 and 1"):
            d.random_split(list(range(5)), [0.5, 1.5, -1.0])
    a = eud.random_split(range(20), [5, 15], generator=ember.Generator().manual_seed(3))
    b = eud.random_split(range(20), [5, 15], generator=ember.Generator().manual_seed(3))
    assert list(a[0].indices) == list(b[0].indices)
    ember.manual_seed(1)
    c = eud.random_split(range(20), [0.5, 0.5])
    ember.manual_seed(1)
    assert list(c[1].indices) == list(eud.random_split(range(20), [0.5, 0.5])[1].indices)
