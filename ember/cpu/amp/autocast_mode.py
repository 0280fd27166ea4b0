"""torch.cpu.amp.autocast: the deprecated alias of ember.amp.autocast("cpu")."""
from __future__ import annotations

import warnings

from ember import _dtype as _dt
from ember.amp import autocast_mode as _amp

__all__ = ["autocast"]


class autocast(_amp.autocast):
    """autocast("cpu", ...) under its old name; warns FutureWarning as torch does."""

    def __init__(self, enabled: bool = True, dtype: _dt.dtype = _dt.bfloat16,
                 cache_enabled: bool = True):
        warnings.warn("`torch.cpu.amp.autocast(args...)` is deprecated. Please use "
                      "`torch.amp.autocast('cpu', args...)` instead.", FutureWarning,
                      stacklevel=2)
        super().__init__("cpu", enabled=enabled, dtype=dtype, cache_enabled=cache_enabled)
