"""Side-by-side timings of zeronlp and its references (PyTorch CPU, book-style NumPy).

Every benchmark module (``python -m benchmarks NAME`` and ``python -m benchmarks.profile_lstm``) imports
this package first, so the settings below hold before NumPy or torch load their thread pools."""

import os

# Both libraries run in one process. By default torch's OpenMP workers spin after each op and hold
# the cores that OpenBLAS then needs, which slows whichever library runs next (measured: zeronlp's
# seq2seq step 5.4 ms alone, 14 ms interleaved with spinning torch). Passive waiting removes the
# interference for both sides; it must be set before torch is imported.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
# The same for NumPy's OpenBLAS: its idle threads spin 2^28 cycles (~0.1 s) after each multithreaded
# call and slow whatever runs next, torch included; 2^16 cycles, as zeronlp sets it when imported first
# (zeronlp/_blas_spin.py). It must be set before NumPy is imported.
os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "16")
