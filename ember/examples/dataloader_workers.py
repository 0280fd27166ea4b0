"""DataLoader worker processes, per-sample NumPy augmentation, and resuming mid-epoch.

A map-style `Dataset` over the bundled 8x8 digits shifts each image by up to one pixel
and adds a little noise, with NumPy's global random generator, inside the loader's
worker processes. Worker processes are forked copies of the main one, so without
care every worker would draw the same "random" numbers; `worker_init_fn` seeds NumPy
from the per-worker seed the loader hands each worker (`get_worker_info().seed`).
`persistent_workers=True` keeps the two workers alive from one epoch to the next.

Halfway through an epoch the program saves a checkpoint holding the model, the
optimizer and the loader's `state_dict()` (an ember extension: where the epoch
stands, as generator states plus a batch count), throws everything away as if the
process had been killed, rebuilds it from the checkpoint and carries on: the new
loader's first epoch yields exactly the batches the interrupted one had not yet
yielded, in the same order, and later epochs match an uninterrupted run.

Run:    python -m ember.examples.dataloader_workers
        python -m ember.examples.dataloader_workers --quick    (for smoke tests)
"""
from __future__ import annotations

import argparse
import io
import time

import numpy as np

import ember as torch
from ember import nn
from ember.examples.digits import DigitsCNN, evaluate, train_test_split
from ember.utils.data import DataLoader, Dataset, get_worker_info


class AugmentedDigits(Dataset):
    """(image, label, index) triples; the image is randomly shifted and noised each time."""

    def __init__(self, images: np.ndarray, labels: np.ndarray, noise: float = 0.05) -> None:
        self.images = images  # (N, 1, 8, 8) float32 in [0, 1]
        self.labels = labels
        self.noise = noise

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int):
        # shift by -1, 0 or 1 pixel each way: pad by one, then crop a random 8x8 window
        padded = np.pad(self.images[i], ((0, 0), (1, 1), (1, 1)))
        dy, dx = np.random.randint(0, 3, size=2)
        img = padded[:, dy:dy + 8, dx:dx + 8]
        img = img + np.random.normal(0.0, self.noise, img.shape).astype(np.float32)
        return np.clip(img, 0.0, 1.0), int(self.labels[i]), i


def seed_numpy(worker_id: int) -> None:
    """worker_init_fn: give each worker's NumPy its own seed, derived from the loader's."""
    info = get_worker_info()
    np.random.seed(info.seed % 2**32)
    print(f"  worker {worker_id} of {info.num_workers} started; NumPy seeded with "
          f"{info.seed % 2**32}", flush=True)


def make_loader(dataset: Dataset, batch_size: int, seed: int, num_workers: int = 2):
    """The loader; its own generator makes the shuffle order depend on `seed` only."""
    return DataLoader(dataset, batch_size=batch_size, shuffle=True, num_workers=num_workers,
                      persistent_workers=num_workers > 0, worker_init_fn=seed_numpy,
                      generator=torch.Generator().manual_seed(seed))


def make_training(width: int, lr: float):
    model = DigitsCNN(width)
    return model, torch.optim.Adam(model.parameters(), lr=lr)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m ember.examples.dataloader_workers",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--interrupt-epoch", type=int, default=2,
                        help="the epoch in which the run is stopped and resumed")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--num-workers", type=int, default=2)
    parser.add_argument("--lr", type=float, default=1e-2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true",
                        help="256 images, a narrow model and 2 epochs, for smoke tests")
    args = parser.parse_args(argv)
    if not 1 <= args.interrupt_epoch <= args.epochs:
        parser.error("--interrupt-epoch must be between 1 and --epochs")

    torch.manual_seed(args.seed)
    x_train, y_train, x_test, y_test = train_test_split()
    width = 16
    if args.quick:
        x_train, y_train, width = x_train[:256], y_train[:256], 4
        args.epochs, args.interrupt_epoch = 2, 1
    dataset = AugmentedDigits(x_train.numpy(), y_train.numpy())
    loader = make_loader(dataset, args.batch_size, args.seed, args.num_workers)
    stop_after = len(loader) // 2
    print(f"digits: {len(dataset)} augmented training images, {len(loader)} batches per "
          f"epoch, {args.num_workers} persistent workers")

    model, optimizer = make_training(width, args.lr)
    loss_fn = nn.CrossEntropyLoss()
    epoch_indices: list[list[list[int]]] = []  # per epoch, each batch's dataset indices
    start = time.perf_counter()
    epoch = 1
    while epoch <= args.epochs:
        if len(epoch_indices) < epoch:  # a new epoch, not the resumed rest of one
            epoch_indices.append([])
            total, seen = 0.0, 0
        interrupted = False
        for xb, yb, idx in loader:
            loss = loss_fn(model(xb), yb)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(yb)
            seen += len(yb)
            epoch_indices[-1].append(idx.tolist())
            if epoch == args.interrupt_epoch and len(epoch_indices[-1]) == stop_after:
                interrupted = True
                break
        if interrupted:
            loader_state = loader.state_dict()
            buffer = io.BytesIO()  # a file on disk in a real run
            torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                        "loader": loader_state, "epoch": epoch}, buffer)
            print(f"epoch {epoch}: stopped after {stop_after} batches (loss {total / seen:.4f})"
                  f"; checkpoint saved, the loader {loader_state['num_yielded']} batches in")
            del loader, model, optimizer  # as if the process had died
            buffer.seek(0)
            ckpt = torch.load(buffer)
            model, optimizer = make_training(width, args.lr)
            model.load_state_dict(ckpt["model"])
            optimizer.load_state_dict(ckpt["optimizer"])
            loader = make_loader(dataset, args.batch_size, args.seed, args.num_workers)
            loader.load_state_dict(ckpt["loader"])
            epoch = ckpt["epoch"]
            print(f"epoch {epoch}: resumed from the checkpoint; the loader skips the "
                  f"{stop_after} batches already seen")
            args.interrupt_epoch = 0  # only once
            continue
        samples = [i for batch in epoch_indices[-1] for i in batch]
        assert sorted(samples) == list(range(len(dataset))), "an epoch saw a sample twice"
        print(f"epoch {epoch}  {len(epoch_indices[-1])} batches, every image once  "
              f"loss {total / seen:.4f}  test acc {evaluate(model, x_test, y_test):.3f}  "
              f"({time.perf_counter() - start:.1f} s)")
        epoch += 1

    test_acc = evaluate(model, x_test, y_test)
    print(f"final test accuracy: {100 * test_acc:.1f} %")
    return {"test_acc": test_acc, "epoch_indices": epoch_indices, "stop_after": stop_after}


if __name__ == "__main__":
    main()
