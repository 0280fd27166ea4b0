"""The backward engine: walks the graph from the roots and delivers gradients.

NOTE [ How backward runs ]
1. Discover: from the roots' grad_fns follow `_edges` and count, for every node,
   how many edges point at it (`deps`). With `inputs`, only nodes that lie on a
   path to one of them are executed.
2. Run: a node is ready when every node that feeds it has run (deps == 0).
   Among ready nodes the most recently created runs first (torch's order).
   Each node's incoming gradients wait in `buffers[node][output_nr]`.
3. For a node: tensor hooks on its outputs, retain_grad, captures for
   autograd.grad, node pre-hooks, `backward`, node post-hooks. Each returned
   gradient is reduced to its input's shape (after broadcasting) and cast to
   its dtype here, in one place, then added into the next node's buffer.
   A tensor hook's result must keep the gradient's size and dtype.
4. Leaves: AccumulateGrad runs the leaf's tensor hooks, its node pre-hooks, adds
   into `.grad`, then post-accumulate hooks and node post-hooks. A first .grad
   takes the incoming array only if nothing else can hold it (`owned`: the
   roots' gradients, arrays already stored as a .grad, and anything handed to
   user code - hooks, retain_grad, custom backwards); otherwise it is a copy, so
   two .grad tensors never share memory and an in-place accumulation never
   changes a tensor the user holds. Saved tensors are freed unless retain_graph.
5. Callbacks queued during the run (DDP's) run at the end, in order.
Under create_graph=False the whole run is in no-grad mode, so the backward
formulas (written with ember ops) build no graph.
"""
from __future__ import annotations

import heapq
import threading

import numpy as np

from ember._device import array_module
from ember._dtype import _FROM_NP
from ember._tensor import Tensor, _make
from ember.autograd.function import _FREED, AccumulateGrad, _anomaly, _edge
from ember.autograd.grad_mode import _state

__all__ = ["run_backward", "queue_callback"]


class _RunState(threading.local):
    callbacks = None  # list while a backward runs on this thread, else None


_run = _RunState()


def queue_callback(callback) -> None:
    """Run `callback()` once the current backward pass has finished."""
    if _run.callbacks is None:
        raise RuntimeError("Final callbacks can only be installed during backward pass.")
    _run.callbacks.append(callback)


def run_backward(tensors, grad_tensors, retain_graph: bool, create_graph: bool,
                 inputs=None, allow_unused: bool = False, accumulate: bool = True):
    """Backpropagate from `tensors`; return the input grads when accumulate is False."""
    roots = []
    for i, t in enumerate(tensors):
        node, nr = _edge(t)
        if node is None:
            raise RuntimeError(f"element {i} of tensors does not require grad and does not "
                               "have a grad_fn")
        roots.append((node, nr, grad_tensors[i]))

    # targets: node -> [(output_nr, position in inputs, tensor)] whose gradient is captured.
    # backward(inputs=...) instead runs a non-leaf input's own node (as torch does); the
    # input's .grad is then filled by the retain_grad that backward() set up.
    targets = None
    execute = None  # with inputs: the nodes that must run; others are skipped
    if inputs is not None:
        targets = {}
        must_run = set()
        for pos, t in enumerate(inputs):
            if t.grad_fn is None:
                targets.setdefault(t._grad_accumulator(), []).append((0, pos, t))
            elif accumulate:
                must_run.add(t.grad_fn)
            else:
                targets.setdefault(t.grad_fn, []).append((t._output_nr, pos, t))
        deps, parents = _discover([r[0] for r in roots], True)
        execute = _ancestors([*targets, *must_run], parents) | must_run
    else:
        deps, parents = _discover([r[0] for r in roots], False)

    prev_mode = _state.enabled
    prev_callbacks = _run.callbacks
    _state.enabled = create_graph
    _run.callbacks = []
    results = [None] * len(inputs) if inputs is not None else None
    try:
        _execute(roots, deps, targets, execute, results, retain_graph, create_graph, accumulate)
        callbacks = _run.callbacks
        i = 0
        while i < len(callbacks):  # a callback may queue more callbacks
            callbacks[i]()
            i += 1
    finally:
        _state.enabled = prev_mode
        _run.callbacks = prev_callbacks
    if not accumulate:
        for pos, g in enumerate(results):
            if g is None and not allow_unused:
                raise RuntimeError(f"The differentiated Tensor at index {pos} appears to not "
                                   "have been used in the graph. Set allow_unused=True if this "
                                   "is the desired behavior.")
        return tuple(results)
    return None


def _discover(root_nodes, want_parents: bool):
    """Count incoming edges per reachable node (and map children to parents if asked)."""
    deps = {}
    parents = {} if want_parents else None
    seen = set(root_nodes)
    stack = list(seen)
    while stack:
        node = stack.pop()
        for _, child, _, _, _ in getattr(node, "_edges", ()):
            if child is None:
                continue
            deps[child] = deps.get(child, 0) + 1
            if want_parents:
                parents.setdefault(child, []).append(node)
            if child not in seen:
                seen.add(child)
                stack.append(child)
    return deps, parents


def _ancestors(targets, parents) -> set:
    """Nodes that must run for gradients to reach the targets."""
    found = set()
    stack = [p for t in targets for p in parents.get(t, ())]
    while stack:
        node = stack.pop()
        if node not in found:
            found.add(node)
            stack.extend(parents.get(node, ()))
    return found


def _execute(roots, deps, targets, execute, results, retain_graph, create_graph, accumulate):
    buffers = {}  # node -> [gradient per output of that node]
    # ids of (base) arrays that something else may still hold: the roots' gradients, arrays
    # already stored as a .grad, and gradients handed to user code (hooks, retain_grad, custom
    # backwards). A leaf's .grad takes its array only if it is not in here, else a copy.
    owned = set()
    for node, nr, g in roots:
        owned.add(id(_root_array(g._data)))
        _add_to_buffer(buffers, node, nr, g)
    heap = []
    for node in {r[0] for r in roots}:
        if deps.get(node, 0) == 0:
            heapq.heappush(heap, (-node._seq, id(node), node))
    push, pop = heapq.heappush, heapq.heappop

    while heap:
        node = pop(heap)[2]
        grads = buffers.pop(node, None) or [None] * node._n_outputs

        if node.__class__ is AccumulateGrad:
            _run_accumulate(node, grads[0], targets, results, accumulate, create_graph, owned)
            continue
        if node._tensor_hooks or node._retain_grad:
            _run_tensor_hooks(node, grads, create_graph)
            _mark_shared(owned, grads)
        if targets is not None:
            if node in targets:
                for nr, pos, _ in targets[node]:
                    _capture(grads[nr], pos, results)
            if node not in execute:
                continue

        if len(grads) == 1:
            outs = _call(node, grads) if grads[0] is not None else None
        else:
            outs = _call(node, grads) if any(g is not None for g in grads) else None
        if not retain_graph and node._saved:
            node._saved = _FREED
        if outs is not None and (node._node_name is None or node._hooks or node._pre_hooks):
            _mark_shared(owned, outs)  # user code returned or saw these gradients

        for argpos, child, nr, shape, dtype in node._edges:
            if child is None:
                continue
            if outs is not None:
                g = outs[argpos]
                if g is not None:
                    if g.__class__ is not Tensor or g._data.shape != shape or \
                            g._data.dtype != dtype:
                        g = _validate(node, argpos, g, shape, dtype)
                    buf = buffers.get(child)
                    if buf is None:
                        buf = buffers[child] = [None] * child._n_outputs
                    buf[nr] = g if buf[nr] is None else buf[nr] + g
            left = deps[child] - 1
            deps[child] = left
            if left == 0:
                push(heap, (-child._seq, id(child), child))


def _run_tensor_hooks(node, grads, create_graph) -> None:
    """Hooks registered on the node's output tensors, then retain_grad (torch runs it last)."""
    if node._tensor_hooks:
        for nr, hooks in node._tensor_hooks.items():
            for hook in tuple(hooks.values()):
                if grads[nr] is not None:
                    grads[nr] = _apply_hook(hook, grads[nr])
    if node._retain_grad:
        for nr, ref in node._retain_grad.items():
            t = ref()
            if t is not None and grads[nr] is not None:
                g = grads[nr] if create_graph else grads[nr].detach()
                t._grad = g if t._grad is None else t._grad + g


def _apply_hook(hook, g):
    """A tensor hook's result replaces the gradient; it must keep its size and dtype."""
    new = hook(g)
    if new is None:
        return g
    if not isinstance(new, Tensor):
        raise TypeError(f"expected Variable, but hook returned '{type(new).__name__}'")
    if new._data.shape != g._data.shape or new._data.dtype != g._data.dtype:
        name = getattr(hook, "__name__", type(hook).__name__)
        if new._data.shape != g._data.shape:
            raise RuntimeError(f"hook '{name}' has changed the size of value")
        raise RuntimeError(f"hook '{name}' has changed the type of value (was {g.type()} got "
                           f"{new.type()})")
    return new


def _call(node, grads):
    """node.backward with its hooks, returning one gradient per forward argument."""
    if node._pre_hooks:
        for hook in tuple(node._pre_hooks.values()):
            new = hook(tuple(grads))
            if new is not None:
                grads = list(new)
    if len(grads) > 1 and node._materialize_grads:
        for i, g in enumerate(grads):
            if g is None and node._out_meta[i] is not None:
                shape, np_dtype = node._out_meta[i]
                grads[i] = _zeros_like_meta(shape, np_dtype, node)
    if _anomaly[0]:
        outs = _call_with_anomaly(node, grads)
    else:
        outs = node.backward(node, *grads)
    if outs.__class__ is not tuple:
        outs = (outs,)
    n_args = len(node.needs_input_grad)
    if len(outs) != n_args:
        if len(outs) < n_args or any(o is not None for o in outs[n_args:]):
            raise RuntimeError(f"function {node.name()} returned an incorrect number of "
                               f"gradients (expected {n_args}, got {len(outs)})")
        outs = outs[:n_args]
    if node._node_name is None and len(node._edges) != n_args:
        _check_non_tensor_grads(node, outs)
    if node._hooks:
        for hook in tuple(node._hooks.values()):
            new = hook(outs, tuple(grads))
            if new is not None:
                outs = tuple(new)
    return outs


def _check_non_tensor_grads(node, outs) -> None:
    """A custom Function must return None for each forward argument that was not a tensor."""
    tensor_positions = {e[0] for e in node._edges}
    for i, o in enumerate(outs):
        if o is not None and i not in tensor_positions:
            raise RuntimeError(f"function {node.name()} returned a gradient different than None "
                               f"at position {i + 1}, but the corresponding forward input was "
                               "not a Variable")


def _call_with_anomaly(node, grads):
    """node.backward under detect_anomaly: on an error (or a NaN gradient) warn with the
    stack of the forward call that created the node, then raise."""
    import warnings
    try:
        outs = node.backward(node, *grads)
        for i, o in enumerate(outs if isinstance(outs, tuple) else (outs,)):
            if not _anomaly[1] or not isinstance(o, Tensor):
                continue
            if o.dtype.is_floating_point and bool((o._data != o._data).any()):  # NaN
                raise RuntimeError(f"Function '{node.name()}' returned nan values in its {i}th "
                                   "output.")
    except Exception:
        if node._traceback:
            warnings.warn(f"Error detected in {node.name()}. Traceback of forward call that "
                          f"caused the error:\n{''.join(node._traceback)}", stacklevel=2)
        raise
    return outs


def _zeros_like_meta(shape, np_dtype, node):
    saved = node._saved if node._saved is not _FREED else ()
    like = next((e[0] for e in saved if e is not None), None)
    xp = array_module(like._data) if like is not None else np
    return _make(xp.zeros(shape, np_dtype))


def _validate(node, argpos, g, shape, dtype):
    """Reduce a broadcast gradient to its input's shape and cast it to its dtype."""
    if not isinstance(g, Tensor):
        raise RuntimeError(f"expected Variable or None (got {type(g).__name__})")
    if g._data.shape != shape:
        if not _expandable(shape, g._data.shape):
            raise RuntimeError(f"Function {node.name()} returned an invalid gradient at index "
                               f"{argpos} - got {list(g._data.shape)} but expected shape "
                               f"compatible with {list(shape)}")
        g = g.sum_to_size(shape)
    if g._data.dtype != dtype:
        g = g.to(_FROM_NP[dtype])
    return g


def _expandable(shape, target) -> bool:
    if len(shape) > len(target):
        return False
    for s, t in zip(reversed(shape), reversed(target)):
        if s != t and s != 1:
            return False
    return True


def _add_to_buffer(buffers, node, nr, g) -> None:
    buf = buffers.get(node)
    if buf is None:
        buf = buffers[node] = [None] * node._n_outputs
    buf[nr] = g if buf[nr] is None else buf[nr] + g


def _capture(g, pos, results) -> None:
    """autograd.grad: keep the gradient arriving at a non-leaf input."""
    if g is not None:
        results[pos] = g if results[pos] is None else results[pos] + g


def _run_accumulate(node, g, targets, results, accumulate, create_graph, owned) -> None:
    if g is None:
        return
    var = node.variable
    if var is None:
        return  # the leaf was freed: nobody can read its .grad
    if targets is not None and node not in targets:
        return  # a leaf outside backward(inputs=...)/grad(inputs): not even its hooks run
    if var._backward_hooks:
        for hook in tuple(var._backward_hooks.values()):
            g = _apply_hook(hook, g)
        _mark_shared(owned, (g,))  # a hook may have kept the gradient it was given
    if targets is not None:
        if not accumulate:
            for _, pos, _ in targets[node]:
                results[pos] = g if results[pos] is None else results[pos] + g
            return
    if not accumulate:
        return
    if node._pre_hooks:
        for hook in tuple(node._pre_hooks.values()):
            new = hook((g,))
            if new is not None:
                g = new[0]
        _mark_shared(owned, (g,))
    old = var._grad
    if old is None:
        arr = g._data
        root = id(_root_array(arr))
        # The engine may hand one array to several leaves (x + y passes the same
        # gradient to both); .grad tensors must never share memory, and must be
        # writable and contiguous, so those get a copy (torch clones them too).
        if root in owned or not _is_plain(arr):
            if create_graph:  # a copy that stays differentiable
                g = g.clone()
                arr = g._data
            else:
                arr = arr.copy()
            root = id(arr)
        owned.add(root)
        var._grad = g if create_graph else _make(arr)
    elif create_graph:
        var._grad = old + g
    elif old._requires_grad or old.grad_fn is not None:
        var._grad = old.detach() + g.detach()
    else:
        old._data += g._data
    if var._post_acc_hooks:
        for hook in tuple(var._post_acc_hooks.values()):
            hook(var)
    if node._hooks:
        for hook in tuple(node._hooks.values()):
            hook((), (g,))


def _mark_shared(owned, grads) -> None:
    for g in grads:
        if g is not None and isinstance(g, Tensor):
            owned.add(id(_root_array(g._data)))


def _root_array(arr):
    base = arr.base
    return arr if base is None else base


def _is_plain(arr) -> bool:
    flags = arr.flags
    return flags.c_contiguous and getattr(flags, "writeable", True)
