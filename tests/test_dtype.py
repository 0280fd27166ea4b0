"""dtypes and torch's type-promotion rules, checked against torch."""
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import ember

NAMES = ["float16", "bfloat16", "float32", "float64", "int8", "int16", "int32", "int64",
         "uint8", "bool"]
SCALARS = [True, 3, -2, 2.5, 0.0]


def pair(name):
    return getattr(ember, name), getattr(torch, name)


def test_names_reprs_and_aliases():
    for name in NAMES:
        e, t = pair(name)
        assert repr(e) == repr(t)
        assert e.is_floating_point == t.is_floating_point
        assert e.is_signed == t.is_signed
        assert e.itemsize == t.itemsize
    for alias in ["half", "float", "double", "short", "int", "long"]:
        assert repr(getattr(ember, alias)) == repr(getattr(torch, alias))


@given(st.sampled_from(NAMES), st.sampled_from(NAMES))
def test_promote_types(a, b):
    assert repr(ember.promote_types(pair(a)[0], pair(b)[0])) == repr(
        torch.promote_types(pair(a)[1], pair(b)[1]))


@given(st.sampled_from(NAMES), st.sampled_from(NAMES))
def test_can_cast(a, b):
    assert ember.can_cast(pair(a)[0], pair(b)[0]) == torch.can_cast(pair(a)[1], pair(b)[1])


def make(lib, name, kind):
    """A dim tensor, a 0-dim tensor, or (kind == 'scalar') a Python scalar of that dtype."""
    d = getattr(lib, name)
    return lib.ones(2, dtype=d) if kind == "dim" else lib.ones((), dtype=d)


operand = st.one_of(
    st.tuples(st.sampled_from(NAMES), st.sampled_from(["dim", "zero"])),
    st.tuples(st.just("scalar"), st.sampled_from(SCALARS)))


@settings(max_examples=200, deadline=None)
@given(operand, operand)
def test_result_type_matches_torch(x, y):
    def build(lib, op):
        return op[1] if op[0] == "scalar" else make(lib, op[0], op[1])
    if x[0] == "scalar" and y[0] == "scalar":
        return
    try:
        expected = torch.result_type(build(torch, x), build(torch, y))
    except RuntimeError:
        return
    assert repr(ember.result_type(build(ember, x), build(ember, y))) == repr(expected)


@pytest.mark.parametrize("name", ["float16", "bfloat16", "float32", "float64"])
def test_finfo(name):
    e, t = ember.finfo(pair(name)[0]), torch.finfo(pair(name)[1])
    for attr in ["bits", "eps", "max", "min", "tiny", "smallest_normal", "resolution"]:
        assert getattr(e, attr) == getattr(t, attr), attr


@pytest.mark.parametrize("name", ["int8", "int16", "int32", "int64", "uint8"])
def test_iinfo(name):
    e, t = ember.iinfo(pair(name)[0]), torch.iinfo(pair(name)[1])
    assert (e.bits, e.min, e.max) == (t.bits, t.min, t.max)


def test_finfo_iinfo_reject_the_other_kind():
    with pytest.raises(TypeError):
        ember.finfo(ember.int32)
    with pytest.raises(TypeError):
        ember.iinfo(ember.float32)


def test_default_dtype_drives_python_floats():
    assert ember.get_default_dtype() is ember.float32
    try:
        ember.set_default_dtype(ember.float64)
        assert ember.tensor([1.5]).dtype is ember.float64
        assert (ember.tensor([1, 2]) * 0.5).dtype is ember.float64
    finally:
        ember.set_default_dtype(ember.float32)
    assert ember.tensor([1.5]).dtype is ember.float32
    with pytest.raises(TypeError):
        ember.set_default_dtype(ember.int64)


def test_float32_times_float64_zero_dim_stays_float32():
    out = ember.ones(3) * ember.tensor(2.0, dtype=ember.float64)
    assert out.dtype is ember.float32
    assert out._data.dtype == np.float32


def test_dtype_pickles_to_the_same_object():
    import pickle
    for name in NAMES:
        assert pickle.loads(pickle.dumps(pair(name)[0])) is pair(name)[0]


def test_unsupported_numpy_dtype_is_a_clear_error():
    with pytest.raises(TypeError, match="can't convert np.ndarray of type"):
        ember.from_numpy(np.array(["a"]))
