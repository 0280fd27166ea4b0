"""Random numbers: generators and seeding, the distributions' statistics, shapes, dtypes,
argument errors and autograd behaviour, each compared with torch where torch is defined.

ember cannot reproduce torch's streams, so values are checked statistically (large
samples, tolerances of several standard errors) and for reproducibility under seeds.
"""
import pickle
import warnings

import numpy as np
import pytest
import torch
from oracle import check_error

import ember


@pytest.fixture(autouse=True)
def seeded():
    ember.manual_seed(0)  # statistical checks then see the same numbers on every run


def meta(x):
    """What must agree with torch for a random result: shape, dtype, autograd state."""
    name = x.grad_fn.name().rsplit("::", 1)[-1] if x.grad_fn is not None else None
    return tuple(x.shape), str(x.dtype), x.requires_grad, name


def same_meta(fn, *args):
    e, t = fn(ember, *args), fn(torch, *args)
    assert meta(e) == meta(t), f"ember {meta(e)} vs torch {meta(t)}"
    return e


def arr(x) -> np.ndarray:
    return np.asarray(x.detach().numpy(), dtype=np.float64)


# ----------------------------------------------------------------- generators and seeding
def test_generator_seed_api_matches_torch():
    for lib in (ember, torch):
        g = lib.Generator()
        assert g.device == lib.device("cpu") and str(g.device) == "cpu"
        assert g.initial_seed() == 67280421310721
        assert g.manual_seed(5) is g and g.initial_seed() == 5
        assert g.manual_seed(-1).initial_seed() == 2 ** 64 - 1
        assert g.manual_seed(2 ** 64 - 1).initial_seed() == 2 ** 64 - 1
        s = g.seed()
        assert g.initial_seed() == s and 0 <= s < 2 ** 64
    assert ember.Generator("cpu:0").device == ember.device("cpu")
    assert ember.random.default_generator is ember.default_generator


@pytest.mark.parametrize("bad", [2 ** 64, -(2 ** 63) - 1, 1.5, True])
def test_generator_manual_seed_errors(bad):
    check_error(lambda lib: lib.Generator().manual_seed(bad))


def test_top_level_manual_seed_converts_like_torch():
    for lib in (ember, torch):
        assert lib.manual_seed(1.5).initial_seed() == 1
        assert lib.manual_seed("7").initial_seed() == 7
        assert lib.initial_seed() == 7
        assert lib.manual_seed(-1).initial_seed() == 2 ** 64 - 1
    check_error(lambda lib: lib.manual_seed(2 ** 64))
    s = ember.seed()
    assert ember.initial_seed() == s


def test_same_seed_same_numbers_and_seeds_differ():
    ember.manual_seed(123)
    a = ember.rand(5), ember.randn(3), ember.randint(0, 100, (4,)), ember.randperm(6)
    ember.manual_seed(123)
    b = ember.rand(5), ember.randn(3), ember.randint(0, 100, (4,)), ember.randperm(6)
    for x, y in zip(a, b):
        assert np.array_equal(x.numpy(), y.numpy())
    ember.manual_seed(124)
    assert not np.array_equal(ember.rand(5).numpy(), a[0].numpy())


def test_generators_are_independent():
    g1, g2 = ember.Generator().manual_seed(1), ember.Generator().manual_seed(1)
    ember.manual_seed(0)
    first = ember.rand(4, generator=g1).numpy()
    ember.rand(100)  # the default generator does not move g1/g2
    ember.rand(100, generator=g1)  # nor does g1 move g2
    assert np.array_equal(ember.rand(4, generator=g2).numpy(), first)
    ember.manual_seed(0)
    d1 = ember.rand(3).numpy()
    ember.manual_seed(0)
    ember.rand(3, generator=g1)
    assert np.array_equal(ember.rand(3).numpy(), d1)


def test_state_round_trips():
    g = ember.Generator().manual_seed(9)
    ember.rand(7, generator=g)  # advance the stream a little
    st = g.get_state()
    assert st.dtype is ember.uint8 and st.dim() == 1
    a = ember.randn(5, generator=g).numpy()
    g.manual_seed(77)
    g.set_state(st)
    assert g.initial_seed() == 9
    assert np.array_equal(ember.randn(5, generator=g).numpy(), a)
    # a state taken between draws of mixed types (float32 uses half of a 64-bit word)
    ember.rand(3, generator=g)
    st = g.get_state()
    b = ember.rand(3, generator=g).numpy(), ember.randint(0, 9, (3,), generator=g).numpy()
    g.set_state(st)
    assert np.array_equal(ember.rand(3, generator=g).numpy(), b[0])
    assert np.array_equal(ember.randint(0, 9, (3,), generator=g).numpy(), b[1])


def test_global_rng_state_round_trips():
    ember.manual_seed(3)
    st = ember.get_rng_state()
    a = ember.rand(4).numpy()
    ember.set_rng_state(st)
    assert np.array_equal(ember.rand(4).numpy(), a)
    assert ember.random.get_rng_state().dtype is ember.uint8


def test_set_state_errors_match_torch():
    check_error(lambda lib: lib.Generator().set_state([1, 2]), match="ByteTensor")
    check_error(lambda lib: lib.Generator().set_state(lib.zeros(3)),
                match="RNG state must be a torch.ByteTensor")
    check_error(lambda lib: lib.Generator().set_state(lib.zeros(5, dtype=lib.uint8)),
                match="size to be 5")
    check_error(lambda lib: lib.set_rng_state(lib.zeros(3)))


def test_generator_pickles_with_its_state():
    g = ember.Generator().manual_seed(11)
    ember.rand(5, generator=g)
    h = pickle.loads(pickle.dumps(g))
    assert h.initial_seed() == 11
    assert np.array_equal(ember.rand(4, generator=g).numpy(), ember.rand(4, generator=h).numpy())


def test_fork_rng_restores_the_cpu_state():
    ember.manual_seed(5)
    with ember.random.fork_rng():
        inside = ember.rand(3).numpy()
    assert np.array_equal(ember.rand(3).numpy(), inside)
    ember.manual_seed(5)
    with ember.random.fork_rng(enabled=False):
        ember.rand(3)
    assert not np.array_equal(ember.rand(3).numpy(), inside)
    with pytest.raises(KeyError), ember.random.fork_rng(devices=[]):
        ember.rand(2)
        raise KeyError  # the state comes back even when the block raises
    ember.manual_seed(5)
    assert np.array_equal(ember.rand(3).numpy(), inside)


def test_cuda_seed_is_remembered_without_importing_cupy():
    import subprocess
    import sys
    code = ("import sys, ember; ember.manual_seed(42); ember.seed(); "
            "ember.manual_seed(42)\nwith ember.random.fork_rng(): ember.rand(2)\n"
            "print(ember.random._cuda_seed[0], 'cupy' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["42", "False"]


def test_generator_argument_errors():
    check_error(lambda lib: lib.rand(3, generator=5))
    check_error(lambda lib: lib.Generator(device="meta"), match="not an accelerator")


# ----------------------------------------------------------------- factories: shape/dtype
@pytest.mark.parametrize("fn", [
    lambda lib: lib.rand(2, 3),
    lambda lib: lib.rand((2, 3)),
    lambda lib: lib.rand([]),
    lambda lib: lib.rand(0),
    lambda lib: lib.rand(size=(2,)),
    lambda lib: lib.rand(4, dtype=lib.float64),
    lambda lib: lib.rand(4, dtype=lib.float16),
    lambda lib: lib.rand(4, dtype=lib.bfloat16),
    lambda lib: lib.rand(2, requires_grad=True),
    lambda lib: lib.randn(3, 1),
    lambda lib: lib.randn(size=(2,), dtype=lib.float64, requires_grad=True),
    lambda lib: lib.randn(5, dtype=lib.float16),
    lambda lib: lib.randint(10, (3,)),
    lambda lib: lib.randint(3, 5, (2, 2)),
    lambda lib: lib.randint(10, ()),
    lambda lib: lib.randint(10, (0,)),
    lambda lib: lib.randint(high=10, size=(2,)),
    lambda lib: lib.randint(low=2, high=10, size=[2]),
    lambda lib: lib.randint(0, 10, (3,), dtype=lib.float32),
    lambda lib: lib.randint(0, 10, (3,), dtype=lib.float32, requires_grad=True),
    lambda lib: lib.randint(0, 2, (3,), dtype=lib.bool),
    lambda lib: lib.randint(-128, 128, (3,), dtype=lib.int8),
    lambda lib: lib.randint(lib.tensor(10), (2,)),
    lambda lib: lib.randint(np.int64(10), (2,)),
    lambda lib: lib.randperm(5),
    lambda lib: lib.randperm(0),
    lambda lib: lib.randperm(n=4, dtype=lib.float64),
    lambda lib: lib.randperm(256, dtype=lib.uint8),
    lambda lib: lib.randperm(2049, dtype=lib.float16),
    lambda lib: lib.randperm(lib.tensor(3)),
    lambda lib: lib.randperm(4, dtype=lib.float32, requires_grad=True),
    lambda lib: lib.rand_like(lib.ones(2, 3, dtype=lib.float64)),
    lambda lib: lib.rand_like(lib.ones(2, dtype=lib.int64), dtype=lib.float32),
    lambda lib: lib.rand_like(lib.ones(2), requires_grad=True),
    lambda lib: lib.rand_like(lib.ones(2, requires_grad=True)),
    lambda lib: lib.randn_like(lib.ones(2, 3, dtype=lib.float16)),
    lambda lib: lib.randint_like(lib.ones(3, dtype=lib.int32), 10),
    lambda lib: lib.randint_like(lib.ones(3), 3, 10),
    lambda lib: lib.randint_like(lib.ones(3), high=5),
    lambda lib: lib.randint_like(lib.ones(2, dtype=lib.bool), 2),
    lambda lib: lib.normal(0.0, 1.0, (2, 3)),
    lambda lib: lib.normal(0, 1, [2]),
    lambda lib: lib.normal(2.0, 3.0, (2,), dtype=lib.float64, requires_grad=True),
    lambda lib: lib.normal(lib.zeros(2, 3), lib.ones(3)),
    lambda lib: lib.normal(lib.zeros(2, 3, dtype=lib.float64), lib.ones(3)),
    lambda lib: lib.normal(lib.zeros(3, dtype=lib.float16), lib.ones(3, dtype=lib.float64)),
    lambda lib: lib.normal(lib.zeros(3), lib.ones(3, dtype=lib.int64)),
    lambda lib: lib.normal(lib.zeros(()), lib.ones(2)),
    lambda lib: lib.normal(lib.zeros(3, dtype=lib.float64), 2),
    lambda lib: lib.normal(lib.zeros(3)),
    lambda lib: lib.normal(1.0, lib.ones(3, dtype=lib.float64)),
    lambda lib: lib.bernoulli(lib.full((3, 2), 0.5)),
    lambda lib: lib.bernoulli(lib.full((3,), 0.5, dtype=lib.float64)),
    lambda lib: lib.bernoulli(lib.zeros(3, dtype=lib.float16)),
    lambda lib: lib.bernoulli(lib.zeros(3), 0.3),
    lambda lib: lib.bernoulli(lib.tensor([1, 0]), 0.5),
    lambda lib: lib.ones(2, 3).bernoulli(0.5),
    lambda lib: lib.multinomial(lib.tensor([0.1, 0.2, 0.7]), 2),
    lambda lib: lib.multinomial(lib.ones(2, 3), 4, True),
    lambda lib: lib.multinomial(lib.ones(0, 3), 1),
    lambda lib: lib.multinomial(lib.ones(2, 3, dtype=lib.float16), 2),
    lambda lib: lib.multinomial(lib.ones(3, requires_grad=True), 2),
    lambda lib: lib.ones(4).multinomial(2),
    lambda lib: lib.poisson(lib.tensor([1.0, 5.0])),
    lambda lib: lib.poisson(lib.tensor(3.0, dtype=lib.float64)),
    lambda lib: lib.poisson(lib.zeros(0)),
    lambda lib: lib.poisson(lib.ones(2, dtype=lib.float16)),
], ids=lambda f: f.__code__.co_firstlineno)
def test_factory_shapes_dtypes_and_flags_match_torch(fn):
    same_meta(fn)


def test_float32_draws_stay_float32():
    assert ember.rand(3)._data.dtype == np.float32
    assert ember.randn(3)._data.dtype == np.float32
    x = ember.zeros(3)
    for fill in (lambda: x.uniform_(-2, 2), lambda: x.normal_(1, 2), x.exponential_,
                 x.log_normal_, x.cauchy_, lambda: x.geometric_(0.5), x.random_):
        fill()
        assert x._data.dtype == np.float32


# ----------------------------------------------------------------- argument errors
@pytest.mark.parametrize("fn,match", [
    (lambda lib: lib.rand(2, dtype=lib.int64), "check_uniform_bounds"),
    (lambda lib: lib.randn(2, dtype=lib.int32), "normal_kernel_cpu"),
    (lambda lib: lib.rand(-1), r"negative dimension -1: \[-1\]"),
    (lambda lib: lib.randn(2, -1), r"negative dimension -1: \[2, -1\]"),
    (lambda lib: lib.rand(2.5), "must be tuple of ints, not float"),
    (lambda lib: lib.randint(5, 3, (3,)), "from=5 >= to=3"),
    (lambda lib: lib.randint(5, 5, (3,)), "from=5 >= to=5"),
    (lambda lib: lib.randint(5), None),
    (lambda lib: lib.randint(0.5, 2.7, (3,)), None),
    (lambda lib: lib.randint(0, 10, 3), None),
    (lambda lib: lib.randint(0, 300, (3,), dtype=lib.uint8), "to - 1 is out of bounds for "
                                                              "unsigned char"),
    (lambda lib: lib.randint(0, 3, (3,), dtype=lib.bool), "out of bounds for bool"),
    (lambda lib: lib.randint(-1, 2, (3,), dtype=lib.uint8), "from is out of bounds"),
    (lambda lib: lib.randint(2 ** 40, (2,), dtype=lib.int32), "out of bounds for int"),
    (lambda lib: lib.randint(0, 2 ** 20, (2,), dtype=lib.float16), r"c10::Half"),
    (lambda lib: lib.randint(0, 10, (3,), requires_grad=True), "floating point"),
    (lambda lib: lib.randperm(-1), "negative dimension"),
    (lambda lib: lib.randperm(4.0), "must be int, not float"),
    (lambda lib: lib.randperm(3000, dtype=lib.float16), "greater than 2049 for Half"),
    (lambda lib: lib.randperm(257, dtype=lib.uint8), "uint8_t without overflow"),
    (lambda lib: lib.randperm(3, dtype=lib.bool), "not implemented for 'Bool'"),
    (lambda lib: lib.randperm(5, requires_grad=True), "floating point"),
    (lambda lib: lib.rand_like(lib.ones(3, dtype=lib.int32)), "'Int'"),
    (lambda lib: lib.randn_like(lib.ones(3, dtype=lib.int64)), "'Long'"),
    (lambda lib: lib.randint_like(lib.ones(2, dtype=lib.bool), 3), "bool"),
    (lambda lib: lib.normal(0.0, -1.0, (2, 3)), "found std -1"),
    (lambda lib: lib.normal(0.0, 1.0), None),
    (lambda lib: lib.normal(0.0, 1.0, 3), None),
    (lambda lib: lib.normal(lib.zeros(3), 1.0, (3,)), None),
    (lambda lib: lib.normal(lib.zeros(3), -1.0), "found std -1"),
    (lambda lib: lib.normal(lib.zeros(3), float("nan")), "found std nan"),
    (lambda lib: lib.normal(lib.zeros(3), -lib.ones(3)), "all elements of std >= 0.0"),
    (lambda lib: lib.normal(lib.zeros(3), lib.tensor([1.0, float("nan"), 1.0])), "all elements"),
    (lambda lib: lib.normal(lib.zeros(2, 3), lib.ones(4)), "must match the size"),
    (lambda lib: lib.normal(lib.zeros(3, dtype=lib.int64), lib.ones(3)), "'Long'"),
    (lambda lib: lib.normal(lib.zeros(3, dtype=lib.int64), 1.0), "'Long'"),
    (lambda lib: lib.normal(1.0, lib.ones(3, dtype=lib.int64)), "'Long'"),
    (lambda lib: lib.normal(0, 1, (2,), dtype=lib.int64), "'Long'"),
    (lambda lib: lib.bernoulli(lib.tensor([0.5, 2.0])), r"p_in >= 0 && p_in <= 1"),
    (lambda lib: lib.bernoulli(lib.tensor([0.5, float("nan")])), r"p_in >= 0"),
    (lambda lib: lib.bernoulli(lib.tensor([1, 0])), "bernoulli_tensor_cpu_p_"),
    (lambda lib: lib.bernoulli(lib.zeros(3), 1.5), r"\[0, 1\], but got p=1.5"),
    (lambda lib: lib.bernoulli(lib.zeros(3), -0.5), "p=-0.5"),
    (lambda lib: lib.multinomial(lib.tensor([0.1, 0.2, 0.7]), 4), "without replacement"),
    (lambda lib: lib.multinomial(lib.ones(3), 0), "n_sample <= 0"),
    (lambda lib: lib.multinomial(lib.ones(3), -1), "n_sample <= 0"),
    (lambda lib: lib.multinomial(lib.ones(3), 1.5), "must be int"),
    (lambda lib: lib.multinomial(lib.zeros(3), 2, True), "sum of probabilities <= 0"),
    (lambda lib: lib.multinomial(lib.tensor([[1.0, 1.0], [0.0, 0.0]]), 1), "sum of prob"),
    (lambda lib: lib.multinomial(lib.tensor([-1.0, 0.0, 1.0]), 1), "element < 0"),
    (lambda lib: lib.multinomial(lib.tensor([float("nan"), 1.0]), 1), "`nan`"),
    (lambda lib: lib.multinomial(lib.tensor([float("inf"), 1.0]), 1), "`inf`"),
    (lambda lib: lib.multinomial(lib.tensor([1, 2]), 1), "got: Long"),
    (lambda lib: lib.multinomial(lib.tensor(1.0), 1), "1 or 2 dim"),
    (lambda lib: lib.multinomial(lib.ones(2, 2, 2), 1), "1 or 2 dim"),
    (lambda lib: lib.multinomial(lib.ones(0), 1), "without replacement"),
    (lambda lib: lib.multinomial(lib.ones(2, 0), 1, True), "aminmax"),
    (lambda lib: lib.poisson(lib.tensor([1.0, -5.0])), "non-negative"),
    (lambda lib: lib.poisson(lib.tensor([1.0, float("nan")])), "non-negative"),
    (lambda lib: lib.poisson(lib.tensor([1, 5])), "poisson_cpu"),
])
def test_argument_errors_match_torch(fn, match):
    check_error(fn, match=match)


@pytest.mark.parametrize("fill,match", [
    ("uniform_(2, 1)", r"\[from, to\) range, but found from=2 > to=1"),
    ("uniform_(0, float('inf'))", "to is out of bounds for float"),
    ("uniform_(float('nan'), 1)", "from is out of bounds for float"),
    ("uniform_(-3e38, 3e38)", r"to=3e\+38 and from=-3e\+38"),
    ("normal_(0, -1)", "found std -1"),
    ("normal_(0, float('nan'))", "found std nan"),
    ("bernoulli_(1.5)", "p=1.5"),
    ("bernoulli_(torch_or_ember.tensor([0.1, 0.9, 1.5]))", r"p_in <= 1"),
    ("bernoulli_(torch_or_ember.tensor([1, 0, 1]))", "'Long'"),
    ("bernoulli_(torch_or_ember.tensor([0.1, 0.9]))", None),
    ("random_(10, 3)", "from=10 >= to=3"),
    ("exponential_(0)", "lambda > 0.0, but found lambda=0"),
    ("exponential_(-1)", "lambda=-1"),
    ("exponential_(float('nan'))", "lambda=nan"),
    ("geometric_(0)", r"\(0, 1\), but got p=0"),
    ("geometric_(1)", "p=1"),
    ("geometric_(float('nan'))", "p=nan"),
    ("log_normal_(1, 0)", "std > 0.0, but found std=0"),
    ("log_normal_(1, -1)", "std=-1"),
    ("cauchy_(0, 0)", "sigma > 0.0, but found sigma=0"),
    ("cauchy_(0, -1)", "sigma=-1"),
])
def test_inplace_fill_errors_match_torch(fill, match):
    check_error(lambda lib: eval(f"lib.zeros(3).{fill}", {"lib": lib, "torch_or_ember": lib}),
                match=match)


@pytest.mark.parametrize("dtype,fill,match", [
    ("int64", "uniform_()", "check_uniform_bounds"),
    ("bool", "uniform_()", "'Bool'"),
    ("int64", "normal_()", "normal_kernel_cpu"),
    ("int64", "normal_(0, -1)", "found std -1"),
    ("int64", "exponential_()", "continuous probability distribution.*Long"),
    ("int8", "exponential_()", "specified Char"),
    ("int64", "exponential_(0)", "lambda=0"),
    ("bool", "geometric_(0.5)", "geometric_cpu"),
    ("int64", "log_normal_()", "log_normal_cpu"),
    ("bool", "log_normal_()", "'Bool'"),
    ("int64", "cauchy_()", "you specified long int"),
    ("int32", "cauchy_()", "you specified int"),
    ("bool", "cauchy_()", "you specified bool"),
    ("uint8", "random_(300)", "to - 1 is out of bounds for unsigned char"),
    ("uint8", "random_(-3, 5)", "from is out of bounds for unsigned char"),
    ("int8", "random_(-129, 5)", "signed char"),
    ("int16", "random_(0, 2 ** 16)", "short int"),
    ("int32", "random_(0, 2 ** 33)", "for int"),
    ("float16", "random_(0, 2 ** 20)", "c10::Half"),
    ("float16", "uniform_(0, 70000)", "to is out of bounds for c10::Half"),
])
def test_inplace_fill_dtype_errors_match_torch(dtype, fill, match):
    check_error(lambda lib: eval(f"lib.zeros(3, dtype=lib.{dtype}).{fill}", {"lib": lib}),
                match=match)


# ----------------------------------------------------------------- in-place fills: dtypes
@pytest.mark.parametrize("dtype", ["float32", "float64", "float16", "bfloat16", "int64",
                                   "int32", "int8", "uint8", "bool"])
@pytest.mark.parametrize("fill", ["bernoulli_()", "bernoulli_(0.3)", "random_()",
                                  "random_(2)", "random_(1, 2)", "random_(0, None)",
                                  "geometric_(0.5)", "uniform_()", "uniform_(-1, 3)",
                                  "normal_()", "normal_(2, 0.5)", "exponential_(2)",
                                  "log_normal_()", "cauchy_()"])
def test_inplace_fill_support_matches_torch(dtype, fill):
    """Each fill works for the dtypes torch's works for (and returns self), or both raise."""
    def run(lib):
        x = lib.zeros(4, dtype=getattr(lib, dtype))
        y = eval(f"x.{fill}", {"x": x})
        assert y is x
        return x

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t = run(torch)
    except Exception:
        check_error(run)
        return
    e = run(ember)
    assert meta(e) == meta(t)


def test_random_fill_ranges():
    x = ember.zeros(20000)
    assert set(arr(x.random_(3))) == {0.0, 1.0, 2.0}
    assert set(arr(x.random_(-2, 1))) == {-2.0, -1.0, 0.0}
    assert set(arr(x.random_(to=2))) == {0.0, 1.0}
    v = arr(x.random_())
    assert v.min() >= 0 and v.max() <= 2 ** 24 and v.max() > 2 ** 23
    v = arr(ember.zeros(20000, dtype=ember.float16).random_())
    assert v.max() <= 2 ** 11 and v.max() > 1000
    b = arr(ember.zeros(100, dtype=ember.bool).random_())
    assert set(b) == {0.0, 1.0}
    i8 = ember.zeros(20000, dtype=ember.int8).random_()
    assert i8.numpy().min() >= 0 and i8.numpy().max() == 127
    i64 = ember.zeros(1000, dtype=ember.int64).random_()
    assert i64.numpy().min() >= 0 and i64.numpy().max() > 2 ** 62
    u8 = ember.zeros(20000, dtype=ember.uint8).random_(3, None)
    assert u8.numpy().min() == 3 and u8.numpy().max() == 255
    full = ember.zeros(1000, dtype=ember.int64).random_(-(2 ** 63), 2 ** 63 - 1)
    assert full.numpy().min() < -(2 ** 61) and full.numpy().max() > 2 ** 61


def test_float_random_bound_warns_like_torch():
    with pytest.warns(UserWarning, match=r"out of bounds \[-\(2\^24\), 2\^24\]"):
        ember.zeros(3).random_(0, 2 ** 30)
    with pytest.warns(UserWarning, match="c10::BFloat16 can support"):
        ember.zeros(3, dtype=ember.bfloat16).random_(-3, 2 ** 9)


# ----------------------------------------------------------------- statistics
N = 200_000


def close(value, expected, stderr, k=6.0):
    assert abs(value - expected) <= k * stderr, f"{value} vs {expected} (stderr {stderr})"


@pytest.mark.parametrize("dtype", [ember.float32, ember.float64, ember.float16, ember.bfloat16])
def test_rand_is_uniform_on_unit_interval(dtype):
    v = arr(ember.rand(N, dtype=dtype))
    assert v.min() >= 0 and v.max() < 1
    close(v.mean(), 0.5, (1 / 12) ** 0.5 / N ** 0.5)
    close(v.var(), 1 / 12, 0.08 / N ** 0.5)


def test_randn_is_standard_normal():
    v = arr(ember.randn(N))
    close(v.mean(), 0.0, 1 / N ** 0.5)
    close(v.std(), 1.0, 0.71 / N ** 0.5)
    close((np.abs(v) < 1).mean(), 0.6827, 0.47 / N ** 0.5)
    h = arr(ember.randn(N, dtype=ember.float16))
    close(h.std(), 1.0, 0.71 / N ** 0.5 + 1e-3)


def test_randint_is_uniform_over_its_range():
    v = ember.randint(-3, 7, (N,)).numpy()
    assert v.dtype == np.int64 and v.min() == -3 and v.max() == 6
    counts = np.bincount(v + 3, minlength=10) / N
    assert np.all(np.abs(counts - 0.1) < 6 * (0.09 / N) ** 0.5)
    big = ember.randint(0, 2 ** 62, (1000,)).numpy()
    assert big.max() > 2 ** 60


def test_randperm_is_a_permutation_and_shuffles():
    for n in (0, 1, 7, 1000):
        assert sorted(ember.randperm(n).tolist()) == list(range(n))
    firsts = [ember.randperm(4)[0].item() for _ in range(400)]
    assert set(firsts) == {0, 1, 2, 3}


def test_normal_overloads_have_the_right_moments():
    v = arr(ember.normal(2.0, 3.0, (N,)))
    close(v.mean(), 2.0, 3 / N ** 0.5)
    close(v.std(), 3.0, 3 * 0.71 / N ** 0.5)
    mean = ember.tensor([-5.0, 5.0]).expand(N // 2, 2).contiguous()
    v = arr(ember.normal(mean, 0.5))
    close(v[:, 0].mean(), -5.0, 0.5 / (N // 2) ** 0.5)
    close(v[:, 1].std(), 0.5, 0.5 * 0.71 / (N // 2) ** 0.5)
    std = ember.tensor([1.0, 4.0]).expand(N // 2, 2).contiguous()
    v = arr(ember.normal(1.0, std))
    close(v[:, 1].std(), 4.0, 4 * 0.71 / (N // 2) ** 0.5)
    v = arr(ember.normal(ember.full((N // 2, 2), 3.0), std))
    close(v[:, 0].mean(), 3.0, 1 / (N // 2) ** 0.5)
    close(v[:, 1].std(), 4.0, 4 * 0.71 / (N // 2) ** 0.5)
    assert np.all(arr(ember.normal(ember.ones(3), ember.zeros(3))) == 1.0)


def test_bernoulli_probabilities():
    p = ember.tensor([0.0, 0.2, 0.9, 1.0]).expand(N // 4, 4).contiguous()
    v = arr(ember.bernoulli(p))
    assert set(np.unique(v)) <= {0.0, 1.0}
    assert v[:, 0].max() == 0 and v[:, 3].min() == 1
    close(v[:, 1].mean(), 0.2, 0.4 / (N // 4) ** 0.5)
    close(v[:, 2].mean(), 0.9, 0.3 / (N // 4) ** 0.5)
    close(arr(ember.bernoulli(ember.zeros(N), 0.3)).mean(), 0.3, 0.46 / N ** 0.5)
    x = ember.zeros(N // 4, 4)
    x.bernoulli_(ember.tensor([0.1, 0.5, 0.5, 0.8]))  # p broadcasts to x's shape
    close(arr(x)[:, 3].mean(), 0.8, 0.4 / (N // 4) ** 0.5)
    close(arr(ember.zeros(N, dtype=ember.int64).bernoulli_(0.25)).mean(), 0.25,
          0.44 / N ** 0.5)


def test_multinomial_with_replacement_frequencies():
    w = ember.tensor([[1.0, 0.0, 3.0, 6.0], [0.0, 0.0, 0.0, 2.0]])
    s = ember.multinomial(w, N // 2, replacement=True).numpy()
    assert s.shape == (2, N // 2) and s.dtype == np.int64
    freq = np.bincount(s[0], minlength=4) / s.shape[1]
    assert freq[1] == 0
    for i, p in enumerate((0.1, 0.0, 0.3, 0.6)):
        close(freq[i], p, (p * (1 - p) / s.shape[1]) ** 0.5 + 1e-12)
    assert np.all(s[1] == 3)


def test_multinomial_without_replacement():
    w = ember.tensor([1.0, 2.0, 0.0, 7.0])
    for _ in range(20):
        s = ember.multinomial(w, 4).tolist()
        assert sorted(s) == [0, 1, 2, 3] and s[3] == 2  # zero weight: drawn only last
    s = ember.multinomial(ember.tensor([0.0, 1.0, 1.0]), 3).tolist()
    assert sorted(s) == [0, 1, 2] and s[2] == 0
    firsts = ember.multinomial(w.expand(20000, 4).contiguous(), 1).numpy()[:, 0]
    close((firsts == 3).mean(), 0.7, (0.21 / 20000) ** 0.5)
    rows = ember.multinomial(ember.rand(50, 30), 30).numpy()
    assert all(sorted(r) == list(range(30)) for r in rows.tolist())


def test_poisson_mean_and_variance():
    lam = ember.tensor([0.5, 4.0, 100.0]).expand(N // 4, 3).contiguous()
    v = arr(ember.poisson(lam))
    assert np.all(v == np.round(v)) and v.min() >= 0
    for i, rate in enumerate((0.5, 4.0, 100.0)):
        close(v[:, i].mean(), rate, (rate / (N // 4)) ** 0.5)
    assert np.all(arr(ember.poisson(ember.zeros(5))) == 0)


def test_inplace_fill_distributions():
    x = ember.zeros(N)
    v = arr(x.uniform_(-2.0, 3.0))
    assert v.min() >= -2 and v.max() < 3
    close(v.mean(), 0.5, 5 / 12 ** 0.5 / N ** 0.5)
    assert np.all(arr(ember.zeros(10).uniform_(1, 1)) == 1)
    v = arr(x.normal_(1.0, 2.0))
    close(v.mean(), 1.0, 2 / N ** 0.5)
    close(v.std(), 2.0, 2 * 0.71 / N ** 0.5)
    v = arr(x.exponential_(4.0))
    assert v.min() >= 0
    close(v.mean(), 0.25, 0.25 / N ** 0.5)
    assert np.all(arr(ember.zeros(5).exponential_(float("inf"))) == 0)
    v = arr(x.geometric_(0.25))
    assert v.min() == 1 and np.all(v == np.round(v))
    close(v.mean(), 4.0, (0.75 / 0.0625 / N) ** 0.5)
    v = arr(ember.zeros(N, dtype=ember.int64).geometric_(0.5))
    close(v.mean(), 2.0, (0.5 / 0.25 / N) ** 0.5)
    v = arr(x.log_normal_(1.0, 0.5))
    assert v.min() > 0
    close(np.median(np.log(v)), 1.0, 0.5 * 1.26 / N ** 0.5)
    close(np.log(v).std(), 0.5, 0.5 * 0.71 / N ** 0.5)
    v = arr(x.cauchy_(3.0, 2.0))
    close(np.median(v), 3.0, 2 * 1.58 / N ** 0.5)
    q25, q75 = np.quantile(v, [0.25, 0.75])
    close(q75 - q25, 4.0, 0.1)


def test_half_uniform_fill_stays_below_to():
    v = arr(ember.zeros(N, dtype=ember.float16).uniform_())
    assert v.max() < 1.0 and v.min() >= 0.0
    v = arr(ember.zeros(N, dtype=ember.bfloat16).uniform_(0, 1))
    assert v.max() < 1.0


# ----------------------------------------------------------------- autograd
def test_sampled_outputs_pass_zero_gradients_like_torch():
    def run(lib):
        m = lib.zeros(3, dtype=lib.float64, requires_grad=True)
        s = lib.ones(3, dtype=lib.float64, requires_grad=True)
        outs = [lib.normal(m, s), lib.normal(m, 2.0), lib.normal(1.0, s),
                lib.bernoulli(lib.sigmoid(m)), lib.poisson(s * 3)]
        names = [o.grad_fn.name() for o in outs]
        sum(o.sum() for o in outs).backward()
        return names, m.grad, s.grad

    (en, em, es), (tn, tm, ts) = run(ember), run(torch)
    assert en == tn
    assert np.array_equal(em.numpy(), tm.numpy()) and np.array_equal(es.numpy(), ts.numpy())


@pytest.mark.parametrize("fill", ["uniform_()", "normal_()", "bernoulli_()",
                                  "bernoulli_(lib.full((3,), 0.5))", "random_()", "random_(5)",
                                  "random_(1, 5)", "exponential_()", "geometric_(0.5)",
                                  "log_normal_()", "cauchy_()"])
def test_inplace_fill_nodes_match_torch(fill):
    def run(lib):
        x = lib.ones(3, dtype=lib.float64, requires_grad=True)
        y = x * 2
        z = eval(f"y.{fill}", {"y": y, "lib": lib})
        name = z.grad_fn.name()
        (z * x).sum().backward()
        return name, x.grad, y._version

    (en, eg, ev), (tn, tg, tv) = run(ember), run(torch)
    assert en == tn and ev == tv
    assert eg is not None and eg.shape == tg.shape


def test_inplace_fill_on_leaf_requiring_grad_raises_like_torch():
    def leaf(lib):
        return lib.zeros(3, requires_grad=True)

    check_error(lambda lib: leaf(lib).uniform_(), match="leaf Variable")
    check_error(lambda lib: leaf(lib).normal_(), match="leaf Variable")
    for lib in (ember, torch):
        x = leaf(lib)
        with lib.no_grad():
            x.uniform_()
        assert x.requires_grad and x.grad_fn is None


def test_bernoulli_with_scalar_p_has_no_derivative():
    for lib in (ember, torch):
        p = lib.full((3,), 0.5, requires_grad=True)
        out = lib.bernoulli(p, 0.3)
        assert out.requires_grad and repr(out).endswith("grad_fn=<NotImplemented>)")
        with pytest.raises(RuntimeError, match="derivative for aten::bernoulli is not "
                                               "implemented"):
            out.sum().backward()


def test_inplace_fill_through_a_view_updates_the_base():
    base = ember.zeros(4, 3)
    base[1].uniform_(5, 6)
    v = arr(base)
    assert np.all(v[0] == 0) and np.all((v[1] >= 5) & (v[1] < 6))
    assert base._version == 1


def test_generator_argument_is_used_everywhere():
    def draws(g):
        x = ember.zeros(4)
        return [ember.rand(3, generator=g), ember.randn(3, generator=g),
                ember.randint(0, 50, (3,), generator=g), ember.randperm(5, generator=g),
                ember.normal(0.0, 1.0, (3,), generator=g),
                ember.normal(ember.zeros(3), 1.0, generator=g),
                ember.bernoulli(ember.full((8,), 0.5), generator=g),
                ember.multinomial(ember.ones(6), 3, generator=g),
                ember.multinomial(ember.ones(6), 4, True, generator=g),
                ember.poisson(ember.full((3,), 2.0), generator=g),
                ember.rand_like(x, generator=g), ember.randn_like(x, generator=g),
                ember.randint_like(x, 9, generator=g),
                x.clone().uniform_(generator=g), x.clone().normal_(generator=g),
                x.clone().bernoulli_(0.5, generator=g), x.clone().random_(generator=g),
                x.clone().exponential_(generator=g), x.clone().geometric_(0.3, generator=g),
                x.clone().log_normal_(generator=g), x.clone().cauchy_(generator=g),
                ember.ones(6).multinomial(2, generator=g)]

    ember.manual_seed(0)
    a = draws(ember.Generator().manual_seed(8))
    ember.manual_seed(1)  # the default generator plays no part
    b = draws(ember.Generator().manual_seed(8))
    for x, y in zip(a, b):
        assert np.array_equal(x.numpy(), y.numpy())
