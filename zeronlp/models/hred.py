"""Hierarchical dialogue models: HRED (Serban et al. 2016) and VHRED (Serban et al. 2017).

A dialogue is ``K`` context turns and a reply. Three RNNs, one on top of the other::

    u_k = UtteranceEncoder(turn_k)            last LSTM state of each turn            (N, K, H_u)
    c   = ContextRNN(u_1 .. u_K)              a GRU over the turns, its last state     (N, H_c)
    reply ~ Decoder(h_0 = tanh(W c + b))      an LSTM whose input at every step is [embed(w_{t-1}), c]

so the reply depends on all K turns, not only the last one (what a seq2seq model sees).
**VHRED** adds a latent ``z`` per reply: a prior network ``p(z|c) = N(mu_p, e^lv_p)`` (an MLP on c)
and a posterior network ``q(z|c, reply) = N(mu_q, e^lv_q)`` (an MLP on c and the encoded reply);
training samples ``z ~ q`` (reparameterised), the decoder reads ``[c, z]``, and the loss is
``NLL + beta KL(q || p)`` per reply, with KL annealing and word dropout (the VAE tricks of
:mod:`.vae`) so z is not ignored; generation samples ``z ~ p``: replies vary in content, not only
in wording.

Batches are ``(context (N, K, T), reply (N, T_r))`` of ids: each turn ``bos w_1 .. w_n eos pad ..``;
a whole-pad turn is an empty (missing) turn.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import backend, nn
from .. import functional as F
from ..autograd import Tensor
from .vae import (
    KLAnnealing,
    gaussian_kl,
    greedy_or_sample,
    inference,
    last_states,
    lengths_of,
    reparameterize,
    word_dropout,
)


class HRED(nn.Module):
    """Hierarchical recurrent encoder-decoder: utterance LSTM, context GRU, conditioned LSTM decoder.

    ``loss(context, reply)`` is the mean cross-entropy per reply token (pads ignored);
    ``generate(context)`` decodes replies greedily (or sampled with a temperature).
    """

    kind = "hred"

    def __init__(self, vocab_size: int, embed_size: int = 64, utterance_size: int = 128, context_size: int = 128,
                 decoder_size: int = 128, word_dropout: float = 0.0, bos_id: int = 1, eos_id: int = 2,
                 pad_id: int = 0, unk_id: int = 3):
        super().__init__()
        self.vocab_size, self.embed_size = vocab_size, embed_size
        self.utterance_size, self.context_size, self.decoder_size = utterance_size, context_size, decoder_size
        self.word_dropout = word_dropout
        self.bos_id, self.eos_id, self.pad_id, self.unk_id = bos_id, eos_id, pad_id, unk_id
        self.embed = nn.Embedding(vocab_size, embed_size, padding_idx=pad_id)
        self.utterance_encoder = nn.LSTM(embed_size, utterance_size)
        self.context_rnn = nn.GRU(utterance_size, context_size)
        self.decoder_init = nn.Linear(self.condition_size, decoder_size)
        self.decoder = nn.LSTM(embed_size + self.condition_size, decoder_size)
        self.output = nn.Linear(decoder_size, vocab_size)

    @property
    def condition_size(self) -> int:
        """Width of what the decoder is conditioned on (the context state; VHRED adds z)."""
        return self.context_size

    def config(self) -> dict[str, Any]:
        return {"model": self.kind, "vocab_size": self.vocab_size, "embed_size": self.embed_size,
                "utterance_size": self.utterance_size, "context_size": self.context_size,
                "decoder_size": self.decoder_size, "word_dropout": self.word_dropout, "bos_id": self.bos_id,
                "eos_id": self.eos_id, "pad_id": self.pad_id, "unk_id": self.unk_id}

    def extra_repr(self) -> str:
        return (f"vocab_size={self.vocab_size}, utterance_size={self.utterance_size}, "
                f"context_size={self.context_size}, decoder_size={self.decoder_size}")

    # ---- encoders ------------------------------------------------------------------------------
    def encode_utterances(self, turns: Any) -> Tensor:
        """``turns (M, T)`` -> the utterance encoder's state after each turn's last token ``(M, H_u)``."""
        hs, _ = self.utterance_encoder(self.embed(turns))
        return last_states(hs, lengths_of(turns, self.pad_id))

    def encode_context(self, context: Any) -> Tensor:
        """``context (N, K, T)`` -> the context GRU's last state ``(N, H_c)``."""
        context = F.as_ids(context, type(self).__name__, ndim=3)
        n, k, t = context.shape
        utterances = self.encode_utterances(context.reshape(n * k, t)).reshape(n, k, self.utterance_size)
        _, h = self.context_rnn(utterances)
        return h[0]

    # ---- decoder -------------------------------------------------------------------------------
    def initial_state(self, condition: Tensor) -> tuple[Tensor, Tensor]:
        h = F.tanh(self.decoder_init(condition))
        h = h.reshape(1, *h.shape)
        return h, Tensor(backend.xp().zeros(h.shape, dtype=h.dtype))

    def decode(self, inputs: Any, condition: Tensor, state: tuple[Tensor, Tensor]) -> tuple[Tensor, Any]:
        """Logits ``(N, T, V)`` for ``inputs (N, T)``, each step reading ``[embed(w), condition]``."""
        # the condition's share of the input projection is the same at every step: the LSTM computes it
        # once (``static``) instead of reading the condition concatenated to every step's input
        out, state = self.decoder(self.embed(inputs), state, static=condition)
        return self.output(out), state

    def _decoder_inputs(self, reply: Any) -> Any:
        inputs = reply[:, :-1]
        if self.training and self.word_dropout > 0:
            inputs = word_dropout(inputs, self.word_dropout, self.unk_id,
                                  keep=(inputs == self.pad_id) | (inputs == self.bos_id))
        return inputs

    # ---- training ------------------------------------------------------------------------------
    def forward(self, context: Any, reply: Any) -> Tensor:
        """Teacher-forced logits ``(N, T_r - 1, V)`` for ``reply[:, 1:]``."""
        reply = F.as_ids(reply, type(self).__name__, ndim=2)
        c = self.encode_context(context)
        logits, _ = self.decode(self._decoder_inputs(reply), c, self.initial_state(c))
        return logits

    def loss(self, context: Any, reply: Any) -> Tensor:
        """Mean cross-entropy of the reply's tokens (``reply[:, 1:]``, pads ignored)."""
        reply = F.as_ids(reply, type(self).__name__, ndim=2)
        return F.softmax_cross_entropy(self(context, reply), reply[:, 1:], ignore_index=self.pad_id)

    # ---- generation ----------------------------------------------------------------------------
    def condition(self, context: Any) -> Tensor:
        """What the decoder is conditioned on at generation time (VHRED: [c, z ~ prior])."""
        return self.encode_context(context)

    def generate(self, context: Any, max_len: int = 30, temperature: float = 0.0,
                 rng: Any = None) -> list[list[int]]:
        """A reply (ids, without bos/eos) per dialogue of ``context (N, K, T)``; greedy unless ``temperature``."""
        xp = backend.xp()
        rng = rng or backend.get_rng()
        with inference(self):
            cond = self.condition(context)
            state = self.initial_state(cond)
            tokens = xp.full((cond.shape[0], 1), self.bos_id, dtype=np.int64)
            outputs = []
            for _ in range(max_len):
                logits, state = self.decode(tokens, cond, state)
                tokens = greedy_or_sample(logits.data[:, -1], temperature, rng)[:, None]
                outputs.append(tokens[:, 0])
        ids = backend.to_numpy(xp.stack(outputs, axis=1)) if outputs else np.zeros((cond.shape[0], 0), np.int64)
        return [row[:row.index(self.eos_id)] if self.eos_id in row else row for row in ids.tolist()]


class VHRED(HRED):
    """HRED with a latent variable z per reply: prior p(z|c), posterior q(z|c, reply), ``NLL + beta KL``.

    ``loss(context, reply)`` is ``(NLL + beta KL(q||p)) / tokens`` (per reply token, like HRED's, so
    the two compare; beta from ``annealing``, 1 in eval mode); ``last_terms`` holds the parts of the last
    call. ``generate`` samples z from the prior, so two calls give different replies to one context.
    """

    kind = "vhred"

    def __init__(self, vocab_size: int, embed_size: int = 64, utterance_size: int = 128, context_size: int = 128,
                 decoder_size: int = 128, latent_size: int = 32, word_dropout: float = 0.25, bos_id: int = 1,
                 eos_id: int = 2, pad_id: int = 0, unk_id: int = 3, annealing: KLAnnealing | None = None):
        object.__setattr__(self, "latent_size", latent_size)  # condition_size needs it in HRED.__init__
        super().__init__(vocab_size, embed_size, utterance_size, context_size, decoder_size, word_dropout,
                         bos_id, eos_id, pad_id, unk_id)
        self.annealing = annealing if annealing is not None else KLAnnealing()
        self.prior = nn.Sequential(nn.Linear(context_size, context_size), nn.Tanh(),
                                   nn.Linear(context_size, 2 * latent_size))
        self.posterior = nn.Sequential(nn.Linear(context_size + utterance_size, context_size), nn.Tanh(),
                                       nn.Linear(context_size, 2 * latent_size))
        self.last_terms: dict[str, float] = {}

    @property
    def condition_size(self) -> int:
        return self.context_size + self.latent_size

    def config(self) -> dict[str, Any]:
        return super().config() | {"latent_size": self.latent_size}

    def _gaussian(self, net: nn.Module, x: Tensor) -> tuple[Tensor, Tensor]:
        out = net(x)
        return out[:, :self.latent_size], out[:, self.latent_size:]

    def _terms(self, context: Any, reply: Any) -> tuple[Tensor, Tensor, int]:
        reply = F.as_ids(reply, type(self).__name__, ndim=2)
        c = self.encode_context(context)
        mu_p, logvar_p = self._gaussian(self.prior, c)
        mu_q, logvar_q = self._gaussian(self.posterior, F.concat([c, self.encode_utterances(reply)], axis=1))
        z = reparameterize(mu_q, logvar_q)
        cond = F.concat([c, z], axis=1)
        logits, _ = self.decode(self._decoder_inputs(reply), cond, self.initial_state(cond))
        targets = reply[:, 1:]
        nll = F.softmax_cross_entropy(logits, targets, ignore_index=self.pad_id, reduction="sum")
        kl = F.sum(gaussian_kl(mu_q, logvar_q, mu_p, logvar_p))
        return nll, kl, int((targets != self.pad_id).sum())

    def forward(self, context: Any, reply: Any) -> Tensor:
        raise NotImplementedError("VHRED: use loss(context, reply) to train and generate(context) to answer")

    def loss(self, context: Any, reply: Any) -> Tensor:
        nll, kl, count = self._terms(context, reply)
        beta = self.annealing.step() if self.training else 1.0
        self.last_terms = {"nll": float(nll.data), "kl": float(kl.data), "beta": beta, "tokens": count,
                           "replies": int(np.shape(reply)[0])}
        return (nll + beta * kl) / max(count, 1)

    def condition(self, context: Any) -> Tensor:
        c = self.encode_context(context)
        mu_p, logvar_p = self._gaussian(self.prior, c)
        return F.concat([c, reparameterize(mu_p, logvar_p)], axis=1)


def build_dialogue_model(config: dict[str, Any]) -> HRED:
    """Rebuild an :class:`HRED` or :class:`VHRED` from its :meth:`config`."""
    kind = config.get("model")
    models = {"hred": HRED, "vhred": VHRED}
    if kind not in models:
        raise ValueError(f"build_dialogue_model: model must be 'hred' or 'vhred', got {kind!r}")
    return models[kind](**{k: v for k, v in config.items() if k != "model"})
