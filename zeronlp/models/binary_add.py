"""The RNN course notes' experiment (seed notes 002): a simple RNN learns to add two 8-bit binary numbers, bit by bit.

At step t the network reads bit t (least significant first) of a and b, and must output bit t of
a + b, so it has to carry the "carry" in its hidden state:

    h_t = act(x_t W_in + h_{t-1} W),   y_t = sigmoid(h_t W_out),   L = sum_t (y_t - d_t)^2 / 2

with 2 inputs, 16 hidden units, no biases, one example per step and plain SGD, as in the seed's
course notebook. Variants (the seed's): ``base`` (sigmoid, lr 0.1, weights N(0, 1)), ``lr0.01``,
``xavier`` (N(0, 1/fan_in)), ``relu`` and ``tanh`` hidden activations. The network is written with
zeronlp's simple Functions (matmul, activations) step by step, so backpropagation through time is
just ``loss.backward()`` over the unrolled graph. Training: :mod:`zeronlp.tasks.binary_add`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import backend
from .. import functional as F
from ..autograd import Tensor, no_grad
from ..errors import UsageError
from ..nn import Module, Parameter

BITS = 8
HIDDEN = 16
VARIANTS: dict[str, dict[str, Any]] = {
    "base": dict(activation="sigmoid", lr=0.1, init="normal"),
    "lr0.01": dict(activation="sigmoid", lr=0.01, init="normal"),
    "xavier": dict(activation="sigmoid", lr=0.1, init="xavier"),
    "relu": dict(activation="relu", lr=0.1, init="normal"),
    "tanh": dict(activation="tanh", lr=0.1, init="normal"),
}
_ACTIVATIONS = {"sigmoid": F.sigmoid, "relu": F.relu, "tanh": F.tanh}


def to_bits(numbers: Any) -> np.ndarray:
    """(N,) integers < 256 -> (N, 8) bits, least significant first."""
    numbers = np.asarray(numbers, dtype=np.int64)
    return ((numbers[:, None] >> np.arange(BITS)) & 1).astype(np.float32)


class BinaryAdder(Module):
    """The seed's RNN: ``w_in`` (2, 16), ``w`` (16, 16), ``w_out`` (16, 1), no biases."""

    def __init__(self, activation: str = "sigmoid", init: str = "normal", hidden: int = HIDDEN):
        super().__init__()
        if activation not in _ACTIVATIONS:
            raise UsageError(f"activation must be one of {sorted(_ACTIVATIONS)}, got {activation!r}")
        if init not in ("normal", "xavier"):
            raise UsageError(f"init must be 'normal' or 'xavier', got {init!r}")
        rng = backend.get_rng()

        def weight(rows: int, cols: int) -> Parameter:
            scale = 1.0 if init == "normal" else 1.0 / math.sqrt(rows)  # Xavier: N(0, 1/fan_in)
            return Parameter((rng.standard_normal((rows, cols)) * scale).astype(np.float32))

        self.w_in, self.w, self.w_out = weight(2, hidden), weight(hidden, hidden), weight(hidden, 1)
        self.activation, self.hidden = _ACTIVATIONS[activation], hidden

    def forward(self, a_bits: Any, b_bits: Any) -> Tensor:
        """Output bit probabilities (N, 8) for (N, 8) input bits."""
        xp = backend.xp()
        a_bits, b_bits = xp.asarray(a_bits), xp.asarray(b_bits)
        h: Any = xp.zeros((a_bits.shape[0], self.hidden), dtype=np.float32)
        outputs = []
        for t in range(BITS):
            x = xp.stack([a_bits[:, t], b_bits[:, t]], axis=1)
            h = self.activation(F.matmul(x, self.w_in) + F.matmul(h, self.w))
            outputs.append(F.sigmoid(F.matmul(h, self.w_out)))
        return F.concat(outputs, axis=1)

    def accuracy(self) -> float:
        """Fraction of all 128 x 128 sums a + b (a, b < 128) with every output bit right."""
        a, b = np.divmod(np.arange(128 * 128), 128)
        with no_grad():
            y = backend.to_numpy(self.forward(to_bits(a), to_bits(b)).data)
        return float((np.round(y) == to_bits(a + b)).all(axis=1).mean())
