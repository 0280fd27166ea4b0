"""Custom autograd.Function against torch: ctx.save_for_backward, needs_input_grad,
mark_dirty, mark_non_differentiable, set_materialize_grads, once_differentiable,
several outputs, non-tensor arguments and outputs, and the errors for bad backwards."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from oracle import check, check_error, randn

import ember


def leaf(lib, *shape, seed=0, dtype="float64"):
    return lib.tensor(randn(*shape, seed=seed)).to(getattr(lib, dtype)).requires_grad_()


def same(prog):
    return check(prog, grad=False)


def same_error(prog):
    ee, te = check_error(prog)
    assert str(ee) == str(te), f"ember: {ee}\ntorch: {te}"


# Each custom Function is defined once per library by a factory taking `lib`.
_cache: dict = {}


def fn(name, lib):
    key = (name, lib.__name__)
    if key not in _cache:
        _cache[key] = FACTORIES[name](lib)
    return _cache[key]


def _scaled_exp(lib):
    class ScaledExp(lib.autograd.Function):
        """y = exp(x) * k: saves its output, takes a Python number."""

        @staticmethod
        def forward(ctx, x, k):
            y = x.exp() * k
            ctx.save_for_backward(y)
            ctx.k = k
            return y

        @staticmethod
        def backward(ctx, g):
            (y,) = ctx.saved_tensors
            return g * y, None
    return ScaledExp


def _mul_add(lib):
    class MulAdd(lib.autograd.Function):
        """a * b + c, returning only the gradients that are needed."""

        @staticmethod
        def forward(ctx, a, b, c):
            ctx.save_for_backward(a, b)
            ctx.seen_forward = ctx.needs_input_grad
            return a * b + c

        @staticmethod
        def backward(ctx, g):
            a, b = ctx.saved_tensors
            ctx.seen_backward = ctx.needs_input_grad
            ga = g * b if ctx.needs_input_grad[0] else None
            gb = g * a if ctx.needs_input_grad[1] else None
            gc = g if ctx.needs_input_grad[2] else None
            return ga, gb, gc
    return MulAdd


def _add_one_(lib):
    class AddOne_(lib.autograd.Function):
        """An in-place custom op: x += 1, declared with mark_dirty."""

        @staticmethod
        def forward(ctx, x):
            x.add_(1)
            ctx.mark_dirty(x)
            return x

        @staticmethod
        def backward(ctx, g):
            return g
    return AddOne_


def _identity(lib):
    class Identity(lib.autograd.Function):
        """Returns its input unchanged (not in place): torch makes the output a view."""

        @staticmethod
        def forward(ctx, x):
            return x

        @staticmethod
        def backward(ctx, g):
            return g * 2
    return Identity


def _split(lib):
    class Split(lib.autograd.Function):
        """Two outputs plus a non-tensor output."""

        @staticmethod
        def forward(ctx, x, k):
            ctx.k = k
            return x * k, x.exp(), "tag"

        @staticmethod
        def backward(ctx, g1, g2, g3):
            return g1 * ctx.k + g2 * 1.5, None
    return Split


def _lazy(lib):
    class Lazy(lib.autograd.Function):
        """set_materialize_grads(False): unused outputs arrive as None."""

        @staticmethod
        def forward(ctx, x):
            ctx.set_materialize_grads(False)
            return x * 2, x * 3

        @staticmethod
        def backward(ctx, g1, g2):
            ctx.got = (g1 is None, g2 is None)
            out = None
            if g1 is not None:
                out = g1 * 2
            if g2 is not None:
                out = g2 * 3 if out is None else out + g2 * 3
            return out
    return Lazy


def _eager(lib):
    class Eager(lib.autograd.Function):
        """Default materialize_grads: unused outputs arrive as zeros."""

        @staticmethod
        def forward(ctx, x):
            return x * 2, x * 3

        @staticmethod
        def backward(ctx, g1, g2):
            ctx.got = (g1, g2)
            return g1 * 2 + g2 * 3
    return Eager


def _argmax_like(lib):
    class WithIndex(lib.autograd.Function):
        """A value output and a non-differentiable float 'index' output."""

        @staticmethod
        def forward(ctx, x):
            v = x * 2
            idx = x * 0
            ctx.mark_non_differentiable(idx)
            return v, idx

        @staticmethod
        def backward(ctx, gv, gi):
            ctx.got_index_grad = gi
            return gv * 2
    return WithIndex


def _square_once(lib):
    class SquareOnce(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        @lib.autograd.function.once_differentiable
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g * 2 * x
    return SquareOnce


def _cube(lib):
    class Cube(lib.autograd.Function):
        """Backward written with ops on saved tensors: twice differentiable."""

        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x * x

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g * 3 * x * x
    return Cube


def _bad(kind):
    def factory(lib):
        class Bad(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x, y):
                return x * y

            @staticmethod
            def backward(ctx, g):
                if kind == "too_few":
                    return g
                if kind == "too_many":
                    return g, g, g
                if kind == "extra_none":
                    return g, g, None, None
                if kind == "not_tensor":
                    return 3, None
                if kind == "grad_for_number":
                    return g, g
                if kind == "wrong_shape":
                    return g.sum(-1), None
                if kind == "wider":
                    return g.expand(2, *g.shape), g.double()
                raise AssertionError(kind)
        Bad.__name__ = Bad.__qualname__ = "Bad"
        return Bad
    return factory


def _setup_context_style(lib):
    class Scale(lib.autograd.Function):
        """torch 2's form: forward without ctx, then setup_context."""

        @staticmethod
        def forward(x, k):
            return x.exp() * k

        @staticmethod
        def setup_context(ctx, inputs, output):
            x, k = inputs
            ctx.k = k
            ctx.save_for_backward(x, output)

        @staticmethod
        def backward(ctx, g):
            x, out = ctx.saved_tensors
            return g * out, None
    return Scale


def _vjp_style(lib):
    class Twice(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def vjp(ctx, g):
            return g * 2
    return Twice


def _no_backward(lib):
    class NoBackward(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 1
    return NoBackward


FACTORIES = {"scaled_exp": _scaled_exp, "mul_add": _mul_add, "add_one_": _add_one_,
             "identity": _identity, "split": _split, "lazy": _lazy, "eager": _eager,
             "with_index": _argmax_like, "square_once": _square_once, "cube": _cube,
             "no_backward": _no_backward, "setup_context": _setup_context_style,
             "vjp": _vjp_style,
             **{f"bad_{k}": _bad(k) for k in ("too_few", "too_many", "extra_none", "not_tensor",
                                              "wrong_shape", "wider", "grad_for_number")}}


# ----------------------------------------------------------------- basics
def test_save_for_backward_and_non_tensor_argument():
    def prog(lib):
        x = leaf(lib, 2, 3)
        y = fn("scaled_exp", lib).apply(x, 2.5)
        out = [y.grad_fn.name(), y.requires_grad, y.is_leaf, y.grad_fn.k,
               len(y.grad_fn.next_functions)]
        (y * y).sum().backward()
        return out, y, x.grad
    same(prog)


def test_custom_function_in_oracle():
    check(lambda lib, x: fn("scaled_exp", lib).apply(x, -1.5), randn(4, 2))
    check(lambda lib, a, b, c: fn("mul_add", lib).apply(a, b, c),
          randn(3), randn(3, seed=1), randn(3, seed=2))


def test_needs_input_grad():
    def prog(lib):
        a, b = leaf(lib, 3), lib.tensor(randn(3, seed=1))
        c = leaf(lib, 3, seed=2)
        y = fn("mul_add", lib).apply(a, b, c)
        y.sum().backward()
        node = y.grad_fn
        return (node.seen_forward, node.seen_backward, a.grad, b.grad, c.grad,
                [n is None for n, _ in node.next_functions])
    same(prog)


def test_no_graph_when_no_input_requires_grad_or_in_no_grad():
    def prog(lib):
        seen = []

        class Peek(lib.autograd.Function):
            @staticmethod
            def forward(ctx, a, b, k):
                seen.append(ctx.needs_input_grad)
                return a * b * k

            @staticmethod
            def backward(ctx, g):
                return g, None, None
        a, b, c = (lib.tensor(randn(3, seed=i)) for i in range(3))
        y = fn("mul_add", lib).apply(a, b, c)
        with lib.no_grad():
            z = fn("mul_add", lib).apply(leaf(lib, 3), b, c)
            Peek.apply(leaf(lib, 3), b, 2)  # torch still reports requires_grad here
        Peek.apply(a, b, 2)
        Peek.apply(leaf(lib, 3), b, 2)
        return (y, y.requires_grad, y.grad_fn is None, z.requires_grad, z.grad_fn is None,
                seen)
    same(prog)


def test_saved_tensors_freed_after_backward():
    def prog(lib):
        y = fn("scaled_exp", lib).apply(leaf(lib, 3), 1.0)
        y.sum().backward()
        return y.grad_fn.saved_tensors
    same_error(prog)

    def retained(lib):
        x = leaf(lib, 3)
        y = fn("scaled_exp", lib).apply(x, 1.0)
        y.sum().backward(retain_graph=True)
        y.sum().backward(retain_graph=True)
        return x.grad, y.grad_fn.saved_tensors
    same(retained)


def test_saved_output_modified_in_place_raises():
    def prog(lib):
        x = leaf(lib, 3, dtype="float32")
        y = fn("scaled_exp", lib).apply(x, 1.0)
        with lib.no_grad():
            y.mul_(2)
        y.sum().backward()
    same_error(prog)


def test_setup_context_and_vjp_forms():
    def prog(lib):
        x = leaf(lib, 3)
        y = fn("setup_context", lib).apply(x, 1.5)
        out = [y.grad_fn.name(), y.grad_fn.k, len(y.grad_fn.saved_tensors)]
        y.sum().backward()
        g1 = x.grad
        x.grad = None
        fn("vjp", lib).apply(x).sum().backward()
        return out, y, g1, x.grad
    same(prog)
    check(lambda lib, x: fn("setup_context", lib).apply(x, -0.5), randn(2, 3))


# ----------------------------------------------------------------- mark_dirty
def test_mark_dirty_on_non_leaf():
    def prog(lib):
        x = leaf(lib, 3)
        y = x * 2
        v0 = y._version
        z = fn("add_one_", lib).apply(y)
        out = [z is y, y._version - v0, z.grad_fn.name(), y.grad_fn.name(), z]
        (z * z).sum().backward()
        return out, x.grad
    same(prog)


def test_mark_dirty_without_grad_bumps_version():
    def prog(lib):
        x = lib.ones(3)
        z = fn("add_one_", lib).apply(x)
        return z is x, x._version, z.requires_grad, x
    same(prog)


def test_mark_dirty_on_leaf_requiring_grad_raises():
    same_error(lambda lib: fn("add_one_", lib).apply(leaf(lib, 3)))


def test_mark_dirty_on_view_of_non_leaf():
    def prog(lib):
        x = leaf(lib, 2, 3)
        y = x * 1
        v = y.view(6)
        fn("add_one_", lib).apply(v)
        # (torch names the rebuilt view's node AsStridedBackward0; ember replays the view)
        out = [y.grad_fn.name(), v.requires_grad, v.is_leaf, y._version, v._version]
        (y * y).sum().backward()
        return out, y, x.grad
    same(prog)


def test_returning_an_input_unchanged_gives_a_view():
    def prog(lib):
        x = leaf(lib, 3)
        y = x * 1
        z = fn("identity", lib).apply(y)
        out = [z is y, z.grad_fn.name(), y.grad_fn.name(), z._base is y, z.is_leaf]
        z.sum().backward()
        g = x.grad.clone()
        x.grad = None
        w = fn("identity", lib).apply(x)  # a leaf passed straight through
        out += [w is x, w.grad_fn.name(), x.is_leaf, x.grad_fn is None]
        w.sum().backward()
        return out, g, x.grad
    same(prog)


# ----------------------------------------------------------------- several outputs
def test_multiple_outputs_and_non_tensor_output():
    def prog(lib):
        x = leaf(lib, 3)
        a, b, tag = fn("split", lib).apply(x, 3.0)
        out = [tag, a.grad_fn is b.grad_fn, a.output_nr, b.output_nr, a.grad_fn.name()]
        a.sum().backward(retain_graph=True)
        out.append(x.grad.clone())
        (a * b).sum().backward()
        return out, x.grad
    same(prog)


def test_materialize_grads_default_gives_zeros():
    def prog(lib):
        x = leaf(lib, 3)
        a, b = fn("eager", lib).apply(x)
        b.sum().backward()
        return b.grad_fn.got, x.grad
    same(prog)


def test_set_materialize_grads_false_gives_none():
    def prog(lib):
        x = leaf(lib, 3)
        a, b = fn("lazy", lib).apply(x)
        b.sum().backward(retain_graph=True)
        first = b.grad_fn.got
        a.sum().backward()
        return first, b.grad_fn.got, x.grad
    same(prog)


def test_mark_non_differentiable():
    def prog(lib):
        x = leaf(lib, 3)
        v, idx = fn("with_index", lib).apply(x)
        out = [v.requires_grad, idx.requires_grad, idx.grad_fn is None, idx.is_leaf]
        v.sum().backward()
        return out, v.grad_fn.got_index_grad, x.grad
    same(prog)


# ----------------------------------------------------------------- higher order
def test_custom_backward_is_differentiable():
    def prog(lib):
        x = leaf(lib, 4)
        y = fn("cube", lib).apply(x)
        g, = lib.autograd.grad(y.sum(), x, create_graph=True)
        gg, = lib.autograd.grad(g.sum(), x)
        return g, gg
    same(prog)


def test_once_differentiable():
    def first_order(lib):
        x = leaf(lib, 3)
        fn("square_once", lib).apply(x).sum().backward()
        return x.grad
    same(first_order)

    def second_order(lib):
        x = leaf(lib, 3)
        g, = lib.autograd.grad(fn("square_once", lib).apply(x).sum(), x, create_graph=True)
        g.sum().backward()
    same_error(second_order)

    def grad_has_no_graph(lib):
        x = leaf(lib, 3)
        g, = lib.autograd.grad(fn("square_once", lib).apply(x).sum(), x, create_graph=True)
        return g.requires_grad, g.grad_fn is None
    same(grad_has_no_graph)


# ----------------------------------------------------------------- bad backwards
@pytest.mark.parametrize("kind", ["too_few", "too_many", "not_tensor", "wrong_shape"])
def test_bad_backward_errors(kind):
    def prog(lib):
        x, y = leaf(lib, 3), lib.ones(3, dtype=lib.float64)
        fn(f"bad_{kind}", lib).apply(x, y).sum().backward()
    same_error(prog)


def test_gradient_for_a_number_argument_raises():
    def prog(lib):
        fn("bad_grad_for_number", lib).apply(leaf(lib, 3), 2.0).sum().backward()
    same_error(prog)


def test_backward_extra_nones_and_wider_grads_are_accepted():
    def extra(lib):
        x = leaf(lib, 3)
        fn("bad_extra_none", lib).apply(x, lib.ones(3, dtype=lib.float64)).sum().backward()
        return x.grad

    def wider(lib):
        # a gradient broadcast over the input's shape is summed back; dtype is cast back
        x = leaf(lib, 3, dtype="float32")
        y = leaf(lib, 3, seed=1, dtype="float32")
        fn("bad_wider", lib).apply(x, y).sum().backward()
        return x.grad, y.grad
    same(extra)
    same(wider)


def test_missing_backward_raises():
    same_error(lambda lib: fn("no_backward", lib).apply(leaf(lib, 3)).sum().backward())


def test_node_structure_of_custom_function():
    def prog(lib):
        x = leaf(lib, 3)
        y = fn("scaled_exp", lib).apply(x * 2, 1.0)
        node = y.grad_fn
        inner = node.next_functions[0][0]
        return [node.name(), inner.name(), inner.next_functions[0][0].name(),
                repr(node).split(" object")[0].replace(lib.__name__, "lib"),
                repr(inner).split(" object")[0]]
    same(prog)


def test_ember_function_ctx_is_the_node():
    # ember keeps saved tensors and ctx attributes on the grad_fn itself (torch's ctx too)
    x = ember.tensor(randn(3)).requires_grad_()
    y = fn("scaled_exp", ember).apply(x, 2.0)
    assert y.grad_fn.k == 2.0
    assert y.grad_fn.saved_tensors[0] is y
    np.testing.assert_allclose(y.detach().numpy(), np.exp(randn(3)) * 2.0)
    assert isinstance(y.grad_fn, ember.autograd.Function)
    xt = torch.tensor(randn(3)).requires_grad_()
    yt = fn("scaled_exp", torch).apply(xt, 2.0)
    assert yt.grad_fn.k == 2.0
