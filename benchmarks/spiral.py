"""The spiral experiment (3 classes, hidden 10, batch 30, 10 epochs): zeronlp vs PyTorch vs book NumPy.

Tiny matrices: this measures per-op overhead of the framework, not arithmetic.
"""

from __future__ import annotations

import numpy as np

import zeronlp as zn
import zeronlp.functional as F
from zeronlp.data import spiral

from .harness import interleaved, median, report, torch_or_none

EPOCHS, BATCH, HIDDEN = 10, 30, 10


def zeronlp_fn(x, t):
    zn.manual_seed(0)
    model = zn.models.TwoLayerNet(2, HIDDEN, 3)
    opt = zn.optim.SGD(model.parameters(), lr=1.0)

    def train():
        for _ in range(EPOCHS):
            for i in range(0, len(x), BATCH):
                loss = F.softmax_cross_entropy(model(x[i:i + BATCH]), t[i:i + BATCH])
                opt.zero_grad()
                loss.backward()
                opt.step()

    return train


def book_numpy_fn(x, t):
    """The book's layer classes (Affine, Sigmoid, SoftmaxWithLoss) written out in NumPy."""
    rng = np.random.default_rng(0)
    W1 = (0.01 * rng.standard_normal((2, HIDDEN))).astype(np.float32)
    b1 = np.zeros(HIDDEN, np.float32)
    W2 = (0.01 * rng.standard_normal((HIDDEN, 3))).astype(np.float32)
    b2 = np.zeros(3, np.float32)

    def train():
        for _ in range(EPOCHS):
            for i in range(0, len(x), BATCH):
                xb, tb = x[i:i + BATCH], t[i:i + BATCH]
                h = 1 / (1 + np.exp(-(xb @ W1 + b1)))
                s = h @ W2 + b2
                s = np.exp(s - s.max(axis=1, keepdims=True))
                p = s / s.sum(axis=1, keepdims=True)
                p[np.arange(len(tb)), tb] -= 1
                ds = p / len(tb)
                dh = ds @ W2.T * h * (1 - h)
                W2[...] -= h.T @ ds
                b2[...] -= ds.sum(0)
                W1[...] -= xb.T @ dh
                b1[...] -= dh.sum(0)

    return train


def torch_fn(torch, x, t):
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(2, HIDDEN), torch.nn.Sigmoid(), torch.nn.Linear(HIDDEN, 3))
    opt = torch.optim.SGD(model.parameters(), lr=1.0)
    xt, tt = torch.tensor(x), torch.tensor(t)

    def train():
        for _ in range(EPOCHS):
            for i in range(0, len(x), BATCH):
                loss = torch.nn.functional.cross_entropy(model(xt[i:i + BATCH]), tt[i:i + BATCH])
                opt.zero_grad()
                loss.backward()
                opt.step()

    return train


def run(repeat: int, args) -> None:
    x, t = spiral(3, 100)
    fns = {"zeronlp": zeronlp_fn(x, t), "book-numpy": book_numpy_fn(x, t)}
    torch = torch_or_none()
    if torch is not None:
        fns["pytorch"] = torch_fn(torch, x, t)
    times = interleaved(fns, repeat)
    rows = [(name, median(ts), "") for name, ts in times.items()]
    report(f"spiral, {EPOCHS} epochs of batch {BATCH} (seconds)", rows, "pytorch" if torch is not None else "zeronlp")
