"""MNIST, FashionMNIST and KMNIST read from their IDX files under `root/<Class>/raw/`.

The four files keep torchvision's names (train-images-idx3-ubyte ...), plain or
gzipped (`.gz`). ember never downloads: with download=True and the files absent it
raises an error that lists the paths to fill.
"""
from __future__ import annotations

import gzip
import os
from collections.abc import Callable
from typing import Any

import numpy as np

import ember
from ember.vision.datasets.utils import check_integrity, no_download
from ember.vision.datasets.vision import VisionDataset

# IDX type codes (the third magic byte) -> big-endian element type
_IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def _open(path: str) -> bytes:
    """The file's bytes; `path` or, when only that exists, `path + '.gz'` decompressed."""
    if os.path.isfile(path):
        with open(path, "rb") as f:
            data = f.read()
    else:
        with gzip.open(path + ".gz", "rb") as f:
            data = f.read()
    return gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data


def read_sn3_pascalvincent_tensor(path: str, strict: bool = True) -> ember.Tensor:
    """Parse an IDX file: magic 0x00 0x00 <type> <ndim>, ndim big-endian int32 sizes,
    then the data, big-endian."""
    data = _open(path)
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _IDX_TYPES \
            or not 1 <= data[3] <= 3:
        raise RuntimeError(f"{path} is not an IDX file: bad magic number {data[:4].hex()}")
    nd = data[3]
    dtype = np.dtype(_IDX_TYPES[data[2]])
    header = 4 * (nd + 1)
    if len(data) < header:
        raise RuntimeError(f"{path}: truncated IDX header")
    shape = [int.from_bytes(data[4 * (i + 1):4 * (i + 2)], "big") for i in range(nd)]
    parsed = np.frombuffer(data, dtype=dtype, offset=header)
    count = int(np.prod(shape))
    if parsed.size < count or (strict and parsed.size != count):
        raise RuntimeError(f"{path}: header says {shape} ({count} values) but the file holds "
                           f"{parsed.size}")
    return ember.from_numpy(parsed[:count].astype(dtype.newbyteorder("="))).view(*shape)


def read_label_file(path: str) -> ember.Tensor:
    x = read_sn3_pascalvincent_tensor(path, strict=False)
    if x.dtype != ember.uint8:
        raise TypeError(f"x should be of dtype torch.uint8 instead of {x.dtype}")
    if x.ndim != 1:
        raise ValueError(f"x should have 1 dimension instead of {x.ndim}")
    return x.long()


def read_image_file(path: str) -> ember.Tensor:
    x = read_sn3_pascalvincent_tensor(path, strict=False)
    if x.dtype != ember.uint8:
        raise TypeError(f"x should be of dtype torch.uint8 instead of {x.dtype}")
    if x.ndim != 3:
        raise ValueError(f"x should have 3 dimension instead of {x.ndim}")
    return x


class MNIST(VisionDataset):
    """The MNIST digits: `data` is a uint8 (N, 28, 28) tensor, `targets` int64 (N,);
    items are (PIL image in mode L, int)."""

    resources = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                 "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]
    training_file = "training.pt"
    test_file = "test.pt"
    classes = ["0 - zero", "1 - one", "2 - two", "3 - three", "4 - four", "5 - five",
               "6 - six", "7 - seven", "8 - eight", "9 - nine"]

    def __init__(self, root: str | os.PathLike, train: bool = True,
                 transform: Callable | None = None, target_transform: Callable | None = None,
                 download: bool = False) -> None:
        super().__init__(root, transform=transform, target_transform=target_transform)
        self.train = train
        if self._check_legacy_exist():
            self.data, self.targets = self._load_legacy_data()
            return
        if download:
            self.download()
        if not self._check_exists():
            raise RuntimeError(f"Dataset not found. You can use download=True to download it "
                               f"(ember does not download: place the files "
                               f"{', '.join(self.resources)}, optionally gzipped, in "
                               f"{self.raw_folder})")
        self.data, self.targets = self._load_data()

    def _check_legacy_exist(self) -> bool:
        return os.path.isdir(self.processed_folder) and all(
            check_integrity(os.path.join(self.processed_folder, f))
            for f in (self.training_file, self.test_file))

    def _load_legacy_data(self):
        # torchvision's old processed/*.pt files: weights_only loading runs no code.
        data_file = self.training_file if self.train else self.test_file
        return ember.load(os.path.join(self.processed_folder, data_file), weights_only=True)

    def _load_data(self):
        split = "train" if self.train else "t10k"
        data = read_image_file(os.path.join(self.raw_folder, f"{split}-images-idx3-ubyte"))
        targets = read_label_file(os.path.join(self.raw_folder, f"{split}-labels-idx1-ubyte"))
        return data, targets

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        from PIL import Image

        img, target = self.data[index], int(self.targets[index])
        img = Image.fromarray(img.numpy(), mode="L")
        if self.transform is not None:
            img = self.transform(img)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target

    def __len__(self) -> int:
        return len(self.data)

    @property
    def raw_folder(self) -> str:
        return os.path.join(self.root, self.__class__.__name__, "raw")

    @property
    def processed_folder(self) -> str:
        return os.path.join(self.root, self.__class__.__name__, "processed")

    @property
    def class_to_idx(self) -> dict[str, int]:
        return {_class: i for i, _class in enumerate(self.classes)}

    def _check_exists(self) -> bool:
        return all(check_integrity(os.path.join(self.raw_folder, name))
                   or check_integrity(os.path.join(self.raw_folder, name + ".gz"))
                   for name in self.resources)

    def download(self) -> None:
        """Succeeds when the files are already in place; ember never fetches them."""
        if self._check_exists():
            return
        raise no_download(self.__class__.__name__, self.raw_folder,
                          [f"{name} (or {name}.gz)" for name in self.resources])

    def extra_repr(self) -> str:
        return f"Split: {'Train' if self.train is True else 'Test'}"


class FashionMNIST(MNIST):
    """Zalando's Fashion-MNIST: MNIST's format and file names under root/FashionMNIST/raw."""

    classes = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
               "Sneaker", "Bag", "Ankle boot"]


class KMNIST(MNIST):
    """Kuzushiji-MNIST: MNIST's format and file names under root/KMNIST/raw."""

    classes = ["o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo"]
