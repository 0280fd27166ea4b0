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
    check_error(lambda lib, a: a[0, None, 9], X,  # torch names the place in the index
                match="index 9 is out of bounds for dimension 2 with size 5")
    check_error(lambda lib, a: a[..., 9], X, match="index 9 is out of bounds for dimension 1 "
                                                   "with size 6")
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
    assert e.grad_fn.name() == t.grad_fn.name()
    check(fn, randn(4, 5, 6), randn(*shape[1:], seed=2))  # broadcast value


def test_setitem_value_requiring_grad_into_plain_tensor():
    def fn(lib, v):
        out = lib.zeros(3, 4, dtype=lib.float64)
        out[1:, [0, 2]] = v
        return out
    e, t = check(fn, randn(2, 1))
    assert e.grad_fn.name() == t.grad_fn.name() == "torch::autograd::CopySlices"


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


# ----------------------------------------------------------------- gather / scatter
IDX = np.array([[0, 0, 3], [2, 2, 2], [3, 1, 0]])


def test_gather_values_and_grads():
    check(lambda lib, a, i: a.gather(1, i), randn(3, 4), IDX)
    check(lambda lib, a, i: lib.gather(a, -1, i), randn(3, 4), IDX)
    check(lambda lib, a, i: a.gather(0, i), randn(4, 4), IDX)  # index smaller than input
    check(lambda lib, a, i: a.transpose(0, 1).gather(0, i), randn(4, 4), IDX)
    check(lambda lib, a, i: a.gather(1, i), randn(3, 4), IDX.astype(np.int32))
    check(lambda lib, a, i: a.gather(1, i), randn(3, 4), np.zeros((3, 0), I64))
    check(lambda lib, a, i: a.gather(0, i), randn(), np.array(0))
    check(lambda lib, a, i: a.gather(0, i), randn(3), np.array(1))
    check(lambda lib, a, i: a.gather(1, i), np.arange(12).reshape(3, 4), IDX, grad=False)
    e, t = check(lambda lib, a, i: a.take_along_dim(i, 1), randn(3, 4), IDX)
    assert e.grad_fn.name() == "GatherBackward0"


def test_gather_errors():
    a = randn(3, 4)
    check_error(lambda lib, a: a.gather(1, lib.tensor([[0]], dtype=lib.int16)), a,
                match="gather\\(\\): Expected dtype int32/int64 for index")
    check_error(lambda lib, a: a.gather(1, lib.tensor([[4]])), a,
                match="index 4 is out of bounds for dimension 1 with size 4")
    check_error(lambda lib, a: a.gather(1, lib.tensor([[-1]])), a,
                match="index -1 is out of bounds for dimension 1 with size 4")
    check_error(lambda lib, a: a.gather(1, lib.zeros(4, 1, dtype=lib.long)), a,
                match=r"Size does not match at dimension 0 expected index \[4, 1\] to be no "
                      r"larger than self \[3, 4\] apart from dimension 1")
    check_error(lambda lib, a: a.gather(1, lib.zeros(4, dtype=lib.long)), a,
                match="Index tensor must have the same number of dimensions as input tensor")
    check_error(lambda lib, a: a.gather(2, lib.zeros(3, 1, dtype=lib.long)), a,
                match="Dimension out of range")


def test_scatter_variants():
    i = np.array([[0, 1, 3], [2, 2, 0], [3, 1, 0]])  # distinct per row: writes don't collide
    check(lambda lib, a, i, s: a.scatter(1, i, s), randn(3, 4), i, randn(3, 3, seed=1))
    check(lambda lib, a, i, s: lib.scatter(a, 1, i, s), randn(3, 4), i, randn(3, 5, seed=1),
          grad=False)  # torch's backward rejects a src larger than index
    check(lambda lib, a, i: a.scatter(1, i, 2.5), randn(3, 4), i)
    check(lambda lib, a, i: a.scatter(1, i, value=-1), randn(3, 4), i)
    check(lambda lib, a, i: a.scatter(1, i, 2.7), np.zeros((3, 4), I64), i, grad=False)
    with pytest.warns(UserWarning, match="reduce argument of torch.scatter with Tensor src"):
        check(lambda lib, a, i, s: a.scatter(1, i, s, reduce="add"), randn(3, 4), IDX,
              randn(3, 3, seed=1), grad=False)
    check(lambda lib, a, i: a.scatter(1, i, 2.0, reduce="multiply"), randn(3, 4), IDX,
          grad=False)
    e, t = check(lambda lib, a, i, s: (a * 1).scatter_(0, i, s), randn(4, 3), i,
                 randn(3, 3, seed=1))
    assert e.grad_fn.name() == "ScatterBackward0"
    check(lambda lib, a, i: a.clone().scatter_(1, i, 3.0), np.zeros((3, 4)), i, grad=False)
    check(lambda lib, a, i: a.scatter_(0, i, True), np.zeros(3, bool), np.array([1]),
          grad=False)
    names = [ember.ones(3, requires_grad=True).scatter(0, ember.tensor([1]), v).grad_fn.name()
             for v in (ember.ones(1), 1.0)]
    assert names == ["ScatterBackward0", "ScatterBackward1"]


def test_scatter_add_and_reduce():
    check(lambda lib, a, i, s: a.scatter_add(1, i, s), randn(3, 4), IDX, randn(3, 3, seed=1))
    check(lambda lib, a, i, s: lib.scatter_add(a, 0, i, s), randn(4, 3), IDX,
          randn(3, 3, seed=1))
    check(lambda lib, a, i, s: a.scatter_add(1, i, s), np.arange(12).reshape(3, 4), IDX,
          np.arange(9).reshape(3, 3), grad=False)
    check(lambda lib, a, i, s: (a * 1).scatter_add_(1, i, s), randn(3, 4), IDX,
          randn(3, 3, seed=1))
    check(lambda lib, a, i, s: (a * 1).scatter_reduce_(0, i, s, "amax"), randn(4, 3), IDX,
          randn(3, 3))
    check(lambda lib, a, i, s: a.scatter_reduce(1, i, s, "sum"), randn(3, 4), IDX,
          randn(3, 5, seed=3), grad=False)


@pytest.mark.parametrize("reduce", ["sum", "prod", "mean", "amax", "amin"])
@pytest.mark.parametrize("include_self", [True, False])
def test_scatter_reduce_all_reductions(reduce, include_self):
    src = randn(3, 3, seed=1)
    src[0, 1] = 0.0  # a zero shares its slot: prod's gradient must treat it exactly
    src[1, :2] = 0.0  # two zeros share a slot
    src[2, 2] = src[2, 1] = 5.0  # a tie for amax/amin splits the gradient
    base = randn(3, 4, seed=2)
    base[2, 3] = 0.0
    check(lambda lib, a, i, s: a.scatter_reduce(1, i, s, reduce, include_self=include_self),
          base, IDX, src)
    check(lambda lib, a, i, s: lib.scatter_reduce(a, 1, i, s, reduce, include_self=include_self),
          np.arange(12).reshape(3, 4), IDX, np.arange(9).reshape(3, 3) - 4, grad=False)
    # An excluded self value equal to the result still splits an amax/amin gradient in torch.
    base32, src32 = randn(4, 3).astype(np.float32), randn(3, 3, seed=5).astype(np.float32)
    base32[0, 0] = src32[0, 0] = 9.0
    check(lambda lib, a, i, s: a.scatter_reduce(0, i, s, reduce, include_self=include_self),
          base32, IDX, src32)


def test_scatter_reduce_second_order():
    def fn(lib, a, i, s):
        out = a.scatter_reduce(1, i, s, "prod")
        ga, gs = lib.autograd.grad(out.sum(), (a, s), create_graph=True)
        return (ga * gs.sum()).sum() + (gs * gs).sum()
    check(fn, randn(3, 4), IDX, randn(3, 3, seed=1))


def test_scatter_errors():
    a = np.zeros((3, 4), np.float32)
    i = np.zeros((3, 2), I64)
    check_error(lambda lib, a, i: a.scatter(1, i, lib.ones(3, 1)), a, i,
                match=r"Expected index \[3, 2\] to be no larger than self \[3, 4\] apart from "
                      r"dimension 1 and to be no larger size than src \[3, 1\]")
    check_error(lambda lib, a, i: a.scatter(1, i, lib.ones(3, 2, dtype=lib.float64)), a, i,
                match="scatter\\(\\): Expected self.dtype to be equal to src.dtype")
    check_error(lambda lib, a, i: a.scatter(1, i, 1.0, reduce="max"), a, i,
                match="reduce argument must be either add or multiply.")
    check_error(lambda lib, a, i: a.scatter(1, i + 4, 1.0), a, i,
                match="index 4 is out of bounds for dimension 1 with size 4")
    check_error(lambda lib, a, i: a.scatter(1, i[:, 0], 1.0), a, i,
                match="Index tensor must have the same number of dimensions as self tensor")
    check_error(lambda lib, a, i: a.scatter_add(1, i.int().short(), lib.ones(3, 2)), a, i,
                match="scatter\\(\\): Expected dtype int32/int64 for index")
    check_error(lambda lib, a, i: a.scatter_add(1, i, lib.ones(3, 2, dtype=lib.float64)), a, i,
                match="Expected self.dtype to be equal to src.dtype")
    check_error(lambda lib, a, i: a.scatter_reduce(1, i, lib.ones(3, 2), "foo"), a, i,
                match="reduce argument must be either sum, prod, mean, amax or amin, got foo")

    def backward(lib, a, i):
        a.requires_grad_()
        warnings.simplefilter("ignore")
        a.scatter(1, i, lib.ones(3, 2, dtype=lib.float64), reduce="add").sum().backward()
    with warnings.catch_warnings():
        check_error(backward, randn(3, 4), i,
                    match="derivative for aten::scatter is not implemented")


# ----------------------------------------------------------------- index_select / add / copy / fill
def test_index_select():
    i = np.array([2, 0, 2])
    e, t = check(lambda lib, a, i: a.index_select(1, i), randn(3, 4), i)
    assert e.grad_fn.name() == "IndexSelectBackward0"
    check(lambda lib, a, i: lib.index_select(a, -1, i), randn(3, 4).T, i.astype(np.int32))
    check(lambda lib, a, i: a.index_select(0, i), randn(3, 4), np.array(1))
    check(lambda lib, a, i: a.index_select(0, i), randn(), np.array([0]))
    check(lambda lib, a, i: a.index_select(0, i), np.arange(6).reshape(3, 2), i, grad=False)
    check_error(lambda lib, a: a.index_select(1, lib.tensor([[0, 2]])), randn(3, 4),
                match="Index is supposed to be a vector")
    check_error(lambda lib, a: a.index_select(1, lib.tensor([5])), randn(3, 4),
                match="INDICES element is out of DATA bounds, id=5 axis_dim=4")
    check_error(lambda lib, a: a.index_select(1, lib.tensor([1.0])), randn(3, 4),
                match="Expected dtype int32 or int64 for index")
    check_error(lambda lib, a: a.index_select(0, lib.tensor([0, 0])), randn(),
                match="Index to scalar can have only 1 value, got 2 value")


def test_index_add_copy_fill():
    i = np.array([0, 3, 0])
    e, t = check(lambda lib, a, i, s: a.index_add(1, i, s, alpha=2.5), randn(3, 4), i,
                 randn(3, 3, seed=1))
    assert e.grad_fn.name() == "IndexAddBackward0"
    check(lambda lib, a, i, s: lib.index_add(a, 0, i, s), randn(4, 2), i, randn(3, 2))
    check(lambda lib, a, i, s: (a * 1).index_add_(0, i, s), randn(4, 2), i.astype(np.int32),
          randn(3, 2))
    check(lambda lib, a, i, s: a.index_add(0, i, s, alpha=2), np.ones(4, I64), i,
          np.arange(3), grad=False)
    check(lambda lib, a, i, s: a.index_add(0, i, s), randn(), np.array([0]), randn())
    check(lambda lib, a, i, s: a.index_add(0, i, s), randn(3), np.array(1), randn(1))
    check(lambda lib, a, i, s: a.index_add(0, i, s), randn(5000, 3), np.random.default_rng(0)
          .integers(0, 5000, 6000), randn(6000, 3))
    j = np.array([2, 0])
    e, t = check(lambda lib, a, i, s: a.index_copy(1, i, s), randn(3, 4), j, randn(3, 2))
    assert e.grad_fn.name() == "IndexCopyBackward0"
    check(lambda lib, a, i, s: (a * 1).index_copy_(0, i, s), randn(4, 2), j, randn(2, 2))
    check(lambda lib, a, i, s: lib.index_copy(a, 0, i, s), randn(3), np.array(1), randn())
    e, t = check(lambda lib, a, i: a.index_fill(1, i, -1.5), randn(3, 4), np.array([0, -1]))
    assert e.grad_fn.name() == "IndexFillBackward0"
    e, t = check(lambda lib, a, i, v: a.index_fill(1, i, v), randn(3, 4), j, randn())
    assert e.grad_fn.name() == "IndexFillBackward1"
    check(lambda lib, a, i: (a * 1).index_fill_(0, i, 2), randn(3, 4), j)
    check(lambda lib, a, i: a.index_fill(0, i, 2.5), np.zeros(3, I64), np.array([0]),
          grad=False)
    check(lambda lib, a, i: a.index_fill(0, i, True), np.zeros(3, bool), np.array([0]),
          grad=False)
    check(lambda lib, a, i: lib.index_fill(a, 0, i, 5.0), randn(), np.array(0))


def test_index_add_copy_fill_errors():
    a = np.zeros((3, 4), np.float32)
    check_error(lambda lib, a: a.index_add(1, lib.tensor([0, 0]), lib.ones(3, 3)), a,
                match=r"Number of indices \(2\) should be equal to source.size\(dim\): \(3\), "
                      r"for dim: 1")
    check_error(lambda lib, a: a.index_add(1, lib.tensor([0]), lib.ones(2, 1)), a,
                match=r"source tensor shape must match self tensor shape, excluding the "
                      r"specified dimension. Got self.shape = \[3, 4\] source.shape = \[2, 1\]")
    check_error(lambda lib, a: a.index_add(1, lib.tensor([0]), lib.ones(3, 1).double()), a,
                match=r"self \(Float\) and source \(Double\) must have the same scalar type")
    check_error(lambda lib, a: a.index_add(1, lib.tensor([[0]]), lib.ones(3, 1)), a,
                match="Index is supposed to be a vector, but got dim: 2 with type: Long and "
                      r"size: \[1, 1\]")
    check_error(lambda lib, a: a.index_add(1, lib.tensor([9]), lib.ones(3, 1)), a,
                match="index 9 is out of bounds for dimension 1 with size 4")
    check_error(lambda lib, a: a.index_add(1, lib.tensor([0.0]), lib.ones(3, 1)), a,
                match="Expected dtype int32/int64 for index but got: Float")
    check_error(lambda lib, a: a.index_copy(1, lib.tensor([0], dtype=lib.int32),
                                            lib.ones(3, 1)), a,
                match="Expected a long tensor for index, but got Int")
    check_error(lambda lib, a: a.index_copy(1, lib.tensor([7]), lib.ones(3, 1)), a,
                match="index_copy_\\(\\): index 7 is out of bounds for dimension 1 with size 4")
    check_error(lambda lib, a: a.index_copy(1, lib.tensor([0]), lib.ones(3, 2)), a,
                match=r"Number of indices \(1\) should be equal to source.size\(dim\) \(2\)")
    check_error(lambda lib, a: a.index_copy(1, lib.tensor([0]), lib.ones(2, 1)), a,
                match="Destination slice shape: 3 at dimension 1 and source slice shape: 2 at "
                      "dimension 0.")
    check_error(lambda lib, a: a.index_copy(1, lib.tensor([0]), lib.ones(3, 1).double()), a,
                match=r"same dtype, but got \(self\) Float and \(source\) Double")
    check_error(lambda lib, a: a.index_fill(1, lib.tensor([0], dtype=lib.int32), 1.0), a,
                match="index_fill_\\(\\): Expected dtype int64 for index.")
    check_error(lambda lib, a: a.index_fill(1, lib.tensor([7]), 1.0), a,
                match="index 7 is out of bounds for dimension 1 with size 4")
    check_error(lambda lib, a: a.index_fill(1, lib.tensor([[0]]), 1.0), a,
                match="Index has to be a vector/scalar")
    check_error(lambda lib, a: a.index_fill(1, lib.tensor([0]), lib.tensor([1.0])), a,
                match="only supports a 0-dimensional value tensor, but got tensor with 1 dim")


# ----------------------------------------------------------------- masked_*
def test_masked_fill():
    m = np.random.default_rng(0).random((3, 4)) > 0.5
    e, t = check(lambda lib, a, m: a.masked_fill(m, -2.0), randn(3, 4), m)
    assert e.grad_fn.name() == "MaskedFillBackward0"
    e, t = check(lambda lib, a, m, v: lib.masked_fill(a, m, v), randn(3, 4), m, randn())
    assert e.grad_fn.name() == "MaskedFillBackward1"
    check(lambda lib, a, m: a.masked_fill(m, 1.0), randn(4), m[:2, :1])  # both broadcast
    check(lambda lib, a, m: a.masked_fill(m, 1.5), np.arange(4), m[0], grad=False)
    check(lambda lib, a, m: a.masked_fill(m, lib.tensor(1.5, dtype=lib.float64)),
          randn(3, 4).astype(np.float32), m)
    check(lambda lib, a, m: a.T.masked_fill(m.T, 0), randn(3, 4), m)
    check(lambda lib, a, m: (a * 1).masked_fill_(m, 3.0), randn(3, 4), m[0])
    check(lambda lib, a, m: a.clone().masked_fill_(m, 3), np.zeros((3, 4), np.float16), m,
          grad=False)
    check_error(lambda lib, a, m: a.masked_fill_(m, 1.0), randn(4), m[:2, :1],
                match=r"output with shape \[4\] doesn't match the broadcast shape \[2, 4\]")
    check_error(lambda lib, a: a.masked_fill(lib.ones(3, 4, dtype=lib.uint8), 1.0), randn(3, 4),
                match="only supports boolean masks, but got mask with dtype unsigned char")
    check_error(lambda lib, a: a.masked_fill(lib.ones(3, 4, dtype=lib.long), 1.0), randn(3, 4),
                match="but got mask with dtype long int")
    check_error(lambda lib, a, m: a.masked_fill(m, lib.tensor([1.0])), randn(3, 4), m,
                match="only supports a 0-dimensional value tensor, but got tensor with 1")
    check_error(lambda lib, a: a.masked_fill(lib.ones(3, dtype=lib.bool), 1.0), randn(3, 4),
                match=r"The size of tensor a \(3\) must match the size of tensor b \(4\) at "
                      "non-singleton dimension 1")


def test_masked_select_and_scatter():
    m = np.random.default_rng(0).random((3, 4)) > 0.5
    e, t = check(lambda lib, a, m: a.masked_select(m), randn(3, 4), m)
    assert e.grad_fn.name() == "MaskedSelectBackward0"
    check(lambda lib, a, m: lib.masked_select(a, m), randn(4), m)  # input broadcasts
    check(lambda lib, a, m: a.masked_select(m), randn(3, 4), m[:, :1])  # mask broadcasts
    e, t = check(lambda lib, a, m, s: a.masked_scatter(m, s), randn(3, 4), m, randn(4, 4))
    assert e.grad_fn.name() == "MaskedScatterBackward0"
    check(lambda lib, a, m, s: lib.masked_scatter(a, m, s), randn(4), m, randn(12))
    check(lambda lib, a, m, s: (a * 1).masked_scatter_(m[0], s), randn(3, 4), m, randn(2, 3))
    check_error(lambda lib, a: a.masked_select(lib.tensor([1, 0, 1, 0])), randn(4),
                match="masked_select: expected BoolTensor for mask")
    check_error(lambda lib, a, m: a.masked_scatter(m, lib.tensor([1.0], dtype=lib.float64)),
                randn(3, 4), m,
                match="Number of elements of source < number of ones in mask")
    check_error(lambda lib, a, m: a.masked_scatter(m, lib.ones(12)), randn(3, 4), m,
                match="expected self and source to have same dtypes but gotDouble and Float")
    check_error(lambda lib, a: a.masked_scatter(lib.tensor([1, 0, 1, 0]), lib.ones(4)),
                np.zeros(4, np.float32), match="only supports boolean masks, but got mask with "
                                               "dtype Long")


def test_inplace_plumbing_copyslices_uses_masked_fill():
    # An in-place op on a view gives the base a CopySlices node whose backward masks the region.
    def fn(lib, a):
        b = a * 1
        b[1:, 2].mul_(3.0)
        return b
    e, t = check(fn, randn(3, 4))
    assert e.grad_fn.name() == t.grad_fn.name() == "torch::autograd::CopySlices"


# ----------------------------------------------------------------- take / take_along_dim
def test_take_and_take_along_dim():
    e, t = check(lambda lib, a, i: a.take(i), randn(3, 4), np.array([[0, -1], [11, 5], [5, 5]]))
    assert e.grad_fn.name() == "TakeBackward0"
    check(lambda lib, a, i: lib.take(a.T, i), randn(3, 4), np.array([1, 4, 4]))
    check(lambda lib, a, i: a.take(i), randn(), np.array(0))
    check(lambda lib, a, i: a.take_along_dim(i, 1), randn(3, 4), np.array([[0], [1], [-1]]))
    check(lambda lib, a, i: lib.take_along_dim(a, i), randn(3, 4), np.array([0, 5, 5]))
    check(lambda lib, a, i: lib.take_along_dim(a, i, dim=0), randn(3, 4), np.array([[2], [0]]))
    check(lambda lib, a, i: a.take_along_dim(i, 2), randn(1, 3, 4), np.array([[[3, 0]]] * 2))
    check_error(lambda lib, a: a.take(lib.tensor([12])), randn(3, 4),
                match="out of range: tried to access index 12 on a tensor of 12 elements.")
    check_error(lambda lib, a: a.take(lib.tensor([1], dtype=lib.int32)), randn(3, 4),
                match="take\\(\\): Expected a long tensor for index, but got Int")
    check_error(lambda lib, a: a.take(lib.tensor([0])), randn(0),
                match="tried to take from an empty tensor")
    check_error(lambda lib, a: a.take_along_dim(lib.tensor([1]), 1), randn(3, 4),
                match="input and indices should have the same number of dimensions, but got 2 "
                      "dimensions for input, and 1 dimensions for indices")
    check_error(lambda lib, a: a.take_along_dim(lib.tensor([[1]], dtype=lib.int32), 1),
                randn(3, 4), match="dtype of indices should be Long but got Int")
    check_error(lambda lib, a: a.take_along_dim(lib.tensor([[0, 1]]), 0), randn(3, 4),
                match=r"The size of tensor a \(4\) must match the size of tensor b \(2\)")


# ----------------------------------------------------------------- nonzero
def test_nonzero_argwhere():
    a = np.array([[0.0, 1.5, 0.0], [2.0, 0.0, -1.0]])
    for x in (a, a.astype(bool), a.astype(I64), np.array(3.0), np.array(0), np.zeros((2, 0))):
        check(lambda lib, x: lib.nonzero(x), x, grad=False)
        check(lambda lib, x: x.nonzero(as_tuple=True), x, grad=False)
        check(lambda lib, x: lib.argwhere(x), x, grad=False)
        check(lambda lib, x: x.argwhere(), x, grad=False)
    e, t = check(lambda lib, x: x.nonzero(), a)  # float input: indices carry no grad
    assert not e.requires_grad



# ----------------------------------------------------------------- sort / topk / kthvalue
TIES = np.array([[3.0, 1.0, 2.0, 1.0, np.nan, 2.0], [0.0, -1.0, 5.0, 5.0, 0.0, np.inf]])


@pytest.mark.parametrize("descending", [False, True])
def test_sort_is_stable_with_nan_and_ties(descending):
    e, t = check(lambda lib, a: lib.sort(a, descending=descending, stable=True), TIES)
    assert e.values.grad_fn.name() == "SortBackward0"
    assert repr(e).startswith("torch.return_types.sort(\nvalues=tensor(")
    check(lambda lib, a: a.sort(0, descending), TIES)
    check(lambda lib, a: a.T.sort(dim=0, descending=descending), TIES)
    check(lambda lib, a: lib.argsort(a, descending=descending, stable=True), TIES, grad=False)
    check(lambda lib, a: a.argsort(0, descending), TIES, grad=False)
    import ml_dtypes
    for dt in (np.float32, np.float16, ml_dtypes.bfloat16, np.int64, np.int8, bool):
        check(lambda lib, a: a.sort(descending=descending, stable=True),
              np.nan_to_num(TIES, posinf=7).astype(dt), grad=False)


def test_sort_edge_cases():
    check(lambda lib, a: a.sort(), randn())
    check(lambda lib, a: lib.sort(a, dim=0), randn(0, 3))
    check(lambda lib, a: lib.msort(a), randn(4, 3))
    check(lambda lib, a: a.msort(), randn())
    check(lambda lib, a: lib.argsort(a), randn(), grad=False)
    check_error(lambda lib, a: a.sort(dim=1), randn(), match="Dimension out of range")
    check(lambda lib, a: a.sort(stable=True), np.random.default_rng(0).integers(0, 3, 500)
          .astype(np.float64))  # many ties: indices must match torch's stable order


def test_topk():
    a = randn(3, 7)
    e, t = check(lambda lib, a: a.topk(3), a)
    assert e.values.grad_fn.name() == "TopkBackward0"
    check(lambda lib, a: lib.topk(a, 2, dim=0, largest=False), a)
    check(lambda lib, a: a.topk(0), a)
    check(lambda lib, a: a.topk(7, largest=False), a)
    check(lambda lib, a: a.topk(1), randn())
    check(lambda lib, a: a.topk(2), np.array([1.0, np.nan, 3.0, -2.0]))
    check(lambda lib, a: a.topk(2, largest=False), np.array([1.0, np.nan, 3.0, -2.0]))
    check(lambda lib, a: a.topk(3), np.array([5, 1, 9, 3], dtype=I64), grad=False)
    big = np.random.default_rng(0).permutation(5000).astype(np.float64).reshape(2, 2500)
    check(lambda lib, a: a.topk(10), big)  # the partition-first path
    check(lambda lib, a: a.topk(10, largest=False), big)
    check(lambda lib, a: a.topk(5, dim=0), big.T.copy())
    e, t = ember.tensor(a).topk(3, sorted=False), torch.tensor(a).topk(3, sorted=False)
    assert np.array_equal(np.sort(e.values.numpy()), np.sort(t.values.numpy()))
    check_error(lambda lib, a: a.topk(8), a, match="selected index k out of range")
    check_error(lambda lib, a: a.topk(-1), a, match="selected index k out of range")


def test_kthvalue():
    a = randn(3, 7)
    e, t = check(lambda lib, a: a.kthvalue(2), a)
    assert e.values.grad_fn.name() == "KthvalueBackward0"
    check(lambda lib, a: lib.kthvalue(a, 3, 0, True), a)
    check(lambda lib, a: lib.kthvalue(a, 3, 0), a)
    check(lambda lib, a: a.kthvalue(1), randn())
    check(lambda lib, a: a.kthvalue(3), np.array([1.0, np.nan, 3.0]))
    check(lambda lib, a: a.kthvalue(2, keepdim=True), np.array([[4, 1, 3]], dtype=I64),
          grad=False)
    check_error(lambda lib, a: a.kthvalue(8), a,
                match="kthvalue\\(\\): selected number k out of range for dimension 1")
    check_error(lambda lib, a: a.kthvalue(0, 0), a, match="out of range for dimension 0")


# ----------------------------------------------------------------- unique
Y = np.array([3, 1, 2, 1, 3, 3])


@pytest.mark.parametrize("inverse", [False, True])
@pytest.mark.parametrize("counts", [False, True])
def test_unique_flags(inverse, counts):
    check(lambda lib, a: lib.unique(a, return_inverse=inverse, return_counts=counts), Y,
          grad=False)
    check(lambda lib, a: a.unique(True, inverse, counts), Y.reshape(2, 3), grad=False)
    rows = np.array([[1, 2], [1, 2], [0, 1], [1, 2]])
    check(lambda lib, a: lib.unique(a, dim=0, return_inverse=inverse, return_counts=counts),
          rows, grad=False)
    check(lambda lib, a: lib.unique(a, dim=-1, return_inverse=inverse, return_counts=counts),
          rows.T.copy(), grad=False)
    check(lambda lib, a: lib.unique_consecutive(a, return_inverse=inverse,
                                                return_counts=counts), Y, grad=False)
    check(lambda lib, a: a.unique_consecutive(inverse, counts, 0), rows, grad=False)


def test_unique_dtypes_nan_and_edges():
    check(lambda lib, a: lib.unique(a), np.array([1.0, np.nan, np.nan, 0.0, 1.0]), grad=False)
    check(lambda lib, a: lib.unique(a, sorted=False), Y, grad=False)
    check(lambda lib, a: lib.unique(a), np.array([True, False, True]), grad=False)
    check(lambda lib, a: lib.unique(a, return_inverse=True), np.array(3), grad=False)
    check(lambda lib, a: lib.unique(a, return_inverse=True, return_counts=True), randn(0),
          grad=False)
    check(lambda lib, a: lib.unique_consecutive(a, return_inverse=True, return_counts=True),
          np.array(3), grad=False)
    import ml_dtypes
    check(lambda lib, a: lib.unique(a, return_counts=True),
          np.array([2.0, 1.0, 2.0, -1.0]).astype(ml_dtypes.bfloat16), grad=False)
    check_error(lambda lib, a: lib.unique(a, dim=0), np.array(3),
                match="Dimension specified as 0 but tensor has no dimensions")


def test_unique_is_not_differentiable():
    e = ember.unique(ember.tensor([2.0, 1.0, 2.0], requires_grad=True))
    t = torch.unique(torch.tensor([2.0, 1.0, 2.0], requires_grad=True))
    assert_same(e, t)
    assert e.requires_grad and e.grad_fn.name() == t.grad_fn.name() == "Unique2Backward0"
    assert ember.unique(ember.ones(2, 2, requires_grad=True), dim=0).grad_fn.name() == \
        "UniqueDimBackward0"
    for name, f in (("_unique2", lambda lib, a: lib.unique(a)),
                    ("unique_dim", lambda lib, a: lib.unique(a, dim=0)),
                    ("unique_consecutive", lambda lib, a: lib.unique_consecutive(a))):
        check_error(lambda lib, a, f=f: f(lib, a.requires_grad_()).sum().backward(), randn(3),
                    match=f"the derivative for '{name}' is not implemented.")


# ----------------------------------------------------------------- more setitem / views / 2nd order
def test_setitem_through_transposed_view_and_view_chains():
    def fn(lib, a):
        b = a.clone()
        t = b.T  # non-contiguous view
        t[1:, [0, 2]] = 7.0
        t[0] = lib.arange(4, dtype=lib.float64)
        return b
    check(fn, randn(4, 3), grad=False)

    def chain(lib, a):
        b = a * 1
        v = b[1:][:, 1:3]
        v.mul_(2.0)  # an in-place op on a view of a view
        v[0, 0] = 5.0
        return b
    e, t = check(chain, randn(4, 5))
    assert e.grad_fn.name() == t.grad_fn.name()


def test_setitem_cross_dtype_value_with_grad():
    def fn(lib, a, v):
        b = a * 1
        b[0] = v.float()  # basic setitem casts; the grad flows back through the cast
        b[1:3, 0] = v[:2].sum()
        return b
    check(fn, randn(3, 4), randn(4, seed=1))

    def zero_dim(lib, a, v):
        b = a * 1
        b[[0, 2], [1, 1]] = v
        return b
    check(zero_dim, randn(3, 4), randn())


def test_setitem_on_expanded_tensor_and_uint8_mask():
    x = ember.zeros(3).expand(4, 3)
    with pytest.raises(RuntimeError, match="more than one element of the written-to tensor"):
        x[0] = ember.ones(3)
    with pytest.warns(UserWarning, match="indexing with dtype torch.uint8 is now deprecated"):
        out = ember.arange(4.0)[ember.tensor([1, 0, 1, 0], dtype=ember.uint8)]
    assert out.tolist() == [0.0, 2.0]


def test_values_with_leading_ones():
    check_error(lambda lib, a, i, v: a.index_put((i,), v), randn(4, 3), np.array([0, 2]),
                randn(1, 1, 2, 3), match=r"value tensor of shape \[1, 1, 2, 3\] cannot be")

    def fn(lib, a, i, v):  # setitem drops them
        b = a * 1
        b[i] = v
        return b
    check(fn, randn(4, 3), np.array([0, 2]), randn(1, 1, 2, 3))


def test_second_order_through_indexing_ops():
    i = np.array([[0, 2], [1, 1], [2, 0]])

    def fn(lib, a, w):
        y = (a * w).gather(1, lib.tensor(i)).pow(2).sum() \
            + (a[[0, 0, 2], 1:] * w[0, 1:]).pow(2).sum() \
            + a.index_select(0, lib.tensor([2, 2])).pow(3).sum() \
            + (a * w).masked_select(a > 0).pow(2).sum() + a.take(lib.tensor([5, 5])).pow(3).sum()
        ga, = lib.autograd.grad(y, a, create_graph=True)
        return (ga * w).sum()
    check(fn, randn(3, 3), randn(3, 3, seed=1))

    def topk_sort(lib, a):
        y = a.sort(dim=0)[0].pow(3).sum() + a.topk(2)[0].pow(3).sum() + \
            a.kthvalue(2)[0].pow(3).sum()
        ga, = lib.autograd.grad(y, a, create_graph=True)
        return ga.pow(2).sum()
    check(topk_sort, randn(3, 4))


@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_gather_scatter_add_random_shapes(data):
    shape = data.draw(st.lists(st.integers(1, 4), min_size=1, max_size=3))
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    ishape = [data.draw(st.integers(0, s)) for s in shape]
    ishape[dim] = data.draw(st.integers(0, 5))
    seed = data.draw(st.integers(0, 2**16))
    idx = np.random.default_rng(seed).integers(0, shape[dim], ishape)
    check(lambda lib, a, i: a.gather(dim, i), randn(*shape, seed=seed), idx)
    check(lambda lib, a, i, s: a.scatter_add(dim, i, s), randn(*shape, seed=seed), idx,
          randn(*ishape, seed=seed + 1))
    check(lambda lib, a, i, s: a.index_put((i,), s, accumulate=True), randn(*shape, seed=seed),
          idx % shape[0], randn(*ishape, *shape[1:], seed=seed + 2))


def test_augmented_assignment_and_zero_dim_put_indices():
    def fn(lib, a, v):
        b = a * 1
        b[0] += v[0]
        b[[0, 2, 2]] += v  # reads, adds, writes back: repeats are not accumulated
        b[:, 1] *= 2
        return b
    check(fn, randn(3, 4), randn(4, seed=1))
    check(lambda lib, a, v: a.index_put((lib.tensor(1), lib.tensor([0, 2])), v), randn(3, 4),
          randn())


def test_inplace_ops_write_through_transposed_views_without_grad():
    i = np.array([0, 2, 0])

    def fn(lib, a):
        b = a.clone()
        t = b.T  # (4, 3), non-contiguous: every op below must write into b's memory
        t.index_add_(0, lib.tensor(i), lib.ones(3, 3, dtype=lib.float64), alpha=2)
        t.scatter_add_(1, lib.tensor([[0, 0], [2, 1]]), lib.ones(2, 2, dtype=lib.float64))
        t.scatter_(1, lib.tensor([[1], [1]]), -5.0)
        t.scatter_reduce_(0, lib.tensor([[3, 3, 3]]), lib.full((1, 3), 9.0, dtype=lib.float64),
                          "amax")
        t.index_fill_(1, lib.tensor([2]), 0.5)
        t.index_copy_(0, lib.tensor([1]), lib.zeros(1, 3, dtype=lib.float64))
        t.masked_fill_(lib.tensor([True, False, True]), 7.0)
        t.masked_scatter_(lib.tensor([[False, True, False]]), lib.arange(10.0, dtype=lib.float64))
        t.index_put_((lib.tensor([0, 0]), lib.tensor([1, 1])), lib.tensor(1.0, dtype=lib.float64),
                     accumulate=True)
        return b
    check(fn, randn(3, 4), grad=False)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float32"])
def test_scatter_family_half_precision(dtype):
    import ml_dtypes
    dt = ml_dtypes.bfloat16 if dtype == "bfloat16" else np.dtype(dtype)
    a, s = randn(3, 4).astype(dt), randn(3, 3, seed=1).astype(dt)
    check(lambda lib, a, i, s: a.gather(1, i) * 2 + a.scatter_add(1, i, s).sum(), a, IDX, s)
    check(lambda lib, a, i, s: a.index_add(1, i[0], s), a, IDX, s)
    for reduce in ("sum", "prod", "amax"):
        check(lambda lib, a, i, s, r=reduce: a.scatter_reduce(1, i, s, r), a, IDX, s)
    check(lambda lib, a, i: a.T[i[2]].sort(dim=0).values, a, IDX)
