"""torch.backends.cudnn: the flags exist and may be set; ember never calls cuDNN."""
from __future__ import annotations

# Read by nothing in ember (CuPy's own kernels do the GPU work); kept so that
# programs can set and read them as they do under torch. Defaults are torch's.
enabled: bool = True
benchmark: bool = False
deterministic: bool = False
allow_tf32: bool = True
benchmark_limit: int = 10


def is_available() -> bool:
    """False: ember does not use cuDNN."""
    return False


def version() -> int | None:
    """None, as torch answers when cuDNN is not available."""
    return None
