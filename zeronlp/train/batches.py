"""Batch sources for the :class:`~zeronlp.train.Trainer`: what one epoch of training reads.

A batch source has ``len()`` (batches per epoch), ``start_epoch(rng)`` (called once at the start of
every epoch, e.g. to draw a shuffling permutation from the host Generator), ``batch(i)`` (the i-th
batch of the current epoch, a tuple of arrays whose last element holds the targets) and
``state_dict()/load_state_dict()`` (what is needed to continue an interrupted epoch exactly).

* :class:`MiniBatches` — shuffled mini-batches over aligned arrays (classifiers, seq2seq, spiral);
* :class:`BPTTWindows` — a corpus read as parallel streams in windows of ``bptt`` steps (language
  models; the model carries its hidden state from window to window);
* :class:`SampledBatches` — batches drawn fresh from a function of the Generator (synthetic tasks).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import numpy as np

from .. import backend
from ..data.bptt import BPTTBatcher
from ..errors import DataError, UsageError


class BatchSource(Protocol):
    def __len__(self) -> int: ...

    def start_epoch(self, rng: np.random.Generator) -> None: ...

    def batch(self, index: int) -> tuple[Any, ...]: ...

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: dict[str, Any]) -> None: ...


def check_aligned(name: str, arrays: Sequence[Any]) -> tuple[Any, ...]:
    """The arrays as a tuple; a :class:`DataError` if they differ in length or are empty."""
    arrays = tuple(arrays)
    if not arrays:
        raise DataError(f"{name}: no arrays given")
    lengths = [len(a) for a in arrays]
    if len(set(lengths)) != 1:
        raise DataError(f"{name}: inputs and targets differ in length: {lengths}")
    if lengths[0] == 0:
        raise DataError(f"{name}: no examples")
    return arrays


def _positive(name: str, value: int) -> int:
    if int(value) != value or value < 1:
        raise UsageError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


class MiniBatches:
    """Mini-batches of ``batch_size`` rows of aligned ``arrays``, in a new random order each epoch.

    The order is a permutation drawn from the Generator passed to :meth:`start_epoch` (the
    backend's host Generator in the Trainer), so ``zn.manual_seed`` makes it repeatable.
    """

    def __init__(self, *arrays: Any, batch_size: int, shuffle: bool = True, drop_last: bool = False):
        self.arrays = check_aligned("MiniBatches", arrays)
        self.batch_size = _positive("batch_size", batch_size)
        self.shuffle, self.drop_last = shuffle, drop_last
        self.num_examples = len(self.arrays[0])
        self.order: np.ndarray | None = None

    def __len__(self) -> int:
        if self.drop_last:
            return max(self.num_examples // self.batch_size, 1)
        return math.ceil(self.num_examples / self.batch_size)

    def start_epoch(self, rng: np.random.Generator) -> None:
        self.order = rng.permutation(self.num_examples) if self.shuffle else np.arange(self.num_examples)

    def batch(self, index: int) -> tuple[Any, ...]:
        if self.order is None:
            raise RuntimeError("MiniBatches.batch called before start_epoch")
        rows = self.order[index * self.batch_size:(index + 1) * self.batch_size]
        return tuple(a[rows] for a in self.arrays)

    def state_dict(self) -> dict[str, Any]:
        return {"order": self.order} if self.order is not None else {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        order = state.get("order")
        if order is None:
            self.order = None
            return
        order = np.asarray(order)
        if order.shape != (self.num_examples,) or order.dtype.kind not in "iu":
            raise DataError(f"MiniBatches: a saved order of shape {order.shape} does not fit "
                            f"{self.num_examples} examples (was the checkpoint made on other data?)")
        self.order = order.astype(np.int64)


class BPTTWindows:
    """Truncated-BPTT windows ``(x, t)`` over a corpus of ids (see :class:`~zeronlp.data.BPTTBatcher`).

    The windows of an epoch are in corpus order; the model carries its hidden state between them
    (pass :class:`~zeronlp.train.CarryState` to the Trainer so it is reset each epoch and saved in
    mid-epoch checkpoints).
    """

    def __init__(self, ids: Any, batch_size: int, bptt: int):
        self.batcher = BPTTBatcher(ids, _positive("batch_size", batch_size), _positive("bptt", bptt))
        self.batch_size, self.bptt = batch_size, bptt

    def __len__(self) -> int:
        return len(self.batcher)

    def start_epoch(self, rng: np.random.Generator) -> None:
        pass

    def batch(self, index: int) -> tuple[Any, ...]:
        window = slice(index * self.bptt, (index + 1) * self.bptt)
        return (np.ascontiguousarray(self.batcher.inputs[:, window]),
                np.ascontiguousarray(self.batcher.targets[:, window]))

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        pass


class SampledBatches:
    """``num_batches`` batches per epoch, each ``sample(rng)`` with the backend's host Generator.

    Used for synthetic data drawn on the fly (binary addition). Exact resume follows from the
    Generator state the checkpoint stores.
    """

    def __init__(self, sample: Callable[[np.random.Generator], tuple[Any, ...]], num_batches: int):
        self.sample, self.num_batches = sample, _positive("num_batches", num_batches)

    def __len__(self) -> int:
        return self.num_batches

    def start_epoch(self, rng: np.random.Generator) -> None:
        pass

    def batch(self, index: int) -> tuple[Any, ...]:
        return self.sample(backend.get_host_rng())

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        pass
