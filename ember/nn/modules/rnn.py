"""nn.modules.rnn (mirrors torch/nn/modules/rnn.py): RNN, LSTM, GRU and their cells.

A layer runs as: one `linear` over the whole sequence for the input projection
(the big matrix product), then a Python loop over time steps doing the hidden
projection and the fused gate arithmetic of ember/_ops/rnn.py. Padded and packed
inputs share the loop: a padded batch is a packed one whose batch size is the same
at every step. With packed inputs the batch shrinks as sequences end (forward
direction: the rows that drop out are those sequences' final states) and grows
again when running backwards (new rows start from the initial state).
An LSTM direction over a padded batch (no projection, float32/float64) skips the
per-step loop here and runs as one `LSTMLayer` node of ember/_ops/rnn.py.
"""
from __future__ import annotations

import functools
import math
import numbers
import warnings

from ember._dtype import float32, float64
from ember._ops import rnn as _rnn
from ember._ops.conv import linear
from ember._ops.creation import empty, zeros
from ember._ops.dropout import dropout as _dropout
from ember._ops.shape import cat, stack
from ember._tensor import Tensor
from ember.amp import autocast_mode as _amp
from ember.autograd.grad_mode import no_grad
from ember.nn.modules.module import Module
from ember.nn.parameter import Parameter
from ember.nn.utils.rnn import PackedSequence

__all__ = ["RNNBase", "RNN", "LSTM", "GRU", "RNNCellBase", "RNNCell", "LSTMCell", "GRUCell"]

_GATES = {"LSTM": 4, "GRU": 3, "RNN_TANH": 1, "RNN_RELU": 1}
# Under autocast torch runs a whole LSTM in the autocast dtype (its CPU kernel is on the
# lower-precision list) and GRU, LSTMCell and GRUCell in float32; RNN, RNNCell and the
# LSTMs that kernel does not take (projections, packed input) are left to the ops inside,
# whose matrix products autocast one by one.
_AUTOCAST_CAST = {"LSTM": _amp.autocast_lower, "GRU": _amp.autocast_fp32}


def _autocast_device(t: Tensor) -> str | None:
    """The device type when autocast is on for `t`'s device, else None (one global check
    while autocast is off)."""
    if not _amp._AUTOCAST:
        return None
    device_type = _amp._device_type(t)
    return device_type if _amp.is_autocast_enabled(device_type) else None


def _float32_under_autocast(forward):
    """Run a cell's forward in float32 with autocast off inside, as torch does."""
    @functools.wraps(forward)
    def wrapped(self, input, hx=None):
        device_type = _autocast_device(input)
        if device_type is None:
            return forward(self, input, hx)
        input, = _amp.autocast_fp32(input)
        if hx is not None:
            hx = _amp.autocast_fp32(*hx) if isinstance(hx, (tuple, list)) else \
                _amp.autocast_fp32(hx)[0]
        with _amp.autocast(device_type, enabled=False):
            return forward(self, input, hx)
    return wrapped


def _run_direction(mode: str, gx_steps: list, sizes: list, h0: Tensor, c0, w_hh, b_hh, w_hr,
                   reverse: bool) -> tuple:
    """Run one direction of one layer over the steps.

    gx_steps[t]: the input projection of step t, (sizes[t], gates*H). Returns the
    per-step outputs (in time order) and the final (h, c) for every sequence.
    """
    T = len(gx_steps)
    outs = [None] * T
    order = range(T - 1, -1, -1) if reverse else range(T)
    full = sizes[0] if T else h0.shape[0]
    uniform = all(s == full for s in sizes)
    h, c = h0, c0
    if not uniform:
        if reverse:  # start with the sequences that are running at the last step
            h, c = h0[:sizes[-1]], (c0[:sizes[-1]] if c0 is not None else None)
        done_h, done_c = [], []  # forward: final states of sequences that ended, last first
    for t in order:
        n = sizes[t]
        if not uniform:
            cur = h.shape[0]
            if n < cur:  # forward: sequences cur-n .. cur-1 have ended
                done_h.append(h[n:])
                h = h[:n]
                if c is not None:
                    done_c.append(c[n:])
                    c = c[:n]
            elif n > cur:  # reverse: sequences cur .. n-1 start here
                h = cat([h, h0[cur:n]])
                if c is not None:
                    c = cat([c, c0[cur:n]])
        gx = gx_steps[t]
        if mode == "LSTM":
            h_new, c = _rnn.lstm_cell(gx, h, c, w_hh, b_hh, w_hr)
            h = h_new
        elif mode == "GRU":
            h = _rnn.gru_cell(gx, h, w_hh, b_hh)
        elif mode == "RNN_TANH":
            h = _rnn.rnn_tanh_cell(gx, h, w_hh, b_hh)
        else:
            h = _rnn.rnn_relu_cell(gx, h, w_hh, b_hh)
        outs[t] = h
    if not uniform and not reverse and done_h:
        h = cat([h, *reversed(done_h)])
        if c is not None:
            c = cat([c, *reversed(done_c)])
    return outs, h, c


class RNNBase(Module):
    """What RNN, LSTM and GRU share: the per-layer, per-direction parameters (named and
    ordered as torch's weight_ih_l{k}[_reverse] ...), their U(-1/sqrt(H), 1/sqrt(H))
    initialisation, input/hidden checks and the layer loop."""

    __constants__ = ["mode", "input_size", "hidden_size", "num_layers", "bias", "batch_first",
                     "dropout", "bidirectional", "proj_size"]

    def __init__(self, mode: str, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, proj_size: int = 0, device=None,
                 dtype=None) -> None:
        super().__init__()
        self.mode = mode
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        self.dropout = float(dropout)
        self.bidirectional = bidirectional
        self.proj_size = proj_size
        num_directions = 2 if bidirectional else 1
        if (not isinstance(dropout, numbers.Number) or not 0 <= dropout <= 1
                or isinstance(dropout, bool)):
            raise ValueError("dropout should be a number in range [0, 1] representing the "
                             "probability of an element being zeroed")
        if dropout > 0 and num_layers == 1:
            warnings.warn("dropout option adds dropout after all but last recurrent layer, so "
                          "non-zero dropout expects num_layers greater than 1, but got "
                          f"dropout={dropout} and num_layers={num_layers}", stacklevel=2)
        if not isinstance(hidden_size, int):
            raise TypeError(f"hidden_size should be of type int, got: {type(hidden_size).__name__}")
        if hidden_size <= 0:
            raise ValueError("hidden_size must be greater than zero")
        if num_layers <= 0:
            raise ValueError("num_layers must be greater than zero")
        if proj_size < 0:
            raise ValueError("proj_size should be a positive integer or zero to disable "
                             "projections")
        if proj_size >= hidden_size:
            raise ValueError("proj_size has to be smaller than hidden_size")
        if mode not in _GATES:
            raise ValueError(f"Unrecognized RNN mode: {mode}")
        gate_size = _GATES[mode] * hidden_size
        kw = {"device": device, "dtype": dtype}
        self._flat_weights_names = []
        self._all_weights = []
        for layer in range(num_layers):
            for direction in range(num_directions):
                real_hidden = proj_size if proj_size > 0 else hidden_size
                layer_input = input_size if layer == 0 else real_hidden * num_directions
                params = [Parameter(empty((gate_size, layer_input), **kw)),
                          Parameter(empty((gate_size, real_hidden), **kw))]
                names = ["weight_ih_l{}{}", "weight_hh_l{}{}"]
                if bias:
                    params += [Parameter(empty(gate_size, **kw)),
                               Parameter(empty(gate_size, **kw))]
                    names += ["bias_ih_l{}{}", "bias_hh_l{}{}"]
                if proj_size > 0:
                    params.append(Parameter(empty((proj_size, hidden_size), **kw)))
                    names.append("weight_hr_l{}{}")
                suffix = "_reverse" if direction == 1 else ""
                names = [n.format(layer, suffix) for n in names]
                for name, p in zip(names, params):
                    setattr(self, name, p)
                self._flat_weights_names.extend(names)
                self._all_weights.append(names)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        stdv = 1.0 / math.sqrt(self.hidden_size)
        with no_grad():
            for w in self.parameters():
                w.uniform_(-stdv, stdv)

    @property
    def _flat_weights(self) -> list:
        return [getattr(self, n) for n in self._flat_weights_names]

    @property
    def all_weights(self) -> list:
        return [[getattr(self, n) for n in names] for names in self._all_weights]

    def flatten_parameters(self) -> None:
        """Nothing to do: weights are used as they are (torch compacts them for cuDNN)."""

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.proj_size != 0:
            s += f", proj_size={self.proj_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if self.batch_first is not False:
            s += f", batch_first={self.batch_first}"
        if self.dropout != 0:
            s += f", dropout={self.dropout}"
        if self.bidirectional is not False:
            s += f", bidirectional={self.bidirectional}"
        return s

    def __setstate__(self, state: dict) -> None:
        super().__setstate__(state)
        if "proj_size" not in self.__dict__:
            self.proj_size = 0

    # ---------------------------------------------------------------- checks
    def _name(self) -> str:
        return type(self).__name__

    def _check_input(self, input: Tensor, batch_sizes) -> None:
        expected = 2 if batch_sizes is not None else 3
        if input.dim() != expected:
            raise RuntimeError(f"input must have {expected} dimensions, got {input.dim()}")
        if input.shape[-1] != self.input_size:
            raise RuntimeError(f"input.size(-1) must be equal to input_size. Expected "
                               f"{self.input_size}, got {input.shape[-1]}")

    def _check_hidden(self, hx: Tensor, expected: tuple, msg: str = "Expected hidden size {}, "
                      "got {}") -> None:
        if tuple(hx.shape) != expected:
            raise RuntimeError(msg.format(list(expected), list(hx.shape)))

    # ---------------------------------------------------------------- the layer loop
    def _prepare(self, input, hx):
        """(data, batch sizes per step or None, sorted/unsorted indices, batch size,
        is_batched) for padded or packed input; hx moved into sorted order."""
        if isinstance(input, PackedSequence):
            data, batch_sizes, sorted_idx, unsorted_idx = input
            sizes = [int(s) for s in batch_sizes._data.tolist()]
            self._check_input(data, sizes)
            return data, sizes, sorted_idx, unsorted_idx, sizes[0], True
        if input.dim() not in (2, 3):
            raise ValueError(f"{self._name()}: Expected input to be 2D or 3D, got "
                             f"{input.dim()}D input instead")
        is_batched = input.dim() == 3
        if not is_batched:
            input = input.unsqueeze(1)
        elif self.batch_first:
            input = input.transpose(0, 1)
        self._check_input(input, None)
        if input.shape[0] == 0:
            raise RuntimeError("Expected sequence length to be larger than 0 in RNN")
        return input, None, None, None, input.shape[1], is_batched

    def _run(self, data: Tensor, sizes, hx: Tensor, cx, weights: dict | None = None) -> tuple:
        """All layers and directions; returns (output data, h_n, c_n or None).
        `weights` replaces the parameters by name (their autocast copies)."""
        mode = self.mode
        num_dir = 2 if self.bidirectional else 1
        packed = sizes is not None
        layer_input = data
        h_n, c_n = [], []
        for layer in range(self.num_layers):
            dir_outs = []
            for d in range(num_dir):
                names = self._all_weights[layer * num_dir + d]
                ws = [weights[n] if weights else getattr(self, n) for n in names]
                w_ih, w_hh = ws[0], ws[1]
                b_ih = ws[2] if self.bias else None
                b_hh = ws[3] if self.bias else None
                w_hr = ws[-1] if self.proj_size > 0 else None
                gx = linear(layer_input, w_ih, b_ih)
                if mode == "LSTM" and b_hh is not None:  # b_hh once, not once per step
                    gx, b_hh = gx + b_hh, None
                k = layer * num_dir + d
                if mode == "LSTM" and not packed and w_hr is None and \
                        gx.dtype in (float32, float64):  # the whole direction as one node
                    out, h, c = _rnn.lstm_layer(gx, hx[k], cx[k], w_hh, reverse=d == 1)
                    h_n.append(h)
                    c_n.append(c)
                    dir_outs.append(out)
                    continue
                steps = gx.split(sizes, 0) if packed else gx.unbind(0)
                step_sizes = sizes if packed else [data.shape[1]] * data.shape[0]
                outs, h, c = _run_direction(mode, list(steps), step_sizes, hx[k],
                                            None if cx is None else cx[k], w_hh, b_hh, w_hr,
                                            reverse=d == 1)
                h_n.append(h)
                if c is not None:
                    c_n.append(c)
                if outs:
                    dir_outs.append(cat(outs) if packed else stack(outs))
                else:
                    dir_outs.append(layer_input.new_zeros(
                        (*layer_input.shape[:-1], h.shape[-1])))
            layer_input = dir_outs[0] if num_dir == 1 else cat(dir_outs, -1)
            if self.dropout and self.training and layer < self.num_layers - 1:
                layer_input = _dropout(layer_input, self.dropout, True)
        return layer_input, stack(h_n), (stack(c_n) if c_n else None)

    def _forward(self, input, hx, with_cell: bool):
        orig = input
        data, sizes, sorted_idx, unsorted_idx, batch, is_batched = self._prepare(input, hx)
        num_dir = 2 if self.bidirectional else 1
        real_hidden = self.proj_size if self.proj_size > 0 else self.hidden_size
        h_shape = (self.num_layers * num_dir, batch, real_hidden)
        c_shape = (self.num_layers * num_dir, batch, self.hidden_size)
        if hx is None:
            h0 = zeros(h_shape, dtype=data.dtype, device=data.device)
            c0 = zeros(c_shape, dtype=data.dtype, device=data.device) if with_cell else None
        else:
            if with_cell:
                if not isinstance(hx, (tuple, list)) or len(hx) != 2:
                    raise RuntimeError("LSTM expects hx to be a tuple (h_0, c_0)")
                h0, c0 = hx
            else:
                h0, c0 = hx, None
            if not is_batched:
                if h0.dim() != 2:
                    raise RuntimeError(f"For unbatched 2-D input, hx should also be 2-D but got "
                                       f"{h0.dim()}-D tensor")
                h0 = h0.unsqueeze(1)
                c0 = c0.unsqueeze(1) if c0 is not None else None
            elif h0.dim() != 3 and not isinstance(orig, PackedSequence):
                raise RuntimeError(f"For batched 3-D input, hx should also be 3-D but got "
                                   f"{h0.dim()}-D tensor")
            if sorted_idx is not None:
                h0 = h0.index_select(1, sorted_idx)
                c0 = c0.index_select(1, sorted_idx) if c0 is not None else None
            if with_cell:
                self._check_hidden(h0, h_shape, "Expected hidden[0] size {}, got {}")
                self._check_hidden(c0, c_shape, "Expected hidden[1] size {}, got {}")
            else:
                self._check_hidden(h0, h_shape)
        # torch's LSTM runs as one lower-precision kernel only without projections or packing
        whole = self.mode == "GRU" or (self.mode == "LSTM" and sizes is None and
                                       self.proj_size == 0)
        device_type = _autocast_device(data) if whole else None
        if device_type is None:
            out, h_n, c_n = self._run(data, sizes, h0, c0)
        else:
            cast = _AUTOCAST_CAST[self.mode]
            names = [n for names in self._all_weights for n in names]
            weights = dict(zip(names, cast(*(getattr(self, n) for n in names))))
            data, h0, c0 = cast(data, h0, c0)
            with _amp.autocast(device_type, enabled=False):
                out, h_n, c_n = self._run(data, sizes, h0, c0, weights)
        if unsorted_idx is not None:
            h_n = h_n.index_select(1, unsorted_idx)
            c_n = c_n.index_select(1, unsorted_idx) if c_n is not None else None
        if isinstance(orig, PackedSequence):
            out = PackedSequence(out, orig.batch_sizes, sorted_idx, unsorted_idx)
        elif not is_batched:
            out = out.squeeze(1)
            h_n = h_n.squeeze(1)
            c_n = c_n.squeeze(1) if c_n is not None else None
        elif self.batch_first:
            out = out.transpose(0, 1)
        return out, ((h_n, c_n) if with_cell else h_n)


class RNN(RNNBase):
    """Elman RNN: h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh) (or relu).

    Takes the arguments positionally as torch does (input_size, hidden_size,
    num_layers, nonlinearity, bias, batch_first, dropout, bidirectional).
    """

    def __init__(self, *args, **kwargs) -> None:
        if "proj_size" in kwargs:
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        if len(args) > 3:
            self.nonlinearity = args[3]
            args = args[:3] + args[4:]
        else:
            self.nonlinearity = kwargs.pop("nonlinearity", "tanh")
        if self.nonlinearity == "tanh":
            mode = "RNN_TANH"
        elif self.nonlinearity == "relu":
            mode = "RNN_RELU"
        else:
            raise ValueError(f"Unknown nonlinearity '{self.nonlinearity}'. Select from 'tanh' "
                             "or 'relu'.")
        super().__init__(mode, *args, **kwargs)

    def forward(self, input, hx=None) -> tuple:
        """(output, h_n); a PackedSequence input gives a PackedSequence output."""
        return self._forward(input, hx, False)


class LSTM(RNNBase):
    """Long short-term memory, with optional projections (proj_size > 0: h = W_hr h)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__("LSTM", *args, **kwargs)

    def forward(self, input, hx=None) -> tuple:
        """(output, (h_n, c_n)); a PackedSequence input gives a PackedSequence output."""
        return self._forward(input, hx, True)


class GRU(RNNBase):
    """Gated recurrent unit (torch's gate order: reset, update, new)."""

    def __init__(self, *args, **kwargs) -> None:
        if "proj_size" in kwargs:
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        super().__init__("GRU", *args, **kwargs)

    def forward(self, input, hx=None) -> tuple:
        """(output, h_n); a PackedSequence input gives a PackedSequence output."""
        return self._forward(input, hx, False)


# -------------------------------------------------------------------- cells
class RNNCellBase(Module):
    """weight_ih (gates*H, input_size), weight_hh (gates*H, H), biases; all
    U(-1/sqrt(H), 1/sqrt(H))."""

    __constants__ = ["input_size", "hidden_size", "bias"]

    def __init__(self, input_size: int, hidden_size: int, bias: bool, num_chunks: int,
                 device=None, dtype=None) -> None:
        super().__init__()
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.bias = bias
        kw = {"device": device, "dtype": dtype}
        self.weight_ih = Parameter(empty((num_chunks * hidden_size, input_size), **kw))
        self.weight_hh = Parameter(empty((num_chunks * hidden_size, hidden_size), **kw))
        if bias:
            self.bias_ih = Parameter(empty(num_chunks * hidden_size, **kw))
            self.bias_hh = Parameter(empty(num_chunks * hidden_size, **kw))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        nl = getattr(self, "nonlinearity", "tanh")
        if nl != "tanh":
            s += f", nonlinearity={nl}"
        return s

    def reset_parameters(self) -> None:
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0.0
        with no_grad():
            for w in self.parameters():
                w.uniform_(-stdv, stdv)

    def _batched(self, input: Tensor, hx):
        """(input, hx or None, is_batched) with a batch dim added to 1-D inputs."""
        if input.dim() not in (1, 2):
            raise ValueError(f"{type(self).__name__}: Expected input to be 1D or 2D, got "
                             f"{input.dim()}D instead")
        if hx is not None:
            for h in (hx if isinstance(hx, tuple) else (hx,)):
                if h.dim() not in (1, 2):
                    raise ValueError(f"{type(self).__name__}: Expected hidden to be 1D or 2D, "
                                     f"got {h.dim()}D instead")
        if input.shape[-1] != self.input_size:
            raise RuntimeError(f"input has inconsistent input_size: got {input.shape[-1]} "
                               f"expected {self.input_size}")
        is_batched = input.dim() == 2
        if not is_batched:
            input = input.unsqueeze(0)
            if hx is not None:
                hx = tuple(h.unsqueeze(0) for h in hx) if isinstance(hx, tuple) else \
                    hx.unsqueeze(0)
        return input, hx, is_batched

    def _zeros(self, input: Tensor) -> Tensor:
        return zeros((input.shape[0], self.hidden_size), dtype=input.dtype, device=input.device)


class RNNCell(RNNCellBase):
    """One Elman step: h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh) (or relu)."""

    __constants__ = ["input_size", "hidden_size", "bias", "nonlinearity"]

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 nonlinearity: str = "tanh", device=None, dtype=None) -> None:
        super().__init__(input_size, hidden_size, bias, 1, device, dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input: Tensor, hx=None) -> Tensor:
        input, hx, batched = self._batched(input, hx)
        if hx is None:
            hx = self._zeros(input)
        gx = linear(input, self.weight_ih, self.bias_ih)
        if self.nonlinearity == "tanh":
            h = _rnn.rnn_tanh_cell(gx, hx, self.weight_hh, self.bias_hh)
        elif self.nonlinearity == "relu":
            h = _rnn.rnn_relu_cell(gx, hx, self.weight_hh, self.bias_hh)
        else:
            raise RuntimeError(f"Unknown nonlinearity: {self.nonlinearity}")
        return h if batched else h.squeeze(0)


class LSTMCell(RNNCellBase):
    """One LSTM step; returns (h', c')."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device=None,
                 dtype=None) -> None:
        super().__init__(input_size, hidden_size, bias, 4, device, dtype)

    @_float32_under_autocast
    def forward(self, input: Tensor, hx=None) -> tuple:
        input, hx, batched = self._batched(input, None if hx is None else tuple(hx))
        if hx is None:
            hx = (self._zeros(input), self._zeros(input))
        gx = linear(input, self.weight_ih, self.bias_ih)
        h, c = _rnn.lstm_cell(gx, hx[0], hx[1], self.weight_hh, self.bias_hh)
        return (h, c) if batched else (h.squeeze(0), c.squeeze(0))


class GRUCell(RNNCellBase):
    """One GRU step."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device=None,
                 dtype=None) -> None:
        super().__init__(input_size, hidden_size, bias, 3, device, dtype)

    @_float32_under_autocast
    def forward(self, input: Tensor, hx=None) -> Tensor:
        input, hx, batched = self._batched(input, hx)
        if hx is None:
            hx = self._zeros(input)
        gx = linear(input, self.weight_ih, self.bias_ih)
        h = _rnn.gru_cell(gx, hx, self.weight_hh, self.bias_hh)
        return h if batched else h.squeeze(0)
