"""word2vec on PTB: zeronlp vs gensim (``--workers N`` threads each, 1 by default), same hyperparameters,
plus the book's NumPy CBOW floor.

``python -m benchmarks word2vec --repeat N`` (the harness calls :func:`run`), or directly
``python benchmarks/word2vec.py [--epochs 5] [--models cbow,skipgram] [--repeat 1]``.
Words/s counts every corpus token of every epoch (the same numerator for both libraries); only
``train`` is timed, not vocabulary building. Analogy accuracy is each library's own evaluation on
questions-words.txt (restricted to the vocabulary, as gensim does).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Sequence

import numpy as np

from zeronlp.data import load_ptb, load_ptb_sentences
from zeronlp.data.files import dataset_path
from zeronlp.embeddings import Word2Vec
from zeronlp.embeddings.evaluate import evaluate_all


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="benchmarks word2vec")
    p.add_argument("--repeat", type=int, default=1)
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--models", default="cbow,skipgram")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--workers", type=int, default=1, help="training threads of both libraries (Hogwild)")
    p.add_argument("--book-words", type=int, default=3000, help="words for the book-style NumPy CBOW floor")
    return p.parse_args(argv)


def _hyper(sg: int, epochs: int, seed: int) -> dict:
    return dict(
        vector_size=100,
        window=5,
        min_count=5,
        sg=sg,
        negative=5,
        sample=1e-3,
        alpha=0.025,
        min_alpha=0.0001,
        epochs=epochs,
        seed=seed,
    )


def time_zeronlp(sentences, sg: int, epochs: int, seed: int, workers: int = 1):
    model = Word2Vec(workers=workers, **_hyper(sg, epochs, seed))
    model.build_vocab(sentences)
    t0 = time.perf_counter()
    model.train(sentences)
    return time.perf_counter() - t0, model.wv


def time_gensim(sentences, sg: int, epochs: int, seed: int, workers: int = 1):
    from gensim.models import Word2Vec as GensimWord2Vec

    model = GensimWord2Vec(workers=workers, **_hyper(sg, epochs, seed))
    model.build_vocab(sentences)
    t0 = time.perf_counter()
    model.train(sentences, total_examples=model.corpus_count, epochs=epochs)
    return time.perf_counter() - t0, model.wv


def gensim_metrics(wv) -> dict:
    accuracy, _ = wv.evaluate_word_analogies(str(dataset_path("questions-words.txt")))
    out = {"analogy_accuracy": accuracy}
    for name, file in (("wordsim353", "wordsim353.tsv"), ("simlex999", "simlex999.txt")):
        out[f"{name}_spearman"] = float(wv.evaluate_word_pairs(str(dataset_path(file)))[1][0])
    return out


def book_cbow_words_per_second(
    n_words: int = 3000,
    window: int = 5,
    hidden: int = 100,
    batch: int = 100,
    sample_size: int = 5,
    seed: int = 0,
) -> float:
    """The book's ch. 4 CBOW (Embedding + NegativeSamplingLoss + Adam) in plain NumPy, as the floor.

    As in the book: per-row ``np.random.choice(p=...)`` negatives, ``np.add.at`` embedding
    gradients, dense Adam updates of both full weight matrices every mini-batch.
    """
    ids, vocab = load_ptb("train")
    rng = np.random.default_rng(seed)
    V = len(vocab)
    corpus = np.asarray(ids[: n_words + 2 * window])
    counts = np.bincount(ids, minlength=V).astype(np.float64)
    p = counts**0.75
    p /= p.sum()
    contexts = np.stack(
        [corpus[window + o : len(corpus) - window + o] for o in range(-window, window + 1) if o], axis=1
    )
    targets = corpus[window:-window]
    params = [0.01 * rng.standard_normal((V, hidden)).astype(np.float32) for _ in range(2)]
    ms = [np.zeros_like(w) for w in params]
    vs = [np.zeros_like(w) for w in params]
    lr, b1, b2 = 0.001, 0.9, 0.999
    t0 = time.perf_counter()
    for step, start in enumerate(range(0, len(targets), batch), start=1):
        c, t = contexts[start : start + batch], targets[start : start + batch]
        W_in, W_out = params
        h = W_in[c].mean(axis=1)
        neg = np.empty((len(t), sample_size), dtype=np.int64)
        for i, target in enumerate(t):
            q = p.copy()
            q[target] = 0
            q /= q.sum()
            neg[i] = rng.choice(V, size=sample_size, replace=False, p=q)
        dh = np.zeros_like(h)
        grads = [np.zeros_like(W_in), np.zeros_like(W_out)]
        for words, label in [(t[:, None], 1.0)] + [(neg[:, k : k + 1], 0.0) for k in range(sample_size)]:
            w = W_out[words[:, 0]]
            score = 1 / (1 + np.exp(-(h * w).sum(axis=1)))
            dscore = ((score - label) / len(t))[:, None]
            np.add.at(grads[1], words[:, 0], dscore * h)
            dh += dscore * w
        for j in range(c.shape[1]):
            np.add.at(grads[0], c[:, j], dh / c.shape[1])
        for w, g, m, v in zip(params, grads, ms, vs):
            lr_t = lr * np.sqrt(1 - b2**step) / (1 - b1**step)
            m += (1 - b1) * (g - m)
            v += (1 - b2) * (g**2 - v)
            w -= lr_t * m / (np.sqrt(v) + 1e-7)
    return len(targets) / (time.perf_counter() - t0)


def run(repeat: int = 1, args: argparse.Namespace | Sequence[str] | None = None) -> None:
    """Print words/s (zeronlp, gensim, ratio) and analogy / WordSim / SimLex for CBOW and skip-gram."""
    if args is None or isinstance(args, (list, tuple)):
        args = parse_args(list(args or []))
    elif getattr(args, "extra", None):  # `python -m benchmarks word2vec --workers 2 ...`: this module's options
        args = parse_args(list(args.extra))
    epochs = getattr(args, "epochs", 5)
    seed = getattr(args, "seed", 1)
    workers = max(1, int(getattr(args, "workers", 1)))
    models = getattr(args, "models", "cbow,skipgram").split(",")
    repeat = max(1, int(repeat or getattr(args, "repeat", 1)))
    sentences = load_ptb_sentences("train")
    n_words = sum(len(s) for s in sentences)
    Word2Vec(sentences[:50], min_count=1, epochs=1)  # compile (or load) the numba kernels before timing
    Word2Vec(sentences[:50], min_count=1, epochs=1, sg=1)
    print(
        f"word2vec on PTB train: {len(sentences):,} sentences, {n_words:,} words, {epochs} epochs, "
        f"dim 100, window 5, negative 5, sample 1e-3, min_count 5, workers={workers} (both libraries)"
    )
    for name in models:
        sg = int(name == "skipgram")
        ours_t, theirs_t = [], []
        for _ in range(repeat):
            seconds, wv = time_zeronlp(sentences, sg, epochs, seed, workers)
            ours_t.append(seconds)
            g_seconds, gwv = time_gensim(sentences, sg, epochs, seed, workers)
            theirs_t.append(g_seconds)
        ours_wps = n_words * epochs / statistics.median(ours_t)
        theirs_wps = n_words * epochs / statistics.median(theirs_t)
        ours_m, _ = evaluate_all(wv)
        theirs_m = gensim_metrics(gwv)
        print(
            f"{name:9s} words/s  zeronlp {ours_wps:>11,.0f}   gensim {theirs_wps:>11,.0f}   "
            f"ratio {ours_wps / theirs_wps:.2f}x"
        )
        print(
            f"{name:9s} analogy  zeronlp {ours_m['analogy_accuracy']:.2%}   "
            f"gensim {theirs_m['analogy_accuracy']:.2%}"
            f"   ({ours_m['analogy_questions']} questions in vocabulary)"
        )
        for key, label in (("wordsim353_spearman", "WordSim-353"), ("simlex999_spearman", "SimLex-999")):
            print(f"{name:9s} {label} spearman  zeronlp {ours_m[key]:.3f}   gensim {theirs_m[key]:.3f}")
    book_words = getattr(args, "book_words", 3000)
    if book_words:
        floor = book_cbow_words_per_second(book_words)
        print(f"book-style NumPy CBOW (batch 100, Adam): {floor:,.0f} words/s on {book_words} words")


if __name__ == "__main__":
    ns = parse_args()
    run(ns.repeat, ns)
