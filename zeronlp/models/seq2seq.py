"""Encoder-decoder models of DLfS 2 ch. 7-8: Seq2Seq, PeekySeq2Seq and AttentionSeq2Seq.

All three share one shape of code: ``encode(src)`` runs the encoder LSTM over the whole source,
``initial_state(memory)`` gives the decoder its first state (the encoder's last hidden state, a
zero cell, as in the book), and ``decode(tokens, state, memory)`` runs the decoder over any number
of steps at once. Training calls ``decode`` on the whole teacher-forced target (one fused LSTM
Function per sequence); greedy generation and beam search call it with one step at a time and the
state carried over.

* ``Seq2Seq``: the decoder sees only its start state.
* ``PeekySeq2Seq``: the encoder's last state h is also concatenated to the decoder's input at
  every step and to the decoder output fed to the output layer.
* ``AttentionSeq2Seq``: each decoder output h_t attends over all encoder states hs
  (``softmax(hs . h_t)``), and ``[context_t, h_t]`` feeds the output layer. With
  ``bidirectional=True`` the encoder runs both directions with ``hidden_size // 2`` units each and
  concatenates them, so encoder and decoder states stay ``hidden_size`` wide.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import numpy as np

from .. import backend
from .. import functional as F
from ..autograd import Tensor, no_grad
from ..functional.activation import log_softmax_array
from ..functional.attention import attention
from ..nn import LSTM, Embedding, Linear, Module
from ..nn import init as init_

Memory = dict[str, Tensor]
State = tuple[Tensor, Tensor]


class Encoder(Module):
    """Embedding + LSTM over the source; returns all states ``hs (N, T, H)`` and the last ``(h, c)``."""

    def __init__(self, vocab_size: int, wordvec_size: int, hidden_size: int, bidirectional: bool = False):
        super().__init__()
        if bidirectional and hidden_size % 2:
            raise ValueError(f"a bidirectional encoder needs an even hidden_size, got {hidden_size}")
        self.bidirectional = bidirectional
        self.embed = Embedding(vocab_size, wordvec_size)
        self.lstm = LSTM(wordvec_size, hidden_size // 2 if bidirectional else hidden_size,
                         bidirectional=bidirectional)

    def forward(self, src: Any) -> tuple[Tensor, State]:
        hs, (h_n, c_n) = self.lstm(self.embed(src))
        if self.bidirectional:  # join the two directions' final states: (2, N, H/2) -> (1, N, H)
            h_n = F.concat([h_n[0:1], h_n[1:2]], axis=2)
            c_n = F.concat([c_n[0:1], c_n[1:2]], axis=2)
        return hs, (h_n, c_n)


class _EncoderDecoder(Module):
    """Training loss, greedy generation and beam search shared by the three models."""

    kind = "base"

    def __init__(self, vocab_size: int, wordvec_size: int = 16, hidden_size: int = 128,
                 bidirectional: bool = False):
        super().__init__()
        self.vocab_size, self.wordvec_size, self.hidden_size = vocab_size, wordvec_size, hidden_size
        self.bidirectional = bidirectional
        self.encoder = Encoder(vocab_size, wordvec_size, hidden_size, bidirectional)

    def config(self) -> dict[str, Any]:
        """What :func:`build_seq2seq` needs to rebuild this model (stored in checkpoints)."""
        return {"model": self.kind, "vocab_size": self.vocab_size, "wordvec_size": self.wordvec_size,
                "hidden_size": self.hidden_size, "bidirectional": self.bidirectional, "init": self.init}

    def reset_parameters(self, init: str = "pytorch") -> None:
        """``"pytorch"`` (default): keep the layers' own PyTorch-like initialization (N(0, 1) embeddings,
        U(-1/sqrt(H), 1/sqrt(H)) LSTM, U(-1/sqrt(in), 1/sqrt(in)) Linear), which learned the addition
        task faster here. ``"book"``: DLfS 2's initialization, embeddings N(0, 0.01^2), LSTM and
        output weights N(0, 1/fan_in), biases 0.
        """
        if init not in ("book", "pytorch"):
            raise ValueError(f"init must be 'book' or 'pytorch', got {init!r}")
        self.init = init
        if init == "pytorch":
            return
        for module in self.modules():  # nn.init draws on the host: the same weights on CPU and GPU
            if isinstance(module, Embedding):
                init_.normal_(module.weight, 0.0, 0.01)
                continue
            if not isinstance(module, (LSTM, Linear)):
                continue
            for name, param in module._parameters.items():
                if param is None:
                    continue
                if name.startswith("bias"):
                    init_.zeros_(param)
                else:
                    init_.normal_(param, 0.0, 1.0 / np.sqrt(param.shape[1]))

    def extra_repr(self) -> str:
        return f"vocab_size={self.vocab_size}, wordvec_size={self.wordvec_size}, hidden_size={self.hidden_size}"

    # ---- the three pieces each model defines ---------------------------------------------------
    def encode(self, src: Any) -> Memory:
        hs, (h, _) = self.encoder(F.as_ids(src, type(self).__name__, ndim=2))
        return {"hs": hs, "h": h}

    def initial_state(self, memory: Memory) -> State:
        h = memory["h"]
        return h, Tensor(backend.xp().zeros(h.shape, dtype=h.dtype))

    def decode(self, tokens: Any, state: State, memory: Memory) -> tuple[Tensor, State, Tensor | None]:
        """Logits ``(N, T, V)`` for decoder inputs ``tokens (N, T)``, the new state, attention or None."""
        raise NotImplementedError

    # ---- training ------------------------------------------------------------------------------
    def forward(self, src: Any, tgt_in: Any) -> Tensor:
        """Teacher-forced logits ``(N, T_out, V)`` for decoder inputs ``tgt_in``."""
        memory = self.encode(src)
        tgt_in = F.as_ids(tgt_in, type(self).__name__, ndim=2)
        logits, _, _ = self.decode(tgt_in, self.initial_state(memory), memory)
        return logits

    def loss(self, src: Any, target: Any) -> Tensor:
        """Mean cross-entropy of ``target[:, 1:]`` given ``src`` and ``target[:, :-1]`` (starts with the start id)."""
        target = F.as_ids(target, type(self).__name__, ndim=2)
        return F.softmax_cross_entropy(self(src, target[:, :-1]), target[:, 1:])

    # ---- decoding ------------------------------------------------------------------------------
    @contextlib.contextmanager
    def _inference(self):
        was_training = self.training
        self.eval()
        try:
            with no_grad():
                yield
        finally:
            self.train(was_training)

    def generate(self, src: Any, start_id: int, length: int, end_id: int | None = None,
                 return_attention: bool = False) -> Any:
        """Greedy decoding of a batch: ids ``(N, length)``; after ``end_id`` every id is ``end_id``.

        With ``return_attention=True`` returns ``(ids, weights)``, weights ``(N, length, T_src)``
        (``None`` for models without attention).
        """
        xp = backend.xp()
        with self._inference():
            memory = self.encode(src)
            state = self.initial_state(memory)
            n = memory["hs"].shape[0]
            tokens = xp.full(n, start_id, dtype=np.int64)
            finished = xp.zeros(n, dtype=bool)
            outputs, weights = [], []
            for _ in range(length):
                logits, state, attn = self.decode(tokens[:, None], state, memory)
                tokens = logits.data[:, 0].argmax(axis=-1)
                if end_id is not None:
                    tokens = xp.where(finished, end_id, tokens)
                    finished |= tokens == end_id
                outputs.append(tokens)
                if attn is not None:
                    weights.append(attn.data[:, 0])
        ids = xp.stack(outputs, axis=1) if outputs else xp.zeros((n, 0), dtype=np.int64)
        if not return_attention:
            return ids
        return ids, (xp.stack(weights, axis=1) if weights else None)

    def beam_search(self, src: Any, start_id: int, length: int, beam_size: int = 5, end_id: int | None = None,
                    return_attention: bool = False) -> Any:
        """Beam search for each source of the batch: the best ids ``(N, length)`` by total log-probability.

        Keeps ``beam_size`` hypotheses per source; a hypothesis that emitted ``end_id`` is finished and
        only extends by ``end_id`` at no cost. ``beam_size=1`` is greedy decoding. With
        ``return_attention=True`` returns ``(ids, scores, weights)``.
        """
        if beam_size < 1:
            raise ValueError(f"beam_size must be at least 1, got {beam_size}")
        xp = backend.xp()
        with self._inference():
            memory = self.encode(src)
            n, beams, vocab = memory["hs"].shape[0], beam_size, self.vocab_size
            rows = xp.repeat(xp.arange(n), beams)
            memory = {key: Tensor(value.data[rows] if key != "h" else value.data[:, rows])
                      for key, value in memory.items()}
            state = self.initial_state(memory)
            scores = xp.full((n, beams), -xp.inf, dtype=np.float64)
            scores[:, 0] = 0.0
            finished = xp.zeros((n, beams), dtype=bool)
            sequences = xp.zeros((n, beams, 0), dtype=np.int64)
            weights = None
            tokens = xp.full(n * beams, start_id, dtype=np.int64)
            offsets = (xp.arange(n) * beams)[:, None]
            for _ in range(length):
                logits, state, attn = self.decode(tokens[:, None], state, memory)
                log_p = log_softmax_array(logits.data[:, 0].astype(np.float64)).reshape(n, beams, vocab)
                if end_id is not None and bool(finished.any()):
                    log_p[finished] = -xp.inf
                    log_p[finished, end_id] = 0.0
                total = (scores[:, :, None] + log_p).reshape(n, beams * vocab)
                # a stable sort keeps the lowest id among ties, as argmax does: beam 1 is exactly greedy
                order = xp.argsort(-total, axis=1, kind="stable") if xp is np else xp.argsort(-total, axis=1)
                best = order[:, :beams]
                parent, tokens2d = best // vocab, best % vocab
                scores = xp.take_along_axis(total, best, axis=1)
                sequences = xp.concatenate(
                    [xp.take_along_axis(sequences, parent[:, :, None], axis=1), tokens2d[:, :, None]], axis=2)
                if attn is not None and return_attention:
                    step = attn.data[:, 0].reshape(n, beams, 1, -1)
                    kept = step if weights is None else xp.concatenate([weights, step], axis=2)
                    weights = xp.take_along_axis(kept, parent[:, :, None, None], axis=1)
                finished = xp.take_along_axis(finished, parent, axis=1)
                if end_id is not None:
                    finished |= tokens2d == end_id
                rows = (offsets + parent).reshape(-1)
                state = (Tensor(state[0].data[:, rows]), Tensor(state[1].data[:, rows]))
                tokens = tokens2d.reshape(-1)
        top = xp.argmax(scores, axis=1)
        ids = sequences[xp.arange(n), top]
        if not return_attention:
            return ids
        return ids, scores[xp.arange(n), top], (weights[xp.arange(n), top] if weights is not None else None)


class Seq2Seq(_EncoderDecoder):
    """The book's Seq2seq: LSTM encoder, LSTM decoder started from the encoder's last hidden state."""

    kind = "base"

    def __init__(self, vocab_size: int, wordvec_size: int = 16, hidden_size: int = 128,
                 bidirectional: bool = False, init: str = "pytorch"):
        super().__init__(vocab_size, wordvec_size, hidden_size, bidirectional)
        self.decoder_embed = Embedding(vocab_size, wordvec_size)
        self.decoder_lstm = LSTM(wordvec_size, hidden_size)
        self.output = Linear(hidden_size, vocab_size)
        self.reset_parameters(init)

    def decode(self, tokens: Any, state: State, memory: Memory) -> tuple[Tensor, State, None]:
        out, state = self.decoder_lstm(self.decoder_embed(tokens), state)
        return self.output(out), state, None


class PeekySeq2Seq(_EncoderDecoder):
    """The book's PeekySeq2seq: the encoder state h joins the decoder's input and output at every step."""

    kind = "peeky"

    def __init__(self, vocab_size: int, wordvec_size: int = 16, hidden_size: int = 128,
                 bidirectional: bool = False, init: str = "pytorch"):
        super().__init__(vocab_size, wordvec_size, hidden_size, bidirectional)
        self.decoder_embed = Embedding(vocab_size, wordvec_size)
        self.decoder_lstm = LSTM(wordvec_size + hidden_size, hidden_size)
        self.output = Linear(2 * hidden_size, vocab_size)
        self.reset_parameters(init)

    def decode(self, tokens: Any, state: State, memory: Memory) -> tuple[Tensor, State, None]:
        n, steps = tokens.shape
        h = memory["h"]
        peek = F.broadcast_to(h.reshape(n, 1, self.hidden_size), (n, steps, self.hidden_size))
        # the decoder's input is [embedding, h] at every step; h's share of the input projection is the
        # same at every step, so the LSTM computes it once (``static``) instead of concatenating h
        out, state = self.decoder_lstm(self.decoder_embed(tokens), state, static=h.reshape(n, self.hidden_size))
        return self.output(F.concat([out, peek], axis=2)), state, None


class AttentionSeq2Seq(_EncoderDecoder):
    """The book's AttentionSeq2seq: dot-product attention of each decoder state over all encoder states.

    ``decode`` also returns the attention weights ``(N, T_out, T_src)``; ``forward(src, tgt_in,
    return_attention=True)`` gives ``(logits, weights)`` for plotting.
    """

    kind = "attention"

    def __init__(self, vocab_size: int, wordvec_size: int = 16, hidden_size: int = 256,
                 bidirectional: bool = False, init: str = "pytorch"):
        super().__init__(vocab_size, wordvec_size, hidden_size, bidirectional)
        self.decoder_embed = Embedding(vocab_size, wordvec_size)
        self.decoder_lstm = LSTM(wordvec_size, hidden_size)
        self.output = Linear(2 * hidden_size, vocab_size)
        self.reset_parameters(init)

    def decode(self, tokens: Any, state: State, memory: Memory) -> tuple[Tensor, State, Tensor]:
        out, state = self.decoder_lstm(self.decoder_embed(tokens), state)
        hs = memory["hs"]
        context, weights = attention(out, hs, hs)
        return self.output(F.concat([context, out], axis=2)), state, weights

    def forward(self, src: Any, tgt_in: Any, return_attention: bool = False) -> Any:
        memory = self.encode(src)
        tgt_in = F.as_ids(tgt_in, type(self).__name__, ndim=2)
        logits, _, weights = self.decode(tgt_in, self.initial_state(memory), memory)
        return (logits, weights) if return_attention else logits


SEQ2SEQ_MODELS: dict[str, Any] = {
    "base": Seq2Seq, "peeky": PeekySeq2Seq, "attention": AttentionSeq2Seq,
}
# builders of seq2seq models of other modules, by kind: ``models.transformer`` registers "transformer"
# (it reuses this module's decoding, so this module cannot import it)
OTHER_SEQ2SEQ: dict[str, Callable[[dict[str, Any]], Any]] = {}


def register_seq2seq(kind: str, cls: Any, build: Callable[[dict[str, Any]], Any]) -> None:
    """Make ``kind`` a model of ``seq2seq train`` (``SEQ2SEQ_MODELS``) built by ``build(config)``."""
    SEQ2SEQ_MODELS[kind] = cls
    OTHER_SEQ2SEQ[kind] = build


def build_seq2seq(config: dict[str, Any]) -> Any:
    """Rebuild a model from :meth:`config` output (``{"model": "base"|"peeky"|"attention"|"transformer", ...}``)."""
    kind = config.get("model", "base")
    if kind not in SEQ2SEQ_MODELS:
        raise ValueError(f"unknown seq2seq model {kind!r}; choose one of {sorted(SEQ2SEQ_MODELS)}")
    if kind in OTHER_SEQ2SEQ:
        return OTHER_SEQ2SEQ[kind](config)
    return SEQ2SEQ_MODELS[kind](int(config["vocab_size"]), int(config.get("wordvec_size", 16)),
                                int(config.get("hidden_size", 128)), bool(config.get("bidirectional", False)),
                                str(config.get("init", "pytorch")))


def exact_match_accuracy(model: _EncoderDecoder, x: Any, t: Any, batch_size: int = 1000,
                         end_id: int | None = None) -> float:
    """Fraction of examples whose greedy answer equals ``t[:, 1:]`` (start id ``t[:, 0]``).

    Without ``end_id`` every position counts (the book's fixed-width answers); with it, decoding
    stops at ``end_id`` and only the positions up to the target's first ``end_id`` are compared.
    """
    x, t = np.asarray(backend.to_numpy(x)), np.asarray(backend.to_numpy(t))
    if len(x) == 0:
        return float("nan")
    correct = 0
    for start in range(0, len(x), batch_size):
        tb = t[start:start + batch_size]
        start_ids = np.unique(tb[:, 0])
        if start_ids.size != 1:
            raise ValueError(f"exact_match_accuracy: targets start with different ids {start_ids.tolist()}")
        answer = tb[:, 1:]
        guess = backend.to_numpy(model.generate(x[start:start + batch_size], int(start_ids[0]), answer.shape[1],
                                                end_id=end_id))
        same = guess == answer
        if end_id is not None:  # positions after the target's end symbol do not count
            ends = answer == end_id
            same |= (np.cumsum(ends, axis=1) - ends) > 0
        correct += int(same.all(axis=1).sum())
    return correct / len(x)
