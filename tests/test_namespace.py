"""Functions torch exposes at the top level as well as in nn.functional."""
import numpy as np
import pytest
import torch
from oracle import check, randn

import ember

CASES = [
    ("conv2d", lambda lib, x, w: lib.conv2d(x, w, None, 1, 1),
     [randn(2, 3, 6, 6), randn(4, 3, 3, 3)]),
    ("conv_transpose1d", lambda lib, x, w: lib.conv_transpose1d(x, w, None, 2),
     [randn(2, 3, 5), randn(3, 2, 3)]),
    ("bilinear", lambda lib, a, b, w: lib.bilinear(a, b, w), [randn(2, 3), randn(2, 4),
                                                             randn(5, 3, 4)]),
    ("selu", lambda lib, x: lib.selu(x), [randn(3, 4)]),
    ("celu", lambda lib, x: lib.celu(x, 0.5), [randn(3, 4)]),
    ("prelu", lambda lib, x, w: lib.prelu(x, w), [randn(2, 3, 4), randn(3)]),
    ("hardshrink", lambda lib, x: lib.hardshrink(x, 0.3), [randn(3, 4)]),
    ("threshold", lambda lib, x: lib.threshold(x, 0.1, -1.0), [randn(3, 4)]),
    ("max_pool2d", lambda lib, x: lib.max_pool2d(x, 2), [randn(1, 2, 4, 4)]),
    ("avg_pool1d", lambda lib, x: lib.avg_pool1d(x, 2), [randn(1, 2, 6)]),
    ("adaptive_avg_pool1d", lambda lib, x: lib.adaptive_avg_pool1d(x, 3), [randn(1, 2, 7)]),
    ("pixel_shuffle", lambda lib, x: lib.pixel_shuffle(x, 2), [randn(1, 8, 2, 2)]),
    ("cosine_similarity", lambda lib, a, b: lib.cosine_similarity(a, b), [randn(3, 4),
                                                                         randn(3, 4, seed=1)]),
    ("pairwise_distance", lambda lib, a, b: lib.pairwise_distance(a, b), [randn(3, 4),
                                                                         randn(3, 4, seed=1)]),
    ("rms_norm", lambda lib, x, w: lib.rms_norm(x, (4,), w), [randn(3, 4), randn(4)]),
]


@pytest.mark.parametrize("name,fn,inputs", CASES, ids=[c[0] for c in CASES])
def test_top_level_kernel_matches_torch(name, fn, inputs):
    check(fn, *inputs)


def test_from_dlpack_and_submodules():
    t = torch.arange(4.0)
    e = ember.from_dlpack(t)
    assert e.tolist() == [0.0, 1.0, 2.0, 3.0]
    assert np.shares_memory(e.numpy(), t.numpy())
    assert ember.backends.cudnn.enabled == torch.backends.cudnn.enabled
    assert ember.accelerator.is_available() is False or ember.cuda.is_available()
