"""Positive pointwise mutual information of a co-occurrence matrix (sparse in, sparse out)."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp


def ppmi(counts: sp.spmatrix | np.ndarray, shift: float = 0.0) -> sp.csr_matrix:
    """``PPMI(i, j) = max(0, log2(C_ij * N / (S_i * S_j)) - shift)`` with ``N = sum C``, ``S = row sums``.

    Only non-zero counts are touched, so a zero count (whose PMI is ``-inf``) stays zero, a word that
    never co-occurs keeps a zero row, and no divide-by-zero or log-of-zero warning can occur.
    ``S_j`` is the column sum (equal to the row sum for a symmetric ``C``).
    """
    matrix = sp.csr_matrix(counts, dtype=np.float64, copy=True)
    matrix.sum_duplicates()
    matrix.eliminate_zeros()
    if matrix.nnz and matrix.data.min() < 0:
        raise ValueError("co-occurrence counts must be non-negative")
    total = matrix.data.sum()
    if matrix.nnz == 0:
        return sp.csr_matrix(matrix.shape, dtype=np.float32)
    row_sums = np.asarray(matrix.sum(axis=1)).ravel()
    col_sums = np.asarray(matrix.sum(axis=0)).ravel()
    coo = matrix.tocoo()
    pmi = np.log2(coo.data * total / (row_sums[coo.row] * col_sums[coo.col])) - shift
    keep = pmi > 0
    out = sp.coo_matrix(
        (pmi[keep].astype(np.float32), (coo.row[keep], coo.col[keep])), shape=matrix.shape
    ).tocsr()
    return out
