"""The backward engine against torch: leaves and .grad, graph structure, hooks,
backward()/autograd.grad options, version counters, in-place, detach, callbacks,
anomaly detection and gradient memory ownership."""
from __future__ import annotations

import re
import warnings

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from oracle import assert_same, check, check_error, randn

import ember


def leaf(lib, *shape, seed=0, dtype="float64"):
    """The same random leaf requiring grad in either library."""
    return lib.tensor(randn(*shape, seed=seed)).to(getattr(lib, dtype)).requires_grad_()


def same(prog):
    """prog(lib) gives the same values in torch and ember."""
    return check(prog, grad=False)


def same_error(prog, match_message: bool = True):
    """prog(lib) raises the same exception type (and message) in torch and ember."""
    ee, te = check_error(prog)
    if match_message:
        assert str(ee) == str(te), f"ember: {ee}\ntorch: {te}"
    return ee, te


def graph(node, depth: int = 6):
    """A grad_fn's structure as nested (name, children) tuples, names normalised."""
    if node is None:
        return None
    name = node.name().replace("torch::autograd::", "")
    if depth == 0:
        return name
    return (name, tuple((graph(n, depth - 1), nr) for n, nr in node.next_functions))


# ----------------------------------------------------------------- leaves, requires_grad
def test_requires_grad_flags_and_is_leaf():
    def prog(lib):
        x = lib.tensor([1.0, 2.0])
        flags = [x.requires_grad, x.is_leaf, x.grad_fn is None]
        x.requires_grad_()
        y = x * 2
        c = lib.tensor([3.0, 4.0]) * 2
        flags += [x.requires_grad, x.is_leaf, y.requires_grad, y.is_leaf, c.is_leaf,
                  c.requires_grad]
        x.requires_grad = False
        flags += [x.requires_grad, (x * 2).requires_grad]
        y2 = y.requires_grad_(True)  # allowed on a non-leaf when already requiring grad
        flags += [y2 is y]
        return flags
    same(prog)


@pytest.mark.parametrize("dtype", ["int64", "int32", "bool", "uint8"])
def test_requires_grad_errors_for_non_float(dtype):
    same_error(lambda lib: lib.zeros(2, dtype=getattr(lib, dtype)).requires_grad_())
    same_error(lambda lib: setattr(lib.zeros(2, dtype=getattr(lib, dtype)), "requires_grad", True))
    check_error(lambda lib: lib.zeros(2, dtype=getattr(lib, dtype), requires_grad=True))


def test_requires_grad_false_on_non_leaf_errors():
    same_error(lambda lib: (leaf(lib, 2) * 2).requires_grad_(False))

    def assign(lib):
        y = leaf(lib, 2) * 2
        y.requires_grad = False
    same_error(assign)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float32", "float64"])
def test_float_dtypes_backprop_in_their_dtype(dtype):
    def prog(lib):
        x = leaf(lib, 3, dtype=dtype)
        (x * x).sum().backward()
        return x.grad
    same(prog)


# ----------------------------------------------------------------- grad_fn and the graph
def test_grad_fn_names_and_next_functions():
    def prog(lib):
        a, b = leaf(lib, 3), leaf(lib, 3, seed=1)
        c = lib.tensor(randn(3, seed=2))
        out = [graph((a * b).grad_fn), graph((a * c).grad_fn), graph((c * a).grad_fn),
               graph(((a * b).exp() + c).sum().grad_fn), graph((a - b / c).grad_fn),
               graph((a * b).grad_fn.next_functions[0][0])]
        ab = a * b
        out.append(ab.grad_fn.next_functions[0][0].variable is a)
        out.append(ab.grad_fn.next_functions[1][0].variable is b)
        out.append((a * b).grad_fn.next_functions[0][0] is ab.grad_fn.next_functions[0][0])
        e = ab.exp()
        out.append(e.grad_fn.next_functions[0][0] is ab.grad_fn)
        out.append([ab.grad_fn.name(), e.grad_fn.name()])
        return out
    same(prog)


def test_accumulate_grad_node_name_and_repr():
    def prog(lib):
        a = leaf(lib, 2)
        acc = (a * 2).grad_fn.next_functions[0][0]
        return [acc.name(), repr(acc).split(" object")[0],
                acc.next_functions, repr((a * 2).grad_fn).split(" object")[0]]
    same(prog)


def test_nodes_are_graph_nodes_with_metadata():
    def prog(lib):
        a = leaf(lib, 2)
        y = a * 2
        acc = y.grad_fn.next_functions[0][0]
        y.grad_fn.metadata["tag"] = 7
        return [isinstance(y.grad_fn, lib.autograd.graph.Node),
                isinstance(acc, lib.autograd.graph.Node), y.grad_fn.metadata]
    same(prog)


def test_gradient_argument_dtypes():
    def prog(lib):
        x = leaf(lib, 3, dtype="float32")
        (x * 2).backward(lib.ones(3, dtype=lib.float64))
        (x * 2).backward(lib.ones(3, dtype=lib.int64))
        (x * 2).sum().backward(lib.tensor(2.0))
        return x.grad
    same(prog)
    same_error(lambda lib: (leaf(lib, 3) * 2).sum().backward(lib.tensor([2.0])))


def test_no_graph_for_constants_and_int_results():
    def prog(lib):
        a = leaf(lib, 3)
        c = lib.tensor([1.0, 2.0, 3.0])
        return [(c * c).grad_fn is None, (c * c).requires_grad, (a > 0).requires_grad,
                (a > 0).grad_fn is None, a.detach().requires_grad]
    same(prog)


# ----------------------------------------------------------------- backward()
def test_backward_values_and_gradient_argument():
    def prog(lib):
        x, y = leaf(lib, 2, 3), leaf(lib, 3, seed=1)
        z = x * y + x.exp()
        z.backward(lib.tensor(randn(2, 3, seed=5)))
        return x.grad, y.grad
    same(prog)


def test_backward_accumulates_across_calls_in_place():
    def prog(lib):
        x, y = leaf(lib, 3), leaf(lib, 3, seed=1)
        loss = (x * y).sum()
        loss.backward(retain_graph=True)
        first = x.grad
        loss.backward()
        (x * 3).sum().backward()
        return x.grad, y.grad, x.grad is first, first
    same(prog)


def test_backward_twice_without_retain_graph_errors():
    def prog(lib):
        x = leaf(lib, 3)
        y = (x * x).sum()
        y.backward()
        y.backward()
    same_error(prog)

    def through_grad(lib):
        x = leaf(lib, 3)
        y = (x.exp() * x).sum()
        lib.autograd.grad(y, x)
        lib.autograd.grad(y, x)
    same_error(through_grad)


def test_backward_errors():
    same_error(lambda lib: (leaf(lib, 3) * 2).backward())  # non-scalar, no gradient
    same_error(lambda lib: lib.tensor([1.0, 2.0]).sum().backward())
    same_error(lambda lib: (leaf(lib, 3) * 2).backward(lib.ones(2, dtype=lib.float64)))
    same_error(lambda lib: (leaf(lib, 3) * 2).sum().backward(inputs=[]))
    same_error(lambda lib: (leaf(lib, 3) * 2).sum().backward(inputs=[lib.ones(3)]))


def test_backward_inputs_limits_accumulation():
    def prog(lib):
        a, b = leaf(lib, 2), leaf(lib, 2, seed=1)
        (a * b).sum().backward(inputs=[a])
        out = [a.grad, b.grad]
        y = a * 3
        z = (y * y * b).sum()
        z.backward(inputs=[y, b], retain_graph=True)
        out += [y.grad, y.retains_grad, b.grad, a.grad]
        z2 = (y * 2).sum()
        z2.backward(inputs=y, retain_graph=True)
        out += [y.grad]
        return out
    same(prog)

    def runs_the_non_leaf_inputs_node(lib):
        # backward(inputs=[y]) executes (and so frees) y's own node, as torch does
        a = leaf(lib, 2)
        y = a * a
        (y * 2).sum().backward(inputs=[y])
        (y * 2).sum().backward()
    same_error(runs_the_non_leaf_inputs_node)


def test_backward_from_a_leaf_and_grad_of_a_tensor_wrt_itself():
    def prog(lib):
        a = leaf(lib, 2)
        a.backward(lib.tensor([1.0, 2.0], dtype=lib.float64))
        y = a * 2
        return a.grad, lib.autograd.grad(y, y, lib.ones(2, dtype=lib.float64))
    same(prog)


def test_accumulation_into_an_assigned_grad():
    def prog(lib):
        a = leaf(lib, 2)
        g = lib.ones(2, dtype=lib.float64)
        a.grad = g
        (a * 3).sum().backward()
        b = leaf(lib, 2, seed=1)
        b.grad = lib.ones(4, dtype=lib.float64)[::2]  # non-contiguous
        (b * 3).sum().backward()
        return a.grad is g, g, b.grad
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch: "grad and param do not obey the layout ..."
        same(prog)


def test_backward_of_non_scalar_sums_several_roots():
    def prog(lib):
        x = leaf(lib, 3)
        y1, y2 = x * 2, (x * x).sum()
        lib.autograd.backward([y1, y2], [lib.ones(3, dtype=lib.float64), None])
        return x.grad
    same(prog)


def test_backward_create_graph_makes_grad_differentiable():
    def prog(lib):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            x = leaf(lib, 3)
            (x * x * x).sum().backward(create_graph=True)
            g = x.grad
            flags = [g.requires_grad, g.grad_fn is not None]
            g2, = lib.autograd.grad(g.sum(), x)
            (x * x).sum().backward(create_graph=True)  # accumulates out of place
            return flags, g2, x.grad, x.grad is g
    same(prog)


def test_shared_subgraph_and_diamond():
    def prog(lib):
        x = leaf(lib, 4)
        h = x.exp()
        a, b = h * 2, h * h
        out = (a + b + h).sum()
        out.backward()
        return x.grad
    same(prog)


def test_broadcast_gradients_reduce_to_input_shape():
    def prog(lib):
        x, y, s = leaf(lib, 4, 1, 3), leaf(lib, 3, seed=1), leaf(lib, seed=2)
        (x * y + s).exp().sum().backward()
        return x.grad, y.grad, s.grad
    same(prog)


def test_mixed_dtypes_grads_keep_input_dtype():
    def prog(lib):
        x = leaf(lib, 3, dtype="float32")
        y = leaf(lib, 3, seed=1, dtype="float64")
        h = leaf(lib, 3, seed=2, dtype="float16")
        (x * y + h * 2.5).sum().backward()
        return x.grad, y.grad, h.grad
    same(prog)


def test_zero_dim_and_empty():
    def prog(lib):
        s = leaf(lib)
        e = lib.zeros(0, 3, dtype=lib.float64, requires_grad=True)
        (s * s).backward()
        (e * 2).sum().backward()
        return s.grad, e.grad
    same(prog)


def test_non_contiguous_leaf_grad_is_contiguous_and_writable():
    x = ember.tensor(randn(3, 4)).requires_grad_()
    xt = torch.tensor(randn(3, 4)).requires_grad_()
    ember.tensor(randn(4, 3, seed=1)).requires_grad_()
    for lib, leaf_ in ((torch, xt), (ember, x)):
        (leaf_.t() * lib.tensor(randn(4, 3, seed=1))).sum().backward()
        (leaf_.expand(2, 3, 4)).sum().backward()
    assert_same(x.grad, xt.grad)
    assert x.grad.is_contiguous()
    x.grad.mul_(2)  # must be writable
    xt.grad.mul_(2)
    assert_same(x.grad, xt.grad)


def test_grads_of_two_leaves_never_share_memory():
    def prog(lib):
        x, y = leaf(lib, 3), leaf(lib, 3, seed=1)
        (x + y).sum().backward()
        x.grad.add_(100.0)
        a, b = leaf(lib, 2), leaf(lib, 2, seed=1)
        (a - b).backward(lib.ones(2, dtype=lib.float64))
        a.grad.mul_(5.0)
        return x.grad, y.grad, a.grad, b.grad
    same(prog)
    x, y = ember.tensor(randn(3)).requires_grad_(), ember.tensor(randn(3)).requires_grad_()
    (x + y).sum().backward()
    assert not np.shares_memory(x.grad._data, y.grad._data)


def test_retained_and_leaf_grads_never_share_memory():
    def prog(lib):
        a, b = leaf(lib, 3), leaf(lib, 3, seed=1)
        z = a + b  # AddBackward0 passes the same gradient to both leaves
        z.retain_grad()
        (z * 2).sum().backward()
        a.grad.add_(100.0)
        (z * 3).sum().backward()
        v = b.view(3)  # ViewBackward0 hands its gradient (reshaped) straight to the leaf
        v.retain_grad()
        b.grad = None
        (v * 2).sum().backward()
        b.grad.add_(100.0)
        return z.grad, a.grad, b.grad, v.grad
    same(prog)


def test_gradient_returned_by_custom_backward_is_not_stolen():
    def prog(lib):
        class GiveBack(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x, keep):
                ctx.keep = keep
                return x * 1

            @staticmethod
            def backward(ctx, g):
                return ctx.keep, None  # a tensor the caller still holds
        a = leaf(lib, 3)
        keep = lib.ones(3, dtype=lib.float64)
        GiveBack.apply(a, keep).sum().backward()
        (a * 5).sum().backward()  # accumulates into a.grad in place
        return keep, a.grad
    same(prog)


def test_grads_stored_under_create_graph_are_separate_and_writable():
    def prog(lib):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            x, y = leaf(lib, 2), leaf(lib, 2, seed=1)
            (x + y).sum().backward(create_graph=True)
            flags = [x.grad is y.grad, x.grad.requires_grad]
            with lib.no_grad():
                x.grad.mul_(10)  # the summed-out ones were a broadcast view
            a = leaf(lib, 2)
            g = lib.ones(2, dtype=lib.float64)
            (a * 1).backward(g, create_graph=True)
            with lib.no_grad():
                a.grad.add_(5)
            return flags, x.grad, y.grad, g, a.grad
    same(prog)


def test_given_gradient_is_not_aliased_by_grad():
    def prog(lib):
        x = leaf(lib, 3)
        g = lib.ones(3, dtype=lib.float64)
        (x * 1).backward(g)
        x.grad.add_(1.0)
        return g, x.grad
    same(prog)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(1, 3), min_size=0, max_size=3),
       st.lists(st.booleans(), min_size=3, max_size=3), st.integers(0, 2 ** 16))
def test_broadcast_shapes_property(shape, ones, seed):
    # y's shape: a suffix of x's shape with some dims set to 1
    yshape = [1 if o else s for s, o in zip(shape, ones)][1:] if shape else []
    xa, ya = randn(*shape, seed=seed), randn(*yshape, seed=seed + 1)

    def prog(lib, x, y):
        return (x * y + x.exp() / (y * y + 1)).sum()
    check(prog, xa, ya)


# ----------------------------------------------------------------- .grad property
def test_grad_assignment_and_errors():
    def prog(lib):
        x = leaf(lib, 2)
        x.grad = lib.ones(2, dtype=lib.float64)
        (x * 3).sum().backward()
        g = x.grad
        del x.grad
        return g, x.grad is None
    same(prog)

    def wrong_shape(lib):
        leaf(lib, 2).grad = lib.ones(3, dtype=lib.float64)
    same_error(wrong_shape)

    def wrong_dtype(lib):
        leaf(lib, 2).grad = lib.ones(2, dtype=lib.float32)
    same_error(wrong_dtype)

    def wrong_type(lib):
        leaf(lib, 2).grad = 3
    same_error(wrong_type)


def test_non_leaf_grad_is_none_and_warns_without_retain_grad():
    def prog(lib):
        x = leaf(lib, 3)
        y = x * 2
        (y * y).sum().backward()
        with pytest.warns(UserWarning, match="not a leaf Tensor is being accessed"):
            none = y.grad is None
        y.retain_grad()
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            retained = y.grad is None  # retains_grad: no warning
        return none, retained, x.grad
    same(prog)


# ----------------------------------------------------------------- retain_grad
def test_retain_grad():
    def prog(lib):
        x = leaf(lib, 3)
        y = x * 2
        out = [y.retains_grad, x.retains_grad]
        y.retain_grad()
        y.retain_grad()  # twice is harmless
        x.retain_grad()  # no-op on a leaf
        out += [y.retains_grad, x.retains_grad]
        z = (y * y).sum()
        z.backward(retain_graph=True)
        out.append(y.grad)
        z.backward()  # retained grads accumulate
        out += [y.grad, x.grad]
        return out
    same(prog)
    same_error(lambda lib: lib.ones(2).retain_grad())


def test_retain_grad_follows_in_place_ops_but_hooks_stay():
    def prog(lib):
        x = leaf(lib, 3)
        y = x * 2
        y.retain_grad()
        log = []
        y.register_hook(lambda g: log.append(g))
        y.mul_(3)
        flags = [y.retains_grad]
        (y * y).sum().backward()
        return flags, y.grad, log, x.grad
    same(prog)

    def through_a_view(lib):
        x = leaf(lib, 2, 2)
        y = x * 2
        y.retain_grad()
        v = y[0]
        v.retain_grad()
        v.mul_(3)
        flags = [y.retains_grad, v.retains_grad, y.grad_fn.name()]
        (y * y).sum().backward()
        return flags, y.grad, v.grad is None, x.grad
    same(through_a_view)


@pytest.mark.parametrize("order", ["hook_first", "retain_first"])
def test_retain_grad_sees_hooked_gradient(order):
    def prog(lib):
        x = leaf(lib, 3)
        y = x * 2
        if order == "retain_first":
            y.retain_grad()
        y.register_hook(lambda g: g * 10)
        if order == "hook_first":
            y.retain_grad()
        (y * 1).sum().backward()
        return y.grad, x.grad
    same(prog)


# ----------------------------------------------------------------- tensor hooks
def test_tensor_hook_on_leaf_observes_and_replaces():
    def prog(lib):
        x = leaf(lib, 3)
        seen = []
        x.register_hook(lambda g: seen.append(g.clone()))
        h = x.register_hook(lambda g: g * 2)
        (x * x).sum().backward()
        first = x.grad.clone()
        h.remove()
        x.grad = None
        (x * x).sum().backward()
        return seen, first, x.grad
    same(prog)


def test_tensor_hook_on_non_leaf_replaces_gradient_downstream():
    def prog(lib):
        x = leaf(lib, 3)
        y = x * 3
        calls = []
        y.register_hook(lambda g: calls.append("a"))
        y.register_hook(lambda g: g + 1)
        y.register_hook(lambda g: calls.append("c") or g * 2)
        y.exp().sum().backward()
        return x.grad, calls
    same(prog)


def test_hook_handle_context_manager_and_double_remove():
    def prog(lib):
        x = leaf(lib, 2)
        with x.register_hook(lambda g: g * 0):
            (x * 1).sum().backward()
        first = x.grad.clone()
        h = x.register_hook(lambda g: g * 0)
        h.remove()
        h.remove()
        (x * 1).sum().backward()
        return first, x.grad
    same(prog)


def test_hooks_see_the_summed_gradient_once():
    def prog(lib):
        a = leaf(lib, 2)
        log = []
        a.register_hook(lambda g: log.append(("a", g)))
        y = a * 2
        y.register_hook(lambda g: log.append(("y", g)))
        (y * y + y).sum().backward()
        (a + a).sum().backward()
        return log
    same(prog)


def test_hooks_of_leaves_outside_inputs_do_not_run():
    def prog(lib):
        a, b = leaf(lib, 2), leaf(lib, 2, seed=1)
        log = []
        b.register_hook(lambda g: log.append("b"))
        a.register_hook(lambda g: log.append("a"))
        (a * b).sum().backward(inputs=[a])
        lib.autograd.grad((a * b).sum(), [a])
        return log, b.grad
    same(prog)


def test_hook_registered_before_in_place_still_runs():
    def prog(lib):
        a = leaf(lib, 2)
        y = a * 2
        log = []
        y.register_hook(lambda g: log.append(g))
        y.add_(1)
        y.sum().backward()
        return log, a.grad
    same(prog)


def test_hook_result_errors():
    def changes_size(g):
        return g.sum()

    def size_leaf(lib):
        a = leaf(lib, 2)
        a.register_hook(changes_size)
        (a * 2).sum().backward()

    def size_non_leaf(lib):
        y = leaf(lib, 2) * 2
        y.register_hook(lambda g: g.sum())
        y.sum().backward()

    def dtype_change(lib):
        a = leaf(lib, 2, dtype="float32")
        a.register_hook(lambda g: g.double())
        (a * 2).sum().backward()

    def not_a_tensor(lib):
        a = leaf(lib, 2)
        a.register_hook(lambda g: 3)
        (a * 2).sum().backward()
    for prog in (size_leaf, size_non_leaf, dtype_change, not_a_tensor):
        same_error(prog)


def test_hook_errors():
    same_error(lambda lib: lib.ones(2).register_hook(lambda g: g))
    same_error(lambda lib: lib.ones(2).register_post_accumulate_grad_hook(lambda t: None))
    same_error(lambda lib: (leaf(lib, 2) * 2).register_post_accumulate_grad_hook(lambda t: 0))


def test_post_accumulate_grad_hook():
    def prog(lib):
        x = leaf(lib, 3)
        seen = []

        def hook(t):
            seen.append(t.grad.clone())
            assert t is x
            with lib.no_grad():
                t.grad.mul_(0.5)  # e.g. an optimizer step in the hook
        h = x.register_post_accumulate_grad_hook(hook)
        (x * x).sum().backward()
        (x * 2).sum().backward()
        h.remove()
        (x * 2).sum().backward()
        return seen, x.grad
    same(prog)


def test_post_accumulate_hook_runs_after_tensor_hook():
    def prog(lib):
        x = leaf(lib, 2)
        order = []
        x.register_post_accumulate_grad_hook(lambda t: order.append(("post", t.grad.sum())))
        x.register_hook(lambda g: order.append(("pre", g.sum())))
        (x * 3).sum().backward()
        return order
    same(prog)


# ----------------------------------------------------------------- node hooks
def test_node_hook_and_prehook_arguments():
    def prog(lib):
        x = leaf(lib, 3)
        z = (x * 2).exp()
        calls = []
        z.grad_fn.register_prehook(lambda go: calls.append(("pre", go)))
        z.grad_fn.register_hook(lambda gi, go: calls.append(("post", gi, go)))
        z.sum().backward()
        return calls, x.grad
    same(prog)


def test_node_hooks_can_replace_gradients():
    def prog(lib):
        x = leaf(lib, 3)
        z = (x * 2).exp()
        z.grad_fn.register_prehook(lambda go: (go[0] * 10,))
        z.sum().backward()
        g1 = x.grad
        x.grad = None
        z = (x * 2).exp()
        h = z.grad_fn.register_hook(lambda gi, go: (gi[0] * 0 + 7,))
        z.sum().backward(retain_graph=True)
        g2 = x.grad.clone()
        h.remove()
        x.grad = None
        z.sum().backward()
        return g1, g2, x.grad
    same(prog)


def test_accumulate_grad_node_hooks():
    def prog(lib):
        x = leaf(lib, 2)
        acc = (x * 2).grad_fn.next_functions[0][0]
        calls = []
        acc.register_prehook(lambda go: calls.append(("pre", go)))
        acc.register_hook(lambda gi, go: calls.append(("post", gi, go)))
        (x * 2).sum().backward()
        return calls, x.grad
    same(prog)


# ----------------------------------------------------------------- autograd.grad
def test_grad_basic_and_grad_outputs():
    def prog(lib):
        x, y = leaf(lib, 3), leaf(lib, 3, seed=1)
        out = list(lib.autograd.grad((x * y).sum(), [x, y]))
        out += lib.autograd.grad(x * 2, x, grad_outputs=lib.tensor([1.0, 0.0, 3.0],
                                                                   dtype=lib.float64))
        out += lib.autograd.grad([(x * 2).sum(), (x * x).sum()], x)
        out += lib.autograd.grad([x * 2, x * x], x, [lib.ones(3, dtype=lib.float64),
                                                     lib.full((3,), 2.0, dtype=lib.float64)])
        out += lib.autograd.grad([(x * 2).sum()], [x], grad_outputs=[None])
        out += lib.autograd.grad(x, x, lib.ones(3, dtype=lib.float64))
        out.append(x.grad is None and y.grad is None)  # grad() never touches .grad
        return out
    same(prog)


def test_grad_with_respect_to_non_leaf():
    def prog(lib):
        x = leaf(lib, 3)
        y = x * 3
        z = (y * y).exp().sum()
        return lib.autograd.grad(z, [y, x])
    same(prog)


def test_grad_allow_unused_and_materialize_grads():
    def prog(lib):
        x, y = leaf(lib, 3), leaf(lib, 3, seed=1)
        a = lib.autograd.grad((x * 2).sum(), [x, y], allow_unused=True)
        b = lib.autograd.grad((x * 2).sum(), [x, y], materialize_grads=True)
        c = lib.autograd.grad((x * x).sum(), [x, y], materialize_grads=True, create_graph=True)
        return a, b, c, [g.requires_grad for g in b + c]
    same(prog)
    same_error(lambda lib: lib.autograd.grad((leaf(lib, 2) * 2).sum(),
                                             [leaf(lib, 2), leaf(lib, 2, seed=1)]))
    same_error(lambda lib: lib.autograd.grad((leaf(lib, 2) * 2).sum(), leaf(lib, 2),
                                             allow_unused=False, materialize_grads=True))


def test_grad_errors():
    same_error(lambda lib: lib.autograd.grad((leaf(lib, 2) * 2).sum(), lib.ones(2)))
    same_error(lambda lib: lib.autograd.grad(leaf(lib, 2) * 2, leaf(lib, 2)))
    same_error(lambda lib: lib.autograd.grad(lib.tensor(1.0), leaf(lib, 2)))

    def shape_mismatch(lib):
        x = leaf(lib, 3)
        lib.autograd.grad(x * 2, x, lib.ones(2, dtype=lib.float64))
    same_error(shape_mismatch)


def test_grad_is_grads_batched():
    def prog(lib):
        x, w = leaf(lib, 3), leaf(lib, 2, 3, seed=1)
        y = (w * x).exp()  # (2, 3)
        jac, = lib.autograd.grad(y.sum(0), x, lib.eye(3, dtype=lib.float64),
                                 is_grads_batched=True, retain_graph=True)
        v = lib.tensor(randn(4, 2, 3, seed=2))
        vj = lib.autograd.grad([y, y.sum()], [x, w, leaf(lib, 1)],
                               [v, lib.ones(4, dtype=lib.float64)],
                               is_grads_batched=True, allow_unused=True, retain_graph=True)
        return jac, vj
    same(prog)
    check_error(lambda lib: lib.autograd.grad(leaf(lib, 3) * 2, leaf(lib, 3),
                                              lib.ones(3, 2), is_grads_batched=True))


def test_grad_create_graph_and_retain_graph():
    def prog(lib):
        x = leaf(lib, 3)
        loss = (x * x * x).sum()
        g, = lib.autograd.grad(loss, x, create_graph=True)
        g2, = lib.autograd.grad(g.sum(), x, retain_graph=True)
        h, = lib.autograd.grad(loss, x, retain_graph=True)  # create_graph retained it
        g3, = lib.autograd.grad(g.sum(), x)
        return g, g.requires_grad, g2, g2.requires_grad, g3, h
    same(prog)

    def freed_through_shared_nodes(lib):
        # g's graph runs through loss's nodes, so freeing it frees them too
        x = leaf(lib, 3)
        loss = (x * x * x).sum()
        g, = lib.autograd.grad(loss, x, create_graph=True)
        lib.autograd.grad(g.sum(), x)
        lib.autograd.grad(loss, x)
    same_error(freed_through_shared_nodes)


# ----------------------------------------------------------------- versions and in-place
def test_version_counter():
    def prog(lib):
        x = lib.ones(3, dtype=lib.float64)
        v = [x._version]
        x.add_(1)
        x.mul_(2)
        v.append(x._version)
        d = x.detach()
        d.add_(1)
        v += [x._version, d._version]
        y = x.view(3)
        y.add_(1)
        v += [x._version, y._version]
        x.data.add_(1)  # .data does not share the version counter
        v += [x._version, x]
        return v
    same(prog)


def test_modified_saved_tensor_raises():
    def out_saved(lib):
        x = leaf(lib, 3, dtype="float32")
        y = x.exp()
        y.mul_(2)
        y.sum().backward()
    same_error(out_saved)

    def input_saved(lib):
        x = leaf(lib, 3, dtype="float32")
        a = x * 1
        y = a * a
        a.add_(1)
        y.sum().backward()
    same_error(input_saved)

    def constant_saved(lib):
        x = leaf(lib, 1, 3)
        c = lib.ones(1, 3, dtype=lib.float64)
        y = x * c
        c.add_(1)
        y.sum().backward()
    same_error(constant_saved)

    def leaf_saved(lib):
        x = leaf(lib, 3, dtype="float32")
        y = x * x
        with lib.no_grad():
            x.add_(1)
        y.sum().backward()
    same_error(leaf_saved)


def test_modified_saved_sigmoid_output_raises():
    def prog(lib):
        x = leaf(lib, 3, dtype="float32")
        y = x.sigmoid()
        y.mul_(2)
        y.sum().backward()
    same_error(prog)


def test_inplace_on_leaf_requiring_grad_raises():
    same_error(lambda lib: leaf(lib, 3).add_(1))
    same_error(lambda lib: leaf(lib, 3).mul_(leaf(lib, 3)))
    same_error(lambda lib: leaf(lib, 3).view(3).add_(1))

    def ok_under_no_grad(lib):
        x = leaf(lib, 3)
        with lib.no_grad():
            x.mul_(2)
        return x, x._version, x.requires_grad, x.is_leaf
    same(ok_under_no_grad)


def test_inplace_on_non_leaf_grads():
    def prog(lib):
        x = leaf(lib, 3)
        y = x * 2
        y.add_(1)
        y.exp_()
        out = [y.grad_fn.name(), y._version, y.is_leaf]
        y.sum().backward()
        return out, x.grad
    same(prog)


def test_inplace_with_grad_requiring_operand_on_constant():
    def prog(lib):
        x = leaf(lib, 3)
        c = lib.ones(3, dtype=lib.float64)
        c.mul_(x)
        c.add_(x)
        out = [c.requires_grad, c.is_leaf, c.grad_fn.name()]
        (c * c).sum().backward()
        return out, x.grad
    same(prog)


def test_inplace_through_view_of_non_leaf():
    def prog(lib):
        x = leaf(lib, 2, 3)
        y = x * 1
        v = y.view(6)
        v.mul_(2)
        out = [y.grad_fn.name(), y._version, v._version]
        (y * y).sum().backward()
        return out, x.grad, y
    same(prog)


# ----------------------------------------------------------------- detach and .data
def test_detach_shares_memory_and_version():
    def prog(lib):
        x = leaf(lib, 3)
        y = x * 2
        d = y.detach()
        flags = [d.requires_grad, d.is_leaf, d.grad_fn is None]
        d.add_(1)
        flags += [y._version, d._version]
        return flags, y
    same(prog)
    x = ember.tensor(randn(3)).requires_grad_()
    assert np.shares_memory(x.detach()._data, x._data)


def test_detach_in_place():
    def prog(lib):
        x = leaf(lib, 3)
        y = x * 2
        r = y.detach_()
        return r is y, y.requires_grad, y.grad_fn is None, y.is_leaf, (y * 2).requires_grad
    same(prog)


def test_detach_in_place_of_a_view_errors():
    same_error(lambda lib: (leaf(lib, 2) * 2).view(2).detach_())


def test_detached_tensor_modification_breaks_backward():
    def prog(lib):
        x = leaf(lib, 3, dtype="float32")
        y = x.exp()
        y.detach().zero_()
        y.sum().backward()
    same_error(prog)


def test_data_property():
    def prog(lib):
        x = leaf(lib, 3)
        d = x.data
        flags = [d.requires_grad, d.is_leaf, x._version]
        d.mul_(2)
        flags.append(x._version)
        q = lib.zeros(3, requires_grad=True)
        q.data = lib.ones(3)
        return flags, x, q, q.requires_grad, q.is_leaf
    same(prog)


# ----------------------------------------------------------------- callbacks
def _queue(lib, fn):
    if lib is torch:
        torch.autograd.Variable._execution_engine.queue_callback(fn)
    else:
        ember.autograd.engine.queue_callback(fn)


def test_queue_callback_runs_once_after_backward():
    def prog(lib):
        x = leaf(lib, 3)
        log = []

        def hook(g):
            log.append("hook")
            _queue(lib, lambda: log.append(("callback", x.grad is not None)))
            return g
        y = x * 2
        y.register_hook(hook)
        (y * y).sum().backward()
        log.append("after")
        (x * 2).sum().backward()  # the callback is not kept for later passes
        return log
    same(prog)


def test_queue_callback_can_queue_more_and_outside_backward_errors():
    def prog(lib):
        x = leaf(lib, 3)
        log = []

        def first():
            log.append(1)
            _queue(lib, lambda: log.append(2))

        def hook(g):
            _queue(lib, first)
        x.register_hook(hook)
        (x * 2).sum().backward()
        return log
    same(prog)
    same_error(lambda lib: _queue(lib, lambda: None))


# ----------------------------------------------------------------- anomaly detection
def test_detect_anomaly_warns_with_forward_traceback():
    class Bad:
        @staticmethod
        def make(lib):
            class BadGrad(lib.autograd.Function):
                @staticmethod
                def forward(ctx, x):
                    return x * 1

                @staticmethod
                def backward(ctx, g):
                    raise ValueError("boom in backward")
            return BadGrad

    for lib in (torch, ember):
        fn = Bad.make(lib)
        x = leaf(lib, 3)
        with pytest.warns(UserWarning) as rec:
            with lib.autograd.detect_anomaly():
                y = fn.apply(x)  # forward-call-marker
                with pytest.raises(ValueError, match="boom in backward"):
                    y.sum().backward()
        msgs = [str(w.message) for w in rec]
        hit = [m for m in msgs if "Error detected in BadGradBackward" in m]
        assert hit, (lib.__name__, msgs)
        assert "forward-call-marker" in hit[0]
        assert "Traceback of forward call that caused the error" in hit[0]


def test_detect_anomaly_nan_message():
    for lib in (torch, ember):
        x = lib.tensor([0.0, 1.0], dtype=lib.float64, requires_grad=True)
        with pytest.warns(UserWarning) as rec:
            with lib.autograd.detect_anomaly():
                y = x / x  # 0/0 gives NaN in DivBackward0's gradient
                with pytest.raises(RuntimeError) as exc:
                    y.sum().backward()
        assert re.search(r"Function 'DivBackward0' returned nan values in its [01]th output",
                         str(exc.value)), str(exc.value)
        msgs = [str(w.message) for w in rec]
        assert any("Anomaly Detection has been enabled" in m for m in msgs), msgs
        assert any("Error detected in DivBackward0" in m for m in msgs), msgs
        # without check_nan the NaN goes through
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with lib.autograd.detect_anomaly(check_nan=False):
                (x / x).sum().backward()
        assert bool(x.grad.isnan().any())


def test_detect_anomaly_modified_saved_tensor_hint():
    def prog(lib):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with lib.autograd.detect_anomaly():
                x = leaf(lib, 3, dtype="float32")
                y = x.exp()
                y.mul_(2)
                y.sum().backward()
    same_error(prog)


def test_set_detect_anomaly_and_is_enabled():
    def prog(lib):
        out = [lib.is_anomaly_enabled()]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with lib.autograd.set_detect_anomaly(True):
                out.append(lib.is_anomaly_enabled())
            out.append(lib.is_anomaly_enabled())
            with lib.autograd.detect_anomaly():
                out.append(lib.is_anomaly_enabled())
        out.append(lib.is_anomaly_enabled())
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            lib.autograd.set_detect_anomaly(True, check_nan=False)
        out += [lib.is_anomaly_enabled(), lib.is_anomaly_check_nan_enabled()]
        lib.autograd.set_detect_anomaly(False)
        out += [lib.is_anomaly_enabled(), lib.is_anomaly_check_nan_enabled()]
        return out
    same(prog)


# ----------------------------------------------------------------- reentrant backward
def test_reentrant_backward_inside_custom_backward():
    """Checkpoint-style: a backward that recomputes its forward and runs autograd.grad."""
    def prog(lib):
        class Recompute(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x, w):
                ctx.save_for_backward(x, w)
                return (x * w).tanh() * w

            @staticmethod
            def backward(ctx, g):
                x, w = ctx.saved_tensors
                with lib.enable_grad():
                    xd = x.detach().requires_grad_()
                    wd = w.detach().requires_grad_()
                    out = (xd * wd).tanh() * wd
                return lib.autograd.grad(out, [xd, wd], g)
        x, w = leaf(lib, 3), leaf(lib, 3, seed=1)
        y = Recompute.apply(x * 2, w)
        (y * y).sum().backward()
        return y, x.grad, w.grad
    same(prog)


def test_legacy_variable():
    def prog(lib):
        from_ = lib.autograd.Variable
        t = lib.ones(2)
        v = from_(t, requires_grad=True)
        x = leaf(lib, 2)
        z = from_(x * 2)
        v.add(1).sum().backward()
        return [v is t, v.requires_grad, t.requires_grad, isinstance(t, from_), v.is_leaf,
                z.requires_grad, z.grad_fn is None, v.grad]
    same(prog)
    same_error(lambda lib: lib.autograd.Variable(3))
