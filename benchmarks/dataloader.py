"""DataLoader throughput: an image-like dataset with per-sample NumPy augmentation.

Each sample is a 32x32x3 uint8 image padded by 4, randomly cropped back to 32x32 and
randomly flipped, returned as float32 CHW in [0, 1] with an int label; batch 128.
For num_workers 0 and 2 the table shows, for ember and torch in the same run, the
time per epoch (as samples/s alongside) and the time to the first batch. A second
table compares ember's two transports between processes: batches written to shared
memory (the default) against the same batches pickled through the result queue.
Workers are started with fork for both libraries.
Run: python benchmarks/dataloader.py [--samples N] [--epochs E]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import numpy as np
import torch
import torch.utils.data as tud
from common import pin_threads

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # this checkout

import ember
import ember.utils.data as eud
from ember.utils.data._utils import shm

BATCH = 128


def make_dataset(lib, data_module, images: np.ndarray, labels: np.ndarray):
    """The same augmentation for both libraries; only the final tensor type differs."""

    class Augmented(data_module.Dataset):
        def __len__(self):
            return len(images)

        def __getitem__(self, i):
            img = images[i]
            padded = np.pad(img, ((4, 4), (4, 4), (0, 0)), mode="reflect")
            y, x = np.random.randint(0, 9, size=2)
            crop = padded[y:y + 32, x:x + 32]
            if np.random.rand() < 0.5:
                crop = crop[:, ::-1]
            chw = np.ascontiguousarray(crop.transpose(2, 0, 1), dtype=np.float32)
            chw *= 1.0 / 255
            return lib.from_numpy(chw), int(labels[i])

    return Augmented()


def make_data(samples: int) -> tuple[np.ndarray, np.ndarray]:
    """Random uint8 HWC images and int labels, the same for every caller."""
    rng = np.random.default_rng(0)
    return (rng.integers(0, 256, (samples, 32, 32, 3), dtype=np.uint8),
            rng.integers(0, 10, samples))


def epoch(loader) -> tuple[float, float]:
    """(seconds to the first batch, seconds for the whole epoch)."""
    t0 = time.perf_counter()
    first = None
    n = 0
    for x, _y in loader:
        if first is None:
            first = time.perf_counter() - t0
        n += x.shape[0]
    return first, time.perf_counter() - t0


def loader(data_module, ds, workers: int):
    kw = dict(batch_size=BATCH, shuffle=True, num_workers=workers)
    if workers:
        kw["multiprocessing_context"] = "fork"
    return data_module.DataLoader(ds, **kw)


def interleaved(cases, epochs: int) -> list[tuple[float, float]]:
    """Median (first batch, epoch) seconds of each case (a function timing one epoch),
    running the cases in turn each round so that all see the same background load."""
    runs: list[list[tuple[float, float]]] = [[] for _ in cases]
    for _ in range(epochs):
        for i, run in enumerate(cases):
            runs[i].append(run())
    return [(statistics.median(r[0] for r in rs), statistics.median(r[1] for r in rs))
            for rs in runs]


def ember_epoch(ds, workers: int, shared_memory: bool = True):
    def run():
        old = shm.ENABLED
        shm.ENABLED = shared_memory  # inherited by the forked workers
        try:
            return epoch(loader(eud, ds, workers))
        finally:
            shm.ENABLED = old
    return run


def torch_epoch(ds, workers: int):
    return lambda: epoch(loader(tud, ds, workers))


def loader_rows(samples: int, epochs: int, workers=(0, 2)) -> list[dict[str, float]]:
    """Per worker count: seconds per epoch and to the first batch for each library (median
    of `epochs` interleaved epochs over the same images and labels)."""
    images, labels = make_data(samples)
    e_ds = make_dataset(ember, eud, images, labels)
    t_ds = make_dataset(torch, tud, images, labels)
    rows = []
    for n in workers:
        (e_first, e_total), (t_first, t_total) = interleaved(
            [ember_epoch(e_ds, n), torch_epoch(t_ds, n)], epochs)
        rows.append({"workers": n, "samples": samples, "ember_epoch": e_total,
                     "torch_epoch": t_total, "ember_first": e_first, "torch_first": t_first})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=8192)
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()
    threads = pin_threads()
    print(f"threads: {threads}  samples/epoch: {args.samples}  batch: {BATCH}  "
          f"median of {args.epochs} interleaved epochs")
    print(f"{'workers':8s} {'ember samples/s':>16s} {'torch samples/s':>16s} {'ratio':>7s}  "
          f"{'ember 1st batch':>16s} {'torch 1st batch':>16s}")
    for row in loader_rows(args.samples, args.epochs):
        e_rate, t_rate = args.samples / row["ember_epoch"], args.samples / row["torch_epoch"]
        print(f"{row['workers']:<8d} {e_rate:16.0f} {t_rate:16.0f} {e_rate / t_rate:7.2f}  "
              f"{row['ember_first'] * 1e3:13.1f} ms {row['torch_first'] * 1e3:13.1f} ms")

    e_ds = make_dataset(ember, eud, *make_data(args.samples))
    print("\nember transport with 2 workers (same run):")
    (_, shm_total), (_, pickled_total) = interleaved(
        [ember_epoch(e_ds, 2, True), ember_epoch(e_ds, 2, False)], args.epochs)
    rates = {"shared memory": args.samples / shm_total, "pickled": args.samples / pickled_total}
    for name, rate in rates.items():
        print(f"  {name:14s} {rate:10.0f} samples/s")
    print(f"  shared memory / pickled: {rates['shared memory'] / rates['pickled']:.2f}x")

    # The transport alone, one (128, 3, 32, 32) float32 batch through a queue.
    import multiprocessing as mp
    rng = np.random.default_rng(1)
    batch = (ember.from_numpy(rng.random((BATCH, 3, 32, 32), dtype=np.float32)),
             ember.arange(BATCH))
    q = mp.get_context("fork").Queue()
    for name, enabled in (("shared memory", True), ("pickled", False)):
        shm.ENABLED = enabled
        times = []
        for k in range(50):
            t0 = time.perf_counter()
            q.put(shm.pack(batch, f"ember_dl_bench_{k}"))
            shm.unpack(q.get())
            times.append(time.perf_counter() - t0)
        shm.ENABLED = True
        print(f"  one batch put+get, {name:14s} {statistics.median(times) * 1e3:7.3f} ms")


if __name__ == "__main__":
    main()
