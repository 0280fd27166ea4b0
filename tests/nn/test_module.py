"""nn.Module mechanics against torch: the same model built in both libraries, the same
operations, the same observable results (names, order, hook calls, messages, reprs)."""
from __future__ import annotations

import copy
import pickle
from collections import OrderedDict

import numpy as np
import pytest
import torch
from oracle import assert_same, randn

import ember

LIBS = (torch, ember)


# ----------------------------------------------------------------- test-only layers
def classes(lib):
    """Tiny layers defined identically for torch and ember (no library layers needed)."""
    nn = lib.nn

    class Affine(nn.Module):
        """y = x @ weight + bias, with a float buffer and an integer buffer."""

        def __init__(self, n: int = 3, m: int = 2, seed: int = 0):
            super().__init__()
            self.weight = nn.Parameter(lib.tensor(randn(n, m, seed=seed)))
            self.bias = nn.Parameter(lib.tensor(randn(m, seed=seed + 1)))
            self.register_buffer("running", lib.zeros(m, dtype=lib.float64))
            self.register_buffer("steps", lib.tensor(0))
            self.register_buffer("scratch", lib.ones(1), persistent=False)
            self.n, self.m = n, m

        def forward(self, x, scale=1.0):
            return (x @ self.weight + self.bias) * scale

        def extra_repr(self):
            return f"n={self.n}, m={self.m}"

    class Act(nn.Module):
        def forward(self, x):
            return x.tanh()

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.first = Affine(3, 4, seed=0)
            self.act = Act()
            self.block = nn.Sequential(Affine(4, 4, seed=2), Act(), Affine(4, 2, seed=4))
            self.head_scale = nn.Parameter(lib.tensor(np.array([2.0])))

        def forward(self, x):
            return self.block(self.act(self.first(x))) * self.head_scale

    class Two(nn.Module):
        """Two tensor inputs plus a non-tensor one; two outputs."""

        def forward(self, a, flag, b):
            return a * b, (a + b).sum() if flag else a

    return Affine, Act, Net, Two


CLS = {lib: classes(lib) for lib in LIBS}


def both(fn):
    """(ember result, torch result) of fn(lib, *classes(lib))."""
    return fn(ember, *CLS[ember]), fn(torch, *CLS[torch])


def same_error(fn):
    """Both libraries raise the same exception type with the same message."""
    msgs = []
    for lib in (torch, ember):
        with pytest.raises(Exception) as info:
            fn(lib, *CLS[lib])
        msgs.append((type(info.value).__name__, str(info.value)))
    assert msgs[1] == msgs[0]


# ----------------------------------------------------------------- registration
def test_setattr_routes_into_the_three_dicts():
    def run(lib, Affine, Act, Net, Two):
        m = Affine()
        m.extra = lib.nn.Parameter(lib.ones(2))
        m.sub = Act()
        m.plain = 3
        m.running = lib.ones(2, dtype=lib.float64)  # assignment over a buffer stays a buffer
        m.scratch = lib.zeros(1)  # and keeps being non-persistent
        return (list(m._parameters), list(m._buffers), list(m._modules),
                sorted(m._non_persistent_buffers_set), "plain" in m.__dict__,
                list(m.state_dict()), m.running.tolist())
    e, t = both(run)
    assert e == t


def test_assigning_over_one_kind_moves_the_name():
    def run(lib, Affine, Act, Net, Two):
        m = Affine()
        m.running = Act()  # a module over a buffer
        m.steps = lib.nn.Parameter(lib.ones(1))  # a parameter over a buffer
        m.sub = Act()
        m.sub = None  # None over a module keeps the slot
        m.bias = None
        m.weight = lib.nn.Parameter(lib.ones(1))
        m.other = lib.nn.Parameter(lib.ones(1))
        del m.other
        del m.scratch
        del m.sub

        return (list(m._parameters), list(m._buffers), list(m._modules), m.bias,
                hasattr(m, "scratch"), hasattr(m, "sub"))
    e, t = both(run)
    assert e == t


@pytest.mark.parametrize("case", [
    lambda lib, m: setattr(m, "weight", lib.ones(3, 2)),
    lambda lib, m: setattr(m, "weight", 3),
    lambda lib, m: setattr(m, "running", [1.0]),
    lambda lib, m: m.register_buffer("weight", lib.ones(1)),
    lambda lib, m: m.register_buffer("a.b", lib.ones(1)),
    lambda lib, m: m.register_buffer("", lib.ones(1)),
    lambda lib, m: m.register_buffer(3, lib.ones(1)),
    lambda lib, m: m.register_buffer("x", [1.0]),
    lambda lib, m: m.register_parameter("x", lib.ones(1)),
    lambda lib, m: m.register_parameter("n", None),
    lambda lib, m: m.register_parameter("a.b", None),
    lambda lib, m: m.register_parameter("", None),
    lambda lib, m: m.register_parameter("x", lib.nn.Parameter(lib.ones(1)) * 2),
    lambda lib, m: m.add_module("x", 3),
    lambda lib, m: m.add_module("a.b", None),
    lambda lib, m: m.add_module("", None),
    lambda lib, m: m.add_module("weight", None),
    lambda lib, m: m.no_such_attribute,
    lambda lib, m: m.get_submodule("nope"),
    lambda lib, m: m.get_parameter("running"),
    lambda lib, m: m.get_parameter("nope"),
    lambda lib, m: m.get_buffer("weight"),
    lambda lib, m: m.train(1),
    lambda lib, m: m.to(lib.int64),
])
def test_registration_errors_match_torch(case):
    def run(lib, Affine, Act, Net, Two):
        case(lib, Affine())
    same_error(run)


def test_register_parameter_errors_for_non_leaf_and_wrong_tensor_wording():
    # ValueError for a non-leaf Parameter (built by hand, since Parameter() detaches).
    def run(lib, Affine, Act, Net, Two):
        m = Affine()
        m.register_parameter("x", lib.nn.Parameter(lib.ones(1)) * 2)
    same_error(run)


def test_assignment_before_init_raises():
    for kind in ("param", "module", "buffer"):
        def run(lib, Affine, Act, Net, Two, kind=kind):
            class Bad(lib.nn.Module):
                def __init__(self):
                    if kind == "param":
                        self.w = lib.nn.Parameter(lib.ones(1))
                    elif kind == "module":
                        self.m = Act()
                    else:
                        self.register_buffer("b", lib.ones(1))
            Bad()
        same_error(run)


def test_module_init_rejects_arguments():
    same_error(lambda lib, *c: lib.nn.Module(3))
    same_error(lambda lib, *c: lib.nn.Module(foo=3))
    same_error(lambda lib, *c: lib.nn.Module()(lib.ones(1)))


def test_get_submodule_parameter_buffer():
    def run(lib, Affine, Act, Net, Two):
        net = Net()
        return (type(net.get_submodule("block.0")).__name__, net.get_submodule("") is net,
                net.get_parameter("block.2.bias").shape, net.get_buffer("first.steps").tolist(),
                net.get_parameter("head_scale").tolist())
    e, t = both(run)
    assert e == t
    same_error(lambda lib, A, B, Net, T: Net().get_submodule("block.0.weight"))
    same_error(lambda lib, A, B, Net, T: Net().get_submodule("block.7"))


def test_set_submodule():
    def run(lib, Affine, Act, Net, Two):
        net = Net()
        net.set_submodule("block.1", Affine(4, 4))
        net.set_submodule("extra", Act())
        return [n for n, _ in net.named_modules()]
    e, t = both(run)
    assert e == t


def test_global_registration_hooks():
    def run(lib, Affine, Act, Net, Two):
        mm = lib.nn.modules.module
        seen = []
        handles = [
            mm.register_module_parameter_registration_hook(lambda m, n, v: seen.append(("p", n))),
            mm.register_module_buffer_registration_hook(lambda m, n, v: seen.append(("b", n))),
            mm.register_module_module_registration_hook(lambda m, n, v: seen.append(("m", n))),
        ]
        try:
            Net()
        finally:
            for h in handles:
                h.remove()
        return seen
    e, t = both(run)
    assert e == t


# ----------------------------------------------------------------- traversal
def test_traversal_names_and_order():
    def run(lib, Affine, Act, Net, Two):
        net = Net()
        shared = Act()
        net.block.append(shared)
        net.again = shared  # the same module twice
        net.tied = net.first.weight  # the same parameter twice
        return (
            [n for n, _ in net.named_parameters()],
            [n for n, _ in net.named_parameters(remove_duplicate=False)],
            [n for n, _ in net.named_parameters(prefix="model", recurse=False)],
            [n for n, _ in net.named_buffers()],
            [n for n, _ in net.named_buffers(recurse=False)],
            [n for n, _ in net.named_children()],
            [n for n, _ in net.named_modules()],
            [n for n, _ in net.named_modules(prefix="m", remove_duplicate=False)],
            [type(m).__name__ for m in net.modules()],
            [tuple(p.shape) for p in net.parameters()],
            len(list(net.buffers())),
            [type(c).__name__ for c in net.children()],
        )
    e, t = both(run)
    assert e == t


# ----------------------------------------------------------------- forward hooks
def test_forward_hook_order_and_replacement():
    def run(lib, Affine, Act, Net, Two):
        mm = lib.nn.modules.module
        log = []
        m = Affine()
        x = lib.tensor(randn(2, 3))

        def pre(name, ret=None):
            def hook(mod, args):
                log.append((name, round(args[0].sum().item(), 9)))
                return ret
            return hook

        m.register_forward_pre_hook(pre("pre1"))
        m.register_forward_pre_hook(pre("pre0"), prepend=True)
        m.register_forward_pre_hook(lambda mod, args: args[0] * 2)  # non-tuple: wrapped
        m.register_forward_pre_hook(
            lambda mod, args, kwargs: (args, {**kwargs, "scale": 3.0}), with_kwargs=True)
        m.register_forward_hook(
            lambda mod, args, out: log.append(("hook", round(out.sum().item(), 9))))
        m.register_forward_hook(lambda mod, args, kwargs, out: out + kwargs["scale"],
                                with_kwargs=True)
        m.register_forward_hook(lambda mod, args, out: log.append(("first", 0)), prepend=True)
        g = mm.register_module_forward_pre_hook(lambda mod, args: log.append(("gpre",)))
        gh = mm.register_module_forward_hook(lambda mod, args, out: log.append(("ghook",)))
        try:
            out = m(x)
        finally:
            g.remove()
            gh.remove()
        return log, out
    (elog, eout), (tlog, tout) = both(run)
    assert elog == tlog
    assert_same(eout, tout)


def test_forward_pre_hook_bad_return_and_handles():
    def run(lib, Affine, Act, Net, Two):
        m = Affine()
        m.register_forward_pre_hook(lambda mod, a, k: 3, with_kwargs=True)
        m(lib.ones(1, 3, dtype=lib.float64))
    same_error(run)

    def handles(lib, Affine, Act, Net, Two):
        m = Affine()
        calls = []
        h = m.register_forward_hook(lambda *a: calls.append(1))
        with m.register_forward_pre_hook(lambda *a: calls.append(0)):
            m(lib.ones(1, 3, dtype=lib.float64))
        m(lib.ones(1, 3, dtype=lib.float64))
        h.remove()
        h.remove()  # twice is harmless
        m(lib.ones(1, 3, dtype=lib.float64))
        return calls, len(m._forward_hooks), len(m._forward_pre_hooks)
    e, t = both(handles)
    assert e == t


def test_global_forward_hook_with_kwargs_and_always_call():
    def run(lib, Affine, Act, Net, Two):
        mm = lib.nn.modules.module
        log = []
        h1 = mm.register_module_forward_hook(
            lambda mod, args, kwargs, out: log.append(("kw", sorted(kwargs))), with_kwargs=True)
        h2 = mm.register_module_forward_hook(
            lambda mod, args, out: log.append(("always", out is None)), always_call=True)
        try:
            m = Affine()
            m(lib.ones(1, 3, dtype=lib.float64), scale=2.0)
            with pytest.raises(RuntimeError):
                m(lib.ones(1, 4, dtype=lib.float64))
        finally:
            h1.remove()
            h2.remove()
        m(lib.ones(1, 3, dtype=lib.float64))
        return log
    e, t = both(run)
    assert e == t


def test_global_non_full_backward_hook_and_mixing():
    def run(lib, Affine, Act, Net, Two):
        mm = lib.nn.modules.module
        seen = []
        h = mm.register_module_backward_hook(lambda mod, gi, go: seen.append(type(mod).__name__))
        try:
            with pytest.raises(RuntimeError) as info:
                mm.register_module_full_backward_hook(lambda *a: None)
            x = lib.tensor(randn(3)).requires_grad_()
            act = Act()  # the hook holds the module weakly: keep it alive
            with pytest.warns(FutureWarning):
                act(x).sum().backward()
        finally:
            h.remove()
            mm._global_is_full_backward_hook = None  # torch never resets it either
        return seen, str(info.value)
    e, t = both(run)
    assert e == t


def test_always_call_hook_runs_when_forward_raises():
    def run(lib, Affine, Act, Net, Two):
        log = []
        m = Affine()
        m.register_forward_hook(lambda mod, a, out: log.append(("always", out)), always_call=True)
        m.register_forward_hook(lambda mod, a, out: log.append(("normal", out)))
        with pytest.raises(RuntimeError):
            m(lib.ones(2, 5, dtype=lib.float64))  # wrong inner size
        return log
    e, t = both(run)
    assert e == t == [("always", None)]


# ----------------------------------------------------------------- backward hooks
def _grads_seen(lib, Affine, Act, Net, Two, replace_in=False, replace_out=False):
    log = []
    m = Two()

    def pre(mod, grad_output):
        log.append(("pre", [None if g is None else g.detach().clone() for g in grad_output]))
        if replace_out:
            return tuple(None if g is None else g * 10 for g in grad_output)

    def hook(mod, grad_input, grad_output):
        log.append(("hook", [None if g is None else g.detach().clone() for g in grad_input],
                    [None if g is None else g.detach().clone() for g in grad_output]))
        if replace_in:
            return tuple(None if g is None else g + 1 for g in grad_input)

    m.register_full_backward_pre_hook(pre)
    m.register_full_backward_hook(hook)
    a = lib.tensor(randn(3)).requires_grad_()
    b = lib.tensor(randn(3, seed=1)).requires_grad_()
    p, s = m(a, True, b)
    (p * lib.tensor(randn(3, seed=2)) + s * 3).sum().backward()
    return log, a.grad, b.grad


@pytest.mark.parametrize("replace_in", [False, True])
@pytest.mark.parametrize("replace_out", [False, True])
def test_full_backward_hooks_see_and_replace_gradients(replace_in, replace_out):
    (elog, ea, eb), (tlog, ta, tb) = (
        _grads_seen(lib, *CLS[lib], replace_in=replace_in, replace_out=replace_out)
        for lib in (ember, torch))
    assert [x[0] for x in elog] == [x[0] for x in tlog] == ["pre", "hook"]
    assert_same(elog[0][1], tlog[0][1])
    assert_same(elog[1][1], tlog[1][1])  # grad_input: (a's, None for the flag, b's)
    assert_same(elog[1][2], tlog[1][2])
    assert_same(ea, ta, what="a.grad")
    assert_same(eb, tb, what="b.grad")


def test_full_backward_hook_when_no_input_requires_grad():
    def run(lib, Affine, Act, Net, Two):
        log = []
        m = Affine()
        m.register_full_backward_hook(
            lambda mod, gi, go: log.append((gi, go[0].detach().clone())))
        with pytest.warns(UserWarning, match="Full backward hook is firing when gradients are "
                          "computed with respect to module outputs") as rec:
            m(lib.tensor(randn(2, 3))).sum().backward()
        assert rec[0].filename == __file__
        return log, m.weight.grad
    (elog, ew), (tlog, tw) = both(run)
    assert elog[0][0] == tlog[0][0] == (None,)
    assert_same(elog[0][1], tlog[0][1])
    assert_same(ew, tw)


def test_backward_hook_wrong_count_and_mixing_kinds():
    def wrong(lib, Affine, Act, Net, Two):
        m = Two()
        m.register_full_backward_hook(lambda mod, gi, go: (gi[0],))
        a = lib.ones(2, requires_grad=True)
        m(a, False, a)[0].sum().backward()
    same_error(wrong)

    def mixing(lib, Affine, Act, Net, Two):
        m = Act()
        m.register_backward_hook(lambda *a: None)
        m.register_full_backward_hook(lambda *a: None)
    same_error(mixing)


def test_global_full_backward_hooks_and_pre_hooks():
    def run(lib, Affine, Act, Net, Two):
        mm = lib.nn.modules.module
        names = []
        h1 = mm.register_module_full_backward_pre_hook(
            lambda mod, go: names.append(("pre", type(mod).__name__)))
        h2 = mm.register_module_full_backward_hook(
            lambda mod, gi, go: names.append(("hook", type(mod).__name__)))
        try:
            net = Net()
            x = lib.tensor(randn(2, 3)).requires_grad_()
            net(x).sum().backward()
        finally:
            h1.remove()
            h2.remove()
        return names, x.grad
    (en, eg), (tn, tg) = both(run)
    assert en == tn
    assert_same(eg, tg)


def test_module_backward_hook_with_create_graph():
    def run(lib, Affine, Act, Net, Two):
        m = Act()
        m.register_full_backward_hook(lambda mod, gi, go: (gi[0] * 2,))
        x = lib.tensor(randn(3)).requires_grad_()
        (g,) = lib.autograd.grad(m(x).sum(), x, create_graph=True)
        (gg,) = lib.autograd.grad(g.sum(), x)
        return g, gg
    e, t = both(run)
    assert_same(e, t)


def test_deprecated_backward_hook_is_called():
    def run(lib, Affine, Act, Net, Two):
        m = Act()
        seen = []
        m.register_backward_hook(lambda mod, gi, go: seen.append(len(go)))
        x = lib.tensor(randn(3)).requires_grad_()
        with pytest.warns(FutureWarning) as rec:
            m(x).sum().backward()
        return seen, [str(w.message) for w in rec]
    e, t = both(run)
    assert e == t


# ----------------------------------------------------------------- state_dict
def test_state_dict_keys_order_metadata_and_detach():
    def run(lib, Affine, Act, Net, Two):
        net = Net()
        sd = net.state_dict()
        kv = net.state_dict(keep_vars=True)
        pre = net.state_dict(prefix="model.")
        return (list(sd), dict(sd._metadata), type(sd).__name__,
                [v.requires_grad for v in sd.values()], [v.requires_grad for v in kv.values()],
                kv["first.weight"] is net.first.weight, list(pre), dict(pre._metadata),
                [v.dtype for v in sd.values()])
    e, t = both(run)
    assert e[:8] == t[:8]
    assert [str(d) for d in e[8]] == [str(d) for d in t[8]]


def test_state_dict_positional_arguments_are_deprecated():
    def run(lib, Affine, Act, Net, Two):
        dest = OrderedDict()
        with pytest.warns(FutureWarning, match="Positional args are being deprecated"):
            out = Net().state_dict(dest, "pre.", True)
        return out is dest, list(dest), [v.requires_grad for v in dest.values()], \
            hasattr(dest, "_metadata")
    e, t = both(run)
    assert e == t


def test_state_dict_hooks_and_version():
    def run(lib, Affine, Act, Net, Two):
        class V(Affine):
            _version = 3
        log = []
        m = V()
        m.register_state_dict_pre_hook(lambda mod, prefix, kv: log.append(("pre", prefix, kv)))

        def post(mod, sd, prefix, meta):
            log.append(("post", list(sd), dict(meta)))
            sd[prefix + "added"] = lib.ones(1)
        m.register_state_dict_post_hook(post)
        sd = m.state_dict(prefix="p.")
        return log, list(sd), dict(sd._metadata)
    e, t = both(run)
    assert e == t

    def bad_post(lib, Affine, Act, Net, Two):
        m = Affine()
        m.register_state_dict_post_hook(lambda *a: {})
        m.state_dict()
    same_error(bad_post)


def test_extra_state_round_trip():
    def run(lib, Affine, Act, Net, Two):
        class E(Affine):
            def get_extra_state(self):
                return {"count": 7}

            def set_extra_state(self, state):
                self.loaded = state

        m = E()
        sd = m.state_dict()
        m2 = E()
        r = m2.load_state_dict(sd)
        del sd["_extra_state"]
        with pytest.raises(RuntimeError) as info:
            E().load_state_dict(sd)
        return list(m.state_dict()), m2.loaded, repr(r), str(info.value)
    e, t = both(run)
    assert e == t


def test_load_state_dict_copies_values_and_reports_all_matched():
    def run(lib, Affine, Act, Net, Two):
        src, dst = Net(), Net()
        with lib.no_grad():
            for p in src.parameters():
                p.mul_(3)
            src.first.steps.fill_(5)
        w = dst.first.weight
        r = dst.load_state_dict(src.state_dict())
        return (repr(r), r.missing_keys, r.unexpected_keys, dst.first.weight is w,
                dst.first.weight.tolist(), dst.first.steps.item(), dst.first.weight.requires_grad)
    e, t = both(run)
    assert e == t


@pytest.mark.parametrize("edit", ["missing", "unexpected", "both", "shape", "child", "type"])
def test_strict_load_errors_match_torch(edit):
    def make_sd(lib, Affine, Act, Net, Two):
        sd = Net().state_dict()
        if edit in ("missing", "both"):
            del sd["first.bias"]
            del sd["block.2.running"]
        if edit in ("unexpected", "both"):
            sd["first.extra"] = lib.ones(1)
            sd["nothere.weight"] = lib.ones(1)
        if edit == "shape":
            sd["block.0.weight"] = lib.ones(5, 4, dtype=lib.float64)
            sd["first.bias"] = lib.ones(3, dtype=lib.float64)
        if edit == "child":
            sd["block.0.deeper.x"] = lib.ones(1)
        if edit == "type":
            sd["first.bias"] = [1.0, 2.0]
        return sd

    def strict(lib, *c):
        Net = c[2]
        Net().load_state_dict(make_sd(lib, *c))
    same_error(strict)

    def lenient(lib, *c):
        Net = c[2]
        try:
            r = Net().load_state_dict(make_sd(lib, *c), strict=False)
        except RuntimeError as err:
            return "raised", str(err)
        return r.missing_keys, r.unexpected_keys, repr(r)
    e, t = both(lenient)
    assert e == t


def test_load_state_dict_rejects_non_mapping_and_old_1d_scalars():
    same_error(lambda lib, A, B, Net, T: Net().load_state_dict([1, 2]))

    def run(lib, Affine, Act, Net, Two):
        class S(lib.nn.Module):
            def __init__(self):
                super().__init__()
                self.register_buffer("count", lib.tensor(0.0))
        m = S()
        m.load_state_dict({"count": lib.tensor([4.0])})  # a 0.3-era 1-element buffer
        return m.count.item(), tuple(m.count.shape)
    e, t = both(run)
    assert e == t


def test_load_state_dict_assign_keeps_checkpoint_tensors():
    def run(lib, Affine, Act, Net, Two):
        m = Affine()
        m.weight.requires_grad_(False)
        w = lib.tensor(randn(3, 2, seed=9))
        b = lib.nn.Parameter(lib.tensor(randn(2, seed=8)))
        running = lib.ones(2, dtype=lib.float64)
        sd = {"weight": w, "bias": b, "running": running, "steps": lib.tensor(3)}
        m.load_state_dict(sd, assign=True)
        return (type(m.weight).__name__, m.weight.requires_grad, m.bias is b,
                m.running is running, m.weight.tolist(), list(m._parameters))
    e, t = both(run)
    assert e == t


def test_load_from_state_dict_version_lets_a_layer_upgrade_old_checkpoints():
    def run(lib, Affine, Act, Net, Two):
        class Counted(Affine):
            _version = 2

            def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict,
                                      missing_keys, unexpected_keys, error_msgs):
                version = local_metadata.get("version", None)
                if (version is None or version < 2) and prefix + "steps" not in state_dict:
                    state_dict[prefix + "steps"] = lib.tensor(11)
                super()._load_from_state_dict(state_dict, prefix, local_metadata, strict,
                                              missing_keys, unexpected_keys, error_msgs)

        outer = lib.nn.Sequential(Counted())
        old = outer.state_dict()
        del old["0.steps"]
        old._metadata["0"]["version"] = 1
        r = outer.load_state_dict(old)
        new = outer.state_dict()
        del new["0.steps"]
        with pytest.raises(RuntimeError) as info:
            outer.load_state_dict(new)
        return repr(r), outer[0].steps.item(), str(info.value), dict(outer.state_dict()._metadata)
    e, t = both(run)
    assert e == t


def test_load_state_dict_hooks():
    def run(lib, Affine, Act, Net, Two):
        log = []
        net = Net()

        def pre(module, sd, prefix, meta, strict, missing, unexpected, errors):
            log.append(("pre", type(module).__name__, prefix, sorted(sd)[:2], strict))

        def post(module, keys):
            log.append(("post", list(keys.missing_keys), list(keys.unexpected_keys)))
            keys.unexpected_keys.clear()
        net.first.register_load_state_dict_pre_hook(pre)
        net.register_load_state_dict_post_hook(post)
        sd = net.state_dict()
        sd["zzz"] = lib.ones(1)
        r = net.load_state_dict(sd)
        return log, repr(r)
    e, t = both(run)
    assert e == t

    def bad(lib, Affine, Act, Net, Two):
        m = Affine()
        m.register_load_state_dict_post_hook(lambda mod, keys: 1)
        m.load_state_dict(m.state_dict())
    same_error(bad)


def test_state_dict_round_trip_between_libraries():
    def sd_of(lib):
        return CLS[lib][2]().state_dict()
    tsd = sd_of(torch)
    esd = OrderedDict((k, ember.tensor(v.numpy())) for k, v in tsd.items())
    enet = CLS[ember][2]()
    enet.load_state_dict(esd)
    x = randn(2, 3, seed=5)
    tnet = CLS[torch][2]()
    tnet.load_state_dict(tsd)
    assert_same(enet(ember.tensor(x)), tnet(torch.tensor(x)))


# ----------------------------------------------------------------- modes and gradients
def test_train_eval_apply_requires_grad_zero_grad():
    def run(lib, Affine, Act, Net, Two):
        net = Net()
        out = [net.training]
        net.eval()
        out.append([m.training for m in net.modules()])
        net.block.train()
        out.append([m.training for m in net.modules()])
        names = []
        net.apply(lambda m: names.append(type(m).__name__))
        out.append(names)
        net.requires_grad_(False)
        out.append([p.requires_grad for p in net.parameters()])
        net.requires_grad_()
        net(lib.tensor(randn(2, 3))).sum().backward()
        net.zero_grad(set_to_none=False)
        out.append([p.grad.abs().sum().item() for p in net.parameters()])
        net.zero_grad()
        out.append([p.grad for p in net.parameters()])
        return out
    e, t = both(run)
    assert e == t


def test_gradients_through_a_model_match_torch():
    def run(lib, Affine, Act, Net, Two):
        net = Net()
        x = lib.tensor(randn(5, 3, seed=3)).requires_grad_()
        y = net(x)
        y.backward(lib.tensor(randn(5, 2, seed=4)))
        return [y, x.grad] + [p.grad for p in net.parameters()]
    e, t = both(run)
    assert_same(e, t)


# ----------------------------------------------------------------- conversions
@pytest.mark.parametrize("conv", [
    lambda lib, m: m.half(), lambda lib, m: m.float(), lambda lib, m: m.double(),
    lambda lib, m: m.bfloat16(), lambda lib, m: m.to(lib.float16),
    lambda lib, m: m.to("cpu", lib.float32), lambda lib, m: m.to(dtype=lib.float16),
    lambda lib, m: m.to(lib.ones(1, dtype=lib.float16)), lambda lib, m: m.cpu(),
    lambda lib, m: m.to(lib.device("cpu")), lambda lib, m: m.type(lib.float32),
    lambda lib, m: m.to("cpu", lib.float32, True), lambda lib, m: m.share_memory(),
])
def test_conversions_keep_parameters_and_integer_buffers(conv):
    def run(lib, Affine, Act, Net, Two):
        net = Net()
        net(lib.tensor(randn(2, 3))).sum().backward()
        params = list(net.parameters())
        ret = conv(lib, net)
        return (ret is net, all(a is b for a, b in zip(params, net.parameters())),
                [str(v.dtype) for v in net.state_dict().values()],
                [str(p.grad.dtype) for p in net.parameters()],
                [type(p).__name__ for p in net.parameters()],
                [p.requires_grad for p in net.parameters()],
                str(net.first.scratch.dtype))
    e, t = both(run)
    assert e == t


def test_converted_values_and_optimizer_style_identity():
    def run(lib, Affine, Act, Net, Two):
        m = Affine()
        w = m.weight
        m.half()
        out = m(lib.tensor(randn(2, 3)).half())
        return w is m.weight, m.weight, out
    (ei, ew, eo), (ti, tw, to_) = both(run)
    assert ei and ti
    assert_same(ew, tw)
    assert_same(eo, to_)


def test_to_empty_keeps_shapes_and_dtypes():
    def run(lib, Affine, Act, Net, Two):
        m = Affine().to_empty(device="cpu")
        return [(k, tuple(v.shape), str(v.dtype)) for k, v in m.state_dict().items()]
    e, t = both(run)
    assert e == t


# ----------------------------------------------------------------- repr, dir, pickling
def test_repr_of_nested_models():
    def run(lib, Affine, Act, Net, Two):
        net = Net()
        net.block.add_module("none", None)
        net.deep = lib.nn.Sequential(OrderedDict(
            inner=lib.nn.Sequential(Act(), lib.nn.ModuleList([Act(), Act(), Affine()])),
            flat=lib.nn.Flatten(0, -1), unflat=lib.nn.Unflatten(1, (2, 2))))
        return repr(net), repr(Act()), repr(Affine()), str(net.block)
    e, t = both(run)
    assert e == t

    class Multi(ember.nn.Module):
        def extra_repr(self):
            return "a=1\nb=2"
    assert repr(Multi()) == "Multi(\n  a=1\n  b=2\n)"


def test_dir_lists_parameters_buffers_and_submodules():
    def run(lib, Affine, Act, Net, Two):
        d = dir(Net())
        return [k for k in d if k in ("first", "act", "block", "head_scale", "forward")], \
            any(k[0].isdigit() for k in dir(lib.nn.Sequential(Act())))
    e, t = both(run)
    assert e == t


class _Picklable(ember.nn.Module):
    """Module-level (so pickle can find it): a parameter, buffers, children, a hook."""

    def __init__(self):
        super().__init__()
        self.first = ember.nn.Sequential(ember.nn.Flatten(), ember.nn.Unflatten(1, (3, 1)))
        self.weight = ember.nn.Parameter(ember.tensor(randn(3, 2)))
        self.register_buffer("scratch", ember.ones(2), persistent=False)
        self.register_buffer("steps", ember.tensor(4))
        self.first.register_forward_hook(_module_level_hook)

    def forward(self, x):
        return self.first(x).squeeze(-1) @ self.weight


def test_deepcopy_and_pickle():
    net = _Picklable()
    x = ember.tensor(randn(2, 3))
    for clone in (copy.deepcopy(net), pickle.loads(pickle.dumps(net))):
        assert clone is not net
        assert [n for n, _ in clone.named_parameters()] == [n for n, _ in net.named_parameters()]
        assert all(type(p) is ember.nn.Parameter and p.requires_grad for p in clone.parameters())
        assert clone.weight is not net.weight
        assert_same(clone(x).detach(), torch.tensor(net(x).detach().numpy()))
        assert clone._non_persistent_buffers_set == {"scratch"}
        assert clone.steps.item() == 4
        assert len(clone.first._forward_hooks) == 1
        with ember.no_grad():
            clone.weight.add_(1)
        assert not np.array_equal(clone.weight.detach().numpy(), net.weight.detach().numpy())


def _module_level_hook(module, args, output):
    return None


def test_setstate_fills_missing_hook_dicts():
    Affine = CLS[ember][0]
    m = Affine()
    state = dict(m.__dict__)
    for k in ("_forward_hooks_always_called", "_backward_pre_hooks", "_state_dict_pre_hooks",
              "_is_full_backward_hook", "_non_persistent_buffers_set"):
        del state[k]
    fresh = Affine.__new__(Affine)
    fresh.__setstate__(state)
    assert fresh._is_full_backward_hook is None
    assert fresh._forward_hooks_always_called == {}
    fresh(ember.ones(1, 3, dtype=ember.float64))


def test_incompatible_keys_repr():
    from torch.nn.modules.module import _IncompatibleKeys as T

    from ember.nn.modules.module import _IncompatibleKeys
    for args in (([], []), (["a"], []), ([], ["b", "c"])):
        assert repr(_IncompatibleKeys(*args)) == repr(T(*args))
        assert str(_IncompatibleKeys(*args)) == str(T(*args))


def test_no_hook_call_is_the_forward_itself():
    # The fast path adds no wrapping: the result object is forward's own.
    class Same(ember.nn.Module):
        def forward(self, x):
            return x
    x = ember.ones(2)
    assert Same()(x) is x


# ----------------------------------------------------------------- with library layers
def _convnet(lib):
    nn = lib.nn
    lib.manual_seed(0)
    return nn.Sequential(OrderedDict(
        features=nn.Sequential(nn.Conv2d(2, 3, 3, padding=1), nn.ReLU(), nn.Flatten()),
        heads=nn.ModuleList([nn.Linear(48, 5), nn.Linear(48, 5, bias=False)]),
    ))


def _run_convnet(model, x):
    h = model.features(x)
    return model.heads[0](h) + model.heads[1](h)


def test_library_layers_in_containers_match_torch():
    from oracle import check_module
    em, tm = check_module(lambda lib: _convnet(lib).double(), randn(2, 2, 4, 4),
                          call=_run_convnet)
    assert repr(em) == repr(tm)
    assert dict(em.state_dict()._metadata) == dict(tm.state_dict()._metadata)
    em.half()
    tm.half()
    assert [str(p.dtype) for p in em.parameters()] == [str(p.dtype) for p in tm.parameters()]
    assert [str(p.grad.dtype) for p in em.parameters()] == \
        [str(p.grad.dtype) for p in tm.parameters()]


def test_backward_hooks_on_library_layers_with_a_constant_input():
    def run(lib, Affine, Act, Net, Two):
        lib.manual_seed(0)
        lin = lib.nn.Linear(3, 2).double()
        with lib.no_grad():
            lin.weight.copy_(lib.tensor(randn(2, 3)))
        seen = []
        lin.register_full_backward_hook(lambda m, gi, go: seen.append(("lin", gi, go)))
        two = Two()
        two.register_full_backward_hook(lambda m, gi, go: seen.append(("two", gi, go)))
        x = lib.tensor(randn(4, 3, seed=1)).requires_grad_()
        c = lib.tensor(randn(4, 2, seed=2))  # a constant input
        p, _ = two(lin(x), False, c)  # the second output is unused: its grad_output is None
        p.sum().backward()
        return seen, x.grad
    (es, ex), (ts, tx) = both(run)
    assert [s[0] for s in es] == [s[0] for s in ts] == ["two", "lin"]
    for e, t in zip(es, ts):
        assert_same(list(e[1]), list(t[1]), what=f"{t[0]} grad_input")
        assert_same(list(e[2]), list(t[2]), what=f"{t[0]} grad_output")
    assert_same(ex, tx)


def test_removable_handle_pickles_with_its_module():
    m = _Picklable()
    h = m.register_forward_pre_hook(_module_level_pre_hook)
    m2, h2 = pickle.loads(pickle.dumps((m, h)))
    assert h2.id == h.id and h2.id in m2._forward_pre_hooks
    h2.remove()
    assert h2.id not in m2._forward_pre_hooks and h.id in m._forward_pre_hooks
    fresh = m.register_forward_hook(_module_level_hook)
    assert fresh.id > h2.id


def _module_level_pre_hook(module, args):
    return None


def test_buffer_marker_registers_with_its_persistence():
    def build(lib):
        class M(lib.nn.Module):
            def __init__(self):
                super().__init__()
                self.kept = lib.nn.Buffer(lib.arange(3.0))
                self.scratch = lib.nn.Buffer(lib.ones(2), persistent=False)
                self.plain = lib.zeros(1)  # a plain tensor stays a plain attribute
        return M()
    for lib in (torch, ember):
        m = build(lib)
        assert list(m.state_dict()) == ["kept"]
        assert [n for n, _ in m.named_buffers()] == ["kept", "scratch"]
        assert m._non_persistent_buffers_set == {"scratch"}
        assert type(m.kept) is lib.Tensor and isinstance(m.kept, lib.nn.Buffer)
        assert not isinstance(m.plain, lib.nn.Buffer)
        m.kept = lib.nn.Buffer(lib.ones(1), persistent=False)  # re-marking changes persistence
        assert list(m.state_dict()) == [] and m.kept.tolist() == [1.0]
        m.scratch = lib.ones(4)  # a plain tensor over a buffer keeps its persistence
        assert m._non_persistent_buffers_set == {"kept", "scratch"}
        leaf = lib.ones(2, requires_grad=True)
        b = lib.nn.Buffer(leaf)
        assert b.requires_grad and b.is_leaf and b is not leaf
        assert lib.nn.Buffer().shape == (0,)
        with pytest.raises(KeyError, match="attribute 'plain' already exists"):
            m.plain = lib.nn.Buffer(lib.ones(1))
