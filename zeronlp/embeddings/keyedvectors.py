"""KeyedVectors: words and their vectors, with similarity queries, evaluations and file formats.

Modelled on gensim's class of the same name: ``most_similar`` (3CosAdd), ``most_similar_cosmul``
(3CosMul), ``evaluate_word_analogies`` / ``evaluate_word_pairs`` with gensim's vocabulary
restriction and case folding, and the word2vec text/binary formats that gensim and the C tool read.
"""

from __future__ import annotations

import html
import json
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..data.files import open_dataset
from ..errors import UnknownWordError
from ..fileio import atomic_open
from .w2v_format import detect_format, read_word2vec, write_word2vec

_EPS = np.float32(1e-12)


def _as_list(words: str | Iterable[str] | None) -> list[str]:
    if words is None:
        return []
    return [words] if isinstance(words, str) else list(words)


class NeighborTable:
    """A word's nearest neighbours with their cosine similarity; renders as a table in Jupyter."""

    def __init__(self, word: str, neighbors: list[tuple[str, float]]):
        self.word, self.neighbors = word, neighbors

    def __repr__(self) -> str:
        return "\n".join([f"neighbours of {self.word!r}:", *(f"  {w}\t{s:.4f}" for w, s in self.neighbors)])

    def _repr_html_(self) -> str:
        rows = "".join(f"<tr><td style='text-align:left'>{html.escape(w)}</td><td>{s:.4f}</td>"
                       f"<td style='text-align:left'><div style='background:#2f6fbf;height:0.8em;"
                       f"width:{max(0.0, s) * 10:.2f}em'></div></td></tr>" for w, s in self.neighbors)
        return (f"<table><caption style='text-align:left'>neighbours of <b>{html.escape(self.word)}</b></caption>"
                f"<thead><tr><th style='text-align:left'>word</th><th>cosine</th><th></th></tr></thead>"
                f"<tbody>{rows}</tbody></table>")


class KeyedVectors:
    """``V`` words (``index_to_key``, most frequent first) and their ``V x dim`` vectors (float32 unless
    ``dtype`` says otherwise, e.g. ``np.float16`` to halve the memory of a large pretrained file)."""

    def __init__(
        self,
        index_to_key: Sequence[str],
        vectors: np.ndarray,
        counts: Sequence[int] | None = None,
        dtype: Any = np.float32,
    ) -> None:
        vectors = np.ascontiguousarray(vectors, dtype=dtype)
        if vectors.ndim != 2 or vectors.shape[0] != len(index_to_key):
            raise ValueError(f"need one vector per word: {len(index_to_key)} words, vectors {vectors.shape}")
        self.index_to_key = list(index_to_key)
        self.key_to_index = {w: i for i, w in enumerate(self.index_to_key)}
        if len(self.key_to_index) != len(self.index_to_key):
            raise ValueError("duplicate words in index_to_key")
        self.vectors = vectors
        self.counts = list(counts) if counts is not None else None
        self._norms: np.ndarray | None = None

    # -- lookup -----------------------------------------------------------------------------------
    @property
    def vector_size(self) -> int:
        return self.vectors.shape[1]

    def __len__(self) -> int:
        return len(self.index_to_key)

    def __contains__(self, word: object) -> bool:
        return word in self.key_to_index

    def __repr__(self) -> str:
        return f"KeyedVectors(words={len(self)}, vector_size={self.vector_size})"

    def _repr_html_(self) -> str:
        """Jupyter's view: the size, the first words, and the neighbours of the first (most frequent) word."""
        first = ", ".join(html.escape(w) for w in self.index_to_key[:10]) + (", ..." if len(self) > 10 else "")
        head = (f"<div class='zeronlp-vectors'><b>KeyedVectors</b>: {len(self):,} words &times; {self.vector_size} "
                f"({self.vectors.dtype})<br><small>{first}</small>")
        table = self.show(self.index_to_key[0], topn=8)._repr_html_() if len(self) > 1 else ""
        return head + table + "</div>"

    def show(self, word: str, topn: int = 10) -> NeighborTable:
        """The ``topn`` nearest neighbours of ``word`` as a table (HTML in Jupyter, text elsewhere)."""
        return NeighborTable(word, self.most_similar(word, topn=topn))

    def get_index(self, word: str) -> int:
        """Row of ``word``; ``KeyError`` naming the word if it is unknown."""
        try:
            return self.key_to_index[word]
        except KeyError:
            raise UnknownWordError(f"word {word!r} not in vocabulary ({len(self)} words)") from None

    def __getitem__(self, words: str | Sequence[str]) -> np.ndarray:
        """The vector of a word, or the stacked vectors of a list of words."""
        if isinstance(words, str):
            return self.vectors[self.get_index(words)]
        return self.vectors[[self.get_index(w) for w in words]]

    def reset_norms(self) -> None:
        """Forget cached unit vectors (call after changing ``vectors`` in place)."""
        self._norms = None

    @property
    def unit_vectors(self) -> np.ndarray:
        """``v / ||v||`` per row (zero rows stay zero), cached."""
        if self._norms is None or self._norms.shape != self.vectors.shape:
            norms = np.linalg.norm(self.vectors, axis=1, keepdims=True)
            self._norms = self.vectors / np.maximum(norms, _EPS)
        return self._norms

    # -- similarity -------------------------------------------------------------------------------
    def similarity(self, w1: str, w2: str) -> float:
        """Cosine similarity ``u.v / (|u| |v|)``."""
        unit = self.unit_vectors
        return float(unit[self.get_index(w1)] @ unit[self.get_index(w2)])

    def _query(self, positive, negative) -> tuple[list[int], np.ndarray, np.ndarray]:
        positive, negative = _as_list(positive), _as_list(negative)
        if not positive and not negative:
            raise ValueError("most_similar needs at least one positive or negative word")
        idx = [self.get_index(w) for w in positive + negative]
        weights = np.array([1.0] * len(positive) + [-1.0] * len(negative), dtype=np.float32)
        return idx, weights, self.unit_vectors[idx]

    def _top(self, scores: np.ndarray, exclude: Iterable[int], topn: int) -> list[tuple[str, float]]:
        scores = scores.copy()
        scores[list(exclude)] = -np.inf
        topn = min(topn, int(np.isfinite(scores).sum()))
        best = np.argpartition(-scores, topn - 1)[:topn] if topn > 0 else np.zeros(0, dtype=np.int64)
        best = best[np.argsort(-scores[best], kind="stable")]
        return [(self.index_to_key[i], float(scores[i])) for i in best]

    def most_similar(
        self,
        positive: str | Sequence[str] | None = None,
        negative: str | Sequence[str] | None = None,
        topn: int = 10,
        restrict_vocab: int | None = None,
    ) -> list[tuple[str, float]]:
        """Words closest to ``mean(unit(p) for p in positive) - ...negative`` (3CosAdd), by cosine.

        ``most_similar(positive=["king", "woman"], negative=["man"])`` answers man : king = woman : ?.
        The query words themselves are left out. ``restrict_vocab`` searches only the first N words.
        """
        idx, weights, unit = self._query(positive, negative)
        mean = (weights[:, None] * unit).mean(axis=0)
        mean /= max(np.linalg.norm(mean), _EPS)
        candidates = self.unit_vectors[:restrict_vocab] if restrict_vocab else self.unit_vectors
        scores = candidates @ mean
        return self._top(scores, [i for i in idx if i < len(scores)], topn)

    def most_similar_cosmul(
        self,
        positive: str | Sequence[str] | None = None,
        negative: str | Sequence[str] | None = None,
        topn: int = 10,
        restrict_vocab: int | None = None,
    ) -> list[tuple[str, float]]:
        """3CosMul (Levy & Goldberg): ``prod_p s(w,p) / (prod_n s(w,n) + 1e-6)``, ``s = (1 + cos) / 2``."""
        positive, negative = _as_list(positive), _as_list(negative)
        idx, _, _ = self._query(positive, negative)
        candidates = self.unit_vectors[:restrict_vocab] if restrict_vocab else self.unit_vectors
        sims = (1.0 + candidates @ self.unit_vectors[idx].T) / 2.0
        n_pos = len(positive)
        scores = sims[:, :n_pos].prod(axis=1) / (sims[:, n_pos:].prod(axis=1) + 1e-6)
        return self._top(scores, [i for i in idx if i < len(scores)], topn)

    # -- evaluation -------------------------------------------------------------------------------
    def _ok_vocab(self, restrict_vocab: int, case_insensitive: bool) -> dict[str, int]:
        keys = self.index_to_key[:restrict_vocab]
        if case_insensitive:
            # reversed: when "Apple" and "apple" both exist, the more frequent (earlier) one wins
            return {k.upper(): self.key_to_index[k] for k in reversed(keys)}
        return {k: self.key_to_index[k] for k in reversed(keys)}

    def evaluate_word_analogies(
        self,
        analogies: str | os.PathLike | None = None,
        restrict_vocab: int = 300000,
        case_insensitive: bool = True,
        dummy4unknown: bool = False,
        batch_size: int = 1024,
    ) -> tuple[float, list[dict]]:
        """Accuracy on ``a b c d`` questions (``: section`` headers): is ``d`` the 3CosAdd answer?

        As in gensim, only the first ``restrict_vocab`` words are considered and questions with a
        word outside them are skipped (counted wrong with ``dummy4unknown``); words compare
        upper-cased when ``case_insensitive``. Default file: the shipped ``questions-words.txt``.
        Returns ``(accuracy, sections)``, each section ``{"section", "correct", "incorrect"}`` lists
        of question tuples, the last one ``"Total accuracy"``.
        """
        ok_vocab = self._ok_vocab(restrict_vocab, case_insensitive)
        n_cand = min(restrict_vocab, len(self))
        fold = (lambda w: w.upper()) if case_insensitive else (lambda w: w)
        # Every candidate row maps to the id of its folded key, so that "King" is excluded with "king".
        group = np.array(
            [ok_vocab.get(fold(self.index_to_key[i]), -1) for i in range(n_cand)], dtype=np.int64
        )
        sections: list[dict] = []
        known: list[tuple[int, tuple[str, str, str, str]]] = []  # (section index, question)
        for line_no, line in enumerate(_read_lines(analogies, "questions-words.txt"), start=1):
            if line.startswith(":"):
                sections.append({"section": line.lstrip(": ").strip(), "correct": [], "incorrect": []})
                continue
            if not line.strip():
                continue
            if not sections:
                raise ValueError(f"{analogies}: line {line_no}: question before the first ': section' header")
            parts = line.split()
            if len(parts) != 4:
                raise ValueError(f"{analogies}: line {line_no}: expected 4 words, got {len(parts)}: {line!r}")
            question = tuple(fold(w) for w in parts)
            if all(w in ok_vocab for w in question):
                known.append((len(sections) - 1, question))
            elif dummy4unknown:
                sections[-1]["incorrect"].append(question)
        unit = self.unit_vectors[:n_cand]
        batch_size = max(1, min(batch_size, (1 << 25) // max(n_cand, 1)))  # scores: at most 128 MB a batch
        for start in range(0, len(known), batch_size):
            batch = known[start : start + batch_size]
            ids = np.array([[ok_vocab[w] for w in q] for _, q in batch], dtype=np.int64)  # a b c d
            query = (
                self.unit_vectors[ids[:, 1]] - self.unit_vectors[ids[:, 0]] + self.unit_vectors[ids[:, 2]]
            ) / 3
            query /= np.maximum(np.linalg.norm(query, axis=1, keepdims=True), _EPS)
            scores = query @ unit.T
            for col in range(3):
                scores[group[None, :] == ids[:, col : col + 1]] = -np.inf
                inside = ids[:, col] < n_cand
                scores[np.flatnonzero(inside), ids[inside, col]] = -np.inf
            predicted = scores.argmax(axis=1)
            for (section, question), pred, expected in zip(batch, predicted, ids[:, 3]):
                ok = group[pred] == expected
                sections[section]["correct" if ok else "incorrect"].append(question)
        total = {
            "section": "Total accuracy",
            "correct": [q for s in sections for q in s["correct"]],
            "incorrect": [q for s in sections for q in s["incorrect"]],
        }
        sections.append(total)
        n = len(total["correct"]) + len(total["incorrect"])
        accuracy = len(total["correct"]) / n if n else 0.0
        return accuracy, sections

    def evaluate_word_pairs(
        self,
        pairs: str | os.PathLike | None = None,
        delimiter: str = "\t",
        restrict_vocab: int = 300000,
        case_insensitive: bool = True,
        dummy4unknown: bool = False,
    ):
        """Correlate cosine similarity with human scores on ``word1<TAB>word2<TAB>score`` lines.

        Returns ``(pearson, spearman, oov_percent)`` with scipy's result objects (``statistic``,
        ``pvalue``; they also unpack as ``(r, p)``). Default file: the shipped ``wordsim353.tsv``.
        """
        from scipy import stats

        ok_vocab = self._ok_vocab(restrict_vocab, case_insensitive)
        fold = (lambda w: w.upper()) if case_insensitive else (lambda w: w)
        similarity_gold, similarity_model = [], []
        oov = 0
        for line_no, line in enumerate(_read_lines(pairs, "wordsim353.tsv"), start=1):
            if not line.strip() or line.startswith("#"):
                continue
            parts = line.rstrip("\n").split(delimiter)
            if len(parts) != 3:
                raise ValueError(
                    f"{pairs}: line {line_no}: expected 'word1{delimiter!r}word2{delimiter!r}score'"
                )
            try:
                gold = float(parts[2])
            except ValueError:
                raise ValueError(f"{pairs}: line {line_no}: score {parts[2]!r} is not a number") from None
            a, b = fold(parts[0]), fold(parts[1])
            if a not in ok_vocab or b not in ok_vocab:
                oov += 1
                if dummy4unknown:
                    similarity_gold.append(gold)
                    similarity_model.append(0.0)
                continue
            unit = self.unit_vectors
            similarity_gold.append(gold)
            similarity_model.append(float(unit[ok_vocab[a]] @ unit[ok_vocab[b]]))
        total = oov + (len(similarity_gold) if not dummy4unknown else len(similarity_gold) - oov)
        if len(similarity_gold) < 2:
            raise ValueError(f"{pairs}: fewer than 2 pairs with both words in the vocabulary")
        pearson = stats.pearsonr(similarity_gold, similarity_model)
        spearman = stats.spearmanr(similarity_gold, similarity_model)
        return pearson, spearman, 100.0 * oov / max(total, 1)

    # -- word2vec files ---------------------------------------------------------------------------
    def save_word2vec_format(self, path: str | os.PathLike, binary: bool = False, write_header: bool = True) -> None:
        """Write the C word2vec format, readable by gensim and the C tools: header ``"V dim"`` (unless
        ``write_header=False``, GloVe's layout), then per word ``word v1 ... vd`` (text) or
        ``word<space><dim float32 little-endian>\\n`` (binary). A name ending in ``.gz``, ``.bz2`` or
        ``.xz`` writes that compression. Words may not be empty nor hold whitespace (:class:`UsageError`)."""
        write_word2vec(path, self.index_to_key, self.vectors, binary=binary, write_header=write_header)

    @classmethod
    def load_word2vec_format(
        cls,
        path: str | os.PathLike,
        binary: bool = False,
        limit: int | None = None,
        unicode_errors: str = "strict",
        no_header: bool = False,
        datatype: Any = np.float32,
        encoding: str = "utf-8",
    ) -> KeyedVectors:
        """Read a word2vec text or binary file, with gensim's arguments and their meaning.

        * ``limit``: read only the first N vectors (memory for N vectors only: the file is streamed);
        * ``unicode_errors``: ``"strict"``, or ``"ignore"``/``"replace"`` for words cut inside a UTF-8
          character (the C tool does that; fastText ``.vec`` files have such words);
        * ``no_header``: a text file without the ``"V dim"`` line (GloVe);
        * ``datatype``: the float type of the vectors (``np.float16`` halves the memory).

        gzip, bzip2 and xz files are recognised by their first bytes, whatever their name. A repeated
        word keeps its first vector (as in gensim). A malformed file raises
        :class:`~zeronlp.errors.DataError` naming the path and the line, or the byte offset (binary).
        """
        words, vectors = read_word2vec(path, binary=binary, limit=limit, unicode_errors=unicode_errors,
                                       no_header=no_header, datatype=datatype, encoding=encoding)
        return cls(words, vectors, dtype=vectors.dtype)

    # -- native format ----------------------------------------------------------------------------
    def save(self, path: str | os.PathLike) -> None:
        """Save as safetensors (tensor ``vectors``) with the vocabulary as JSON in the file's metadata."""
        from safetensors.numpy import save

        meta = {
            "format": "zeronlp.KeyedVectors",
            "index_to_key": json.dumps(self.index_to_key, ensure_ascii=False),
        }
        if self.counts is not None:
            meta["counts"] = json.dumps([int(c) for c in self.counts])
        data = save({"vectors": self.vectors}, metadata=meta)
        with atomic_open(path, "wb") as f:
            f.write(data)

    @classmethod
    def load(cls, path: str | os.PathLike) -> KeyedVectors:
        """Load a file written by :meth:`save` (no code is executed: safetensors + JSON)."""
        from safetensors import safe_open

        try:
            with safe_open(str(path), framework="numpy") as f:
                meta = f.metadata() or {}
                vectors = f.get_tensor("vectors")
        except FileNotFoundError:
            raise
        except Exception as err:
            raise ValueError(f"{path}: not a zeronlp KeyedVectors safetensors file ({err})") from None
        if meta.get("format") != "zeronlp.KeyedVectors" or "index_to_key" not in meta:
            raise ValueError(f"{path}: safetensors file has no zeronlp KeyedVectors vocabulary metadata")
        counts = json.loads(meta["counts"]) if "counts" in meta else None
        return cls(json.loads(meta["index_to_key"]), vectors, counts=counts)


def load_vectors(path: str | os.PathLike, limit: int | None = None, unicode_errors: str = "strict",
                 binary: bool | None = None, no_header: bool | None = None) -> KeyedVectors:
    """Load vectors in any format: ``.safetensors`` (native), else word2vec text or binary, with or without
    header, plain or compressed. ``binary`` and ``no_header`` are detected from the first entry of the
    file unless given (:func:`~zeronlp.embeddings.w2v_format.detect_format`)."""
    if Path(path).suffix.lower() == ".safetensors":
        kv = KeyedVectors.load(path)
        if limit is not None:
            kv = KeyedVectors(kv.index_to_key[:limit], kv.vectors[:limit],
                              counts=kv.counts[:limit] if kv.counts is not None else None)
        return kv
    if binary is None or no_header is None:
        found = detect_format(path)
        binary = found["binary"] if binary is None else binary
        no_header = found["no_header"] if no_header is None else no_header
    return KeyedVectors.load_word2vec_format(path, binary=binary, limit=limit, unicode_errors=unicode_errors,
                                             no_header=no_header)


def _read_lines(path: str | os.PathLike | None, default: str) -> list[str]:
    if path is None:
        return open_dataset(default).read().splitlines()
    with open(path, encoding="utf-8") as f:
        return f.read().splitlines()
