"""Recurrent cell kernels (RNN, LSTM, GRU steps) with forward and backward together."""
from __future__ import annotations

__all__ = []
