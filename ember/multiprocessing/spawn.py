"""`spawn` / `start_processes`: run `fn(i, *args)` in `nprocs` processes, as torch does.

Each child runs `_wrap`, which sends the traceback of an exception back through its own
pipe and exits with code 1. `ProcessContext.join` waits for any child to end; the first
one that failed stops the others (SIGTERM) and is reported as `ProcessRaisedException`
(with the child's traceback) or `ProcessExitedException` (its exit code or signal).
"""
from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import signal
import sys
import traceback

__all__ = ["ProcessContext", "ProcessException", "ProcessExitedException",
           "ProcessRaisedException", "spawn", "start_processes"]


class ProcessException(Exception):
    """A child of `spawn` failed: `error_index` is its index, `error_pid` its process id."""

    def __init__(self, msg: str, error_index: int, error_pid: int) -> None:
        super().__init__(msg)
        self.msg, self.error_index, self.error_pid = msg, error_index, error_pid

    def __reduce__(self):
        return type(self), (self.msg, self.error_index, self.error_pid)


class ProcessRaisedException(ProcessException):
    """A child raised an exception; the message holds its traceback."""


class ProcessExitedException(ProcessException):
    """A child exited with a non-zero code, or was killed by a signal."""

    def __init__(self, msg: str, error_index: int, error_pid: int, exit_code: int,
                 signal_name: str | None = None) -> None:
        super().__init__(msg, error_index, error_pid)
        self.exit_code, self.signal_name = exit_code, signal_name

    def __reduce__(self):
        return type(self), (self.msg, self.error_index, self.error_pid, self.exit_code,
                            self.signal_name)


def _wrap(fn, i: int, args: tuple, errors) -> None:
    """The child's entry point: fn(i, *args); an exception goes back as text, exit code 1."""
    try:
        fn(i, *args)
    except KeyboardInterrupt:
        pass  # the parent was interrupted too and stops the others
    except Exception:
        errors.send(traceback.format_exc())
        sys.exit(1)


class ProcessContext:
    """The started children; `join` waits for them and raises for the first failure."""

    def __init__(self, processes: list, error_pipes: list) -> None:
        self.processes = processes
        self.error_pipes = error_pipes
        self.sentinels = {p.sentinel: i for i, p in enumerate(processes)}

    def pids(self) -> list[int]:
        return [p.pid for p in self.processes]

    def join(self, timeout: float | None = None) -> bool:
        """Wait (up to `timeout` seconds) for children to end. True once all have ended
        successfully, False while some still run; raises for the first that failed,
        after terminating the rest."""
        if not self.sentinels:
            return True
        ready = multiprocessing.connection.wait(list(self.sentinels), timeout=timeout)
        failed = None
        for sentinel in ready:
            i = self.sentinels.pop(sentinel)
            self.processes[i].join()
            if self.processes[i].exitcode != 0 and failed is None:
                failed = i
        if failed is None:
            return not self.sentinels
        for p in self.processes:
            if p.is_alive():
                p.terminate()
            p.join()
        proc = self.processes[failed]
        trace = _received(self.error_pipes[failed])
        if trace is not None:
            raise ProcessRaisedException(
                f"\n\n-- Process {failed} terminated with the following error:\n{trace}",
                failed, proc.pid)
        code = proc.exitcode
        if code < 0:
            name = signal.Signals(-code).name
            raise ProcessExitedException(f"process {failed} terminated with signal {name}",
                                         failed, proc.pid, code, name)
        raise ProcessExitedException(f"process {failed} terminated with exit code {code}",
                                     failed, proc.pid, code)


def _received(pipe) -> str | None:
    """The traceback a failed child sent, or None (it exited or was killed without one:
    its end of the pipe just closed)."""
    try:
        return pipe.recv() if pipe.poll() else None
    except EOFError:
        return None


def start_processes(fn, args: tuple = (), nprocs: int = 1, join: bool = True,
                    daemon: bool = False, start_method: str = "spawn"):
    """Start `nprocs` processes running fn(i, *args) with the given start method; wait for
    them when `join` (returns None), else return their ProcessContext."""
    ctx = multiprocessing.get_context(start_method)
    processes, error_pipes = [], []
    for i in range(nprocs):
        reader, writer = ctx.Pipe(duplex=False)
        p = ctx.Process(target=_wrap, args=(fn, i, args, writer), daemon=daemon)
        p.start()
        writer.close()  # the child holds its own end
        processes.append(p)
        error_pipes.append(reader)
    context = ProcessContext(processes, error_pipes)
    if not join:
        return context
    while not context.join():
        pass
    return None


def spawn(fn, args: tuple = (), nprocs: int = 1, join: bool = True, daemon: bool = False,
          start_method: str = "spawn"):
    """`start_processes` with torch's defaults: the spawn start method (fn and args are
    pickled, so a tensor in `args` reaches the children as a copy)."""
    return start_processes(fn, args, nprocs, join, daemon, start_method)
