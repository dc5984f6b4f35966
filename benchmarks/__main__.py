"""``python -m benchmarks NAME [--repeat N]``: run one benchmark (mlp, spiral, lstm, word2vec, seq2seq)."""

from __future__ import annotations

import argparse
import importlib
import platform
import sys

NAMES = ["mlp", "spiral", "lstm", "word2vec", "seq2seq"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("name", choices=NAMES)
    parser.add_argument("--repeat", type=int, default=5, help="timed repeats (median reported)")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--threads", type=int, default=None, help="BLAS/torch threads (default: all)")
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

    print(f"# {args.name}: python {platform.python_version()}, numpy {np.__version__}, "
          f"{platform.machine()}, repeat {args.repeat}, device {args.device}")
    module = importlib.import_module(f"benchmarks.{args.name}")
    module.run(args.repeat, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
