"""``python -m benchmarks NAME [--repeat N] [--threads T]``: run one benchmark (mlp, spiral, lstm, word2vec,
seq2seq, ...; ``user_lstm`` is an alias of ``lstm --models generic,generic-fused``). ``--threads`` limits
both torch and NumPy's BLAS (through threadpoolctl)."""

from __future__ import annotations

import argparse
import importlib
import platform
import sys

# the thread settings that keep the two libraries from slowing each other: benchmarks/__init__.py

NAMES = ["mlp", "spiral", "lstm", "user_lstm", "word2vec", "seq2seq", "gru", "step_gemm", "threads", "distributed"]


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
