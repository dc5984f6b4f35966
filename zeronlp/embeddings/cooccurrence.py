"""Co-occurrence counts: how often word ``j`` appears within ``window`` words of word ``i``."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp


def cooccurrence_matrix(corpus: np.ndarray, vocab_size: int, window: int = 1) -> sp.csr_matrix:
    """Symmetric co-occurrence matrix ``C`` (``vocab_size x vocab_size``, float32 CSR).

    ``C[w, c] = #{(t, d) : corpus[t] = w, corpus[t + d] = c, 1 <= |d| <= window}``, the book's
    ``create_co_matrix`` counted with one sparse sum per offset instead of a Python loop.
    """
    corpus = np.asarray(corpus)
    if corpus.ndim != 1:
        raise ValueError(f"corpus must be a 1-D array of word ids, got shape {corpus.shape}")
    if window < 1:
        raise ValueError(f"window must be >= 1, got {window}")
    if corpus.size and (corpus.min() < 0 or corpus.max() >= vocab_size):
        raise ValueError(f"corpus ids must lie in [0, {vocab_size}), got [{corpus.min()}, {corpus.max()}]")
    rows, cols = [], []
    for d in range(1, min(window, max(corpus.size - 1, 0)) + 1):
        left, right = corpus[:-d], corpus[d:]
        rows += [left, right]
        cols += [right, left]
    if rows:
        r = np.concatenate(rows).astype(np.int64)
        c = np.concatenate(cols).astype(np.int64)
    else:
        r = c = np.zeros(0, dtype=np.int64)
    data = np.ones(r.size, dtype=np.float32)
    matrix = sp.coo_matrix((data, (r, c)), shape=(vocab_size, vocab_size)).tocsr()
    matrix.sum_duplicates()
    return matrix
