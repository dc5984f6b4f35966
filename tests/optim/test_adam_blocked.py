"""Adam's CPU updates (one-pass numba kernel; cache-blocked NumPy) give the same bits as the
whole-array expression they replace."""

import math

import numpy as np
import pytest

import zeronlp as zn
from zeronlp.optim import optimizers


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("decoupled", [False, True])
@pytest.mark.parametrize("use_numba", [False, True])
def test_cpu_adam_is_bit_identical_to_the_plain_formula(dtype, decoupled, use_numba, monkeypatch):
    if use_numba:
        pytest.importorskip("numba")
    monkeypatch.setattr(optimizers, "USE_NUMBA", use_numba)
    monkeypatch.setattr(optimizers, "_BLOCK", 7)  # many blocks and a ragged last one
    rng = np.random.default_rng(0)
    w0 = rng.standard_normal((9, 5)).astype(dtype)
    p = zn.nn.Parameter(w0.copy())
    lr, wd, (b1, b2), eps = 1e-2, 0.01, (0.9, 0.999), 1e-8
    opt = (zn.optim.AdamW if decoupled else zn.optim.Adam)([p], lr=lr, weight_decay=wd)
    m, v, w = np.zeros_like(w0), np.zeros_like(w0), w0.copy()
    for t in range(1, 6):
        g = rng.standard_normal(w0.shape).astype(dtype)
        p.grad = g.copy()
        opt.step()
        if decoupled:
            w *= 1 - lr * wd
        else:
            g = g + wd * w
        m *= b1
        m += (1 - b1) * g
        v *= b2
        v += (1 - b2) * (g * g)
        denom = np.sqrt(v) / math.sqrt(1 - b2**t)
        denom += eps
        w -= (lr / (1 - b1**t) * m / denom).astype(dtype)
        np.testing.assert_array_equal(p.data, w)
    assert "_work" not in opt.state_dict()["state"].get("0", {})
