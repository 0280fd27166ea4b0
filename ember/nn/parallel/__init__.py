"""Data parallelism in one process over several devices (torch.nn.parallel)."""
from ember.nn.parallel.data_parallel import DataParallel, data_parallel
from ember.nn.parallel.distributed import DistributedDataParallel
from ember.nn.parallel.parallel_apply import parallel_apply
from ember.nn.parallel.replicate import replicate
from ember.nn.parallel.scatter_gather import gather, scatter, scatter_kwargs
from ember.nn.parallel.sync_batchnorm import SyncBatchNorm  # exposed as nn.SyncBatchNorm

__all__ = ["DataParallel", "DistributedDataParallel", "data_parallel", "gather", "parallel_apply",
           "replicate", "scatter", "scatter_kwargs"]
