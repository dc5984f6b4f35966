"""Progress bars that switch themselves off when output is not a terminal (CI, pipes, --quiet)."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import Any


def progress(iterable: Iterable[Any], total: int | None = None, quiet: bool = False, desc: str = "") -> Any:
    """A tqdm bar over ``iterable``; a plain iterator when quiet or stderr is not a TTY.

    The returned object always has ``set_postfix_str`` so callers can show a running loss.
    """
    if quiet or not sys.stderr.isatty():
        return _Silent(iterable)
    from tqdm.auto import tqdm

    return tqdm(iterable, total=total, desc=desc, leave=False, dynamic_ncols=True)


class _Silent:
    def __init__(self, iterable: Iterable[Any]):
        self.iterable = iterable

    def __iter__(self):
        return iter(self.iterable)

    def set_postfix_str(self, *_: Any, **__: Any) -> None:
        pass

    def close(self) -> None:
        pass


def log(message: str, quiet: bool = False) -> None:
    """Print a line of training output unless quiet."""
    if not quiet:
        print(message, flush=True)
