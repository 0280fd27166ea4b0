"""ember.nn: Module, the layers, their functional forms, init and utils (torch.nn)."""
from ember.nn.parameter import Buffer, Parameter
from ember.nn.modules import *  # noqa: F403
from ember.nn import functional, init, utils  # noqa: E402
from ember.nn import parallel  # noqa: E402
from ember.nn.parallel import DataParallel, SyncBatchNorm  # noqa: E402
