"""Containers (Sequential, ModuleList, ModuleDict, ParameterList, ParameterDict) and
Flatten/Unflatten against torch: the same operations give the same names, reprs,
values and errors."""
from __future__ import annotations

from collections import OrderedDict

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from oracle import assert_same, check, check_error, randn

import ember


def layers(lib):
    nn = lib.nn

    class Scale(nn.Module):
        def __init__(self, k: float):
            super().__init__()
            self.k = nn.Parameter(lib.tensor(np.array([k])))

        def forward(self, x):
            return x * self.k

        def extra_repr(self):
            return f"k={self.k.item()}"

    class Tanh(nn.Module):
        def forward(self, x):
            return x.tanh()

    return Scale, Tanh


L = {lib: layers(lib) for lib in (torch, ember)}


def both(fn):
    return fn(ember, *L[ember]), fn(torch, *L[torch])


def names(module):
    return [n for n, _ in module.named_modules()], [n for n, _ in module.named_parameters()]


def same_error(fn):
    msgs = []
    for lib in (torch, ember):
        with pytest.raises(Exception) as info:
            fn(lib, *L[lib])
        # messages that print a class name print torch's module path
        msgs.append((type(info.value).__name__, str(info.value).replace("ember.", "torch.")))
    assert msgs[1] == msgs[0]


# ----------------------------------------------------------------- Sequential
def test_sequential_forward_and_gradients():
    def run(lib, x):
        Scale, Tanh = L[lib]
        seq = lib.nn.Sequential(Scale(2.0), Tanh(), Scale(-0.5), lib.nn.Flatten(0))
        return seq(x)
    check(run, randn(3, 2))


def test_sequential_indexing_slicing_and_mutation():
    def run(lib, Scale, Tanh):
        seq = lib.nn.Sequential(Scale(1.0), Tanh(), Scale(2.0), Scale(3.0))
        out = [repr(seq[0]), repr(seq[-1]), repr(seq[1:3]), type(seq[::2]).__name__,
               names(seq[1:])]
        seq[1] = Scale(9.0)
        seq[-1] = Tanh()
        out.append(repr(seq))
        del seq[0]
        out.append(names(seq))
        del seq[::2]
        out.append(repr(seq))
        seq.append(Scale(4.0)).insert(0, Tanh()).insert(-1, Scale(5.0))
        seq.extend([Tanh(), Scale(6.0)])
        out.append(repr(seq))
        out.append(repr(seq.pop(1)))
        out.append((len(seq), [type(m).__name__ for m in seq]))
        return out
    e, t = both(run)
    assert e == t


def test_sequential_from_ordered_dict_and_renumbering_on_delete():
    def run(lib, Scale, Tanh):
        seq = lib.nn.Sequential(OrderedDict(first=Scale(1.0), act=Tanh(), last=Scale(2.0)))
        out = [repr(seq), names(seq), repr(seq[1:])]
        del seq[1]
        out += [repr(seq), names(seq)]
        return out
    e, t = both(run)
    assert e == t


def test_sequential_add_mul_and_errors():
    def run(lib, Scale, Tanh):
        a = lib.nn.Sequential(Scale(1.0), Tanh())
        b = lib.nn.Sequential(Scale(2.0))
        c = a + b
        a += b
        d = b * 3
        e = 2 * b
        b *= 2
        return [repr(c), repr(a), repr(d), repr(e), repr(b), c[2] is d[0], len(dir(c)) > 0,
                any(k.isdigit() for k in dir(c))]
    e, t = both(run)
    assert e == t
    same_error(lambda lib, S, T: lib.nn.Sequential(T()) + [T()])
    same_error(lambda lib, S, T: lib.nn.Sequential(T()).__iadd__(3))
    same_error(lambda lib, S, T: lib.nn.Sequential(T()) * 0)
    same_error(lambda lib, S, T: lib.nn.Sequential(T()) * 1.5)
    same_error(lambda lib, S, T: lib.nn.Sequential(T())[1])
    same_error(lambda lib, S, T: lib.nn.Sequential(T())[-2])
    same_error(lambda lib, S, T: lib.nn.Sequential(T())["0"])
    same_error(lambda lib, S, T: lib.nn.Sequential(T()).insert(3, T()))
    same_error(lambda lib, S, T: lib.nn.Sequential(T()).insert(0, 3))
    same_error(lambda lib, S, T: lib.nn.Sequential(T(), 3))


def test_empty_sequential_is_identity():
    x = randn(2)
    assert_same(ember.nn.Sequential()(ember.tensor(x)), torch.nn.Sequential()(torch.tensor(x)))
    assert repr(ember.nn.Sequential()) == repr(torch.nn.Sequential())


# ----------------------------------------------------------------- ModuleList
def test_module_list_operations():
    def run(lib, Scale, Tanh):
        ml = lib.nn.ModuleList([Scale(1.0), Tanh()])
        ml.append(Tanh())
        ml.extend([Scale(1.0), Scale(1.0), Scale(2.0)])
        ml += [Tanh()]
        out = [repr(ml), names(ml), len(ml), repr(ml[-2]), repr(ml[1:4]),
               type(ml[1:4]).__name__]
        ml.insert(1, Scale(7.0))
        ml[0] = Tanh()
        del ml[2]
        out.append(repr(ml))
        del ml[1:3]
        out.append(names(ml))
        out.append(repr(ml.pop(0)))
        out.append(repr(ml + lib.nn.ModuleList([Tanh()])))
        out.append([type(m).__name__ for m in ml])
        out.append(repr(lib.nn.ModuleList()))
        return out
    e, t = both(run)
    assert e == t
    same_error(lambda lib, S, T: lib.nn.ModuleList([T()])[3])
    same_error(lambda lib, S, T: lib.nn.ModuleList([T()]).extend(3))
    same_error(lambda lib, S, T: lib.nn.ModuleList([T()])(1))
    same_error(lambda lib, S, T: lib.nn.ModuleList([3]))


def test_module_list_repr_collapses_identical_runs():
    def run(lib, Scale, Tanh):
        inner = lib.nn.Sequential(Scale(1.0), Tanh())
        ml = lib.nn.ModuleList([Tanh(), Tanh(), Tanh(), inner, inner, Scale(1.0), Tanh()])
        return repr(ml), repr(lib.nn.Sequential(ml))
    e, t = both(run)
    assert e == t


# ----------------------------------------------------------------- ModuleDict
def test_module_dict_operations():
    def run(lib, Scale, Tanh):
        md = lib.nn.ModuleDict({"b": Scale(1.0), "a": Tanh()})
        md.update([("c", Tanh()), ("b", Scale(2.0))])
        md.update(lib.nn.ModuleDict({"z": Tanh()}))
        md["d"] = Scale(3.0)
        out = [repr(md), list(md), list(md.keys()), [type(v).__name__ for v in md.values()],
               [k for k, _ in md.items()], "a" in md, "q" in md, len(md), names(md)]
        del md["a"]
        out.append(repr(md.pop("c")))
        out.append(list(md))
        md.clear()
        out.append((len(md), repr(md)))
        return out
    e, t = both(run)
    assert e == t
    same_error(lambda lib, S, T: lib.nn.ModuleDict(3))
    same_error(lambda lib, S, T: lib.nn.ModuleDict([3]))
    same_error(lambda lib, S, T: lib.nn.ModuleDict([("a", T(), 1)]))
    same_error(lambda lib, S, T: lib.nn.ModuleDict({"a.b": T()}))
    same_error(lambda lib, S, T: lib.nn.ModuleDict()["nope"])


# ----------------------------------------------------------------- ParameterList
def test_parameter_list_operations():
    def run(lib, Scale, Tanh):
        pl = lib.nn.ParameterList([lib.nn.Parameter(lib.ones(2, 3)),
                                   lib.zeros(4, dtype=lib.float64)])
        pl.append(lib.ones(1, dtype=lib.float16))
        pl.extend([lib.nn.Parameter(lib.ones(2), requires_grad=False), "note"])
        pl += [lib.ones(5)]
        out = [repr(pl), len(pl), [type(p).__name__ for p in pl],
               [n for n, _ in pl.named_parameters()], [p.requires_grad for p in pl.parameters()],
               repr(pl[1:3]), type(pl[-1]).__name__, list(pl.state_dict())]
        pl[0] = lib.zeros(3)
        out.append(repr(pl))
        out.append(any(k.isdigit() for k in dir(pl)))
        return out
    e, t = both(run)
    assert e == t
    same_error(lambda lib, S, T: lib.nn.ParameterList([lib.ones(1)])[2])
    same_error(lambda lib, S, T: lib.nn.ParameterList().extend(lib.ones(2)))
    same_error(lambda lib, S, T: lib.nn.ParameterList()(1))


def test_parameter_list_in_a_module_trains():
    def run(lib, x):
        class M(lib.nn.Module):
            def __init__(self):
                super().__init__()
                self.ws = lib.nn.ParameterList([lib.tensor(randn(3, 3, seed=i))
                                                for i in range(3)])

            def forward(self, x):
                for w in self.ws:
                    x = (x @ w).tanh()
                return x
        m = M()
        y = m(x)
        y.backward(lib.ones_like(y))
        return [y] + [w.grad for w in m.ws]
    x = randn(2, 3)
    assert_same(run(ember, ember.tensor(x)), run(torch, torch.tensor(x)))


# ----------------------------------------------------------------- ParameterDict
def test_parameter_dict_operations():
    def run(lib, Scale, Tanh):
        pd = lib.nn.ParameterDict({"w": lib.ones(2, 2), "b": lib.nn.Parameter(lib.zeros(2)),
                                   "n": 3})
        pd.update(OrderedDict([("z", lib.ones(1)), ("a", lib.ones(3, dtype=lib.float64))]))
        pd.update([("m", lib.ones(2))])
        pd["q"] = lib.nn.Parameter(lib.ones(1), requires_grad=False)
        out = [repr(pd), list(pd), list(pd.keys()), len(pd), "w" in pd, "x" in pd,
               [n for n, _ in pd.named_parameters()], list(pd.state_dict()),
               type(pd["w"]).__name__, pd.get("missing", 5), list(reversed(pd))]
        out.append(pd.setdefault("s", lib.ones(2)).shape)
        out.append(pd.pop("w").shape)
        out.append(pd.popitem()[0])
        del pd["n"]
        c = pd.copy()
        out.append((list(c), c["a"] is pd["a"]))
        f = pd.fromkeys(["x", "y"], lib.ones(1))
        out.append(list(f))
        merged = pd | lib.nn.ParameterDict({"new": lib.ones(1)})
        out.append(list(merged))
        pd |= lib.nn.ParameterDict({"other": lib.ones(1)})
        out.append(list(pd))
        pd.clear()
        out.append(len(pd))
        return out
    e, t = both(run)
    assert e == t
    same_error(lambda lib, S, T: lib.nn.ParameterDict()[1])
    same_error(lambda lib, S, T: lib.nn.ParameterDict()["nope"])
    same_error(lambda lib, S, T: lib.nn.ParameterDict(3))
    same_error(lambda lib, S, T: lib.nn.ParameterDict([("a",)]))
    same_error(lambda lib, S, T: lib.nn.ParameterDict([3]))
    same_error(lambda lib, S, T: lib.nn.ParameterDict()(1))


def test_containers_in_state_dict_and_conversion():
    def run(lib, Scale, Tanh):
        class M(lib.nn.Module):
            def __init__(self):
                super().__init__()
                self.seq = lib.nn.Sequential(Scale(1.0), Tanh())
                self.ml = lib.nn.ModuleList([Scale(2.0)])
                self.md = lib.nn.ModuleDict({"x": Scale(3.0)})
                self.pl = lib.nn.ParameterList([lib.ones(2)])
                self.pd = lib.nn.ParameterDict({"p": lib.ones(3)})
        m = M().double()
        sd = m.state_dict()
        m2 = M()
        r = m2.load_state_dict(sd)
        return (list(sd), [str(v.dtype) for v in sd.values()], repr(r), repr(m),
                [str(p.dtype) for p in m2.parameters()])
    e, t = both(run)
    assert e == t


# ----------------------------------------------------------------- Flatten / Unflatten
@settings(max_examples=25, deadline=None)
@given(shape=st.lists(st.integers(0, 3), min_size=1, max_size=4), data=st.data())
def test_flatten_matches_torch(shape, data):
    n = len(shape)
    start = data.draw(st.integers(-n, n - 1))
    end = data.draw(st.integers(-n, n - 1))
    x = randn(*shape)

    def run(lib, x):
        return lib.nn.Flatten(start, end)(x)
    if (start % n) > (end % n):
        check_error(run, x)
    else:
        check(run, x)


def test_flatten_defaults_transposed_and_repr():
    check(lambda lib, x: lib.nn.Flatten()(x.transpose(0, 2)), randn(2, 3, 4))
    check(lambda lib, x: lib.nn.Flatten(0)(x), randn())
    assert repr(ember.nn.Flatten()) == repr(torch.nn.Flatten())
    assert repr(ember.nn.Flatten(0, 2)) == repr(torch.nn.Flatten(0, 2))


@pytest.mark.parametrize("dim,sizes", [(1, (2, 3)), (-1, [3, 2]), (0, (2, -1)), (1, (6,)),
                                       (1, (1, 6, 1))])
def test_unflatten_matches_torch(dim, sizes):
    check(lambda lib, x: lib.nn.Unflatten(dim, sizes)(x), randn(4, 6)[:, :] if dim else
          randn(4, 6))
    assert repr(ember.nn.Unflatten(dim, sizes)) == repr(torch.nn.Unflatten(dim, sizes))


@pytest.mark.parametrize("args", [(1, 6), (1, (2, "3")), ("x", 3), (0, None)])
def test_unflatten_argument_errors(args):
    e, t = check_error(lambda lib: lib.nn.Unflatten(*args))
    assert str(e) == str(t)


def test_unflatten_size_mismatch_error():
    check_error(lambda lib, x: lib.nn.Unflatten(1, (4, 2))(x), randn(2, 6))


def test_deprecated_container():
    def run(lib, Scale, Tanh):
        with pytest.warns(FutureWarning, match="`nn.Container` is deprecated"):
            c = lib.nn.Container(a=Tanh(), b=Scale(2.0))
        return repr(c), names(c)
    e, t = both(run)
    assert e == t
