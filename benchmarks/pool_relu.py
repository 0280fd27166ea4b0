"""ReLU and 2x2 max pooling, ember vs torch in the same process, on the activations of the
small CNN in convnet.py: (64, 32, 32, 32) and (64, 64, 16, 16) float32.

Forward runs without grad; forward+backward feeds a fixed random output gradient.
Run: python benchmarks/pool_relu.py [threads]   (default: common.THREADS)
"""
from __future__ import annotations

import os
import sys

import numpy as np
import torch
from common import Pair, measure, pin_threads, report

# this checkout's ember, whatever else the environment has installed under that name
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import ember  # noqa: E402


def pairs_for(name: str, shape: tuple, fn) -> list[Pair]:
    """fn(lib, x) forward without grad, and forward+backward with a fixed output gradient."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape).astype(np.float32)
    with torch.no_grad():
        out_shape = tuple(fn(torch, torch.tensor(x)).shape)
    g = rng.standard_normal(out_shape).astype(np.float32)
    fns = []
    for lib in (ember, torch):
        xt = lib.tensor(x, requires_grad=True)
        gt = lib.tensor(g)

        def fwd(lib=lib, xt=xt):
            with lib.no_grad():
                fn(lib, xt)

        def fwd_bwd(lib=lib, xt=xt, gt=gt):
            xt.grad = None
            fn(lib, xt).backward(gt)
        fns.append((fwd, fwd_bwd))
    label = f"{name} {'x'.join(map(str, shape))}"
    return [Pair(label + " fwd", fns[0][0], fns[1][0], number=5),
            Pair(label + " fwd+bwd", fns[0][1], fns[1][1], number=5)]


def main() -> None:
    threads = pin_threads(*(int(a) for a in sys.argv[1:2]))

    def relu(lib, x):
        return lib.nn.functional.relu(x)

    def pool(lib, x):
        return lib.nn.functional.max_pool2d(x, 2)

    def relu_pool(lib, x):
        return lib.nn.functional.max_pool2d(lib.nn.functional.relu(x), 2)
    big, small = (64, 32, 32, 32), (64, 64, 16, 16)
    pairs = (pairs_for("relu", big, relu) + pairs_for("max_pool2d", big, pool)
             + pairs_for("relu+pool", big, relu_pool) + pairs_for("max_pool2d", small, pool)
             + pairs_for("relu+pool", small, relu_pool))
    report(measure(pairs), threads)


if __name__ == "__main__":
    main()
