"""DistributedDataParallel on 2 MPI ranks against one process training on the whole batch.

The test runs this file under `mpiexec -n 2 python -m mpi4py`; each rank checks its
results and prints "OK <rank>".
"""
from __future__ import annotations

import copy
import os
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest

HERE = os.path.abspath(__file__)
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))


def _make_model(ember, seed: int):
    nn = ember.nn
    ember.manual_seed(seed)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1 = nn.Linear(5, 16)
            self.fc2 = nn.Linear(16, 3)
            self.extra = nn.Linear(5, 3)  # used only when forward is told to
            self.register_buffer("scale", ember.full((3,), float(seed + 1)))

        def forward(self, x, use_extra=False):
            y = self.fc2(ember.tanh(self.fc1(x))) * self.scale
            return y + self.extra(x) if use_extra else y

    return Net().double()


def _params(m) -> list[np.ndarray]:
    return [p.detach().numpy().copy() for p in m.parameters()]


def _worker() -> None:
    import ember
    import ember.distributed as dist
    from ember.nn.parallel import DistributedDataParallel as DDP

    dist.init_process_group("gloo")
    r, n = dist.get_rank(), dist.get_world_size()
    rng = np.random.default_rng(0)
    X = ember.tensor(rng.standard_normal((4 * n, 5)))
    Y = ember.tensor(rng.standard_normal((4 * n, 3)))
    mine = slice(4 * r, 4 * r + 4)

    for kw in ({}, {"bucket_cap_mb": 0.0005, "gradient_as_bucket_view": True}):
        model = _make_model(ember, seed=r)  # different on every rank before DDP
        ddp = DDP(model, **kw)
        assert list(ddp.state_dict()) == ["module." + k for k in model.state_dict()]
        if kw:
            assert len(ddp._buckets) > 2
        ref = copy.deepcopy(model)
        got = [None] * n
        dist.all_gather_object(got, _params(model) + [model.scale.numpy().copy()])
        for other in got:  # rank 0's parameters and buffers everywhere
            for a, b in zip(other, got[0]):
                np.testing.assert_array_equal(a, b)
        opt = ember.optim.SGD(ddp.parameters(), lr=0.1, momentum=0.9)
        ref_opt = ember.optim.SGD(ref.parameters(), lr=0.1, momentum=0.9)
        for _ in range(3):
            opt.zero_grad()
            ((ddp(X[mine]) - Y[mine]) ** 2).mean().backward()
            opt.step()
            ref_opt.zero_grad()
            ((ref(X) - Y) ** 2).mean().backward()
            ref_opt.step()
        for a, b in zip(_params(model), _params(ref)):
            np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
        assert model.extra.weight.grad is None  # unused everywhere

        # no_sync: two micro-batches accumulate locally, the second backward reduces
        opt.zero_grad()
        ref_opt.zero_grad()
        halves = [slice(4 * r, 4 * r + 2), slice(4 * r + 2, 4 * r + 4)]
        with ddp.no_sync():
            ((ddp(X[halves[0]]) - Y[halves[0]]) ** 2).mean().backward()
        local = [p.grad.numpy().copy() for p in model.parameters() if p.grad is not None]
        ((ddp(X[halves[1]]) - Y[halves[1]]) ** 2).mean().backward()
        firsts = np.concatenate([np.arange(4 * k, 4 * k + 2) for k in range(n)])
        seconds = firsts + 2
        for idx in (firsts, seconds):
            ((ref(X[idx]) - Y[idx]) ** 2).mean().backward()
        assert len(local) == 4
        for p, q in zip(model.parameters(), ref.parameters()):
            if q.grad is not None:
                np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-10,
                                           atol=1e-12)

    # a parameter used on rank 0 only: its gradient is rank 0's divided by the world size
    model = _make_model(ember, seed=0)
    ddp = DDP(model, find_unused_parameters=True, broadcast_buffers=False)
    with ddp.no_sync():
        ddp(X[mine], use_extra=(r == 0)).sum().backward()
    local0 = [None]
    if r == 0:
        local0 = [model.extra.weight.grad.numpy().copy()]
    dist.broadcast_object_list(local0, src=0)
    model.zero_grad()
    ddp(X[mine], use_extra=(r == 0)).sum().backward()
    np.testing.assert_allclose(model.extra.weight.grad.numpy(), local0[0] / n, rtol=1e-12)

    # overlap: every bucket starts from a gradient hook, before backward ends, also when
    # a parameter is unused (find_unused_parameters marks it ready during forward)
    for use_extra, find in ((True, False), (r == 0, True)):
        model = _make_model(ember, seed=0)
        ddp = DDP(model, bucket_cap_mb=0.0005, find_unused_parameters=find)
        started_by_hooks = []
        finish = ddp._finish_backward

        def spy(finish=finish, ddp=ddp, started=started_by_hooks):
            started.append(ddp._next_bucket)
            finish()
        ddp._finish_backward = spy
        ddp(X[mine], use_extra=use_extra).sum().backward()
        assert started_by_hooks == [len(ddp._buckets)], (started_by_hooks, len(ddp._buckets))

    _check_sync_batchnorm(ember, dist, r, n)
    _check_against_torch_ddp(ember, dist, r, n, X, Y, mine)
    dist.destroy_process_group()
    sys.stdout.write(f"OK {r}#\n")
    sys.stdout.flush()


def _check_against_torch_ddp(ember, dist, r, n, X, Y, mine) -> None:
    """torch's own DDP (gloo) from the same start on the same data ends where ember's does."""
    import socket

    import torch
    import torch.distributed as tdist
    port = [None]
    if r == 0:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = [sock.getsockname()[1]]
    dist.broadcast_object_list(port, src=0)
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port[0]))
    tdist.init_process_group("gloo", rank=r, world_size=n)
    try:
        model = _make_model(ember, seed=r)
        ddp = DDP_(model, bucket_cap_mb=0.0005)
        tmodel = torch.nn.Sequential(torch.nn.Linear(5, 16), torch.nn.Tanh(),
                                     torch.nn.Linear(16, 3)).double()
        with torch.no_grad():
            for tp, name in zip(tmodel.parameters(), ("fc1.weight", "fc1.bias", "fc2.weight",
                                                        "fc2.bias")):
                tp.copy_(torch.from_numpy(model.get_parameter(name).detach().numpy()))
        tddp = torch.nn.parallel.DistributedDataParallel(tmodel)
        opt = ember.optim.SGD(ddp.parameters(), lr=0.1, momentum=0.9)
        topt = torch.optim.SGD(tddp.parameters(), lr=0.1, momentum=0.9)
        scale = torch.from_numpy(model.scale.numpy())
        tx, ty = torch.from_numpy(X.numpy()[mine]), torch.from_numpy(Y.numpy()[mine])
        for _ in range(3):
            opt.zero_grad()
            ((ddp(X[mine]) - Y[mine]) ** 2).mean().backward()
            opt.step()
            topt.zero_grad()
            ((tddp(tx) * scale - ty) ** 2).mean().backward()
            topt.step()
        for tp, name in zip(tmodel.parameters(), ("fc1.weight", "fc1.bias", "fc2.weight",
                                                    "fc2.bias")):
            np.testing.assert_allclose(model.get_parameter(name).detach().numpy(),
                                       tp.detach().numpy(), rtol=1e-10, atol=1e-12)
    finally:
        tdist.destroy_process_group()


def DDP_(*args, **kwargs):
    from ember.nn.parallel import DistributedDataParallel
    return DistributedDataParallel(*args, **kwargs)


def _check_sync_batchnorm(ember, dist, r: int, n: int) -> None:
    """SyncBatchNorm on uneven local batches equals BatchNorm over the whole batch:
    output, running statistics, input gradient, and the rank-summed weight gradient."""
    nn = ember.nn
    rng = np.random.default_rng(1)
    sizes = [3 + k for k in range(n)]
    full = rng.standard_normal((sum(sizes), 4, 5)) * 2 + 1
    G = rng.standard_normal(full.shape)
    start = sum(sizes[:r])
    mine = slice(start, start + sizes[r])
    net = nn.Sequential(nn.Conv1d(4, 4, 1), nn.BatchNorm1d(4, momentum=0.3)).double()
    ref = copy.deepcopy(net)
    bn = net[1]
    sync = nn.SyncBatchNorm.convert_sync_batchnorm(net)
    assert sync is net and isinstance(sync[1], nn.SyncBatchNorm) and sync[1] is not bn
    assert sync[1].weight is bn.weight and sync[1].running_var is bn.running_var
    x = ember.tensor(full[mine], requires_grad=True)
    xf = ember.tensor(full, requires_grad=True)
    for _ in range(2):
        for m in (sync, ref):
            m.zero_grad()
        y = sync(x)
        yf = ref(xf)
        np.testing.assert_allclose(y.detach().numpy(), yf.detach().numpy()[mine], rtol=1e-10,
                                   atol=1e-12)
        (y * ember.tensor(G[mine])).sum().backward()
        (yf * ember.tensor(G)).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), xf.grad.numpy()[mine], rtol=1e-9,
                               atol=1e-12)
    for name in ("running_mean", "running_var", "num_batches_tracked"):
        np.testing.assert_allclose(getattr(sync[1], name).numpy(),
                                   getattr(ref[1], name).numpy(), rtol=1e-12)
    for p, q in zip(sync.parameters(), ref.parameters()):
        g = p.grad.clone()
        dist.all_reduce(g)
        np.testing.assert_allclose(g.numpy(), q.grad.numpy(), rtol=1e-9, atol=1e-12)
    sync.eval()
    np.testing.assert_allclose(sync(x).detach().numpy(), ref.eval()(xf).detach().numpy()[mine],
                               rtol=1e-12)


def _has_mpi() -> bool:
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        return False
    return shutil.which("mpiexec") is not None


@pytest.mark.slow
@pytest.mark.skipif(not _has_mpi(), reason="needs mpi4py and mpiexec")
@pytest.mark.parametrize("n", [2])
def test_ddp_matches_one_process_on_the_whole_batch(n):
    env = {**os.environ, "PYTHONPATH": ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""),
           "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    proc = subprocess.run([shutil.which("mpiexec"), "-n", str(n), sys.executable, "-m",
                           "mpi4py", HERE], capture_output=True, text=True, timeout=120,
                          env=env, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # Ranks' lines may interleave in mpiexec's output: look for the markers anywhere.
    assert sorted(re.findall(r"OK (\d+)#", proc.stdout)) == [str(r) for r in range(n)], (
        proc.stdout + proc.stderr)


def test_sync_batchnorm_without_a_group_is_batchnorm():
    from oracle import assert_same, check, randn

    import ember
    check(lambda lib, x: lib.nn.SyncBatchNorm(3).double()(x), randn(4, 3, 2))
    bn = ember.nn.BatchNorm2d(3)
    sync = ember.nn.SyncBatchNorm.convert_sync_batchnorm(ember.nn.Sequential(bn))
    assert type(sync[0]).__name__ == "SyncBatchNorm" and sync[0].weight is bn.weight
    with pytest.raises(ValueError, match="expected at least 2D input"):
        sync[0](ember.ones(3))
    e = ember.nn.SyncBatchNorm(3).eval()
    assert_same(e(ember.ones(2, 3)), __import__("torch").ones(2, 3) / (1 + 1e-5) ** 0.5)


def test_ddp_needs_a_process_group_and_parameters():
    import ember
    from ember.nn.parallel import DistributedDataParallel as DDP
    with pytest.raises(ValueError, match="Default process group has not been initialized"):
        DDP(ember.nn.Linear(2, 2))
    with pytest.raises(RuntimeError, match="doesn't have any parameter that requires"):
        DDP(ember.nn.ReLU())


if __name__ == "__main__":
    sys.path.insert(0, ROOT)
    _worker()
