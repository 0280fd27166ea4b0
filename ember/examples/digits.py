"""Train a small CNN on the bundled 8x8 handwritten digits and save a checkpoint.

The dataset (1,797 real handwritten digits from the UCI "Optical Recognition of
Handwritten Digits" collection, CC BY 4.0, see data/DIGITS_LICENSE.txt) ships inside
the package, so nothing is downloaded. The program is ordinary PyTorch code written
against `ember`: a `Dataset` → `DataLoader` pipeline, an `nn.Module` with
Conv2d/ReLU/MaxPool2d/Linear, `CrossEntropyLoss`, an `optim.Adam` step per batch,
and `ember.save` of the `state_dict` at the end.

Run:    python -m ember.examples.digits            (about 98 % test accuracy)
        python -m ember.examples.digits --quick    (a few steps, for smoke tests)
"""
from __future__ import annotations

import argparse
import gzip
import sys
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

import ember as torch
from ember import nn

DATA_FILE = Path(__file__).with_name("data") / "digits.csv.gz"
N_TEST = 360  # fixed held-out split: 1,437 training and 360 test images
SPLIT_SEED = 0


def load_digits() -> tuple[np.ndarray, np.ndarray]:
    """The bundled digits: images (1797, 8, 8) uint8 in 0..16 and labels (1797,) int64."""
    with gzip.open(DATA_FILE, "rt") as f:
        table = np.loadtxt(f, delimiter=",", dtype=np.int64)
    images = table[:, :64].reshape(-1, 8, 8).astype(np.uint8)
    labels = table[:, 64]
    return images, labels


def train_test_split() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """A fixed shuffled split; images scaled to [0, 1] with a channel dimension."""
    images, labels = load_digits()
    order = np.random.default_rng(SPLIT_SEED).permutation(len(labels))
    x = torch.tensor(images[order], dtype=torch.float32).unsqueeze(1) / 16.0
    y = torch.tensor(labels[order])
    return x[N_TEST:], y[N_TEST:], x[:N_TEST], y[:N_TEST]


class DigitsCNN(nn.Module):
    """Two conv blocks (8x8 → 4x4 → 2x2) and a linear classifier."""

    def __init__(self, width: int = 32) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, width, kernel_size=3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(width, 2 * width, kernel_size=3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        )
        self.classifier = nn.Linear(2 * width * 2 * 2, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x).flatten(1))


def batches(x: torch.Tensor, y: torch.Tensor, batch_size: int, shuffle: bool):
    """Mini-batches through ember.utils.data's DataLoader (plain slicing without it)."""
    try:
        from ember.utils.data import DataLoader, TensorDataset
    except ImportError:
        order = torch.randperm(len(y)) if shuffle else torch.arange(len(y))
        return [(x[idx], y[idx]) for idx in order.split(batch_size)]
    return DataLoader(TensorDataset(x, y), batch_size=batch_size, shuffle=shuffle)


def progress(iterable, desc: str):
    """A tqdm progress bar while stderr is a terminal; the bare iterable otherwise."""
    return tqdm(iterable, desc=desc, leave=False, disable=not sys.stderr.isatty())


def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    model.eval()
    with torch.no_grad():
        correct = (model(x).argmax(dim=1) == y).sum().item()
    model.train()
    return correct / len(y)


def main(argv: list[str] | None = None) -> float:
    parser = argparse.ArgumentParser(prog="python -m ember.examples.digits",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=5e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="digits_cnn.pt", help="checkpoint file to write")
    parser.add_argument("--quick", action="store_true",
                        help="a tiny run (one short epoch, narrow model) for smoke tests")
    args = parser.parse_args(argv)

    torch.manual_seed(args.seed)
    x_train, y_train, x_test, y_test = train_test_split()
    width = 32
    if args.quick:
        x_train, y_train, width, args.epochs = x_train[:256], y_train[:256], 8, 1
    print(f"digits: {len(y_train)} training and {len(y_test)} test images of 8x8 pixels")

    model = DigitsCNN(width)
    loss_fn = nn.CrossEntropyLoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"model: {n_params:,} parameters\n{model}")

    start = time.perf_counter()
    for epoch in range(1, args.epochs + 1):
        total_loss, seen, correct = 0.0, 0, 0
        loader = batches(x_train, y_train, args.batch_size, shuffle=True)
        for xb, yb in progress(loader, desc=f"epoch {epoch}"):
            logits = model(xb)
            loss = loss_fn(logits, yb)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total_loss += loss.item() * len(yb)
            seen += len(yb)
            correct += (logits.argmax(dim=1) == yb).sum().item()
        test_acc = evaluate(model, x_test, y_test)
        print(f"epoch {epoch:2d}  loss {total_loss / seen:.4f}  train acc {correct / seen:.3f}"
              f"  test acc {test_acc:.3f}  ({time.perf_counter() - start:.1f} s)")

    print(f"final test accuracy: {100 * test_acc:.1f} %")
    torch.save(model.state_dict(), args.out)
    print(f"saved checkpoint to {args.out}; load it with:\n"
          f"    import ember\n"
          f"    from ember.examples.digits import DigitsCNN\n"
          f"    model = DigitsCNN({width})\n"
          f"    model.load_state_dict(ember.load({args.out!r}))")
    return test_acc


if __name__ == "__main__":
    main()
