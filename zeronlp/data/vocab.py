"""Text to ids: a tokenizer like the book's ``preprocess`` and a :class:`Vocabulary`.

A vocabulary is a bijection ``word <-> id`` (ids ``0..V-1``) with a count per word. Words may be
numbered in first-appearance order (the book's ``preprocess``, PTB) or by descending frequency
(word2vec, so that "the first N words" are the N most frequent).
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from collections.abc import Container, Iterable, Sequence

import numpy as np

from ..errors import CheckpointError, UnknownWordError
from ..fileio import atomic_open

_TOKEN_RE = re.compile(r"\w+(?:['\-]\w+)*|[^\w\s]")


def tokenize(text: str) -> list[str]:
    """Lower-case ``text`` and split it into words and punctuation marks.

    ``"You say goodbye and I say hello."`` -> ``['you', 'say', 'goodbye', 'and', 'i', 'say', 'hello', '.']``
    (words keep inner apostrophes and hyphens: ``"don't"``, ``"snack-food"``).
    """
    return _TOKEN_RE.findall(text.lower())


def match_case(word: str, known: Container[str]) -> str:
    """The one rule for a word typed by a user: it is looked up as written, and when it is not known
    but its lower-case form is, as that (``"King"`` -> ``"king"``; ``"US"`` stays if known)."""
    if word in known:
        return word
    lower = word.lower()
    return lower if lower in known else word


class Vocabulary:
    """Word <-> id mapping with counts.

    ``unk_token``: when set (and present), unknown words encode to its id instead of raising.
    """

    def __init__(
        self,
        words: Iterable[str] = (),
        counts: Iterable[int] | None = None,
        unk_token: str | None = None,
    ) -> None:
        self.id_to_word: list[str] = []
        self.word_to_id: dict[str, int] = {}
        self.counts: list[int] = []
        counts_list = list(counts) if counts is not None else None
        for i, word in enumerate(words):
            self.add(word, counts_list[i] if counts_list is not None else 0)
        self.unk_token = unk_token
        if unk_token is not None and unk_token not in self.word_to_id:
            self.add(unk_token, 0)

    @classmethod
    def build(
        cls,
        tokens: Iterable[str] | Iterable[Sequence[str]],
        min_count: int = 1,
        max_size: int | None = None,
        unk_token: str | None = None,
        order: str = "first",
    ) -> Vocabulary:
        """Count ``tokens`` (words, or sentences of words); keep words seen ``min_count`` times.

        ``order="first"`` numbers words in order of first appearance (the book's ``preprocess``);
        ``order="frequency"`` by descending count, ties in first-appearance order (gensim's order).
        ``max_size`` keeps only the most frequent words.
        """
        if order not in ("first", "frequency"):
            raise ValueError(f"order must be 'first' or 'frequency', got {order!r}")
        counter: Counter[str] = Counter()
        for item in tokens:
            if isinstance(item, str):
                counter[item] += 1
            else:
                counter.update(item)
        # Counter keeps first-insertion order, so a stable sort by count keeps ties in that order.
        items = [(w, c) for w, c in counter.items() if c >= min_count]
        if max_size is not None and len(items) > max_size:
            keep = {w for w, _ in sorted(items, key=lambda wc: -wc[1])[:max_size]}
            items = [(w, c) for w, c in items if w in keep]
        if order == "frequency":
            items.sort(key=lambda wc: -wc[1])
        return cls([w for w, _ in items], [c for _, c in items], unk_token=unk_token)

    def add(self, word: str, count: int = 1) -> int:
        """Add ``word`` (or add ``count`` to it) and return its id."""
        idx = self.word_to_id.get(word)
        if idx is None:
            idx = len(self.id_to_word)
            self.word_to_id[word] = idx
            self.id_to_word.append(word)
            self.counts.append(int(count))
        else:
            self.counts[idx] += int(count)
        return idx

    def __len__(self) -> int:
        return len(self.id_to_word)

    def __contains__(self, word: object) -> bool:
        return word in self.word_to_id

    def __iter__(self):
        return iter(self.id_to_word)

    def __repr__(self) -> str:
        return f"Vocabulary(size={len(self)}, unk_token={self.unk_token!r})"

    def __getitem__(self, word: str) -> int:
        """The id of ``word`` (the unknown id if ``unk_token`` is set, else ``KeyError``)."""
        idx = self.word_to_id.get(word)
        if idx is not None:
            return idx
        if self.unk_token is not None:
            return self.word_to_id[self.unk_token]
        raise UnknownWordError(f"word {word!r} not in vocabulary (size {len(self)})")

    @property
    def unk_id(self) -> int | None:
        """The id of the unknown-word token, or None."""
        return None if self.unk_token is None else self.word_to_id[self.unk_token]

    def encode(self, words: Iterable[str]) -> np.ndarray:
        """Ids (int64) of ``words``; unknown words map to ``unk_token`` or raise ``KeyError``."""
        lookup = self.word_to_id
        unk = self.unk_id
        if unk is None:
            try:
                return np.fromiter((lookup[w] for w in words), dtype=np.int64)
            except KeyError as err:
                word = err.args[0]
                raise UnknownWordError(f"word {word!r} not in vocabulary (size {len(self)})") from None
        return np.fromiter((lookup.get(w, unk) for w in words), dtype=np.int64)

    def decode(self, ids: Iterable[int]) -> list[str]:
        """Words of ``ids``; an id outside ``0..V-1`` raises ``IndexError`` naming it."""
        out = []
        size = len(self.id_to_word)
        for i in np.asarray(list(ids) if not isinstance(ids, np.ndarray) else ids).reshape(-1).tolist():
            if not 0 <= i < size:
                raise IndexError(f"id {i} out of range for vocabulary of size {size}")
            out.append(self.id_to_word[i])
        return out

    def to_dict(self) -> dict:
        """JSON-able contents."""
        return {"words": self.id_to_word, "counts": self.counts, "unk_token": self.unk_token}

    @classmethod
    def from_dict(cls, data: dict) -> Vocabulary:
        """Inverse of :meth:`to_dict`."""
        try:
            words, counts = data["words"], data.get("counts")
        except (KeyError, TypeError) as err:
            raise ValueError(f"not a vocabulary: missing {err}") from None
        if counts is not None and len(counts) != len(words):
            raise ValueError(f"vocabulary has {len(words)} words but {len(counts)} counts")
        if len(set(words)) != len(words):
            raise ValueError("vocabulary has duplicate words")
        return cls(words, counts, unk_token=data.get("unk_token"))

    def save(self, path: str | os.PathLike) -> None:
        """Write the vocabulary as JSON (atomically: temporary file, then rename)."""
        with atomic_open(path) as f:
            json.dump(self.to_dict(), f, ensure_ascii=False)

    @classmethod
    def load(cls, path: str | os.PathLike) -> Vocabulary:
        """Read a vocabulary written by :meth:`save`."""
        try:
            with open(path, encoding="utf-8") as f:
                data = json.load(f)
        except json.JSONDecodeError as err:
            raise ValueError(f"{path}: not a JSON vocabulary file ({err})") from None
        try:
            return cls.from_dict(data)
        except ValueError as err:
            raise ValueError(f"{path}: {err}") from None


def preprocess(text: str) -> tuple[np.ndarray, dict[str, int], dict[int, str]]:
    """The book's ``preprocess``: ``(corpus ids, word_to_id, id_to_word)``, ids in first-appearance order."""
    words = tokenize(text)
    vocab = Vocabulary.build(words, order="first")
    corpus = vocab.encode(words)
    return corpus, dict(vocab.word_to_id), dict(enumerate(vocab.id_to_word))


def vocabulary_from_record(record: dict, vocab_size: int, path: object) -> Vocabulary:
    """The :class:`Vocabulary` stored in a model file's ``vocab`` field, checked against the model
    config's ``vocab_size`` (CheckpointError naming ``path`` and the field otherwise)."""
    try:
        vocab = Vocabulary.from_dict(record["vocab"])
    except (ValueError, TypeError, KeyError, AttributeError) as err:
        raise CheckpointError(f"{path}: field vocab: not a vocabulary ({err})") from None
    if vocab_size != len(vocab):
        raise CheckpointError(f"{path}: field config/vocab_size: the model config says {vocab_size} words, "
                              f"the vocabulary has {len(vocab)}")
    return vocab
