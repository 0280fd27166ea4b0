"""Pinned (page-locked) host memory: Tensor.pin_memory, the factories' pin_memory=, and
non_blocking copies.

Without a GPU, ember must fail exactly where torch does. The plumbing above the
allocator runs against a stand-in allocator (data_helpers.fake_pinned_memory); the real
page-locked path runs when CuPy sees a GPU and is skipped otherwise.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
from data_helpers import fake_pinned_memory
from oracle import check_error

import ember
import ember.utils.data as eud

no_gpu = pytest.mark.skipif(ember.cuda.is_available(), reason="checks the CPU-only behaviour")
gpu = pytest.mark.skipif(not ember.cuda.is_available(), reason="needs CuPy and a GPU")


@no_gpu
@pytest.mark.parametrize("make", [
    lambda lib: lib.ones(3).pin_memory(),
    lambda lib: lib.zeros(3, pin_memory=True),
    lambda lib: lib.empty(2, 2, pin_memory=True),
    lambda lib: lib.ones(2, pin_memory=True),
    lambda lib: lib.full((2,), 1.5, pin_memory=True),
    lambda lib: lib.tensor([1.0, 2.0], pin_memory=True),
    lambda lib: lib.tensor(np.ones(3), pin_memory=True),
    lambda lib: lib.rand(2, pin_memory=True),
    lambda lib: lib.randn(2, pin_memory=True),
])
def test_pinning_without_an_accelerator_fails_like_torch(make):
    ember_error, torch_error = check_error(make)
    assert str(ember_error) == str(torch_error)


@no_gpu
def test_nothing_is_pinned_and_cpu_copies_ignore_non_blocking():
    for lib in (torch, ember):
        x = lib.arange(4.0)
        assert x.is_pinned() is False
        assert x.to("cpu", non_blocking=True) is x
        y = x.requires_grad_().to(lib.float64, True)  # positional non_blocking
        assert y.dtype == lib.float64 and y.grad_fn.name() == "ToCopyBackward0"


def test_pin_memory_copies_once_and_passes_gradients(monkeypatch):
    fake_pinned_memory(monkeypatch)
    x = ember.arange(6.0).reshape(2, 3).requires_grad_()
    p = x.pin_memory()
    assert p is not x and p.is_pinned() and not x.is_pinned()
    assert p.tolist() == x.tolist() and p.dtype == x.dtype
    assert p.grad_fn.name() == "PinMemoryBackward0"
    assert p[1].is_pinned()  # a view of pinned memory is pinned
    assert p.pin_memory() is p  # already pinned: no second copy
    (p * ember.tensor([1.0, 2.0, 3.0])).sum().backward()
    assert x.grad.tolist() == [[1.0, 2.0, 3.0], [1.0, 2.0, 3.0]]


def test_factories_pin_their_result(monkeypatch):
    fake_pinned_memory(monkeypatch)
    made = [ember.zeros(3, pin_memory=True), ember.ones(2, 2, pin_memory=True),
            ember.empty(4, pin_memory=True), ember.full((2,), 7, pin_memory=True),
            ember.tensor([[1, 2]], pin_memory=True), ember.rand(3, pin_memory=True),
            ember.randn(3, pin_memory=True, requires_grad=True)]
    assert all(t.is_pinned() for t in made)
    assert made[3].tolist() == [7, 7] and made[3].dtype == ember.int64
    assert made[-1].requires_grad and made[-1].is_leaf
    assert not ember.zeros(3).is_pinned()


def test_dataloader_pins_batches_without_workers(monkeypatch):
    fake_pinned_memory(monkeypatch)
    data = eud.TensorDataset(ember.arange(8.0).reshape(4, 2), ember.arange(4))
    batches = list(eud.DataLoader(data, batch_size=2, pin_memory=True))
    assert all(t.is_pinned() for b in batches for t in b)
    assert [b[1].tolist() for b in batches] == [[0, 1], [2, 3]]


@gpu
def test_real_pinned_memory_and_async_copy():
    x = ember.randn(256, 64)
    p = x.pin_memory()
    assert p.is_pinned() and not x.is_pinned() and p[3:].is_pinned()
    g = p.to("cuda", non_blocking=True)
    ember.cuda.synchronize()
    assert g.device.type == "cuda"
    np.testing.assert_array_equal(g.cpu().numpy(), x.numpy())
    assert ember.zeros(5, pin_memory=True).is_pinned()
    with pytest.raises(RuntimeError, match="only dense CPU tensors can be pinned"):
        g.pin_memory()


@gpu
def test_dataloader_workers_hand_back_pinned_batches():
    data = eud.TensorDataset(ember.arange(32.0).reshape(16, 2), ember.arange(16))
    loader = eud.DataLoader(data, batch_size=4, num_workers=2, pin_memory=True)
    seen = []
    for xb, yb in loader:
        assert xb.is_pinned() and yb.is_pinned()
        seen += yb.to("cuda", non_blocking=True).cpu().tolist()
    assert seen == list(range(16))
