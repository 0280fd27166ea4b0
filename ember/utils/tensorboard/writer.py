"""SummaryWriter: log scalars, histograms, images, text and hyperparameters for TensorBoard
(torch/utils/tensorboard/writer.py).

The event files are written by tensorboardX; this layer gives it torch's signatures and
turns ember tensors (anywhere a value or an array goes) into NumPy arrays first.
"""
from __future__ import annotations

import time
from typing import Any

import numpy as np
import tensorboardX
from tensorboardX import summary

from ember._tensor import Tensor

__all__ = ["FileWriter", "SummaryWriter"]

FileWriter = tensorboardX.FileWriter


def _np(value: Any) -> Any:
    """An ember tensor as a NumPy array (bfloat16 widened to float32); other values as is."""
    if isinstance(value, Tensor):
        arr = value.detach().cpu().numpy()
        return arr.astype(np.float32) if arr.dtype.name == "bfloat16" else arr
    return value


def _scalar(value: Any) -> Any:
    """A one-element tensor as a Python number (how torch's writer logs scalar tensors)."""
    if isinstance(value, Tensor):
        if value.numel() != 1:  # torch's writer asserts this too
            raise AssertionError(f"scalar should be 0D, got a tensor of shape "
                                 f"{tuple(value.shape)}")
        return value.item()
    return value


class SummaryWriter:
    """Writes TensorBoard event files under `log_dir` (default runs/DATETIME_HOSTNAME plus
    `comment`). Use as a context manager or call close(); values reach the disk every
    `flush_secs` seconds, on flush() and on close()."""

    def __init__(self, log_dir: str | None = None, comment: str = "",
                 purge_step: int | None = None, max_queue: int = 10, flush_secs: int = 120,
                 filename_suffix: str = "") -> None:
        self._writer = tensorboardX.SummaryWriter(
            logdir=log_dir, comment=comment, purge_step=purge_step, max_queue=max_queue,
            flush_secs=flush_secs, filename_suffix=filename_suffix)
        self.log_dir = self._writer.logdir
        self.purge_step = purge_step
        self.max_queue = max_queue
        self.flush_secs = flush_secs
        self.filename_suffix = filename_suffix

    def get_logdir(self) -> str:
        """The directory the event files are written to."""
        return self._writer.logdir

    @property
    def file_writer(self):
        return self._writer.file_writer

    def _get_file_writer(self):
        return self._writer._get_file_writer()

    # ----------------------------------------------------------------- values
    def add_scalar(self, tag: str, scalar_value, global_step: int | None = None,
                   walltime: float | None = None, new_style: bool = False,
                   double_precision: bool = False) -> None:
        """One scalar (a number or one-element tensor) under `tag` at `global_step`."""
        self._writer.add_scalar(tag, _scalar(scalar_value), global_step, walltime)

    def add_scalars(self, main_tag: str, tag_scalar_dict: dict, global_step: int | None = None,
                    walltime: float | None = None) -> None:
        """Several scalars on one chart; each goes to its own run, the sub-directory
        `main_tag_tag` of log_dir, as torch lays them out (tensorboardX nests them)."""
        walltime = time.time() if walltime is None else walltime
        logdir = self._get_file_writer().get_logdir()
        writers = self._writer.all_writers  # the writer flushes and closes these too
        for tag, value in tag_scalar_dict.items():
            run = logdir + "/" + main_tag.replace("/", "_") + "_" + tag
            if run not in writers:
                writers[run] = FileWriter(run, self.max_queue, self.flush_secs,
                                          self.filename_suffix)
            writers[run].add_summary(summary.scalar(main_tag, _scalar(value)), global_step,
                                     walltime)

    def add_histogram(self, tag: str, values, global_step: int | None = None,
                      bins: str = "tensorflow", walltime: float | None = None,
                      max_bins=None) -> None:
        self._writer.add_histogram(tag, _np(values), global_step, bins, walltime, max_bins)

    def add_histogram_raw(self, tag: str, min, max, num, sum, sum_squares,  # noqa: A002
                          bucket_limits, bucket_counts, global_step: int | None = None,
                          walltime: float | None = None) -> None:
        self._writer.add_histogram_raw(tag, _scalar(min), _scalar(max), _scalar(num),
                                       _scalar(sum), _scalar(sum_squares), _np(bucket_limits),
                                       _np(bucket_counts), global_step, walltime)

    def add_image(self, tag: str, img_tensor, global_step: int | None = None,
                  walltime: float | None = None, dataformats: str = "CHW") -> None:
        """One image: float values in [0, 1] or uint8 in [0, 255], laid out as `dataformats`."""
        self._writer.add_image(tag, _np(img_tensor), global_step, walltime, dataformats)

    def add_images(self, tag: str, img_tensor, global_step: int | None = None,
                   walltime: float | None = None, dataformats: str = "NCHW") -> None:
        self._writer.add_images(tag, _np(img_tensor), global_step, walltime, dataformats)

    def add_figure(self, tag: str, figure, global_step: int | None = None, close: bool = True,
                   walltime: float | None = None) -> None:
        self._writer.add_figure(tag, figure, global_step, close, walltime)

    def add_video(self, tag: str, vid_tensor, global_step: int | None = None, fps: float = 4,
                  walltime: float | None = None) -> None:
        self._writer.add_video(tag, _np(vid_tensor), global_step, fps, walltime)

    def add_audio(self, tag: str, snd_tensor, global_step: int | None = None,
                  sample_rate: int = 44100, walltime: float | None = None) -> None:
        self._writer.add_audio(tag, _np(snd_tensor), global_step, sample_rate, walltime)

    def add_text(self, tag: str, text_string: str, global_step: int | None = None,
                 walltime: float | None = None) -> None:
        self._writer.add_text(tag, text_string, global_step, walltime)

    def add_embedding(self, mat, metadata=None, label_img=None, global_step: int | None = None,
                      tag: str = "default", metadata_header=None) -> None:
        if isinstance(metadata, Tensor):
            metadata = metadata.tolist()
        self._writer.add_embedding(_np(mat), metadata, _np(label_img), global_step, tag,
                                   metadata_header)

    def add_pr_curve(self, tag: str, labels, predictions, global_step: int | None = None,
                     num_thresholds: int = 127, weights=None,
                     walltime: float | None = None) -> None:
        self._writer.add_pr_curve(tag, _np(labels), _np(predictions), global_step,
                                  num_thresholds, _np(weights), walltime)

    def add_mesh(self, tag: str, vertices, colors=None, faces=None, config_dict=None,
                 global_step: int | None = None, walltime: float | None = None) -> None:
        self._writer.add_mesh(tag, _np(vertices), _np(colors), _np(faces), config_dict,
                              global_step, walltime)

    def add_custom_scalars(self, layout: dict) -> None:
        self._writer.add_custom_scalars(layout)

    def add_hparams(self, hparam_dict: dict, metric_dict: dict, hparam_domain_discrete=None,
                    run_name: str | None = None, global_step: int | None = None) -> None:
        """Hyperparameters and their metrics, for TensorBoard's HParams tab; written to the
        sub-run `run_name` (default: the current time)."""
        if type(hparam_dict) is not dict or type(metric_dict) is not dict:
            raise TypeError("hparam_dict and metric_dict should be dictionary.")
        if hparam_domain_discrete is not None:
            raise NotImplementedError("add_hparams(hparam_domain_discrete=...) is not supported "
                                      "by ember's tensorboardX-based writer")
        self._writer.add_hparams({k: _scalar(v) for k, v in hparam_dict.items()},
                                 {k: _scalar(v) for k, v in metric_dict.items()},
                                 name=run_name, global_step=global_step)

    def add_graph(self, model, input_to_model=None, verbose: bool = False,
                  use_strict_trace: bool = True) -> None:
        """Not available: torch traces the model with the JIT to draw its graph, and ember
        has no tracer."""
        raise NotImplementedError("SummaryWriter.add_graph needs torch.jit tracing, which "
                                  "ember does not have; log scalars, histograms or text "
                                  "instead")

    # ----------------------------------------------------------------- lifetime
    def flush(self) -> None:
        """Write everything pending to disk."""
        self._writer.flush()

    def close(self) -> None:
        self._writer.close()

    def __enter__(self) -> SummaryWriter:
        return self

    def __exit__(self, exc_type, exc_val, exc_tb) -> None:
        self.close()
