"""Runnable programs on data that ships with the package or with Python (no downloads).

    python -m ember.examples.spiral               an MLP from bare tensors and autograd, no nn
    python -m ember.examples.digits               a small CNN on the 8x8 UCI handwritten digits
    python -m ember.examples.chargpt              a character-level GPT trained on the standard
                                                  library's source, then sampled
    python -m ember.examples.swa                  stochastic weight averaging with BatchNorm
    python -m ember.examples.dataloader_workers   worker processes, augmentation, resuming
                                                  a DataLoader mid-epoch
    python -m ember.examples.data_parallel        nn.DataParallel (CPU replicas without GPUs)
    python -m ember.distributed.run --nproc-per-node 2 -m ember.examples.ddp
                                                  DistributedDataParallel on 2 ranks
"""
