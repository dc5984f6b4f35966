"""Basic layers: Linear, Embedding, Dropout, LayerNorm, activations and Sequential."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import backend
from .. import functional as F
from ..autograd import Tensor
from ..errors import UsageError
from . import init
from .module import Module, Parameter


def check_sizes(layer: str, **sizes: Any) -> None:
    """Sizes of a layer must be non-negative ints (``nn.Linear(3.5, 2)`` is a TypeError naming the layer)."""
    for name, value in sizes.items():
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise TypeError(f"{layer}: {name} must be an int, got {value!r} ({type(value).__name__})")
        if value < 0:
            raise UsageError(f"{layer}: {name} must be >= 0, got {value}")


def _empty(*shape: int) -> Any:
    return backend.xp().zeros(shape, dtype=backend.get_default_dtype())


class Linear(Module):
    """y = x W^T + b, ``weight`` of shape (out_features, in_features) as in PyTorch.

    Initialized like PyTorch: U(-1/sqrt(in), 1/sqrt(in)) for weight and bias.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True):
        super().__init__()
        check_sizes("Linear", in_features=in_features, out_features=out_features)
        self.in_features, self.out_features = in_features, out_features
        bound = 1 / math.sqrt(in_features) if in_features else 0.0
        self.weight = Parameter(init.uniform_(_empty(out_features, in_features), -bound, bound))
        self.bias = Parameter(init.uniform_(_empty(out_features), -bound, bound)) if bias else None

    def forward(self, x: Any) -> Tensor:
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class Embedding(Module):
    """Rows of a (num_embeddings, embedding_dim) matrix looked up by integer ids; N(0, 1) init."""

    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx: int | None = None,
                 weight: Any = None):
        super().__init__()
        check_sizes("Embedding", num_embeddings=num_embeddings, embedding_dim=embedding_dim)
        self.num_embeddings, self.embedding_dim, self.padding_idx = num_embeddings, embedding_dim, padding_idx
        if weight is None:
            weight = init.normal_(_empty(num_embeddings, embedding_dim))
            if padding_idx is not None:
                weight[padding_idx] = 0
        elif tuple(weight.shape) != (num_embeddings, embedding_dim):
            raise ValueError(
                f"Embedding: weight of shape {tuple(weight.shape)} given for "
                f"({num_embeddings}, {embedding_dim})"
            )
        self.weight = Parameter(weight)

    @classmethod
    def from_pretrained(cls, weight: Any, freeze: bool = False, padding_idx: int | None = None) -> Embedding:
        weight = backend.xp().asarray(backend.to_numpy(weight), dtype=backend.get_default_dtype()).copy()
        layer = cls(weight.shape[0], weight.shape[1], padding_idx=padding_idx, weight=weight)
        layer.weight.requires_grad = not freeze
        return layer

    def forward(self, ids: Any) -> Tensor:
        return F.embedding(ids, self.weight, self.padding_idx)

    def extra_repr(self) -> str:
        return f"{self.num_embeddings}, {self.embedding_dim}"


class Dropout(Module):
    """Inverted dropout while ``training``; identity in eval mode."""

    def __init__(self, p: float = 0.5):
        super().__init__()
        if not 0 <= p < 1:
            raise ValueError(f"dropout probability must be in [0, 1), got {p}")
        self.p = p

    def forward(self, x: Any) -> Tensor:
        return F.dropout(x, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class LayerNorm(Module):
    """Normalize the last axis to zero mean / unit variance, then scale and shift."""

    def __init__(self, normalized_shape: int, eps: float = 1e-5):
        super().__init__()
        self.normalized_shape, self.eps = normalized_shape, eps
        self.weight = Parameter(init.ones_(_empty(normalized_shape)))
        self.bias = Parameter(_empty(normalized_shape))

    def forward(self, x: Any) -> Tensor:
        return F.layer_norm(x, self.weight, self.bias, self.eps)


class ReLU(Module):
    def forward(self, x: Any) -> Tensor:
        return F.relu(x)


class Sigmoid(Module):
    def forward(self, x: Any) -> Tensor:
        return F.sigmoid(x)


class Tanh(Module):
    def forward(self, x: Any) -> Tensor:
        return F.tanh(x)


class LeakyReLU(Module):
    def __init__(self, negative_slope: float = 0.01):
        super().__init__()
        self.negative_slope = negative_slope

    def forward(self, x: Any) -> Tensor:
        return F.leaky_relu(x, self.negative_slope)


class Softmax(Module):
    def __init__(self, dim: int = -1):
        super().__init__()
        self.dim = dim

    def forward(self, x: Any) -> Tensor:
        return F.softmax(x, self.dim)


class ModuleList(Module):
    """A list of modules registered as ``0``, ``1``, ..."""

    def __init__(self, modules: Any = ()):
        super().__init__()
        for module in modules:
            self.append(module)

    def append(self, module: Module) -> None:
        setattr(self, str(len(self._modules)), module)

    def __iter__(self):
        return iter(self._modules.values())

    def __len__(self) -> int:
        return len(self._modules)

    def __getitem__(self, index: int) -> Module:
        return list(self._modules.values())[index]


class Sequential(ModuleList):
    """Apply modules in order; they are registered as ``0``, ``1``, ... like PyTorch."""

    def __init__(self, *modules: Module):
        super().__init__(modules)

    def forward(self, x: Any) -> Any:
        for module in self._modules.values():
            x = module(x)
        return x
