"""Numerical gradient checking by central differences in float64."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from . import backend
from .autograd import Tensor


def numerical_grad(fn: Callable[..., Any], arrays: list[np.ndarray], index: int, weights: np.ndarray,
                   eps: float) -> np.ndarray:
    """d/dx_index of sum(fn(*x) * weights) by (f(x + eps) - f(x - eps)) / 2 eps, element by element."""
    x = arrays[index]
    grad = np.zeros_like(x)
    flat, flat_grad = x.reshape(-1), grad.reshape(-1)

    def value() -> float:
        out = fn(*[Tensor(a) if a.dtype.kind == "f" else a for a in arrays])
        return float((backend.to_numpy(out.data).astype(np.float64) * weights).sum())

    for i in range(flat.size):
        original = flat[i]
        flat[i] = original + eps
        plus = value()
        flat[i] = original - eps
        minus = value()
        flat[i] = original
        flat_grad[i] = (plus - minus) / (2 * eps)
    return grad


def gradcheck(fn: Callable[..., Any], inputs: Sequence[Any], eps: float = 1e-6, atol: float = 1e-5,
              rtol: float = 1e-3, seed: int = 0) -> bool:
    """Compare ``backward`` with central differences for every floating input of ``fn``.

    Floating inputs are cast to float64 and passed as Tensors that require grad; integer inputs are
    passed as arrays. The output is contracted with fixed random weights, so one backward pass checks
    the whole Jacobian-vector product. Raises ``AssertionError`` describing the worst element.
    """
    arrays = [np.array(backend.to_numpy(getattr(a, "data", a)), copy=True, order="C") for a in inputs]
    arrays = [a.astype(np.float64) if a.dtype.kind == "f" else a for a in arrays]
    tensors = [Tensor(a, requires_grad=True) if a.dtype.kind == "f" else a for a in arrays]
    out = fn(*tensors)
    weights = np.random.default_rng(seed).standard_normal(out.shape)
    out.backward(weights.astype(out.dtype))
    for index, tensor in enumerate(tensors):
        if not isinstance(tensor, Tensor):
            continue
        analytic = np.zeros_like(arrays[index]) if tensor.grad is None else backend.to_numpy(tensor.grad)
        numeric = numerical_grad(fn, arrays, index, weights, eps)
        if not np.allclose(analytic, numeric, atol=atol, rtol=rtol):
            worst = np.unravel_index(np.argmax(np.abs(analytic - numeric)), analytic.shape) if analytic.size else ()
            raise AssertionError(
                f"gradcheck failed for input {index} of shape {analytic.shape}: at {worst} "
                f"backward gives {analytic[worst]!r}, central differences give {numeric[worst]!r}"
            )
    return True
