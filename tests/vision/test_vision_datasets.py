"""Datasets read from files written here in the standard formats: IDX (MNIST family),
CIFAR's pickled batches, an ImageFolder tree of PNGs; plus FakeData and the errors for
missing files with and without download=True."""
from __future__ import annotations

import gzip
import os
import pickle
import struct

import numpy as np
import pytest
from PIL import Image

import ember
from ember.utils.data import DataLoader
from ember.vision import datasets, transforms

rng = np.random.default_rng(0)


def write_idx(path, arr: np.ndarray, gz: bool) -> None:
    codes = {np.dtype(np.uint8): 0x08, np.dtype(np.int32): 0x0C}
    header = bytes([0, 0, codes[arr.dtype], arr.ndim]) + struct.pack(f">{arr.ndim}I",
                                                                       *arr.shape)
    data = header + arr.astype(arr.dtype.newbyteorder(">")).tobytes()
    if gz:
        with gzip.open(str(path) + ".gz", "wb") as f:
            f.write(data)
    else:
        path.write_bytes(data)


def make_mnist(root, name="MNIST", n_train=12, n_test=5, gz=True):
    raw = root / name / "raw"
    raw.mkdir(parents=True)
    out = {}
    for split, n in (("train", n_train), ("t10k", n_test)):
        images = rng.integers(0, 256, (n, 28, 28)).astype(np.uint8)
        labels = rng.integers(0, 10, n).astype(np.uint8)
        write_idx(raw / f"{split}-images-idx3-ubyte", images, gz)
        write_idx(raw / f"{split}-labels-idx1-ubyte", labels, gz)
        out[split] = (images, labels)
    return out


@pytest.mark.parametrize("gz", [True, False])
@pytest.mark.parametrize("cls, name", [(datasets.MNIST, "MNIST"),
                                       (datasets.FashionMNIST, "FashionMNIST")])
def test_mnist_family_reads_idx_files(tmp_path, gz, cls, name):
    written = make_mnist(tmp_path, name, gz=gz)
    for train, split in ((True, "train"), (False, "t10k")):
        ds = cls(str(tmp_path), train=train)
        images, labels = written[split]
        assert len(ds) == len(images) and ds.train is train
        assert ds.data.dtype == ember.uint8 and tuple(ds.data.shape) == images.shape
        assert ds.targets.dtype == ember.int64
        np.testing.assert_array_equal(ds.data.numpy(), images)
        np.testing.assert_array_equal(ds.targets.numpy(), labels)
        img, target = ds[3]
        assert isinstance(img, Image.Image) and img.mode == "L" and img.size == (28, 28)
        assert type(target) is int and target == labels[3]
        np.testing.assert_array_equal(np.asarray(img), images[3])
    assert len(ds.classes) == 10 and ds.class_to_idx[ds.classes[4]] == 4
    assert f"Root location: {tmp_path}" in repr(ds) and "Split: Test" in repr(ds)


def test_mnist_transforms_and_loader(tmp_path):
    written = make_mnist(tmp_path)
    ds = datasets.MNIST(tmp_path, transform=transforms.ToTensor(),
                        target_transform=lambda t: t + 100, download=True)  # files exist: fine
    x, y = ds[0]
    assert x.dtype == ember.float32 and tuple(x.shape) == (1, 28, 28)
    np.testing.assert_allclose(x.numpy()[0], written["train"][0][0] / np.float32(255))
    assert y == written["train"][1][0] + 100
    xb, yb = next(iter(DataLoader(ds, batch_size=4)))
    assert tuple(xb.shape) == (4, 1, 28, 28) and yb.tolist() == list(written["train"][1][:4] + 100)


def test_mnist_missing_files(tmp_path):
    with pytest.raises(RuntimeError, match="Dataset not found. You can use download=True to "
                                           "download it") as info:
        datasets.MNIST(str(tmp_path))
    assert os.path.join(str(tmp_path), "MNIST", "raw") in str(info.value)
    with pytest.raises(RuntimeError, match="does not download") as info:
        datasets.KMNIST(str(tmp_path), download=True)
    msg = str(info.value)
    assert "no network" in msg
    assert os.path.join(str(tmp_path), "KMNIST", "raw", "t10k-labels-idx1-ubyte") in msg


def test_mnist_rejects_a_file_that_is_not_idx(tmp_path):
    make_mnist(tmp_path, gz=False)
    (tmp_path / "MNIST" / "raw" / "train-images-idx3-ubyte").write_bytes(b"PK\x03\x04 junk")
    with pytest.raises(RuntimeError, match="not an IDX file"):
        datasets.MNIST(tmp_path)
    bad = np.zeros((3, 28, 28), np.uint8)
    write_idx(tmp_path / "MNIST" / "raw" / "train-images-idx3-ubyte", bad, gz=False)
    labels = tmp_path / "MNIST" / "raw" / "train-labels-idx1-ubyte"
    write_idx(labels, np.array([5], np.int32), gz=False)  # labels must be uint8
    with pytest.raises(TypeError, match="dtype torch.uint8 instead of torch.int32"):
        datasets.MNIST(tmp_path)


def make_cifar(root, hundred=False, n=6):
    folder = root / ("cifar-100-python" if hundred else "cifar-10-batches-py")
    folder.mkdir()
    key = "fine_labels" if hundred else "labels"
    batches = ["train", "test"] if hundred else [f"data_batch_{i}" for i in range(1, 6)] + [
        "test_batch"]
    written = {}
    for name in batches:
        data = rng.integers(0, 256, (n, 3 * 32 * 32)).astype(np.uint8)
        labels = rng.integers(0, 100 if hundred else 10, n).tolist()
        with open(folder / name, "wb") as f:
            pickle.dump({"data": data, key: labels, "batch_label": name}, f)
        written[name] = (data, labels)
    names = [f"class{i}" for i in range(100 if hundred else 10)]
    meta = {"fine_label_names": names} if hundred else {"label_names": names}
    with open(folder / ("meta" if hundred else "batches.meta"), "wb") as f:
        pickle.dump(meta, f, protocol=2)
    return written


def test_cifar10_reads_pickled_batches(tmp_path):
    written = make_cifar(tmp_path)
    train = datasets.CIFAR10(str(tmp_path))
    assert len(train) == 30 and train.data.shape == (30, 32, 32, 3)
    expected = np.vstack([written[f"data_batch_{i}"][0] for i in range(1, 6)])
    np.testing.assert_array_equal(train.data, expected.reshape(-1, 3, 32, 32).transpose(
        0, 2, 3, 1))
    assert train.targets == sum((written[f"data_batch_{i}"][1] for i in range(1, 6)), [])
    assert train.classes[3] == "class3" and train.class_to_idx["class3"] == 3
    img, target = train[7]
    assert isinstance(img, Image.Image) and img.mode == "RGB" and img.size == (32, 32)
    assert type(target) is int and target == train.targets[7]
    test = datasets.CIFAR10(str(tmp_path), train=False, transform=transforms.ToTensor())
    x, _ = test[0]
    np.testing.assert_allclose(x.numpy(), written["test_batch"][0][0].reshape(3, 32, 32) / 255,
                               rtol=1e-6)


def test_cifar100_uses_fine_labels(tmp_path):
    written = make_cifar(tmp_path, hundred=True)
    ds = datasets.CIFAR100(tmp_path, train=False, download=True)
    assert ds.targets == written["test"][1] and len(ds.classes) == 100


def test_cifar_missing_and_unsafe_files(tmp_path):
    with pytest.raises(RuntimeError, match="Dataset not found or corrupted") as info:
        datasets.CIFAR10(tmp_path)
    assert "cifar-10-batches-py" in str(info.value)
    with pytest.raises(RuntimeError, match="does not download.*no network") as info:
        datasets.CIFAR100(tmp_path, download=True)
    assert os.path.join(str(tmp_path), "cifar-100-python", "meta") in str(info.value)
    make_cifar(tmp_path)

    class Boom:
        def __reduce__(self):
            return (os.system, ("echo pwned",))
    with open(tmp_path / "cifar-10-batches-py" / "test_batch", "wb") as f:
        pickle.dump({"data": Boom(), "labels": []}, f)
    with pytest.raises(pickle.UnpicklingError, match="not allowed"):
        datasets.CIFAR10(tmp_path, train=False)


def make_folder(root, classes=("dog", "cat", "bird"), per_class=3):
    for c in classes:
        (root / c).mkdir(parents=True)
        for i in range(per_class):
            arr = rng.integers(0, 256, (6 + i, 8, 3)).astype(np.uint8)
            Image.fromarray(arr).save(root / c / f"{i}.png")
    (root / "cat" / "notes.txt").write_text("not an image")
    (root / "readme.md").write_text("top-level files are not classes")


def test_image_folder_sorted_classes_and_samples(tmp_path):
    make_folder(tmp_path)
    ds = datasets.ImageFolder(str(tmp_path))
    assert ds.classes == ["bird", "cat", "dog"]
    assert ds.class_to_idx == {"bird": 0, "cat": 1, "dog": 2}
    assert [os.path.relpath(p, tmp_path) for p, _ in ds.samples[:4]] == [
        os.path.join("bird", "0.png"), os.path.join("bird", "1.png"),
        os.path.join("bird", "2.png"), os.path.join("cat", "0.png")]
    assert ds.targets == [0, 0, 0, 1, 1, 1, 2, 2, 2] and ds.imgs is ds.samples
    img, target = ds[4]
    assert isinstance(img, Image.Image) and img.mode == "RGB" and img.size == (8, 7)
    assert target == 1
    np.testing.assert_array_equal(np.asarray(img), np.asarray(Image.open(ds.samples[4][0])))


def test_dataset_folder_loader_and_filters(tmp_path):
    make_folder(tmp_path)
    txt = datasets.DatasetFolder(tmp_path, loader=lambda p: open(p).read(), extensions=(".txt",),
                                 allow_empty=True)
    assert [(s, t) for s, t in txt] == [("not an image", 1)]
    only_first = datasets.ImageFolder(tmp_path, is_valid_file=lambda p: p.endswith("0.png"))
    assert len(only_first) == 3
    with pytest.raises(FileNotFoundError, match="Found no valid file for the classes bird, dog"):
        datasets.DatasetFolder(tmp_path, loader=open, extensions=".txt")
    with pytest.raises(ValueError, match="Both extensions and is_valid_file cannot be None"):
        datasets.DatasetFolder(tmp_path, loader=open)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(FileNotFoundError, match="Couldn't find any class folder"):
        datasets.ImageFolder(empty)


def test_image_folder_with_random_transforms_is_reproducible(tmp_path):
    make_folder(tmp_path)
    tf = transforms.Compose([transforms.RandomResizedCrop(5), transforms.RandomHorizontalFlip(),
                             transforms.ToTensor()])
    ds = datasets.ImageFolder(tmp_path, transform=tf)
    ember.manual_seed(3)
    a = [ds[i][0].numpy() for i in range(len(ds))]
    ember.manual_seed(3)
    b = [ds[i][0].numpy() for i in range(len(ds))]
    for x, y in zip(a, b):
        assert x.shape == (3, 5, 5)
        np.testing.assert_array_equal(x, y)


def test_fake_data_is_deterministic_per_index():
    ds = datasets.FakeData(size=5, image_size=(3, 6, 7), num_classes=4)
    state = ember.get_rng_state()
    img, target = ds[2]
    assert ember.equal(ember.get_rng_state(), state)  # the global stream is untouched
    assert isinstance(img, Image.Image) and img.size == (7, 6) and img.mode == "RGB"
    assert type(target) is int and 0 <= target < 4
    img2, target2 = ds[2]
    np.testing.assert_array_equal(np.asarray(img), np.asarray(img2))
    assert target == target2
    assert not np.array_equal(np.asarray(ds[1][0]), np.asarray(img))
    shifted = datasets.FakeData(size=5, image_size=(3, 6, 7), random_offset=1)
    np.testing.assert_array_equal(np.asarray(shifted[1][0]), np.asarray(img))
    with pytest.raises(IndexError, match="FakeData index out of range"):
        ds[5]
    gray = datasets.FakeData(size=2, image_size=(1, 4, 4), transform=transforms.ToTensor())
    assert tuple(gray[0][0].shape) == (1, 4, 4) and len(gray) == 2


def test_vision_dataset_transforms_argument_rules():
    with pytest.raises(ValueError, match="Only transforms or transform/target_transform"):
        datasets.VisionDataset("x", transforms=lambda a, b: (a, b), transform=lambda a: a)
    ds = datasets.VisionDataset("~/data", transform=transforms.Lambda(lambda x: x * 2),
                                target_transform=lambda t: t + 1)
    assert ds.root == os.path.expanduser("~/data")
    assert ds.transforms(1, 2) == (2, 3) and "Transform: Lambda()" in repr(ds.transforms)


def test_mnist_reads_torchvision_s_legacy_processed_files(tmp_path):
    import torch

    processed = tmp_path / "MNIST" / "processed"
    processed.mkdir(parents=True)
    data = rng.integers(0, 256, (4, 28, 28)).astype(np.uint8)
    targets = np.array([3, 1, 4, 1])
    torch.save((torch.tensor(data), torch.tensor(targets)), processed / "training.pt")
    torch.save((torch.tensor(data[:2]), torch.tensor(targets[:2])), processed / "test.pt")
    train = datasets.MNIST(tmp_path)
    np.testing.assert_array_equal(train.data.numpy(), data)
    assert train.targets.tolist() == [3, 1, 4, 1]
    assert len(datasets.MNIST(tmp_path, train=False)) == 2
    assert train[2][1] == 4
