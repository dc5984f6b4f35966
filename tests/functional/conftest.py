"""Helpers shared by the functional tests."""

import pytest

import zeronlp as zn
from zeronlp.functional import recurrent


@pytest.fixture
def run_lstm():
    """``run(x, h0, c0, weights, reverse, grad, gy=True, state_grad=True)``: LSTMFunction's outputs and,
    with ``grad``, the gradient of every input for the loss sum(h_n c_n) + sum(c_n) [+ sum(y^2) with
    ``gy``]; ``state_grad=False``: h0 and c0 get none (None in their places)."""

    def run(x, h0, c0, weights, reverse, grad, gy=True, state_grad=True):
        wants = [grad, grad and state_grad, grad and state_grad] + [grad] * len(weights)
        tensors = [zn.Tensor(a, requires_grad=w) for a, w in zip((x, h0, c0, *weights), wants)]
        fn = recurrent.LSTMFunction(reverse=reverse)
        if not grad:
            with zn.no_grad():
                return [o.data for o in fn(*tensors)]
        y, hn, cn = fn(*tensors)
        loss = (hn * cn).sum() + cn.sum()
        if gy:
            loss = loss + (y * y).sum()
        loss.backward()
        return [y.data, hn.data, cn.data] + [None if t.grad is None else t.grad.data for t in tensors]

    return run
