"""no_grad / enable_grad / set_grad_enabled / inference_mode against torch: as context
managers, as decorators (also on generators), nesting, exceptions, threads, and
inference tensors."""
from __future__ import annotations

import threading

import pytest
from oracle import check, check_error, randn


def leaf(lib, *shape, seed=0):
    return lib.tensor(randn(*shape, seed=seed)).requires_grad_()


def same(prog):
    return check(prog, grad=False)


def same_error(prog):
    ee, te = check_error(prog)
    assert str(ee) == str(te), f"ember: {ee}\ntorch: {te}"


def test_no_grad_context_and_leaves_created_inside():
    def prog(lib):
        x = leaf(lib, 3)
        with lib.no_grad():
            y = x * 2
            a = lib.ones(2, requires_grad=True)
            b = lib.ones(2).requires_grad_()
            c = a * 2
            inside = lib.is_grad_enabled()
        z = x * 2
        return [inside, lib.is_grad_enabled(), y.requires_grad, y.grad_fn is None, y.is_leaf,
                a.requires_grad, b.requires_grad, c.requires_grad, z.requires_grad, y]
    same(prog)


@pytest.mark.parametrize("form", ["call", "bare"])
def test_no_grad_and_enable_grad_as_decorators(form):
    def prog(lib):
        x = leaf(lib, 3)

        def deco(cm):
            return cm() if form == "call" else cm

        @deco(lib.no_grad)
        def off(k):
            """doc kept"""
            return (x * k).requires_grad, lib.is_grad_enabled()

        @deco(lib.enable_grad)
        def on():
            return (x * 2).requires_grad, lib.is_grad_enabled()

        out = [off(2), off.__name__, off.__doc__, lib.is_grad_enabled()]
        with lib.no_grad():
            out += [on(), lib.is_grad_enabled()]
        return out
    same(prog)


def test_set_grad_enabled_as_call_context_and_decorator():
    def prog(lib):
        x = leaf(lib, 3)
        out = []
        lib.set_grad_enabled(False)
        out += [lib.is_grad_enabled(), (x * 2).requires_grad]
        lib.set_grad_enabled(True)
        out += [lib.is_grad_enabled()]
        with lib.set_grad_enabled(False):
            out += [lib.is_grad_enabled(), (x * 2).requires_grad]
        out += [lib.is_grad_enabled()]

        @lib.set_grad_enabled(False)
        def off():
            return lib.is_grad_enabled(), (x * 2).requires_grad
        out += [lib.is_grad_enabled(), off(), lib.is_grad_enabled(), off()]
        with lib.no_grad():
            with lib.set_grad_enabled(True):
                out += [lib.is_grad_enabled(), (x * 2).requires_grad]
            out += [lib.is_grad_enabled()]
        return out
    same(prog)
    check_error(lambda lib: lib.set_grad_enabled(1))


def test_nesting_and_exceptions_restore_mode():
    def prog(lib):
        r = []
        with lib.no_grad():
            r.append(lib.is_grad_enabled())
            with lib.enable_grad():
                r.append(lib.is_grad_enabled())
                with lib.set_grad_enabled(False):
                    r.append(lib.is_grad_enabled())
                r.append(lib.is_grad_enabled())
            r.append(lib.is_grad_enabled())
        r.append(lib.is_grad_enabled())
        try:
            with lib.no_grad():
                raise ValueError("inside")
        except ValueError:
            pass
        r.append(lib.is_grad_enabled())

        @lib.no_grad()
        def fails():
            raise KeyError("x")
        try:
            fails()
        except KeyError:
            pass
        r.append(lib.is_grad_enabled())
        return r
    same(prog)


def test_same_decorated_function_reentrant():
    def prog(lib):
        x = leaf(lib, 2)

        @lib.no_grad()
        def rec(n):
            if n == 0:
                return [lib.is_grad_enabled()]
            with lib.enable_grad():
                inner = (x * 2).requires_grad
            return [lib.is_grad_enabled(), inner] + rec(n - 1)
        return rec(2), lib.is_grad_enabled()
    same(prog)


def test_decorated_generator_keeps_mode_per_step():
    def prog(lib):
        x = leaf(lib, 2)

        @lib.no_grad()
        def gen():
            for k in range(3):
                got = yield (lib.is_grad_enabled(), (x * k).requires_grad)
                if got is not None:
                    yield ("sent", got, lib.is_grad_enabled())
        out = []
        it = gen()
        out.append(next(it))
        out.append(lib.is_grad_enabled())  # the caller's mode between steps
        out.append(it.send(7))
        out.append(next(it))
        out.append(lib.is_grad_enabled())
        out.append(list(it))
        return out
    same(prog)


def test_grad_mode_is_thread_local():
    def prog(lib):
        x = leaf(lib, 3)
        seen = []

        def worker():
            seen.append((lib.is_grad_enabled(), (x * 2).requires_grad,
                         lib.is_inference_mode_enabled()))
            with lib.no_grad():
                seen.append(lib.is_grad_enabled())
        with lib.no_grad():
            t = threading.Thread(target=worker)
            t.start()
            t.join()
            seen.append(lib.is_grad_enabled())
        with lib.inference_mode():
            t = threading.Thread(target=worker)
            t.start()
            t.join()
        seen.append(lib.is_grad_enabled())
        return seen
    same(prog)


def test_backward_and_grad_work_inside_no_grad():
    def prog(lib):
        x = leaf(lib, 3)
        y = (x * x * x).sum()
        with lib.no_grad():
            g, = lib.autograd.grad(y, x, create_graph=True)
            y2 = (x * x).sum()
        y3 = (x * 4).sum()
        with lib.no_grad():
            y3.backward()
        return g, g.requires_grad, y2.requires_grad, x.grad
    same(prog)


def test_in_place_on_leaf_allowed_under_no_grad():
    def prog(lib):
        x = leaf(lib, 3)
        with lib.no_grad():
            x.mul_(2)
            x.add_(x)
        return x, x.requires_grad, x.is_leaf, x.grad_fn is None, x._version
    same(prog)


# ----------------------------------------------------------------- inference mode
def test_inference_mode_basics():
    def prog(lib):
        x = leaf(lib, 3)
        with lib.inference_mode():
            a = lib.ones(2)
            b = x * 2
            r = [lib.is_inference_mode_enabled(), lib.is_grad_enabled(), a.is_inference(),
                 b.is_inference(), b.requires_grad, b]
        r += [lib.is_inference_mode_enabled(), a.is_inference(), x.is_inference(),
              lib.is_grad_enabled(), a.clone().is_inference()]
        return r
    same(prog)


def test_inference_mode_false_and_nesting():
    def prog(lib):
        x = leaf(lib, 2)
        r = []
        with lib.inference_mode(False):
            r += [lib.is_inference_mode_enabled(), lib.is_grad_enabled(), (x * 2).requires_grad]
        with lib.no_grad():
            with lib.inference_mode(False):
                r += [lib.is_grad_enabled()]
            r += [lib.is_grad_enabled()]
        with lib.inference_mode():
            with lib.inference_mode(False):
                a = lib.ones(2)
                r += [lib.is_inference_mode_enabled(), lib.is_grad_enabled(), a.is_inference()]
            r += [lib.is_inference_mode_enabled(), lib.is_grad_enabled()]
            with lib.enable_grad():  # grad mode on, but inference mode still records nothing
                r += [lib.is_grad_enabled(), lib.is_inference_mode_enabled(),
                      (x * 2).requires_grad]
                with lib.no_grad():
                    r += [lib.is_grad_enabled()]
                r += [lib.is_grad_enabled()]
            r += [lib.is_grad_enabled()]
        r += [lib.is_grad_enabled(), lib.is_inference_mode_enabled()]
        return r
    same(prog)


def test_inference_mode_decorators():
    def prog(lib):
        @lib.inference_mode()
        def f():
            return lib.is_inference_mode_enabled(), lib.ones(1).is_inference()

        @lib.inference_mode
        def g():
            return lib.is_inference_mode_enabled()

        @lib.inference_mode(False)
        def h():
            return lib.is_inference_mode_enabled(), lib.is_grad_enabled()
        with lib.inference_mode():
            inner = h()
        return f(), g(), inner, lib.is_inference_mode_enabled()
    same(prog)


def _inference_tensor(lib):
    with lib.inference_mode():
        return lib.ones(3, dtype=lib.float64)


def test_inference_tensor_errors_outside_inference_mode():
    same_error(lambda lib: leaf(lib, 3) * _inference_tensor(lib))  # would be saved
    same_error(lambda lib: _inference_tensor(lib).requires_grad_())
    same_error(lambda lib: _inference_tensor(lib).add_(1))
    same_error(lambda lib: _inference_tensor(lib)._version)


def test_inference_tensor_allowed_uses():
    def prog(lib):
        a = _inference_tensor(lib)
        x = leaf(lib, 3)
        y = x + a  # not saved for backward
        y.sum().backward()
        with lib.inference_mode():
            a.mul_(3)  # in-place inside inference mode is fine
        c = a.clone().requires_grad_()
        (c * a.clone()).sum().backward()
        with lib.no_grad():
            d = a * 2
        return x.grad, a, c.grad, d, d.is_inference()
    same(prog)
