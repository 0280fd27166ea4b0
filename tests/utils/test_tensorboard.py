"""ember.utils.tensorboard.SummaryWriter: the event files it writes, read back record by
record with tensorboardX's protobuf classes."""
from __future__ import annotations

import os
import struct
import subprocess
import sys

import numpy as np
import pytest

import ember

pytest.importorskip("tensorboardX")
from tensorboardX.proto import event_pb2  # noqa: E402

from ember.utils.tensorboard import SummaryWriter  # noqa: E402


def _events(log_dir: str) -> list:
    """Every Event in the event files directly under log_dir (TFRecord framing: length,
    its CRC, payload, payload CRC)."""
    out = []
    for name in sorted(os.listdir(log_dir)):
        if not name.startswith("events.out.tfevents"):
            continue
        with open(os.path.join(log_dir, name), "rb") as f:
            data = f.read()
        pos = 0
        while pos < len(data):
            (length,) = struct.unpack("<Q", data[pos:pos + 8])
            out.append(event_pb2.Event.FromString(data[pos + 12:pos + 12 + length]))
            pos += 12 + length + 4
    return out


def _values(log_dir: str) -> list:
    """(step, tag, value-kind, value) of each summary value logged under log_dir."""
    rows = []
    for ev in _events(log_dir):
        for v in ev.summary.value:
            kind = v.WhichOneof("value")
            rows.append((ev.step, v.tag, kind, kind and getattr(v, kind)))
    return rows


def test_scalars_from_tensors_and_numbers(tmp_path):
    with SummaryWriter(str(tmp_path)) as w:
        w.add_scalar("loss", ember.tensor(0.25), 1)
        w.add_scalar("loss", ember.tensor([0.125], dtype=ember.bfloat16), 2)
        w.add_scalar("lr", 0.5, 2)
        w.add_scalar("acc", np.float32(0.75), 3)
    rows = [(s, t, val) for s, t, k, val in _values(str(tmp_path)) if k == "simple_value"]
    assert rows == [(1, "loss", 0.25), (2, "loss", 0.125), (2, "lr", 0.5), (3, "acc", 0.75)]


def test_non_scalar_tensor_is_refused(tmp_path):
    with SummaryWriter(str(tmp_path)) as w, pytest.raises(AssertionError,
                                                          match="scalar should be 0D"):
        w.add_scalar("loss", ember.ones(3), 0)


def test_add_scalars_writes_one_run_per_tag(tmp_path):
    with SummaryWriter(str(tmp_path)) as w:
        w.add_scalars("run", {"train": ember.tensor(1.5), "val": 2.5}, 7)
    got = {}
    for sub in os.listdir(tmp_path):
        path = tmp_path / sub
        if path.is_dir():
            got[sub] = [(s, t, v) for s, t, _, v in _values(str(path))]
    assert got == {"run_train": [(7, "run", 1.5)], "run_val": [(7, "run", 2.5)]}


def test_histogram_image_text(tmp_path):
    x = ember.arange(100, dtype=ember.float32) / 10
    with SummaryWriter(str(tmp_path)) as w:
        w.add_histogram("weights", x, 0)
        w.add_image("img", ember.rand(3, 4, 5), 0)
        w.add_images("imgs", ember.rand(2, 3, 4, 5), 0)
        w.add_text("note", "hello", 0)
        w.flush()
    rows = {t: (k, v) for _, t, k, v in _values(str(tmp_path))}
    hist = rows["weights"][1]
    assert rows["weights"][0] == "histo"
    assert (hist.num, hist.min, hist.max) == (100, 0.0, pytest.approx(9.9))
    assert hist.sum == pytest.approx(float(x.sum()))
    assert rows["img"][0] == "image" and (rows["img"][1].height, rows["img"][1].width) == (4, 5)
    assert rows["imgs"][1].width == 2 * 5 or rows["imgs"][1].height == 2 * 4
    assert rows["note/text_summary"][1].string_val == [b"hello"]


def test_hparams_and_graph(tmp_path):
    with SummaryWriter(str(tmp_path)) as w:
        w.add_hparams({"lr": 0.1, "bs": 32}, {"hparam/acc": ember.tensor(0.5)}, run_name="r1")
        with pytest.raises(TypeError, match="should be dictionary"):
            w.add_hparams([("lr", 0.1)], {})
        with pytest.raises(NotImplementedError, match="add_graph"):
            w.add_graph(ember.nn.Linear(2, 2), ember.ones(1, 2))
    rows = _values(str(tmp_path / "r1"))
    assert ("hparam/acc", "simple_value", 0.5) in [(t, k, v) for _, t, k, v in rows]
    assert any(t == "_hparams_/experiment" for _, t, _, _ in rows)


def test_default_log_dir_and_comment(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    w = SummaryWriter(comment="_exp")
    w.close()
    assert w.get_logdir().startswith("runs" + os.sep) and w.get_logdir().endswith("_exp")
    assert os.path.isdir(w.get_logdir())


def test_import_without_tensorboardx_names_the_package():
    code = ("import sys; sys.modules['tensorboardX'] = None\n"
            "try:\n    import ember.utils.tensorboard\n"
            "except ImportError as e:\n    print(e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert "pip install tensorboardX" in out.stdout, out.stderr


def test_import_does_not_pull_in_torch():
    code = "import sys, ember.utils.tensorboard; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "False", out.stderr
