"""`Function`: one op's forward and backward, and the graph node it leaves behind.

Every built-in op is a `Function` subclass, exactly like a user's custom op:
`forward(ctx, *args)` computes the result, `backward(ctx, *grads)` returns one
gradient per forward argument. The `ctx` object *is* the graph node: after the
forward it becomes the output's `grad_fn`, holding the saved tensors and the
edges (`next_functions`) to the nodes of its inputs.
"""
from __future__ import annotations

import itertools
import weakref

from ember import _dtype as _dt
from ember._tensor import Tensor, _make
from ember.autograd.grad_mode import _state

__all__ = ["Function", "FunctionCtx", "once_differentiable", "AccumulateGrad"]

_new = object.__new__
_BFLOAT16 = _dt.bfloat16.np


def _is_float(np_dtype) -> bool:
    """Whether outputs of this NumPy dtype can carry gradients (float16/32/64, bfloat16)."""
    return np_dtype.kind == "f" or np_dtype == _BFLOAT16
_seq = itertools.count()  # creation order; the engine runs later nodes first
_FREED = object()  # marks saved tensors released after a backward without retain_graph


class Node:
    """What torch calls a grad_fn: named, with next_functions and hooks."""

    _node_name = None  # torch's name (e.g. "MulBackward0"); custom Functions use ClsBackward
    _hooks = ()  # post hooks: fn(grad_inputs, grad_outputs)
    _pre_hooks = ()  # pre hooks: fn(grad_outputs)
    _tensor_hooks = None  # {output_nr: [hooks registered on the non-leaf output tensor]}
    _retain_grad = None  # {output_nr: tensor} whose .grad should be kept (retain_grad)
    _materialize_grads = True
    _traceback = None  # forward stack kept by detect_anomaly
    _n_outputs = 1  # how many outputs the forward returned (set for tuples)

    def name(self) -> str:
        return self._node_name or type(self).__name__ + "Backward"

    def __repr__(self) -> str:
        name = self.name()
        if name.startswith("torch::autograd::"):  # AccumulateGrad, CopySlices
            name = name[len("torch::autograd::"):]
        elif not self._node_name:  # torch shows a custom Function under its module's path
            name = "ember.autograd.function." + name
        return f"<{name} object at {id(self):#x}>"

    def register_hook(self, fn):
        """fn(grad_inputs, grad_outputs) runs after this node's backward."""
        from ember.utils.hooks import RemovableHandle
        if not self._hooks:
            self._hooks = {}
        handle = RemovableHandle(self._hooks)
        self._hooks[handle.id] = fn
        return handle

    def register_prehook(self, fn):
        """fn(grad_outputs) runs before this node's backward and may replace them."""
        from ember.utils.hooks import RemovableHandle
        if not self._pre_hooks:
            self._pre_hooks = {}
        handle = RemovableHandle(self._pre_hooks)
        self._pre_hooks[handle.id] = fn
        return handle


class AccumulateGrad(Node):
    """The node at a leaf: adds the incoming gradient into `variable.grad`."""

    _node_name = "torch::autograd::AccumulateGrad"  # torch's name(); the class name is shorter

    def __init__(self, variable):
        self._variable = weakref.ref(variable)  # the leaf owns its node, not the reverse
        self._seq = -1  # leaves run last among ready nodes

    @property
    def variable(self):
        """The leaf tensor (None once it has been freed)."""
        return self._variable()

    @property
    def next_functions(self) -> tuple:
        return ()

    def __getstate__(self):
        raise RuntimeError("graph nodes cannot be pickled")


def _edge(t):
    """(node, output_nr) where the gradient for tensor `t` must go."""
    if t.grad_fn is not None:
        return t.grad_fn, t._output_nr
    if t._requires_grad:
        return t._grad_accumulator(), 0
    return None, 0


class _NoneNeedGrad(tuple):
    """needs_input_grad when no graph is recorded: every entry is False.

    A shared constant instead of a fresh tuple per call keeps untracked ops cheap.
    """

    def __getitem__(self, index):
        return False


class FunctionCtx:
    """The methods forward and backward call on `ctx`."""

    needs_input_grad = _NoneNeedGrad()  # set per call when a graph is recorded
    _recording = False  # True while this ctx is becoming a node of a recorded graph
    _saved = ()  # [(tensor, its version and grad_fn when saved)], or _FREED after backward
    _dirty = ()  # tensors the forward modified in place (mark_dirty)
    _non_diff = ()  # outputs marked non-differentiable

    def save_for_backward(self, *tensors) -> None:
        """Keep tensors for backward; an in-place change to one before then is an error."""
        if self._recording:  # an op run without a graph needs nothing saved
            for t in tensors:
                if t is not None and t._is_inference:
                    raise RuntimeError(_INFERENCE_SAVED)
            self._saved = [(t, t._version_counter[0], t.grad_fn) if t is not None else None
                           for t in tensors]

    @property
    def saved_tensors(self) -> tuple:
        saved = self._saved
        if saved is _FREED:
            raise RuntimeError(
                "Trying to backward through the graph a second time (or directly access saved "
                "tensors after they have already been freed). Saved intermediate values of the "
                "graph are freed when you call .backward() or autograd.grad(). Specify "
                "retain_graph=True if you need to backward through the graph a second time or "
                "if you need to access saved tensors after calling backward.")
        out = []
        for entry in saved:
            if entry is None:
                out.append(None)
                continue
            t = entry[0]
            if t._version_counter[0] != entry[1]:
                raise _modified_error(self, *entry)
            out.append(t)
        return tuple(out)

    def mark_dirty(self, *tensors) -> None:
        """Declare tensors the forward modified in place (they must be returned)."""
        self._dirty = tensors

    def mark_non_differentiable(self, *tensors) -> None:
        """Declare outputs that get no gradient (e.g. indices)."""
        self._non_diff = tensors

    def set_materialize_grads(self, value: bool) -> None:
        """With False, backward receives None instead of zeros for unused outputs."""
        self._materialize_grads = value


_INFERENCE_SAVED = (
    "Inference tensors cannot be saved for backward. Please do not use Tensors created in "
    "inference mode in computation tracked by autograd. To work around this, you can make a "
    "clone to get a normal tensor and use it in autograd, or use `torch.no_grad()` instead of "
    "`torch.inference_mode()`.")


def _modified_error(ctx, t, version, fn_when_saved) -> RuntimeError:
    """torch's error for a saved tensor changed in place before backward used it."""
    fn = t.grad_fn
    if fn is None:  # a leaf or a constant
        which = ""
    else:
        # An output of ctx had no grad_fn yet when saved; it is reported as ctx's output.
        # A saved input is reported with the node that produced its current value.
        nr = t._output_nr
        if fn_when_saved is None:
            fn, nr = ctx, 0
        name = fn.name()
        base = name.rstrip("0123456789")
        if base.endswith("Backward"):
            name = base[:-len("Backward")]
        which = f", which is output {nr} of {name},"
    if _anomaly[0]:
        hint = ("Hint: the backtrace further above shows the operation that failed to compute "
                "its gradient. The variable in question was changed in there or anywhere "
                "later. Good luck!")
    else:
        hint = ("Hint: enable anomaly detection to find the operation that failed to compute "
                "its gradient, with torch.autograd.set_detect_anomaly(True, check_nan=False).")
    return RuntimeError("one of the variables needed for gradient computation has been modified "
                        f"by an inplace operation: [{t.type()} {list(t.shape)}]{which} is at "
                        f"version {t._version_counter[0]}; expected version {version} instead. "
                        + hint)


class Function(FunctionCtx, Node):
    """Base class of every op; subclass with static forward/backward and call `.apply`."""

    def __init__(self, *args, **kwargs):
        pass

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError("You must implement the forward function for custom "
                                  "autograd.Function.")

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError("You must implement either the backward or vjp method for "
                                  "your custom autograd.Function to use it with backward mode AD.")

    def __init_subclass__(cls, **kwargs):
        """torch's alternative spellings, resolved once per class (apply stays one path):
        `vjp` instead of `backward`, and a ctx-free `forward(*args)` with
        `setup_context(ctx, inputs, output)`."""
        super().__init_subclass__(**kwargs)
        own = cls.__dict__
        if "vjp" in own and "backward" not in own:
            cls.backward = own["vjp"]
        if "setup_context" in own and "forward" in own:
            plain_forward = cls.forward  # a staticmethod: plain function on the class
            setup_context = cls.setup_context

            def forward(ctx, *args, **kwargs):
                output = plain_forward(*args, **kwargs)
                setup_context(ctx, args, output)
                return output
            forward.__doc__ = plain_forward.__doc__
            cls.forward = staticmethod(forward)
        if "forward" in own and not cls.__module__.startswith("ember."):
            # A user's Function: outside a recorded graph apply() leaves needs_input_grad at
            # its shared all-False default; torch still reports each input's requires_grad.
            # (ember's own ops read it in forward only as "is a graph being recorded?", for
            # which the empty default is falsy, so they skip this wrapper.)
            user_forward = cls.forward

            def forward(ctx, *args, **kwargs):
                if "needs_input_grad" not in ctx.__dict__:
                    ctx.needs_input_grad = tuple(isinstance(a, Tensor) and a._requires_grad
                                                 for a in args)
                return user_forward(ctx, *args, **kwargs)
            forward.__doc__ = user_forward.__doc__
            cls.forward = staticmethod(forward)

    @classmethod
    def apply(cls, *args, **kwargs):
        """Run forward; if any input needs a gradient, link the outputs into the graph."""
        ctx = _new(cls)
        if _state.enabled:
            for a in args:
                if isinstance(a, Tensor) and a._requires_grad:
                    return _record(cls, ctx, args, kwargs)
        out = cls.forward(ctx, *args, **kwargs)
        if ctx._dirty:
            for t in ctx._dirty:
                t._version_counter[0] += 1
        return out

    @property
    def next_functions(self) -> tuple:
        return tuple((node, nr) for _, node, nr, _, _ in self._edges)

    @property
    def metadata(self) -> dict:
        if "_metadata" not in self.__dict__:
            self._metadata = {}
        return self._metadata


def _record(cls, ctx, args, kwargs):
    """apply() when a graph is recorded: forward without grad, then wire up the node."""
    needs = []
    edges = []  # one per tensor argument: (arg position, node, output_nr, shape, NumPy dtype)
    for i, a in enumerate(args):
        if isinstance(a, Tensor):
            rg = a._requires_grad
            needs.append(rg)
            node = a.grad_fn
            if node is not None:
                edges.append((i, node, a._output_nr, a._data.shape, a._data.dtype))
            else:
                edges.append((i, a._grad_accumulator() if rg else None, 0, a._data.shape,
                              a._data.dtype))
        else:
            needs.append(False)
    ctx.needs_input_grad = tuple(needs)
    ctx._recording = True
    _state.enabled = False
    try:
        out = cls.forward(ctx, *args, **kwargs)
    finally:
        _state.enabled = True
    ctx._seq = next(_seq)
    ctx._edges = edges
    dirty = ctx._dirty
    for t in dirty:
        if t.grad_fn is None and t._requires_grad:
            raise RuntimeError("a leaf Variable that requires grad has been used in an in-place "
                               "operation.")
        t._version_counter[0] += 1
    if isinstance(out, tuple):
        out = _link_outputs(ctx, out, dirty, args)
    else:
        # The common case: one output (_n_outputs defaults to 1; _out_meta is only read
        # for multi-output nodes).
        dt = out._data.dtype
        if (dt.kind == "f" or dt == _BFLOAT16) and not ctx._non_diff:  # as _is_float
            if dirty and out._base is not None:
                from ember._ops.inplace import rebase_view
                rebase_view(out, ctx, 0)
            else:
                if out._requires_grad and not dirty and any(out is a for a in args):
                    out = _alias(out)
                out._requires_grad = True
                out.grad_fn = ctx
                if out._output_nr:
                    out._output_nr = 0
    if _anomaly[0]:
        import traceback
        ctx._traceback = traceback.format_stack()[:-2]
    return out


def _alias(t: Tensor) -> Tensor:
    """A forward that returns an input unchanged (not marked dirty) gives a view of it, so
    the input keeps its own grad_fn (as torch does)."""
    from ember._ops.inplace import set_view
    return set_view(_make(t._data), t, _same)


def _same(base):
    return base


def _link_outputs(ctx, outs: tuple, dirty, args) -> tuple:
    """Make each differentiable output of a multi-output op point at `ctx`."""
    non_diff = ctx._non_diff
    ctx._n_outputs = len(outs)
    ctx._out_meta = []
    outs = tuple(_alias(o) if isinstance(o, Tensor) and o._requires_grad and any(
        o is a for a in args) and not any(o is d for d in dirty) else o for o in outs)
    for i, o in enumerate(outs):
        if not isinstance(o, Tensor):
            ctx._out_meta.append(None)
            continue
        ctx._out_meta.append((o._data.shape, o._data.dtype))
        if _is_float(o._data.dtype) and not any(o is n for n in non_diff):
            if any(o is d for d in dirty) and o._base is not None:
                from ember._ops.inplace import rebase_view
                rebase_view(o, ctx, i)
                continue
            o._requires_grad = True
            o.grad_fn = ctx
            o._output_nr = i
    return outs


_anomaly = [False, True]  # [enabled, check_nan]: switched by ember.autograd.anomaly_mode


def _check_inplace(t) -> None:
    if t.grad_fn is None and t._requires_grad:
        raise RuntimeError("a leaf Variable that requires grad is being used in an in-place "
                           "operation.")


def once_differentiable(fn):
    """Mark a backward as not twice differentiable: it runs without building a graph."""
    import functools

    @functools.wraps(fn)
    def wrapper(ctx, *grads):
        from ember.autograd.grad_mode import no_grad
        with no_grad():
            return fn(ctx, *grads)
    return wrapper
