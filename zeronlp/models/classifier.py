"""News classification (NLP 100 Knocks ch. 8, tasks 71-79) and the saved-classifier format.

* :class:`SingleLayerNet`: ``softmax(x W)`` on averaged word vectors (tasks 71-74);
* :class:`MLPClassifier`: hidden layers with ReLU and dropout (task 79);
* :class:`ClassifierTrainer`: the :class:`~zeronlp.train.Trainer` plus per-epoch train-set metrics,
  a checkpoint file per epoch (task 76) and the best-on-valid model;
* :func:`classification_report`: accuracy, per-class precision/recall/F1, macro-F1, confusion matrix;
* :func:`save_classifier` / :func:`load_classifier`: one safetensors file with the parameters, the
  model config and the vocabulary, so that ``predict`` rebuilds the model with nothing else.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .. import backend
from .. import functional as F
from ..autograd import Tensor, no_grad
from ..data.news import CATEGORIES
from ..data.vocab import Vocabulary
from ..fileio import atomic_path
from ..nn import Dropout, Linear, Module, ReLU, Sequential
from ..serialization import CheckpointError, load, save
from ..train import Trainer, confusion_matrix, precision_recall_f1
from .text_classifier import TextClassifier, encode_titles

MODEL_FILE = "model.safetensors"


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
    """A model from its config (``kind``: ``linear`` | ``mlp`` | ``mean`` | ``bigru`` | ``cnn``)."""
    kind = config["kind"]
    if kind == "linear":
        return SingleLayerNet(config["in_features"], config["num_classes"])
    if kind == "mlp":
        return MLPClassifier(config["in_features"], config["num_classes"], config["hidden_size"],
                             config["depth"], config["dropout"])
    if kind in ("mean", "bigru", "cnn"):
        return TextClassifier(config["vocab_size"], config["embedding_dim"], config["num_classes"],
                              encoder=kind, hidden_size=config.get("hidden_size", 128),
                              kernel_sizes=config.get("kernel_sizes", (2, 3, 4)),
                              num_filters=config.get("num_filters", 128), dropout=config.get("dropout", 0.5),
                              embeddings=embeddings)
    raise ValueError(f"unknown model kind {kind!r}; use linear, mlp, mean, bigru or cnn")


# ---------------------------------------------------------------------------- tasks 71-72


def loss_and_gradient(model: SingleLayerNet, x: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Task 72: mean cross-entropy of ``softmax(x W)`` against ``y`` and its gradient dL/dW (in, classes)."""
    model.zero_grad()
    loss = F.softmax_cross_entropy(model(x), y)
    loss.backward()
    grad = backend.to_numpy(model.linear.weight.grad).T.copy()
    model.zero_grad()
    return float(loss.data), grad


# ---------------------------------------------------------------------------- prediction / metrics


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


def classification_report(predicted: Any, targets: Any, labels: Sequence[str] = CATEGORIES) -> dict[str, Any]:
    """Accuracy, per-class precision/recall/F1 (named by label), macro-F1 and the confusion matrix."""
    predicted = np.asarray(predicted).ravel()
    targets = np.asarray(targets).ravel()
    if predicted.shape != targets.shape:
        raise ValueError(f"classification_report: {predicted.size} predictions for {targets.size} targets")
    confusion = confusion_matrix(predicted, targets, len(labels))
    scores = precision_recall_f1(confusion)
    return {
        "accuracy": float((predicted == targets).mean()) if targets.size else float("nan"),
        "macro_f1": float(scores["f1"].mean()),
        "per_class": {label: {"precision": float(scores["precision"][i]), "recall": float(scores["recall"][i]),
                              "f1": float(scores["f1"][i]), "support": int(confusion[i].sum())}
                      for i, label in enumerate(labels)},
        "confusion_matrix": confusion,
        "labels": list(labels),
    }


def format_report(report: dict[str, Any]) -> str:
    """The report as a small text table."""
    lines = [f"{'class':>6} {'precision':>9} {'recall':>7} {'f1':>7} {'support':>8}"]
    for label, row in report["per_class"].items():
        lines.append(f"{label:>6} {row['precision']:9.4f} {row['recall']:7.4f} {row['f1']:7.4f} {row['support']:8d}")
    lines.append(f"accuracy {report['accuracy']:.4f}   macro-F1 {report['macro_f1']:.4f}")
    return "\n".join(lines)


# ---------------------------------------------------------------------------- training


class ClassifierTrainer(Trainer):
    """:class:`Trainer` with what tasks 75-76 ask for, done at the end of every epoch.

    * ``train_eval=(x, y)``: the epoch's history row gets ``train_loss``/``train_accuracy`` measured
      in eval mode (the base row's ``loss`` is the running mean over the epoch's batches);
    * ``epoch_checkpoints=True``: ``out_dir/checkpoints/epoch_NNN.safetensors`` keeps each epoch's
      parameters and optimizer state (copies of the resumable ``checkpoint.safetensors``);
    * ``on_best(trainer)`` is called when ``valid_accuracy`` improves on every earlier epoch.
    """

    def __init__(self, *args: Any, train_eval: Sequence[Any] | None = None, epoch_checkpoints: bool = True,
                 on_best: Any = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.train_eval, self.epoch_checkpoints, self.on_best = train_eval, epoch_checkpoints, on_best
        self.best_accuracy = -1.0
        self.best_epoch = 0

    def load(self, path: str | Path | None = None) -> dict[str, Any]:
        record = super().load(path)
        for row in self.history:
            if row.get("valid_accuracy", -1.0) > self.best_accuracy:
                self.best_accuracy, self.best_epoch = row["valid_accuracy"], row["epoch"]
        return record

    def save(self, permutation: Any = None, batch_index: int = 0) -> None:
        end_of_epoch = permutation is None and bool(self.history) and self.history[-1]["epoch"] == self.epoch
        if end_of_epoch and self.train_eval is not None and "train_accuracy" not in self.history[-1]:
            measured = self.evaluate(self.train_eval)
            self.history[-1].update({f"train_{k}": v for k, v in measured.items()})
        super().save(permutation, batch_index)
        if not end_of_epoch:
            return
        if self.epoch_checkpoints and self.checkpoint_path is not None:
            with atomic_path(self.out_dir / "checkpoints" / f"epoch_{self.epoch:03d}.safetensors") as tmp:
                shutil.copyfile(self.checkpoint_path, tmp)
        accuracy = self.history[-1].get("valid_accuracy")
        if accuracy is not None and accuracy > self.best_accuracy:
            self.best_accuracy, self.best_epoch = accuracy, self.epoch
            if self.on_best is not None:
                self.on_best(self)


# ---------------------------------------------------------------------------- saved classifiers


def save_classifier(path: str | os.PathLike, model: Module, config: dict[str, Any],
                    vocab: Vocabulary | None = None, extra: dict[str, Any] | None = None) -> Path:
    """One file: ``{"config", "vocab" (list of words or None), "labels", "model" (state dict), ...}``."""
    record = {"config": dict(config), "labels": list(CATEGORIES), "model": dict(model.state_dict()),
              "vocab": list(vocab.id_to_word) if vocab is not None else None, **(extra or {})}
    save(record, path)
    return Path(path)


class NewsClassifier:
    """A trained model with what it needs to classify raw titles (``load_classifier`` returns one).

    Text models (``mean``/``bigru``/``cnn``) carry their vocabulary; the feature models (``linear``/``mlp``)
    read the word vectors named in their config (a word2vec file next to the model file).
    """

    def __init__(self, model: Module, config: dict[str, Any], vocab: Vocabulary | None = None,
                 vectors: Any = None, labels: Sequence[str] = CATEGORIES):
        self.model, self.config, self.vocab, self.vectors = model, config, vocab, vectors
        self.labels = list(labels)
        model.eval()

    def inputs(self, titles: Sequence[str]) -> np.ndarray:
        """Model inputs for ``titles``: padded ids, or mean word vectors."""
        if self.vocab is not None:
            return encode_titles(titles, self.vocab, self.config.get("max_length", 48))
        from .news_features import mean_word_vectors

        return mean_word_vectors(titles, self.vectors)

    def predict_proba(self, titles: Sequence[str]) -> np.ndarray:
        return predict_proba(self.model, self.inputs(titles))

    def predict(self, titles: Sequence[str]) -> list[str]:
        return [self.labels[i] for i in self.predict_proba(titles).argmax(axis=1)]


def load_classifier(path: str | os.PathLike) -> NewsClassifier:
    """Rebuild a classifier from a directory (its ``model.safetensors``) or from the file itself."""
    path = Path(path)
    file = path / MODEL_FILE if path.is_dir() else path
    record = load(file)
    if not isinstance(record, dict) or "config" not in record or "model" not in record:
        raise CheckpointError(f"{file}: not a zeronlp classifier (no config/model in it)")
    config = record["config"]
    model = build_model(config)
    model.load_state_dict(record["model"])
    vocab = vectors = None
    if record.get("vocab") is not None:
        from .text_classifier import UNK

        vocab = Vocabulary(record["vocab"], unk_token=UNK)
    else:
        from .news_features import load_word_vectors

        vectors_file = file.parent / config["vectors"]
        vectors = load_word_vectors(vectors_file)
    return NewsClassifier(model, config, vocab, vectors, record.get("labels", CATEGORIES))
