"""The compiled float32 exp / sigmoid / tanh and the kernels built on them (vector_math) against NumPy:
accuracy in ulps, special values, the fused softmax cross-entropy rows (one thread and several), and
the LSTM forward step kernel against the NumPy step loop."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

import zeronlp as zn
import zeronlp.functional as F
from zeronlp.functional import recurrent, vector_math

pytest.importorskip("numba")


@pytest.fixture
def compiled():
    k = vector_math.kernels(np.zeros(1, np.float32))
    assert k is not None
    return k


def _ulps(got, exact):
    """|got - exact| in units of the float32 spacing at the exact value."""
    exact32 = np.abs(exact).astype(np.float32)
    spacing = np.spacing(np.maximum(exact32, np.float32(np.finfo(np.float32).tiny))).astype(np.float64)
    return np.abs(got.astype(np.float64) - exact) / spacing


def _inputs(seed=0):
    rng = np.random.default_rng(seed)
    x = np.concatenate([rng.standard_normal(200_000) * 4, rng.uniform(-87, 88, 100_000),
                        rng.standard_normal(10_000) * 1e-4, np.linspace(-1, 1, 20_001)])
    return x.astype(np.float32)


def test_exp_within_one_ulp(compiled):
    x = _inputs()
    got = x.copy()
    compiled["exp_"](got)
    assert _ulps(got, np.exp(x.astype(np.float64))).max() <= 1.5


def test_sigmoid_and_tanh_within_three_ulp(compiled):
    x = _inputs(1)
    x64 = x.astype(np.float64)
    s = x.copy()
    compiled["sigmoid_"](s)
    assert _ulps(s, 1 / (1 + np.exp(-x64))).max() <= 3
    t = x.copy()
    compiled["tanh_"](t)
    assert _ulps(t, np.tanh(x64)).max() <= 3
    assert np.all(np.abs(t) <= 1) and np.all((s >= 0) & (s <= 1))


def test_special_values(compiled):
    x = np.array([0, -0.0, np.inf, -np.inf, np.nan, 88.7, 89, -87.3, -100, 1e-30, -1e-30], np.float32)
    e, s, t = x.copy(), x.copy(), x.copy()
    compiled["exp_"](e)
    compiled["sigmoid_"](s)
    compiled["tanh_"](t)
    with np.errstate(over="ignore"):
        ref = np.exp(x)
    assert e[0] == e[1] == 1 and e[2] == np.inf and e[3] == 0 and np.isnan(e[4]) and e[6] == np.inf
    np.testing.assert_allclose(e[5], ref[5], rtol=2e-7)  # the largest finite results stay finite
    np.testing.assert_allclose(e[7], ref[7], rtol=2e-7)
    assert e[8] < 1.2e-38  # the subnormal range flushes to (nearly) zero
    assert list(s[[0, 2, 3]]) == [0.5, 1, 0] and np.isnan(s[4])
    assert list(t[[0, 2, 3]]) == [0, 1, -1] and np.isnan(t[4]) and t[9] == np.float32(1e-30)


def test_kernels_only_for_float32_numpy():
    assert vector_math.kernels(np.zeros(2, np.float64)) is None
    assert vector_math.kernels(np.zeros(2, np.float32), np.zeros(2, np.float64)) is None


def test_use_numba_off(monkeypatch):
    monkeypatch.setattr(vector_math, "USE_NUMBA", False)
    assert vector_math.kernels(np.zeros(2, np.float32)) is None


def _softmax_reference(z, bias, t):
    z = z.astype(np.float64) + (0 if bias is None else bias)
    m = z.max(axis=1, keepdims=True)
    lse = np.log(np.exp(z - m).sum(axis=1)) + m[:, 0]
    d = np.exp(z - lse[:, None])
    d[np.arange(len(t)), t] -= 1
    return lse - z[np.arange(len(t)), t], d


@pytest.mark.parametrize("keep", [True, False])
@pytest.mark.parametrize("with_bias", [True, False])
def test_softmax_rows_match_float64(compiled, keep, with_bias):
    rng = np.random.default_rng(2)
    z = (rng.standard_normal((37, 1003)) * 6).astype(np.float32)
    bias = rng.standard_normal(1003).astype(np.float32) if with_bias else None
    t = rng.integers(0, 1003, 37).astype(np.intp)
    t[0], t[1] = 0, 1002
    loss_ref, d_ref = _softmax_reference(z, bias, t)
    losses = np.empty(37, np.float32)
    work = z.copy()
    compiled["softmax_xent_rows"](work, bias if with_bias else z[0, :0], with_bias, t, losses, keep, 0, 37)
    np.testing.assert_allclose(losses, loss_ref, rtol=2e-6, atol=2e-6)
    if keep:
        np.testing.assert_allclose(work, d_ref, rtol=5e-6, atol=5e-8)


def test_softmax_rows_range_touches_only_its_rows(compiled):
    rng = np.random.default_rng(3)
    z = rng.standard_normal((10, 50)).astype(np.float32)
    work, losses = z.copy(), np.full(10, -1, np.float32)
    compiled["softmax_xent_rows"](work, z[0, :0], False, np.zeros(10, np.intp), losses, True, 3, 7)
    np.testing.assert_array_equal(work[:3], z[:3])
    np.testing.assert_array_equal(work[7:], z[7:])
    assert np.all(losses[:3] == -1) and np.all(losses[7:] == -1) and np.all(losses[3:7] > 0)


def test_nan_logits_give_nan_loss(compiled):
    z = np.zeros((2, 20), np.float32)
    z[0, 5] = np.nan
    losses = np.empty(2, np.float32)
    compiled["softmax_xent_rows"](z, z[0, :0], False, np.zeros(2, np.intp), losses, True, 0, 2)
    assert np.isnan(losses[0]) and np.isclose(losses[1], np.log(20))


def _head_data(rows=300, hidden=16, classes=513, seed=4):
    rng = np.random.default_rng(seed)
    h = rng.standard_normal((rows, hidden)).astype(np.float32)
    w = (rng.standard_normal((classes, hidden)) * 0.3).astype(np.float32)
    b = rng.standard_normal(classes).astype(np.float32)
    t = rng.integers(0, classes, rows)
    t[::7] = -100
    return h, w, b, t


def _head_grads(h, w, b, t, reduction="mean"):
    ht, wt, bt = (zn.Tensor(a, requires_grad=True) for a in (h, w, b))
    loss = F.linear_cross_entropy(ht, wt, bt, t, reduction=reduction)
    loss.backward(np.ones(loss.shape, np.float32) if loss.ndim else None)
    return loss.data, ht.grad.data, wt.grad.data, bt.grad.data


@pytest.mark.parametrize("reduction", ["mean", "none"])
def test_head_threads_equal_one_thread(reduction):
    """Rows split over threads give the one-thread result, bit for bit, and on every run."""
    data = _head_data()
    try:
        vector_math.set_num_threads(1)
        one = _head_grads(*data, reduction=reduction)
        vector_math.set_num_threads(3)
        three = _head_grads(*data, reduction=reduction)
        again = _head_grads(*data, reduction=reduction)
    finally:
        vector_math.set_num_threads(None)
    for a, b, c in zip(one, three, again):
        np.testing.assert_array_equal(b, a)
        np.testing.assert_array_equal(b, c)


def test_head_compiled_equals_numpy_path(monkeypatch):
    data = _head_data(seed=5)
    compiled = _head_grads(*data)
    monkeypatch.setattr(vector_math, "USE_NUMBA", False)
    reference = _head_grads(*data)
    for a, b in zip(compiled, reference):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)


def test_set_num_threads_validates():
    for bad in (0, -1, 1.5):
        with pytest.raises(ValueError, match="threads must be a positive integer"):
            zn.set_num_threads(bad)
    try:
        vector_math.set_num_threads(2)
        assert vector_math.get_num_threads() == zn.get_num_threads() == 2
    finally:
        vector_math.set_num_threads(None)
    assert vector_math.get_num_threads() >= 1


def test_zn_set_num_threads_sets_blas_too():
    from threadpoolctl import threadpool_info, threadpool_limits

    def blas_threads():
        return [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]

    with threadpool_limits(limits=None):  # restores BLAS's count afterwards
        try:
            zn.set_num_threads(1)
            assert zn.get_num_threads() == 1 and set(blas_threads()) == {1}
        finally:
            zn.set_num_threads(None)


def test_parallel_rows_covers_every_row_once():
    seen = np.zeros(1000, int)

    def work(r0, r1):
        seen[r0:r1] += 1

    try:
        vector_math.set_num_threads(4)
        vector_math.parallel_rows(1000, work, min_rows=10)
    finally:
        vector_math.set_num_threads(None)
    assert np.all(seen == 1)


@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("grad", [True, False])
def test_lstm_step_kernel_equals_numpy_loop(monkeypatch, run_lstm, reverse, grad):
    rng = np.random.default_rng(6)
    T, B, I, H = 7, 5, 6, 9
    x = rng.standard_normal((T, B, I)).astype(np.float32)
    h0, c0 = (rng.standard_normal((B, H)).astype(np.float32) for _ in range(2))
    weights = [(rng.standard_normal(s) * 0.5).astype(np.float32) for s in ((4 * H, I), (4 * H, H), (4 * H,), (4 * H,))]
    compiled = run_lstm(x, h0, c0, weights, reverse, grad)
    monkeypatch.setattr(vector_math, "USE_NUMBA", False)
    reference = run_lstm(x, h0, c0, weights, reverse, grad)
    for a, b in zip(compiled, reference):
        np.testing.assert_allclose(a, b, rtol=2e-5, atol=2e-6)


@pytest.mark.parametrize("classes", [1, 2, 7, 8, 9, 17])
@pytest.mark.parametrize("rows", [1, 3, 130])
def test_head_small_vocabularies(monkeypatch, classes, rows):
    """Rows shorter than, equal to and just past the kernel's 8-wide maximum, one row and many."""
    rng = np.random.default_rng(classes * 1000 + rows)
    data = (rng.standard_normal((rows, 5)).astype(np.float32), rng.standard_normal((classes, 5)).astype(np.float32),
            rng.standard_normal(classes).astype(np.float32), rng.integers(0, classes, rows))
    compiled = _head_grads(*data)
    monkeypatch.setattr(vector_math, "USE_NUMBA", False)
    for a, b in zip(compiled, _head_grads(*data)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("shape, classes", [((6,), 7), ((4, 5), 10), ((300,), 513)])
def test_softmax_cross_entropy_compiled_equals_numpy_path(monkeypatch, reduction, shape, classes):
    """F.softmax_cross_entropy on float32 runs the row kernel without touching its input logits."""
    rng = np.random.default_rng(classes)
    x = (rng.standard_normal((*shape, classes)) * 3).astype(np.float32)
    t = rng.integers(0, classes, shape)
    t.reshape(-1)[::4] = -100

    def run():
        xt = zn.Tensor(x.copy(), requires_grad=True)
        before = xt.data.copy()
        loss = F.softmax_cross_entropy(xt, t, reduction=reduction)
        (loss.sum() if reduction == "none" else loss).backward()
        np.testing.assert_array_equal(xt.data, before)  # the logits are a graph tensor: left as they were
        with zn.no_grad():
            evaluated = F.softmax_cross_entropy(zn.Tensor(x), t, reduction=reduction).data
        np.testing.assert_array_equal(evaluated, loss.data)
        return loss.data, xt.grad.data

    compiled = run()
    monkeypatch.setattr(vector_math, "USE_NUMBA", False)
    for a, b in zip(compiled, run()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)


ACTIVATIONS = {
    "softmax": lambda x: F.softmax(x, axis=-1),
    "log_softmax": lambda x: F.log_softmax(x, axis=-1),
    "sigmoid": F.sigmoid,
    "tanh": F.tanh,
}


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
@pytest.mark.parametrize("layout", ["contiguous", "transposed", "rows"])
def test_activations_compiled_equal_numpy_path(monkeypatch, name, layout):
    """float32 softmax / log_softmax (last axis), sigmoid and tanh through the kernels: the NumPy path's
    values and gradients, on contiguous and strided inputs, with masked (-inf) entries for the softmaxes."""
    rng = np.random.default_rng(7)
    base = (rng.standard_normal((150, 37)) * 4).astype(np.float32)
    if name in ("softmax", "log_softmax"):
        base[::5, ::3] = -np.inf  # attention masks
    x = {"contiguous": base, "transposed": base.T, "rows": base[::2]}[layout]
    gy = rng.standard_normal(x.shape).astype(np.float32)

    def run():
        xt = zn.Tensor(x.copy(), requires_grad=True)
        y = ACTIVATIONS[name](xt)
        y.backward(gy)
        return y.data, xt.grad.data

    compiled = run()
    monkeypatch.setattr(vector_math, "USE_NUMBA", False)
    reference = run()
    for a, b in zip(compiled, reference):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_softmax_special_rows():
    x = np.array([[-np.inf, -np.inf, -np.inf], [0, np.nan, 1], [np.inf, 0, 1], [1e30, -1e30, 0]], np.float32)
    with np.errstate(invalid="ignore"):
        compiled = vector_math.softmax_last_axis(x)
        ref = np.exp(x - x.max(axis=1, keepdims=True))
        ref = ref / ref.sum(axis=1, keepdims=True)
    np.testing.assert_array_equal(np.isnan(compiled), np.isnan(ref))
    np.testing.assert_allclose(compiled[3], [1, 0, 0])


def test_float16_and_float64_keep_the_numpy_path():
    assert vector_math.softmax_last_axis(np.zeros((2, 3), np.float16)) is None
    assert vector_math.elementwise("tanh", np.zeros(3, np.float64)) is None


def _gru_run(x, h0, weights, reverse, grad):
    tensors = [zn.Tensor(a, requires_grad=grad) for a in (x, h0, *weights)]
    fn = recurrent.GRUFunction(reverse=reverse)
    if not grad:
        with zn.no_grad():
            return [o.data for o in fn(*tensors)]
    y, hn = fn(*tensors)
    ((y * y).sum() + (hn * hn).sum()).backward()
    return [y.data, hn.data] + [t.grad.data for t in tensors]


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("grad", [True, False])
def test_gru_step_kernel_equals_numpy_loop(monkeypatch, bias, reverse, grad):
    rng = np.random.default_rng(8)
    T, B, I, H = 6, 4, 5, 11
    x = rng.standard_normal((T, B, I)).astype(np.float32)
    h0 = rng.standard_normal((B, H)).astype(np.float32)
    shapes = ((3 * H, I), (3 * H, H)) + (((3 * H,), (3 * H,)) if bias else ())
    weights = [(rng.standard_normal(s) * 0.5).astype(np.float32) for s in shapes]
    compiled = _gru_run(x, h0, weights, reverse, grad)
    monkeypatch.setattr(vector_math, "USE_NUMBA", False)
    reference = _gru_run(x, h0, weights, reverse, grad)
    # the NumPy path's sigmoid, (1 + tanh(x/2)) / 2, keeps fewer digits of small values than the
    # kernel's 1 / (1 + e^-x); summed over the steps, weight gradients differ in the 5th digit
    for a, b in zip(compiled, reference):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("offset", [0.0, 512.0, 1e4, 1e6])
def test_log_softmax_and_losses_keep_their_digits_next_to_a_large_maximum(offset):
    """(x - m) - log_s must not become x - (m + log_s): hypothesis found log_softmax([512, 512]) =
    -0.693176 (the float32 spacing at 512 is 6e-5). Exact shifts, so float64 is the reference."""
    x = (np.array([[0.0, -3.0, -1.0, 0.0]]) + offset).astype(np.float32)
    want = x.astype(np.float64) - x.max() - np.log(np.exp(x.astype(np.float64) - x.max()).sum())
    got = F.log_softmax(zn.Tensor(x)).data
    np.testing.assert_allclose(got, want, rtol=2e-7, atol=5e-7)
    for t in range(4):
        loss = F.softmax_cross_entropy(zn.Tensor(x), np.array([t])).data
        np.testing.assert_allclose(loss, -want[0, t], rtol=2e-7, atol=5e-7)


@pytest.mark.parametrize("size", [1, 1000, (1 << 18) * 3 + 5])
@pytest.mark.parametrize("threads", [1, 2])
def test_subtract_scaled_equals_numpy_bit_for_bit(size, threads):
    """An optimizer's p -= lr * g in one compiled pass (chunks over threads) rounds as NumPy does."""
    rng = np.random.default_rng(size)
    y = rng.standard_normal(size).astype(np.float32)
    x = rng.standard_normal(size).astype(np.float32)
    want = y.copy()
    want -= 0.1 * x
    vector_math.set_num_threads(threads)
    try:
        vector_math.subtract_scaled(y, 0.1, x)
    finally:
        vector_math.set_num_threads(None)
    np.testing.assert_array_equal(y, want)


def test_subtract_scaled_falls_back_to_numpy_for_other_arrays():
    y = np.arange(12, dtype=np.float64).reshape(3, 4)
    x = np.ones((4, 3), dtype=np.float32).T  # not C-contiguous, another dtype
    vector_math.subtract_scaled(y, 2.0, x)
    np.testing.assert_array_equal(y, np.arange(12).reshape(3, 4) - 2.0)


_CACHE_PROBE = """
import json
import json
import os
import subprocess
import sys

import numpy as np
from zeronlp.functional import packed_gemm, recurrent, vector_math
compiled = vector_math.kernels(np.ones(2, dtype=np.float32))
x = np.linspace(-3, 3, 64, dtype=np.float32).reshape(4, 16)
for name in ("exp_", "sigmoid_", "tanh_"):
    compiled[name](x.copy())
compiled["softmax_rows"](x, np.empty_like(x), False, 0, 4)
weight = packed_gemm.pack(np.ones((30, 16), dtype=np.float32), 4)
weight(x, np.empty((4, 30), dtype=np.float32))
kernels = {**compiled, **packed_gemm._kernels(), "lstm": recurrent._numba_gate_grads()}
print(json.dumps({name: sum(k.stats.cache_misses.values()) for name, k in kernels.items()
                  if k.stats.cache_hits or k.stats.cache_misses}))
"""


def test_kernels_compile_once_then_load_from_numba_disk_cache(tmp_path):
    """A second process loads every kernel it uses from numba's cache instead of compiling it again (a
    kernel that kept a compiled helper in a closure cell missed the cache in every process)."""
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path), "ZERONLP_PACKED_GEMM": "1"}

    def misses():
        out = subprocess.run([sys.executable, "-c", _CACHE_PROBE], env=env, capture_output=True, text=True,
                             check=True, timeout=600)
        return json.loads(out.stdout.strip().splitlines()[-1])

    first = misses()
    assert first and all(count > 0 for count in first.values())  # compiled and written
    second = misses()
    assert second.keys() == first.keys()
    assert not any(second.values()), f"compiled again: {second}"


def test_exp_of_nonpositive_values_equals_exp32_bit_for_bit():
    """The softmax rows' exp(x - max) takes a shorter path for x <= 0 (one scaling multiply, no overflow
    branch); it must give exp32's float for every such input (checked on every float32 of [-88, 0] once
    by hand; here every 61st bit pattern of that range and the edges)."""
    import numba

    vector_math.kernels(np.ones(2, dtype=np.float32))  # builds the helpers

    @numba.njit
    def both(x, a, b):
        for i in range(x.size):
            a[i] = vector_math.exp32(x[i])
            b[i] = vector_math.exp32_nonpositive(x[i])

    patterns = np.arange(np.uint32(0x80000000), np.float32(-88.0).view(np.uint32) + np.uint32(1), 61,
                         dtype=np.uint32)
    edges = np.array([0.0, -0.0, -1e-45, -87.33654, -87.336, -87.34, -88.0, -1e30, -np.inf, np.nan], np.float32)
    x = np.concatenate([patterns.view(np.float32), edges])
    a, b = np.empty_like(x), np.empty_like(x)
    both(x, a, b)
    np.testing.assert_array_equal(a.view(np.uint32), b.view(np.uint32))
