"""Attention layers: the book's dot-product attention and PyTorch-shaped multi-head attention."""

from __future__ import annotations

import math
from typing import Any

from .. import backend
from .. import functional as F
from ..autograd import Tensor
from ..errors import UsageError
from ..functional.attention import attention, causal_mask
from . import init
from .layers import Linear
from .module import Module, Parameter


class DotProductAttention(Module):
    """``(context, weights) = attention(query, keys, values, mask)`` with a fixed ``scale``.

    ``scale=None`` is the book's unscaled dot product; :class:`ScaledDotProductAttention` uses
    ``1/sqrt(d)``. ``mask`` is True where a query may attend to a key.
    """

    def __init__(self, scale: float | None = None):
        super().__init__()
        self.scale = scale

    def forward(self, query: Any, keys: Any, values: Any = None, mask: Any = None) -> tuple[Tensor, Tensor]:
        return attention(query, keys, keys if values is None else values, mask, self.scale)

    def extra_repr(self) -> str:
        return "" if self.scale is None else f"scale={self.scale:g}"


class ScaledDotProductAttention(DotProductAttention):
    """Transformer attention ``softmax(Q K^T / sqrt(d)) V`` (``scale`` defaults to ``1/sqrt(d)``)."""

    def forward(self, query: Any, keys: Any, values: Any = None, mask: Any = None) -> tuple[Tensor, Tensor]:
        scale = 1.0 / math.sqrt(query.shape[-1]) if self.scale is None else self.scale
        return attention(query, keys, keys if values is None else values, mask, scale)


def _bool_mask(mask: Any, name: str = "mask") -> Any:
    """A boolean "True = not allowed" array from a boolean mask or PyTorch's additive 0/-inf float mask."""
    data = mask.data if isinstance(mask, Tensor) else mask
    data = backend.to_device(backend.to_numpy(data))
    if data.dtype.kind == "f":  # torch.nn.Transformer.generate_square_subsequent_mask: 0 allowed, -inf not
        xp = backend.get_array_module(data)
        disallowed = xp.isneginf(data)
        if bool((data[~disallowed] != 0).any()):
            raise UsageError(f"MultiheadAttention: a float {name} may hold only 0 (allowed) and -inf (not "
                             "allowed); pass a boolean mask (True = not allowed)")
        return disallowed
    if data.dtype != bool:
        raise TypeError(f"MultiheadAttention: masks must be boolean (True = not allowed), got dtype {data.dtype}")
    return data


class MultiheadAttention(Module):
    """Multi-head scaled dot-product attention, with ``torch.nn.MultiheadAttention``'s parameters.

    ``in_proj_weight (3E, E)`` / ``in_proj_bias (3E,)`` hold the query, key and value projections
    stacked; ``out_proj`` is a Linear(E, E), so a PyTorch ``state_dict`` loads by name. Inputs are
    batch-first ``(N, T, E)``. As in PyTorch, ``key_padding_mask (N, Tk)`` and ``attn_mask
    (Tq, Tk)`` or ``(N*heads, Tq, Tk)`` are boolean with True meaning *not allowed* (the opposite
    of :func:`zeronlp.functional.attention`'s mask).
    """

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True,
                 batch_first: bool = True):
        super().__init__()
        if embed_dim % num_heads:
            raise ValueError(f"MultiheadAttention: embed_dim {embed_dim} is not divisible by num_heads {num_heads}")
        if not batch_first:
            raise ValueError("MultiheadAttention: only batch_first=True inputs (N, T, E) are supported")
        self.embed_dim, self.num_heads, self.dropout = embed_dim, num_heads, dropout
        self.head_dim = embed_dim // num_heads
        dtype = backend.get_default_dtype()
        self.in_proj_weight = Parameter(init.xavier_uniform_(backend.xp().zeros((3 * embed_dim, embed_dim), dtype)))
        self.in_proj_bias = Parameter(backend.xp().zeros(3 * embed_dim, dtype)) if bias else None
        self.out_proj = Linear(embed_dim, embed_dim, bias=bias)
        if bias:
            init.zeros_(self.out_proj.bias.data)

    def _project(self, x: Any, part: int) -> Tensor:
        e = self.embed_dim
        weight = self.in_proj_weight[part * e:(part + 1) * e]
        bias = self.in_proj_bias[part * e:(part + 1) * e] if self.in_proj_bias is not None else None
        n, t = x.shape[0], x.shape[1]
        y = F.linear(x, weight, bias).reshape(n, t, self.num_heads, self.head_dim)
        return y.transpose(0, 2, 1, 3)  # (N, heads, T, head_dim)

    def _project_self(self, x: Any) -> tuple[Tensor, Tensor, Tensor]:
        """Self-attention: q, k and v from one (N*T, E) x (E, 3E) GEMM instead of three."""
        n, t = x.shape[0], x.shape[1]
        qkv = F.linear(x, self.in_proj_weight, self.in_proj_bias)
        qkv = qkv.reshape(n, t, 3, self.num_heads, self.head_dim).transpose(2, 0, 3, 1, 4)
        return qkv[0], qkv[1], qkv[2]  # each (N, heads, T, head_dim)

    def forward(self, query: Any, key: Any, value: Any, key_padding_mask: Any = None, need_weights: bool = True,
                attn_mask: Any = None, average_attn_weights: bool = True,
                is_causal: bool = False) -> tuple[Tensor, Tensor | None]:
        """``(output (N, Tq, E), weights)``; weights are ``(N, Tq, Tk)`` averaged over heads by default.

        ``average_attn_weights=False`` gives the per-head weights ``(N, heads, Tq, Tk)``;
        ``need_weights=False`` returns ``None`` for them. Masks are boolean (True = not allowed) or
        PyTorch's additive float masks holding 0 and -inf; ``is_causal=True`` without ``attn_mask``
        applies the causal mask (query i sees keys <= i).
        """
        if query.ndim == 2 and key.ndim == 2 and value.ndim == 2:  # unbatched (T, E), as in PyTorch
            return self._unbatched(query, key, value, key_padding_mask, need_weights, attn_mask,
                                   average_attn_weights, is_causal)
        if query.ndim != 3 or key.ndim != 3 or value.ndim != 3:
            raise ValueError(f"MultiheadAttention: query, key and value must be (N, T, E), or all three (T, E), "
                             f"got {tuple(query.shape)}, {tuple(key.shape)}, {tuple(value.shape)}")
        if key.shape[0] != query.shape[0] or value.shape[0] != query.shape[0] or value.shape[1] != key.shape[1]:
            raise ValueError(f"MultiheadAttention: query {tuple(query.shape)}, key {tuple(key.shape)} and value "
                             f"{tuple(value.shape)} must share the batch size N, and key and value the length")
        n, tq, tk = query.shape[0], query.shape[1], key.shape[1]
        if query.shape[-1] != self.embed_dim or key.shape[-1] != self.embed_dim or value.shape[-1] != self.embed_dim:
            raise ValueError(f"MultiheadAttention: embed_dim is {self.embed_dim}, got query {tuple(query.shape)}, "
                             f"key {tuple(key.shape)}, value {tuple(value.shape)}")
        if query is key and key is value:
            q, k, v = self._project_self(query)
        else:
            q, k, v = self._project(query, 0), self._project(key, 1), self._project(value, 2)
        keep = None
        if key_padding_mask is not None:
            padding = _bool_mask(key_padding_mask, "key_padding_mask")
            if tuple(padding.shape) != (n, tk):
                raise ValueError(f"MultiheadAttention: key_padding_mask must be (N, Tk) = {(n, tk)}, "
                                 f"got {tuple(padding.shape)}")
            keep = ~padding.reshape(n, 1, 1, tk)
        if attn_mask is None and is_causal:
            attn_mask = ~causal_mask(tq, tk)
        if attn_mask is not None:
            disallowed = _bool_mask(attn_mask, "attn_mask")
            if disallowed.ndim == 3:
                if tuple(disallowed.shape) != (n * self.num_heads, tq, tk):
                    raise ValueError(f"MultiheadAttention: a 3-D attn_mask must be (N*heads, Tq, Tk) = "
                                     f"{(n * self.num_heads, tq, tk)}, got {tuple(disallowed.shape)}")
                disallowed = disallowed.reshape(n, self.num_heads, tq, tk)
            elif tuple(disallowed.shape) != (tq, tk):
                raise ValueError(f"MultiheadAttention: attn_mask must be (Tq, Tk) = {(tq, tk)} or "
                                 f"(N*heads, Tq, Tk), got {tuple(disallowed.shape)}")
            keep = ~disallowed if keep is None else keep & ~disallowed
        scale = 1.0 / math.sqrt(self.head_dim)
        if self.training and self.dropout > 0:
            _, weights = attention(q, k, v, keep, scale)
            weights = F.dropout(weights, self.dropout)
            context = weights @ v
        else:
            context, weights = attention(q, k, v, keep, scale)
        context = context.transpose(0, 2, 1, 3).reshape(n, tq, self.embed_dim)
        output = self.out_proj(context)
        if not need_weights:
            return output, None
        return output, (weights.mean(axis=1) if average_attn_weights else weights)

    def _unbatched(self, query: Any, key: Any, value: Any, key_padding_mask: Any, need_weights: bool,
                   attn_mask: Any, average_attn_weights: bool, is_causal: bool) -> tuple[Tensor, Tensor | None]:
        """(T, E) inputs as a batch of one: ``(output (Tq, E), weights (Tq, Tk) or (heads, Tq, Tk))``."""
        def batch(x: Any) -> Any:
            return x.reshape(1, *x.shape)

        q = batch(query)
        k = q if key is query else batch(key)
        v = k if value is key else batch(value)
        if key_padding_mask is not None:
            key_padding_mask = batch(key_padding_mask)
        output, weights = self.forward(q, k, v, key_padding_mask, need_weights, attn_mask, average_attn_weights,
                                       is_causal)
        return output.reshape(*output.shape[1:]), None if weights is None else weights.reshape(*weights.shape[1:])

    def extra_repr(self) -> str:
        return f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, dropout={self.dropout}"
