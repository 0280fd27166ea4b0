"""ember.utils.safetensors against safetensors.torch, both directions."""
from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest
import safetensors.torch as st_torch
import torch

import ember
from ember.utils import safetensors as est
from tests.oracle import assert_same, to_torch

DTYPES = ["float32", "float64", "float16", "bfloat16", "int64", "int32", "int16", "int8",
          "uint8", "bool"]


def _array(dtype: str, shape=(3, 4)) -> np.ndarray:
    rng = np.random.default_rng(1)
    if dtype == "bool":
        return rng.random(shape) > 0.5
    if dtype == "bfloat16":
        return rng.standard_normal(shape).astype(np.float32).astype(ml_dtypes.bfloat16)
    if dtype.startswith("float"):
        return rng.standard_normal(shape).astype(dtype)
    return rng.integers(0, 100, shape).astype(dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_ember_file_reads_in_torch(tmp_path, dtype):
    a = _array(dtype)
    x = ember.tensor(np.array(a))
    tensors = {"x": x, "t": ember.tensor(np.array(a)).t(), "z": ember.tensor(np.array(a[0, 0])),
               "e": ember.tensor(np.array(a[:0]))}
    est.save_file(tensors, tmp_path / "m.safetensors", metadata={"format": "pt"})
    back = st_torch.load_file(tmp_path / "m.safetensors")
    assert sorted(back) == sorted(tensors)
    for k, v in tensors.items():
        assert_same(v, back[k], rtol=0, atol=0)


@pytest.mark.parametrize("dtype", DTYPES)
def test_torch_file_reads_in_ember(tmp_path, dtype):
    a = _array(dtype, (2, 5))
    t = {"w": to_torch(a), "s": to_torch(a[0, 0])}
    st_torch.save_file(t, tmp_path / "m.safetensors")
    for back in (est.load_file(tmp_path / "m.safetensors"),
                 ember.load(tmp_path / "m.safetensors"),
                 est.load((tmp_path / "m.safetensors").read_bytes())):
        for k, v in t.items():
            assert_same(back[k], v, rtol=0, atol=0)
    loaded = est.load_file(tmp_path / "m.safetensors")
    loaded["w"].zero_()  # loaded tensors own writable memory


def test_non_contiguous_is_packed_not_garbled(tmp_path):
    x = ember.arange(24.0).reshape(4, 6)
    est.save_file({"v": x[:, 1::2].t()}, tmp_path / "m.safetensors")
    back = st_torch.load_file(tmp_path / "m.safetensors")["v"]
    assert back.tolist() == x[:, 1::2].t().tolist()
    data = est.save({"v": x.t()})
    assert est.load(data)["v"].tolist() == x.t().tolist()
    assert st_torch.load(data)["v"].tolist() == x.t().tolist()


def test_shared_tensors_refused_in_save_file(tmp_path):
    x = ember.arange(6.0)
    with pytest.raises(RuntimeError, match="share memory"):
        est.save_file({"a": x, "b": x[2:]}, tmp_path / "m.safetensors")
    # disjoint pieces of one array do not overlap: allowed, as in safetensors.torch
    est.save_file({"a": x[:3], "b": x[3:]}, tmp_path / "m.safetensors")
    assert est.load_file(tmp_path / "m.safetensors")["b"].tolist() == [3.0, 4.0, 5.0]
    with pytest.raises(ValueError, match="expected ember.Tensor"):
        est.save_file({"a": np.ones(2)}, tmp_path / "m.safetensors")


class _Tied:
    """Two Linear layers sharing one weight, built in either library."""

    @staticmethod
    def build(lib):
        class Tied(lib.nn.Module):
            def __init__(self):
                super().__init__()
                self.a = lib.nn.Linear(3, 3)
                self.b = lib.nn.Linear(3, 3)
                self.b.weight = self.a.weight

            def forward(self, x):
                return self.b(self.a(x))
        return Tied()


def test_save_model_tied_weights_round_trips_with_torch(tmp_path):
    m = _Tied.build(ember)
    est.save_model(m, tmp_path / "e.safetensors")
    tm = _Tied.build(torch)
    missing, unexpected = st_torch.load_model(tm, tmp_path / "e.safetensors")
    assert not missing and not unexpected
    x = np.random.default_rng(0).standard_normal((2, 3)).astype(np.float32)
    with torch.no_grad():
        assert_same(m(ember.tensor(x)).detach(), tm(torch.from_numpy(x)))

    st_torch.save_model(tm, tmp_path / "t.safetensors")
    m2 = _Tied.build(ember)
    assert est.load_model(m2, tmp_path / "t.safetensors") == ([], [])
    assert m2.b.weight is m2.a.weight
    with torch.no_grad():
        assert_same(m2(ember.tensor(x)).detach(), tm(torch.from_numpy(x)))


def test_load_model_strict_reports_keys(tmp_path):
    est.save_file({"a.weight": ember.ones(3, 3)}, tmp_path / "m.safetensors")
    m = _Tied.build(ember)
    with pytest.raises(RuntimeError, match=r"Missing key\(s\) in state_dict: .*a\.bias"):
        est.load_model(m, tmp_path / "m.safetensors")
    missing, unexpected = est.load_model(m, tmp_path / "m.safetensors", strict=False)
    assert missing == ["a.bias", "b.bias"] and unexpected == []
    assert m.b.weight.detach().tolist() == [[1.0] * 3] * 3
