"""Stopping a run whose loss runs away while it is still finite.

The Trainer stops on a NaN/inf loss. A run with far too large a learning rate often stays finite
(``lm train --lr 1e6``: a cross-entropy of ~1e5 nats, a perplexity beyond float64) and would go on,
evaluate as ``inf`` and report nonsense. :class:`DivergenceGuard` states one rule:

    **the run has diverged when the mean training loss of the last ``window`` steps (all steps so
    far, when fewer) exceeds ``factor`` x the lowest step loss seen so far + ``margin``**

(defaults: 20 steps, 3 x, + 2; for a cross-entropy in nats). A healthy run's recent mean stays
within a few tenths of a nat of its best step; a diverged one is tens to thousands of nats above.
The guard sees every training step's loss (the Trainer's ``divergence=`` argument calls
:meth:`DivergenceGuard.observe` before each update)
and is a callback, so its memory is saved in checkpoints and a resumed run applies the same rule as
an uninterrupted one. It raises :class:`~zeronlp.errors.TrainingDiverged` before the step's update and before
any checkpoint or best model is written, so no diverged weights are saved or kept as the best model.
"""

from __future__ import annotations

import math
from collections import deque
from pathlib import Path
from typing import Any

from ..errors import CheckpointError, TrainingDiverged, UsageError


class DivergenceGuard:
    """The divergence rule of the module docstring, fed one training loss at a time by :meth:`observe`.

    A callback (``state_dict``/``load_state_dict``): put it among the Trainer's ``callbacks``.
    ``checkpoint``: the run's checkpoint path, named in the error only if the file exists.
    """

    def __init__(self, window: int = 20, factor: float = 3.0, margin: float = 2.0,
                 checkpoint: str | Path | None = None):
        if int(window) != window or window < 1:
            raise UsageError(f"window must be a positive integer, got {window!r}")
        if not factor >= 1 or not margin >= 0:
            raise UsageError(f"factor must be >= 1 and margin >= 0, got {factor!r} and {margin!r}")
        self.window, self.factor, self.margin = int(window), float(factor), float(margin)
        self.checkpoint = Path(checkpoint) if checkpoint is not None else None
        self.recent: deque[float] = deque(maxlen=self.window)
        self.best: float | None = None
        self.steps = 0

    def observe(self, value: float) -> None:
        """Record one training step's loss; raise TrainingDiverged when the rule says so.

        A non-finite value is left to the Trainer (which stops on it) and not recorded.
        """
        if not math.isfinite(value):
            return
        self.steps += 1
        self.recent.append(value)
        self.best = value if self.best is None else min(self.best, value)
        mean = sum(self.recent) / len(self.recent)
        limit = self.factor * self.best + self.margin
        if mean > limit:
            kept = (f"; the last good checkpoint is kept at {self.checkpoint}"
                    if self.checkpoint is not None and self.checkpoint.is_file() else "; no checkpoint was written")
            raise TrainingDiverged(
                f"the loss diverged at step {self.steps}: the mean of the last {len(self.recent)} steps is "
                f"{mean:.4g}, above {self.factor:g} x the best step's {self.best:.4g} + {self.margin:g}; stopped "
                f"without saving{kept}. Try a smaller learning rate or gradient clipping.")

    # ---- callback protocol: the guard's memory travels with the checkpoint -----------------------
    def state_dict(self) -> dict[str, Any]:
        return {"recent": list(self.recent), "best": self.best, "steps": self.steps}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        recent, best, steps = state.get("recent", []), state.get("best"), state.get("steps", 0)
        numbers = isinstance(recent, list) and all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                                    and math.isfinite(v) for v in recent)
        if (not numbers or len(recent) > self.window or (best is not None and not isinstance(best, (int, float)))
                or isinstance(steps, bool) or not isinstance(steps, int) or steps < 0):
            raise CheckpointError("field callbacks: the divergence guard's saved state is malformed")
        self.recent = deque((float(v) for v in recent), maxlen=self.window)
        self.best, self.steps = (float(best) if best is not None else None), steps
