"""word2vec (Mikolov et al. 2013) with gensim's API: CBOW and skip-gram with negative sampling.

Training follows the C tool and gensim: frequent words are dropped with probability
``1 - (sqrt(c/(s*N)) + 1) * s*N/c`` (``s = sample``, ``N`` the corpus size); each position draws a
window ``b ~ U{1..window}``; the learning rate decays linearly from ``alpha`` to ``min_alpha`` over
all words of all epochs; negatives come from ``count^0.75`` (:class:`UnigramSampler`).

All randomness comes from one NumPy Generator seeded with ``seed``: subsampling and windows are drawn
here, vectorized, into a *plan* per chunk of sentences, with the seed of the chunk's negative draws;
the per-pair updates, and the negatives with them, then run in a numba kernel (or, with
``backend="numpy"``, in the reference implementation it is tested against).
"""

from __future__ import annotations

import os
import time
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from itertools import repeat

import numpy as np

from ..data.vocab import Vocabulary
from ..errors import DataError
from ..progress import logger
from .keyedvectors import KeyedVectors
from .sampler import UnigramSampler
from .word2vec_kernels import KERNELS, fill_negatives, negative_draws

MAX_WORDS_IN_SENTENCE = 10000  # as gensim: longer sentences are cut into pieces


class LineSentence:
    """Sentences of a text file, one a line, tokens separated by whitespace (gensim's ``LineSentence``)."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = path

    def __iter__(self) -> Iterator[list[str]]:
        with open(self.path, encoding="utf-8") as f:
            for line in f:
                words = line.split()
                if words:
                    yield words


@dataclass
class Plan:
    """The random draws and schedule for one chunk of sentences (inputs to a kernel)."""

    ids: np.ndarray  # int32, kept words of all sentences, concatenated
    offsets: np.ndarray  # int32, sentence s is ids[offsets[s]:offsets[s+1]]
    reduced: np.ndarray  # int32, per position: window shrink b, effective window = window - b
    alphas: np.ndarray  # float32, per position: learning rate
    negative_seed: int  # the seed of the negative draws, made by the thread that runs the plan


def count_pairs(offsets: np.ndarray, window: int, reduced: np.ndarray) -> np.ndarray:
    """Number of (center, context) pairs at each position, sentence boundaries respected."""
    n = int(offsets[-1])
    lengths = np.diff(offsets)
    pos = np.arange(n, dtype=np.int64)
    start = np.repeat(offsets[:-1].astype(np.int64), lengths)
    end = np.repeat(offsets[1:].astype(np.int64), lengths)
    w = window - reduced.astype(np.int64)
    return np.minimum(end - 1, pos + w) - np.maximum(start, pos - w)


class Word2Vec:
    """Train word vectors with gensim's interface and defaults.

    ``sentences``: iterable of token lists (or ``corpus_file``: one sentence a line). When either is
    given, the vocabulary is built and the model trained at once. ``sg=0`` is CBOW (mean of context
    vectors predicts the center word), ``sg=1`` skip-gram. ``wv`` holds the trained vectors.
    ``workers`` > 1: the numba kernels of several chunks run at once in threads (they release the GIL)
    while the main thread draws the next plans — Hogwild updates of shared rows, as gensim's and the C
    tool's threads do, so results are no longer bit-reproducible; ``workers=1`` is deterministic.
    """

    def __init__(
        self,
        sentences: Iterable[Sequence[str]] | None = None,
        corpus_file: str | os.PathLike | None = None,
        vector_size: int = 100,
        window: int = 5,
        min_count: int = 5,
        sg: int = 0,
        negative: int = 5,
        sample: float = 1e-3,
        alpha: float = 0.025,
        min_alpha: float = 0.0001,
        epochs: int = 5,
        seed: int = 1,
        max_vocab_size: int | None = None,
        ns_exponent: float = 0.75,
        compute_loss: bool = False,
        backend: str = "numba",
        batch_words: int = 200_000,
        workers: int = 1,
    ) -> None:
        if sentences is not None and corpus_file is not None:
            raise ValueError("give either sentences or corpus_file, not both")
        for name, value in (
            ("vector_size", vector_size),
            ("window", window),
            ("negative", negative),
            ("epochs", epochs),
            ("min_count", min_count),
        ):
            if value < 1:
                raise ValueError(f"{name} must be >= 1, got {value}")
        if sg not in (0, 1):
            raise ValueError(f"sg must be 0 (CBOW) or 1 (skip-gram), got {sg}")
        if backend not in ("numba", "numpy"):
            raise ValueError(f"backend must be 'numba' or 'numpy', got {backend!r}")
        if int(workers) != workers or workers < 1:
            raise ValueError(f"workers must be a positive integer, got {workers!r}")
        self.vector_size, self.window, self.min_count = vector_size, window, min_count
        self.sg, self.negative, self.sample = sg, negative, sample
        self.alpha, self.min_alpha, self.epochs, self.seed = alpha, min_alpha, epochs, seed
        self.max_vocab_size, self.ns_exponent = max_vocab_size, ns_exponent
        self.compute_loss, self.backend, self.batch_words = compute_loss, backend, batch_words
        self.workers = int(workers)
        self.rng = np.random.default_rng(seed)
        self.vocab: Vocabulary | None = None
        self.wv: KeyedVectors | None = None
        self.syn1neg: np.ndarray | None = None
        self.losses: list[float] = []
        self.train_seconds = 0.0
        self.words_per_second = 0.0
        if sentences is not None or corpus_file is not None:
            self.build_vocab(sentences, corpus_file=corpus_file)
            self.train(sentences, corpus_file=corpus_file)

    # -- vocabulary -------------------------------------------------------------------------------
    @staticmethod
    def _corpus(sentences, corpus_file) -> Iterable[Sequence[str]]:
        if corpus_file is not None:
            return LineSentence(corpus_file)
        if sentences is None:
            raise ValueError("no corpus: give sentences (iterable of token lists) or corpus_file")
        if isinstance(sentences, str):
            raise ValueError("sentences must be an iterable of token lists, not a string")
        return sentences

    def build_vocab(self, sentences=None, corpus_file=None) -> Word2Vec:
        """Count words, keep those seen ``min_count`` times (most frequent first), initialize vectors.

        Input vectors start uniform in ``[-0.5, 0.5) / vector_size``, output vectors at zero.
        """
        corpus = self._corpus(sentences, corpus_file)
        vocab = Vocabulary.build(
            corpus, min_count=self.min_count, max_size=self.max_vocab_size, order="frequency"
        )
        if len(vocab) == 0:
            raise DataError(
                f"empty vocabulary: no word occurs at least min_count={self.min_count} times in the corpus "
                "(a small corpus needs a smaller min_count, e.g. --min-count 1)"
            )
        self.vocab = vocab
        counts = np.asarray(vocab.counts, dtype=np.float64)
        self.sampler = UnigramSampler(counts, power=self.ns_exponent)
        self.keep_prob = self._keep_probabilities(counts)
        vectors = (self.rng.random((len(vocab), self.vector_size), dtype=np.float32) - 0.5) / self.vector_size
        self.wv = KeyedVectors(vocab.id_to_word, vectors, counts=vocab.counts)
        self.syn1neg = np.zeros_like(vectors)
        return self

    def _keep_probabilities(self, counts: np.ndarray) -> np.ndarray:
        """gensim's down-sampling: keep word ``w`` with probability ``min(1, (sqrt(c_w/t) + 1) t/c_w)``."""
        if not self.sample:
            return np.ones(counts.size, dtype=np.float32)
        threshold = self.sample * counts.sum() if self.sample < 1.0 else self.sample
        prob = (np.sqrt(counts / threshold) + 1.0) * (threshold / counts)
        return np.minimum(prob, 1.0).astype(np.float32)

    def encode(self, sentences=None, corpus_file=None) -> tuple[np.ndarray, np.ndarray]:
        """Corpus as (ids int32, sentence offsets int64); unknown words and empty sentences dropped."""
        if self.vocab is None:
            raise RuntimeError("call build_vocab() before encode()/train()")
        get = self.vocab.word_to_id.get
        flat: list[int] = []
        raw_lengths: list[int] = []
        for sentence in self._corpus(sentences, corpus_file):
            before = len(flat)
            flat.extend(map(get, sentence, repeat(-1)))  # one C-level pass a sentence (-1: unknown)
            raw_lengths.append(len(flat) - before)
        ids = np.array(flat, dtype=np.int32)
        known = ids >= 0
        lengths = np.bincount(np.repeat(np.arange(len(raw_lengths)), raw_lengths)[known], minlength=len(raw_lengths))
        ids = ids[known]
        if not ids.size:
            raise ValueError("empty corpus: no in-vocabulary words to train on")
        if lengths.max() > MAX_WORDS_IN_SENTENCE:  # cut long sentences into pieces of at most the maximum
            full, rest = np.divmod(lengths, MAX_WORDS_IN_SENTENCE)
            pieces = [[MAX_WORDS_IN_SENTENCE] * int(f) + ([int(r)] if r else []) for f, r in zip(full, rest)]
            lengths = np.array([n for p in pieces for n in p], dtype=np.int64)
        lengths = lengths[lengths > 0]
        offsets = np.zeros(lengths.size + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        return ids, offsets

    # -- training ---------------------------------------------------------------------------------
    def make_plan(self, ids: np.ndarray, offsets: np.ndarray, alpha_start: float, alpha_end: float) -> Plan:
        """Draw subsampling, windows and negatives for one chunk of sentences (``offsets[0] == 0``).

        The learning rate falls linearly from ``alpha_start`` at the chunk's first raw word to
        ``alpha_end`` after its last; dropped words still count as progress, as in gensim.
        """
        rng = self.rng
        keep = rng.random(ids.size, dtype=np.float32) < self.keep_prob[ids]
        kept_positions = np.flatnonzero(keep)
        sentence_of = np.repeat(np.arange(offsets.size - 1), np.diff(offsets))
        new_lengths = np.bincount(sentence_of[keep], minlength=offsets.size - 1)
        new_offsets = np.zeros(offsets.size, dtype=np.int64)
        np.cumsum(new_lengths, out=new_offsets[1:])
        kept = ids[keep]
        reduced = rng.integers(0, self.window, size=kept.size, dtype=np.int32)
        alphas = (alpha_start + (alpha_end - alpha_start) * kept_positions / max(ids.size, 1)).astype(
            np.float32
        )
        negative_seed = int(rng.integers(0, 1 << 64, dtype=np.uint64))
        return Plan(kept, new_offsets, reduced, alphas, negative_seed)

    def negatives(self, plan: Plan, backend: str | None = None) -> np.ndarray:
        """The plan's negative draws, (positions (CBOW) or pairs (skip-gram), negative) int32, made from
        its seed in the calling (worker) thread; the same numbers from either backend."""
        rows = int(count_pairs(plan.offsets, self.window, plan.reduced).sum()) if self.sg else plan.ids.size
        prob, alias = self.sampler.prob, self.sampler.alias
        if (backend or self.backend) == "numpy":
            return negative_draws(plan.negative_seed, rows * self.negative, prob, alias).reshape(rows, self.negative)
        out = np.empty((rows, self.negative), dtype=np.int32)
        fill_negatives(np.uint64(plan.negative_seed), out, prob, alias)
        return out

    def run_plan(self, plan: Plan, backend: str | None = None) -> float:
        """Apply one plan's updates to ``wv.vectors`` and ``syn1neg``; returns the summed loss."""
        kernel = KERNELS[(backend or self.backend, self.sg)]
        return float(
            kernel(
                plan.ids,
                plan.offsets,
                plan.reduced,
                plan.alphas,
                self.negatives(plan, backend),
                self.window,
                self.wv.vectors,
                self.syn1neg,
                self.compute_loss,
            )
        )

    def train(
        self, sentences=None, corpus_file=None, epochs: int | None = None, progress: bool = False
    ) -> Word2Vec:
        """Train ``epochs`` passes over the corpus (after :meth:`build_vocab`)."""
        epochs = self.epochs if epochs is None else epochs
        ids, offsets = self.encode(sentences, corpus_file)
        total = int(ids.size)
        chunks = self._chunks(offsets)
        span = self.alpha - self.min_alpha
        t0 = time.perf_counter()
        pool = ThreadPoolExecutor(self.workers) if self.workers > 1 and self.backend == "numba" else None
        try:
            for epoch in range(epochs):
                loss = 0.0
                pending: deque[Future] = deque()
                for a, b in chunks:
                    lo, hi = int(offsets[a]), int(offsets[b])
                    start = self.alpha - span * (epoch + lo / total) / epochs
                    end = self.alpha - span * (epoch + hi / total) / epochs
                    plan = self.make_plan(
                        ids[lo:hi], offsets[a : b + 1] - lo, max(start, self.min_alpha), max(end, self.min_alpha)
                    )
                    if pool is None:
                        loss += self.run_plan(plan)
                        continue
                    pending.append(pool.submit(self.run_plan, plan))
                    while len(pending) > 2 * self.workers:  # bound the plans held in memory
                        loss += pending.popleft().result()
                loss += sum(future.result() for future in pending)
                self.losses.append(loss)
                if progress:
                    rate = total * (epoch + 1) / (time.perf_counter() - t0)
                    msg = f"epoch {epoch + 1}/{epochs}  {rate:,.0f} words/s"
                    logger.info(msg + (f"  loss {loss:.4g}" if self.compute_loss else ""))
        finally:
            if pool is not None:
                pool.shutdown(wait=True)
        self.train_seconds = time.perf_counter() - t0
        self.words_per_second = total * epochs / max(self.train_seconds, 1e-9)
        self.wv.reset_norms()
        return self

    def _chunks(self, offsets: np.ndarray) -> list[tuple[int, int]]:
        """Sentence ranges ``[a, b)`` of about ``batch_words`` words each; with several workers at most
        1/(8 workers) of the corpus each (and at least 10,000 words, gensim's job size), so that the
        threads finish an epoch together: with PTB's 0.9M words in 200k-word chunks, two workers had
        five chunks an epoch and one thread idled through the last (measured: 1.38x instead of 1.6x)."""
        size = self.batch_words
        if self.workers > 1:
            size = min(size, max(10_000, -(-int(offsets[-1]) // (8 * self.workers))))
        bounds = np.searchsorted(offsets, np.arange(0, offsets[-1], size), side="right") - 1
        bounds = np.unique(np.append(bounds, offsets.size - 1))
        return [(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:]) if b > a]
