"""Recurrent cell kernels: the elementwise part of one LSTM / GRU time step, fused.

A recurrent layer spends its time in two matrix products per step (the input
projection, done once for the whole sequence, and the hidden projection) and in
a dozen elementwise operations on the gates. The products are ordinary
`linear` calls; the gate arithmetic of one step is a single Function here, so a
step costs one graph node instead of ~15. Backward recomputes the gate
activations from the saved pre-activations with ember ops, so create_graph=True
still yields higher-order gradients.

Gate layout follows torch: LSTM rows are (input, forget, cell, output), GRU rows
are (reset, update, new).
"""
from __future__ import annotations

import numpy as np

from ember._ops.conv import linear
from ember._ops.linalg import addmm
from ember._ops.shape import cat
from ember._tensor import Tensor, _make
from ember.autograd.function import Function

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
        dt = gates._data.dtype
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
