"""How long OpenBLAS's idle threads spin: set here, before NumPy loads OpenBLAS (``zeronlp/__init__``
imports this module first).

After each multithreaded call OpenBLAS's worker threads busy-wait for 2^28 CPU cycles (about 0.1 s)
before they sleep. While one spins it holds a core, and whatever runs next on that core — zeronlp's own
threads (the softmax rows, the LSTM steps split over threads), PyTorch's, the user's — gets a fraction of
it. Measured on a 2-core Zen 3 box: 35 LSTM-650 step GEMMs split over two threads take 17.5 ms alone and
35.9 ms right after one multithreaded GEMM; with ``OPENBLAS_THREAD_TIMEOUT=16`` (2^16 cycles, about
20 us of spinning) 17.5 ms again. The RNNLM's evaluation on two threads (``python -m benchmarks lstm``)
ran at 35.7-36.2k tokens/s with the default spin and 44.7-45.5k with 2^16 (benchmarks/README.md).

OpenBLAS reads the variable once, when it loads, so it is set only if NumPy is not imported yet and
the user has not set it. :data:`SHORT_SPIN` says whether the spin in force is short (set here, or by
the user to at most 2^20 cycles); the LSTM splits its steps over threads only then.
"""

from __future__ import annotations

import os
import sys

# log2 of the cycles OpenBLAS's idle threads spin before they sleep (OpenBLAS's default: 28)
SPIN_LOG2_CYCLES = 16


def _configure() -> bool:
    value = os.environ.get("OPENBLAS_THREAD_TIMEOUT")
    if value is None:
        if "numpy" in sys.modules:  # OpenBLAS is loaded already: too late to change
            return False
        os.environ["OPENBLAS_THREAD_TIMEOUT"] = str(SPIN_LOG2_CYCLES)
        return True
    try:
        return int(value) <= 20
    except ValueError:
        return False


SHORT_SPIN = _configure()
