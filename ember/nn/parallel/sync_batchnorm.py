"""nn.SyncBatchNorm: batch norm whose batch statistics span every rank of a process group.

The statistics are sums all-reduced through a differentiable all-reduce (its backward
all-reduces the incoming gradient), so the layer is written with ordinary ember ops and
autograd derives the cross-rank backward, higher orders included. Two all-reduces per
forward: [sum x, count] for the mean, then sum (x - mean)^2 for the variance (two
passes, not E[x^2] - E[x]^2, which cancels badly). Uneven local batch sizes are fine.
"""
from __future__ import annotations

from ember._tensor import Tensor, _make
from ember.autograd.function import Function
from ember.autograd.grad_mode import no_grad
from ember.nn.modules.batchnorm import _BatchNorm
from ember.nn.modules.module import Module

__all__ = ["SyncBatchNorm"]


class _AllReduceSum(Function):
    """The sum of `input` over the ranks of `group`; the gradient is summed likewise."""
    _node_name = "AllReduceSumBackward"

    @staticmethod
    def forward(ctx, group, input: Tensor):
        from ember.distributed import distributed_c10d as c10d
        ctx.group = group
        out = _make(input._data.copy())
        c10d.all_reduce(out, group=group)
        return out

    @staticmethod
    def backward(ctx, grad):
        return None, _AllReduceSum.apply(ctx.group, grad)


class SyncBatchNorm(_BatchNorm):
    """Batch norm over dim 1 with statistics over the whole batch of all ranks
    (torch.nn.SyncBatchNorm). Without an initialized process group of more than one
    rank, or in eval mode, it is plain batch norm. Unlike torch it runs on CPU tensors."""

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = True, track_running_stats: bool = True, process_group=None,
                 device=None, dtype=None) -> None:
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device,
                         dtype)
        self.process_group = process_group

    def _check_input_dim(self, input: Tensor) -> None:
        if input.dim() < 2:
            raise ValueError(f"expected at least 2D input (got {input.dim()}D input)")

    def _check_non_zero_input_channels(self, input: Tensor) -> None:
        if input.size(1) == 0:
            raise ValueError("SyncBatchNorm number of input channels should be non-zero")

    def forward(self, input: Tensor) -> Tensor:
        self._check_input_dim(input)
        self._check_non_zero_input_channels(input)
        from ember import distributed as dist
        need_sync = self.training and dist.is_initialized() and (
            dist.get_world_size(self.process_group) > 1)
        if not need_sync:
            return super().forward(input)
        factor = 0.0 if self.momentum is None else self.momentum
        if self.track_running_stats and self.num_batches_tracked is not None:
            self.num_batches_tracked.add_(1)
            if self.momentum is None:
                factor = 1.0 / float(self.num_batches_tracked)
        group = self.process_group
        dims = [0, *range(2, input.dim())]
        shape = [1, -1] + [1] * (input.dim() - 2)
        c = input.size(1)
        count = input.numel() // c
        local = input.sum(dims).reshape(1, c)
        stats = _AllReduceSum.apply(group, _cat_count(local, count))
        total = float(stats[0, c].item())
        if total <= 1:
            raise ValueError(f"Expected more than 1 value per channel when training, got "
                             f"input size {tuple(input.shape)}")
        mean = stats[0, :c] / total
        centered = input - mean.reshape(shape)
        sq = _AllReduceSum.apply(group, (centered * centered).sum(dims))
        var = sq / total
        out = centered * (var + self.eps).rsqrt().reshape(shape)
        if self.weight is not None:
            out = out * self.weight.reshape(shape)
        if self.bias is not None:
            out = out + self.bias.reshape(shape)
        if self.track_running_stats and self.running_mean is not None:
            with no_grad():
                self.running_mean.mul_(1 - factor).add_(mean.detach() * factor)
                unbiased = var.detach() * (total / (total - 1))
                self.running_var.mul_(1 - factor).add_(unbiased * factor)
        return out

    @classmethod
    def convert_sync_batchnorm(cls, module: Module, process_group=None) -> Module:
        """`module` with every BatchNorm*D replaced by a SyncBatchNorm holding the same
        parameters and buffers (the module itself when it is a batch norm)."""
        out = module
        if isinstance(module, _BatchNorm) and not isinstance(module, SyncBatchNorm):
            out = cls(module.num_features, module.eps, module.momentum, module.affine,
                      module.track_running_stats, process_group)
            if module.affine:
                with no_grad():
                    out.weight = module.weight
                    out.bias = module.bias
            out.running_mean = module.running_mean
            out.running_var = module.running_var
            out.num_batches_tracked = module.num_batches_tracked
            out.training = module.training
            if hasattr(module, "qconfig"):
                out.qconfig = module.qconfig
        for name, child in module.named_children():
            out.add_module(name, cls.convert_sync_batchnorm(child, process_group))
        return out


def _cat_count(local: Tensor, count: int) -> Tensor:
    """[sum x per channel..., local count] as one (1, C + 1) row, for one all-reduce."""
    from ember._ops.shape import cat
    return cat([local, local.new_full((1, 1), float(count))], 1)

