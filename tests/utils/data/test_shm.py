"""The shared-memory transport in one process: pack/unpack round trips and lifetime."""
from __future__ import annotations

import collections
import os

import ml_dtypes
import numpy as np
import pytest
from data_helpers import shm_blocks

import ember
from ember.utils.data._utils import shm

P = collections.namedtuple("P", ["a", "b"])


@pytest.fixture(autouse=True)
def small_blocks(monkeypatch):
    monkeypatch.setattr(shm, "MIN_BYTES", 1)


def name(k: str) -> str:
    return f"ember_dl_{os.getpid()}_t_{k}"


def test_round_trip_keeps_structure_values_and_dtypes():
    rng = np.random.default_rng(0)
    base = rng.standard_normal((4, 5))
    batch = {
        "f32": ember.from_numpy(base.astype(np.float32)),
        "t": ember.from_numpy(base).t(),  # non-contiguous
        "bf16": ember.from_numpy(base.astype(ml_dtypes.bfloat16)),
        "bool": ember.from_numpy(base > 0),
        "zero_d": ember.tensor(3),
        "empty": ember.zeros(0, 3),
        "np": base.astype(np.int16),
        "nested": [P(ember.ones(2), "text"), (1, 2.5)],
        "leaf": ember.ones(3, requires_grad=True),
    }
    msg = shm.pack(batch, name("a"))
    assert isinstance(msg, shm.ShmBatch) and shm_blocks() == {name("a")}
    import pickle
    out = shm.unpack(pickle.loads(pickle.dumps(msg)))
    assert not shm_blocks()  # unlinked as soon as it is mapped
    assert list(out) == list(batch)
    for k in ("f32", "t", "bf16", "bool", "zero_d", "empty"):
        assert out[k].dtype == batch[k].dtype and out[k].shape == batch[k].shape, k
        np.testing.assert_array_equal(out[k].numpy().astype(np.float64),
                                      batch[k].numpy().astype(np.float64))
    assert isinstance(out["np"], np.ndarray) and out["np"].dtype == np.int16
    assert type(out["nested"][0]) is P and out["nested"][0].b == "text"
    assert out["nested"][1] == (1, 2.5) and out["leaf"].requires_grad
    out["f32"] += 1  # writable, and the memory outlives the name
    assert float(out["f32"][0, 0]) == pytest.approx(float(base[0, 0]) + 1, rel=1e-6)


def test_small_batches_and_disabled_transport_stay_pickled(monkeypatch):
    monkeypatch.setattr(shm, "MIN_BYTES", 1 << 20)
    small = (ember.ones(4), 1)
    assert shm.pack(small, name("b")) is small
    monkeypatch.setattr(shm, "MIN_BYTES", 1)
    monkeypatch.setattr(shm, "ENABLED", False)
    assert shm.pack(small, name("c")) is small
    assert shm.unpack(small) is small and not shm_blocks()


def test_non_leaf_tensors_and_objects_are_not_shared():
    x = ember.ones(3, requires_grad=True) * 2
    batch = [x, np.array(["s"]), object]
    assert shm.pack(batch, name("d")) is batch


def test_discard_and_unlink_prefix():
    m1 = shm.pack([ember.ones(8)], name("e1"))
    shm.pack([ember.ones(8)], name("e2"))
    shm.discard(m1)
    assert shm_blocks() == {name("e2")}
    assert shm.unlink_prefix(f"ember_dl_{os.getpid()}_t_") == 1 and not shm_blocks()


def test_exhausted_message():
    import errno

    def full(fd, buf, offset):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    old = shm._write
    shm._write = full
    try:
        with pytest.raises(RuntimeError, match=r"/dev/shm is exhausted") as info:
            shm.pack([ember.ones(100)], name("f"))
    finally:
        shm._write = old
    assert "No space left on device" in str(info.value) and not shm_blocks()
