"""Matmul-bound work, ember vs torch in the same process.

Cases: a 512x512 float32 matmul, the same with backward, and a raw-tensor MLP
784-512-512-10 training step at batch 128 (forward, backward, SGD update).
Run: python benchmarks/matmul.py
"""
from __future__ import annotations

import numpy as np
import torch
from common import Pair, measure, pin_threads, report

import ember


def mlp_params(lib, rng):
    sizes = [(784, 512), (512, 512), (512, 10)]
    params = []
    for fan_in, fan_out in sizes:
        w = (rng.standard_normal((fan_in, fan_out)) / np.sqrt(fan_in)).astype(np.float32)
        params += [lib.tensor(w, requires_grad=True),
                   lib.tensor(np.zeros(fan_out, np.float32), requires_grad=True)]
    return params


def mlp_step(lib, params, x, y):
    w1, b1, w2, b2, w3, b3 = params
    h = (x @ w1 + b1).relu()
    h = (h @ w2 + b2).relu()
    logits = h @ w3 + b3
    loss = -logits.log_softmax(dim=1).gather(1, y.unsqueeze(1)).mean()
    for p in params:
        p.grad = None
    loss.backward()
    with lib.no_grad():
        for p in params:
            p.sub_(p.grad, alpha=0.01)


def matmul_pairs() -> list[Pair]:
    """A 512x512 matmul, forward only and with backward."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((512, 512)).astype(np.float32)
    b = rng.standard_normal((512, 512)).astype(np.float32)
    ea, eb, ta, tb = ember.tensor(a), ember.tensor(b), torch.tensor(a), torch.tensor(b)
    out = [Pair("matmul 512x512 float32", lambda: ea @ eb, lambda: ta @ tb, number=20)]
    ga, gb = ember.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)

    def fwd_bwd(x, y):
        x.grad = None
        (x @ y).sum().backward()
    out.append(Pair("matmul 512x512 + backward", lambda: fwd_bwd(ga, eb),
                    lambda: fwd_bwd(gb, tb), number=10))
    return out


def mlp_pair() -> Pair:
    """The MLP training step at batch 128, both libraries from the same weights and batch."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((128, 784)).astype(np.float32)
    y = rng.integers(0, 10, 128)
    ep = mlp_params(ember, np.random.default_rng(1))
    tp = mlp_params(torch, np.random.default_rng(1))
    ex, ey, tx, ty = ember.tensor(x), ember.tensor(y), torch.tensor(x), torch.tensor(y)
    return Pair("MLP 784-512-512-10 step, batch 128", lambda: mlp_step(ember, ep, ex, ey),
                lambda: mlp_step(torch, tp, tx, ty), number=20)


def main() -> None:
    threads = pin_threads()
    report(measure(matmul_pairs() + [mlp_pair()]), threads)


if __name__ == "__main__":
    main()
