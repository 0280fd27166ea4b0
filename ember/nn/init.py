"""nn.init: parameter initialisers with torch's fan computations and gains."""
from __future__ import annotations

__all__ = []
