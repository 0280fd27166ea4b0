"""Copies of a module for several devices whose parameters lead back to the original's.

`Broadcast` places each parameter on every target device (the array itself where it
already lives there); its backward sums the replicas' gradients onto the original
device, so `loss.backward()` accumulates one gradient into each original `.grad`, as
torch's Broadcast/ReduceAddCoalesced pair does. Buffers that need no gradient are
shared by the first replica and copied for the others.
"""
from __future__ import annotations

from collections import OrderedDict

from ember._device import to_device
from ember._tensor import Tensor, _make
from ember.autograd.function import Function
from ember.autograd.grad_mode import is_grad_enabled
from ember.nn.parallel.scatter_gather import _as_dev

__all__ = ["replicate", "Broadcast"]


class Broadcast(Function):
    """Outputs: every input on the first device, then every input on the second, ..."""
    _node_name = "BroadcastBackward"

    @staticmethod
    def forward(ctx, target_devices, *inputs: Tensor):
        devs = [_as_dev(d) for d in target_devices]
        ctx.num_inputs = len(inputs)
        ctx.input_devices = [t.device for t in inputs]
        outs = tuple(_make(to_device(t._data, dev)) for dev in devs for t in inputs)
        needs = getattr(ctx, "needs_input_grad", None)
        if needs is not None:
            n = len(inputs)
            ctx.mark_non_differentiable(*[o for i, rg in enumerate(needs[1:]) if not rg
                                          for o in outs[i::n]])
        return outs

    @staticmethod
    def backward(ctx, *grads):
        n = ctx.num_inputs
        sums = []
        for i, dev in enumerate(ctx.input_devices):
            total = None
            for g in grads[i::n]:
                g = g.to(dev)
                total = g if total is None else total + g
            sums.append(total)
        return (None, *sums)


def _broadcast(tensors: list, devices: list, detach: bool) -> list[list]:
    """[[t on devices[0] for t in tensors], [t on devices[1] ...], ...]."""
    if not tensors:
        return [[] for _ in devices]
    if detach:
        flat = [_make(to_device(t._data, d)) for d in devices for t in tensors]
    else:
        flat = Broadcast.apply(devices, *tensors)
    n = len(tensors)
    return [list(flat[j * n:(j + 1) * n]) for j in range(len(devices))]


def _share_or_copy(tensors: list, devices: list) -> list[list]:
    """Buffers without gradients: the first replica shares them (when on their device),
    the others get copies -- as torch, where only devices[0] holds the originals, so a
    BatchNorm's running statistics are updated by the first replica alone."""
    return [[t if j == 0 and t.device == d else _make(to_device(t._data, d).copy())
             for t in tensors] for j, d in enumerate(devices)]


def replicate(network, devices, detach: bool = False) -> list:
    """One copy of `network` per device; parameters broadcast (differentiably unless
    `detach` or grad mode is off), buffers shared or copied, submodules replicated."""
    devices = [_as_dev(d) for d in devices]
    num = len(devices)
    detach = detach or not is_grad_enabled()

    params = list(network.parameters())
    param_index = {id(p): i for i, p in enumerate(params)}
    param_copies = _broadcast(params, devices, detach)

    buffers = list(network.buffers())
    buffer_index = {id(b): i for i, b in enumerate(buffers)}
    grad_bufs = [b for b in buffers if b.requires_grad]
    plain_bufs = [b for b in buffers if not b.requires_grad]
    grad_copies = _broadcast(grad_bufs, devices, detach)
    plain_copies = _share_or_copy(plain_bufs, devices)
    buffer_copies = [[None] * len(buffers) for _ in devices]
    for j in range(num):
        for src, copies in ((grad_bufs, grad_copies[j]), (plain_bufs, plain_copies[j])):
            for b, c in zip(src, copies):
                buffer_copies[j][buffer_index[id(b)]] = c

    modules = list(network.modules())
    module_index = {id(m): i for i, m in enumerate(modules)}
    copies = [[m._replicate_for_data_parallel() for m in modules] for _ in range(num)]

    for i, module in enumerate(modules):
        for j in range(num):
            replica = copies[j][i]
            replica._former_parameters = OrderedDict()  # the broadcast tensors, by name
            for key, child in module._modules.items():
                replica._modules[key] = None if child is None else copies[j][
                    module_index[id(child)]]
            for key, param in module._parameters.items():
                if param is None:
                    replica._parameters[key] = None
                    continue
                p = param_copies[j][param_index[id(param)]]
                # Not leaves any more, so they are plain attributes, not parameters.
                object.__setattr__(replica, key, p)
                replica._former_parameters[key] = p
            for key, buf in module._buffers.items():
                replica._buffers[key] = None if buf is None else buffer_copies[j][
                    buffer_index[id(buf)]]
    return [copies[j][0] for j in range(num)]
