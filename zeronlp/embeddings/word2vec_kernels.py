"""word2vec's per-pair updates: a numba kernel and the plain NumPy reference it must equal.

Both consume the same precomputed *plan* (kept word ids, sentence offsets, reduced windows,
learning rates and negative draws), so given one plan they perform the same floating-point
updates in the same order.

The negatives come from a counter-based generator: draw ``k`` of a chunk is
``splitmix64(seed + (k + 1) * golden)``, whose high 32 bits pick an alias-table column (multiply-shift)
and whose low 24 bits are the coin. Draw ``k`` does not depend on the draws before it, so the worker
thread that trains a chunk fills the chunk's negatives itself (:func:`fill_negatives`, compiled) from
the seed the main thread drew, and the NumPy reference gets the same numbers vectorized
(:func:`negative_draws`). (Drawing them inside the update loop instead was measured 15% slower: each
output row's load then waits on its hash.) Knowing the draws ahead also lets the kernels prefetch the
rows of the next pair while they update the current one: the tables (2 x vocabulary x dim floats) do
not fit a core's L2, and each pair reads ``negative + 2`` random rows.

With ``h`` the hidden vector (CBOW: mean of the context input vectors; skip-gram: the input vector
of one context word), target ``t`` (label 1) and negatives ``n_k``
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
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

_CLIP = 30.0


@intrinsic
def _prefetch(typingctx, array, row, col):
    """Ask the CPU to bring ``array[row, col]``'s cache line in (LLVM's ``prefetch``: for writing, keep
    in all levels) — a hint: no effect on results, and no fault for any address."""
    def codegen(context, builder, signature, args):
        aryty = signature.args[0]
        ary = context.make_array(aryty)(context, builder, args[0])
        index = [context.cast(builder, args[k], signature.args[k], types.intp) for k in (1, 2)]
        pointer = cgutils.get_item_pointer(context, builder, aryty, ary, index, wraparound=False)
        byte_pointer = ir.IntType(8).as_pointer()
        i32 = ir.IntType(32)
        function = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(ir.VoidType(), [byte_pointer, i32, i32, i32]), "llvm.prefetch.p0"
        )
        builder.call(function, [builder.bitcast(pointer, byte_pointer), i32(1), i32(3), i32(1)])
        return context.get_dummy_value()

    return types.void(array, row, col), codegen


@numba.njit(inline="always")
def _prefetch_row(array, row):  # pragma: no cover
    for col in range(0, array.shape[1], 16):  # one 64-byte line in 16 float32s
        _prefetch(array, row, col)


@numba.njit(inline="always")
def _prefetch_outputs(syn1neg, target, negatives_row):  # pragma: no cover
    _prefetch_row(syn1neg, target)
    for d in range(negatives_row.shape[0]):
        _prefetch_row(syn1neg, negatives_row[d])


_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_COIN_BITS = np.uint64(0xFFFFFF)
_COIN_SCALE = np.float32(1.0 / (1 << 24))


def negative_draws(seed: int, count: int, prob: np.ndarray, alias: np.ndarray) -> np.ndarray:
    """Draws ``0 .. count-1`` of the chunk with this ``seed`` (int32 word ids), vectorized: the numbers
    :func:`fill_negatives` makes one at a time. ``prob``/``alias``: the sampler's alias table."""
    k = np.arange(1, count + 1, dtype=np.uint64)
    with np.errstate(over="ignore"):
        x = np.uint64(seed) + k * _GOLDEN
        x = (x ^ (x >> np.uint64(30))) * _MIX1
        x = (x ^ (x >> np.uint64(27))) * _MIX2
    x ^= x >> np.uint64(31)
    column = ((x >> np.uint64(32)) * np.uint64(prob.size)) >> np.uint64(32)
    coin = (x & _COIN_BITS).astype(np.float32) * _COIN_SCALE
    return np.where(coin < prob[column], column, alias[column]).astype(np.int32)


@numba.njit(cache=True, nogil=True)
def fill_negatives(seed, out, prob, alias):  # pragma: no cover
    """``out.flat[k]`` = draw ``k`` of the chunk with this ``seed``: :func:`negative_draws`, compiled."""
    flat = out.reshape(-1)
    size = np.uint64(prob.size)
    for k in range(flat.size):
        x = seed + (np.uint64(k) + np.uint64(1)) * _GOLDEN
        x = (x ^ (x >> np.uint64(30))) * _MIX1
        x = (x ^ (x >> np.uint64(27))) * _MIX2
        x = x ^ (x >> np.uint64(31))
        column = np.int64(((x >> np.uint64(32)) * size) >> np.uint64(32))
        coin = np.float32(np.int64(x & _COIN_BITS)) * _COIN_SCALE
        other = alias[column]  # loaded either way: a select, not a branch mispredicted half the time
        flat[k] = column if coin < prob[column] else other


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
            if i + 1 < end:  # the next position's output rows, while this one computes (12% on PTB)
                _prefetch_outputs(syn1neg, ids[i + 1], negatives[i + 1])
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
                if pair + 1 < negatives.shape[0]:  # the next pair's rows, while this one computes
                    _prefetch_row(syn0, ids[j + 1] if j + 1 < hi else ids[i])
                    _prefetch_outputs(syn1neg, ids[i], negatives[pair + 1])
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
