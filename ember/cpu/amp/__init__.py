"""ember.cpu.amp: the older CPU spellings of ember.amp (deprecated, as in torch)."""
from ember.cpu.amp.autocast_mode import autocast
from ember.cpu.amp.grad_scaler import GradScaler

__all__ = ["autocast", "GradScaler"]
