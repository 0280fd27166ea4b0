"""Functions that `spawn` runs in child processes (importable by name, as the spawn start
method needs); used by tests/test_multiprocessing.py. Imports nothing heavy."""
from __future__ import annotations

import os
import sys


def raise_in_one(i: int, x: int) -> None:
    if i == 1:
        raise ValueError(f"boom {x}")


def exit_in_zero(i: int) -> None:
    if i == 0:
        sys.exit(3)


def kill_zero(i: int) -> None:
    if i == 0:
        os.kill(os.getpid(), 9)


def report(i: int, queue, scale: int) -> None:
    queue.put((i, i * scale, os.getpid()))
