"""Embedding lookup with a fast scatter-add backward, and :func:`as_ids` for integer id inputs."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import backend
from ..autograd import Function, Tensor
from ..errors import UsageError


class IdOutOfRangeError(UsageError, IndexError):
    """An id outside the rows of a weight matrix: a UsageError (ValueError) naming the op, and an
    IndexError as PyTorch raises."""


class InvalidIdsError(UsageError, TypeError):
    """Token ids that are not integers. A :class:`~zeronlp.errors.UsageError` (so a ValueError) and
    a TypeError at once: callers caught either before, and both keep working."""


def as_ids(value: Any, name: str, ndim: int | None = None) -> Any:
    """Token ids as an integer array of the current backend (``xp``), from a Tensor, array or list.

    ``name`` (the model or function that asks) starts the error message: non-integer ids raise
    :class:`InvalidIdsError` (a UsageError, ValueError and TypeError), ids with ``ndim`` given and a
    different number of dimensions raise :class:`~zeronlp.errors.UsageError` (a ValueError); both
    name the shape and the dtype that came. An array already on the backend is returned as it is.
    """
    data = value.data if isinstance(value, Tensor) else value
    xp = backend.xp()
    if hasattr(data, "dtype") and hasattr(data, "shape"):
        ids = data if backend.get_array_module(data) is xp else backend.to_device(data)
    else:
        ids = xp.asarray(data)
        if ids.size == 0 and ids.dtype.kind == "f":  # [] is an empty list of ids, not of floats
            ids = ids.astype(np.int64)
    if ids.dtype.kind not in "iu":
        raise InvalidIdsError(
            f"{name}: ids must be integers, got dtype {ids.dtype} (shape {tuple(ids.shape)})"
        )
    if ndim is not None and ids.ndim != ndim:
        layout = {1: " (batch,)", 2: " (batch, length)"}.get(ndim, "")
        raise UsageError(
            f"{name}: ids must have {ndim} dimension{'s' if ndim != 1 else ''}{layout}, "
            f"got shape {tuple(ids.shape)} (dtype {ids.dtype})"
        )
    return ids


def scatter_add_rows(target: Any, ids: Any, rows: Any) -> Any:
    """target[ids[k]] += rows[k] for every k, accumulating repeated ids.

    NumPy: sort the ids once and sum each run with ``np.add.reduceat`` (several times faster than
    a 2-D ``np.add.at``); CuPy: ``cupy.add.at`` (atomic adds).
    """
    xp = backend.get_array_module(target)
    if ids.size == 0:
        return target
    if xp is not np:
        xp.add.at(target, ids, rows)  # an atomic scatter-add kernel on the GPU
        return target
    order = np.argsort(ids, kind="stable")
    sorted_ids = ids[order]
    starts = np.flatnonzero(np.concatenate(([True], sorted_ids[1:] != sorted_ids[:-1])))
    target[sorted_ids[starts]] += np.add.reduceat(rows[order], starts, axis=0)
    return target


class EmbeddingFunction(Function):
    """y = W[ids] (rows of the weight);  dW = scatter-add of gy into the rows named by ids."""

    fresh_grads = True  # backward's arrays are new and kept nowhere: leaves take them without a copy

    def __init__(self, ids: Any, padding_idx: int | None = None):
        self.ids, self.padding_idx = ids, padding_idx

    def forward(self, weight):
        ids = self.ids
        if weight.ndim != 2:
            raise ValueError(
                f"embedding: weight must be (num_embeddings, embedding_dim), got shape {tuple(weight.shape)}")
        if ids.size and (int(ids.min()) < 0 or int(ids.max()) >= weight.shape[0]):
            bad = ids[(ids < 0) | (ids >= weight.shape[0])].ravel()[0]
            raise IdOutOfRangeError(f"embedding: id {int(bad)} is out of range for {weight.shape[0]} rows")
        if self.padding_idx is not None:
            if not -weight.shape[0] <= self.padding_idx < weight.shape[0]:
                raise UsageError(f"embedding: padding_idx {self.padding_idx} is out of range for "
                                 f"{weight.shape[0]} rows")
            self.padding_idx %= weight.shape[0]  # as PyTorch: a negative padding_idx counts from the end
        self.weight_shape, self.dtype = weight.shape, weight.dtype
        return weight[ids]

    def backward(self, gy):
        xp = backend.get_array_module(gy)
        gw = xp.zeros(self.weight_shape, dtype=gy.dtype)
        flat_ids = self.ids.reshape(-1)
        scatter_add_rows(gw, flat_ids, gy.reshape(flat_ids.size, self.weight_shape[1]))
        if self.padding_idx is not None:
            gw[self.padding_idx] = 0
        return gw

    def backward_graph(self, gy):
        return EmbeddingGrad(self.ids, self.padding_idx, self.weight_shape)(gy)


class EmbeddingGrad(Function):
    """y = zeros(V, D) with the rows of x scatter-added at ids (Embedding's backward);  dx = gy[ids]."""

    def __init__(self, ids: Any, padding_idx: int | None, weight_shape: tuple[int, int]):
        self.ids, self.padding_idx, self.weight_shape = ids, padding_idx, weight_shape

    def forward(self, gy):
        gw = backend.get_array_module(gy).zeros(self.weight_shape, dtype=gy.dtype)
        flat_ids = self.ids.reshape(-1)
        scatter_add_rows(gw, flat_ids, gy.reshape(flat_ids.size, self.weight_shape[1]))
        if self.padding_idx is not None:
            gw[self.padding_idx] = 0
        return gw

    def _masked(self, g):
        if self.padding_idx is None:
            return g
        keep = (self.ids != self.padding_idx)[..., None].astype(g.dtype)
        return g * keep

    def backward(self, ggw):
        return self._masked(ggw[self.ids])

    def backward_graph(self, ggw):
        return self._masked(EmbeddingFunction(self.ids)(ggw))


def embedding(ids, weight, padding_idx: int | None = None) -> Tensor:
    """Look up rows of ``weight`` (num_embeddings, dim) for integer ``ids`` of any shape."""
    if not hasattr(weight, "shape"):
        raise TypeError(f"embedding: weight must be a Tensor or an array, got {type(weight).__name__}")
    return EmbeddingFunction(as_ids(ids, "embedding"), padding_idx)(weight)
