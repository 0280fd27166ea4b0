"""A dataset importable without torch, for tests that start workers with 'spawn'."""
from __future__ import annotations

import numpy as np

import ember
import ember.utils.data as eud


class Images(eud.Dataset):
    """Large enough samples that batches travel through shared memory."""

    def __init__(self, n=24):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return ember.from_numpy(np.full((3, 32, 32), i, np.float32)), i
