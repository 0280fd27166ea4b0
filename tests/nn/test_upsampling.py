"""F.interpolate / pixel_shuffle / one_hot against torch."""
import ml_dtypes
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from oracle import check, check_error, randn
from test_pooling import second_order


@settings(max_examples=25, deadline=None)
@given(dim=st.integers(1, 3), mode=st.sampled_from(["nearest", "nearest-exact", "linear"]),
       align=st.booleans(), use_size=st.booleans(), data=st.data())
def test_interpolate(dim, mode, align, use_size, data):
    shape = (2, 2, 5, 4, 3)[:2 + dim]
    if mode == "linear":
        mode = {1: "linear", 2: "bilinear", 3: "trilinear"}[dim]
    kw = {"align_corners": align} if mode not in ("nearest", "nearest-exact") else {}
    if use_size:
        kw["size"] = tuple(data.draw(st.integers(1, 9)) for _ in range(dim))
    else:
        kw["scale_factor"] = data.draw(st.sampled_from([0.5, 0.7, 1.0, 1.5, 2.0, 2.3, 3.0]))
        kw["recompute_scale_factor"] = data.draw(st.sampled_from([None, True]))
    # torch's 1-d/3-d nearest backward differs from its forward when a scale factor gives
    # an equal or doubled size (see test_interpolate_nearest_size_shortcuts)
    grad = not (mode == "nearest" and dim != 2 and "scale_factor" in kw
                and not kw["recompute_scale_factor"])
    check(lambda lib, x: lib.nn.functional.interpolate(x, mode=mode, **kw), randn(*shape),
          grad=grad)


@pytest.mark.parametrize("dim", [1, 2, 3])
def test_interpolate_nearest_size_shortcuts(dim):
    """torch's 2-d nearest kernel maps equal and doubled sizes specially; 1-d and 3-d don't
    in forward. (torch's 1-d/3-d *backward* does take the shortcuts, so its gradient is not
    that of its forward there; ember's gradient follows its forward.)"""
    for L, sf in ((3, 2.3), (4, 1.1), (5, 2.0), (4, 1.0)):
        x = randn(*(1, 2) + (2,) * (dim - 1) + (L,))
        for mode in ("nearest", "nearest-exact"):
            consistent = dim == 2 or mode == "nearest-exact" or sf in (2.0, 1.0)
            check(lambda lib, x: lib.nn.functional.interpolate(x, scale_factor=sf,  # noqa: B023
                                                               mode=mode), x,  # noqa: B023
                  grad=consistent)


def test_interpolate_variants():
    x = randn(2, 3, 4, 5)
    check(lambda lib, x: lib.nn.functional.interpolate(x, scale_factor=(2, 1.5),
                                                       mode="bilinear"), x)
    check(lambda lib, x: lib.nn.functional.interpolate(x, size=(7, 3), mode="bilinear",
                                                       align_corners=True), x.transpose(0, 1, 3, 2))
    check(lambda lib, x: lib.nn.functional.interpolate(x, size=(7, 3)), x.astype(np.float32))
    check(lambda lib, x: lib.nn.functional.interpolate(x, scale_factor=2, mode="bilinear"),
          x.astype(np.float16))
    check(lambda lib, x: lib.nn.functional.interpolate(x, scale_factor=2, mode="bilinear"),
          x.astype(ml_dtypes.bfloat16))
    check(lambda lib, x: lib.nn.functional.interpolate(x, scale_factor=2),
          (x * 50 + 100).astype(np.uint8))
    check(lambda lib, x: lib.nn.functional.interpolate(x, size=3, mode="area"), x)
    check(lambda lib, x: lib.nn.functional.interpolate(x, scale_factor=2), randn(0, 2, 3, 3))
    with pytest.warns(UserWarning, match="upsample_bilinear` is deprecated"):
        check(lambda lib, x: lib.nn.functional.upsample_bilinear(x, scale_factor=2), x)
    with pytest.warns(UserWarning, match="upsample_nearest` is deprecated"):
        check(lambda lib, x: lib.nn.functional.upsample_nearest(x, size=6), x)
    second_order(lambda lib, x: lib.nn.functional.interpolate(x, scale_factor=2,
                                                              mode="bilinear") ** 2, x)
    second_order(lambda lib, x: lib.nn.functional.interpolate(x, size=(3, 7)) ** 2, x)


def test_interpolate_grad_fn_names():
    import ember
    F = ember.nn.functional
    x = ember.randn(1, 1, 3, 3, requires_grad=True)
    assert F.interpolate(x, scale_factor=2).grad_fn.name() == "UpsampleNearest2DBackward0"
    assert F.interpolate(x, scale_factor=2, mode="bilinear").grad_fn.name() == \
        "UpsampleBilinear2DBackward0"
    assert F.interpolate(x[0], size=4, mode="linear").grad_fn.name() == \
        "UpsampleLinear1DBackward0"


@pytest.mark.parametrize("call,match", [
    (lambda lib, x: lib.nn.functional.interpolate(x, size=4, scale_factor=2), "only one of"),
    (lambda lib, x: lib.nn.functional.interpolate(x), "either size or scale_factor"),
    (lambda lib, x: lib.nn.functional.interpolate(x, size=4, align_corners=True),
     "align_corners option can only be set"),
    (lambda lib, x: lib.nn.functional.interpolate(x, size=4, mode="linear"),
     "Got 4D input, but linear mode needs 3D input"),
    (lambda lib, x: lib.nn.functional.interpolate(x, size=4, mode="foo"), "got foo"),
    (lambda lib, x: lib.nn.functional.interpolate(x, size=(4, 4, 4)),
     r"spatial dimensions of \[8, 8\] and output size of \(4, 4, 4\)"),
    (lambda lib, x: lib.nn.functional.interpolate(x, scale_factor=(2, 2, 2)),
     r"scale_factor of shape \(2, 2, 2\)"),
    (lambda lib, x: lib.nn.functional.interpolate(x, size=0),
     r"input \(H: 8, W: 8\) output \(H: 0, W: 0\)"),
    (lambda lib, x: lib.nn.functional.interpolate(x[0], size=0),
     r"input \(W: 8\) and output \(W: 0\)"),
    (lambda lib, x: lib.nn.functional.interpolate(x, size=4, recompute_scale_factor=True),
     "not meaningful"),
    (lambda lib, x: lib.nn.functional.interpolate(x[0, 0], size=4), "got 2D"),
    (lambda lib, x: lib.nn.functional.interpolate(x.long(), size=4), "not implemented"),
])
def test_interpolate_errors(call, match):
    check_error(call, randn(2, 3, 8, 8), match=match)


# ----------------------------------------------------------------- pixel shuffle
@pytest.mark.parametrize("shape,r", [((2, 8, 3, 4), 2), ((9, 2, 2), 3), ((2, 1, 4, 3, 5), 1)])
def test_pixel_shuffle_roundtrip(shape, r):
    x = randn(*shape)
    check(lambda lib, x: lib.nn.functional.pixel_shuffle(x, r), x)
    check(lambda lib, x: lib.nn.functional.pixel_unshuffle(
        lib.nn.functional.pixel_shuffle(x, r) * 2, r), x)
    check(lambda lib, x: lib.nn.functional.pixel_shuffle(x, r), x.astype(np.int64))
    second_order(lambda lib, x: lib.nn.functional.pixel_shuffle(x, r) ** 3, x)


@pytest.mark.parametrize("call,match", [
    (lambda lib, x: lib.nn.functional.pixel_shuffle(x, 2), "divisible by the square"),
    (lambda lib, x: lib.nn.functional.pixel_shuffle(x[0, 0], 2), "at least 3 dimensions"),
    (lambda lib, x: lib.nn.functional.pixel_shuffle(x, 0), "positive upscale_factor"),
    (lambda lib, x: lib.nn.functional.pixel_unshuffle(x, 3), "height to be divisible"),
    (lambda lib, x: lib.nn.functional.pixel_unshuffle(x[..., :7], 2), "width to be divisible"),
    (lambda lib, x: lib.nn.functional.pixel_unshuffle(x, 0), "positive downscale_factor"),
])
def test_pixel_shuffle_errors(call, match):
    check_error(call, randn(2, 3, 8, 8), match=match)


# ----------------------------------------------------------------- one_hot
def test_one_hot():
    idx = np.array([[0, 3], [2, 1]])
    check(lambda lib, i: lib.nn.functional.one_hot(i), idx)
    check(lambda lib, i: lib.nn.functional.one_hot(i, 6), idx)
    check(lambda lib, i: lib.nn.functional.one_hot(i, 3), np.zeros(0, np.int64))
    check(lambda lib, i: lib.nn.functional.one_hot(i), np.array(2))
    for bad, match in [(np.array([1.0]), "LongTensor"), (np.array([-1]), "non-negative"),
                       (np.zeros(0, np.int64), "empty tensor"),
                       (np.array([1], np.int32), "LongTensor")]:
        check_error(lambda lib, i: lib.nn.functional.one_hot(i), bad, match=match)
    check_error(lambda lib, i: lib.nn.functional.one_hot(i, 2), np.array([3]),
                match="smaller than num_classes")


# ----------------------------------------------------------------- modules
@pytest.mark.parametrize("name,kw", [
    ("Upsample", dict(scale_factor=2)), ("Upsample", dict(size=(3, 7), mode="bilinear")),
    ("Upsample", dict(scale_factor=(1.5, 2), mode="bilinear", align_corners=True)),
    ("Upsample", dict(scale_factor=1.7, mode="nearest", recompute_scale_factor=True)),
    ("UpsamplingNearest2d", dict(scale_factor=2)), ("UpsamplingBilinear2d", dict(size=4)),
])
def test_upsample_modules(name, kw):
    import torch

    import ember
    tm, em = getattr(torch.nn, name)(**kw), getattr(ember.nn, name)(**kw)
    assert repr(em) == repr(tm)
    check(lambda lib, x: (tm if lib is torch else em)(x), randn(2, 3, 4, 5))


def test_pixel_shuffle_modules():
    import torch

    import ember
    for name, r, shape in [("PixelShuffle", 2, (2, 8, 3, 3)), ("PixelUnshuffle", 3, (1, 2, 6, 3))]:
        tm, em = getattr(torch.nn, name)(r), getattr(ember.nn, name)(r)
        assert repr(em) == repr(tm)
        check(lambda lib, x: (tm if lib is torch else em)(x), randn(*shape))  # noqa: B023


@pytest.mark.parametrize("mode", ["nearest", "linear", "nearest-exact"])
def test_interpolate_long_dims_gather_path(mode):
    """Lengths above the small-matrix threshold take the gather / segment-sum path."""
    kw = {"align_corners": False} if mode == "linear" else {}
    for sf in (0.4, 1.5, 2.0):
        check(lambda lib, x: lib.nn.functional.interpolate(x, scale_factor=sf, mode=mode,  # noqa: B023
                                                           **kw), randn(1, 2, 150))
    check(lambda lib, x: lib.nn.functional.interpolate(x, size=(3, 301)) ** 2, randn(1, 1, 2, 140))


@pytest.mark.parametrize("kw", [dict(scale_factor=2), dict(size=(3, 11), align_corners=True),
                                dict(scale_factor=0.6), dict(size=(9, 4)),
                                dict(scale_factor=(1.5, 0.5), recompute_scale_factor=True)])
def test_interpolate_bicubic(kw):
    check(lambda lib, x: lib.nn.functional.interpolate(x, mode="bicubic", **kw), randn(2, 3, 5, 7))
    check(lambda lib, x: lib.nn.functional.interpolate(x, mode="bicubic", **kw),
          randn(1, 2, 5, 7, dtype=np.float32))


def test_interpolate_bicubic_long_dim_name_and_errors():
    import ember
    check(lambda lib, x: lib.nn.functional.interpolate(x, size=(2, 203), mode="bicubic"),
          randn(1, 1, 3, 140))
    x = ember.randn(1, 1, 3, 3, requires_grad=True)
    out = ember.nn.functional.interpolate(x, scale_factor=2, mode="bicubic")
    assert out.grad_fn.name() == "UpsampleBicubic2DBackward0"
    check_error(lambda lib, x: lib.nn.functional.interpolate(x, size=4, mode="bicubic"),
                randn(1, 2, 5), match="Got 3D input, but bicubic mode needs 4D input")


@pytest.mark.parametrize("dtype", [np.float16, "bfloat16"])
def test_half_precision_resampling_padding_shuffle(dtype):
    dt = ml_dtypes.bfloat16 if dtype == "bfloat16" else dtype
    x = randn(1, 4, 6, 6).astype(dt)
    check(lambda lib, x: lib.nn.functional.pad(x, (1, 2, 2, 1), mode="reflect"), x)
    check(lambda lib, x: lib.nn.functional.interpolate(x, scale_factor=2, mode="bicubic"), x)
    check(lambda lib, x: lib.nn.functional.interpolate(x, size=(3, 5)), x)
    check(lambda lib, x: lib.nn.functional.pixel_shuffle(x, 2), x)
