"""Failure modes of multi-process loading: each must end in a clear error and leave nothing."""
from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest
from data_helpers import live_children, shm_blocks
from spawn_dataset import Images

import ember.utils.data as eud
from ember.utils.data._utils import shm

pytestmark = pytest.mark.slow


def wait_clean(before=(), seconds=3.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not (set(live_children()) - set(before)) and not shm_blocks():
            return
        time.sleep(0.05)
    raise AssertionError(f"leftovers: children {live_children()}, blocks {shm_blocks()}")


class Failing(eud.Dataset):
    def __len__(self):
        return 8

    def __getitem__(self, i):
        if i == 5:
            raise KeyError(f"bad sample {i}")
        if i == 3:
            raise ValueError("value problem")
        return i


def test_worker_exception_reraised_with_type_message_traceback_and_worker_id():
    it = iter(eud.DataLoader(Failing(), batch_size=None, num_workers=2))
    assert [int(next(it)) for _ in range(3)] == [0, 1, 2]
    with pytest.raises(ValueError) as info:
        next(it)
    msg = str(info.value)
    assert "Caught ValueError in DataLoader worker process 1" in msg
    assert "value problem" in msg and "Traceback" in msg and "__getitem__" in msg
    assert int(next(it)) == 4  # like torch, iteration may go on after an error
    with pytest.raises(KeyError, match="Caught KeyError in DataLoader worker process 1"):
        next(it)
    del it, info
    wait_clean()


def test_worker_init_fn_exception():
    def init(worker_id):
        raise RuntimeError(f"init failed in {worker_id}")
    with pytest.raises(RuntimeError, match="init failed in 0"):
        list(eud.DataLoader(list(range(4)), num_workers=1, worker_init_fn=init))
    wait_clean()


class Slow(eud.Dataset):
    def __len__(self):
        return 100

    def __getitem__(self, i):
        time.sleep(0.05 if i < 2 else 30)
        return Images()[i]


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_killed_worker_detected_quickly(sig):
    before = live_children()
    it = iter(eud.DataLoader(Slow(), batch_size=None, num_workers=2))
    next(it)
    victim = it._workers[1]
    os.kill(victim.pid, sig)
    t0 = time.monotonic()
    with pytest.raises(RuntimeError) as info:
        for _ in range(5):
            next(it)
    elapsed = time.monotonic() - t0
    assert elapsed < 2.0, elapsed
    msg = str(info.value)
    assert f"DataLoader worker 1 (pid {victim.pid})" in msg and sig.name in msg
    del it, info
    wait_clean(before)


def test_worker_exit_code_reported():
    class Exits(eud.Dataset):
        def __len__(self):
            return 4

        def __getitem__(self, i):
            os._exit(3)

    with pytest.raises(RuntimeError, match=r"DataLoader worker 0 \(pid \d+\) exited "
                                           r"unexpectedly with exit code 3"):
        list(eud.DataLoader(Exits(), num_workers=1))
    wait_clean()


def test_timeout():
    t0 = time.monotonic()
    with pytest.raises(RuntimeError, match=r"DataLoader timed out after 0.3 seconds"):
        it = iter(eud.DataLoader(Slow(), batch_size=None, num_workers=1, timeout=0.3))
        for _ in range(4):
            next(it)
    assert time.monotonic() - t0 < 3
    del it
    wait_clean()


def test_keyboard_interrupt_leaves_nothing():
    before = live_children()
    it = iter(eud.DataLoader(Slow(), batch_size=None, num_workers=2, prefetch_factor=2))
    next(it)
    main = threading.get_ident()
    timer = threading.Timer(0.3, lambda: signal.pthread_kill(main, signal.SIGINT))
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        for _ in range(10):
            next(it)
    timer.join()
    assert it._shutdown  # shut down right away, not at garbage collection
    wait_clean(before)


def test_exhausted_shared_memory_gives_a_clear_error(monkeypatch):
    def full(fd, buf, offset):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    monkeypatch.setattr(shm, "_write", full)  # inherited by the forked workers
    with pytest.raises(RuntimeError, match=r"/dev/shm is exhausted") as info:
        list(eud.DataLoader(Images(8), batch_size=4, num_workers=1))
    assert "DataLoader worker process 0" in str(info.value)
    del info
    wait_clean()


PARENT = textwrap.dedent("""
    import os, sys, time
    sys.path.insert(0, {here!r})
    import ember.utils.data as eud
    from spawn_dataset import Images

    class Slow(Images):
        def __getitem__(self, i):
            if i > 6:
                time.sleep(60)
            return super().__getitem__(i)

    it = iter(eud.DataLoader(Slow(40), batch_size=2, num_workers=2, prefetch_factor=4))
    next(it)
    time.sleep(0.5)  # some batches written to shared memory, not yet read
    print(os.getpid(), " ".join(str(w.pid) for w in it._workers), flush=True)
    os.kill(os.getpid(), 9)
""")


def test_workers_exit_when_the_parent_dies():
    here = os.path.dirname(os.path.abspath(__file__))
    proc = subprocess.run([sys.executable, "-c", PARENT.format(here=here)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == -9, proc.stderr
    parent, *pids = [int(p) for p in proc.stdout.split()]
    assert len(pids) == 2
    deadline = time.monotonic() + 5
    alive = pids
    while alive and time.monotonic() < deadline:
        time.sleep(0.1)
        alive = [p for p in pids if os.path.exists(f"/proc/{p}") and not _zombie(p)]
    assert not alive, f"workers {alive} outlived their parent"
    # A sleeping worker wrote a batch nobody read: its watchdog unlinked it.
    left = [n for n in os.listdir("/dev/shm") if n.startswith(f"ember_dl_{parent}_")]
    assert not left


def _zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True
