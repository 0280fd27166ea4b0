"""ember: PyTorch's design in plain Python on NumPy (CPU) and CuPy (GPU).

`import ember as torch` gives the same names as torch for everything ember covers.
Import order matters: dtypes and devices, then Tensor, then the op families that
work on it, then autograd, then the subpackages.
"""
from __future__ import annotations

import warnings as _warnings

from ember.torch_version import __version__ as __version__

# torch computes inf - inf, 0 * inf, log(0) ... silently; NumPy warns. Silence those
# RuntimeWarnings only where ember's own kernels call NumPy, never in user code. Ops that
# often meet them (exp, log, division ...) also switch NumPy's checks off around their kernel
# (pointwise's `_silent`), so a user's "error" warnings filter, which takes precedence over
# this one, cannot turn them into exceptions; the hottest ops (add, mul, comparisons) rely on
# this filter alone, as that switch costs about 0.3 us a call.
_warnings.filterwarnings("ignore", category=RuntimeWarning, module=r"ember\._ops\.")

from ember._malloc import keep_freed_memory as _keep_freed_memory

_keep_freed_memory()  # freed step-sized arrays are reused, not faulted in afresh each step

from ember._dtype import (bfloat16, bool, can_cast, double, dtype, finfo, float, float16,  # noqa: A004
                          float32, float64, get_default_dtype, half, iinfo, int, int8, int16,
                          int32, int64, long, promote_types, set_default_dtype, short, uint8)
from ember._device import device
from ember._size import Size
from ember._tensor import Tensor
from ember._ops.creation import *  # noqa: F403
from ember._ops.pointwise import *  # noqa: F403
from ember._ops.reduction import *  # noqa: F403
from ember._ops.linalg import *  # noqa: F403
from ember._ops.shape import *  # noqa: F403
from ember._ops.indexing import *  # noqa: F403
from ember.random import (Generator, default_generator, get_rng_state, initial_seed,
                          manual_seed, seed, set_rng_state)
from ember import autograd
from ember.autograd.anomaly_mode import is_anomaly_check_nan_enabled, is_anomaly_enabled
from ember.autograd.grad_mode import (enable_grad, inference_mode, is_grad_enabled,
                                      is_inference_mode_enabled, no_grad, set_grad_enabled)
from ember import cuda, linalg, return_types
from ember import nn
from ember.serialization import load, save
from ember import amp, cpu
from ember.amp.autocast_mode import (autocast, autocast_decrement_nesting,
                                     autocast_increment_nesting, clear_autocast_cache,
                                     get_autocast_cpu_dtype, get_autocast_dtype,
                                     get_autocast_gpu_dtype, is_autocast_cache_enabled,
                                     is_autocast_cpu_enabled, is_autocast_enabled,
                                     set_autocast_cache_enabled, set_autocast_dtype,
                                     set_autocast_enabled)
from ember import optim
import ember.utils.data  # torch.utils.data is reachable after `import torch` too
from ember import distributed
from ember import multiprocessing  # as torch: torch.multiprocessing after `import torch`
from ember._tensor_str import set_printoptions
# torch also exposes these nn.functional kernels at the top level, with the same signatures.
from ember._ops.activation import celu, hardshrink, prelu, rrelu, selu, threshold
from ember._ops.conv import (bilinear, conv1d, conv2d, conv3d, conv_transpose1d,
                             conv_transpose2d, conv_transpose3d)
from ember._ops.pooling import adaptive_avg_pool1d, avg_pool1d, max_pool1d, max_pool2d
from ember._ops.vision import pixel_shuffle, pixel_unshuffle
from ember._ops.normalization import cosine_similarity, pairwise_distance, rms_norm
from ember.utils.dlpack import from_dlpack
from ember import accelerator, backends
from ember._threads import get_num_threads, set_num_threads


def result_type(tensor1, tensor2) -> dtype:
    """The dtype an op on these two operands produces (torch.result_type)."""
    from ember._dtype import result_type_of
    return result_type_of(tensor1, tensor2)


def is_tensor(obj) -> bool:
    return isinstance(obj, Tensor)


def is_floating_point(input: Tensor) -> bool:
    return input.dtype.is_floating_point


def is_nonzero(input: Tensor) -> bool:
    return input.__bool__()


def numel(input: Tensor) -> int:
    return input.numel()
