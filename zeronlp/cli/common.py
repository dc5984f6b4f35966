"""Pieces every command shares: the training options, validated number types, run setup."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .. import backend


def _number(text: str, cast: type, ok: Callable[[float], bool], what: str) -> Any:
    """Parse ``text`` with ``cast`` and check it with ``ok``; argparse turns the error into a usage message."""
    try:
        value = cast(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
    if not ok(value):
        raise argparse.ArgumentTypeError(f"must be {what}, got {text}")
    return value


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    return _number(text, int, lambda v: v >= 1, "a positive integer")


def positive_float(text: str) -> float:
    """argparse type: a finite float > 0."""
    return _number(text, float, lambda v: 0 < v < math.inf, "a positive finite number")


def fraction(text: str) -> float:
    """argparse type: a float in [0, 1)."""
    return _number(text, float, lambda v: 0 <= v < 1, "a number in [0, 1)")


def add_command_group(subparsers: Any, name: str, help_text: str, steps: list[str]) -> Any:
    """A command with sub-steps (``zeronlp lm train|generate|...``): returns the steps' subparsers.
    The command alone prints its help and exits with 2."""
    parser = subparsers.add_parser(name, help=help_text)
    steps_parsers = parser.add_subparsers(dest=f"{name}_command", metavar="{" + ",".join(steps) + "}")
    parser.set_defaults(func=lambda args: (parser.print_help(), 2)[1])
    return steps_parsers


def add_common_args(parser: argparse.ArgumentParser, default_out: str) -> None:
    """``--out DIR --quiet --seed N --resume --device`` (the convention of every training command)."""
    parser.add_argument("--out", default=default_out, help=f"output directory (default: {default_out})")
    parser.add_argument("--quiet", action="store_true", help="no progress bar or per-epoch lines")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    parser.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.safetensors")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"], help="cpu (NumPy) or cuda (CuPy)")


def add_inference_args(parser: argparse.ArgumentParser) -> None:
    """``--seed N --device`` for commands that load a trained run."""
    parser.add_argument("--seed", type=int, default=0, help="random seed for sampling (default: 0)")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"], help="cpu (NumPy) or cuda (CuPy)")


def use_device(args: argparse.Namespace) -> None:
    """Apply ``--device`` and ``--seed``."""
    backend.use_device(getattr(args, "device", "cpu"))
    backend.manual_seed(getattr(args, "seed", 0))


def start_run(args: argparse.Namespace) -> Path:
    """Apply --device and --seed, create --out, and return the output directory (old commands)."""
    use_device(args)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    return out
