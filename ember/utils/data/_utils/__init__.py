"""Helpers shared by the DataLoader, its worker processes and its pin-memory thread."""
from __future__ import annotations

import sys
import traceback

# How often (seconds) a waiting worker checks that its parent is alive, and how often
# the main process checks its workers while it waits for a batch.
MP_STATUS_CHECK_INTERVAL = 0.1

# Whether we are inside a DataLoader worker (set by the worker loop).
IS_WINDOWS = sys.platform == "win32"

HAS_NUMPY = True


class KeyErrorMessage(str):
    """A str whose repr is itself, so a KeyError shows a multi-line traceback readably."""

    def __repr__(self) -> str:
        return self


class ExceptionWrapper:
    """An exception with its traceback as text, picklable across processes and threads.

    Only the type and the formatted traceback are kept (never the traceback object,
    which would pin the frames it references); `reraise` raises the same type with
    a message saying where it was caught followed by the original traceback.
    """

    def __init__(self, exc_info=None, where: str = "in background") -> None:
        if exc_info is None:
            exc_info = sys.exc_info()
        self.exc_type = exc_info[0]
        self.exc_msg = "".join(traceback.format_exception(*exc_info))
        self.where = where

    def reraise(self):
        msg = f"Caught {self.exc_type.__name__} {self.where}.\nOriginal {self.exc_msg}"
        if self.exc_type is KeyError:
            msg = KeyErrorMessage(msg)
        elif getattr(self.exc_type, "message", None):
            raise self.exc_type(message=msg)
        try:
            exception = self.exc_type(msg)
        except Exception:
            raise RuntimeError(msg) from None
        # No local may keep the exception: its traceback holds this frame, and the cycle
        # would keep the DataLoader iterator (and its workers) alive until a gc pass.
        try:
            raise exception
        finally:
            del exception


from ember.utils.data._utils import collate, fetch, pin_memory, shm, worker  # noqa: E402
