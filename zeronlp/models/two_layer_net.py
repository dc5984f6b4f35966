"""The book's first network: Affine -> Sigmoid -> Affine (softmax is in the loss)."""

from __future__ import annotations

from typing import Any

from .. import nn
from ..autograd import Tensor


class TwoLayerNet(nn.Module):
    """scores = sigmoid(x W1^T + b1) W2^T + b2; train with ``F.softmax_cross_entropy``."""

    def __init__(self, input_size: int, hidden_size: int, output_size: int, activation: str = "sigmoid"):
        super().__init__()
        activations = {"sigmoid": nn.Sigmoid, "relu": nn.ReLU, "tanh": nn.Tanh}
        if activation not in activations:
            raise ValueError(f"activation must be one of {sorted(activations)}, got {activation!r}")
        self.config = dict(input_size=input_size, hidden_size=hidden_size, output_size=output_size,
                           activation=activation)
        self.layers = nn.Sequential(
            nn.Linear(input_size, hidden_size), activations[activation](), nn.Linear(hidden_size, output_size)
        )

    def forward(self, x: Any) -> Tensor:
        return self.layers(x)

    def predict(self, x: Any) -> Any:
        """Class ids (arg-max of the scores)."""
        return self.forward(x).data.argmax(axis=-1)
