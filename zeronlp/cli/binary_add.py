"""``zeronlp binary-add``: the RNN course notes' simple-RNN variants learning 8-bit binary addition."""

from __future__ import annotations

import argparse
from typing import Any

from ..models.binary_add import VARIANTS
from ..tasks import binary_add
from .common import add_common_args, positive_int, use_device


def run(args: argparse.Namespace) -> int:
    use_device(args)
    variants = args.variants.split(",") if args.variants else None
    binary_add.run_experiments(variants, iterations=args.iterations, out_dir=args.out, seed=args.seed,
                               quiet=args.quiet, resume=args.resume)
    print(f"wrote {args.out}/loss.png, {args.out}/results.md, {args.out}/metrics.json")
    return 0


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("binary-add", help="a simple RNN learning 8-bit binary addition (5 variants: "
                                   "vanishing and exploding gradients)")
    parser.add_argument("--iterations", type=positive_int, default=10000, help="training steps per variant")
    parser.add_argument("--variants", default=None, help=f"comma-separated subset of {','.join(VARIANTS)}")
    add_common_args(parser, "runs/binary_add")
    parser.set_defaults(func=run)
