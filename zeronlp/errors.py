"""The errors zeronlp raises on purpose: one family, each saying what the user can fix.

* :class:`DataError` — a data file (or in-memory data) is unusable; names the file and line.
* :class:`CheckpointError` — a checkpoint or run directory is missing, truncated or of the wrong kind.
* :class:`TrainingDiverged` — the loss became NaN or infinite; the last good checkpoint is kept.
* :class:`UsageError` — an argument or option is out of range or inconsistent.
* :class:`UnknownWordError` — a word is not in a vocabulary (also a ``KeyError``).

Each also derives from the built-in exception a caller would have caught before (``ValueError``,
``RuntimeError``), so existing ``except ValueError`` code keeps working. The command line prints
any :class:`ZeronlpError` as one ``error: ...`` line with exit code 2; every other exception is a
bug and keeps its traceback.
"""

from __future__ import annotations

import os


class ZeronlpError(Exception):
    """Base class of the errors that describe a problem the user can fix."""


class DataError(ZeronlpError, ValueError):
    """A data file or data set cannot be used. ``DataError(msg, path=..., line=...)`` prefixes the place."""

    def __init__(self, message: str, path: str | os.PathLike | None = None, line: int | None = None):
        self.path, self.line = (os.fspath(path) if path is not None else None), line
        where = ""
        if self.path is not None:
            where = f"{self.path}, line {line}: " if line is not None else f"{self.path}: "
        super().__init__(where + message)


class CheckpointError(ZeronlpError, ValueError):
    """A checkpoint file is missing, truncated, or not a zeronlp checkpoint of the expected kind."""


class TrainingDiverged(ZeronlpError, RuntimeError):
    """The loss became NaN or infinite; the last good checkpoint was left untouched."""


class UsageError(ZeronlpError, ValueError):
    """An argument is invalid (out of range, unknown name, inconsistent with another)."""


class UnknownWordError(ZeronlpError, KeyError):
    """A word is not in the vocabulary (a ``KeyError``, as gensim raises); the message names both."""

    def __str__(self) -> str:  # KeyError would quote the whole message
        return str(self.args[0]) if self.args else ""


__all__ = ["ZeronlpError", "DataError", "CheckpointError", "TrainingDiverged", "UsageError", "UnknownWordError"]
