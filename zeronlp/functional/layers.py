"""Layer Functions: linear (affine), dropout and layer normalization, fused for speed."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import backend
from ..autograd import Function, Tensor, as_tensor
from . import basic, vector_math
from .basic import matmul, mul, require_float, reshape, sum, transpose


def _rows(a):
    """``a (..., n)`` as a 2-D ``(rows, n)`` array (``reshape(-1, n)`` fails on a 0-size array when n is 0)."""
    return a.reshape(math.prod(a.shape[:-1]), a.shape[-1])


def _product(a: Any, b: Any) -> Any:
    """``a @ b`` of 2-D arrays: NumPy's matmul, or CuPy's dot (the same product with 15-20% less time
    per call than CuPy's matmul dispatch, which a small GPU step pays several times)."""
    return a @ b if isinstance(a, np.ndarray) else backend.get_array_module(a).dot(a, b)


class LinearFunction(Function):
    """y = x W^T + b with W of shape (out, in);  dx = gy W, dW = gy^T x, db = sum(gy).

    ``x`` may have any leading shape ``(..., in)``; forward, input and weight gradients are each one
    2-D GEMM over all rows (a 3-D matmul would run as B small GEMMs at about half the speed).
    """

    fresh_grads = True  # backward's arrays are new and kept nowhere: leaves take them without a copy

    def forward(self, x, weight, bias=None):
        if weight.ndim != 2 or (bias is not None and tuple(bias.shape) != (weight.shape[0],)):
            raise ValueError(
                f"linear: weight must be (out_features, in_features) and bias (out_features,), got shapes "
                f"{tuple(weight.shape)} and {None if bias is None else tuple(bias.shape)}"
            )
        if x.ndim == 0 or x.shape[-1] != weight.shape[1]:
            raise ValueError(
                f"linear: input of shape {tuple(x.shape)} does not match weight of shape "
                f"{tuple(weight.shape)} (expected last dimension {weight.shape[1]})"
            )
        if x.dtype != weight.dtype:
            x, weight = basic.promote(x, weight)
        self.x, self.weight, self.has_bias = x, weight, bias is not None
        # (..., in) as one (rows, in) GEMM: NumPy runs a 3-D ``x @ W.T`` as a stack of small GEMMs
        y = _product(_rows(x), weight.T).reshape(*x.shape[:-1], weight.shape[0])
        if bias is not None:
            y += bias.astype(y.dtype, copy=False)
        return y

    def backward(self, gy):
        x, weight = self.x, self.weight
        gy2 = _rows(gy)

        def input_grad():
            return _product(gy2, weight).reshape(*gy.shape[:-1], weight.shape[1])

        def weight_grad():
            return _product(gy2.T, _rows(x))

        if self.needs_input_grad[0]:
            macs = gy2.size * weight.shape[1]
            gx, gw = vector_math.side_by_side(input_grad, weight_grad, (macs, macs)) if isinstance(
                gy2, np.ndarray) else (input_grad(), weight_grad())
        else:
            gx, gw = None, weight_grad()
        if self.has_bias:
            return gx, gw, gy2.sum(axis=0)
        return gx, gw

    def backward_graph(self, gy):
        x, weight = self.inputs[:2]
        gy2 = reshape(gy, (-1, gy.shape[-1]))
        gx = matmul(gy, weight)
        gw = matmul(transpose(gy2), reshape(x, (-1, x.shape[-1])))
        if self.has_bias:
            return gx, gw, sum(gy2, axis=0)
        return gx, gw


def linear(x, weight, bias=None) -> Tensor:
    """Affine map ``x @ weight.T + bias`` (PyTorch's ``F.linear``)."""
    if bias is None:
        return LinearFunction()(x, weight)
    return LinearFunction()(x, weight, bias)


class DropoutFunction(Function):
    """y = x * m / (1 - p) with m ~ Bernoulli(1 - p) (inverted dropout);  dx = gy * m / (1 - p)."""

    def __init__(self, p: float):
        self.p = p

    def forward(self, x):
        require_float("dropout", x)
        rng = backend.get_rng()
        draw = x.dtype if x.dtype in (np.float32, np.float64) else np.float32  # the Generator has no float16
        keep = rng.random(x.shape, dtype=draw) >= self.p
        self.mask = keep * x.dtype.type(1.0 / (1.0 - self.p))
        return x * self.mask

    def backward(self, gy):
        return gy * self.mask

    def backward_graph(self, gy):
        return mul(gy, self.mask)


def dropout(x, p: float = 0.5, training: bool = True) -> Tensor:
    """Zero each element with probability ``p`` and scale the rest by 1/(1-p) while training."""
    if not 0 <= p < 1:
        raise ValueError(f"dropout probability must be in [0, 1), got {p}")
    if not training or p == 0:
        return as_tensor(x)
    return DropoutFunction(p)(x)


class LayerNormFunction(Function):
    """y = (x - mean) / sqrt(var + eps) * gamma + beta over the last axis.

    dx = (gx_hat - mean(gx_hat) - x_hat mean(gx_hat x_hat)) / sigma with gx_hat = gy gamma.
    """

    def __init__(self, eps: float = 1e-5):
        self.eps = eps

    def forward(self, x, gamma, beta):
        require_float("layer_norm", x)
        if x.ndim == 0 or gamma.shape != x.shape[-1:] or beta.shape != x.shape[-1:]:
            raise ValueError(
                f"layer_norm: input of shape {tuple(x.shape)} needs weight and bias of shape "
                f"{tuple(x.shape[-1:])}, got {tuple(gamma.shape)} and {tuple(beta.shape)}"
            )
        xp = backend.get_array_module(x)
        mu = x.mean(axis=-1, keepdims=True)
        centered = x - mu
        var = (centered * centered).mean(axis=-1, keepdims=True)
        if x.dtype != np.float64 and not xp.isfinite(var).all():
            # (x - mu)^2 overflowed (|x| ~ 1e20 in float32): redo the statistics in float64
            wide = x.astype(np.float64)
            var = ((wide - wide.mean(axis=-1, keepdims=True)) ** 2).mean(axis=-1, keepdims=True)
            self.inv_std = (1 / xp.sqrt(var + self.eps)).astype(x.dtype)
        else:
            self.inv_std = 1 / xp.sqrt(var + x.dtype.type(self.eps))
        self.x_hat = centered * self.inv_std
        self.gamma = gamma
        return self.x_hat * gamma + beta

    def backward(self, gy):
        x_hat = self.x_hat
        g_hat = gy * self.gamma
        gx = (
            g_hat - g_hat.mean(axis=-1, keepdims=True) - x_hat * (g_hat * x_hat).mean(axis=-1, keepdims=True)
        ) * self.inv_std
        flat = _rows(gy)
        return gx, (flat * x_hat.reshape(flat.shape)).sum(axis=0), flat.sum(axis=0)

    def decompose(self, x, gamma, beta):
        """The same normalization from simple Functions (for create_graph)."""
        centered = x - basic.mean(x, axis=-1, keepdims=True)
        var = basic.mean(centered * centered, axis=-1, keepdims=True)
        return centered * (var + self.eps) ** -0.5 * gamma + beta


def layer_norm(x, weight, bias, eps: float = 1e-5) -> Tensor:
    """Normalize over the last axis, then scale by ``weight`` and shift by ``bias``."""
    return LayerNormFunction(eps)(x, weight, bias)


