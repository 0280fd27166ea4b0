"""ember.cpu: torch.cpu's device queries, which always find the one CPU, and its amp.

Streams and events on the CPU have nothing to wait for: every op has finished when it
returns, so they exist only so that device-generic code runs unchanged.
"""
from __future__ import annotations

from ember.cpu import amp

__all__ = ["amp", "current_device", "current_stream", "device_count", "is_available",
           "is_initialized", "set_device", "stream", "synchronize", "Event", "Stream",
           "StreamContext"]


def is_available() -> bool:
    return True


def is_initialized() -> bool:
    return True


def device_count() -> int:
    return 1


def current_device() -> str:
    return "cpu"


def set_device(device) -> None:
    """Accepted and ignored, as in torch: there is one CPU device."""


def synchronize(device=None) -> None:
    """Nothing to wait for: CPU ops finish before they return."""


class Stream:
    """A CPU stream: a no-op stand-in for device-generic code."""

    def __init__(self, priority: int = -1) -> None:
        self.priority = priority

    def wait_stream(self, stream) -> None:
        pass

    def wait_event(self, event) -> None:
        pass

    def record_event(self, event=None):
        return event if event is not None else Event()


class Event:
    """A CPU event: always complete."""

    def query(self) -> bool:
        return True

    def record(self, stream=None) -> None:
        pass

    def synchronize(self) -> None:
        pass

    def wait(self, stream=None) -> None:
        pass


_default_stream = Stream()


def current_stream(device=None) -> Stream:
    return _default_stream


class StreamContext:
    """`with ember.cpu.stream(s):` selects nothing on the CPU."""

    def __init__(self, stream) -> None:
        self.stream = stream

    def __enter__(self):
        return self.stream

    def __exit__(self, *exc) -> bool:
        return False


def stream(stream) -> StreamContext:
    return StreamContext(stream)
