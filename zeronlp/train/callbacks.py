"""Callbacks for the :class:`~zeronlp.train.Trainer`: small objects with optional hooks.

A callback may define ``on_epoch_start(trainer)``, ``on_epoch_end(trainer, row)`` (add fields to
the epoch's history row before it is recorded), and ``state_dict()/load_state_dict(state)`` (saved in
every checkpoint, so a resumed run continues exactly).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import backend
from ..autograd import Tensor
from ..errors import CheckpointError


class CarryState:
    """Stateful truncated BPTT: the model's hidden state (``model.state``, a tuple of tensors or None)
    is reset at the start of every epoch and saved with mid-epoch checkpoints.

    The model carries the (detached) state from one window to the next itself; see
    :class:`~zeronlp.models.RNNLM`.
    """

    def __init__(self, model: Any):
        if not hasattr(model, "reset_state") or not hasattr(model, "state"):
            raise TypeError(f"CarryState needs a stateful model (reset_state() and .state); got {type(model).__name__}")
        self.model = model

    def on_epoch_start(self, trainer: Any) -> None:
        self.model.reset_state()

    def state_dict(self) -> dict[str, Any]:
        state = self.model.state
        if state is None:
            return {}
        return {"state": [backend.to_numpy(t.data).copy() for t in state]}

    def load_state_dict(self, saved: dict[str, Any]) -> None:
        arrays = saved.get("state")
        if arrays is None:
            self.model.reset_state()
            return
        current = [np.asarray(a) for a in arrays]
        if len(current) != 2 or any(a.ndim != 3 for a in current):
            raise CheckpointError(f"CarryState: a saved hidden state must be two (layers, batch, hidden) arrays, "
                                  f"got shapes {[a.shape for a in current]}")
        xp = backend.xp()
        self.model.state = tuple(Tensor(xp.asarray(a, dtype=backend.get_default_dtype())) for a in current)


class EpochMetrics:
    """Adds ``fn(trainer) -> dict`` to every epoch's history row (e.g. train-set accuracy in eval mode,
    or the train perplexity ``exp(loss)``)."""

    def __init__(self, fn: Any):
        self.fn = fn

    def on_epoch_end(self, trainer: Any, row: dict[str, Any]) -> None:
        row.update(self.fn(trainer, row))
