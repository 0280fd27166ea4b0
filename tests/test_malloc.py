"""ember keeps freed step-sized blocks in glibc's heap instead of faulting fresh pages in
every step, unless the user has set glibc's malloc variables (ember/_malloc.py)."""
import os
import platform
import subprocess
import sys

import pytest


def _thp_always() -> bool:
    """Whether the kernel backs all anonymous memory with huge pages (then a fresh block
    faults a few times, not once per 4 KiB, and there is nothing to count)."""
    try:
        with open("/sys/kernel/mm/transparent_hugepage/enabled") as f:
            return "[always]" in f.read()
    except OSError:
        return False


pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc"
    or _thp_always(), reason="counts glibc malloc's 4 KiB page faults")

# Allocate and free two 8 MiB arrays a few times; print the page faults of the last rounds.
_CHILD = """
import resource, sys
import numpy as np
if sys.argv[1] == "ember":
    import ember  # noqa: F401
np._core.multiarray._set_madvise_hugepage(False)  # count 4 KiB faults, as without THP
def faults():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for i in range(8):
    if i == 3:
        start = faults()
    a = np.ones(2 << 20, np.float32)
    b = np.ones(2 << 20, np.float32)
    del a, b
print(faults() - start)
"""


def _env(**extra) -> dict:
    """This environment without any malloc settings of its own, plus `extra`."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("MALLOC_") and k != "GLIBC_TUNABLES"}
    return {**env, **extra}


def _faults(lib: str, **env) -> int:
    out = subprocess.run([sys.executable, "-c", _CHILD, lib], capture_output=True, text=True,
                         env=_env(**env), check=True)
    return int(out.stdout)


def test_freed_blocks_are_reused_after_import():
    # glibc's default hands both blocks back on free: 2 x 2048 pages fault again each round
    assert _faults("numpy") > 5 * 4096 // 2
    assert _faults("ember") < 200


def test_user_malloc_settings_are_left_alone():
    assert _faults("ember", MALLOC_PERTURB_="0") > 5 * 4096 // 2
    code = "import ember._malloc as m; print(m.keep_freed_memory())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=_env(GLIBC_TUNABLES="glibc.malloc.trim_threshold=1"),
                         check=True)
    assert out.stdout.strip() == "False"
