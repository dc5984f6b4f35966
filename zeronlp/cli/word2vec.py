"""``zeronlp word2vec | similar | analogy``: train, evaluate and query word vectors."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..data.textfiles import TOKENIZERS
from ..data.vocab import match_case
from ..embeddings.evaluate import describe
from ..errors import UsageError
from ..tasks import word2vec
from .common import add_common_args, positive_int, use_device

DEFAULT_OUT = "runs/word2vec"


def run_train(args: argparse.Namespace) -> int:
    if args.device != "cpu" and args.model in ("cbow", "skipgram", "ppmi"):
        raise UsageError(f"--model {args.model} trains on the CPU (numba kernels / SciPy); use --device cpu")
    use_device(args)
    result = word2vec.train(args.model, args.corpus, dim=args.dim, epochs=args.epochs, window=args.window,
                            min_count=args.min_count, negative=args.negative, tokenizer=args.tokenizer,
                            out_dir=args.out, quiet=args.quiet, resume=args.resume, seed=args.seed,
                            plot_words=args.plot_words.split(",") if args.plot_words else None,
                            workers=args.workers)
    print(describe(result["final"], prefix="test_"))
    print(f"wrote {args.out}/vectors.safetensors, vectors.txt, metrics.json, report.json"
          + (", pca.png" if (Path(args.out) / "pca.png").is_file() else ""))
    return 0


def _print(results: list[tuple[str, float]]) -> None:
    for word, score in results:
        print(f"{word}\t{score:.4f}")


def run_similar(args: argparse.Namespace) -> int:
    vectors = word2vec.load(args.vectors)
    _print(vectors.most_similar(match_case(args.word, vectors), topn=args.topn))
    return 0


def run_analogy(args: argparse.Namespace) -> int:
    vectors = word2vec.load(args.vectors)
    a, b, c = (match_case(word, vectors) for word in (args.a, args.b, args.c))
    _print(vectors.most_similar(positive=[b, c], negative=[a], topn=args.topn))
    return 0


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("word2vec", help="train word vectors (word2vec, PPMI+SVD, the book's CBOW/skip-gram "
                              "networks) and evaluate them")
    p.add_argument("--corpus", default="ptb", help="'ptb' (shipped) or a text file, one sentence a line")
    p.add_argument("--model", choices=list(word2vec.METHODS), default="cbow",
                   help="cbow/skipgram: word2vec (numba); ppmi: counting + SVD; book-cbow/book-skipgram: the "
                        "book's networks trained by the Trainer")
    p.add_argument("--tokenizer", choices=list(TOKENIZERS), default="simple",
                   help="how --corpus lines are split (default simple: lower-case, punctuation split off; "
                        "whitespace: already tokenized)")
    p.add_argument("--dim", type=positive_int, default=100, help="vector size")
    p.add_argument("--epochs", type=positive_int, default=5, help="passes over the corpus")
    p.add_argument("--window", type=positive_int, default=None, help="context window (default 5; 2 for ppmi)")
    p.add_argument("--min-count", type=positive_int, default=5, help="rarer words are dropped")
    p.add_argument("--negative", type=positive_int, default=5, help="negative samples per word")
    p.add_argument("--workers", type=positive_int, default=1,
                   help="cbow/skipgram: kernel threads, like gensim's workers (more than 1: faster on free cores, "
                        "not bit-reproducible)")
    p.add_argument("--plot-words", default=None, help="comma-separated words for the PCA plot")
    add_common_args(p, DEFAULT_OUT)
    p.set_defaults(func=run_train)

    for name, help_text in (("similar", "nearest words by cosine similarity"),
                            ("analogy", "a : b = c : ?  (analogy man king woman -> queen)")):
        q = subparsers.add_parser(name, help=help_text)
        if name == "similar":
            q.add_argument("word")
        else:
            q.add_argument("a")
            q.add_argument("b")
            q.add_argument("c")
        q.epilog = "Words are looked up as written, and in lower case when only that form is known."
        q.add_argument("--vectors", default=DEFAULT_OUT,
                       help="run directory of `zeronlp word2vec` or a vectors file (.safetensors, .txt, .bin)")
        q.add_argument("--topn", type=positive_int, default=10 if name == "similar" else 5,
                       help="how many words to list")
        q.set_defaults(func=run_similar if name == "similar" else run_analogy)
