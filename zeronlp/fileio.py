"""Atomic file writes: a crash or Ctrl-C mid-write never leaves a half-written checkpoint or JSON.

Everything zeronlp saves (checkpoints, models, vocabularies, vectors, metrics) goes through
:func:`atomic_path`: the data is written to a temporary file in the target's directory, which then
replaces the target by a rename (atomic on POSIX and Windows). On any error the temporary file is
removed and the old target is untouched. The file gets the permissions an ordinary ``open(path,
"w")`` would give (0666 minus the umask), not the owner-only 0600 of :func:`tempfile.mkstemp`.
"""

from __future__ import annotations

import os
import secrets
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a fresh temporary path next to ``path``; it replaces ``path`` when the block succeeds.

    The temporary file already exists (empty) when the block starts, so writers that open it by
    name (e.g. ``safetensors.numpy.save_file``) and writers that copy into it both work.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
        try:
            fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666)  # the umask applies
        except FileExistsError:
            continue
        mode = stat.S_IMODE(os.fstat(fd).st_mode)  # 0666 minus the umask, as the OS applied it
        os.close(fd)
        break
    try:
        yield tmp
        os.chmod(tmp, mode)  # some writers (safetensors) recreate the file owner-only
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "w", encoding: str | None = "utf-8") -> Iterator[IO[Any]]:
    """``open()`` for writing whose result appears at ``path`` only once the block has succeeded."""
    if not mode.startswith("w"):
        raise ValueError(f"atomic_open writes whole files: mode must start with 'w', got {mode!r}")
    with atomic_path(path) as tmp:
        with open(tmp, mode, encoding=None if "b" in mode else encoding) as handle:
            yield handle
