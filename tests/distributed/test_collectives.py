"""ember.distributed collectives on 1, 2 and 3 MPI ranks against NumPy expectations.

The multi-rank cases run this file itself under `mpiexec -n N python -m mpi4py`
(see `_worker` below); every rank checks its own results and prints "OK <rank>".
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import timedelta

import numpy as np
import pytest

HERE = os.path.abspath(__file__)
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
ENV = {**os.environ, "PYTHONPATH": ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""),
       "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}


def _mpiexec() -> str | None:
    import shutil
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        return None
    return shutil.which("mpiexec")


needs_mpi = pytest.mark.skipif(_mpiexec() is None, reason="needs mpi4py and mpiexec")


def _launch(n: int | None, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    cmd = [sys.executable, HERE, *args] if n is None else [
        _mpiexec(), "-n", str(n), sys.executable, "-m", "mpi4py", HERE, *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=ENV,
                          cwd=ROOT)


def _ok(proc, n: int) -> None:
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    # Ranks' lines may interleave in mpiexec's output: look for the markers anywhere.
    assert sorted(re.findall(r"OK (\d+)#", proc.stdout)) == [str(r) for r in range(n)], out


# ----------------------------------------------------------------- the worker
def _data(k: int, shape=(2, 3), dtype="float64") -> np.ndarray:
    """Rank k's deterministic test data."""
    import ml_dtypes  # noqa: F401 - registers bfloat16 with NumPy
    return (np.arange(int(np.prod(shape))).reshape(shape) % 5 + k + 1).astype(dtype)


def _close(got, want, dtype="float64") -> None:
    tol = {"float16": 2e-3, "bfloat16": 1.6e-2}.get(str(dtype), 1e-12)
    np.testing.assert_allclose(np.asarray(got, np.float64), np.asarray(want, np.float64),
                               rtol=tol, atol=tol)


def _worker() -> None:
    import ember
    import ember.distributed as dist
    from ember.distributed import ReduceOp

    assert dist.is_available() and not dist.is_initialized()
    dist.init_process_group("gloo", init_method="env://", timeout=timedelta(seconds=60))
    r, n = dist.get_rank(), dist.get_world_size()
    assert dist.is_initialized() and dist.get_backend() == "gloo"
    T = ember.tensor

    # all_reduce: every op and dtype, in place
    refs = {ReduceOp.SUM: np.sum, ReduceOp.PRODUCT: np.prod, ReduceOp.MAX: np.max,
            ReduceOp.MIN: np.min, ReduceOp.AVG: np.mean}
    for dtype in ("float32", "float64", "int64", "int32", "float16", "bfloat16"):
        stack = np.stack([_data(k, dtype=dtype).astype(np.float64) for k in range(n)])
        for op, ref in refs.items():
            t = T(_data(r, dtype=dtype))
            v = t._version
            assert dist.all_reduce(t, op) is None and t._version > v
            want = ref(stack, axis=0)
            if op == ReduceOp.AVG and "int" in dtype:
                want = np.floor_divide(stack.sum(0), n)
            assert str(t.dtype) == f"torch.{dtype}", t.dtype
            _close(t.float().numpy(), want, dtype)
    b = T(np.array([r == 0, False, True]))
    dist.all_reduce(b)  # bool: SUM is a logical or
    assert b.tolist() == [True, False, True]
    # a transposed (non-contiguous) view writes through to its base
    base = T(_data(r, (3, 2)))
    view = base.t()
    dist.all_reduce(view)
    _close(base.numpy(), sum(_data(k, (3, 2)) for k in range(n)))
    # 0-dim tensor, async op
    s = T(float(r + 1))
    work = dist.all_reduce(s, op=ReduceOp.MAX, async_op=True)
    assert work.wait() is True and work.is_completed() and work.result()[0] is s
    assert s.item() == n

    # broadcast / reduce
    src = n - 1
    t = T(_data(r))
    dist.broadcast(t, src=src)
    _close(t.numpy(), _data(src))
    t = T(_data(r, dtype="bfloat16"))
    dist.broadcast(t, src=0)
    _close(t.float().numpy(), _data(0, dtype="bfloat16"), "bfloat16")
    dst = 1 % n
    t = T(_data(r))
    dist.reduce(t, dst=dst, op=ReduceOp.SUM)
    _close(t.numpy(), sum(_data(k) for k in range(n)) if r == dst else _data(r))

    # all_gather, all_gather_into_tensor (flat and stacked output)
    outs = [ember.zeros(2, 3, dtype=ember.float64) for _ in range(n)]
    dist.all_gather(outs, T(_data(r)))
    for k in range(n):
        _close(outs[k].numpy(), _data(k))
    for shape in ((2 * n, 3), (n, 2, 3)):
        out = ember.zeros(*shape, dtype=ember.float32)
        dist.all_gather_into_tensor(out, T(_data(r, dtype="float32")))
        _close(out.numpy().reshape(n, 2, 3), np.stack([_data(k) for k in range(n)]))

    # gather / scatter
    gl = [ember.zeros(2, 3, dtype=ember.float64) for _ in range(n)] if r == dst else None
    dist.gather(T(_data(r)), gl, dst=dst)
    if r == dst:
        for k in range(n):
            _close(gl[k].numpy(), _data(k))
    t = ember.zeros(2, 3, dtype=ember.int64)
    dist.scatter(t, [T(_data(10 * k, dtype="int64")) for k in range(n)] if r == src else None,
                 src=src)
    assert (t.numpy() == _data(10 * r, dtype="int64")).all()

    # reduce_scatter (list and tensor forms), AVG
    out = ember.zeros(2, 3, dtype=ember.float64)
    dist.reduce_scatter(out, [T(_data(r + 5 * k)) for k in range(n)])
    _close(out.numpy(), sum(_data(q + 5 * r) for q in range(n)))
    out = ember.zeros(2, 3, dtype=ember.float32)
    full = np.concatenate([_data(r + 5 * k, dtype="float32") for k in range(n)])
    dist.reduce_scatter_tensor(out, T(full), op=ReduceOp.AVG)
    _close(out.numpy(), sum(_data(q + 5 * r) for q in range(n)) / n)

    # all_to_all with unequal sizes; all_to_all_single
    ins = [ember.full((k + 1,), float(10 * r + k)) for k in range(n)]
    outs = [ember.zeros(r + 1) for _ in range(n)]
    dist.all_to_all(outs, ins)
    for k in range(n):
        assert outs[k].tolist() == [float(10 * k + r)] * (r + 1)
    inp = ember.arange(2 * n, dtype=ember.float64) + 100 * r
    out = ember.zeros(2 * n, dtype=ember.float64)
    dist.all_to_all_single(out, inp)
    assert out.tolist() == [float(100 * k + 2 * r + j) for k in range(n) for j in range(2)]

    # point to point: a ring with send/recv, then isend/irecv, recv from any source
    nxt, prv = (r + 1) % n, (r - 1) % n
    if n > 1:
        t = ember.zeros(2, 3, dtype=ember.float64)
        if r % 2 == 0:
            dist.send(T(_data(r)), dst=nxt)
            assert dist.recv(t, src=prv) == prv
        else:
            assert dist.recv(t, src=prv) == prv
            dist.send(T(_data(r)), dst=nxt)
        _close(t.numpy(), _data(prv))
        t = ember.zeros(3, dtype=ember.bfloat16)
        works = [dist.isend(T(_data(r, (3,), "bfloat16")), dst=nxt, tag=7),
                 dist.irecv(t, src=prv, tag=7)]
        for w in works:
            w.wait()
        _close(t.float().numpy(), _data(prv, (3,), "bfloat16"), "bfloat16")
        a, b = ember.zeros(2), ember.zeros(2)
        works = dist.batch_isend_irecv([
            dist.P2POp(dist.isend, ember.full((2,), float(r)), nxt),
            dist.P2POp(dist.irecv, a, prv),
            dist.P2POp(dist.isend, ember.full((2,), -float(r)), prv),
            dist.P2POp(dist.irecv, b, nxt)])
        for w in works:
            w.wait()
        assert a.tolist() == [float(prv)] * 2 and b.tolist() == [-float(nxt)] * 2
        dist.monitored_barrier(timeout=timedelta(seconds=30))
        if r == 0:  # a receive buffer too small: a clear error on the receiver
            dist.send(ember.ones(4, dtype=ember.float64), dst=1, tag=3)
        elif r == 1:
            try:
                dist.recv(ember.zeros(2, dtype=ember.float64), src=0, tag=3)
            except dist.DistBackendError as e:
                assert "RECV failed in MPI: Message truncated" in str(e), str(e)
            else:
                raise AssertionError("no error for a truncated message")
        if r == 0:
            got = sorted(dist.recv(ember.zeros(1)) for _ in range(n - 1))
            assert got == list(range(1, n))
        else:
            dist.send(ember.ones(1), dst=0)

    # objects
    objs = [{"rank": r}, "x", None] if r == src else [None, None, None]
    dist.broadcast_object_list(objs, src=src)
    assert objs == [{"rank": src}, "x", None]
    gathered = [None] * n
    dist.all_gather_object(gathered, ("r", r, list(range(r))))
    assert gathered == [("r", k, list(range(k))) for k in range(n)]
    gl = [None] * n if r == dst else None
    dist.gather_object(r * 2, gl, dst=dst)
    assert r != dst or gl == [2 * k for k in range(n)]
    got = [None]
    dist.scatter_object_list(got, [f"to {k}" for k in range(n)] if r == 0 else None, src=0)
    assert got == [f"to {r}"]

    # sub-groups: ranks {0, n-1}; others are not members
    members = sorted({0, n - 1})
    g = dist.new_group(members)
    if r in members:
        assert dist.get_rank(g) == members.index(r) and dist.get_world_size(g) == len(members)
        assert dist.get_process_group_ranks(g) == members
        t = T(float(r))
        dist.all_reduce(t, group=g)
        assert t.item() == float(sum(members))
        t = T(float(r))
        dist.broadcast(t, src=members[-1], group=g)  # src is a global rank
        assert t.item() == float(members[-1])
    else:
        assert g is dist.GroupMember.NON_GROUP_MEMBER and dist.get_rank(g) == -1
        assert dist.all_reduce(T(1.0), group=g) is None
    dist.barrier()
    w = dist.barrier(async_op=True)
    w.wait()
    dist.destroy_process_group()
    assert not dist.is_initialized()
    sys.stdout.write(f"OK {r}#\n")
    sys.stdout.flush()


def _timeout_worker() -> None:
    """Rank 0 waits in an all_reduce that rank 1 never joins: it must time out."""
    import time

    import ember
    import ember.distributed as dist
    dist.init_process_group("mpi", timeout=timedelta(seconds=1))
    if dist.get_rank() == 0:
        start = time.monotonic()
        try:
            dist.all_reduce(ember.ones(3))
        except dist.DistBackendError as e:
            print(f"TIMEOUT after {time.monotonic() - start:.1f}s: {e}", flush=True)
    else:
        time.sleep(4)
    sys.stdout.flush()
    os._exit(0)  # the abandoned request would make MPI_Finalize wait


def _killed_worker() -> None:
    """Rank 1 is killed while rank 0 waits in a collective: the whole job must end."""
    import signal

    import ember
    import ember.distributed as dist
    dist.init_process_group("mpi", timeout=timedelta(seconds=20))
    if dist.get_rank() == 1:
        os.kill(os.getpid(), signal.SIGKILL)
    dist.all_reduce(ember.ones(3))
    print("NOT REACHED", flush=True)


def _mismatch_worker() -> None:
    import ember.distributed as dist
    try:
        dist.init_process_group("nccl", world_size=4, rank=0)
    except ValueError as e:
        print("MISMATCH", e, flush=True)
    dist.init_process_group("mpi", init_method="file:///tmp/unused")
    try:
        dist.init_process_group("mpi")
    except ValueError as e:
        print("TWICE", e, flush=True)
    dist.destroy_process_group()


# ----------------------------------------------------------------- pytest side
def test_not_initialized_errors():
    import ember
    import ember.distributed as dist
    assert not dist.is_initialized()
    for call in (dist.get_rank, dist.get_world_size, lambda: dist.all_reduce(ember.ones(1)),
                 dist.barrier):
        with pytest.raises(ValueError, match="Default process group has not been initialized"):
            call()
    with pytest.raises(ValueError, match="Invalid backend"):
        dist.init_process_group("smoke-signals")
    assert dist.ReduceOp.SUM == 0 and dist.ReduceOp.AVG.name == "AVG"
    assert dist.Backend("GLOO") == dist.Backend.GLOO and issubclass(dist.DistBackendError,
                                                                    RuntimeError)


@needs_mpi
def test_world_size_one_without_mpiexec():
    _ok(_launch(None), 1)


@needs_mpi
def test_init_checks_world_size_and_double_init():
    proc = _launch(None, "mismatch")
    assert proc.returncode == 0, proc.stderr
    assert "MISMATCH init_process_group: world_size=4" in proc.stdout
    assert "TWICE trying to initialize the default process group twice!" in proc.stdout


@pytest.mark.slow
@needs_mpi
@pytest.mark.parametrize("n", [2, 3])
def test_collectives_on_n_ranks(n):
    _ok(_launch(n), n)


@pytest.mark.slow
@needs_mpi
def test_stalled_collective_times_out():
    proc = _launch(2, "timeout", timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "TIMEOUT after" in proc.stdout and "Watchdog caught collective operation timeout" \
        in proc.stdout and "OpType=ALLREDUCE" in proc.stdout, proc.stdout


@pytest.mark.slow
@needs_mpi
def test_killed_rank_ends_the_job():
    import time
    start = time.monotonic()
    proc = _launch(2, "killed", timeout=60)
    assert proc.returncode != 0 and "NOT REACHED" not in proc.stdout
    assert time.monotonic() - start < 15, "the surviving rank was not stopped"


if __name__ == "__main__":
    sys.path.insert(0, ROOT)
    {"timeout": _timeout_worker, "mismatch": _mismatch_worker, "killed": _killed_worker}.get(
        sys.argv[1] if len(sys.argv) > 1 else "", _worker)()
