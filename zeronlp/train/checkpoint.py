"""Training checkpoints: model and optimizer state, epoch, history and RNG state in one file.

A checkpoint may come from someone else: before anything of it is used, :func:`check_record`
checks the fields a resumed run reads (types and ranges: an ``epoch`` of -5 or ``"x"``, a history
that is not a list, an RNG state of the wrong kind); every problem is a
:class:`~zeronlp.errors.CheckpointError` naming the file and the field.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

from .. import backend
from ..errors import CheckpointError
from ..serialization import CHECKPOINT_FILE, config_int, load, save

# the loop's own counters: non-negative integers (best_epoch may be 0: no best yet)
_COUNTERS = ("epoch", "position", "global_step", "best_epoch")


def _rng_states() -> dict[str, Any]:
    states = {"host": backend.rng_state()}
    rng = backend.get_rng()
    if hasattr(rng, "bit_generator") and backend.device() == "cpu":
        states["device"] = rng.bit_generator.state
    return states


def _check_rng(states: Any, source: Any) -> None:
    if not isinstance(states, dict) or not isinstance(states.get("host"), dict):
        raise CheckpointError(f"{source}: field rng: expected {{'host': <generator state>, ...}}")
    for name, state in states.items():
        if name not in ("host", "device") or not isinstance(state, dict):
            raise CheckpointError(f"{source}: field rng/{str(name)[:40]}: not a generator state")
        rng = backend.get_host_rng() if name == "host" else backend.get_rng()
        if not hasattr(rng, "bit_generator"):
            continue  # a device (CuPy) generator: its state is not restored from the file
        if state.get("bit_generator") != rng.bit_generator.state["bit_generator"]:
            raise CheckpointError(f"{source}: field rng/{name}/bit_generator: "
                                  f"{str(state.get('bit_generator'))[:40]!r} is not this library's generator")


def _restore_rng(states: dict[str, Any], source: Any = "checkpoint") -> None:
    _check_rng(states, source)
    try:
        backend.set_rng_state(states["host"])
        if "device" in states and backend.device() == "cpu":
            backend.get_rng().bit_generator.state = states["device"]
    except (TypeError, ValueError, KeyError, OverflowError) as err:
        raise CheckpointError(f"{source}: field rng: not a usable generator state ({err})") from None


def check_record(record: Any, source: Any = "checkpoint") -> dict[str, Any]:
    """Check the fields of a training checkpoint that a resumed run reads; returns ``record``."""
    if not isinstance(record, dict):
        raise CheckpointError(f"{source}: not a zeronlp checkpoint (its content is not a record)")
    for key in _COUNTERS:
        if key in record:
            config_int(record, key, source, low=0, where="")
    # an epoch that a time budget stopped early (position > 0) has a row and may hold the best model
    open_epoch = int(bool(record.get("position", 0)))
    if "best_epoch" in record and "epoch" in record and record["best_epoch"] > record["epoch"] + open_epoch:
        raise CheckpointError(f"{source}: field best_epoch: {record['best_epoch']} is after epoch {record['epoch']}")
    best = record.get("best")
    if best is not None and (isinstance(best, bool) or not isinstance(best, (int, float)) or not math.isfinite(best)):
        raise CheckpointError(f"{source}: field best: expected a finite number or null, got {str(best)[:80]!r}")
    history = record.get("history", [])
    if not isinstance(history, list) or not all(isinstance(row, dict) for row in history):
        raise CheckpointError(f"{source}: field history: expected a list of per-epoch records")
    if "epoch" in record and len(history) > record["epoch"] + open_epoch:
        raise CheckpointError(f"{source}: field history: {len(history)} rows for {record['epoch']} epochs")
    sums = record.get("epoch_sums", [0.0, 0.0, 0.0])
    if (not isinstance(sums, list) or len(sums) != 3
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in sums)):
        raise CheckpointError(f"{source}: field epoch_sums: expected three finite numbers")
    for key in ("callbacks",):
        value = record.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise CheckpointError(f"{source}: field {key}: expected a list of records")
    for key in ("batches", "scheduler", "average", "train_config"):
        if key in record and not isinstance(record[key], dict):
            raise CheckpointError(f"{source}: field {key}: expected a record, got {type(record[key]).__name__}")
    if "rng" in record:
        _check_rng(record["rng"], source)
    return record


def check_resume_vocabulary(out_dir: str | os.PathLike | None, symbols: list[str], unit: str = "symbols") -> None:
    """A resumed run must see the vocabulary it was trained with (the Trainer checks the model config):
    raises CheckpointError when ``out_dir`` has no checkpoint or its ``vocab`` differs from ``symbols``."""
    path = Path(out_dir) / CHECKPOINT_FILE if out_dir is not None else None
    if path is None or not path.is_file():
        raise CheckpointError(f"cannot resume: no checkpoint at {path}")
    saved = load(path)
    if isinstance(saved, dict) and saved.get("vocab") is not None and saved["vocab"] != symbols:
        raise CheckpointError(f"cannot resume: {path} was trained with another vocabulary "
                              f"({len(saved['vocab'])} {unit}, now {len(symbols)}): other training files?")


def save_checkpoint(path: str | os.PathLike, model: Any = None, optimizer: Any = None, **extra: Any) -> Path:
    """Save ``model.state_dict()``, ``optimizer.state_dict()``, both RNG states and ``extra`` fields.

    The write is atomic: an interrupted save leaves the previous checkpoint intact.
    """
    record: dict[str, Any] = {"rng": _rng_states(), **extra}
    if model is not None:
        record["model"] = dict(model.state_dict())
    if optimizer is not None:
        record["optimizer"] = optimizer.state_dict()
    save(record, path)
    return Path(path)


def load_checkpoint(path: str | os.PathLike, model: Any = None, optimizer: Any = None,
                    restore_rng: bool = True) -> dict[str, Any]:
    """Load a checkpoint into ``model``/``optimizer`` (when given) and return the whole record."""
    record = load(path)
    apply_checkpoint(record, model, optimizer, restore_rng, source=path)
    return record


def apply_checkpoint(record: dict[str, Any], model: Any = None, optimizer: Any = None, restore_rng: bool = True,
                     source: str | os.PathLike = "checkpoint") -> None:
    """Check a loaded record (:func:`check_record`), then put its model/optimizer state and
    (optionally) RNG states in place."""
    check_record(record, source)
    if model is not None:
        if not isinstance(record.get("model"), dict):
            raise CheckpointError(f"{source}: holds no model weights")
        try:
            model.load_state_dict(record["model"])
        except (KeyError, ValueError, TypeError) as err:
            raise CheckpointError(f"{source}: field model: does not fit this model ({err})") from None
    if optimizer is not None and "optimizer" in record:
        if not isinstance(record["optimizer"], dict):
            raise CheckpointError(f"{source}: field optimizer: expected a record")
        try:
            optimizer.load_state_dict(record["optimizer"])
        except (KeyError, ValueError, TypeError, IndexError, AttributeError) as err:
            raise CheckpointError(f"{source}: field optimizer: does not fit this optimizer "
                                  f"({type(err).__name__}: {err})") from None
    if restore_rng and "rng" in record:
        _restore_rng(record["rng"], source)
