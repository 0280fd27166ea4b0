"""Anomaly detection: remember each node's forward stack and fail on NaN gradients."""
from __future__ import annotations

from ember.autograd.function import _anomaly

__all__ = ["detect_anomaly", "set_detect_anomaly", "is_anomaly_enabled"]


def is_anomaly_enabled() -> bool:
    return _anomaly[0]


class set_detect_anomaly:
    """Turn anomaly detection on or off now; restored on leaving a `with` block."""

    def __init__(self, mode: bool, check_nan: bool = True):
        self.prev = _anomaly[0]
        _anomaly[0] = bool(mode)

    def __enter__(self) -> None:
        pass

    def __exit__(self, *exc) -> None:
        _anomaly[0] = self.prev


class detect_anomaly:
    """Context manager / decorator: record forward tracebacks and check backward for NaN."""

    def __init__(self, check_nan: bool = True):
        self.prev = False

    def __enter__(self) -> None:
        self.prev = _anomaly[0]
        _anomaly[0] = True

    def __exit__(self, *exc) -> None:
        _anomaly[0] = self.prev

    def __call__(self, func):
        import functools

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            with detect_anomaly():
                return func(*args, **kwargs)
        return wrapper
