"""One call for the standard word-vector scores: analogies, WordSim-353 and SimLex-999."""

from __future__ import annotations

import numpy as np

from ..data.files import dataset_path
from .keyedvectors import KeyedVectors


def evaluate_all(wv: KeyedVectors) -> tuple[dict, list[dict]]:
    """Scores on the shipped evaluation sets: ``(metrics, analogy section summaries)``.

    ``analogy_accuracy`` is over questions whose four words are in the vocabulary (gensim's rule);
    the Spearman correlations are over pairs whose two words are.
    """
    accuracy, sections = wv.evaluate_word_analogies()
    total = sections[-1]
    metrics: dict = {
        "analogy_accuracy": accuracy,
        "analogy_questions": len(total["correct"]) + len(total["incorrect"]),
    }
    for name, file in (("wordsim353", "wordsim353.tsv"), ("simlex999", "simlex999.txt")):
        try:
            pearson, spearman, oov = wv.evaluate_word_pairs(dataset_path(file))
            metrics[f"{name}_spearman"] = float(spearman[0])
            metrics[f"{name}_pearson"] = float(pearson[0])
            metrics[f"{name}_oov_percent"] = float(oov)
        except ValueError:  # fewer than two known pairs (a tiny vocabulary)
            metrics[f"{name}_spearman"] = float("nan")
            metrics[f"{name}_oov_percent"] = 100.0
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


def pca_2d(vectors: np.ndarray) -> np.ndarray:
    """Project rows onto their first two principal components (centered SVD)."""
    centered = vectors - vectors.mean(axis=0, keepdims=True)
    _, _, vt = np.linalg.svd(centered.astype(np.float64), full_matrices=False)
    return (centered @ vt[:2].T).astype(np.float32)
