"""Dropout: random masks from ember's generators, applied with ordinary ember ops.

As in torch, dropout is `input * noise` with noise = Bernoulli(1 - p) / (1 - p), so
its node is MulBackward0 and the gradient is the same scaled mask. Feature
dropout (dropout1d/2d/3d) draws one noise value per (sample, channel) and
broadcasts it over the spatial dims. Alpha dropout keeps SELU's self-normalising
mean and variance: dropped units take SELU's negative saturation value and the
result is rescaled by an affine map (a, b).
"""
from __future__ import annotations

import math
import warnings

import numpy as np

from ember import random as _random
from ember._device import array_module
from ember._tensor import Tensor, _make

__all__ = ["dropout", "dropout1d", "dropout2d", "dropout3d", "alpha_dropout",
           "feature_alpha_dropout"]

_SELU_ALPHA_SCALED = 1.7580993408473766  # SELU's scale * alpha: -this is its saturation value
_TYPE = {"int64": "Long", "int32": "Int", "int16": "Short", "int8": "Char", "uint8": "Byte",
         "bool": "Bool"}


def _check_p(p) -> None:
    if p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")


def _keep_mask(input: Tensor, shape: tuple, p: float, dtype=None):
    """A {0, 1} array in `dtype` (default: input's): 1 with probability 1 - p, drawn from
    the default generator of input's device."""
    g = _random.generator_for(None, input.device)
    u = g._stream.random(shape, np.float32)
    return (u < (1.0 - p)).astype(input._data.dtype if dtype is None else dtype)


def _dropout_impl(input: Tensor, p: float, training: bool, inplace: bool, feature: bool,
                  alpha: bool, batched: bool = True) -> Tensor:
    """torch's dropout family; `batched` False means an unbatched input whose noise is drawn
    as if it had a leading batch dim of one."""
    if p == 0 or not training or input._data.size == 0:
        return input
    xp_data = input._data
    if p == 1:  # everything dropped: a multiplication by zero keeps the graph (MulBackward0)
        xp = array_module(xp_data)
        zero = _make(xp.zeros((), xp_data.dtype))
        return input.mul_(zero) if inplace else input * zero
    if not input.dtype.is_floating_point:
        raise RuntimeError(f"result type Float can't be cast to the desired output type "
                           f"{_TYPE[input.dtype.name]}")
    shape = xp_data.shape if batched else (1,) + xp_data.shape
    if feature:
        if len(shape) < 2:
            raise RuntimeError("Feature dropout requires at least 2 dimensions in the input")
        shape = shape[:2] + (1,) * (len(shape) - 2)
    keep = _keep_mask(input, shape, p)
    if not batched:
        keep = keep.reshape(keep.shape[1:])
    if not alpha:
        keep *= keep.dtype.type(1.0 / (1.0 - p))
        noise = _make(keep)
        return input.mul_(noise) if inplace else input * noise
    a = 1.0 / math.sqrt((_SELU_ALPHA_SCALED ** 2 * p + 1.0) * (1.0 - p))
    shift = _make(((keep - 1) * (_SELU_ALPHA_SCALED * a) + _SELU_ALPHA_SCALED * a * p)
                  .astype(keep.dtype, copy=False))
    keep *= keep.dtype.type(a)
    noise = _make(keep)
    if inplace:
        return input.mul_(noise).add_(shift)
    return input * noise + shift


def dropout(input: Tensor, p: float = 0.5, training: bool = True,
            inplace: bool = False) -> Tensor:
    """Zero each element with probability p and scale the rest by 1/(1-p); the identity
    (the input itself) when not training or p == 0."""
    _check_p(p)
    return _dropout_impl(input, p, training, inplace, feature=False, alpha=False)


def alpha_dropout(input: Tensor, p: float = 0.5, training: bool = False,
                  inplace: bool = False) -> Tensor:
    """Dropout for SELU networks: keeps zero mean and unit variance of its input."""
    _check_p(p)
    return _dropout_impl(input, p, training, inplace, feature=False, alpha=True)


def feature_alpha_dropout(input: Tensor, p: float = 0.5, training: bool = False,
                          inplace: bool = False) -> Tensor:
    """Alpha dropout of whole channels (one draw per sample and channel)."""
    _check_p(p)
    return _dropout_impl(input, p, training, inplace, feature=True, alpha=True)


def dropout1d(input: Tensor, p: float = 0.5, training: bool = True,
              inplace: bool = False) -> Tensor:
    """Zero whole channels of (N, C, L) or (C, L) input."""
    _check_p(p)
    ndim = input._data.ndim
    if ndim not in (2, 3):
        raise RuntimeError(f"dropout1d: Expected 2D or 3D input, but received a {ndim}D input. "
                           "Note that dropout1d exists to provide channel-wise dropout on inputs "
                           "with 1 spatial dimension, a channel dimension, and an optional batch "
                           "dimension (i.e. 2D or 3D inputs).")
    return _dropout_impl(input, p, training, inplace, feature=True, alpha=False,
                         batched=ndim == 3)


def _deprecated_dims(name: str, ndim: int, spatial: int) -> None:
    warnings.warn(f"{name}: Received a {ndim}-D input to {name}, which is deprecated and will "
                  "result in an error in a future release. To retain the behavior and silence "
                  f"this warning, please use dropout instead. Note that {name} exists to "
                  f"provide channel-wise dropout on inputs with {spatial} spatial dimensions, "
                  "a channel dimension, and an optional batch dimension (i.e. "
                  f"{spatial + 1}D or {spatial + 2}D inputs).", stacklevel=3)


def dropout2d(input: Tensor, p: float = 0.5, training: bool = True,
              inplace: bool = False) -> Tensor:
    """Zero whole channels of (N, C, H, W) input. A 3-D input is read as (N, C, L), as torch
    still does (with its warning)."""
    _check_p(p)
    ndim = input._data.ndim
    if ndim not in (3, 4):
        _deprecated_dims("dropout2d", ndim, 2)
    if ndim == 3:
        warnings.warn("dropout2d: Received a 3D input to dropout2d and assuming that "
                      "channel-wise 1D dropout behavior is desired - input is interpreted as "
                      "shape (N, C, L), where C is the channel dim. This behavior will change "
                      "in a future release to interpret the input as one without a batch "
                      "dimension, i.e. shape (C, H, W). To maintain the 1D channel-wise dropout "
                      "behavior, please switch to using dropout1d instead.", stacklevel=2)
    return _dropout_impl(input, p, training, inplace, feature=True, alpha=False)


def dropout3d(input: Tensor, p: float = 0.5, training: bool = True,
              inplace: bool = False) -> Tensor:
    """Zero whole channels of (N, C, D, H, W) or (C, D, H, W) input."""
    _check_p(p)
    ndim = input._data.ndim
    if ndim not in (4, 5):
        _deprecated_dims("dropout3d", ndim, 3)
    return _dropout_impl(input, p, training, inplace, feature=True, alpha=False,
                         batched=ndim == 5)
