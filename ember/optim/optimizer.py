"""Optimizer: the bookkeeping every optimizer shares (torch/optim/optimizer.py).

An optimizer keeps `param_groups` (dicts of hyperparameters plus a `params` list)
and `state` (a dict per parameter). Each subclass supplies two small pieces:
`_init_state(group, p, state)` fills a parameter's state the first time it has a
gradient, and `_apply(group, param, grad, state)` calls the optimizer's one
update formula, a pure function over backend arrays. `step()` here decides at
which granularity that formula runs.

NOTE [ Flat parameter groups ]
With `foreach` left at None (or True) the formula runs once per parameter group
and (dtype, device), over one contiguous buffer that holds every parameter of the
group back to back. Each parameter's array is re-homed as a view into that buffer
(`p._data = flat[o:o + n].reshape(shape)`: the Parameter object stays the same), and
each state tensor (`exp_avg`, `step`, ...) is a view into a flat buffer of its own,
so `optimizer.state[p]["exp_avg"]` is still a per-parameter tensor. Gradients are
copied into a flat gradient buffer with one concatenate per step. A step is
then a handful of array operations per group, whatever the number of parameters.
`foreach=False` runs the same formula once per parameter, on the same arrays.

Re-homing must stay invisible, so a bucket (`_FlatBucket`) checks before every
step that each parameter's array and each state tensor is still the one it
placed; anything replaced since (`p.data = ...`, `module.to(...)`,
`load_state_dict`, a parameter that gained or lost its gradient) is copied in and
the bucket rebuilt. A parameter whose array may be aliased elsewhere (a view or a
`detach()` of it taken earlier, an array it does not own) is never moved: it is
*pinned*, its values are copied into the buffer before the update and back after.
The formula only runs over a whole bucket when every parameter in it is at the
same point (same state keys, same `step`); otherwise that bucket falls back to the
per-parameter loop, which gives the same numbers.

Parameters in shared memory (`share_memory_()`, for Hogwild training) are never
re-homed nor copied through a buffer: other processes write into the same memory,
so they go into a `_SharedParams` group that runs the per-parameter loop, updating
each array in place as torch does (concurrent updates from other processes then race
only operation by operation, which Hogwild accepts).
"""
from __future__ import annotations

import sys
from collections import OrderedDict, defaultdict
from collections.abc import Callable, Iterable
from copy import deepcopy
from itertools import chain
from operator import is_
from typing import Any

import numpy as np

from ember._device import array_module as _xp
from ember._shared import is_shared_array
from ember._tensor import Tensor, _make
from ember.autograd.grad_mode import _state as _grad_state
from ember.utils.hooks import RemovableHandle

__all__ = ["Optimizer", "required", "register_optimizer_step_pre_hook",
           "register_optimizer_step_post_hook"]


class _RequiredParameter:
    """Singleton marking a hyperparameter a param group must give (no default)."""

    def __repr__(self) -> str:
        return "<required parameter>"


required = _RequiredParameter()

_global_optimizer_pre_hooks: OrderedDict = OrderedDict()
_global_optimizer_post_hooks: OrderedDict = OrderedDict()


def register_optimizer_step_pre_hook(hook: Callable) -> RemovableHandle:
    """hook(optimizer, args, kwargs) runs before every optimizer's step."""
    handle = RemovableHandle(_global_optimizer_pre_hooks)
    _global_optimizer_pre_hooks[handle.id] = hook
    return handle


def register_optimizer_step_post_hook(hook: Callable) -> RemovableHandle:
    """hook(optimizer, args, kwargs) runs after every optimizer's step."""
    handle = RemovableHandle(_global_optimizer_post_hooks)
    _global_optimizer_post_hooks[handle.id] = hook
    return handle


def _with_hooks(step):
    """Wrap a step method so the global and per-optimizer step hooks run around it."""
    def hooked_step(self, *args, **kwargs):
        args = (self, *args)  # hooks see the optimizer among the arguments, as in torch
        for pre_hook in chain(_global_optimizer_pre_hooks.values(),
                              self._optimizer_step_pre_hooks.values()):
            result = pre_hook(self, args, kwargs)
            if result is not None:
                if isinstance(result, tuple) and len(result) == 2:
                    args, kwargs = result
                else:
                    raise RuntimeError(f"{step} must return None or a tuple of (new_args, "
                                       f"new_kwargs), but got {result}.")
        out = step(*args, **kwargs)
        for post_hook in chain(self._optimizer_step_post_hooks.values(),
                               _global_optimizer_post_hooks.values()):
            post_hook(self, args, kwargs)
        return out
    hooked_step.__name__ = step.__name__
    hooked_step.__qualname__ = step.__qualname__
    hooked_step.__doc__ = step.__doc__
    hooked_step.__wrapped__ = step
    hooked_step.hooked = True
    return hooked_step


def _value(x) -> float:
    """A hyperparameter as a number. A 1-element Tensor lr is read once per step; a float32
    one stays a float32 scalar, so what is computed from it rounds as torch's 0-dim tensor
    arithmetic does (the formulas only use it in in-place updates)."""
    if isinstance(x, Tensor):
        arr = x._data.reshape(())
        return np.float32(arr.item()) if arr.dtype == np.float32 else float(arr.item())
    return x


def _check_tensor_lr(lr) -> None:
    if isinstance(lr, Tensor) and lr.numel() != 1:
        raise ValueError("Tensor lr must be 1-element")


def _scalar_state(value: float) -> Tensor:
    """A 0-dim state entry such as `step`, in torch's scalar dtype (float32, or float64 when
    that is the default dtype)."""
    from ember._dtype import float64, get_default_dtype
    dt = np.float64 if get_default_dtype() is float64 else np.float32
    return _make(np.array(value, dtype=dt))


class Optimizer:
    """Base class of all optimizers: param groups, per-parameter state, hooks, state_dict."""

    def __init__(self, params: Iterable, defaults: dict[str, Any]) -> None:
        self.defaults = defaults
        self._optimizer_step_pre_hooks: OrderedDict = OrderedDict()
        self._optimizer_step_post_hooks: OrderedDict = OrderedDict()
        self._optimizer_state_dict_pre_hooks: OrderedDict = OrderedDict()
        self._optimizer_state_dict_post_hooks: OrderedDict = OrderedDict()
        self._optimizer_load_state_dict_pre_hooks: OrderedDict = OrderedDict()
        self._optimizer_load_state_dict_post_hooks: OrderedDict = OrderedDict()
        self._flat: dict = {}  # group index -> (group, ids of its stepped params, buckets)
        if isinstance(params, Tensor):
            raise TypeError("params argument given to the optimizer should be an iterable of "
                            "Tensors or dicts, but got " + _typename(params))
        self.state: defaultdict = defaultdict(dict)
        self.param_groups: list[dict[str, Any]] = []
        param_groups = list(params)
        if len(param_groups) == 0:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(param_groups[0], dict):
            param_groups = [{"params": param_groups}]
        for param_group in param_groups:
            self.add_param_group(param_group)

    def __init_subclass__(cls, **kwargs):
        """A subclass that writes its own step() gets the step hooks around it too."""
        super().__init_subclass__(**kwargs)
        step = cls.__dict__.get("step")
        if step is not None and not getattr(step, "hooked", False):
            cls.step = _with_hooks(step)

    def __getstate__(self) -> dict[str, Any]:
        return {"defaults": self.defaults, "state": self.state, "param_groups": self.param_groups}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        for name in ("_optimizer_step_pre_hooks", "_optimizer_step_post_hooks",
                     "_optimizer_state_dict_pre_hooks", "_optimizer_state_dict_post_hooks",
                     "_optimizer_load_state_dict_pre_hooks",
                     "_optimizer_load_state_dict_post_hooks"):
            if name not in self.__dict__:
                setattr(self, name, OrderedDict())
        if "_flat" not in self.__dict__:  # kept across load_state_dict: see _buckets
            self._flat = {}
        self.defaults.setdefault("differentiable", False)

    def __repr__(self) -> str:
        text = self.__class__.__name__ + " ("
        for i, group in enumerate(self.param_groups):
            text += f"\nParameter Group {i}\n"
            for key in sorted(group.keys()):
                if key != "params":
                    text += f"    {key}: {group[key]}\n"
        return text + ")"

    # ----------------------------------------------------------------- param groups
    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group of parameters; missing hyperparameters come from `defaults`."""
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group)}")
        params = param_group["params"]
        if isinstance(params, Tensor):
            param_group["params"] = [params]
        elif isinstance(params, set):
            raise TypeError("optimizer parameters need to be organized in ordered collections, "
                            "but the ordering of tensors in sets will change between runs. "
                            "Please use a list instead.")
        else:
            param_group["params"] = list(params)
        tensors, names = [], []
        for param in param_group["params"]:
            if isinstance(param, tuple):  # named parameters: (name, tensor)
                names.append(param[0])
                tensors.append(param[1])
            else:
                tensors.append(param)
        param_group["params"] = tensors
        if names:
            if len(names) != len(tensors):
                raise ValueError("all optimizer params should be with/without names. Some param "
                                 "names are missing")
            param_group["param_names"] = names
        for param in tensors:
            if not isinstance(param, Tensor):
                raise TypeError("optimizer can only optimize Tensors, but one of the params is "
                                + _typename(param))
            if not self.defaults.get("differentiable", None) and not (
                    param.is_leaf or param.retains_grad):
                raise ValueError("can't optimize a non-leaf Tensor")
        for name, default in self.defaults.items():
            if default is required and name not in param_group:
                raise ValueError("parameter group didn't specify a value of required "
                                 f"optimization parameter {name}")
            param_group.setdefault(name, default)
        if len(tensors) != len(set(tensors)):
            import warnings
            warnings.warn("optimizer contains a parameter group with duplicate parameters; in "
                          "future, this will cause an error; see "
                          "github.com/pytorch/pytorch/issues/40967 for more information",
                          stacklevel=3)
        param_set: set = set()
        for group in self.param_groups:
            param_set.update(group["params"])
            if ("param_names" in param_group) != ("param_names" in group):
                which = "with names" if "param_names" in param_group else "without names"
                raise ValueError("all optimizer param groups should be with/without names. "
                                 f"cannot add param group {which} to the optimizer")
        if not param_set.isdisjoint(tensors):
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(param_group)

    # ----------------------------------------------------------------- gradients and step
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset the gradients of all optimized parameters (to None by default)."""
        for group in self.param_groups:
            for p in group["params"]:
                g = p._grad
                if g is None:
                    continue
                if set_to_none:
                    p._grad = None
                else:
                    if g.grad_fn is not None:
                        g.detach_()
                    else:
                        g.requires_grad_(False)
                    g.zero_()

    _scalar_keys = ("step",)  # 0-dim state entries that must agree to step a bucket as one

    def _init_state(self, group: dict, p: Tensor, state: dict) -> None:
        """Fill a parameter's empty state before its first update (per optimizer)."""

    def _apply(self, group: dict, param, grad, state: dict):
        """Run the update formula on arrays; may return new state arrays {name: array}."""
        raise NotImplementedError

    def step(self, closure: Callable[[], Any] | None = None):
        """One optimization step; `closure` re-evaluates the model and returns the loss."""
        loss = None
        if closure is not None:
            from ember.autograd.grad_mode import enable_grad
            with enable_grad():
                loss = closure()
        prev = _grad_state.enabled
        _grad_state.enabled = False
        try:
            # Overflow or 0/0 (eps underflowing in float16) gives inf/nan silently, as torch.
            with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                for i, group in enumerate(self.param_groups):
                    self._step_group(i, group)
        finally:
            _grad_state.enabled = prev
        return loss

    step = _with_hooks(step)

    def _step_group(self, index: int, group: dict) -> None:
        params = [p for p in group["params"] if p._grad is not None]
        if not params:
            return
        state = self.state
        for p in params:
            st = state.get(p)
            if not st:
                self._init_state(group, p, state[p] if self._keeps_state(group) else {})
        if group.get("foreach") is False:
            self._step_each(group, params)
            return
        buckets = self._buckets(index, group, params)
        if buckets is None:  # a parameter listed twice: only the per-parameter loop is exact
            self._step_each(group, params)
            return
        for bucket in buckets:
            if bucket.sync_state(state, self._scalar_keys):
                bucket.run(self, group, state)
            else:
                self._step_each(group, bucket.params)

    def _keeps_state(self, group: dict) -> bool:
        """Whether a parameter gets a state dict at all (SGD without momentum does not)."""
        return True

    def _step_each(self, group: dict, params: list) -> None:
        """The per-parameter path: the same formula, once per parameter."""
        state = self.state
        for p in params:
            st = state.get(p, {})
            arrays = {k: _at_least_1d(v._data) for k, v in st.items() if isinstance(v, Tensor)}
            new = self._apply(group, _at_least_1d(p._data), _at_least_1d(p._grad._data), arrays)
            if new:
                st = state[p]
                for k, arr in new.items():
                    st[k] = _make(arr.reshape(p._data.shape))
            p._version_counter[0] += 1

    def _buckets(self, index: int, group: dict, params: list) -> list | None:
        """The flat buckets of a group, rebuilt when its parameters changed (the previous
        buckets of the same group index tell which arrays are still free to move)."""
        ids = [id(p) for p in params]
        cached = self._flat.get(index)
        if cached is not None and cached[0] is group and cached[1] == ids:
            buckets = cached[2]
            if all(b.params_intact() for b in buckets):
                return buckets
            old = buckets
        else:
            old = cached[2] if cached is not None else []
        if len(set(ids)) != len(ids):
            return None
        by_key: dict = {}
        shared = []
        for p in params:  # (no local may keep an array alive: _movable counts references)
            if is_shared_array(p._data):
                shared.append(p)
                continue
            by_key.setdefault((p._data.dtype, type(p._data), _device_key(p._data)), []).append(p)
        buckets = [_FlatBucket(ps, old) for ps in by_key.values()]
        if shared:
            buckets.append(_SharedParams(shared))
        self._flat[index] = (group, ids, buckets)
        return buckets

    # ----------------------------------------------------------------- hooks
    def register_step_pre_hook(self, hook: Callable) -> RemovableHandle:
        """hook(optimizer, args, kwargs) runs before step; may return new (args, kwargs)."""
        handle = RemovableHandle(self._optimizer_step_pre_hooks)
        self._optimizer_step_pre_hooks[handle.id] = hook
        return handle

    def register_step_post_hook(self, hook: Callable) -> RemovableHandle:
        """hook(optimizer, args, kwargs) runs after step."""
        handle = RemovableHandle(self._optimizer_step_post_hooks)
        self._optimizer_step_post_hooks[handle.id] = hook
        return handle

    def register_state_dict_pre_hook(self, hook: Callable,
                                     prepend: bool = False) -> RemovableHandle:
        """hook(optimizer) runs before state_dict() builds its result."""
        return _register(self._optimizer_state_dict_pre_hooks, hook, prepend)

    def register_state_dict_post_hook(self, hook: Callable,
                                      prepend: bool = False) -> RemovableHandle:
        """hook(optimizer, state_dict) runs after; a returned dict replaces the result."""
        return _register(self._optimizer_state_dict_post_hooks, hook, prepend)

    def register_load_state_dict_pre_hook(self, hook: Callable,
                                          prepend: bool = False) -> RemovableHandle:
        """hook(optimizer, state_dict) runs first; a returned dict is loaded instead."""
        return _register(self._optimizer_load_state_dict_pre_hooks, hook, prepend)

    def register_load_state_dict_post_hook(self, hook: Callable,
                                           prepend: bool = False) -> RemovableHandle:
        """hook(optimizer) runs after the state has been loaded."""
        return _register(self._optimizer_load_state_dict_post_hooks, hook, prepend)

    # ----------------------------------------------------------------- state_dict
    def state_dict(self) -> dict[str, Any]:
        """{'state': {index: {...}}, 'param_groups': [{..., 'params': [indices]}]} as torch.

        Parameters are numbered in the order they appear across the groups; the state
        tensors are the live ones (not copies), as in torch."""
        for pre_hook in self._optimizer_state_dict_pre_hooks.values():
            pre_hook(self)
        index: dict[int, int] = {}
        start = 0

        def pack_group(group: dict) -> dict:
            nonlocal start
            packed = {k: v for k, v in group.items() if k != "params"}
            for i, p in enumerate(group["params"], start):
                index.setdefault(id(p), i)
            packed["params"] = [index[id(p)] for p in group["params"]]
            start += len(packed["params"])
            return packed

        param_groups = [pack_group(g) for g in self.param_groups]
        packed_state = {(index[id(k)] if isinstance(k, Tensor) else k): v
                        for k, v in self.state.items()}
        state_dict = {"state": packed_state, "param_groups": param_groups}
        for post_hook in self._optimizer_state_dict_post_hooks.values():
            result = post_hook(self, state_dict)
            if result is not None:
                state_dict = result
        return state_dict

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Load a state_dict made by state_dict() (ember's or torch's layout).

        State tensors are moved to each parameter's device and, if floating, cast to its
        dtype; `step` counters keep their own dtype, as torch does."""
        state_dict = state_dict.copy()
        for pre_hook in self._optimizer_load_state_dict_pre_hooks.values():
            result = pre_hook(self, state_dict)
            if result is not None:
                state_dict = result
        groups = self.param_groups
        saved_groups = deepcopy(state_dict["param_groups"])
        if len(groups) != len(saved_groups):
            raise ValueError("loaded state dict has a different number of parameter groups")
        if any(len(g["params"]) != len(s["params"]) for g, s in zip(groups, saved_groups)):
            raise ValueError("loaded state dict contains a parameter group that doesn't match "
                             "the size of optimizer's group")
        id_map = dict(zip(chain.from_iterable(g["params"] for g in saved_groups),
                          chain.from_iterable(g["params"] for g in groups)))
        state: defaultdict = defaultdict(dict)
        for k, v in state_dict["state"].items():
            if k in id_map:
                param = id_map[k]
                state[param] = _cast(param, v)
            else:
                state[k] = v

        def update_group(group: dict, new_group: dict) -> dict:
            new_group["params"] = group["params"]
            if "param_names" in group and "param_names" not in new_group:
                new_group["param_names"] = group["param_names"]
            return new_group

        param_groups = [update_group(g, ng) for g, ng in zip(groups, saved_groups)]
        self.__setstate__({"state": state, "param_groups": param_groups})
        for post_hook in self._optimizer_load_state_dict_post_hooks.values():
            post_hook(self)


def _cast(param: Tensor, value, key=None):
    """A loaded state value on the parameter's device and (if floating) dtype; `step`
    counters are kept as they are. Tensors are always copied so the optimizer never
    shares state memory with the dict it was loaded from."""
    if isinstance(value, Tensor):
        if key == "step":
            return value.clone()
        if value.is_floating_point():
            out = value.to(dtype=param.dtype, device=param.device)
        else:
            out = value.to(device=param.device)
        return out.clone() if out is value else out
    if isinstance(value, dict):
        return {k: _cast(param, v, key=k) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_cast(param, v) for v in value)
    return value


def _register(hooks: OrderedDict, hook: Callable, prepend: bool) -> RemovableHandle:
    handle = RemovableHandle(hooks)
    hooks[handle.id] = hook
    if prepend:
        hooks.move_to_end(handle.id, last=False)
    return handle


def _typename(obj) -> str:
    if isinstance(obj, Tensor):
        return obj.type()
    module = type(obj).__module__
    name = type(obj).__qualname__
    return name if module in ("builtins", None) else f"{module}.{name}"


def _device_key(arr):
    return None if isinstance(arr, np.ndarray) else arr.device.id


def _at_least_1d(arr):
    """0-dim arrays as 1-element views, so the formulas' ufuncs always return arrays."""
    return arr.reshape(1) if arr.ndim == 0 else arr




_NO_STATE: dict = {}  # read-only stand-in for a parameter without state

# What sys.getrefcount reports for an array referenced only by one Parameter (its slot and
# the call's own argument). More means someone else holds it: it must not be moved.
_REFS_SOLE = 2


class _FlatBucket:
    """The parameters of one group that share a dtype and device, packed in one buffer
    (see NOTE [ Flat parameter groups ]). Every field lines up with `params`."""

    __slots__ = ("params", "offsets", "flat", "views", "pinned", "grad", "state",
                 "state_views", "state_tensors")

    def __init__(self, params: list, old: list) -> None:
        self.params = params  # the Parameters, in group order
        sizes = [p._data.size for p in params]
        self.offsets = [0]  # element offset of each parameter in the flat buffers
        for n in sizes:
            self.offsets.append(self.offsets[-1] + n)
        xp = _xp(params[0]._data)
        dtype = params[0]._data.dtype
        free = {id(b.flat) for b in old if b.is_free()}  # old buffers nobody else views
        movable = [_movable(p, free) for p in params]
        flat = xp.empty(self.offsets[-1], dtype=dtype)
        if flat.size:
            xp.concatenate([p._data.reshape(-1) for p in params], out=flat)
        self.flat = flat  # the parameters' values, back to back
        self.views = []  # the array each parameter's _data must still be
        self.pinned = []  # indices of parameters that keep their own memory
        for i, p in enumerate(params):
            if movable[i]:
                view = flat[self.offsets[i]:self.offsets[i + 1]].reshape(p._data.shape)
                p._data = view
            else:
                self.pinned.append(i)
            self.views.append(p._data)
        self.grad = xp.empty_like(flat)  # gradients are copied here each step
        self.state = {}  # state name -> flat array (param-shaped or one entry per param)
        self.state_views = {}  # state name -> per-parameter views into state[name]
        self.state_tensors = {}  # state name -> the Tensors placed in optimizer.state

    def params_intact(self) -> bool:
        return all(map(is_, [p._data for p in self.params], self.views))

    def is_free(self) -> bool:
        """True when only this bucket's own views refer to the buffer."""
        own = sum(1 for v in self.views if v.base is self.flat)
        return sys.getrefcount(self.flat) == own + 2

    def sync_state(self, state, scalar_keys: tuple) -> bool:
        """Make every state tensor a view into this bucket's flat state buffers.

        False when the parameters are not at the same point (different state keys,
        dtypes, shapes or scalar values): the caller then steps them one by one."""
        sts = [state.get(p) or _NO_STATE for p in self.params]
        keys = [k for k, v in sts[0].items() if isinstance(v, Tensor)]
        n_entries = len(sts[0])
        if any(len(st) != n_entries for st in sts):
            return False
        for k in list(self.state):
            if k not in keys:
                self._drop(k)
        for k in keys:
            current = [st.get(k) for st in sts]
            tensors = self.state_tensors.get(k)
            # Fast path (every step but the first): the entries are still the views we placed.
            if tensors is not None and all(map(is_, current, tensors)) and all(
                    map(is_, [t._data for t in tensors], self.state_views[k])):
                continue
            if not all(isinstance(t, Tensor) for t in current):
                return False
            if not self._adopt(k, current, sts):
                return False
        for k in scalar_keys:  # step, ...: one value for the whole bucket
            flat = self.state.get(k)
            if flat is not None and flat.size > 1 and not bool((flat == flat[0]).all()):
                return False
        return True

    def _drop(self, k) -> None:
        for d in (self.state, self.state_views, self.state_tensors):
            d.pop(k, None)

    def _adopt(self, k, tensors: list, sts: list) -> bool:
        """Copy the current state tensors `k` into a flat buffer and put views in their place."""
        params = self.params
        first = tensors[0]._data
        if any(t._data.dtype != first.dtype or type(t._data) is not type(first)
               for t in tensors):
            return False
        if all(t._data.shape == p._data.shape for t, p in zip(tensors, params)):
            offsets = self.offsets
        elif all(t._data.ndim == 0 for t in tensors):
            offsets = range(len(params) + 1)
        else:
            return False
        xp = _xp(first)
        flat = self.state.get(k)
        if flat is None or flat.dtype != first.dtype or flat.size != offsets[-1]:
            flat = xp.empty(offsets[-1], dtype=first.dtype)
        if flat.size:
            xp.concatenate([t._data.reshape(-1) for t in tensors], out=flat)
        views, placed = [], []
        for i, t in enumerate(tensors):
            view = flat[offsets[i]:offsets[i + 1]].reshape(t._data.shape)
            nt = _make(view)
            sts[i][k] = nt
            views.append(view)
            placed.append(nt)
        self.state[k], self.state_views[k], self.state_tensors[k] = flat, views, placed
        return True

    def run(self, opt: Optimizer, group: dict, state) -> None:
        """One update of the whole bucket: gather grads, apply the formula, scatter pins."""
        params, flat, offsets = self.params, self.flat, self.offsets
        xp = _xp(flat)
        if flat.size:
            xp.concatenate([p._grad._data.reshape(-1) for p in params], out=self.grad)
        for i in self.pinned:
            flat[offsets[i]:offsets[i + 1]] = params[i]._data.reshape(-1)
        new = _apply_chunked(opt, group, flat, self.grad, self.state)
        for i in self.pinned:
            params[i]._data[...] = flat[offsets[i]:offsets[i + 1]].reshape(params[i]._data.shape)
        for p in params:
            p._version_counter[0] += 1
        if new:  # state created by the formula itself (SGD's first momentum buffer)
            sts = [state[p] for p in params]
            for k, arr in new.items():
                self._adopt(k, [_make(arr[offsets[i]:offsets[i + 1]].reshape(p._data.shape))
                                for i, p in enumerate(params)], sts)


class _SharedParams:
    """The parameters of a group that live in shared memory: stepped one by one, in place
    (see NOTE [ Flat parameter groups ]). Quacks like a _FlatBucket for `_step_group`."""

    __slots__ = ("params", "views")

    def __init__(self, params: list) -> None:
        self.params = params
        self.views = [p._data for p in params]  # the array each parameter's _data must still be

    def params_intact(self) -> bool:
        return all(map(is_, [p._data for p in self.params], self.views))

    def is_free(self) -> bool:
        return False  # no buffer of ours to reuse

    def sync_state(self, state, scalar_keys: tuple) -> bool:
        return True  # the state stays per parameter

    def run(self, opt: Optimizer, group: dict, state) -> None:
        opt._step_each(group, self.params)


_CHUNK = 1 << 16  # elements per call of a formula on a flat buffer: its passes stay in cache


def _apply_chunked(opt: Optimizer, group: dict, flat, grad, state: dict) -> dict | None:
    """opt._apply over a flat bucket, one cache-sized chunk at a time.

    A formula makes ~10 passes over its arrays; streamed over a whole group they run at
    memory speed, chunk by chunk they run from cache. Elementwise state is sliced with the
    parameters; per-parameter counters (`step`, ASGD's `eta` ...: one equal entry per
    parameter, read through `_first`) are advanced by the first chunk only, the later
    chunks reading copies of their values from before the step.
    """
    n = flat.size
    if n <= _CHUNK:
        return opt._apply(group, flat, grad, state)
    counters = {k: v for k, v in state.items() if v.size != n}
    before = {k: v.copy() for k, v in counters.items()}
    created = {}
    for start in range(0, n, _CHUNK):
        part = slice(start, start + _CHUNK)
        chunk_state = {k: v[part] for k, v in state.items() if v.size == n}
        chunk_state.update(counters if start == 0 else {k: v.copy() for k, v in before.items()})
        new = opt._apply(group, flat[part], grad[part], chunk_state)
        for k, arr in (new or {}).items():
            created.setdefault(k, []).append(arr)
    if not created:
        return None
    return {k: _xp(flat).concatenate(parts) for k, parts in created.items()}


def _movable(p: Tensor, free_buffers: set) -> bool:
    """Whether p's array can be replaced by a view into a new buffer without anyone noticing:
    p owns it and is its only holder, or it is a view into an old buffer of ours that
    nothing else refers to."""
    arr = p._data
    base = arr.base
    if base is None:
        return sys.getrefcount(p._data) <= _REFS_SOLE + 1  # + the local `arr`
    if id(base) in free_buffers:
        return sys.getrefcount(p._data) <= _REFS_SOLE + 2  # + `arr` + the old bucket's list
    return False


# ----------------------------------------------------------------- helpers for the formulas
def _first(step) -> float:
    """The (shared) value of a step-like array: one entry per parameter, or 0-dim."""
    return step.reshape(-1)[0].item()


def _lerp_(a, b, weight: float) -> None:
    """a += weight * (b - a) in place, evaluated as torch's lerp does for either half."""
    d = b - a
    if weight < 0.5:
        d *= weight
        a += d
    else:
        d *= 1 - weight
        a[...] = b - d
