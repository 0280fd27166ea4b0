"""ember.backends: torch.backends' flags, answered truthfully for a NumPy/CuPy library.

Programs set `torch.backends.cudnn.benchmark = True` or ask
`torch.backends.mps.is_available()` without caring about the answer's consequences;
these modules accept the flags (they are plain module attributes, as in torch) and
report that no cuDNN, MPS or oneDNN backend sits underneath ember.
"""
from ember.backends import cpu, cuda, cudnn, mkldnn, mps

__all__ = ["cpu", "cuda", "cudnn", "mkldnn", "mps"]
