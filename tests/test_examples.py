"""The bundled examples: data that ships in the package, and each program's quick mode."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import torch

import ember
from ember.examples import digits

ROOT = Path(__file__).resolve().parents[1]


def test_bundled_digits_load_with_shapes_and_labels():
    images, labels = digits.load_digits()
    assert images.shape == (1797, 8, 8) and images.dtype == np.uint8
    assert labels.shape == (1797,) and labels.dtype == np.int64
    assert images.min() == 0 and images.max() == 16
    # the UCI test portion's class counts, digit 0 to 9
    counts = np.bincount(labels, minlength=10)
    assert counts.tolist() == [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]
    assert labels[:10].tolist() == list(range(10))
    # the file's first image (a zero), read row by row
    assert images[0, 0].tolist() == [0, 0, 5, 13, 9, 1, 0, 0]
    assert images[0, 3].tolist() == [0, 4, 12, 0, 0, 8, 8, 0]  # ink, hole, ink


def test_data_and_attribution_ship_inside_the_package():
    data = Path(digits.__file__).parent / "data"
    assert digits.DATA_FILE.parent == data and digits.DATA_FILE.is_file()
    text = (data / "DIGITS_LICENSE.txt").read_text()
    for needle in ("Optical Recognition of Handwritten Digits", "Alpaydin", "Kaynak",
                   "CC BY 4.0"):
        assert needle in text
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert '"ember.examples" = ["data/*.csv.gz", "data/*.txt"]' in pyproject


def test_fixed_split_is_disjoint_deterministic_and_scaled():
    x_tr, y_tr, x_te, y_te = digits.train_test_split()
    assert tuple(x_tr.shape) == (1437, 1, 8, 8) and tuple(x_te.shape) == (360, 1, 8, 8)
    assert x_tr.dtype == ember.float32 and y_tr.dtype == ember.int64
    assert 0.0 <= x_tr.min().item() and x_tr.max().item() == 1.0
    again = digits.train_test_split()
    assert np.array_equal(again[2].numpy(), x_te.numpy())
    assert np.array_equal(again[3].numpy(), y_te.numpy())
    # every image lands in exactly one part
    images, _ = digits.load_digits()
    both = np.concatenate([x_tr.numpy(), x_te.numpy()])[:, 0] * 16
    key = lambda a: sorted(map(bytes, a.astype(np.uint8)))  # noqa: E731
    assert key(both) == key(images)
    # all ten classes appear in the test part
    assert set(y_te.tolist()) == set(range(10))


def test_model_matches_the_same_network_in_torch():
    ember.manual_seed(0)
    model = digits.DigitsCNN(4)
    ref = torch.nn.Sequential(
        torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(4, 8, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Flatten(), torch.nn.Linear(32, 10)).double()
    names = {"features.0": "0", "features.3": "3", "classifier": "7"}
    state = {}
    for k, v in model.state_dict().items():
        mod, _, leaf = k.rpartition(".")
        state[f"{names[mod]}.{leaf}"] = torch.from_numpy(v.numpy().astype(np.float64))
    ref.load_state_dict(state)
    model = model.double()
    x = np.random.default_rng(1).random((5, 1, 8, 8))
    y = np.array([0, 3, 9, 3, 7])
    out = model(ember.tensor(x))
    loss = ember.nn.CrossEntropyLoss()(out, ember.tensor(y))
    loss.backward()
    ref_out = ref(torch.from_numpy(x))
    ref_loss = torch.nn.CrossEntropyLoss()(ref_out, torch.from_numpy(y))
    ref_loss.backward()
    np.testing.assert_allclose(out.detach().numpy(), ref_out.detach().numpy(), rtol=1e-10)
    np.testing.assert_allclose(model.features[0].weight.grad.numpy(),
                               ref[0].weight.grad.numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(model.classifier.bias.grad.numpy(),
                               ref[7].bias.grad.numpy(), rtol=1e-9, atol=1e-12)


def test_batches_fall_back_to_slicing_without_the_dataloader(monkeypatch):
    x = ember.arange(10.0).reshape(10, 1)
    y = ember.arange(10)
    monkeypatch.setitem(sys.modules, "ember.utils.data", None)  # import now fails
    ember.manual_seed(0)
    parts = digits.batches(x, y, 4, shuffle=True)
    assert [len(b) for b, _ in parts] == [4, 4, 2]
    seen = ember.cat([b for _, b in parts])
    assert sorted(seen.tolist()) == list(range(10))
    assert ember.cat([a for a, _ in parts])[:, 0].long().tolist() == seen.tolist()
    ordered = digits.batches(x, y, 4, shuffle=False)
    assert ember.cat([b for _, b in ordered]).tolist() == list(range(10))


def test_batches_use_the_dataloader():
    from ember.utils.data import DataLoader

    loader = digits.batches(ember.zeros(7, 1), ember.arange(7), 3, shuffle=False)
    assert isinstance(loader, DataLoader)
    assert [yb.tolist() for _, yb in loader] == [[0, 1, 2], [3, 4, 5], [6]]


def test_quick_run_trains_and_saves_a_loadable_checkpoint(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "ember.examples.digits", "--quick"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "digits: 256 training and 360 test images" in out
    assert "epoch  1  loss " in out and "test acc " in out
    assert "final test accuracy: " in out
    assert "saved checkpoint to digits_cnn.pt" in out and "ember.load('digits_cnn.pt')" in out
    ckpt = tmp_path / "digits_cnn.pt"
    state = ember.load(ckpt)
    model = digits.DigitsCNN(8)
    model.load_state_dict(state)
    assert tuple(model.classifier.weight.shape) == (10, 64)
    # the file is a PyTorch checkpoint too
    ref = torch.load(ckpt)
    assert list(ref) == list(state)
    np.testing.assert_array_equal(ref["classifier.weight"].numpy(),
                                  state["classifier.weight"].numpy())
