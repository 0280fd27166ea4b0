"""Hogwild training: worker processes update one model in shared memory, without locks.

`model.share_memory()` moves every parameter into memory that processes forked
afterwards share with this one (ember/_shared.py). Each worker builds its own
optimizer, trains on its own shard of the bundled digits, and its in-place updates
land in the very parameters the other workers and the parent read. Updates race
without locks; Hogwild accepts that, as PyTorch's Hogwild example does. The parent
then evaluates the model its workers trained. Swap `import ember as torch` for
`import torch` and it runs unchanged.

Run:    python -m ember.examples.hogwild             (2 workers, about 95 % test accuracy)
        python -m ember.examples.hogwild --quick     (a few steps, for smoke tests)
"""
from __future__ import annotations

import argparse

import numpy as np

import ember as torch
from ember import nn
from ember.examples.digits import N_TEST, SPLIT_SEED, load_digits


def digits() -> tuple:
    """Flattened digits scaled to [0, 1]: train x, train y, test x, test y."""
    images, labels = load_digits()
    order = np.random.default_rng(SPLIT_SEED).permutation(len(labels))
    x = torch.tensor(images[order].reshape(-1, 64), dtype=torch.float32) / 16.0
    y = torch.tensor(labels[order])
    return x[N_TEST:], y[N_TEST:], x[:N_TEST], y[:N_TEST]


def accuracy(model: nn.Module, x, y) -> float:
    with torch.no_grad():
        return (model(x).argmax(dim=1) == y).float().mean().item()


def train(rank: int, workers: int, model: nn.Module, x, y, epochs: int, lr: float) -> None:
    """One worker: every `workers`-th example, its own SGD, updates in the shared model."""
    torch.set_num_threads(1)  # the workers share the cores
    torch.manual_seed(rank)
    x, y = x[rank::workers], y[rank::workers]
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.5)
    loss_fn = nn.CrossEntropyLoss()
    for _ in range(epochs):
        for idx in torch.randperm(len(y)).split(32):
            opt.zero_grad()
            loss_fn(model(x[idx]), y[idx]).backward()
            opt.step()


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m ember.examples.hogwild",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--quick", action="store_true", help="one epoch, for smoke tests")
    args = parser.parse_args(argv)
    epochs = 1 if args.quick else args.epochs

    torch.manual_seed(0)
    x, y, x_test, y_test = digits()
    model = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))
    model.share_memory()  # before the workers start: they inherit the shared mapping
    before = accuracy(model, x_test, y_test)
    first = model[0].weight.detach().clone()

    # fork: each worker starts with the parent's objects, the shared parameters included
    ctx = torch.multiprocessing.get_context("fork")
    procs = [ctx.Process(target=train, args=(rank, args.workers, model, x, y, epochs, args.lr))
             for rank in range(args.workers)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    failed = [p.exitcode for p in procs if p.exitcode != 0]
    if failed:
        raise RuntimeError(f"a Hogwild worker failed (exit codes {failed})")

    after = accuracy(model, x_test, y_test)  # the parent sees what the workers wrote
    moved = (model[0].weight.detach() - first).abs().max().item()
    print(f"{args.workers} workers, {epochs} epoch(s) each: test accuracy {before:.3f} -> "
          f"{after:.3f} (largest weight change seen by the parent {moved:.3f})")
    return {"before": before, "after": after, "moved": moved}


if __name__ == "__main__":
    main()
