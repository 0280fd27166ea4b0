"""ember.distributed: torch.distributed's process groups and collectives, on MPI (mpi4py).

Importing it is cheap; mpi4py (and so the MPI runtime) is imported by
init_process_group. Launch programs with `python -m ember.distributed.run` or
`mpiexec -n N python -m mpi4py script.py`.
"""
from ember.distributed.distributed_c10d import *  # noqa: F403
from ember.distributed.distributed_c10d import __all__ as _c10d_all


def is_available() -> bool:
    """Whether the MPI backend can be used (mpi4py is installed)."""
    return is_mpi_available()  # noqa: F405


__all__ = ["is_available", *_c10d_all]
