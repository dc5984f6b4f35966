"""Helpers shared by the functional tests."""

import pytest

import zeronlp as zn
from zeronlp.functional import recurrent


@pytest.fixture
def run_lstm():
    """``run(x, h0, c0, weights, reverse, grad, gy=True)``: LSTMFunction's outputs and, with ``grad``, the
    gradient of every input for the loss sum(h_n c_n) + sum(c_n) [+ sum(y^2) with ``gy``]."""

    def run(x, h0, c0, weights, reverse, grad, gy=True):
        tensors = [zn.Tensor(a, requires_grad=grad) for a in (x, h0, c0, *weights)]
        fn = recurrent.LSTMFunction(reverse=reverse)
        if not grad:
            with zn.no_grad():
                return [o.data for o in fn(*tensors)]
        y, hn, cn = fn(*tensors)
        loss = (hn * cn).sum() + cn.sum()
        if gy:
            loss = loss + (y * y).sum()
        loss.backward()
        return [y.data, hn.data, cn.data] + [t.grad.data for t in tensors]

    return run
