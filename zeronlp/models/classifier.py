"""Text classifiers and the saved-classifier format (NLP 100 Knocks ch. 8, and any labelled text).

* :class:`SingleLayerNet`: ``softmax(x W)`` on averaged word vectors (tasks 71-74);
* :class:`MLPClassifier`: hidden layers with ReLU and dropout (task 79);
* :class:`~zeronlp.models.TextClassifier` (``mean`` | ``bigru`` | ``cnn``) on token ids;
* :func:`build_model`: any of them from its config;
* :func:`mean_word_vectors`: the input of the feature models (a text as the mean of its word vectors);
* :func:`save_classifier` / :func:`load_classifier`: one safetensors file with the parameters, the
  model config, the label set and (for the text models) the vocabulary, so that prediction rebuilds
  the model with nothing else. The feature models read their word vectors from :data:`VECTORS_FILE`
  beside the model file (a fixed name: nothing inside a file chooses which other file is opened,
  and a ``vectors.bin`` that is a link to a file outside the run directory is refused).

A saved classifier is data from whoever made it: :func:`load_classifier` checks its config (types,
ranges, agreement with the labels, the vocabulary and the shape of every stored tensor) before it
builds the model, so nothing is allocated beyond what the file holds.

Training lives in :mod:`zeronlp.tasks.classify`; this module only builds, saves, loads and predicts.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .. import backend
from .. import functional as F
from ..autograd import Tensor, no_grad
from ..data.textfiles import TOKENIZERS, LabelSet, get_tokenizer
from ..data.vocab import Vocabulary, tokenize
from ..embeddings import KeyedVectors
from ..errors import CheckpointError, DataError, UsageError
from ..nn import Dropout, Linear, Module, ReLU, Sequential
from ..serialization import (
    MODEL_FILE,
    check_shapes,
    config_choice,
    config_float,
    config_int,
    load,
    run_file,
    save,
)
from .text_classifier import ENCODERS, PAD, UNK, TextClassifier, encode_texts

VECTORS_FILE = "vectors.bin"
FEATURE_MODELS = ("linear", "mlp")
TEXT_MODELS = ENCODERS
MODEL_KINDS = FEATURE_MODELS + TEXT_MODELS
MAX_SIZE = 1 << 24  # a bound on any one size in a stored config; the tensors then bound the rest
MAX_LAYERS = 64
MAX_TEXT_LENGTH = 1 << 16  # tokens per text (inputs are allocated with it)


class SingleLayerNet(Module):
    """``y = softmax(x W)`` with ``W`` of shape (in, classes): the exercise's single-layer network.

    Stored as a bias-free ``Linear`` (``linear.weight`` = W^T, PyTorch's layout); ``forward`` gives logits.
    """

    def __init__(self, in_features: int, num_classes: int = 4):
        super().__init__()
        self.linear = Linear(in_features, num_classes, bias=False)

    def forward(self, x: Any) -> Tensor:
        return self.linear(x)


class MLPClassifier(Module):
    """``depth`` hidden layers of ``hidden_size`` units (Linear -> ReLU -> Dropout), then a Linear."""

    def __init__(self, in_features: int, num_classes: int = 4, hidden_size: int = 256, depth: int = 2,
                 dropout: float = 0.3):
        super().__init__()
        layers: list[Module] = []
        width = in_features
        for _ in range(depth):
            layers += [Linear(width, hidden_size), ReLU(), Dropout(dropout)]
            width = hidden_size
        layers.append(Linear(width, num_classes))
        self.net = Sequential(*layers)

    def forward(self, x: Any) -> Tensor:
        return self.net(x)


def build_model(config: dict[str, Any], embeddings: Any = None) -> Module:
    """A model from its config (``kind``: ``linear`` | ``mlp`` | ``mean`` | ``bigru`` | ``cnn``).

    ``embeddings``: an initial embedding matrix for the text models (ignored by the feature models).
    """
    kind = config.get("kind")
    if kind == "linear":
        return SingleLayerNet(config["in_features"], config["num_classes"])
    if kind == "mlp":
        return MLPClassifier(config["in_features"], config["num_classes"], config["hidden_size"],
                             config["depth"], config["dropout"])
    if kind in TEXT_MODELS:
        return TextClassifier(config["vocab_size"], config["embedding_dim"], config["num_classes"],
                              encoder=kind, hidden_size=config.get("hidden_size", 128),
                              kernel_sizes=config.get("kernel_sizes", (2, 3, 4)),
                              num_filters=config.get("num_filters", 128), dropout=config.get("dropout", 0.5),
                              embeddings=embeddings)
    raise UsageError(f"unknown model kind {kind!r}; use one of {', '.join(MODEL_KINDS)}")


# ---------------------------------------------------------------------------- inputs and prediction


def load_word_vectors(path: str | os.PathLike, limit: int | None = None) -> KeyedVectors:
    """Word vectors in word2vec format: binary when the name ends in ``.bin``, else text.

    ``limit``: only the first N vectors (the file is streamed: memory for N vectors only).
    A missing or malformed file raises :class:`~zeronlp.errors.DataError` naming it.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError("no such word-vector file (word2vec .bin or .txt expected)", path)
    binary = path.suffix == ".bin" or path.name.endswith(".bin.gz")
    try:
        return KeyedVectors.load_word2vec_format(path, binary=binary, limit=limit)
    except (ValueError, OSError) as err:
        message = str(err)
        if message.startswith(str(path)):  # the reader already names the file and line
            raise DataError(message) from None
        kind = "binary" if binary else "text"
        raise DataError(f"cannot read it as a word2vec {kind} file ({message})", path) from None


def mean_word_vectors(texts: Sequence[str], vectors: Any,
                      tokenize: Callable[[str], list[str]] = tokenize) -> np.ndarray:
    """``(N, D)`` float32: row i is the mean vector of text i's known tokens (zeros if none is known).

    Texts are split with ``tokenize`` (default :func:`~zeronlp.data.tokenize`, task 70's features).
    """
    features = np.zeros((len(texts), vectors.vector_size), dtype=np.float32)
    for i, text in enumerate(texts):
        known = [w for w in tokenize(text) if w in vectors]
        if known:
            features[i] = np.mean([vectors[w] for w in known], axis=0)
    return features


def predict_proba(model: Module, x: Any, batch_size: int = 512) -> np.ndarray:
    """Class probabilities ``(N, C)`` in eval mode without a graph."""
    was_training = model.training
    model.eval()
    parts = []
    with no_grad():
        for start in range(0, len(x), batch_size):
            logits = model(backend.xp().asarray(x[start:start + batch_size]))
            parts.append(backend.to_numpy(F.softmax(logits).data))
    model.train(was_training)
    return np.concatenate(parts) if parts else np.zeros((0, 0), dtype=np.float32)


# ---------------------------------------------------------------------------- saved classifiers


def classifier_meta(config: dict[str, Any], labels: Sequence[str], vocab: Vocabulary | None = None) -> dict[str, Any]:
    """What a saved classifier holds besides its weights: ``{"config", "labels", "vocab"}``.

    The Trainer stores this ``meta`` in its checkpoints and in the best model, so the best model file
    is itself a saved classifier.
    """
    return {"config": dict(config), "labels": list(labels),
            "vocab": list(vocab.id_to_word) if vocab is not None else None}


def save_classifier(path: str | os.PathLike, model: Module, config: dict[str, Any], labels: Sequence[str],
                    vocab: Vocabulary | None = None, extra: dict[str, Any] | None = None) -> Path:
    """One file: ``{"model" (state dict), "config", "labels", "vocab" (list of words or None), **extra}``."""
    save({"model": dict(model.state_dict()), **classifier_meta(config, labels, vocab), **(extra or {})}, path)
    return Path(path)


class LoadedClassifier:
    """A trained model with what it needs to classify raw texts (what :func:`load_classifier` returns).

    Text models (``mean``/``bigru``/``cnn``) carry their vocabulary; the feature models (``linear``/``mlp``)
    carry the word vectors read from :data:`VECTORS_FILE` beside the model file.
    """

    def __init__(self, model: Module, config: dict[str, Any], labels: Sequence[str],
                 vocab: Vocabulary | None = None, vectors: Any = None):
        if vocab is None and vectors is None:
            raise UsageError("LoadedClassifier needs a vocabulary (text models) or word vectors (feature models)")
        self.model, self.config, self.vocab, self.vectors = model, config, vocab, vectors
        self.label_set = LabelSet(tuple(labels))
        self.labels = list(labels)
        model.eval()

    def inputs(self, texts: Sequence[str]) -> np.ndarray:
        """Model inputs for ``texts`` split as the training texts were: padded ids, or mean word vectors."""
        split = get_tokenizer(self.config.get("tokenizer", "simple"))
        if self.vocab is not None:
            return encode_texts(texts, self.vocab, self.config.get("max_length", 48), tokenize=split)
        return mean_word_vectors(texts, self.vectors, tokenize=split)

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """``(N, len(labels))`` class probabilities."""
        return predict_proba(self.model, self.inputs(texts))

    def predict(self, texts: Sequence[str]) -> list[str]:
        """The most probable label of each text."""
        return [self.labels[i] for i in self.predict_proba(texts).argmax(axis=1)]


def _fail(file: Path, message: str) -> CheckpointError:
    return CheckpointError(f"{file}: {message}")


def check_classifier_config(config: Any, source: Any = "config") -> dict[str, Any]:
    """The model fields of a stored classifier config, checked (types and ranges); builds nothing."""
    kind = config_choice(config, "kind", source, MODEL_KINDS)
    checked: dict[str, Any] = {"kind": kind, "num_classes": config_int(config, "num_classes", source, 2, MAX_SIZE),
                               "tokenizer": config_choice(config, "tokenizer", source, tuple(TOKENIZERS),
                                                          default="simple")}
    if kind in FEATURE_MODELS:
        checked["in_features"] = config_int(config, "in_features", source, 1, MAX_SIZE)
        if kind == "mlp":
            checked["hidden_size"] = config_int(config, "hidden_size", source, 1, MAX_SIZE)
            checked["depth"] = config_int(config, "depth", source, 0, MAX_LAYERS)
            checked["dropout"] = config_float(config, "dropout", source, 0.0, 1.0, high_open=True)
        return checked
    checked["vocab_size"] = config_int(config, "vocab_size", source, 2, MAX_SIZE)
    checked["embedding_dim"] = config_int(config, "embedding_dim", source, 1, MAX_SIZE)
    checked["max_length"] = config_int(config, "max_length", source, 1, MAX_TEXT_LENGTH, default=48)
    checked["dropout"] = config_float(config, "dropout", source, 0.0, 1.0, default=0.5, high_open=True)
    if kind == "bigru":
        checked["hidden_size"] = config_int(config, "hidden_size", source, 1, MAX_SIZE, default=128)
    if kind == "cnn":
        checked["num_filters"] = config_int(config, "num_filters", source, 1, MAX_SIZE, default=128)
        sizes = config.get("kernel_sizes", [2, 3, 4])
        if not isinstance(sizes, list) or not 1 <= len(sizes) <= MAX_LAYERS:
            raise CheckpointError(f"{source}: field config/kernel_sizes: expected a list of 1 to {MAX_LAYERS} sizes")
        checked["kernel_sizes"] = [config_int({"kernel_sizes": k}, "kernel_sizes", source, 1, checked["max_length"])
                                   for k in sizes]
    return checked


def classifier_parameter_shapes(config: dict[str, Any]) -> dict[str, tuple[int, ...]]:
    """The name and shape of every parameter of the model a checked ``config`` describes (no allocation)."""
    kind, classes = config["kind"], config["num_classes"]
    if kind == "linear":
        return {"linear.weight": (classes, config["in_features"])}
    if kind == "mlp":
        shapes: dict[str, tuple[int, ...]] = {}
        width = config["in_features"]
        for layer in range(config["depth"]):  # Linear, ReLU, Dropout per hidden layer
            shapes |= {f"net.{3 * layer}.weight": (config["hidden_size"], width),
                       f"net.{3 * layer}.bias": (config["hidden_size"],)}
            width = config["hidden_size"]
        return shapes | {f"net.{3 * config['depth']}.weight": (classes, width),
                         f"net.{3 * config['depth']}.bias": (classes,)}
    dim = config["embedding_dim"]
    shapes = {"embedding.weight": (config["vocab_size"], dim)}
    if kind == "mean":
        width = dim
    elif kind == "bigru":
        hidden = config["hidden_size"]
        for direction in ("forward", "backward"):
            shapes |= {f"gru_{direction}.weight_ih_l0": (3 * hidden, dim),
                       f"gru_{direction}.weight_hh_l0": (3 * hidden, hidden),
                       f"gru_{direction}.bias_ih_l0": (3 * hidden,), f"gru_{direction}.bias_hh_l0": (3 * hidden,)}
        width = 2 * hidden
    else:
        filters = config["num_filters"]
        for i, size in enumerate(config["kernel_sizes"]):
            shapes |= {f"convs.{i}.weight": (filters, dim, size), f"convs.{i}.bias": (filters,)}
        width = filters * len(config["kernel_sizes"])
    return shapes | {"output.weight": (classes, width), "output.bias": (classes,)}


def load_classifier(path: str | os.PathLike) -> LoadedClassifier:
    """Rebuild a classifier from a run directory (its ``model.safetensors``) or from the file itself.

    Everything is checked against the file's own contents (config, labels, vocabulary, parameter
    shapes); a problem raises :class:`~zeronlp.errors.CheckpointError` naming the file.
    """
    file = run_file(path, names=(MODEL_FILE,), made_by="zeronlp classify train")
    record = load(file)
    if not isinstance(record, dict) or not isinstance(record.get("config"), dict) \
            or not isinstance(record.get("model"), dict):
        raise _fail(file, "not a zeronlp classifier (no config/model in it)")
    config = record["config"]
    checked = check_classifier_config(config, file)
    kind = checked["kind"]
    try:
        labels = LabelSet.from_list(record.get("labels")).to_list()
    except (DataError, TypeError, ValueError) as err:
        raise _fail(file, f"field labels: bad label set: {err}") from None
    if checked["num_classes"] != len(labels):
        raise _fail(file, f"field config/num_classes: config says {checked['num_classes']} classes but the file "
                          f"lists {len(labels)} labels")
    check_shapes(record["model"], classifier_parameter_shapes(checked), file)
    vocab = vectors = None
    if kind in TEXT_MODELS:
        words = record.get("vocab")
        if not isinstance(words, list) or not all(isinstance(w, str) for w in words) or words[:2] != [PAD, UNK]:
            raise _fail(file, f"field vocab: a {kind} model needs its vocabulary in the file (a list of words: "
                              f"{PAD}, {UNK}, ...)")
        vocab = Vocabulary(words, unk_token=UNK)
        if len(vocab) != len(words) or len(vocab) != checked["vocab_size"]:
            raise _fail(file, f"field vocab: vocabulary of {len(words)} words ({len(vocab)} distinct) for a model of "
                              f"vocab_size {checked['vocab_size']}")
    else:
        vectors_file = file.parent / VECTORS_FILE
        if not vectors_file.is_file():
            raise _fail(file, f"a {kind} model reads its word vectors from {vectors_file}, which is missing")
        if vectors_file.resolve().parent != file.parent.resolve():
            raise _fail(file, f"{vectors_file} links to {vectors_file.resolve()}, outside the run directory: refused")
        vectors = load_word_vectors(vectors_file)
        if vectors.vector_size != checked["in_features"]:
            raise _fail(file, f"the model takes {checked['in_features']}-dimensional inputs but {vectors_file} "
                              f"holds {vectors.vector_size}-dimensional vectors")
    try:
        model = build_model(checked)
        model.load_state_dict(record["model"])
    except (KeyError, ValueError, TypeError) as err:
        raise _fail(file, f"cannot rebuild the {kind} model from it ({err})") from None
    return LoadedClassifier(model, {**config, **checked}, labels, vocab, vectors)
