"""The whole-layer LSTM Function (ember/_ops/rnn.py LSTMLayer) against torch and
against calculus: both directions, initial states, second derivatives through
nn.LSTM, and the per-step path it leaves to projections and packed input."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from oracle import check, randn

import ember
from ember._ops.rnn import lstm_layer
from ember.autograd import gradcheck, gradgradcheck


def _state(cls="LSTM", *args, **kw):
    torch.manual_seed(0)
    m = getattr(torch.nn, cls)(*args, dtype=torch.float64, **kw)
    return {k: v.detach().numpy() for k, v in m.state_dict().items()}


def _lstm(lib, sd, *args, **kw):
    m = lib.nn.LSTM(*args, dtype=lib.float64, **kw)
    m.load_state_dict({k: lib.tensor(v) for k, v in sd.items()})
    return m


@pytest.mark.parametrize("reverse", [False, True])
def test_lstm_layer_gradcheck_and_gradgradcheck(reverse):
    def t(*shape, seed, scale=1.0):
        return ember.tensor(randn(*shape, seed=seed) * scale, requires_grad=True)
    args = (t(4, 2, 12, seed=0), t(2, 3, seed=1), t(2, 3, seed=2), t(12, 3, seed=3, scale=0.5))

    def f(gx, h0, c0, w):
        return lstm_layer(gx, h0, c0, w, reverse)
    assert gradcheck(f, args)
    assert gradgradcheck(f, args)


@pytest.mark.parametrize("kw", [{"num_layers": 2, "bidirectional": True},
                                {"batch_first": True, "bias": False}])
def test_lstm_with_states_matches_torch(kw):
    sd = _state("LSTM", 3, 4, **kw)
    n_dir = 2 if kw.get("bidirectional") else 1
    layers = kw.get("num_layers", 1)

    def run(lib, x, h0, c0):
        out, (h, c) = _lstm(lib, sd, 3, 4, **kw)(x, (h0, c0))
        return out, h, c
    batch = 5 if kw.get("batch_first") else 2  # x is (5, 2, 3) either way
    check(run, randn(5, 2, 3), randn(layers * n_dir, batch, 4, seed=1),
          randn(layers * n_dir, batch, 4, seed=2))


def test_lstm_second_derivatives_match_torch():
    sd = _state("LSTM", 3, 4, num_layers=2, bidirectional=True)

    def run(lib, x, h0, c0):
        m = _lstm(lib, sd, 3, 4, num_layers=2, bidirectional=True)
        out, (h, c) = m(x, (h0, c0))
        loss = out.pow(2).sum() + (h * c).sum()
        grads = lib.autograd.grad(loss, [x, h0, c0, *m.parameters()], create_graph=True)
        return sum((g ** 2).sum() for g in grads)
    check(run, randn(5, 2, 3), randn(4, 2, 4, seed=1), randn(4, 2, 4, seed=2))


def test_lstm_float32_step_matches_torch():
    sd = {k: v.astype(np.float32) for k, v in _state("LSTM", 8, 16, num_layers=2).items()}

    def run(lib, x):
        m = lib.nn.LSTM(8, 16, num_layers=2)
        m.load_state_dict({k: lib.tensor(v) for k, v in sd.items()})
        return m(x)[0]
    check(run, randn(12, 3, 8).astype(np.float32), rtol=1e-4, atol=1e-5)


def test_lstm_runs_as_one_node_per_layer_except_projection_and_packed():
    x = ember.randn(5, 2, 3, requires_grad=True)
    out = ember.nn.LSTM(3, 4)(x)[0]
    assert out.grad_fn.name() == "MkldnnRnnLayerBackward0"  # torch's name on CPU
    out = ember.nn.LSTM(3, 4, proj_size=2)(x)[0]
    assert out.grad_fn.name() == "StackBackward0"  # projections keep the per-step cells
