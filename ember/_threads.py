"""The number of threads NumPy's BLAS uses (what torch.set_num_threads controls)."""
from __future__ import annotations

import os

_limit = []  # the active threadpoolctl limiter, kept alive so the limit holds


def set_num_threads(num: int) -> None:
    """Really set the BLAS thread count (through threadpoolctl), not just an env var."""
    if num < 1:
        raise RuntimeError(f"set_num_threads expects a positive integer, got {num}")
    from threadpoolctl import threadpool_limits
    _limit[:] = [threadpool_limits(limits=num, user_api="blas")]


def get_num_threads() -> int:
    from threadpoolctl import threadpool_info
    counts = [p["num_threads"] for p in threadpool_info() if p.get("user_api") == "blas"]
    return max(counts) if counts else (os.cpu_count() or 1)
