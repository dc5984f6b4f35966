"""Dense word vectors from a (PPMI) matrix by truncated SVD: ``M ~ U_k diag(s_k) V_k^T``."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from ..data.vocab import Vocabulary
from ..errors import DataError
from .cooccurrence import cooccurrence_matrix
from .keyedvectors import KeyedVectors
from .ppmi import ppmi


def svd_vectors(
    matrix: sp.spmatrix | np.ndarray,
    dim: int = 100,
    power: float = 0.0,
    seed: int | np.random.Generator | None = 0,
) -> np.ndarray:
    """Word vectors ``U_k diag(s_k)^power`` (float32, ``V x dim``), singular values in descending order.

    ``power=0`` gives the book's ``U[:, :dim]``; ``power=0.5`` the symmetric split often used for PPMI.
    Small matrices use a dense SVD; large ones ARPACK (``svds``) with a seeded start vector, so the
    result is deterministic. Each column's sign is fixed so its largest-magnitude entry is positive.
    """
    n_rows, n_cols = matrix.shape
    if not 1 <= dim <= min(n_rows, n_cols):
        raise ValueError(
            f"dim must be in [1, {min(n_rows, n_cols)}] for a {n_rows}x{n_cols} matrix, got {dim}"
        )
    if min(n_rows, n_cols) <= 1000 or dim >= min(n_rows, n_cols) - 1:
        dense = matrix.toarray() if sp.issparse(matrix) else np.asarray(matrix)
        u, s, _ = np.linalg.svd(dense.astype(np.float64), full_matrices=False)
        u, s = u[:, :dim], s[:dim]
    else:
        rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        v0 = rng.uniform(-1.0, 1.0, size=min(n_rows, n_cols))
        u, s, _ = spla.svds(sp.csr_matrix(matrix, dtype=np.float64), k=dim, v0=v0)
        order = np.argsort(-s)
        u, s = u[:, order], s[order]
    signs = np.sign(u[np.abs(u).argmax(axis=0), np.arange(u.shape[1])])
    signs[signs == 0] = 1.0
    vectors = u * signs * (s**power if power else 1.0)
    return vectors.astype(np.float32)


def ppmi_svd_keyed_vectors(
    sentences, dim: int = 100, window: int = 2, min_count: int = 1, power: float = 0.5, seed: int = 0
):
    """The counting pipeline end to end: vocabulary -> co-occurrence -> PPMI -> SVD -> ``KeyedVectors``.

    Words are numbered most frequent first; out-of-vocabulary words are dropped before counting,
    and the window runs over the concatenated sentences (as in the book).
    """
    sentences = [list(s) for s in sentences]
    vocab = Vocabulary.build(sentences, min_count=min_count, order="frequency")
    if len(vocab) < 2:
        raise DataError(f"PPMI needs at least 2 words seen min_count={min_count} times, got {len(vocab)} "
                        "(a small corpus needs a smaller min_count, e.g. --min-count 1)")
    lookup = vocab.word_to_id
    ids = np.fromiter((lookup.get(w, -1) for s in sentences for w in s), dtype=np.int64)
    ids = ids[ids >= 0]
    matrix = ppmi(cooccurrence_matrix(ids, len(vocab), window=window))
    vectors = svd_vectors(matrix, dim=min(dim, len(vocab) - 1), power=power, seed=seed)
    return KeyedVectors(vocab.id_to_word, vectors, counts=vocab.counts)
