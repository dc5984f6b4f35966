"""THE training loop: every model in zeronlp trains through :class:`Trainer`.

What differs between experiments is passed in, never copied into another loop:

* the **batch source** (``train``): shuffled mini-batches, truncated-BPTT windows, sampled batches
  (:mod:`zeronlp.train.batches`), or a tuple of arrays (shuffled mini-batches of ``batch_size``);
* the **loss** (``loss_fn(model, batch) -> Tensor``), by default softmax cross-entropy of
  ``model(batch[0])`` against ``batch[-1]``;
* the **evaluation** (``valid``): arrays (mean loss and ``score_fn``) or ``valid(model) -> dict``;
  which metric picks the best model (``monitor``, ``mode``); a scheduler, stepped once an epoch (on
  that metric for ``ReduceOnPlateau``) or, if its ``per_step`` is true, after every optimizer step;
* **clipping**, **weight averaging** (an :class:`~zeronlp.optim.AveragedModel`, which is then
  evaluated and kept), and **callbacks** (``on_epoch_start``, ``on_epoch_end``, ``state_dict``).

It keeps a progress bar, per-epoch evaluation and history, a checkpoint every epoch, on Ctrl-C (with
the position inside the epoch) and optionally every N steps or minutes, exact resume, the best model
(``model.safetensors``), ``metrics.json`` after every epoch, an optional **time budget**
(``max_minutes``: wall-clock minutes of the whole run, resumes included — the epoch running when
it is spent is evaluated as it stands, marked ``partial_epoch``, and the run stops with the position
inside that epoch saved, so that a resumed run with a larger budget finishes it), and stops with
:class:`~zeronlp.errors.TrainingDiverged` on a NaN/inf loss, leaving the last good checkpoint intact.

**Data parallel** (under ``mpirun -n N``, see :mod:`zeronlp.distributed`): every rank runs the same
loop on a replica of the model. Each global batch (``batch_size`` rows, or ``batch_size`` BPTT streams)
is split into contiguous blocks, one per rank; the gradients are averaged over the ranks, weighted by
each block's targets, between ``backward()`` and the step, so N ranks make the update one process makes
with the whole batch. The loss, the NaN check, Ctrl-C and timed checkpoints are agreed in the same
reduction; evaluation on arrays is split and summed, a ``valid(model)`` function runs on rank 0 and
its result goes to all. Rank 0 alone writes files and shows progress; a checkpoint holds the whole
state (the carried hidden state of all streams included), so ``resume`` works with any number of
ranks. An exception on one rank ends the whole job (``MPI_Abort``) instead of leaving the others
waiting. With one process none of this runs: the loop is the single-process loop, unchanged.
"""

from __future__ import annotations

import contextlib
import json
import math
import shutil
import signal
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .. import backend, distributed
from .. import functional as F
from ..autograd import no_grad
from ..errors import CheckpointError, TrainingDiverged, UsageError
from ..fileio import atomic_path, clean_stale_temp_files
from ..optim import ReduceOnPlateau, clip_grad_norm_
from ..progress import log, logger, progress
from ..serialization import CHECKPOINT_FILE, MODEL_FILE, load, save
from .batches import BatchSource, MiniBatches, check_aligned
from .checkpoint import apply_checkpoint, load_checkpoint, save_checkpoint
from .divergence import DivergenceGuard
from .metrics import accuracy, write_metrics

CHECKPOINT_NAME = CHECKPOINT_FILE
BEST_MODEL_NAME = MODEL_FILE
# training settings a resumed run may change: how long it runs and where its data lie (the vocabulary, the
# model config and every other setting must be those the checkpoint was trained with)
MAY_CHANGE_ON_RESUME = frozenset({
    "epochs", "iterations", "max_minutes", "checkpoint_minutes", "train", "valid", "test", "data", "source", "max_test",
    "eval_examples", "per_epoch_eval", "seed", "threads", "device", "quiet", "vectors", "valid_from_train"})
# meta entries that name the data rather than define the model (a moved file is the same data)
_META_MAY_CHANGE = frozenset({"text", "data"})
RESERVED_KEYS = frozenset({"model", "optimizer", "rng", "epoch", "position", "global_step", "history", "best",
                           "best_epoch", "epoch_sums", "monitor", "train_config", "callbacks", "batches",
                           "scheduler", "average", "metric", "planned_epochs"})


def classification_loss(model: Any, batch: Sequence[Any]) -> Any:
    """Softmax cross-entropy of ``model(inputs)`` against integer ``targets``: the default loss."""
    return F.softmax_cross_entropy(model(batch[0]), batch[-1])


def model_loss(model: Any, batch: Sequence[Any]) -> Any:
    """``model.loss(*batch)``: for models that compute their own (fused) loss."""
    return model.loss(*batch)


def _collective(error: BaseException) -> BaseException:
    """Mark an exception that every rank raises at the same point (no need to abort the job)."""
    error.collective = True  # type: ignore[attr-defined]
    return error


def _to_device(array: Any) -> Any:
    xp = backend.xp()
    return array if backend.get_array_module(array) is xp else xp.asarray(array)


def _batch_weight(batch: Sequence[Any]) -> int:
    """How many targets a batch holds (its last array's size): losses are averaged with this weight."""
    return int(np.size(batch[-1])) or 1


class _DeferredInterrupt:
    """Turns the first Ctrl-C into a flag checked between steps, so a step is never cut in half.

    A second Ctrl-C interrupts at once. Only active in the main thread.
    """

    def __init__(self) -> None:
        self.requested = False
        self._previous: Any = None

    def __enter__(self) -> _DeferredInterrupt:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.getsignal(signal.SIGINT)
            signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        self.requested = True
        signal.signal(signal.SIGINT, self._previous or signal.default_int_handler)

    def __exit__(self, *exc: Any) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)


class Trainer:
    """Train ``model`` with ``optimizer``; see the module docstring for what can be passed in.

    ``out_dir``: where ``checkpoint.safetensors``, ``model.safetensors`` (best by ``monitor``) and
    ``metrics.json`` go (nothing is written without it). ``meta``: JSON-able dict stored in both
    files (model config, vocabulary, labels) so a loader can rebuild the model; on resume its
    ``"config"`` must equal the checkpoint's. ``config``: the run's settings for ``metrics.json``.
    ``divergence``: a :class:`~zeronlp.train.divergence.DivergenceGuard` that also stops a run whose
    finite loss runs away (checked on each step's loss before the update).
    ``max_minutes``: a wall-clock budget for the whole run (resumed parts included): training stops
    after the first step that ends past it; that partial epoch is evaluated like a full one.
    ``comm``: the ranks to train with (default :func:`zeronlp.distributed.init`: all the ranks of an
    ``mpirun`` job, else this process alone); ``batch_size`` is the global batch.
    """

    def __init__(self, model: Any, optimizer: Any, loss_fn: Callable[[Any, Sequence[Any]], Any] | None = None, *,
                 batch_size: int = 32, max_grad_norm: float | None = None, scheduler: Any = None,
                 averaged: Any = None, callbacks: Iterable[Any] = (), monitor: str | None = None,
                 mode: str = "min", out_dir: str | Path | None = None, meta: dict[str, Any] | None = None,
                 config: dict[str, Any] | None = None, quiet: bool = False,
                 score_fn: Callable[[Any, Any], float] | None = accuracy, checkpoint_steps: int | None = None,
                 checkpoint_minutes: float | None = None, keep_epoch_checkpoints: bool = False,
                 unit: str = "examples", comm: distributed.Communicator | None = None,
                 divergence: DivergenceGuard | None = None, max_minutes: float | None = None):
        if batch_size < 1:
            raise UsageError(f"batch_size must be positive, got {batch_size}")
        if mode not in ("min", "max"):
            raise UsageError(f"mode must be 'min' or 'max', got {mode!r}")
        if max_grad_norm is not None and not max_grad_norm > 0:
            raise UsageError(f"max_grad_norm must be positive (or None), got {max_grad_norm}")
        if checkpoint_steps is not None and checkpoint_steps < 1:
            raise UsageError(f"checkpoint_steps must be positive, got {checkpoint_steps}")
        if checkpoint_minutes is not None and not checkpoint_minutes > 0:
            raise UsageError(f"checkpoint_minutes must be positive, got {checkpoint_minutes}")
        if max_minutes is not None and not max_minutes > 0:
            raise UsageError(f"max_minutes must be positive, got {max_minutes}")
        self.model, self.optimizer = model, optimizer
        self.loss_fn = loss_fn or classification_loss
        self.batch_size, self.max_grad_norm, self.scheduler = batch_size, max_grad_norm, scheduler
        self.averaged, self.callbacks = averaged, list(callbacks)
        self.monitor, self.mode = monitor, mode
        self.out_dir = Path(out_dir) if out_dir is not None else None
        self.meta, self.config = dict(meta or {}), dict(config or {})
        clashes = sorted(set(self.meta) & RESERVED_KEYS)
        if clashes:
            raise UsageError(f"Trainer: meta keys {clashes} are reserved for the checkpoint's own fields")
        self.comm = comm if comm is not None else distributed.init()
        self._distributed = self.comm.size > 1
        self.quiet, self.score_fn, self.unit = quiet or not self.comm.is_main, score_fn, unit
        self.checkpoint_steps, self.checkpoint_minutes = checkpoint_steps, checkpoint_minutes
        self.keep_epoch_checkpoints = keep_epoch_checkpoints
        self.max_minutes = max_minutes
        self.elapsed_before = 0.0  # wall-clock seconds of earlier (resumed) parts of this run
        self.planned_epochs: int | None = None  # the ``epochs`` of the running fit
        self._fit_started: float | None = None
        self.budget_spent = False  # the time budget ended the run
        self.history: list[dict[str, Any]] = []
        self.epoch = 0            # completed epochs
        self.position = 0         # completed batches of the current epoch
        self.global_step = 0
        self.best: float | None = None
        self.best_epoch = 0
        self._sums = [0.0, 0.0, 0.0]  # loss * weight, weight, seconds of the current epoch so far
        self._step_flags: Any = tuple  # with several ranks: flags to reduce with a step, then their sums
        self._params = model.parameters()
        # NaN/inf always stops a run; ``divergence`` adds a rule for a loss that runs away while finite
        self.divergence = divergence
        if divergence is not None and divergence.checkpoint is None and self.checkpoint_path is not None:
            divergence.checkpoint = self.checkpoint_path  # named in its error once it exists
        if divergence is not None:
            self.callbacks.append(self.divergence)

    # ---- paths -------------------------------------------------------------------------------
    @property
    def checkpoint_path(self) -> Path | None:
        return self.out_dir / CHECKPOINT_NAME if self.out_dir is not None else None

    @property
    def best_model_path(self) -> Path | None:
        return self.out_dir / BEST_MODEL_NAME if self.out_dir is not None else None

    # ---- one step / one evaluation -----------------------------------------------------------
    def train_step(self, batch: Sequence[Any]) -> float:
        """One optimizer step on ``batch``; returns the loss (raises TrainingDiverged if not finite).

        With several ranks ``batch`` is the global batch (the same on every rank), each rank trains on
        its block of it and the returned loss is the whole batch's.
        """
        if self._distributed:
            value, self._step_flags = self._distributed_step(batch, self._step_flags)
            return value
        self.model.train()
        batch = tuple(_to_device(a) for a in batch)
        loss = self.loss_fn(self.model, batch)
        value = float(loss.data)
        if not math.isfinite(value):
            raise self._diverged(value)
        if self.divergence is not None:
            self.divergence.observe(value)  # before the update: diverged weights are never stepped into
        self.optimizer.zero_grad()
        loss.backward()
        self._update()
        return value

    def _diverged(self, value: float) -> TrainingDiverged:
        kept = (f"; the last good checkpoint is kept at {self.checkpoint_path}"
                if self.checkpoint_path is not None and self.checkpoint_path.is_file() else "")
        return TrainingDiverged(
            f"the loss became {value} at epoch {self.epoch + 1}, batch {self.position + 1}; stopped without "
            f"saving{kept}. Try a smaller learning rate or gradient clipping.")

    def _distributed_step(self, batch: Sequence[Any], flags: Any = tuple) -> tuple[float, np.ndarray]:
        """This rank's block of the global ``batch``: forward, backward, then one reduction of the
        gradients (weighted by the block's targets), the loss and ``flags()`` (read after backward);
        returns the whole batch's loss and the flags summed over the ranks."""
        self.model.train()
        local = tuple(_to_device(self.comm.shard(a)) for a in batch)
        weight = int(np.size(local[-1]))
        self.optimizer.zero_grad()
        value = 0.0
        if weight:  # a rank whose block is empty (a last batch smaller than the ranks) adds nothing
            loss = self.loss_fn(self.model, local)
            value = float(loss.data)
            loss.backward()
        totals = self.comm.allreduce_gradients(self._params, weight,
                                               (value * weight, *(flags() if callable(flags) else ())))
        value = float(totals[1] / totals[0]) if totals[0] > 0 else float("nan")
        if not math.isfinite(value):
            self.optimizer.zero_grad()
            raise _collective(self._diverged(value))
        if self.divergence is not None:
            try:  # every rank sees the same global loss, so all raise together
                self.divergence.observe(value)
            except TrainingDiverged:
                self.optimizer.zero_grad()
                raise
        self._update()
        return value, totals[2:]

    def _update(self) -> None:
        if self.max_grad_norm is not None:
            clip_grad_norm_(self._params, self.max_grad_norm)
        self.optimizer.step()
        if getattr(self.scheduler, "per_step", False):  # a warm-up / per-step schedule (optim.WarmupCosine)
            self.scheduler.step()
        if self.averaged is not None:
            self.averaged.update_parameters()

    def evaluated_weights(self) -> Any:
        """Context in which the model holds the weights that are evaluated and kept (the average, if any)."""
        return self.averaged.applied() if self.averaged is not None else contextlib.nullcontext()

    def evaluate(self, data: Sequence[Any] | Callable[[Any], dict[str, float]],
                 batch_size: int | None = None) -> dict[str, float]:
        """Metrics of the model (eval mode, no graph): ``data(model)``, or for arrays the mean loss
        and ``score_fn`` (e.g. accuracy) over ``(inputs, ..., targets)``."""
        was_training = self.model.training
        self.model.eval()
        try:
            with no_grad():
                if callable(data):
                    return self.comm.run_on_main(lambda: {k: float(v) for k, v in data(self.model).items()})
                return self._evaluate_arrays(check_aligned("evaluate", data), batch_size)
        finally:
            self.model.train(was_training)

    def _evaluate_arrays(self, arrays: tuple[Any, ...], batch_size: int | None) -> dict[str, float]:
        if self._distributed:  # each rank its block of the rows, then the sums over the ranks
            local = self._evaluate_sums(tuple(self.comm.shard(a) for a in arrays), batch_size)
            total_loss, total_score, count = self.comm.allreduce(local)
        else:
            total_loss, total_score, count = self._evaluate_sums(arrays, batch_size)
        result = {"loss": total_loss / count}
        if self.score_fn is not None:
            result[getattr(self.score_fn, "__name__", "score")] = total_score / count
        return result

    def _evaluate_sums(self, arrays: tuple[Any, ...], batch_size: int | None) -> tuple[float, float, int]:
        batch_size = batch_size or max(self.batch_size, 256)
        total_loss, total_score, count = 0.0, 0.0, 0
        for start in range(0, len(arrays[0]), batch_size):
            batch = tuple(_to_device(a[start:start + batch_size]) for a in arrays)
            n = len(batch[-1])
            if self.loss_fn is classification_loss:  # one forward for both loss and score
                out = self.model(batch[0])
                total_loss += float(F.softmax_cross_entropy(out, batch[-1]).data) * n
            else:
                total_loss += float(self.loss_fn(self.model, batch).data) * n
                out = self.model(batch[0]) if self.score_fn is not None else None
            if self.score_fn is not None:
                total_score += self.score_fn(out, batch[-1]) * n
            count += n
        return total_loss, total_score, count

    # ---- checkpoints -------------------------------------------------------------------------
    def state(self, batches: BatchSource | None = None) -> dict[str, Any]:
        """Everything a resumed run needs, as a checkpoint record (without model/optimizer/RNG)."""
        record: dict[str, Any] = {
            "epoch": self.epoch, "position": self.position, "global_step": self.global_step,
            "history": self.history, "best": self.best, "best_epoch": self.best_epoch,
            "epoch_sums": list(self._sums), "monitor": self.monitor, "train_config": self.config, **self.meta,
            "planned_epochs": self.planned_epochs,
            "elapsed_seconds": self.elapsed_seconds(),
            "callbacks": [cb.state_dict() if hasattr(cb, "state_dict") else {} for cb in self.callbacks],
        }
        if batches is not None and self.position > 0:
            record["batches"] = batches.state_dict()
        if self.scheduler is not None:
            record["scheduler"] = self.scheduler.state_dict()
        if self.averaged is not None:
            record["average"] = self.averaged.state_dict()
        return record

    def save(self, batches: BatchSource | None = None) -> None:
        """Write the resumable checkpoint (atomically); a no-op without ``out_dir``.

        With several ranks every rank must call it (the state of all ranks is gathered); rank 0 writes.
        """
        if self.checkpoint_path is None and not self._distributed:
            return
        record = self.state(batches)
        if self.checkpoint_path is None or not self.comm.is_main:
            return
        self.out_dir.mkdir(parents=True, exist_ok=True)
        save_checkpoint(self.checkpoint_path, self.model, self.optimizer, **record)

    def load(self, path: str | Path | None = None, batches: BatchSource | None = None) -> dict[str, Any]:
        """Restore model, optimizer, RNG and loop state from a checkpoint written by :meth:`save`.

        With several ranks rank 0 reads the file and sends it to the others (they need no access to it).
        """
        path = Path(path) if path is not None else self.checkpoint_path
        record = self.comm.run_on_main(lambda: _read_checkpoint(path))
        saved_config = record.get("config")
        if "config" in self.meta and saved_config != self.meta["config"]:
            raise CheckpointError(f"cannot resume: {path} holds a model with config {saved_config}, "
                                  f"not {self.meta['config']}")
        self._check_same_run(record, path)
        apply_checkpoint(record, self.model, self.optimizer, restore_rng=True, source=path)
        self.epoch, self.position = int(record["epoch"]), int(record.get("position", 0))
        self.global_step = int(record.get("global_step", 0))
        self.history = list(record.get("history", []))
        self.best, self.best_epoch = record.get("best"), int(record.get("best_epoch", 0))
        self._sums = [float(v) for v in record.get("epoch_sums", [0.0, 0.0, 0.0])]
        elapsed = record.get("elapsed_seconds", 0.0)
        self.elapsed_before = float(elapsed) if isinstance(elapsed, (int, float)) and math.isfinite(elapsed) \
            and elapsed >= 0 else 0.0
        if self.scheduler is not None and "scheduler" in record:
            self.scheduler.load_state_dict(record["scheduler"])
        if self.averaged is not None:
            if "average" in record:
                self.averaged.load_state_dict(record["average"])
            else:
                log(f"{path} has no averaged weights: the average starts now", self.quiet)
        for callback, state in zip(self.callbacks, record.get("callbacks", [])):
            if hasattr(callback, "load_state_dict"):
                callback.load_state_dict(state)
        if batches is not None and self.position > 0:
            batches.load_state_dict(record.get("batches", {}))
        return record

    def _save_best(self, row: dict[str, Any]) -> None:
        if self.best_model_path is None or not self.comm.is_main:
            return
        with self.evaluated_weights():
            save({"model": dict(self.model.state_dict()), **self.meta, "epoch": row["epoch"],
                  "metric": {self.monitor: row[self.monitor]}}, self.best_model_path)

    def restore_best(self) -> bool:
        """Load the best model's weights (``model.safetensors``) into the model; False if there is none.
        With several ranks rank 0 reads the file and sends the weights to the others."""
        if not self._distributed:
            return self._load_best()
        found = self.comm.run_on_main(self._load_best)
        if found:
            self.comm.broadcast_parameters(self.model)
        return found

    def _load_best(self) -> bool:
        if self.best_model_path is None or not self.best_model_path.is_file():
            return False
        load_checkpoint(self.best_model_path, self.model, restore_rng=False)
        return True

    def write_metrics(self, final: dict[str, Any] | None = None) -> Path | None:
        """``out_dir/metrics.json``: config, history so far, and ``final`` (plus the best monitored value).
        Only rank 0 writes it (None on the others)."""
        if self.out_dir is None or not self.comm.is_main:
            return None
        summary: dict[str, Any] = {"epochs": len(self.history)}
        if self.monitor is not None and self.best is not None:
            summary[f"best_{self.monitor}"], summary["best_epoch"] = self.best, self.best_epoch
        return write_metrics(self.out_dir, self.config, self.history, summary | dict(final or {}))

    def _check_same_run(self, record: dict[str, Any], path: Path) -> None:
        """A resumed run trains what the checkpoint trained: the same vocabulary (and other meta entries
        that define the model) and the same settings, bar those in :data:`MAY_CHANGE_ON_RESUME` — a row
        of another vocabulary, or a batch position under another batch size, would mean something else."""
        for key, value in self.meta.items():
            if key in _META_MAY_CHANGE or key == "config" or key not in record:
                continue
            if _as_json(record[key]) != _as_json(value):
                raise CheckpointError(f"cannot resume: {path} was trained with another {key} (other training "
                                      "data?); train into a new output directory instead")
        saved = record.get("train_config")
        if not isinstance(saved, dict):
            return
        changed = [k for k, v in self.config.items()
                   if k not in MAY_CHANGE_ON_RESUME and k in saved and _as_json(saved[k]) != _as_json(v)]
        if changed:
            said = ", ".join(f"{k} {saved[k]!r} (now {self.config[k]!r})" for k in changed[:6])
            raise CheckpointError(f"cannot resume: {path} was trained with {said}; resume with the same "
                                  "settings, or train into a new output directory")

    def _check_not_overwriting(self) -> None:
        """Without ``resume``, refuse to replace an unfinished run's checkpoint or another model's run (a
        forgotten --resume would lose it); a finished run of the same model is started over."""
        path = self.checkpoint_path
        if path is None or not path.exists():
            return
        try:
            record = _read_checkpoint(path)
        except CheckpointError as err:
            raise UsageError(f"{self.out_dir} holds a checkpoint that cannot be read ({err}); move it away or "
                             "train into another output directory") from None
        saved = record.get("train_config") if isinstance(record.get("train_config"), dict) else {}
        epoch, position = record.get("epoch"), record.get("position")
        planned = record.get("planned_epochs", saved.get("epochs"))
        unfinished = bool(position) or (isinstance(planned, int) and isinstance(epoch, int) and epoch < planned)
        other = "config" in self.meta and _as_json(record.get("config")) != _as_json(self.meta["config"])
        if unfinished or other:
            of = f" of {planned}" if isinstance(planned, int) else ""
            where = f"stopped in epoch {epoch + 1}{of} at batch {position}" if position and isinstance(epoch, int) \
                else f"{epoch}{of} epochs done"
            what = f"an unfinished run ({where})" if unfinished else "the run of another model"
            raise UsageError(f"{self.out_dir} holds {what} in {path.name}: continue it with --resume "
                             "(resume=True), or train into another output directory (--out)")
        log(f"starting over in {self.out_dir}: the finished run there is replaced", self.quiet)

    # ---- the loop ----------------------------------------------------------------------------
    def fit(self, train: BatchSource | Sequence[Any],
            valid: Sequence[Any] | Callable[[Any], dict[str, float]] | None = None,
            epochs: int = 1, resume: bool = False) -> list[dict[str, Any]]:
        """Train until ``epochs`` epochs are done in total (counting those of a resumed run)."""
        if int(epochs) != epochs or epochs < 1:
            raise UsageError(f"epochs must be a positive integer, got {epochs!r}")
        if self.out_dir is not None and self.comm.is_main:
            for stale in clean_stale_temp_files(self.out_dir):
                log(f"removed {stale}, left by an earlier run that was killed while writing", self.quiet)
        self.planned_epochs = int(epochs)
        batches = train if hasattr(train, "batch") else MiniBatches(*train, batch_size=self.batch_size)
        if valid is not None and not callable(valid):
            valid = check_aligned("valid", valid)
        if valid is not None and self.monitor is None:
            self.monitor = "valid_loss"
        if not self._distributed:
            self._fit(batches, valid, epochs, resume)
            return self.history
        try:
            self._fit(batches, valid, epochs, resume)
        except BaseException as err:
            if not (getattr(err, "collective", False) or isinstance(err, TrainingDiverged)):
                # raised on this rank alone while the others may wait for it in a collective: end the job
                distributed.abort_on_exception(self.comm, err)
            raise
        return self.history

    def _fit(self, batches: BatchSource, valid: Any, epochs: int, resume: bool) -> None:
        try:
            self._fit_epochs(batches, valid, epochs, resume)
        except KeyboardInterrupt:  # what was saved is logged where it was saved; say so when nothing was
            if self.comm.is_main and (self.checkpoint_path is None or not self.checkpoint_path.is_file()):
                where = "no run directory was given" if self.checkpoint_path is None else \
                    f"{self.checkpoint_path} does not exist"
                logger.warning(f"interrupted: nothing was saved ({where})")
            raise

    def elapsed_seconds(self) -> float:
        """Wall-clock seconds this run has spent in :meth:`fit` so far (earlier, resumed parts included)."""
        running = time.perf_counter() - self._fit_started if self._fit_started is not None else 0.0
        return self.elapsed_before + running

    def _budget_due(self) -> bool:
        return self.max_minutes is not None and self.elapsed_seconds() >= 60 * self.max_minutes

    def _fit_epochs(self, batches: BatchSource, valid: Any, epochs: int, resume: bool) -> None:
        if not resume:  # rank 0 looks at the run directory; what it raises, every rank raises
            self.comm.run_on_main(self._check_not_overwriting)
        else:
            self.load(batches=batches)
            log(f"resumed from {self.checkpoint_path} after epoch {self.epoch}"
                + (f", batch {self.position}" if self.position else ""), self.quiet)
        self._fit_started, self.budget_spent = time.perf_counter(), False
        try:
            self._fit_epochs_timed(batches, valid, epochs)
        finally:
            self.elapsed_before, self._fit_started = self.elapsed_seconds(), None

    def _fit_epochs_timed(self, batches: BatchSource, valid: Any, epochs: int) -> None:
        if self.max_minutes is not None and self.elapsed_before >= 60 * self.max_minutes:
            self.budget_spent = True
            log(f"the time budget of {self.max_minutes:g} minutes is already spent "
                f"({self.elapsed_before / 60:.1f} minutes): nothing to train", self.quiet)
            return
        if self._distributed:
            self._start_replicas()
        with _DeferredInterrupt() as interrupt:
            while self.epoch < epochs:
                self._train_epoch(batches, epochs, interrupt)
                self._end_epoch(valid, epochs, batches)
                if self.budget_spent:
                    stopped_in = self.epoch + bool(self.position)
                    log(f"time budget of {self.max_minutes:g} minutes spent after "
                        f"{self.elapsed_seconds() / 60:.1f} minutes: stopped in epoch {stopped_in}"
                        + (f" at batch {self.position} (a larger --max-minutes with --resume continues it)"
                           if self.position else ""), self.quiet)
                    break
                requested = self.comm.any(interrupt.requested) if self._distributed else interrupt.requested
                if requested and self.epoch < epochs:  # Ctrl-C during the evaluation
                    log(f"interrupted after epoch {self.epoch}; saved {self.checkpoint_path} (continue with --resume)",
                        self.quiet)
                    raise _collective(KeyboardInterrupt())

    def _start_replicas(self) -> None:
        """Every rank starts from rank 0's weights (and weight average); dropout masks differ between
        ranks (each rank's device Generator jumps ahead by its rank), as they would between the rows
        of one process's batch."""
        self.comm.broadcast_parameters(self.model)
        if self.averaged is not None and hasattr(self.averaged, "averages"):
            self.comm.broadcast_arrays(self.averaged.averages)
        rng = backend.get_rng()
        if self.comm.rank and isinstance(rng, np.random.Generator) and hasattr(rng.bit_generator, "jumped"):
            rng.bit_generator.state = rng.bit_generator.jumped(self.comm.rank).state

    def _train_epoch(self, batches: BatchSource, epochs: int, interrupt: _DeferredInterrupt) -> None:
        if self.position == 0:
            batches.start_epoch(backend.get_host_rng())
            if self._distributed:  # one order for all ranks, whatever else drew from their Generators
                batches.load_state_dict(self.comm.bcast(batches.state_dict()))
            for callback in self.callbacks:
                if hasattr(callback, "on_epoch_start"):
                    callback.on_epoch_start(self)
            self._sums = [0.0, 0.0, 0.0]
        total = len(batches)
        bar = progress(range(self.position, total), total=total, initial=self.position, quiet=self.quiet,
                       desc=f"epoch {self.epoch + 1}/{epochs}")
        started = last_save = time.perf_counter()
        try:
            for index in bar:
                batch = batches.batch(index)
                if self._distributed:  # Ctrl-C and a timed checkpoint on any rank count for all: the
                    # flags ride in the step's gradient reduction (read after backward)
                    self._step_flags = lambda since=last_save: (
                        float(interrupt.requested), float(self._minutes_due(time.perf_counter() - since)),
                        float(self._budget_due()))
                value = self.train_step(batch)
                stop = timed = False
                if self._distributed:
                    stop, timed = self._step_flags[0] > 0, self._step_flags[1] > 0
                    self.budget_spent = self._step_flags[2] > 0
                weight = _batch_weight(batch)
                self._sums[0] += value * weight
                self._sums[1] += weight
                self.position, self.global_step = index + 1, self.global_step + 1
                if index % 10 == 0:
                    seconds = self._sums[2] + time.perf_counter() - started
                    bar.set_postfix_str(f"loss {self._sums[0] / self._sums[1]:.4f}  "
                                        f"{self._sums[1] / max(seconds, 1e-9):,.0f} {self.unit}/s")
                if stop:
                    raise _collective(KeyboardInterrupt())
                if interrupt.requested and not self._distributed:
                    raise KeyboardInterrupt
                if not self._distributed:
                    self.budget_spent = self._budget_due()
                if self.budget_spent:
                    break
                now = time.perf_counter()
                due = self._steps_due() or timed if self._distributed else self._periodic_save_due(now - last_save)
                if due and self.position < total:
                    self._sums[2] += now - started
                    started = last_save = now
                    self.save(batches)
        except KeyboardInterrupt as err:
            bar.close()
            if self._distributed and not getattr(err, "collective", False):
                raise  # a second Ctrl-C on one rank: no collective save, the job ends
            self._sums[2] += time.perf_counter() - started
            self.save(batches)
            if self.checkpoint_path is not None:
                log(f"interrupted at epoch {self.epoch + 1}, batch {self.position}; saved {self.checkpoint_path} "
                    "(continue with --resume)", self.quiet)
            raise
        bar.close()
        self._sums[2] += time.perf_counter() - started

    def _periodic_save_due(self, seconds_since_save: float) -> bool:
        return self._steps_due() or self._minutes_due(seconds_since_save)

    def _steps_due(self) -> bool:
        return self.checkpoint_steps is not None and self.global_step % self.checkpoint_steps == 0

    def _minutes_due(self, seconds_since_save: float) -> bool:
        return self.checkpoint_minutes is not None and seconds_since_save >= 60 * self.checkpoint_minutes

    def _improved(self, value: float) -> bool:
        if not math.isfinite(value):
            return False
        if self.best is None:
            return True
        return value < self.best if self.mode == "min" else value > self.best

    def _end_epoch(self, valid: Any, epochs: int, batches: BatchSource) -> None:
        """Evaluate, record, keep the best, step the epoch's scheduler, checkpoint. An epoch that the
        time budget ended early (its position short of its end) is evaluated and recorded the same way
        (its row has ``partial_epoch``) but stays open: the checkpoint holds the position inside it, no
        epoch scheduler steps, and when a resumed run completes the epoch its row replaces this one."""
        loss_sum, weight, seconds = self._sums
        total = len(batches)
        partial = self.position / total if 0 < self.position < total else None
        epoch = self.epoch + 1
        if partial is None:
            self.epoch, self.position = epoch, 0
        row: dict[str, Any] = {"epoch": epoch, "loss": loss_sum / weight if weight else float("nan"),
                               "lr": self.optimizer.lr, "seconds": seconds,
                               f"{self.unit}_per_s": weight / seconds if seconds > 0 else float("nan")}
        if partial is not None:
            row["partial_epoch"] = partial
        if valid is not None:
            with self.evaluated_weights():
                row.update({f"valid_{k}": v for k, v in self.evaluate(valid).items()})
        for callback in self.callbacks:
            if hasattr(callback, "on_epoch_end"):
                callback.on_epoch_end(self, row)
        if self.history and self.history[-1].get("epoch") == epoch and "partial_epoch" in self.history[-1]:
            self.history[-1] = row  # the epoch a time budget ended early, now further or complete
        else:
            self.history.append(row)
        if self.monitor is not None and self.monitor not in row:
            raise UsageError(f"monitor {self.monitor!r} is not among the epoch's metrics {sorted(row)}")
        if self.monitor is not None and self._improved(row[self.monitor]):
            self.best, self.best_epoch = float(row[self.monitor]), epoch
            self._save_best(row)
        if partial is None:
            if isinstance(self.scheduler, ReduceOnPlateau):
                self.scheduler.step(row[self.monitor] if self.monitor is not None else row["loss"])
            elif self.scheduler is not None and not getattr(self.scheduler, "per_step", False):
                self.scheduler.step()
        self.save(batches)  # with the position inside the epoch when it stays open
        if partial is None and self.keep_epoch_checkpoints and self.checkpoint_path is not None and self.comm.is_main:
            with atomic_path(self.out_dir / "checkpoints" / f"epoch_{self.epoch:03d}.safetensors") as tmp:
                shutil.copyfile(self.checkpoint_path, tmp)
        self.write_metrics()
        log(f"epoch {epoch}/{epochs}  " + "  ".join(
            f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in row.items() if k != "epoch"),
            self.quiet)


def _as_json(value: Any) -> Any:
    """``value`` as the checkpoint's JSON gives it back (tuples as lists), for comparing settings."""
    try:
        return json.loads(json.dumps(value))
    except (TypeError, ValueError):
        return repr(value)


def _read_checkpoint(path: Path | None) -> dict[str, Any]:
    if path is None or not path.is_file():
        raise CheckpointError(f"cannot resume: no checkpoint at {path}")
    record = load(path)
    if not isinstance(record, dict) or "epoch" not in record:
        raise CheckpointError(f"cannot resume: {path} is not a training checkpoint")
    return record
