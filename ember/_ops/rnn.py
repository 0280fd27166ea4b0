"""Recurrent cell kernels: the elementwise part of one LSTM / GRU time step, fused.

A recurrent layer spends its time in two matrix products per step (the input
projection, done once for the whole sequence, and the hidden projection) and in
a dozen elementwise operations on the gates. The products are ordinary
`linear` calls; the gate arithmetic of one step is a single Function here, so a
step costs one graph node instead of ~15. Backward recomputes the gate
activations from the saved pre-activations with ember ops, so create_graph=True
still yields higher-order gradients.

A whole LSTM layer direction can also run as one Function (`LSTMLayer`): its
forward loops over the steps on raw arrays and keeps the gate activations, its
backward loops back over them and finds the hidden-to-hidden weight's gradient
with one GEMM over all steps at the end. That is one graph node per layer
instead of three per step. Under create_graph=True its backward instead
differentiates the same steps rebuilt from the per-step cells above, so
higher-order gradients stay exact.

Gate layout follows torch: LSTM rows are (input, forget, cell, output), GRU rows
are (reset, update, new).
"""
from __future__ import annotations

import numpy as np

from ember._device import array_module as _xp
from ember._ops.conv import linear
from ember._ops.linalg import addmm
from ember._ops.shape import cat, stack
from ember._tensor import Tensor, _make
from ember.autograd.function import Function
from ember.autograd.grad_mode import enable_grad, is_grad_enabled

__all__: list[str] = []

_HALF = (np.dtype(np.float16),)


def _sigmoid(x):
    # 1 / (1 + exp(-x)) written with tanh: no overflow warnings for large |x|
    return 0.5 * (np.tanh(0.5 * x) + 1.0) if isinstance(x, np.ndarray) else \
        0.5 * (x.__array_namespace__().tanh(0.5 * x) + 1.0)


def _tanh(x):
    return np.tanh(x) if isinstance(x, np.ndarray) else x.__array_namespace__().tanh(x)


def _opmath(x):
    """float16/bfloat16 computed in float32 (rounded once at the end)."""
    return x.astype(np.float32) if x.dtype.itemsize == 2 else x


class LSTMCellPointwise(Function):
    """(h', c') from the summed gate pre-activations (N, 4H) and the cell state c."""

    _node_name = "LstmCellPointwiseBackward0"

    @staticmethod
    def forward(ctx, gates: Tensor, c: Tensor):
        ga = _opmath(gates._data)
        i, f, g, o = np.split(ga, 4, axis=-1) if isinstance(ga, np.ndarray) else \
            ga.__array_namespace__().split(ga, 4, axis=-1)
        i, f, g, o = _sigmoid(i), _sigmoid(f), _tanh(g), _sigmoid(o)
        c_new = f * _opmath(c._data) + i * g
        h_new = o * _tanh(c_new)
        # as torch's unfused step: a low-precision gate sum meeting a float32 cell is float32
        dt = np.result_type(gates._data.dtype, c._data.dtype)
        h_out, c_out = _make(h_new.astype(dt, copy=False)), _make(c_new.astype(dt, copy=False))
        ctx.save_for_backward(gates, c, c_out)
        return h_out, c_out

    @staticmethod
    def backward(ctx, grad_h: Tensor, grad_c: Tensor):
        gates, c, c_new = ctx.saved_tensors
        H = c.shape[-1]
        s = gates.sigmoid()  # the gate activations; the cell-gate slice is replaced by tanh
        s_if, s_o = s[..., :2 * H], s[..., 3 * H:]
        g = gates[..., 2 * H:3 * H].tanh()
        tc = c_new.tanh()
        dc = grad_c + grad_h * s_o * (1 - tc * tc)
        # d gates = (what each gate multiplies) * (its activation's derivative)
        outer = cat([dc * g, dc * c, dc * s_if[..., :H], grad_h * tc], -1)
        slope = cat([s_if * (1 - s_if), 1 - g * g, s_o * (1 - s_o)], -1)
        return outer * slope, dc * s_if[..., H:]


def lstm_cell(gates_x: Tensor, h: Tensor, c: Tensor, w_hh: Tensor, b_hh, w_hr=None) -> tuple:
    """One LSTM step given the input projection x @ w_ih^T + b_ih; returns (h', c').

    A layer folds b_hh into gates_x once per sequence and passes b_hh=None: the step
    is then one addmm node instead of a linear and an add."""
    if b_hh is None:
        gates = addmm(gates_x, h, w_hh.t())
    else:
        gates = gates_x + linear(h, w_hh, b_hh)
    h_new, c_new = LSTMCellPointwise.apply(gates, c)
    if w_hr is not None:
        h_new = linear(h_new, w_hr)
    return h_new, c_new


class GRUCellPointwise(Function):
    """h' from the input projection gi (N, 3H), the hidden projection gh (N, 3H) and h."""

    _node_name = "GruCellPointwiseBackward0"

    @staticmethod
    def forward(ctx, gi: Tensor, gh: Tensor, h: Tensor):
        a, b = _opmath(gi._data), _opmath(gh._data)
        H = a.shape[-1] // 3
        r = _sigmoid(a[..., :H] + b[..., :H])
        z = _sigmoid(a[..., H:2 * H] + b[..., H:2 * H])
        n = _tanh(a[..., 2 * H:] + r * b[..., 2 * H:])
        out = n + z * (_opmath(h._data) - n)
        ctx.save_for_backward(gi, gh, h)
        return _make(out.astype(gi._data.dtype, copy=False))

    @staticmethod
    def backward(ctx, grad: Tensor):
        gi, gh, h = ctx.saved_tensors
        ir, iz, in_ = gi.chunk(3, -1)
        hr, hz, hn = gh.chunk(3, -1)
        r, z = (ir + hr).sigmoid(), (iz + hz).sigmoid()
        n = (in_ + r * hn).tanh()
        dn = grad * (1 - z) * (1 - n * n)
        dz = grad * (h - n) * z * (1 - z)
        dr = dn * hn * r * (1 - r)
        return cat([dr, dz, dn], -1), cat([dr, dz, dn * r], -1), grad * z


def gru_cell(gates_x: Tensor, h: Tensor, w_hh: Tensor, b_hh) -> Tensor:
    """One GRU step given the input projection x @ w_ih^T + b_ih."""
    return GRUCellPointwise.apply(gates_x, linear(h, w_hh, b_hh), h)


def rnn_tanh_cell(gates_x: Tensor, h: Tensor, w_hh: Tensor, b_hh) -> Tensor:
    """One Elman step with tanh: tanh(x @ w_ih^T + b_ih + h @ w_hh^T + b_hh)."""
    return (gates_x + linear(h, w_hh, b_hh)).tanh()


def rnn_relu_cell(gates_x: Tensor, h: Tensor, w_hh: Tensor, b_hh) -> Tensor:
    """One Elman step with relu."""
    return (gates_x + linear(h, w_hh, b_hh)).relu()


class LSTMLayer(Function):
    """One direction of one LSTM layer over T steps of equal batch size.

    gx (T, N, 4H) is the input projection with both biases added; h0, c0 are (N, H);
    w_hh is (4H, H). Returns the hidden states of every step (T, N, H) in time order
    and the final (h, c)."""

    _node_name = "MkldnnRnnLayerBackward0"

    @staticmethod
    def forward(ctx, gx: Tensor, h0: Tensor, c0: Tensor, w_hh: Tensor, reverse: bool):
        G, W = gx._data, w_hh._data
        xp = _xp(G)
        T, n, H4 = G.shape
        H = H4 // 4
        out = xp.empty((T, n, H), G.dtype)
        cs = xp.empty((T, n, H), G.dtype)  # cell state after each step
        tcs = xp.empty((T, n, H), G.dtype)  # and its tanh
        acts = xp.empty((T, n, H4), G.dtype)  # activated gates i, f, g, o of each step
        h, c = h0._data, c0._data
        # W^T copied once: BLAS multiplies a small h by it faster than by the transposed view
        wt = xp.ascontiguousarray(W.T)
        for t in (range(T - 1, -1, -1) if reverse else range(T)):
            z = xp.matmul(h, wt)
            z += G[t]
            a = acts[t]
            # sigmoid(z) = (tanh(z / 2) + 1) / 2 on all gates, in place; then tanh on g
            xp.multiply(z, 0.5, out=a)
            xp.tanh(a, out=a)
            a += 1
            a *= 0.5
            xp.tanh(z[:, 2 * H:3 * H], out=a[:, 2 * H:3 * H])
            c = xp.multiply(a[:, H:2 * H], c, out=cs[t])
            c += a[:, :H] * a[:, 2 * H:3 * H]
            h = xp.multiply(a[:, 3 * H:], xp.tanh(c, out=tcs[t]), out=out[t])
        ctx.save_for_backward(gx, h0, c0, w_hh)
        ctx.out, ctx.cs, ctx.tcs, ctx.acts, ctx.reverse = out, cs, tcs, acts, reverse
        return _make(out.copy()), _make(h.copy()), _make(c.copy())

    @staticmethod
    def backward(ctx, g_out: Tensor, g_h: Tensor, g_c: Tensor):
        gx, h0, c0, w_hh = ctx.saved_tensors
        if is_grad_enabled():  # create_graph: differentiate the per-step graph instead
            return _lstm_layer_grad_graph(ctx, gx, h0, c0, w_hh, (g_out, g_h, g_c))
        W, out, cs, tcs, acts = w_hh._data, ctx.out, ctx.cs, ctx.tcs, ctx.acts
        xp = _xp(W)
        T, n, H = out.shape
        # the state each step started from, in step order
        if ctx.reverse:
            h_prev = xp.concatenate([out[1:], h0._data[None]])
            c_prev = xp.concatenate([cs[1:], c0._data[None]])
        else:
            h_prev = xp.concatenate([h0._data[None], out[:-1]])
            c_prev = xp.concatenate([c0._data[None], cs[:-1]])
        # what each gate's pre-activation gradient is, per unit of dc (i, f, g) or dh (o),
        # and dc's part of dh: all outside the recurrence, for every step at once
        a4 = acts.reshape(T, n, 4, H)
        i, f, g, o = a4[:, :, 0], a4[:, :, 1], a4[:, :, 2], a4[:, :, 3]
        slope = xp.empty((T, n, 4, H), acts.dtype)
        slope[:, :, 0] = g * i * (1 - i)
        slope[:, :, 1] = c_prev * f * (1 - f)
        slope[:, :, 2] = i * (1 - g * g)
        slope[:, :, 3] = tcs * o * (1 - o)
        dc_dh = o * (1 - tcs * tcs)
        go = g_out._data
        dh, dc = g_h._data.copy(), g_c._data.copy()
        dG = xp.empty((T, n, 4, H), acts.dtype)
        for t in (range(T) if ctx.reverse else range(T - 1, -1, -1)):  # backward in time
            dh += go[t]
            dc += dh * dc_dh[t]
            d = dG[t]
            xp.multiply(slope[t, :, :3], dc[:, None], out=d[:, :3])
            xp.multiply(slope[t, :, 3], dh, out=d[:, 3])
            dc *= f[t]
            dh = xp.matmul(d.reshape(n, 4 * H), W)
        dG = dG.reshape(T, n, 4 * H)
        need = ctx.needs_input_grad
        gW = _make(dG.reshape(-1, 4 * H).T @ h_prev.reshape(-1, H)) if need[3] else None
        return (_make(dG) if need[0] else None, _make(dh) if need[1] else None,
                _make(dc) if need[2] else None, gW, None)


def _lstm_layer_grad_graph(ctx, gx, h0, c0, w_hh, grads):
    """LSTMLayer's input gradients as differentiable Tensors: the steps are rebuilt
    from the per-step cells on the layer's own inputs and differentiated with
    create_graph, so gradients of the gradients reach every input."""
    from ember.autograd import grad as _grad
    with enable_grad():
        steps = gx.unbind(0)
        h, c = h0, c0
        outs = [None] * len(steps)
        for t in (range(len(steps) - 1, -1, -1) if ctx.reverse else range(len(steps))):
            h, c = lstm_cell(steps[t], h, c, w_hh, None)
            outs[t] = h
        inputs = [(k, x) for k, x in enumerate((gx, h0, c0, w_hh))
                  if ctx.needs_input_grad[k]]
        found = _grad([stack(outs), h, c], [x for _, x in inputs], list(grads),
                      create_graph=True, allow_unused=True)
    result = [None] * 5
    for (k, _), g in zip(inputs, found):
        result[k] = g
    return tuple(result)


def lstm_layer(gx: Tensor, h0: Tensor, c0: Tensor, w_hh: Tensor, reverse: bool) -> tuple:
    """(outputs (T, N, H), h_n, c_n) of one LSTM layer direction (see LSTMLayer)."""
    return LSTMLayer.apply(gx, h0, c0, w_hh, reverse)
