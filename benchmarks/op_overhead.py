"""Per-op Python overhead on tiny tensors, ember vs torch in the same process.

Cases: a no-grad add, the same add with requires_grad (graph recorded), and a
100-op chain of mixed elementwise ops followed by backward (per op).
Run: python benchmarks/op_overhead.py
"""
from __future__ import annotations

import numpy as np
import torch
from common import Pair, measure, pin_threads, report

import ember


def chain(lib, x, w):
    y = x
    for _ in range(25):  # 4 ops per round: 100 ops
        y = (y * w + 1.0).tanh() - 0.5
    return y.sum()


def pairs() -> list[Pair]:
    """The three cases, built on the same 16 floats for both libraries."""
    data = np.random.default_rng(0).standard_normal(16).astype(np.float32)
    out = []
    for name, grad in (("add, no grad", False), ("add, requires_grad", True)):
        ea, eb = ember.tensor(data, requires_grad=grad), ember.tensor(data)
        ta, tb = torch.tensor(data, requires_grad=grad), torch.tensor(data)
        out.append(Pair(f"{name} (16 floats)", lambda a=ea, b=eb: a + b,
                        lambda a=ta, b=tb: a + b, number=20000))

    ex, ew = ember.tensor(data, requires_grad=True), ember.tensor(data, requires_grad=True)
    tx, tw = torch.tensor(data, requires_grad=True), torch.tensor(data, requires_grad=True)

    def step(lib, x, w):
        x.grad = w.grad = None
        chain(lib, x, w).backward()

    out.append(Pair("100-op chain + backward, per op", lambda: step(ember, ex, ew),
                    lambda: step(torch, tx, tw), number=200, per=100))
    return out


def main() -> None:
    threads = pin_threads()
    report(measure(pairs()), threads)


if __name__ == "__main__":
    main()
