import numpy as np
from oracle import check, randn


def test_add_mul_exp_broadcast_grads():
    check(lambda lib, a, b: (a * b + a).exp().sum(), randn(3), randn(2, 1, seed=1))


def test_int_tensor_times_python_float_is_default_float():
    check(lambda lib, a: a * 2.5, np.arange(4), grad=False)
