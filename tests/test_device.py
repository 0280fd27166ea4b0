"""Device objects and moving tensors between devices (CPU-only here)."""
import pytest
import torch

import ember


@pytest.mark.parametrize("args", [("cpu",), ("cuda",), ("cuda:1",), ("cuda", 0), ("cpu", 0)])
def test_device_matches_torch(args):
    e, t = ember.device(*args), torch.device(*args)
    assert (e.type, e.index) == (t.type, t.index)
    assert repr(e) == repr(t)
    assert str(e) == str(t)


def test_device_equality_and_hash():
    assert ember.device("cpu") == ember.device("cpu")
    assert ember.device("cuda:0") != ember.device("cuda:1")
    assert ember.device("cpu") == "cpu"
    assert len({ember.device("cpu"), ember.device("cpu")}) == 1


@pytest.mark.parametrize("bad", ["tpu", "cuda:x", "cuda:-1"])
def test_bad_device_strings_raise_like_torch(bad):
    with pytest.raises(RuntimeError):
        torch.device(bad)
    with pytest.raises(RuntimeError):
        ember.device(bad)


def test_tensor_device_and_to_cpu_are_identity_on_cpu():
    x = ember.ones(3)
    assert x.device == ember.device("cpu")
    assert x.is_cpu and not x.is_cuda
    assert x.to("cpu") is x
    assert x.cpu() is x
    assert x.to(ember.device("cpu"), ember.float64).dtype is ember.float64


def test_cuda_is_unavailable_without_a_gpu():
    assert ember.cuda.is_available() is False or ember.cuda.device_count() > 0
    if not ember.cuda.is_available():
        assert ember.cuda.device_count() == 0
        with pytest.raises(RuntimeError):
            ember.ones(2).to("cuda")


def test_import_ember_does_not_import_cupy():
    import subprocess
    import sys
    code = "import sys, ember; print('cupy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_cuda_seeding_and_cache_calls_work_without_a_gpu():
    import torch
    for lib in (torch, ember):
        lib.cuda.manual_seed(3)
        lib.cuda.manual_seed_all(4)
        lib.cuda.empty_cache()
    if not ember.cuda.is_available():
        assert ember.random._cuda_seed[0] == 4  # applied to generators created later
        with pytest.raises(RuntimeError, match="NVIDIA driver"):
            ember.cuda.get_device_name()
