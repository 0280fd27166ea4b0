"""nn.DataParallel: one process, several devices, one replica per device per forward.

forward = scatter the batch -> replicate the module -> run the replicas in threads ->
gather the outputs, the same four steps as torch; every step is autograd-aware, so
backward from the gathered output fills the original parameters' `.grad`.
"""
from __future__ import annotations

from itertools import chain

from ember.nn.modules.module import Module
from ember.nn.parallel.parallel_apply import parallel_apply
from ember.nn.parallel.replicate import replicate
from ember.nn.parallel.scatter_gather import _as_dev, gather, scatter_kwargs

__all__ = ["DataParallel", "data_parallel"]


def _cuda_count() -> int:
    from ember import cuda
    return cuda.device_count() if cuda.is_available() else 0


def _device_id(d):
    """torch keeps CUDA devices as indices; ember also accepts CPU devices, kept as devices."""
    if isinstance(d, int) and not isinstance(d, bool):
        return d
    dev = _as_dev(d)
    if dev.type == "cuda":
        return 0 if dev.index is None else dev.index
    return dev


class DataParallel(Module):
    """Splits each input batch along `dim` over `device_ids`, runs a replica of `module`
    on each piece in its own thread, and concatenates the outputs on `output_device`.

    As torch: without devices (no GPU and no `device_ids`) it just calls `module`; the
    parameters must live on `device_ids[0]`; a batch shorter than the number of devices
    uses fewer replicas; state_dict keys carry a `module.` prefix. Unlike torch, CPU
    devices are accepted (`device_ids=['cpu', 'cpu']` runs two replicas in two threads),
    so it runs and can be tested on a machine without GPUs.
    """

    def __init__(self, module: Module, device_ids=None, output_device=None, dim: int = 0):
        super().__init__()
        if device_ids is None:
            n = _cuda_count()
            if n == 0:
                self.module = module
                self.device_ids = []
                return
            device_ids = list(range(n))
        if not device_ids:
            raise RuntimeError("no available devices were found")
        if output_device is None:
            output_device = device_ids[0]
        self.dim = dim
        self.module = module
        self.device_ids = [_device_id(d) for d in device_ids]
        self.output_device = _device_id(output_device)
        self.src_device_obj = _as_dev(self.device_ids[0])
        if len(self.device_ids) == 1:
            self.module.to(self.src_device_obj)

    def forward(self, *inputs, **kwargs):
        if not self.device_ids:
            return self.module(*inputs, **kwargs)
        src = self.src_device_obj
        for t in chain(self.module.parameters(), self.module.buffers()):
            if t.device != src:
                raise RuntimeError("module must have its parameters and buffers on device "
                                   f"{src} (device_ids[0]) but found one of them on device: "
                                   f"{t.device}")
        inputs, module_kwargs = self.scatter(inputs, kwargs, self.device_ids)
        if not inputs and not module_kwargs:
            inputs = ((),)
            module_kwargs = ({},)
        if len(self.device_ids) == 1:
            return self.module(*inputs[0], **module_kwargs[0])
        replicas = self.replicate(self.module, self.device_ids[:len(inputs)])
        outputs = self.parallel_apply(replicas, inputs, module_kwargs)
        return self.gather(outputs, self.output_device)

    def replicate(self, module: Module, device_ids) -> list:
        return replicate(module, device_ids, False)

    def scatter(self, inputs, kwargs, device_ids) -> tuple:
        return scatter_kwargs(inputs, kwargs, device_ids, dim=self.dim)

    def parallel_apply(self, replicas, inputs, kwargs) -> list:
        return parallel_apply(replicas, inputs, kwargs, self.device_ids[:len(replicas)])

    def gather(self, outputs, output_device):
        return gather(outputs, output_device, dim=self.dim)


def data_parallel(module: Module, inputs, device_ids=None, output_device=None, dim: int = 0,
                  module_kwargs=None):
    """The functional form of DataParallel: one forward of `module` over `device_ids`."""
    if not isinstance(inputs, tuple):
        inputs = (inputs,) if inputs is not None else ()
    if device_ids is None:
        n = _cuda_count()
        if n == 0:
            return module(*inputs, **(module_kwargs or {}))
        device_ids = list(range(n))
    if output_device is None:
        output_device = device_ids[0]
    device_ids = [_device_id(d) for d in device_ids]
    output_device = _device_id(output_device)
    src = _as_dev(device_ids[0])
    for t in chain(module.parameters(), module.buffers()):
        if t.device != src:
            raise RuntimeError("module must have its parameters and buffers on device "
                               f"{src} (device_ids[0]) but found one of them on device: "
                               f"{t.device}")
    inputs, module_kwargs = scatter_kwargs(inputs, module_kwargs, device_ids, dim)
    if not inputs and not module_kwargs:
        inputs = ((),)
        module_kwargs = ({},)
    if len(device_ids) == 1:
        return module(*inputs[0], **module_kwargs[0])
    used = device_ids[:len(inputs)]
    replicas = replicate(module, used)
    outputs = parallel_apply(replicas, inputs, module_kwargs, used)
    return gather(outputs, output_device, dim)

