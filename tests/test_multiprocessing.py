"""ember.multiprocessing against torch.multiprocessing: the standard module's names, and
`spawn` / `start_processes` running fn(i, *args) and reporting the first failure with
torch's exception types, messages and fields."""
from __future__ import annotations

import multiprocessing
import os

import pytest
import torch
import torch.multiprocessing as tmp
from mp_children import exit_in_zero, kill_zero, raise_in_one, report

import ember
import ember.multiprocessing as emp

LIBS = [pytest.param(emp, id="ember"), pytest.param(tmp, id="torch")]


def test_reachable_after_import_and_reexports_the_standard_module():
    assert ember.multiprocessing is emp
    for name in ("Process", "Queue", "SimpleQueue", "Pool", "get_context", "set_start_method",
                 "cpu_count", "spawn", "start_processes", "ProcessRaisedException",
                 "ProcessExitedException", "ProcessContext"):
        assert hasattr(emp, name) and hasattr(tmp, name), name
    assert emp.Process is multiprocessing.Process and emp.Queue is multiprocessing.Queue


def test_sharing_strategies_as_torch():
    assert emp.get_all_sharing_strategies() == tmp.get_all_sharing_strategies()
    assert emp.get_sharing_strategy() == tmp.get_sharing_strategy() == "file_descriptor"
    emp.set_sharing_strategy("file_system")
    try:
        assert emp.get_sharing_strategy() == "file_system"
    finally:
        emp.set_sharing_strategy("file_descriptor")
    for lib in (emp, tmp):
        with pytest.raises(AssertionError):
            lib.set_sharing_strategy("carrier_pigeon")


@pytest.mark.slow
@pytest.mark.parametrize("lib", LIBS)
def test_a_raised_exception_is_reported_with_its_traceback(lib):
    with pytest.raises(lib.ProcessRaisedException) as info:
        lib.start_processes(raise_in_one, args=(7,), nprocs=2, start_method="fork")
    e = info.value
    assert str(e).startswith("\n\n-- Process 1 terminated with the following error:\n"
                             "Traceback (most recent call last):\n")
    assert str(e).rstrip().endswith("ValueError: boom 7") and "raise_in_one" in str(e)
    assert e.error_index == 1 and isinstance(e.error_pid, int) and e.error_pid != os.getpid()


@pytest.mark.slow
@pytest.mark.parametrize("lib", LIBS)
@pytest.mark.parametrize("fn, message, code, signal_name", [
    (exit_in_zero, "process 0 terminated with exit code 3", 3, None),
    (kill_zero, "process 0 terminated with signal SIGKILL", -9, "SIGKILL")])
def test_an_exit_code_or_a_signal_is_reported(lib, fn, message, code, signal_name):
    with pytest.raises(lib.ProcessExitedException) as info:
        lib.start_processes(fn, nprocs=2, start_method="fork")
    e = info.value
    assert str(e) == message and e.error_index == 0
    assert e.exit_code == code and e.signal_name == signal_name


@pytest.mark.slow
@pytest.mark.parametrize("lib", LIBS)
def test_every_index_runs_once_and_join_false_gives_a_context(lib):
    queue = multiprocessing.get_context("fork").SimpleQueue()
    assert lib.start_processes(report, args=(queue, 10), nprocs=3, start_method="fork") is None
    got = sorted(queue.get()[:2] for _ in range(3))
    assert got == [(0, 0), (1, 10), (2, 20)]
    ctx = lib.start_processes(report, args=(queue, 1), nprocs=2, join=False,
                              start_method="fork")
    assert type(ctx).__name__ == "ProcessContext" and len(ctx.pids()) == 2
    while not ctx.join(timeout=30):
        pass
    assert sorted(queue.get()[0] for _ in range(2)) == [0, 1]


@pytest.mark.slow
def test_spawn_start_method_pickles_the_function_and_args():
    queue = multiprocessing.get_context("spawn").SimpleQueue()
    emp.spawn(report, args=(queue, 5), nprocs=2)
    results = sorted(queue.get() for _ in range(2))
    assert [r[:2] for r in results] == [(0, 0), (1, 5)]
    assert all(pid != os.getpid() for *_, pid in results)


def test_zero_processes_return_at_once():
    for lib in (emp, tmp):
        assert lib.start_processes(report, nprocs=0, start_method="fork") is None


def test_exceptions_pickle_with_their_fields():
    import pickle
    e = pickle.loads(pickle.dumps(emp.ProcessExitedException("m", 1, 2, -15, "SIGTERM")))
    assert (e.msg, e.error_index, e.error_pid, e.exit_code, e.signal_name) == (
        "m", 1, 2, -15, "SIGTERM")
    r = pickle.loads(pickle.dumps(emp.ProcessRaisedException("m", 3, 4)))
    assert (str(r), r.error_index, r.error_pid) == ("m", 3, 4)
    assert torch.multiprocessing.ProcessRaisedException.__mro__[1].__name__ == \
        type(r).__mro__[1].__name__ == "ProcessException"
