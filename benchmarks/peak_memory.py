"""Peak memory of a training run, ember vs torch, each in a fresh process.

Each library runs in its own interpreter that imports only that library, so neither
library's allocations count against the other. The child records its peak resident
set size (VmHWM on Linux, else ru_maxrss; see _peak_mib) after the imports (the baseline) and again
after the training steps; the comparison uses the growth above the baseline (what
training itself costs) and also reports both raw peaks.
Workloads: "mlp", an nn.Sequential MLP 784-512-512-10 at batch 128 with SGD momentum;
"gpt", the model and AdamW step of gpt.py.
Run: python benchmarks/peak_memory.py [mlp|gpt] [--steps N] [--threads N]
"""
from __future__ import annotations

import argparse
import importlib
import json
import os
import subprocess
import sys

from common import THREADS

_CHILD = "--child"


def _peak_mib() -> float:
    """This process's peak resident set size in MiB.

    On Linux ru_maxrss carries over the peak of the process that forked us (a large
    benchmark driver would hide the child's own growth), so read VmHWM, the high-water
    mark of this program's own address space, where /proc has it.
    """
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _mlp_step(lib, np):
    nn = lib.nn
    model = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(),
                          nn.Linear(512, 10))
    opt = lib.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    rng = np.random.default_rng(0)
    x = lib.tensor(rng.standard_normal((128, 784)).astype(np.float32))
    y = lib.tensor(rng.integers(0, 10, 128))

    def step():
        loss = lib.nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return step


def _gpt_step(lib, np):
    import gpt
    cfg = gpt.GPTConfig()
    x, y = gpt.batch(cfg)
    return gpt.make_step(lib, gpt.make_gpt(lib, cfg), lib.tensor(x), lib.tensor(y))


def child(library: str, workload: str, steps: int, threads: int) -> dict[str, float]:
    """Run `steps` training steps with one library in this process; MiB at baseline and peak."""
    import numpy as np
    if library == "ember":  # this checkout's ember
        sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    lib = importlib.import_module(library)
    lib.set_num_threads(threads)
    lib.manual_seed(0)
    baseline = _peak_mib()
    step = {"mlp": _mlp_step, "gpt": _gpt_step}[workload](lib, np)
    for _ in range(steps):
        step()
    return {"baseline_mib": baseline, "peak_mib": _peak_mib()}


def measure_peak(library: str, workload: str, steps: int, threads: int) -> dict[str, float]:
    """`child` in a fresh interpreter; its result."""
    cmd = [sys.executable, os.path.abspath(__file__), workload, "--steps", str(steps),
           "--threads", str(threads), _CHILD, library]
    out = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"peak memory child for {library} {workload} failed "
                           f"(exit {out.returncode}):\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("workload", nargs="?", default="mlp", choices=("mlp", "gpt"))
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--threads", type=int, default=THREADS)
    parser.add_argument(_CHILD, choices=("ember", "torch"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.workload, args.steps, args.threads)))
        return
    res = {lib: measure_peak(lib, args.workload, args.steps, args.threads)
           for lib in ("ember", "torch")}
    print(f"threads: {args.threads}  workload: {args.workload}, {args.steps} steps  (MiB)")
    print(f"{'library':8s} {'baseline':>9s} {'peak':>9s} {'growth':>9s}")
    for lib, r in res.items():
        print(f"{lib:8s} {r['baseline_mib']:9.1f} {r['peak_mib']:9.1f} "
              f"{r['peak_mib'] - r['baseline_mib']:9.1f}")
    e, t = (r["peak_mib"] - r["baseline_mib"] for r in res.values())
    print(f"growth ember/torch: {e / t:.2f}")


if __name__ == "__main__":
    main()
