"""Run each replica on its inputs in its own thread (torch.nn.parallel.parallel_apply)."""
from __future__ import annotations

import threading
from contextlib import ExitStack

from ember._tensor import Tensor
from ember.amp.autocast_mode import autocast, get_autocast_dtype, is_autocast_enabled
from ember.autograd.grad_mode import is_grad_enabled, set_grad_enabled
from ember.nn.parallel.scatter_gather import _as_dev

__all__ = ["parallel_apply", "get_a_var"]


def get_a_var(obj):
    """The first tensor found in `obj` (recursing into lists, tuples and dict values)."""
    if isinstance(obj, Tensor):
        return obj
    if isinstance(obj, (list, tuple)):
        for o in obj:
            t = get_a_var(o)
            if t is not None:
                return t
    if isinstance(obj, dict):
        for o in obj.values():
            t = get_a_var(o)
            if t is not None:
                return t
    return None


def _device_context(dev):
    """The CuPy device context for a CUDA device (new arrays land there); nothing for CPU."""
    if dev.type == "cuda":
        from ember._device import _cupy
        return _cupy().cuda.Device(dev.index or 0)
    from contextlib import nullcontext
    return nullcontext()


def parallel_apply(modules, inputs, kwargs_tup=None, devices=None) -> list:
    """`[modules[i](*inputs[i], **kwargs_tup[i])]`, one thread per module.

    Grad mode and autocast are thread-local, so the caller's are set in each thread
    (autocasting replicas as torch's do). An exception in
    a replica is re-raised here with its type, the replica index and device, and the
    original traceback."""
    from ember.utils.data._utils import ExceptionWrapper

    if len(modules) != len(inputs):
        raise AssertionError(f"The number of modules {len(modules)} is not equal to the number "
                             f"of inputs {len(inputs)}")
    if kwargs_tup is None:
        kwargs_tup = ({},) * len(modules)
    elif len(modules) != len(kwargs_tup):
        raise AssertionError("The number of modules is not equal to the number of kwargs")
    if devices is None:
        devices = [None] * len(modules)
    elif len(modules) != len(devices):
        raise AssertionError("The number of modules is not equal to the number of devices")
    grad_enabled = is_grad_enabled()
    autocasts = [(t, get_autocast_dtype(t)) for t in ("cpu", "cuda") if is_autocast_enabled(t)]
    results: dict = {}
    lock = threading.Lock()

    def worker(i, module, input, kwargs, dev):
        set_grad_enabled(grad_enabled)
        if dev is None:
            t = get_a_var(input)
            if t is None:
                with lock:
                    results[i] = ExceptionWrapper(
                        (RuntimeError, RuntimeError(), None),
                        where=f"in replica {i}, no device was provided and no tensor input "
                              "was found; device cannot be resolved")
                return
            dev = t.device
        dev = _as_dev(dev)
        where = f"in replica {i} on device {dev.index if dev.type == 'cuda' else dev}"
        try:
            with _device_context(dev), ExitStack() as stack:
                for device_type, dtype in autocasts:
                    stack.enter_context(autocast(device_type, dtype=dtype))
                if not isinstance(input, (list, tuple)):
                    input = (input,)
                output = module(*input, **kwargs)
            with lock:
                results[i] = output
        except Exception:
            with lock:
                results[i] = ExceptionWrapper(where=where)

    jobs = list(zip(modules, inputs, kwargs_tup, devices))
    if len(jobs) > 1:
        threads = [threading.Thread(target=worker, args=(i, *job)) for i, job in enumerate(jobs)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    elif jobs:
        worker(0, *jobs[0])
    outputs = []
    for i in range(len(inputs)):
        out = results[i]
        if isinstance(out, ExceptionWrapper):
            out.reraise()
        outputs.append(out)
    return outputs
