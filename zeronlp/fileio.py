"""Atomic file writes: a crash or Ctrl-C mid-write never leaves a half-written checkpoint or JSON.

Everything zeronlp saves (checkpoints, models, vocabularies, vectors, metrics) goes through
:func:`atomic_path`: the data is written to a temporary file in the target's directory, which then
replaces the target by a rename (atomic on POSIX and Windows). On any error the temporary file is
removed and the old target is untouched. The file gets the permissions an ordinary ``open(path,
"w")`` would give (0666 minus the umask), not the owner-only 0600 of :func:`tempfile.mkstemp`.

A process killed mid-write (SIGKILL, power loss) cannot remove its temporary file:
:func:`clean_stale_temp_files` removes those of processes that no longer run (every training run
calls it on its run directory at the start). :func:`not_regular` says why a path is not a regular
file (a FIFO would block a reader forever, ``/dev/zero`` never ends), before anything opens it.
"""

from __future__ import annotations

import os
import re
import secrets
import stat
import time
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


_TEMP_NAME = re.compile(r"^\..+\.(\d+)\.[0-9a-f]{8}\.tmp$")  # what atomic_path creates
STALE_SECONDS = 24 * 3600  # a temporary file this old is stale even if its process id was reused


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return True  # someone else's process (or a pid we cannot test): leave its file alone
    return True


def clean_stale_temp_files(directory: str | os.PathLike, recursive_dirs: tuple[str, ...] = ("checkpoints",)
                           ) -> list[Path]:
    """Remove the temporary files :func:`atomic_path` left in ``directory`` (and its ``recursive_dirs``)
    when their writer was killed: those whose process no longer exists on this machine, or that are
    older than :data:`STALE_SECONDS`. A live writer's file is kept. Returns the removed paths.
    """
    removed: list[Path] = []
    root = Path(directory)
    now = time.time()
    for folder in (root, *(root / name for name in recursive_dirs)):
        try:
            entries = list(os.scandir(folder))
        except (FileNotFoundError, NotADirectoryError):
            continue
        for entry in entries:
            match = _TEMP_NAME.match(entry.name)
            if match is None or not entry.is_file(follow_symlinks=False):
                continue
            pid = int(match.group(1))
            try:
                old = now - entry.stat(follow_symlinks=False).st_mtime > STALE_SECONDS
            except FileNotFoundError:
                continue
            if pid != os.getpid() and (old or not _process_exists(pid)):
                try:
                    os.unlink(entry.path)
                    removed.append(Path(entry.path))
                except FileNotFoundError:
                    pass
    return removed


def not_regular(path: str | os.PathLike) -> str | None:
    """None if ``path`` is a regular file (after symlinks); else what it is, in words (``"missing"``,
    ``"a directory"``, ``"a FIFO (named pipe)"``, ``"a character device"``, ...). Opens nothing."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return "missing"
    except OSError as err:
        return f"unreadable ({err.strerror})"
    if stat.S_ISREG(mode):
        return None
    kinds = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
             (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))
    return next((name for test, name in kinds if test(mode)), "not a regular file")
