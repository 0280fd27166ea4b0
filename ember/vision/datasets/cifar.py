"""CIFAR10 and CIFAR100 from the "python version" pickle batches.

The batches are pickles; they are read with an unpickler that can build NumPy arrays
and nothing else, so a tampered file cannot run code. Checksums are not enforced
(only presence), so hand-made files in the same format load too.
"""
from __future__ import annotations

import os
import pickle
from collections.abc import Callable
from typing import Any

import numpy as np

from ember.vision.datasets.utils import check_integrity, no_download
from ember.vision.datasets.vision import VisionDataset

# What a CIFAR batch pickle may reference: NumPy's array and scalar reconstructors
# under their NumPy 1 and NumPy 2 module names.
_ALLOWED = {
    (module, name)
    for prefix in ("numpy.core", "numpy._core")
    for module, name in ((f"{prefix}.multiarray", "_reconstruct"),
                         (f"{prefix}.multiarray", "scalar"),
                         (f"{prefix}.numeric", "_frombuffer"))
} | {("numpy", "ndarray"), ("numpy", "dtype")}


class _ArrayUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if (module, name) in _ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"CIFAR batch references {module}.{name}, which is not "
                                     f"allowed (only NumPy arrays are)")


def _load_batch(path: str) -> dict:
    with open(path, "rb") as f:
        entry = _ArrayUnpickler(f, encoding="latin1").load()
    if not isinstance(entry, dict):
        raise RuntimeError(f"{path}: expected a dict in the pickle, got {type(entry).__name__}")
    return entry


class CIFAR10(VisionDataset):
    """CIFAR-10 from `root/cifar-10-batches-py/`: `data` is uint8 (N, 32, 32, 3),
    `targets` a list of ints; items are (PIL RGB image, int)."""

    base_folder = "cifar-10-batches-py"
    train_list = [[f"data_batch_{i}", None] for i in range(1, 6)]
    test_list = [["test_batch", None]]
    meta = {"filename": "batches.meta", "key": "label_names", "md5": None}

    def __init__(self, root: str | os.PathLike, train: bool = True,
                 transform: Callable | None = None, target_transform: Callable | None = None,
                 download: bool = False) -> None:
        super().__init__(root, transform=transform, target_transform=target_transform)
        self.train = train
        if download:
            self.download()
        if not self._check_integrity():
            raise RuntimeError(f"Dataset not found or corrupted. You can use download=True to "
                               f"download it (ember does not download: place "
                               f"{', '.join(self._files())} in {self._folder()})")
        data, self.targets = [], []
        for file_name, _ in self.train_list if self.train else self.test_list:
            entry = _load_batch(os.path.join(self._folder(), file_name))
            data.append(entry["data"])
            self.targets.extend(entry["labels"] if "labels" in entry else entry["fine_labels"])
        self.data = np.vstack(data).reshape(-1, 3, 32, 32).transpose((0, 2, 3, 1))  # to HWC
        self._load_meta()

    def _folder(self) -> str:
        return os.path.join(self.root, self.base_folder)

    def _files(self) -> list[str]:
        return [name for name, _ in self.train_list + self.test_list] + [self.meta["filename"]]

    def _load_meta(self) -> None:
        path = os.path.join(self._folder(), self.meta["filename"])
        if not check_integrity(path, self.meta["md5"]):
            raise RuntimeError("Dataset metadata file not found or corrupted. You can use "
                               "download=True to download it")
        self.classes = _load_batch(path)[self.meta["key"]]
        self.class_to_idx = {_class: i for i, _class in enumerate(self.classes)}

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        from PIL import Image

        img, target = self.data[index], self.targets[index]
        img = Image.fromarray(img)
        if self.transform is not None:
            img = self.transform(img)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target

    def __len__(self) -> int:
        return len(self.data)

    def _check_integrity(self) -> bool:
        return all(check_integrity(os.path.join(self._folder(), name), md5)
                   for name, md5 in self.train_list + self.test_list)

    def download(self) -> None:
        """Succeeds when the batches are already in place; ember never fetches them."""
        if self._check_integrity():
            return
        raise no_download(self.__class__.__name__, self._folder(), self._files())

    def extra_repr(self) -> str:
        return f"Split: {'Train' if self.train is True else 'Test'}"


class CIFAR100(CIFAR10):
    """CIFAR-100 from `root/cifar-100-python/` (fine labels as targets)."""

    base_folder = "cifar-100-python"
    train_list = [["train", None]]
    test_list = [["test", None]]
    meta = {"filename": "meta", "key": "fine_label_names", "md5": None}
