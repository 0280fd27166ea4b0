"""Shared timing helpers: best-of-N medians, and thread pinning for both libraries."""
from __future__ import annotations

import statistics
import time

THREADS = 2


def pin_threads(n: int = THREADS) -> int:
    """Give torch and ember's BLAS the same thread count; return it."""
    import torch

    import ember
    torch.set_num_threads(n)
    ember.set_num_threads(n)
    return n


def timeit(fn, *, number: int, repeat: int = 7) -> float:
    """Median seconds per call of fn over `repeat` runs of `number` calls."""
    fn()  # warm up
    runs = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        runs.append((time.perf_counter() - t0) / number)
    return statistics.median(runs)


def report(rows: list[tuple[str, float, float]], threads: int) -> None:
    """Print ember time, torch time and their ratio for each case."""
    print(f"threads: {threads}")
    print(f"{'case':44s} {'ember':>11s} {'torch':>11s} {'ember/torch':>12s}")
    for name, e, t in rows:
        print(f"{name:44s} {_fmt(e):>11s} {_fmt(t):>11s} {e / t:12.2f}")


def _fmt(seconds: float) -> str:
    if seconds < 1e-3:
        return f"{seconds * 1e6:.2f} us"
    return f"{seconds * 1e3:.2f} ms"
