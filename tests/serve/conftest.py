"""Tiny trained runs of every kind that ``zeronlp serve`` shows, trained once per test session
through the task functions (about three seconds together)."""

from __future__ import annotations

import random

import numpy as np
import pytest

from zeronlp.embeddings import KeyedVectors
from zeronlp.tasks import classify, lm, seq2seq, word2vec

SENTENCES = ["you say goodbye and i say hello .", "the cat eats fish .", "the dog eats meat ."]
ENGLISH = "one two three four five six".split()
SPANISH = "uno dos tres cuatro cinco seis".split()
POSITIVE = ["great", "wonderful", "excellent", "loved", "superb"]
NEGATIVE = ["awful", "terrible", "boring", "hated", "dreadful"]
FILLER = ["the", "film", "was", "a", "story", "plot", "acting", "really", "this", "movie"]


def _number_words(path, lines=400, seed=0):
    rng = random.Random(seed)
    with open(path, "w", encoding="utf-8") as handle:
        for _ in range(lines):
            idx = [rng.randrange(6) for _ in range(rng.randint(1, 4))]
            handle.write(" ".join(ENGLISH[i] for i in idx) + "\t" + " ".join(SPANISH[i] for i in idx) + "\n")
    return path


def _reviews(path, n=60, seed=1):
    rng = np.random.default_rng(seed)
    lines = []
    for i in range(n):
        words = list(rng.choice(FILLER, size=rng.integers(1, 5)))
        words.insert(int(rng.integers(0, len(words) + 1)), str(rng.choice(POSITIVE if i % 2 == 0 else NEGATIVE)))
        lines.append(f"{'pos' if i % 2 == 0 else 'neg'}\t{' '.join(words)}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def runs(tmp_path_factory):
    """``{"lm", "seq2seq", "classifier", "vectors"}`` -> a trained run directory of that kind."""
    root = tmp_path_factory.mktemp("serve-runs")
    data = root / "data"
    data.mkdir()
    text = data / "lm.txt"
    text.write_text("\n".join(SENTENCES * 40) + "\n", encoding="utf-8")
    lm.train("rnnlm", train=text, epochs=8, batch_size=4, bptt=6, lr=5, clip=1, out_dir=root / "lm", quiet=True,
             model_kwargs=dict(wordvec_size=16, hidden_size=16))

    seq2seq.train(model="attention", train=_number_words(data / "numbers.tsv"), level="word", epochs=8,
                  batch_size=32, hidden_size=32, wordvec_size=8, lr=0.01, out_dir=root / "seq2seq", quiet=True)

    words = sorted(set(POSITIVE + NEGATIVE + FILLER))
    matrix = np.random.default_rng(0).standard_normal((len(words), 16)).astype(np.float32) * 0.5
    for i, word in enumerate(words):
        matrix[i, 0] += 2.0 if word in POSITIVE else -2.0 if word in NEGATIVE else 0.0
    KeyedVectors(words, matrix).save_word2vec_format(data / "vec.txt")
    classify.train("mean", train=_reviews(data / "reviews.tsv"), vectors=data / "vec.txt", out_dir=root / "classifier",
                   epochs=15, lr=0.02, batch_size=8, quiet=True)

    corpus = data / "corpus.txt"
    corpus.write_text("\n".join(["You say goodbye and I say hello."] * 30
                                + ["The cat eats fish. The dog eats meat."] * 30) + "\n", encoding="utf-8")
    word2vec.train("cbow", corpus, dim=8, epochs=1, min_count=1, window=2, out_dir=root / "vectors", quiet=True,
                   plot_words=["you", "i", "cat", "dog", "say"])
    return {kind: root / kind for kind in ("lm", "seq2seq", "classifier", "vectors")}
