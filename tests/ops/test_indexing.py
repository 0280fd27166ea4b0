"""Indexing ops against torch: t[i], t[i] = v, gather/scatter, index_*, masked_*, sort/unique."""
import warnings

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from oracle import assert_same, check, check_error, randn

import ember

X = randn(4, 5, 6)
I64 = np.int64

# ----------------------------------------------------------------- getitem: basic (views)
BASIC = [
    (0, "SelectBackward0"), (-1, "SelectBackward0"), (slice(1, 3), "SliceBackward0"),
    (slice(None), "SliceBackward0"), (Ellipsis, "AliasBackward0"), ((), "AliasBackward0"),
    (None, "UnsqueezeBackward0"), ((0, slice(1, 3)), "SliceBackward0"),
    ((0, 1), "SelectBackward0"), ((0, slice(None), None), "UnsqueezeBackward0"),
    ((slice(None), slice(None, 2)), "SliceBackward0"), ((slice(None), slice(0, 5)),
                                                        "AliasBackward0"),
    (slice(None, None, 2), "SliceBackward0"), ((Ellipsis, 1), "SelectBackward0"),
    ((None, Ellipsis, None), "UnsqueezeBackward0"), ((1, Ellipsis, None), "UnsqueezeBackward0"),
    ((slice(-10, 2), slice(1, None, 3), -2), "SelectBackward0"), (slice(10, 20), "SliceBackward0"),
    ((Ellipsis, Ellipsis), "AliasBackward0"), (np.int64(2), "SelectBackward0"),
]


@pytest.mark.parametrize("index,name", BASIC, ids=[repr(b[0]) for b in BASIC])
def test_getitem_basic_matches_torch_and_is_a_view(index, name):
    e, t = check(lambda lib, a: a[index], X)
    assert e.grad_fn.name() == t.grad_fn.name() == name
    base = ember.tensor(X.copy())
    view = base[index]
    assert view._base is base
    with ember.no_grad():
        view.add_(1.0)  # written through the view into base's memory
    assert base._version == view._version == 1
    ref = torch.tensor(X)
    ref[index] += 1.0
    assert_same(base, ref)


def test_getitem_zero_dim_results_are_views_too():
    base = ember.tensor([1.0, 2.0, 3.0])
    v = base[1]
    assert v.shape == () and v._base is base
    with ember.no_grad():
        v.mul_(10.0)
    assert base.tolist() == [1.0, 20.0, 3.0]
    v2 = base[ember.tensor(2)]  # a 0-dim integer tensor acts as an int
    assert v2._base is base and v2.grad_fn is None


def test_getitem_transposed_and_zero_dim_inputs():
    check(lambda lib, a: a.transpose(0, 2)[1:, 2, ::2], X)
    check(lambda lib, a: a.transpose(0, 1)[[0, 2], :, [1, 5]], X)
    check(lambda lib, a: a[None], randn())
    check(lambda lib, a: a[...], randn())
    check(lambda lib, a: a[True], randn())
    check(lambda lib, a: a[lib.tensor(False)], randn())


# ----------------------------------------------------------------- getitem: advanced (copies)
ADVANCED = [
    [1, 2], [3, 0, 3, -1], (0, slice(None), [0, 1]), ([0, 1], slice(None), [0, 1]),
    (slice(None), [0, 1], [0, 1]), (slice(1, None), [0, 1]), [[0, 1], [1, 2]],
    ([[0], [1]], slice(None), [0, 1, 2]), ([0, 1], None, [0, 1]), ([0, 1], Ellipsis, [0, 1]),
    ([0, 1], slice(0, 2), [0, 1]), [], ([-1, -4],), (slice(None), 0, [1, -1]),
    ([[0, 1], [1, 0]], [[2], [3]]), True, False, (slice(None), True), (0, [1, 1, 1], 2),
    [True, False, True, False], (range(3),), ((0, 1), 2),
]


@pytest.mark.parametrize("index", ADVANCED, ids=[repr(i) for i in ADVANCED])
def test_getitem_advanced_matches_torch(index):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        e, t = check(lambda lib, a: a[index], X)
    assert e.grad_fn.name() == t.grad_fn.name() == "IndexBackward0"
    assert e._base is None


def test_getitem_tensor_indices_and_masks():
    idx = np.array([3, 0, 3, -1])
    check(lambda lib, a, i: a[i], X, idx)
    check(lambda lib, a, i: a[i], X, idx.astype(np.int32))
    check(lambda lib, a, i, j: a[i, :, j], X, idx, np.array([[0], [5]]))
    check(lambda lib, a, i: a[i, 1:, i], X, np.array([0, 2]))
    mask = np.random.default_rng(1).random((5, 6)) > 0.5
    check(lambda lib, a, m: a[:, m], X, mask)
    check(lambda lib, a, m: a[1, m], X, mask)
    check(lambda lib, a, m: a[m[:4, :5]], X, mask)
    check(lambda lib, a, m, i: a[m[0, :4], i], X, mask, np.array([1, 4, 0, 2])[:int(mask[0, :4]
                                                                                  .sum())])
    check(lambda lib, a, m: a[m], randn(7), np.zeros(7, bool))
    check(lambda lib, a: a[np.array([1, 2])], X)
    check(lambda lib, a: a[np.array([True, False, True, False])], X)


def test_getitem_repeated_indices_accumulate_in_backward():
    e, t = check(lambda lib, a: a[[0, 0, 2, 0], 1:3], randn(3, 4))
    e, t = check(lambda lib, a, i: a[:, i], randn(3, 50), np.random.default_rng(0)
                 .integers(-50, 50, (40, 30)))
    check(lambda lib, a, i, j: a[i, :, j], randn(6, 3, 7), np.array([[0], [0], [5]]),
          np.array([1, 1, 6, 6]))


def test_getitem_dtypes():
    rng = np.random.default_rng(0)
    for dt in (np.int64, np.int32, np.int8, np.uint8, bool, np.float16, np.float32):
        a = (rng.standard_normal((4, 5)) * 5).astype(dt)
        check(lambda lib, x: x[1:, [0, 3, 3]], a, grad=False)
        check(lambda lib, x: x[2], a, grad=False)
    import ml_dtypes
    check(lambda lib, x: x[[1, 1], ::2], randn(3, 4).astype(ml_dtypes.bfloat16))


def test_getitem_list_with_slices_is_a_tuple_with_a_warning():
    with pytest.warns(UserWarning, match="non-tuple sequence"):
        out = ember.tensor(X)[[0, slice(None)]]
    assert out.shape == (5, 6)


def _basic_index(draw, shape):
    """A random index of ints, slices, None, an Ellipsis and integer lists for `shape`."""
    items = []
    dims = list(shape)
    used_ellipsis = False
    while dims:
        kind = draw(st.sampled_from(["int", "slice", "none", "list", "ell", "stop"]))
        if kind == "stop":
            break
        if kind == "none":
            items.append(None)
            continue
        if kind == "ell":
            if used_ellipsis:
                continue
            used_ellipsis = True
            keep = draw(st.integers(0, len(dims)))
            items.append(Ellipsis)
            dims = dims[len(dims) - keep:] if keep else []
            # what follows the ellipsis indexes the trailing dims
            items_after = []
            for size in dims:
                items_after.append(_one(draw, size))
            return tuple(items + items_after)
        items.append(_one(draw, dims.pop(0), kind))
    return tuple(items)


def _one(draw, size, kind=None):
    kind = kind or draw(st.sampled_from(["int", "slice", "list"]))
    if kind == "int" and size:
        return draw(st.integers(-size, size - 1))
    if kind == "list" and size:
        return draw(st.lists(st.integers(-size, size - 1), min_size=0, max_size=4))
    start = draw(st.one_of(st.none(), st.integers(-size - 1, size + 1)))
    stop = draw(st.one_of(st.none(), st.integers(-size - 1, size + 1)))
    return slice(start, stop, draw(st.one_of(st.none(), st.integers(1, 3))))


@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_getitem_random_indices_match_torch(data):
    shape = data.draw(st.lists(st.integers(0, 4), min_size=1, max_size=4))
    index = _basic_index(data.draw, shape)
    lists = [i for i in index if isinstance(i, list)]
    if len({len(v) for v in lists}) > 1:  # index lists must broadcast together
        return
    check(lambda lib, a: a[index], randn(*shape))


def test_getitem_errors():
    check_error(lambda lib, a: a[5], X, match="index 5 is out of bounds for dimension 0 with "
                                              "size 4")
    check_error(lambda lib, a: a[0, -7], X, match="index -7 is out of bounds for dimension 1")
    check_error(lambda lib, a: a[::-1], X, match="step must be greater than zero")
    check_error(lambda lib, a: a[::0], X, match="slice step cannot be zero")
    check_error(lambda lib, a: a[0, 0, 0, 0], X, match="too many indices for tensor of dimension 3")
    check_error(lambda lib, a: a[0, 0, 0, ..., 0], X, match="too many indices")
    check_error(lambda lib, a: a[1.0], X, match="valid indices")
    check_error(lambda lib, a: a[{}], X, match=r"got dict\)")
    check_error(lambda lib, a: a[0], randn(), match="invalid index of a 0-dim tensor")
    check_error(lambda lib, a: a[:], randn(), match="slice\\(\\) cannot be applied to a 0-dim")
    check_error(lambda lib, a: a[lib.tensor([1.0])], X, match="must be long, int, byte or bool")
    check_error(lambda lib, a: a[lib.tensor([1], dtype=lib.int16)], X, match="must be long")
    check_error(lambda lib, a: a[lib.tensor([5])], X,
                match="index 5 is out of bounds for dimension 0 with size 4")
    check_error(lambda lib, a: a[[0], :, [9]], X,
                match="index 9 is out of bounds for dimension 1 with size 6")
    check_error(lambda lib, a: a[0, :, [7]], X,
                match="index 7 is out of bounds for dimension 0 with size 6")
    check_error(lambda lib, a: a[[0]], randn(0), match="out of bounds for dimension with size 0")
    check_error(lambda lib, a: a[lib.ones(3, dtype=lib.bool)], X,
                match=r"mask \[3\] at index 0 does not match the shape of the indexed tensor "
                      r"\[4, 5, 6\] at index 0")
    check_error(lambda lib, a: a[0, :, lib.ones(5, dtype=lib.bool)], X,
                match=r"mask \[5\] at index 0 .* tensor \[5, 6\] at index 1")
    check_error(lambda lib, a: a[[0, 1], :, [0, 1, 2]], X,
                match=r"could not be broadcast together with shapes \[2\], \[3\]")
    check_error(lambda lib, a: a[1.0:2], X, match="slice indices must be integers")


def test_getitem_slice_bounds_may_be_tensors():
    check(lambda lib, a: a[lib.tensor(1):lib.tensor(3)], X)


# ----------------------------------------------------------------- setitem
def _set(index, value_fn):
    def fn(lib, a, *vs):
        out = a.clone()
        out[index] = value_fn(lib, *vs)
        return out
    return fn


SETS = [
    (0, ()), ((slice(1, 3), 2), ()), (Ellipsis, ()), ([0, 2], ()), ((slice(None), [1, 1]), ()),
    (([0, 1], slice(None), [0, 1]), ()), ((0, slice(None), [0, 1]), ()), ((1, [2, 0]), ()),
]


@pytest.mark.parametrize("index,_", SETS, ids=[repr(s[0]) for s in SETS])
def test_setitem_scalar_and_tensor_values_without_grad(index, _):
    x = randn(4, 5, 6)
    for value in (2.5, 3, True):
        check(lambda lib, a, value=value: _set(index, lambda lib: value)(lib, a), x, grad=False)
    shape = tuple(torch.zeros(4, 5, 6)[index].shape)
    check(lambda lib, a, v: _set(index, lambda lib, v: v)(lib, a, v), x,
          randn(*shape, seed=3), grad=False)
    check(lambda lib, a, v: _set(index, lambda lib, v: v)(lib, a, v), x,
          randn(*shape[1:], seed=3), grad=False)  # broadcast
    check(lambda lib, a, v: _set(index, lambda lib, v: v)(lib, a, v), x,
          randn(1, 1, *shape, seed=3), grad=False)  # leading ones are dropped


def test_setitem_writes_in_place_and_bumps_versions():
    base = ember.zeros(4, 5)
    view = base[1]
    data = base._data
    base[1] = 5.0
    assert base._data is data and base._version == 1 and view._version == 1
    assert view.tolist() == [5.0] * 5
    base[[0, 0, 2]] = ember.arange(15.0).reshape(3, 5)  # last write wins for repeats
    assert base[0].tolist() == [5.0, 6.0, 7.0, 8.0, 9.0] and base._version == 2
    base[base.numpy() == 5.0] = -1.0
    t = torch.zeros(4, 5)
    t[1] = 5.0
    t[[0, 0, 2]] = torch.arange(15.0).reshape(3, 5)
    t[t.numpy() == 5.0] = -1.0
    assert_same(base, t)


def test_setitem_dtype_rules():
    check(lambda lib, a: _set(0, lambda lib: 2.7)(lib, a), np.zeros((3, 4), I64), grad=False)
    check(lambda lib, a: _set([0, 1], lambda lib: 2.7)(lib, a), np.zeros((3, 4), I64),
          grad=False)
    check(lambda lib, a: _set(0, lambda lib: lib.tensor([1.5, 2.5, 3.5, 4.5], dtype=lib.float64))
          (lib, a), np.zeros((3, 4), np.float32), grad=False)
    check(lambda lib, a: _set(slice(None), lambda lib: lib.tensor([1, 2, 3, 4]))(lib, a),
          np.zeros((3, 4), np.float16), grad=False)
    check_error(lambda lib, a: _set([0, 1], lambda lib: lib.tensor(2.5, dtype=lib.float64))
                (lib, a), np.zeros(4, np.float32),
                match="Index put requires the source and destination dtypes match, got Float "
                      "for the destination and Double for the source.")
    check_error(lambda lib, a: _set([0, 1], lambda lib: lib.tensor([2, 3]))(lib, a),
                np.zeros(4, np.float32), match="got Float for the destination and Long")


def test_setitem_errors():
    check_error(lambda lib, a: _set(0, lambda lib: lib.ones(4))(lib, a), np.zeros((4, 5)),
                match=r"The expanded size of the tensor \(5\) must match the existing size \(4\) "
                      r"at non-singleton dimension 0.  Target sizes: \[5\].  Tensor sizes: \[4\]")
    check_error(lambda lib, a: _set(1, lambda lib: lib.ones(2, 2))(lib, a), np.zeros(4),
                match=r"expand\(torch.FloatTensor\{\[2, 2\]\}, size=\[\]\)")
    check_error(lambda lib, a: _set([0, 1], lambda lib: lib.ones(3, 5, dtype=lib.float64))
                (lib, a), np.zeros((4, 5)), match=r"shape mismatch: value tensor of shape "
                                                  r"\[3, 5\] cannot be broadcast to indexing "
                                                  r"result of shape \[2, 5\]")
    check_error(lambda lib, a: _set((0, slice(None), [0, 1]), lambda lib: lib.ones(2, 5,
                                                                                   dtype=lib.float64))
                (lib, a), np.zeros((4, 5, 6)), match=r"result of shape \[5, 2\]")
    check_error(lambda lib, a: _set(5, lambda lib: 1.0)(lib, a), np.zeros(4),
                match="index 5 is out of bounds")
    check_error(lambda lib, a: _set(0, lambda lib: "a")(lib, a), np.zeros(4),
                match="can't assign a str to a torch.DoubleTensor")
    check_error(lambda lib, a: _set(0, lambda lib: [1.0])(lib, a), np.zeros(4),
                match="can't assign a list")

    def leaf(lib, a, index):
        a[index] = 1.0
    check_error(lambda lib, a: leaf(lib, a.requires_grad_(), 0), np.zeros(3),
                match="a view of a leaf Variable that requires grad is being used in an in-place")
    check_error(lambda lib, a: leaf(lib, a.requires_grad_(), [0]), np.zeros(3),
                match="a leaf Variable that requires grad is being used in an in-place")


@pytest.mark.parametrize("index", [0, (slice(1, 3), 2), [0, 2, 0], (slice(None), [1, 4]),
                                   (slice(1, 3), [0, 1]), ([0, 1], slice(None), [2, 2]),
                                   (Ellipsis, 1)], ids=repr)
def test_setitem_gradients_flow_to_base_and_value(index):
    shape = tuple(torch.zeros(4, 5, 6)[index].shape)

    def fn(lib, a, v):
        out = a * 1
        out[index] = v * 2
        return out
    e, t = check(fn, randn(4, 5, 6), randn(*shape, seed=2))
    assert e.grad_fn.name() == t.grad_fn.name().replace("torch::autograd::", "")
    check(fn, randn(4, 5, 6), randn(*shape[1:], seed=2))  # broadcast value


def test_setitem_value_requiring_grad_into_plain_tensor():
    def fn(lib, v):
        out = lib.zeros(3, 4, dtype=lib.float64)
        out[1:, [0, 2]] = v
        return out
    e, t = check(fn, randn(2, 1))
    assert e.grad_fn.name() == "CopySlices"


def test_setitem_mask_with_grad_and_double_backward():
    mask = np.random.default_rng(0).random((3, 4)) > 0.5

    def fn(lib, a, m):
        out = a.clone()
        out[m] = a[m] * a[m]
        g, = lib.autograd.grad(out.sum(), a, create_graph=True)
        return g * a
    check(fn, randn(3, 4), mask)


# ----------------------------------------------------------------- index_put
def test_index_put_and_accumulate():
    i = np.array([0, 2, 0, 0])
    j = np.array([1, 1, 1, 3])
    check(lambda lib, a, i, v: a.index_put((i,), v), randn(3, 4), i, randn(4, 4))
    check(lambda lib, a, i, j, v: a.index_put((i, j), v, accumulate=True), randn(3, 4), i, j,
          randn(4))
    check(lambda lib, a, i, v: lib.index_put(a, (i,), v, True), randn(3, 4), i, randn(4))
    check(lambda lib, a, m, v: a.index_put((m,), v), randn(3, 4), randn(3, 4) > 0, randn())
    e, t = check(lambda lib, a, i, v: (a * 1).index_put_((i,), v, accumulate=True), randn(3, 4),
                 i, randn(4, 1))
    assert e.grad_fn.name() == "IndexPutBackward0"
    check(lambda lib, a, i, v: a.index_put_((i,), v, accumulate=True), np.zeros((3, 4), I64), i,
          np.arange(4), grad=False)
    check(lambda lib, a, i: lib.index_put_(a, (i,), lib.tensor(1.0, dtype=lib.float64)),
          np.zeros((3, 4)), i, grad=False)


def test_index_put_large_accumulate_matches_torch():
    rng = np.random.default_rng(0)
    idx = rng.integers(0, 50, 3000)
    check(lambda lib, a, i, v: a.index_put((i,), v, accumulate=True), randn(50, 16), idx,
          randn(3000, 16))
    check(lambda lib, a, i, v: a.index_put((i,), v, accumulate=True),
          randn(50, 16).astype(np.float32), idx, randn(3000, 16).astype(np.float32), atol=1e-5)
    check(lambda lib, a, i, v: a.index_put((i,), v, accumulate=True), np.zeros(50, I64), idx,
          rng.integers(-9, 9, 3000), grad=False)


def test_index_put_errors():
    i = np.array([0, 1])
    check_error(lambda lib, a, i: a.index_put((i, lib.tensor([9])), lib.tensor(1.0)),
                np.zeros((4, 5), np.float32), i, match="index 9 is out of bounds for dimension 1")
    check_error(lambda lib, a, i: a.index_put((i,) * 3, lib.tensor(1.0)),
                np.zeros((4, 5), np.float32), i,
                match="too many indices for tensor of dimension 2 \\(got 3\\)")
    check_error(lambda lib, a, i: a.index_put((i,), 1.0), np.zeros((4, 5)), i,
                match="must be Tensor, not float")
    check_error(lambda lib, a, i: a.index_put((i.float(),), lib.tensor(1.0)), np.zeros(4), i,
                match="must be long, int, byte or bool")
    check_error(lambda lib, a, i: a.index_put((i,), lib.ones(3, 5, dtype=lib.float64)),
                np.zeros((4, 5)), i, match="cannot be broadcast to indexing result")
    check_error(lambda lib, a, i: a.index_put((i,), lib.tensor([1.0, 2.0])),
                np.zeros(4), i, match="dtypes match, got Double for the destination and Float")
