"""Test setup: the oracle on the path, reproducible random streams, steady hypothesis runs."""
import os
import sys

import pytest
from hypothesis import settings

sys.path.insert(0, os.path.dirname(__file__))

# Under CI the same examples every run: a failure there is reproducible, never a coin toss.
settings.register_profile("ci", derandomize=True, deadline=None)
if os.environ.get("CI"):
    settings.load_profile("ci")


@pytest.fixture(autouse=True)
def _seeded():
    """Each test starts from the same ember and torch random state."""
    import torch

    import ember
    ember.manual_seed(0)
    torch.manual_seed(0)
    yield
