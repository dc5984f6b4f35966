"""A generic mini-batch training loop with evaluation, history, checkpoints and exact resume."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .. import backend
from .. import functional as F
from ..autograd import no_grad
from ..errors import TrainingDiverged
from ..optim import ReduceOnPlateau, clip_grad_norm_
from .checkpoint import load_checkpoint, save_checkpoint
from .metrics import accuracy
from .progress import log, progress

CHECKPOINT_NAME = "checkpoint.safetensors"




def _check_data(name: str, data: Sequence[Any]) -> tuple[Any, ...]:
    arrays = tuple(data)
    lengths = {len(a) for a in arrays}
    if len(lengths) != 1:
        raise ValueError(f"{name}: inputs and targets differ in length: {[len(a) for a in arrays]}")
    if lengths == {0}:
        raise ValueError(f"{name}: no examples")
    return arrays


class Trainer:
    """Train ``model`` with ``optimizer`` on ``(inputs, targets)`` arrays.

    Each epoch draws a permutation from the backend's host Generator and runs mini-batches of
    ``batch_size``: forward, ``loss_fn(output, targets)``, backward, optional gradient clipping,
    ``optimizer.step()``. After each epoch it evaluates ``valid`` (loss and accuracy), appends a
    history row, steps the scheduler and, with ``out_dir``, saves ``out_dir/checkpoint.safetensors``
    (model, optimizer, scheduler, history, epoch and RNG states). ``fit(..., resume=True)`` continues
    from that checkpoint to the identical state. Ctrl-C saves the position inside the epoch too.
    """

    def __init__(self, model: Any, optimizer: Any, loss_fn: Callable[[Any, Any], Any] | None = None,
                 batch_size: int = 32, max_grad_norm: float | None = None, scheduler: Any = None,
                 out_dir: str | Path | None = None, quiet: bool = False, score_fn: Callable | None = accuracy):
        if batch_size < 1:
            raise ValueError(f"batch_size must be positive, got {batch_size}")
        self.model, self.optimizer = model, optimizer
        self.loss_fn = loss_fn or F.softmax_cross_entropy
        self.batch_size, self.max_grad_norm, self.scheduler = batch_size, max_grad_norm, scheduler
        self.out_dir = Path(out_dir) if out_dir is not None else None
        self.quiet, self.score_fn = quiet, score_fn
        self.history: list[dict[str, Any]] = []
        self.epoch = 0

    @property
    def checkpoint_path(self) -> Path | None:
        return self.out_dir / CHECKPOINT_NAME if self.out_dir is not None else None

    # ---- one batch / one evaluation ----------------------------------------------------------
    def _to_device(self, array: Any) -> Any:
        xp = backend.xp()
        return array if backend.get_array_module(array) is xp else xp.asarray(array)

    def train_step(self, x: Any, t: Any) -> float:
        """One optimizer step on a batch; returns the loss (raises TrainingDiverged if not finite)."""
        self.model.train()
        loss = self.loss_fn(self.model(self._to_device(x)), self._to_device(t))
        value = float(loss.data)
        if not math.isfinite(value):
            where = f" (last good checkpoint kept at {self.checkpoint_path})" if self.checkpoint_path else ""
            raise TrainingDiverged(
                f"loss became {value} at epoch {self.epoch + 1}; stopping without saving{where}. "
                "Try a smaller learning rate or gradient clipping."
            )
        self.optimizer.zero_grad()
        loss.backward()
        if self.max_grad_norm is not None:
            clip_grad_norm_(self.model.parameters(), self.max_grad_norm)
        self.optimizer.step()
        return value

    def evaluate(self, data: Sequence[Any], batch_size: int | None = None) -> dict[str, float]:
        """Mean loss (and score, e.g. accuracy) over ``(inputs, targets)`` with no graph and eval mode."""
        x, t = _check_data("evaluate", data)
        batch_size = batch_size or max(self.batch_size, 256)
        self.model.eval()
        total_loss, total_score, count = 0.0, 0.0, 0
        with no_grad():
            for start in range(0, len(x), batch_size):
                xb, tb = self._to_device(x[start:start + batch_size]), self._to_device(t[start:start + batch_size])
                out = self.model(xb)
                n = len(tb)
                total_loss += float(self.loss_fn(out, tb).data) * n
                if self.score_fn is not None:
                    total_score += self.score_fn(out, tb) * n
                count += n
        self.model.train()
        result = {"loss": total_loss / count}
        if self.score_fn is not None:
            result[getattr(self.score_fn, "__name__", "score")] = total_score / count
        return result

    # ---- checkpoints -------------------------------------------------------------------------
    def save(self, permutation: Any = None, batch_index: int = 0) -> None:
        if self.checkpoint_path is None:
            return
        extra: dict[str, Any] = {"epoch": self.epoch, "history": self.history, "batch_index": batch_index}
        if permutation is not None:
            extra["permutation"] = permutation
        if self.scheduler is not None:
            extra["scheduler"] = self.scheduler.state_dict()
        save_checkpoint(self.checkpoint_path, self.model, self.optimizer, **extra)

    def load(self, path: str | Path | None = None) -> dict[str, Any]:
        path = Path(path) if path is not None else self.checkpoint_path
        if path is None or not path.is_file():
            raise FileNotFoundError(f"cannot resume: no checkpoint at {path}")
        record = load_checkpoint(path, self.model, self.optimizer)
        self.epoch = int(record["epoch"])
        self.history = list(record.get("history", []))
        if self.scheduler is not None and "scheduler" in record:
            self.scheduler.load_state_dict(record["scheduler"])
        return record

    # ---- the loop ----------------------------------------------------------------------------
    def fit(self, train: Sequence[Any], valid: Sequence[Any] | None = None, epochs: int = 1,
            resume: bool = False) -> list[dict[str, Any]]:
        """Train until ``epochs`` epochs are done in total (counting those of a resumed run)."""
        x, t = _check_data("train", train)
        if valid is not None:
            valid = _check_data("valid", valid)
        permutation, start_batch = None, 0
        if resume:
            record = self.load()
            if int(record.get("batch_index", 0)) > 0:
                permutation, start_batch = np.asarray(record["permutation"]), int(record["batch_index"])
            log(f"resumed from {self.checkpoint_path} at epoch {self.epoch}"
                + (f", batch {start_batch}" if start_batch else ""), self.quiet)
        num_batches = math.ceil(len(x) / self.batch_size)
        while self.epoch < epochs:
            if permutation is None:
                permutation = backend.get_host_rng().permutation(len(x))
            started, losses = time.perf_counter(), []
            bar = progress(range(start_batch, num_batches), total=num_batches - start_batch, quiet=self.quiet,
                           desc=f"epoch {self.epoch + 1}/{epochs}")
            batch = start_batch
            try:
                for batch in bar:
                    index = permutation[batch * self.batch_size:(batch + 1) * self.batch_size]
                    losses.append(self.train_step(x[index], t[index]))
                    if batch % 10 == 0:
                        bar.set_postfix_str(f"loss {np.mean(losses[-50:]):.4f}")
            except KeyboardInterrupt:
                bar.close()
                self.save(permutation, batch)
                log(f"interrupted at epoch {self.epoch + 1}, batch {batch}; "
                    f"saved {self.checkpoint_path} (continue with --resume)", self.quiet)
                raise
            bar.close()
            self.epoch += 1
            row: dict[str, Any] = {"epoch": self.epoch, "loss": float(np.mean(losses)) if losses else float("nan"),
                                   "lr": self.optimizer.lr, "seconds": time.perf_counter() - started}
            if valid is not None:
                row.update({f"valid_{k}": v for k, v in self.evaluate(valid).items()})
            self.history.append(row)
            if isinstance(self.scheduler, ReduceOnPlateau):
                self.scheduler.step(row.get("valid_loss", row["loss"]))
            elif self.scheduler is not None:
                self.scheduler.step()
            self.save()
            log("  ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in row.items()), self.quiet)
            permutation, start_batch = None, 0
        return self.history
