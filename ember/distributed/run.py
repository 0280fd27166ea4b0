"""`python -m ember.distributed.run`: torchrun's interface, with MPI starting the ranks.

    python -m ember.distributed.run --nproc-per-node 4 train.py --epochs 3
    python -m ember.distributed.run --nproc-per-node 2 -m mypackage.train
    python -m ember.distributed.run --nproc-per-node 2 --debug-rank 1 train.py

The launcher runs `mpiexec -n WORLD python -m ember.distributed.run --rank-entry ...`;
each rank then sets torchrun's environment (RANK, LOCAL_RANK, WORLD_SIZE,
LOCAL_WORLD_SIZE, GROUP_RANK, ROLE_RANK, MASTER_ADDR, MASTER_PORT, TORCHELASTIC_*)
and runs the script as `__main__`. A rank that raises or exits with a non-zero code
prints its traceback prefixed with its rank, records it for the launcher's summary and
aborts the MPI job, so the other ranks stop instead of hanging; the launcher exits with
that rank's code.

Several machines: MPI starts every rank from one command, so run the launcher once, on
the first machine, with `--nnodes N --hostfile hosts` (one host name per line; the
hostfile is passed to mpiexec as -f for MPICH, --hostfile for Open MPI). Ranks are
placed node by node, `--nproc-per-node` on each.

Debugging one rank: `--debug-rank R` makes rank R listen for a debugger with debugpy
(`pip install debugpy`) on 127.0.0.1 (port `--debug-port`, default 5678; 0 picks a free
one), print the port and wait until a debugger attaches; the other ranks run normally
and wait for it in their first collective (within the process group's timeout). VS Code
launch.json entries, one to start the job and one to attach to the waiting rank:

    {"name": "ember: 2 ranks, debug rank 1", "type": "debugpy", "request": "launch",
     "module": "ember.distributed.run", "console": "integratedTerminal",
     "args": ["--nproc-per-node", "2", "--debug-rank", "1", "${file}"]},
    {"name": "ember: attach to rank", "type": "debugpy", "request": "attach",
     "connect": {"host": "127.0.0.1", "port": 5678}, "justMyCode": false}

Accepted for compatibility and otherwise ignored: --rdzv-backend, --rdzv-id, --rdzv-conf,
--max-restarts 0, --monitor-interval, --role, --log-dir, --redirects, --tee, --local-addr.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import traceback

__all__ = ["main", "get_args_parser", "parse_args"]

_CONFIG_ENV = "EMBER_RUN_CONFIG"  # JSON the launcher hands to every rank


def _flag(parser, name: str, **kw) -> None:
    """torchrun takes both --a-b and --a_b."""
    names = [f"--{name}"] + ([f"--{name.replace('-', '_')}"] if "-" in name else [])
    parser.add_argument(*names, **kw)


def get_args_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m ember.distributed.run",
        description="Start a distributed ember program: one process per rank, through "
                    "mpiexec, with torchrun's flags and environment variables.")
    _flag(p, "nnodes", default="1", help="number of machines (MIN:MAX is read as MAX)")
    _flag(p, "nproc-per-node", default="1",
          help="processes per machine: a number, 'cpu', 'gpu' or 'auto'")
    _flag(p, "node-rank", type=int, default=0, help="must be 0: MPI starts every node")
    _flag(p, "master-addr", default="127.0.0.1", help="exported as MASTER_ADDR")
    _flag(p, "master-port", type=int, default=29500, help="exported as MASTER_PORT")
    _flag(p, "standalone", action="store_true", help="one machine, a free port")
    _flag(p, "rdzv-endpoint", default="", help="HOST[:PORT], sets MASTER_ADDR/MASTER_PORT")
    _flag(p, "hostfile", default=None, help="hosts for --nnodes > 1 (passed to mpiexec)")
    _flag(p, "prefix-output", action="store_true",
          help="prefix each output line with the rank that printed it")
    _flag(p, "debug-rank", type=int, default=None,
          help="start this rank under debugpy and wait for a debugger to attach")
    _flag(p, "debug-port", type=int, default=5678, help="debugpy's port (0: a free one)")
    for name in ("rdzv-backend", "rdzv-id", "rdzv-conf", "monitor-interval", "role",
                 "log-dir", "redirects", "tee", "local-addr", "local-ranks-filter"):
        _flag(p, name, default=None, help=argparse.SUPPRESS)
    _flag(p, "max-restarts", type=int, default=0, help="only 0 (no restarts) is supported")
    p.add_argument("-m", "--module", action="store_true",
                   help="run training_script as a module, as `python -m`")
    _flag(p, "no-python", action="store_true",
          help="run training_script as an executable instead of with Python")
    p.add_argument("--rank-entry", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("training_script", help="the script (or module with -m) to run")
    p.add_argument("training_script_args", nargs=argparse.REMAINDER)
    return p


def parse_args(argv=None) -> argparse.Namespace:
    return get_args_parser().parse_args(argv)


def _nproc(value: str) -> int:
    if value in ("cpu", "auto", "gpu"):
        from ember import cuda
        gpus = cuda.device_count() if cuda.is_available() else 0
        if value == "gpu" and gpus == 0:
            raise ValueError("--nproc-per-node=gpu but no CUDA device is available")
        return gpus if value == "gpu" or (value == "auto" and gpus) else (os.cpu_count() or 1)
    try:
        n = int(value)
    except ValueError:
        raise ValueError(f"Unsupported nproc_per_node value: {value}") from None
    if n < 1:
        raise ValueError(f"--nproc-per-node must be positive, got {n}")
    return n


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _mpiexec() -> str:
    """The mpiexec of the MPI that mpi4py uses (next to this Python first)."""
    found = os.environ.get("EMBER_MPIEXEC") or shutil.which(
        "mpiexec", path=os.path.dirname(sys.executable)) or shutil.which("mpiexec")
    if not found:
        raise RuntimeError("mpiexec not found: pip install 'ember[distributed]' (mpi4py and "
                           "mpich), or set EMBER_MPIEXEC")
    return found


def _is_open_mpi(mpiexec: str) -> bool:
    out = subprocess.run([mpiexec, "--version"], capture_output=True, text=True).stdout
    return "Open MPI" in out or "OpenRTE" in out


def _mpiexec_command(mpiexec: str, openmpi: bool, world: int, nproc: int,
                     hostfile: str | None, prefix: bool) -> list[str]:
    """mpiexec and its options (MPICH's hydra or Open MPI spelling) before the program."""
    cmd = [mpiexec, "-n", str(world)]
    if hostfile:
        cmd += (["--hostfile", hostfile, "--npernode", str(nproc)] if openmpi
                else ["-f", hostfile, "-ppn", str(nproc)])
    if prefix:
        cmd += ["--tag-output"] if openmpi else ["-prepend-rank"]
    return cmd


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.rank_entry:
        return _rank_entry(args)
    nnodes = int(str(args.nnodes).split(":")[-1])
    nproc = _nproc(str(args.nproc_per_node))
    if args.max_restarts:
        raise ValueError("--max-restarts: restarting failed ranks is not supported "
                         "(an MPI job ends when a rank fails)")
    if args.node_rank != 0:
        raise ValueError("--node-rank: with MPI the launcher starts every node's ranks; run "
                         "it once, on the first node, with --nnodes and --hostfile")
    if nnodes > 1 and not args.hostfile:
        raise ValueError(f"--nnodes {nnodes} needs --hostfile (the machines to start ranks on)")
    addr, port = args.master_addr, args.master_port
    if args.rdzv_endpoint:
        host, _, p = args.rdzv_endpoint.partition(":")
        addr, port = host or addr, int(p) if p else port
    if args.standalone:
        addr, port = "127.0.0.1", _free_port()
    world = nnodes * nproc
    if args.debug_rank is not None and not 0 <= args.debug_rank < world:
        raise ValueError(f"--debug-rank {args.debug_rank} is not a rank of a job of {world}")
    mpiexec = _mpiexec()
    openmpi = _is_open_mpi(mpiexec)
    cmd = _mpiexec_command(mpiexec, openmpi, world, nproc, args.hostfile, args.prefix_output)
    error_dir = tempfile.mkdtemp(prefix="ember_run_")
    config = {"nproc": nproc, "nnodes": nnodes, "master_addr": addr, "master_port": port,
              "debug_rank": args.debug_rank, "debug_port": args.debug_port,
              "module": args.module, "no_python": args.no_python, "error_dir": error_dir,
              "run_id": args.rdzv_id or "none"}
    env = {**os.environ, _CONFIG_ENV: json.dumps(config)}
    if world > 1 and "OMP_NUM_THREADS" not in env:
        env["OMP_NUM_THREADS"] = "1"  # as torchrun: ranks would oversubscribe the cores
    cmd += [sys.executable, "-m", "ember.distributed.run", "--rank-entry",
            args.training_script, *args.training_script_args]
    try:
        code = subprocess.call(cmd, env=env)
        if code != 0:
            _report_failure(args.training_script, error_dir, code)
        return code
    finally:
        shutil.rmtree(error_dir, ignore_errors=True)


def _report_failure(script: str, error_dir: str, code: int) -> None:
    """torchrun's summary: the first rank that failed, its exit code and traceback."""
    errors = []
    for name in os.listdir(error_dir):
        with open(os.path.join(error_dir, name)) as f:
            errors.append(json.load(f))
    errors.sort(key=lambda e: e["time"])
    line = "=" * 60
    lines = [line, f"{script} FAILED", "-" * 60]
    if errors:
        e = errors[0]
        stamp = time.strftime("%Y-%m-%d_%H:%M:%S", time.localtime(e["time"]))
        lines += ["Root Cause (first observed failure):", "[0]:", f"  time      : {stamp}",
                  f"  host      : {e['host']}",
                  f"  rank      : {e['rank']} (local_rank: {e['local_rank']})",
                  f"  exitcode  : {e['exitcode']} (pid: {e['pid']})",
                  "  traceback : " + e["traceback"].rstrip().replace("\n", "\n    ")]
    else:
        lines += [f"mpiexec exited with code {code} (no rank recorded an error; a rank may "
                  "have been killed)"]
    lines.append(line)
    print("\n".join(lines), file=sys.stderr, flush=True)


# ----------------------------------------------------------------- inside each rank
def _wait_for_debugger(rank: int, port: int) -> None:
    try:
        import debugpy
    except ImportError as e:
        raise RuntimeError("--debug-rank needs debugpy: pip install debugpy") from e
    host, port = debugpy.listen(("127.0.0.1", port or _free_port()))
    print(f"[rank{rank}]: debugpy is listening on {host}:{port}; waiting for a debugger to "
          "attach ...", file=sys.stderr, flush=True)
    debugpy.wait_for_client()


def _rank_entry(args: argparse.Namespace) -> int:
    config = json.loads(os.environ[_CONFIG_ENV])
    from ember.distributed.distributed_c10d import _mpi
    MPI = _mpi()
    comm = MPI.COMM_WORLD
    rank, world = comm.Get_rank(), comm.Get_size()
    nproc = config["nproc"]
    local_rank = rank % nproc  # ranks are placed node by node, nproc per node
    env = {"RANK": rank, "LOCAL_RANK": local_rank, "WORLD_SIZE": world,
           "LOCAL_WORLD_SIZE": nproc, "GROUP_RANK": rank // nproc,
           "GROUP_WORLD_SIZE": config["nnodes"], "ROLE_RANK": rank, "ROLE_NAME": "default",
           "ROLE_WORLD_SIZE": world, "MASTER_ADDR": config["master_addr"],
           "MASTER_PORT": config["master_port"], "TORCHELASTIC_RUN_ID": config["run_id"],
           "TORCHELASTIC_RESTART_COUNT": 0, "TORCHELASTIC_MAX_RESTARTS": 0}
    os.environ.update({k: str(v) for k, v in env.items()})
    os.environ.pop(_CONFIG_ENV, None)
    try:
        if config["debug_rank"] == rank:
            _wait_for_debugger(rank, config["debug_port"])
        script, script_args = args.training_script, args.training_script_args
        if config["no_python"]:
            code = subprocess.call([script, *script_args])
            if code:
                raise SystemExit(code)
        else:
            import runpy
            sys.argv = [script, *script_args]
            if config["module"]:
                runpy.run_module(script, run_name="__main__", alter_sys=True)
            else:
                sys.path[0] = os.path.dirname(os.path.abspath(script))
                runpy.run_path(script, run_name="__main__")
    except SystemExit as e:
        if e.code in (None, 0):
            return 0
        code = e.code if isinstance(e.code, int) else 1
        text = "" if isinstance(e.code, int) else str(e.code)
        _fail(comm, config, rank, local_rank, code, text or f"SystemExit: {e.code}")
    except BaseException as e:
        text = "".join(traceback.format_exception(type(e), e, _user_frames(e.__traceback__)))
        _fail(comm, config, rank, local_rank, 1, text)
    return 0


def _user_frames(tb):
    """The traceback without the launcher's own frames (this file and runpy)."""
    while tb is not None and tb.tb_next is not None and (
            tb.tb_frame.f_code.co_filename in (__file__, "<frozen runpy>")
            or "runpy" in os.path.basename(tb.tb_frame.f_code.co_filename)):
        tb = tb.tb_next
    return tb


def _wait_until_read(stream, timeout: float = 2.0) -> None:
    """Wait, briefly, until the other end of `stream`'s pipe has read what this process
    wrote. mpiexec forwards a rank's output through a pipe, and MPI_Abort can end the job
    before the last lines (the traceback) were read from it; FIONREAD tells how many bytes
    are still unread. Not a pipe (a terminal, a file) or no ioctl: nothing to wait for."""
    try:
        import fcntl
        import termios
        fd = stream.fileno()
        unread = bytearray(4)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            fcntl.ioctl(fd, termios.FIONREAD, unread)
            if not int.from_bytes(unread, sys.byteorder):
                return
            time.sleep(0.005)
    except (ImportError, OSError, ValueError, AttributeError):
        pass


def _fail(comm, config: dict, rank: int, local_rank: int, code: int, text: str) -> None:
    """Show the error with its rank, record it for the launcher, and end the whole job."""
    sys.stdout.flush()
    prefixed = "".join(f"[rank{rank}]: {line}\n" for line in text.rstrip().splitlines())
    sys.stderr.write(prefixed)
    sys.stderr.flush()
    _wait_until_read(sys.stderr)
    record = {"rank": rank, "local_rank": local_rank, "exitcode": code, "traceback": text,
              "time": time.time(), "pid": os.getpid(), "host": socket.gethostname()}
    try:
        path = os.path.join(config["error_dir"], f"rank{rank}.json")
        with open(path + ".tmp", "w") as f:
            json.dump(record, f)
        os.replace(path + ".tmp", path)
    except OSError:
        pass  # another machine's temporary directory: the live output still shows it
    comm.Abort(code)


if __name__ == "__main__":
    sys.exit(main())
