"""Products with a weight packed once (zeronlp/functional/packed_gemm.py): the packed layout, the
micro-kernel's results against the exact product within float32's GEMM error bound, the choice between
it and BLAS, and the recurrent layers' steps that use it."""

import numpy as np
import pytest

from zeronlp.functional import packed_gemm, recurrent, vector_math
from zeronlp.functional.packed_gemm import MR, NR, BlasWeight, PackedWeight

pytest.importorskip("numba")
kernel_runs = pytest.mark.skipif(not {"avx2", "fma"} <= packed_gemm._cpu_features(),
                                 reason="the packed micro-kernel needs AVX2 and FMA")


@pytest.fixture
def packed(monkeypatch):
    """The packed kernel chosen wherever it can run (also on an AVX-512 CPU)."""
    monkeypatch.setenv("ZERONLP_PACKED_GEMM", "1")


def _assert_within_gemm_bound(got, a, rows):
    """|got - a rows^T| <= 2 k eps |a| |rows|^T elementwise (float32's bound for a k-term dot product,
    with room for two roundings per term), checked against the float64 product."""
    a64, rows64 = a.astype(np.float64), rows.astype(np.float64)
    exact = a64 @ rows64.T
    bound = 2 * a.shape[1] * np.finfo(np.float32).eps * (np.abs(a64) @ np.abs(rows64).T) + 1e-30
    assert got.shape == exact.shape
    excess = np.abs(got - exact) / bound
    assert excess.max() <= 1, f"worst element {np.unravel_index(excess.argmax(), excess.shape)}"


@kernel_runs
@pytest.mark.parametrize("m", [2, 3, MR, MR + 1, 9, 20])
@pytest.mark.parametrize("n", [1, NR - 1, NR, NR + 1, 2 * NR + 5])
@pytest.mark.parametrize("k", [1, 7, 300])
def test_product_within_float32_bound(packed, m, n, k):
    rng = np.random.default_rng(m * 1000 + n * 10 + k)
    a = rng.standard_normal((m, k)).astype(np.float32)
    rows = rng.standard_normal((n, k)).astype(np.float32)
    weight = packed_gemm.pack(rows, m)
    assert isinstance(weight, PackedWeight)
    out = np.full((m, n), np.nan, dtype=np.float32)
    assert weight(a, out) is out
    _assert_within_gemm_bound(out, a, rows)


@kernel_runs
@pytest.mark.parametrize("block", [5, 8, 1000])
def test_depth_blocks_add_up(packed, monkeypatch, block):
    """The sum over k in blocks (stored, then added to), edge tiles included."""
    monkeypatch.setattr(packed_gemm, "DEPTH_BLOCK", block)
    rng = np.random.default_rng(block)
    a = rng.standard_normal((7, 37)).astype(np.float32)
    rows = rng.standard_normal((30, 37)).astype(np.float32)
    out = np.empty((7, 30), dtype=np.float32)
    packed_gemm.pack(rows, 7)(a, out)
    _assert_within_gemm_bound(out, a, rows)


def _layouts(rng):
    """rows of 4 x 10 columns by 33 in the memory orders the recurrent layers pack."""
    w_hh = rng.standard_normal((4 * 33, 33)).astype(np.float32)
    by_columns = np.ascontiguousarray(rng.standard_normal((33, 4, 10)).astype(np.float32))
    return {
        "contiguous": w_hh,  # W_hh, (4H, H): the whole forward weight
        "gate units": w_hh.reshape(4, 33, 33)[:, 8:18],  # (4, 10, H): a thread's units of every gate
        "columns": w_hh[:, 8:18].T,  # W_hh[:, units]^T: the backward weight, columns along memory
        "grouped columns": by_columns.transpose(1, 2, 0),  # (4, 10, K) with columns along memory
    }


@kernel_runs
@pytest.mark.parametrize("layout", ["contiguous", "gate units", "columns", "grouped columns"])
def test_packed_layout(packed, layout):
    rows = _layouts(np.random.default_rng(0))[layout]
    weight = packed_gemm.pack(rows, 5)
    rows2d = rows.reshape(-1, rows.shape[-1])
    n, k = rows2d.shape
    panels = weight.packed
    assert panels.shape == (-(-n // NR), k, NR)
    for j in range(n):
        np.testing.assert_array_equal(panels[j // NR, :, j % NR], rows2d[j])
    assert not panels[-1, :, n - (panels.shape[0] - 1) * NR:].any()  # zeros past the last column
    a = np.random.default_rng(1).standard_normal((5, k)).astype(np.float32)
    _assert_within_gemm_bound(weight(a, np.empty((5, n), dtype=np.float32)), a, rows2d)


@kernel_runs
def test_strided_input_and_output_rows(packed):
    rng = np.random.default_rng(3)
    a = rng.standard_normal((6, 80)).astype(np.float32)[:, ::2]  # columns two floats apart
    rows = rng.standard_normal((30, 40)).astype(np.float32)
    out = np.zeros((6, 50), dtype=np.float32)
    packed_gemm.pack(rows, 6)(a, out[:, 10:40])  # rows of out 50 floats apart
    _assert_within_gemm_bound(out[:, 10:40], a, rows)
    assert not out[:, :10].any() and not out[:, 40:].any()  # nothing written outside


@kernel_runs
def test_nan_and_inf_propagate_as_in_blas(packed):
    rng = np.random.default_rng(4)
    a = rng.standard_normal((5, 16)).astype(np.float32)
    rows = rng.standard_normal((30, 16)).astype(np.float32)
    a[2, 3] = np.nan
    rows[7, 0] = np.inf
    out = packed_gemm.pack(rows, 5)(a, np.empty((5, 30), dtype=np.float32))
    want = a @ rows.T
    np.testing.assert_array_equal(np.isnan(out), np.isnan(want))
    np.testing.assert_array_equal(np.isinf(out), np.isinf(want))


@kernel_runs
def test_wrong_shapes_are_refused(packed):
    weight = packed_gemm.pack(np.ones((30, 8), dtype=np.float32), 4)
    with pytest.raises(ValueError, match="30 x 8"):
        weight(np.ones((4, 9), dtype=np.float32), np.empty((4, 30), dtype=np.float32))
    with pytest.raises(ValueError, match="rows contiguous"):
        weight(np.ones((4, 8), dtype=np.float32), np.empty((30, 4), dtype=np.float32).T)
    with pytest.raises(ValueError):
        weight(np.ones((4, 8), dtype=np.float32), np.empty((5, 30), dtype=np.float32))
    with pytest.raises(ValueError, match="int32"):  # 4-byte elements, but not floats
        weight(np.ones((4, 8), dtype=np.float32), np.empty((4, 30), dtype=np.int32))
    with pytest.raises(ValueError):
        weight(np.ones((2, 4, 8), dtype=np.float32), np.empty((2, 30), dtype=np.float32))


@pytest.mark.parametrize("case", ["one row", "float64", "turned off", "no numba", "cupy-like"])
def test_blas_where_the_kernel_does_not_apply(monkeypatch, case):
    rows = np.random.default_rng(5).standard_normal((30, 8)).astype(np.float32)
    batch = 4
    if case == "one row":
        batch = 1  # BLAS's matrix-vector product is faster
    elif case == "float64":
        rows = rows.astype(np.float64)
    elif case == "turned off":
        monkeypatch.setenv("ZERONLP_PACKED_GEMM", "0")
    elif case == "no numba":
        monkeypatch.setattr(vector_math, "USE_NUMBA", False)
    else:
        rows = rows.view(type("NotNumPy", (np.ndarray,), {}))
    weight = packed_gemm.pack(rows, batch)
    assert isinstance(weight, BlasWeight)
    a = np.ones((batch, 8), dtype=rows.dtype)
    np.testing.assert_allclose(weight(a, np.empty((batch, 30), dtype=rows.dtype)), a @ np.asarray(rows).T,
                               rtol=1e-6)


@pytest.mark.parametrize("features, setting, suits", [
    ({"avx2", "fma"}, "", True),
    ({"avx2", "fma", "avx512f"}, "", False),  # not measured against BLAS's 16-float kernels
    ({"avx2", "fma", "avx512f"}, "1", True),
    ({"avx2", "fma"}, "0", False),
    ({"avx2"}, "1", False),  # the kernel's instructions are missing
    (set(), "", False),
])
def test_cpu_choice(monkeypatch, features, setting, suits):
    monkeypatch.setattr(packed_gemm, "_cpu_features", lambda: frozenset(features))
    monkeypatch.setenv("ZERONLP_PACKED_GEMM", setting)
    assert packed_gemm.cpu_suits() is suits


def _count_packed_calls(monkeypatch):
    calls = []
    original = PackedWeight.__call__

    def counting(self, a, out):
        calls.append(a.shape)
        return original(self, a, out)

    monkeypatch.setattr(PackedWeight, "__call__", counting)
    return calls


def _lstm_and_grads(x, h0, c0, weights):
    from zeronlp import Tensor

    args = [Tensor(v, requires_grad=True) for v in (x, h0, c0, *weights)]
    y, h_n, c_n = recurrent.lstm(*args)
    ((y * y).sum() + h_n.sum() + c_n.sum()).backward()
    return [y.data, h_n.data, c_n.data] + [t.grad for t in args]


def _gru_and_grads(x, h0, weights, function=recurrent.gru):
    from zeronlp import Tensor

    args = [Tensor(v, requires_grad=True) for v in (x, h0, *weights)]
    y, h_n = function(*args)
    ((y * y).sum() + h_n.sum()).backward()
    return [y.data, h_n.data] + [t.grad for t in args]


def _rnn_and_grads(x, h0, weights):
    return _gru_and_grads(x, h0, weights, recurrent.rnn)


@kernel_runs
@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_recurrent_steps_use_the_packed_weight(packed, monkeypatch, cell):
    """Forward and backward steps run on the packed weight, and agree with the BLAS steps to float32
    rounding."""
    rng = np.random.default_rng(6)
    T, B, H, inputs = 5, 6, 40, 7
    gates = {"lstm": 4, "gru": 3, "rnn": 1}[cell]
    x = rng.standard_normal((T, B, inputs)).astype(np.float32)
    states = [rng.standard_normal((B, H)).astype(np.float32) for _ in range(2 if cell == "lstm" else 1)]
    weights = [(rng.standard_normal(s) * 0.3).astype(np.float32)
               for s in ((gates * H, inputs), (gates * H, H), (gates * H,), (gates * H,))]
    run = {"lstm": _lstm_and_grads, "gru": _gru_and_grads, "rnn": _rnn_and_grads}[cell]
    calls = _count_packed_calls(monkeypatch)
    got = run(x, *states, weights)
    assert len(calls) == 2 * T  # every step's h W_hh^T and dZ W_hh
    monkeypatch.setenv("ZERONLP_PACKED_GEMM", "0")
    want = run(x, *states, weights)
    assert len(calls) == 2 * T  # none more with the kernel off
    for g, w in zip(got, want):  # float32 rounding, grown a little over the steps of backward
        np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-5 * np.abs(w).max())
