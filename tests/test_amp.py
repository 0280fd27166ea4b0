"""ember.amp against torch.amp: autocast's casts op by op, its state, and GradScaler."""
from __future__ import annotations

import pickle
import threading
import warnings

import numpy as np
import pytest
import torch
from oracle import assert_same, check, check_error, randn, to_ember, to_torch

import ember

BF16 = dict(rtol=3e-2, atol=3e-2)  # bfloat16 rounding, compounded over a few ops


def _autocast(fn, dtype_name="bfloat16"):
    """fn(lib, *ts) run under lib.autocast("cpu", dtype)."""
    def run(lib, *ts):
        with lib.autocast("cpu", dtype=getattr(lib, dtype_name)):
            return fn(lib, *ts)
    return run


def _idx(lib, values):
    return lib.tensor(values)


# (name, fn(lib, x, w), x shape, w shape): x and w are float32 leaves that require grad.
LOWER = [
    ("matmul", lambda lib, x, w: lib.matmul(x, w), (3, 4), (4, 5)),
    ("matmul_batched", lambda lib, x, w: x @ w, (2, 3, 4), (4, 5)),
    ("matmul_vec", lambda lib, x, w: lib.matmul(x, w), (4,), (4,)),
    ("mm", lambda lib, x, w: lib.mm(x, w), (3, 4), (4, 5)),
    ("bmm", lambda lib, x, w: lib.bmm(x, w), (2, 3, 4), (2, 4, 5)),
    ("addmm", lambda lib, x, w: lib.addmm(w[0, :3], x, w), (3, 4), (4, 3)),
    ("baddbmm", lambda lib, x, w: lib.baddbmm(x[:, :, :3], x, w), (2, 3, 4), (2, 4, 3)),
    ("addbmm", lambda lib, x, w: lib.addbmm(x[0, :, :3], x, w), (2, 3, 4), (2, 4, 3)),
    ("einsum", lambda lib, x, w: lib.einsum("bij,jk->bik", x, w), (2, 3, 4), (4, 5)),
    ("linear", lambda lib, x, w: lib.nn.functional.linear(x, w, w[:, 0]), (3, 4), (5, 4)),
    ("linear_3d", lambda lib, x, w: lib.nn.functional.linear(x, w), (2, 3, 4), (5, 4)),
    ("conv1d", lambda lib, x, w: lib.nn.functional.conv1d(x, w, w[:, 0, 0], padding=1),
     (2, 3, 7), (4, 3, 3)),
    ("conv2d", lambda lib, x, w: lib.nn.functional.conv2d(x, w, stride=2), (2, 3, 6, 6),
     (4, 3, 3, 3)),
    ("conv3d", lambda lib, x, w: lib.nn.functional.conv3d(x, w), (1, 2, 4, 4, 4),
     (3, 2, 2, 2, 2)),
    ("conv_transpose1d", lambda lib, x, w: lib.nn.functional.conv_transpose1d(x, w),
     (2, 3, 5), (3, 4, 3)),
    ("conv_transpose2d", lambda lib, x, w: lib.nn.functional.conv_transpose2d(x, w, stride=2),
     (1, 3, 4, 4), (3, 2, 3, 3)),
    ("conv_transpose3d", lambda lib, x, w: lib.nn.functional.conv_transpose3d(x, w),
     (1, 2, 3, 3, 3), (2, 2, 2, 2, 2)),
    ("prelu", lambda lib, x, w: lib.nn.functional.prelu(x, w[0]), (2, 3, 4), (2, 3)),
    ("sdpa", lambda lib, x, w: lib.nn.functional.scaled_dot_product_attention(x, w, w),
     (2, 3, 4), (2, 5, 4)),
    ("sdpa_float_mask", lambda lib, x, w: lib.nn.functional.scaled_dot_product_attention(
        x, w, w, attn_mask=x[0, :, :1] * 0.1), (2, 3, 4), (2, 3, 4)),
]

FP32 = [
    ("mse_loss", lambda lib, x, w: lib.nn.functional.mse_loss(x, w)),
    ("l1_loss", lambda lib, x, w: lib.nn.functional.l1_loss(x, w)),
    ("smooth_l1_loss", lambda lib, x, w: lib.nn.functional.smooth_l1_loss(x, w)),
    ("huber_loss", lambda lib, x, w: lib.nn.functional.huber_loss(x, w)),
    ("cross_entropy", lambda lib, x, w: lib.nn.functional.cross_entropy(x, _idx(lib, [0, 2, 1]))),
    ("cross_entropy_probs", lambda lib, x, w: lib.nn.functional.cross_entropy(x, w.softmax(-1))),
    ("nll_loss", lambda lib, x, w: lib.nn.functional.nll_loss(x, _idx(lib, [0, 2, 1]))),
    ("kl_div", lambda lib, x, w: lib.nn.functional.kl_div(x, w.softmax(-1),
                                                          reduction="batchmean")),
    ("bce", lambda lib, x, w: lib.nn.functional.binary_cross_entropy(x.sigmoid(), w.sigmoid())),
    ("bce_logits", lambda lib, x, w: lib.nn.functional.binary_cross_entropy_with_logits(
        x, w.sigmoid())),
    ("soft_margin", lambda lib, x, w: lib.nn.functional.soft_margin_loss(x, w.sign().detach())),
    ("margin_ranking", lambda lib, x, w: lib.nn.functional.margin_ranking_loss(
        x[0], x[1], w[0].sign())),
    ("hinge_embedding", lambda lib, x, w: lib.nn.functional.hinge_embedding_loss(x, w.sign())),
    ("cosine_embedding", lambda lib, x, w: lib.nn.functional.cosine_embedding_loss(
        x, w, _idx(lib, [1, -1, 1]))),
    ("triplet_margin", lambda lib, x, w: lib.nn.functional.triplet_margin_loss(x, w, x * 0.5)),
    ("multi_margin", lambda lib, x, w: lib.nn.functional.multi_margin_loss(
        x, _idx(lib, [0, 2, 1]))),
    ("multilabel_margin", lambda lib, x, w: lib.nn.functional.multilabel_margin_loss(
        x, _idx(lib, [[0, 1, -1, 0], [2, -1, 0, 0], [3, 2, 1, 0]]))),
    ("poisson_nll", lambda lib, x, w: lib.nn.functional.poisson_nll_loss(x, w.abs())),
    ("prod", lambda lib, x, w: (x * 0.1 + 1).prod(1)),
    ("trace", lambda lib, x, w: lib.trace(x)),
    ("max_pool3d", lambda lib, x, w: lib.nn.functional.max_pool3d(x[None, None], (1, 2, 2))),
    ("avg_pool3d", lambda lib, x, w: lib.nn.functional.avg_pool3d(x[None, None], (1, 2, 2))),
    ("pad_reflect", lambda lib, x, w: lib.nn.functional.pad(x[None], (1, 1), mode="reflect")),
    ("pad_replicate", lambda lib, x, w: lib.nn.functional.pad(x[None], (1, 2),
                                                              mode="replicate")),
]

# Ops outside both lists keep the dtype type promotion gives (bfloat16 in, bfloat16 out).
UNLISTED = [
    ("softmax", lambda lib, x, w: x.softmax(-1)),
    ("layer_norm", lambda lib, x, w: lib.nn.functional.layer_norm(x, (4,))),
    ("relu_add", lambda lib, x, w: (x.relu() + w).sum()),
    ("pad_reflect_3d", lambda lib, x, w: lib.nn.functional.pad(x.reshape(1, 1, 3, 2, 2),
                                                               (1, 1, 1, 1, 1, 1),
                                                               mode="reflect")),
    ("multilabel_soft_margin", lambda lib, x, w: lib.nn.functional.multilabel_soft_margin_loss(
        x, (w > 0).to(x.dtype))),
]


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
@pytest.mark.parametrize("name,fn,xs,ws", LOWER, ids=[c[0] for c in LOWER])
def test_lower_precision_ops(name, fn, xs, ws, dtype):
    """float32 inputs are cast to the autocast dtype; float32 leaves get float32 grads."""
    e, t = check(_autocast(fn, dtype), randn(*xs, dtype=np.float32),
                 randn(*ws, dtype=np.float32, seed=1), **BF16)
    assert str(e.dtype) == str(t.dtype) == f"torch.{dtype}"


@pytest.mark.parametrize("name,fn,xs,ws", LOWER[:3], ids=[c[0] for c in LOWER[:3]])
def test_lower_precision_keeps_float64(name, fn, xs, ws):
    e, t = check(_autocast(fn), randn(*xs), randn(*ws, seed=1))
    assert str(e.dtype) == "torch.float64"


@pytest.mark.parametrize("name,fn", FP32, ids=[c[0] for c in FP32])
def test_fp32_ops(name, fn):
    """bfloat16 inputs of range-sensitive ops are computed in float32."""
    e, t = check(_autocast(fn), randn(3, 4, dtype=np.float32).astype("bfloat16"),
                 randn(3, 4, dtype=np.float32, seed=1).astype("bfloat16"), **BF16)
    assert str(e.dtype) == str(t.dtype) == "torch.float32"


@pytest.mark.parametrize("name,fn", UNLISTED, ids=[c[0] for c in UNLISTED])
def test_unlisted_ops_follow_promotion(name, fn):
    check(_autocast(fn), randn(3, 4, dtype=np.float32).astype("bfloat16"),
          randn(3, 4, dtype=np.float32, seed=1), **BF16)


def test_unlisted_float32_ops_stay_float32():
    check(_autocast(lambda lib, x, w: (x.softmax(-1) * w).tanh()), randn(3, 4, dtype=np.float32),
          randn(3, 4, dtype=np.float32, seed=1))


def test_bilinear_stays_float32():
    """Not in the list: the product inside is in bfloat16, the result float32, as torch's."""
    e, _ = check(_autocast(lambda lib, x, w: lib.nn.functional.bilinear(x, x, w)),
                 randn(3, 4, dtype=np.float32), randn(2, 4, 4, dtype=np.float32, seed=1),
                 **BF16)
    assert e.dtype is ember.float32


def _mlp(lib):
    lib.manual_seed(0)
    return lib.nn.Sequential(lib.nn.Linear(6, 8), lib.nn.ReLU(), lib.nn.LayerNorm(8),
                             lib.nn.Linear(8, 3))


def test_training_step_matches_torch():
    """A model's forward and loss under autocast, backward outside: dtypes and grads."""
    tm, em = _mlp(torch), _mlp(ember)
    em.load_state_dict({k: to_ember(v.numpy()) for k, v in tm.state_dict().items()})
    x, y = randn(5, 6, dtype=np.float32), np.array([0, 2, 1, 1, 0])
    outs = []
    for lib, m in ((torch, tm), (ember, em)):
        with lib.autocast("cpu"):
            out = m(lib.tensor(x))
            loss = lib.nn.functional.cross_entropy(out, lib.tensor(y))
        loss.backward()
        outs.append((out, loss))
    assert_same(outs[1][0], outs[0][0], **BF16)
    assert_same(outs[1][1], outs[0][1], **BF16)
    for (ek, ep), (_, tp) in zip(em.named_parameters(), tm.named_parameters()):
        assert ep.grad.dtype is ember.float32
        assert_same(ep.grad, tp.grad, what=f"grad of {ek}", **BF16)


def test_backward_inside_autocast():
    x = ember.randn(4, 3, requires_grad=True)
    w = ember.randn(2, 3, requires_grad=True)
    with ember.autocast("cpu"):
        loss = ember.nn.functional.linear(x, w).float().pow(2).sum()
        loss.backward()
    assert x.grad.dtype is ember.float32 and w.grad.dtype is ember.float32


def test_conv_module_and_attention_module():
    def make(lib):
        lib.manual_seed(0)
        return lib.nn.Sequential(lib.nn.Conv2d(3, 4, 3, padding=1), lib.nn.BatchNorm2d(4),
                                 lib.nn.ReLU(), lib.nn.Flatten(), lib.nn.Linear(64, 4))
    tm, em = make(torch), make(ember)
    em.load_state_dict({k: to_ember(v.numpy()) for k, v in tm.state_dict().items()})
    x = randn(2, 3, 4, 4, dtype=np.float32)
    with torch.autocast("cpu"):
        t = tm(to_torch(x))
    with ember.autocast("cpu"):
        e = em(to_ember(x))
    assert_same(e, t, **BF16)



@pytest.mark.parametrize("name, kw", [
    ("LSTM", {}), ("LSTM", {"num_layers": 2, "bidirectional": True}),
    ("LSTM", {"proj_size": 3}), ("LSTM", {"packed": True}), ("GRU", {}),
    ("GRU", {"batch_first": True}), ("GRU", {"packed": True}), ("RNN", {}),
    ("LSTMCell", {}), ("GRUCell", {}), ("RNNCell", {}),
])
def test_recurrent_layers_take_torch_dtypes(name, kw):
    # torch runs a plain nn.LSTM in bfloat16 and GRU, LSTMCell and GRUCell in float32
    packed = kw.pop("packed", False)

    def make(lib):
        return getattr(lib.nn, name)(4, 6, **kw)

    def run(lib, m, x):
        if packed:
            x = lib.nn.utils.rnn.pack_padded_sequence(x, [5, 4, 2])
        with lib.autocast("cpu"):
            out = m(x)
        return (out[0].data, out[1]) if packed else out
    tm, em = make(torch), make(ember)
    em.load_state_dict({k: to_ember(v.detach().numpy()) for k, v in tm.state_dict().items()})
    x = randn(5, 3, 4, dtype=np.float32)[0 if "Cell" in name else slice(None)]
    tx, ex = to_torch(x, True), to_ember(x, True)
    t, e = run(torch, tm, tx), run(ember, em, ex)
    assert_same(e, t, **BF16)
    t_out, e_out = (t[0], e[0]) if isinstance(t, tuple) else (t, e)
    t_out.float().sum().backward()
    e_out.float().sum().backward()
    assert_same(ex.grad, tx.grad, rtol=6e-2, atol=6e-2)
    for (pname, tp), ep in zip(tm.named_parameters(), em.parameters()):
        assert_same(ep.grad, tp.grad, rtol=6e-2, atol=6e-2, what=pname)

def test_weight_cast_is_cached_within_a_region():
    w = ember.randn(4, 4, requires_grad=True)
    with ember.autocast("cpu"):
        a, b = w @ w, ember.mm(w, w)
        assert a.grad_fn.next_functions[0][0] is b.grad_fn.next_functions[1][0]
        with ember.autocast("cpu", cache_enabled=False):
            c = w @ w
        assert c.grad_fn.next_functions[0][0] is not a.grad_fn.next_functions[0][0]
    with ember.autocast("cpu"):
        d = w @ w
    assert d.grad_fn.next_functions[0][0] is not a.grad_fn.next_functions[0][0]
    (a.float().sum() + d.float().sum()).backward()
    assert w.grad.dtype is ember.float32


# ----------------------------------------------------------------- state and nesting
def test_state_nesting_and_disabled():
    for lib in (torch, ember):
        assert not lib.is_autocast_enabled("cpu") and not lib.is_autocast_enabled()
        with lib.autocast("cpu"):
            assert lib.is_autocast_enabled("cpu") and not lib.is_autocast_enabled()
            assert lib.get_autocast_dtype("cpu") == lib.bfloat16
            assert (lib.ones(2, 2) @ lib.ones(2, 2)).dtype == lib.bfloat16
            with lib.autocast("cpu", enabled=False):
                assert not lib.is_autocast_enabled("cpu")
                assert (lib.ones(2, 2) @ lib.ones(2, 2)).dtype == lib.float32
            with lib.autocast("cpu", dtype=lib.float16):
                assert lib.get_autocast_dtype("cpu") == lib.float16
                assert (lib.ones(2, 2) @ lib.ones(2, 2)).dtype == lib.float16
            assert lib.get_autocast_dtype("cpu") == lib.bfloat16
            assert lib.is_autocast_enabled("cpu")
        assert not lib.is_autocast_enabled("cpu")
        assert lib.get_autocast_dtype("cuda") == lib.float16
        assert (lib.ones(2, 2) @ lib.ones(2, 2)).dtype == lib.float32


def test_exit_restores_state_after_an_exception():
    with pytest.raises(ValueError), ember.autocast("cpu"):
        raise ValueError
    assert not ember.is_autocast_enabled("cpu")
    assert (ember.ones(2, 2) @ ember.ones(2, 2)).dtype is ember.float32


def test_decorator():
    for lib in (torch, ember):
        @lib.autocast("cpu")
        def f(a, lib=lib):
            return lib.is_autocast_enabled("cpu"), (a @ a).dtype

        assert f(lib.ones(2, 2)) == (True, lib.bfloat16)
        assert not lib.is_autocast_enabled("cpu")


def test_state_is_per_thread():
    seen = []
    with ember.autocast("cpu"):
        t = threading.Thread(target=lambda: seen.append(
            (ember.is_autocast_enabled("cpu"), (ember.ones(2, 2) @ ember.ones(2, 2)).dtype)))
        t.start()
        t.join()
    assert seen == [(False, ember.float32)]


def _warned(fn):
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        result = fn()
    return result, [(x.category, str(x.message)) for x in w]


@pytest.mark.parametrize("kwargs", [{"dtype": "float32"}, {"dtype": "float64"}])
def test_unsupported_cpu_dtype_warns_and_disables(kwargs):
    res = []
    for lib in (torch, ember):
        def enter(lib=lib):
            with lib.autocast("cpu", dtype=getattr(lib, kwargs["dtype"])):
                return lib.is_autocast_enabled("cpu")
        res.append(_warned(enter))
    assert res[0] == res[1] and res[1][0] is False and res[1][1]


def test_cuda_without_gpu_warns_and_disables():
    if ember.cuda.is_available():
        pytest.skip("a GPU is present")
    res = []
    for lib in (torch, ember):
        def enter(lib=lib):
            with lib.autocast("cuda"):
                return lib.is_autocast_enabled("cuda"), (lib.ones(2, 2) @ lib.ones(2, 2)).dtype
        (on, dtype), w = _warned(enter)
        res.append((on, str(dtype), w))
    assert res[0] == res[1]


def test_bad_device_type():
    check_error(lambda lib: lib.autocast(lib.device("cpu")), match="Expected `device_type`")
    check_error(lambda lib: lib.autocast("nope"), match="nope")
    check_error(lambda lib: lib.is_autocast_enabled("nope"), match="nope")


def test_deprecated_queries_warn():
    for name in ("is_autocast_cpu_enabled", "get_autocast_cpu_dtype", "get_autocast_gpu_dtype"):
        (t, tw), (e, ew) = (_warned(getattr(lib, name)) for lib in (torch, ember))
        assert str(t) == str(e)
        assert [c for c, _ in tw] == [c for c, _ in ew] == [DeprecationWarning]
        assert ew[0][1] in tw[0][1]


def test_cuda_amp_aliases_warn():
    if ember.cuda.is_available():
        pytest.skip("a GPU is present")
    for name in ("autocast", "GradScaler"):
        (_, tw), (_, ew) = (_warned(getattr(lib.cuda.amp, name)) for lib in (torch, ember))
        assert ew == tw
    assert issubclass(ember.cuda.amp.autocast, ember.amp.autocast)
    assert issubclass(ember.cuda.amp.GradScaler, ember.amp.GradScaler)
    assert ember.amp.is_autocast_available("cpu")


def _custom_function_run(lib, cast_inputs):
    seen = []

    class Double(lib.autograd.Function):
        @staticmethod
        @lib.amp.custom_fwd(device_type="cpu", cast_inputs=cast_inputs)
        def forward(ctx, x, m):
            seen.append((str(x.dtype), lib.is_autocast_enabled("cpu"), str((m @ m).dtype)))
            return x * 2

        @staticmethod
        @lib.amp.custom_bwd(device_type="cpu")
        def backward(ctx, grad):
            seen.append(lib.is_autocast_enabled("cpu"))
            return grad * 2, None

    x = lib.ones(3, dtype=lib.bfloat16, requires_grad=True)
    with lib.autocast("cpu"):
        y = Double.apply(x, lib.ones(2, 2))
    y.sum().backward()
    return seen, str(y.dtype), str(x.grad.dtype), x.grad.tolist()


@pytest.mark.parametrize("cast", [None, "float32"])
def test_custom_fwd_and_bwd(cast):
    t, e = (_custom_function_run(lib, cast and getattr(lib, cast)) for lib in (torch, ember))
    assert e == t


# ----------------------------------------------------------------- GradScaler
def _scaler_run(lib, grads, **kw):
    """Run a GradScaler over a sequence of gradient multipliers (inf makes a bad step)."""
    p = lib.nn.Parameter(lib.tensor([1.0, -2.0, 3.0]))
    opt = lib.optim.SGD([p], lr=0.1)
    scaler = lib.amp.GradScaler("cpu", **kw)
    trace = []
    for g in grads:
        opt.zero_grad()
        loss = (p * lib.tensor([g, 1.0, 2.0])).sum()
        scaled = scaler.scale(loss)
        scaled.backward()
        scaler.step(opt)
        scaler.update()
        trace.append((scaled.item(), scaler.get_scale(), scaler._get_growth_tracker(),
                      p.detach().tolist(), p.grad.tolist()))
    return trace, scaler.state_dict()


def test_grad_scaler_trajectory_with_overflow():
    kw = dict(init_scale=8.0, growth_interval=2)
    grads = [1.0, 0.5, float("inf"), 2.0, float("nan"), 1.0, 1.0, 3.0]
    # repr: NaN gradients compare equal as text
    assert repr(_scaler_run(ember, grads, **kw)) == repr(_scaler_run(torch, grads, **kw))


def test_grad_scaler_growth_stops_before_overflow():
    kw = dict(init_scale=2.0**127, growth_interval=1)
    assert _scaler_run(ember, [1.0, 1.0], **kw) == _scaler_run(torch, [1.0, 1.0], **kw)


def test_grad_scaler_unscale_then_clip():
    results = []
    for lib in (torch, ember):
        p = lib.nn.Parameter(lib.tensor([3.0, 4.0]))
        opt = lib.optim.SGD([p], lr=1.0)
        scaler = lib.amp.GradScaler("cpu", init_scale=1024.0)
        scaler.scale((p * p).sum()).backward()
        scaler.unscale_(opt)
        g = p.grad.tolist()
        norm = lib.nn.utils.clip_grad_norm_([p], 1.0)
        scaler.step(opt)
        scaler.update()
        results.append((g, float(norm), p.detach().tolist(), scaler.get_scale()))
    assert results[0] == pytest.approx(results[1])


def test_grad_scaler_scales_nested_outputs():
    s = ember.amp.GradScaler("cpu", init_scale=4.0)
    a, b = ember.ones(2), ember.ones(3, dtype=ember.bfloat16)
    out = s.scale([a, (b, a)])
    assert isinstance(out, list) and isinstance(out[1], tuple)
    assert out[0].tolist() == [4.0, 4.0] and out[1][0].dtype is ember.bfloat16
    with pytest.raises(ValueError, match="outputs must be a Tensor"):
        s.scale([3])


def test_grad_scaler_stage_errors():
    for lib in (torch, ember):
        p = lib.nn.Parameter(lib.ones(2))
        opt = lib.optim.SGD([p], lr=0.1)
        s = lib.amp.GradScaler("cpu")
        for call in (s.unscale_, s.step, s.update):
            with pytest.raises(AssertionError, match="but _scale is None"):
                call() if call == s.update else call(opt)
        s.scale(p.sum()).backward()
        s.unscale_(opt)
        with pytest.raises(RuntimeError, match="already been called on this optimizer"):
            s.unscale_(opt)
        s.step(opt)
        with pytest.raises(RuntimeError, match="step\\(\\) has already been called"):
            s.step(opt)
        with pytest.raises(RuntimeError, match="after step"):
            s.unscale_(opt)
        with pytest.raises(RuntimeError, match="Closure use is not currently supported"):
            s.step(opt, closure=lambda: 0)
        s.update()
        with pytest.raises(AssertionError, match="growth factor"):
            lib.amp.GradScaler("cpu", growth_factor=1.0)
        with pytest.raises(RuntimeError, match="source state dict is empty"):
            s.load_state_dict({})


def test_grad_scaler_refuses_fp16_grads():
    check_error(lambda lib: _fp16_unscale(lib), match="Attempting to unscale FP16 gradients.")


def _fp16_unscale(lib):
    p = lib.nn.Parameter(lib.ones(2, dtype=lib.float16))
    opt = lib.optim.SGD([p], lr=1.0)
    s = lib.amp.GradScaler("cpu", init_scale=4.0)
    s.scale(p.float().sum()).backward()
    s.unscale_(opt)


def test_grad_scaler_update_new_scale_and_state_dict():
    res = []
    for lib in (torch, ember):
        s = lib.amp.GradScaler("cpu", init_scale=4.0, growth_interval=3)
        s.scale(lib.ones(1))
        s.update(8.0)
        a = s.get_scale()
        s.update(lib.tensor(16.0))
        with pytest.raises(AssertionError, match="new_scale should be a float"):
            s.update(lib.tensor([1.0, 2.0]))
        t = lib.amp.GradScaler("cpu")
        t.load_state_dict({**s.state_dict(), "_growth_tracker": 2})
        u = pickle.loads(pickle.dumps(t))
        res.append((a, s.state_dict(), t.state_dict(), u.state_dict(), u.is_enabled()))
    assert res[0] == res[1]


def test_grad_scaler_disabled_is_a_pass_through():
    s = ember.amp.GradScaler("cpu", enabled=False)
    p = ember.nn.Parameter(ember.ones(2))
    opt = ember.optim.SGD([p], lr=1.0)
    loss = p.sum()
    assert s.scale(loss) is loss
    loss.backward()
    s.unscale_(opt)
    s.step(opt)
    s.update()
    assert p.tolist() == [0.0, 0.0]
    assert (s.get_scale(), s.state_dict(), s.is_enabled()) == (1.0, {}, False)


def test_grad_scaler_cuda_default_without_gpu():
    if ember.cuda.is_available():
        pytest.skip("a GPU is present")
    (t, tw), (e, ew) = (_warned(lambda lib=lib: lib.amp.GradScaler().is_enabled())
                        for lib in (torch, ember))
    assert (t, tw) == (e, ew) and e is False
