"""nn.Parameter and nn.Buffer: the markers that make a Module register a tensor."""
from __future__ import annotations

from ember._tensor import Tensor

__all__ = ["Parameter", "Buffer"]


class Parameter(Tensor):
    """A leaf tensor (requires_grad=True by default) that shares memory with `data`."""

    _is_param = True  # lets the tensor printer show the body as tensor(...) (torch's repr)

    def __new__(cls, data: Tensor | None = None, requires_grad: bool = True):
        if data is None:
            from ember._ops.creation import empty
            data = empty(0)
        if not isinstance(data, Tensor):
            raise TypeError(f"Parameter expects a Tensor as data, got {type(data).__name__}")
        p = object.__new__(cls)
        p._data = data._data
        p._version_counter = data._version_counter
        p._requires_grad = False
        p.grad_fn = None
        if requires_grad:
            p.requires_grad_(True)
        return p

    def __init__(self, data: Tensor | None = None, requires_grad: bool = True):
        pass  # everything happens in __new__ (Tensor.__init__ is the legacy constructor)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()

    def __deepcopy__(self, memo):
        if id(self) in memo:
            return memo[id(self)]
        from ember._ops.pointwise import clone
        with _no_grad():
            result = type(self)(clone(self.detach()), self._requires_grad)
        memo[id(self)] = result
        return result

    def __reduce_ex__(self, protocol):
        return (_rebuild_parameter, (self.detach(), self._requires_grad))


class _BufferMeta(type):
    """`isinstance(t, Buffer)` asks the tensor's flag: a Buffer is a plain Tensor."""

    def __instancecheck__(cls, instance) -> bool:
        return isinstance(instance, Tensor) and getattr(instance, "_is_buffer", False)


class Buffer(Tensor, metaclass=_BufferMeta):
    """Marks a tensor to be registered as a buffer when assigned to a Module attribute
    (`self.mean = nn.Buffer(t, persistent=False)` is `register_buffer('mean', t, False)`).
    As in torch, the result is a detached plain Tensor carrying the flag, not a subclass."""

    def __new__(cls, data: Tensor | None = None, *, persistent: bool = True):
        if data is None:
            from ember._ops.creation import empty
            data = empty(0)
        t = data.detach().requires_grad_(data.requires_grad)
        t._is_buffer = True
        t.persistent = persistent
        return t


def _rebuild_parameter(data: Tensor, requires_grad: bool) -> Parameter:
    return Parameter(data, requires_grad)


def _no_grad():
    from ember.autograd.grad_mode import no_grad
    return no_grad()
