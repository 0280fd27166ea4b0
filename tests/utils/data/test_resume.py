"""DataLoader.state_dict()/load_state_dict(): a restarted run continues mid-epoch exactly."""
from __future__ import annotations

import pickle

import pytest
from test_dataloader import make_iterable

import ember
import ember.utils.data as eud


def batches(it, n=None):
    out = []
    for b in it:
        out.append(b.tolist())
        if n is not None and len(out) == n:
            break
    return out


def run_and_resume(make_loader, stop_after, seed=0):
    """Take `stop_after` batches, checkpoint, finish; then a fresh loader resumes."""
    ember.manual_seed(seed)
    loader = make_loader()
    it = iter(loader)
    head = batches(it, stop_after)
    state = pickle.loads(pickle.dumps(loader.state_dict()))  # checkpoints are pickled
    tail = batches(it)
    del it
    ember.manual_seed(12345)  # the restarted process is in a different global state
    restarted = make_loader()
    restarted.load_state_dict(state)
    before = ember.random.get_rng_state()
    resumed = batches(iter(restarted))
    assert (ember.random.get_rng_state() == before).all()  # global stream untouched
    return head, tail, resumed


@pytest.mark.parametrize("num_workers", [0, pytest.param(2, marks=pytest.mark.slow)])
@pytest.mark.parametrize("how", ["global", "loader_generator", "sampler_generator"])
def test_resume_shuffled_map_dataset(num_workers, how):
    def make():
        kw = dict(batch_size=3, num_workers=num_workers)
        if how == "global":
            return eud.DataLoader(list(range(20)), shuffle=True, **kw)
        if how == "loader_generator":
            return eud.DataLoader(list(range(20)), shuffle=True,
                                  generator=ember.Generator().manual_seed(7), **kw)
        s = eud.RandomSampler(range(20), generator=ember.Generator().manual_seed(7))
        return eud.DataLoader(list(range(20)), sampler=s, **kw)

    head, tail, resumed = run_and_resume(make, 3)
    assert len(head) == 3 and resumed == tail
    assert sorted(sum(head + tail, [])) == list(range(20))


@pytest.mark.slow
def test_resume_persistent_workers_and_next_epoch():
    def make():
        return eud.DataLoader(list(range(12)), batch_size=2, shuffle=True, num_workers=2,
                              persistent_workers=True,
                              generator=ember.Generator().manual_seed(1))
    loader = make()
    first_epoch = batches(loader)
    it = iter(loader)
    head = batches(it, 2)
    state = loader.state_dict()
    tail = batches(it)
    assert state["num_yielded"] == 2 and head + tail != first_epoch
    again = make()
    again.load_state_dict(state)
    assert batches(again) == tail
    assert len(batches(again)) == 6  # the following epoch is a whole one
    for ld in (loader, again):
        ld._iterator._shutdown_workers()


@pytest.mark.parametrize("num_workers", [0, pytest.param(2, marks=pytest.mark.slow)])
def test_resume_iterable_dataset(num_workers):
    def make():
        return eud.DataLoader(make_iterable(eud, 11, shard=True), batch_size=2,
                              num_workers=num_workers)
    head, tail, resumed = run_and_resume(make, 2)
    assert resumed == tail and len(head) == 2


def test_state_dict_edges():
    loader = eud.DataLoader(list(range(6)), batch_size=2, shuffle=True)
    assert loader.state_dict()["num_yielded"] == 0  # before any epoch
    full = batches(loader)
    assert loader.state_dict()["epoch_rng_states"] is None  # a finished epoch: start fresh
    loader.load_state_dict(loader.state_dict())
    assert sorted(sum(batches(loader), [])) == sorted(sum(full, []))
    it = iter(loader)
    next(it)
    state = loader.state_dict()
    other = eud.DataLoader(list(range(6)), batch_size=2, shuffle=True,
                           generator=ember.Generator())
    with pytest.raises(ValueError, match="generator states but this DataLoader uses"):
        other.load_state_dict(state)


def test_resume_sequential_with_distributed_sampler():
    def make():
        s = eud.DistributedSampler(list(range(17)), num_replicas=2, rank=1, shuffle=True)
        s.set_epoch(4)
        return eud.DataLoader(list(range(17)), batch_size=2, sampler=s)
    head, tail, resumed = run_and_resume(make, 1)
    assert resumed == tail and len(head + tail) == 5


class Counting(eud.IterableDataset):
    """An iterable dataset that checkpoints its own position (and counts reads)."""

    def __init__(self, n):
        self.n, self.pos, self.reads = n, 0, 0

    def __iter__(self):
        while self.pos < self.n:
            self.reads += 1
            self.pos += 1
            yield self.pos - 1

    def state_dict(self):
        return {"pos": self.pos}

    def load_state_dict(self, state):
        self.pos = state["pos"]


def test_iterable_dataset_with_its_own_state_dict():
    ds = Counting(9)
    loader = eud.DataLoader(ds, batch_size=2)
    it = iter(loader)
    head = batches(it, 2)
    state = loader.state_dict()
    assert state["dataset_state"] == {"pos": 4} and state["num_yielded"] == 2
    tail = batches(it)
    fresh = Counting(9)
    again = eud.DataLoader(fresh, batch_size=2)
    again.load_state_dict(state)
    assert batches(again) == tail == [[4, 5], [6, 7], [8]] and head == [[0, 1], [2, 3]]
    assert fresh.reads == 5  # restored, not replayed
