"""`python -m ember.distributed.run`: torchrun's environment, arguments, failures, debugging."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import textwrap

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _has_mpi() -> bool:
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        return False
    return shutil.which("mpiexec") is not None


needs_mpi = pytest.mark.skipif(not _has_mpi(), reason="needs mpi4py and mpiexec")

SCRIPT = textwrap.dedent("""
    import json, os, sys
    keys = ["RANK", "LOCAL_RANK", "WORLD_SIZE", "LOCAL_WORLD_SIZE", "GROUP_RANK",
            "MASTER_ADDR", "MASTER_PORT", "TORCHELASTIC_RUN_ID", "OMP_NUM_THREADS"]
    record = {"env": {k: os.environ.get(k) for k in keys}, "argv": sys.argv,
              "name": __name__}
    mode = sys.argv[1] if len(sys.argv) > 1 else ""
    if mode == "raise" and os.environ["RANK"] == "1":
        def inner():
            raise ValueError("rank one broke")
        inner()
    if mode == "exit3" and os.environ["RANK"] == "1":
        sys.exit(3)
    import ember, ember.distributed as dist
    dist.init_process_group("nccl")
    assert dist.get_rank() == int(os.environ["RANK"])
    t = ember.ones(1)
    dist.all_reduce(t)
    record["sum"] = t.item()
    print(f"SUM {int(t.item())}", flush=True)
    with open(f"rank{os.environ['RANK']}.json", "w") as f:
        json.dump(record, f)
""")


def _records(tmp_path, n: int) -> list[dict]:
    import json
    return [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in range(n)]


FAKE_DEBUGPY = textwrap.dedent("""
    import os
    def listen(addr):
        with open(f"listen{os.environ['RANK']}", "w") as f:
            f.write(f"{addr[0]} {addr[1]}")
        return addr
    def wait_for_client():
        with open(f"listen{os.environ['RANK']}", "a") as f:
            f.write(" waited")
""")


def _run(tmp_path, *args, timeout=90, env_extra=None, pythonpath=()):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([*pythonpath, ROOT, str(tmp_path)])}
    env.pop("OMP_NUM_THREADS", None)
    env.update(env_extra or {})
    return subprocess.run([sys.executable, "-m", "ember.distributed.run", *args],
                          capture_output=True, text=True, timeout=timeout, env=env,
                          cwd=str(tmp_path))


@pytest.mark.slow
@needs_mpi
def test_environment_arguments_and_prefixed_output(tmp_path):
    (tmp_path / "job.py").write_text(SCRIPT)
    proc = _run(tmp_path, "--nproc_per_node", "3", "--master-addr", "10.0.0.7",
                "--master_port", "1234", "--prefix-output", "job.py", "--lr", "0.1")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    recs = _records(tmp_path, 3)
    for r, rec in enumerate(recs):
        e = rec["env"]
        assert (e["RANK"], e["LOCAL_RANK"], e["GROUP_RANK"]) == (str(r), str(r), "0")
        assert e["WORLD_SIZE"] == "3" and e["LOCAL_WORLD_SIZE"] == "3"
        assert (e["MASTER_ADDR"], e["MASTER_PORT"]) == ("10.0.0.7", "1234")
        assert e["TORCHELASTIC_RUN_ID"] == "none" and e["OMP_NUM_THREADS"] == "1"
        assert rec["argv"] == ["job.py", "--lr", "0.1"] and rec["name"] == "__main__"
        assert rec["sum"] == 3.0
    # mpiexec prefixes each chunk a rank writes; chunks of different ranks may interleave.
    assert sorted(re.findall(r"\[(\d)\] SUM 3", proc.stdout)) == ["0", "1", "2"], proc.stdout


@pytest.mark.slow
@needs_mpi
def test_module_mode_with_a_debugged_rank(tmp_path):
    pkg = tmp_path / "mypkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "train.py").write_text(SCRIPT)
    fake = tmp_path / "fake"
    fake.mkdir()
    (fake / "debugpy.py").write_text(FAKE_DEBUGPY)
    proc = _run(tmp_path, "--nproc-per-node", "2", "--debug-rank", "1", "--debug-port", "6000",
                "-m", "mypkg.train", "x", pythonpath=[str(fake)])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    recs = _records(tmp_path, 2)
    assert all(r["argv"][1:] == ["x"] and r["name"] == "__main__" and r["sum"] == 2.0
               for r in recs)
    assert (tmp_path / "listen1").read_text() == "127.0.0.1 6000 waited"
    assert not (tmp_path / "listen0").exists()
    assert "[rank1]: debugpy is listening on 127.0.0.1:6000" in proc.stderr


@pytest.mark.slow
@needs_mpi
@pytest.mark.parametrize("mode, rank, code, shown", [
    ("raise", 1, 1, "ValueError: rank one broke"), ("exit3", 1, 3, "SystemExit: 3")])
def test_failing_rank_ends_the_job(tmp_path, mode, rank, code, shown):
    (tmp_path / "job.py").write_text(SCRIPT)
    proc = _run(tmp_path, "--nproc-per-node", "2", "job.py", mode, timeout=60)
    assert proc.returncode == code, proc.stdout + proc.stderr
    err = proc.stderr
    assert f"[rank{rank}]: {shown}" in err, err
    assert "job.py FAILED" in err and f"rank      : {rank} (local_rank: {rank})" in err
    assert f"exitcode  : {code}" in err
    if mode == "raise":  # the traceback is the script's, without the launcher's frames
        assert 'job.py", line' in err and "in inner" in err and "runpy" not in err
    assert "SUM" not in proc.stdout  # the other ranks were stopped before the collective


def test_debug_rank_without_debugpy_is_a_clear_error(monkeypatch):
    from ember.distributed import run
    monkeypatch.setitem(sys.modules, "debugpy", None)  # makes `import debugpy` fail
    with pytest.raises(RuntimeError, match="--debug-rank needs debugpy: pip install debugpy"):
        run._wait_for_debugger(0, 5678)


@pytest.mark.parametrize("args, message", [
    (["--node-rank", "1", "job.py"], "run it once, on the first node"),
    (["--nnodes", "2", "job.py"], "needs --hostfile"),
    (["--nproc-per-node", "2", "--debug-rank", "5", "job.py"], "is not a rank of a job of 2"),
    (["--nproc-per-node", "zero", "job.py"], "Unsupported nproc_per_node value"),
    (["--max-restarts", "3", "job.py"], "not supported"),
])
def test_argument_errors(args, message):
    from ember.distributed.run import main
    with pytest.raises(ValueError, match=message):
        main(args)


def test_multi_node_command_line():
    from ember.distributed.run import _mpiexec_command
    assert _mpiexec_command("mpiexec", False, 6, 3, "hosts", True) == [
        "mpiexec", "-n", "6", "-f", "hosts", "-ppn", "3", "-prepend-rank"]
    assert _mpiexec_command("mpirun", True, 4, 2, "hosts", True) == [
        "mpirun", "-n", "4", "--hostfile", "hosts", "--npernode", "2", "--tag-output"]
    assert _mpiexec_command("mpiexec", False, 2, 2, None, False) == ["mpiexec", "-n", "2"]


def test_parser_accepts_torchrun_spellings():
    from ember.distributed.run import parse_args
    a = parse_args(["--nproc_per_node=4", "--rdzv-backend", "c10d", "--rdzv_endpoint",
                    "h:1", "--standalone", "-m", "pkg.mod", "--flag", "v"])
    assert a.nproc_per_node == "4" and a.module and a.standalone
    assert a.training_script == "pkg.mod" and a.training_script_args == ["--flag", "v"]
