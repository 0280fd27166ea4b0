"""A small transformer encoder training step, ember vs torch in the same process.

Model: embedding 1000 x 128, 2 TransformerEncoderLayers (d_model 128, 4 heads,
feed-forward 256, dropout 0.1, batch_first), mean-pool, linear to 10 classes,
cross-entropy, backward, SGD update; batch 32 x sequence 64, with a key padding mask.
Also an LSTM step (2 layers, hidden 128, batch 32, 32 steps) for the recurrent path.
Both libraries start from the same weights. DESIGN target: the transformer step
within 1.2x of torch.
Run: python benchmarks/transformer.py [threads]   (default: common.THREADS)
"""
from __future__ import annotations

import os
import sys

import numpy as np
import torch
from common import Pair, measure, pin_threads, report

# this checkout's ember, whatever else the environment has installed under that name
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import ember  # noqa: E402

VOCAB, D, HEADS, FF, LAYERS, CLASSES = 1000, 128, 4, 256, 2, 10
BATCH, SEQ = 32, 64


def build(lib, state=None):
    nn = lib.nn
    lib.manual_seed(0)
    layer = nn.TransformerEncoderLayer(D, HEADS, FF, dropout=0.1, batch_first=True)
    model = nn.ModuleDict({"emb": nn.Embedding(VOCAB, D),
                           "enc": nn.TransformerEncoder(layer, LAYERS,
                                                        enable_nested_tensor=False),
                           "head": nn.Linear(D, CLASSES)})
    if state is not None:
        model.load_state_dict({k: lib.tensor(v) for k, v in state.items()})
    return model


def make_step(lib, model, tokens, labels, pad_mask, lr=0.01):
    F = lib.nn.functional
    params = list(model.parameters())
    model.train()

    def step():
        h = model["enc"](model["emb"](tokens), src_key_padding_mask=pad_mask)
        loss = F.cross_entropy(model["head"](h.mean(1)), labels)
        for p in params:
            p.grad = None
        loss.backward()
        with lib.no_grad():
            for p in params:
                p.sub_(p.grad, alpha=lr)
    return step


def make_lstm_step(lib, x, state=None, lr=0.01):
    lib.manual_seed(0)
    lstm = lib.nn.LSTM(D, D, num_layers=2)
    if state is not None:
        lstm.load_state_dict({k: lib.tensor(v) for k, v in state.items()})
    params = list(lstm.parameters())
    xt = lib.tensor(x)

    def step():
        out, _ = lstm(xt)
        loss = out.pow(2).mean()
        for p in params:
            p.grad = None
        loss.backward()
        with lib.no_grad():
            for p in params:
                p.sub_(p.grad, alpha=lr)
    return step, lstm


def encoder_pair() -> Pair:
    """The encoder training step, ember starting from torch's initial weights."""
    rng = np.random.default_rng(0)
    tokens = rng.integers(0, VOCAB, (BATCH, SEQ))
    labels = rng.integers(0, CLASSES, BATCH)
    lengths = rng.integers(SEQ // 2, SEQ + 1, BATCH)
    pad = np.arange(SEQ)[None, :] >= lengths[:, None]
    tmodel = build(torch)
    state = {k: v.numpy().copy() for k, v in tmodel.state_dict().items()}
    emodel = build(ember, state)
    steps = [make_step(lib, m, lib.tensor(tokens), lib.tensor(labels), lib.tensor(pad))
             for lib, m in ((ember, emodel), (torch, tmodel))]
    return Pair(f"encoder step b{BATCH} s{SEQ} d{D} x{LAYERS}", steps[0], steps[1], number=3)


def lstm_pair() -> Pair:
    """The LSTM training step, ember starting from torch's initial weights."""
    x = np.random.default_rng(1).standard_normal((32, BATCH, D)).astype(np.float32)
    tstep, tl = make_lstm_step(torch, x)
    estep, _ = make_lstm_step(ember, x, {k: v.numpy().copy() for k, v in tl.state_dict().items()})
    return Pair(f"LSTM step b{BATCH} s32 h{D} x2", estep, tstep, number=3)


def main() -> None:
    threads = pin_threads(*(int(a) for a in sys.argv[1:2]))
    report(measure([encoder_pair(), lstm_pair()]), threads)


if __name__ == "__main__":
    main()
