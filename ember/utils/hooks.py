"""RemovableHandle: what every register_*hook returns."""
from __future__ import annotations

import itertools
import weakref

__all__ = ["RemovableHandle"]


class RemovableHandle:
    """Removes one hook from the dict it was added to; usable as a context manager."""

    _next_id = itertools.count()

    def __init__(self, hooks_dict: dict, *, extra_dict=None):
        self.hooks_dict_ref = _ref(hooks_dict)
        self.id = next(RemovableHandle._next_id)
        extra = extra_dict if isinstance(extra_dict, (list, tuple)) else (
            [] if extra_dict is None else [extra_dict])
        self.extra_dict_ref = tuple(_ref(d) for d in extra)

    def remove(self) -> None:
        for ref in (self.hooks_dict_ref, *self.extra_dict_ref):
            d = ref()
            if d is not None:
                d.pop(self.id, None)

    def __getstate__(self):
        # Pickled with the dicts themselves (a weak reference cannot be pickled).
        return (self.hooks_dict_ref(), self.id, tuple(ref() for ref in self.extra_dict_ref))

    def __setstate__(self, state) -> None:
        from collections import OrderedDict
        self.hooks_dict_ref = _ref(state[0] if state[0] is not None else OrderedDict())
        self.id = state[1]
        extra = state[2] if len(state) > 2 and state[2] is not None else ()
        self.extra_dict_ref = tuple(_ref(d) for d in extra if d is not None)
        # ids handed out from now on stay above every id that exists
        while True:
            nxt = next(RemovableHandle._next_id)
            if nxt > self.id:
                RemovableHandle._next_id = itertools.count(nxt)
                break

    def __enter__(self) -> RemovableHandle:
        return self

    def __exit__(self, *exc) -> None:
        self.remove()


def _ref(d):
    """A weak reference where the container allows one (OrderedDict), else a strong one:
    a plain dict cannot be weakly referenced, and the handle must still be able to remove."""
    try:
        return weakref.ref(d)
    except TypeError:
        return lambda: d
