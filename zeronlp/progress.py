"""What zeronlp tells the user while it works: the ``zeronlp`` logger and progress reporting.

Messages go through the standard :mod:`logging` module under the ``zeronlp`` logger, so a library
user can silence (``zn.set_verbosity("warning")``), redirect or reformat them like any other
library's. By default the logger writes plain ``message`` lines to standard error at level INFO.

:func:`progress` wraps a loop: on a terminal it is a tqdm bar; otherwise (a pipe, a log file, CI)
it writes a plain line every :data:`PROGRESS_INTERVAL` seconds — step/total, the caller's postfix
(loss, tokens per second), rate and ETA — so a long run is never silent.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterable, Iterator
from typing import Any

logger = logging.getLogger("zeronlp")
PROGRESS_INTERVAL = 30.0  # seconds between progress lines when stderr is not a terminal (10 with -v)


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at the time of the record (pytest, notebooks swap it)."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr
        super().emit(record)


if not any(isinstance(h, _StderrHandler) for h in logger.handlers):
    _handler = _StderrHandler()
    _handler.setFormatter(logging.Formatter("%(message)s"))
    logger.addHandler(_handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False  # one line per message, also when the application configures the root logger


def set_verbosity(level: int | str) -> None:
    """Level of the ``zeronlp`` logger: ``"debug"``, ``"info"`` (default), ``"warning"``, ... or an int."""
    logger.setLevel(level.upper() if isinstance(level, str) else level)


def log(message: str, quiet: bool = False) -> None:
    """An INFO line of progress (per-epoch results, what a long step is doing), unless ``quiet``."""
    if not quiet:
        logger.info(message)


def format_duration(seconds: float) -> str:
    """``H:MM:SS`` (or ``M:SS``) for an ETA or elapsed time."""
    seconds = int(max(seconds, 0))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def progress(iterable: Iterable[Any], total: int | None = None, quiet: bool = False, desc: str = "",
             initial: int = 0) -> Any:
    """Iterate ``iterable`` showing progress: a tqdm bar on a terminal, periodic log lines otherwise.

    ``total`` and ``initial`` count steps of the whole task (a resumed epoch starts at ``initial``).
    The returned object has ``set_postfix_str`` (e.g. a running loss) and ``close``.
    """
    if quiet or not logger.isEnabledFor(logging.INFO):
        return _Silent(iterable)
    if sys.stderr.isatty():
        from tqdm.auto import tqdm

        return tqdm(iterable, total=total, initial=initial, desc=desc, leave=False, dynamic_ncols=True)
    interval = PROGRESS_INTERVAL / 3 if logger.isEnabledFor(logging.DEBUG) else PROGRESS_INTERVAL
    return _LogProgress(iterable, total, desc, initial, interval)


class _Silent:
    def __init__(self, iterable: Iterable[Any]):
        self.iterable = iterable

    def __iter__(self) -> Iterator[Any]:
        return iter(self.iterable)

    def set_postfix_str(self, *_: Any, **__: Any) -> None:
        pass

    def close(self) -> None:
        pass


class _LogProgress(_Silent):
    """A log line every ``interval`` seconds: ``desc: step/total (pct)  postfix  rate  ETA``."""

    def __init__(self, iterable: Iterable[Any], total: int | None, desc: str, initial: int, interval: float):
        super().__init__(iterable)
        self.total, self.desc, self.step, self.interval = total, desc, initial, interval
        self.postfix = ""

    def __iter__(self) -> Iterator[Any]:
        started = last = time.perf_counter()
        done = 0
        for item in self.iterable:
            yield item
            self.step, done = self.step + 1, done + 1
            now = time.perf_counter()
            if now - last >= self.interval:
                last = now
                logger.info(self._line(done / (now - started)))

    def _line(self, rate: float) -> str:
        parts = [f"{self.desc}: " if self.desc else ""]
        if self.total:
            parts.append(f"step {self.step:,}/{self.total:,} ({100 * self.step / self.total:.0f}%)")
            eta = (self.total - self.step) / rate if rate > 0 else float("inf")
            tail = f"  {rate:.2f} steps/s  ETA {format_duration(eta) if eta != float('inf') else '?'}"
        else:
            parts.append(f"step {self.step:,}")
            tail = f"  {rate:.2f} steps/s"
        if self.postfix:
            parts.append(f"  {self.postfix}")
        return "".join(parts) + tail

    def set_postfix_str(self, text: str, *_: Any, **__: Any) -> None:
        self.postfix = text
