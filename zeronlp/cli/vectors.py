"""``zeronlp vectors STEP``: NLP 100 ch. 7 (tasks 60-69) on any word-vector file.

Steps: ``similarity A B`` (61), ``similar WORD`` (62), ``analogy A B C`` (63, a : b = c : ?),
``analogies`` (64-65), ``wordsim`` (66), ``kmeans`` (67), ``ward`` (68), ``tsne`` / ``pca`` (69),
``report`` (all of them). ``--vectors`` takes a word2vec text or binary file (GoogleNews'
``.bin.gz`` included), a GloVe file, a fastText ``.vec``, or a ``zeronlp word2vec`` run directory.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..data.textfiles import read_lines
from ..tasks import vectors
from .common import add_command_group, non_negative_int, positive_int, threads_option, use_device

DEFAULT_VECTORS = "runs/word2vec"
DEFAULT_OUT = "runs/vectors"
STEPS = ["similarity", "similar", "analogy", "analogies", "wordsim", "kmeans", "ward", "tsne", "pca", "report"]
FORMATS = {"auto": (None, None), "text": (False, False), "binary": (True, False), "no-header": (False, True)}


def _load(args: argparse.Namespace) -> Any:
    use_device(args)
    binary, no_header = FORMATS[args.format]
    return vectors.load(args.vectors, limit=args.limit, unicode_errors=args.unicode_errors, binary=binary,
                        no_header=no_header)


def _words(args: argparse.Namespace) -> list[str] | None:
    """``--words a,b,c`` or ``--words @FILE`` (one word a line); None: the countries of the analogy set."""
    if args.words is None:
        return None
    if args.words.startswith("@"):
        return [line.strip() for line in read_lines(args.words[1:]) if line.strip()]
    return [w for w in args.words.split(",") if w]


def _print(results: list[tuple[str, float]]) -> None:
    for word, score in results:
        print(f"{word}\t{score:.4f}")


def run_similarity(args: argparse.Namespace) -> int:
    print(f"{vectors.similarity(_load(args), args.word1, args.word2):.4f}")
    return 0


def run_similar(args: argparse.Namespace) -> int:
    _print(vectors.most_similar(_load(args), args.word, topn=args.topn))
    return 0


def run_analogy(args: argparse.Namespace) -> int:
    _print(vectors.analogy(_load(args), args.a, args.b, args.c, topn=args.topn))
    return 0


def run_analogies(args: argparse.Namespace) -> int:
    answers = vectors.analogy_answers(_load(args), args.questions, restrict_vocab=args.restrict_vocab)
    path = vectors.write_answers(answers, Path(args.out) / "analogies.txt")
    for kind, row in vectors.analogy_accuracy(answers).items():
        print(f"{kind:9s} accuracy {row['accuracy']:.2%} ({row['correct']} of {row['answered']} answered; "
              f"{row['questions'] - row['answered']} with unknown words)")
    print(f"wrote {path}")
    return 0


def run_wordsim(args: argparse.Namespace) -> int:
    result = vectors.word_pairs(_load(args), args.pairs)
    print(f"spearman {result['spearman']:.4f}  pearson {result['pearson']:.4f}  on {result['pairs']} pairs "
          f"({result['missing_pairs']} with unknown words left out)")
    return 0


def run_kmeans(args: argparse.Namespace) -> int:
    result = vectors.kmeans(_load(args), _words(args), k=args.k, seed=args.seed)
    for number, words in enumerate(result["clusters"]):
        print(f"cluster {number}: {', '.join(words)}")
    return 0


def run_ward(args: argparse.Namespace) -> int:
    result = vectors.ward(_load(args), _words(args), Path(args.out) / "dendrogram.png")
    print(f"Ward clustering of {len(result['words'])} words; wrote {result['path']}")
    return 0


def run_map(args: argparse.Namespace) -> int:
    wv, words = _load(args), _words(args)
    groups = vectors.kmeans(wv, words, k=args.k, seed=args.seed)["labels"] if args.k > 1 else None
    if args.vectors_command == "tsne":
        result = vectors.tsne(wv, words, Path(args.out) / "tsne.png", seed=args.seed, groups=groups)
    else:
        result = vectors.pca(wv, words, Path(args.out) / "pca.png", groups=groups)
    print(f"{args.vectors_command} map of {len(result['words'])} words; wrote {result['path']}")
    return 0


def run_report(args: argparse.Namespace) -> int:
    use_device(args)
    result = vectors.report(args.vectors, args.out, limit=args.limit, unicode_errors=args.unicode_errors,
                            questions=args.questions, pairs=args.pairs, words=_words(args), k=args.k,
                            restrict_vocab=args.restrict_vocab, seed=args.seed, quiet=args.quiet)
    accuracy = result["65_analogy_accuracy"]
    print(f"analogies: semantic {accuracy['semantic']['accuracy']:.2%}, syntactic "
          f"{accuracy['syntactic']['accuracy']:.2%}")
    if "spearman" in result["66_wordsim353"]:
        print(f"WordSim-353 spearman {result['66_wordsim353']['spearman']:.4f}")
    print(f"wrote {args.out}/report.json, analogies.txt, dendrogram.png, tsne.png, pca.png")
    return 0


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--vectors", default=DEFAULT_VECTORS,
                        help="a word-vector file (word2vec text/binary, GloVe, fastText .vec; plain, .gz or .bz2) "
                             "or a `zeronlp word2vec` run directory (default runs/word2vec)")
    parser.add_argument("--limit", type=positive_int, default=None,
                        help="read only the first N vectors (e.g. 300000 of GoogleNews' 3M: memory for N only)")
    parser.add_argument("--format", choices=list(FORMATS), default="auto",
                        help="auto (detected from the file's start), text, binary, or no-header (GloVe)")
    parser.add_argument("--unicode-errors", choices=["strict", "ignore", "replace"], default="strict",
                        help="words with broken UTF-8 (the C tool cuts some): strict stops, ignore drops the bytes")
    parser.add_argument("--seed", type=non_negative_int, default=0, help="random seed (k-means, t-SNE)")
    parser.add_argument("--threads", type=threads_option, default="auto", help="BLAS threads: a number, or auto")
    parser.add_argument("--quiet", action="store_true", help="no progress lines")


def register(subparsers: Any) -> None:
    sub = add_command_group(subparsers, "vectors",
                            "NLP 100 ch. 7 on any word-vector file: similarity, analogies, WordSim-353, "
                            "k-means, Ward, t-SNE", STEPS)

    def step(name: str, help_text: str, func: Any, out: bool = False, words: bool = False) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text)
        _common(p)
        if out:
            p.add_argument("--out", default=DEFAULT_OUT, help="output directory (default runs/vectors)")
        if words:
            p.add_argument("--words", default=None, help="comma-separated words, or @FILE with one word a line "
                                                         "(default: the country names of the analogy set)")
            p.add_argument("--k", type=positive_int, default=5, help="k-means clusters (colours of the maps)")
        p.set_defaults(func=func)
        return p

    p = step("similarity", "task 61: cosine similarity of two words", run_similarity)
    p.add_argument("word1")
    p.add_argument("word2")
    p = step("similar", "task 62: the most similar words", run_similar)
    p.add_argument("word")
    p.add_argument("--topn", type=positive_int, default=10, help="how many words to list")
    p = step("analogy", "task 63: a : b = c : ?  (Madrid Spain Athens -> Greece)", run_analogy)
    for name in ("a", "b", "c"):
        p.add_argument(name)
    p.add_argument("--topn", type=positive_int, default=10, help="how many words to list")
    for name, help_text, func in (
        ("analogies", "tasks 64-65: answer the analogy set; semantic and syntactic accuracy", run_analogies),
        ("wordsim", "task 66: Spearman correlation with WordSim-353 (or your pairs file)", run_wordsim),
    ):
        p = step(name, help_text, func, out=name != "wordsim")
        if name != "wordsim":
            p.add_argument("--questions", default=None, help="analogy file (default: questions-words.txt)")
            p.add_argument("--restrict-vocab", type=positive_int, default=300000,
                           help="answers among the first N words (gensim's default 300000)")
        if name != "analogies":
            p.add_argument("--pairs", default=None, help="word-pair scores, tab or comma separated "
                                                         "(default: the shipped WordSim-353)")
    step("kmeans", "task 67: k-means of the country vectors", run_kmeans, words=True)
    step("ward", "task 68: Ward clustering and its dendrogram (dendrogram.png)", run_ward, out=True, words=True)
    step("tsne", "task 69: t-SNE map of the vectors (tsne.png), coloured by k-means", run_map, out=True, words=True)
    step("pca", "the same map by PCA (pca.png)", run_map, out=True, words=True)
    p = step("report", "tasks 60-69 at once: report.json, analogies.txt and the plots", run_report, out=True,
             words=True)
    p.add_argument("--questions", default=None, help="analogy file (default: questions-words.txt)")
    p.add_argument("--restrict-vocab", type=positive_int, default=300000,
                   help="answers among the first N words (gensim's default 300000)")
    p.add_argument("--pairs", default=None, help="word-pair scores (default: the shipped WordSim-353)")
