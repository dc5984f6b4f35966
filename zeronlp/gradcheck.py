"""Numerical gradient checking by central differences in float64."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from . import backend
from .autograd import Tensor, array_of, grad


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
    arrays = [np.array(backend.to_numpy(array_of(a)), copy=True, order="C") for a in inputs]
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


def gradgradcheck(fn: Callable[..., Any], inputs: Sequence[Any], eps: float = 1e-6, atol: float = 1e-5,
                  rtol: float = 1e-3, seed: int = 0) -> bool:
    """Check second derivatives: the differentiable backward (``create_graph=True``) must equal the
    raw one, and its own gradient must match central differences (like ``torch.autograd.gradgradcheck``).

    With fixed random weights ``w`` and ``v`` it gradchecks ``x -> sum_i v_i . d(sum(fn(x) w))/dx_i``.
    """
    arrays = [np.array(backend.to_numpy(array_of(a)), copy=True, order="C") for a in inputs]
    arrays = [a.astype(np.float64) if a.dtype.kind == "f" else a for a in arrays]
    floating = [i for i, a in enumerate(arrays) if a.dtype.kind == "f"]
    rng = np.random.default_rng(seed + 1)
    directions = {i: rng.standard_normal(arrays[i].shape) for i in floating}

    def first_grads(*xs: Any, create_graph: bool) -> list[Any]:
        xs = [Tensor(x.data, requires_grad=True) if isinstance(x, Tensor) and not x.requires_grad else x
              for x in xs]
        out = fn(*xs)
        weights = np.random.default_rng(seed).standard_normal(out.shape).astype(out.dtype)
        return grad(out, [xs[i] for i in floating], grad_outputs=weights, create_graph=create_graph,
                    allow_unused=True)

    tensors = [Tensor(a, requires_grad=True) if a.dtype.kind == "f" else a for a in arrays]
    with_graph = first_grads(*tensors, create_graph=True)
    raw = first_grads(*tensors, create_graph=False)
    for i, (g, r) in zip(floating, zip(with_graph, raw)):
        if (g is None) != (r is None) or (g is not None and not np.allclose(g.data, r.data, atol=atol, rtol=rtol)):
            raise AssertionError(f"gradgradcheck: the differentiable backward of input {i} differs from backward")

    def contracted(*xs: Any) -> Tensor:
        total = None
        for i, g in zip(floating, first_grads(*xs, create_graph=True)):
            if g is None:
                continue
            term = (g * directions[i].astype(g.dtype)).sum()
            total = term if total is None else total + term
        if total is None:
            raise AssertionError("gradgradcheck: no input gets a gradient")
        return total

    return gradcheck(contracted, arrays, eps=eps, atol=atol, rtol=rtol, seed=seed)
