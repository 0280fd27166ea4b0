"""benchmarks/run.py: a quick run of the cheap rows writes a Markdown and a JSON report with
numeric ratios and the machine it ran on (no timing assertions), and bad options fail."""
from __future__ import annotations

import importlib.util
import json
import math
import os
import subprocess
import sys

import numpy
import pytest
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUN = os.path.join(ROOT, "benchmarks", "run.py")
ROWS = ["ops", "mlp", "import"]


def _run(*args: str, cwd: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, RUN, *args], cwd=cwd, capture_output=True,
                          text=True, timeout=300)


@pytest.fixture(scope="module")
def quick_report(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    proc = _run("--quick", "--threads", "1", "--only", ",".join(ROWS), "--out", str(out),
                cwd=str(out))
    assert proc.returncode == 0, proc.stderr
    with open(out / "report.json") as f:
        report = json.load(f)
    return report, (out / "report.md").read_text(), proc.stdout


@pytest.fixture(scope="module")
def run_module():
    spec = importlib.util.spec_from_file_location("bench_run", RUN)
    saved = list(sys.path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    sys.path[:] = saved
    return module


@pytest.mark.slow
def test_json_has_the_rows_with_numeric_ratios(quick_report):
    report, _, _ = quick_report
    rows = report["rows"]
    assert [r["name"] for r in rows] == ["ops"] * 3 + ["mlp", "import"]
    for r in rows:
        for key in ("ember", "torch", "ratio"):
            assert isinstance(r[key], float) and math.isfinite(r[key]) and r[key] > 0, r
        assert r["ratio"] == pytest.approx(r["ember"] / r["torch"])
        assert r["unit"] == "s"
    assert report["settings"] == {**report["settings"], "quick": True, "threads": 1}


@pytest.mark.slow
def test_json_names_the_machine(quick_report):
    m = quick_report[0]["machine"]
    assert m["threads"] == m["torch_threads"] == 1
    assert m["cores"] == os.cpu_count()
    assert m["numpy"] == numpy.__version__ and m["torch"] == torch.__version__
    assert m["python"] == ".".join(map(str, sys.version_info[:3]))
    for key in ("cpu", "numpy_blas", "torch_blas", "ember", "date"):
        assert m[key], key


@pytest.mark.slow
def test_markdown_and_stdout_carry_the_table(quick_report):
    report, md, stdout = quick_report
    assert md in stdout
    assert "Machine: " in md and f"{report['machine']['cores']} cores, 1 threads used" in md
    table = [line for line in md.splitlines() if line.startswith("| ")]
    assert table[0].startswith("| name | case | ember | torch | ember/torch |")
    assert len(table) == 1 + len(report["rows"])
    for line, r in zip(table[1:], report["rows"]):
        cells = [c.strip() for c in line.strip("|").split("|")]
        assert cells[0] == r["name"] and cells[1] == r["case"]
        assert float(cells[4]) == pytest.approx(r["ratio"], abs=0.006)


@pytest.mark.slow
def test_readme_block_is_replaced_between_markers(quick_report, run_module, tmp_path):
    report = quick_report[0]
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n\n{run_module.README_BEGIN}\nold table\n{run_module.README_END}"
                      "\n\nafter\n")
    run_module.update_readme(str(readme), run_module.readme_block(report, "a busy machine"))
    text = readme.read_text()
    assert text.startswith("intro\n\n") and text.endswith("\n\nafter\n")
    assert "old table" not in text
    assert f"{report['machine']['cores']}-core machine, a busy machine" in text
    assert text.count(run_module.README_BEGIN) == text.count(run_module.README_END) == 1
    for r in report["rows"]:
        assert f"| {r['case']} |" in text


def test_readme_without_markers_is_an_error(run_module, tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("no markers here\n")
    with pytest.raises(SystemExit, match="has no"):
        run_module.update_readme(str(readme), "block")
    assert readme.read_text() == "no markers here\n"


@pytest.mark.parametrize("args, message", [
    (["--only", "ops,nosuch"], "unknown rows ['nosuch']; choose from ops, mlp"),
    (["--readme", "--quick"], "--readme publishes the full suite"),
    (["--threads", "0"], "--threads must be at least 1"),
])
def test_bad_options_fail_clearly(tmp_path, args, message):
    proc = _run(*args, "--out", str(tmp_path), cwd=str(tmp_path))
    assert proc.returncode == 2
    assert message in proc.stderr
    assert not (tmp_path / "report.json").exists()


def test_repo_readme_has_one_generated_block(run_module):
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        text = f.read()
    assert text.count(run_module.README_BEGIN) == 1 and text.count(run_module.README_END) == 1
    assert text.index(run_module.README_BEGIN) < text.index(run_module.README_END)
