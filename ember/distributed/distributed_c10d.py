"""Process groups and collectives (torch.distributed's API) over MPI through mpi4py.

Every collective is started as a non-blocking MPI operation and wrapped in a `Work`;
`async_op=False` simply waits on it. Waiting polls the MPI requests against the
group's timeout, so a stalled collective (a dead or diverging rank) raises
DistBackendError on the waiting ranks instead of hanging; run programs under
`mpiexec ... python -m mpi4py` (or `python -m ember.distributed.run`) so that an
exception on one rank aborts the whole job.

Tensors are reduced in place on their arrays: C-contiguous NumPy arrays are handed to
MPI directly, anything else (strided views, CuPy arrays) through a contiguous host
copy that is written back when the operation completes. float16 and bfloat16 travel as
uint16 with reduction operators that compute in float32; bool reduces with logical ops.
The names "gloo" and "nccl" map onto the MPI backend; get_backend() returns the name
the program asked for, so code that branches on it keeps working.
"""
from __future__ import annotations

import enum
import os
import pickle
import time
from datetime import timedelta

import numpy as np

from ember._tensor import Tensor

__all__ = [
    "Backend", "DistBackendError", "DistError", "GroupMember", "P2POp", "ProcessGroup",
    "ReduceOp", "Work", "all_gather", "all_gather_into_tensor", "all_gather_object", "all_reduce",
    "batch_isend_irecv", "get_node_local_rank", "monitored_barrier",
    "all_to_all", "all_to_all_single", "barrier", "broadcast", "broadcast_object_list",
    "default_pg_timeout", "destroy_process_group", "gather", "gather_object", "get_backend",
    "get_global_rank", "get_process_group_ranks", "get_rank", "get_world_size", "group",
    "init_process_group", "irecv", "is_gloo_available", "is_initialized", "is_mpi_available",
    "is_nccl_available", "is_torchelastic_launched", "isend", "new_group", "recv", "reduce",
    "reduce_scatter", "reduce_scatter_tensor", "scatter", "scatter_object_list", "send",
]

default_pg_timeout = timedelta(minutes=30)


class DistError(RuntimeError):
    """Base of the errors raised by ember.distributed."""


class DistBackendError(DistError):
    """The communication backend failed (e.g. a collective timed out)."""


class Backend(str):
    """A backend name: 'mpi', or 'gloo'/'nccl' which ember runs on MPI."""
    UNDEFINED = "undefined"
    GLOO = "gloo"
    NCCL = "nccl"
    MPI = "mpi"

    def __new__(cls, name: str):
        if not isinstance(name, str):
            raise ValueError(f"Backend constructor parameter must be string-ish, but got: "
                             f"{type(name)}")
        value = name.lower()
        parts = [p.split(":")[-1] for p in value.split(",")]
        if not parts or any(p not in ("gloo", "nccl", "mpi") for p in parts):
            raise ValueError(f"Invalid backend: '{name}'")
        return super().__new__(cls, value)


class ReduceOp:
    """Reduction operators: ReduceOp.SUM, AVG, PRODUCT, MIN, MAX, BAND, BOR, BXOR."""

    class RedOpType(enum.IntEnum):
        SUM = 0
        AVG = 1
        PRODUCT = 2
        MIN = 3
        MAX = 4
        BAND = 5
        BOR = 6
        BXOR = 7

    SUM = RedOpType.SUM
    AVG = RedOpType.AVG
    PRODUCT = RedOpType.PRODUCT
    MIN = RedOpType.MIN
    MAX = RedOpType.MAX
    BAND = RedOpType.BAND
    BOR = RedOpType.BOR
    BXOR = RedOpType.BXOR


_MPI = None  # the mpi4py.MPI module, imported on first use


def _mpi():
    global _MPI
    if _MPI is None:
        try:
            from mpi4py import MPI
        except (ImportError, RuntimeError) as e:  # no mpi4py, or mpi4py without a runtime
            raise RuntimeError("ember.distributed needs mpi4py and an MPI runtime: "
                               "pip install 'ember[distributed]' (mpi4py and mpich). "
                               f"Importing mpi4py failed with: {e}") from e
        _MPI = MPI
    return _MPI


def is_mpi_available() -> bool:
    import importlib.util
    return importlib.util.find_spec("mpi4py") is not None


def is_gloo_available() -> bool:
    return is_mpi_available()  # "gloo" runs on MPI


def is_nccl_available() -> bool:
    return False


def is_torchelastic_launched() -> bool:
    return os.environ.get("TORCHELASTIC_RUN_ID") is not None


# --------------------------------------------------------------------- groups
class ProcessGroup:
    """A communicator: the ranks (global, in group-rank order) and their MPI comm."""

    def __init__(self, comm, ranks: list[int], backend: str, timeout: timedelta) -> None:
        self._comm = comm  # a private duplicate: user MPI traffic never matches ours
        self._ranks = ranks  # global rank of each group rank
        self._backend = backend  # the name the program asked for
        self._timeout = timeout

    def rank(self) -> int:
        return self._comm.Get_rank()

    def size(self) -> int:
        return self._comm.Get_size()

    def name(self) -> str:
        return self._backend

    def __repr__(self) -> str:
        return f"ProcessGroup(backend={self._backend!r}, ranks={self._ranks})"


class _NonMember:
    """What new_group returns on ranks outside the group; collectives on it do nothing."""

    def __repr__(self) -> str:
        return "NON_GROUP_MEMBER"


class GroupMember:
    WORLD: ProcessGroup | None = None
    NON_GROUP_MEMBER = _NonMember()


class group:  # noqa: N801 - torch's name
    WORLD: ProcessGroup | None = None


def is_initialized() -> bool:
    return GroupMember.WORLD is not None


def _default() -> ProcessGroup:
    if GroupMember.WORLD is None:
        raise ValueError("Default process group has not been initialized, please make sure to "
                         "call init_process_group.")
    return GroupMember.WORLD


def _group(g) -> ProcessGroup | None:
    """The group to use, or None on a rank outside it (the caller then does nothing)."""
    if g is None or g is GroupMember.WORLD:
        return _default()
    _default()
    if g is GroupMember.NON_GROUP_MEMBER:
        return None
    if not isinstance(g, ProcessGroup):
        raise TypeError(f"group must be a ProcessGroup, got {type(g).__name__}")
    if g._comm is None:
        raise ValueError("The given group has been destroyed")
    return g


def _env_int(name: str):
    v = os.environ.get(name)
    return int(v) if v not in (None, "") else None


def init_process_group(backend: str | None = None, init_method: str | None = None,
                       timeout: timedelta | None = None, world_size: int = -1, rank: int = -1,
                       store=None, group_name: str = "", pg_options=None,
                       device_id=None) -> None:
    """Start the default group on MPI's COMM_WORLD.

    MPI (mpiexec) does the rendezvous, so init_method 'env://', 'file://...' and
    'tcp://...' are accepted and need nothing; world_size and rank (arguments or
    WORLD_SIZE/RANK set by a launcher) must agree with MPI's."""
    if GroupMember.WORLD is not None:
        raise ValueError("trying to initialize the default process group twice!")
    name = Backend(backend if backend is not None else "gloo")
    if init_method is not None and store is not None:
        raise ValueError("Cannot specify both init_method and store.")
    if init_method is not None and not init_method.startswith(("env://", "file://", "tcp://")):
        raise ValueError(f"No rendezvous handler for {init_method.split('://')[0]}://")
    if timeout is not None and not isinstance(timeout, timedelta):
        raise TypeError(f"Expected timeout argument to be of type datetime.timedelta, got "
                        f"{type(timeout).__name__}")
    MPI = _mpi()
    world = MPI.COMM_WORLD
    mpi_size, mpi_rank = world.Get_size(), world.Get_rank()
    for what, given, env, actual in (("world_size", world_size, "WORLD_SIZE", mpi_size),
                                     ("rank", rank, "RANK", mpi_rank)):
        wanted = given if given is not None and given >= 0 else _env_int(env)
        if wanted is not None and wanted != actual:
            raise ValueError(f"init_process_group: {what}={wanted} (from "
                             f"{'the argument' if given not in (None, -1) else env}) but MPI "
                             f"runs this process with {what} {actual}; start the program with "
                             f"`mpiexec -n N` or `python -m ember.distributed.run`")
    pg = ProcessGroup(world.Dup(), list(range(mpi_size)), str(name),
                      timeout if timeout is not None else default_pg_timeout)
    GroupMember.WORLD = group.WORLD = pg


def destroy_process_group(group=None) -> None:
    """Free `group`'s communicator; without a group, every group and the default one."""
    global _groups
    if group is None or group is GroupMember.WORLD:
        for g in [*_groups, GroupMember.WORLD]:
            if g is not None and g._comm is not None:
                g._comm.Free()
                g._comm = None
        _groups = []
        GroupMember.WORLD = globals()["group"].WORLD = None
        return
    if isinstance(group, ProcessGroup) and group._comm is not None:
        group._comm.Free()
        group._comm = None


_groups: list[ProcessGroup] = []  # groups made by new_group, freed by destroy_process_group


def new_group(ranks=None, timeout: timedelta | None = None, backend=None, pg_options=None,
              use_local_synchronization: bool = False, group_desc=None, device_id=None,
              sort_ranks: bool = True):
    """A group of `ranks` (all ranks when None); every rank of the default group calls it.
    Ranks outside get GroupMember.NON_GROUP_MEMBER."""
    world = _default()
    size = world.size()
    if ranks is None:
        ranks = list(range(size))
    ranks = sorted(ranks) if sort_ranks else list(ranks)
    for r in ranks:
        if r < 0 or r >= size:
            raise ValueError("Invalid rank, rank should be in the interval [0, WORLD_SIZE - 1]")
    if len(set(ranks)) != len(ranks):
        raise ValueError(f"new_group: duplicate ranks in {ranks}")
    MPI = _mpi()
    me = world.rank()
    color = 0 if me in ranks else MPI.UNDEFINED
    comm = world._comm.Split(color, ranks.index(me) if me in ranks else 0)
    if comm == MPI.COMM_NULL:
        return GroupMember.NON_GROUP_MEMBER
    pg = ProcessGroup(comm, ranks, str(Backend(backend)) if backend else world._backend,
                      timeout if timeout is not None else world._timeout)
    _groups.append(pg)
    return pg


def get_rank(group=None) -> int:
    """This process's rank in `group` (-1 outside it)."""
    g = _group(group)
    return -1 if g is None else g.rank()


def get_world_size(group=None) -> int:
    g = _group(group)
    return -1 if g is None else g.size()


def get_backend(group=None) -> str:
    g = _group(group)
    if g is None:
        raise ValueError("Invalid process group specified")
    return Backend(g._backend)


def get_process_group_ranks(group) -> list[int]:
    g = _group(group)
    return list(g._ranks) if g is not None else []


def get_global_rank(group, group_rank: int) -> int:
    g = _group(group)
    if g is None or not 0 <= group_rank < len(g._ranks):
        raise ValueError(f"Group rank {group_rank} is not part of group {group}")
    return g._ranks[group_rank]


def _peer(g: ProcessGroup, global_rank, group_rank, what: str) -> int:
    """A src/dst given as a global rank or as group_src/group_dst, as a rank in `g`."""
    if group_rank is not None:
        if global_rank is not None:
            raise ValueError(f"Can not specify both {what} and group_{what}")
        return group_rank
    if global_rank is None:
        global_rank = 0
    try:
        return g._ranks.index(global_rank)
    except ValueError:
        raise ValueError(f"Global rank {global_rank} is not part of group {g}") from None


# --------------------------------------------------------------------- Work
class Work:
    """A started operation: wait() blocks (up to the group's timeout), is_completed() polls.

    `finish` runs once the MPI requests have completed: it writes results back into the
    tensors (host copies, AVG division, list outputs)."""

    def __init__(self, requests: list, finish=None, result=(), pg: ProcessGroup | None = None,
                 op: str = "", status=None) -> None:
        self._requests = requests
        self._finish = finish
        self._result = list(result)
        self._pg = pg
        self._op = op
        self._status = status  # MPI.Status of a receive (its source)
        self._done = False
        self._started = time.monotonic()

    def _complete(self) -> None:
        self._done = True
        self._requests = []
        if self._finish is not None:
            finish, self._finish = self._finish, None
            finish()

    def _test(self) -> bool:
        MPI = _mpi()
        try:
            return MPI.Request.Testall(self._requests, self._statuses())
        except MPI.Exception as e:  # e.g. a receive buffer too small for the message
            why = e.Get_error_string()
            if self._status is not None and self._status.Get_error():
                why = MPI.Get_error_string(self._status.Get_error())
            raise DistBackendError(f"{self._op} failed in MPI: {why} (do the "
                                   "tensors have the same shape and dtype on every rank?)"
                                   ) from None

    def is_completed(self) -> bool:
        if not self._done and self._test():
            self._complete()
        return self._done

    def _statuses(self):
        return None if self._status is None else [self._status] * len(self._requests)

    def wait(self, timeout: timedelta | None = None) -> bool:
        if self._done:
            return True
        limit = timeout or (self._pg._timeout if self._pg is not None else default_pg_timeout)
        deadline = self._started + limit.total_seconds()
        spins = 0
        while not self._test():
            now = time.monotonic()
            if now > deadline:
                rank = GroupMember.WORLD.rank() if GroupMember.WORLD is not None else -1
                raise DistBackendError(
                    f"[Rank {rank}] Watchdog caught collective operation timeout: WorkMPI("
                    f"OpType={self._op}, Timeout(ms)={int(limit.total_seconds() * 1000)}) ran "
                    f"for {int((now - self._started) * 1000)} milliseconds before timing out.")
            spins += 1
            # Spin briefly for fast collectives, then back off to leave the cores to others.
            if spins > 20:
                time.sleep(min(1e-3, 1e-5 * spins))
        self._complete()
        return True

    def is_success(self) -> bool:
        return self._done

    def exception(self):
        return None

    def result(self) -> list:
        self.wait()
        return list(self._result)

    def source_rank(self) -> int:
        self.wait()
        return self._status.Get_source() if self._status is not None else -1

    def synchronize(self) -> None:
        self.wait()


def _run(work: Work, async_op: bool):
    if async_op:
        return work
    work.wait()
    return None


# --------------------------------------------------------------------- buffers
def _check_tensor(t, name: str) -> None:
    if not isinstance(t, Tensor):
        raise TypeError(f"Invalid function argument. Expected parameter `{name}` of type "
                        f"torch.Tensor\n             but got {type(t)} instead.")


def _host(t: Tensor) -> np.ndarray:
    """t's data as a C-contiguous NumPy array (the array itself when it already is one)."""
    a = t._data
    if isinstance(a, np.ndarray):
        return np.ascontiguousarray(a)
    return np.ascontiguousarray(a.get())


def _store(t: Tensor, host: np.ndarray) -> None:
    """Write `host` into t's array (unless it *is* t's array) and bump t's version."""
    a = t._data
    if host is not a:
        if isinstance(a, np.ndarray):
            a[...] = host.reshape(a.shape)
        else:
            a[...] = a.__array_namespace__().asarray(host.reshape(a.shape))
    t._version_counter[0] += 1


_HALF = ("float16", "bfloat16")
_custom_ops: dict = {}  # (dtype name, RedOpType) -> MPI.Op computing in float32


def _half_op(dtype: np.dtype, op):
    """An MPI.Op reducing uint16 buffers that hold float16/bfloat16 values."""
    key = (dtype.name, op)
    if key not in _custom_ops:
        ufunc = {ReduceOp.SUM: np.add, ReduceOp.AVG: np.add, ReduceOp.PRODUCT: np.multiply,
                 ReduceOp.MIN: np.minimum, ReduceOp.MAX: np.maximum}.get(op)
        if ufunc is None:
            raise ValueError(f"ReduceOp.{op.name} is not supported for {dtype.name} tensors")

        def reduce_half(inbuf, inoutbuf, datatype):
            a = np.frombuffer(inbuf, dtype=np.uint16).view(dtype)
            b = np.frombuffer(inoutbuf, dtype=np.uint16).view(dtype)
            b[...] = ufunc(a.astype(np.float32), b.astype(np.float32)).astype(dtype)

        _custom_ops[key] = _mpi().Op.Create(reduce_half, commute=True)
    return _custom_ops[key]


def _spec(arr: np.ndarray, op=None):
    """([buffer, MPI datatype], MPI.Op) for `arr` and reduce op `op`."""
    MPI = _mpi()
    if op is not None and not isinstance(op, ReduceOp.RedOpType):
        raise TypeError(f"op must be a ReduceOp, got {op!r}")
    if arr.dtype.name in _HALF:
        return [arr.view(np.uint16), MPI.UINT16_T], (None if op is None
                                                     else _half_op(arr.dtype, op))
    if arr.dtype == np.bool_:
        mop = None if op is None else {
            ReduceOp.SUM: MPI.LOR, ReduceOp.MAX: MPI.LOR, ReduceOp.BOR: MPI.LOR,
            ReduceOp.PRODUCT: MPI.LAND, ReduceOp.MIN: MPI.LAND, ReduceOp.BAND: MPI.LAND,
            ReduceOp.BXOR: MPI.LXOR}.get(op)
        if op is not None and mop is None:
            raise ValueError(f"ReduceOp.{op.name} is not supported for bool tensors")
        return [arr.view(np.uint8), MPI.C_BOOL], mop
    mop = None if op is None else {
        ReduceOp.SUM: MPI.SUM, ReduceOp.AVG: MPI.SUM, ReduceOp.PRODUCT: MPI.PROD,
        ReduceOp.MIN: MPI.MIN, ReduceOp.MAX: MPI.MAX, ReduceOp.BAND: MPI.BAND,
        ReduceOp.BOR: MPI.BOR, ReduceOp.BXOR: MPI.BXOR}[op]
    # The predefined datatype (a derived one would not work with the predefined ops).
    return [arr, MPI._typedict[arr.dtype.char]], mop


def _avg(arr: np.ndarray, n: int) -> None:
    if arr.dtype.kind in "fc" or arr.dtype.name == "bfloat16":
        arr[...] = (arr.astype(np.float32) / n).astype(arr.dtype) if arr.dtype.name in _HALF \
            else arr / n
    else:
        arr //= n  # integer average rounds down, as NCCL does


# --------------------------------------------------------------------- collectives
def barrier(group=None, async_op: bool = False, device_ids=None, timeout=None):
    """Block until every rank of `group` has reached the barrier."""
    g = _group(group)
    if g is None:
        return None
    work = Work([g._comm.Ibarrier()], pg=g, op="BARRIER")
    if async_op:
        return work
    work.wait(timeout)
    return None


def broadcast(tensor: Tensor, src: int | None = None, group=None, async_op: bool = False,
              group_src: int | None = None):
    """Copy `tensor` from rank `src` into `tensor` on every rank, in place."""
    _check_tensor(tensor, "tensor")
    g = _group(group)
    if g is None:
        return None
    root = _peer(g, src, group_src, "src")
    host = _host(tensor)
    buf, _ = _spec(host)
    req = g._comm.Ibcast(buf, root=root)
    return _run(Work([req], lambda: _store(tensor, host), [tensor], g, "BROADCAST"), async_op)


def all_reduce(tensor: Tensor, op=ReduceOp.SUM, group=None, async_op: bool = False):
    """Reduce `tensor` over all ranks with `op`; every rank gets the result in place."""
    _check_tensor(tensor, "tensor")
    g = _group(group)
    if g is None:
        return None
    host = _host(tensor)
    buf, mop = _spec(host, op)
    req = g._comm.Iallreduce(_mpi().IN_PLACE, buf, mop)
    n = g.size()

    def finish():
        if op == ReduceOp.AVG:
            _avg(host, n)
        _store(tensor, host)
    return _run(Work([req], finish, [tensor], g, "ALLREDUCE"), async_op)


def reduce(tensor: Tensor, dst: int | None = None, op=ReduceOp.SUM, group=None,
           async_op: bool = False, group_dst: int | None = None):
    """Reduce `tensor` over all ranks with `op` into `tensor` on rank `dst` only."""
    _check_tensor(tensor, "tensor")
    g = _group(group)
    if g is None:
        return None
    root = _peer(g, dst, group_dst, "dst")
    host = _host(tensor)
    buf, mop = _spec(host, op)
    me = g.rank()
    if me == root:
        req = g._comm.Ireduce(_mpi().IN_PLACE, buf, mop, root=root)
    else:
        req = g._comm.Ireduce(buf, None, mop, root=root)
    n = g.size()

    def finish():
        if me == root:
            if op == ReduceOp.AVG:
                _avg(host, n)
            _store(tensor, host)
    return _run(Work([req], finish, [tensor], g, "REDUCE"), async_op)


def _check_list(tensors, n: int, name: str, like: Tensor) -> None:
    if not isinstance(tensors, (list, tuple)) or not all(isinstance(t, Tensor) for t in tensors):
        raise TypeError(f"Invalid function argument: {name} should be a list of tensors")
    if len(tensors) != n:
        raise ValueError(f"{name} must have {n} tensors (the group size), got {len(tensors)}")
    for t in tensors:
        if t.dtype != like.dtype:
            raise ValueError(f"Tensors must have the same dtype: {t.dtype} vs {like.dtype}")
        if t.numel() != like.numel():
            raise ValueError(f"Tensors in {name} must have {like.numel()} elements, got "
                             f"{t.numel()} (shape {tuple(t.shape)})")


def _fill(tensors, stacked: np.ndarray) -> None:
    for t, piece in zip(tensors, stacked):
        _store(t, np.ascontiguousarray(piece))


def all_gather(tensor_list: list, tensor: Tensor, group=None, async_op: bool = False):
    """tensor_list[i] = rank i's `tensor`, on every rank."""
    _check_tensor(tensor, "tensor")
    g = _group(group)
    if g is None:
        return None
    _check_list(tensor_list, g.size(), "tensor_list", tensor)
    host = _host(tensor)
    out = np.empty((g.size(), *host.shape), host.dtype)
    req = g._comm.Iallgather(_spec(host)[0], _spec(out)[0])
    return _run(Work([req], lambda: _fill(tensor_list, out), tensor_list, g, "ALLGATHER"),
                async_op)


def all_gather_into_tensor(output_tensor: Tensor, input_tensor: Tensor, group=None,
                           async_op: bool = False):
    """Rank i's `input_tensor` lands in the i-th slice of `output_tensor` along dim 0
    (output shaped (size * n, ...) or (size, n, ...))."""
    _check_tensor(output_tensor, "output_tensor")
    _check_tensor(input_tensor, "input_tensor")
    g = _group(group)
    if g is None:
        return None
    if output_tensor.numel() != input_tensor.numel() * g.size():
        raise ValueError(f"output tensor size must be equal to world_size times input tensor "
                         f"size: {tuple(output_tensor.shape)} vs {tuple(input_tensor.shape)} "
                         f"times {g.size()}")
    if output_tensor.dtype != input_tensor.dtype:
        raise ValueError("output tensor must have the same type as input tensor")
    host, out = _host(input_tensor), _host(output_tensor)
    req = g._comm.Iallgather(_spec(host)[0], _spec(out)[0])
    return _run(Work([req], lambda: _store(output_tensor, out), [output_tensor], g,
                     "_ALLGATHER_BASE"), async_op)


def gather(tensor: Tensor, gather_list: list | None = None, dst: int | None = None, group=None,
           async_op: bool = False, group_dst: int | None = None):
    """gather_list[i] = rank i's `tensor`, on rank `dst` (gather_list only given there)."""
    _check_tensor(tensor, "tensor")
    g = _group(group)
    if g is None:
        return None
    root = _peer(g, dst, group_dst, "dst")
    host = _host(tensor)
    if g.rank() == root:
        _check_list(gather_list, g.size(), "gather_list", tensor)
        out = np.empty((g.size(), *host.shape), host.dtype)
        req = g._comm.Igather(_spec(host)[0], _spec(out)[0], root=root)
        work = Work([req], lambda: _fill(gather_list, out), gather_list, g, "GATHER")
    else:
        if gather_list:
            raise ValueError("Argument ``gather_list`` must NOT be specified on non-destination "
                             "ranks.")
        work = Work([g._comm.Igather(_spec(host)[0], None, root=root)], None, [], g, "GATHER")
    return _run(work, async_op)


def scatter(tensor: Tensor, scatter_list: list | None = None, src: int | None = None,
            group=None, async_op: bool = False, group_src: int | None = None):
    """`tensor` = scatter_list[i] of rank `src`, on rank i (scatter_list only on `src`)."""
    _check_tensor(tensor, "tensor")
    g = _group(group)
    if g is None:
        return None
    root = _peer(g, src, group_src, "src")
    host = _host(tensor)
    out = np.empty_like(host)
    if g.rank() == root:
        _check_list(scatter_list, g.size(), "scatter_list", tensor)
        send = np.stack([_host(t).reshape(host.shape) for t in scatter_list])
        req = g._comm.Iscatter(_spec(send)[0], _spec(out)[0], root=root)
    else:
        if scatter_list:
            raise ValueError("Argument ``scatter_list`` must NOT be specified on non-source "
                             "ranks.")
        req = g._comm.Iscatter(None, _spec(out)[0], root=root)
    return _run(Work([req], lambda: _store(tensor, out), [tensor], g, "SCATTER"), async_op)


def _reduce_scatter(output: Tensor, send: np.ndarray, op, g: ProcessGroup, async_op: bool):
    out = np.empty(tuple(output.shape), send.dtype)
    sbuf, mop = _spec(send, op)
    req = g._comm.Ireduce_scatter_block(sbuf, _spec(out)[0], mop)
    n = g.size()

    def finish():
        if op == ReduceOp.AVG:
            _avg(out, n)
        _store(output, out)
    return _run(Work([req], finish, [output], g, "REDUCE_SCATTER"), async_op)


def reduce_scatter(output: Tensor, input_list: list, op=ReduceOp.SUM, group=None,
                   async_op: bool = False):
    """`output` on rank i = the reduction over ranks of their input_list[i]."""
    _check_tensor(output, "output")
    g = _group(group)
    if g is None:
        return None
    _check_list(input_list, g.size(), "input_list", output)
    send = np.stack([_host(t).reshape(tuple(output.shape)) for t in input_list])
    return _reduce_scatter(output, send, op, g, async_op)


def reduce_scatter_tensor(output: Tensor, input: Tensor, op=ReduceOp.SUM, group=None,
                          async_op: bool = False):
    """`output` on rank i = the reduction over ranks of the i-th dim-0 slice of `input`."""
    _check_tensor(output, "output")
    _check_tensor(input, "input")
    g = _group(group)
    if g is None:
        return None
    if input.numel() != output.numel() * g.size():
        raise ValueError(f"input tensor must be the same size as output size times world "
                         f"size: {tuple(input.shape)} vs {tuple(output.shape)} times "
                         f"{g.size()}")
    if output.dtype != input.dtype:
        raise ValueError("input tensor must be the same type as the output tensor.")
    return _reduce_scatter(output, _host(input), op, g, async_op)


def _alltoallv(g: ProcessGroup, send: np.ndarray, send_counts, recv: np.ndarray, recv_counts):
    """Ialltoallv with counts in elements of the flat arrays."""
    sc = np.asarray(send_counts, dtype=np.int64)
    rc = np.asarray(recv_counts, dtype=np.int64)
    sd = np.concatenate([[0], np.cumsum(sc)[:-1]]).tolist()
    rd = np.concatenate([[0], np.cumsum(rc)[:-1]]).tolist()
    (sbuf, stype), _ = _spec(send.reshape(-1))
    (rbuf, rtype), _ = _spec(recv.reshape(-1))
    return g._comm.Ialltoallv([sbuf, (sc.tolist(), sd), stype], [rbuf, (rc.tolist(), rd), rtype])


def all_to_all(output_tensor_list: list, input_tensor_list: list, group=None,
               async_op: bool = False):
    """output_tensor_list[i] on rank j = input_tensor_list[j] of rank i."""
    g = _group(group)
    if g is None:
        return None
    n = g.size()
    for name, lst in (("output_tensor_list", output_tensor_list),
                      ("input_tensor_list", input_tensor_list)):
        if not isinstance(lst, (list, tuple)) or len(lst) != n:
            raise ValueError(f"{name} must be a list of {n} tensors (the group size)")
    send = np.concatenate([_host(t).reshape(-1) for t in input_tensor_list])
    recv = np.empty(sum(t.numel() for t in output_tensor_list), send.dtype)
    req = _alltoallv(g, send, [t.numel() for t in input_tensor_list], recv,
                     [t.numel() for t in output_tensor_list])

    def finish():
        start = 0
        for t in output_tensor_list:
            _store(t, recv[start:start + t.numel()])
            start += t.numel()
    return _run(Work([req], finish, output_tensor_list, g, "ALLTOALL"), async_op)


def all_to_all_single(output: Tensor, input: Tensor, output_split_sizes=None,
                      input_split_sizes=None, group=None, async_op: bool = False):
    """Split `input` along dim 0 (evenly or by input_split_sizes), send piece i to rank i,
    and concatenate what arrives into `output` (split by output_split_sizes)."""
    g = _group(group)
    if g is None:
        return None
    n = g.size()
    row_in = int(np.prod(tuple(input.shape)[1:], dtype=np.int64))
    row_out = int(np.prod(tuple(output.shape)[1:], dtype=np.int64))
    ins = input_split_sizes or [input.shape[0] // n] * n
    outs = output_split_sizes or [output.shape[0] // n] * n
    send = _host(input)
    recv = np.empty(tuple(output.shape), send.dtype)
    req = _alltoallv(g, send, [s * row_in for s in ins], recv, [s * row_out for s in outs])
    return _run(Work([req], lambda: _store(output, recv), [output], g, "ALLTOALL_BASE"),
                async_op)


def _p2p_tag(tag: int) -> int:
    if tag < 0:
        raise ValueError(f"tag must be non-negative, got {tag}")
    return tag


def isend(tensor: Tensor, dst: int | None = None, group=None, tag: int = 0,
          group_dst: int | None = None) -> Work | None:
    """Start sending `tensor` to rank `dst`; wait() on the Work before changing it."""
    _check_tensor(tensor, "tensor")
    g = _group(group)
    if g is None:
        return None
    peer = _peer(g, dst, group_dst, "dst")
    host = _host(tensor).copy()  # the caller may change the tensor once isend returns
    req = g._comm.Isend(_spec(host)[0], dest=peer, tag=_p2p_tag(tag))
    return Work([req], None, [tensor], g, "SEND")


def irecv(tensor: Tensor, src: int | None = None, group=None, tag: int = 0,
          group_src: int | None = None) -> Work | None:
    """Start receiving into `tensor` from rank `src` (any rank when None)."""
    _check_tensor(tensor, "tensor")
    g = _group(group)
    if g is None:
        return None
    MPI = _mpi()
    peer = MPI.ANY_SOURCE if src is None and group_src is None else _peer(g, src, group_src,
                                                                          "src")
    host = np.empty(tuple(tensor.shape), _host(tensor).dtype)
    req = g._comm.Irecv(_spec(host)[0], source=peer, tag=_p2p_tag(tag))
    return Work([req], lambda: _store(tensor, host), [tensor], g, "RECV",
                status=MPI.Status())


def send(tensor: Tensor, dst: int | None = None, group=None, tag: int = 0,
         group_dst: int | None = None) -> None:
    """Send `tensor` to rank `dst` (blocks until it is on its way)."""
    work = isend(tensor, dst, group, tag, group_dst)
    if work is not None:
        work.wait()


def recv(tensor: Tensor, src: int | None = None, group=None, tag: int = 0,
         group_src: int | None = None) -> int:
    """Receive into `tensor` from `src` (any rank when None); returns the sender's rank."""
    work = irecv(tensor, src, group, tag, group_src)
    if work is None:
        return -1
    work.wait()
    g = _group(group)
    return g._ranks[work._status.Get_source()]


class P2POp:
    """One point-to-point operation (isend or irecv, its tensor and peer) for
    batch_isend_irecv."""

    def __init__(self, op, tensor: Tensor, peer: int | None = None, group=None, tag: int = 0,
                 group_peer: int | None = None) -> None:
        if op not in (isend, irecv):
            raise ValueError("Invalid ``op``. Expected ``op`` to be of type "
                             "``torch.distributed.isend`` or ``torch.distributed.irecv``.")
        self.op, self.tensor, self.peer, self.group = op, tensor, peer, group
        self.tag, self.group_peer = tag, group_peer


def batch_isend_irecv(p2p_op_list: list) -> list:
    """Start every operation of `p2p_op_list`; returns their Work objects."""
    if not p2p_op_list or not all(isinstance(p, P2POp) for p in p2p_op_list):
        raise ValueError("Invalid ``p2p_op_list``. Each op is expected to to be of type "
                         "``torch.distributed.P2POp``.")
    return [p.op(p.tensor, p.peer, p.group, p.tag, p.group_peer) for p in p2p_op_list]


def monitored_barrier(group=None, timeout: timedelta | None = None,
                      wait_all_ranks: bool = False) -> None:
    """A barrier that raises DistBackendError after `timeout` instead of waiting forever."""
    barrier(group, timeout=timeout)


def get_node_local_rank(fallback_rank: int | None = None) -> int:
    """LOCAL_RANK as set by the launcher (or `fallback_rank`)."""
    if "LOCAL_RANK" in os.environ:
        return int(os.environ["LOCAL_RANK"])
    if fallback_rank is not None:
        return int(fallback_rank)
    raise RuntimeError("LOCAL_RANK is not in the environment. Consider passing fallback_rank "
                       "to allow `get_node_local_rank` to work, assuming you are not running "
                       "in a multi-device context and want the code to run locally instead.")


# --------------------------------------------------------------------- objects
def _bcast_bytes(g: ProcessGroup, data: bytes | None, root: int) -> bytes:
    """Pickled bytes from `root` to every rank, through timed non-blocking broadcasts."""
    size = np.array([len(data) if data is not None else 0], np.int64)
    Work([g._comm.Ibcast(size, root=root)], pg=g, op="BROADCAST").wait()
    buf = np.frombuffer(data, np.uint8).copy() if data is not None else np.empty(
        int(size[0]), np.uint8)
    Work([g._comm.Ibcast(buf, root=root)], pg=g, op="BROADCAST").wait()
    return buf.tobytes()


def _allgather_bytes(g: ProcessGroup, data: bytes) -> list[bytes]:
    n = g.size()
    sizes = np.empty(n, np.int64)
    Work([g._comm.Iallgather(np.array([len(data)], np.int64), sizes)], pg=g,
         op="ALLGATHER").wait()
    out = np.empty(int(sizes.sum()), np.uint8)
    displs = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    MPI = _mpi()
    Work([g._comm.Iallgatherv(np.frombuffer(data, np.uint8),
                              [out, (sizes.tolist(), displs.tolist()), MPI.BYTE])], pg=g,
         op="ALLGATHER").wait()
    return [out[d:d + s].tobytes() for d, s in zip(displs, sizes)]


def broadcast_object_list(object_list: list, src: int | None = None, group=None, device=None,
                          group_src: int | None = None) -> None:
    """Replace the objects of `object_list` on every rank with rank `src`'s (pickled)."""
    g = _group(group)
    if g is None:
        return
    root = _peer(g, src, group_src, "src")
    data = pickle.dumps(list(object_list)) if g.rank() == root else None
    objs = pickle.loads(_bcast_bytes(g, data, root))
    object_list[:] = objs


def all_gather_object(object_list: list, obj, group=None) -> None:
    """object_list[i] = rank i's `obj` (pickled), on every rank."""
    g = _group(group)
    if g is None:
        return
    if len(object_list) != g.size():
        raise ValueError(f"object_list must have {g.size()} entries, got {len(object_list)}")
    for i, b in enumerate(_allgather_bytes(g, pickle.dumps(obj))):
        object_list[i] = pickle.loads(b)


def gather_object(obj, object_gather_list: list | None = None, dst: int | None = None,
                  group=None, group_dst: int | None = None) -> None:
    """object_gather_list[i] = rank i's `obj`, on rank `dst`."""
    g = _group(group)
    if g is None:
        return
    root = _peer(g, dst, group_dst, "dst")
    got = _allgather_bytes(g, pickle.dumps(obj))
    if g.rank() == root:
        if object_gather_list is None or len(object_gather_list) != g.size():
            raise ValueError(f"object_gather_list must have {g.size()} entries on the "
                             "destination rank")
        for i, b in enumerate(got):
            object_gather_list[i] = pickle.loads(b)


def scatter_object_list(scatter_object_output_list: list, scatter_object_input_list=None,
                        src: int | None = None, group=None,
                        group_src: int | None = None) -> None:
    """scatter_object_output_list[0] on rank i = scatter_object_input_list[i] of `src`."""
    g = _group(group)
    if g is None:
        return
    root = _peer(g, src, group_src, "src")
    data = pickle.dumps(list(scatter_object_input_list)) if g.rank() == root else None
    objs = pickle.loads(_bcast_bytes(g, data, root))
    scatter_object_output_list[0] = objs[g.rank()]
