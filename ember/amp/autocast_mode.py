"""Automatic mixed precision: `autocast` and the casts it applies (torch/amp/autocast_mode.py).

NOTE [ How autocast reaches the ops ]
torch registers an "Autocast" kernel in front of a fixed list of ops. ember does
the same in plain Python: the entry function of each listed op starts with

    if _AUTOCAST: input, weight, bias = autocast_lower(input, weight, bias)

`_AUTOCAST` is a module-level list that is empty while no thread has autocast
on, so the cost when autocast is off is one global lookup and a truth test.
When it is on, the helper reads this thread's state and casts:
  * `autocast_lower` (torch's "lower_precision_fp" ops: matmul, mm, bmm, addmm,
    baddbmm, addbmm, linear, conv*, conv_transpose*, prelu,
    scaled_dot_product_attention, einsum of two or more operands): floating inputs
    other than float64 go to the autocast dtype (bfloat16 on CPU by default,
    float16 on CUDA);
  * `autocast_fp32` (torch's CPU "fp32" ops: the losses, prod, trace, 3-D pools,
    reflection/replication padding): half inputs go to float32.
Ops outside both lists run in whatever dtype their inputs promote to; composite
ops (inner, tensordot, bilinear, MultiheadAttention ...) get their dtypes from the
listed ops they call, as torch's composites do.
Every cast is an ordinary recorded `to(dtype)` (ToCopyBackward0), so the gradient
of a float32 leaf comes back as float32. Casts of float32 leaf weights are cached
until the outermost autocast region exits, as torch does, so a weight used twice
is cast once.

NumPy has no bfloat16/float16 BLAS: a "bfloat16 matmul" multiplies in float32 and
rounds the result to bfloat16 once. Results therefore carry bfloat16 rounding
(about 3 significant digits) like torch's, but not bit for bit.
"""
from __future__ import annotations

import functools
import threading
import warnings
from typing import Any

from ember import _dtype as _dt
from ember._tensor import Tensor

__all__ = ["autocast_decorator", "autocast", "is_autocast_available", "custom_fwd",
           "custom_bwd"]

_DEVICE_TYPES = ("cpu", "cuda")
_CPU_DTYPES = (_dt.bfloat16, _dt.float16)


class _State(threading.local):
    """This thread's autocast settings (torch keeps them thread-local too)."""

    def __init__(self):
        self.dtype = {"cpu": _dt.bfloat16, "cuda": _dt.float16}  # set even while off
        self.on = {}  # device type -> its autocast dtype, for the types autocasting now
        self.cache_enabled = True
        self.nesting = 0  # autocast regions entered and not yet left
        self.cache = {}  # id(float32 leaf) -> (the leaf, its lower-precision copy)


_state = _State()
# One entry per thread whose autocast is on: what the ops' hot path checks.
_AUTOCAST: list = []
_lock = threading.Lock()


def _sync() -> None:
    """Keep this thread's entry in `_AUTOCAST` in step with its state."""
    me = threading.get_ident()
    with _lock:
        if _state.on and me not in _AUTOCAST:
            _AUTOCAST.append(me)
        elif not _state.on and me in _AUTOCAST:
            _AUTOCAST.remove(me)


def _check_type(device_type) -> str:
    if not isinstance(device_type, str):
        raise ValueError(f"Expected `device_type` of type `str`, got: `{type(device_type)}`")
    if device_type not in _DEVICE_TYPES:
        raise RuntimeError(f"Expected one of cpu, cuda device type at start of device string: "
                           f"{device_type}")
    return device_type


# ----------------------------------------------------------------- the casts
def _cast(t: Tensor, dtype: _dt.dtype) -> Tensor:
    from ember._ops.pointwise import to_dtype
    if t.dtype is _dt.float32 and t._requires_grad and t.grad_fn is None and \
            t._base is None and _state.cache_enabled and dtype is not _dt.float32:
        hit = _state.cache.get(id(t))
        if hit is None or hit[0] is not t or hit[1].dtype is not dtype:
            hit = _state.cache[id(t)] = (t, to_dtype(t, dtype))
        return hit[1]
    return to_dtype(t, dtype)


def _device_type(t: Tensor) -> str:
    return "cpu" if t.is_cpu else "cuda"


def autocast_lower(*args) -> tuple:
    """`args` with floating tensors (not float64) cast to their device's autocast dtype."""
    on = _state.on
    if not on:
        return args
    out = []
    for a in args:
        if isinstance(a, Tensor):
            dtype = on.get(_device_type(a))
            if dtype is not None and a.dtype.is_floating_point and a.dtype is not dtype \
                    and a.dtype is not _dt.float64:
                a = _cast(a, dtype)
        out.append(a)
    return tuple(out)


def autocast_fp32(*args) -> tuple:
    """`args` with float16/bfloat16 tensors cast to float32 (ops that need the range)."""
    on = _state.on
    if not on:
        return args
    out = []
    for a in args:
        if isinstance(a, Tensor) and a.dtype in (_dt.float16, _dt.bfloat16) and \
                _device_type(a) in on:
            a = _cast(a, _dt.float32)
        out.append(a)
    return tuple(out)


# ----------------------------------------------------------------- state queries
def is_autocast_enabled(device_type: str | None = None) -> bool:
    """Whether autocast is on for `device_type` (no argument: CUDA, as in torch)."""
    return _check_type("cuda" if device_type is None else device_type) in _state.on


def set_autocast_enabled(device_type, enabled: bool | None = None) -> None:
    """set_autocast_enabled(device_type, enabled), or the older set_autocast_enabled(enabled)
    for CUDA."""
    if enabled is None:
        device_type, enabled = "cuda", device_type
    _check_type(device_type)
    _state.on = dict(_state.on)
    if enabled:
        _state.on[device_type] = _state.dtype[device_type]
    else:
        _state.on.pop(device_type, None)
    _sync()


def get_autocast_dtype(device_type: str) -> _dt.dtype:
    """The dtype autocast casts to on `device_type` (bfloat16 for cpu, float16 for cuda)."""
    return _state.dtype[_check_type(device_type)]


def set_autocast_dtype(device_type: str, dtype: _dt.dtype) -> None:
    _state.dtype[_check_type(device_type)] = dtype
    if device_type in _state.on:
        _state.on = {**_state.on, device_type: dtype}


def is_autocast_cpu_enabled() -> bool:
    warnings.warn("torch.is_autocast_cpu_enabled() is deprecated. Please use "
                  "torch.is_autocast_enabled('cpu') instead.", DeprecationWarning, stacklevel=2)
    return "cpu" in _state.on


def get_autocast_cpu_dtype() -> _dt.dtype:
    warnings.warn("torch.get_autocast_cpu_dtype() is deprecated. Please use "
                  "torch.get_autocast_dtype('cpu') instead.", DeprecationWarning, stacklevel=2)
    return _state.dtype["cpu"]


def get_autocast_gpu_dtype() -> _dt.dtype:
    warnings.warn("torch.get_autocast_gpu_dtype() is deprecated. Please use "
                  "torch.get_autocast_dtype('cuda') instead.", DeprecationWarning, stacklevel=2)
    return _state.dtype["cuda"]


def is_autocast_cache_enabled() -> bool:
    return _state.cache_enabled


def set_autocast_cache_enabled(enabled: bool) -> None:
    _state.cache_enabled = bool(enabled)


def clear_autocast_cache() -> None:
    _state.cache.clear()


def autocast_increment_nesting() -> int:
    _state.nesting += 1
    return _state.nesting


def autocast_decrement_nesting() -> int:
    _state.nesting -= 1
    return _state.nesting


def is_autocast_available(device_type: str) -> bool:
    """Whether autocast supports `device_type` (cpu and cuda here)."""
    return device_type in _DEVICE_TYPES


# ----------------------------------------------------------------- the context manager
def _cuda_missing() -> bool:
    from ember import cuda
    return not cuda.is_available()


class autocast:
    """Run the ops inside in mixed precision: matrix products and convolutions in `dtype`
    (bfloat16 on CPU, float16 on CUDA by default), losses and other range-sensitive ops in
    float32. A context manager and a decorator. On a machine without CUDA,
    autocast("cuda") warns and does nothing, as torch does."""

    def __init__(self, device_type: str, dtype: _dt.dtype | None = None, enabled: bool = True,
                 cache_enabled: bool | None = None):
        if not isinstance(device_type, str):
            raise ValueError(f"Expected `device_type` of type `str`, got: `{type(device_type)}`")
        self.device = _check_type(device_type)
        self.fast_dtype = get_autocast_dtype(device_type) if dtype is None else dtype
        self._cache_enabled = _state.cache_enabled if cache_enabled is None else cache_enabled
        if enabled and device_type == "cuda" and _cuda_missing():
            warnings.warn("CUDA is not available or torch_xla is imported. Disabling autocast.",
                          stacklevel=2)
            enabled = False
        if enabled and device_type == "cpu" and self.fast_dtype not in _CPU_DTYPES:
            warnings.warn("In CPU autocast, but the target dtype is not supported. Disabling "
                          "autocast.\nCPU Autocast only supports dtypes of torch.bfloat16, "
                          "torch.float16 currently.", stacklevel=2)
            enabled = False
        self._enabled = bool(enabled)

    def __enter__(self):
        self.prev_cache_enabled = _state.cache_enabled
        self.prev = self.device in _state.on
        self.prev_fastdtype = _state.dtype[self.device]
        set_autocast_dtype(self.device, self.fast_dtype)
        set_autocast_enabled(self.device, self._enabled)
        autocast_increment_nesting()
        _state.cache_enabled = self._cache_enabled

    def __exit__(self, exc_type: Any, exc_val: Any, exc_tb: Any) -> bool:
        if autocast_decrement_nesting() == 0:
            clear_autocast_cache()
        set_autocast_dtype(self.device, self.prev_fastdtype)
        set_autocast_enabled(self.device, self.prev)
        _state.cache_enabled = self.prev_cache_enabled
        return False

    def __call__(self, func):
        return autocast_decorator(self, func)


def autocast_decorator(autocast_instance: autocast, func):
    """func wrapped so that every call runs inside `autocast_instance`."""
    @functools.wraps(func)
    def decorate_autocast(*args, **kwargs):
        with autocast_instance:
            return func(*args, **kwargs)
    return decorate_autocast


# ----------------------------------------------------------------- custom Functions
def custom_fwd(fwd=None, *, device_type: str, cast_inputs: _dt.dtype | None = None):
    """Decorator for a custom Function's forward. With `cast_inputs`, floating tensor
    arguments are cast to that dtype and forward runs with autocast off (when autocast is
    on); without it, forward runs under the caller's autocast state, which is recorded so
    that `custom_bwd` can run backward under the same state."""
    if fwd is None:
        return functools.partial(custom_fwd, device_type=device_type, cast_inputs=cast_inputs)
    _check_type(device_type)

    @functools.wraps(fwd)
    def decorate_fwd(*args, **kwargs):
        ctx = args[0]
        ctx._dtype = get_autocast_dtype(device_type)
        on = is_autocast_enabled(device_type)
        # with cast_inputs, forward ran without autocast, and so will backward
        ctx._fwd_used_autocast = on and cast_inputs is None
        if cast_inputs is None or not on:
            return fwd(*args, **kwargs)
        args = [_cast_floating(a, cast_inputs, device_type) for a in args]
        kwargs = {k: _cast_floating(v, cast_inputs, device_type) for k, v in kwargs.items()}
        with autocast(device_type=device_type, enabled=False):
            return fwd(*args, **kwargs)
    return decorate_fwd


def custom_bwd(bwd=None, *, device_type: str):
    """Decorator for a custom Function's backward: it runs under the autocast state its
    forward (decorated with custom_fwd) saw."""
    if bwd is None:
        return functools.partial(custom_bwd, device_type=device_type)
    _check_type(device_type)

    @functools.wraps(bwd)
    def decorate_bwd(*args, **kwargs):
        ctx = args[0]
        with autocast(device_type=device_type, enabled=ctx._fwd_used_autocast,
                      dtype=ctx._dtype):
            return bwd(*args, **kwargs)
    return decorate_bwd


def _cast_floating(value, dtype: _dt.dtype, device_type: str):
    if isinstance(value, Tensor):
        if value.dtype.is_floating_point and value.dtype is not _dt.float64 and \
                _device_type(value) == device_type:
            return value.to(dtype)
        return value
    if isinstance(value, (list, tuple)):
        return type(value)(_cast_floating(v, dtype, device_type) for v in value)
    if isinstance(value, dict):
        return {k: _cast_floating(v, dtype, device_type) for k, v in value.items()}
    return value

