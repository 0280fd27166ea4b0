"""torch.backends.mkldnn: ember's CPU work runs on NumPy's BLAS, not oneDNN."""
from __future__ import annotations

enabled: bool = True  # accepted and ignored, as the cudnn flags are


def is_available() -> bool:
    return False
