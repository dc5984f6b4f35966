"""Shared pieces of the command line: the options every training command takes, and run setup."""

from __future__ import annotations

import argparse
from pathlib import Path

from . import backend


def add_common_args(parser: argparse.ArgumentParser, default_out: str) -> None:
    """``--out DIR --quiet --seed N --resume --device`` (the convention of every training command)."""
    parser.add_argument("--out", default=default_out, help=f"output directory (default: {default_out})")
    parser.add_argument("--quiet", action="store_true", help="no progress bar or per-epoch lines")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    parser.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.safetensors")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"], help="cpu (NumPy) or cuda (CuPy)")


def start_run(args: argparse.Namespace) -> Path:
    """Apply --device and --seed, create --out, and return the output directory."""
    backend.use_device(getattr(args, "device", "cpu"))
    backend.manual_seed(args.seed)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    return out
