"""``zeronlp spiral``: the book's first experiment, a two-layer net on the spiral data set."""

from __future__ import annotations

import argparse
from typing import Any

from ..tasks import spiral
from .common import add_common_args, positive_float, positive_int, use_device


def run(args: argparse.Namespace) -> int:
    use_device(args)
    result = spiral.train(args.classes, args.hidden, args.epochs, args.lr, args.batch_size, args.points,
                          out_dir=args.out, quiet=args.quiet, resume=args.resume, seed=args.seed)
    final = result["final"]
    print(f"train accuracy {final['train_accuracy']:.4f}, test accuracy (fresh spiral) {final['test_accuracy']:.4f}; "
          f"wrote {args.out}/loss.png, {args.out}/decision_boundary.png, {args.out}/metrics.json")
    return 0


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("spiral", help="train a two-layer net on the spiral data set (one minute)")
    parser.add_argument("--classes", type=positive_int, default=3, help="number of spiral arms (default 3)")
    parser.add_argument("--hidden", type=positive_int, default=10, help="hidden units (default 10)")
    parser.add_argument("--epochs", type=positive_int, default=300, help="passes over the data")
    parser.add_argument("--lr", type=positive_float, default=1.0, help="SGD learning rate")
    parser.add_argument("--batch-size", type=positive_int, default=30, help="examples per step")
    parser.add_argument("--points", type=positive_int, default=100, help="points per class (default 100)")
    add_common_args(parser, "runs/spiral")
    parser.set_defaults(func=run)
