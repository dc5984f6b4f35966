"""Work split over threads: the LSTM steps by hidden units or by batch rows (recurrent._lstm_steps_compiled
and the backward walk), backward GEMMs side by side (vector_math.side_by_side), the thread runner under
them (vector_math.run_parts) and the OpenBLAS idle-spin setting that decides whether they are used
(zeronlp/_blas_spin.py, backend.blas_threads_sleep)."""

import os
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from zeronlp import _blas_spin, backend
from zeronlp.functional import packed_gemm, recurrent, vector_math

pytest.importorskip("numba")


@pytest.fixture
def threads(monkeypatch):
    """``threads(n, blas_sleeps=True)``: zeronlp's kernels on n threads, and BLAS's threads taken to sleep
    soon after each call (or not), as on a machine where splitting work pays; undone after the test."""

    def set_threads(count, blas_sleeps=True):
        monkeypatch.setattr(backend, "blas_threads_sleep", lambda: blas_sleeps)
        vector_math.set_num_threads(count)

    yield set_threads
    vector_math.set_num_threads(None)


@pytest.fixture
def split(monkeypatch, threads):
    """Every LSTM step loop split over three threads (however small), as on a machine where it pays."""
    monkeypatch.setattr(recurrent, "SPLIT_MIN_MACS", 0)
    threads(3)


def _data(hidden, seed=0, T=6, B=4, inputs=5):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((T, B, inputs)).astype(np.float32)
    h0, c0 = (rng.standard_normal((B, hidden)).astype(np.float32) for _ in range(2))
    shapes = ((4 * hidden, inputs), (4 * hidden, hidden), (4 * hidden,), (4 * hidden,))
    weights = [(rng.standard_normal(s) * 0.3).astype(np.float32) for s in shapes]
    return x, h0, c0, weights


def _assert_equal_outputs(got, want, atol=1e-6):
    assert len(got) == len(want)
    for a, b in zip(got, want):
        assert (a is None) == (b is None)
        if a is not None:
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=atol)


@pytest.mark.parametrize("hidden", [64, 100])
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("grad, gy", [(True, True), (True, False), (False, True)])
def test_split_steps_equal_one_thread(split, run_lstm, hidden, reverse, grad, gy):
    """Outputs and every gradient as on one thread, with unit ranges of unequal length (100 = 32 + 32 +
    36), reversed, without a gradient of y, and under no_grad (one tanh(c) buffer shared by the threads)."""
    data = _data(hidden, seed=hidden)
    ranges = recurrent._step_ranges(4, hidden, 4)
    assert [r[:2] for r in ranges] == [(0, 4)] * (2 if hidden == 64 else 3)  # every row, units split
    got = run_lstm(*data, reverse=reverse, grad=grad, gy=gy)
    vector_math.set_num_threads(1)
    assert recurrent._step_ranges(4, hidden, 4) == [(0, 4, 0, hidden)]
    want = run_lstm(*data, reverse=reverse, grad=grad, gy=gy)
    _assert_equal_outputs(got, want)


@pytest.fixture
def row_split(monkeypatch, threads):
    """Every LSTM step loop split over three threads by batch rows (however small)."""
    monkeypatch.setattr(recurrent, "SPLIT_MIN_MACS", 10**18)
    monkeypatch.setattr(recurrent, "ROW_SPLIT_MIN_ROWS", 2)
    monkeypatch.setattr(recurrent, "ROW_SPLIT_MIN_MACS", 0)
    threads(3)


@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("grad, gy", [(True, True), (True, False), (False, True)])
@pytest.mark.parametrize("start", ["state", "zero state without grad"])
def test_row_split_steps_equal_one_thread(row_split, run_lstm, reverse, grad, gy, start):
    """Each thread runs its own rows (7 = 2 + 2 + 3) through every step: outputs and gradients as on one
    thread, from a given state and from a zero one that needs no gradient (step 0 then has no GEMM and
    backward no dh_{-1})."""
    x, h0, c0, weights = _data(40, seed=3, B=7)
    if start != "state":
        h0, c0 = np.zeros_like(h0), np.zeros_like(c0)
    ranges = recurrent._step_ranges(7, 40, 4)
    assert ranges == [(0, 2, 0, 40), (2, 4, 0, 40), (4, 7, 0, 40)]
    kwargs = dict(reverse=reverse, grad=grad, gy=gy, state_grad=start == "state")
    got = run_lstm(x, h0, c0, weights, **kwargs)
    vector_math.set_num_threads(1)
    want = run_lstm(x, h0, c0, weights, **kwargs)
    _assert_equal_outputs(got, want)
    if grad and start != "state":
        assert got[4] is None and got[5] is None  # no gradient asked of the zero state, none made


def test_split_is_not_used_while_blas_threads_spin(monkeypatch, threads):
    monkeypatch.setattr(recurrent, "SPLIT_MIN_MACS", 0)
    threads(4, blas_sleeps=False)
    assert recurrent._step_ranges(20, 650, 4) == [(0, 20, 0, 650)]
    assert recurrent._step_ranges(128, 128, 4) == [(0, 128, 0, 128)]


def test_steps_are_split_where_it_was_measured_to_pay(threads, monkeypatch):
    threads(2)
    monkeypatch.setattr(packed_gemm, "cpu_suits", lambda: False)  # step GEMMs by BLAS
    assert recurrent._step_ranges(20, 100, 4) == [(0, 20, 0, 100)]  # the RNNLM: too small for either
    assert recurrent._step_ranges(20, 650, 4) == [(0, 20, 0, 328), (0, 20, 328, 650)]  # few rows: units
    assert recurrent._step_ranges(64, 650, 4) == [(0, 64, 0, 328), (0, 64, 328, 650)]
    assert recurrent._step_ranges(128, 512, 4) == [(0, 128, 0, 256), (0, 128, 256, 512)]
    # the book's seq2seq on addition (H = 128) and on dates (H = 256), batch 128: rows
    assert recurrent._step_ranges(128, 128, 4) == [(0, 64, 0, 128), (64, 128, 0, 128)]
    assert recurrent._step_ranges(128, 256, 4) == [(0, 64, 0, 256), (64, 128, 0, 256)]
    assert recurrent._step_ranges(64, 64, 4) == [(0, 32, 0, 64), (32, 64, 0, 64)]
    assert recurrent._step_ranges(32, 128, 4) == [(0, 32, 0, 128)]  # 16 rows a thread: too few


def test_rows_split_wide_layers_when_the_weight_is_packed(threads, monkeypatch):
    """No thread packs W_hh again for its rows: 32 rows a thread are enough at any width."""
    threads(2)
    monkeypatch.setattr(packed_gemm, "cpu_suits", lambda: True)
    assert recurrent._step_ranges(64, 650, 4) == [(0, 32, 0, 650), (32, 64, 0, 650)]
    assert recurrent._step_ranges(128, 512, 4) == [(0, 64, 0, 512), (64, 128, 0, 512)]
    assert recurrent._step_ranges(64, 256, 4) == [(0, 32, 0, 256), (32, 64, 0, 256)]
    assert recurrent._step_ranges(20, 650, 4) == [(0, 20, 0, 328), (0, 20, 328, 650)]  # few rows: units
    assert recurrent._step_ranges(32, 128, 4) == [(0, 32, 0, 128)]


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


def test_run_parts_reuses_its_idle_threads():
    seen = set()

    def work(k, barrier):
        if k:
            seen.add(threading.get_ident())
        barrier.wait()

    for _ in range(20):
        vector_math.run_parts(3, work)
    assert len(seen) == 2  # the same two threads every time, not forty new ones


def test_a_busy_part_thread_does_not_hold_up_another_run():
    """A part still running (another caller's, one that never ends) gets no new work: the next run
    starts a thread of its own instead of queueing behind it."""
    release = threading.Event()

    def slow(k, barrier):
        if k:
            release.wait(10)

    caller = threading.Thread(target=vector_math.run_parts, args=(2, slow))
    caller.start()
    try:
        started = time.perf_counter()
        vector_math.run_parts(2, lambda k, barrier: barrier.wait())
        assert time.perf_counter() - started < 5
    finally:
        release.set()
        caller.join()


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


@pytest.fixture
def side_by_side_always(monkeypatch, threads):
    """Every pair of backward products run side by side, however small (as on a machine where it pays)."""
    monkeypatch.setattr(vector_math, "SIDE_BY_SIDE_MIN_MACS", 0)
    threads(2)


def test_side_by_side_runs_both_at_once_on_one_blas_thread_each(side_by_side_always):
    from threadpoolctl import threadpool_info

    both_in = threading.Barrier(2, timeout=5)

    def product(k):
        def run():
            both_in.wait()  # returns only when the other product has started too
            return k, [info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas"]
        return run

    (a, blas_a), (b, blas_b) = vector_math.side_by_side(product(0), product(1), (10, 10))
    assert (a, b) == (0, 1) and set(blas_a + blas_b) == {1}


@pytest.mark.parametrize("macs, at_once", [((10, 10), True), ((10, 12), True), ((10, 13), False),
                                           ((13, 10), False)])
def test_side_by_side_only_for_products_of_similar_size(side_by_side_always, macs, at_once):
    threads = []

    def product():
        threads.append(threading.get_ident())

    vector_math.side_by_side(product, product, macs)
    assert (threads[0] != threads[1]) is at_once


@pytest.mark.parametrize("fused", [False, True])
def test_output_layer_gradients_side_by_side_equal_one_after_the_other(monkeypatch, threads, fused):
    """Linear's and linear_cross_entropy's dx and dW, computed at once on two threads, equal the
    sequential ones."""
    import zeronlp as zn
    import zeronlp.functional as F

    rng = np.random.default_rng(0)
    h0 = rng.standard_normal((3, 5, 8)).astype(np.float32)
    w0, b0 = rng.standard_normal((40, 8)).astype(np.float32), rng.standard_normal(40).astype(np.float32)
    targets = rng.integers(0, 40, size=(3, 5))

    def grads():
        h, w, b = (zn.Tensor(a, requires_grad=True) for a in (h0, w0, b0))
        loss = F.linear_cross_entropy(h, w, b, targets) if fused else (F.linear(h, w, b) ** 2).sum()
        loss.backward()
        return [t.grad.data for t in (h, w, b)]

    threads(2)
    calls = []
    real = vector_math.side_by_side
    monkeypatch.setattr(vector_math, "side_by_side", lambda *a: calls.append(a[2]) or real(*a))
    monkeypatch.setattr(vector_math, "SIDE_BY_SIDE_MIN_MACS", 10**18)
    want = grads()
    monkeypatch.setattr(vector_math, "SIDE_BY_SIDE_MIN_MACS", 0)
    got = grads()
    assert calls == [(15 * 40 * 8, 15 * 40 * 8)] * 2  # the products' size as the layer counts them
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("start", ["state", "zero state without grad"])
@pytest.mark.parametrize("reverse", [False, True])
def test_gru_row_split_equals_one_thread(row_split, start, reverse):
    """The GRU's steps by batch rows (7 = 2 + 2 + 3) forward and backward: as on one thread."""
    import zeronlp as zn

    rng = np.random.default_rng(5)
    x = rng.standard_normal((6, 7, 5)).astype(np.float32)
    h0 = np.zeros((7, 40), np.float32) if start != "state" else rng.standard_normal((7, 40)).astype(np.float32)
    weights = [(rng.standard_normal(s) * 0.3).astype(np.float32) for s in ((120, 5), (120, 40), (120,), (120,))]
    assert recurrent._row_ranges(7, 40, 3) == [(0, 2, 0, 40), (2, 4, 0, 40), (4, 7, 0, 40)]

    def run():
        tensors = [zn.Tensor(a, requires_grad=k != 1 or start == "state") for k, a in enumerate((x, h0, *weights))]
        y, h_n = recurrent.gru(*tensors, reverse=reverse)
        ((y * y).sum() + h_n.sum()).backward()
        return [y.data, h_n.data] + [t.grad for t in tensors]

    got = run()
    vector_math.set_num_threads(1)
    want = run()
    # float rounding of step GEMMs over 2-3 rows vs 7 (gradients of size ~10: 2e-6 apart seen)
    _assert_equal_outputs(got, want, atol=1e-5)


def test_gru_takes_no_unit_split(threads):
    threads(2)
    assert recurrent._row_ranges(20, 650, 3) == [(0, 20, 0, 650)]  # units would be split: none
    assert recurrent._row_ranges(128, 128, 3) == [(0, 64, 0, 128), (64, 128, 0, 128)]
