"""Groups larger than one flat-update chunk: the chunked formula equals the per-parameter
one exactly, and torch's trajectory."""
import numpy as np
import pytest
import torch

import ember
from ember.optim.optimizer import _CHUNK

CASES = [
    ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01)),
    ("Adam", dict(lr=0.01, amsgrad=True, weight_decay=0.01)),
    ("AdamW", dict(lr=0.01)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.01)),
    ("RMSprop", dict(lr=0.01, centered=True, momentum=0.5)),
    ("Adadelta", dict(lr=1.0)),
    ("Adamax", dict(lr=0.01)),
    ("NAdam", dict(lr=0.01)),
    ("RAdam", dict(lr=0.01)),
    ("ASGD", dict(lr=0.01, t0=1)),
    ("Rprop", dict(lr=0.01)),
]
SHAPES = [(300, 300), (7,), (40, 2)]  # 90,087 floats: more than one chunk


@pytest.mark.parametrize("name,kw", CASES, ids=[c[0] for c in CASES])
def test_chunked_group_matches_per_parameter_and_torch(name, kw):
    assert sum(int(np.prod(s)) for s in SHAPES) > _CHUNK
    rng = np.random.default_rng(0)
    init = [rng.standard_normal(s) for s in SHAPES]
    grads = [[rng.standard_normal(s) for s in SHAPES] for _ in range(4)]
    runs = {}
    for foreach in (None, False):
        ps = [ember.nn.Parameter(ember.tensor(a)) for a in init]
        opt = getattr(ember.optim, name)(ps, foreach=foreach, **kw)
        for step in grads:
            for p, g in zip(ps, step):
                p.grad = ember.tensor(g)
            opt.step()
        runs[foreach] = [p.detach().numpy().copy() for p in ps]
    tps = [torch.nn.Parameter(torch.tensor(a)) for a in init]
    topt = getattr(torch.optim, name)(tps, **kw)
    for step in grads:
        for p, g in zip(tps, step):
            p.grad = torch.tensor(g)
        topt.step()
    for flat, each, t in zip(runs[None], runs[False], tps):
        np.testing.assert_array_equal(flat, each)
        np.testing.assert_allclose(flat, t.detach().numpy(), rtol=1e-10, atol=1e-12)
