"""One call for the standard word-vector scores: analogies, WordSim-353 and SimLex-999."""

from __future__ import annotations

import numpy as np

from ..data.files import dataset_path, open_dataset
from .keyedvectors import KeyedVectors

MIN_PAIRS = 10  # a correlation over fewer known pairs is not reported
MIN_COVERAGE = 0.10  # nor one over less than this share of the set


def _analogy_question_count() -> int:
    return sum(1 for line in open_dataset("questions-words.txt") if line.strip() and not line.startswith(":"))


def evaluate_all(wv: KeyedVectors) -> tuple[dict, list[dict]]:
    """Scores on the shipped evaluation sets, each with its coverage: ``(metrics, analogy sections)``.

    ``analogy_accuracy`` is over the questions whose four words are in the vocabulary (gensim's rule),
    ``analogy_questions`` of ``analogy_questions_total``; the Spearman/Pearson correlations are over the
    pairs whose two words are (``*_pairs`` of ``*_pairs_total``). A score over fewer than
    :data:`MIN_PAIRS` items or less than :data:`MIN_COVERAGE` of its set is ``None``, with
    ``*_note`` saying so — a number from three pairs would only look like a result.
    """
    accuracy, sections = wv.evaluate_word_analogies()
    total = sections[-1]
    covered = len(total["correct"]) + len(total["incorrect"])
    questions = _analogy_question_count()
    metrics: dict = {"analogy_questions": covered, "analogy_questions_total": questions,
                     "analogy_coverage": covered / questions}
    if covered >= MIN_PAIRS and covered >= MIN_COVERAGE * questions:
        metrics["analogy_accuracy"] = accuracy
    else:
        metrics["analogy_accuracy"] = None
        metrics["analogy_note"] = f"not enough questions in the vocabulary ({covered} of {questions})"
    for name, file in (("wordsim353", "wordsim353.tsv"), ("simlex999", "simlex999.txt")):
        lines = [line for line in dataset_path(file).read_text(encoding="utf-8").splitlines()
                 if line.strip() and not line.startswith("#")]
        try:
            pearson, spearman, oov = wv.evaluate_word_pairs(dataset_path(file))
            known = round(len(lines) * (1 - oov / 100))
        except ValueError:  # fewer than two known pairs (a tiny vocabulary)
            pearson = spearman = None
            known = 0
        metrics.update({f"{name}_pairs": known, f"{name}_pairs_total": len(lines),
                        f"{name}_coverage": known / len(lines)})
        if spearman is not None and known >= MIN_PAIRS and known >= MIN_COVERAGE * len(lines):
            metrics[f"{name}_spearman"] = float(spearman[0])
            metrics[f"{name}_pearson"] = float(pearson[0])
        else:
            metrics[f"{name}_spearman"] = metrics[f"{name}_pearson"] = None
            metrics[f"{name}_note"] = f"not enough pairs in the vocabulary ({known} of {len(lines)})"
    summary = [
        {
            "section": s["section"],
            "correct": len(s["correct"]),
            "total": len(s["correct"]) + len(s["incorrect"]),
            "accuracy": len(s["correct"]) / max(len(s["correct"]) + len(s["incorrect"]), 1),
        }
        for s in sections
    ]
    return metrics, summary


_DESCRIBED = (  # (score key, label, format, counted key, what is counted)
    ("analogy_accuracy", "analogy accuracy", ".2%", "analogy_questions", "questions"),
    ("wordsim353_spearman", "WordSim-353 Spearman", ".3f", "wordsim353_pairs", "pairs"),
    ("simlex999_spearman", "SimLex-999 Spearman", ".3f", "simlex999_pairs", "pairs"),
)


def describe(metrics: dict, prefix: str = "") -> str:
    """One line a person reads: each score with what it covers, or why there is none."""
    parts = []
    for key, label, value_format, counted, unit in _DESCRIBED:
        value = metrics[prefix + key]
        counts = f"{metrics[prefix + counted]} of {metrics[prefix + counted + '_total']} {unit}"
        parts.append(f"{label}: not enough {unit} in the vocabulary ({counts})" if value is None
                     else f"{label} {value:{value_format}} on {counts}")
    return "; ".join(parts)


def pca_2d(vectors: np.ndarray, return_variance: bool = False) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Project rows onto their first two principal components (centered SVD); with ``return_variance``
    also the share of the variance each component explains."""
    centered = vectors - vectors.mean(axis=0, keepdims=True)
    _, singular, vt = np.linalg.svd(centered.astype(np.float64), full_matrices=False)
    points = (centered @ vt[:2].T).astype(np.float32)
    if not return_variance:
        return points
    energy = singular**2
    return points, (energy[:2] / max(energy.sum(), 1e-300)).astype(np.float64)
