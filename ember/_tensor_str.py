"""repr/str of tensors, character for character as torch prints them.

The layout rules are torch's (torch/_tensor_str.py): one `_Formatter` looks at
every value that will be shown and fixes a common width and a mode — integer
mode for floats that are all whole numbers ("1."), fixed point with `precision`
digits, or scientific notation when the magnitudes span more than 1000x, exceed
1e8 or go below 1e-4. Rows wrap at `linewidth`; tensors with more than
`threshold` elements show `edgeitems` items at each end of every dimension with
"..." between. Suffixes (device, dtype, grad_fn/requires_grad) follow the data.

Everything works on a NumPy copy of only the values that are shown, so printing
a large CUDA tensor transfers its corners, not the whole tensor.
"""
from __future__ import annotations

import contextlib
import dataclasses
import math

import numpy as np

from ember._device import array_module

__all__ = ["set_printoptions", "get_printoptions", "printoptions"]


@dataclasses.dataclass
class _PrinterOptions:
    precision: int = 4
    threshold: float = 1000
    edgeitems: int = 3
    linewidth: int = 80
    sci_mode: bool | None = None


PRINT_OPTS = _PrinterOptions()


def set_printoptions(precision: int | None = None, threshold: float | None = None,
                     edgeitems: int | None = None, linewidth: int | None = None,
                     profile: str | None = None, sci_mode: bool | None = None) -> None:
    """Set how tensors print (torch.set_printoptions).

    profile: 'default', 'short' (precision 2, edgeitems 2) or 'full' (no
    summarisation); explicit arguments override it. sci_mode: True/False forces
    scientific notation on/off, None (also the effect of omitting it) lets each
    tensor's values decide.
    """
    if profile is not None:
        presets = {"default": (4, 1000, 3, 80), "short": (2, 1000, 2, 80),
                   "full": (4, math.inf, 3, 80)}
        if profile in presets:
            (PRINT_OPTS.precision, PRINT_OPTS.threshold, PRINT_OPTS.edgeitems,
             PRINT_OPTS.linewidth) = presets[profile]
    if precision is not None:
        PRINT_OPTS.precision = precision
    if threshold is not None:
        PRINT_OPTS.threshold = threshold
    if edgeitems is not None:
        PRINT_OPTS.edgeitems = edgeitems
    if linewidth is not None:
        PRINT_OPTS.linewidth = linewidth
    PRINT_OPTS.sci_mode = sci_mode


def get_printoptions() -> dict:
    """The current print options, as keyword arguments for set_printoptions."""
    return dataclasses.asdict(PRINT_OPTS)


@contextlib.contextmanager
def printoptions(**kwargs):
    """Use other print options inside a `with` block."""
    old = get_printoptions()
    set_printoptions(**kwargs)
    try:
        yield
    finally:
        set_printoptions(**old)


class _Formatter:
    """Decides the mode and the common width from the values that will be shown."""

    def __init__(self, values: np.ndarray, floating: bool):
        self.floating = floating
        self.int_mode = True
        self.sci_mode = False
        self.max_width = 1
        flat = values.reshape(-1)
        if not floating:
            if flat.size:
                self.max_width = max(len(str(v)) for v in flat.tolist())
            return
        vals = flat[np.isfinite(flat) & (flat != 0)].astype(np.float64)
        if vals.size == 0:
            return
        mags = np.abs(vals)
        lo, hi = float(mags.min()), float(mags.max())
        self.int_mode = bool((vals == np.ceil(vals)).all())
        if PRINT_OPTS.sci_mode is None:
            self.sci_mode = hi / lo > 1000.0 or hi > 1.0e8 or lo < 1.0e-4
        else:
            self.sci_mode = PRINT_OPTS.sci_mode
        p = PRINT_OPTS.precision
        items = vals.tolist()
        if self.sci_mode:
            self.max_width = max(len(f"{v:.{p}e}") for v in items)
        elif self.int_mode:
            self.max_width = max(len(f"{v:.0f}") + 1 for v in items)  # +1 for the "."
        else:
            self.max_width = max(len(f"{v:.{p}f}") for v in items)

    def width(self) -> int:
        return self.max_width

    def format(self, value) -> str:
        if self.floating:
            p = PRINT_OPTS.precision
            if self.sci_mode:
                ret = f"{value:{self.max_width}.{p}e}"
            elif self.int_mode:
                ret = f"{value:.0f}"
                if not (math.isinf(value) or math.isnan(value)):
                    ret += "."
            else:
                ret = f"{value:.{p}f}"
        else:
            ret = f"{value}"
        return (self.max_width - len(ret)) * " " + ret


def _vector_str(a: np.ndarray, indent: int, summarize: bool, fmt: _Formatter) -> str:
    element_length = fmt.width() + 2
    per_line = max(1, math.floor((PRINT_OPTS.linewidth - indent) / element_length))
    e = PRINT_OPTS.edgeitems
    if summarize and not e:
        data = ["..."]
    elif summarize and a.shape[0] > 2 * e:
        data = ([fmt.format(v) for v in a[:e].tolist()] + [" ..."] +
                [fmt.format(v) for v in a[-e:].tolist()])
    else:
        data = [fmt.format(v) for v in a.tolist()]
    lines = [", ".join(data[i:i + per_line]) for i in range(0, len(data), per_line)]
    return "[" + ("," + "\n" + " " * (indent + 1)).join(lines) + "]"


def _nd_str(a: np.ndarray, indent: int, summarize: bool, fmt: _Formatter) -> str:
    if a.ndim == 0:
        return fmt.format(a.item())
    if a.ndim == 1:
        return _vector_str(a, indent, summarize, fmt)
    e = PRINT_OPTS.edgeitems
    n = a.shape[0]
    if summarize and n > 2 * e:
        rows = ([_nd_str(a[i], indent + 1, summarize, fmt) for i in range(e)] + ["..."] +
                [_nd_str(a[i], indent + 1, summarize, fmt) for i in range(n - e, n)])
    else:
        rows = [_nd_str(a[i], indent + 1, summarize, fmt) for i in range(n)]
    return "[" + ("," + "\n" * (a.ndim - 1) + " " * (indent + 1)).join(rows) + "]"


def _summarized(a: np.ndarray) -> np.ndarray:
    """The values a summarised print shows: `edgeitems` from each end of every dimension.

    (As in torch, a 1-D tensor with edgeitems=0 keeps all its values here, while
    higher-dimensional ones keep none.)
    """
    e = PRINT_OPTS.edgeitems
    if a.ndim == 0:
        return a
    if a.ndim == 1:
        return np.concatenate((a[:e], a[-e:])) if a.shape[0] > 2 * e else a
    if not e:
        return a[(slice(0, 0),) * a.ndim]
    for axis in range(a.ndim):
        if a.shape[axis] > 2 * e:
            idx = [slice(None)] * a.ndim
            head, tail = list(idx), list(idx)
            head[axis], tail[axis] = slice(0, e), slice(-e, None)
            a = np.concatenate((a[tuple(head)], a[tuple(tail)]), axis=axis)
    return a


def _corners(arr, e: int):
    """Shrink every long dimension to its e-item ends around one placeholder (2e + 1 items)
    so a summarised print reads (and, from a GPU, transfers) only what it shows."""
    xp = array_module(arr)
    for axis in range(arr.ndim):
        n = arr.shape[axis]
        if n > 2 * e + 1:
            keep = list(range(e + 1)) + list(range(n - e, n))
            arr = xp.take(arr, xp.asarray(keep), axis=axis)
    return arr


def _host_values(t) -> np.ndarray:
    """The values to print, on the host, in a dtype whose .tolist() gives exact numbers."""
    arr = t._data
    if t.numel() > PRINT_OPTS.threshold and PRINT_OPTS.edgeitems:
        arr = _corners(arr, PRINT_OPTS.edgeitems)
    if not isinstance(arr, np.ndarray):
        arr = arr.get()
    if arr.dtype.name == "bfloat16":
        arr = arr.astype(np.float32)
    return arr


def _tensor_str(t, indent: int) -> str:
    if t.numel() == 0:
        return "[]"
    summarize = t.numel() > PRINT_OPTS.threshold
    a = _host_values(t)
    fmt = _Formatter(_summarized(a) if summarize else a, t.dtype.is_floating_point)
    return _nd_str(a, indent, summarize, fmt)


def _add_suffixes(tensor_str: str, suffixes: list, indent: int) -> str:
    parts = [tensor_str]
    last_line_len = len(tensor_str) - tensor_str.rfind("\n") + 1
    for suffix in suffixes:
        if last_line_len + len(suffix) + 2 > PRINT_OPTS.linewidth:
            parts.append(",\n" + " " * indent + suffix)
            last_line_len = indent + len(suffix)
        else:
            parts.append(", " + suffix)
            last_line_len += len(suffix) + 2
    parts.append(")")
    return "".join(parts)


def _str(self, *, tensor_contents=None) -> str:
    """torch's repr of a tensor: tensor([...], dtype=..., device=..., grad_fn=<...>)."""
    from ember import _dtype as _dt
    from ember._tensor import Tensor

    cls = type(self)
    is_param = bool(getattr(self, "_is_param", False))
    plain = cls is Tensor or (is_param and cls.__name__ == "Parameter")
    prefix = "tensor(" if plain else f"{cls.__name__}("
    indent = len(prefix)
    suffixes = []
    if not self.is_cpu:
        suffixes.append(f"device='{self.device}'")
    dtype = self.dtype
    default = _dt.get_default_dtype()
    if self.numel() == 0:
        if self._data.ndim != 1:
            suffixes.append(f"size={tuple(self._data.shape)}")
        if dtype is not default:
            suffixes.append(f"dtype={dtype!r}")
        body = "[]"
    else:
        if not PRINT_OPTS.edgeitems:
            suffixes.append(f"size={tuple(self._data.shape)}")
        if dtype not in (default, _dt.int64, _dt.bool):
            suffixes.append(f"dtype={dtype!r}")
        body = _tensor_str(self, indent)
    if tensor_contents is not None:
        body = tensor_contents
    if self.grad_fn is not None:
        suffixes.append(f"grad_fn=<{self.grad_fn.name().rsplit('::', 1)[-1]}>")
    elif self.requires_grad:
        suffixes.append("requires_grad=True")
    out = _add_suffixes(prefix + body, suffixes, indent)
    if is_param and not plain:
        out = f"Parameter({out})"
    return out
