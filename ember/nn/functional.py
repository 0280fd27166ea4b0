"""nn.functional: the functional form of every layer (torch.nn.functional).

The kernels live in ember/_ops/ by family; this module gathers them under
torch's names. Ops that are also Tensor methods (softmax, relu ...) come from
the core families.
"""
from __future__ import annotations

from ember._ops.activation import *  # noqa: F403
from ember._ops.attention import *  # noqa: F403
from ember._ops.conv import *  # noqa: F403
from ember._ops.dropout import *  # noqa: F403
from ember._ops.embedding import *  # noqa: F403
from ember._ops.loss import *  # noqa: F403
from ember._ops.normalization import *  # noqa: F403
from ember._ops.pooling import *  # noqa: F403
from ember._ops.rnn import *  # noqa: F403
from ember._ops.softmax import log_softmax, softmax  # noqa: F401
from ember._ops.vision import *  # noqa: F403
