"""Random number generation: Generator, manual_seed, fork_rng and the per-device defaults.

A `Generator` owns one stream of random bits and knows how to turn it into the
few primitive draws every distribution in `ember/_ops/creation.py` is built from
(uniform, standard normal, integers, exponential, Poisson, permutations).

- CPU generators wrap a NumPy `Generator` over PCG64. Its whole state (128-bit
  state, 128-bit increment, one buffered 32-bit word) plus the initial seed is
  what `get_state()` packs into a uint8 tensor, so `set_state()` round-trips exactly.
- CUDA generators are created on first use (CuPy is imported only then) and
  follow torch's CUDA design: a counter-based Philox stream whose state is just
  (seed, offset); every draw positions the stream at the current offset and
  advances it past the numbers it used.

ember cannot reproduce torch's exact streams; it reproduces their contract: the
same seed gives the same numbers, and generators are independent of each other.
"""
from __future__ import annotations

import contextlib
import secrets

import numpy as np

from ember._device import as_device
from ember._device import device as _device_cls

__all__ = ["Generator", "default_generator", "manual_seed", "seed", "initial_seed",
           "get_rng_state", "set_rng_state", "fork_rng"]

_DEFAULT_SEED = 67280421310721  # the seed a fresh torch.Generator starts from
_U64 = (1 << 64) - 1
_STATE_BYTES = 48  # PCG64 state (16) + increment (16) + has_uint32 (4) + uinteger (4) + seed (8)


def _numel(shape) -> int:
    n = 1
    for d in (shape if isinstance(shape, tuple) else (shape,)):
        n *= d
    return n


def _check_seed(seed) -> int:
    """torch's rules for a seed: a Python int in [-2**63, 2**64), negative ones wrap."""
    if isinstance(seed, bool) or not isinstance(seed, int):
        if isinstance(seed, np.integer):
            raise TypeError("an integer is required")
        name = "Tensor" if type(seed).__name__ in ("Tensor", "Parameter") else type(seed).__name__
        raise RuntimeError(f"manual_seed expected a long, but got {name}")
    if seed < -(1 << 63) or seed > _U64:
        raise ValueError("Overflow when unpacking long long")
    return seed & _U64


_WHOLE_ARRAY_MIN = 256  # below this many values one NumPy call beats whole-array arithmetic
_UNIT_F32 = np.float32(2.0 ** -24)
_TWO_PI_F32 = np.float32(2.0 * np.pi)


class _NumpyStream:
    """The CPU generator's bits: NumPy's PCG64.

    float32 draws are made from raw 64-bit words, two 24-bit uniforms per word,
    with whole-array arithmetic (NumPy's own float32 path converts one number at a
    time and is about 2x slower); float32 normals are Box-Muller pairs over those
    uniforms, as torch's CPU kernel computes them, ~4x faster than NumPy's ziggurat.
    float64 draws use NumPy's generator directly.
    """

    def __init__(self, seed: int):
        self.rng = np.random.Generator(np.random.PCG64(seed))

    def _uniform_f32(self, n: int):
        bits = self.rng.bit_generator.random_raw((n + 1) // 2).view(np.uint32)[:n]
        bits >>= 8
        out = bits.astype(np.float32)
        out *= _UNIT_F32
        return out

    def random(self, shape, dtype):
        """Uniform [0, 1) in float32 or float64."""
        if dtype == np.float32 and _numel(shape) >= _WHOLE_ARRAY_MIN:
            return self._uniform_f32(_numel(shape)).reshape(shape)
        return self.rng.random(shape, dtype=dtype)

    def normal(self, shape, dtype):
        """Standard normal in float32 or float64."""
        n = _numel(shape)
        if dtype != np.float32 or n < _WHOLE_ARRAY_MIN:
            return self.rng.standard_normal(shape, dtype=dtype)
        h = (n + 1) // 2
        u = self._uniform_f32(2 * h)
        radius, angle = u[:h], u[h:]
        np.subtract(np.float32(1.0), radius, out=radius)  # (0, 1]: log is finite
        np.log(radius, out=radius)
        radius *= np.float32(-2.0)
        np.sqrt(radius, out=radius)
        angle *= _TWO_PI_F32
        out = np.empty(2 * h, np.float32)
        np.cos(angle, out=out[:h])
        np.sin(angle, out=out[h:])
        out[:h] *= radius
        out[h:] *= radius
        return out[:n].reshape(shape)

    def exponential(self, shape, dtype):
        """Standard exponential (rate 1) in float32 or float64."""
        if dtype != np.float32 or _numel(shape) < _WHOLE_ARRAY_MIN:
            return self.rng.standard_exponential(shape, dtype=dtype)
        u = self._uniform_f32(_numel(shape))
        np.subtract(np.float32(1.0), u, out=u)
        np.log(u, out=u)
        np.negative(u, out=u)
        return u.reshape(shape)

    def integers(self, low: int, high: int, shape):
        """Integers in [low, high] (both inclusive) as int64.

        Spans up to 2**32 map a 32-bit word w to low + (w * span >> 32) in whole-array
        arithmetic (bias at most span / 2**32, like torch's `random % span`); wider
        spans use NumPy's exact bounded integers.
        """
        span = high - low + 1
        n = _numel(shape)
        if span > 1 << 32:
            return self.rng.integers(low, high, shape, dtype=np.int64, endpoint=True)
        words = self.rng.bit_generator.random_raw(n)
        words >>= np.uint64(32)
        words *= np.uint64(span)
        words >>= np.uint64(32)
        out = words.view(np.int64)
        if low:
            out += low
        return out.reshape(shape)

    def poisson(self, lam):
        return self.rng.poisson(lam)

    def permutation(self, n: int):
        return self.rng.permutation(n)

    def get_state(self, seed: int) -> bytes:
        st = self.rng.bit_generator.state
        return (st["state"]["state"].to_bytes(16, "little") +
                st["state"]["inc"].to_bytes(16, "little") +
                int(st["has_uint32"]).to_bytes(4, "little") +
                int(st["uinteger"]).to_bytes(4, "little") + seed.to_bytes(8, "little"))

    def set_state(self, raw: bytes) -> int:
        self.rng.bit_generator.state = {
            "bit_generator": "PCG64",
            "state": {"state": int.from_bytes(raw[0:16], "little"),
                      "inc": int.from_bytes(raw[16:32], "little")},
            "has_uint32": int.from_bytes(raw[32:36], "little"),
            "uinteger": int.from_bytes(raw[36:40], "little")}
        return int.from_bytes(raw[40:48], "little")


class _CupyStream:
    """The CUDA generator's bits: cuRAND's Philox positioned at (seed, offset) for each draw."""

    def __init__(self, seed: int, index: int):
        import cupy
        from cupy.cuda import curand
        self._cupy, self._curand, self.index = cupy, curand, index
        with cupy.cuda.Device(index):
            self.rs = cupy.random.RandomState(seed, method=curand.CURAND_RNG_PSEUDO_PHILOX4_32_10)
        self.seed, self.offset = seed, 0

    def _at_offset(self, n: int, per_value: int = 2):
        # Position the Philox counter, then reserve what this draw uses (4 words per counter).
        self._curand.setGeneratorOffset(self.rs._generator, self.offset)
        self.offset += -(-max(n, 1) * per_value // 4) * 4
        return self._cupy.cuda.Device(self.index)

    def random(self, shape, dtype):
        with self._at_offset(int(np.prod(shape))):
            return self.rs.random_sample(shape, dtype=dtype)

    def normal(self, shape, dtype):
        with self._at_offset(int(np.prod(shape))):
            return self.rs.standard_normal(shape, dtype=dtype)

    def exponential(self, shape, dtype):
        u = self.random(shape, dtype)
        return -self._cupy.log1p(-u)

    def integers(self, low: int, high: int, shape):
        span = high - low + 1
        if span <= 1 << 62:
            with self._at_offset(int(np.prod(shape))):
                return self.rs.randint(low, high + 1, shape, dtype=np.int64)
        cp = self._cupy
        with self._at_offset(2 * int(np.prod(shape))):
            hi = self.rs.randint(0, 1 << 32, shape, dtype=np.uint64)
            lo = self.rs.randint(0, 1 << 32, shape, dtype=np.uint64)
        raw = (hi << cp.uint64(32)) | lo
        if span < 1 << 64:
            raw = raw % cp.uint64(span)
        return (raw + cp.uint64(low & _U64)).view(cp.int64)

    def poisson(self, lam):
        with self._at_offset(int(lam.size), per_value=8):
            return self.rs.poisson(lam)

    def permutation(self, n: int):
        with self._at_offset(n):
            return self.rs.permutation(n)

    def get_state(self, seed: int) -> bytes:
        return (seed.to_bytes(8, "little") + self.offset.to_bytes(8, "little") +
                bytes(_STATE_BYTES - 16))

    def set_state(self, raw: bytes) -> int:
        seed = int.from_bytes(raw[0:8], "little")
        self.rs.seed(seed)
        self.offset = int.from_bytes(raw[8:16], "little")
        return seed


class Generator:
    """A seeded, independent stream of random numbers on one device (torch.Generator)."""

    def __init__(self, device="cpu"):
        dev = as_device(device)
        if dev.type == "cpu":
            dev = _device_cls("cpu")
        elif dev.type == "cuda":
            if dev.index is None:
                from ember import cuda
                dev = _device_cls("cuda", cuda.current_device())
        else:
            raise RuntimeError(f"{dev.type.upper()} device type not an accelerator.")
        self.device = dev
        self._seed = _DEFAULT_SEED
        self._stream = self._new_stream(_DEFAULT_SEED)

    def _new_stream(self, seed: int):
        if self.device.type == "cpu":
            return _NumpyStream(seed)
        return _CupyStream(seed, self.device.index)

    def manual_seed(self, seed: int) -> Generator:
        """Restart the stream from `seed`; returns the generator itself."""
        self._seed = _check_seed(seed)
        self._stream = self._new_stream(self._seed)
        return self

    def seed(self) -> int:
        """Seed from the operating system's entropy and return the seed used."""
        s = secrets.randbits(63)
        self.manual_seed(s)
        return s

    def initial_seed(self) -> int:
        """The seed the current stream was started from."""
        return self._seed

    def get_state(self):
        """The generator's state as a uint8 tensor (for `set_state`)."""
        from ember._tensor import _make
        raw = self._stream.get_state(self._seed)
        return _make(np.frombuffer(raw, dtype=np.uint8).copy())

    def set_state(self, new_state) -> Generator:
        """Restore a state returned by `get_state` (the initial seed comes back with it)."""
        from ember._tensor import Tensor
        if not isinstance(new_state, Tensor):
            raise TypeError(f"expected a torch.ByteTensor, but got {type(new_state).__name__}")
        if new_state._data.dtype != np.uint8:
            raise TypeError("RNG state must be a torch.ByteTensor")
        raw = np.asarray(new_state.detach().numpy(force=True)).reshape(-1).tobytes()
        if len(raw) != _STATE_BYTES:
            raise RuntimeError(f"Expected an RNG state of size {_STATE_BYTES} but found the "
                               f"input RNG state size to be {len(raw)}")
        self._seed = self._stream.set_state(raw)
        return self

    def __getstate__(self):
        return {"device": str(self.device), "state": self._stream.get_state(self._seed)}

    def __setstate__(self, state) -> None:
        self.__init__(state["device"])
        self._seed = self._stream.set_state(state["state"])

    def __repr__(self) -> str:
        return f"<ember.Generator object at {id(self):#x}>"


def _initial_cpu_generator() -> Generator:
    # Like torch, the process-wide CPU generator starts from a non-deterministic seed.
    g = Generator("cpu")
    g.manual_seed(secrets.randbits(63))
    return g


default_generator = _initial_cpu_generator()

# CUDA default generators, one per device index, created on first use so that
# `import ember` never imports CuPy. `_cuda_seed` remembers the last manual_seed
# so that a generator created later starts from it (torch queues the same call).
_cuda_generators: dict[int, Generator] = {}
_cuda_seed: list = [None]


def _cuda_default_generator(index: int) -> Generator:
    """The default generator of cuda:`index` (CuPy is imported on the first call)."""
    g = _cuda_generators.get(index)
    if g is None:
        g = Generator(_device_cls("cuda", index))
        if _cuda_seed[0] is not None:
            g.manual_seed(_cuda_seed[0])
        _cuda_generators[index] = g
    return g


def _seed_cuda(seed: int, index: int | None = None) -> None:
    """The hook torch.manual_seed uses for the CUDA generators (all of them, or one)."""
    if index is None:
        _cuda_seed[0] = seed
        for g in _cuda_generators.values():
            g.manual_seed(seed)
    else:
        _cuda_default_generator(index).manual_seed(seed)


def generator_for(generator, device) -> Generator:
    """The generator a draw on `device` uses: the one given (checked), or the default."""
    if generator is None:
        if device is None or device.type == "cpu":
            return default_generator
        if device.type == "cuda":
            if device.index is None:
                from ember import cuda
                return _cuda_default_generator(cuda.current_device())
            return _cuda_default_generator(device.index)
        raise RuntimeError(f"ember cannot draw random numbers on device {device}")
    if not isinstance(generator, Generator):
        raise TypeError(f"expected a torch.Generator as generator, but got "
                        f"{type(generator).__name__}")
    if device is not None and generator.device.type != device.type:
        raise RuntimeError(f"Expected a '{device.type}' device type for generator but found "
                           f"'{generator.device.type}'")
    return generator


def manual_seed(seed) -> Generator:
    """Seed the CPU default generator and every CUDA default generator; returns the CPU one."""
    seed = int(seed)
    _check_seed(seed)
    _seed_cuda(seed & _U64)
    return default_generator.manual_seed(seed)


def seed() -> int:
    """Seed all default generators non-deterministically and return the seed."""
    s = default_generator.seed()
    _seed_cuda(s)
    return s


def initial_seed() -> int:
    """The initial seed of the CPU default generator."""
    return default_generator.initial_seed()


def get_rng_state():
    """The CPU default generator's state as a uint8 tensor."""
    return default_generator.get_state()


def set_rng_state(new_state) -> None:
    """Restore the CPU default generator's state from `get_rng_state()`."""
    default_generator.set_state(new_state)


def _cuda_index(d) -> int:
    """A CUDA device given as an int, 'cuda:1' or a device object, as its index."""
    if isinstance(d, int):
        return d
    return as_device(d).index or 0


@contextlib.contextmanager
def fork_rng(devices=None, enabled: bool = True, _caller: str = "fork_rng",
             _devices_kw: str = "devices", device_type: str = "cuda"):
    """Run a block with the random state saved on entry and restored on exit.

    The CPU generator is always forked. With `devices=None` every CUDA generator
    that exists is forked; one created inside the block is dropped on exit, so it
    is recreated later from the same seed, exactly as if the block never ran.
    """
    if not enabled:
        yield
        return
    cpu_state = default_generator.get_state()
    if devices is None:
        indices = list(_cuda_generators)
        forget_new = True
    else:
        indices = [_cuda_index(d) for d in devices]
        forget_new = False
    before = set(_cuda_generators)
    cuda_states = {i: _cuda_default_generator(i).get_state() for i in indices}
    try:
        yield
    finally:
        default_generator.set_state(cpu_state)
        for i, st in cuda_states.items():
            _cuda_default_generator(i).set_state(st)
        if forget_new:
            for i in set(_cuda_generators) - before:
                del _cuda_generators[i]
