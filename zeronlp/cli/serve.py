"""``zeronlp serve --run DIR [--run DIR ...]``: a local web page to explore trained runs."""

from __future__ import annotations

import argparse
from typing import Any

from .. import serve as serving


def run_serve(args: argparse.Namespace) -> int:
    serving.serve(args.run, host=args.host, port=args.port, log_level=args.log_level)
    return 0


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "serve", help="explore trained runs in a local web page",
        description="Serve a web page (and a JSON API under /api) for each run: next-word bars and sampling for "
                    "a language model, the answer and attention heatmap for seq2seq, class probabilities for a "
                    "classifier, neighbours, analogies and a 2-D map for word vectors. Needs the serve extra: "
                    "pip install 'zeronlp[serve]'.")
    parser.add_argument("--run", action="append", required=True, metavar="[NAME=]DIR",
                        help="a run directory (the --out of `lm train`, `seq2seq train`, `classify train` or "
                             "`word2vec`), or a model/vectors file; repeat for more runs; NAME= sets its URL name")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to bind; 0.0.0.0 lets other machines in (there is no login)")
    parser.add_argument("--port", type=int, default=8000, help="port to listen on")
    parser.add_argument("--log-level", default="warning", choices=["critical", "error", "warning", "info", "debug"],
                        help="uvicorn's log level (info logs every request)")
    parser.set_defaults(func=run_serve)
