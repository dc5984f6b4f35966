"""LSTM language models (DLfS 2, ch. 6): the book's ``Rnnlm`` and ``BetterRnnlm``, plus
perplexity, text generation and next-word listings.

Both models are *stateful*: ``forward`` starts from the hidden state the previous call left
(detached, so truncated BPTT stops at the window edge) and ``reset_state()`` forgets it. Inside,
everything runs time-major so the LSTM and the output layer need no copies of large arrays:
``ids (B, T) -> embedding -> LSTM -> (B*T, H) -> linear -> logits (B, T, V)``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np

from .. import backend, nn
from .. import functional as F
from ..autograd import Tensor, no_grad
from ..data.bptt import BPTTBatcher
from ..data.vocab import Vocabulary, match_case, vocabulary_from_record
from ..errors import CheckpointError, UnknownWordError
from ..progress import logger
from ..serialization import (
    check_shapes,
    config_bool,
    config_choice,
    config_float,
    config_int,
    load,
    run_file,
)

# ---------------------------------------------------------------------------- fused output layer


def linear_softmax_cross_entropy(h, weight, bias, targets: Any, reduction: str = "mean") -> Tensor:
    """Cross-entropy of integer ``targets`` (N,) under softmax(h W^T + b): :func:`F.linear_cross_entropy`
    (the general fused ``Linear`` -> softmax cross-entropy, kept under this name for older callers)."""
    t = targets.data if isinstance(targets, Tensor) else targets
    return F.linear_cross_entropy(h, weight, bias, backend.xp().asarray(t).reshape(-1), reduction=reduction)


def next_word_loss(model: Any, ids: Any, targets: Any, reduction: str = "mean") -> Tensor:
    """The language models' loss: cross-entropy of the next-word ``targets (B, T)`` given ``ids (B, T)``,
    through the fused output layer on ``model.features(ids)`` and ``model.output_layer()``."""
    ids = F.as_ids(ids, type(model).__name__, ndim=2)
    targets = targets.data if isinstance(targets, Tensor) else targets
    if tuple(np.shape(targets)) != tuple(ids.shape):
        raise ValueError(f"{type(model).__name__}.loss: targets of shape {tuple(np.shape(targets))} "
                         f"do not match ids of shape {tuple(ids.shape)}")
    weight, bias = model.output_layer()
    targets = backend.xp().asarray(targets).reshape(-1)
    return F.linear_cross_entropy(model.features(ids), weight, bias, targets, reduction=reduction)


class _LanguageModel(nn.Module):
    """Shared stateful forward, loss and config of the LSTM language models."""

    name = "lm"

    def __init__(self, vocab_size: int, wordvec_size: int, hidden_size: int, num_layers: int, dropout: float,
                 tie_weights: bool):
        super().__init__()
        if tie_weights and wordvec_size != hidden_size:
            raise ValueError(
                f"{type(self).__name__}: tied weights need wordvec_size == hidden_size, "
                f"got {wordvec_size} and {hidden_size}"
            )
        self.vocab_size, self.wordvec_size, self.hidden_size = vocab_size, wordvec_size, hidden_size
        self.num_layers, self.dropout, self.tie_weights = num_layers, dropout, tie_weights
        # the book's initialization: embeddings N(0, 0.01^2), LSTM/affine N(0, 1/fan_in), zero biases
        # (nn.init draws on the host: a seed gives the same weights on CPU and GPU)
        embed_weight = backend.xp().empty((vocab_size, wordvec_size), dtype=backend.get_default_dtype())
        self.embed = nn.Embedding(vocab_size, wordvec_size, weight=nn.init.normal_(embed_weight, 0.0, 0.01))
        self.lstm = nn.LSTM(wordvec_size, hidden_size, num_layers=num_layers, dropout=dropout, batch_first=False)
        for layer in range(num_layers):
            fan_in = wordvec_size if layer == 0 else hidden_size
            nn.init.normal_(getattr(self.lstm, f"weight_ih_l{layer}"), 0.0, 1 / math.sqrt(fan_in))
            nn.init.normal_(getattr(self.lstm, f"weight_hh_l{layer}"), 0.0, 1 / math.sqrt(hidden_size))
            nn.init.zeros_(getattr(self.lstm, f"bias_ih_l{layer}"))
            nn.init.zeros_(getattr(self.lstm, f"bias_hh_l{layer}"))
        if tie_weights:
            self.fc_bias = nn.Parameter(backend.xp().zeros(vocab_size, dtype=backend.get_default_dtype()))
        else:
            self.fc = nn.Linear(hidden_size, vocab_size)
            nn.init.normal_(self.fc.weight, 0.0, 1 / math.sqrt(hidden_size))
            nn.init.zeros_(self.fc.bias)
        self.state: tuple[Tensor, Tensor] | None = None

    # ---- state ---------------------------------------------------------------------------------
    def reset_state(self) -> None:
        """Forget the hidden state: the next ``forward`` starts from zeros."""
        self.state = None

    def config(self) -> dict[str, Any]:
        """Everything needed to rebuild this model (stored in checkpoints)."""
        return {"name": self.name, "vocab_size": self.vocab_size, "wordvec_size": self.wordvec_size,
                "hidden_size": self.hidden_size, "num_layers": self.num_layers, "dropout": self.dropout,
                "tie_weights": self.tie_weights}

    # ---- forward -------------------------------------------------------------------------------
    def features(self, ids: Any) -> Tensor:
        """Hidden states for ``ids`` (B, T) as a (B*T, H) tensor in batch-major row order."""
        ids = F.as_ids(ids, type(self).__name__, ndim=2)
        batch = ids.shape[0]
        if self.state is not None and self.state[0].shape[1] != batch:
            self.state = None  # a different batch size starts a new stream
        x = F.embedding(ids.T, self.embed.weight)  # (T, B, D): time-major without copying activations
        x = F.dropout(x, self.dropout, self.training)
        y, (h, c) = self.lstm(x, self.state)
        self.state = (h.detach(), c.detach())
        y = F.dropout(y, self.dropout, self.training)
        return F.transpose(y, (1, 0, 2)).reshape(-1, self.hidden_size)

    def forward(self, ids: Any) -> Tensor:
        """Logits (B, T, V) for ids (B, T); continues from the stored state."""
        ids = F.as_ids(ids, type(self).__name__, ndim=2)
        weight, bias = self.output_layer()
        logits = F.linear(self.features(ids), weight, bias)
        return logits.reshape(ids.shape[0], ids.shape[1], self.vocab_size)

    def output_layer(self) -> tuple[Any, Any]:
        """(weight (V, H), bias (V,)) of the softmax layer (the embedding matrix when tied)."""
        if self.tie_weights:
            return self.embed.weight, self.fc_bias
        return self.fc.weight, self.fc.bias

    def loss(self, ids: Any, targets: Any, reduction: str = "mean") -> Tensor:
        """Softmax cross-entropy of the next-word ``targets`` (B, T) given ``ids`` (B, T) (fused head)."""
        return next_word_loss(self, ids, targets, reduction)


class RNNLM(_LanguageModel):
    """The book's ``Rnnlm``: Embedding(V, 100) -> LSTM(100) -> Linear(V), softmax with loss.

    Trained with SGD lr 20, gradient clipping 0.25, batch 20, bptt 35 it reaches a test perplexity
    of about 136 on PTB in 4 epochs (the book's figure).
    """

    name = "rnnlm"

    def __init__(self, vocab_size: int = 10000, wordvec_size: int = 100, hidden_size: int = 100):
        super().__init__(vocab_size, wordvec_size, hidden_size, num_layers=1, dropout=0.0, tie_weights=False)


class BetterRNNLM(_LanguageModel):
    """The book's ``BetterRnnlm``: 2-layer LSTM 650, dropout 0.5 on the embedding, between the
    layers and before the output, and the output weight tied to the embedding matrix.
    """

    name = "better"

    def __init__(self, vocab_size: int = 10000, wordvec_size: int = 650, hidden_size: int = 650,
                 num_layers: int = 2, dropout: float = 0.5, tie_weights: bool = True):
        super().__init__(vocab_size, wordvec_size, hidden_size, num_layers, dropout, tie_weights)


MODELS: dict[str, Any] = {"rnnlm": RNNLM, "better": BetterRNNLM}


class LMKind(NamedTuple):
    """How to check, size and build the stored config of a language model defined in another module."""

    check: Callable[[Any, Any], dict[str, Any]]
    shapes: Callable[[dict[str, Any]], dict[str, tuple[int, ...]]]
    build: Callable[[dict[str, Any], Any], Any]


# language models of other modules, by config name: ``models.transformer`` registers "transformer"
# (it imports this module for the shared loss, so this module cannot import it)
OTHER_LMS: dict[str, LMKind] = {}


def register_lm(name: str, cls: Any, kind: LMKind) -> None:
    """Make ``name`` a model of ``lm train`` (``MODELS``) and of :func:`load_lm` / :func:`build_lm`."""
    MODELS[name] = cls
    OTHER_LMS[name] = kind


MAX_SIZE = 1 << 24  # a bound on any one size in a stored config; the tensors then bound the rest
MAX_LAYERS = 64


def check_lm_config(config: Any, source: Any = "config") -> dict[str, Any]:
    """A stored model config, checked field by field (types and ranges); returns it normalized.

    Raises :class:`CheckpointError` naming ``source`` and the field. Builds nothing.
    """
    name = config_choice(config, "name", source, sorted(MODELS))
    if name in OTHER_LMS:
        return OTHER_LMS[name].check(config, source)
    checked: dict[str, Any] = {"name": name}
    for key in ("vocab_size", "wordvec_size", "hidden_size"):
        checked[key] = config_int(config, key, source, low=1, high=MAX_SIZE)
    if name == "better":
        checked["num_layers"] = config_int(config, "num_layers", source, low=1, high=MAX_LAYERS)
        checked["dropout"] = config_float(config, "dropout", source, 0.0, 1.0, high_open=True)
        checked["tie_weights"] = config_bool(config, "tie_weights", source)
        if checked["tie_weights"] and checked["wordvec_size"] != checked["hidden_size"]:
            raise CheckpointError(f"{source}: field config/tie_weights: tied weights need wordvec_size == "
                                  f"hidden_size, got {checked['wordvec_size']} and {checked['hidden_size']}")
    return checked


def lm_parameter_shapes(config: dict[str, Any]) -> dict[str, tuple[int, ...]]:
    """The name and shape of every parameter of the model ``config`` describes (checked config; no allocation)."""
    if config.get("name") in OTHER_LMS:
        return OTHER_LMS[config["name"]].shapes(config)
    vocab, dim, hidden = config["vocab_size"], config["wordvec_size"], config["hidden_size"]
    shapes: dict[str, tuple[int, ...]] = {"embed.weight": (vocab, dim)}
    for layer in range(config.get("num_layers", 1)):
        fan_in = dim if layer == 0 else hidden
        shapes |= {f"lstm.weight_ih_l{layer}": (4 * hidden, fan_in), f"lstm.weight_hh_l{layer}": (4 * hidden, hidden),
                   f"lstm.bias_ih_l{layer}": (4 * hidden,), f"lstm.bias_hh_l{layer}": (4 * hidden,)}
    if config.get("tie_weights", False):
        shapes["fc_bias"] = (vocab,)
    else:
        shapes |= {"fc.weight": (vocab, hidden), "fc.bias": (vocab,)}
    return shapes


def build_lm(config: dict[str, Any], source: Any = "config") -> _LanguageModel:
    """Rebuild a model from :meth:`config` output (checked first: :func:`check_lm_config`)."""
    config = check_lm_config(config, source)
    if config["name"] in OTHER_LMS:
        return OTHER_LMS[config["name"]].build(config, source)
    name = config.pop("name")
    if name == "rnnlm":
        return RNNLM(config["vocab_size"], config["wordvec_size"], config["hidden_size"])
    return BetterRNNLM(**config)


def load_lm(path: str | os.PathLike) -> tuple[_LanguageModel, Vocabulary, dict[str, Any]]:
    """``(model, vocabulary, text options)`` of a trained language model, ready for inference.

    ``path`` is a run directory (its ``model.safetensors``, the best weights, else its
    ``checkpoint.safetensors``) or one of those files. The text options say how the model's text
    was tokenized (``{"tokenizer": "whitespace"}`` for PTB). The file is data: its config is checked
    (types, ranges, agreement with the vocabulary and with the shape of every stored tensor) before
    the model is built, so nothing is allocated beyond what the file itself holds.
    """
    path = run_file(path, made_by="zeronlp lm train")
    record = load(path)
    if not isinstance(record, dict) or not isinstance(record.get("config"), dict) or "vocab" not in record:
        raise CheckpointError(f"{path}: not a language-model checkpoint (no model config or vocabulary)")
    config = check_lm_config(record["config"], path)
    check_shapes(record.get("model"), lm_parameter_shapes(config), path)
    vocab = vocabulary_from_record(record, config["vocab_size"], path)
    text = record.get("text")
    if text is None:
        text = {"tokenizer": "whitespace"}
    if not isinstance(text, dict) or not isinstance(text.get("tokenizer", "whitespace"), str):
        raise CheckpointError(f"{path}: field text: expected {{'tokenizer': NAME, ...}}")
    try:
        model = build_lm(config, path)
        model.load_state_dict(record["model"])
    except (KeyError, TypeError, ValueError) as err:
        raise CheckpointError(f"{path}: cannot rebuild the model: {err}") from None
    model.eval()
    return model, vocab, text


# ---------------------------------------------------------------------------- evaluation


def perplexity_of(mean_loss: float, what: str = "perplexity") -> float:
    """``exp(mean_loss)``; ``inf`` with a logged warning when it overflows, ``nan`` (warned) for a NaN loss."""
    mean_loss = float(mean_loss)
    if math.isnan(mean_loss):
        logger.warning(f"{what}: the mean cross-entropy is NaN (the model's outputs are not finite)")
        return float("nan")
    if mean_loss > math.log(np.finfo(np.float64).max):
        logger.warning(f"{what}: the mean cross-entropy is {mean_loss:.4g} nats, so the perplexity exp(loss) "
                       "overflows: reported as inf (the model has diverged)")
        return float("inf")
    return math.exp(mean_loss)


def perplexity(model: _LanguageModel, ids: Any, batch_size: int = 10, bptt: int = 35) -> float:
    """exp(mean cross-entropy) of ``model`` over the corpus ``ids``, read as the book does:
    ``batch_size`` parallel streams, windows of ``bptt`` steps, state carried, no dropout.

    A mean cross-entropy beyond float64's range (above ~709.78 nats, or itself NaN/inf) gives
    ``inf`` (or ``nan``) with a logged warning: never a made-up finite number.
    """
    was_training = model.training
    model.eval()
    model.reset_state()
    total, count = 0.0, 0
    try:
        with no_grad():
            for x, t in BPTTBatcher(ids, batch_size, bptt):
                total += float(model.loss(x, t, reduction="sum").data)
                count += t.size
    finally:
        model.reset_state()
        model.train(was_training)
    return perplexity_of(total / max(count, 1))


# ---------------------------------------------------------------------------- generation


def _encode_words(words: Sequence[str] | str, vocab: Any) -> list[int]:
    if isinstance(words, str):
        words = words.split()
    ids = []
    for word in words:
        word = match_case(word, vocab)
        if word in vocab:
            ids.append(vocab.word_to_id[word])
        elif getattr(vocab, "unk_token", None) is not None:
            logger.warning(f"word {word!r} is not in the vocabulary ({len(vocab)} words); read as "
                           f"{vocab.unk_token!r}")
            ids.append(vocab.unk_id)
        else:
            raise UnknownWordError(f"word {word!r} is not in the vocabulary (size {len(vocab)})")
    return ids


def _context_ids(context: Any, vocab: Any) -> tuple[list[int], bool]:
    """(ids, given_as_words) for a string, a list of words, or a list/array of ids."""
    if isinstance(context, str) or (isinstance(context, (list, tuple)) and context and isinstance(context[0], str)):
        if vocab is None:
            raise ValueError("words were given but no vocabulary: pass vocab=...")
        return _encode_words(context, vocab), True
    ids = [int(i) for i in np.asarray(context).reshape(-1)]
    if not ids:
        raise ValueError("the start/context sequence is empty")
    return ids, False


def _next_logits(model: _LanguageModel, ids: list[int]) -> np.ndarray:
    max_len = getattr(model, "max_len", None)  # a window model (TransformerLM) reads its last max_len ids
    if max_len is not None:
        ids = ids[-max_len:]
    logits = model(np.asarray([ids], dtype=np.int64))
    return backend.to_numpy(logits.data[0, -1]).astype(np.float64)


def _probabilities(logits: np.ndarray, temperature: float) -> np.ndarray:
    z = logits / temperature
    z -= z.max()
    p = np.exp(z)
    return p / p.sum()


def generate(model: _LanguageModel, start: Any, length: int = 100, temperature: float = 1.0,
             top_k: int | None = None, vocab: Any = None, skip_ids: Sequence[int] = (),
             rng: np.random.Generator | None = None) -> list[Any]:
    """Sample ``length`` words after ``start`` (ids, or words with ``vocab``); returns start + sample.

    Words are sampled from softmax(logits / temperature), restricted to the ``top_k`` most likely
    when given, never from ``skip_ids``. Draws from the backend's host Generator (``zn.manual_seed``
    makes it repeatable) unless ``rng`` is given. Returns words when ``start`` was words, else ids.
    A model with its own ``generate`` and no carried state (``TransformerLM``, which re-reads its
    last ``max_len`` words at every step) samples with it.
    """
    if temperature <= 0:
        raise ValueError(f"temperature must be positive, got {temperature}")
    ids, as_words = _context_ids(start, vocab)
    rng = rng or backend.get_host_rng()
    if callable(getattr(model, "generate", None)):
        out = model.generate(ids, length, temperature=temperature, top_k=top_k, skip_ids=list(skip_ids), rng=rng)
        return vocab.decode(out) if as_words else out
    was_training = model.training
    model.eval()
    model.reset_state()
    out = list(ids)
    try:
        with no_grad():
            logits = _next_logits(model, ids)
            for _ in range(length):
                if skip_ids:
                    logits[list(skip_ids)] = -np.inf
                if top_k is not None and top_k < len(logits):
                    cutoff = np.partition(logits, -top_k)[-top_k]
                    logits = np.where(logits >= cutoff, logits, -np.inf)
                p = _probabilities(logits, temperature)
                word = int(np.searchsorted(np.cumsum(p), rng.random() * p.sum(), side="right"))
                word = min(word, len(p) - 1)
                out.append(word)
                logits = _next_logits(model, [word])
    finally:
        model.reset_state()
        model.train(was_training)
    return vocab.decode(out) if as_words else out


def next_words(model: _LanguageModel, context: Any, k: int = 10, vocab: Any = None) -> list[tuple[Any, float]]:
    """The ``k`` most probable next words after ``context`` with their probabilities, most likely first.

    ``context`` is a string or words (needs ``vocab``; unknown words map to ``<unk>`` with a warning)
    or ids; the result names words when a vocabulary is given, else ids.
    """
    ids, _ = _context_ids(context, vocab)
    was_training = model.training
    model.eval()
    model.reset_state()
    try:
        with no_grad():
            p = _probabilities(_next_logits(model, ids), 1.0)
    finally:
        model.reset_state()
        model.train(was_training)
    k = min(k, len(p))
    top = np.argsort(-p, kind="stable")[:k]
    return [((vocab.id_to_word[i] if vocab is not None else int(i)), float(p[i])) for i in top]
