"""Transformer models: a decoder-only language model and an encoder-decoder for seq2seq tasks.

* ``TransformerLM``: ``ids (B, T) -> embedding * sqrt(d) + positions -> N causal self-attention
  layers -> (final LayerNorm) -> logits (B, T, V)``, the output matrix optionally tied to the
  embedding. It has the interface of the LSTM language models of :mod:`.rnnlm` (``loss(ids,
  targets)``, ``config()``, ``reset_state()``), so the one Trainer trains it on truncated-BPTT
  windows; unlike them it is not stateful: each window is read on its own (``state`` is always
  None), positions restart at 0.
* ``TransformerSeq2Seq``: ``nn.Transformer``'s encoder and decoder with token embeddings,
  positions and an output layer, with the interface of :mod:`.seq2seq`'s models (``loss(src,
  target)``, ``generate``, ``beam_search``, ``config()``), and per-head cross-attention weights for
  heatmaps. During decoding the "state" is the prefix of tokens decoded so far, which the decoder
  re-reads at each step (no key/value cache: the answers of these tasks are short).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import backend, nn
from .. import functional as F
from ..autograd import Tensor, no_grad
from ..errors import CheckpointError
from ..serialization import config_bool, config_choice, config_float, config_int
from .rnnlm import LMKind, next_word_loss, register_lm
from .seq2seq import _EncoderDecoder, register_seq2seq

MAX_SIZE = 1 << 24
# a stored max_len sizes the sinusoidal table (max_len, d_model), which no stored tensor bounds
MAX_LEN = 1 << 16
MAX_POSITION_TABLE = 1 << 25
MAX_LAYERS = 64
POSITIONS = ("sinusoidal", "learned")
ACTIVATIONS = ("relu", "gelu")


def _positions(kind: str, d_model: int, max_len: int, dropout: float) -> nn.Module:
    if kind == "sinusoidal":
        return nn.PositionalEncoding(d_model, dropout=dropout, max_len=max_len)
    if kind == "learned":
        return nn.LearnedPositionalEmbedding(max_len, d_model, dropout=dropout)
    raise ValueError(f"positional must be one of {POSITIONS}, got {kind!r}")


def _token_embedding(vocab_size: int, d_model: int) -> nn.Embedding:
    """Embedding with N(0, 1/d) entries: times sqrt(d) on input they have unit scale, like the positions."""
    embed = nn.Embedding(vocab_size, d_model)
    nn.init.normal_(embed.weight, 0.0, 1.0 / math.sqrt(d_model))
    return embed


# ---------------------------------------------------------------------------- language model


class TransformerLM(nn.Module):
    """Decoder-only (GPT-style) Transformer language model over windows of ``ids (B, T)``.

    ``h_0 = sqrt(d) E[ids] + P[0:T]``; ``h_l = EncoderLayer_l(h_{l-1}, causal mask)``; logits
    ``= LN(h_L) W^T + b`` with ``W = E`` when ``tie_weights``. Pre-norm (``norm_first=True``, with a
    final LayerNorm) by default: it trains without a warm-up as long as the learning rate is modest.
    """

    name = "transformer"

    def __init__(self, vocab_size: int = 10000, d_model: int = 256, nhead: int = 4, num_layers: int = 4,
                 dim_feedforward: int = 1024, dropout: float = 0.1, max_len: int = 512,
                 positional: str = "sinusoidal", tie_weights: bool = True, norm_first: bool = True,
                 activation: str = "gelu"):
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(f"TransformerLM: activation must be one of {ACTIVATIONS}, got {activation!r}")
        self.vocab_size, self.d_model, self.nhead, self.num_layers = vocab_size, d_model, nhead, num_layers
        self.dim_feedforward, self.dropout, self.max_len = dim_feedforward, dropout, max_len
        self.positional, self.tie_weights, self.norm_first = positional, tie_weights, norm_first
        self.activation = activation
        self.embed = _token_embedding(vocab_size, d_model)
        self.pos = _positions(positional, d_model, max_len, dropout)
        layer = nn.TransformerEncoderLayer(d_model, nhead, dim_feedforward, dropout, activation=activation,
                                           norm_first=norm_first)
        self.layers = nn.TransformerEncoder(layer, num_layers, nn.LayerNorm(d_model) if norm_first else None)
        if tie_weights:
            self.fc_bias = nn.Parameter(backend.xp().zeros(vocab_size, dtype=backend.get_default_dtype()))
        else:
            self.fc = nn.Linear(d_model, vocab_size)
        self.state = None

    def reset_state(self) -> None:
        """Nothing to forget: every window is read on its own (the LSTM models' interface)."""
        self.state = None

    def config(self) -> dict[str, Any]:
        """Everything :func:`build_transformer_lm` needs to rebuild this model (stored in checkpoints)."""
        return {"name": self.name, "vocab_size": self.vocab_size, "d_model": self.d_model, "nhead": self.nhead,
                "num_layers": self.num_layers, "dim_feedforward": self.dim_feedforward, "dropout": self.dropout,
                "max_len": self.max_len, "positional": self.positional, "tie_weights": self.tie_weights,
                "norm_first": self.norm_first, "activation": self.activation}

    def features(self, ids: Any) -> Tensor:
        """Final hidden states ``(B*T, d_model)`` for ``ids (B, T)``, batch-major rows."""
        ids = F.as_ids(ids, type(self).__name__, ndim=2)
        steps = ids.shape[1]
        if steps > self.max_len:
            raise ValueError(f"TransformerLM: a window of {steps} tokens exceeds max_len={self.max_len}")
        x = self.pos(self.embed(ids) * math.sqrt(self.d_model))
        h = self.layers(x, is_causal=True)
        return h.reshape(-1, self.d_model)

    def output_layer(self) -> tuple[Any, Any]:
        """(weight (V, d), bias (V,)) of the softmax layer (the embedding matrix when tied)."""
        if self.tie_weights:
            return self.embed.weight, self.fc_bias
        return self.fc.weight, self.fc.bias

    def forward(self, ids: Any) -> Tensor:
        """Logits ``(B, T, V)``: position t sees ids[:, :t+1] only."""
        ids = F.as_ids(ids, type(self).__name__, ndim=2)
        weight, bias = self.output_layer()
        return F.linear(self.features(ids), weight, bias).reshape(ids.shape[0], ids.shape[1], self.vocab_size)

    def loss(self, ids: Any, targets: Any, reduction: str = "mean") -> Tensor:
        """Cross-entropy of the next-word ``targets (B, T)`` given ``ids (B, T)`` (fused output layer)."""
        return next_word_loss(self, ids, targets, reduction)

    def generate(self, start: Any, length: int = 100, temperature: float = 1.0, top_k: int | None = None,
                 skip_ids: Any = (), rng: np.random.Generator | None = None) -> list[int]:
        """``start`` ids followed by ``length`` sampled ids (softmax(logits / temperature), ``top_k``).

        Each step re-reads the last ``max_len`` ids (the model has no recurrent state). Draws from the
        backend's host Generator unless ``rng`` is given, so ``zn.manual_seed`` makes it repeatable.
        """
        if temperature <= 0:
            raise ValueError(f"temperature must be positive, got {temperature}")
        out = [int(i) for i in np.asarray(start).reshape(-1)]
        if not out:
            raise ValueError("TransformerLM.generate: the start sequence is empty")
        rng = rng or backend.get_host_rng()
        was_training = self.training
        self.eval()
        try:
            with no_grad():
                for _ in range(length):
                    window = np.asarray([out[-self.max_len:]], dtype=np.int64)
                    logits = backend.to_numpy(self(window).data[0, -1]).astype(np.float64)
                    if len(skip_ids):
                        logits[list(skip_ids)] = -np.inf
                    if top_k is not None and top_k < len(logits):
                        logits = np.where(logits >= np.partition(logits, -top_k)[-top_k], logits, -np.inf)
                    z = logits / temperature
                    p = np.exp(z - z.max())
                    p /= p.sum()
                    out.append(min(int(np.searchsorted(np.cumsum(p), rng.random(), side="right")), len(p) - 1))
        finally:
            self.train(was_training)
        return out

    def extra_repr(self) -> str:
        return (f"vocab_size={self.vocab_size}, d_model={self.d_model}, nhead={self.nhead}, "
                f"num_layers={self.num_layers}")


def _checked_max_len(config: Any, d_model: int, source: Any) -> int:
    """config/max_len, bounded so that the (max_len, d_model) position table it sizes stays small."""
    max_len = config_int(config, "max_len", source, low=1, high=MAX_LEN)
    if max_len * d_model > MAX_POSITION_TABLE:
        raise CheckpointError(f"{source}: field config/max_len: {max_len} positions of d_model {d_model} is more "
                              f"than {MAX_POSITION_TABLE} values")
    return max_len


def check_transformer_lm_config(config: Any, source: Any = "config") -> dict[str, Any]:
    """A stored TransformerLM config checked field by field; raises :class:`CheckpointError` naming the field."""
    config_choice(config, "name", source, ["transformer"])
    checked: dict[str, Any] = {"name": "transformer"}
    for key in ("vocab_size", "d_model", "nhead", "dim_feedforward"):
        checked[key] = config_int(config, key, source, low=1, high=MAX_SIZE)
    checked["max_len"] = _checked_max_len(config, checked["d_model"], source)
    checked["num_layers"] = config_int(config, "num_layers", source, low=1, high=MAX_LAYERS)
    checked["dropout"] = config_float(config, "dropout", source, 0.0, 1.0, high_open=True)
    checked["positional"] = config_choice(config, "positional", source, list(POSITIONS))
    checked["tie_weights"] = config_bool(config, "tie_weights", source)
    checked["norm_first"] = config_bool(config, "norm_first", source)
    checked["activation"] = config_choice(config, "activation", source, list(ACTIVATIONS))
    if checked["d_model"] % checked["nhead"]:
        raise CheckpointError(f"{source}: field config/nhead: d_model {checked['d_model']} is not divisible "
                              f"by nhead {checked['nhead']}")
    return checked


def transformer_lm_parameter_shapes(config: dict[str, Any]) -> dict[str, tuple[int, ...]]:
    """Name and shape of every parameter of the (checked) config's model, without building it."""
    vocab, d, ff = config["vocab_size"], config["d_model"], config["dim_feedforward"]
    shapes: dict[str, tuple[int, ...]] = {"embed.weight": (vocab, d)}
    if config["positional"] == "learned":
        shapes["pos.embedding.weight"] = (config["max_len"], d)
    for i in range(config["num_layers"]):
        p = f"layers.layers.{i}."
        shapes |= {p + "self_attn.in_proj_weight": (3 * d, d), p + "self_attn.in_proj_bias": (3 * d,),
                   p + "self_attn.out_proj.weight": (d, d), p + "self_attn.out_proj.bias": (d,),
                   p + "linear1.weight": (ff, d), p + "linear1.bias": (ff,),
                   p + "linear2.weight": (d, ff), p + "linear2.bias": (d,),
                   p + "norm1.weight": (d,), p + "norm1.bias": (d,), p + "norm2.weight": (d,), p + "norm2.bias": (d,)}
    if config["norm_first"]:
        shapes |= {"layers.norm.weight": (d,), "layers.norm.bias": (d,)}
    if config["tie_weights"]:
        shapes["fc_bias"] = (vocab,)
    else:
        shapes |= {"fc.weight": (vocab, d), "fc.bias": (vocab,)}
    return shapes


def build_transformer_lm(config: dict[str, Any], source: Any = "config") -> TransformerLM:
    """Rebuild a :class:`TransformerLM` from its :meth:`~TransformerLM.config` (checked first)."""
    config = check_transformer_lm_config(config, source)
    config.pop("name")
    return TransformerLM(**config)


register_lm("transformer", TransformerLM,
            LMKind(check_transformer_lm_config, transformer_lm_parameter_shapes, build_transformer_lm))


# ---------------------------------------------------------------------------- encoder-decoder


class TransformerSeq2Seq(nn.Module):
    """Encoder-decoder Transformer (``nn.Transformer`` + embeddings, positions, output layer).

    ``encode(src)`` gives the memory ``(N, S, d)``; ``decode(tokens, state, memory)`` runs the
    decoder over the prefix in ``state`` followed by ``tokens`` with a causal mask and returns the
    logits of ``tokens``, the longer prefix, and the last layer's cross-attention averaged over the
    heads ``(N, T, S)`` (what the seq2seq heatmaps plot). ``forward(src, tgt_in,
    return_attention=True)`` and ``generate(..., return_attention="heads")`` give every layer's
    per-head weights ``(N, layers, heads, T, S)``. With ``pad_id`` set, source positions holding it
    are masked out of attention and target positions holding it are left out of the loss.
    """

    kind = "transformer"

    def __init__(self, vocab_size: int, d_model: int = 128, nhead: int = 4, num_encoder_layers: int = 2,
                 num_decoder_layers: int = 2, dim_feedforward: int = 256, dropout: float = 0.1,
                 max_len: int = 256, positional: str = "sinusoidal", norm_first: bool = True,
                 tie_weights: bool = True, pad_id: int | None = None, activation: str = "relu"):
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(f"TransformerSeq2Seq: activation must be one of {ACTIVATIONS}, got {activation!r}")
        self.vocab_size, self.d_model, self.nhead = vocab_size, d_model, nhead
        self.num_encoder_layers, self.num_decoder_layers = num_encoder_layers, num_decoder_layers
        self.dim_feedforward, self.dropout, self.max_len = dim_feedforward, dropout, max_len
        self.positional, self.norm_first, self.tie_weights = positional, norm_first, tie_weights
        self.pad_id, self.activation = pad_id, activation
        self.src_embed = _token_embedding(vocab_size, d_model)
        self.tgt_embed = _token_embedding(vocab_size, d_model)
        self.pos = _positions(positional, d_model, max_len, dropout)
        self.transformer = nn.Transformer(d_model, nhead, num_encoder_layers, num_decoder_layers, dim_feedforward,
                                          dropout, activation=activation, norm_first=norm_first)
        if tie_weights:
            self.output_bias = nn.Parameter(backend.xp().zeros(vocab_size, dtype=backend.get_default_dtype()))
        else:
            self.output = nn.Linear(d_model, vocab_size)

    def config(self) -> dict[str, Any]:
        """What :func:`build_transformer_seq2seq` needs to rebuild this model (``"model": "transformer"``)."""
        return {"model": self.kind, "vocab_size": self.vocab_size, "d_model": self.d_model, "nhead": self.nhead,
                "num_encoder_layers": self.num_encoder_layers, "num_decoder_layers": self.num_decoder_layers,
                "dim_feedforward": self.dim_feedforward, "dropout": self.dropout, "max_len": self.max_len,
                "positional": self.positional, "norm_first": self.norm_first, "tie_weights": self.tie_weights,
                "pad_id": self.pad_id, "activation": self.activation}

    def extra_repr(self) -> str:
        return f"vocab_size={self.vocab_size}, d_model={self.d_model}, nhead={self.nhead}"

    def _embed(self, embed: nn.Embedding, ids: Any) -> Tensor:
        if ids.shape[1] > self.max_len:
            raise ValueError(f"TransformerSeq2Seq: a sequence of {ids.shape[1]} tokens exceeds max_len={self.max_len}")
        return self.pos(embed(ids) * math.sqrt(self.d_model))

    def _logits(self, h: Tensor) -> Tensor:
        if self.tie_weights:
            return F.linear(h, self.tgt_embed.weight, self.output_bias)
        return self.output(h)

    # ---- the three pieces of the seq2seq interface -------------------------------------------------
    def encode(self, src: Any) -> dict[str, Tensor]:
        src = F.as_ids(src, type(self).__name__, ndim=2)
        padding = (src == self.pad_id) if self.pad_id is not None else backend.xp().zeros(src.shape, dtype=bool)
        memory = self.transformer.encoder(self._embed(self.src_embed, src), src_key_padding_mask=padding)
        return {"hs": memory, "padding": Tensor(padding)}

    def initial_state(self, memory: dict[str, Tensor]) -> tuple[Tensor, Tensor]:
        """An empty prefix ``(1, N, 0)`` (batch on axis 1, like an LSTM state, so beam search reorders it)."""
        n = memory["hs"].shape[0]
        empty = backend.xp().zeros((1, n, 0), dtype=np.int64)
        return Tensor(empty), Tensor(empty)

    def _decoder(self, ids: Any, memory: dict[str, Tensor], need_weights: bool) -> Any:
        steps = ids.shape[1]
        return self.transformer.decoder(
            self._embed(self.tgt_embed, ids), memory["hs"], tgt_mask=~F.causal_mask(steps),
            memory_key_padding_mask=memory["padding"].data, need_weights=need_weights)

    def decode(self, tokens: Any, state: tuple[Tensor, Tensor],
               memory: dict[str, Tensor]) -> tuple[Tensor, Any, Tensor]:
        """Logits ``(N, T, V)`` for ``tokens (N, T)`` after the prefix in ``state``, the new state, and
        the last layer's cross-attention averaged over the heads ``(N, T, S)``."""
        xp = backend.xp()
        tokens = F.as_ids(tokens, type(self).__name__, ndim=2)
        prefix = state[0].data[0]
        ids = xp.concatenate([prefix, tokens.astype(np.int64)], axis=1) if prefix.shape[1] else tokens
        h, weights = self._decoder(ids, memory, need_weights=True)
        steps = tokens.shape[1]
        if steps < ids.shape[1]:
            h = h[:, -steps:]
        last = weights[-1].mean(axis=1)
        if steps < ids.shape[1]:
            last = last[:, -steps:]
        new_prefix = Tensor(xp.asarray(ids)[None])
        return self._logits(h), (new_prefix, new_prefix), last

    # ---- training ------------------------------------------------------------------------------
    def forward(self, src: Any, tgt_in: Any, return_attention: bool = False) -> Any:
        """Teacher-forced logits ``(N, T, V)``; with ``return_attention`` also ``(N, layers, heads, T, S)`` weights."""
        memory = self.encode(src)
        tgt_in = F.as_ids(tgt_in, type(self).__name__, ndim=2)
        if not return_attention:
            return self._logits(self._decoder(tgt_in, memory, need_weights=False))
        h, weights = self._decoder(tgt_in, memory, need_weights=True)
        return self._logits(h), F.stack(weights, axis=1)

    def loss(self, src: Any, target: Any) -> Tensor:
        """Mean cross-entropy of ``target[:, 1:]`` given ``src`` and ``target[:, :-1]`` (``pad_id`` ignored)."""
        target = F.as_ids(target, type(self).__name__, ndim=2)
        ignore = -100 if self.pad_id is None else self.pad_id
        return F.softmax_cross_entropy(self(src, target[:, :-1]), target[:, 1:], ignore_index=ignore)

    # ---- decoding: the LSTM models' greedy search and beam search, on the prefix state ------------
    _inference = _EncoderDecoder._inference
    beam_search = _EncoderDecoder.beam_search
    _greedy = _EncoderDecoder.generate

    def generate(self, src: Any, start_id: int, length: int, end_id: int | None = None,
                 return_attention: bool | str = False) -> Any:
        """Greedy decoding: ids ``(N, length)``; after ``end_id`` every id is ``end_id``.

        ``return_attention=True`` also returns the last layer's head-averaged cross-attention
        ``(N, length, S)``; ``return_attention="heads"`` every layer's and head's ``(N, layers,
        heads, length, S)`` (the decoder re-read on its own answer).
        """
        if return_attention != "heads":
            return self._greedy(src, start_id, length, end_id=end_id, return_attention=bool(return_attention))
        ids = self._greedy(src, start_id, length, end_id=end_id)
        xp = backend.xp()
        tgt_in = xp.concatenate([xp.full((ids.shape[0], 1), start_id, dtype=np.int64), ids[:, :-1]], axis=1)
        with self._inference():
            _, weights = self(src, tgt_in, return_attention=True)
        return ids, weights.data


def check_transformer_seq2seq_config(config: Any, source: Any = "config") -> dict[str, Any]:
    """A stored TransformerSeq2Seq config checked field by field (raises :class:`CheckpointError`)."""
    config_choice(config, "model", source, ["transformer"])
    checked: dict[str, Any] = {}
    for key in ("vocab_size", "d_model", "nhead", "dim_feedforward"):
        checked[key] = config_int(config, key, source, low=1, high=MAX_SIZE)
    checked["max_len"] = _checked_max_len(config, checked["d_model"], source)
    for key in ("num_encoder_layers", "num_decoder_layers"):
        checked[key] = config_int(config, key, source, low=1, high=MAX_LAYERS)
    checked["dropout"] = config_float(config, "dropout", source, 0.0, 1.0, high_open=True)
    checked["positional"] = config_choice(config, "positional", source, list(POSITIONS))
    checked["norm_first"] = config_bool(config, "norm_first", source)
    checked["tie_weights"] = config_bool(config, "tie_weights", source)
    checked["activation"] = config_choice(config, "activation", source, list(ACTIVATIONS))
    pad = config.get("pad_id")
    checked["pad_id"] = None if pad is None else config_int(config, "pad_id", source, 0, checked["vocab_size"] - 1)
    if checked["d_model"] % checked["nhead"]:
        raise CheckpointError(f"{source}: field config/nhead: d_model {checked['d_model']} is not divisible "
                              f"by nhead {checked['nhead']}")
    return checked


def build_transformer_seq2seq(config: dict[str, Any], source: Any = "config") -> TransformerSeq2Seq:
    """Rebuild a :class:`TransformerSeq2Seq` from its :meth:`~TransformerSeq2Seq.config` (checked first)."""
    return TransformerSeq2Seq(**check_transformer_seq2seq_config(config, source))


def transformer_seq2seq_parameter_shapes(config: dict[str, Any]) -> dict[str, tuple[int, ...]]:
    """Name and shape of every parameter of the (checked) config's model, without building it."""
    vocab, d, ff = config["vocab_size"], config["d_model"], config["dim_feedforward"]
    shapes: dict[str, tuple[int, ...]] = {"src_embed.weight": (vocab, d), "tgt_embed.weight": (vocab, d)}
    if config["positional"] == "learned":
        shapes["pos.embedding.weight"] = (config["max_len"], d)

    def attention(prefix: str) -> dict[str, tuple[int, ...]]:
        return {prefix + "in_proj_weight": (3 * d, d), prefix + "in_proj_bias": (3 * d,),
                prefix + "out_proj.weight": (d, d), prefix + "out_proj.bias": (d,)}

    for side, layers, norms in (("encoder", config["num_encoder_layers"], 2),
                                ("decoder", config["num_decoder_layers"], 3)):
        for i in range(layers):
            p = f"transformer.{side}.layers.{i}."
            shapes |= attention(p + "self_attn.")
            if side == "decoder":
                shapes |= attention(p + "multihead_attn.")
            shapes |= {p + "linear1.weight": (ff, d), p + "linear1.bias": (ff,),
                       p + "linear2.weight": (d, ff), p + "linear2.bias": (d,)}
            for n in range(1, norms + 1):
                shapes |= {p + f"norm{n}.weight": (d,), p + f"norm{n}.bias": (d,)}
        shapes |= {f"transformer.{side}.norm.weight": (d,), f"transformer.{side}.norm.bias": (d,)}
    if config["tie_weights"]:
        shapes["output_bias"] = (vocab,)
    else:
        shapes |= {"output.weight": (vocab, d), "output.bias": (vocab,)}
    return shapes


register_seq2seq("transformer", TransformerSeq2Seq, build_transformer_seq2seq)
