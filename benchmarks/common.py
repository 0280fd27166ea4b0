"""Shared timing helpers: ember/torch case pairs timed in interleaved rounds, and thread
pinning for both libraries."""
from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

THREADS = 2
SETTLE = 0.2  # seconds between rounds: longer than either library's thread spin-wait


@dataclass
class Pair:
    """One benchmark case: the same work as an ember callable and a torch callable.

    `number` calls make one timed run; `per` divides the time per call (a 100-op chain
    reports time per op with per=100).
    """

    name: str
    ember: Callable[[], object]
    torch: Callable[[], object]
    number: int
    per: int = 1


def pin_threads(n: int = THREADS) -> int:
    """Give torch and ember's BLAS the same thread count; return it."""
    import torch

    import ember
    torch.set_num_threads(n)
    ember.set_num_threads(n)
    return n


def _run(fn, number: int) -> float:
    t0 = time.perf_counter()
    for _ in range(number):
        fn()
    return (time.perf_counter() - t0) / number


def _settled_run(fn, number: int) -> float:
    """One timed run after the other library's idle threads have stopped spinning.

    OpenBLAS and OpenMP worker threads busy-wait for a while after their last task; on 2
    cores they would otherwise steal the first part of the next library's round.
    """
    time.sleep(SETTLE)
    fn()
    return _run(fn, number)


def compare(pair: Pair, *, repeat: int = 7, number: int | None = None) -> dict[str, float]:
    """Time both sides of `pair` in alternating rounds, so both see the same background load.

    Returns seconds per call (divided by `pair.per`): the best round and the median round
    of each library.
    """
    number = number or pair.number
    e_runs, t_runs = [], []
    for _ in range(repeat):
        e_runs.append(_settled_run(pair.ember, number) / pair.per)
        t_runs.append(_settled_run(pair.torch, number) / pair.per)
    return {"ember": min(e_runs), "torch": min(t_runs),
            "ember_median": statistics.median(e_runs), "torch_median": statistics.median(t_runs)}


def measure(pairs: list[Pair], repeat: int = 7) -> list[tuple[str, float, float]]:
    """(name, ember seconds, torch seconds) per pair: the best of `repeat` interleaved rounds."""
    rows = []
    for pair in pairs:
        r = compare(pair, repeat=repeat)
        rows.append((pair.name, r["ember"], r["torch"]))
    return rows


def report(rows: list[tuple[str, float, float]], threads: int) -> None:
    """Print ember time, torch time and their ratio for each case."""
    print(f"threads: {threads}")
    print(f"{'case':44s} {'ember':>11s} {'torch':>11s} {'ember/torch':>12s}")
    for name, e, t in rows:
        print(f"{name:44s} {fmt_time(e):>11s} {fmt_time(t):>11s} {e / t:12.2f}")


def fmt_time(seconds: float) -> str:
    """Seconds as a short human string in us, ms or s."""
    if seconds < 1e-3:
        return f"{seconds * 1e6:.2f} us"
    if seconds < 1.0:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds:.2f} s"
