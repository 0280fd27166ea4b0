"""ember.cuda.amp: the older CUDA-only spellings of ember.amp (deprecated, as in torch)."""
from ember.cuda.amp.autocast_mode import autocast, custom_bwd, custom_fwd
from ember.cuda.amp.grad_scaler import GradScaler

__all__ = ["autocast", "custom_bwd", "custom_fwd", "GradScaler"]
