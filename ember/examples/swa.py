"""Stochastic weight averaging (SWA) of a BatchNorm CNN on the bundled 8x8 digits.

Train normally with SGD for a while, then keep training at a constant, annealed-to
learning rate (`SWALR`) and fold the weights into an `AveragedModel` after every
epoch; the average of those points usually generalizes better than the last one.
BatchNorm's running statistics were collected for the individual weights, not for
their average, so `update_bn` recomputes them with one pass over the training data
before the averaged model is evaluated. Prints the plain and the SWA model's test
accuracy.

Run:    python -m ember.examples.swa            (a minute or so on 2 cores)
        python -m ember.examples.swa --quick    (a few steps, for smoke tests)
"""
from __future__ import annotations

import argparse
import time

import ember as torch
from ember import nn
from ember.examples.digits import evaluate, train_test_split
from ember.optim.swa_utils import SWALR, AveragedModel, update_bn
from ember.utils.data import DataLoader, TensorDataset


class BNDigitsCNN(nn.Module):
    """Two conv + BatchNorm + ReLU + pool blocks (8x8 → 4x4 → 2x2) and a linear classifier."""

    def __init__(self, width: int = 16) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, width, 3, padding=1, bias=False), nn.BatchNorm2d(width), nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(width, 2 * width, 3, padding=1, bias=False), nn.BatchNorm2d(2 * width),
            nn.ReLU(), nn.MaxPool2d(2),
        )
        self.classifier = nn.Linear(2 * width * 2 * 2, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x).flatten(1))


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m ember.examples.swa",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--swa-start", type=int, default=10,
                        help="epoch after which the weights are averaged")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--swa-lr", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true",
                        help="a tiny run (256 images, 4 epochs), for smoke tests")
    args = parser.parse_args(argv)

    torch.manual_seed(args.seed)
    x_train, y_train, x_test, y_test = train_test_split()
    width = 16
    if args.quick:
        x_train, y_train, width = x_train[:256], y_train[:256], 4
        args.epochs, args.swa_start = 4, 1
    print(f"digits: {len(y_train)} training and {len(y_test)} test images")

    train_loader = DataLoader(TensorDataset(x_train, y_train), batch_size=args.batch_size,
                              shuffle=True)
    # update_bn only needs the inputs, in any order; no shuffling keeps it reproducible
    bn_loader = DataLoader(TensorDataset(x_train), batch_size=args.batch_size)

    model = BNDigitsCNN(width)
    swa_model = AveragedModel(model)
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9,
                                weight_decay=5e-4)
    # cosine decay over the whole run until SWA starts; SWALR then anneals to swa_lr
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.epochs)
    swa_scheduler = SWALR(optimizer, swa_lr=args.swa_lr, anneal_epochs=2,
                          anneal_strategy="cos")
    loss_fn = nn.CrossEntropyLoss()

    start = time.perf_counter()
    for epoch in range(1, args.epochs + 1):
        total, seen = 0.0, 0
        for xb, yb in train_loader:
            loss = loss_fn(model(xb), yb)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(yb)
            seen += len(yb)
        lr = optimizer.param_groups[0]["lr"]
        if epoch > args.swa_start:
            swa_model.update_parameters(model)
            swa_scheduler.step()
            phase = f"swa ({int(swa_model.n_averaged)} averaged)"
        else:
            scheduler.step()
            phase = "sgd"
        print(f"epoch {epoch:2d}  {phase:18s} lr {lr:.4f}  loss {total / seen:.4f}  "
              f"test acc {evaluate(model, x_test, y_test):.3f}  "
              f"({time.perf_counter() - start:.1f} s)")

    update_bn(bn_loader, swa_model)
    plain_acc = evaluate(model, x_test, y_test)
    swa_acc = evaluate(swa_model, x_test, y_test)
    print(f"test accuracy: last weights {100 * plain_acc:.1f} %, "
          f"SWA average of {int(swa_model.n_averaged)} {100 * swa_acc:.1f} %")
    return {"plain_acc": plain_acc, "swa_acc": swa_acc, "model": model,
            "swa_model": swa_model}


if __name__ == "__main__":
    main()
