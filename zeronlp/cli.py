"""The ``zeronlp`` command: parse arguments, call the library, print and plot.

Each feature registers its own subcommands with an ``add_parser(subparsers)`` function.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from .serialization import CheckpointError
from .train import TrainingDiverged

# modules that contribute subcommands, in the order they appear in --help
COMMAND_MODULES = [
    "zeronlp.spiral_cli",
    "zeronlp.embeddings.cli",
    "zeronlp.models.lm_cli",
    "zeronlp.models.seq2seq_cli",
    "zeronlp.models.classify_cli",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="zeronlp", description="Deep learning for natural language, from zero.")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as err:
            if err.name == name:  # the feature is not installed in this build
                continue
            raise
        module.add_parser(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("interrupted; the last checkpoint is intact (use --resume to continue)", file=sys.stderr)
        return 130
    except (TrainingDiverged, CheckpointError, FileNotFoundError, KeyError, ValueError) as err:
        message = err.args[0] if isinstance(err, KeyError) and err.args else err
        print(f"zeronlp {args.command}: error: {message}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
