"""Pieces every command shares: the training options, validated number types, run setup."""

from __future__ import annotations

import argparse
import math
import os
import sys
from collections.abc import Callable
from typing import Any

from threadpoolctl import threadpool_info, threadpool_limits

from .. import backend, distributed
from ..functional import packed_gemm
from ..progress import logger, set_verbosity


def _number(text: str, cast: type, ok: Callable[[float], bool], what: str) -> Any:
    """Parse ``text`` with ``cast`` and check it with ``ok``; argparse turns the error into a usage message."""
    try:
        value = cast(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
    if not ok(value):
        raise argparse.ArgumentTypeError(f"must be {what}, got {text}")
    return value


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    return _number(text, int, lambda v: v >= 1, "a positive integer")


def non_negative_int(text: str) -> int:
    """argparse type: an integer >= 0 (seeds, counts that may be zero)."""
    return _number(text, int, lambda v: v >= 0, "an integer >= 0")


def positive_float(text: str) -> float:
    """argparse type: a finite float > 0."""
    return _number(text, float, lambda v: 0 < v < math.inf, "a positive finite number")


def fraction(text: str) -> float:
    """argparse type: a float in [0, 1)."""
    return _number(text, float, lambda v: 0 <= v < 1, "a number in [0, 1)")


def add_command_group(subparsers: Any, name: str, help_text: str, steps: list[str]) -> Any:
    """A command with sub-steps (``zeronlp lm train|generate|...``): returns the steps' subparsers.
    The command alone prints its help and exits with 2."""
    parser = subparsers.add_parser(name, help=help_text)
    steps_parsers = parser.add_subparsers(dest=f"{name}_command", metavar="{" + ",".join(steps) + "}")
    parser.set_defaults(func=lambda args: (parser.print_help(), 2)[1])
    return steps_parsers


def threads_option(text: str) -> int | str:
    """argparse type of ``--threads``: ``auto`` or a positive integer."""
    return "auto" if text == "auto" else positive_int(text)


def auto_threads() -> int:
    """BLAS threads for this run: the cores not already busy (CPU count minus the 1-minute load
    average, rounded), at least 1. OpenBLAS threads spin while they wait, so asking for more threads
    than free cores makes a run many times slower (measured in ``benchmarks/threads.py``)."""
    cores = os.cpu_count() or 1
    try:
        busy = round(os.getloadavg()[0])
    except OSError:  # no load average on this platform
        busy = 0
    return max(1, min(cores, cores - busy))


def set_threads(spec: int | str, processes: int = 1) -> int:
    """Limit NumPy's BLAS (and OpenMP) thread pools and zeronlp's own kernels (:func:`zeronlp.set_num_threads`) to
    ``spec`` threads (``"auto"``: :func:`auto_threads` shared by the ``processes`` ranks of an MPI job
    on this machine)."""
    count = max(1, auto_threads() // max(processes, 1)) if spec == "auto" else int(spec)
    threadpool_limits(limits=count)
    backend.set_num_threads(count, blas=False)  # zeronlp's own kernels
    return count


def _add_run_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"], help="cpu (NumPy) or cuda (CuPy)")
    parser.add_argument("--threads", type=threads_option, default="auto",
                        help="BLAS threads: a number, or auto = the cores not busy with other processes")
    parser.add_argument("-v", "--verbose", action="store_true", help="more detail (settings, BLAS threads, "
                        "progress lines every 10 s instead of 30 s when not on a terminal)")


def add_common_args(parser: argparse.ArgumentParser, default_out: str) -> None:
    """``--out DIR --quiet --seed N --resume --device --threads -v`` (every training command)."""
    parser.add_argument("--out", default=default_out, help=f"output directory (default: {default_out})")
    parser.add_argument("--quiet", action="store_true", help="no progress bar, progress lines or per-epoch lines")
    parser.add_argument("--seed", type=non_negative_int, default=0, help="random seed")
    parser.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.safetensors")
    _add_run_args(parser)


def add_time_budget_arg(parser: argparse.ArgumentParser) -> None:
    """``--max-minutes M``: a wall-clock budget for a training run (resumed parts included)."""
    parser.add_argument("--max-minutes", type=positive_float, default=None,
                        help="stop after this many minutes of the run (resumes included): the epoch running "
                        "then ends early, is evaluated and kept if best (default: no limit)")


def add_inference_args(parser: argparse.ArgumentParser) -> None:
    """``--seed N --device --threads -v`` for commands that load a trained run."""
    parser.add_argument("--seed", type=non_negative_int, default=0, help="random seed for sampling")
    _add_run_args(parser)


def use_device(args: argparse.Namespace) -> None:
    """Apply ``--device``, ``--seed``, ``--threads`` and the verbosity (``--quiet`` / ``-v``).

    Under ``mpirun`` this also starts the MPI communicator (:func:`zeronlp.distributed.init`); then only
    rank 0 logs and prints (the other ranks' stdout goes to ``os.devnull``; errors still reach stderr),
    and ``--threads auto`` shares the free cores among the ranks on each machine.
    """
    comm = distributed.init()
    if not comm.is_main:
        sys.stdout = open(os.devnull, "w")  # for the life of the process
    if getattr(args, "quiet", False) or not comm.is_main:
        set_verbosity("warning")
    elif getattr(args, "verbose", False):
        set_verbosity("debug")
    else:
        set_verbosity("info")
    backend.use_device(getattr(args, "device", "cpu"))
    backend.manual_seed(getattr(args, "seed", 0))
    count = None
    if getattr(args, "threads", None) is not None:
        count = set_threads(args.threads, comm.local_size)
        logger.debug(f"BLAS threads: {count} ({args.threads}); {threadpool_info_line()}; recurrent step GEMMs: "
                     f"{packed_gemm.step_product()}")
    if comm.size > 1:
        logger.info(f"data parallel: {comm.size} MPI ranks ({comm.local_size} on this machine), "
                    f"{count or 'default'} BLAS threads each")


def threadpool_info_line() -> str:
    """The BLAS libraries NumPy uses, with their kernels and threads (for logs and benchmarks)."""
    return "; ".join(f"{p.get('internal_api')} {p.get('version')} {p.get('architecture', '')} "
                     f"{p.get('num_threads')} threads" for p in threadpool_info())
