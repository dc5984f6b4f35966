"""Training checkpoints: model and optimizer state, epoch, history and RNG state in one file."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from .. import backend
from ..errors import CheckpointError
from ..serialization import load, save


def _rng_states() -> dict[str, Any]:
    states = {"host": backend.rng_state()}
    rng = backend.get_rng()
    if hasattr(rng, "bit_generator") and backend.device() == "cpu":
        states["device"] = rng.bit_generator.state
    return states


def _restore_rng(states: dict[str, Any]) -> None:
    backend.set_rng_state(states["host"])
    if "device" in states and backend.device() == "cpu":
        backend.get_rng().bit_generator.state = states["device"]


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
    if not isinstance(record, dict):
        raise CheckpointError(f"{path}: not a zeronlp checkpoint (its content is not a record)")
    apply_checkpoint(record, model, optimizer, restore_rng, source=path)
    return record


def apply_checkpoint(record: dict[str, Any], model: Any = None, optimizer: Any = None, restore_rng: bool = True,
                     source: str | os.PathLike = "checkpoint") -> None:
    """Put a loaded record's model/optimizer state and (optionally) RNG states in place."""
    if model is not None:
        if not isinstance(record.get("model"), dict):
            raise CheckpointError(f"{source}: holds no model weights")
        model.load_state_dict(record["model"])
    if optimizer is not None and "optimizer" in record:
        optimizer.load_state_dict(record["optimizer"])
    if restore_rng and "rng" in record:
        _restore_rng(record["rng"])
