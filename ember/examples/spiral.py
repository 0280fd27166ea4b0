"""Train a small MLP on a synthetic three-arm spiral with nothing but tensors and autograd.

No nn.Module, no optimizer: every step is visible. The forward pass is matrix products
and ReLUs, the loss is written out as a mean negative log-probability, `loss.backward()`
fills each parameter's `.grad`, and the SGD update is one in-place subtraction under
`no_grad()`. Swap `import ember as torch` for `import torch` and it runs unchanged.

Run:    python -m ember.examples.spiral            (about 0.97 training accuracy)
        python -m ember.examples.spiral --quick    (a few steps, for smoke tests)
"""
from __future__ import annotations

import argparse
import math

import ember as torch


def spiral(n_per_class: int = 200, classes: int = 3, seed: int = 0):
    """Points on `classes` interleaved spiral arms, with a little noise in the angle."""
    torch.manual_seed(seed)
    xs, ys = [], []
    for c in range(classes):
        r = torch.linspace(0.05, 1.0, n_per_class)
        theta = torch.linspace(c * 4.0, (c + 1) * 4.0, n_per_class) \
            + torch.randn(n_per_class) * 0.2
        xs.append(torch.stack([r * theta.sin(), r * theta.cos()], dim=1))
        ys.append(torch.full((n_per_class,), c, dtype=torch.int64))
    return torch.cat(xs), torch.cat(ys)


def init_linear(fan_in: int, fan_out: int):
    """A weight and a bias drawn uniformly from ±1/sqrt(fan_in), as nn.Linear does."""
    bound = 1.0 / math.sqrt(fan_in)
    w = (torch.rand(fan_in, fan_out) * 2 - 1) * bound
    b = (torch.rand(fan_out) * 2 - 1) * bound
    return w.requires_grad_(), b.requires_grad_()


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m ember.examples.spiral",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--lr", type=float, default=0.5)
    parser.add_argument("--quick", action="store_true", help="20 steps, for smoke tests")
    args = parser.parse_args(argv)
    steps = 20 if args.quick else args.steps
    x, y = spiral()
    params = [*init_linear(2, 64), *init_linear(64, 64), *init_linear(64, 3)]
    w1, b1, w2, b2, w3, b3 = params
    losses = []
    for step in range(steps + 1):
        h = (x @ w1 + b1).relu()
        h = (h @ w2 + b2).relu()
        logits = h @ w3 + b3
        # cross-entropy: the mean negative log-probability of the right class
        loss = -logits.log_softmax(dim=1).gather(1, y.unsqueeze(1)).mean()
        for p in params:
            p.grad = None
        loss.backward()
        with torch.no_grad():
            for p in params:
                p -= args.lr * p.grad
        losses.append(loss.item())
        if step % 50 == 0 or step == steps:
            accuracy = (logits.argmax(dim=1) == y).float().mean().item()
            print(f"step {step:3d}  loss {loss.item():.4f}  accuracy {accuracy:.3f}")
    return {"losses": losses, "accuracy": accuracy}


if __name__ == "__main__":
    main()
