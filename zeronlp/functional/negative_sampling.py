"""Negative-sampling loss for word2vec, fused: output-row lookup, dot products and sigmoid BCE."""

from __future__ import annotations

from typing import Any

from .. import backend
from ..autograd import Function, Tensor, array_of
from .activation import softplus
from .basic import mul, sum, where
from .embedding import IdOutOfRangeError, embedding, scatter_add_rows


class NegativeSamplingLoss(Function):
    """``L = 1/N sum_n [softplus(-h_n . w_{t_n}) + sum_k softplus(h_n . w_{n_nk})]``.

    ``h`` (N, D) hidden vectors, ``weight`` (V, D) output embeddings, ``targets`` (N,) and
    ``negatives`` (N, K) ids. With ``s = h . w`` and label ``y`` (1 target, 0 negative):
    ``dL/ds = (sigmoid(s) - y) / N``; ``dh = sum_k dL/ds_k w_k``; ``dW[id_k] += dL/ds_k h``.
    """

    def __init__(self, targets: Any, negatives: Any):
        xp = backend.get_array_module(targets)
        self.ids = xp.concatenate([targets.reshape(-1, 1), negatives], axis=1)
        self.labels = xp.zeros(self.ids.shape, dtype=bool)
        self.labels[:, 0] = True

    def forward(self, h, weight):
        xp = backend.get_array_module(h)
        if h.ndim != 2 or h.shape[0] != self.ids.shape[0] or h.shape[1] != weight.shape[1]:
            raise ValueError(
                f"negative_sampling_loss: h {h.shape} needs {self.ids.shape[0]} rows of the "
                f"weight's width {weight.shape[1]}"
            )
        if self.ids.size and (int(self.ids.min()) < 0 or int(self.ids.max()) >= weight.shape[0]):
            bad = self.ids[(self.ids < 0) | (self.ids >= weight.shape[0])].ravel()[0]
            raise IdOutOfRangeError(
                f"negative_sampling_loss: id {int(bad)} is out of range for a weight of {weight.shape[0]} rows")
        rows = weight[self.ids]  # (N, 1+K, D)
        scores = xp.einsum("nd,nkd->nk", h, rows)
        signed = xp.where(self.labels, -scores, scores)
        loss = xp.logaddexp(0, signed).sum() / h.shape[0]  # softplus
        self.h, self.rows, self.scores, self.weight_shape = h, rows, scores, weight.shape
        return xp.asarray(loss, dtype=h.dtype)

    def backward(self, gy):
        xp = backend.get_array_module(gy)
        sig = 1 / (1 + xp.exp(-self.scores))
        ds = (sig - self.labels) * (gy / self.h.shape[0])  # (N, 1+K)
        ds = ds.astype(self.h.dtype)
        dh = xp.einsum("nk,nkd->nd", ds, self.rows)
        dw = xp.zeros(self.weight_shape, dtype=self.h.dtype)
        grad_rows = ds[:, :, None] * self.h[:, None, :]
        scatter_add_rows(dw, self.ids.reshape(-1), grad_rows.reshape(self.ids.size, self.h.shape[1]))
        return dh, dw

    def decompose(self, h, weight):
        scores = sum(mul(h[:, None, :], embedding(self.ids, weight)), axis=-1)
        return sum(softplus(where(self.labels, -scores, scores))) / h.shape[0]


def negative_sampling_loss(h, weight, targets, negatives) -> Tensor:
    """Mean word2vec negative-sampling loss; see :class:`NegativeSamplingLoss`."""
    xp = backend.xp()
    if not hasattr(weight, "shape") or getattr(weight, "ndim", 0) != 2:
        raise ValueError(
            f"negative_sampling_loss: weight must be a (V, D) matrix, got {getattr(weight, 'shape', weight)!r}")
    targets = xp.asarray(array_of(targets))
    negatives = xp.asarray(array_of(negatives))
    if targets.dtype.kind not in "iu" or negatives.dtype.kind not in "iu":
        raise TypeError("negative_sampling_loss: targets and negatives must be integer ids")
    if negatives.ndim != 2 or negatives.shape[0] != targets.size:
        raise ValueError(
            f"negative_sampling_loss: negatives {negatives.shape} must be (N, K) for {targets.size} targets"
        )
    return NegativeSamplingLoss(targets, negatives)(h, weight)
