"""Version facts of this build (torch/version.py).

`__version__` is the torch API level ember implements, with ember's own release (from
the installed package's metadata, i.e. pyproject.toml) as the local label:
"2.13.0+ember0.1.0". Programs that check `torch.__version__ >= "2.0"` see the API they
expect; `ember.version.ember` is ember's release alone. ember compiles nothing, so the
accelerator toolkit versions torch records at build time are None.
"""
from __future__ import annotations

from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _dist_version

__all__ = ["__version__", "debug", "cuda", "git_version", "hip", "rocm", "xpu", "torch_api",
           "ember"]

torch_api = "2.13.0"  # the torch release whose behaviour ember reproduces
try:
    ember = _dist_version("ember")
except PackageNotFoundError:  # run from a source tree that was never installed
    ember = "0.0.0"
__version__ = f"{torch_api}+ember{ember}"
debug = False
cuda: str | None = None
git_version = "Unknown"
hip: str | None = None
rocm: str | None = None
xpu: str | None = None
