"""TorchVersion: a version string that also compares as a version (torch/torch_version.py).

`ember.__version__ >= "2.0"` must compare release numbers, not characters ("2.13" > "2.2"
as versions, but not as strings), and `ember.__version__ > (2, 1)` must work too. Strings
that are not versions fall back to plain string comparison, as in torch. The parser covers
PEP 440 (epoch, release, pre/post/dev releases, local label) without needing `packaging`.
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from ember.version import __version__ as internal_version

__all__ = ["TorchVersion", "InvalidVersion"]


class InvalidVersion(ValueError):
    """A string that is not a PEP 440 version."""


_PATTERN = re.compile(
    r"^\s*v?(?:(?P<epoch>\d+)!)?(?P<release>\d+(?:\.\d+)*)"
    r"(?:[-_.]?(?P<pre_l>alpha|beta|preview|pre|rc|a|b|c)[-_.]?(?P<pre_n>\d+)?)?"
    r"(?:-(?P<post_n1>\d+)|[-_.]?(?P<post_l>post|rev|r)[-_.]?(?P<post_n2>\d+)?)?"
    r"(?:[-_.]?(?P<dev_l>dev)[-_.]?(?P<dev_n>\d+)?)?"
    r"(?:\+(?P<local>[a-z0-9]+(?:[-_.][a-z0-9]+)*))?\s*$", re.IGNORECASE)
_PRE = {"alpha": "a", "a": "a", "beta": "b", "b": "b", "c": "rc", "pre": "rc", "preview": "rc",
        "rc": "rc"}


def _key(text: str) -> tuple:
    """A tuple that orders versions as PEP 440 does."""
    m = _PATTERN.match(text)
    if m is None:
        raise InvalidVersion(f"Invalid version: {text!r}")
    release = tuple(int(x) for x in m["release"].split("."))
    while len(release) > 1 and release[-1] == 0:  # 1.0 == 1.0.0
        release = release[:-1]
    post = m["post_n1"] or (m["post_n2"] or "0" if m["post_l"] else None)
    dev = (1, int(m["dev_n"] or 0)) if m["dev_l"] else (2,)
    if m["pre_l"]:
        pre = (1, _PRE[m["pre_l"].lower()], int(m["pre_n"] or 0))
    else:  # 1.0.dev0 < 1.0a0 < 1.0; a final release sorts after its pre-releases
        pre = (0,) if post is None and m["dev_l"] else (2,)
    local = tuple((1, int(p), "") if p.isdigit() else (0, 0, p.lower())
                  for p in re.split(r"[-_.]", m["local"])) if m["local"] else ()
    return (int(m["epoch"] or 0), release, pre, (0,) if post is None else (1, int(post)),
            dev, local)


class TorchVersion(str):
    """A str that compares with strings, tuples such as (2, 1) and packaging Versions as a
    version: TorchVersion("2.13.0+ember0.1.0") > "2.2" and >= (2, 0)."""

    __slots__ = ()

    def _convert_to_version(self, inp: Any) -> tuple:
        if isinstance(inp, str):
            return _key(inp)
        if hasattr(inp, "release") and hasattr(inp, "local"):  # packaging.version.Version
            return _key(str(inp))
        if isinstance(inp, Iterable):  # (2, 1) means "2.1"
            return _key(".".join(str(item) for item in inp))
        raise InvalidVersion(inp)

    def _cmp_wrapper(self, cmp: Any, method: str) -> bool:
        try:
            return getattr(_key(self), method)(self._convert_to_version(cmp))
        except InvalidVersion:  # not a version (e.g. "parrot"): compare as strings
            return getattr(super(), method)(cmp)

    def __gt__(self, other: Any) -> bool:
        return self._cmp_wrapper(other, "__gt__")

    def __lt__(self, other: Any) -> bool:
        return self._cmp_wrapper(other, "__lt__")

    def __eq__(self, other: Any) -> bool:
        return self._cmp_wrapper(other, "__eq__")

    def __ge__(self, other: Any) -> bool:
        return self._cmp_wrapper(other, "__ge__")

    def __le__(self, other: Any) -> bool:
        return self._cmp_wrapper(other, "__le__")

    __hash__ = str.__hash__


__version__ = TorchVersion(internal_version)
