"""gradcheck / gradgradcheck: pass on correct ops, fail (like torch's) on wrong backwards."""
import os
import sys
import warnings

sys.path.insert(0, os.path.dirname(os.path.dirname(__file__)))

import numpy as np
import pytest
import torch
from oracle import randn
from torch.autograd.gradcheck import GradcheckError as TorchGradcheckError

import ember
from ember.autograd.gradcheck import GradcheckError, gradcheck, gradgradcheck


def both(*arrays):
    """The same float64 leaves (requiring grad) for torch and for ember."""
    return ([torch.tensor(a, requires_grad=True) for a in arrays],
            [ember.tensor(a).requires_grad_() for a in arrays])


def run(lib, fn_name, func, inputs, **kw):
    check_fn = getattr(lib.autograd, fn_name) if lib is torch else (
        gradcheck if fn_name == "gradcheck" else gradgradcheck)
    return check_fn(func, inputs, **kw)


# ----------------------------------------------------------------- correct ops pass
OPS = [
    (lambda lib, a, b: a + b, [(2, 3), (3,)]),
    (lambda lib, a, b: a * b, [(2, 3), (2, 1)]),
    (lambda lib, a, b: a / b, [(3,), (3,)]),
    (lambda lib, a: a.exp(), [(2, 2)]),
    (lambda lib, a: a.sum(), [(2, 3)]),
    (lambda lib, a: lib.sum(a, 1, keepdim=True), [(2, 3)]),
    (lambda lib, a: a.mean(0), [(2, 3)]),
    (lambda lib, a, b: lib.matmul(a, b), [(2, 3), (3, 2)]),
    (lambda lib, a, b: lib.matmul(a, b), [(2, 2, 3), (3,)]),
    (lambda lib, a, b: lib.bmm(a, b), [(2, 2, 3), (2, 3, 2)]),
    (lambda lib, x, a, b: lib.addmm(x, a, b, beta=0.5, alpha=2), [(2,), (2, 3), (3, 2)]),
    (lambda lib, a, b: lib.einsum("ij,jk->ik", a, b), [(2, 3), (3, 2)]),
    (lambda lib, a: (a * a).exp() / (a.exp() + 1), [(2, 2)]),
]


@pytest.mark.parametrize("op,shapes", OPS)
@pytest.mark.parametrize("fn_name", ["gradcheck", "gradgradcheck"])
def test_correct_ops_pass(op, shapes, fn_name):
    arrays = [randn(*s, seed=i) + (3.0 if op is OPS[2][0] else 0.0) for i, s in enumerate(shapes)]
    ts, es = both(*arrays)
    assert run(torch, fn_name, lambda *xs: op(torch, *xs), ts) is True
    assert run(ember, fn_name, lambda *xs: op(ember, *xs), es) is True


@pytest.mark.parametrize("op,shapes", OPS[:4] + OPS[7:9])
def test_fast_mode_passes(op, shapes):
    es = both(*[randn(*s, seed=i) + 3.0 for i, s in enumerate(shapes)])[1]
    assert gradcheck(lambda *xs: op(ember, *xs), es, fast_mode=True)
    assert gradgradcheck(lambda *xs: op(ember, *xs), es, fast_mode=True)


def test_multiple_outputs_and_non_tensor_arguments():
    def f(lib, a, scale, b):
        return a * scale, lib.matmul(a, b).exp()

    ts, es = both(randn(2, 3), randn(3, 2, seed=1))
    assert torch.autograd.gradcheck(lambda a, s, b: f(torch, a, s, b), (ts[0], 2.5, ts[1]))
    assert gradcheck(lambda a, s, b: f(ember, a, s, b), (es[0], 2.5, es[1]))
    assert gradgradcheck(lambda a, s, b: f(ember, a, s, b), (es[0], 2.5, es[1]))


def test_input_that_does_not_require_grad_is_left_alone():
    a = ember.tensor(randn(2, 3)).requires_grad_()
    b = ember.tensor(randn(3, 2, seed=1))
    before = b.numpy().copy()
    assert gradcheck(lambda a, b: ember.matmul(a, b), (a, b))
    np.testing.assert_array_equal(b.numpy(), before)
    np.testing.assert_array_equal(a.detach().numpy(), randn(2, 3))  # restored after nudging


def test_noncontiguous_input_and_grad_outputs():
    base = ember.tensor(randn(3, 4)).requires_grad_()
    x = base.detach().t().requires_grad_()
    assert not x.is_contiguous()
    assert gradcheck(lambda x: x.exp() * x, (x,))
    assert gradgradcheck(lambda x: x.exp() * x, (x,), gen_non_contig_grad_outputs=True)
    g = ember.tensor(randn(4, 3, seed=2)).requires_grad_()
    assert gradgradcheck(lambda x: x.exp() * x, (x,), (g,))


def test_no_differentiable_outputs():
    # An output cut from the graph cannot be right when it does depend on the input.
    for lib, check in ((torch, torch.autograd.gradcheck), (ember, gradcheck)):
        x = lib.tensor(randn(3), requires_grad=True)
        with pytest.raises(Exception) as err:
            check(lambda x: x.detach() * 2, (x,))
        assert type(err.value).__name__ == "GradcheckError"
        assert "Numerical gradient for function expected to be zero" in str(err.value)
        assert check(lambda x: x.detach() * 2, (x,), raise_exception=False) is False
        # ... but an integer output that ignores small nudges is fine
        assert check(lambda x: (x > 100).long(), (x,))


# ----------------------------------------------------------------- wrong backwards fail
class WrongSquare(ember.autograd.Function):
    """x * x with a backward off by a factor of 2."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * x


class TorchWrongSquare(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * x


def test_wrong_backward_raises_jacobian_mismatch():
    ts, es = both(randn(3))
    with pytest.raises(TorchGradcheckError) as t_err:
        torch.autograd.gradcheck(TorchWrongSquare.apply, ts)
    with pytest.raises(GradcheckError) as e_err:
        gradcheck(WrongSquare.apply, es)
    assert isinstance(e_err.value, RuntimeError)
    first = "Jacobian mismatch for output 0 with respect to input 0,\nnumerical:"
    assert str(t_err.value).startswith(first) and str(e_err.value).startswith(first)
    assert "\nanalytical:" in str(e_err.value)


def test_wrong_backward_returns_false_without_raising():
    ts, es = both(randn(3))
    assert torch.autograd.gradcheck(TorchWrongSquare.apply, ts, raise_exception=False) is False
    assert gradcheck(WrongSquare.apply, es, raise_exception=False) is False
    assert gradcheck(WrongSquare.apply, es, fast_mode=True, raise_exception=False) is False
    with pytest.raises(GradcheckError, match="computed in fast mode"):
        gradcheck(WrongSquare.apply, es, fast_mode=True)


def test_mismatch_reports_the_right_output_and_input():
    _, (a, b) = both(randn(2), randn(2, seed=1))

    def f(a, b):
        return a * b, WrongSquare.apply(b)

    with pytest.raises(GradcheckError, match="for output 1 with respect to input 1"):
        gradcheck(f, (a, b))


class CubeDetachedBackward(ember.autograd.Function):
    """x**3 whose backward is right but built from a detached x: the second derivative
    (through the backward) is wrong, so only gradgradcheck can notice."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x * x

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        xd = x.detach()
        return grad * 3 * xd * xd


def test_wrong_double_backward_passes_gradcheck_fails_gradgradcheck():
    x = ember.tensor(randn(3)).requires_grad_()
    assert gradcheck(CubeDetachedBackward.apply, (x,))
    assert gradgradcheck(CubeDetachedBackward.apply, (x,), raise_exception=False) is False
    with pytest.raises(GradcheckError, match="Jacobian mismatch for output 0 with respect to "
                                             "input 0"):
        gradgradcheck(CubeDetachedBackward.apply, (x,))


class IgnoresGradOutput(ember.autograd.Function):
    """sum(x) with a backward that forgets to multiply by grad_output."""

    @staticmethod
    def forward(ctx, x):
        ctx.shape = x.shape
        return x.sum()

    @staticmethod
    def backward(ctx, grad):
        return ember.ones(ctx.shape, dtype=ember.float64)


class TorchIgnoresGradOutput(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.shape = x.shape
        return x.sum()

    @staticmethod
    def backward(ctx, grad):
        return torch.ones(ctx.shape, dtype=torch.float64)


def test_backward_not_multiplied_by_grad_output():
    ts, es = both(randn(3))
    msg = "backward not multiplied by grad_output"
    with pytest.raises(TorchGradcheckError, match=msg):
        torch.autograd.gradcheck(TorchIgnoresGradOutput.apply, ts)
    with pytest.raises(GradcheckError, match=msg):
        gradcheck(IgnoresGradOutput.apply, es)


class Nondeterministic(ember.autograd.Function):
    """2x, but each backward adds a different tiny amount."""

    calls = [0]

    @staticmethod
    def forward(ctx, x):
        return x * 2

    @staticmethod
    def backward(ctx, grad):
        Nondeterministic.calls[0] += 1
        return grad * 2 + 1e-9 * Nondeterministic.calls[0]


def test_backward_not_reentrant_and_nondet_tol():
    x = ember.tensor(randn(3)).requires_grad_()
    with pytest.raises(GradcheckError, match="Backward is not reentrant"):
        gradcheck(Nondeterministic.apply, (x,), check_undefined_grad=False)
    with pytest.raises(GradcheckError, match="backward not multiplied by grad_output"):
        gradcheck(Nondeterministic.apply, (x,), nondet_tol=1e-6)
    assert gradcheck(Nondeterministic.apply, (x,), nondet_tol=1e-6, raise_exception=False) is False


class TwoOutputs(ember.autograd.Function):
    """(2x, 3x); its backward reads both incoming gradients."""

    @staticmethod
    def forward(ctx, x):
        return x * 2, x * 3

    @staticmethod
    def backward(ctx, g1, g2):
        return g1 * 2 + g2 * 3


class TwoOutputsNoneUnsafe(TwoOutputs):
    """The same, but it asks for missing gradients as None and then cannot handle them."""

    @staticmethod
    def forward(ctx, x):
        ctx.set_materialize_grads(False)
        return x * 2, x * 3


def test_backward_from_one_output_at_a_time():
    x = ember.tensor(randn(3)).requires_grad_()
    assert gradcheck(TwoOutputs.apply, (x,))
    assert gradgradcheck(TwoOutputs.apply, (x,))
    with pytest.raises(TypeError):  # the missing gradient of the other output arrives as None
        gradcheck(TwoOutputsNoneUnsafe.apply, (x,))


# ----------------------------------------------------------------- argument checks
def test_float32_inputs_warn_like_torch():
    for lib, check in ((torch, torch.autograd.gradcheck), (ember, gradcheck)):
        x = lib.tensor(randn(3, dtype=np.float32), requires_grad=True)
        with pytest.warns(UserWarning, match="Input #0 requires gradient and is not a double "
                                             "precision floating point"):
            check(lambda x: x * 2, (x,), eps=1e-3, atol=1e-2, raise_exception=False)


def test_no_input_requires_grad():
    for lib, check in ((torch, torch.autograd.gradcheck), (ember, gradcheck)):
        x = lib.tensor(randn(3))
        with pytest.raises(ValueError, match="gradcheck expects at least one input tensor to "
                                             "require gradient, but none of them have "
                                             "requires_grad=True"):
            check(lambda x: x * 2, (x,))


def test_stride_zero_input_rejected():
    for lib, check in ((torch, torch.autograd.gradcheck), (ember, gradcheck)):
        x = lib.tensor(randn(1, 3)).expand(4, 3).requires_grad_() if lib is torch else \
            ember.tensor(randn(1, 3)).expand(4, 3).detach().requires_grad_()
        with pytest.raises(RuntimeError, match="The 0th input has a dimension with stride 0"):
            check(lambda x: x * 2, (x,))


def test_single_tensor_input_and_forward_ad_unsupported():
    x = ember.tensor(randn(2)).requires_grad_()
    assert gradcheck(lambda x: x.exp(), x)
    with pytest.raises(NotImplementedError, match="forward-mode AD"):
        gradcheck(lambda x: x.exp(), x, check_forward_ad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert gradcheck(lambda x: x.exp(), x, check_batched_grad=True)


def test_gradcheck_error_is_exported():
    assert issubclass(GradcheckError, RuntimeError)
    assert ember.autograd.GradcheckError is GradcheckError
    from ember.autograd import gradcheck as gc_fn
    assert gc_fn is gradcheck
