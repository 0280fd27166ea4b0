"""Version facts of this build (torch/version.py).

`__version__` is the torch API level ember implements, with ember's own release (`ember`
below, which pyproject.toml reads as the package version) as the local label:
"2.13.0+ember0.1.0". Programs that check `torch.__version__ >= "2.0"` see the API they
expect; `ember.version.ember` is ember's release alone. ember compiles nothing, so the
accelerator toolkit versions torch records at build time are None.
"""
from __future__ import annotations

__all__ = ["__version__", "debug", "cuda", "git_version", "hip", "rocm", "xpu", "torch_api",
           "ember"]

torch_api = "2.13.0"  # the torch release whose behaviour ember reproduces
ember = "0.1.0"  # ember's own release: the one place it is written
__version__ = f"{torch_api}+ember{ember}"
debug = False
cuda: str | None = None
git_version = "Unknown"
hip: str | None = None
rocm: str | None = None
xpu: str | None = None
