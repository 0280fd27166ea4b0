"""Grad mode: whether ops record the graph. Thread-local, as in torch.

`_state.enabled` is the one flag the hot paths read (Function.apply, in-place ops,
the engine): True means "record a graph for inputs that require grad". Inference
mode also forces it False; if the user turns grad mode on inside inference mode
(enable_grad), torch reports grad mode as on but still records nothing, so that
request is kept apart in `_state.requested` instead of switching recording on.
"""
from __future__ import annotations

import functools
import inspect
import threading

__all__ = ["no_grad", "enable_grad", "set_grad_enabled", "inference_mode",
           "is_grad_enabled", "is_inference_mode_enabled"]


class _State(threading.local):
    # Class attributes are the defaults every new thread starts with.
    enabled = True  # record the graph (grad mode on and not in inference mode)
    inference = False  # inference mode: new tensors are inference tensors
    requested = False  # grad mode as the user set it while in inference mode


_state = _State()


def is_grad_enabled() -> bool:
    return _state.enabled or (_state.inference and _state.requested)


def is_inference_mode_enabled() -> bool:
    return _state.inference


def _set_grad(mode: bool) -> None:
    if _state.inference:
        _state.requested = mode
    else:
        _state.enabled = mode


def _save() -> tuple:
    return _state.enabled, _state.inference, _state.requested


def _restore(prev: tuple) -> None:
    _state.enabled, _state.inference, _state.requested = prev


class _DecoratorContextManager:
    """Context managers that also work as decorators (`@no_grad()` and `@no_grad`),
    including on generator functions (the mode holds while the generator runs)."""

    def __call__(self, func):
        if inspect.isgeneratorfunction(func):
            return _wrap_generator(self.clone, func)

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


def _wrap_generator(make_context, gen_func):
    """Run each step of the generator (start, send, throw, close) inside a fresh context."""

    @functools.wraps(gen_func)
    def generator_context(*args, **kwargs):
        gen = gen_func(*args, **kwargs)
        try:
            with make_context():
                response = gen.send(None)
            while True:
                try:
                    request = yield response
                except GeneratorExit:
                    with make_context():
                        gen.close()
                    raise
                except BaseException as exc:
                    with make_context():
                        response = gen.throw(exc)
                else:
                    with make_context():
                        response = gen.send(request)
        except StopIteration as stop:
            return stop.value
    return generator_context


class no_grad(_DecoratorContextManager):
    """Disable gradient recording inside the block."""

    def __init__(self, orig_func=None):
        self.prev = None

    def __enter__(self) -> None:
        self.prev = _save()
        _set_grad(False)

    def __exit__(self, *exc) -> None:
        _restore(self.prev)


class enable_grad(_DecoratorContextManager):
    """Enable gradient recording inside the block (even within no_grad)."""

    def __init__(self, orig_func=None):
        self.prev = None

    def __enter__(self) -> None:
        self.prev = _save()
        _set_grad(True)

    def __exit__(self, *exc) -> None:
        _restore(self.prev)


class set_grad_enabled(_DecoratorContextManager):
    """Set grad mode now (like a function call); a `with` block or a decorated function
    restores the previous mode afterwards."""

    def __init__(self, mode: bool):
        if mode.__class__ is not bool:
            raise TypeError(f"set_grad_enabled(): argument 'enabled' (position 1) must be bool, "
                            f"not {type(mode).__name__}")
        self.prev = _save()
        self.mode = mode
        _set_grad(mode)

    def __call__(self, func):
        _restore(self.prev)  # as a decorator it must not change the mode at definition time
        return super().__call__(func)

    def __enter__(self) -> None:
        _set_grad(self.mode)

    def __exit__(self, *exc) -> None:
        _restore(self.prev)

    def clone(self):
        return set_grad_enabled(self.mode)


class inference_mode(_DecoratorContextManager):
    """no_grad that also marks the tensors it creates as inference tensors;
    inference_mode(False) turns both inference mode off and grad mode on (torch)."""

    def __init__(self, mode: bool = True):
        self.mode = mode if not callable(mode) else True
        self.prev = None

    def __new__(cls, mode=True):
        if callable(mode):  # bare @inference_mode
            return cls()(mode)
        return super().__new__(cls)

    def __enter__(self) -> None:
        self.prev = _save()
        if self.mode:
            _state.enabled, _state.inference, _state.requested = False, True, False
        else:
            _state.enabled, _state.inference = True, False

    def __exit__(self, *exc) -> None:
        _restore(self.prev)

    def clone(self):
        return inference_mode(self.mode)
