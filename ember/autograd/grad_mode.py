"""Grad mode: whether ops record the graph. Thread-local, as in torch."""
from __future__ import annotations

import functools
import threading

__all__ = ["no_grad", "enable_grad", "set_grad_enabled", "inference_mode",
           "is_grad_enabled", "is_inference_mode_enabled"]


class _State(threading.local):
    # Class attributes are the defaults every new thread starts with.
    enabled = True
    inference = False


_state = _State()


def is_grad_enabled() -> bool:
    return _state.enabled


def is_inference_mode_enabled() -> bool:
    return _state.inference


class _DecoratorContextManager:
    """Context managers that also work as decorators (`@no_grad()` and `@no_grad`)."""

    def __call__(self, func):
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            with self.clone():
                return func(*args, **kwargs)
        return wrapper

    def clone(self):
        return self.__class__()

    def __new__(cls, orig_func=None, *args, **kwargs):
        if cls is not set_grad_enabled and callable(orig_func):
            return cls()(orig_func)  # used as a bare decorator
        return super().__new__(cls)


class no_grad(_DecoratorContextManager):
    """Disable gradient recording inside the block."""

    def __init__(self, orig_func=None):
        self.prev = True

    def __enter__(self) -> None:
        self.prev = _state.enabled
        _state.enabled = False

    def __exit__(self, *exc) -> None:
        _state.enabled = self.prev


class enable_grad(_DecoratorContextManager):
    """Enable gradient recording inside the block (even within no_grad)."""

    def __init__(self, orig_func=None):
        self.prev = False

    def __enter__(self) -> None:
        self.prev = _state.enabled
        _state.enabled = True

    def __exit__(self, *exc) -> None:
        _state.enabled = self.prev


class set_grad_enabled(_DecoratorContextManager):
    """Set grad mode now (like a function call) and restore it when used with `with`."""

    def __init__(self, mode: bool):
        self.prev = _state.enabled
        self.mode = bool(mode)
        _state.enabled = self.mode

    def __enter__(self) -> None:
        pass

    def __exit__(self, *exc) -> None:
        _state.enabled = self.prev

    def clone(self):
        return set_grad_enabled(self.mode)


class inference_mode(_DecoratorContextManager):
    """no_grad that also marks the tensors it creates as inference tensors."""

    def __init__(self, mode: bool = True):
        self.mode = mode if not callable(mode) else True
        self.prev = (True, False)

    def __enter__(self) -> None:
        self.prev = (_state.enabled, _state.inference)
        if self.mode:
            _state.enabled, _state.inference = False, True

    def __exit__(self, *exc) -> None:
        _state.enabled, _state.inference = self.prev

    def clone(self):
        return inference_mode(self.mode)
