"""The convolution kernels' internal paths against torch: chunk-wide and per-image GEMMs,
batches cut into several cache-sized chunks, stride-1 columns and col2im on widened rows
(with dilation, uneven 'same' padding, groups, 3-d, fewer outputs than inputs), exact rows
where widening would waste too much, and strided columns."""
from __future__ import annotations

import pytest
from oracle import check, randn

import ember
from ember._ops import conv as conv_ops
from ember.autograd import gradgradcheck


def F(lib):
    return lib.nn.functional


@pytest.fixture(params=[1, 1 << 19], ids=["one-image-chunks", "default-chunks"])
def chunk_bytes(request, monkeypatch):
    monkeypatch.setattr(conv_ops, "_CHUNK_BYTES", request.param)
    return request.param


@pytest.fixture(params=[0, 1 << 30], ids=["chunk-gemm", "per-image-gemm"])
def gemm_path(request, monkeypatch):
    """Every convolution through one path: the chunk-wide GEMM or the per-image one that
    narrow columns (fewer than conv_ops._NARROW rows) take."""
    monkeypatch.setattr(conv_ops, "_NARROW", request.param)


@pytest.mark.parametrize("shape, wshape, kw", [
    ((3, 4, 9, 8), (6, 4, 3, 3), {"padding": 1}),
    ((3, 4, 9, 8), (6, 4, 3, 2), {"padding": "same", "dilation": 2}),  # uneven 'same' pads
    ((3, 4, 9, 8), (6, 2, 3, 3), {"padding": (2, 1), "groups": 2}),
    ((3, 4, 9, 8), (6, 4, 1, 1), {}),
    ((3, 4, 9, 8), (6, 4, 3, 3), {"stride": (1, 2), "padding": 1}),  # strided col2im
    ((3, 4, 9, 8), (6, 4, 3, 3), {"stride": 2, "dilation": (2, 1)}),
    ((2, 3, 5, 6, 4), (4, 3, 3, 2, 3), {"padding": 1}),  # 3-d
    ((2, 3, 7, 6, 4), (4, 3, 3, 1, 1), {"dilation": (2, 1, 1)}),  # 3-d, widened planes
    ((3, 4, 11), (6, 4, 3), {"padding": 2, "dilation": 3}),
    ((3, 6, 9, 8), (4, 6, 3, 2), {"padding": "same", "dilation": 2}),  # fewer outputs
    ((3, 6, 9, 8), (4, 3, 3, 3), {"padding": (2, 1), "groups": 2}),
    ((3, 6, 11), (4, 6, 3), {"padding": 2, "dilation": 3}),
    ((3, 6, 5, 6), (4, 6, 3, 3), {"padding": (3, 1)}),  # rows too short to widen
    ((2, 4, 5, 6), (6, 2, 2, 3), {"padding": (1, 4), "groups": 2}),
])
def test_conv_paths_match_torch(chunk_bytes, gemm_path, shape, wshape, kw):
    fn = {3: "conv1d", 4: "conv2d", 5: "conv3d"}[len(shape)]
    check(lambda lib, x, w, b: getattr(F(lib), fn)(x, w, b, **kw),
          randn(*shape), randn(*wshape, seed=1), randn(wshape[0], seed=2))


def test_conv_transpose_paths_match_torch(chunk_bytes, gemm_path):
    check(lambda lib, x, w: F(lib).conv_transpose2d(x, w, None, 1, 1, 0, 2, 2),
          randn(3, 4, 6, 5), randn(4, 3, 3, 3, seed=1))
    check(lambda lib, x, w: F(lib).conv_transpose2d(x, w, stride=2, output_padding=1),
          randn(3, 4, 4, 5), randn(4, 3, 3, 3, seed=1))


def test_conv_float32_batch_of_many_chunks(gemm_path):
    # the default chunk size with a batch large enough to need several chunks
    check(lambda lib, x, w: F(lib).conv2d(x, w, padding=1),
          randn(9, 16, 20, 20).astype("float32"), randn(8, 16, 3, 3, seed=1).astype("float32"),
          rtol=1e-4, atol=1e-4)


def test_conv_empty_batch_gradients(chunk_bytes, gemm_path):
    check(lambda lib, x, w: F(lib).conv2d(x, w, padding=1),
          randn(0, 4, 5, 5), randn(6, 4, 3, 3, seed=1))


def test_conv_second_order_on_both_paths(gemm_path):
    x = ember.tensor(randn(2, 4, 5, 6), requires_grad=True)
    w = ember.tensor(randn(6, 2, 3, 2, seed=1), requires_grad=True)
    b = ember.tensor(randn(6, seed=2), requires_grad=True)
    assert gradgradcheck(lambda x, w, b: ember.nn.functional.conv2d(x, w, b, 1, 1, 1, 2),
                         (x, w, b))
