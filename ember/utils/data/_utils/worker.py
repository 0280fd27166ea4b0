"""What runs inside a DataLoader worker: seeding, get_worker_info() and the fetch loop.

`_WorkerState.handle(message)` is one step of a worker: it turns one message from
the worker's index queue into one reply for the result queue. `_worker_loop` is the
process body that feeds it; the DataLoader's in-process debug mode calls the same
`handle` from the main thread. See NOTE [ Worker and shutdown protocol ] in
dataloader.py for the messages.
"""
from __future__ import annotations

import os
import queue
import random
import signal
from dataclasses import dataclass

import numpy as np

from ember.utils.data._utils import MP_STATUS_CHECK_INTERVAL, ExceptionWrapper, shm

__all__ = ["WorkerInfo", "get_worker_info"]


class WorkerInfo:
    """What `get_worker_info()` returns inside a worker: id, num_workers, seed, dataset."""

    id: int
    num_workers: int
    seed: int
    dataset: object
    __initialized = False

    def __init__(self, **kwargs) -> None:
        for k, v in kwargs.items():
            setattr(self, k, v)
        self.__keys = tuple(kwargs.keys())
        self.__initialized = True

    def __setattr__(self, key, val) -> None:
        if self.__initialized:
            raise RuntimeError(f"Cannot assign attributes to {self.__class__.__name__} objects")
        return super().__setattr__(key, val)

    def __repr__(self) -> str:
        items = [f"{k}={getattr(self, k)}" for k in self.__keys]
        return f"{self.__class__.__name__}({', '.join(items)})"


_worker_info: WorkerInfo | None = None


def get_worker_info() -> WorkerInfo | None:
    """Inside a DataLoader worker, its WorkerInfo (its own dataset copy, id, seed); else None."""
    return _worker_info


@dataclass(frozen=True)
class _IterableDatasetStopIteration:
    """A worker's reply when its IterableDataset copy is exhausted."""

    worker_id: int


@dataclass(frozen=True)
class _ResumeIteration:
    """Sent to persistent workers at a new epoch; echoed back once they have reset."""

    seed: int | None = None


def _numpy_seed(base_seed: int, worker_id: int) -> np.ndarray:
    # NumPy's legacy global RNG takes at most 32-bit words: mix (worker, base seed) into four.
    return np.random.SeedSequence([worker_id, base_seed & 0xFFFFFFFFFFFFFFFF]).generate_state(4)


def _seed_worker(base_seed: int, worker_id: int) -> int:
    import ember
    seed = base_seed + worker_id
    random.seed(seed)
    ember.manual_seed(seed)
    np.random.seed(_numpy_seed(base_seed, worker_id))
    return seed


class ManagerWatchdog:
    """Tells a worker whether the process that started it is still alive."""

    def __init__(self, parent_pid: int | None = None) -> None:
        self.manager_pid = os.getppid() if parent_pid is None else parent_pid
        self.manager_dead = False

    def is_alive(self) -> bool:
        if not self.manager_dead:
            # A dead parent's children are re-parented, so getppid() changes.
            self.manager_dead = os.getppid() != self.manager_pid
        return not self.manager_dead


class _WorkerState:
    """One worker's dataset fetcher and bookkeeping, independent of how it is driven."""

    def __init__(self, dataset_kind, dataset, auto_collation, collate_fn, drop_last, base_seed,
                 init_fn, worker_id, num_workers, shm_prefix) -> None:
        global _worker_info
        from ember.utils.data.dataloader import _DatasetKind
        self.dataset_kind = dataset_kind
        self.dataset = dataset
        self.auto_collation = auto_collation
        self.collate_fn = collate_fn
        self.drop_last = drop_last
        self.worker_id = worker_id
        self.is_iterable = dataset_kind == _DatasetKind.Iterable
        self.shm_prefix = shm_prefix  # None: batches stay in this process (inline mode)
        self.sent = 0  # blocks created so far (each block's name is unique)
        seed = _seed_worker(base_seed, worker_id)
        self.info = WorkerInfo(id=worker_id, num_workers=num_workers, seed=seed,
                               dataset=dataset)
        _worker_info = self.info
        self.init_exception = None
        self.fetcher = None
        self.iteration_end = False
        try:
            if init_fn is not None:
                init_fn(worker_id)
            self.fetcher = _DatasetKind.create_fetcher(dataset_kind, dataset, auto_collation,
                                                       collate_fn, drop_last)
        except Exception:
            self.init_exception = ExceptionWrapper(
                where=f"in DataLoader worker process {worker_id}")

    def reset(self) -> None:
        """A new epoch for persistent workers: fresh dataset iterator."""
        from ember.utils.data.dataloader import _DatasetKind
        self.iteration_end = False
        if self.is_iterable and self.init_exception is None:
            try:
                self.fetcher = _DatasetKind.create_fetcher(
                    self.dataset_kind, self.dataset, self.auto_collation, self.collate_fn,
                    self.drop_last)
            except Exception:
                self.init_exception = ExceptionWrapper(
                    where=f"in DataLoader worker process {self.worker_id}")

    def handle(self, idx, index):
        """The reply (idx, data) for task `idx`, or None when no reply is due."""
        if self.iteration_end:
            return None
        if self.init_exception is not None:
            data = self.init_exception
            self.init_exception = None
            return idx, data
        try:
            data = self.fetcher.fetch(index)
        except Exception as e:
            if isinstance(e, StopIteration) and self.is_iterable:
                self.iteration_end = True
                return idx, _IterableDatasetStopIteration(self.worker_id)
            return idx, ExceptionWrapper(where=f"in DataLoader worker process {self.worker_id}")
        if self.shm_prefix is not None:
            try:
                data = shm.pack(data, f"{self.shm_prefix}w{self.worker_id}_{self.sent}")
                self.sent += 1
            except Exception:
                data = ExceptionWrapper(where=f"in DataLoader worker process {self.worker_id}")
        return idx, data


def _exit_when_orphaned(parent_pid: int, shm_prefix: str, worker_id: int) -> None:
    """A worker's watchdog thread: if the parent dies, free our blocks and exit at once.

    A thread, so that a worker stuck in a long `__getitem__` still notices (the loop
    below only checks between tasks).
    """
    import time
    watchdog = ManagerWatchdog(parent_pid)
    while watchdog.is_alive():
        time.sleep(MP_STATUS_CHECK_INTERVAL)
    shm.unlink_prefix(f"{shm_prefix}w{worker_id}_")
    os._exit(0)


def _worker_loop(dataset_kind, dataset, index_queue, data_queue, done_event, auto_collation,
                 collate_fn, drop_last, base_seed, init_fn, worker_id, num_workers,
                 persistent_workers, shm_prefix, parent_pid) -> None:
    """The body of a worker process (see NOTE [ Worker and shutdown protocol ])."""
    # Ctrl-C reaches the whole process group; the main process decides what happens.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    import threading
    threading.Thread(target=_exit_when_orphaned, args=(parent_pid, shm_prefix, worker_id),
                     daemon=True, name="ember-dataloader-parent-watchdog").start()
    state = _WorkerState(dataset_kind, dataset, auto_collation, collate_fn, drop_last,
                         base_seed, init_fn, worker_id, num_workers, shm_prefix)
    watchdog = ManagerWatchdog(parent_pid)
    while watchdog.is_alive():
        try:
            r = index_queue.get(timeout=MP_STATUS_CHECK_INTERVAL)
        except queue.Empty:
            continue
        if isinstance(r, _ResumeIteration):
            state.reset()
            data_queue.put((r, None))
            continue
        if r is None:
            break  # shutdown
        if done_event.is_set():
            continue  # draining until the None arrives
        reply = state.handle(*r)
        if reply is not None:
            data_queue.put(reply)
        del r, reply
    if not watchdog.is_alive():
        # Orphaned: nobody will map our blocks any more.
        shm.unlink_prefix(f"{shm_prefix}w{worker_id}_")
    if done_event.is_set() or not watchdog.is_alive():
        # Don't wait for the feeder thread to flush results nobody will read.
        data_queue.cancel_join_thread()
        data_queue.close()
