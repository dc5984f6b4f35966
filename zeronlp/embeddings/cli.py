"""``zeronlp word2vec | similar | analogy``: train and query word vectors from the command line."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

DEFAULT_OUT = "runs/word2vec"
PLOT_WORDS = [
    "i",
    "you",
    "we",
    "he",
    "she",
    "they",
    "year",
    "month",
    "week",
    "day",
    "monday",
    "friday",
    "car",
    "truck",
    "auto",
    "stock",
    "bond",
    "share",
    "bank",
    "company",
    "buy",
    "sell",
    "up",
    "down",
    "good",
    "bad",
    "man",
    "woman",
    "king",
    "queen",
    "boy",
    "girl",
    "japan",
    "china",
    "tokyo",
    "london",
]


def add_parser(subparsers) -> None:
    """Register ``word2vec``, ``similar`` and ``analogy`` on an argparse subparsers object."""
    p = subparsers.add_parser(
        "word2vec", help="train word vectors (CBOW, skip-gram or PPMI+SVD) and evaluate them"
    )
    p.add_argument("--corpus", default="ptb", help="'ptb' (shipped) or a text file, one sentence a line")
    p.add_argument("--model", choices=["cbow", "skipgram", "ppmi"], default="cbow")
    p.add_argument("--dim", type=int, default=100, help="vector size")
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--window", type=int, default=None, help="context window (default 5; 2 for ppmi)")
    p.add_argument("--min-count", type=int, default=5)
    p.add_argument("--negative", type=int, default=5)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--out", default=DEFAULT_OUT, help=f"output directory (default {DEFAULT_OUT})")
    p.add_argument("--plot-words", default=None, help="comma-separated words for the PCA plot")
    p.add_argument("--quiet", action="store_true")
    p.add_argument("--resume", action="store_true", help="reuse OUT/vectors.safetensors instead of training")
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"], help="word2vec trains on the CPU")
    p.set_defaults(func=cmd_word2vec)

    p = subparsers.add_parser("similar", help="nearest words by cosine similarity")
    p.add_argument("word")
    p.add_argument(
        "--vectors",
        default=f"{DEFAULT_OUT}/vectors.safetensors",
        help="vectors file (.safetensors, word2vec .txt or .bin)",
    )
    p.add_argument("--topn", type=int, default=10)
    p.set_defaults(func=cmd_similar)

    p = subparsers.add_parser("analogy", help="a : b = c : ?  (analogy man king woman -> queen)")
    p.add_argument("a")
    p.add_argument("b")
    p.add_argument("c")
    p.add_argument("--vectors", default=f"{DEFAULT_OUT}/vectors.safetensors")
    p.add_argument("--topn", type=int, default=5)
    p.set_defaults(func=cmd_analogy)


def _sentences(corpus: str) -> list[list[str]]:
    if corpus == "ptb":
        from ..data import load_ptb_sentences

        return load_ptb_sentences("train")
    from ..data.vocab import tokenize

    path = Path(corpus)
    if not path.is_file():
        raise SystemExit(f"zeronlp word2vec: corpus file {corpus!r} not found (use 'ptb' or a text file)")
    with open(path, encoding="utf-8") as f:
        return [words for words in (tokenize(line) for line in f) if words]


def train_keyed_vectors(args: argparse.Namespace, sentences: list[list[str]]):
    """Train the model the arguments name; returns ``(KeyedVectors, words per second or None)``."""
    if args.model == "ppmi":
        from .svd import ppmi_svd_keyed_vectors

        wv = ppmi_svd_keyed_vectors(
            sentences, dim=args.dim, window=args.window or 2, min_count=args.min_count, seed=args.seed
        )
        return wv, None
    from .word2vec import Word2Vec

    model = Word2Vec(
        vector_size=args.dim,
        window=args.window or 5,
        min_count=args.min_count,
        sg=int(args.model == "skipgram"),
        negative=args.negative,
        epochs=args.epochs,
        seed=args.seed,
    )
    model.build_vocab(sentences)
    model.train(sentences, progress=not args.quiet)
    return model.wv, model.words_per_second


def cmd_word2vec(args: argparse.Namespace) -> int:
    from ..train.metrics import write_metrics
    from .evaluate import evaluate_all
    from .keyedvectors import KeyedVectors

    if getattr(args, "device", "cpu") != "cpu":
        raise SystemExit("zeronlp word2vec: training runs on the CPU (numba kernels); use --device cpu")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    vectors_path = out / "vectors.safetensors"
    t0 = time.perf_counter()
    if args.resume and vectors_path.is_file():
        # training takes seconds and keeps no epoch state: resuming reuses the finished vectors
        wv, words_per_second = KeyedVectors.load(vectors_path), None
    elif args.resume:
        raise SystemExit(f"zeronlp word2vec: cannot resume: no vectors at {vectors_path}")
    else:
        try:
            wv, words_per_second = train_keyed_vectors(args, _sentences(args.corpus))
        except ValueError as err:
            raise SystemExit(f"zeronlp word2vec: {err}") from None
        wv.save(vectors_path)
        wv.save_word2vec_format(out / "vectors.txt")
    seconds = time.perf_counter() - t0
    metrics, sections = evaluate_all(wv)
    metrics.update({"train_seconds": seconds, "words_per_second": words_per_second, "vocab_size": len(wv)})
    config = {k: v for k, v in vars(args).items() if k != "func"}
    # metrics.json follows the convention of every training command: config, history, final test_* metrics
    final = {f"test_{k}" if k.startswith(("analogy", "wordsim", "simlex")) else k: v for k, v in metrics.items()}
    write_metrics(out, config, [], final)
    (out / "report.json").write_text(
        json.dumps({"config": config, "metrics": metrics, "analogy_sections": sections}, indent=2) + "\n"
    )
    words = args.plot_words.split(",") if args.plot_words else PLOT_WORDS
    plotted = plot_words(wv, words, out / "pca.png", title=f"{args.model} on {args.corpus}")
    if not args.quiet:
        print(
            f"{len(wv)} words x {wv.vector_size} in {seconds:.1f} s"
            + (f" ({words_per_second:,.0f} words/s)" if words_per_second else "")
        )
        print(
            f"analogy accuracy {metrics['analogy_accuracy']:.2%} "
            f"on {metrics['analogy_questions']} questions; "
            f"WordSim-353 spearman {metrics['wordsim353_spearman']:.3f}; "
            f"SimLex-999 spearman {metrics['simlex999_spearman']:.3f}"
        )
        print(
            f"wrote {out}/vectors.safetensors, vectors.txt, metrics.json, report.json"
            + (", pca.png" if plotted else "")
        )
    return 0


def plot_words(wv, words: list[str], path: Path, title: str = "") -> bool:
    """Scatter the known ``words`` on their first two principal components; False if fewer than 3 known."""
    from .evaluate import pca_2d

    known = [w for w in words if w in wv]
    if len(known) < 3:
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    points = pca_2d(wv[known])
    fig, ax = plt.subplots(figsize=(7, 6))
    ax.scatter(points[:, 0], points[:, 1], s=12)
    for word, (x, y) in zip(known, points):
        ax.annotate(word, (x, y), fontsize=9, xytext=(3, 3), textcoords="offset points")
    ax.set_title(title or "word vectors (PCA)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return True


def _load(path: str):
    from .keyedvectors import load_vectors

    if Path(path).is_dir():  # the --out directory of `zeronlp word2vec`
        path = str(Path(path) / "vectors.safetensors")
    if not Path(path).is_file():
        raise SystemExit(f"vectors file {path!r} not found; train some with `zeronlp word2vec --out DIR`")
    try:
        return load_vectors(path)
    except ValueError as err:
        raise SystemExit(str(err)) from None


def _print(results) -> None:
    for word, score in results:
        print(f"{word}\t{score:.4f}")


def cmd_similar(args: argparse.Namespace) -> int:
    wv = _load(args.vectors)
    try:
        _print(wv.most_similar(args.word, topn=args.topn))
    except KeyError as err:
        raise SystemExit(err.args[0]) from None
    return 0


def cmd_analogy(args: argparse.Namespace) -> int:
    wv = _load(args.vectors)
    try:
        _print(wv.most_similar(positive=[args.b, args.c], negative=[args.a], topn=args.topn))
    except KeyError as err:
        raise SystemExit(err.args[0]) from None
    return 0


def main(argv: list[str] | None = None) -> int:
    """Stand-alone entry: ``python -m zeronlp.embeddings.cli`` (``zeronlp`` calls :func:`add_parser`)."""
    parser = argparse.ArgumentParser(prog="zeronlp")
    add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    raise SystemExit(main())
