"""`ember run`: unmodified PyTorch programs on ember, the missing-API errors, `--report`.

The example programs in tests/run_scripts/ are ordinary PyTorch code. Each runs
through `python -m ember run` in a subprocess and, as a sanity check that they are
real PyTorch programs, under torch itself (in this process, where torch is loaded).
"""
from __future__ import annotations

import io
import os
import re
import runpy
import shutil
import subprocess
import sys
import textwrap

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import ember
from ember import _run

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPTS = os.path.join(HERE, "run_scripts")
ROOT = os.path.dirname(HERE)

# name -> (extra argv, marker); argv keeps each program to a couple of seconds.
PROGRAMS = {
    "mnist_cnn": (["--epochs", "3"], "DONE mnist_cnn"),
    "chargpt": (["12"], "DONE chargpt"),
    "vae": ([], "DONE vae"),
    "lstm_lm": ([], "DONE lstm_lm"),
}


def _env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    env.setdefault("OMP_NUM_THREADS", "1")
    env["CUDA_VISIBLE_DEVICES"] = ""  # the programs pick "cuda" when they can: keep to CPU
    return env


def _ember_run(*args: str, cwd: str | None = None, timeout: float = 120,
               module: bool = True) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "ember", *args] if module else [shutil.which("ember"), *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=cwd or ROOT,
                          env=_env())


def _write(tmp_path, name: str, source: str) -> str:
    path = tmp_path / name
    path.write_text(textwrap.dedent(source))
    return str(path)


def _losses(output: str) -> list[float]:
    return [float(v) for v in re.findall(r"\bloss\s+([0-9.]+)", output)]


def _assert_learns(output: str, marker: str) -> None:
    assert marker in output, output
    losses = _losses(output)
    assert len(losses) >= 3, output
    assert losses[-1] < 0.9 * losses[0], losses


# ----------------------------------------------------------------------------------------
# The example programs

@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_program_runs_on_ember(name):
    argv, marker = PROGRAMS[name]
    proc = _ember_run("run", os.path.join(SCRIPTS, f"{name}.py"), *argv)
    assert proc.returncode == 0, proc.stderr
    _assert_learns(proc.stdout, marker)


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_program_is_real_pytorch(name, monkeypatch, capsys):
    argv, marker = PROGRAMS[name]
    path = os.path.join(SCRIPTS, f"{name}.py")
    assert sys.modules["torch"] is torch and torch.__name__ == "torch"
    monkeypatch.setattr(sys, "argv", [path, *argv])
    monkeypatch.syspath_prepend(SCRIPTS)
    sys.modules.pop("gpt_model", None)
    benchmark = torch.backends.cudnn.benchmark
    try:
        with torch.random.fork_rng():  # the programs seed torch's global generator
            runpy.run_path(path, run_name="__main__")
    finally:
        sys.modules.pop("gpt_model", None)
        torch.backends.cudnn.benchmark = benchmark  # and set flags
    _assert_learns(capsys.readouterr().out, marker)


# ----------------------------------------------------------------------------------------
# Running semantics

def test_argv_main_and_sys_path(tmp_path):
    (tmp_path / "helper_mod.py").write_text("VALUE = 41\n")
    path = _write(tmp_path, "prog.py", """
        import sys
        import torch
        import torch.nn as nn
        import helper_mod  # found through the script's folder, as python does
        print("ARGV", sys.argv)
        print("NAME", __name__, __file__.endswith("prog.py"))
        print("ALIAS", torch.__name__, torch.nn is nn, nn.Linear.__module__)
        print("VALUE", helper_mod.VALUE + 1)
        sys.exit(3)
    """)
    proc = _ember_run("run", path, "a", "--b", "c d", cwd=str(tmp_path))
    assert proc.returncode == 3, proc.stderr
    assert f"ARGV {[path, 'a', '--b', 'c d']}" in proc.stdout
    assert "NAME __main__ True" in proc.stdout
    assert "ALIAS ember True ember.nn.modules.linear" in proc.stdout
    assert "VALUE 42" in proc.stdout


def test_run_module_flag(tmp_path):
    pkg = tmp_path / "mypkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "train.py").write_text("import sys, torch\nprint('MOD', __name__, sys.argv[1:],"
                                  " torch.zeros(2).sum().item())\n")
    proc = _ember_run("run", "-m", "mypkg.train", "x", cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert "MOD __main__ ['x'] 0.0" in proc.stdout


def test_dataloader_workers_see_ember_as_torch(tmp_path):
    # fork children inherit the hook; spawn children re-import the program as
    # __mp_main__ and must get the hook before that.
    path = _write(tmp_path, "workers.py", """
        import torch
        from torch.utils.data import DataLoader, Dataset, get_worker_info

        class Numbers(Dataset):
            def __len__(self):
                return 8

            def __getitem__(self, i):
                import torch.nn.functional  # imports inside the worker go through it too
                return torch.tensor([i, get_worker_info().id])

        if __name__ == "__main__":
            for ctx in ("fork", "spawn"):
                loader = DataLoader(Numbers(), batch_size=4, num_workers=2,
                                    multiprocessing_context=ctx)
                out = torch.cat(list(loader))
                print(ctx, type(out).__module__, out[:, 0].tolist(),
                      sorted(set(out[:, 1].tolist())))
    """)
    proc = _ember_run("run", path)
    assert proc.returncode == 0, proc.stderr
    for ctx in ("fork", "spawn"):
        assert f"{ctx} ember._tensor [0, 1, 2, 3, 4, 5, 6, 7] [0, 1]" in proc.stdout


def test_exception_exits_1_with_user_traceback(tmp_path):
    path = _write(tmp_path, "boom.py", "import torch\nraise ValueError('boom 7')\n")
    proc = _ember_run("run", path)
    assert proc.returncode == 1
    assert "ValueError: boom 7" in proc.stderr
    assert 'boom.py", line 2' in proc.stderr
    assert "runpy" not in proc.stderr and "_run.py" not in proc.stderr


def test_usage_errors(tmp_path):
    proc = _ember_run()
    assert proc.returncode == 2 and "usage: ember run" in proc.stderr
    proc = _ember_run("run", str(tmp_path / "nope.py"))
    assert proc.returncode != 0 and "nope.py" in proc.stderr
    assert _run.main(["--help"]) == 0


@pytest.mark.skipif(shutil.which("ember") is None, reason="console script not installed")
def test_console_script(tmp_path):
    path = _write(tmp_path, "p.py",
                  "import sys, torch\nprint('OK', sys.argv[1:], torch.__name__)\n")
    proc = _ember_run("run", path, "1", module=False)
    assert proc.returncode == 0, proc.stderr
    assert "OK ['1'] ember" in proc.stdout


# ----------------------------------------------------------------------------------------
# Missing API

def test_missing_api_errors_name_the_torch_api(tmp_path):
    path = _write(tmp_path, "missing.py", """
        import torch
        import torch.nn.functional as F
        from ember._run import MissingTorchAttributeError, MissingTorchModuleError

        def err(fn):
            try:
                fn()
            except Exception as e:
                return f"{type(e).__name__}: {e}"

        print("E1", err(lambda: torch.fft.rfft))
        print("E2", err(lambda: F.no_such_function))
        print("E3", err(lambda: torch.nn.NoSuchLayer))
        try:
            import torch.no_such_module.sub
        except ImportError as e:  # programs probing optional APIs keep working
            print("E4", type(e).__name__, isinstance(e, ModuleNotFoundError), e)
        print("HAS", hasattr(torch, "no_such_thing"), hasattr(torch.nn, "Linear"))
        print("LAZY", torch.utils.data.DataLoader.__name__, torch.backends.cudnn.deterministic)
        print("ISA", issubclass(MissingTorchAttributeError, AttributeError),
              issubclass(MissingTorchModuleError, ImportError))
        import ember
        print("SPEC", ember.__spec__.name, ember.nn.__spec__.name)
        torch.special.erfinv(torch.zeros(1))
    """)
    proc = _ember_run("run", path)
    out = proc.stdout
    assert "E1 MissingTorchAttributeError: ember does not implement torch.fft" in out
    assert ("E2 MissingTorchAttributeError: ember does not implement "
            "torch.nn.functional.no_such_function") in out
    assert "E3 MissingTorchAttributeError: ember does not implement torch.nn.NoSuchLayer" in out
    assert ("E4 MissingTorchModuleError True ember does not implement torch.no_such_module"
            in out)
    assert "HAS False True" in out
    assert "LAZY DataLoader False" in out
    assert "ISA True True" in out
    assert "SPEC ember ember.nn" in out  # ember's modules keep their own identity
    assert proc.returncode == 1
    assert "MissingTorchAttributeError: ember does not implement torch.special" in proc.stderr
    # the uncaught error also names the full API the failing line used
    assert "ember does not implement torch.special.erfinv (the program uses it at missing.py:" \
        in proc.stderr


def test_missing_submodule_import_names_full_api(tmp_path):
    path = _write(tmp_path, "subimp.py", "import os\nimport torch.special.bessel as b\n")
    proc = _ember_run("run", path)
    assert proc.returncode == 1
    assert "MissingTorchModuleError: ember does not implement torch.special\n" in proc.stderr
    assert "ember does not implement torch.special.bessel (the program uses it at subimp.py:2)" \
        in proc.stderr


def test_from_import_of_missing_name_is_explained(tmp_path):
    path = _write(tmp_path, "fromimp.py", "from torch.nn import NoSuchLayer\n")
    proc = _ember_run("run", path)
    assert proc.returncode == 1
    assert "ImportError: cannot import name 'NoSuchLayer'" in proc.stderr
    assert "ember does not implement torch.nn.NoSuchLayer" in proc.stderr


def test_import_ember_alone_installs_nothing():
    assert not any(isinstance(f, _run._TorchAliasFinder) for f in sys.meta_path)
    assert "__getattr__" not in vars(ember) or not getattr(
        vars(ember)["__getattr__"], "_ember_torch_alias", False)
    with pytest.raises(AttributeError) as info:
        ember.no_such_thing  # noqa: B018
    assert type(info.value) is AttributeError
    assert sys.modules["torch"] is torch


# ----------------------------------------------------------------------------------------
# --report

REPORT_SOURCE = """
import torch
import torch.nn as nn
from torch import optim
from torch.utils.data import DataLoader
import torch.nn.functional as F

model = nn.Sequential(nn.Linear(4, 2))
opt = optim.SGD(model.parameters(), lr=0.1)
spec = torch.fft.rfft(torch.randn(8))
y = F.relu(torch.zeros(3)).sum()
torch.backends.cudnn.benchmark = True
nn.Linear.forward
thing.attr  # not torch: ignored
"""


def test_scan_source_collects_aliases_and_chains():
    uses = _run.scan_source(REPORT_SOURCE)
    for name in ["torch", "torch.nn", "torch.optim", "torch.utils.data.DataLoader",
                 "torch.nn.Sequential", "torch.nn.Linear", "torch.optim.SGD", "torch.fft.rfft",
                 "torch.randn", "torch.nn.functional.relu", "torch.zeros",
                 "torch.backends.cudnn.benchmark", "torch.nn.Linear.forward"]:
        assert name in uses, name
    assert uses["torch.fft.rfft"] == 10
    assert not any("thing" in n for n in uses)


_IMPORT_FORMS = {  # how a program can bind torch.nn.functional, and the expression it uses
    "import torch\n": "torch.nn.functional",
    "import torch.nn.functional\n": "torch.nn.functional",
    "import torch.nn.functional as {a}\n": "{a}",
    "from torch.nn import functional as {a}\n": "{a}",
    "from torch import nn as {a}\n": "{a}.functional",
    "import torch.nn as {a}\n": "{a}.functional",
    "import torch as {a}\n": "{a}.nn.functional",
}


@settings(max_examples=25, deadline=None)
@given(form=st.sampled_from(sorted(_IMPORT_FORMS)),
       alias=st.sampled_from(["F", "fn", "T", "nnf"]),
       attrs=st.lists(st.sampled_from(["relu", "gelu", "weight", "shape", "x"]), min_size=1,
                      max_size=3),
       blank=st.integers(0, 3))
def test_scan_follows_every_import_form(form, alias, attrs, blank):
    expr = _IMPORT_FORMS[form].format(a=alias)
    source = form.format(a=alias) + "\n" * blank + f"y = {expr}.{'.'.join(attrs)}(1)\n"
    uses = _run.scan_source(source)
    full = "torch.nn.functional." + ".".join(attrs)
    assert uses[full] == 2 + blank
    # only the whole chain is recorded for the use, never its prefixes as extra uses
    assert not any(n.startswith("torch.nn.functional.") and n != full for n in uses)


@pytest.mark.parametrize("name, expected", [
    ("torch.nn.Linear", ("torch.nn.Linear", True)),
    ("torch.nn.Linear.forward", ("torch.nn.Linear", True)),
    ("torch.optim.lr_scheduler.StepLR", ("torch.optim.lr_scheduler.StepLR", True)),
    ("torch.utils.data.DataLoader", ("torch.utils.data.DataLoader", True)),
    ("torch.backends.mps.is_available", ("torch.backends.mps.is_available", True)),
    ("torch.accelerator.current_accelerator", ("torch.accelerator.current_accelerator", True)),
    ("torch.fft.rfft", ("torch.fft.rfft", False)),
    ("torch.nn.NoSuchLayer.forward", ("torch.nn.NoSuchLayer", False)),
])
def test_resolve(name, expected):
    assert _run.resolve(name) == expected


def test_report_lists_present_and_missing(tmp_path):
    path = _write(tmp_path, "uses_fft.py", REPORT_SOURCE + "open('SHOULD_NOT_RUN', 'w')\n")
    proc = _ember_run("run", "--report", path, cwd=str(tmp_path))
    assert proc.returncode == 1, proc.stderr
    out = proc.stdout
    assert not (tmp_path / "SHOULD_NOT_RUN").exists()  # a static scan never runs the script
    assert re.search(r"MISSING\s+torch\.fft\.rfft\s+\(line 10\)", out), out
    assert re.search(r"ok\s+torch\.nn\.Linear\s", out), out
    assert re.search(r"ok\s+torch\.utils\.data\.DataLoader\s", out), out
    assert re.search(r"ok\s+torch\.backends\.cudnn\.benchmark\s", out), out
    assert "1 missing in ember" in out
    assert out.rstrip().endswith("missing: torch.fft.rfft")


def test_report_unparsable_or_absent_script_exits_2(tmp_path):
    path = _write(tmp_path, "bad.py", "import torch\ndef broken(:\n")
    for target in (path, str(tmp_path / "absent.py")):
        out = io.StringIO()
        assert _run.report(target, out) == 2
        assert out.getvalue() == ""


def test_report_clean_script_exits_0():
    proc = _ember_run("run", "--report", os.path.join(SCRIPTS, "chargpt.py"))
    assert proc.returncode == 0, proc.stdout
    assert "0 missing in ember" in proc.stdout
    assert re.search(r"ok\s+torch\.optim\.lr_scheduler\.CosineAnnealingLR", proc.stdout)


# ----------------------------------------------------------------------------------------
# torch.backends and torch.accelerator shims

def test_backends_flags_match_torch_on_this_machine():
    import ember.backends

    for mod in ("cudnn", "mps"):
        assert getattr(ember.backends, mod).is_available() == getattr(
            torch.backends, mod).is_available() or torch.cuda.is_available()
    cudnn = ember.backends.cudnn
    assert (cudnn.enabled, cudnn.benchmark, cudnn.deterministic) == (True, False, False)
    assert ember.backends.mps.is_built() is False
    assert ember.backends.cpu.get_cpu_capability() in ("DEFAULT", "AVX2", "AVX512")
    assert ember.backends.cuda.matmul.allow_tf32 is False
    assert cudnn.version() is None


def test_accelerator_truthful():
    import ember.accelerator as acc

    assert acc.is_available() == ember.cuda.is_available()
    assert acc.device_count() == ember.cuda.device_count()
    if not acc.is_available():
        assert acc.current_accelerator() is None
        with pytest.raises(RuntimeError, match="Cannot access accelerator device"):
            acc.current_device_index()
        with pytest.raises(RuntimeError, match="Cannot access accelerator device"):
            acc.synchronize()
        if not torch.accelerator.is_available():
            with pytest.raises(RuntimeError) as t_err:
                torch.accelerator.current_device_index()
            with pytest.raises(RuntimeError) as e_err:
                acc.current_device_index()
            assert str(t_err.value) == str(e_err.value)
    else:
        assert acc.current_accelerator() == ember.device("cuda")
        assert acc.current_device_index() == ember.cuda.current_device()


# ----------------------------------------------------------------------------------------
# torchvision, served by ember.vision

def test_vision_program_runs_on_ember():
    # torchvision is not installed here, so this program runs under ember only
    proc = _ember_run("run", os.path.join(SCRIPTS, "vision_folder.py"))
    assert proc.returncode == 0, proc.stderr
    assert "classes ['blue', 'red'] 48" in proc.stdout
    assert "saved True" in proc.stdout
    _assert_learns(proc.stdout, "DONE vision_folder")


def test_torchvision_imports_resolve_to_ember_vision(tmp_path):
    path = _write(tmp_path, "tv.py", """
        import torchvision
        import torchvision.transforms as T
        import torchvision.transforms.functional as TF
        from torchvision.transforms import v2
        from torchvision import datasets, utils
        import ember.vision

        def err(fn):
            try:
                fn()
            except Exception as e:
                return f"{type(e).__name__}: {e}"

        print("SAME", torchvision is ember.vision, T is ember.vision.transforms,
              TF is ember.vision.transforms.functional, v2.ToImage.__module__,
              datasets.MNIST.__module__, utils.make_grid.__name__)
        print("E1", err(lambda: T.NoSuchTransform))
        try:
            import torchvision.models
        except ImportError as e:
            print("E2", type(e).__name__, e)
        print("E3", err(lambda: torchvision.ops.nms))
    """)
    proc = _ember_run("run", path)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert ("SAME True True True ember.vision.transforms.v2 ember.vision.datasets.mnist "
            "make_grid") in out
    assert ("E1 MissingTorchAttributeError: ember does not implement "
            "torchvision.transforms.NoSuchTransform") in out
    assert "E2 MissingTorchModuleError ember does not implement torchvision.models" in out
    assert "E3 MissingTorchAttributeError: ember does not implement torchvision.ops" in out


def test_scan_and_resolve_torchvision_names():
    uses = _run.scan_source("import torchvision\n"
                            "import torchvision.transforms as T\n"
                            "from torchvision import datasets\n"
                            "from torchvision.utils import make_grid\n"
                            "m = torchvision.models.resnet18()\n"
                            "t = T.Compose([T.ToTensor()])\n"
                            "d = datasets.CIFAR10('.')\n")
    for name in ["torchvision", "torchvision.transforms", "torchvision.datasets",
                 "torchvision.utils.make_grid", "torchvision.models.resnet18",
                 "torchvision.transforms.Compose", "torchvision.transforms.ToTensor",
                 "torchvision.datasets.CIFAR10"]:
        assert name in uses, name
    assert uses["torchvision.models.resnet18"] == 5
    assert _run.resolve("torchvision.transforms.Resize") == ("torchvision.transforms.Resize",
                                                             True)
    assert _run.resolve("torchvision.transforms.v2.ToDtype") == (
        "torchvision.transforms.v2.ToDtype", True)
    assert _run.resolve("torchvision.datasets.ImageFolder.find_classes") == (
        "torchvision.datasets.ImageFolder", True)
    assert _run.resolve("torchvision.models.resnet18") == ("torchvision.models.resnet18", False)


def test_report_lists_torchvision_apis(tmp_path):
    path = _write(tmp_path, "tv_report.py", """
        import torch
        import torchvision.transforms as T
        from torchvision import models
        tf = T.Compose([T.RandomResizedCrop(8), T.ToTensor()])
        net = models.resnet18()
    """)
    proc = _ember_run("run", "--report", path)
    assert proc.returncode == 1, proc.stderr
    assert re.search(r"ok\s+torchvision\.transforms\.RandomResizedCrop\s", proc.stdout)
    assert re.search(r"MISSING\s+torchvision\.models\s", proc.stdout), proc.stdout
