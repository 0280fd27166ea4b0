"""Convolution work, ember vs torch in the same process.

Cases: conv2d forward and forward+backward on (64, 32, 16, 16) x 64 3x3 filters and
on a (64, 3, 32, 32) batch, and a small CNN training step at batch 64 on 32x32 RGB
(conv 3->32 3x3, ReLU, max-pool, conv 32->64 3x3, ReLU, max-pool, linear 4096->10,
cross-entropy, backward, SGD update). DESIGN target: the step within 1.5x of torch.
Run: python benchmarks/convnet.py [threads]   (default: common.THREADS)
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


class Net:
    """The same CNN built from either library's nn modules, with shared weights."""

    def __init__(self, lib, weights=None):
        nn = lib.nn
        self.lib = lib
        self.layers = [nn.Conv2d(3, 32, 3, padding=1), nn.Conv2d(32, 64, 3, padding=1),
                       nn.Linear(64 * 8 * 8, 10)]
        if weights is not None:
            for layer, (w, b) in zip(self.layers, weights):
                layer.load_state_dict({"weight": lib.tensor(w), "bias": lib.tensor(b)})
        self.params = [p for layer in self.layers for p in layer.parameters()]

    def weights(self):
        return [(m.weight.detach().numpy().copy(), m.bias.detach().numpy().copy())
                for m in self.layers]

    def step(self, x, y, lr=0.01):
        F = self.lib.nn.functional
        c1, c2, fc = self.layers
        h = F.max_pool2d(F.relu(c1(x)), 2)
        h = F.max_pool2d(F.relu(c2(h)), 2)
        loss = F.cross_entropy(fc(h.flatten(1)), y)
        for p in self.params:
            p.grad = None
        loss.backward()
        with self.lib.no_grad():
            for p in self.params:
                p.sub_(p.grad, alpha=lr)
        return loss


def conv_pairs(shape, out_channels) -> list[Pair]:
    """conv2d forward and forward+backward on one input shape, padding 1."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape).astype(np.float32)
    w = (rng.standard_normal((out_channels, shape[1], 3, 3)) * 0.1).astype(np.float32)
    name = f"conv2d {shape}x{out_channels} 3x3"
    fns = []
    for lib in (ember, torch):
        xt = lib.tensor(x, requires_grad=True)
        wt = lib.tensor(w, requires_grad=True)

        def fwd(lib=lib, xt=xt, wt=wt):
            with lib.no_grad():
                lib.nn.functional.conv2d(xt, wt, padding=1)

        def fwd_bwd(lib=lib, xt=xt, wt=wt):
            lib.nn.functional.conv2d(xt, wt, padding=1).sum().backward()
        fns.append((fwd, fwd_bwd))
    return [Pair(name + " fwd", fns[0][0], fns[1][0], number=3),
            Pair(name + " fwd+bwd", fns[0][1], fns[1][1], number=3)]


def cnn_pair() -> Pair:
    """The CNN training step; both nets start from torch's initial weights, and their first
    losses must agree."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 3, 32, 32)).astype(np.float32)
    y = rng.integers(0, 10, 64)
    tnet = Net(torch)
    enet = Net(ember, tnet.weights())
    tx, ty = torch.tensor(x), torch.tensor(y)
    ex, ey = ember.tensor(x), ember.tensor(y)
    lt, le = tnet.step(tx, ty).item(), enet.step(ex, ey).item()
    assert abs(lt - le) < 1e-3 * max(1.0, abs(lt)), (lt, le)
    return Pair("CNN train step, batch 64x3x32x32", lambda: enet.step(ex, ey),
                lambda: tnet.step(tx, ty), number=3)


def main() -> None:
    threads = pin_threads(*(int(a) for a in sys.argv[1:2]))
    pairs = conv_pairs((64, 32, 16, 16), 64) + conv_pairs((64, 3, 32, 32), 32) + [cnn_pair()]
    report(measure(pairs), threads)


if __name__ == "__main__":
    main()
