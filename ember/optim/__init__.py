"""ember.optim: the optimizers (torch.optim), each in its own file."""
from ember.optim.optimizer import Optimizer
from ember.optim.adadelta import Adadelta
from ember.optim.adagrad import Adagrad
from ember.optim.adam import Adam
from ember.optim.adamax import Adamax
from ember.optim.adamw import AdamW
from ember.optim.asgd import ASGD
from ember.optim.lbfgs import LBFGS
from ember.optim.nadam import NAdam
from ember.optim.radam import RAdam
from ember.optim.rmsprop import RMSprop
from ember.optim.rprop import Rprop
from ember.optim.sgd import SGD

# Submodules written separately are imported here, one line each, as they land:
# `from ember.optim import lr_scheduler` and `from ember.optim import swa_utils`.
from ember.optim import lr_scheduler
from ember.optim import swa_utils

__all__ = ["Adadelta", "Adagrad", "Adam", "Adamax", "AdamW", "ASGD", "LBFGS", "NAdam",
           "Optimizer", "RAdam", "RMSprop", "Rprop", "SGD"]
