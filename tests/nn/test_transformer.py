"""Transformer layers, stacks and nn.Transformer against torch."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from oracle import assert_same, check_error, check_module, randn

import ember

pytestmark = pytest.mark.filterwarnings("ignore:enable_nested_tensor",
                                        "ignore:Support for mismatched")


def _lib(x):
    return torch if isinstance(x, torch.Tensor) else ember


def _enc_layer(lib, **kw):
    lib.manual_seed(0)
    kw.setdefault("dropout", 0.0)
    return lib.nn.TransformerEncoderLayer(8, 2, 16, dtype=lib.float64, **kw)


def _dec_layer(lib, **kw):
    lib.manual_seed(0)
    kw.setdefault("dropout", 0.0)
    return lib.nn.TransformerDecoderLayer(8, 2, 16, dtype=lib.float64, **kw)


SRC, TGT = randn(5, 3, 8), randn(4, 3, 8, seed=1)
KPM = np.zeros((3, 5), bool)
KPM[0, 3:] = True


@pytest.mark.parametrize("kw", [{}, {"norm_first": True}, {"activation": "gelu"},
                                {"batch_first": True, "bias": False}])
def test_encoder_layer(kw):
    check_module(lambda lib: _enc_layer(lib, **kw), SRC)


def test_encoder_layer_callable_activation_and_masks():
    check_module(lambda lib: _enc_layer(lib, activation=lib.nn.functional.silu), SRC)
    check_module(lambda lib: _enc_layer(lib, activation=lib.nn.Tanh()), SRC)
    check_module(_enc_layer, SRC, call=lambda m, x: m(
        x, src_key_padding_mask=_lib(x).tensor(KPM)))

    def causal(m, x):
        mask = _lib(x).nn.Transformer.generate_square_subsequent_mask(5, dtype=x.dtype)
        return m(x, src_mask=mask, is_causal=True)
    check_module(_enc_layer, SRC, call=causal)


def test_encoder_layer_unbatched():
    check_module(_enc_layer, randn(5, 8))


@pytest.mark.parametrize("kw", [{}, {"norm_first": True, "batch_first": True}])
def test_decoder_layer(kw):
    kpm = np.zeros((3, 4), bool)
    kpm[2, 1:] = True

    def call(m, t, mem):
        lib = _lib(t)
        mask = lib.nn.Transformer.generate_square_subsequent_mask(4, dtype=t.dtype)
        return m(t, mem, tgt_mask=mask, memory_key_padding_mask=lib.tensor(KPM),
                 tgt_key_padding_mask=lib.tensor(kpm))
    if kw.get("batch_first"):
        check_module(lambda lib: _dec_layer(lib, **kw), TGT.transpose(1, 0, 2).copy(),
                     SRC.transpose(1, 0, 2).copy(), call=call)
    else:
        check_module(lambda lib: _dec_layer(lib, **kw), TGT, SRC, call=call)


def test_encoder_and_decoder_stacks():
    def enc(lib):
        layer = _enc_layer(lib)
        return lib.nn.TransformerEncoder(layer, 2, norm=lib.nn.LayerNorm(8, dtype=lib.float64))
    check_module(enc, SRC, call=lambda m, x: m(x, src_key_padding_mask=_lib(x).tensor(KPM)))

    def causal(m, x):  # a causal mask given without is_causal is detected
        return m(x, mask=_lib(x).nn.Transformer.generate_square_subsequent_mask(
            5, dtype=x.dtype))
    check_module(enc, SRC, call=causal)

    def dec(lib):
        return lib.nn.TransformerDecoder(_dec_layer(lib), 2)
    check_module(dec, TGT, SRC, call=lambda m, t, s: m(t, s))


def test_transformer():
    def make(lib, **kw):
        lib.manual_seed(0)
        return lib.nn.Transformer(8, 2, 2, 1, 16, dropout=0.0, dtype=lib.float64, **kw)

    def call(m, s, t):
        mask = _lib(s).nn.Transformer.generate_square_subsequent_mask(4, dtype=s.dtype)
        return m(s, t, tgt_mask=mask, src_key_padding_mask=_lib(s).tensor(KPM),
                 memory_key_padding_mask=_lib(s).tensor(KPM))
    em, tm = check_module(make, SRC, TGT, call=call)
    assert repr(em) == repr(tm)
    check_module(lambda lib: make(lib, norm_first=True, batch_first=True),
                 SRC.transpose(1, 0, 2).copy(), TGT.transpose(1, 0, 2).copy())


def test_transformer_init_and_state_dict():
    e = ember.nn.Transformer(16, 2, 1, 1, 32)
    t = torch.nn.Transformer(16, 2, 1, 1, 32)
    assert list(e.state_dict()) == list(t.state_dict())
    w = e.encoder.layers[0].linear1.weight
    bound = (6 / (16 + 32)) ** 0.5
    assert float(w.abs().max()) <= bound and float(w.abs().max()) > 0.8 * bound
    assert float(e.encoder.layers[0].linear1.bias.abs().max()) <= 1 / 16 ** 0.5


def test_generate_square_subsequent_mask():
    assert_same(ember.nn.Transformer.generate_square_subsequent_mask(4),
                torch.nn.Transformer.generate_square_subsequent_mask(4))
    assert_same(ember.nn.Transformer.generate_square_subsequent_mask(3, dtype=ember.float64),
                torch.nn.Transformer.generate_square_subsequent_mask(3, dtype=torch.float64))


def test_dropout_in_training():
    layer = ember.nn.TransformerEncoderLayer(8, 2, 16, dropout=0.5)
    x = ember.randn(5, 3, 8, requires_grad=True)
    a, b = layer(x), layer(x)
    assert a.shape == (5, 3, 8) and not bool((a == b).all())
    layer.eval()
    assert bool((layer(x) == layer(x)).all())
    a.sum().backward()
    assert x.grad is not None and layer.linear1.weight.grad is not None


def test_errors():
    def mk(lib):
        return lib.nn.Transformer(8, 2, 1, 1, 16, dtype=lib.float64)
    check_error(lambda lib, s, t: mk(lib)(s, t), SRC, randn(4, 2, 8),
                match="batch number")
    check_error(lambda lib, s, t: mk(lib)(s, t), randn(5, 3, 6), randn(4, 3, 6),
                match="feature number")
    check_error(lambda lib: lib.nn.TransformerEncoderLayer(8, 2, activation="tanh"),
                match="relu/gelu")


def test_batch_first_stack_with_both_masks_and_unbatched_transformer():
    def enc(lib):
        lib.manual_seed(0)
        layer = lib.nn.TransformerEncoderLayer(8, 2, 16, 0.0, dtype=lib.float64,
                                               batch_first=True)
        return lib.nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)

    def call(m, x):
        lib = _lib(x)
        mask = lib.nn.Transformer.generate_square_subsequent_mask(5, dtype=x.dtype)
        return m(x, mask=mask, src_key_padding_mask=lib.tensor(KPM))
    check_module(enc, SRC.transpose(1, 0, 2).copy(), call=call)

    def make(lib):
        lib.manual_seed(0)
        return lib.nn.Transformer(8, 2, 1, 1, 16, 0.0, dtype=lib.float64)
    check_module(make, randn(5, 8), randn(4, 8, seed=1))
