"""Trained runs loaded once for ``zeronlp serve``: what each kind of run answers, as JSON-ready dicts.

A run is picked by what its directory holds: ``vectors.safetensors`` (``zeronlp word2vec``), else
the model file's record — class ``labels`` (``classify train``), a vocabulary mapping with text
options (``lm train``), a list of symbols (``seq2seq train``). Each kind is a class with ``info()``
and one method per action; every input comes through :func:`text`, :func:`integer`, :func:`number`
or :func:`word_list`, which bound its length or range, so a request can never ask for more work than
a small, fixed amount. Nothing here knows about HTTP: bad input raises
:class:`~zeronlp.errors.UsageError`, an unknown word :class:`~zeronlp.errors.UnknownWordError`.
"""

from __future__ import annotations

import json
import math
import os
import re
import threading
from pathlib import Path
from typing import Any

import numpy as np

from .. import backend
from ..autograd import Tensor, no_grad
from ..embeddings.evaluate import pca_2d
from ..embeddings.keyedvectors import KeyedVectors
from ..errors import CheckpointError, UnknownWordError, UsageError
from ..models.classifier import LoadedClassifier, load_classifier
from ..models.rnnlm import generate, load_lm, next_words
from ..models.seq2seq_io import load_seq2seq, translate
from ..serialization import load, run_file
from ..tasks import lm as lm_task
from ..tasks import word2vec as word2vec_task

MAX_TEXT = 1000  # characters of any text input
MAX_WORDS = 40  # words on the 2-D map
MAX_WORD = 100  # characters of one word
KINDS = ("lm", "seq2seq", "classifier", "vectors")
VECTOR_FILES = (".safetensors", ".txt", ".bin", ".vec")


# ---------------------------------------------------------------------------- checked inputs


def text(params: dict[str, Any], key: str, default: str | None = None, limit: int = MAX_TEXT) -> str:
    """A non-empty string of at most ``limit`` characters (surrounding whitespace removed)."""
    value = params.get(key, default)
    if value is None:
        raise UsageError(f"missing field {key!r}")
    if not isinstance(value, str):
        raise UsageError(f"field {key!r} must be a string, got {type(value).__name__}")
    value = value.strip()
    if not value:
        raise UsageError(f"field {key!r} is empty")
    if len(value) > limit:
        raise UsageError(f"field {key!r} is too long: {len(value)} characters (at most {limit})")
    return value


def integer(params: dict[str, Any], key: str, default: int, low: int, high: int) -> int:
    """An integer in ``[low, high]``; a numeric string counts (query parameters are strings)."""
    value = params.get(key, default)
    if value is None or value == "":
        value = default
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise UsageError(f"field {key!r} must be an integer, got {value!r}")
    try:
        number_ = int(value)
    except ValueError:
        raise UsageError(f"field {key!r} must be an integer, got {value!r}") from None
    if not low <= number_ <= high:
        raise UsageError(f"field {key!r} must be between {low} and {high}, got {number_}")
    return number_


def number(params: dict[str, Any], key: str, default: float, low: float, high: float) -> float:
    """A finite float in ``[low, high]``."""
    value = params.get(key, default)
    if value is None or value == "":
        value = default
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise UsageError(f"field {key!r} must be a number, got {value!r}")
    try:
        result = float(value)
    except ValueError:
        raise UsageError(f"field {key!r} must be a number, got {value!r}") from None
    if not (math.isfinite(result) and low <= result <= high):
        raise UsageError(f"field {key!r} must be between {low} and {high}, got {value!r}")
    return result


def word_list(params: dict[str, Any], key: str, limit: int = MAX_WORDS) -> list[str]:
    """Words given as a list or as one string separated by spaces or commas; duplicates dropped."""
    value = params.get(key)
    if isinstance(value, str):
        value = [w for w in re.split(r"[\s,]+", value) if w]
    if not isinstance(value, list) or not all(isinstance(w, str) for w in value):
        raise UsageError(f"field {key!r} must be a list of words or a string of words")
    words = list(dict.fromkeys(w.strip() for w in value if w.strip()))
    if len(words) > limit:
        raise UsageError(f"field {key!r} has {len(words)} words (at most {limit})")
    if any(len(w) > MAX_WORD for w in words):
        raise UsageError(f"field {key!r}: a word is longer than {MAX_WORD} characters")
    return words


def _floats(array: Any, digits: int = 5) -> Any:
    """A NumPy array or scalar as (nested lists of) rounded Python floats."""
    return np.round(np.asarray(array, dtype=np.float64), digits).tolist()


# ---------------------------------------------------------------------------- the kinds of run


class Run:
    """A loaded run: its ``name`` in URLs, its ``kind``, and what ``metrics.json`` says about it."""

    kind = ""
    actions: tuple[str, ...] = ()

    def __init__(self, name: str, path: Path):
        self.name, self.path = name, path
        self.lock = threading.Lock()  # the models keep state between calls: one request at a time
        self.metrics = _read_metrics(path)

    def info(self) -> dict[str, Any]:
        config = self.metrics.get("config") if isinstance(self.metrics.get("config"), dict) else {}
        final = self.metrics.get("final") if isinstance(self.metrics.get("final"), dict) else {}
        return {"name": self.name, "kind": self.kind, "actions": list(self.actions), "folder": self.path.name,
                "config": {k: v for k, v in config.items() if isinstance(v, (int, float, str, bool)) or v is None},
                "final": {k: v for k, v in final.items() if isinstance(v, (int, float, str))}}

    def call(self, action: str, params: dict[str, Any]) -> dict[str, Any]:
        if action not in self.actions:
            raise LookupError(f"a {self.kind} run has no action {action!r}; it has {', '.join(self.actions)}")
        with self.lock, no_grad():
            return getattr(self, action)(params)


def _read_metrics(path: Path) -> dict[str, Any]:
    file = (path if path.is_dir() else path.parent) / "metrics.json"
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


class LanguageModelRun(Run):
    """Next-word probabilities, sampled continuations (temperature, top-k, seed) and beam search."""

    kind = "lm"
    actions = ("next", "generate")

    def __init__(self, name: str, path: Path):
        super().__init__(name, path)
        self.model, self.vocab, self.options = load_lm(path)
        self.skip_ids = [self.vocab.word_to_id[w] for w in lm_task.SKIP_WORDS if w in self.vocab]

    def info(self) -> dict[str, Any]:
        return {**super().info(), "vocab_size": len(self.vocab),
                "example": " ".join(self.vocab.id_to_word[i] for i in range(min(5, len(self.vocab))))}

    def _words(self, params: dict[str, Any]) -> tuple[list[str], list[str]]:
        words = lm_task.text_to_words(text(params, "text"), self.options, self.vocab)
        if len(words) > 200:
            raise UsageError(f"the context has {len(words)} words (at most 200)")
        unknown = [w for w in words if w not in self.vocab]
        if unknown and self.vocab.unk_id is None:
            raise UnknownWordError(f"word {unknown[0]!r} is not in the vocabulary ({len(self.vocab)} words)")
        return words, unknown

    def next(self, params: dict[str, Any]) -> dict[str, Any]:
        """``{text, k}`` -> the ``k`` most probable next words with their probabilities."""
        k = integer(params, "k", 10, 1, 100)
        words, unknown = self._words(params)
        ids = [self.vocab.word_to_id.get(w, self.vocab.unk_id) for w in words]
        top = next_words(self.model, ids, k)
        return {"context": words, "unknown": unknown,
                "next": [{"word": self.vocab.id_to_word[i], "p": round(p, 6)} for i, p in top]}

    def generate(self, params: dict[str, Any]) -> dict[str, Any]:
        """``{text, length, temperature, top_k, seed, beam}`` -> a continuation (sampled, or the beams)."""
        length = integer(params, "length", 20, 1, 100)
        temperature = number(params, "temperature", 1.0, 0.05, 10.0)
        top_k = integer(params, "top_k", 0, 0, len(self.vocab))
        seed = integer(params, "seed", 0, 0, 2**32 - 1)
        beam = integer(params, "beam", 1, 1, 10)
        words, unknown = self._words(params)
        ids = [self.vocab.word_to_id.get(w, self.vocab.unk_id) for w in words]
        if beam > 1:
            beams = [{"text": _join(self.vocab.decode(out)), "logp": round(score, 4)}
                     for out, score in self._beam_search(ids, length, beam)]
            return {"context": words, "unknown": unknown, "mode": "beam", "text": beams[0]["text"], "beams": beams}
        out = generate(self.model, ids, length, temperature=temperature, top_k=top_k or None,
                       skip_ids=self.skip_ids, rng=np.random.default_rng(seed))
        return {"context": words, "unknown": unknown, "mode": "sample", "seed": seed,
                "text": _join(self.vocab.decode(out[len(ids):]))}

    def _log_probs(self, ids: np.ndarray) -> np.ndarray:
        """``(B, V)`` log-probabilities of the word after each row of ``ids`` (B, T), continuing from the
        model's state; only the last position goes through the softmax layer."""
        hidden = self.model.features(ids).data.reshape(ids.shape[0], ids.shape[1], -1)[:, -1]
        weight, bias = self.model.output_layer()
        logits = backend.to_numpy(hidden @ weight.data.T + bias.data).astype(np.float64)
        logits[:, self.skip_ids] = -np.inf
        logits -= logits.max(axis=1, keepdims=True)
        return logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))

    def _beam_search(self, ids: list[int], length: int, beam: int) -> list[tuple[list[int], float]]:
        """The ``beam`` most probable continuations of ``length`` words: the context is read once, then the
        hypotheses advance together as one batch, the LSTM state rows following the hypotheses they belong to."""
        self.model.reset_state()
        try:
            logp = self._log_probs(np.asarray([ids], dtype=np.int64))
            hypotheses: list[tuple[list[int], float]] = [([], 0.0)]
            for step in range(length):
                scores = logp + np.asarray([score for _, score in hypotheses])[:, None]
                flat = scores.ravel()
                best = np.argpartition(-flat, beam - 1)[:beam] if beam < flat.size else np.arange(flat.size)
                best = best[np.argsort(-flat[best], kind="stable")]
                rows, cols = np.unravel_index(best, scores.shape)
                hypotheses = [(hypotheses[r][0] + [int(c)], float(scores[r, c])) for r, c in zip(rows, cols)]
                if step + 1 < length:
                    h, c = self.model.state
                    self.model.state = (Tensor(h.data[:, rows]), Tensor(c.data[:, rows]))
                    logp = self._log_probs(np.asarray(cols, dtype=np.int64).reshape(-1, 1))
        finally:
            self.model.reset_state()
        return hypotheses


def _join(words: list[str]) -> str:
    return " ".join(words).replace(" <eos> ", "\n").replace("<eos>", "").strip()


class Seq2SeqRun(Run):
    """An answer and the attention over the input for each output token (per head when there are heads)."""

    kind = "seq2seq"
    actions = ("translate",)

    def __init__(self, name: str, path: Path):
        super().__init__(name, path)
        self.model, self.codec = load_seq2seq(path)

    def info(self) -> dict[str, Any]:
        return {**super().info(), "level": self.codec.level, "max_input": self.codec.src_length,
                "attention": type(self.model).__name__ == "AttentionSeq2Seq"}

    def translate(self, params: dict[str, Any]) -> dict[str, Any]:
        """``{text, beam}`` -> ``{answer, input_tokens, output_tokens, heads: [matrix (output x input)]}``."""
        beam = integer(params, "beam", 1, 1, 10)
        source = text(params, "text", limit=min(MAX_TEXT, 50 * self.codec.src_length))
        result = translate(self.model, self.codec, source, beam_size=beam)
        heads = []
        if result.weights is not None:
            weights = np.asarray(result.weights)
            heads = _floats(weights[None] if weights.ndim == 2 else weights, 4)
        return {"answer": result.answer, "input_tokens": result.input_tokens, "output_tokens": result.output_tokens,
                "heads": heads}


class ClassifierRun(Run):
    """The predicted label of a text with every class's probability."""

    kind = "classifier"
    actions = ("classify",)

    def __init__(self, name: str, path: Path):
        super().__init__(name, path)
        self.classifier: LoadedClassifier = load_classifier(path)

    def info(self) -> dict[str, Any]:
        return {**super().info(), "labels": self.classifier.labels, "model": self.classifier.config.get("kind")}

    def classify(self, params: dict[str, Any]) -> dict[str, Any]:
        """``{text}`` -> ``{label, probabilities: [{label, p}] most probable first}``."""
        p = np.asarray(self.classifier.predict_proba([text(params, "text")]), dtype=np.float64)[0]
        order = np.argsort(-p, kind="stable")
        labels = self.classifier.labels
        return {"label": labels[int(order[0])],
                "probabilities": [{"label": labels[int(i)], "p": round(float(p[i]), 6)} for i in order]}


class VectorsRun(Run):
    """Nearest neighbours, analogies (a - b + c) and a 2-D map (PCA) of chosen words."""

    kind = "vectors"
    actions = ("neighbors", "analogy", "map")

    def __init__(self, name: str, path: Path):
        super().__init__(name, path)
        self.vectors: KeyedVectors = word2vec_task.load(path)

    def info(self) -> dict[str, Any]:
        return {**super().info(), "words": len(self.vectors), "vector_size": self.vectors.vector_size,
                "example": self.vectors.index_to_key[:12]}

    def _word(self, params: dict[str, Any], key: str) -> str:
        word = text(params, key, limit=MAX_WORD)
        if word not in self.vectors and word.lower() in self.vectors:
            word = word.lower()
        self.vectors.get_index(word)  # UnknownWordError naming the word
        return word

    def neighbors(self, params: dict[str, Any]) -> dict[str, Any]:
        """``{word, k}`` -> the ``k`` nearest words by cosine similarity."""
        k = integer(params, "k", 10, 1, 100)
        word = self._word(params, "word")
        return {"word": word, "neighbors": [{"word": w, "similarity": round(s, 5)}
                                            for w, s in self.vectors.most_similar(word, topn=k)]}

    def analogy(self, params: dict[str, Any]) -> dict[str, Any]:
        """``{a, b, c, k}`` -> the words closest to ``a - b + c`` (``king - man + woman``)."""
        k = integer(params, "k", 5, 1, 100)
        a, b, c = (self._word(params, key) for key in "abc")
        found = self.vectors.most_similar(positive=[a, c], negative=[b], topn=k)
        return {"query": [a, b, c], "answers": [{"word": w, "similarity": round(s, 5)} for w, s in found]}

    def map(self, params: dict[str, Any]) -> dict[str, Any]:
        """``{words}`` -> their 2-D coordinates (the first two principal components of their vectors)."""
        words = word_list(params, "words")
        known = [w if w in self.vectors else w.lower() for w in words if w in self.vectors or w.lower() in self.vectors]
        known = list(dict.fromkeys(known))
        missing = [w for w in words if w not in self.vectors and w.lower() not in self.vectors]
        if len(known) < 3:
            raise UsageError(f"a map needs at least 3 known words, got {len(known)}"
                             + (f" (not in the vocabulary: {', '.join(missing)})" if missing else ""))
        points, variance = pca_2d(np.asarray(self.vectors[known], dtype=np.float64), return_variance=True)
        return {"points": [{"word": w, "x": x, "y": y} for w, (x, y) in zip(known, _floats(points))],
                "variance": _floats(variance, 4), "missing": missing}


RUN_CLASSES: dict[str, type[Run]] = {"lm": LanguageModelRun, "seq2seq": Seq2SeqRun, "classifier": ClassifierRun,
                                     "vectors": VectorsRun}


# ---------------------------------------------------------------------------- finding and loading runs


def detect_kind(path: str | os.PathLike) -> str:
    """``"lm"``, ``"seq2seq"``, ``"classifier"`` or ``"vectors"``: what the run at ``path`` holds."""
    path = Path(path)
    if (path.is_dir() and (path / word2vec_task.VECTORS_FILE).is_file()) or \
            (path.is_file() and path.suffix in VECTOR_FILES and path.name not in ("model.safetensors",
                                                                                 "checkpoint.safetensors")):
        return "vectors"
    file = run_file(path, made_by="zeronlp lm/seq2seq/classify train` or `zeronlp word2vec")
    record = load(file)
    if isinstance(record, dict):
        config = record.get("config")
        if "labels" in record and isinstance(config, dict) and "kind" in config:
            return "classifier"
        if isinstance(record.get("vocab"), dict):
            return "lm"
        if isinstance(record.get("vocab"), list):
            return "seq2seq"
    raise CheckpointError(f"{file}: not a run zeronlp can serve (expected a language model, a seq2seq model, "
                          "a classifier or word vectors)")


def load_run(path: str | os.PathLike, name: str | None = None, kind: str | None = None) -> Run:
    """Load the run at ``path`` (a run directory or a model/vectors file) as the right :class:`Run`."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"{path}: no such run directory or file")
    kind = kind or detect_kind(path)
    if kind not in RUN_CLASSES:
        raise UsageError(f"unknown kind of run {kind!r}; use one of {', '.join(KINDS)}")
    return RUN_CLASSES[kind](name or url_name(path), path)


def url_name(path: Path) -> str:
    """A name fit for a URL from a run's folder (or file) name."""
    base = path.resolve().name if path.is_dir() else path.resolve().parent.name or path.stem
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", base).strip("-.") or "run"


def load_runs(specs: list[str]) -> dict[str, Run]:
    """Runs from ``--run`` values (``DIR`` or ``NAME=DIR``), keyed by unique URL names (``lm``, ``lm-2``)."""
    if not specs:
        raise UsageError("give at least one run: --run DIR (the --out of a training command)")
    runs: dict[str, Run] = {}
    for spec in specs:
        name, sep, folder = spec.partition("=")
        if not sep or not re.fullmatch(r"[A-Za-z0-9_.-]+", name) or Path(spec).exists():
            name, folder = "", spec
        run = load_run(folder, name or None)
        unique, n = run.name, 2
        while unique in runs:
            unique, n = f"{run.name}-{n}", n + 1
        run.name = unique
        runs[unique] = run
    return runs
