"""Data parallel on CUDA: two MPI ranks sharing one GPU make the update one process makes on it.

The gradients of CuPy parameters travel through the communicator's host buffer (one copy each way); this
runs the CPU suite's ``equivalence`` scenario (tests/distributed) with every rank on the GPU and compares
it with one process on the GPU. Skipped without an MPI runtime, as the CPU tests are.
"""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

import zeronlp as zn
from zeronlp import distributed

pytestmark = pytest.mark.gpu
HERE = Path(__file__).resolve().parents[1] / "distributed"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"zeronlp_gpu_{name}", HERE / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


mpi = _load("test_mpi")


@pytest.mark.skipif(mpi.LAUNCHER is None, reason=mpi.WHY_NOT)
def test_two_ranks_on_one_gpu_equal_one_process_on_it(tmp_path, monkeypatch):
    monkeypatch.setenv("ZERONLP_WORKER_DEVICE", "cuda")
    mpi._check(mpi.run_two(str(mpi.WORKER), "equivalence", str(tmp_path), timeout=300))
    rank0, rank1 = (np.load(tmp_path / f"equivalence_rank{r}_of_2.npz") for r in (0, 1))
    assert all(np.array_equal(rank0[k], rank1[k]) for k in rank0.files)
    single = distributed.SingleProcessCommunicator()
    zn.use_device("cuda")
    try:
        references = {"mlp_adam": mpi.worker.mlp("adam", single), "lm": mpi.worker.lm(single),
                      "seq2seq": mpi.worker.seq2seq(single)}
    finally:
        zn.use_device("cpu")
    for prefix, reference in references.items():
        mpi._assert_close(reference, rank0, prefix)
