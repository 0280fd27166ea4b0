"""Train a small MLP on a synthetic three-arm spiral with nothing but ember tensors.

Every step is visible: the forward pass, the loss, `loss.backward()` filling each
parameter's `.grad`, and a hand-written SGD update under `no_grad()`. Swap
`import ember as torch` for `import torch` and the program runs unchanged.

Run: python examples/spiral_mlp.py
"""
from __future__ import annotations

import math

import ember as torch


def spiral(n_per_class: int = 200, classes: int = 3, seed: int = 0):
    """Points on `classes` interleaved spiral arms, with a little noise."""
    torch.manual_seed(seed)
    xs, ys = [], []
    for c in range(classes):
        r = torch.linspace(0.05, 1.0, n_per_class)
        theta = torch.linspace(c * 4.0, (c + 1) * 4.0, n_per_class) + torch.randn(n_per_class) * 0.2
        xs.append(torch.stack([r * theta.sin(), r * theta.cos()], dim=1))
        ys.append(torch.full((n_per_class,), c, dtype=torch.int64))
    return torch.cat(xs), torch.cat(ys)


def init_linear(fan_in: int, fan_out: int):
    bound = 1.0 / math.sqrt(fan_in)
    w = (torch.rand(fan_in, fan_out) * 2 - 1) * bound
    b = (torch.rand(fan_out) * 2 - 1) * bound
    return w.requires_grad_(), b.requires_grad_()


def main(steps: int = 300, lr: float = 0.5) -> float:
    x, y = spiral()
    params = [*init_linear(2, 64), *init_linear(64, 64), *init_linear(64, 3)]
    w1, b1, w2, b2, w3, b3 = params
    for step in range(steps + 1):
        h = (x @ w1 + b1).relu()
        h = (h @ w2 + b2).relu()
        logits = h @ w3 + b3
        # Cross-entropy: mean negative log-probability of the right class.
        loss = -logits.log_softmax(dim=1).gather(1, y.unsqueeze(1)).mean()
        for p in params:
            p.grad = None
        loss.backward()
        with torch.no_grad():
            for p in params:
                p -= lr * p.grad
        if step % 50 == 0:
            accuracy = (logits.argmax(dim=1) == y).float().mean()
            print(f"step {step:3d}  loss {loss.item():.4f}  accuracy {accuracy.item():.3f}")
    return accuracy.item()


if __name__ == "__main__":
    main()
