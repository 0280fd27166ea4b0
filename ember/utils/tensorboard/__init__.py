"""ember.utils.tensorboard: SummaryWriter for TensorBoard logs (torch.utils.tensorboard),
written by tensorboardX (`pip install tensorboardX`, or ember's `tensorboard` extra)."""
import sys as _sys

try:
    if "torch" in _sys.modules:
        import tensorboardX as _tensorboardX
    else:
        # tensorboardX imports torch if it can, only to recognise its tensors. Hide it for
        # that import: ember converts its own tensors, and importing torch costs seconds.
        _sys.modules["torch"] = None
        try:
            import tensorboardX as _tensorboardX
        finally:
            del _sys.modules["torch"]
except ImportError:
    raise ImportError("ember.utils.tensorboard needs tensorboardX, which is not installed: "
                      "pip install tensorboardX") from None

from ember.utils.tensorboard.writer import FileWriter, SummaryWriter

__all__ = ["FileWriter", "SummaryWriter"]
