"""The Transformer (Vaswani et al. 2017), with ``torch.nn.Transformer*``'s parameter names and layout.

One encoder layer, post-norm (``norm_first=False``, the paper's) or pre-norm (``norm_first=True``)::

    post-norm:  x = LN1(x + Drop(SelfAttn(x)));           x = LN2(x + Drop(FF(x)))
    pre-norm:   x = x + Drop(SelfAttn(LN1(x)));           x = x + Drop(FF(LN2(x)))
    FF(x) = linear2(Drop(act(linear1(x))))                act = relu or gelu

A decoder layer adds cross-attention over the encoder's output (``memory``) between the two.
Inputs are batch-first ``(N, T, E)``. Masks follow PyTorch: ``*_mask (T, S)`` and
``*_key_padding_mask (N, S)`` are boolean with True meaning *not allowed*, or additive float masks
of 0 and -inf (what :func:`generate_square_subsequent_mask` returns, as in PyTorch). A state_dict of
``torch.nn.TransformerEncoderLayer(..., batch_first=True)`` loads by name and gives the same outputs.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from typing import Any

import numpy as np

from .. import backend
from .. import functional as F
from ..autograd import Tensor
from . import init
from .attention import MultiheadAttention
from .layers import Dropout, Embedding, LayerNorm, Linear, ModuleList
from .module import Module


def generate_square_subsequent_mask(size: int, dtype: Any = None) -> Any:
    """The causal mask ``(size, size)``: 0 on and below the diagonal, -inf above (PyTorch's float form).

    Position i may attend to positions <= i. Any ``attn_mask``/``tgt_mask`` argument here also takes
    its boolean form ``~zn.functional.causal_mask(size)`` (True = not allowed).
    """
    xp = backend.xp()
    dtype = backend.get_default_dtype() if dtype is None else dtype
    return xp.triu(xp.full((size, size), -xp.inf, dtype=dtype), k=1)


def _activation(activation: str | Callable[[Any], Tensor]) -> Callable[[Any], Tensor]:
    if callable(activation):
        return activation
    if activation == "relu":
        return F.relu
    if activation == "gelu":
        return F.gelu
    raise ValueError(f"activation should be 'relu' or 'gelu' (or a callable), got {activation!r}")


def _check_batch_first(layer: str, batch_first: bool) -> None:
    if not batch_first:
        raise ValueError(f"{layer}: only batch_first=True inputs (N, T, E) are supported")


class TransformerEncoderLayer(Module):
    """Self-attention and a feed-forward block, each with a residual connection and LayerNorm.

    ``norm_first=False`` (post-norm): ``x = norm1(x + SA(x)); x = norm2(x + FF(x))``;
    ``norm_first=True`` (pre-norm): ``x = x + SA(norm1(x)); x = x + FF(norm2(x))``, where
    ``FF(x) = linear2(dropout(activation(linear1(x))))``. Parameters: ``self_attn.in_proj_weight``,
    ``self_attn.in_proj_bias``, ``self_attn.out_proj.*``, ``linear1.*``, ``linear2.*``, ``norm1.*``,
    ``norm2.*``, exactly as in PyTorch.
    """

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int = 2048, dropout: float = 0.1,
                 activation: str | Callable[[Any], Tensor] = "relu", layer_norm_eps: float = 1e-5,
                 batch_first: bool = True, norm_first: bool = False):
        super().__init__()
        _check_batch_first("TransformerEncoderLayer", batch_first)
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout)
        self.linear1 = Linear(d_model, dim_feedforward)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model)
        self.norm_first = norm_first
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        self.activation = _activation(activation)
        self.d_model, self.nhead, self.dim_feedforward = d_model, nhead, dim_feedforward

    def forward(self, src: Any, src_mask: Any = None, src_key_padding_mask: Any = None,
                is_causal: bool = False) -> Tensor:
        """``src (N, T, E)`` -> ``(N, T, E)``."""
        x = src if isinstance(src, Tensor) else Tensor(backend.xp().asarray(src))
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), src_mask, src_key_padding_mask, is_causal)
            return x + self._ff_block(self.norm2(x))
        x = self.norm1(x + self._sa_block(x, src_mask, src_key_padding_mask, is_causal))
        return self.norm2(x + self._ff_block(x))

    def _sa_block(self, x: Tensor, attn_mask: Any, key_padding_mask: Any, is_causal: bool) -> Tensor:
        out, _ = self.self_attn(x, x, x, attn_mask=attn_mask, key_padding_mask=key_padding_mask,
                                need_weights=False, is_causal=is_causal)
        return self.dropout1(out)

    def _ff_block(self, x: Tensor) -> Tensor:
        return self.dropout2(self.linear2(self.dropout(self.activation(self.linear1(x)))))

    def extra_repr(self) -> str:
        return (f"d_model={self.d_model}, nhead={self.nhead}, dim_feedforward={self.dim_feedforward}, "
                f"norm_first={self.norm_first}")


class TransformerDecoderLayer(Module):
    """Masked self-attention, cross-attention over ``memory`` and a feed-forward block.

    Post-norm: ``x = norm1(x + SA(x)); x = norm2(x + CA(x, memory)); x = norm3(x + FF(x))``; pre-norm
    (``norm_first=True``) puts each LayerNorm on the sub-block's input instead. Parameters:
    ``self_attn.*``, ``multihead_attn.*``, ``linear1/2.*``, ``norm1/2/3.*`` as in PyTorch.
    With ``need_weights=True`` :meth:`forward` also returns the cross-attention weights per head
    ``(N, heads, T, S)`` (for heatmaps).
    """

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int = 2048, dropout: float = 0.1,
                 activation: str | Callable[[Any], Tensor] = "relu", layer_norm_eps: float = 1e-5,
                 batch_first: bool = True, norm_first: bool = False):
        super().__init__()
        _check_batch_first("TransformerDecoderLayer", batch_first)
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout)
        self.multihead_attn = MultiheadAttention(d_model, nhead, dropout=dropout)
        self.linear1 = Linear(d_model, dim_feedforward)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model)
        self.norm_first = norm_first
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps)
        self.norm3 = LayerNorm(d_model, eps=layer_norm_eps)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        self.dropout3 = Dropout(dropout)
        self.activation = _activation(activation)
        self.d_model, self.nhead, self.dim_feedforward = d_model, nhead, dim_feedforward

    def forward(self, tgt: Any, memory: Any, tgt_mask: Any = None, memory_mask: Any = None,
                tgt_key_padding_mask: Any = None, memory_key_padding_mask: Any = None,
                tgt_is_causal: bool = False, memory_is_causal: bool = False,
                need_weights: bool = False) -> Any:
        """``tgt (N, T, E)``, ``memory (N, S, E)`` -> ``(N, T, E)`` (and the cross-attention weights)."""
        x = tgt if isinstance(tgt, Tensor) else Tensor(backend.xp().asarray(tgt))
        memory = memory if isinstance(memory, Tensor) else Tensor(backend.xp().asarray(memory))
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), tgt_mask, tgt_key_padding_mask, tgt_is_causal)
            cross, weights = self._mha_block(self.norm2(x), memory, memory_mask, memory_key_padding_mask,
                                             memory_is_causal, need_weights)
            x = x + cross
            x = x + self._ff_block(self.norm3(x))
        else:
            x = self.norm1(x + self._sa_block(x, tgt_mask, tgt_key_padding_mask, tgt_is_causal))
            cross, weights = self._mha_block(x, memory, memory_mask, memory_key_padding_mask, memory_is_causal,
                                             need_weights)
            x = self.norm2(x + cross)
            x = self.norm3(x + self._ff_block(x))
        return (x, weights) if need_weights else x

    def _sa_block(self, x: Tensor, attn_mask: Any, key_padding_mask: Any, is_causal: bool) -> Tensor:
        out, _ = self.self_attn(x, x, x, attn_mask=attn_mask, key_padding_mask=key_padding_mask,
                                need_weights=False, is_causal=is_causal)
        return self.dropout1(out)

    def _mha_block(self, x: Tensor, memory: Tensor, attn_mask: Any, key_padding_mask: Any, is_causal: bool,
                   need_weights: bool) -> tuple[Tensor, Tensor | None]:
        out, weights = self.multihead_attn(x, memory, memory, attn_mask=attn_mask,
                                           key_padding_mask=key_padding_mask, is_causal=is_causal,
                                           need_weights=need_weights, average_attn_weights=False)
        return self.dropout2(out), weights

    def _ff_block(self, x: Tensor) -> Tensor:
        return self.dropout3(self.linear2(self.dropout(self.activation(self.linear1(x)))))

    def extra_repr(self) -> str:
        return (f"d_model={self.d_model}, nhead={self.nhead}, dim_feedforward={self.dim_feedforward}, "
                f"norm_first={self.norm_first}")


def _clones(layer: Module, num_layers: int) -> ModuleList:
    """``num_layers`` deep copies of ``layer`` (PyTorch's ``_get_clones``: every copy starts equal)."""
    return ModuleList(copy.deepcopy(layer) for _ in range(num_layers))


class TransformerEncoder(Module):
    """A stack of ``num_layers`` copies of ``encoder_layer`` (``layers.0``, ...), then ``norm`` if given."""

    def __init__(self, encoder_layer: TransformerEncoderLayer, num_layers: int, norm: Module | None = None):
        super().__init__()
        self.layers = _clones(encoder_layer, num_layers)
        self.num_layers = num_layers
        self.norm = norm

    def forward(self, src: Any, mask: Any = None, src_key_padding_mask: Any = None,
                is_causal: bool = False) -> Tensor:
        x = src
        for layer in self.layers:
            x = layer(x, src_mask=mask, src_key_padding_mask=src_key_padding_mask, is_causal=is_causal)
        return self.norm(x) if self.norm is not None else x


class TransformerDecoder(Module):
    """A stack of ``num_layers`` copies of ``decoder_layer``, then ``norm`` if given.

    ``need_weights=True`` also returns the list of every layer's cross-attention weights
    ``(N, heads, T, S)``.
    """

    def __init__(self, decoder_layer: TransformerDecoderLayer, num_layers: int, norm: Module | None = None):
        super().__init__()
        self.layers = _clones(decoder_layer, num_layers)
        self.num_layers = num_layers
        self.norm = norm

    def forward(self, tgt: Any, memory: Any, tgt_mask: Any = None, memory_mask: Any = None,
                tgt_key_padding_mask: Any = None, memory_key_padding_mask: Any = None,
                tgt_is_causal: bool = False, memory_is_causal: bool = False, need_weights: bool = False) -> Any:
        x, weights = tgt, []
        for layer in self.layers:
            x = layer(x, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                      tgt_key_padding_mask=tgt_key_padding_mask, memory_key_padding_mask=memory_key_padding_mask,
                      tgt_is_causal=tgt_is_causal, memory_is_causal=memory_is_causal, need_weights=need_weights)
            if need_weights:
                x, w = x
                weights.append(w)
        x = self.norm(x) if self.norm is not None else x
        return (x, weights) if need_weights else x


class Transformer(Module):
    """``torch.nn.Transformer``: an encoder and a decoder stack, each ending in a LayerNorm.

    Parameters are named ``encoder.layers.0.self_attn.in_proj_weight``, ..., ``encoder.norm.weight``,
    ``decoder.layers.0.multihead_attn.*``, ``decoder.norm.*``; every matrix starts Xavier-uniform as
    in PyTorch. ``forward(src (N, S, E), tgt (N, T, E))`` -> ``(N, T, E)``.
    """

    def __init__(self, d_model: int = 512, nhead: int = 8, num_encoder_layers: int = 6,
                 num_decoder_layers: int = 6, dim_feedforward: int = 2048, dropout: float = 0.1,
                 activation: str | Callable[[Any], Tensor] = "relu", layer_norm_eps: float = 1e-5,
                 batch_first: bool = True, norm_first: bool = False):
        super().__init__()
        _check_batch_first("Transformer", batch_first)
        options = dict(dim_feedforward=dim_feedforward, dropout=dropout, activation=activation,
                       layer_norm_eps=layer_norm_eps, norm_first=norm_first)
        self.encoder = TransformerEncoder(TransformerEncoderLayer(d_model, nhead, **options), num_encoder_layers,
                                          LayerNorm(d_model, eps=layer_norm_eps))
        self.decoder = TransformerDecoder(TransformerDecoderLayer(d_model, nhead, **options), num_decoder_layers,
                                          LayerNorm(d_model, eps=layer_norm_eps))
        self.d_model, self.nhead = d_model, nhead
        for param in self.parameters():
            if param.ndim > 1:
                init.xavier_uniform_(param)

    def forward(self, src: Any, tgt: Any, src_mask: Any = None, tgt_mask: Any = None, memory_mask: Any = None,
                src_key_padding_mask: Any = None, tgt_key_padding_mask: Any = None,
                memory_key_padding_mask: Any = None, src_is_causal: bool = False,
                tgt_is_causal: bool = False, memory_is_causal: bool = False) -> Tensor:
        memory = self.encoder(src, mask=src_mask, src_key_padding_mask=src_key_padding_mask,
                              is_causal=src_is_causal)
        return self.decoder(tgt, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                            tgt_key_padding_mask=tgt_key_padding_mask,
                            memory_key_padding_mask=memory_key_padding_mask, tgt_is_causal=tgt_is_causal,
                            memory_is_causal=memory_is_causal)

    @staticmethod
    def generate_square_subsequent_mask(size: int, dtype: Any = None) -> Any:
        return generate_square_subsequent_mask(size, dtype)


# ---------------------------------------------------------------------------- positions


def sinusoidal_table(length: int, d_model: int, dtype: Any = np.float32) -> np.ndarray:
    """``P (length, d_model)``: ``P[p, 2i] = sin(p / 10000^(2i/d))``, ``P[p, 2i+1] = cos(p / 10000^(2i/d))``."""
    position = np.arange(length, dtype=np.float64)[:, None]
    rate = np.exp(-math.log(10000.0) * np.arange(0, d_model, 2, dtype=np.float64) / d_model)
    table = np.zeros((length, d_model), dtype=np.float64)
    table[:, 0::2] = np.sin(position * rate)
    table[:, 1::2] = np.cos(position * rate)[:, :d_model // 2]
    return table.astype(dtype)


class PositionalEncoding(Module):
    """``dropout(x + P[offset:offset+T])`` with the fixed sinusoidal table P of Vaswani et al.

    ``x (N, T, E)``. The table has no parameters and is not saved; it is built for ``max_len``
    positions on first use, on the current device.
    """

    def __init__(self, d_model: int, dropout: float = 0.0, max_len: int = 5000):
        super().__init__()
        self.d_model, self.max_len = d_model, max_len
        self.dropout = Dropout(dropout)
        self._table: Any = None

    def table(self, dtype: Any) -> Any:
        xp = backend.xp()
        if self._table is None or backend.get_array_module(self._table) is not xp or self._table.dtype != dtype:
            self._table = xp.asarray(sinusoidal_table(self.max_len, self.d_model, dtype))
        return self._table

    def forward(self, x: Any, offset: int = 0) -> Tensor:
        x = x if isinstance(x, Tensor) else Tensor(backend.xp().asarray(x))
        steps = x.shape[1]
        if offset + steps > self.max_len:
            raise ValueError(f"PositionalEncoding: positions up to {offset + steps} exceed max_len={self.max_len}")
        return self.dropout(x + self.table(x.dtype)[offset:offset + steps])

    def extra_repr(self) -> str:
        return f"d_model={self.d_model}, max_len={self.max_len}"


class LearnedPositionalEmbedding(Module):
    """``dropout(x + W[offset:offset+T])`` with a trained ``weight (max_len, d_model)`` (BERT/GPT-style)."""

    def __init__(self, max_len: int, d_model: int, dropout: float = 0.0):
        super().__init__()
        self.max_len, self.d_model = max_len, d_model
        self.embedding = Embedding(max_len, d_model)
        init.normal_(self.embedding.weight, 0.0, 0.02)
        self.dropout = Dropout(dropout)

    def forward(self, x: Any, offset: int = 0) -> Tensor:
        x = x if isinstance(x, Tensor) else Tensor(backend.xp().asarray(x))
        steps = x.shape[1]
        if offset + steps > self.max_len:
            raise ValueError(f"LearnedPositionalEmbedding: positions up to {offset + steps} exceed "
                             f"max_len={self.max_len}")
        return self.dropout(x + self.embedding.weight[offset:offset + steps])

    def extra_repr(self) -> str:
        return f"max_len={self.max_len}, d_model={self.d_model}"
