"""The LSTM steps split over threads by hidden units (recurrent._lstm_steps_compiled and the backward
walk), the thread runner under them (vector_math.run_parts) and the OpenBLAS idle-spin setting that
decides whether the split is used (zeronlp/_blas_spin.py, backend.blas_threads_sleep)."""

import os
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from zeronlp import _blas_spin, backend
from zeronlp.functional import recurrent, vector_math

pytest.importorskip("numba")


@pytest.fixture
def split(monkeypatch):
    """Every LSTM step loop split over three threads (however small), as on a machine where it pays."""
    monkeypatch.setattr(recurrent, "SPLIT_MIN_MACS", 0)
    monkeypatch.setattr(backend, "blas_threads_sleep", lambda: True)
    vector_math.set_num_threads(3)
    yield
    vector_math.set_num_threads(None)


def _data(hidden, seed=0, T=6, B=4, inputs=5):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((T, B, inputs)).astype(np.float32)
    h0, c0 = (rng.standard_normal((B, hidden)).astype(np.float32) for _ in range(2))
    shapes = ((4 * hidden, inputs), (4 * hidden, hidden), (4 * hidden,), (4 * hidden,))
    weights = [(rng.standard_normal(s) * 0.3).astype(np.float32) for s in shapes]
    return x, h0, c0, weights


@pytest.mark.parametrize("hidden", [64, 100])
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("grad, gy", [(True, True), (True, False), (False, True)])
def test_split_steps_equal_one_thread(split, run_lstm, hidden, reverse, grad, gy):
    """Outputs and every gradient as on one thread, with unit ranges of unequal length (100 = 32 + 32 +
    36), reversed, without a gradient of y, and under no_grad (one tanh(c) buffer shared by the threads)."""
    data = _data(hidden, seed=hidden)
    parts = recurrent._step_parts(4, hidden, 4)
    assert parts == (2 if hidden == 64 else 3)
    got = run_lstm(*data, reverse=reverse, grad=grad, gy=gy)
    vector_math.set_num_threads(1)
    assert recurrent._step_parts(4, hidden, 4) == 1
    want = run_lstm(*data, reverse=reverse, grad=grad, gy=gy)
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_split_is_not_used_while_blas_threads_spin(monkeypatch):
    monkeypatch.setattr(recurrent, "SPLIT_MIN_MACS", 0)
    monkeypatch.setattr(backend, "blas_threads_sleep", lambda: False)
    vector_math.set_num_threads(4)
    try:
        assert recurrent._step_parts(20, 650, 4) == 1
    finally:
        vector_math.set_num_threads(None)


def test_small_steps_are_not_split(monkeypatch):
    monkeypatch.setattr(backend, "blas_threads_sleep", lambda: True)
    vector_math.set_num_threads(2)
    try:
        assert recurrent._step_parts(20, 100, 4) == 1  # the RNNLM's 100 units: a barrier costs more
        assert recurrent._step_parts(20, 650, 4) == 2
        assert recurrent._step_parts(128, 128, 4) == 1  # the book's seq2seq on addition
        assert recurrent._step_parts(128, 256, 4) == 2  # ... and on dates
    finally:
        vector_math.set_num_threads(None)


@pytest.mark.parametrize("hidden, parts", [(64, 2), (100, 3), (650, 2), (650, 7), (1000, 16)])
def test_unit_bounds_cover_every_unit_in_whole_vectors(hidden, parts):
    bounds = recurrent._unit_bounds(hidden, parts)
    assert bounds[0] == 0 and bounds[-1] == hidden and len(bounds) == parts + 1
    assert all(b % 8 == 0 for b in bounds[:-1])
    assert all(a < b for a, b in zip(bounds, bounds[1:]))


def test_run_parts_runs_the_parts_at_once_with_blas_on_one_thread():
    from threadpoolctl import threadpool_info

    seen = {}

    def work(k, barrier):
        seen[k] = [info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas"]
        barrier.wait()  # returns only when all three parts have arrived: they run side by side

    vector_math.run_parts(3, work)
    assert sorted(seen) == [0, 1, 2]
    assert all(counts and set(counts) == {1} for counts in seen.values())


def test_run_parts_raises_the_failing_parts_error_and_stops_the_others():
    def work(k, barrier):
        if k == 2:
            raise ValueError("part 2 failed")
        for _ in range(3):
            barrier.wait()

    started = time.perf_counter()
    with pytest.raises(ValueError, match="part 2 failed"):
        vector_math.run_parts(3, work)
    assert time.perf_counter() - started < 5  # the waiting parts were released, not timed out
    assert threading.active_count() < 50


def test_run_parts_times_out_when_a_part_never_arrives(monkeypatch):
    monkeypatch.setattr(vector_math, "BARRIER_TIMEOUT", 0.2)

    def work(k, barrier):
        if k == 0:
            barrier.wait()

    with pytest.raises(RuntimeError, match="did not reach its barrier"):
        vector_math.run_parts(2, work)


@pytest.mark.parametrize("value, short", [("16", True), ("4", True), ("20", True), ("28", False), ("x", False)])
def test_spin_setting_the_user_made_is_kept(monkeypatch, value, short):
    monkeypatch.setenv("OPENBLAS_THREAD_TIMEOUT", value)
    assert _blas_spin._configure() is short
    assert os.environ["OPENBLAS_THREAD_TIMEOUT"] == value


def test_spin_is_set_only_before_numpy_is_imported(monkeypatch):
    monkeypatch.delenv("OPENBLAS_THREAD_TIMEOUT", raising=False)
    assert _blas_spin._configure() is False  # numpy is loaded here: too late, nothing is set
    assert "OPENBLAS_THREAD_TIMEOUT" not in os.environ
    monkeypatch.delitem(sys.modules, "numpy")
    assert _blas_spin._configure() is True
    assert os.environ["OPENBLAS_THREAD_TIMEOUT"] == str(_blas_spin.SPIN_LOG2_CYCLES)


def test_blas_threads_sleep_needs_the_short_spin(monkeypatch):
    monkeypatch.setattr(_blas_spin, "SHORT_SPIN", False)
    assert backend.blas_threads_sleep() is False
    monkeypatch.setattr(_blas_spin, "SHORT_SPIN", True)
    apis = {lib.internal_api for lib in backend._blas_controller().lib_controllers}
    assert backend.blas_threads_sleep() is (apis == {"openblas"})


def test_a_fresh_interpreter_that_imports_zeronlp_first_gets_the_short_spin():
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_THREAD_TIMEOUT"}
    code = ("import zeronlp, os; from zeronlp import backend; "
            "print(os.environ['OPENBLAS_THREAD_TIMEOUT'], zeronlp._blas_spin.SHORT_SPIN)")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split() == [str(_blas_spin.SPIN_LOG2_CYCLES), "True"]


def test_overlapping_single_threaded_blocks_restore_the_count_found_first():
    """Two threads' blocks that overlap (A enters, B enters, A leaves, B leaves) leave BLAS as it was."""

    def counts():
        return [lib.num_threads for lib in backend._blas_controller().lib_controllers]

    before = counts()
    with backend._blas_controller().limit(limits=2):
        a_in, b_in, a_out = threading.Event(), threading.Event(), threading.Event()

        def b():
            a_in.wait()
            with backend.single_threaded_blas():
                b_in.set()
                a_out.wait()
                assert set(counts()) == {1}  # still one thread: B's block is open

        thread = threading.Thread(target=b)
        thread.start()
        with backend.single_threaded_blas():
            a_in.set()
            b_in.wait()
        a_out.set()
        thread.join()
        assert counts() == [2] * len(before)
    assert counts() == before


def test_single_threaded_block_in_a_worker_thread_sets_and_restores():
    """A server runs models in worker threads: a block there must set BLAS to one thread and put back
    what it found (threadpoolctl would silently ignore a thread other than the first that set limits)."""

    def counts():
        return [lib.num_threads for lib in backend._blas_controller().lib_controllers]

    with backend._blas_controller().limit(limits=2):
        inside = []

        def work():
            with backend.single_threaded_blas():
                inside.extend(counts())

        thread = threading.Thread(target=work)
        thread.start()
        thread.join()
        assert inside and set(inside) == {1}
        assert set(counts()) == {2}
