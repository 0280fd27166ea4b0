"""Packed and padded sequences (mirrors torch/nn/utils/rnn.py).

NOTE [ Packed layout ]
A batch of sequences sorted by decreasing length is stored time-major with the
padding left out: `data` holds, for t = 0, 1, ..., the rows of every sequence
that is still running at step t, and `batch_sizes[t]` says how many there are.
That is exactly the order in which a boolean (T, B) "still running" mask visits
its True entries, so packing is one boolean gather and unpacking one gather from
`data` plus a padding row. `sorted_indices` maps sorted position -> original
batch index; `unsorted_indices` is its inverse.
"""
from __future__ import annotations

from collections import namedtuple

import numpy as np

from ember import _dtype as _dt
from ember._device import to_device
from ember._tensor import Tensor, _make

__all__ = ["PackedSequence", "invert_permutation", "pack_padded_sequence",
           "pad_packed_sequence", "pad_sequence", "unpad_sequence", "pack_sequence",
           "unpack_sequence"]

_PackedSequenceBase = namedtuple("PackedSequence",
                                 ["data", "batch_sizes", "sorted_indices", "unsorted_indices"])


def invert_permutation(permutation):
    """The inverse of an index permutation (None stays None)."""
    if permutation is None:
        return None
    p = permutation._data
    xp = np if isinstance(p, np.ndarray) else p.__array_namespace__()
    inv = xp.empty_like(p)
    inv[p] = xp.arange(p.shape[0], dtype=p.dtype)
    return _make(inv)


class PackedSequence(_PackedSequenceBase):
    """A batch of variable-length sequences in packed layout (see NOTE [ Packed layout ])."""

    def __new__(cls, data, batch_sizes=None, sorted_indices=None, unsorted_indices=None):
        if unsorted_indices is None:
            unsorted_indices = invert_permutation(sorted_indices)
        if batch_sizes is None:  # torch's internal (data, batch_sizes) tuple form
            data, batch_sizes = data
        return super().__new__(cls, data, batch_sizes, sorted_indices, unsorted_indices)

    def to(self, *args, **kwargs) -> PackedSequence:
        """data moved/cast like Tensor.to; the index tensors follow data's device."""
        data = self.data.to(*args, **kwargs)
        if data is self.data:
            return self
        dev = data.device
        idx = (None if t is None else t.to(device=dev)
               for t in (self.sorted_indices, self.unsorted_indices))
        return type(self)(data, self.batch_sizes, *idx)

    def cpu(self) -> PackedSequence:
        return self.to("cpu")

    def cuda(self, *args, **kwargs) -> PackedSequence:
        return self.to("cuda", *args, **kwargs)

    def double(self) -> PackedSequence:
        return self.to(dtype=_dt.float64)

    def float(self) -> PackedSequence:
        return self.to(dtype=_dt.float32)

    def half(self) -> PackedSequence:
        return self.to(dtype=_dt.float16)

    @property
    def is_cuda(self) -> bool:
        return self.data.is_cuda

    def is_pinned(self) -> bool:
        return False


def _lengths_array(lengths) -> np.ndarray:
    if isinstance(lengths, Tensor):
        arr = lengths._data
        arr = arr if isinstance(arr, np.ndarray) else arr.get()
        return np.asarray(arr).astype(np.int64).reshape(-1)
    return np.asarray(lengths, dtype=np.int64).reshape(-1)


def _on(arr: np.ndarray, like: Tensor) -> Tensor:
    t = _make(arr)
    return t if like.is_cpu else _make(to_device(arr, like.device))


def pack_padded_sequence(input: Tensor, lengths, batch_first: bool = False,
                         enforce_sorted: bool = True) -> PackedSequence:
    """Pack a padded (T, B, *) batch (B, T, * with batch_first) of the given lengths.

    With enforce_sorted=False the batch is sorted by decreasing length first and the
    permutation is kept in the result.
    """
    lens = _lengths_array(lengths)
    if enforce_sorted:
        if np.any(lens[1:] > lens[:-1]):
            raise RuntimeError("`lengths` array must be sorted in decreasing order when "
                               "`enforce_sorted` is True. You can pass `enforce_sorted=False` "
                               "to pack_padded_sequence and/or pack_sequence to sidestep this "
                               "requirement if you do not need ONNX exportability.")
        sorted_indices = None
    else:
        order = np.argsort(-lens, kind="stable")
        lens = lens[order]
        sorted_indices = _on(order, input)
        input = input.index_select(0 if batch_first else 1, sorted_indices)
    if lens.size and lens.min() <= 0:
        raise RuntimeError("Length of all samples has to be greater than 0, but found an element "
                           "in 'lengths' that is <= 0")
    if batch_first:
        input = input.transpose(0, 1)
    T = int(lens.max()) if lens.size else 0
    if T > input.shape[0]:
        raise RuntimeError(f"start ({0}) + length ({T}) exceeds dimension size "
                           f"({input.shape[0]}).")
    running = np.arange(T)[:, None] < lens[None, :]  # (T, B): sequence b still runs at t
    data = input[:T][_on(running, input)]
    batch_sizes = _make(running.sum(1).astype(np.int64))
    return PackedSequence(data, batch_sizes, sorted_indices, None)


def pad_packed_sequence(sequence: PackedSequence, batch_first: bool = False,
                        padding_value: float = 0.0, total_length=None) -> tuple:
    """(padded batch, lengths): the inverse of pack_padded_sequence, in the original order."""
    data, batch_sizes = sequence.data, sequence.batch_sizes
    bs = _lengths_array(batch_sizes)
    T = bs.shape[0]
    B = int(bs[0]) if T else 0
    if total_length is not None:
        if total_length < T:
            raise ValueError("Expected total_length to be at least the length of the longest "
                             f"sequence in input, but got total_length={total_length} and max "
                             f"sequence length being {T}")
    else:
        total_length = T
    running = np.arange(B)[None, :] < bs[:, None]  # (T, B)
    index = np.full((total_length, B), data.shape[0], dtype=np.int64)  # padding row by default
    index[:T][running] = np.arange(data.shape[0])
    pad_row = data.new_full((1, *data.shape[1:]), padding_value)
    from ember._ops.shape import cat
    padded = cat([data, pad_row]).index_select(0, _on(index.reshape(-1), data))
    padded = padded.reshape(total_length, B, *data.shape[1:])
    lengths = running.sum(0).astype(np.int64)
    if sequence.unsorted_indices is not None:
        unsorted = sequence.unsorted_indices
        padded = padded.index_select(1, unsorted)
        u = unsorted._data
        lengths = lengths[u if isinstance(u, np.ndarray) else u.get()]
    if batch_first:
        padded = padded.transpose(0, 1)
    return padded, _make(lengths)


def pad_sequence(sequences, batch_first: bool = False, padding_value: float = 0.0,
                 padding_side: str = "right") -> Tensor:
    """Stack sequences of shape (L_i, *) into (max L, B, *) (or (B, max L, *)), padded."""
    from ember._ops.shape import cat, stack
    if padding_side not in ("left", "right"):
        raise ValueError(f"Expected padding_side to be one of left or right, but got "
                         f"{padding_side}.")
    if isinstance(sequences, Tensor):
        sequences = sequences.unbind(0)
    sequences = list(sequences)
    if not sequences:
        raise RuntimeError("received an empty list of sequences")
    T = max(s.shape[0] for s in sequences)
    padded = []
    for s in sequences:
        n = T - s.shape[0]
        if n:
            fill = s.new_full((n, *s.shape[1:]), padding_value)
            s = cat([s, fill]) if padding_side == "right" else cat([fill, s])
        padded.append(s)
    return stack(padded, 0 if batch_first else 1)


def unpad_sequence(padded_sequences: Tensor, lengths, batch_first: bool = False) -> list:
    """The list of unpadded sequences of a padded batch."""
    if not batch_first:
        padded_sequences = padded_sequences.transpose(0, 1)
    return [padded_sequences[i, :int(n)] for i, n in enumerate(_lengths_array(lengths))]


def pack_sequence(sequences, enforce_sorted: bool = True) -> PackedSequence:
    """Pack a list of variable-length sequences (sorted by decreasing length unless
    enforce_sorted=False)."""
    lengths = [s.shape[0] for s in sequences]
    return pack_padded_sequence(pad_sequence(sequences), lengths,
                                enforce_sorted=enforce_sorted)


def unpack_sequence(packed_sequences: PackedSequence) -> list:
    """The list of sequences a PackedSequence holds, in their original order."""
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)
