"""default_collate / default_convert against torch's rules."""
from __future__ import annotations

import collections

import ml_dtypes
import numpy as np
import pytest
import torch
from data_helpers import same_batch
from oracle import to_ember, to_torch
from torch.utils.data import default_collate as t_collate
from torch.utils.data import default_convert as t_convert

import ember
from ember.utils.data import default_collate as e_collate
from ember.utils.data import default_convert as e_convert
from ember.utils.data._utils.collate import collate, default_collate_fn_map

Point = collections.namedtuple("Point", ["x", "y"])


def samples(lib, kind):
    """A list of 3 samples of the given kind, built for `lib` from the same NumPy data."""
    rng = np.random.default_rng(0)
    conv = to_torch if lib is torch else to_ember
    arrs = [rng.standard_normal((2, 3)).astype(np.float32) for _ in range(3)]
    if kind == "tensor":
        return [conv(a) for a in arrs]
    if kind == "tensor_T":  # non-contiguous samples
        return [conv(a).t() for a in arrs]
    if kind == "tensor_0d":
        return [conv(np.array(i, dtype=np.int64)) for i in range(3)]
    if kind == "tensor_empty":
        return [conv(np.zeros((0, 2), np.float64)) for _ in range(3)]
    if kind.startswith("tensor_"):
        dt = kind[len("tensor_"):]
        dt = ml_dtypes.bfloat16 if dt == "bfloat16" else np.dtype(dt)
        return [conv(a.astype(dt)) for a in arrs]
    if kind == "ndarray":
        return [a.astype(np.float64) for a in arrs]
    if kind == "ndarray_u8":
        return [(a * 10).astype(np.uint8) for a in arrs]
    if kind == "np_scalar":
        return [np.float32(i) for i in range(3)]
    if kind == "np_int_scalar":
        return [np.int16(i) for i in range(3)]
    if kind == "np_bool":
        return [np.bool_(i % 2) for i in range(3)]
    if kind == "float":
        return [0.5, 1.5, 2.5]
    if kind == "int":
        return [1, 2, 3]
    if kind == "bool":
        return [True, False, True]
    if kind == "str":
        return ["a", "bb", "c"]
    if kind == "bytes":
        return [b"a", b"b", b"c"]
    if kind == "dict":
        return [{"img": conv(a), "label": i, "name": f"n{i}"} for i, a in enumerate(arrs)]
    if kind == "ordered":
        return [collections.OrderedDict(b=i, a=float(i)) for i in range(3)]
    if kind == "tuple":
        return [(conv(a), i) for i, a in enumerate(arrs)]
    if kind == "list":
        return [[conv(a), i, [1.0, 2.0]] for i, a in enumerate(arrs)]
    if kind == "namedtuple":
        return [Point(conv(a), i) for i, a in enumerate(arrs)]
    if kind == "nested":
        return [{"p": Point([i, i + 1], {"z": np.int64(i)}), "s": ("x", 1.0)} for i in range(3)]
    raise ValueError(kind)


KINDS = ["tensor", "tensor_T", "tensor_0d", "tensor_empty", "tensor_float16", "tensor_bfloat16",
         "tensor_int32", "tensor_bool", "tensor_uint8", "ndarray", "ndarray_u8", "np_scalar",
         "np_int_scalar", "np_bool", "float", "int", "bool", "str", "bytes", "dict", "ordered",
         "tuple", "list", "namedtuple", "nested"]


@pytest.mark.parametrize("kind", KINDS)
def test_default_collate_matches_torch(kind):
    same_batch(e_collate(samples(ember, kind)), t_collate(samples(torch, kind)))


@pytest.mark.parametrize("kind", KINDS)
def test_default_convert_matches_torch(kind):
    for e, t in zip(samples(ember, kind), samples(torch, kind)):
        same_batch(e_convert(e), t_convert(t))


def test_default_convert_string_arrays_stay_arrays():
    a = np.array(["a", "b"])
    assert e_convert(a) is a and t_convert(a) is a


def test_collate_errors_match_torch():
    cases = [
        ([np.array(["a"]), np.array(["b"])], TypeError, "default_collate: batch must contain"),
        ([object(), object()], TypeError, "default_collate: batch must contain"),
        ([[1, 2], [1]], RuntimeError, "each element in list of batch should be of equal size"),
    ]
    for batch, exc, msg in cases:
        with pytest.raises(exc, match=msg):
            t_collate(batch)
        with pytest.raises(exc, match=msg):
            e_collate(batch)
    for lib, fn in ((torch, t_collate), (ember, e_collate)):
        with pytest.raises(RuntimeError, match="stack expects each tensor to be equal size"):
            fn([lib.zeros(2), lib.zeros(3)])
    with pytest.raises(RuntimeError, match="stack expects each tensor to be equal size"):
        e_collate([np.zeros(2), np.zeros(3)])


def test_collate_with_custom_map():
    class Box:
        def __init__(self, v):
            self.v = v

    def collate_box(batch, *, collate_fn_map=None):
        return sum(b.v for b in batch)

    m = {**default_collate_fn_map, Box: collate_box}
    out = collate([{"b": Box(1), "x": 1}, {"b": Box(2), "x": 2}], collate_fn_map=m)
    assert out["b"] == 3 and out["x"].tolist() == [1, 2]


def test_collate_keeps_gradient_flow():
    xs = [ember.randn(3, dtype=ember.float64, requires_grad=True) for _ in range(2)]
    out = e_collate(xs)
    out.sum().backward()
    assert all(x.grad.tolist() == [1.0, 1.0, 1.0] for x in xs)
