"""nn.utils: gradient clipping, parameter/vector conversion, rnn helpers."""
from ember.nn.utils import clip_grad, convert_parameters
from ember.nn.utils import rnn
from ember.nn.utils.clip_grad import (clip_grad_norm, clip_grad_norm_, clip_grad_value_,
                                      clip_grads_with_norm_, get_total_norm)
from ember.nn.utils.convert_parameters import parameters_to_vector, vector_to_parameters
from ember.nn.utils.weight_norm import remove_weight_norm, weight_norm
from ember.nn.utils.spectral_norm import remove_spectral_norm, spectral_norm

__all__ = ["clip_grad", "convert_parameters", "clip_grad_norm", "clip_grad_norm_",
           "clip_grad_value_", "clip_grads_with_norm_", "get_total_norm", "parameters_to_vector",
           "vector_to_parameters"]
