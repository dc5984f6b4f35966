"""Communicators: the one object data-parallel training talks to (ChainerMN's ``create_communicator``).

Every process (rank) holds a full replica of the model and trains on its own shard of each global
batch; between ``backward()`` and the optimizer step :meth:`Communicator.allreduce_gradients`
replaces every gradient by the mean over the ranks, so all replicas make the same update.

* :class:`SingleProcessCommunicator` — one process, no MPI: every collective is a no-op, so the
  same code runs with and without ``mpirun``.
* :class:`MPICommunicator` — mpi4py's ``COMM_WORLD`` (Open MPI, MPICH, Intel MPI). Gradients travel
  in one flat float32 buffer, reused from step to step and reduced in chunks of a few MB (few large
  ``Allreduce`` calls instead of one per parameter); after the reduction the parameters' gradients
  are views into that buffer, so unpacking copies nothing. CuPy arrays go through the host.
"""

from __future__ import annotations

import sys
import time
import traceback
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

from .. import backend
from ..errors import UsageError

BUCKET_BYTES = 4 * 2**20  # one Allreduce moves at most this much: large enough for bandwidth, small for memory


def shard_range(total: int, rank: int, size: int) -> tuple[int, int]:
    """Rows ``[start, stop)`` of ``total`` that rank ``rank`` of ``size`` takes: contiguous blocks, the
    first ``total % size`` ranks one row more (``np.array_split``'s rule), so the blocks in rank
    order are the whole range."""
    base, extra = divmod(int(total), int(size))
    start = rank * base + min(rank, extra)
    return start, start + base + (1 if rank < extra else 0)


def _parameter_list(model_or_parameters: Any) -> list[Any]:
    if hasattr(model_or_parameters, "parameters"):
        return list(model_or_parameters.parameters())
    return list(model_or_parameters)


class Communicator:
    """What data-parallel training needs from the processes it runs in; this base class is the
    single-process behaviour (rank 0 of 1), which every method keeps when ``size == 1``."""

    rank: int = 0
    size: int = 1
    local_size: int = 1  # ranks on this machine (threads per rank = free cores / local_size)

    @property
    def is_main(self) -> bool:
        """True on rank 0: the rank that writes files, logs and shows the progress bar."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        """True when more than one process takes part (the Trainer's hot path checks this once)."""
        return self.size > 1

    def shard_range(self, total: int) -> tuple[int, int]:
        """This rank's rows ``[start, stop)`` of ``total`` (see :func:`shard_range`)."""
        return shard_range(total, self.rank, self.size)

    def shard(self, array: Any) -> Any:
        """This rank's contiguous block of ``array``'s rows (a view, no copy)."""
        if self.size == 1:
            return array
        start, stop = self.shard_range(len(array))
        return array[start:stop]

    # ---- collectives: no-ops with one process ------------------------------------------------
    def barrier(self) -> None:
        """Wait until every rank has arrived here."""

    def bcast(self, obj: Any, root: int = 0) -> Any:
        """``obj`` of rank ``root``, on every rank (a small Python object: a dict, an index order)."""
        return obj

    def allgather(self, obj: Any) -> list[Any]:
        """Every rank's ``obj``, in rank order, on every rank."""
        return [obj]

    def allreduce(self, values: Sequence[float] | np.ndarray, op: str = "sum") -> np.ndarray:
        """Element-wise ``sum``, ``max`` or ``min`` of a few float64 values over the ranks."""
        if op not in ("sum", "max", "min"):
            raise UsageError(f"allreduce: op must be 'sum', 'max' or 'min', got {op!r}")
        return np.array(values, dtype=np.float64)

    def any(self, flag: bool) -> bool:
        """True on every rank if ``flag`` is true on any rank."""
        return bool(self.allreduce([float(bool(flag))], "max")[0])

    def broadcast_arrays(self, arrays: Iterable[Any], root: int = 0) -> None:
        """Overwrite each array, in place, with rank ``root``'s values."""

    def broadcast_parameters(self, model: Any, root: int = 0) -> None:
        """Give every rank rank ``root``'s weights (a Module or a list of Parameters), in place, so
        the optimizer and any weight average keep pointing at the same arrays."""
        self.broadcast_arrays([p.data for p in _parameter_list(model)], root)

    def allreduce_gradients(self, parameters: Iterable[Any], weight: float = 1.0,
                            values: Sequence[float] = ()) -> np.ndarray:
        """Replace every gradient by the weighted mean over the ranks, ``sum_r w_r g_r / sum_r w_r``.

        ``weight``: this rank's share (e.g. the targets in its part of the batch, so uneven shards
        give exactly the whole batch's mean; 1 on every rank is the plain mean). A parameter without
        a gradient counts as zero; it gets one on every rank if any rank had one, and stays ``None``
        on every rank otherwise. ``values``: a few floats summed over the ranks in the same
        reduction (the loss, flags). Returns ``[sum of weights, *summed values]``.
        """
        return np.array([weight, *values], dtype=np.float64)

    def run_on_main(self, fn: Callable[[], Any]) -> Any:
        """``fn()`` run on rank 0 only, its result sent to every rank; an exception it raises is
        raised on every rank (as the same type when it can be rebuilt from its message), marked
        ``collective`` (all ranks raise it together, so the Trainer lets it propagate)."""
        return fn()

    def abort(self, code: int = 1, message: str | None = None) -> None:
        """End the whole job now (every rank) with exit status ``code``, after printing ``message``."""
        if message:
            print(message, file=sys.stderr, flush=True)
        raise SystemExit(code)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(rank={self.rank}, size={self.size})"


class SingleProcessCommunicator(Communicator):
    """One process, no MPI: rank 0 of 1; every collective is a no-op."""


class MPICommunicator(Communicator):
    """Ranks of an MPI communicator (mpi4py's ``COMM_WORLD`` by default)."""

    def __init__(self, comm: Any = None, bucket_bytes: int = BUCKET_BYTES):
        from mpi4py import MPI

        self._MPI = MPI
        self.comm = comm if comm is not None else MPI.COMM_WORLD
        self.rank, self.size = self.comm.Get_rank(), self.comm.Get_size()
        self.local_size = self.comm.Split_type(MPI.COMM_TYPE_SHARED).Get_size()
        if bucket_bytes < 1024:
            raise UsageError(f"bucket_bytes must be at least 1024, got {bucket_bytes}")
        self.bucket_bytes = int(bucket_bytes)
        self._layouts: dict[tuple[int, ...], _GradientBuffer] = {}
        self.allreduce_seconds = 0.0  # time spent in gradient reductions (benchmarks read it)

    def barrier(self) -> None:
        self.comm.Barrier()

    def bcast(self, obj: Any, root: int = 0) -> Any:
        return self.comm.bcast(obj, root=root)

    def allgather(self, obj: Any) -> list[Any]:
        return self.comm.allgather(obj)

    def allreduce(self, values: Sequence[float] | np.ndarray, op: str = "sum") -> np.ndarray:
        ops = {"sum": self._MPI.SUM, "max": self._MPI.MAX, "min": self._MPI.MIN}
        if op not in ops:
            raise UsageError(f"allreduce: op must be 'sum', 'max' or 'min', got {op!r}")
        send = np.array(values, dtype=np.float64)
        out = np.empty_like(send)
        self.comm.Allreduce(send, out, op=ops[op])
        return out

    def _chunks(self, flat: np.ndarray) -> Iterable[np.ndarray]:
        step = max(self.bucket_bytes // flat.itemsize, 1)
        for start in range(0, flat.size, step):
            yield flat[start:start + step]

    def broadcast_arrays(self, arrays: Iterable[Any], root: int = 0) -> None:
        arrays = list(arrays)
        shapes = self.allgather([(tuple(a.shape), str(a.dtype)) for a in arrays])
        if any(s != shapes[root] for s in shapes):
            mismatch = next(r for r, s in enumerate(shapes) if s != shapes[root])
            raise UsageError(f"broadcast: rank {mismatch} holds arrays {shapes[mismatch]}, rank {root} holds "
                             f"{shapes[root]}: every rank must build the same model")
        for array in arrays:
            in_place = backend.get_array_module(array) is np and array.flags.c_contiguous
            host = array if in_place else np.ascontiguousarray(backend.to_numpy(array))
            for chunk in self._chunks(host.reshape(-1)):
                self.comm.Bcast(chunk, root=root)
            if not in_place and self.rank != root:
                array[...] = backend.xp().asarray(host) if backend.get_array_module(array) is not np else host

    def allreduce_gradients(self, parameters: Iterable[Any], weight: float = 1.0,
                            values: Sequence[float] = ()) -> np.ndarray:
        params = parameters if isinstance(parameters, list) else list(parameters)
        key = (len(values), *(id(p) for p in params))
        layout = self._layouts.get(key)
        if layout is None:
            layout = self._layouts[key] = _GradientBuffer(params, len(values))
        started = time.perf_counter()
        buffer = layout.pack(params, weight, values)
        for chunk in self._chunks(buffer):
            self.comm.Allreduce(self._MPI.IN_PLACE, chunk, op=self._MPI.SUM)
        totals = layout.unpack(params)
        self.allreduce_seconds += time.perf_counter() - started
        return totals

    def run_on_main(self, fn: Callable[[], Any]) -> Any:
        outcome: tuple[str, Any] = ("ok", None)
        if self.is_main:
            try:
                outcome = ("ok", fn())
            except Exception as err:  # sent to the other ranks, then raised here as well
                outcome = ("error", (type(err), str(err)))
                self.comm.bcast(outcome, root=0)
                err.collective = True  # every rank raises it at this point: no need to abort the job
                raise
        outcome = self.comm.bcast(outcome, root=0)
        if outcome[0] == "error":
            kind, message = outcome[1]
            try:
                error = kind(message)
            except Exception:
                error = RuntimeError(f"rank 0 failed: {kind.__name__}: {message}")
            error.collective = True
            raise error
        return outcome[1]

    def abort(self, code: int = 1, message: str | None = None) -> None:
        if message:
            print(message, file=sys.stderr, flush=True)
        sys.stdout.flush()
        self.comm.Abort(code)


class _GradientBuffer:
    """One flat buffer for a fixed list of parameters: ``[weight, *values, has_grad flags, gradients]``.

    The header rides in the same Allreduce as the gradients, so the total weight, the summed loss and
    which parameters had a gradient on any rank cost no extra round trip.
    """

    def __init__(self, params: list[Any], num_values: int):
        dtypes = {np.dtype(p.data.dtype) for p in params}
        self.dtype = dtypes.pop() if len(dtypes) == 1 else np.dtype(np.float64)
        if self.dtype.kind != "f":
            self.dtype = np.dtype(np.float32)
        self.num_values = num_values
        self.flags_at = 1 + num_values
        self.grads_at = self.flags_at + len(params)
        self.offsets = []
        offset = self.grads_at
        for p in params:
            self.offsets.append(offset)
            offset += int(np.prod(p.data.shape))
        self.buffer = np.zeros(offset, dtype=self.dtype)
        self.on_host = all(backend.get_array_module(p.data) is np for p in params)

    def pack(self, params: list[Any], weight: float, values: Sequence[float]) -> np.ndarray:
        buffer = self.buffer
        buffer[0] = weight
        buffer[1:self.flags_at] = values
        for i, (p, start) in enumerate(zip(params, self.offsets)):
            segment = buffer[start:start + p.data.size]
            grad = p.grad
            if grad is None:
                buffer[self.flags_at + i] = 0.0
                segment.fill(0.0)
            else:
                buffer[self.flags_at + i] = 1.0
                np.multiply(backend.to_numpy(grad).reshape(-1), weight, out=segment, casting="unsafe")
        return buffer

    def unpack(self, params: list[Any]) -> np.ndarray:
        buffer = self.buffer
        total = float(buffer[0])
        grads = buffer[self.grads_at:]
        if total > 0 and total != 1.0:
            grads *= buffer.dtype.type(1.0 / total)
        for i, (p, start) in enumerate(zip(params, self.offsets)):
            if buffer[self.flags_at + i] == 0:
                p.grad = None
                continue
            view = buffer[start:start + p.data.size].reshape(p.data.shape)
            if self.on_host and view.dtype == p.data.dtype:
                p.grad = view  # valid until the next reduction; zero_grad() drops it before then
            else:
                p.grad = backend.xp().asarray(view, dtype=p.data.dtype)
        return buffer[:self.flags_at].astype(np.float64)


def format_failure(rank: int, size: int, exc_type: type, exc: BaseException, tb: Any) -> str:
    """The message a failing rank prints before it ends the job: its traceback, then one line."""
    text = "".join(traceback.format_exception(exc_type, exc, tb))
    return (f"{text}zeronlp: rank {rank} of {size} failed with {exc_type.__name__}: {exc}; "
            "ending the MPI job (the last checkpoint stays loadable)")
