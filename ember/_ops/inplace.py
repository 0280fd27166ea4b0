"""In-place ops and views under autograd.

NOTE [ In-place ops ]
`x.op_(y)` runs the out-of-place op and writes the result into x's memory,
then bumps x's version counter (so any node that saved x will refuse to run
backward on stale data). When a graph is recorded the out-of-place op is applied
to a snapshot of x that stands in x's old place in the graph, and x takes the
new node as its grad_fn.

If x is a view, its base changed too: the base gets a `CopySlices` node whose
backward routes the region the view covers to the in-place op's node and the
rest to the base's previous history; the view's own grad_fn is then rebuilt
from the base with the view's `_view_func`. This is how torch does it.
"""
from __future__ import annotations

import numpy as np

from ember import _dtype as _dt
from ember._device import array_module
from ember._tensor import Tensor, _make
from ember.autograd.function import Function, _check_inplace, _edge, _seq
from ember.autograd.grad_mode import _state

__all__ = ["apply_inplace", "set_view", "rebase_view", "CopySlices"]


def set_view(out: Tensor, src: Tensor, view_func) -> Tensor:
    """Mark `out` as a view of `src`: shared version counter and a way to rebuild it."""
    base = src._base
    if base is None:
        out._base = src
        out._view_func = view_func
    else:
        parent = src._view_func
        out._base = base
        out._view_func = lambda b: view_func(parent(b))
    out._version_counter = src._version_counter
    return out


def _check_writable(self: Tensor, result_dtype: _dt.dtype, result_shape) -> None:
    if not _dt.can_cast(result_dtype, self.dtype):
        raise RuntimeError(f"result type {_type_name(result_dtype)} can't be cast to the desired "
                           f"output type {_type_name(self.dtype)}")
    if result_shape != self._data.shape:
        full = np.broadcast_shapes(result_shape, self._data.shape)
        raise RuntimeError(f"output with shape {list(self._data.shape)} doesn't match the "
                           f"broadcast shape {list(full)}")


def _type_name(d: _dt.dtype) -> str:
    return {"float32": "Float", "float64": "Double", "float16": "Half", "bfloat16": "BFloat16",
            "int64": "Long", "int32": "Int", "int16": "Short", "int8": "Char", "uint8": "Byte",
            "bool": "Bool"}[d.name]


def _write(self: Tensor, array) -> None:
    try:
        self._data[...] = array
    except ValueError as e:  # e.g. an expanded (broadcast) tensor is read-only
        raise RuntimeError("unsupported operation: more than one element of the written-to "
                           "tensor refers to a single memory location. Please clone() the "
                           f"tensor before performing the operation. ({e})") from None


def apply_inplace(self: Tensor, fn, *args, **kwargs) -> Tensor:
    """Run `fn(self, *args)` out of place and write the result into `self`."""
    if self._is_inference and not _state.inference:
        raise RuntimeError("Inplace update to inference tensor outside InferenceMode is not "
                           "allowed.You can make a clone to get a normal tensor before doing "
                           "inplace update.See https://github.com/pytorch/rfcs/pull/17 for more "
                           "details.")
    recording = _state.enabled and (self._requires_grad or any(
        isinstance(a, Tensor) and a._requires_grad for a in args))
    if not recording:
        result = fn(self, *args, **kwargs)
        _check_writable(self, result.dtype, result._data.shape)
        _write(self, result._data)
        self._version_counter[0] += 1
        return self
    _check_inplace(self)
    base = self._base
    if base is not None and base.grad_fn is None and base._requires_grad:
        raise RuntimeError("a view of a leaf Variable that requires grad is being used in an "
                           "in-place operation.")
    # A snapshot of self's old value that keeps self's place in the graph.
    old = _make(self._data.copy(), self._requires_grad)
    old.grad_fn, old._output_nr = self.grad_fn, self._output_nr
    result = fn(old, *args, **kwargs)
    _check_writable(self, result.dtype, result._data.shape)
    _write(self, result._data)
    self._version_counter[0] += 1
    if base is not None:
        rebase_view(self, result.grad_fn, result._output_nr)
    else:
        prev_node, prev_nr = self.grad_fn, self._output_nr
        self._requires_grad = True
        self.grad_fn, self._output_nr = result.grad_fn, result._output_nr
        if prev_node is not None and prev_node._retain_grad:
            _carry_retain_grad(self, prev_node, prev_nr)
    return self


def _carry_retain_grad(t: Tensor, prev_node, prev_nr: int) -> None:
    """retain_grad follows a tensor to its new grad_fn after an in-place op (torch);
    hooks registered with register_hook stay with the old value."""
    if prev_node is not None and prev_node._retain_grad and prev_nr in prev_node._retain_grad:
        del prev_node._retain_grad[prev_nr]
        t.retain_grad()


class CopySlices(Function):
    """The base's node after an in-place op on one of its views."""

    _node_name = "torch::autograd::CopySlices"  # torch's name(); repr shows CopySlices

    @staticmethod
    def backward(ctx, grad):
        # Gradient for the base's old value: everything outside the view region.
        # Gradient for the in-place op's result: the view region.
        mask = array_module(grad._data).zeros(ctx._base_shape, dtype=bool)
        with _no_grad():
            region = ctx._view_func(_make(mask))
        region._data[...] = True
        return grad.masked_fill(_make(mask), 0), ctx._view_func(grad)


def rebase_view(view: Tensor, node, output_nr: int) -> None:
    """After an in-place op on `view`, give its base a CopySlices node (see NOTE above)."""
    base = view._base
    cs = CopySlices.__new__(CopySlices)
    cs._seq = next(_seq)
    cs.needs_input_grad = (base._requires_grad, True)
    cs._edges = [(0, *_edge(base), base._data.shape, base._data.dtype),
                 (1, node, output_nr, view._data.shape, view._data.dtype)]
    cs._view_func = view._view_func
    cs._base_shape = base._data.shape
    cs._out_meta = [(base._data.shape, base._data.dtype)]
    base_node, base_nr = base.grad_fn, base._output_nr
    view_node, view_nr = view.grad_fn, view._output_nr
    base._requires_grad = True
    base.grad_fn, base._output_nr = cs, 0
    _carry_retain_grad(base, base_node, base_nr)
    prev = _state.enabled
    _state.enabled = True
    try:
        fresh = view._view_func(base)
    finally:
        _state.enabled = prev
    view._requires_grad = True
    view.grad_fn, view._output_nr = fresh.grad_fn, fresh._output_nr
    _carry_retain_grad(view, view_node, view_nr)


def _no_grad():
    from ember.autograd.grad_mode import no_grad
    return no_grad()
