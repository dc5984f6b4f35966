"""Negative sampling from the smoothed unigram distribution ``P(w) ~ count(w)^0.75``.

Draws use Walker's alias method: one uniform integer and one uniform float per sample, no search,
so millions of negatives come from a NumPy Generator in a few vectorized operations. Both word2vec
paths (:class:`zeronlp.embeddings.Word2Vec` and the ``zeronlp.models`` modules) use this class.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


class UnigramSampler:
    """Sample word ids with probability ``p_i = c_i^power / sum_j c_j^power``."""

    def __init__(self, counts: Sequence[int] | np.ndarray, power: float = 0.75) -> None:
        counts = np.asarray(counts, dtype=np.float64)
        if counts.ndim != 1 or counts.size == 0:
            raise ValueError(f"counts must be a non-empty 1-D array, got shape {counts.shape}")
        if (counts < 0).any() or not np.isfinite(counts).all():
            raise ValueError("counts must be finite and non-negative")
        weights = counts**power
        if weights.sum() <= 0:
            raise ValueError("counts must not all be zero")
        self.power = power
        self.probs = weights / weights.sum()
        self.prob, self.alias = _alias_table(self.probs)

    @property
    def vocab_size(self) -> int:
        return self.probs.size

    def sample(self, rng: np.random.Generator, size: int | tuple[int, ...]) -> np.ndarray:
        """``size`` independent draws (int32 ids) from ``rng``."""
        columns = rng.integers(0, self.probs.size, size=size, dtype=np.int32)
        coins = rng.random(size=size, dtype=np.float32)
        return np.where(coins < self.prob[columns], columns, self.alias[columns])

    def get_negative_sample(
        self, rng: np.random.Generator, target: np.ndarray, sample_size: int
    ) -> np.ndarray:
        """The book's API: ``(batch, sample_size)`` negatives; a draw equal to its row's target is redrawn."""
        target = np.asarray(target).reshape(-1, 1)
        negatives = self.sample(rng, (target.shape[0], sample_size))
        clash = negatives == target
        while clash.any() and self.probs.size > 1:
            negatives[clash] = self.sample(rng, int(clash.sum()))
            clash = negatives == target
        return negatives


def _alias_table(probs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Vose's alias method: column ``k`` keeps itself with probability ``prob[k]``, else ``alias[k]``."""
    n = probs.size
    scaled = probs * n
    prob = np.ones(n, dtype=np.float64)
    alias = np.arange(n, dtype=np.int32)
    small = [i for i in range(n) if scaled[i] < 1.0]
    large = [i for i in range(n) if scaled[i] >= 1.0]
    while small and large:
        s, g = small.pop(), large.pop()
        prob[s] = scaled[s]
        alias[s] = g
        scaled[g] = scaled[g] + scaled[s] - 1.0
        (small if scaled[g] < 1.0 else large).append(g)
    # Leftovers are 1 up to rounding.
    return prob.astype(np.float32), alias
