"""The ``zeronlp`` command: one module per command, each parsing its arguments and making one call
into :mod:`zeronlp.tasks` (or a model's inference), then printing.

Each command module has ``register(subparsers)``. Errors the user can fix (:class:`~zeronlp.errors.ZeronlpError`:
bad data, bad checkpoint, diverged training, bad options) print as one ``zeronlp COMMAND: error: ...``
line with exit code 2; any other exception is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Any

from .. import __version__
from ..errors import ZeronlpError

# command modules, in the order they appear in --help
COMMAND_MODULES = [
    "zeronlp.cli.spiral",
    "zeronlp.cli.word2vec",
    "zeronlp.cli.vectors",
    "zeronlp.cli.lm",
    "zeronlp.cli.binary_add",
    "zeronlp.cli.seq2seq",
    "zeronlp.cli.classify",
    "zeronlp.cli.vae",
    "zeronlp.cli.dialogue",
    "zeronlp.cli.serve",
]


class HelpFormatter(argparse.HelpFormatter):
    """Every option's help ends with its default (unless it has none or says it already)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if "default" in text or default in (None, False, argparse.SUPPRESS) or not action.option_strings:
            return text
        return f"{text} (default: {default})"


class Parser(argparse.ArgumentParser):
    """zeronlp's argument parser: defaults shown in every help; subcommands use the same class."""

    def __init__(self, *args: Any, **kwargs: Any):
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="zeronlp", description="Deep learning for natural language, from zero.")
    parser.add_argument("--version", action="version", version=f"zeronlp {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        module = importlib.import_module(name)
        (getattr(module, "register", None) or module.add_parser)(subparsers)
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
        print("interrupted", file=sys.stderr)  # what was saved (or that nothing was) is logged by the run
        return 130
    except ZeronlpError as err:
        step = getattr(args, f"{args.command.replace('-', '_')}_command", None)
        print(f"zeronlp {args.command}{' ' + step if step else ''}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
