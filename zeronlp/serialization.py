"""``zn.save`` / ``zn.load``: nested dicts of arrays, numbers and strings in one .safetensors file.

Arrays go into the safetensors tensor table; everything else (the nesting, numbers, strings, lists,
``None``) goes into a JSON document in the file's metadata, with arrays replaced by references.
Loading parses JSON and raw little-endian buffers only: it cannot execute code. Writes go to a
temporary file in the same directory that is then renamed over the target, so a crash mid-write
leaves the previous file intact.

A file is data from whoever made it (a run directory may come from someone else): :func:`load`
refuses anything but a regular file before opening it, reads nothing beyond what the file holds,
and checks that the JSON tree and the tensor table agree (every reference names a stored tensor,
every tensor is referenced once, nesting at most :data:`MAX_DEPTH` deep). The helpers at the end
(:func:`config_int`, :func:`config_float`, :func:`config_bool`, :func:`config_choice`,
:func:`check_shapes`) let a loader validate a stored config and its agreement with the stored
tensors *before* it builds (allocates) anything. Every problem is a :class:`CheckpointError`
naming the path and the field.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from . import backend
from .errors import CheckpointError
from .fileio import atomic_path, not_regular

_FORMAT = "zeronlp-checkpoint/1"
_ARRAY_KEY = "__array__"
MAX_DEPTH = 64  # nesting of the JSON tree; zeronlp's own records are less than 10 deep


def _encode(obj: Any, arrays: dict[str, np.ndarray], path: str) -> Any:
    if isinstance(obj, dict):
        encoded = {}
        for key, value in obj.items():
            if not isinstance(key, (str, int)):
                raise TypeError(f"zn.save: dict keys must be strings, got {key!r} at {path or 'top level'}")
            if str(key) in encoded or key == _ARRAY_KEY:
                why = "is reserved" if key == _ARRAY_KEY else \
                    f"names the same entry as another key (both are {str(key)!r} once stored)"
                raise ValueError(f"zn.save: key {key!r} at {path or 'top level'} {why}; rename it")
            encoded[str(key)] = _encode(value, arrays, f"{path}/{key}")
        return encoded
    if isinstance(obj, (list, tuple)):
        return [_encode(v, arrays, f"{path}/{i}") for i, v in enumerate(obj)]
    if hasattr(obj, "shape") and hasattr(obj, "dtype") and not isinstance(obj, np.generic):
        array = np.ascontiguousarray(backend.to_numpy(obj.data if hasattr(obj, "creator") else obj))
        key = path or "/"
        if key in arrays:  # {"a/b": x, "a": {"b": y}}: both would be the tensor "/a/b"
            raise ValueError(f"zn.save: two arrays would be stored under the name {key!r} (a key with '/' "
                             "in it names the same place as nested dicts); rename one")
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


def _decode(obj: Any, arrays: dict[str, np.ndarray], used: set[str], where: str, depth: int) -> Any:
    if depth > MAX_DEPTH:
        raise CheckpointError(f"field {where or '/'}: nested more than {MAX_DEPTH} levels deep")
    if isinstance(obj, dict):
        if _ARRAY_KEY in obj:
            key = obj[_ARRAY_KEY]
            if len(obj) != 1 or not isinstance(key, str):
                raise CheckpointError(f"field {where or '/'}: a malformed tensor reference")
            if key not in arrays:
                raise CheckpointError(f"field {where or '/'}: refers to tensor {key[:80]!r}, which is not "
                                      "in the file's tensor table")
            if key in used:
                raise CheckpointError(f"field {where or '/'}: tensor {key[:80]!r} is referenced twice")
            used.add(key)
            return arrays[key]
        return {k: _decode(v, arrays, used, f"{where}/{k}", depth + 1) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_decode(v, arrays, used, f"{where}/{i}", depth + 1) for i, v in enumerate(obj)]
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
    problem = not_regular(path)
    if problem == "missing":
        raise CheckpointError(f"{path}: no such checkpoint file")
    if problem is not None:
        raise CheckpointError(f"{path}: is {problem}, not a checkpoint file")
    with open(path, "rb") as handle:
        head = handle.read(9)
    # safetensors = 8-byte header length + JSON header starting with "{"; the length's first byte
    # may be 0x80 by chance, so only a file that is not safetensors-shaped is taken for pickle/zip
    if head[8:9] != b"{" and (head[:1] == b"\x80" or head[:2] == b"PK"):
        raise CheckpointError(
            f"{path}: looks like a pickle/zip file; zeronlp never unpickles. "
            "Convert it to safetensors with the library that made it."
        )
    try:  # safetensors refuses header lengths and tensor offsets beyond the file's size
        with safe_open(str(path), framework="numpy") as handle:
            metadata = handle.metadata() or {}
            if metadata.get("format") != _FORMAT:
                raise CheckpointError(f"{path}: not a zeronlp checkpoint (metadata format "
                                      f"{str(metadata.get('format'))[:80]!r})")
            if not isinstance(metadata.get("tree"), str):
                raise CheckpointError(f"{path}: field tree (the file's metadata): missing")
            arrays = {key: handle.get_tensor(key) for key in handle.keys()}
    except CheckpointError:
        raise
    except Exception as err:  # safetensors raises its own error types for truncated/garbled files
        raise CheckpointError(f"{path}: not a readable zeronlp checkpoint ({type(err).__name__}: {err})") from None
    try:
        tree = json.loads(metadata["tree"])
    except RecursionError:
        raise CheckpointError(f"{path}: field tree (the file's metadata): nested too deeply") from None
    except ValueError as err:
        raise CheckpointError(f"{path}: field tree (the file's metadata): not valid JSON ({err})") from None
    used: set[str] = set()
    try:
        record = _decode(tree, arrays, used, "", 0)
    except CheckpointError as err:
        raise CheckpointError(f"{path}: {err}") from None
    unreferenced = sorted(set(arrays) - used)
    if unreferenced:
        raise CheckpointError(f"{path}: the tensor table holds {len(unreferenced)} tensor(s) the tree does not "
                              f"refer to (first: {unreferenced[0][:80]!r})")
    return record


# ---------------------------------------------------------------------------- run directories

CHECKPOINT_FILE = "checkpoint.safetensors"  # resumable training state (the Trainer writes it)
MODEL_FILE = "model.safetensors"  # the kept (best) model with what is needed to rebuild it


def run_file(path: str | os.PathLike, names: tuple[str, ...] = (MODEL_FILE, CHECKPOINT_FILE),
             made_by: str = "zeronlp ... train") -> Path:
    """The file to load from ``path``: itself if it is a file, else the first of ``names`` in the run
    directory (the best model before the resumable checkpoint); a :class:`CheckpointError` otherwise."""
    path = Path(path)
    problem = not_regular(path)
    if problem is None:
        return path
    if problem == "a directory":
        for name in names:
            inner = not_regular(path / name)
            if inner is None:
                return path / name
            if inner != "missing":
                raise CheckpointError(f"{path / name}: is {inner}, not a checkpoint file")
        raise CheckpointError(f"{path}: no {' or '.join(names)} here (is it the --out of `{made_by}`?)")
    if problem != "missing":
        raise CheckpointError(f"{path}: is {problem}, not a checkpoint file or run directory")
    raise CheckpointError(f"{path}: no such run directory or checkpoint file")


# ---------------------------------------------------------------------------- validating stored configs
# A loader checks a stored config with these before building anything: types, ranges, and (with
# check_shapes) agreement with the tensors the file actually holds, which bounds every allocation
# by the file's size.

_MISSING = object()


def _field(config: Any, key: str, source: Any, where: str, default: Any) -> Any:
    if not isinstance(config, dict):
        raise CheckpointError(f"{source}: field {where or 'config'}: expected a JSON object, got "
                              f"{type(config).__name__}")
    if key not in config or config[key] is None and default is not _MISSING:
        if default is _MISSING:
            raise CheckpointError(f"{source}: field {where}{key}: missing")
        return default
    return config[key]


def config_int(config: Any, key: str, source: Any, low: int = 0, high: int | None = None,
               default: Any = _MISSING, where: str = "config/") -> int:
    """``config[key]`` as an int in ``[low, high]`` (a bool or float is refused)."""
    value = _field(config, key, source, where, default)
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise CheckpointError(f"{source}: field {where}{key}: expected an integer, got {str(value)[:80]!r}")
    if value < low or (high is not None and value > high):
        bound = f"{low}..{high}" if high is not None else f">= {low}"
        raise CheckpointError(f"{source}: field {where}{key}: {value} is out of range ({bound})")
    return int(value)


def config_float(config: Any, key: str, source: Any, low: float, high: float, default: Any = _MISSING,
                 where: str = "config/", high_open: bool = False) -> float:
    """``config[key]`` as a finite float in ``[low, high]`` (``[low, high)`` with ``high_open``)."""
    value = _field(config, key, source, where, default)
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) or not np.isfinite(value):
        raise CheckpointError(f"{source}: field {where}{key}: expected a finite number, got {str(value)[:80]!r}")
    if value < low or value > high or (high_open and value == high):
        raise CheckpointError(f"{source}: field {where}{key}: {value} is out of range "
                              f"[{low}, {high}{')' if high_open else ']'}")
    return float(value)


def config_bool(config: Any, key: str, source: Any, default: Any = _MISSING, where: str = "config/") -> bool:
    """``config[key]`` as a bool (only ``true``/``false``)."""
    value = _field(config, key, source, where, default)
    if not isinstance(value, bool):
        raise CheckpointError(f"{source}: field {where}{key}: expected true or false, got {str(value)[:80]!r}")
    return value


def config_choice(config: Any, key: str, source: Any, choices: Any, default: Any = _MISSING,
                  where: str = "config/") -> Any:
    """``config[key]``, which must be one of ``choices``."""
    value = _field(config, key, source, where, default)
    if not isinstance(value, (str, int, float, type(None))) or value not in tuple(choices):
        raise CheckpointError(f"{source}: field {where}{key}: {str(value)[:80]!r} is not one of "
                              f"{', '.join(map(str, choices))}")
    return value


def check_shapes(state: Any, expected: dict[str, tuple[int, ...]], source: Any, where: str = "model") -> None:
    """The stored tensors ``state`` are exactly the parameters ``expected`` (name -> shape), floating point.

    Call it before building the model: ``expected`` comes from the stored config, so a config that
    disagrees with the tensors (and with the file's size) is refused before anything is allocated.
    """
    if not isinstance(state, dict):
        raise CheckpointError(f"{source}: field {where}: expected the model's tensors, got {type(state).__name__}")
    missing = [name for name in expected if name not in state]
    unexpected = [name for name in state if name not in expected]
    if missing or unexpected:
        raise CheckpointError(f"{source}: field {where}: the tensors do not match the stored config "
                              f"(missing {missing[:5]}, unexpected {[str(n)[:80] for n in unexpected[:5]]})")
    for name, shape in expected.items():
        array = state[name]
        if not isinstance(array, np.ndarray) or array.dtype.kind != "f":
            raise CheckpointError(f"{source}: field {where}/{name}: expected a floating-point tensor, got "
                                  f"{getattr(array, 'dtype', type(array).__name__)}")
        if tuple(array.shape) != tuple(shape):
            raise CheckpointError(f"{source}: field {where}/{name}: shape {tuple(array.shape)} does not match "
                                  f"{tuple(shape)} of the stored config")
