"""The fused CUDA kernels (zeronlp.functional.cuda_kernels) equal the NumPy-form code they replace,
both run on the GPU: each case runs once with the kernels and once with ``USE_FUSED`` off."""

import numpy as np
import pytest

import zeronlp as zn
import zeronlp.functional as F
from zeronlp.functional import cuda_kernels

pytestmark = pytest.mark.gpu


@pytest.fixture
def fused_and_plain():
    """Run ``fn`` on CUDA with the fused kernels and without them; return both results (host arrays)."""

    def run(fn, seed=0):
        results = []
        for fused in (True, False):
            cuda_kernels.USE_FUSED = fused
            zn.use_device("cuda")
            zn.manual_seed(seed)
            try:
                results.append(fn())
            finally:
                cuda_kernels.USE_FUSED = True
                zn.use_device("cpu")
        return results

    return run


def _host(values):
    return [None if v is None else zn.backend.to_numpy(v) for v in values]


def test_kernels_apply_to_cupy_floats_only():
    import cupy

    assert cuda_kernels.get("adam", np.zeros(3, np.float32)) is None
    assert cuda_kernels.get("adam", cupy.zeros(3, np.float16)) is None
    assert cuda_kernels.get("adam", cupy.zeros(3, np.float32), cupy.zeros(3, np.float64)) is None
    assert cuda_kernels.get("adam", cupy.zeros(3, np.float32)) is not None


def _recurrent_inputs(gates: int, dtype, with_state: bool, seed: int) -> list:
    """x (T, B, D), the start state(s), W_ih, W_hh, b_ih, b_hh of a small layer with ``gates`` gate blocks
    (an LSTM's h_0 and c_0, or a GRU's h_0); h_0 zero unless ``with_state``."""
    rng = np.random.default_rng(seed)
    T, B, D, H = 6, 5, 7, 8
    states = ((B, H), (B, H)) if gates == 4 else ((B, H),)
    arrays = [rng.standard_normal(s).astype(dtype) * 0.5 for s in
              ((T, B, D), *states, (gates * H, D), (gates * H, H), (gates * H,), (gates * H,))]
    if not with_state:
        arrays[1] = np.zeros_like(arrays[1])
    return arrays


def _assert_all_close(dtype, fused, plain):
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-13)
    for a, b in zip(fused, plain):
        np.testing.assert_allclose(a, b, **tol)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reverse, with_state, only_last", [(False, False, False), (True, True, False),
                                                            (False, True, True)])
def test_lstm_function_fused_equals_ufuncs(dtype, reverse, with_state, only_last, fused_and_plain):
    arrays = _recurrent_inputs(4, dtype, with_state, seed=3)

    def run():
        ts = [zn.tensor(a, requires_grad=True) for a in arrays]
        y, h, c = F.lstm(*ts, reverse=reverse)
        loss = (h * h).sum() + (c * c).sum() if only_last else (y * y).sum() + (h * c).sum()
        loss.backward()
        return _host([y.data, h.data, c.data] + [t.grad for t in ts])

    _assert_all_close(dtype, *fused_and_plain(run))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reverse, with_state, bias", [(False, False, True), (True, True, True),
                                                       (False, True, False)])
def test_gru_function_fused_equals_ufuncs(dtype, reverse, with_state, bias, fused_and_plain):
    arrays = _recurrent_inputs(3, dtype, with_state, seed=7)
    if not bias:
        arrays = arrays[:4]

    def run():
        ts = [zn.tensor(a, requires_grad=True) for a in arrays]
        y, h = F.gru(*ts, reverse=reverse)
        ((y * y).sum() + (h * h).sum()).backward()
        return _host([y.data, h.data] + [t.grad for t in ts])

    _assert_all_close(dtype, *fused_and_plain(run))


def test_lstm_evaluation_without_grad_fused_equals_ufuncs(fused_and_plain):
    x = np.random.default_rng(4).standard_normal((2, 9, 6)).astype(np.float32)

    def run():
        lstm = zn.nn.LSTM(6, 10, num_layers=2, batch_first=True)
        with zn.no_grad():
            y, (h, c) = lstm(zn.tensor(x))
        return _host([y.data, h.data, c.data])

    for a, b in zip(*fused_and_plain(run)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("decoupled", [False, True])
def test_adam_fused_equals_ufuncs(decoupled, fused_and_plain):
    def run():
        model = zn.nn.Sequential(zn.nn.Linear(6, 5), zn.nn.Tanh(), zn.nn.Linear(5, 3))
        opt_class = zn.optim.AdamW if decoupled else zn.optim.Adam
        opt = opt_class(model.parameters(), lr=0.01, weight_decay=0.1)
        x = zn.tensor(np.linspace(-1, 1, 24, dtype=np.float32).reshape(4, 6))
        for _ in range(4):
            opt.zero_grad()
            loss = F.softmax_cross_entropy(model(x), np.array([0, 2, 1, 2]))
            loss.backward()
            opt.step()
        return _host([p.data for p in model.parameters()])

    for a, b in zip(*fused_and_plain(run)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("classes", [3, 700])
def test_softmax_cross_entropy_fused_equals_ufuncs(reduction, classes, fused_and_plain):
    rng = np.random.default_rng(5)
    x = (rng.standard_normal((4, 6, classes)) * 3).astype(np.float32)
    t = rng.integers(0, classes, size=(4, 6))
    t[1, 2] = t[3, 0] = -100

    def run():
        logits = zn.tensor(x, requires_grad=True)
        loss = F.softmax_cross_entropy(logits, t, reduction=reduction)
        (loss * loss).sum().backward()
        return _host([loss.data, logits.grad])

    for a, b in zip(*fused_and_plain(run)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)


def test_softmax_cross_entropy_fused_second_order_and_all_ignored(fused_and_plain):
    x = np.random.default_rng(6).standard_normal((5, 4))

    def run():
        logits = zn.tensor(x, requires_grad=True)
        loss = F.softmax_cross_entropy(logits, np.array([1, -100, 3, 0, 2]))
        (g,) = zn.grad(loss, [logits], create_graph=True)
        (g * g).sum().backward()
        ignored = F.softmax_cross_entropy(zn.tensor(x), np.full(5, -100))
        return _host([loss.data, g.data, logits.grad, ignored.data])

    fused, plain = fused_and_plain(run)
    assert np.isnan(fused[-1]) and np.isnan(plain[-1])
    for a, b in zip(fused[:-1], plain[:-1]):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("bad", [5, -3])
def test_softmax_cross_entropy_fused_names_a_bad_target(bad):
    zn.use_device("cuda")
    try:
        with pytest.raises(ValueError, match=f"target {bad} is out of range for 5 classes"):
            F.softmax_cross_entropy(zn.tensor(np.zeros((3, 5), np.float32)), np.array([0, bad, 1]))
    finally:
        zn.use_device("cpu")


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("bias", [True, False])
def test_linear_cross_entropy_fused_equals_ufuncs(reduction, bias, fused_and_plain):
    rng = np.random.default_rng(8)
    h, w, b = (rng.standard_normal(s).astype(np.float32) for s in ((3, 7, 16), (900, 16), (900,)))
    t = rng.integers(0, 900, size=(3, 7))
    t[0, 4] = -100

    def run():
        ts = [zn.tensor(a, requires_grad=True) for a in ((h, w, b) if bias else (h, w))]
        loss = F.linear_cross_entropy(ts[0], ts[1], ts[2] if bias else None, t, reduction=reduction)
        (loss * loss).sum().backward()
        with zn.no_grad():
            evaluated = F.linear_cross_entropy(*(x.data for x in ts[:2]), ts[2].data if bias else None, t,
                                               reduction=reduction)
        return _host([loss.data, evaluated.data] + [x.grad for x in ts])

    for a, b_ in zip(*fused_and_plain(run)):
        np.testing.assert_allclose(a, b_, rtol=2e-5, atol=1e-7)


def test_linear_cross_entropy_fused_names_a_bad_target():
    zn.use_device("cuda")
    try:
        with pytest.raises(ValueError, match="target 7 is out of range for 5 classes"):
            F.linear_cross_entropy(zn.tensor(np.ones((2, 3), np.float32)), zn.tensor(np.ones((5, 3), np.float32)),
                                   None, np.array([1, 7]))
    finally:
        zn.use_device("cpu")
