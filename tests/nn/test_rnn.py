"""RNN / LSTM / GRU, their cells and the packed-sequence utilities against torch."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from oracle import check, check_error, check_module, randn

import ember


def _lib(x):
    return torch if isinstance(x, torch.Tensor) else ember


def _mk(cls, input_size=3, hidden=4, **kw):
    def make(lib):
        lib.manual_seed(0)
        return getattr(lib.nn, cls)(input_size, hidden, dtype=lib.float64, **kw)
    return make


X = randn(5, 2, 3)


@pytest.mark.parametrize("cls", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("kw", [{}, {"num_layers": 2, "bidirectional": True},
                                {"batch_first": True, "bias": False}])
def test_layers(cls, kw):
    check_module(_mk(cls, **kw), X)


def test_relu_rnn_unbatched_and_transposed_input():
    check_module(_mk("RNN", nonlinearity="relu"), randn(5, 3))
    xt = randn(2, 5, 3).transpose(1, 0, 2)  # non-contiguous (5, 2, 3)
    check_module(_mk("RNN", num_layers=2), xt)


def test_lstm_projection():
    check_module(_mk("LSTM", proj_size=2, num_layers=2, bidirectional=True), X)
    h0, c0 = randn(2, 2, 2, seed=3), randn(2, 2, 4, seed=4)
    check_module(_mk("LSTM", proj_size=2, num_layers=2), X, h0, c0,
                 call=lambda m, x, h, c: m(x, (h, c)))


@pytest.mark.parametrize("cls", ["RNN", "LSTM", "GRU"])
def test_initial_states(cls):
    h0, c0 = randn(4, 2, 4, seed=3), randn(4, 2, 4, seed=4)
    make = _mk(cls, num_layers=2, bidirectional=True)
    if cls == "LSTM":
        check_module(make, X, h0, c0, call=lambda m, x, h, c: m(x, (h, c)))
        check_module(make, randn(5, 3), h0[:, 0], c0[:, 0], call=lambda m, x, h, c: m(x, (h, c)))
    else:
        check_module(make, X, h0, call=lambda m, x, h: m(x, h))
        check_module(make, randn(5, 3), h0[:, 0], call=lambda m, x, h: m(x, h))


@pytest.mark.parametrize("cls", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("enforce_sorted", [True, False])
def test_packed_input(cls, enforce_sorted):
    x = randn(5, 3, 3)
    lengths = [5, 3, 1] if enforce_sorted else [3, 5, 1]
    h0 = randn(4, 3, 4, seed=3)

    def call(m, x, h):
        lib = _lib(x)
        p = lib.nn.utils.rnn.pack_padded_sequence(x, lengths, enforce_sorted=enforce_sorted)
        out, hn = m(p, (h, h * 0.5) if cls == "LSTM" else h)
        assert isinstance(out, lib.nn.utils.rnn.PackedSequence)
        return lib.nn.utils.rnn.pad_packed_sequence(out)[0], hn
    check_module(_mk(cls, num_layers=2, bidirectional=True), x, h0, call=call)


def test_cells():
    for cls in ["RNNCell", "LSTMCell", "GRUCell"]:
        check_module(_mk(cls), randn(2, 3))
        check_module(_mk(cls, bias=False), randn(3))
    check_module(_mk("RNNCell", nonlinearity="relu"), randn(2, 3), randn(2, 4, seed=1),
                 call=lambda m, x, h: m(x, h))
    check_module(_mk("LSTMCell"), randn(2, 3), randn(2, 4, seed=1), randn(2, 4, seed=2),
                 call=lambda m, x, h, c: m(x, (h, c)))
    check_module(_mk("GRUCell"), randn(2, 3), randn(2, 4, seed=1),
                 call=lambda m, x, h: m(x, h))


@settings(max_examples=10, deadline=None)
@given(T=st.integers(1, 4), N=st.integers(1, 3), layers=st.integers(1, 2),
       bidi=st.booleans(), cls=st.sampled_from(["RNN", "LSTM", "GRU"]))
def test_layers_hypothesis(T, N, layers, bidi, cls):
    check_module(_mk(cls, 2, 3, num_layers=layers, bidirectional=bidi), randn(T, N, 2))


def test_float32_and_second_order():
    x = randn(4, 2, 3, dtype=np.float32)
    check_module(lambda lib: _mk("LSTM")(lib).float(), x, rtol=1e-4, atol=1e-5)

    def fn(lib, x):
        lib.manual_seed(0)
        m = lib.nn.GRU(3, 2, dtype=lib.float64)
        if lib is ember:
            m.load_state_dict({k: ember.tensor(v.numpy()) for k, v in
                               _mk("GRU", 3, 2)(torch).state_dict().items()})
        else:
            m.load_state_dict(_mk("GRU", 3, 2)(torch).state_dict())
        out = m(x)[0]
        (g,) = lib.autograd.grad(out.pow(2).sum(), x, create_graph=True)
        return g
    check(fn, randn(3, 2, 3))

    def fn2(lib, x):
        m = lib.nn.LSTMCell(3, 2, dtype=lib.float64)
        sd = _mk("LSTMCell", 3, 2)(torch).state_dict()
        m.load_state_dict(sd if lib is torch else {k: ember.tensor(v.numpy())
                                                   for k, v in sd.items()})
        h, c = m(x)
        (g,) = lib.autograd.grad((h * c).sum(), x, create_graph=True)
        return g
    check(fn2, randn(2, 3))


def test_state_dict_repr_and_init():
    cases = [("RNN", {"nonlinearity": "relu", "num_layers": 2}),
             ("LSTM", {"proj_size": 2, "num_layers": 2, "bidirectional": True, "dropout": 0.1,
                       "batch_first": True, "bias": False}),
             ("GRU", {"bidirectional": True}), ("RNNCell", {"nonlinearity": "relu"}),
             ("LSTMCell", {"bias": False}), ("GRUCell", {})]
    for cls, kw in cases:
        t, e = _mk(cls, **kw)(torch), _mk(cls, **kw)(ember)
        assert list(e.state_dict()) == list(t.state_dict())
        assert [tuple(p.shape) for p in e.parameters()] == [tuple(p.shape)
                                                           for p in t.parameters()]
        assert repr(e) == repr(t)
    m = ember.nn.LSTM(10, 16)
    w = m.weight_hh_l0
    assert float(w.abs().max()) <= 0.25 and float(w.abs().max()) > 0.2


def test_dropout_between_layers():
    m = ember.nn.LSTM(3, 4, num_layers=2, dropout=0.5)
    x = ember.randn(5, 2, 3, requires_grad=True)
    a, b = m(x)[0], m(x)[0]
    assert a.shape == (5, 2, 4) and not bool((a == b).all())
    m.eval()
    assert bool((m(x)[0] == m(x)[0]).all())
    a.sum().backward()
    assert m.weight_ih_l0.grad is not None and x.grad is not None
    with pytest.warns(UserWarning, match="non-zero dropout expects num_layers greater than 1"):
        ember.nn.GRU(3, 4, dropout=0.5)


def test_empty_sequence():
    check_error(lambda lib, x: _mk("GRU")(lib)(x), randn(0, 2, 3), match="larger than 0")


def test_errors():
    check_error(lambda lib, x: _mk("LSTM")(lib)(x), randn(5, 2, 2), match="input_size")
    check_error(lambda lib, x: _mk("GRU")(lib)(x), randn(1, 5, 2, 3))
    check_error(lambda lib, x, h: _mk("GRU")(lib)(x, h), X, randn(1, 3, 4),
                match="Expected hidden size")
    check_error(lambda lib, x, h: _mk("LSTM")(lib)(x, (h, h)), X, randn(1, 3, 4),
                match=r"Expected hidden\[0\] size")
    check_error(lambda lib, x, h: _mk("RNN")(lib)(x, h), randn(5, 3), randn(1, 2, 4),
                match="hx should also be 2-D")
    check_error(lambda lib: lib.nn.LSTM(3, 4, proj_size=4), match="smaller than hidden_size")
    check_error(lambda lib: lib.nn.GRU(3, 4, proj_size=2), match="only supported for LSTM")
    check_error(lambda lib: lib.nn.RNN(3, 4, nonlinearity="gelu"), match="Unknown nonlinearity")
    check_error(lambda lib: lib.nn.RNN(3, 0), match="greater than zero")
    check_error(lambda lib: lib.nn.RNN(3, 4, dropout=2.0), match="range")
    check_error(lambda lib, x: _mk("LSTMCell")(lib)(x), randn(1, 2, 3), match="1D or 2D")


# ------------------------------------------------------------------ nn.utils.rnn
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("enforce_sorted", [True, False])
def test_pack_pad_round_trip(batch_first, enforce_sorted):
    x = randn(3, 4, 2) if batch_first else randn(4, 3, 2)
    lengths = [4, 2, 1] if enforce_sorted else [2, 4, 1]

    def fn(lib, x):
        p = lib.nn.utils.rnn.pack_padded_sequence(x, lib.tensor(lengths), batch_first,
                                                  enforce_sorted)
        out, lens = lib.nn.utils.rnn.pad_packed_sequence(p, batch_first, padding_value=-1.0,
                                                         total_length=5)
        idx = (p.sorted_indices, p.unsorted_indices) if not enforce_sorted else ()
        return (p.data, p.batch_sizes, out, lens, *idx)
    check(fn, x)


def test_pad_pack_unpack_sequence():
    seqs = [randn(3, 2), randn(1, 2, seed=1), randn(4, 2, seed=2)]
    for side in ("left", "right"):
        check(lambda lib, *s, side=side: lib.nn.utils.rnn.pad_sequence(
            s, batch_first=True, padding_value=3.0, padding_side=side), *seqs)
    check(lambda lib, *s: lib.nn.utils.rnn.pad_sequence(s), *seqs)
    check(lambda lib, *s: tuple(lib.nn.utils.rnn.unpack_sequence(
        lib.nn.utils.rnn.pack_sequence(s, enforce_sorted=False))), *seqs)
    check(lambda lib, *s: lib.nn.utils.rnn.pack_sequence(sorted(s, key=len, reverse=True)).data,
          *seqs)
    x = randn(4, 3, 2)
    check(lambda lib, x: tuple(lib.nn.utils.rnn.unpad_sequence(x * 1, lib.tensor([4, 1, 2]))), x)


def test_packed_sequence_methods():
    p = ember.nn.utils.rnn.pack_sequence([ember.ones(2, 3), ember.ones(1, 3)])
    assert p.double().data.dtype is ember.float64 and p.to(ember.float64).batch_sizes is \
        p.batch_sizes
    assert not p.is_cuda and p.cpu() is p
    data, bs, si, ui = p
    assert bs.tolist() == [2, 1] and si is None and ui is None


def test_utils_errors():
    x = randn(4, 3, 2)
    check_error(lambda lib, x: lib.nn.utils.rnn.pack_padded_sequence(x, [1, 4, 2]), x,
                match="sorted in decreasing order")
    check_error(lambda lib, x: lib.nn.utils.rnn.pack_padded_sequence(x, [4, 2, 0]), x,
                match="greater than 0")
    check_error(lambda lib, x: lib.nn.utils.rnn.pad_packed_sequence(
        lib.nn.utils.rnn.pack_padded_sequence(x, [4, 2, 1]), total_length=2), x,
        match="total_length")


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
@pytest.mark.parametrize("cls", ["RNN", "LSTM", "GRU"])
def test_half_precision(dtype, cls):
    from oracle import assert_same, to_ember, to_torch
    tm = _mk(cls)(torch)
    em = _mk(cls)(ember)
    em.load_state_dict({k: ember.tensor(v.numpy()) for k, v in tm.state_dict().items()})
    tm, em = tm.to(getattr(torch, dtype)), em.to(getattr(ember, dtype))
    x = randn(4, 2, 3).astype(np.float32)
    xh = x.astype(np.float16) if dtype == "float16" else x.astype(ember.bfloat16.np)
    out = em(to_ember(xh))
    assert out[0].dtype is getattr(ember, dtype)
    assert_same(out[0], tm(to_torch(xh))[0], rtol=2e-2, atol=2e-2)


def test_packed_batch_first_lstm_and_unbatched_gru():
    def make(lib):
        lib.manual_seed(0)
        return lib.nn.LSTM(3, 4, batch_first=True, bidirectional=True, dtype=lib.float64)

    def call(m, x):
        lib = _lib(x)
        p = lib.nn.utils.rnn.pack_padded_sequence(x, [2, 5, 3], batch_first=True,
                                                  enforce_sorted=False)
        out, (h, c) = m(p)
        return lib.nn.utils.rnn.pad_packed_sequence(out, batch_first=True)[0], h, c
    check_module(make, randn(3, 5, 3), call=call)
    check_module(_mk("GRU", num_layers=2), randn(6, 3))
