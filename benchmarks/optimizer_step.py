"""optimizer.step() on a small transformer's parameters (100 tensors), ember vs torch.

Shapes follow an 8-layer encoder with d_model 256 and a 1024-wide feed-forward block,
plus token and position embeddings and a final LayerNorm (about 6.6M floats in 100
tensors). Gradients are set once; each timed call is one step. torch's default on CPU
is its per-parameter loop; its foreach path is shown too. ember's default runs the
update once per group over flat buffers (NOTE [ Flat parameter groups ]).
Run: python benchmarks/optimizer_step.py
"""
from __future__ import annotations

import numpy as np
import torch
from common import Pair, measure, pin_threads, report

import ember
import ember.optim


def transformer_shapes(layers: int = 8, d: int = 256, ff: int = 1024, vocab: int = 1000,
                       ctx: int = 128) -> list[tuple[int, ...]]:
    shapes = [(vocab, d), (ctx, d)]
    for _ in range(layers):
        shapes += [(d,), (d,), (3 * d, d), (3 * d,), (d, d), (d,),  # norm, attention
                   (d,), (d,), (ff, d), (ff,), (d, ff), (d,)]  # norm, feed-forward
    return shapes + [(d,), (d,)]


def make(lib, arrays, grads):
    make_param = torch.nn.Parameter if lib is torch else ember.nn.Parameter
    params = [make_param(lib.tensor(a)) for a in arrays]
    for p, g in zip(params, grads):
        p.grad = lib.tensor(g)
    return params


CASES = {"Adam": dict(lr=1e-3), "SGD momentum": dict(lr=1e-2, momentum=0.9),
         "AdamW": dict(lr=1e-3)}


def pairs(names=tuple(CASES)) -> list[Pair]:
    """For each optimizer: ember's step against torch's default step and its foreach step,
    all over copies of the same parameters and gradients."""
    rng = np.random.default_rng(0)
    shapes = transformer_shapes()
    arrays = [(rng.standard_normal(s) * 0.02).astype(np.float32) for s in shapes]
    grads = [(rng.standard_normal(s) * 1e-3).astype(np.float32) for s in shapes]
    out = []
    for name in names:
        kw = CASES[name]
        cls = name.split()[0]
        e_opt = getattr(ember.optim, cls)(make(ember, arrays, grads), **kw)
        t_opt = getattr(torch.optim, cls)(make(torch, arrays, grads), **kw)
        t_fe = getattr(torch.optim, cls)(make(torch, arrays, grads), foreach=True, **kw)
        out.append(Pair(f"{name}: vs torch default", e_opt.step, t_opt.step, number=5))
        out.append(Pair(f"{name}: vs torch foreach=True", e_opt.step, t_fe.step, number=5))
    return out


def main() -> None:
    threads = pin_threads()
    shapes = transformer_shapes()
    floats = sum(int(np.prod(s)) for s in shapes)
    print(f"{len(shapes)} parameter tensors, {floats / 1e6:.1f}M floats")
    report(measure(pairs()), threads)


if __name__ == "__main__":
    main()
