"""F.pad against torch: constant/reflect/replicate/circular over 1-3 dims, grads, errors."""
import ml_dtypes
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from oracle import check, check_error, randn
from test_pooling import second_order


@settings(max_examples=25, deadline=None)
@given(mode=st.sampled_from(["constant", "reflect", "replicate", "circular"]),
       n=st.integers(1, 3), batched=st.booleans(), data=st.data())
def test_pad_modes(mode, n, batched, data):
    shape = (2, 3, 4, 5, 3)[5 - n - 1 - batched:]
    lo = -1 if mode in ("constant", "circular") else 0
    pads = tuple(data.draw(st.integers(lo, min(2, shape[-1 - i // 2] - 1)))
                 for i in range(2 * n))
    check(lambda lib, x: lib.nn.functional.pad(x, pads, mode), randn(*shape, seed=n))


def test_pad_constant_values_dtypes_layouts():
    x = randn(2, 3, 4)
    check(lambda lib, x: lib.nn.functional.pad(x, (1, 2), value=3.5), x)
    check(lambda lib, x: lib.nn.functional.pad(x, (1, 2, 0, 1, 1, 1)), x)  # all three dims
    check(lambda lib, x: lib.nn.functional.pad(x, (-1, 2, 1, -2)), x)  # crop and pad
    check(lambda lib, x: lib.nn.functional.pad(x, (1, 1)), x.transpose(0, 2, 1))
    check(lambda lib, x: lib.nn.functional.pad(x, (1, 1), value=-2), x.astype(np.int64))
    check(lambda lib, x: lib.nn.functional.pad(x, (1, 1), value=1), x > 0)
    check(lambda lib, x: lib.nn.functional.pad(x, (1, 1), value=0.5), x.astype(np.float16))
    check(lambda lib, x: lib.nn.functional.pad(x, (1, 1)), x.astype(ml_dtypes.bfloat16))
    check(lambda lib, x: lib.nn.functional.pad(x, (2, 1)), randn(0, 3))
    check(lambda lib, x: lib.nn.functional.pad(x, (1, 0)), np.array(2.0)[None])


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
def test_pad_nonconstant_dtypes_and_double_backward(mode):
    x = randn(2, 3, 4, 5)
    check(lambda lib, x: lib.nn.functional.pad(x, (2, 1, 1, 3), mode), x.astype(np.float32))
    check(lambda lib, x: lib.nn.functional.pad(x, (2, 1), mode), x[0].astype(np.int64))
    check(lambda lib, x: lib.nn.functional.pad(x, (1, 2, 1, 1), mode),
          x.transpose(1, 0, 3, 2))
    second_order(lambda lib, x: lib.nn.functional.pad(x, (2, 1, 1, 2), mode) ** 2, x)
    second_order(lambda lib, x: lib.nn.functional.pad(x, (1, 1)) ** 2, x)


def test_pad_grad_fn_names():
    import ember
    x = ember.randn(1, 2, 4, 4, requires_grad=True)
    F = ember.nn.functional
    assert F.pad(x, (1, 1)).grad_fn.name() == "ConstantPadNdBackward0"
    assert F.pad(x, (1, 1, 1, 1), "reflect").grad_fn.name() == "ReflectionPad2DBackward0"
    assert F.pad(x[0], (1, 1), "replicate").grad_fn.name() == "ReplicationPad1DBackward0"


@pytest.mark.parametrize("call,match", [
    (lambda lib, x: lib.nn.functional.pad(x, (1,)), "divisible by 2"),
    (lambda lib, x: lib.nn.functional.pad(x, (1,) * 10), "padding length 10 and input of "
                                                         "dimension 4"),
    (lambda lib, x: lib.nn.functional.pad(x, (1, 1), mode="reflect"), "Padding size 2 is not"),
    (lambda lib, x: lib.nn.functional.pad(x, (1, 1, 9, 9), mode="reflect"),
     r"Argument #6: Padding size should be less than the corresponding input dimension, but "
     r"got: padding \(9, 9\) at dimension 2 of input \[2, 3, 8, 8\]"),
    (lambda lib, x: lib.nn.functional.pad(x[0], (9, 9), mode="reflect"), "Argument #4"),
    (lambda lib, x: lib.nn.functional.pad(x[0], (9, 9), mode="circular"), "more than once"),
    (lambda lib, x: lib.nn.functional.pad(x[0], (1, 1), mode="foo"), "Unrecognised padding"),
    (lambda lib, x: lib.nn.functional.pad(x[0], (1, 1), mode="reflect", value=1.0),
     "doesn't take in value"),
    (lambda lib, x: lib.nn.functional.pad(x[0, 0, :0], (1, 1), mode="replicate"),
     "non-zero dimensions"),
])
def test_pad_errors(call, match):
    check_error(call, randn(2, 3, 8, 8), match=match)


# ----------------------------------------------------------------- modules
@pytest.mark.parametrize("name,args", [
    ("ZeroPad1d", (2,)), ("ZeroPad2d", (1,)), ("ZeroPad2d", ((1, 0, 2, 1),)), ("ZeroPad3d", (1,)),
    ("ConstantPad1d", ((1, 2), 3.5)), ("ConstantPad2d", (1, 0)), ("ConstantPad3d", (1, -1.5)),
    ("ReflectionPad1d", (2,)), ("ReflectionPad2d", ((1, 2, 0, 1),)), ("ReflectionPad3d", (1,)),
    ("ReplicationPad1d", (1,)), ("ReplicationPad2d", (2,)), ("ReplicationPad3d", (1,)),
    ("CircularPad1d", (1,)), ("CircularPad2d", ((1, 2, 2, 1),)), ("CircularPad3d", (1,)),
])
def test_pad_modules(name, args):
    import torch

    import ember
    tm, em = getattr(torch.nn, name)(*args), getattr(ember.nn, name)(*args)
    assert repr(em) == repr(tm) and em.padding == tm.padding
    nd = 3 if name.endswith("1d") else 5 if name.endswith("3d") else 4
    check(lambda lib, x: (tm if lib is torch else em)(x), randn(*(2, 3, 4, 5, 3)[:nd]))


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
def test_pad_long_dims_gather_path(mode):
    """Lengths above the small-matrix threshold take the gather / segment-sum path."""
    check(lambda lib, x: lib.nn.functional.pad(x, (3, 2), mode) ** 2, randn(2, 3, 140))
    check(lambda lib, x: lib.nn.functional.pad(x, (-1, 2, 1, 1), mode), randn(2, 131, 4))
