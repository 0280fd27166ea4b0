"""DLPack and NumPy interop: memory is shared with NumPy and torch, both directions."""
from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest
import torch

import ember
from ember.utils.dlpack import from_dlpack, to_dlpack
from tests.oracle import assert_same, to_torch

DTYPES = ["float32", "float64", "float16", "bfloat16", "int64", "int32", "int16", "int8",
          "uint8", "bool"]


def _array(dtype: str) -> np.ndarray:
    a = np.arange(12).reshape(3, 4)
    if dtype == "bool":
        return a % 3 == 0
    if dtype == "bfloat16":
        return a.astype(np.float32).astype(ml_dtypes.bfloat16)
    return a.astype(dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_ember_to_torch_shares_memory(dtype):
    x = ember.tensor(_array(dtype))
    for src in (x, x.t(), x[1:, ::2]):
        t = torch.from_dlpack(src)
        assert_same(src, t, rtol=0, atol=0)
        assert tuple(t.stride()) == tuple(src.stride())
        assert t.data_ptr() == src.data_ptr()
    t = torch.utils.dlpack.from_dlpack(to_dlpack(x))
    assert t.data_ptr() == x.data_ptr()


@pytest.mark.parametrize("dtype", DTYPES)
def test_torch_to_ember_shares_memory(dtype):
    t = to_torch(_array(dtype))
    for src in (t, t.t(), t[1:, ::2]):
        e = from_dlpack(src)
        assert_same(e, src, rtol=0, atol=0)
        assert tuple(e.stride()) == tuple(src.stride())
        assert e.data_ptr() == src.data_ptr()
    e = from_dlpack(torch.utils.dlpack.to_dlpack(t))
    assert e.data_ptr() == t.data_ptr()


def test_writes_are_seen_both_ways():
    t = torch.zeros(4)
    e = from_dlpack(t)
    e[1] = 3.0
    assert t[1].item() == 3.0
    e2 = from_dlpack(torch.utils.dlpack.to_dlpack(t))  # a bare (unversioned) capsule
    e2.add_(1)
    assert t.tolist() == [1.0, 4.0, 1.0, 1.0]
    x = ember.zeros(3, dtype=ember.bfloat16)
    torch.from_dlpack(x)[2] = 2.0
    assert x.tolist() == [0.0, 0.0, 2.0]


def test_numpy_round_trips():
    a = np.arange(6.0).reshape(2, 3)
    e = from_dlpack(a)
    e[0, 0] = 10.0
    assert a[0, 0] == 10.0
    back = np.from_dlpack(e)
    assert np.shares_memory(back, a)
    assert ember.tensor(1.0).__dlpack_device__() == (1, 0)
    ro = np.arange(3.0)
    ro.flags.writeable = False
    assert not from_dlpack(ro)._data.flags.writeable  # a read-only producer stays read-only
    assert from_dlpack(e) is e


def test_errors():
    with pytest.raises(BufferError, match="require gradient"):
        torch.from_dlpack(ember.ones(2, requires_grad=True))
    with pytest.raises(TypeError, match="uint16"):
        from_dlpack(torch.zeros(2, dtype=torch.uint16))
    capsule = to_dlpack(ember.ones(2))
    from_dlpack(capsule)
    with pytest.raises(RuntimeError, match="consumed only once"):
        from_dlpack(capsule)
    with pytest.raises(TypeError, match="DLPack capsule"):
        from_dlpack([1, 2])


def test_numpy_operators_defer_to_tensors():
    a = np.arange(3.0, dtype=np.float32)
    x = ember.ones(3, requires_grad=True)
    for out in (a * x, a + x, a - x, a / x):
        assert isinstance(out, ember.Tensor) and out.requires_grad
    assert (a - x).tolist() == [-1.0, 0.0, 1.0]
    assert np.asarray(ember.arange(3)).tolist() == [0, 1, 2]
    t = ember.from_numpy(a)
    assert np.shares_memory(t.numpy(), a)
