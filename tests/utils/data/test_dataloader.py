"""DataLoader semantics against torch's: batches, order, len, arguments, warnings, errors."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
import torch.utils.data as tud
from data_helpers import same_batch
from hypothesis import given, settings
from hypothesis import strategies as st

import ember
import ember.utils.data as eud


class MapDS:
    """A map-style dataset of (features, label, name) built for one library."""

    def __init__(self, lib, n=10):
        self.x = lib.from_numpy(np.arange(n * 3, dtype=np.float32).reshape(n, 3))
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return {"x": self.x[i], "y": i, "name": f"s{i}", "w": np.float64(i) / 2}


def make_iterable(d, n, with_len=True, shard=False):
    class Stream(d.IterableDataset):
        def __iter__(self):
            start, step = 0, 1
            info = d.get_worker_info()
            if shard and info is not None:
                start, step = info.id, info.num_workers
            return iter(range(start, n, step))

    if with_len:
        Stream.__len__ = lambda self: n
    return Stream()


def both(make_loader):
    """Run make_loader(lib, data_module) for both libraries; return the lists of batches."""
    e = list(make_loader(ember, eud))
    t = list(make_loader(torch, tud))
    return e, t


@pytest.mark.parametrize("batch_size,drop_last", [(1, False), (3, False), (3, True), (10, False),
                                                  (16, False), (16, True), (None, False)])
def test_map_batches_match_torch(batch_size, drop_last):
    def make(lib, d):
        return d.DataLoader(MapDS(lib), batch_size=batch_size, drop_last=drop_last)
    e, t = both(make)
    same_batch(e, t)
    assert len(make(ember, eud)) == len(make(torch, tud)) == len(t)


def test_sampler_batch_sampler_and_collate_fn():
    order = [4, 1, 7, 7, 0]
    same_batch(*both(lambda lib, d: d.DataLoader(MapDS(lib), batch_size=2, sampler=order)))
    same_batch(*both(lambda lib, d: d.DataLoader(MapDS(lib), batch_sampler=[[1, 2], [9], [0]])))
    same_batch(*both(lambda lib, d: d.DataLoader(MapDS(lib), batch_size=4,
                                                 collate_fn=lambda b: [s["y"] for s in b])))
    same_batch(*both(lambda lib, d: d.DataLoader(MapDS(lib), batch_size=None, sampler=[3, 1])))


def test_shuffle_is_a_permutation_and_seeded():
    def run(seed):
        dl = eud.DataLoader(list(range(20)), batch_size=6, shuffle=True,
                            generator=ember.Generator().manual_seed(seed))
        return [b.tolist() for b in dl]
    a = run(0)
    assert a == run(0) and a != run(1)
    assert [len(b) for b in a] == [6, 6, 6, 2]
    assert sorted(sum(a, [])) == list(range(20))
    ember.manual_seed(3)
    first = [b.tolist() for b in eud.DataLoader(list(range(20)), batch_size=6, shuffle=True)]
    ember.manual_seed(3)
    assert first == [b.tolist() for b in eud.DataLoader(list(range(20)), batch_size=6,
                                                        shuffle=True)]


@pytest.mark.parametrize("batch_size,drop_last", [(None, False), (1, False), (3, False),
                                                  (3, True)])
def test_iterable_dataset_batches_and_len(batch_size, drop_last):
    def make(lib, d):
        return d.DataLoader(make_iterable(d, 10), batch_size=batch_size, drop_last=drop_last)
    e, t = both(make)
    same_batch(e, t)
    assert len(make(ember, eud)) == len(make(torch, tud))


def test_iterable_len_warning_matches_torch():
    msgs = []
    for d in (eud, tud):
        class Liar(d.IterableDataset):
            def __iter__(self):
                return iter(range(5))

            def __len__(self):
                return 3
        dl = d.DataLoader(Liar(), batch_size=None)
        assert len(dl) == 3
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            assert len(list(dl)) == 5
        msgs.append([str(x.message).replace(repr(dl.dataset), "DS") for x in w])
    assert len(msgs[0]) == 2 and msgs[0] == msgs[1]


def test_iterable_dataset_without_len():
    for d in (eud, tud):
        dl = d.DataLoader(make_iterable(d, 5, with_len=False), batch_size=2)
        with pytest.raises(TypeError):
            len(dl)
        assert len(list(dl)) == 3


def test_argument_errors_match_torch():
    ds = list(range(4))
    cases = [
        dict(num_workers=-1), dict(timeout=-1), dict(prefetch_factor=2),
        dict(num_workers=1, prefetch_factor=-1), dict(persistent_workers=True),
        dict(shuffle=True, sampler=[0, 1]), dict(batch_sampler=[[0]], batch_size=2),
        dict(batch_sampler=[[0]], shuffle=True), dict(batch_sampler=[[0]], drop_last=True),
        dict(batch_size=None, drop_last=True),
        dict(multiprocessing_context="fork"),
        dict(num_workers=1, multiprocessing_context="nonsense"),
    ]
    for kw in cases:
        with pytest.raises(Exception) as te:
            tud.DataLoader(ds, **kw)
        with pytest.raises(type(te.value)) as ee:
            eud.DataLoader(ds, **kw)
        assert str(ee.value) == str(te.value), kw
    with pytest.raises(TypeError, match="multiprocessing_context option should be a valid"):
        eud.DataLoader(ds, num_workers=1, multiprocessing_context=3)
    for kw in (dict(shuffle=True), dict(sampler=[0]), dict(batch_sampler=[[0]])):
        with pytest.raises(ValueError) as te:
            tud.DataLoader(make_iterable(tud, 3), **kw)
        with pytest.raises(ValueError) as ee:
            eud.DataLoader(make_iterable(eud, 3), **kw)
        assert str(ee.value).split(", but")[0] == str(te.value).split(", but")[0]
    for d in (eud, tud):  # timeout without workers: accepted, refused at iter()
        with pytest.raises(AssertionError, match="requires timeout == 0"):
            iter(d.DataLoader(ds, timeout=1))
    dl = eud.DataLoader(ds)
    with pytest.raises(ValueError, match="batch_size attribute should not be set after "
                                         "DataLoader is initialized"):
        dl.batch_size = 3
    dl.num_workers = 0  # not a frozen attribute


def test_pin_memory_without_accelerator_warns_and_keeps_values():
    for d in (eud, tud):
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            out = list(d.DataLoader(list(range(4)), batch_size=2, pin_memory=True))
        assert [b.tolist() for b in out] == [[0, 1], [2, 3]]
        assert any("no accelerator is found" in str(x.message) for x in w)


def test_too_many_workers_warning():
    import os
    n = len(os.sched_getaffinity(0)) + 1
    with pytest.warns(UserWarning, match=f"This DataLoader will create {n} worker processes"):
        eud.DataLoader([1], num_workers=n)


def test_tensor_dataset_end_to_end_with_grad_free_batches():
    x = np.random.default_rng(0).standard_normal((9, 2))
    e = list(eud.DataLoader(eud.TensorDataset(ember.from_numpy(x), ember.arange(9)),
                            batch_size=4))
    t = list(tud.DataLoader(tud.TensorDataset(torch.from_numpy(x), torch.arange(9)),
                            batch_size=4))
    same_batch(e, t)


def test_iterator_is_not_picklable():
    import pickle
    with pytest.raises(NotImplementedError, match="cannot be pickled"):
        pickle.dumps(iter(eud.DataLoader([1, 2])))


def test_generic_subscripting_as_in_torch():
    class Evens(eud.Sampler[int]):
        def __init__(self, n):
            self.n = n

        def __iter__(self):
            return iter(range(0, self.n, 2))

        def __len__(self):
            return (self.n + 1) // 2

    class Squares(eud.Dataset[int]):
        def __getitem__(self, i):
            return i * i

    class Stream(eud.IterableDataset[int]):
        def __iter__(self):
            return iter([1, 2])

    dl = eud.DataLoader(Squares(), batch_size=2, sampler=Evens(7))
    assert [b.tolist() for b in dl] == [[0, 4], [16, 36]] and len(dl) == 2
    assert [int(x) for x in eud.DataLoader(Stream(), batch_size=None)] == [1, 2]


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 25), st.one_of(st.none(), st.integers(1, 9)), st.booleans(),
       st.booleans())
def test_batching_matches_torch(n, batch_size, drop_last, iterable):
    drop_last = drop_last and batch_size is not None

    def make(lib, d):
        ds = make_iterable(d, n) if iterable else list(range(n))
        return d.DataLoader(ds, batch_size=batch_size, drop_last=drop_last)
    e, t = both(make)
    same_batch(e, t)
    assert len(make(ember, eud)) == len(make(torch, tud))
