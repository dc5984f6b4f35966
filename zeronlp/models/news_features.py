"""NLP 100 Knocks task 70: a news title as the mean of its word vectors.

The exercise uses the GoogleNews vectors, which cannot be downloaded here; :func:`train_news_vectors`
trains word2vec on the Penn Treebank plus the *training* titles instead (valid/test titles are never
seen), or any word2vec ``.bin``/``.txt`` file can be loaded with :func:`load_word_vectors`.

A title whose words are all unknown (or an empty title) gets the zero vector.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..data.news import SPLITS, load_news
from ..data.ptb import load_ptb_sentences
from ..data.vocab import tokenize
from ..fileio import atomic_path

FEATURE_KEYS = tuple(f"{kind}_{split}" for split in SPLITS for kind in ("X", "y"))


def train_news_vectors(vector_size: int = 300, epochs: int = 10, title_repeats: int = 10, sg: int = 1,
                       window: int = 5, min_count: int = 1, seed: int = 0, use_ptb: bool = True) -> Any:
    """word2vec (skip-gram by default) on PTB + the training titles; returns its ``KeyedVectors``.

    The ~10k titles are repeated ``title_repeats`` times so that headline words get as many updates
    as the ~40k PTB sentences; PTB adds general English context.
    """
    from ..embeddings import Word2Vec

    titles = [tokenize(t) for t in load_news("train")[0]]
    sentences = (load_ptb_sentences("train") if use_ptb else []) + titles * title_repeats
    model = Word2Vec(sentences=sentences, vector_size=vector_size, window=window, min_count=min_count,
                     sg=sg, negative=5, epochs=epochs, seed=seed + 1)
    return model.wv


def load_word_vectors(path: str | os.PathLike) -> Any:
    """Word vectors in word2vec format: binary when the name ends in ``.bin``, else text."""
    from ..embeddings import KeyedVectors

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such word-vector file")
    binary = path.suffix == ".bin" or path.name.endswith(".bin.gz")
    return KeyedVectors.load_word2vec_format(path, binary=binary)


def mean_word_vectors(titles: Sequence[str], vectors: Any) -> np.ndarray:
    """``(N, D)`` float32: row i is the mean vector of title i's known tokens (zeros if none is known)."""
    features = np.zeros((len(titles), vectors.vector_size), dtype=np.float32)
    for i, title in enumerate(titles):
        known = [w for w in tokenize(title) if w in vectors]
        if known:
            features[i] = np.mean([vectors[w] for w in known], axis=0)
    return features


def news_features(vectors: Any) -> dict[str, np.ndarray]:
    """``X_train, y_train, X_valid, ...`` for the shipped split: mean word vectors and label ids."""
    features: dict[str, np.ndarray] = {}
    for split in SPLITS:
        titles, labels = load_news(split)
        features[f"X_{split}"] = mean_word_vectors(titles, vectors)
        features[f"y_{split}"] = labels
    return features


def save_features(path: str | os.PathLike, features: dict[str, np.ndarray]) -> Path:
    """Write the arrays to a plain safetensors file (keys ``X_train`` ...), atomically."""
    from safetensors.numpy import save_file

    path = Path(path)
    with atomic_path(path) as tmp:
        save_file({k: np.ascontiguousarray(v) for k, v in features.items()}, str(tmp))
    return path


def load_features(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Read what :func:`save_features` wrote; every key of :data:`FEATURE_KEYS` must be present."""
    from safetensors.numpy import load_file

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such feature file (make it with `zeronlp classify features`)")
    features = load_file(str(path))
    missing = [k for k in FEATURE_KEYS if k not in features]
    if missing:
        raise ValueError(f"{path}: feature file lacks {', '.join(missing)}")
    return features
