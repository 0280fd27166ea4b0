"""Anomaly detection: remember each node's forward stack and fail on NaN gradients."""
from __future__ import annotations

import warnings

from ember.autograd.function import _anomaly

__all__ = ["detect_anomaly", "set_detect_anomaly", "is_anomaly_enabled",
           "is_anomaly_check_nan_enabled"]


def is_anomaly_enabled() -> bool:
    return _anomaly[0]


def is_anomaly_check_nan_enabled() -> bool:
    return _anomaly[1]


def _warn_enabled() -> None:
    warnings.warn("Anomaly Detection has been enabled. This mode will increase the runtime and "
                  "should only be enabled for debugging.", stacklevel=3)


class detect_anomaly:
    """Context manager: record each node's forward stack (shown when its backward fails)
    and, with check_nan, raise when a backward returns NaN."""

    def __init__(self, check_nan: bool = True):
        self.prev = _anomaly[0]
        self.prev_check_nan = _anomaly[1]
        self.check_nan = check_nan
        _warn_enabled()

    def __enter__(self) -> None:
        _anomaly[0], _anomaly[1] = True, self.check_nan

    def __exit__(self, *exc) -> None:
        _anomaly[0], _anomaly[1] = self.prev, self.prev_check_nan


class set_detect_anomaly:
    """Turn anomaly detection on or off now; the previous setting returns on leaving a
    `with` block."""

    def __init__(self, mode: bool, check_nan: bool = True):
        self.prev = _anomaly[0]
        self.prev_check_nan = _anomaly[1]
        _anomaly[0], _anomaly[1] = bool(mode), bool(check_nan)

    def __enter__(self) -> None:
        pass

    def __exit__(self, *exc) -> None:
        _anomaly[0], _anomaly[1] = self.prev, self.prev_check_nan
