"""ember.save / ember.load against torch.save / torch.load, both directions."""
from __future__ import annotations

import io
import os
import pickle
import zipfile
from collections import OrderedDict

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import ember
from ember import serialization
from tests.oracle import assert_same, to_torch

DTYPES = ["float32", "float64", "float16", "bfloat16", "int64", "int32", "int16", "int8",
          "uint8", "bool"]


def _array(dtype: str, shape=(3, 4), seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if dtype == "bool":
        return rng.random(shape) > 0.5
    if dtype in ("float32", "float64", "float16", "bfloat16"):
        a = rng.standard_normal(shape).astype(np.float32)
        if dtype == "bfloat16":
            import ml_dtypes
            return a.astype(ml_dtypes.bfloat16)
        return a.astype(dtype)
    return rng.integers(0, 100, shape).astype(dtype)


def _e(a: np.ndarray) -> ember.Tensor:
    return ember.tensor(np.array(a))


def _same_tensor(e, t) -> None:
    assert isinstance(e, ember.Tensor) and isinstance(t, torch.Tensor)
    assert_same(e, t, rtol=0, atol=0)
    assert e.requires_grad == t.requires_grad
    if t.numel():  # (strides of empty tensors are not meaningful)
        assert tuple(e.stride()) == tuple(t.stride())


def _compare(e, t) -> None:
    """ember object `e` equals torch object `t`, recursively."""
    if isinstance(t, torch.Tensor):
        _same_tensor(e, t)
    elif isinstance(t, dict):
        assert type(e) is type(t) and list(e) == list(t)
        assert getattr(e, "_metadata", None) == getattr(t, "_metadata", None)
        for k in t:
            _compare(e[k], t[k])
    elif isinstance(t, (list, tuple)):
        assert type(e).__name__ == type(t).__name__ and len(e) == len(t)
        for a, b in zip(e, t):
            _compare(a, b)
    elif isinstance(t, torch.dtype):
        assert str(e) == str(t)
    elif isinstance(t, torch.device):
        assert str(e) == str(t)
    else:
        assert e == t and type(e) is type(t)


def _shares(a, b) -> bool:
    return np.shares_memory(a._data, b._data)


# ----------------------------------------------------------------- torch -> ember
@pytest.mark.parametrize("dtype", DTYPES)
def test_torch_file_loads_every_dtype(tmp_path, dtype):
    a = _array(dtype)
    t = to_torch(a)
    obj = {"x": t, "t": t.t(), "s": t[1:, ::2], "z": to_torch(a[0, 0].reshape(())),
           "e": to_torch(a[:0])}
    torch.save(obj, tmp_path / "m.pt")
    e = ember.load(tmp_path / "m.pt")
    _compare(e, obj)
    assert _shares(e["x"], e["t"]) and _shares(e["x"], e["s"])


def test_torch_containers_and_state_dict(tmp_path):
    sd = OrderedDict(w=torch.randn(3, 2, dtype=torch.float64), b=torch.zeros(3))
    sd._metadata = OrderedDict({"": {"version": 1}, "fc": {"version": 2}})
    obj = {"sd": sd, "n": [1, 2.5, "s", None, True, (b"\x00\xff", {3: "x"})],
           "dt": torch.bfloat16, "dev": torch.device("cpu"), "size": torch.Size([2, 3]),
           "p": torch.nn.Parameter(torch.ones(2)), "nested": [[torch.arange(3)]],
           "set": {1, 2}, "cx": 1 + 2j}
    torch.save(obj, tmp_path / "m.pt")
    e = ember.load(str(tmp_path / "m.pt"))
    assert isinstance(e["p"], ember.nn.Parameter) and e["p"].requires_grad
    assert isinstance(e["size"], ember.Size) and tuple(e["size"]) == (2, 3)
    assert e["dt"] is ember.bfloat16 and e["dev"] == ember.device("cpu")
    _compare(e, obj)


def test_load_from_file_object_and_bytes(tmp_path):
    buf = io.BytesIO()
    torch.save({"a": torch.arange(4)}, buf)
    buf.seek(0)
    assert ember.load(buf)["a"].tolist() == [0, 1, 2, 3]
    with open(tmp_path / "m.pt", "wb") as f:
        f.write(b"junk")  # a zip that does not start at offset 0 of the stream
        torch.save({"a": torch.ones(2)}, f)
    with open(tmp_path / "m.pt", "rb") as f:
        f.seek(4)
        assert ember.load(f)["a"].tolist() == [1.0, 1.0]


def test_loaded_tensors_are_writable_and_independent(tmp_path):
    torch.save([torch.zeros(3), torch.zeros(3)], tmp_path / "m.pt")
    a, b = ember.load(tmp_path / "m.pt")
    a.add_(1)
    assert b.tolist() == [0.0, 0.0, 0.0] and a.tolist() == [1.0, 1.0, 1.0]


def test_mmap_loading_maps_the_file(tmp_path):
    x = torch.arange(24, dtype=torch.float32).reshape(4, 6)
    torch.save({"x": x, "v": x[1:, 2:], "i": torch.arange(5)}, tmp_path / "m.pt")
    e = ember.load(tmp_path / "m.pt", mmap=True)
    _compare(e, {"x": x, "v": x[1:, 2:], "i": torch.arange(5)})
    import mmap
    owner = e["x"]._data
    while owner is not None and not isinstance(owner, (mmap.mmap, memoryview)):
        owner = getattr(owner, "base", None)
    assert isinstance(owner.obj if isinstance(owner, memoryview) else owner, mmap.mmap)
    e["x"][0, 0] = 5.0  # copy-on-write: the tensor changes, the file does not
    assert e["x"][0, 0].item() == 5.0
    assert torch.load(tmp_path / "m.pt")["x"][0, 0].item() == 0.0
    with open(tmp_path / "m.pt", "rb") as f:
        assert ember.load(f, mmap=True)["i"].tolist() == [0, 1, 2, 3, 4]


def test_map_location(tmp_path):
    torch.save({"x": torch.ones(2)}, tmp_path / "m.pt")
    p = tmp_path / "m.pt"
    assert ember.load(p, map_location="cpu")["x"].device == ember.device("cpu")
    assert ember.load(p, map_location=ember.device("cpu"))["x"].tolist() == [1.0, 1.0]
    assert ember.load(p, map_location={"cuda:0": "cpu"})["x"].tolist() == [1.0, 1.0]
    seen = []

    def where(storage, loc):
        seen.append(loc)
        return storage

    assert ember.load(p, map_location=where)["x"].tolist() == [1.0, 1.0]
    assert seen == ["cpu"]
    assert ember.load(p, map_location=lambda s, loc: None)["x"].tolist() == [1.0, 1.0]


def _cuda_checkpoint(tmp_path):
    """An ember checkpoint whose storage claims to live on cuda:0."""
    buf = io.BytesIO()
    ember.save({"x": ember.ones(2)}, buf)
    src = zipfile.ZipFile(io.BytesIO(buf.getvalue()))
    out = tmp_path / "cuda.pt"
    with zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename.endswith("data.pkl"):
                data = data.replace(b"X\x03\x00\x00\x00cpu", b"X\x06\x00\x00\x00cuda:0")
            dst.writestr(info.filename, data)
    return out


@pytest.mark.skipif(ember.cuda.is_available(), reason="checks the CPU-only error")
def test_cuda_storage_without_gpu(tmp_path):
    p = _cuda_checkpoint(tmp_path)
    with pytest.raises(RuntimeError, match="map_location"):
        ember.load(p)
    assert ember.load(p, map_location="cpu")["x"].tolist() == [1.0, 1.0]
    assert ember.load(p, map_location={"cuda:0": "cpu"})["x"].tolist() == [1.0, 1.0]
    assert ember.load(p, map_location=lambda s, loc: s.cpu())["x"].tolist() == [1.0, 1.0]


# ----------------------------------------------------------------- ember -> torch
@pytest.mark.parametrize("dtype", DTYPES)
def test_ember_file_loads_in_torch_every_dtype(tmp_path, dtype):
    a = _array(dtype, (4, 5))
    x = _e(a)
    obj = {"x": x, "t": x.t(), "s": x[1:, ::2], "row": x[2], "z": _e(a[0, 0].reshape(())),
           "e": _e(a[:0])}
    ember.save(obj, tmp_path / "m.pt")
    t = torch.load(tmp_path / "m.pt", weights_only=True)
    _compare(obj, t)
    ptr = t["x"].untyped_storage().data_ptr()
    assert all(t[k].untyped_storage().data_ptr() == ptr for k in ("t", "s", "row"))


def test_ember_containers_and_parameters_load_in_torch(tmp_path):
    sd = OrderedDict(w=ember.randn(3, 2, dtype=ember.float64), b=ember.zeros(3))
    sd._metadata = OrderedDict({"": {"version": 1}})
    p = ember.nn.Parameter(ember.randn(2, 2))
    obj = {"sd": sd, "n": [1, 2.5, "s", None, False, (b"bytes", {3: "x"})],
           "dt": ember.float16, "dev": ember.device("cpu"), "size": ember.Size([2, 3]),
           "p": p, "frozen": ember.nn.Parameter(ember.ones(1), requires_grad=False),
           "grad": ember.ones(2, requires_grad=True) * 2}
    ember.save(obj, tmp_path / "m.pt")
    t = torch.load(tmp_path / "m.pt", weights_only=True)
    assert isinstance(t["p"], torch.nn.Parameter) and t["p"].requires_grad
    assert isinstance(t["frozen"], torch.nn.Parameter) and not t["frozen"].requires_grad
    assert t["grad"].requires_grad and t["grad"].is_leaf
    assert t["dt"] is torch.float16 and t["size"] == torch.Size([2, 3])
    assert t["sd"]._metadata == {"": {"version": 1}}
    _compare({k: v for k, v in obj.items() if k not in ("p", "frozen", "grad")},
             {k: v for k, v in t.items() if k not in ("p", "frozen", "grad")})
    np.testing.assert_array_equal(p.detach().numpy(), t["p"].detach().numpy())


def test_ember_format_records(tmp_path):
    ember.save({"a": ember.ones(3), "b": ember.arange(5)}, tmp_path / "my.model.pt")
    zf = zipfile.ZipFile(tmp_path / "my.model.pt")
    names = zf.namelist()
    assert names[0] == "my.model/data.pkl"
    for rec in ("byteorder", "version", ".format_version", ".storage_alignment",
                ".data/serialization_id", "data/0", "data/1"):
        assert f"my.model/{rec}" in names
    assert zf.read("my.model/version") == b"3\n"
    assert zf.read("my.model/byteorder") == b"little"
    with open(tmp_path / "my.model.pt", "rb") as f:
        for info in zf.infolist():
            assert info.compress_type == zipfile.ZIP_STORED
            assert serialization._entry_offset(f, info) % 64 == 0
    assert zf.read("my.model/data.pkl")[:2] == b"\x80\x02"
    mapped = torch.load(tmp_path / "my.model.pt", mmap=True, weights_only=True)
    assert mapped["b"].tolist() == [0, 1, 2, 3, 4]
    buf = io.BytesIO()
    ember.save(ember.ones(1), buf)
    assert zipfile.ZipFile(buf).namelist()[0] == "archive/data.pkl"


def test_ember_round_trip_keeps_sharing(tmp_path):
    x = ember.arange(12.0).reshape(3, 4)
    ember.save([x, x.t(), x[:, 1], x.detach()], tmp_path / "m.pt")
    a, b, c, d = ember.load(tmp_path / "m.pt")
    assert _shares(a, b) and _shares(a, c) and _shares(a, d)
    a[0, 1] = -1.0
    assert b[1, 0].item() == -1.0 and c[0].item() == -1.0
    assert len([n for n in zipfile.ZipFile(tmp_path / "m.pt").namelist() if "/data/" in n]) == 1


def test_mixed_dtype_views_of_one_storage_refused(tmp_path):
    x = ember.arange(4.0)
    with pytest.raises(RuntimeError, match="view the same data as different types"):
        ember.save([x, x.view(ember.int32)], tmp_path / "m.pt")
    assert not os.listdir(tmp_path)


def test_grad_is_not_saved_and_requires_grad_kept(tmp_path):
    w = ember.ones(2, requires_grad=True)
    (w * 3).sum().backward()
    ember.save(w, tmp_path / "m.pt")
    back = ember.load(tmp_path / "m.pt")
    assert back.requires_grad and back.grad is None and back.is_leaf


# ----------------------------------------------------------------- safety
class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_hostile_pickle_in_zip_refused(tmp_path):
    marker = tmp_path / "PWNED"
    torch.save({"x": torch.ones(1), "evil": _Evil(marker)}, tmp_path / "evil.pt")
    with pytest.raises(pickle.UnpicklingError, match=r"Unsupported global: GLOBAL posix\.system"):
        ember.load(tmp_path / "evil.pt")
    assert not marker.exists()
    with pytest.raises(pickle.UnpicklingError, match="Weights only load failed"):
        ember.load(tmp_path / "evil.pt", weights_only=True)
    assert not marker.exists()


def test_hostile_bare_pickle_refused(tmp_path):
    marker = tmp_path / "PWNED"
    with open(tmp_path / "evil.pkl", "wb") as f:
        pickle.dump(_Evil(marker), f, protocol=2)
    with pytest.raises(RuntimeError, match="is not a valid checkpoint"):
        ember.load(tmp_path / "evil.pkl")
    with pytest.raises(RuntimeError, match="legacy"):
        ember.load(tmp_path / "evil.pkl", weights_only=False)
    assert not marker.exists()


def test_codecs_encode_only_for_text_encodings(tmp_path):
    class Zip:
        def __reduce__(self):
            import codecs
            return (codecs.encode, ("x", "zlib_codec"))
    torch.save({"z": Zip()}, tmp_path / "m.pt")
    with pytest.raises(RuntimeError, match="not a valid checkpoint"):
        ember.load(tmp_path / "m.pt")


class Point:
    def __init__(self, x):
        self.x = x

    def __eq__(self, other):
        return isinstance(other, Point) and other.x == self.x


def test_safe_globals(tmp_path):
    torch.save({"p": Point(3)}, tmp_path / "m.pt")
    with pytest.raises(pickle.UnpicklingError, match="Point"):
        ember.load(tmp_path / "m.pt")
    with serialization.safe_globals([Point]):
        assert ember.load(tmp_path / "m.pt")["p"] == Point(3)
        assert Point in serialization.get_safe_globals()
    assert Point not in serialization.get_safe_globals()
    serialization.add_safe_globals([(Point, f"{Point.__module__}.Point")])
    try:
        assert ember.load(tmp_path / "m.pt")["p"] == Point(3)
    finally:
        serialization.clear_safe_globals()
    assert serialization.get_safe_globals() == []
    assert ember.load(tmp_path / "m.pt", weights_only=False)["p"] == Point(3)


@pytest.mark.parametrize("cut", [0, 10, 100, 400, -30, -1])
def test_truncated_files(tmp_path, cut):
    torch.save({"x": torch.arange(100.0)}, tmp_path / "m.pt")
    data = (tmp_path / "m.pt").read_bytes()
    (tmp_path / "bad.pt").write_bytes(data[:cut])
    with pytest.raises(RuntimeError, match="is not a valid checkpoint"):
        ember.load(tmp_path / "bad.pt")


def test_corrupt_files(tmp_path):
    torch.save({"x": torch.arange(100.0)}, tmp_path / "m.pt")
    data = bytearray((tmp_path / "m.pt").read_bytes())
    zf = zipfile.ZipFile(tmp_path / "m.pt")
    with open(tmp_path / "m.pt", "rb") as f:
        start = serialization._entry_offset(f, zf.getinfo("m/data/0"))
    data[start + 8] ^= 0xFF  # a flipped byte in a storage: the CRC catches it
    (tmp_path / "flip.pt").write_bytes(bytes(data))
    with pytest.raises(RuntimeError, match="is not a valid checkpoint"):
        ember.load(tmp_path / "flip.pt")
    buf = io.BytesIO()  # a zip without the records of a checkpoint
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("hello.txt", "hi")
    with pytest.raises(RuntimeError, match="no data.pkl"):
        ember.load(io.BytesIO(buf.getvalue()))
    buf = io.BytesIO()  # a missing storage record
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("a/data.pkl", zf.read("m/data.pkl"))
    with pytest.raises(RuntimeError, match="missing"):
        ember.load(io.BytesIO(buf.getvalue()))
    (tmp_path / "text.pt").write_bytes(b"hello world, not a checkpoint")
    with pytest.raises(RuntimeError, match="is not a valid checkpoint"):
        ember.load(tmp_path / "text.pt")


# ----------------------------------------------------------------- atomic saves
def test_failed_save_keeps_old_file(tmp_path):
    target = tmp_path / "ckpt.pt"
    ember.save({"v": ember.ones(3)}, target)
    before = target.read_bytes()
    with pytest.raises((pickle.PicklingError, TypeError, AttributeError)):
        ember.save({"v": ember.zeros(3), "bad": lambda: 0}, target)
    assert target.read_bytes() == before
    assert os.listdir(tmp_path) == ["ckpt.pt"]
    assert ember.load(target)["v"].tolist() == [1.0, 1.0, 1.0]


def test_disk_full_mid_write_keeps_old_file(tmp_path, monkeypatch):
    target = tmp_path / "ckpt.pt"
    ember.save({"v": ember.ones(3)}, target)
    before = target.read_bytes()
    real = serialization._write_records
    calls = []

    def full_disk(zf, name, payload):
        calls.append(name)
        if "/data/" in name:
            raise OSError(28, "No space left on device")
        real(zf, name, payload)

    monkeypatch.setattr(serialization, "_write_records", full_disk)
    with pytest.raises(OSError, match="No space left"):
        ember.save({"v": ember.zeros(1000)}, target)
    assert calls and target.read_bytes() == before
    assert os.listdir(tmp_path) == ["ckpt.pt"]


def test_save_keeps_file_mode(tmp_path):
    target = tmp_path / "ckpt.pt"
    ember.save(1, target)
    os.chmod(target, 0o640)
    ember.save(2, target)
    assert os.stat(target).st_mode & 0o777 == 0o640
    assert ember.load(target) == 2


# ----------------------------------------------------------------- models and optimizers
def _mlp(lib):
    return lib.nn.Sequential(lib.nn.Linear(5, 8), lib.nn.BatchNorm1d(8), lib.nn.ReLU(),
                             lib.nn.Linear(8, 3))


def test_pretrained_torch_model_runs_in_ember(tmp_path):
    torch.manual_seed(0)
    tm = _mlp(torch)
    tm.train()
    tm(torch.randn(16, 5))  # moves the BatchNorm running statistics
    tm.eval()
    torch.save(tm.state_dict(), tmp_path / "pretrained.pt")
    em = _mlp(ember)
    sd = ember.load(tmp_path / "pretrained.pt")
    assert list(sd._metadata) == list(tm.state_dict()._metadata)
    em.load_state_dict(sd)
    em.eval()
    x = np.random.default_rng(0).standard_normal((4, 5)).astype(np.float32)
    with torch.no_grad():
        assert_same(em(ember.tensor(x)).detach(), tm(torch.from_numpy(x)), rtol=1e-5, atol=1e-6)


def test_ember_model_state_dict_loads_in_torch(tmp_path):
    ember.manual_seed(0)
    em = _mlp(ember)
    em.train()
    em(ember.randn(16, 5))
    em.eval()
    ember.save(em.state_dict(), tmp_path / "ember.pt")
    tm = _mlp(torch)
    tm.load_state_dict(torch.load(tmp_path / "ember.pt", weights_only=True))
    tm.eval()
    x = np.random.default_rng(1).standard_normal((4, 5)).astype(np.float32)
    with torch.no_grad():
        assert_same(em(ember.tensor(x)).detach(), tm(torch.from_numpy(x)), rtol=1e-5, atol=1e-6)
    # ember reads its own file back into a fresh model too
    em2 = _mlp(ember)
    em2.load_state_dict(ember.load(tmp_path / "ember.pt"))
    em2.eval()
    assert_same(em2(ember.tensor(x)).detach(), tm(torch.from_numpy(x)).detach())


def _train(lib, model, opt, x, y, steps=3):
    for _ in range(steps):
        opt.zero_grad()
        loss = ((model(x) - y) ** 2).mean()
        loss.backward()
        opt.step()


def test_optimizer_state_interchange(tmp_path):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((8, 5)).astype(np.float32)
    y = rng.standard_normal((8, 3)).astype(np.float32)
    torch.manual_seed(0)
    tm = torch.nn.Linear(5, 3)
    topt = torch.optim.Adam(tm.parameters(), lr=0.01)
    _train(torch, tm, topt, torch.from_numpy(x), torch.from_numpy(y))
    torch.save({"model": tm.state_dict(), "optim": topt.state_dict()}, tmp_path / "t.pt")

    ck = ember.load(tmp_path / "t.pt")
    em = ember.nn.Linear(5, 3)
    eopt = ember.optim.Adam(em.parameters(), lr=0.01)
    em.load_state_dict(ck["model"])
    eopt.load_state_dict(ck["optim"])
    _train(ember, em, eopt, ember.tensor(x), ember.tensor(y), steps=2)
    _train(torch, tm, topt, torch.from_numpy(x), torch.from_numpy(y), steps=2)
    assert_same(em.weight.detach(), tm.weight.detach(), rtol=1e-5, atol=1e-6)

    ember.save({"model": em.state_dict(), "optim": eopt.state_dict()}, tmp_path / "e.pt")
    back = torch.load(tmp_path / "e.pt", weights_only=True)
    tm2 = torch.nn.Linear(5, 3)
    topt2 = torch.optim.Adam(tm2.parameters(), lr=0.01)
    tm2.load_state_dict(back["model"])
    topt2.load_state_dict(back["optim"])
    _train(ember, em, eopt, ember.tensor(x), ember.tensor(y), steps=1)
    _train(torch, tm2, topt2, torch.from_numpy(x), torch.from_numpy(y), steps=1)
    assert_same(em.weight.detach(), tm2.weight.detach(), rtol=1e-5, atol=1e-6)


def test_whole_module_with_weights_only_false(tmp_path):
    em = _mlp(ember)
    ember.save(em, tmp_path / "m.pt")
    with pytest.raises(pickle.UnpicklingError, match="Unsupported global"):
        ember.load(tmp_path / "m.pt")
    back = ember.load(tmp_path / "m.pt", weights_only=False)
    assert isinstance(back, ember.nn.Sequential)
    x = ember.randn(2, 5)
    em.eval()
    back.eval()
    assert_same(back(x).detach(), torch.from_numpy(em(x).detach().numpy()))


# ----------------------------------------------------------------- views, generated
@st.composite
def _views(draw):
    shape = draw(st.lists(st.integers(1, 4), min_size=1, max_size=3))
    steps = [draw(st.integers(1, 2)) for _ in shape]
    starts = [draw(st.integers(0, n - 1)) for n in shape]
    perm = draw(st.permutations(range(len(shape))))
    return shape, starts, steps, perm


@settings(max_examples=25, deadline=None)
@given(_views(), st.sampled_from(["float32", "float64", "int16", "bfloat16"]))
def test_generated_views_round_trip_both_ways(tmp_path_factory, view, dtype):
    shape, starts, steps, perm = view
    a = _array(dtype, tuple(shape))
    index = tuple(slice(s, None, k) for s, k in zip(starts, steps))
    folder = tmp_path_factory.mktemp("views")

    x = _e(a)
    v = x[index].permute(*perm)
    ember.save({"x": x, "v": v}, folder / "e.pt")
    t = torch.load(folder / "e.pt", weights_only=True)
    _compare({"x": x, "v": v}, t)
    assert t["v"].untyped_storage().data_ptr() == t["x"].untyped_storage().data_ptr()

    tx = to_torch(a)
    tv = tx[index].permute(*perm)
    torch.save({"x": tx, "v": tv}, folder / "t.pt")
    e = ember.load(folder / "t.pt")
    _compare(e, {"x": tx, "v": tv})
    assert e["v"].storage_offset() == tv.storage_offset()
    assert _shares(e["x"], e["v"]) or tv.numel() == 0


def test_fortran_ordered_numpy_memory(tmp_path):
    a = np.asfortranarray(np.arange(12.0).reshape(3, 4))
    x = ember.from_numpy(a)
    ember.save([x, x[1:, 1:], x.t()], tmp_path / "f.pt")
    t = torch.load(tmp_path / "f.pt", weights_only=True)
    _compare([x, x[1:, 1:], x.t()], t)
    assert tuple(t[0].stride()) == (1, 3)
    assert len({s.untyped_storage().data_ptr() for s in t}) == 1


def test_tensor_attributes_and_bytearrays_from_torch(tmp_path):
    t = torch.ones(2)
    t.note = "hi"
    p = torch.nn.Parameter(torch.zeros(1))
    p.tag = 3
    torch.save({"t": t, "p": p, "ba": bytearray(b"a\x00b")}, tmp_path / "m.pt")
    e = ember.load(tmp_path / "m.pt")
    assert e["t"].note == "hi" and e["p"].tag == 3
    assert isinstance(e["p"], ember.nn.Parameter)
    assert e["ba"] == bytearray(b"a\x00b")


def test_allocation_globals_refused_as_callables(tmp_path):
    class Alloc:
        def __reduce__(self):
            return (bytearray, (10 ** 6,))

    class Legacy:
        def __reduce__(self):
            return (torch.Tensor, (10 ** 6,))

    for i, obj in enumerate((Alloc(), Legacy())):
        torch.save([obj], tmp_path / f"m{i}.pt")
        with pytest.raises(serialization.InvalidCheckpointError):
            ember.load(tmp_path / f"m{i}.pt")


def test_save_to_missing_folder(tmp_path):
    target = tmp_path / "nope" / "m.pt"
    with pytest.raises(RuntimeError, match="Parent directory .*nope does not exist"):
        ember.save(1, target)
    with pytest.raises(RuntimeError, match="Parent directory .*nope does not exist"):
        torch.save(1, target)


def test_killed_save_leaves_old_file_and_no_temporaries(tmp_path):
    import subprocess
    import sys
    target = tmp_path / "ckpt.pt"
    ember.save({"v": ember.ones(3)}, target)
    before = target.read_bytes()
    script = (
        "import os, signal, ember\n"
        "from ember import serialization as s\n"
        "real = s._write_records\n"
        "def dying(zf, name, payload):\n"
        "    if '/data/' in name:\n"
        "        os.kill(os.getpid(), signal.SIGKILL)\n"
        "    real(zf, name, payload)\n"
        "s._write_records = dying\n"
        f"ember.save({{'v': ember.zeros(100000)}}, {str(target)!r})\n")
    proc = subprocess.run([sys.executable, "-c", script], cwd=os.getcwd(), timeout=120)
    assert proc.returncode == -9
    assert target.read_bytes() == before
    if hasattr(os, "O_TMPFILE"):
        assert os.listdir(tmp_path) == ["ckpt.pt"]


@pytest.mark.parametrize("variant", ["named_temp", "no_proc_link"])
def test_atomic_save_fallbacks(tmp_path, monkeypatch, variant):
    if variant == "named_temp":
        monkeypatch.delattr(os, "O_TMPFILE", raising=False)
    else:
        def no_link(*args, **kwargs):
            raise OSError(2, "no /proc")
        monkeypatch.setattr(os, "link", no_link)
    target = tmp_path / "ckpt.pt"
    ember.save({"v": ember.arange(4)}, target)
    os.chmod(target, 0o600)
    ember.save({"v": ember.arange(5)}, target)
    assert ember.load(target)["v"].tolist() == [0, 1, 2, 3, 4]
    assert os.stat(target).st_mode & 0o777 == 0o600
    with pytest.raises((pickle.PicklingError, TypeError, AttributeError)):
        ember.save({"bad": lambda: 0}, target)
    assert os.listdir(tmp_path) == ["ckpt.pt"]
    assert torch.load(target, weights_only=True)["v"].tolist() == [0, 1, 2, 3, 4]


def test_whole_torch_module_with_weights_only_false(tmp_path):
    tm = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.ReLU())
    torch.save(tm, tmp_path / "m.pt")
    with pytest.raises(pickle.UnpicklingError, match="torch.nn.modules"):
        ember.load(tmp_path / "m.pt")
    em = ember.load(tmp_path / "m.pt", weights_only=False)  # torch.* names map onto ember.*
    assert isinstance(em, ember.nn.Sequential)
    x = np.ones((1, 2), np.float32)
    assert_same(em(ember.tensor(x)).detach(), tm(torch.from_numpy(x)).detach())


def test_get_unsafe_globals_in_checkpoint(tmp_path):
    marker = tmp_path / "PWNED"
    torch.save({"x": torch.ones(1), "e": _Evil(marker), "p": Point(1),
                "q": torch.nn.Parameter(torch.ones(1))}, tmp_path / "m.pt")
    expected = torch.serialization.get_unsafe_globals_in_checkpoint(tmp_path / "m.pt")
    assert sorted(serialization.get_unsafe_globals_in_checkpoint(tmp_path / "m.pt")) == \
        sorted(expected)
    with serialization.safe_globals([Point]):
        assert serialization.get_unsafe_globals_in_checkpoint(tmp_path / "m.pt") == \
            ["posix.system"]
    ember.save({"x": ember.ones(2), "d": ember.float16}, tmp_path / "ok.pt")
    assert serialization.get_unsafe_globals_in_checkpoint(tmp_path / "ok.pt") == []
    assert not marker.exists()


# ----------------------------------------------------------------- whole modules, as programs do
class EmberNet(ember.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = ember.nn.Linear(3, 2)
        self.act = ember.nn.ReLU()
        self.register_buffer("steps", ember.zeros(()))

    def forward(self, x):
        return self.act(self.fc(x))


class TorchNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(3, 2)
        self.act = torch.nn.ReLU()
        self.register_buffer("steps", torch.zeros(()))

    def forward(self, x):
        return self.act(self.fc(x))


_NETS = {"torch": TorchNet, "ember": EmberNet}


@pytest.mark.parametrize("lib", [torch, ember], ids=["torch", "ember"])
def test_whole_custom_module_round_trip(tmp_path, lib):
    net = _NETS[lib.__name__]()
    lib.save(net, tmp_path / "net.pt")
    with pytest.raises(pickle.UnpicklingError) as info:
        lib.load(tmp_path / "net.pt")  # weights_only=True by default
    msg = str(info.value)
    for part in ("Weights only load failed", "`weights_only` set to `False`",
                 "arbitrary code execution", f"GLOBAL {__name__}.", "add_safe_globals",
                 "safe_globals(["):
        assert part in msg, part
    back = lib.load(tmp_path / "net.pt", weights_only=False)
    assert type(back) is type(net) and back.steps.shape == ()
    x = lib.ones(4, 3)
    assert back(x).tolist() == net(x).tolist()
    # what a program that trusts its own classes writes instead of weights_only=False
    with lib.serialization.safe_globals([type(net), lib.nn.Linear, lib.nn.ReLU]):
        again = lib.load(tmp_path / "net.pt")
    assert again(x).tolist() == net(x).tolist()
    with pytest.raises(pickle.UnpicklingError, match="nn.modules"):
        with lib.serialization.safe_globals([type(net)]):
            lib.load(tmp_path / "net.pt")


def test_whole_module_weights_only_error_matches_torch(tmp_path):
    ember.save(EmberNet(), tmp_path / "e.pt")
    torch.save(TorchNet(), tmp_path / "t.pt")
    errors = []
    for lib, name in ((torch, "t.pt"), (ember, "e.pt")):
        with pytest.raises(Exception) as info:
            lib.load(tmp_path / name)
        errors.append(info.value)
    assert isinstance(errors[1], type(errors[0]))
    # the same explanation, line by line, up to the library's name
    t_lines = [line.split(":")[0] for line in str(errors[0]).replace("\x1b[1m", "")
               .replace("\x1b[0m", "").splitlines()]
    e_lines = [line.split(":")[0] for line in str(errors[1]).splitlines()]
    assert len(e_lines) == len(t_lines)
    assert e_lines[0] == t_lines[0] and e_lines[-1] == t_lines[-1]


def test_whole_module_with_a_missing_class(tmp_path, monkeypatch):
    """weights_only=False on a file whose class this program lacks: torch's AttributeError,
    not a report of a corrupt file."""
    import sys
    for lib, name in ((torch, "TorchNet"), (ember, "EmberNet")):
        lib.save(_NETS[lib.__name__](), tmp_path / f"{name}.pt")
        with monkeypatch.context() as m:
            m.delattr(sys.modules[__name__], name)
            with pytest.raises(AttributeError, match=f"Can't get attribute '{name}'"):
                lib.load(tmp_path / f"{name}.pt", weights_only=False)
