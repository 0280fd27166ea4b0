"""The named tuples ops return (torch.return_types): max(dim), sort, topk ...

Each prints like torch's (`torch.return_types.max(values=..., indices=...)`) and
pickles by name from this module.
"""
from __future__ import annotations

from collections import namedtuple

__all__ = ["max", "min", "aminmax", "sort", "topk", "kthvalue"]


def _structseq(name: str, fields: tuple):
    """A named tuple type that prints like torch.return_types.<name>."""
    base = namedtuple(name, fields)

    def __repr__(self) -> str:
        body = ",\n".join(f"{f}={v!r}" for f, v in zip(fields, self))
        return f"torch.return_types.{name}(\n{body})"

    return type(name, (base,), {"__slots__": (), "__repr__": __repr__, "__str__": __repr__,
                                "__module__": __name__})


max = _structseq("max", ("values", "indices"))  # noqa: A001
min = _structseq("min", ("values", "indices"))  # noqa: A001
aminmax = _structseq("aminmax", ("min", "max"))
sort = _structseq("sort", ("values", "indices"))
topk = _structseq("topk", ("values", "indices"))
kthvalue = _structseq("kthvalue", ("values", "indices"))
