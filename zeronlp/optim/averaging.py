"""Weight averaging: a running average of a model's parameters along the optimizer's path.

Two kinds, both updated once per optimizer step with the current parameters ``theta_n``:

* uniform (``decay=None``, Polyak averaging / SWA / the averaging half of ASGD)::

      avg_n = avg_{n-1} + (theta_n - avg_{n-1}) / n          (= mean of theta_1 .. theta_n)

* exponential moving average (``decay=d``)::

      avg_1 = theta_1,   avg_n = d * avg_{n-1} + (1 - d) * theta_n

  which weights the last ``~1 / (1 - d)`` steps (``d = 0.998``: the last ~500). With
  ``warmup=True`` step ``n`` uses ``min(d, (1 + n) / (10 + n))`` instead (TensorFlow's
  ``ExponentialMovingAverage(num_updates=...)``): the window grows from ~1 step to ``1 / (1 - d)``,
  so a short run is not dominated by its first, untrained iterates.

SGD at a large constant learning rate (the book's lr 20) bounces around a minimum; the average sits
near its centre, so it usually evaluates much better than the last iterate at no extra training
cost. The averages are the same as PyTorch's ``torch.optim.swa_utils.AveragedModel`` (default and
``get_ema_multi_avg_fn(d)``), but the model is not copied: :meth:`AveragedModel.applied` swaps the
averaged weights into the model for evaluation or saving and swaps the training weights back.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from .. import backend


class AveragedModel:
    """Running average of ``model``'s parameters (uniform with ``decay=None``, else EMA with ``decay``,
    optionally with a warm-up of the decay).

    Call :meth:`update_parameters` after every ``optimizer.step()``; evaluate or save inside
    ``with averaged.applied(): ...``. ``state_dict()`` holds host arrays and the update count, so a
    checkpoint can carry it and a resumed run continues the same average. ``model.parameters()`` is
    read once here: create the optimizer's and the average's parameter lists from the same model.
    """

    def __init__(self, model: Any, decay: float | None = None, warmup: bool = False):
        if decay is not None and not 0.0 <= decay < 1.0:
            raise ValueError(f"AveragedModel: decay must be in [0, 1) or None (uniform), got {decay}")
        self.model = model
        self.decay = decay
        self.warmup = warmup
        self.n_averaged = 0
        self._named = list(model.named_parameters())
        self.averages = [p.data.copy() for _, p in self._named]

    def update_parameters(self) -> None:
        """Fold the model's current parameters into the average (one optimizer step)."""
        self.n_averaged += 1
        decay = self.current_decay()
        for avg, (_, p) in zip(self.averages, self._named):
            if self.n_averaged == 1:
                avg[...] = p.data
            elif self.decay is None:
                avg += (p.data - avg) / self.n_averaged
            else:
                avg *= decay
                avg += (1.0 - decay) * p.data

    def current_decay(self) -> float | None:
        """The EMA decay of update number ``n_averaged`` (None for the uniform average)."""
        if self.decay is None or not self.warmup:
            return self.decay
        return min(self.decay, (1.0 + self.n_averaged) / (10.0 + self.n_averaged))

    @contextmanager
    def applied(self) -> Iterator[Any]:
        """Inside the block the model holds the averaged weights; the training weights come back after."""
        saved = [p.data for _, p in self._named]
        try:
            self.copy_to_model()
            yield self.model
        finally:
            for data, (_, p) in zip(saved, self._named):
                p.data = data

    def copy_to_model(self) -> None:
        """Load the averaged weights into the model for good (e.g. when training is over)."""
        for avg, (_, p) in zip(self.averages, self._named):
            p.data = avg.copy()

    def state_dict(self) -> dict[str, Any]:
        """``{"weights": {name: host array}, "n_averaged": int, "decay": float | None, "warmup": bool}``."""
        weights = {name: backend.to_numpy(avg).copy() for avg, (name, _) in zip(self.averages, self._named)}
        return {"weights": weights, "n_averaged": self.n_averaged, "decay": self.decay, "warmup": self.warmup}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        weights = state["weights"]
        missing = [name for name, _ in self._named if name not in weights]
        if missing:
            raise KeyError(f"AveragedModel.load_state_dict: no averaged weights for {missing}")
        xp = backend.xp()
        for i, (name, p) in enumerate(self._named):
            array = np.asarray(weights[name])
            if array.shape != p.data.shape:
                raise ValueError(f"AveragedModel: {name} has shape {array.shape}, the model's is {p.data.shape}")
            self.averages[i] = xp.asarray(array, dtype=p.data.dtype).copy()
        self.n_averaged = int(state["n_averaged"])
