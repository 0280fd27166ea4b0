"""The differential harness: run the same thing in torch and in ember and compare.

`check(fn, *arrays)` builds torch and ember tensors from the same NumPy inputs,
calls `fn(lib, *tensors)` with `lib` being `torch` or `ember`, and compares the
outputs' values, shapes and dtypes; for every floating input that takes part it
also backpropagates the same random upstream gradient and compares the grads.
"""
from __future__ import annotations

import numpy as np
import torch

import ember

torch.set_num_threads(2)

TOL = {  # (rtol, atol) per dtype name
    "float64": (1e-10, 1e-12), "float32": (1e-5, 1e-6), "float16": (2e-3, 2e-3),
    "bfloat16": (1.6e-2, 1e-2),
}


def to_torch(a: np.ndarray, requires_grad: bool = False) -> torch.Tensor:
    if a.dtype.name == "bfloat16":
        t = torch.from_numpy(np.asarray(a.view(np.uint16).astype(np.int32) << 16))
        t = t.view(torch.float32)
        t = t.to(torch.bfloat16)
    else:
        t = torch.from_numpy(np.array(a))
    return t.requires_grad_(requires_grad)


def to_ember(a: np.ndarray, requires_grad: bool = False) -> ember.Tensor:
    return ember.tensor(np.array(a)).requires_grad_(requires_grad)


def to_numpy(t) -> np.ndarray:
    if isinstance(t, torch.Tensor):
        t = t.detach()
        if t._is_zerotensor():  # torch's symbolic zeros (some gradients) cannot go to NumPy
            t = torch.zeros(t.shape, dtype=t.dtype)
        if t.dtype == torch.bfloat16:
            t = t.float()
        return t.numpy()
    arr = t.detach().numpy()
    return arr.astype(np.float32) if arr.dtype.name == "bfloat16" else arr


def assert_same(e, t, rtol=None, atol=None, check_dtype=True, what="output") -> None:
    """ember result `e` equals torch result `t` (tensors, tuples, lists, scalars)."""
    if isinstance(t, (tuple, list)):
        assert isinstance(e, (tuple, list)), f"{what}: ember gave {type(e)}, torch a sequence"
        assert len(e) == len(t), f"{what}: {len(e)} outputs vs torch's {len(t)}"
        for i, (ei, ti) in enumerate(zip(e, t)):
            assert_same(ei, ti, rtol, atol, check_dtype, f"{what}[{i}]")
        return
    if not isinstance(t, torch.Tensor):
        assert e == t or (e != e and t != t), f"{what}: {e!r} != torch's {t!r}"
        return
    assert isinstance(e, ember.Tensor), f"{what}: expected a Tensor, got {type(e)}"
    assert tuple(e.shape) == tuple(t.shape), f"{what}: shape {tuple(e.shape)} vs {tuple(t.shape)}"
    if check_dtype:
        assert str(e.dtype) == str(t.dtype), f"{what}: dtype {e.dtype} vs torch's {t.dtype}"
    dflt = TOL.get(str(t.dtype).replace("torch.", ""), (0, 0))
    r = dflt[0] if rtol is None else rtol
    a = dflt[1] if atol is None else atol
    np.testing.assert_allclose(to_numpy(e).astype(np.float64) if e.dtype.is_floating_point
                               else to_numpy(e), to_numpy(t).astype(np.float64)
                               if t.is_floating_point() else to_numpy(t),
                               rtol=r, atol=a, equal_nan=True, err_msg=what)


def check(fn, *inputs, grad: bool = True, rtol=None, atol=None, check_dtype=True, seed=0):
    """Compare fn(torch, *ts) with fn(ember, *es), forward and (if float) backward.

    Inputs are NumPy arrays (converted to tensors) or anything else (passed as is).
    Returns the (ember, torch) outputs for further checks.
    """
    def is_arr(x):
        return isinstance(x, np.ndarray)

    def wants_grad(x):
        return grad and is_arr(x) and x.dtype.kind == "f" or (
            grad and is_arr(x) and x.dtype.name == "bfloat16")

    ts = [to_torch(x, wants_grad(x)) if is_arr(x) else x for x in inputs]
    es = [to_ember(x, wants_grad(x)) if is_arr(x) else x for x in inputs]
    t_out = fn(torch, *ts)
    e_out = fn(ember, *es)
    assert_same(e_out, t_out, rtol, atol, check_dtype)
    if not grad:
        return e_out, t_out
    t_outs = [o for o in (t_out if isinstance(t_out, (tuple, list)) else [t_out])
              if isinstance(o, torch.Tensor) and o.requires_grad]
    e_outs = [o for o in (e_out if isinstance(e_out, (tuple, list)) else [e_out])
              if isinstance(o, ember.Tensor) and o.requires_grad]
    assert len(t_outs) == len(e_outs), "different outputs require grad"
    if not t_outs:
        return e_out, t_out
    rng = np.random.default_rng(seed)
    gs = [rng.standard_normal(o.shape).astype(np.float64) for o in t_outs]
    torch.autograd.backward(t_outs, [torch.tensor(g, dtype=o.dtype) for g, o in zip(gs, t_outs)])
    ember.autograd.backward(e_outs, [ember.tensor(g, dtype=o.dtype) for g, o in zip(gs, e_outs)])
    for i, (e, t) in enumerate(zip(es, ts)):
        if isinstance(t, torch.Tensor) and t.requires_grad:
            if t.grad is None:
                assert e.grad is None, f"grad of input {i}: torch has none, ember does"
            else:
                assert e.grad is not None, f"grad of input {i}: ember computed none"
                assert_same(e.grad, t.grad, rtol, atol, check_dtype, f"grad of input {i}")
    return e_out, t_out


def check_error(fn, *inputs, match: str | None = None):
    """Both libraries raise the same exception type (and, if given, ember's matches `match`)."""
    import re
    ts = [to_torch(x) if isinstance(x, np.ndarray) else x for x in inputs]
    es = [to_ember(x) if isinstance(x, np.ndarray) else x for x in inputs]
    try:
        fn(torch, *ts)
    except Exception as te:
        t_exc = te
    else:
        raise AssertionError("torch raised nothing")
    try:
        fn(ember, *es)
    except Exception as ee:
        assert isinstance(ee, type(t_exc)) or type(ee).__name__ == type(t_exc).__name__, (
            f"ember raised {type(ee).__name__}: {ee}; torch raised {type(t_exc).__name__}: "
            f"{t_exc}")
        if match is not None:
            assert re.search(match, str(ee)), f"{str(ee)!r} does not match {match!r}"
        return ee, t_exc
    raise AssertionError(f"ember raised nothing; torch raised {type(t_exc).__name__}: {t_exc}")


def randn(*shape, dtype=np.float64, seed=0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def check_module(make, *inputs, train: bool = True, rtol=None, atol=None, seed=0, call=None):
    """Build `make(torch)` and `make(ember)`, copy torch's state_dict into ember, then
    compare outputs, state_dict keys, and the grads of float inputs and of parameters.
    `call(module, *tensors)` replaces `module(*tensors)` when given.
    Returns the (ember, torch) modules."""
    tm, em = make(torch), make(ember)
    assert list(em.state_dict()) == list(tm.state_dict()), "state_dict keys differ"
    em.load_state_dict({k: to_ember(to_numpy(v)) for k, v in tm.state_dict().items()})
    tm.train(train)
    em.train(train)

    def run(lib, module, *xs):
        return call(module, *xs) if call is not None else module(*xs)
    check(lambda lib, *xs: run(lib, tm if lib is torch else em, *xs), *inputs, rtol=rtol,
          atol=atol, seed=seed)
    for (name, tp), (ename, ep) in zip(tm.named_parameters(), em.named_parameters()):
        assert name == ename, f"parameter order: {ename} vs torch's {name}"
        if tp.grad is None:
            assert ep.grad is None, f"grad of {name}: torch has none, ember does"
        else:
            assert ep.grad is not None, f"grad of {name}: ember computed none"
            assert_same(ep.grad, tp.grad, rtol, atol, what=f"grad of {name}")
    return em, tm
