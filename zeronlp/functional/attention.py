"""Dot-product attention as one fused Function, with masks.

For queries ``Q (..., Tq, d)``, keys ``K (..., Tk, d)`` and values ``V (..., Tk, dv)``::

    S = s Q K^T          (s = 1 for the book's dot-product attention, 1/sqrt(d) when scaled)
    A = softmax(S) over the keys, with masked-out keys given weight exactly 0
    C = A V              (the context: a weighted sum of the values)

The book builds this from two layers, ``AttentionWeight`` (the softmax of ``hs . h``) and
``WeightSum`` (``sum_t a_t hs_t``), run once per decoder step; here every decoder step of every
sequence is one batched GEMM each way.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import backend
from ..autograd import Function, Tensor, array_of, as_tensor
from ..errors import UsageError
from .activation import softmax
from .basic import matmul, mul, promote, require_float, sum_to_array, transpose, where


def _mask_array(mask: Any) -> Any:
    if mask is None:
        return None
    if isinstance(mask, Tensor):
        mask = mask.data
    xp = backend.xp()
    mask = mask if backend.get_array_module(mask) is xp and hasattr(mask, "dtype") else xp.asarray(mask)
    if mask.dtype != bool:
        raise TypeError(f"attention: mask must be boolean (True = attend), got dtype {mask.dtype}")
    return mask


def masked_softmax_array(scores: Any, mask: Any = None) -> Any:
    """softmax over the last axis where ``mask`` is True; masked entries (and fully masked rows) get 0."""
    xp = backend.get_array_module(scores)
    if mask is None:  # NaN and infinite scores give NaN weights, as in PyTorch
        e = xp.exp(scores - scores.max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)
    scores = xp.where(mask, scores, scores.dtype.type(-xp.inf))
    none_left = ~xp.broadcast_to(mask, scores.shape).any(axis=-1, keepdims=True)
    top = xp.where(none_left, scores.dtype.type(0), scores.max(axis=-1, keepdims=True))
    e = xp.exp(scores - top)
    total = e.sum(axis=-1, keepdims=True)
    return e / xp.where(none_left, scores.dtype.type(1), total)


class Attention(Function):
    """C = softmax(s Q K^T, masked) V, outputs (C, A).

    With G the gradient of A (zero when unused) plus gC V^T:
    dV = A^T gC,  dS = A * (G - sum_k G A),  dQ = s dS K,  dK = s dS^T Q.
    """

    def __init__(self, mask: Any = None, scale: float = 1.0):
        self.mask, self.scale = mask, scale

    def forward(self, query, keys, values):
        if query.ndim < 2 or keys.ndim < 2 or values.ndim < 2:
            raise ValueError(
                f"attention: query, keys and values need at least 2 dimensions (..., T, d), got shapes "
                f"{tuple(query.shape)}, {tuple(keys.shape)}, {tuple(values.shape)}"
            )
        if query.shape[-1] != keys.shape[-1]:
            raise ValueError(
                f"attention: query of shape {tuple(query.shape)} and keys of shape {tuple(keys.shape)} "
                "differ in the feature dimension"
            )
        if keys.shape[-2] == 0:
            raise UsageError(f"attention: keys of shape {tuple(keys.shape)} have no positions to attend to")
        if not query.dtype == keys.dtype == values.dtype:  # integers meet floats as the float dtype
            query, keys = promote(query, keys)
            keys, values = promote(keys, values)
            query, values = promote(query, values)
            common = np.result_type(query.dtype, keys.dtype, values.dtype)  # mixed floats: one dtype for both outputs
            query, keys, values = (a.astype(common, copy=False) for a in (query, keys, values))
        for name, a in (("query", query), ("keys", keys), ("values", values)):
            require_float(f"attention {name}", a)
        if keys.shape[-2] != values.shape[-2]:
            raise ValueError(
                f"attention: keys of shape {tuple(keys.shape)} and values of shape {tuple(values.shape)} "
                "differ in the number of positions"
            )
        scores = query @ keys.swapaxes(-1, -2)
        if self.scale != 1.0:
            scores *= scores.dtype.type(self.scale)
        mask = self.mask
        if mask is not None:
            try:
                np.broadcast_shapes(mask.shape, scores.shape)
            except ValueError:
                raise ValueError(
                    f"attention: mask of shape {tuple(mask.shape)} does not broadcast to the scores' "
                    f"shape {tuple(scores.shape)} (..., queries, keys)"
                ) from None
        weights = masked_softmax_array(scores, mask)
        self.query, self.keys, self.values, self.weights = query, keys, values, weights
        return weights @ values, weights

    def backward(self, g_context, g_weights):
        query, keys, values, weights = self.query, self.keys, self.values, self.weights
        xp = backend.get_array_module(weights)
        if g_context is None:
            g_context = xp.zeros(weights.shape[:-1] + values.shape[-1:], dtype=weights.dtype)
        g_values = weights.swapaxes(-1, -2) @ g_context
        g_a = g_context @ values.swapaxes(-1, -2)
        if g_weights is not None:
            g_a += g_weights
        g_scores = weights * (g_a - (g_a * weights).sum(axis=-1, keepdims=True))
        if self.scale != 1.0:
            g_scores *= g_scores.dtype.type(self.scale)
        g_query = g_scores @ keys
        g_keys = g_scores.swapaxes(-1, -2) @ query
        return (sum_to_array(g_query, query.shape), sum_to_array(g_keys, keys.shape),
                sum_to_array(g_values, values.shape))

    def decompose(self, query, keys, values):
        """The same attention from simple Functions (for create_graph)."""
        scores = matmul(query, transpose(keys, tuple(range(keys.ndim - 2)) + (keys.ndim - 1, keys.ndim - 2)))
        if self.scale != 1.0:
            scores = mul(scores, self.scale)
        if self.mask is None:
            weights = softmax(scores)
        else:
            xp = backend.get_array_module(scores.data)
            lowest = float(np.finfo(scores.dtype).min)
            weights = softmax(where(self.mask, scores, lowest))
            any_left = xp.broadcast_to(self.mask, scores.shape).any(axis=-1, keepdims=True)
            weights = mul(weights, any_left.astype(scores.dtype))
        return matmul(weights, values), weights


def attention(query, keys, values, mask: Any = None, scale: float | None = None) -> tuple[Tensor, Tensor]:
    """Dot-product attention: ``(context, weights)`` with ``context = softmax(scale Q K^T) V``.

    ``query (..., Tq, d)``, ``keys (..., Tk, d)``, ``values (..., Tk, dv)`` -> context
    ``(..., Tq, dv)`` and weights ``(..., Tq, Tk)``. ``mask`` is boolean, broadcastable to the
    weights, True where a query may attend to a key (as in ``torch.nn.functional.
    scaled_dot_product_attention``); masked keys get weight exactly 0, and a query with no key
    left gets all-zero weights and a zero context. ``scale=None`` means 1 (the book's
    unscaled dot product).
    """
    query, keys, values = as_tensor(query), as_tensor(keys), as_tensor(values)
    return Attention(_mask_array(mask), 1.0 if scale is None else float(scale))(query, keys, values)


def dot_product_attention(query, keys, values, mask: Any = None) -> tuple[Tensor, Tensor]:
    """The book's attention: weights ``softmax(Q K^T)``, context ``weights V``."""
    return attention(query, keys, values, mask)


def scaled_dot_product_attention(query, keys, values, mask: Any = None,
                                 scale: float | None = None) -> tuple[Tensor, Tensor]:
    """Transformer attention: ``softmax(Q K^T / sqrt(d)) V`` (``scale`` overrides ``1/sqrt(d)``)."""
    query = as_tensor(query)
    d = query.shape[-1] if query.ndim else 1
    if scale is None:  # with no features every score is the empty sum 0: any scale gives the same weights
        scale = 1.0 / math.sqrt(d) if d else 1.0
    return attention(query, keys, values, mask, scale)


def causal_mask(length: int, key_length: int | None = None) -> Any:
    """Boolean ``(length, key_length)`` mask, True on and below the diagonal (no peeking ahead)."""
    xp = backend.xp()
    key_length = length if key_length is None else key_length
    if int(length) < 0 or int(key_length) < 0:
        raise UsageError(f"causal_mask: lengths must be >= 0, got length={length}, key_length={key_length}")
    return xp.tril(xp.ones((length, key_length), dtype=bool), k=key_length - length)


def padding_mask(lengths: Any, max_length: int) -> Any:
    """Boolean ``(N, 1, max_length)`` mask, True at the first ``lengths[i]`` keys of row i."""
    xp = backend.xp()
    lengths = backend.to_device(np.asarray(backend.to_numpy(array_of(lengths))))
    if lengths.ndim != 1 or int(max_length) < 0:
        raise UsageError(f"padding_mask: lengths must be 1-D (one per sequence) and max_length >= 0, got "
                         f"lengths of shape {tuple(lengths.shape)} and max_length={max_length}")
    return (xp.arange(max_length)[None, :] < lengths[:, None])[:, None, :]
