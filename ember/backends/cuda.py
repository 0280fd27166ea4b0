"""torch.backends.cuda: GPU math flags; ember's GPU arrays are CuPy's."""
from __future__ import annotations


class _MatmulFlags:
    """`torch.backends.cuda.matmul.allow_tf32` and friends: settable, not consulted."""

    def __init__(self) -> None:
        self.allow_tf32 = False
        self.allow_fp16_reduced_precision_reduction = True
        self.allow_bf16_reduced_precision_reduction = True


matmul = _MatmulFlags()


def is_built() -> bool:
    """True when CuPy (ember's GPU backend) is installed."""
    import importlib.util

    return importlib.util.find_spec("cupy") is not None
