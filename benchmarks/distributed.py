"""ember.distributed on 2 ranks: all-reduce bandwidth vs torch.distributed (gloo), and how
much of DDP's all-reduce time hides behind backward.

Run: python benchmarks/distributed.py
It starts itself on 2 ranks through `python -m ember.distributed.run` (mpiexec). In each
rank ember uses the MPI process group and torch a gloo group over MASTER_ADDR/PORT set by
the launcher; both libraries are pinned to 1 thread per rank.

(a) all_reduce(SUM) of a float32 tensor, 1 KiB .. 16 MiB: median time per call and the
    bus bandwidth 2 * (n - 1) / n * bytes / time (nccl-tests' definition).
(b) DDP overlap for an MLP 784-1024-1024-10 (batch 64): forward+backward without DDP
    (t_bwd), one all-reduce of all gradients as one flat tensor (t_ar), and
    forward+backward through DDP (t_ddp). The share of all-reduce hidden behind backward
    is (t_bwd + t_ar - t_ddp) / t_ar, clipped to [0, 1]; "DDP extra" is t_ddp - t_bwd
    (all-reduce left exposed plus the hooks' and buckets' own cost). The last row adds
    gradient_as_bucket_view=True, which saves the copies between .grad and the buckets.
"""
from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time

SIZES_KIB = [1, 4, 16, 64, 256, 1024, 4096, 16384]
_WORKER_FLAG = "--rank-worker"


def _timeit(fn, sync, *, number: int, repeat: int = 5) -> float:
    """Median seconds per call; `sync` (a barrier) lines the ranks up before each run, and
    rank 0's median is broadcast so every rank reports the same number."""
    fn()
    runs = []
    for _ in range(repeat):
        sync()
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        runs.append((time.perf_counter() - t0) / number)
    return statistics.median(runs)


def _calls_for(nbytes: int) -> int:
    return max(3, min(200, (64 << 20) // max(nbytes, 1) // 8))


def _bus_gib_s(nbytes: int, seconds: float, world: int) -> float:
    return 2 * (world - 1) / world * nbytes / seconds / 2**30


def _fmt(seconds: float) -> str:
    return f"{seconds * 1e6:.1f} us" if seconds < 1e-3 else f"{seconds * 1e3:.2f} ms"


def _allreduce_rows(world: int) -> list[tuple[int, float, float]]:
    import numpy as np
    import torch
    import torch.distributed as tdist

    import ember
    import ember.distributed as edist

    rows = []
    for kib in SIZES_KIB:
        n = kib * 256  # float32 elements
        data = np.random.default_rng(0).standard_normal(n).astype(np.float32)
        e = ember.from_numpy(data.copy())
        t = torch.from_numpy(data.copy())
        calls = _calls_for(n * 4)
        te = _timeit(lambda e=e: edist.all_reduce(e), edist.barrier, number=calls)
        tt = _timeit(lambda t=t: tdist.all_reduce(t), tdist.barrier, number=calls)
        rows.append((kib, te, tt))
    return rows


def _mlp(nn):
    return nn.Sequential(nn.Linear(784, 1024), nn.ReLU(), nn.Linear(1024, 1024), nn.ReLU(),
                         nn.Linear(1024, 10))


def _overlap_rows(rank: int) -> list[tuple[str, float, float, float, float]]:
    import numpy as np

    import ember
    import ember.distributed as edist
    import ember.nn as nn
    import ember.nn.functional as F
    from ember.nn.parallel import DistributedDataParallel as DDP

    ember.manual_seed(0)
    rng = np.random.default_rng(rank)
    x = ember.from_numpy(rng.standard_normal((64, 784)).astype(np.float32))
    y = ember.from_numpy(rng.integers(0, 10, 64))

    def step(model):
        def run():
            for p in model.parameters():
                p.grad = None
            F.cross_entropy(model(x), y).backward()
        return run

    plain = _mlp(nn)
    t_bwd = _timeit(step(plain), edist.barrier, number=5)
    numel = sum(p.numel() for p in plain.parameters())
    flat = ember.zeros(numel)
    t_ar = _timeit(lambda: edist.all_reduce(flat), edist.barrier, number=5)
    rows = []
    for cap, view in ((1, False), (25, False), (25, True)):
        model = DDP(_mlp(nn), bucket_cap_mb=cap, gradient_as_bucket_view=view)
        t_ddp = _timeit(step(model), edist.barrier, number=5)
        hidden = min(1.0, max(0.0, (t_bwd + t_ar - t_ddp) / t_ar))
        name = f"cap {cap} MiB, {len(model._buckets)} buckets" + (", as view" if view else "")
        rows.append((name, t_bwd, t_ar, t_ddp, hidden))
    return rows


def _worker() -> None:
    import torch
    import torch.distributed as tdist

    import ember
    import ember.distributed as edist

    ember.set_num_threads(1)
    torch.set_num_threads(1)
    edist.init_process_group("mpi")
    tdist.init_process_group("gloo")  # env://: MASTER_ADDR/PORT, RANK, WORLD_SIZE
    rank, world = edist.get_rank(), edist.get_world_size()
    ar = _allreduce_rows(world)
    ov = _overlap_rows(rank)
    if rank == 0:
        print(f"all_reduce, float32, {world} ranks, 1 thread per rank (ember: MPI, "
              "torch: gloo)")
        print(f"{'size':>9s} {'ember':>10s} {'GiB/s':>7s} {'torch':>10s} {'GiB/s':>7s} "
              f"{'ember/torch':>12s}")
        for kib, te, tt in ar:
            size = f"{kib} KiB" if kib < 1024 else f"{kib // 1024} MiB"
            nbytes = kib * 1024
            print(f"{size:>9s} {_fmt(te):>10s} {_bus_gib_s(nbytes, te, world):7.2f} "
                  f"{_fmt(tt):>10s} {_bus_gib_s(nbytes, tt, world):7.2f} {te / tt:12.2f}")
        print()
        print("DDP overlap, MLP 784-1024-1024-10, batch 64 per rank (ember)")
        print(f"{'case':30s} {'fwd+bwd':>10s} {'all-reduce':>11s} {'DDP fwd+bwd':>12s} "
              f"{'DDP extra':>10s} {'hidden':>7s}")
        for name, t_bwd, t_ar, t_ddp, hidden in ov:
            print(f"{name:30s} {_fmt(t_bwd):>10s} {_fmt(t_ar):>11s} {_fmt(t_ddp):>12s} "
                  f"{_fmt(t_ddp - t_bwd):>10s} {hidden:7.0%}", flush=True)
    tdist.destroy_process_group()
    edist.destroy_process_group()


def main() -> int:
    if _WORKER_FLAG in sys.argv:
        _worker()
        return 0
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
           "MKL_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "ember.distributed.run", "--standalone",
           "--nproc-per-node", "2", os.path.abspath(__file__), _WORKER_FLAG]
    return subprocess.call(cmd, env=env)


if __name__ == "__main__":
    sys.exit(main())
