"""Word vectors as library functions: train (word2vec, PPMI + SVD, the book's CBOW/skip-gram
networks), evaluate on the shipped word-similarity and analogy sets, query saved vectors.

Methods:

* ``cbow`` / ``skipgram`` — :class:`~zeronlp.embeddings.Word2Vec` (gensim's algorithm: sub-sampling,
  dynamic windows, linearly decaying learning rate, negative sampling) with its numba kernel; it
  takes seconds on PTB and keeps no epoch state, so ``resume`` reuses finished vectors;
* ``ppmi`` — counting: co-occurrence matrix, PPMI, truncated SVD (DLfS 2 ch. 2);
* ``book-cbow`` / ``book-skipgram`` — the book's networks (ch. 4: embedding layers and negative
  sampling, :class:`~zeronlp.models.CBOW` / :class:`~zeronlp.models.SkipGram`) trained with Adam
  through the one :class:`~zeronlp.train.Trainer` (checkpoints, Ctrl-C, exact resume).

The run directory holds ``vectors.safetensors``, ``vectors.txt`` (word2vec text format),
``metrics.json`` (``test_analogy_accuracy``, ``test_wordsim353_spearman``, ...), ``report.json`` and
``pca.png``.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from .. import backend, distributed, optim
from ..data.ptb import load_ptb_sentences
from ..data.textfiles import get_tokenizer, read_lines
from ..data.vocab import Vocabulary
from ..embeddings import KeyedVectors, Word2Vec, load_vectors, ppmi_svd_keyed_vectors
from ..embeddings.evaluate import evaluate_all, pca_2d
from ..errors import CheckpointError, DataError, UsageError
from ..models.word2vec import CBOW, SkipGram
from ..train import MiniBatches, Trainer, log, write_json, write_metrics
from ..viz.plots import plot_labeled_points

METHODS = ("cbow", "skipgram", "ppmi", "book-cbow", "book-skipgram")
VECTORS_FILE = "vectors.safetensors"
PLOT_WORDS = ("i you we he she they year month week day monday friday car truck auto stock bond share bank "
              "company buy sell up down good bad man woman king queen boy girl japan china tokyo london").split()


def load_sentences(corpus: str | os.PathLike = "ptb", tokenizer: str = "simple") -> list[list[str]]:
    """Token lists of the shipped PTB training split (``"ptb"``) or of a text file, one sentence a line."""
    if os.fspath(corpus) == "ptb":
        return load_ptb_sentences("train")
    tokenize = get_tokenizer(tokenizer)
    sentences = [words for words in (tokenize(line) for line in read_lines(corpus)) if words]
    if not sentences:
        raise DataError("has no words", corpus)
    return sentences


def _book_pairs(sentences: list[list[str]], window: int, min_count: int) -> tuple[np.ndarray, np.ndarray, Vocabulary]:
    """(contexts (N, 2 * window), targets (N,), vocabulary): every position with a full window,
    inside one sentence, of the words seen ``min_count`` times (the book's ``create_contexts_target``)."""
    vocab = Vocabulary.build(sentences, min_count=min_count, order="frequency")
    offsets = [o for o in range(-window, window + 1) if o]
    contexts, targets = [], []
    for sentence in sentences:
        ids = np.asarray([vocab.word_to_id[w] for w in sentence if w in vocab], dtype=np.int64)
        if len(ids) > 2 * window:
            targets.append(ids[window:len(ids) - window])
            contexts.append(np.stack([ids[window + o:len(ids) - window + o] for o in offsets], axis=1))
    if not targets:
        raise DataError(f"no sentence is longer than {2 * window} known words: nothing to train the "
                        f"book's {window}-word window on")
    return np.concatenate(contexts), np.concatenate(targets), vocab


def train_book_model(sentences: list[list[str]], method: str = "book-cbow", dim: int = 100, window: int = 5,
                     min_count: int = 5, negative: int = 5, epochs: int = 5, batch_size: int = 100,
                     lr: float = 1e-3, out_dir: str | os.PathLike | None = None, quiet: bool = True,
                     resume: bool = False, seed: int = 0) -> tuple[KeyedVectors, list[dict[str, Any]]]:
    """Train the book's CBOW or skip-gram network through the Trainer; ``(vectors, history)``."""
    contexts, targets, vocab = _book_pairs(sentences, window, min_count)
    backend.manual_seed(seed)
    model_class = CBOW if method == "book-cbow" else SkipGram
    model = model_class(len(vocab), dim, np.asarray(vocab.counts), negative=negative)
    trainer = Trainer(model, optim.Adam(model.parameters(), lr=lr), lambda m, batch: m(*batch), out_dir=out_dir,
                      quiet=quiet, meta={"config": {"method": method, "vocab_size": len(vocab), "dim": dim},
                                         "vocab": list(vocab.id_to_word)},
                      config={"method": method, "window": window, "epochs": epochs, "batch_size": batch_size,
                              "lr": lr, "negative": negative})
    history = trainer.fit(MiniBatches(contexts, targets, batch_size=batch_size), epochs=epochs, resume=resume)
    return KeyedVectors(vocab.id_to_word, backend.to_numpy(model.word_vecs).copy()), history


def train(method: str = "cbow", corpus: str | os.PathLike = "ptb", *, dim: int = 100, epochs: int = 5,
          window: int | None = None, min_count: int = 5, negative: int = 5, tokenizer: str = "simple",
          out_dir: str | os.PathLike | None = None, quiet: bool = True, resume: bool = False, seed: int = 0,
          plot_words: list[str] | None = None, workers: int = 1) -> dict[str, Any]:
    """Train vectors with ``method`` (see the module docstring) and evaluate them.

    ``workers`` > 1 runs word2vec's kernels in that many threads (Hogwild updates, as gensim's
    ``workers``: faster on several free cores, no longer bit-reproducible).
    Returns ``{"vectors", "final", "sections", "history", "config"}``.
    """
    if method not in METHODS:
        raise UsageError(f"unknown method {method!r}; use one of {', '.join(METHODS)}")
    for name, value in (("dim", dim), ("epochs", epochs), ("min_count", min_count), ("negative", negative)):
        if value < 1:
            raise UsageError(f"{name} must be positive, got {value}")
    window = window or (2 if method == "ppmi" else 5)
    config = dict(model=method, corpus=os.fspath(corpus), dim=dim, epochs=epochs, window=window,
                  min_count=min_count, negative=negative, tokenizer=tokenizer, seed=seed)
    if method in ("cbow", "skipgram"):
        config["workers"] = workers  # several: Hogwild threads, no longer bit-reproducible
    out = Path(out_dir) if out_dir is not None else None
    started, words_per_second, history = time.perf_counter(), None, []
    if resume and method in ("cbow", "skipgram", "ppmi"):
        # these train in seconds and keep no epoch state: resuming reuses the finished vectors
        if out is None or not (out / VECTORS_FILE).is_file():
            raise CheckpointError(f"cannot resume: no vectors at {out / VECTORS_FILE if out else '(no out_dir)'}")
        vectors = KeyedVectors.load(out / VECTORS_FILE)
    else:
        sentences = load_sentences(corpus, tokenizer)
        if method == "ppmi":
            vectors = ppmi_svd_keyed_vectors(sentences, dim=dim, window=window, min_count=min_count, seed=seed)
        elif method in ("cbow", "skipgram"):
            model = Word2Vec(vector_size=dim, window=window, min_count=min_count, sg=int(method == "skipgram"),
                             negative=negative, epochs=epochs, seed=seed, workers=workers)
            model.build_vocab(sentences)
            model.train(sentences, progress=not quiet)
            vectors, words_per_second = model.wv, model.words_per_second
        else:
            vectors, history = train_book_model(sentences, method, dim, window, min_count, negative, epochs,
                                                out_dir=out, quiet=quiet, resume=resume, seed=seed)
    seconds = time.perf_counter() - started
    metrics, sections = evaluate_all(vectors)
    final = {f"test_{k}" if k.startswith(("analogy", "wordsim", "simlex")) else k: v for k, v in metrics.items()}
    final.update(train_seconds=seconds, words_per_second=words_per_second, vocab_size=len(vectors))
    if out is not None and distributed.init().is_main:  # with MPI ranks, rank 0 writes
        out.mkdir(parents=True, exist_ok=True)
        vectors.save(out / VECTORS_FILE)
        vectors.save_word2vec_format(out / "vectors.txt")
        write_metrics(out, config, history, final)
        write_json(out / "report.json", {"config": config, "metrics": metrics, "analogy_sections": sections})
        known = [w for w in (plot_words or PLOT_WORDS) if w in vectors]
        if len(known) >= 3:
            points, variance = pca_2d(vectors[known], return_variance=True)
            plot_labeled_points(points, known, out / "pca.png",
                                title=f"{method} on {config['corpus']}: word vectors, PCA",
                                xlabel=f"1st principal component ({variance[0]:.0%} of the variance)",
                                ylabel=f"2nd principal component ({variance[1]:.0%} of the variance)")
        else:
            log(f"no pca.png: only {len(known)} of the plot words are in the vocabulary (need 3; "
                "choose some with --plot-words)", quiet)
    log(f"{len(vectors)} words x {vectors.vector_size} in {seconds:.1f} s"
        + (f" ({words_per_second:,.0f} words/s)" if words_per_second else ""), quiet)
    return {"vectors": vectors, "final": final, "sections": sections, "history": history, "config": config}


def load(path: str | os.PathLike) -> KeyedVectors:
    """Vectors from a ``word2vec`` run directory or a vectors file (.safetensors, word2vec .txt/.bin)."""
    path = Path(path)
    if path.is_dir():
        path = path / VECTORS_FILE
    if not path.is_file():
        raise DataError("no such vectors file; train some with `zeronlp word2vec --out DIR`", path)
    return load_vectors(path)
