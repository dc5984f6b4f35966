"""nn.LSTM(..., static=s): an input that is the same at every step, projected once (a per-sequence bias
of the LSTM Function) — equal to concatenating it to every step's input; and the Function's (B, 4H)
bias_ih under a numerical gradient check."""

import numpy as np
import pytest

import zeronlp as zn
import zeronlp.functional as F
from zeronlp.functional import recurrent as R


def _run(lstm, x, s, state, use_static):
    xt, st = zn.Tensor(x, requires_grad=True), zn.Tensor(s, requires_grad=True)
    if use_static:
        y, (h, c) = lstm(xt, state, static=st)
    else:
        steps = x.shape[1] if lstm.batch_first else x.shape[0]
        shape = (s.shape[0], steps, s.shape[1]) if lstm.batch_first else (steps, s.shape[0], s.shape[1])
        peek = F.broadcast_to(st.reshape(*((s.shape[0], 1) if lstm.batch_first else (1, s.shape[0])), s.shape[1]),
                              shape)
        y, (h, c) = lstm(F.concat([xt, peek], axis=2), state)
    ((y * y).sum() + (h * c).sum()).backward()
    grads = [np.array(p.grad.data if isinstance(p.grad, zn.Tensor) else p.grad) for p in lstm.parameters()]
    lstm.zero_grad()
    return [y.data, h.data, c.data, xt.grad.data, st.grad.data, *grads]


@pytest.mark.parametrize("layers, bidirectional, bias, batch_first", [
    (1, False, True, True), (2, False, True, True), (1, True, True, False), (2, True, False, True),
])
def test_static_input_equals_concatenation(layers, bidirectional, bias, batch_first):
    zn.manual_seed(3)
    lstm = zn.nn.LSTM(5 + 4, 6, num_layers=layers, bidirectional=bidirectional, bias=bias,
                      batch_first=batch_first)
    rng = np.random.default_rng(3)
    x = rng.standard_normal((3, 7, 5) if batch_first else (7, 3, 5)).astype(np.float32)
    s = rng.standard_normal((3, 4)).astype(np.float32)
    h0 = rng.standard_normal((layers * (2 if bidirectional else 1), 3, 6)).astype(np.float32)
    state = (zn.Tensor(h0), zn.Tensor(h0 * 0.5))
    got = _run(lstm, x, s, state, True)
    want = _run(lstm, x, s, state, False)
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_static_input_errors_name_the_shapes():
    lstm = zn.nn.LSTM(9, 6)
    x = np.zeros((3, 7, 5), np.float32)
    with pytest.raises(ValueError, match="static input of shape"):
        lstm(x, static=np.zeros((3, 9), np.float32))  # S must leave room for x
    with pytest.raises(ValueError, match="does not match the batch"):
        lstm(x, static=np.zeros((2, 4), np.float32))
    with pytest.raises(ValueError, match="expected 5"):
        lstm(np.zeros((3, 7, 6), np.float32), static=np.zeros((3, 4), np.float32))


@pytest.mark.parametrize("reverse", [False, True])
def test_lstm_function_per_sequence_bias_gradcheck(reverse):
    rng = np.random.default_rng(0)
    T, B, I, H = 4, 3, 2, 3
    arrays = [rng.standard_normal(s) * 0.5 for s in ((T, B, I), (B, H), (B, H), (4 * H, I), (4 * H, H), (B, 4 * H),
                                                      (4 * H,))]
    tensors = [zn.Tensor(a.astype(np.float64), requires_grad=True) for a in arrays]

    def f(*ts):
        y, h, c = R.lstm(*ts, reverse=reverse)
        return (y * y).sum() + (h * c).sum()

    assert zn.gradcheck(f, tensors)


def test_lstm_function_rejects_a_bias_of_another_batch():
    rng = np.random.default_rng(0)
    x, h = np.zeros((4, 3, 2), np.float32), np.zeros((3, 3), np.float32)
    w_ih, w_hh = rng.standard_normal((12, 2)).astype(np.float32), rng.standard_normal((12, 3)).astype(np.float32)
    with pytest.raises(ValueError, match=r"bias_ih of shape \(2, 12\) must be \(12,\) or \(batch, 12\)"):
        R.lstm(x, h, h, w_ih, w_hh, np.zeros((2, 12), np.float32), np.zeros(12, np.float32))
