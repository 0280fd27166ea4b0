"""The bundled examples: data that ships in the package, and each program's quick mode."""
from __future__ import annotations

import inspect
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import ember
from ember.examples import chargpt, data_parallel, dataloader_workers, digits, swa

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


def test_progress_bar_is_tqdm_and_silent_off_a_terminal(monkeypatch):
    from tqdm import tqdm

    with open(os.devnull, "w") as devnull:  # not a terminal
        monkeypatch.setattr(sys, "stderr", devnull)
        bar = digits.progress(range(3), desc="epoch 1")
        assert isinstance(bar, tqdm) and bar.disable and list(bar) == [0, 1, 2]


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


# ---------------------------------------------------------------- chargpt

def _under_torch(module, name: str):
    """The example's own source executed with torch in place of ember (the oracle)."""
    import types

    src = inspect.getsource(module)
    for ours, theirs in (("import ember as torch\n", "import torch\n"),
                         ("import ember.nn.functional as F\n", "import torch.nn.functional as F\n"),
                         ("from ember import nn\n", "from torch import nn\n")):
        assert ours in src
        src = src.replace(ours, theirs)
    mod = types.ModuleType(name)
    sys.modules[name] = mod  # dataclasses look their module up while the class is made
    try:
        exec(compile(src, module.__file__, "exec"), mod.__dict__)
    finally:
        del sys.modules[name]
    return mod


def test_chargpt_text_is_ascii_standard_library_source():
    text = chargpt.load_text(("textwrap", "no_such_module_here", "string"))
    assert "def dedent(text):" in text and "class Template" in text
    assert text.isascii() and "\t" not in text
    assert set(text) <= set(chr(c) for c in range(32, 127)) | {"\n"}
    with pytest.raises(RuntimeError, match="no standard-library source found"):
        chargpt.load_text(("no_such_module_here",))


def test_chargpt_model_runs_the_same_in_torch():
    ref_mod = _under_torch(chargpt, "_chargpt_under_torch")
    cfg = dict(vocab_size=11, block_size=8, n_layer=2, n_head=2, n_embd=16)
    ember.manual_seed(1)
    model = chargpt.GPT(chargpt.GPTConfig(**cfg)).double()
    ref = ref_mod.GPT(ref_mod.GPTConfig(**cfg)).double()
    assert model.head.weight is model.tok_emb.weight  # tied in both
    assert ref.head.weight is ref.tok_emb.weight
    state = model.state_dict()
    assert list(state) == list(ref.state_dict())
    ref.load_state_dict({k: torch.from_numpy(v.numpy()) for k, v in state.items()})
    rng = np.random.default_rng(0)
    idx, tgt = rng.integers(0, 11, (3, 8)), rng.integers(0, 11, (3, 8))
    logits, loss = model(ember.tensor(idx), ember.tensor(tgt))
    ref_logits, ref_loss = ref(torch.from_numpy(idx), torch.from_numpy(tgt))
    loss.backward()
    ref_loss.backward()
    np.testing.assert_allclose(logits.detach().numpy(), ref_logits.detach().numpy(),
                               rtol=1e-9, atol=1e-12)
    assert abs(loss.item() - ref_loss.item()) < 1e-10
    for (name, p), (_, q) in zip(model.named_parameters(), ref.named_parameters()):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-8, atol=1e-11,
                                   err_msg=name)
    # the weight-decay groups: matrices only, the tied matrix once
    groups = chargpt.param_groups(model, 0.1)
    ref_groups = ref_mod.param_groups(ref, 0.1)
    assert [len(g["params"]) for g in groups] == [len(g["params"]) for g in ref_groups]
    assert all(p.dim() >= 2 for p in groups[0]["params"])
    assert sum(p is model.tok_emb.weight for p in groups[0]["params"]) == 1
    assert sum(map(len, (g["params"] for g in groups))) == len(list(model.parameters()))
    with pytest.raises(ValueError, match="length 9 is longer than the block size 8"):
        model(ember.zeros(1, 9, dtype=ember.int64))


def test_chargpt_schedule_warms_up_then_decays_to_the_floor():
    f = chargpt.lr_lambda(warmup=4, total=14, floor=0.1)
    assert [f(s) for s in range(4)] == [0.25, 0.5, 0.75, 1.0]
    assert f(4) == 1.0 and abs(f(9) - 0.55) < 1e-12 and abs(f(14) - 0.1) < 1e-12
    assert abs(f(100) - 0.1) < 1e-12  # stays at the floor past the end
    values = [f(s) for s in range(3, 15)]
    assert values == sorted(values, reverse=True)


def test_chargpt_top_k_one_is_greedy_decoding():
    ember.manual_seed(0)
    model = chargpt.GPT(chargpt.GPTConfig(vocab_size=7, block_size=4, n_layer=1, n_head=1,
                                          n_embd=8))
    model.eval()
    out = model.generate(ember.tensor([[1, 2]]), 6, temperature=0.5, top_k=1)
    seq = [1, 2]
    with ember.no_grad():
        for _ in range(6):
            logits, _ = model(ember.tensor([seq[-4:]]))
            seq.append(int(logits[0, -1].argmax()))
    assert out[0].tolist() == seq


def test_chargpt_quick_run_trains_samples_and_resamples_from_its_checkpoint(tmp_path, capsys):
    ckpt = tmp_path / "gpt.pt"
    result = chargpt.main(["--quick", "--out", str(ckpt)])
    out = capsys.readouterr().out
    assert "tokens/s" in out and "val loss" in out and "--- sample" in out
    assert result["final_val_loss"] < result["initial_val_loss"] - 0.5
    text = result["sample"]
    assert len(text) == 80 and set(text) <= set(result["chars"])
    saved = ember.load(ckpt)
    assert saved["chars"] == result["chars"] and saved["config"]["n_embd"] == 32
    again = chargpt.main(["--sample-only", str(ckpt), "--length", "30"])
    assert again["sample"] == text[:30]  # same seed, same weights, same characters
    with pytest.raises(FileNotFoundError):
        chargpt.main(["--sample-only", str(tmp_path / "missing.pt")])


# ---------------------------------------------------------------- swa

def test_swa_averages_the_snapshots_and_recomputes_batchnorm(monkeypatch):
    from ember.optim.swa_utils import AveragedModel

    snapshots = []
    original = AveragedModel.update_parameters

    def recording(self, model):
        snapshots.append([p.detach().numpy().copy() for p in model.parameters()])
        original(self, model)

    monkeypatch.setattr(AveragedModel, "update_parameters", recording)
    result = swa.main(["--quick"])
    swa_model, model = result["swa_model"], result["model"]
    assert len(snapshots) == 3 and int(swa_model.n_averaged) == 3
    for i, p in enumerate(swa_model.module.parameters()):
        mean = np.mean([snap[i] for snap in snapshots], axis=0)
        np.testing.assert_allclose(p.detach().numpy(), mean, rtol=1e-5, atol=1e-6)
    last = [p.detach().numpy() for p in model.parameters()]
    assert not all(np.array_equal(a, b) for a, b in zip(snapshots[0], last))
    # update_bn: the first BatchNorm's running mean is the mean of its input under the
    # averaged weights (256 images in 4 equal batches, so the batch means average exactly)
    x = digits.train_test_split()[0][:256]
    with ember.no_grad():
        feats = swa_model.module.features[0](x).numpy()
    bn = swa_model.module.features[1]
    np.testing.assert_allclose(bn.running_mean.numpy(), feats.mean(axis=(0, 2, 3)),
                               rtol=1e-4, atol=1e-5)
    assert not np.allclose(bn.running_mean.numpy(),
                           model.features[1].running_mean.numpy(), atol=1e-4)
    assert 0.0 <= result["plain_acc"] <= 1.0 and 0.0 <= result["swa_acc"] <= 1.0


# ---------------------------------------------------------------- dataloader_workers

def test_augmented_digits_shift_noise_and_index():
    images = np.zeros((3, 1, 8, 8), np.float32)
    images[1, 0, 3, 3] = 1.0
    ds = dataloader_workers.AugmentedDigits(images, np.array([4, 5, 6]), noise=0.0)
    np.random.seed(0)
    shifted = [ds[1] for _ in range(20)]
    assert all(label == 5 and i == 1 for _, label, i in shifted)
    spots = {tuple(np.argwhere(img[0] == 1.0)[0]) for img, _, _ in shifted}
    assert spots <= {(r, c) for r in (2, 3, 4) for c in (2, 3, 4)} and len(spots) > 1
    noisy = dataloader_workers.AugmentedDigits(images, np.array([4, 5, 6]), noise=0.5)
    img, _, _ = noisy[0]
    assert img.shape == (1, 8, 8) and img.dtype == np.float32
    assert 0.0 <= img.min() and img.max() <= 1.0 and img.max() > 0.0


@pytest.mark.slow
def test_dataloader_resumes_mid_epoch_with_exactly_the_remaining_batches():
    result = dataloader_workers.main(["--quick"])
    assert result["stop_after"] == 2
    x, y, _, _ = digits.train_test_split()
    ds = dataloader_workers.AugmentedDigits(x[:256].numpy(), y[:256].numpy())
    loader = dataloader_workers.make_loader(ds, 64, seed=0, num_workers=0)
    uninterrupted = [[idx.tolist() for _, _, idx in loader] for _ in range(2)]
    assert result["epoch_indices"] == uninterrupted
    assert uninterrupted[0] != uninterrupted[1]  # reshuffled each epoch
    with pytest.raises(SystemExit):
        dataloader_workers.main(["--quick", "--epochs", "2", "--interrupt-epoch", "3"])


# ---------------------------------------------------------------- data_parallel

def test_data_parallel_step_matches_the_plain_model():
    ember.manual_seed(0)
    model = data_parallel.ReportingCNN(4)
    plain = data_parallel.ReportingCNN(4)
    plain.load_state_dict(model.state_dict())
    dp = ember.nn.DataParallel(model, device_ids=["cpu", "cpu"])
    x, y = ember.randn(10, 1, 8, 8), ember.randint(10, (10,))
    loss = ember.nn.functional.cross_entropy(dp(x), y)
    loss.backward()
    ref = ember.nn.functional.cross_entropy(plain(x), y)
    ref.backward()
    assert abs(loss.item() - ref.item()) < 1e-5
    for p, q in zip(model.parameters(), plain.parameters()):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-4, atol=1e-6)


def test_data_parallel_quick_run_splits_batches_and_learns(capsys):
    result = data_parallel.main(["--quick"])
    out = capsys.readouterr().out
    assert out.count("in the model: input (64, 1, 8, 8)") == 2
    assert "outside: input (128, 1, 8, 8), output (128, 10)" in out
    assert result["losses"][1] < result["losses"][0]
    assert result["model"].device_ids == [ember.device("cpu")] * 2
    assert list(result["model"].state_dict())[0] == "module.features.0.weight"


# ---------------------------------------------------------------- ddp

def _has_mpi() -> bool:
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        return False
    return shutil.which("mpiexec") is not None


@pytest.mark.slow
@pytest.mark.skipif(not _has_mpi(), reason="needs mpi4py and mpiexec")
def test_ddp_two_ranks_keep_identical_replicas(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-m", "ember.distributed.run", "--nproc-per-node",
                           "2", "-m", "ember.examples.ddp", "--quick"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    assert "256 training images over 2 ranks, 128 per rank per epoch" in out
    lines = re.findall(r"\[rank (\d)\] epoch (\d)  loss ([\d.]+) on (\d+) images  "
                       r"replicas identical: (\w+)", out)
    assert sorted((r, e) for r, e, *_ in lines) == [("0", "1"), ("0", "2"), ("1", "1"),
                                                   ("1", "2")], out
    assert all(n == "128" and same == "True" for *_, n, same in lines)
    losses = {(r, e): float(v) for r, e, v, *_ in lines}
    assert losses[("0", "1")] != losses[("1", "1")]  # each rank trains on its own shard
    assert out.count("final test accuracy") == 1


def test_spiral_trains_and_runs_unchanged_under_torch(capsys):
    from ember.examples import spiral
    ours = spiral.main(["--quick"])
    assert len(ours["losses"]) == 21 and ours["losses"][-1] < 0.9 * ours["losses"][0]
    assert "step  20" in capsys.readouterr().out
    # the docstring's promise: the same source with `import torch` trains in torch too
    source = Path(spiral.__file__).read_text().replace("import ember as torch", "import torch")
    namespace = {"__name__": "spiral_under_torch"}
    exec(compile(source, "spiral_under_torch", "exec"), namespace)
    assert namespace["torch"] is torch
    theirs = namespace["main"](["--quick"])
    assert theirs["losses"][-1] < 0.9 * theirs["losses"][0]
    # both start from a random guess over 3 classes: loss near log(3)
    assert abs(ours["losses"][0] - np.log(3)) < 0.1 and abs(theirs["losses"][0] - np.log(3)) < 0.1


@pytest.mark.slow
def test_hogwild_workers_train_the_parents_shared_model(capsys, tmp_path):
    from ember.examples import hogwild
    ours = hogwild.main(["--quick"])
    # the parent's model changed: the forked workers wrote into the shared parameters
    assert ours["moved"] > 0.01 and ours["after"] > ours["before"] + 0.3
    assert "2 workers, 1 epoch(s) each" in capsys.readouterr().out
    # the docstring's promise: the same source with `import torch` runs Hogwild in torch (in
    # a fresh interpreter, with a time limit: forking a process whose OpenMP threads ran)
    source = Path(hogwild.__file__).read_text().replace("import ember as torch", "import torch")
    script = tmp_path / "hogwild_torch.py"
    script.write_text(source.replace("from ember import nn\n", "from torch import nn\n"))
    proc = subprocess.run([sys.executable, str(script), "--quick"], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    found = re.search(r"test accuracy ([\d.]+) -> ([\d.]+) \(largest weight change seen by "
                      r"the parent ([\d.]+)\)", proc.stdout)
    assert found, proc.stdout
    before, after, moved = map(float, found.groups())
    assert moved > 0.01 and after > before + 0.3


@pytest.mark.slow
def test_hogwild_without_shared_memory_leaves_the_parent_untouched(monkeypatch):
    # the control: without share_memory() the workers train private copies
    from ember.examples import hogwild
    monkeypatch.setattr(ember.nn.Module, "share_memory", lambda self: self)
    result = hogwild.main(["--quick"])
    assert result["moved"] == 0.0 and result["after"] == result["before"]
