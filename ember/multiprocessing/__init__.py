"""ember.multiprocessing: Python's multiprocessing, plus torch's `spawn`.

torch.multiprocessing wraps the standard module so that tensors sent to other processes
travel through shared memory. ember re-exports the standard module as it is: a process
started with the fork start method (Linux's default) inherits the parent's tensors, and
those moved into shared memory by `share_memory_()` stay shared with it (Hogwild
training: ember/examples/hogwild.py). A tensor pickled to a spawned process or put on a
Queue arrives as a copy. `spawn` and `start_processes` run `nprocs` copies of a function
and report the first failure as torch does.
"""
from __future__ import annotations

import multiprocessing
from multiprocessing import *  # noqa: F403

from ember.multiprocessing.spawn import (ProcessContext, ProcessExitedException,
                                         ProcessRaisedException, spawn, start_processes)

__all__ = list(multiprocessing.__all__) + [
    "ProcessContext", "ProcessExitedException", "ProcessRaisedException", "spawn",
    "start_processes", "get_all_sharing_strategies", "get_sharing_strategy",
    "set_sharing_strategy"]

_STRATEGIES = {"file_descriptor", "file_system"}
_strategy = "file_descriptor"


def get_all_sharing_strategies() -> set[str]:
    """torch's names for how tensors cross processes (accepted; see set_sharing_strategy)."""
    return set(_STRATEGIES)


def get_sharing_strategy() -> str:
    return _strategy


def set_sharing_strategy(new_strategy: str) -> None:
    """Accepts torch's strategy names, so programs that pick one (often "file_system", to
    avoid running out of file descriptors) run unchanged. ember's DataLoader always hands
    batches over through named POSIX shared-memory blocks, so the choice changes nothing."""
    global _strategy
    assert new_strategy in _STRATEGIES, new_strategy  # torch's check
    _strategy = new_strategy
