"""Multi-process loading: order, sharding, seeding, persistent workers, shared memory, debug."""
from __future__ import annotations

import mmap
import multiprocessing as mp
import os
import random
import time

import numpy as np
import pytest
import torch
import torch.utils.data as tud
from data_helpers import fake_pinned_memory, live_children, same_batch, shm_blocks
from spawn_dataset import Images
from test_dataloader import MapDS, make_iterable

import ember
import ember.utils.data as eud
from ember.utils.data import dataloader as dl_mod
from ember.utils.data._utils import shm

pytestmark = pytest.mark.slow


def assert_clean(before_children=()):
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        if not (set(live_children()) - set(before_children)) and not shm_blocks():
            return
        time.sleep(0.05)
    raise AssertionError(f"leftovers: children {live_children()}, blocks {shm_blocks()}")


@pytest.mark.parametrize("num_workers,batch_size", [(1, 3), (2, 3), (3, 4), (2, None)])
def test_multi_worker_order_matches_torch(num_workers, batch_size):
    e = list(eud.DataLoader(MapDS(ember, 11), batch_size=batch_size, num_workers=num_workers))
    t = list(tud.DataLoader(MapDS(torch, 11), batch_size=batch_size, num_workers=num_workers))
    same_batch(e, t)
    assert_clean()


def test_iterable_sharding_and_duplication_match_torch():
    for shard in (True, False):
        e = [b.tolist() for b in eud.DataLoader(make_iterable(eud, 10, shard=shard),
                                                batch_size=2, num_workers=2)]
        t = [b.tolist() for b in tud.DataLoader(make_iterable(tud, 10, shard=shard),
                                                batch_size=2, num_workers=2)]
        assert e == t
    assert_clean()


def test_shared_memory_transport_and_cleanup():
    before = live_children()
    it = iter(eud.DataLoader(Images(), batch_size=4, num_workers=2))
    x, y = next(it)
    assert isinstance(x._data.base, mmap.mmap) and x.is_shared() and y.is_shared()  # as torch
    rest = list(it)
    assert [int(b[1][0]) for b in rest] == [4, 8, 12, 16, 20]
    assert float(x[3, 0, 0, 0]) == 3.0 and y.tolist() == [0, 1, 2, 3]
    x += 1  # batches are writable, like torch's
    assert_clean(before)
    # pickled transport gives the same batches
    old = shm.ENABLED
    shm.ENABLED = False
    try:
        pickled = list(eud.DataLoader(Images(8), batch_size=4, num_workers=2))
    finally:
        shm.ENABLED = old
    assert not isinstance(pickled[1][0]._data.base, mmap.mmap)
    assert float(pickled[1][0][0, 0, 0, 0]) == 4.0


@pytest.mark.parametrize("how", ["break", "del", "gc_cycle"])
def test_early_exit_leaves_nothing(how):
    before = live_children()
    loader = eud.DataLoader(Images(40), batch_size=2, num_workers=2, prefetch_factor=4)
    it = iter(loader)
    next(it)
    time.sleep(0.3)  # let workers fill the result queue with blocks
    assert shm_blocks()
    if how == "break":
        for _ in it:
            break
        del it
    elif how == "del":
        del it
    else:
        holder = {"it": it}
        holder["self"] = holder
        del it, holder
        import gc
        gc.collect()
    assert_clean(before)


def test_worker_info_and_seeding():
    def probe(_):
        info = eud.get_worker_info()
        return (info.id, info.num_workers, info.seed, random.random(), float(np.random.rand()),
                float(ember.rand(1)), type(info.dataset).__name__)

    class DS(eud.Dataset):
        def __len__(self):
            return 4

        def __getitem__(self, i):
            return probe(i)

    def run(seed):
        dl = eud.DataLoader(DS(), batch_size=None, num_workers=2,
                            generator=ember.Generator().manual_seed(seed))
        return list(dl)

    a = run(0)
    assert [r[0] for r in a] == [0, 1, 0, 1] and {r[1] for r in a} == {2}
    assert a[1][2] == a[0][2] + 1 and a[0][6] == "DS"
    assert a == run(0) and a != run(1)
    for k in (3, 4, 5):  # random, NumPy and ember streams differ between workers
        assert a[0][k] != a[1][k]
    assert eud.get_worker_info() is None
    with pytest.raises(RuntimeError, match="Cannot assign attributes to WorkerInfo objects"):
        from ember.utils.data._utils.worker import WorkerInfo
        WorkerInfo(id=1).id = 2


def test_worker_init_fn_and_repr():
    def init(worker_id):
        info = eud.get_worker_info()
        info.dataset.offset = 100 * (worker_id + 1)

    class DS(eud.Dataset):
        offset = 0

        def __len__(self):
            return 4

        def __getitem__(self, i):
            return i + self.offset

    out = [int(b) for b in eud.DataLoader(DS(), batch_size=None, num_workers=2,
                                          worker_init_fn=init)]
    assert out == [100, 201, 102, 203]


def test_persistent_workers_reuse_processes():
    class DS(eud.Dataset):
        def __len__(self):
            return 6

        def __getitem__(self, i):
            return os.getpid()

    loader = eud.DataLoader(DS(), batch_size=None, num_workers=2, persistent_workers=True)
    first = {int(p) for p in loader}
    for _b in loader:  # break off mid-epoch: the next epoch still starts cleanly
        break
    second = [int(p) for p in loader]
    assert first == set(second) and len(second) == 6 and os.getpid() not in first
    import gc
    gc.disable()  # dropping the loader alone must end its workers (no cycle to collect)
    try:
        del loader
        assert_clean()
    finally:
        gc.enable()


def test_persistent_iterable_restarts_each_epoch():
    loader = eud.DataLoader(make_iterable(eud, 6, shard=True), batch_size=2, num_workers=2,
                            persistent_workers=True)
    a = [b.tolist() for b in loader]
    b = [b.tolist() for b in loader]
    assert a == b and sorted(sum(a, [])) == list(range(6))
    loader._iterator._shutdown_workers()


def test_in_order_false_and_prefetch_bound():
    counter = mp.Value("i", 0)

    class Slow(eud.Dataset):
        def __len__(self):
            return 40

        def __getitem__(self, i):
            with counter.get_lock():
                counter.value += 1
            if i == 0:
                time.sleep(0.3)
            return i

    out = [int(x) for x in eud.DataLoader(Slow(), batch_size=None, num_workers=2,
                                          in_order=False)]
    assert sorted(out) == list(range(40)) and out[0] != 0
    counter.value = 0
    it = iter(eud.DataLoader(Slow(), batch_size=None, num_workers=2, prefetch_factor=3))
    assert int(next(it)) == 0
    time.sleep(0.4)
    assert it._tasks_outstanding <= 6 and counter.value <= 7
    del it


def test_spawn_context():
    out = list(eud.DataLoader(Images(6), batch_size=3, num_workers=2,
                              multiprocessing_context="spawn"))
    assert [b[1].tolist() for b in out] == [[0, 1, 2], [3, 4, 5]]
    assert_clean()


def test_inline_debug_mode(monkeypatch):
    seen = []

    class DS(eud.Dataset):
        def __len__(self):
            return 6

        def __getitem__(self, i):
            info = eud.get_worker_info()
            seen.append((os.getpid(), info.id, float(np.random.rand())))
            return i

    monkeypatch.setattr(dl_mod, "INLINE_WORKERS", True)
    np.random.seed(0)
    state = np.random.get_state()[1].copy()
    dl = eud.DataLoader(DS(), batch_size=2, num_workers=2,
                        generator=ember.Generator().manual_seed(0))
    out = [b.tolist() for b in dl]
    assert out == [[0, 1], [2, 3], [4, 5]]
    assert {s[0] for s in seen} == {os.getpid()}  # ran here: breakpoints reachable
    assert [s[1] for s in seen] == [0, 0, 1, 1, 0, 0]
    assert (np.random.get_state()[1] == state).all()  # the main process's RNG untouched
    assert eud.get_worker_info() is None
    monkeypatch.setattr(dl_mod, "INLINE_WORKERS", False)
    seen_proc = [float(x) for x in eud.DataLoader(
        eud.StackDataset(list(range(6))), batch_size=None, num_workers=2,
        collate_fn=lambda s: np.random.rand(), generator=ember.Generator().manual_seed(0))]
    # the same per-worker seeds as real worker processes
    inline = [s[2] for s in seen]
    assert seen_proc[0] == inline[0] and seen_proc[1] == inline[2]


def test_pin_memory_thread_path(monkeypatch):
    # With an accelerator the batches pass through the pin-memory thread; force that path.
    fake_pinned_memory(monkeypatch)
    loader = eud.DataLoader(Images(12), batch_size=4, num_workers=2, pin_memory=True)
    it = iter(loader)
    assert it._pin_memory_thread is not None
    batches = list(it)
    assert all(x.is_pinned() for b in batches for x in b)
    out = [b[1].tolist() for b in batches]
    assert out == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11]]
    assert it._pin_memory_thread is None  # joined at shutdown
    del it
    assert_clean()
    it = iter(loader)
    next(it)
    thread = it._pin_memory_thread
    del it  # dropped mid-epoch: the thread must not keep the iterator alive
    thread.join(timeout=3)
    assert not thread.is_alive()
    assert_clean()
    single = list(eud.DataLoader(Images(4), batch_size=2, pin_memory=True))
    assert [b[1].tolist() for b in single] == [[0, 1], [2, 3]]
    assert all(x.is_pinned() for b in single for x in b)


def test_pin_memory_helpers_keep_structure(monkeypatch):
    import queue as pyqueue
    import threading

    from ember.utils.data._utils import pin_memory as pm
    fake_pinned_memory(monkeypatch)
    batch = {"x": ember.ones(2), "meta": [("a", ember.zeros(1))], "n": 3}
    pinned = pm.pin_memory(batch)
    assert list(pinned) == ["x", "meta", "n"] and pinned["n"] == 3
    assert pinned["meta"][0][0] == "a" and pinned["x"].tolist() == [1.0, 1.0]
    assert pinned["x"].is_pinned() and not batch["x"].is_pinned()
    src, dst, done = pyqueue.Queue(), pyqueue.Queue(), threading.Event()
    t = threading.Thread(target=pm._pin_memory_loop, args=(src, dst, None, done))
    t.start()
    src.put((0, batch))
    idx, got = dst.get(timeout=5)
    done.set()
    t.join()
    assert idx == 0 and got["x"].tolist() == [1.0, 1.0]
