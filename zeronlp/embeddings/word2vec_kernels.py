"""word2vec's per-pair updates: a numba kernel and the plain NumPy reference it must equal.

Both consume the same precomputed *plan* (kept word ids, sentence offsets, reduced windows,
learning rates and negative draws), so given one plan they perform the same floating-point
updates in the same order. With ``h`` the hidden vector (CBOW: mean of the context input vectors;
skip-gram: the input vector of one context word), target ``t`` (label 1) and negatives ``n_k``
(label 0), each output row ``u_o`` gets, in order,

    g = alpha * (label - sigmoid(h . u_o));   e += g * u_o;   u_o += g * h

and finally every input vector that formed ``h`` gets ``+= e``. The loss is
``-log sigmoid(h . u_t) - sum_k log sigmoid(-h . u_{n_k})``. A negative equal to the target is
skipped (as in gensim and the C tool).
"""

from __future__ import annotations

import math

import numba
import numpy as np

_CLIP = 30.0


@numba.njit(cache=True, fastmath=True, nogil=True)
def _update_output(h, syn1neg, target, negatives_row, alpha, work, compute_loss):  # pragma: no cover
    dim = h.shape[0]
    loss = 0.0
    for d in range(negatives_row.shape[0] + 1):
        if d == 0:
            out = target
            label = 1.0
        else:
            out = negatives_row[d - 1]
            if out == target:
                continue
            label = 0.0
        row = syn1neg[out]
        f = np.float32(0.0)
        for k in range(dim):
            f += h[k] * row[k]
        f64 = min(max(float(f), -_CLIP), _CLIP)
        sig = 1.0 / (1.0 + math.exp(-f64))
        if compute_loss:
            loss -= math.log(sig) if label == 1.0 else math.log(1.0 - sig)
        g = np.float32((label - sig) * alpha)
        for k in range(dim):
            work[k] += g * row[k]
            row[k] += g * h[k]
    return loss


@numba.njit(cache=True, fastmath=True, nogil=True)
def cbow_numba(
    ids, offsets, reduced, alphas, negatives, window, syn0, syn1neg, compute_loss
):  # pragma: no cover
    """CBOW with negative sampling over one plan; returns the summed loss (0 unless ``compute_loss``)."""
    dim = syn0.shape[1]
    h = np.zeros(dim, dtype=np.float32)
    work = np.zeros(dim, dtype=np.float32)
    loss = 0.0
    for s in range(offsets.shape[0] - 1):
        start, end = offsets[s], offsets[s + 1]
        for i in range(start, end):
            w = window - reduced[i]
            lo = max(start, i - w)
            hi = min(end, i + w + 1)
            count = hi - lo - 1
            if count <= 0:
                continue
            h[:] = 0.0
            for j in range(lo, hi):
                if j != i:
                    row = syn0[ids[j]]
                    for k in range(dim):
                        h[k] += row[k]
            inv = np.float32(1.0 / count)
            for k in range(dim):
                h[k] *= inv
            work[:] = 0.0
            loss += _update_output(h, syn1neg, ids[i], negatives[i], alphas[i], work, compute_loss)
            for j in range(lo, hi):
                if j != i:
                    row = syn0[ids[j]]
                    for k in range(dim):
                        row[k] += work[k]
    return loss


@numba.njit(cache=True, fastmath=True, nogil=True)
def skipgram_numba(
    ids, offsets, reduced, alphas, negatives, window, syn0, syn1neg, compute_loss
):  # pragma: no cover
    """Skip-gram with negative sampling: each context word's input vector predicts the center word."""
    dim = syn0.shape[1]
    work = np.zeros(dim, dtype=np.float32)
    loss = 0.0
    pair = 0
    for s in range(offsets.shape[0] - 1):
        start, end = offsets[s], offsets[s + 1]
        for i in range(start, end):
            w = window - reduced[i]
            lo = max(start, i - w)
            hi = min(end, i + w + 1)
            for j in range(lo, hi):
                if j == i:
                    continue
                h = syn0[ids[j]]
                work[:] = 0.0
                loss += _update_output(h, syn1neg, ids[i], negatives[pair], alphas[i], work, compute_loss)
                for k in range(dim):
                    h[k] += work[k]
                pair += 1
    return loss


def _update_output_numpy(h, syn1neg, target, negatives_row, alpha, work, compute_loss):
    loss = 0.0
    for d in range(len(negatives_row) + 1):
        out, label = (target, 1.0) if d == 0 else (int(negatives_row[d - 1]), 0.0)
        if d > 0 and out == target:
            continue
        f = float(np.dot(h, syn1neg[out]))
        sig = 1.0 / (1.0 + math.exp(-min(max(f, -_CLIP), _CLIP)))
        if compute_loss:
            loss -= math.log(sig) if label == 1.0 else math.log(1.0 - sig)
        g = np.float32((label - sig) * alpha)
        work += g * syn1neg[out]
        syn1neg[out] += g * h
    return loss


def cbow_numpy(ids, offsets, reduced, alphas, negatives, window, syn0, syn1neg, compute_loss):
    """Reference CBOW: the same updates as :func:`cbow_numba`, one NumPy vector operation at a time."""
    loss = 0.0
    for s in range(len(offsets) - 1):
        start, end = int(offsets[s]), int(offsets[s + 1])
        for i in range(start, end):
            w = window - int(reduced[i])
            context = [j for j in range(max(start, i - w), min(end, i + w + 1)) if j != i]
            if not context:
                continue
            h = syn0[ids[context]].sum(axis=0) * np.float32(1.0 / len(context))
            work = np.zeros_like(h)
            loss += _update_output_numpy(h, syn1neg, int(ids[i]), negatives[i], alphas[i], work, compute_loss)
            for j in context:
                syn0[ids[j]] += work
    return loss


def skipgram_numpy(ids, offsets, reduced, alphas, negatives, window, syn0, syn1neg, compute_loss):
    """Reference skip-gram: the same updates as :func:`skipgram_numba`."""
    loss = 0.0
    pair = 0
    for s in range(len(offsets) - 1):
        start, end = int(offsets[s]), int(offsets[s + 1])
        for i in range(start, end):
            w = window - int(reduced[i])
            for j in range(max(start, i - w), min(end, i + w + 1)):
                if j == i:
                    continue
                h = syn0[ids[j]].copy()
                work = np.zeros_like(h)
                loss += _update_output_numpy(
                    h, syn1neg, int(ids[i]), negatives[pair], alphas[i], work, compute_loss
                )
                syn0[ids[j]] += work
                pair += 1
    return loss


KERNELS = {
    ("numba", 0): cbow_numba,
    ("numba", 1): skipgram_numba,
    ("numpy", 0): cbow_numpy,
    ("numpy", 1): skipgram_numpy,
}
