"""Callbacks for the :class:`~zeronlp.train.Trainer`: small objects with optional hooks.

A callback may define ``on_epoch_start(trainer)``, ``on_epoch_end(trainer, row)`` (add fields to
the epoch's history row before it is recorded), and ``state_dict()/load_state_dict(state)`` (saved in
every checkpoint, so a resumed run continues exactly).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import backend, distributed
from ..autograd import Tensor
from ..errors import CheckpointError


class CarryState:
    """Stateful truncated BPTT: the model's hidden state (``model.state``, a tuple of tensors or None)
    is reset at the start of every epoch and saved with mid-epoch checkpoints.

    The model carries the (detached) state from one window to the next itself; see
    :class:`~zeronlp.models.RNNLM`. With several ranks (``comm``, default the run's communicator) each
    rank carries the state of its block of the streams; a checkpoint holds the states of all streams
    in order, and loading gives each rank its block again, for any number of ranks.
    """

    def __init__(self, model: Any, comm: distributed.Communicator | None = None):
        if not hasattr(model, "reset_state") or not hasattr(model, "state"):
            raise TypeError(f"CarryState needs a stateful model (reset_state() and .state); got {type(model).__name__}")
        self.model = model
        self.comm = comm if comm is not None else distributed.init()

    def on_epoch_start(self, trainer: Any) -> None:
        self.model.reset_state()

    def state_dict(self) -> dict[str, Any]:
        state = self.model.state
        local = None if state is None else [backend.to_numpy(t.data).copy() for t in state]
        if self.comm.size > 1:  # every rank's streams, in rank order (a collective: all ranks call it)
            blocks = [b for b in self.comm.allgather(local) if b is not None]
            local = [np.concatenate(parts, axis=1) for parts in zip(*blocks)] if blocks else None
        return {} if local is None else {"state": local}

    def load_state_dict(self, saved: dict[str, Any]) -> None:
        arrays = saved.get("state")
        if arrays is None:
            self.model.reset_state()
            return
        current = [np.asarray(a) for a in arrays]
        if len(current) != 2 or any(a.ndim != 3 for a in current):
            raise CheckpointError(f"CarryState: a saved hidden state must be two (layers, batch, hidden) arrays, "
                                  f"got shapes {[a.shape for a in current]}")
        if self.comm.size > 1:
            start, stop = self.comm.shard_range(current[0].shape[1])
            current = [a[:, start:stop] for a in current]
        xp = backend.xp()
        self.model.state = tuple(Tensor(xp.asarray(a, dtype=backend.get_default_dtype())) for a in current)


class EpochMetrics:
    """Adds ``fn(trainer) -> dict`` to every epoch's history row (e.g. train-set accuracy in eval mode,
    or the train perplexity ``exp(loss)``)."""

    def __init__(self, fn: Any):
        self.fn = fn

    def on_epoch_end(self, trainer: Any, row: dict[str, Any]) -> None:
        row.update(self.fn(trainer, row))
