"""Metrics and the ``metrics.json`` record every training command writes."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .. import backend
from ..autograd import array_of
from ..errors import UsageError
from ..fileio import atomic_open


def accuracy(logits: Any, targets: Any) -> float:
    """Fraction of rows whose arg-max equals the target id."""
    scores = backend.to_numpy(array_of(logits))
    t = backend.to_numpy(array_of(targets))
    if scores.shape[:-1] != t.shape:
        raise ValueError(f"accuracy: scores {scores.shape} do not match targets {t.shape}")
    return float((scores.argmax(axis=-1) == t).mean()) if t.size else float("nan")


def confusion_matrix(predicted: Any, targets: Any, num_classes: int) -> np.ndarray:
    """counts[i, j] = number of examples of true class i predicted as j."""
    p = np.asarray(backend.to_numpy(predicted)).ravel()
    t = np.asarray(backend.to_numpy(targets)).ravel()
    return np.bincount(t * num_classes + p, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


def precision_recall_f1(confusion: np.ndarray) -> dict[str, np.ndarray]:
    """Per-class precision, recall and F1 from a confusion matrix (0 where undefined)."""
    tp = np.diag(confusion).astype(np.float64)
    predicted = confusion.sum(axis=0)
    actual = confusion.sum(axis=1)
    precision = np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0)
    recall = np.divide(tp, actual, out=np.zeros_like(tp), where=actual > 0)
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros_like(tp), where=denom > 0)
    return {"precision": precision, "recall": recall, "f1": f1}


def _jsonable(value: Any) -> Any:
    """Plain JSON values; NaN and infinities (no JSON number) become ``null``, i.e. "no value"."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, np.generic):
        return _jsonable(value.item())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_json(path: str | os.PathLike, data: Any) -> None:
    """Write JSON atomically (temporary file + rename)."""
    with atomic_open(path) as handle:
        json.dump(_jsonable(data), handle, indent=2, allow_nan=False)
        handle.write("\n")


def write_metrics(out_dir: str | os.PathLike, config: dict[str, Any], history: list[dict[str, Any]],
                  final: dict[str, Any]) -> Path:
    """Write ``out_dir/metrics.json``: the run's config, per-epoch history and final metrics.

    Final metrics are named like ``test_accuracy`` / ``test_perplexity`` so runs compare by key.
    """
    path = Path(out_dir) / "metrics.json"
    write_json(path, {"config": config, "history": history, "final": final})
    return path


def classification_report(predicted: Any, targets: Any, labels: Sequence[str]) -> dict[str, Any]:
    """Accuracy, per-class precision/recall/F1 (named by label), macro-F1 and the confusion matrix."""
    predicted = np.asarray(predicted).ravel()
    targets = np.asarray(targets).ravel()
    if predicted.shape != targets.shape:
        raise UsageError(f"classification_report: {predicted.size} predictions for {targets.size} targets")
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
    width = max([6, *(len(label) for label in report["per_class"])])
    lines = [f"{'class':>{width}} {'precision':>9} {'recall':>7} {'f1':>7} {'support':>8}"]
    for label, row in report["per_class"].items():
        lines.append(f"{label:>{width}} {row['precision']:9.4f} {row['recall']:7.4f} {row['f1']:7.4f} "
                     f"{row['support']:8d}")
    lines.append(f"accuracy {report['accuracy']:.4f}   macro-F1 {report['macro_f1']:.4f}")
    return "\n".join(lines)
