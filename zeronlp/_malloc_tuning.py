"""How glibc's malloc keeps freed memory: tuned here so that a training step's large arrays are reused
instead of being handed back to the kernel and faulted in again at the next step.

glibc serves an allocation above its mmap threshold with a fresh ``mmap`` (every page faults on first
touch) and gives the top of its heap back to the kernel once more than the trim threshold is free.
Both thresholds move with the program's history, and for some models the arrays of one step end up
returned and re-faulted at every step: a GRU layer (batch 128, 128 units, 20 steps, 1 thread) took
4,144 page faults and 37.5 ms a step, and 0 faults and 25.1 ms with the thresholds below (measured on
the 2-core Zen 3 box; BetterRNNLM ~1,500 faults a window, Attention seq2seq ~560 a step, both to 0).
PyTorch users get the same effect from ``MALLOC_*`` variables or jemalloc.

Set at import, on Linux with glibc only, and only when the user has set neither ``MALLOC_MMAP_THRESHOLD_``
nor ``MALLOC_TRIM_THRESHOLD_`` and not ``ZERONLP_MALLOC_TUNING=0``: allocations up to 32 MiB (glibc's
own ceiling for its moving threshold) come from the heap, and up to 128 MiB of free heap is kept.
:data:`TUNED` says whether it was done.
"""

from __future__ import annotations

import ctypes
import os
import platform
import sys

MMAP_THRESHOLD = 32 * 1024 * 1024
TRIM_THRESHOLD = 128 * 1024 * 1024
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameters (malloc.h)


def _configure() -> bool:
    if os.environ.get("ZERONLP_MALLOC_TUNING", "1") == "0":
        return False
    if "MALLOC_MMAP_THRESHOLD_" in os.environ or "MALLOC_TRIM_THRESHOLD_" in os.environ:
        return False
    if not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc":
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD))


TUNED = _configure()
