"""``python -m benchmarks NAME [--repeat N] [--threads T]``: run one benchmark (mlp, spiral, lstm, word2vec,
seq2seq, ...; ``user_lstm`` is an alias of ``lstm --models generic,generic-fused``). ``--threads`` limits
both torch and NumPy's BLAS (through threadpoolctl)."""

from __future__ import annotations

import argparse
import importlib
import os
import platform
import sys

# Both libraries run in one process. By default torch's OpenMP workers spin after each op and hold
# the cores that OpenBLAS then needs, which slows whichever library runs next (measured: zeronlp's
# seq2seq step 5.4 ms alone, 14 ms interleaved with spinning torch). Passive waiting removes the
# interference for both sides; it must be set before torch is imported.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
# The same for NumPy's OpenBLAS: its idle threads spin 2^28 cycles (~0.1 s) after each multithreaded
# call and slow whatever runs next, torch included; 2^16 cycles, as zeronlp sets it when imported first
# (zeronlp/_blas_spin.py). It must be set before NumPy is imported.
os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "16")

NAMES = ["mlp", "spiral", "lstm", "user_lstm", "word2vec", "seq2seq", "threads", "distributed"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("name", choices=NAMES)
    parser.add_argument("--repeat", type=int, default=5, help="timed repeats (median reported)")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--threads", type=int, default=None, help="BLAS, torch and zeronlp threads (default: all)")
    parser.add_argument("--quick", action="store_true", help="smaller workloads (smoke test)")
    args, extra = parser.parse_known_args(argv)
    args.extra = extra
    if args.threads:
        try:
            import torch

            torch.set_num_threads(args.threads)
        except ImportError:
            pass
    import numpy as np

    if args.threads:
        from zeronlp.functional import vector_math

        vector_math.set_num_threads(args.threads)  # zeronlp's own row-parallel kernels
        try:  # NumPy's BLAS too (same as OPENBLAS_NUM_THREADS=T), for the whole run
            from threadpoolctl import threadpool_limits

            args.blas_limits = threadpool_limits(args.threads, user_api="blas")
        except ImportError:
            print("# threadpoolctl is not installed: --threads sets torch's threads only; "
                  "set OPENBLAS_NUM_THREADS for NumPy's")
    print(f"# {args.name}: python {platform.python_version()}, numpy {np.__version__}, "
          f"{platform.machine()}, repeat {args.repeat}, device {args.device}")
    module = importlib.import_module(f"benchmarks.{args.name}")
    module.run(args.repeat, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
