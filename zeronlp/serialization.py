"""``zn.save`` / ``zn.load``: nested dicts of arrays, numbers and strings in one .safetensors file.

Arrays go into the safetensors tensor table; everything else (the nesting, numbers, strings, lists,
``None``) goes into a JSON document in the file's metadata, with arrays replaced by references.
Loading parses JSON and raw little-endian buffers only: it cannot execute code. Writes go to a
temporary file in the same directory that is then renamed over the target, so a crash mid-write
leaves the previous file intact.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from . import backend
from .errors import CheckpointError
from .fileio import atomic_path

_FORMAT = "zeronlp-checkpoint/1"
_ARRAY_KEY = "__array__"




def _encode(obj: Any, arrays: dict[str, np.ndarray], path: str) -> Any:
    if isinstance(obj, dict):
        encoded = {}
        for key, value in obj.items():
            if not isinstance(key, (str, int)):
                raise TypeError(f"zn.save: dict keys must be strings, got {key!r} at {path or 'top level'}")
            encoded[str(key)] = _encode(value, arrays, f"{path}/{key}")
        return encoded
    if isinstance(obj, (list, tuple)):
        return [_encode(v, arrays, f"{path}/{i}") for i, v in enumerate(obj)]
    if hasattr(obj, "shape") and hasattr(obj, "dtype") and not isinstance(obj, np.generic):
        array = np.ascontiguousarray(backend.to_numpy(getattr(obj, "data", obj) if hasattr(obj, "creator") else obj))
        key = path or "/"
        arrays[key] = array
        return {_ARRAY_KEY: key}
    if isinstance(obj, np.generic):
        return obj.item()
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise TypeError(
        f"zn.save: cannot store {type(obj).__name__} at {path or 'top level'}; "
        "use dicts, lists, arrays, numbers, strings and None"
    )


def _decode(obj: Any, arrays: dict[str, np.ndarray]) -> Any:
    if isinstance(obj, dict):
        if set(obj) == {_ARRAY_KEY}:
            return arrays[obj[_ARRAY_KEY]]
        return {k: _decode(v, arrays) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_decode(v, arrays) for v in obj]
    return obj


def save(obj: Any, path: str | os.PathLike) -> None:
    """Write ``obj`` (nested dicts/lists of arrays, numbers, strings) to ``path`` atomically."""
    from safetensors.numpy import save_file

    path = Path(path)
    arrays: dict[str, np.ndarray] = {}
    tree = _encode(obj, arrays, "")
    metadata = {"format": _FORMAT, "tree": json.dumps(tree)}
    with atomic_path(path) as tmp:
        save_file(arrays, str(tmp), metadata=metadata)


def load(path: str | os.PathLike) -> Any:
    """Read what :func:`save` wrote. Raises :class:`CheckpointError` naming the path on a bad file."""
    from safetensors import safe_open

    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file")
    with open(path, "rb") as handle:
        head = handle.read(9)
    # safetensors = 8-byte header length + JSON header starting with "{"; the length's first byte
    # may be 0x80 by chance, so only a file that is not safetensors-shaped is taken for pickle/zip
    if head[8:9] != b"{" and (head[:1] == b"\x80" or head[:2] == b"PK"):
        raise CheckpointError(
            f"{path}: looks like a pickle/zip file; zeronlp never unpickles. "
            "Convert it to safetensors with the library that made it."
        )
    try:
        with safe_open(str(path), framework="numpy") as handle:
            metadata = handle.metadata() or {}
            if metadata.get("format") != _FORMAT:
                raise CheckpointError(f"{path}: not a zeronlp checkpoint (metadata format {metadata.get('format')!r})")
            arrays = {key: handle.get_tensor(key) for key in handle.keys()}
        tree = json.loads(metadata["tree"])
    except CheckpointError:
        raise
    except Exception as err:  # safetensors raises its own error types for truncated/garbled files
        raise CheckpointError(f"{path}: not a readable zeronlp checkpoint ({type(err).__name__}: {err})") from None
    return _decode(tree, arrays)


# ---------------------------------------------------------------------------- run directories

CHECKPOINT_FILE = "checkpoint.safetensors"  # resumable training state (the Trainer writes it)
MODEL_FILE = "model.safetensors"  # the kept (best) model with what is needed to rebuild it


def run_file(path: str | os.PathLike, names: tuple[str, ...] = (MODEL_FILE, CHECKPOINT_FILE),
             made_by: str = "zeronlp ... train") -> Path:
    """The file to load from ``path``: itself if it is a file, else the first of ``names`` in the run
    directory (the best model before the resumable checkpoint); a :class:`CheckpointError` otherwise."""
    path = Path(path)
    if path.is_file():
        return path
    if path.is_dir():
        for name in names:
            if (path / name).is_file():
                return path / name
        raise CheckpointError(f"{path}: no {' or '.join(names)} here (is it the --out of `{made_by}`?)")
    raise CheckpointError(f"{path}: no such run directory or checkpoint file")
