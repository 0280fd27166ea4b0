"""Random number generation: Generator, manual_seed and the default generators."""
from __future__ import annotations

import numpy as np

__all__ = ["Generator", "default_generator", "manual_seed", "seed", "initial_seed",
           "get_rng_state", "set_rng_state"]


class Generator:
    """A seeded stream of random numbers (NumPy's PCG64 underneath)."""

    def __init__(self, device="cpu"):
        from ember._device import as_device
        self.device = as_device(device)
        self._seed = 67280421310721  # torch's default seed
        self._np = np.random.Generator(np.random.PCG64(self._seed))

    def manual_seed(self, seed: int) -> Generator:
        self._seed = int(seed) & 0xFFFF_FFFF_FFFF_FFFF
        self._np = np.random.Generator(np.random.PCG64(self._seed))
        return self

    def initial_seed(self) -> int:
        return self._seed

    def seed(self) -> int:
        import secrets
        self.manual_seed(secrets.randbits(63))
        return self._seed


default_generator = Generator()


def manual_seed(seed: int) -> Generator:
    """Seed the default generator(s)."""
    return default_generator.manual_seed(seed)


def seed() -> int:
    return default_generator.seed()


def initial_seed() -> int:
    return default_generator.initial_seed()


def get_rng_state():
    raise NotImplementedError


def set_rng_state(new_state) -> None:
    raise NotImplementedError
