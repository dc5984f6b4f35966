"""Text classification as library functions: NLP 100 Knocks ch. 8 on the shipped news, or any labelled text.

What ``zeronlp classify`` runs, callable from Python::

    from zeronlp.tasks import classify
    result = classify.train("cnn", train="sst2.train.tsv", valid="sst2.dev.tsv", out_dir="runs/sst2")
    classify.predict("runs/sst2", ["a gorgeous, witty film"])
    classify.evaluate("runs/sst2", file="sst2.test.tsv")

Data: with ``train=None`` the shipped NLP-100 news split (10,686 / 1,335 / 1,335 titles, labels
b/t/e/m) is used. Otherwise ``train`` is a ``LABEL<TAB>TEXT`` file (any labels, at least two; e.g.
SST-2's ``0``/``1``), ``valid`` and ``test`` optional files of the same kind. Without ``valid`` the
**last 10%** of the training lines (:data:`VALID_FRACTION`, at least one line) are held out as the
validation set; without ``test`` no test metrics are reported. Every file is read and checked before
anything is written, so a bad file (empty, a line without a tab, a blank line in the middle, invalid
UTF-8, a single label, a valid/test label never seen in training) stops the run with a
:class:`~zeronlp.errors.DataError` naming the file and line and leaves no checkpoint behind.

Word vectors (the input of the feature models ``linear``/``mlp``, and the initial embeddings of the
text models ``mean``/``bigru``/``cnn``): ``vectors=FILE`` (word2vec ``.bin``/``.txt``), else
skip-gram word2vec trained here (:func:`train_vectors`): for the shipped news on PTB plus the
training titles (the exercise's GoogleNews vectors cannot be downloaded); for the user's data on the
user's *training* texts only (they may not be English news; valid/test texts are never seen),
repeated up to 10 times so that small files still give the vectors enough updates.

A run directory holds ``vectors.bin``, ``checkpoint.safetensors`` (resumable),
``checkpoints/epoch_NNN.safetensors`` (task 76; linear by default), ``model.safetensors`` (the
best-on-valid model with its config, labels and vocabulary: what ``predict`` loads),
``features.safetensors`` (feature models, task 70), ``metrics.json``, ``curves_loss.png`` /
``curves_accuracy.png`` (task 75) and ``confusion_matrix.png``. All training goes through
:class:`zeronlp.train.Trainer`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .. import backend, distributed, optim
from .. import functional as F
from ..data.news import CATEGORIES, CATEGORY_NAMES, SPLITS, load_news
from ..data.textfiles import LabelSet, read_labeled_tsv
from ..errors import CheckpointError, UsageError
from ..fileio import atomic_path
from ..models.classifier import (
    FEATURE_MODELS,
    MODEL_KINDS,
    VECTORS_FILE,
    SingleLayerNet,
    build_model,
    classifier_meta,
    load_classifier,
    predict_proba,
)
from ..models.text_classifier import build_vocabulary, encode_texts, pretrained_matrix
from ..serialization import load
from ..train import CHECKPOINT_NAME, EpochMetrics, Trainer, classification_report, format_report, log, write_json
from ..train.divergence import DivergenceGuard
from ..viz.plots import plot_confusion, plot_curves
from .classify_data import (
    VALID_FRACTION,
    ClassifyData,
    feature_arrays,
    load_data,
    load_features,
    save_features,
    train_news_vectors,
    train_vectors,
    vectors_for,
    vectors_key,
    write_vectors_key,
)

MODELS = MODEL_KINDS
DEFAULT_OUT = "runs/classify"
OPTIMIZERS = ("sgd", "adam", "adamw", "rmsprop", "adagrad")
SCHEDULERS = ("cosine", "none")
MAX_LENGTH = 48  # tokens kept per text by the text models
CHECKPOINT_MINUTES = 10.0  # mid-epoch checkpoints (None: this default)

# Chosen on the validation split; every value can be overridden. Measured with word2vec trained on PTB +
# training titles (seed 0), test accuracy: linear 0.896, mlp 0.919, mean 0.924, cnn 0.927, bigru 0.933.
# MLP variants tried (valid / test): 512x2 dropout 0.5: 0.898 / 0.918; 1024x1 dropout 0.5: 0.900 / 0.920.
DEFAULTS: dict[str, dict[str, Any]] = {
    "linear": dict(epochs=50, batch_size=32, optimizer="sgd", lr=1.0, momentum=0.0, scheduler="cosine"),
    "mlp": dict(epochs=40, batch_size=64, optimizer="adam", lr=1e-3, hidden_size=512, depth=2, dropout=0.5,
                scheduler="cosine"),
    "mean": dict(epochs=10, batch_size=32, optimizer="adam", lr=2e-3, dropout=0.3, scheduler="cosine"),
    "bigru": dict(epochs=8, batch_size=32, optimizer="adam", lr=1e-3, hidden_size=128, dropout=0.5,
                  scheduler="cosine"),
    "cnn": dict(epochs=8, batch_size=32, optimizer="adam", lr=1e-3, num_filters=128,
                kernel_sizes=(2, 3, 4), dropout=0.5, scheduler="cosine"),
}
MODEL_KEYS = ("hidden_size", "depth", "dropout", "num_filters", "kernel_sizes")  # settings that shape the model


def loss_and_gradient(model: SingleLayerNet, x: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Task 72: mean cross-entropy of ``softmax(x W)`` against ``y`` and its gradient dL/dW (in, classes)."""
    model.zero_grad()
    loss = F.softmax_cross_entropy(model(x), y)
    loss.backward()
    grad = backend.to_numpy(model.linear.weight.grad).T.copy()
    model.zero_grad()
    return float(loss.data), grad


def features(vectors: str | os.PathLike | None = None, train: str | os.PathLike | None = None,
             valid: str | os.PathLike | None = None, test: str | os.PathLike | None = None,
             out_dir: str | os.PathLike = f"{DEFAULT_OUT}/features", seed: int = 0,
             quiet: bool = False, limit: int | None = None, tokenizer: str = "simple") -> dict[str, Any]:
    """Task 70: every text as the mean of its word vectors, saved as ``out_dir/features.safetensors``
    (with the vectors as ``out_dir/vectors.bin``); plus tasks 71-72 on an untrained single-layer net.
    ``limit``: read only the first N vectors of the ``vectors`` file (e.g. of the GoogleNews file).

    Returns ``{"features", "labels", "path", "vectors_path", "task71": {"first", "first4"},
    "task72": [{"n", "loss", "grad"}, ...]}``.
    """
    data = load_data(train, valid, test, tokenizer=tokenizer)
    word_vectors, _ = vectors_for(data, vectors, seed, quiet, limit=limit)
    arrays = feature_arrays(data, word_vectors)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    word_vectors.save_word2vec_format(out / VECTORS_FILE, binary=True)
    path = save_features(out / "features.safetensors", arrays, data.labels)
    backend.manual_seed(seed)
    net = SingleLayerNet(arrays["X_train"].shape[1], len(data.labels))
    x, y = arrays["X_train"], arrays["y_train"]
    task71 = {"first": F.softmax(net(x[:1])).numpy(), "first4": F.softmax(net(x[:4])).numpy()}
    task72 = []
    for n in (1, 4):
        loss, grad = loss_and_gradient(net, x[:n], y[:n])
        task72.append({"n": n, "loss": loss, "grad": grad})
    return {"features": arrays, "labels": data.labels, "path": path, "vectors_path": out / VECTORS_FILE,
            "task71": task71, "task72": task72, "notes": data.notes}


# ---------------------------------------------------------------------------------------- reports


def _plot_confusion(report: dict[str, Any], path: Path, title: str) -> Path:
    labels = [CATEGORY_NAMES.get(label, label) if tuple(report["labels"]) == CATEGORIES else label
              for label in report["labels"]]
    return plot_confusion(report["confusion_matrix"], labels, path,
                          title=f"{title} (accuracy {report['accuracy']:.3f})")


# ---------------------------------------------------------------------------------------- training


def make_optimizer(name: str, params: Any, lr: float, momentum: float = 0.0, weight_decay: float = 0.0) -> Any:
    """``sgd`` | ``adam`` | ``adamw`` | ``rmsprop`` | ``adagrad`` by name."""
    if name == "sgd":
        return optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay)
    if name == "adam":
        return optim.Adam(params, lr=lr, weight_decay=weight_decay)
    if name == "adamw":
        return optim.AdamW(params, lr=lr, weight_decay=weight_decay or 0.01)
    if name == "rmsprop":
        return optim.RMSprop(params, lr=lr, weight_decay=weight_decay)
    if name == "adagrad":
        return optim.AdaGrad(params, lr=lr, weight_decay=weight_decay)
    raise UsageError(f"unknown optimizer {name!r}; use one of {', '.join(OPTIMIZERS)}")


def _settings(kind: str, overrides: dict[str, Any]) -> dict[str, Any]:
    if kind not in MODELS:
        raise UsageError(f"unknown model {kind!r}; use one of {', '.join(MODELS)}")
    settings = dict(DEFAULTS[kind])
    settings.update({k: v for k, v in overrides.items() if v is not None})
    if "kernel_sizes" in settings:
        settings["kernel_sizes"] = [int(k) for k in settings["kernel_sizes"]]  # JSON lists compare equal on resume
    if settings["optimizer"] not in OPTIMIZERS:
        raise UsageError(f"unknown optimizer {settings['optimizer']!r}; use one of {', '.join(OPTIMIZERS)}")
    if settings.get("scheduler", "none") not in SCHEDULERS:
        raise UsageError(f"unknown scheduler {settings['scheduler']!r}; use cosine or none")
    for name in ("epochs", "batch_size", "hidden_size", "depth", "num_filters"):
        value = settings.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise UsageError(f"{name} must be a positive integer, got {value!r}")
    if not settings["lr"] > 0:
        raise UsageError(f"lr must be positive, got {settings['lr']!r}")
    if "dropout" in settings and not 0 <= settings["dropout"] < 1:
        raise UsageError(f"dropout must be in [0, 1), got {settings['dropout']!r}")
    return settings


def _model_inputs(kind: str, data: ClassifyData, vectors: Any, seed: int) -> tuple[dict[str, Any], dict, Any, Any]:
    """``(arrays per split, config part, embedding matrix or None, vocabulary or None)`` for model ``kind``."""
    if kind in FEATURE_MODELS:
        arrays = feature_arrays(data, vectors)
        inputs = {split: (arrays[f"X_{split}"], arrays[f"y_{split}"]) for split in data.splits}
        return inputs, {"in_features": int(vectors.vector_size), "tokenizer": data.tokenizer}, None, None
    vocab = build_vocabulary(data.tokenize(t) for t in data.splits["train"][0])
    embeddings, known = pretrained_matrix(vocab, vectors, seed=seed)
    inputs = {split: (encode_texts(texts, vocab, MAX_LENGTH, tokenize=data.tokenize), targets)
              for split, (texts, targets) in data.splits.items()}
    config = {"vocab_size": len(vocab), "embedding_dim": int(vectors.vector_size), "max_length": MAX_LENGTH,
              "pretrained_words": known, "tokenizer": data.tokenizer}
    return inputs, config, embeddings, vocab


def _check_resumable(checkpoint: Path, meta: dict[str, Any]) -> dict[str, Any]:
    """A resumed run must see the labels and vocabulary its checkpoint was trained with; returns the
    checkpoint's run config."""
    record = load(checkpoint)
    if not isinstance(record, dict):
        raise CheckpointError(f"cannot resume: {checkpoint} is not a training checkpoint")
    for key in ("labels", "vocab"):
        if key in record and record[key] != meta[key]:
            shown = record[key] if key == "labels" else f"{len(record[key] or [])} words"
            raise CheckpointError(f"cannot resume: {checkpoint} was trained with other {key} ({shown}); "
                                  "use the same data files, or a new --out")
    saved = record.get("train_config")
    return saved if isinstance(saved, dict) else {}


def train(model: str = "linear", train: str | os.PathLike | None = None, valid: str | os.PathLike | None = None,
          test: str | os.PathLike | None = None, vectors: str | os.PathLike | None = None,
          out_dir: str | os.PathLike = f"{DEFAULT_OUT}/train", epochs: int | None = None,
          batch_size: int | None = None, lr: float | None = None, optimizer: str | None = None,
          scheduler: str | None = None, hidden_size: int | None = None, depth: int | None = None,
          dropout: float | None = None, num_filters: int | None = None, kernel_sizes: Sequence[int] | None = None,
          weight_decay: float = 0.0, epoch_checkpoints: bool | None = None, seed: int = 0, quiet: bool = False,
          resume: bool = False, checkpoint_minutes: float | None = None, tokenizer: str = "simple",
          max_minutes: float | None = None) -> dict[str, Any]:
    """Train classifier ``model`` (``linear`` | ``mlp`` | ``mean`` | ``bigru`` | ``cnn``), keep the best epoch
    by validation accuracy, report it on train/valid (and test when there is one).

    Unset hyperparameters take :data:`DEFAULTS`. ``epoch_checkpoints`` (default: only for ``linear``,
    task 76) keeps ``checkpoints/epoch_NNN.safetensors``; a checkpoint is also written inside an
    epoch every ``checkpoint_minutes`` (10 by default) and on Ctrl-C; ``max_minutes`` is a wall-clock
    budget for the run (:class:`~zeronlp.train.Trainer`). A resumed run uses the run's
    ``vectors.bin`` and refuses a ``vectors`` file other than the one it was made from. Returns
    ``{"model", "config", "labels", "history", "final", "reports", "out_dir", "sources",
    "valid_from_train", "notes"}``; ``final`` holds ``{split}_accuracy`` / ``{split}_macro_f1`` per
    split and the per-class scores and confusion matrix of the test split (the valid split when there is no test file).
    """
    kind = model
    settings = _settings(kind, dict(epochs=epochs, batch_size=batch_size, lr=lr, optimizer=optimizer,
                                    scheduler=scheduler, hidden_size=hidden_size, depth=depth, dropout=dropout,
                                    num_filters=num_filters, kernel_sizes=kernel_sizes))
    out = Path(out_dir)
    # everything is read and checked before the first byte is written
    data = load_data(train, valid, test, tokenizer=tokenizer)
    checkpoint = out / CHECKPOINT_NAME
    if resume and not checkpoint.is_file():
        raise CheckpointError(f"cannot resume: no checkpoint at {checkpoint}")
    for note in data.notes:
        log(note, quiet)
    key = vectors_key(data, vectors, seed)
    word_vectors, vectors_source = vectors_for(data, vectors, seed, quiet, out / VECTORS_FILE if resume else None,
                                               key=key)
    inputs, config_part, embeddings, vocab = _model_inputs(kind, data, word_vectors, seed)
    config = {"kind": kind, "num_classes": len(data.labels), **config_part,
              **{k: v for k, v in settings.items() if k in MODEL_KEYS}}
    meta = classifier_meta(config, data.labels, vocab)
    if resume:
        vectors_source = _check_resumable(checkpoint, meta).get("vectors", vectors_source)

    out.mkdir(parents=True, exist_ok=True)
    main = distributed.init().is_main  # with MPI ranks, rank 0 writes
    if main and (not (out / VECTORS_FILE).is_file() or not resume):
        word_vectors.save_word2vec_format(out / VECTORS_FILE, binary=True)
        write_vectors_key(out, key)
    if kind in FEATURE_MODELS and main:
        save_features(out / "features.safetensors",
                      {f"{xy}_{split}": inputs[split][i] for split in inputs for i, xy in enumerate("Xy")},
                      data.labels)

    backend.manual_seed(seed)
    net = build_model(config, embeddings)
    opt = make_optimizer(settings["optimizer"], net.parameters(), settings["lr"], settings.get("momentum", 0.0),
                         weight_decay)
    schedule = optim.CosineAnnealing(opt, settings["epochs"]) if settings.get("scheduler") == "cosine" else None
    train_arrays = inputs["train"]

    def train_metrics(trainer: Trainer, row: dict[str, Any]) -> dict[str, float]:
        # task 75: loss and accuracy on the whole training set, in eval mode (row["loss"] is the running mean)
        return {f"train_{k}": v for k, v in trainer.evaluate(train_arrays).items()}

    run_config = {**config, **settings, "seed": seed, "weight_decay": weight_decay, "data": data.sources,
                  "valid_from_train": data.valid_from_train, "vectors": vectors_source}
    trainer = Trainer(net, opt, batch_size=settings["batch_size"], scheduler=schedule,
                      callbacks=[EpochMetrics(train_metrics)], monitor="valid_accuracy", mode="max",
                      out_dir=out, meta=meta, config=run_config, quiet=quiet,
                      keep_epoch_checkpoints=kind == "linear" if epoch_checkpoints is None else epoch_checkpoints,
                      checkpoint_minutes=checkpoint_minutes or CHECKPOINT_MINUTES, divergence=DivergenceGuard(),
                      max_minutes=max_minutes)
    started = time.perf_counter()
    trainer.fit(train_arrays, valid=inputs["valid"], epochs=settings["epochs"], resume=resume)
    seconds = time.perf_counter() - started
    trainer.restore_best()

    final: dict[str, Any] = {"best_epoch": trainer.best_epoch, "train_seconds": seconds,
                             "num_parameters": net.num_parameters(), "valid_from_train": data.valid_from_train}
    reports = {}
    for split, (x, y) in inputs.items():
        reports[split] = classification_report(predict_proba(net, x).argmax(axis=1), y, data.labels)
        final[f"{split}_accuracy"] = reports[split]["accuracy"]
        final[f"{split}_macro_f1"] = reports[split]["macro_f1"]
    shown = "test" if "test" in reports else "valid"
    final[f"{shown}_per_class"] = reports[shown]["per_class"]
    final[f"{shown}_confusion_matrix"] = reports[shown]["confusion_matrix"]
    trainer.write_metrics(final)
    name = "news" if data.shipped else Path(train).name
    if main:
        plot_curves(trainer.history, ["train_loss", "valid_loss"], out / "curves_loss.png", ylabel="loss",
                    title=f"{name} {kind}: loss")
        plot_curves(trainer.history, ["train_accuracy", "valid_accuracy"], out / "curves_accuracy.png",
                    ylabel="accuracy", title=f"{name} {kind}: accuracy")
        _plot_confusion(reports[shown], out / "confusion_matrix.png", f"{name} {kind}: {shown} confusion")
    summary = "  ".join(f"{split} {final[f'{split}_accuracy']:.4f}" for split in reports)
    log(f"{kind}: best epoch {final['best_epoch']}  accuracy: {summary}  {shown} macro-F1 "
        f"{final[f'{shown}_macro_f1']:.4f}", quiet)
    log(format_report(reports[shown]), quiet)
    return {"model": net, "config": config, "labels": data.labels, "history": trainer.history, "final": final,
            "reports": reports, "out_dir": out, "sources": data.sources, "valid_from_train": data.valid_from_train,
            "notes": data.notes}


# ---------------------------------------------------------------------------------------- inference


def _as_list(ckpt: str | os.PathLike | Sequence[str | os.PathLike]) -> list[str | os.PathLike]:
    return [ckpt] if isinstance(ckpt, (str, os.PathLike)) else list(ckpt)


def _load_all(ckpt: str | os.PathLike | Sequence[str | os.PathLike]) -> list[Any]:
    """One classifier per path; several must share one label set (their probabilities are averaged)."""
    classifiers = [load_classifier(path) for path in _as_list(ckpt)]
    if not classifiers:
        raise UsageError("no trained model given (--ckpt DIR)")
    for path, classifier in zip(_as_list(ckpt)[1:], classifiers[1:]):
        if classifier.labels != classifiers[0].labels:
            raise UsageError(f"{path} predicts labels {classifier.labels}, the first model {classifiers[0].labels}: "
                             "only models with the same labels can be averaged")
    return classifiers


def _mean_proba(classifiers: Sequence[Any], texts: Sequence[str]) -> np.ndarray:
    """Probabilities averaged over the classifiers (one classifier: its own)."""
    return np.mean([c.predict_proba(texts) for c in classifiers], axis=0)


def predict(ckpt: str | os.PathLike | Sequence[str | os.PathLike], texts: Sequence[str]) -> list[dict[str, Any]]:
    """Classify ``texts`` with a trained run (or the average of several): one
    ``{"text", "label", "description", "probabilities": {label: p}}`` per text.

    ``description`` spells out the news categories (``b`` -> ``business``); for other labels it is the label.
    """
    classifiers = _load_all(ckpt)
    labels = classifiers[0].labels
    texts = list(texts)
    rows = []
    for text, probabilities in zip(texts, _mean_proba(classifiers, texts) if texts else []):
        label = labels[int(probabilities.argmax())]
        description = CATEGORY_NAMES.get(label, label) if tuple(labels) == CATEGORIES else label
        rows.append({"text": text, "label": label, "description": description,
                     "probabilities": {k: float(p) for k, p in zip(labels, probabilities)}})
    return rows


def evaluate(ckpt: str | os.PathLike | Sequence[str | os.PathLike], file: str | os.PathLike | None = None,
             split: str = "test", out_dir: str | os.PathLike | None = None) -> dict[str, Any]:
    """Accuracy, per-class P/R/F1 and confusion matrix of one model, or of the average of several.

    ``file``: a ``LABEL<TAB>TEXT`` file (its labels must be among the model's); else the shipped news
    ``split`` (for models trained on the news labels). With ``out_dir``: ``metrics.json`` and
    ``confusion_matrix.png`` there. Returns :func:`classification_report`'s dict plus ``"name"``.
    """
    classifiers = _load_all(ckpt)
    label_set = LabelSet(tuple(classifiers[0].labels))
    if file is not None:
        names, texts = read_labeled_tsv(file)
        targets = label_set.encode(names, file)
        name = Path(file).name
    else:
        if split not in SPLITS:
            raise UsageError(f"unknown split {split!r}; use one of {', '.join(SPLITS)}")
        if not set(CATEGORIES) <= set(label_set.labels):
            raise UsageError(f"the model predicts {label_set.to_list()}, not the news categories: "
                             "evaluate it on your own file with --file")
        texts, ids = load_news(split)
        targets = label_set.encode([CATEGORIES[i] for i in ids], f"news.{split}.txt")
        name = split
    predicted = _mean_proba(classifiers, texts).argmax(axis=1)
    report = classification_report(predicted, targets, label_set.labels)
    report["name"] = name
    if out_dir is not None:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        _plot_confusion(report, out / "confusion_matrix.png", f"{name}: confusion")
        final = {"accuracy": report["accuracy"], "macro_f1": report["macro_f1"], "per_class": report["per_class"],
                 "confusion_matrix": report["confusion_matrix"], "labels": report["labels"]}
        write_json(out / "metrics.json", {"config": {"ckpt": [os.fspath(p) for p in _as_list(ckpt)], "data": name},
                                          "history": [], "final": final})
    return report


# ---------------------------------------------------------------------------------------- task 77


def batch_sizes(features: str | os.PathLike | None = None, vectors: str | os.PathLike | None = None,
                train: str | os.PathLike | None = None, valid: str | os.PathLike | None = None,
                sizes: Sequence[int] = (1, 2, 4, 8, 16, 32, 64, 128), epochs: int = 1, lr: float = 1.0,
                seed: int = 0, out_dir: str | os.PathLike = f"{DEFAULT_OUT}/batch_sizes",
                quiet: bool = False, tokenizer: str = "simple") -> dict[str, Any]:
    """Task 77 (78 on a GPU): train the single-layer net with SGD for each batch size; seconds per epoch.

    Inputs: ``features`` (a file from :func:`features`), else mean word vectors made here (and saved
    as ``out_dir/features.safetensors``). Writes ``batch_sizes.md`` and ``batch_sizes.json``; returns
    ``{"rows": [{"batch_size", "seconds_per_epoch", "train_loss", "valid_accuracy"}], "table", "device"}``.
    """
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise UsageError(f"epochs must be a positive integer, got {epochs!r}")
    if any(isinstance(s, bool) or not isinstance(s, int) or s < 1 for s in sizes) or not sizes:
        raise UsageError(f"batch sizes must be positive integers, got {list(sizes)}")
    out = Path(out_dir)
    if features is not None:
        if train is not None or valid is not None or vectors is not None:
            raise UsageError("give either --features or the data (--train/--valid/--vectors), not both")
        arrays, labels = load_features(features)
    else:
        data = load_data(train, valid, tokenizer=tokenizer)
        word_vectors, _ = vectors_for(data, vectors, seed, quiet)
        arrays, labels = feature_arrays(data, word_vectors), data.labels
        out.mkdir(parents=True, exist_ok=True)
        save_features(out / "features.safetensors", arrays, labels)
    rows = []
    for size in sizes:
        backend.manual_seed(seed)
        net = SingleLayerNet(arrays["X_train"].shape[1], len(labels))
        trainer = Trainer(net, optim.SGD(net.parameters(), lr=lr), batch_size=size, quiet=True)
        trainer.fit((arrays["X_train"], arrays["y_train"]), valid=(arrays["X_valid"], arrays["y_valid"]),
                    epochs=epochs)
        last = trainer.history[-1]
        rows.append({"batch_size": size, "seconds_per_epoch": float(np.mean([r["seconds"] for r in trainer.history])),
                     "train_loss": last["loss"], "valid_accuracy": last["valid_accuracy"]})
        log(f"batch size {size}: {rows[-1]['seconds_per_epoch']:.3f} s/epoch", quiet)
    device = backend.device()
    lines = [f"| batch size | seconds / epoch ({device}) | train loss | valid accuracy |", "|---:|---:|---:|---:|"]
    lines += [f"| {r['batch_size']} | {r['seconds_per_epoch']:.3f} | {r['train_loss']:.4f} | "
              f"{r['valid_accuracy']:.4f} |" for r in rows]
    table = "\n".join(lines)
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "batch_sizes.json", {"device": device, "epochs": epochs, "lr": lr, "rows": rows})
    with atomic_path(out / "batch_sizes.md") as tmp:
        tmp.write_text(table + "\n", encoding="utf-8")
    return {"rows": rows, "table": table, "device": device, "out_dir": out}


__all__ = [
    "DEFAULTS", "MODELS", "VALID_FRACTION", "ClassifyData", "batch_sizes", "classification_report", "evaluate",
    "feature_arrays", "features", "format_report", "load_data", "load_features", "loss_and_gradient",
    "make_optimizer", "predict", "save_features", "train", "train_news_vectors", "train_vectors",
]
