"""Fused recurrent Functions: gradient checks and equality with the step-by-step composition."""

import numpy as np
import pytest

import zeronlp as zn
from zeronlp.functional import recurrent as R

T, B, I, H = 4, 3, 5, 6
GATES = {"rnn": 1, "rnn_relu": 1, "lstm": 4, "gru": 3}


def _inputs(kind, bias, peephole, seed=0):
    rng = np.random.default_rng(seed)
    g = GATES[kind]

    def mk(*shape):
        return rng.standard_normal(shape) * 0.5

    arrays = [mk(T, B, I), mk(B, H)]
    if kind == "lstm":
        arrays.append(mk(B, H))
    arrays += [mk(g * H, I), mk(g * H, H)]
    if bias:
        arrays += [mk(g * H), mk(g * H)]
    if peephole:
        arrays.append(mk(3, H))
    return arrays


def _flat(kind, bias, peephole, reverse, reference):
    """A function of the input tensors returning every output flattened into one vector."""
    def fn(*t):
        if kind == "lstm":
            x, h0, c0, wi, wh, *rest = t
        else:
            x, h0, wi, wh, *rest = t
        b = (rest[0], rest[1]) if bias else (None, None)
        if kind == "lstm":
            impl = R.lstm_reference if reference else R.lstm
            outs = impl(x, h0, c0, wi, wh, *b, peephole=rest[-1] if peephole else None, reverse=reverse)
        elif kind == "gru":
            outs = (R.gru_reference if reference else R.gru)(x, h0, wi, wh, *b, reverse=reverse)
        else:
            nl = "relu" if kind == "rnn_relu" else "tanh"
            outs = (R.rnn_reference if reference else R.rnn)(x, h0, wi, wh, *b, nonlinearity=nl, reverse=reverse)
        return zn.F.concat([o.reshape(-1) * (k + 1) for k, o in enumerate(outs)])
    return fn


CASES = [
    (kind, bias, peep, reverse)
    for kind in GATES
    for bias in (True, False)
    for peep in ((False, True) if kind == "lstm" else (False,))
    for reverse in (False, True)
]


@pytest.mark.parametrize("kind,bias,peephole,reverse", CASES)
def test_gradcheck_fused(kind, bias, peephole, reverse):
    zn.gradcheck(_flat(kind, bias, peephole, reverse, False), _inputs(kind, bias, peephole))


@pytest.mark.parametrize("kind,bias,peephole,reverse", CASES)
def test_fused_equals_composition(kind, bias, peephole, reverse):
    arrays = [a.astype(np.float32) for a in _inputs(kind, bias, peephole, seed=1)]
    weights = None
    results = []
    for reference in (False, True):
        tensors = [zn.Tensor(a, requires_grad=True) for a in arrays]
        out = _flat(kind, bias, peephole, reverse, reference)(*tensors)
        if weights is None:
            weights = np.random.default_rng(2).standard_normal(out.shape).astype(np.float32)
        out.backward(weights)
        results.append((out.data, [t.grad for t in tensors]))
    (y1, g1), (y2, g2) = results
    assert y1.dtype == np.float32
    np.testing.assert_allclose(y1, y2, atol=1e-5)
    for a, b in zip(g1, g2):
        np.testing.assert_allclose(a, b, atol=1e-4)


def _zero_state(arrays, kind):
    arrays = list(arrays)
    for k in (1, 2) if kind == "lstm" else (1,):
        arrays[k] = np.zeros_like(arrays[k])
    return arrays


@pytest.mark.parametrize("kind", list(GATES))
@pytest.mark.parametrize("reverse", [False, True])
def test_gradcheck_from_a_zero_state(kind, reverse):
    """A zero start state skips step 0's recurrent GEMM; the gradient at that point (h0 too) is still right."""
    zn.gradcheck(_flat(kind, True, False, reverse, False), _zero_state(_inputs(kind, True, False, seed=4), kind))


@pytest.mark.parametrize("kind", list(GATES))
@pytest.mark.parametrize("state_grad", [True, False])
def test_zero_state_equals_composition(kind, state_grad):
    """From a zero state (an encoder's), with and without a gradient asked of it: outputs and gradients as
    the step-by-step composition, and no gradient made for a state that asks none."""
    arrays = _zero_state([a.astype(np.float32) for a in _inputs(kind, True, False, seed=5)], kind)
    states = (1, 2) if kind == "lstm" else (1,)
    results = []
    for reference in (False, True):
        tensors = [zn.Tensor(a, requires_grad=state_grad or k not in states) for k, a in enumerate(arrays)]
        out = _flat(kind, True, False, False, reference)(*tensors)
        out.backward(np.random.default_rng(2).standard_normal(out.shape).astype(np.float32))
        results.append((out.data, [t.grad for t in tensors]))
    (y1, g1), (y2, g2) = results
    np.testing.assert_allclose(y1, y2, atol=1e-5)
    for k, (a, b) in enumerate(zip(g1, g2)):
        if k in states and not state_grad:
            assert a is None and b is None
        else:
            np.testing.assert_allclose(a, b, atol=1e-4)


def test_only_used_outputs_need_gradients():
    x, h0, c0, wi, wh = (zn.Tensor(a, requires_grad=True) for a in _inputs("lstm", False, False))
    _, h_n, _ = R.lstm(x, h0, c0, wi, wh)
    h_n.sum().backward()  # y and c_n unused: backward receives None for them
    assert x.grad.shape == x.shape and wh.grad.shape == wh.shape


def test_shape_errors_name_shapes():
    x, h0, wi, wh = _inputs("gru", False, False)
    with pytest.raises(ValueError, match=r"\(4, 3, 5\).*expects 7"):
        R.gru(x, h0, wi[:, :2].repeat(4, axis=1)[:, :7], wh)
    with pytest.raises(ValueError, match=r"hidden state of shape \(2, 6\)"):
        R.gru(x, h0[:2], wi, wh)


# ---------------------------------------------------------------------------- LSTM backward: numba == NumPy


def _lstm_grads(arrays, bias, peephole, reverse, use_numba, monkeypatch, which_out):
    monkeypatch.setattr(R, "USE_NUMBA", use_numba)
    tensors = [zn.Tensor(a, requires_grad=True) for a in arrays]
    x, h0, c0, wi, wh, *rest = tensors
    b = (rest[0], rest[1]) if bias else (None, None)
    y, h_n, c_n = R.lstm(x, h0, c0, wi, wh, *b, peephole=rest[-1] if peephole else None, reverse=reverse)
    rng = np.random.default_rng(3)
    loss = 0
    for k, out in enumerate((y, h_n, c_n)):
        if k in which_out:
            loss = loss + (out * zn.Tensor(rng.standard_normal(out.shape).astype(out.dtype))).sum()
    loss.backward()
    return [t.grad for t in tensors]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("bias,peephole,reverse", [(True, False, False), (True, True, False), (False, False, True),
                                                   (True, True, True)])
@pytest.mark.parametrize("which_out", [(0, 1, 2), (1,), (2,)])
def test_lstm_backward_numba_kernel_equals_numpy(dtype, bias, peephole, reverse, which_out, monkeypatch):
    pytest.importorskip("numba")
    arrays = [a.astype(dtype) for a in _inputs("lstm", bias, peephole, seed=4)]
    numpy_grads = _lstm_grads(arrays, bias, peephole, reverse, False, monkeypatch, which_out)
    numba_grads = _lstm_grads(arrays, bias, peephole, reverse, True, monkeypatch, which_out)
    assert R._numba_gate_grads() is not None
    tol = dict(rtol=2e-5, atol=2e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-13)
    for a, b in zip(numpy_grads, numba_grads):
        assert b.dtype == dtype
        np.testing.assert_allclose(b, a, **tol)


def test_lstm_gradcheck_on_the_numpy_path(monkeypatch):
    monkeypatch.setattr(R, "USE_NUMBA", False)
    zn.gradcheck(_flat("lstm", True, True, False, False), _inputs("lstm", True, True))


def _gru_grads(arrays, bias, reverse, use_numba, monkeypatch, which_out):
    monkeypatch.setattr(R, "USE_NUMBA", use_numba)
    tensors = [zn.Tensor(a, requires_grad=True) for a in arrays]
    x, h0, wi, wh, *rest = tensors
    y, h_n = R.gru(x, h0, wi, wh, *(rest if bias else ()), reverse=reverse)
    rng = np.random.default_rng(3)
    loss = 0
    for k, out in enumerate((y, h_n)):
        if k in which_out:
            loss = loss + (out * zn.Tensor(rng.standard_normal(out.shape).astype(out.dtype))).sum()
    loss.backward()
    return [t.grad for t in tensors]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("bias,reverse", [(True, False), (False, True)])
@pytest.mark.parametrize("which_out", [(0, 1), (1,)])
def test_gru_backward_numba_kernel_equals_numpy(dtype, bias, reverse, which_out, monkeypatch):
    pytest.importorskip("numba")
    arrays = [a.astype(dtype) for a in _inputs("gru", bias, False, seed=6)]
    numpy_grads = _gru_grads(arrays, bias, reverse, False, monkeypatch, which_out)
    numba_grads = _gru_grads(arrays, bias, reverse, True, monkeypatch, which_out)
    assert R._numba_kernel(R._gru_gate_grads_step) is not None
    tol = dict(rtol=2e-5, atol=2e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-13)
    for a, b in zip(numpy_grads, numba_grads):
        assert b.dtype == dtype
        np.testing.assert_allclose(b, a, **tol)


@pytest.mark.parametrize("kind", list(GATES))
@pytest.mark.parametrize("zero_state", [False, True])
def test_weight_gradients_are_whole_arrays(kind, zero_state):
    """dW_ih and dW_hh come out C-contiguous and unshared (not views into one GEMM's result): a clip's
    norm and an optimizer's step read them in one pass, and the leaf takes them without a copy."""
    arrays = [a.astype(np.float32) for a in _inputs(kind, True, False, seed=6)]
    if zero_state:
        arrays = _zero_state(arrays, kind)
    tensors = [zn.Tensor(a, requires_grad=True) for a in arrays]
    _flat(kind, True, False, False, False)(*tensors).sum().backward()
    w_ih, w_hh = tensors[3:5] if kind == "lstm" else tensors[2:4]
    for weight in (w_ih, w_hh):
        assert weight.grad.flags.c_contiguous and weight.grad.flags.owndata
    assert not np.shares_memory(w_ih.grad, w_hh.grad)
