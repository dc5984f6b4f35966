"""Test-wide settings: single-threaded BLAS (small matrices on shared 2-core CI machines run
faster without thread hand-offs) and a fixed seed before every test."""

import os

for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")
os.environ.setdefault("MPLBACKEND", "Agg")

import pytest  # noqa: E402

import zeronlp as zn  # noqa: E402


@pytest.fixture(autouse=True)
def _seed_and_cpu():
    zn.use_device("cpu")
    zn.manual_seed(0)
    yield
