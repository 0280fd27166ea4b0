"""nn.parallel.DistributedDataParallel: one replica per process, gradients averaged over MPI.

NOTE [ DDP buckets and overlap ]
Construction: rank 0's parameters and buffers are broadcast to every rank (init_sync),
and the parameters that require grad are laid out, in *reverse* registration order
(roughly the order backward produces their gradients), into buckets: one flat array per
run of parameters of one dtype and device, at most `bucket_cap_mb` (the first one
1 MiB, as torch, so the all-reduce starts early).

Backward: each parameter's post-accumulate-grad hook copies its .grad into its slot of
the bucket (with gradient_as_bucket_view the slot *is* .grad) and counts the bucket
down; a full bucket starts a non-blocking all-reduce -- but only in bucket order, since
MPI matches collectives by their order on every rank: a bucket that fills early waits
until all earlier buckets have started. Every hook also tests the pending requests,
which is what lets MPI make progress while backward goes on. With find_unused_parameters,
forward walks the graph from its outputs and counts the parameters it cannot reach as
ready with zero gradients, so their buckets do not wait for the end. The first hook of a
backward queues an end-of-backward callback with the autograd engine; the callback
starts the buckets not yet started (slots of parameters that got no gradient in this
backward count as zeros: find_unused_parameters), waits for all of them, divides by
the world size and writes each slot back to its parameter's .grad.

no_sync(): the hooks do nothing, so .grad accumulates locally; the first backward
after it reduces the accumulated gradients. broadcast_buffers: rank 0's buffers are
broadcast at the start of every forward.
"""
from __future__ import annotations

from contextlib import contextmanager

import numpy as np

from ember._tensor import Tensor, _make
from ember.nn.modules.module import Module

__all__ = ["DistributedDataParallel"]


class _Bucket:
    """Parameters whose gradients are reduced together through one flat array."""

    def __init__(self, params: list, index: int) -> None:
        self.index = index
        self.params = params
        self.offsets = []  # start of each parameter's slot in `flat`
        n = 0
        for p in params:
            self.offsets.append(n)
            n += p.numel()
        self.flat = np.zeros(n, dtype=params[0]._data.dtype)  # the all-reduced buffer
        self.pending = len(params)  # parameters whose gradient has not arrived yet
        self.ready = set()  # positions (in params) whose gradient arrived
        self.unused = set()  # positions not reachable from this forward's outputs
        self.work = None  # the all-reduce in flight

    def slot(self, i: int) -> np.ndarray:
        p = self.params[i]
        return self.flat[self.offsets[i]:self.offsets[i] + p.numel()].reshape(p._data.shape)

    def reset(self) -> None:
        self.pending = len(self.params)
        self.ready = set()
        self.unused = set()
        self.work = None


class DistributedDataParallel(Module):
    """Wraps `module` so that backward averages the gradients over the ranks of
    `process_group` (the default group) with bucketed asynchronous all-reduces.

    As torch: rank 0's state is broadcast at construction; `no_sync()` skips the
    reduction; state_dict keys carry a `module.` prefix. device_ids/output_device are
    accepted (one device per process); static_graph and check_reduction are accepted
    and do nothing; join() is not provided. See NOTE [ DDP buckets and overlap ].
    """

    def __init__(self, module: Module, device_ids=None, output_device=None, dim: int = 0,
                 broadcast_buffers: bool = True, init_sync: bool = True, process_group=None,
                 bucket_cap_mb: float | None = None, find_unused_parameters: bool = False,
                 check_reduction: bool = False, gradient_as_bucket_view: bool = False,
                 static_graph: bool = False, delay_all_reduce_named_params=None,
                 param_to_hook_all_reduce=None, mixed_precision=None, device_mesh=None):
        super().__init__()
        from ember.distributed import distributed_c10d as c10d
        if not any(p.requires_grad for p in module.parameters()):
            raise RuntimeError("DistributedDataParallel is not needed when a module doesn't "
                               "have any parameter that requires a gradient.")
        self.module = module
        self.device_ids = device_ids
        self.output_device = output_device
        self.dim = dim
        self.process_group = c10d._group(process_group)
        self.broadcast_buffers = broadcast_buffers
        self.find_unused_parameters = find_unused_parameters
        self.gradient_as_bucket_view = gradient_as_bucket_view
        self.static_graph = static_graph
        self.require_backward_grad_sync = True  # False inside no_sync()
        self.bucket_bytes_cap = int((25 if bucket_cap_mb is None else bucket_cap_mb) * 2**20)
        if init_sync:
            self._broadcast_coalesced([*module.parameters(), *module.buffers()])
        seen = set()
        params = []
        for p in module.parameters():
            if p.requires_grad and id(p) not in seen:
                seen.add(id(p))
                params.append(p)
        self._buckets = self._make_buckets(params[::-1])
        self._slot_of = {id(p): (b, i) for b in self._buckets for i, p in enumerate(b.params)}
        self._next_bucket = 0  # the next bucket to start (buckets start in order)
        self._callback_queued = False  # the end-of-backward callback of this backward
        self._hook_handles = [p.register_post_accumulate_grad_hook(self._grad_ready)
                              for p in params]

    # ------------------------------------------------------------- construction
    def _make_buckets(self, params: list) -> list[_Bucket]:
        buckets, current, size = [], [], 0
        cap = min(2**20, self.bucket_bytes_cap)  # the first bucket is small
        for p in params:
            nbytes = p.numel() * p._data.dtype.itemsize
            if current and (size + nbytes > cap or p._data.dtype != current[0]._data.dtype
                            or p.device != current[0].device):
                buckets.append(_Bucket(current, len(buckets)))
                current, size, cap = [], 0, self.bucket_bytes_cap
            current.append(p)
            size += nbytes
        if current:
            buckets.append(_Bucket(current, len(buckets)))
        return buckets

    def _broadcast_coalesced(self, tensors: list) -> None:
        """Rank 0's values into `tensors`, one broadcast per dtype."""
        from ember.distributed import distributed_c10d as c10d
        g = self.process_group
        by_dtype: dict = {}
        for t in tensors:
            by_dtype.setdefault(t._data.dtype.str + t._data.dtype.name, []).append(t)
        for group in by_dtype.values():
            flat = np.concatenate([c10d._host(t).reshape(-1) for t in group])
            buf, _ = c10d._spec(flat)
            c10d.Work([g._comm.Ibcast(buf, root=0)], pg=g, op="BROADCAST").wait()
            start = 0
            for t in group:
                n = t.numel()
                c10d._store(t, flat[start:start + n])
                start += n

    # ------------------------------------------------------------- forward
    def forward(self, *inputs, **kwargs):
        if self.broadcast_buffers and self.process_group.size() > 1:
            buffers = list(self.module.buffers())
            if buffers:
                self._broadcast_coalesced(buffers)
        for b in self._buckets:
            b.reset()
        self._next_bucket = 0
        self._callback_queued = False
        out = self.module(*inputs, **kwargs)
        if self.find_unused_parameters and self.require_backward_grad_sync:
            from ember.autograd.grad_mode import is_grad_enabled
            if is_grad_enabled():
                self._mark_unused(out)
        return out

    def _mark_unused(self, out) -> None:
        """Count the parameters this forward's graph cannot reach as ready (zeros), so that
        their buckets need not wait for the end of backward."""
        from ember.nn.parallel.scatter_gather import _unzip
        roots = []
        _unzip(out, lambda t: roots.append(t) or [t], 1)
        stack = [t.grad_fn for t in roots if isinstance(t, Tensor) and t.grad_fn is not None]
        reached = {id(t) for t in roots if isinstance(t, Tensor) and t.grad_fn is None}
        seen = set()
        while stack:
            node = stack.pop()
            if node is None or id(node) in seen:
                continue
            seen.add(id(node))
            var = getattr(node, "variable", None)
            if var is not None:
                reached.add(id(var))
            stack.extend(nf for nf, _ in node.next_functions)
        for b in self._buckets:
            for i, p in enumerate(b.params):
                if id(p) not in reached:
                    b.slot(i)[...] = 0
                    b.unused.add(i)
                    b.pending -= 1

    @contextmanager
    def no_sync(self):
        """Gradients of backwards run inside accumulate locally, without communication."""
        old = self.require_backward_grad_sync
        self.require_backward_grad_sync = False
        try:
            yield
        finally:
            self.require_backward_grad_sync = old

    def _set_static_graph(self) -> None:
        self.static_graph = True

    # ------------------------------------------------------------- backward
    def _grad_ready(self, param: Tensor) -> None:
        if not self.require_backward_grad_sync:
            return
        if not self._callback_queued:
            from ember.autograd.engine import queue_callback
            queue_callback(self._finish_backward)
            self._callback_queued = True
        bucket, i = self._slot_of[id(param)]
        if i in bucket.ready or i in bucket.unused:
            return  # already counted
        slot = bucket.slot(i)
        grad = param.grad
        if grad._data is not slot:
            slot[...] = grad._data
            if self.gradient_as_bucket_view:
                param._grad = _make(slot)
        bucket.ready.add(i)
        bucket.pending -= 1
        self._start_ready_buckets()
        self._poll()

    def _start(self, bucket: _Bucket) -> None:
        from ember.distributed import distributed_c10d as c10d
        g = self.process_group
        buf, op = c10d._spec(bucket.flat, c10d.ReduceOp.SUM)
        bucket.work = c10d.Work([g._comm.Iallreduce(c10d._mpi().IN_PLACE, buf, op)], pg=g,
                                op="ALLREDUCE")

    def _start_ready_buckets(self) -> None:
        buckets = self._buckets
        while self._next_bucket < len(buckets) and buckets[self._next_bucket].pending == 0:
            self._start(buckets[self._next_bucket])
            self._next_bucket += 1

    def _poll(self) -> None:
        for b in self._buckets[:self._next_bucket]:
            if b.work is not None:
                b.work.is_completed()

    def _finish_backward(self) -> None:
        self._callback_queued = False
        # Parameters without a gradient in this backward contribute zeros.
        for b in self._buckets[self._next_bucket:]:
            for i in range(len(b.params)):
                if i not in b.ready and i not in b.unused:
                    b.slot(i)[...] = 0
            b.pending = 0
        self._start_ready_buckets()
        n = self.process_group.size()
        for b in self._buckets:
            b.work.wait()
            if b.flat.dtype.kind == "f" and b.flat.dtype.itemsize >= 4:
                b.flat /= n
            else:  # float16/bfloat16: divide in float32
                b.flat[...] = (b.flat.astype(np.float32) / n).astype(b.flat.dtype)
            for i, p in enumerate(b.params):
                slot = b.slot(i)
                if i not in b.ready and p.grad is None and not slot.any():
                    continue  # unused on every rank: .grad stays None, as torch
                if self.gradient_as_bucket_view:
                    if p.grad is None or p.grad._data is not slot:
                        p._grad = _make(slot)
                else:
                    p._grad = _make(slot.copy())
            b.reset()
        self._next_bucket = 0
