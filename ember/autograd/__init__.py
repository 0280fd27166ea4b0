"""ember.autograd: reverse-mode differentiation (torch.autograd's API)."""
from __future__ import annotations

from ember._device import array_module
from ember._tensor import Tensor
from ember.autograd import engine, graph
from ember.autograd.anomaly_mode import detect_anomaly, set_detect_anomaly
from ember.autograd.engine import run_backward
from ember.autograd.function import Function, FunctionCtx, once_differentiable
from ember.autograd.grad_mode import (
    enable_grad,
    inference_mode,
    is_grad_enabled,
    is_inference_mode_enabled,
    no_grad,
    set_grad_enabled,
)
from ember.autograd.gradcheck import GradcheckError, gradcheck, gradgradcheck

__all__ = ["backward", "grad", "Function", "FunctionCtx", "once_differentiable", "no_grad",
           "enable_grad", "set_grad_enabled", "inference_mode", "is_grad_enabled",
           "is_inference_mode_enabled", "detect_anomaly", "set_detect_anomaly", "gradcheck",
           "gradgradcheck", "GradcheckError", "engine", "graph", "Variable"]


class _VariableMeta(type):
    def __instancecheck__(cls, other) -> bool:
        return isinstance(other, Tensor)


class Variable(metaclass=_VariableMeta):
    """The legacy wrapper: Variable(t, requires_grad) is a detached alias of t (a Tensor)."""

    def __new__(cls, data, requires_grad: bool = False, volatile: bool = False):
        if not isinstance(data, Tensor):
            raise TypeError(f"Variable data has to be a tensor, but got {type(data).__name__}")
        return data.detach().requires_grad_(requires_grad)


def _as_tuple(x) -> tuple:
    if x is None:
        return ()
    return (x,) if isinstance(x, Tensor) else tuple(x)


def _make_grads(outputs, grad_outputs, is_grads_batched: bool = False) -> list:
    """The gradient to start from at each output: given, or ones for a scalar."""
    grads = list(grad_outputs) if grad_outputs else [None] * len(outputs)
    if len(grads) != len(outputs):
        raise RuntimeError("grad can be implicitly created only for scalar outputs" if not grads
                           else f"Mismatch in number of grad_outputs: got {len(grads)} grads "
                           f"for {len(outputs)} outputs")
    result = []
    for i, (out, g) in enumerate(zip(outputs, grads)):
        if g is None:
            if out._requires_grad or out.grad_fn is not None:
                if out.numel() != 1:
                    raise RuntimeError("grad can be implicitly created only for scalar outputs")
                if not out.dtype.is_floating_point:
                    raise RuntimeError(f"grad can be implicitly created only for real scalar "
                                       f"outputs but got {out.dtype}")
            g = _ones_like(out)
        elif not isinstance(g, Tensor):
            raise TypeError(f"gradients can be either Tensors or None, but got "
                            f"{type(g).__name__}")
        elif g.shape != out.shape:
            raise RuntimeError(f"Mismatch in shape: grad_output[{i}] has a shape of {g.shape} "
                               f"and output[{i}] has a shape of {out.shape}.")
        result.append(g)
    return result


def _ones_like(t: Tensor) -> Tensor:
    from ember._tensor import _make
    xp = array_module(t._data)
    return _make(xp.ones(t._data.shape, t._data.dtype))


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph: bool = False,
             grad_variables=None, inputs=None) -> None:
    """Sum the gradients of `tensors` into the .grad of the graph's leaves (or of `inputs`)."""
    tensors = _as_tuple(tensors)
    grads = _make_grads(tensors, _as_tuple(grad_tensors) if grad_tensors is not None else None)
    if retain_graph is None:
        retain_graph = create_graph
    if inputs is not None:
        inputs = _as_tuple(inputs)
        if not inputs:
            raise RuntimeError("`inputs` argument to `backward()` cannot be empty.")
        for t in inputs:
            t.retain_grad()  # a non-leaf input's .grad is kept like retain_grad's (torch)
    run_backward(tensors, grads, retain_graph, create_graph, inputs=inputs, accumulate=True)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph: bool = False,
         only_inputs: bool = True, allow_unused=None, is_grads_batched: bool = False,
         materialize_grads: bool = False) -> tuple:
    """Return d(outputs)/d(inputs) without touching any .grad."""
    if materialize_grads and allow_unused is False:
        raise ValueError("Expected allow_unused to be True or not passed when "
                         "materialize_grads=True, but got: allow_unused=False.")
    outputs = _as_tuple(outputs)
    inputs_t = _as_tuple(inputs)
    for t in inputs_t:
        if not t._requires_grad:
            raise RuntimeError("One of the differentiated Tensors does not require grad")
    if retain_graph is None:
        retain_graph = create_graph
    if is_grads_batched:
        return _grad_batched(outputs, inputs_t, _as_tuple(grad_outputs), retain_graph,
                             create_graph, allow_unused, materialize_grads)
    grads = _make_grads(outputs, _as_tuple(grad_outputs) if grad_outputs is not None else None)
    if allow_unused is None:
        allow_unused = materialize_grads
    result = run_backward(outputs, grads, retain_graph, create_graph, inputs=inputs_t,
                          allow_unused=allow_unused, accumulate=False)
    if materialize_grads:
        from ember._ops.creation import zeros_like
        result = tuple(zeros_like(t, requires_grad=create_graph) if g is None else g
                       for g, t in zip(result, inputs_t))
    return result


def _grad_batched(outputs, inputs, grad_outputs, retain_graph, create_graph, allow_unused,
                  materialize_grads) -> tuple:
    """grad(..., is_grads_batched=True): the first dim of each grad_output indexes separate
    vector-Jacobian products. torch vectorises this with vmap; here it is one backward
    pass per batch entry (the graph is kept until the last one), stacked."""
    from ember._ops.shape import stack
    if len(grad_outputs) != len(outputs):
        raise RuntimeError(f"Mismatch in number of grad_outputs: got {len(grad_outputs)} grads "
                           f"for {len(outputs)} outputs")
    for i, (out, g) in enumerate(zip(outputs, grad_outputs)):
        if not isinstance(g, Tensor) or g.dim() == 0 or tuple(g.shape[1:]) != tuple(out.shape):
            got = tuple(g.shape[1:]) if isinstance(g, Tensor) and g.dim() else ()
            raise RuntimeError(
                "If `is_grads_batched=True`, we interpret the first dimension of each "
                "grad_output as the batch dimension. The sizes of the remaining dimensions are "
                "expected to match the shape of corresponding output, but a mismatch was "
                f"detected: grad_output[{i}] has a shape of torch.Size({list(got)}) and "
                f"output[{i}] has a shape of torch.Size({list(out.shape)}). If you only want "
                "some tensors in `grad_output` to be considered batched, consider using vmap.")
    n = grad_outputs[0].shape[0]
    if n == 0:
        return tuple(t.new_zeros((0, *t.shape)) for t in inputs)
    rows = [grad(outputs, inputs, [g[b] for g in grad_outputs],
                 retain_graph=retain_graph or b < n - 1, create_graph=create_graph,
                 allow_unused=allow_unused, materialize_grads=materialize_grads)
            for b in range(n)]
    return tuple(None if col[0] is None else stack(col) for col in zip(*rows))
