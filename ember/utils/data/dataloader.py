"""DataLoader: sampler -> (workers) -> collate -> batches, as torch.utils.data.dataloader.

Follow one batch: `DataLoader.__iter__` makes an iterator; the iterator takes the
next list of indices from the index sampler (`_next_index`), and either fetches and
collates it right here (`_SingleProcessDataLoaderIter`) or sends it to a worker's
index queue and later receives the batch from the shared result queue
(`_MultiProcessingDataLoaderIter`, protocol in the NOTE below).

Debugging: with `EMBER_DATALOADER_INLINE=1` in the environment (read at import) or
`ember.utils.data.dataloader.INLINE_WORKERS = True`, loaders with num_workers > 0
run each "worker" inside the main process and thread, one task at a time, with
the same per-worker seeding and get_worker_info(); a breakpoint in
Dataset.__getitem__ or collate_fn is then reachable. Nothing else changes.

Resumable iteration (not in torch): `DataLoader.state_dict()` records the random
state every generator involved had when the current epoch began, plus how many
batches were yielded; `load_state_dict()` makes the next epoch start from that
state and skip those batches without loading them (map-style datasets: the sampler
is advanced; iterable datasets: the batches are fetched and dropped, unless the
dataset has its own state_dict/load_state_dict and there are no workers, in which
case it is restored instead), so a restarted run sees exactly the remaining batches.
Resuming assumes in_order=True (batches yielded are then a prefix of the epoch).
The process-wide generator is left as it was. Randomness drawn inside workers
(augmentation) restarts from the worker seeds.
"""
from __future__ import annotations

import itertools
import multiprocessing as python_multiprocessing
import os
import queue
import random
import signal
import threading
import time
import warnings
import weakref
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from ember.utils.data import _utils
from ember.utils.data._utils import shm as _shm
from ember.utils.data._utils.collate import default_collate, default_convert
from ember.utils.data._utils.fetch import _IterableDatasetFetcher, _MapDatasetFetcher
from ember.utils.data._utils.worker import (
    _IterableDatasetStopIteration,
    _ResumeIteration,
    _worker_loop,
    _WorkerState,
)
from ember.utils.data.dataset import Dataset, IterableDataset
from ember.utils.data.sampler import BatchSampler, RandomSampler, Sampler, SequentialSampler

__all__ = ["DataLoader", "get_worker_info", "default_collate", "default_convert"]

from ember.utils.data._utils.worker import get_worker_info  # noqa: E402

INLINE_WORKERS = os.environ.get("EMBER_DATALOADER_INLINE", "0") not in ("", "0")

_iterator_ids = itertools.count()


class _DatasetKind:
    Map = 0
    Iterable = 1

    @staticmethod
    def create_fetcher(kind, dataset, auto_collation, collate_fn, drop_last):
        if kind == _DatasetKind.Map:
            return _MapDatasetFetcher(dataset, auto_collation, collate_fn, drop_last)
        return _IterableDatasetFetcher(dataset, auto_collation, collate_fn, drop_last)


class _InfiniteConstantSampler(Sampler[None]):
    """The sampler of an IterableDataset: None forever (the dataset decides when to stop)."""

    def __iter__(self):
        while True:
            yield None


def _cpu_count() -> int | None:
    if hasattr(os, "sched_getaffinity"):
        try:
            return len(os.sched_getaffinity(0))
        except OSError:
            pass
    return os.cpu_count()


def _accelerator_available() -> bool:
    from ember import cuda
    try:
        return cuda.is_available()
    except Exception:
        return False


def _is_generator(g) -> bool:
    from ember.random import Generator
    return isinstance(g, Generator)


class DataLoader:
    """Iterate over a dataset in batches, optionally with worker processes (torch's DataLoader).

    Every torch argument is accepted with torch's meaning and checks. Beyond torch:
    batches from workers travel through shared memory, a dead worker is reported
    within about a second, and `state_dict()`/`load_state_dict()` resume mid-epoch.
    """

    dataset: Dataset
    batch_size: int | None
    num_workers: int
    pin_memory: bool
    drop_last: bool
    timeout: float
    sampler: Sampler | Iterable
    prefetch_factor: int | None
    _iterator: Any
    __initialized = False

    def __init__(self, dataset: Dataset, batch_size: int | None = 1,
                 shuffle: bool | None = None, sampler: Sampler | Iterable | None = None,
                 batch_sampler: Sampler | Iterable | None = None, num_workers: int = 0,
                 collate_fn: Callable | None = None, pin_memory: bool = False,
                 drop_last: bool = False, timeout: float = 0,
                 worker_init_fn: Callable | None = None, multiprocessing_context=None,
                 generator=None, *, prefetch_factor: int | None = None,
                 persistent_workers: bool = False, pin_memory_device: str = "",
                 in_order: bool = True) -> None:
        if num_workers < 0:
            raise ValueError("num_workers option should be non-negative; "
                             "use num_workers=0 to disable multiprocessing.")
        if timeout < 0:
            raise ValueError("timeout option should be non-negative")
        if num_workers == 0 and prefetch_factor is not None:
            raise ValueError("prefetch_factor option could only be specified in "
                             "multiprocessing.let num_workers > 0 to enable multiprocessing, "
                             "otherwise set prefetch_factor to None.")
        elif num_workers > 0 and prefetch_factor is None:
            prefetch_factor = 2
        elif prefetch_factor is not None and prefetch_factor < 0:
            raise ValueError("prefetch_factor option should be non-negative")
        if persistent_workers and num_workers == 0:
            raise ValueError("persistent_workers option needs num_workers > 0")

        self.dataset = dataset
        self.num_workers = num_workers
        self.prefetch_factor = prefetch_factor
        self.pin_memory = pin_memory
        self.pin_memory_device = pin_memory_device
        self.timeout = timeout
        self.worker_init_fn = worker_init_fn
        self.multiprocessing_context = multiprocessing_context
        self.in_order = in_order

        if isinstance(dataset, IterableDataset):
            self._dataset_kind = _DatasetKind.Iterable
            if shuffle not in {False, None}:
                raise ValueError(f"DataLoader with IterableDataset: expected unspecified shuffle "
                                 f"option, but got shuffle={shuffle}")
            if sampler is not None:
                raise ValueError(f"DataLoader with IterableDataset: expected unspecified sampler "
                                 f"option, but got sampler={sampler}")
            if batch_sampler is not None:
                raise ValueError(f"DataLoader with IterableDataset: expected unspecified "
                                 f"batch_sampler option, but got batch_sampler={batch_sampler}")
        else:
            shuffle = bool(shuffle)
            self._dataset_kind = _DatasetKind.Map

        if sampler is not None and shuffle:
            raise ValueError("sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("batch_sampler option is mutually exclusive with batch_size, "
                                 "shuffle, sampler, and drop_last")
            batch_size = None
            drop_last = False
        elif batch_size is None and drop_last:
            raise ValueError("batch_size=None option disables auto-batching and is mutually "
                             "exclusive with drop_last")

        if sampler is None:
            if self._dataset_kind == _DatasetKind.Iterable:
                sampler = _InfiniteConstantSampler()
            elif shuffle:
                sampler = RandomSampler(dataset, generator=generator)
            else:
                sampler = SequentialSampler(dataset)
        if batch_size is not None and batch_sampler is None:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)

        self.batch_size = batch_size
        self.drop_last = drop_last
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self.generator = generator
        if collate_fn is None:
            collate_fn = default_collate if self._auto_collation else default_convert
        self.collate_fn = collate_fn
        self.persistent_workers = persistent_workers

        self._epoch_start = None  # generator states when the current epoch began
        # Weak reference to the iterator of the current epoch (for state_dict); weak so that
        # dropping the iterator still shuts its workers down at once.
        self._current_iter = None
        self._resume = None  # a state_dict waiting for the next epoch to start from it
        self.__initialized = True
        self._IterableDataset_len_called = None
        self._iterator = None
        self.check_worker_number_rationality()

    def _get_iterator(self) -> _BaseDataLoaderIter:
        if self.num_workers == 0:
            return _SingleProcessDataLoaderIter(self)
        self.check_worker_number_rationality()
        return _MultiProcessingDataLoaderIter(self)

    @property
    def multiprocessing_context(self):
        return self.__multiprocessing_context

    @multiprocessing_context.setter
    def multiprocessing_context(self, multiprocessing_context) -> None:
        if multiprocessing_context is not None:
            if self.num_workers > 0:
                if isinstance(multiprocessing_context, str):
                    valid = python_multiprocessing.get_all_start_methods()
                    if multiprocessing_context not in valid:
                        raise ValueError(
                            f"multiprocessing_context option should specify a valid start "
                            f"method in {valid!r}, but got "
                            f"multiprocessing_context={multiprocessing_context!r}")
                    multiprocessing_context = python_multiprocessing.get_context(
                        multiprocessing_context)
                if not isinstance(multiprocessing_context,
                                  python_multiprocessing.context.BaseContext):
                    raise TypeError(
                        f"multiprocessing_context option should be a valid context object or a "
                        f"string specifying the start method, but got "
                        f"multiprocessing_context={multiprocessing_context}")
            else:
                raise ValueError(
                    f"multiprocessing_context can only be used with multi-process loading "
                    f"(num_workers > 0), but got num_workers={self.num_workers}")
        self.__multiprocessing_context = multiprocessing_context

    def __setattr__(self, attr, val) -> None:
        if self.__initialized and attr in ("batch_size", "batch_sampler", "sampler", "drop_last",
                                           "dataset", "persistent_workers"):
            raise ValueError(f"{attr} attribute should not be set after "
                             f"{self.__class__.__name__} is initialized")
        super().__setattr__(attr, val)

    def __iter__(self) -> _BaseDataLoaderIter:
        # Persistent workers: one iterator (and one set of processes) for the loader's life.
        if self.persistent_workers and self.num_workers > 0:
            if self._iterator is None:
                self._iterator = self._get_iterator()
            else:
                self._iterator._reset(self)
            return self._iterator
        return self._get_iterator()

    @property
    def _auto_collation(self) -> bool:
        return self.batch_sampler is not None

    @property
    def _index_sampler(self):
        return self.batch_sampler if self._auto_collation else self.sampler

    def __len__(self) -> int:
        if self._dataset_kind == _DatasetKind.Iterable:
            length = self._IterableDataset_len_called = len(self.dataset)
            if self.batch_size is not None:
                if self.drop_last:
                    length = length // self.batch_size
                else:
                    length = -(-length // self.batch_size)
            return length
        return len(self._index_sampler)

    def check_worker_number_rationality(self) -> None:
        """Warn (as torch does) when more workers are asked for than there are CPUs."""
        if not self.num_workers:
            return
        max_suggest = _cpu_count()
        if max_suggest is None or self.num_workers > max_suggest:
            if max_suggest is None:
                suggest = ("Our suggested max number of worker in current system is unknown, "
                           "please check it by yourself.")
            else:
                suggest = (f"Our suggested max number of worker in current system is "
                           f"{max_suggest}, which is smaller than what this DataLoader is "
                           f"going to create.")
            warnings.warn(f"This DataLoader will create {self.num_workers} worker processes in "
                          f"total. {suggest} Please be aware that excessive worker creation "
                          f"might get DataLoader running slow or even freeze, lower the worker "
                          f"number to avoid potential slowness/freeze if necessary.",
                          stacklevel=2)

    # ------------------------------------------------------------- resumable iteration
    def _generators(self) -> list:
        """Every generator whose state decides an epoch's order and worker seeds."""
        from ember.random import default_generator
        found = [default_generator]
        candidates = [self.generator, getattr(self.sampler, "generator", None),
                      getattr(self.batch_sampler, "generator", None),
                      getattr(getattr(self.batch_sampler, "sampler", None), "generator", None)]
        for g in candidates:
            if _is_generator(g) and all(g is not f for f in found):
                found.append(g)
        return found

    def state_dict(self) -> dict[str, Any]:
        """Where iteration stands: generator states at the epoch's start and batches yielded."""
        it = self._current_iter() if self._current_iter is not None else None
        if it is None or self._epoch_start is None or it._finished:
            return {"epoch_rng_states": None, "num_yielded": 0, "dataset_state": None}
        dataset_state = None
        if self._dataset_opts_in():
            dataset_state = self.dataset.state_dict()
        return {"epoch_rng_states": list(self._epoch_start), "num_yielded": it._num_yielded,
                "dataset_state": dataset_state}

    def _dataset_opts_in(self) -> bool:
        # An IterableDataset with its own state_dict/load_state_dict is asked directly
        # (only without workers: with workers its copies live in other processes).
        return (self._dataset_kind == _DatasetKind.Iterable and self.num_workers == 0
                and callable(getattr(self.dataset, "state_dict", None))
                and callable(getattr(self.dataset, "load_state_dict", None)))

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Make the next epoch continue from `state_dict` (see the module docstring)."""
        states = state_dict.get("epoch_rng_states")
        if states is not None and len(states) != len(self._generators()):
            raise ValueError(f"DataLoader.load_state_dict: the state holds {len(states)} "
                             f"generator states but this DataLoader uses "
                             f"{len(self._generators())}")
        self._resume = dict(state_dict) if states is not None else None


class _BaseDataLoaderIter:
    def __init__(self, loader: DataLoader) -> None:
        self._dataset = loader.dataset
        self._dataset_kind = loader._dataset_kind
        self._IterableDataset_len_called = loader._IterableDataset_len_called
        self._auto_collation = loader._auto_collation
        self._drop_last = loader.drop_last
        self._index_sampler = loader._index_sampler
        self._num_workers = loader.num_workers
        if loader.pin_memory and loader.pin_memory_device:
            warnings.warn(f"pin_memory_device is deprecated, the current accelerator will be "
                          f"used as the device,ignore pin_memory_device="
                          f"'{loader.pin_memory_device}'.", stacklevel=2)
        accel = _accelerator_available() if loader.pin_memory else False
        if loader.pin_memory and not accel:
            warnings.warn("'pin_memory' argument is set as true but no accelerator is found, "
                          "then device pinned memory won't be used.", stacklevel=2)
        self._pin_memory = loader.pin_memory and accel
        self._pin_memory_device = "cuda" if self._pin_memory else None
        self._timeout = loader.timeout
        self._collate_fn = loader.collate_fn
        self._persistent_workers = loader.persistent_workers
        self._start_epoch(loader)

    def _start_epoch(self, loader: DataLoader) -> None:
        """Fix the epoch's randomness (sampler order, worker base seed), resuming if asked."""
        import ember
        gens = loader._generators()
        resume, loader._resume = loader._resume, None
        caller_state = gens[0].get_state()
        if resume is not None:
            for g, s in zip(gens, resume["epoch_rng_states"]):
                g.set_state(s)
        loader._epoch_start = [g.get_state() for g in gens]
        loader._current_iter = weakref.ref(self)
        self._sampler_iter = iter(self._index_sampler)
        self._base_seed = int(ember.empty((), dtype=ember.int64).random_(
            generator=loader.generator).item())
        if resume is not None:
            gens[0].set_state(caller_state)  # the process-wide stream is not the loader's
        self._num_yielded = 0  # batches returned by __next__ this epoch
        self._finished = False
        self._skip = 0  # batches of an iterable dataset still to drop when resuming
        n = resume["num_yielded"] if resume is not None else 0
        if resume is not None and resume.get("dataset_state") is not None:
            self._dataset.load_state_dict(resume["dataset_state"])
            self._num_yielded = n
            n = 0  # the dataset itself continues where it stopped
        if n:
            self._num_yielded = n
            if self._dataset_kind == _DatasetKind.Map:
                for _ in itertools.islice(self._sampler_iter, n):
                    pass
            else:
                self._skip = n

    def __iter__(self) -> _BaseDataLoaderIter:
        return self

    def _reset(self, loader: DataLoader, first_iter: bool = False) -> None:
        if not first_iter:
            self._start_epoch(loader)

    def _next_index(self):
        return next(self._sampler_iter)  # may raise StopIteration

    def _next_data(self):
        raise NotImplementedError

    def __next__(self) -> Any:
        try:
            while self._skip:
                self._next_data()
                self._skip -= 1
            data = self._next_data()
        except StopIteration:
            self._finished = True
            raise
        self._num_yielded += 1
        if (self._dataset_kind == _DatasetKind.Iterable
                and self._IterableDataset_len_called is not None
                and self._num_yielded > self._IterableDataset_len_called):
            msg = (f"Length of IterableDataset {self._dataset} was reported to be "
                   f"{self._IterableDataset_len_called}(when accessing len(dataloader)), but "
                   f"{self._num_yielded} samples have been fetched. ")
            if self._num_workers > 0:
                msg += ("For multiprocessing data-loading, this could be caused by not properly "
                        "configuring the IterableDataset replica at each worker. Please see "
                        "https://pytorch.org/docs/stable/data.html#torch.utils.data."
                        "IterableDataset for examples.")
            warnings.warn(msg, stacklevel=2)
        return data

    def __len__(self) -> int:
        return len(self._index_sampler)

    def __getstate__(self):
        raise NotImplementedError(f"{self.__class__.__name__} cannot be pickled")


class _SingleProcessDataLoaderIter(_BaseDataLoaderIter):
    """num_workers=0: fetch and collate in the calling thread."""

    def __init__(self, loader: DataLoader) -> None:
        super().__init__(loader)
        if self._timeout != 0:
            raise AssertionError("_SingleProcessDataLoaderIter requires timeout == 0")
        self._dataset_fetcher = _DatasetKind.create_fetcher(
            self._dataset_kind, self._dataset, self._auto_collation, self._collate_fn,
            self._drop_last)

    def _next_data(self):
        index = self._next_index()  # may raise StopIteration
        data = self._dataset_fetcher.fetch(index)  # may raise StopIteration
        if self._pin_memory:
            data = _utils.pin_memory.pin_memory(data, self._pin_memory_device)
        return data


# NOTE [ Worker and shutdown protocol ]
#
# Processes and queues. The main process starts `num_workers` worker processes
# (`_utils/worker.py: _worker_loop`). Worker i has its own index queue; all workers
# share one result queue. A pin-memory thread, when a GPU is present, sits between
# the result queue and the main thread.
#
# Main -> worker i (index queue i):
#   (idx, indices)        load and collate batch number `idx` of the epoch
#   _ResumeIteration()    a new epoch begins (persistent workers): reset your iterator
#   None                  shut down
# Worker -> main (result queue):
#   (idx, batch)          batch `idx`; its arrays live in a shared-memory block named
#                         in a ShmBatch skeleton (`_utils/shm.py`), small batches pickled
#   (idx, ExceptionWrapper)             fetching raised: re-raised in the main process
#   (idx, _IterableDatasetStopIteration) this worker's IterableDataset copy is exhausted
#   (_ResumeIteration, None)            acknowledgement of a reset
#
# Flow control: at most prefetch_factor * num_workers tasks are outstanding. Each
# received batch (in any order) frees a slot and `_try_put_index` sends the next
# task, round-robin over the workers still active. Batches that arrive early wait
# in `_task_info` until their turn (unless in_order=False).
#
# Health: while it waits, the main process polls the result queue with a short
# timeout (MP_STATUS_CHECK_INTERVAL) and between polls checks every active worker
# with `is_alive()`: a worker that died (signal, os._exit, OOM killer) is reported
# as a RuntimeError naming its id, pid and signal or exit code within about that
# interval, after the other workers are shut down. `timeout` > 0 bounds the wait
# for any one batch. A worker polls its index queue with the same timeout and
# exits when its parent's pid changes (the parent died), unlinking its blocks.
#
# Shutdown (`_shutdown_workers`, run at the end of an epoch without persistent
# workers, on a dead worker, on KeyboardInterrupt in __next__, and from __del__):
#   1. set `_workers_done_event` (workers stop loading and only wait for None);
#   2. put None on every index queue, join each worker briefly;
#   3. terminate, then kill, any worker still alive (so no orphan survives);
#   4. unlink every shared-memory block whose name carries this iterator's prefix:
#      batches still in the result queue, or written by a worker that died,
#      never reach `unpack`, and their names would otherwise outlive us.
#   Worker processes are daemonic, so the interpreter also terminates them at exit.
# Queues are closed with cancel_join_thread so that a full pipe never blocks exit.


class _InlineQueue:
    """An index queue for an in-process worker (debug mode): a deque with put."""

    def __init__(self) -> None:
        self.items: deque = deque()

    def put(self, item) -> None:
        self.items.append(item)

    def cancel_join_thread(self) -> None:
        pass

    def close(self) -> None:
        pass


class _InlineWorker:
    """A worker run in the main thread, one task per `step()` (debug mode).

    The worker's global random state (ember, NumPy, random) and get_worker_info()
    are swapped in around every step, so the dataset sees what a process would.
    """

    exitcode = None

    def __init__(self, index_queue: _InlineQueue, data_queue: queue.Queue, args: tuple) -> None:
        self.pid = os.getpid()
        self.index_queue = index_queue
        self.data_queue = data_queue
        saved = self._swap(None)
        self.state = _WorkerState(*args)
        self.rng = self._swap(saved)

    @staticmethod
    def _swap(new):
        """Install random states `new` (None: leave) and return the ones replaced."""
        import ember
        from ember.utils.data._utils import worker
        old = (ember.random.default_generator.get_state(), np.random.get_state(),
               random.getstate(), worker._worker_info)
        if new is not None:
            ember.random.default_generator.set_state(new[0])
            np.random.set_state(new[1])
            random.setstate(new[2])
            worker._worker_info = new[3]
        return old

    def step(self) -> bool:
        """Handle one message; False when there was none."""
        if not self.index_queue.items:
            return False
        r = self.index_queue.items.popleft()
        if r is None:
            return True
        saved = self._swap(self.rng)
        try:
            if isinstance(r, _ResumeIteration):
                self.state.reset()
                reply = (r, None)
            else:
                reply = self.state.handle(*r)
        finally:
            self.rng = self._swap(saved)
        if reply is not None:
            self.data_queue.put(reply)
        return True

    def is_alive(self) -> bool:
        return self.exitcode is None

    def join(self, timeout=None) -> None:
        self.exitcode = 0  # shutdown: nothing runs between steps, so it is over at once


class _MultiProcessingDataLoaderIter(_BaseDataLoaderIter):
    """num_workers > 0: workers load batches; see NOTE [ Worker and shutdown protocol ]."""

    def __init__(self, loader: DataLoader) -> None:
        self._shutdown = True  # nothing to shut down until the workers exist
        super().__init__(loader)
        self._prefetch_factor = loader.prefetch_factor
        self._in_order = loader.in_order
        self._inline = INLINE_WORKERS
        ctx = loader.multiprocessing_context or python_multiprocessing
        # Block names: ember_dl_<main pid>_<iterator number>_w<worker>_<n> (see shm.py).
        self._shm_prefix = f"ember_dl_{os.getpid()}_{next(_iterator_ids)}_"
        self._worker_init_fn = loader.worker_init_fn
        self._index_queues: list = []  # one per worker: tasks, resets and the final None
        self._workers: list = []
        if self._inline:
            self._worker_result_queue = queue.Queue()
            self._workers_done_event = threading.Event()
        else:
            self._worker_result_queue = ctx.Queue()  # every worker's replies
            self._workers_done_event = ctx.Event()  # set at shutdown: stop loading
        self._shutdown = False
        try:
            for i in range(self._num_workers):
                args = (self._dataset_kind, self._dataset, self._auto_collation,
                        self._collate_fn, self._drop_last, self._base_seed,
                        self._worker_init_fn, i, self._num_workers)
                if self._inline:
                    iq = _InlineQueue()
                    w = _InlineWorker(iq, self._worker_result_queue, args + (None,))
                else:
                    iq = ctx.Queue()
                    iq.cancel_join_thread()
                    w = ctx.Process(target=_worker_loop, daemon=True, args=(
                        self._dataset_kind, self._dataset, iq, self._worker_result_queue,
                        self._workers_done_event, self._auto_collation, self._collate_fn,
                        self._drop_last, self._base_seed, self._worker_init_fn, i,
                        self._num_workers, self._persistent_workers, self._shm_prefix,
                        os.getpid()))
                    w.start()
                self._index_queues.append(iq)
                self._workers.append(w)
        except BaseException:
            self._shutdown_workers()
            raise
        self._data_queue = self._worker_result_queue
        self._pin_memory_thread = None
        if self._pin_memory and not self._inline:
            self._pin_memory_thread_done_event = threading.Event()
            self._data_queue = queue.Queue()
            # The thread gets queues and plain functions only, never `self` (or a bound
            # method): while it runs it would keep this iterator, and its workers, alive.
            t = threading.Thread(target=_utils.pin_memory._pin_memory_loop, daemon=True, args=(
                self._worker_result_queue, self._data_queue, self._pin_memory_device,
                self._pin_memory_thread_done_event, _shm.unpack))
            t.start()
            self._pin_memory_thread = t
        self._reset(loader, first_iter=True)

    def _reset(self, loader: DataLoader, first_iter: bool = False) -> None:
        super()._reset(loader, first_iter)
        self._send_idx = 0  # number of the next task to send (tasks numbered in sampler order)
        self._rcvd_idx = 0  # number of the next task to return from __next__ (in order)
        # Outstanding or early tasks: idx -> (worker_id,) while the worker has it,
        # (worker_id, data) once its batch arrived ahead of its turn.
        self._task_info: dict[int, tuple] = {}
        self._tasks_outstanding = 0  # sent but not yet received (<= prefetch * workers)
        # Whether each worker still takes tasks (False once its IterableDataset ended).
        self._workers_status = [True] * self._num_workers
        self._workers_num_tasks = [0] * self._num_workers  # outstanding tasks per worker
        self._worker_queue_idx_cycle = itertools.cycle(range(self._num_workers))
        if not first_iter:
            for q in self._index_queues:
                q.put(_ResumeIteration())
            pending = self._num_workers
            while pending > 0:
                idx, _data = self._get_data()  # stale batches of a broken-off epoch drop here
                if isinstance(idx, _ResumeIteration):
                    pending -= 1
        for _ in range(self._prefetch_factor * self._num_workers):
            self._try_put_index()

    # -------------------------------------------------------------- receiving
    def _pump_inline(self) -> None:
        """Debug mode: run in-process workers until a reply is ready.

        The worker holding the batch the main thread waits for goes first, so tasks run
        in sampler order (each worker's queue is first-in first-out).
        """
        while self._data_queue.empty():
            info = getattr(self, "_task_info", {}).get(getattr(self, "_rcvd_idx", -1))
            order = [info[0]] if info and len(info) == 1 else []
            for wid in itertools.chain(order, range(len(self._workers))):
                if self._workers[wid].step():
                    break
            else:
                return

    def _check_workers(self) -> None:
        """Raise (after shutting down) if any active worker died."""
        for worker_id, w in enumerate(self._workers):
            if self._workers_status[worker_id] and not w.is_alive():
                code = w.exitcode
                if code is not None and code < 0:
                    try:
                        name = signal.Signals(-code).name
                        how = f"is killed by signal: {name} ({signal.strsignal(-code)})"
                    except ValueError:
                        how = f"is killed by signal {-code}"
                else:
                    how = f"exited unexpectedly with exit code {code}"
                pid = w.pid
                self._shutdown_workers(grace=0.0)  # an error is coming: no waiting
                raise RuntimeError(f"DataLoader worker {worker_id} (pid {pid}) {how}. "
                                   f"DataLoader worker (pid(s) {pid}) exited unexpectedly")

    def _get_data(self):
        """The next reply (idx, data) from any worker, watching worker health and `timeout`."""
        deadline = time.monotonic() + self._timeout if self._timeout > 0 else None
        while True:
            if self._inline:
                self._pump_inline()
            wait = _utils.MP_STATUS_CHECK_INTERVAL
            if deadline is not None:
                wait = max(0.0, min(wait, deadline - time.monotonic()))
            try:
                idx, data = self._data_queue.get(timeout=wait)
            except queue.Empty:
                self._check_workers()
                if self._pin_memory_thread is not None and not self._pin_memory_thread.is_alive():
                    raise RuntimeError("Pin memory thread exited unexpectedly") from None
                if deadline is not None and time.monotonic() >= deadline:
                    raise RuntimeError(
                        f"DataLoader timed out after {self._timeout} seconds") from None
                continue
            if self._pin_memory_thread is None:
                data = _shm.unpack(data)
            return idx, data

    # -------------------------------------------------------------- sending
    def _try_put_index(self) -> None:
        max_tasks = self._prefetch_factor * self._num_workers
        if self._tasks_outstanding >= max_tasks:
            raise AssertionError("more tasks outstanding than prefetch_factor * num_workers")
        try:
            index = self._next_index()
        except StopIteration:
            return
        for _ in range(self._num_workers):
            worker_queue_idx = next(self._worker_queue_idx_cycle)
            if self._workers_status[worker_queue_idx]:
                if self._in_order:
                    break
                # Out of order: don't pile tasks on a slow worker.
                active = sum(self._workers_status)
                if self._workers_num_tasks[worker_queue_idx] < max_tasks // active:
                    break
        else:
            return  # no active worker: the epoch is ending
        self._index_queues[worker_queue_idx].put((self._send_idx, index))
        self._task_info[self._send_idx] = (worker_queue_idx,)
        self._workers_num_tasks[worker_queue_idx] += 1
        self._tasks_outstanding += 1
        self._send_idx += 1

    def _next_data(self):
        try:
            return self._next_data_inner()
        except KeyboardInterrupt:
            self._shutdown_workers()
            raise

    def _next_data_inner(self):
        while True:
            # Skip tasks already returned out of order or owned by a finished worker.
            while self._rcvd_idx < self._send_idx:
                info = self._task_info.get(self._rcvd_idx)
                if info:
                    worker_id = info[0]
                    if len(info) == 2 or self._workers_status[worker_id]:
                        break
                    del self._task_info[self._rcvd_idx]
                self._rcvd_idx += 1
            else:
                if not self._persistent_workers:
                    self._shutdown_workers()
                raise StopIteration

            if len(self._task_info[self._rcvd_idx]) == 2:
                worker_id, data = self._task_info.pop(self._rcvd_idx)
                self._rcvd_idx += 1
                return self._process_data(data, worker_id)

            if self._shutdown or self._tasks_outstanding <= 0:
                raise AssertionError("DataLoader iterator waits for data after shutdown")
            idx, data = self._get_data()
            self._tasks_outstanding -= 1
            if isinstance(data, _IterableDatasetStopIteration):
                worker_id = self._task_info.pop(idx)[0]
                self._workers_num_tasks[worker_id] -= 1
                self._mark_worker_as_unavailable(data.worker_id)
                self._try_put_index()
                continue
            if idx != self._rcvd_idx:
                if not self._in_order:
                    worker_id = self._task_info.pop(idx)[0]
                    return self._process_data(data, worker_id)
                self._task_info[idx] += (data,)
            else:
                worker_id = self._task_info.pop(idx)[0]
                self._rcvd_idx += 1
                return self._process_data(data, worker_id)

    def _process_data(self, data, worker_idx: int):
        self._workers_num_tasks[worker_idx] -= 1
        self._try_put_index()
        if isinstance(data, _utils.ExceptionWrapper):
            data.reraise()
        return data

    def _mark_worker_as_unavailable(self, worker_id: int) -> None:
        # Only the flag: the process stays until shutdown (its reset may reuse it). Tasks it
        # still holds will never be answered: they stop counting as outstanding.
        self._workers_status[worker_id] = False
        self._tasks_outstanding -= self._workers_num_tasks[worker_id]
        self._workers_num_tasks[worker_id] = 0

    # -------------------------------------------------------------- shutdown
    def _shutdown_workers(self, grace: float = _utils.MP_STATUS_CHECK_INTERVAL * 5) -> None:
        """Stop and reap every worker and free their shared memory (see the NOTE).

        Workers get `grace` seconds in all to exit on their own, then are terminated.
        """
        if getattr(self, "_shutdown", True):
            return
        self._shutdown = True
        try:
            if getattr(self, "_pin_memory_thread", None) is not None:
                self._pin_memory_thread_done_event.set()
                self._pin_memory_thread.join()
                self._pin_memory_thread = None
            self._workers_done_event.set()
            for q in self._index_queues:
                try:
                    q.put(None)
                except (OSError, ValueError):
                    pass
            # Idle workers exit within one poll interval; a worker busy in __getitem__
            # is not waited for long (one shared deadline), it is terminated below.
            deadline = time.monotonic() + grace
            for w in self._workers:
                w.join(timeout=max(0.0, deadline - time.monotonic()))
        finally:
            for w in self._workers:
                if w.is_alive():
                    w.terminate()
                    w.join(timeout=1.0)
                    if w.is_alive():
                        w.kill()
                        w.join()
            for q in self._index_queues:
                q.cancel_join_thread()
                q.close()
            if not self._inline:
                self._worker_result_queue.cancel_join_thread()
                self._worker_result_queue.close()
            _shm.unlink_prefix(self._shm_prefix)

    def __del__(self) -> None:
        self._shutdown_workers()
