"""torch.cuda.amp.autocast and custom_fwd/custom_bwd: deprecated aliases of ember.amp's."""
from __future__ import annotations

import functools
import warnings

from ember import _dtype as _dt
from ember.amp import autocast_mode as _amp

__all__ = ["autocast", "custom_fwd", "custom_bwd"]


class autocast(_amp.autocast):
    """autocast("cuda", ...) under its old name; warns FutureWarning as torch does."""

    def __init__(self, enabled: bool = True, dtype: _dt.dtype = _dt.float16,
                 cache_enabled: bool = True):
        warnings.warn("`torch.cuda.amp.autocast(args...)` is deprecated. Please use "
                      "`torch.amp.autocast('cuda', args...)` instead.", FutureWarning,
                      stacklevel=2)
        super().__init__("cuda", enabled=enabled, dtype=dtype, cache_enabled=cache_enabled)


def custom_fwd(fwd=None, *, cast_inputs: _dt.dtype | None = None):
    """ember.amp.custom_fwd(device_type="cuda") under its old name."""
    warnings.warn("`torch.cuda.amp.custom_fwd(args...)` is deprecated. Please use "
                  "`torch.amp.custom_fwd(args..., device_type='cuda')` instead.", FutureWarning,
                  stacklevel=2)
    return functools.partial(_amp.custom_fwd, device_type="cuda")(fwd=fwd,
                                                                  cast_inputs=cast_inputs)


def custom_bwd(bwd=None):
    """ember.amp.custom_bwd(device_type="cuda") under its old name."""
    warnings.warn("`torch.cuda.amp.custom_bwd(args...)` is deprecated. Please use "
                  "`torch.amp.custom_bwd(args..., device_type='cuda')` instead.", FutureWarning,
                  stacklevel=2)
    return _amp.custom_bwd(bwd, device_type="cuda")
