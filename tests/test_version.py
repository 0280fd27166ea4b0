"""ember.__version__, ember.version and TorchVersion against torch's."""
from __future__ import annotations

import itertools
import re
from importlib.metadata import version as dist_version

import pytest
from torch.torch_version import TorchVersion as TorchTV

import ember
from ember.torch_version import InvalidVersion, TorchVersion

SELVES = ["2.13.0+ember0.1.0", "2.13.0", "1.10.0a0", "2.0.0rc1", "2.1.0.dev20230801+cu118",
          "1!0.1", "parrot", "2.0.post1"]
OTHERS = ["2.0", "2.13", "2.13.0", "2.13.0+ember0.1.0", "2.13.0+ember0.2.0", "2.13.0+cpu",
          "2.2", "2.13.1", "1.10.0a", "1.10.0", "1.10.0b1", "1.10.0.dev1", "2.0.0rc2",
          "2.0.0-1", "2.0.0.post1", "2.0.0.post1.dev0", "2.1.0.dev20230802", "v2.13",
          "1!0.0", "parrot", "zebra", "", (2, 13), (2, 1), (1, 10, 0), [3], (2, 13, 0, 0)]


@pytest.mark.parametrize("op", ["__gt__", "__lt__", "__eq__", "__ge__", "__le__", "__ne__"])
def test_comparisons_match_torch(op):
    for s, o in itertools.product(SELVES, OTHERS):
        assert getattr(TorchVersion(s), op)(o) == getattr(TorchTV(s), op)(o), (s, op, o)


def test_sorting_matches_torch():
    pool = [o for o in OTHERS if isinstance(o, str) and o not in ("parrot", "zebra", "")]
    assert sorted(pool, key=TorchVersion) == sorted(pool, key=TorchTV)


def test_version_object_operands():
    """Version objects (torch's vendored packaging, or packaging itself) compare too."""
    from torch._vendor.packaging.version import Version
    for s, o in itertools.product(SELVES[:6], ["2.0", "2.13.0+ember0.1.0", "1.10.0a0"]):
        for op in ("__gt__", "__lt__", "__eq__", "__ge__", "__le__"):
            assert getattr(TorchVersion(s), op)(Version(o)) == \
                getattr(TorchTV(s), op)(Version(o)), (s, op, o)
    packaging = pytest.importorskip("packaging.version")
    assert ember.__version__ > packaging.Version("2.0")
    assert ember.__version__ < packaging.Version("2.13.1")
    assert packaging.parse(ember.__version__) > packaging.parse("2.0")
    assert packaging.parse(ember.__version__).local == ember.__version__.split("+")[1]


def test_non_version_operand_raises_like_torch():
    for tv in (TorchVersion, TorchTV):
        with pytest.raises(TypeError):
            tv("2.13.0") > 2  # noqa: B015
    with pytest.raises(InvalidVersion, match="Invalid version"):
        TorchVersion("2.0")._convert_to_version("2.x")


def test_ember_version_value():
    v = ember.__version__
    assert isinstance(v, str) and isinstance(v, TorchVersion)
    assert v == f"2.13.0+ember{dist_version('ember')}"
    assert str(v) == ember.version.__version__
    assert re.fullmatch(r"2\.13\.0\+ember\d+\.\d+\.\d+", v)
    assert v >= "2.0" and v > (2, 1) and v < "3" and v.startswith("2.")
    assert hash(v) == hash(str(v)) and {v: 1}[str(v)] == 1
    assert ember.version.ember == dist_version("ember")


def test_version_module_fields():
    import torch.version as tver
    for name in ("cuda", "hip", "debug", "git_version"):
        assert hasattr(ember.version, name) and hasattr(tver, name)
    assert ember.version.cuda is None and ember.version.hip is None
    assert ember.version.debug is False
