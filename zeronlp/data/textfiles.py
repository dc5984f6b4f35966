"""The user's own text files: plain lines, language-model corpora, labelled and parallel TSV.

Every reader takes a path and raises :class:`~zeronlp.errors.DataError` naming the file (and the
1-based line, where one applies) for anything wrong with it: a missing or non-regular file, bytes
that are not UTF-8, an empty file, a malformed ``A<TAB>B`` line. Files may be gzip-compressed
whatever their name: compression is recognised by the gzip magic bytes.

Tokenizers form one registry, :data:`TOKENIZERS` (name -> ``str -> list[str]``), used by every
command that reads text (``--tokenizer NAME``) and extended with :func:`register_tokenizer`.
"""

from __future__ import annotations

import gzip
import os
import re
import stat
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import DataError, UsageError
from .ptb import EOS
from .vocab import Vocabulary, tokenize

UNK = "<unk>"
GZIP_MAGIC = b"\x1f\x8b"
PathLike = str | os.PathLike


# ---------------------------------------------------------------------------------------- lines


def _read_bytes(path: PathLike) -> bytes:
    """The (decompressed) bytes of a regular file; checked with ``stat`` first so a FIFO never blocks."""
    try:
        mode = os.stat(path).st_mode
    except (FileNotFoundError, NotADirectoryError):
        raise DataError("no such file", path) from None
    except OSError as err:
        raise DataError(f"cannot read: {err.strerror}", path) from None
    if not stat.S_ISREG(mode):
        kind = "a directory" if stat.S_ISDIR(mode) else "not a regular file"
        raise DataError(f"is {kind}: expected a text file", path)
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as err:
        raise DataError(f"cannot read: {err.strerror}", path) from None
    if data.startswith(GZIP_MAGIC):
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as err:
            raise DataError(f"starts like a gzip file but cannot be decompressed ({err})", path) from None
    return data


def read_lines(path: PathLike) -> list[str]:
    """The lines of a UTF-8 text file (plain or gzip), without ``\\n``/``\\r\\n`` and without a leading BOM.

    Raises :class:`DataError` when the file is missing, is not a regular file, is not valid UTF-8
    (naming the line and byte offset, in the decompressed data, of the first bad byte) or has no
    non-blank line.
    """
    data = _read_bytes(path)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        bad = f"byte {data[err.start]:#04x} at byte offset {err.start}"
        raise DataError(f"not valid UTF-8: {bad}", path, line) from None
    text = text.removeprefix("\ufeff")
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()  # the final newline ends the last line; it does not start a new one
    lines = [line[:-1] if line.endswith("\r") else line for line in lines]
    if not any(line.strip() for line in lines):
        raise DataError("is empty (no non-blank line)", path)
    return lines


# ----------------------------------------------------------------------------------- tokenizers

Tokenizer = Callable[[str], list[str]]


class LazyTokenizer:
    """A tokenizer made on first use by ``build()``, for those that need an optional library.

    :func:`get_tokenizer` calls :meth:`load`, so a missing library is a :class:`UsageError` naming the
    extra to install before any file is read; calling the object itself also works (it loads first).
    """

    def __init__(self, build: Callable[[], Tokenizer], description: str):
        self.build, self.description = build, description
        self._tokenizer: Tokenizer | None = None

    def load(self) -> Tokenizer:
        """The working tokenizer (built once)."""
        if self._tokenizer is None:
            self._tokenizer = self.build()
        return self._tokenizer

    def __call__(self, text: str) -> list[str]:
        return self.load()(text)

    def __repr__(self) -> str:
        return f"LazyTokenizer({self.description!r})"


def _japanese() -> Tokenizer:
    """Japanese words by MeCab (through fugashi) with the UniDic dictionary of ``unidic-lite``.

    fugashi wraps the C MeCab (about 50 us a sentence, some 30x faster than the pure-Python janome)
    and both it and unidic-lite install from PyPI with no network access at run time: the
    dictionary ships inside the package.
    """
    try:
        import fugashi
    except ImportError:
        raise UsageError("tokenizer 'ja' needs a Japanese morphological analyser: pip install 'zeronlp[ja]' "
                         "(fugashi and unidic-lite)") from None
    try:
        tagger = fugashi.Tagger()
    except RuntimeError as err:
        raise UsageError(f"tokenizer 'ja': MeCab found no dictionary ({str(err).strip()[:200]}); "
                         "pip install unidic-lite") from None

    def split_japanese(text: str) -> list[str]:
        return [word.surface for word in tagger(text)]

    return split_japanese


TOKENIZERS: dict[str, Tokenizer] = {
    "whitespace": str.split,  # the text is already tokenized (PTB style)
    "simple": tokenize,  # lower-case, punctuation split off (the book's ``preprocess``)
    "ja": LazyTokenizer(_japanese, "Japanese words by MeCab + UniDic (pip install 'zeronlp[ja]')"),
}
"""Every tokenizer by name: what ``--tokenizer NAME`` and the ``tokenizer=`` arguments accept."""


def register_tokenizer(name: str, tokenizer: Tokenizer, replace: bool = False) -> None:
    """Make ``tokenizer`` (``str -> list[str]``) available as ``name`` everywhere a tokenizer is named.

    A model trained with it records the name; register it again before loading that model.
    """
    if not isinstance(name, str) or not name or any(ch.isspace() for ch in name):
        raise UsageError(f"a tokenizer name must be a non-empty word, got {name!r}")
    if not callable(tokenizer):
        raise UsageError(f"tokenizer {name!r} must be callable (str -> list of str), got {tokenizer!r}")
    if name in TOKENIZERS and not replace:
        raise UsageError(f"tokenizer {name!r} exists already (pass replace=True to replace it)")
    TOKENIZERS[name] = tokenizer


def get_tokenizer(name: str) -> Tokenizer:
    """The tokenizer called ``name`` in :data:`TOKENIZERS`, ready to use.

    An unknown name, or one whose optional library is not installed (``"ja"`` without the ``[ja]``
    extra), raises :class:`UsageError` saying what to do.
    """
    try:
        tokenizer = TOKENIZERS[name]
    except (KeyError, TypeError):
        raise UsageError(f"unknown tokenizer {name!r}; choose one of: {', '.join(TOKENIZERS)}") from None
    return tokenizer.load() if isinstance(tokenizer, LazyTokenizer) else tokenizer


# ------------------------------------------------------------------------ language-model corpora


@dataclass
class TextCorpus:
    """Token ids (int64, ``<eos>`` after every line) of a language-model corpus and its vocabulary.

    ``valid_from_train`` is True when ``valid`` was cut from the end of the training file.
    """

    train: np.ndarray
    valid: np.ndarray
    test: np.ndarray | None
    vocab: Vocabulary
    valid_from_train: bool


def _sentences(path: PathLike, tokenizer: Callable[[str], list[str]]) -> list[list[str]]:
    """One token list per non-blank line of ``path``, each ending with ``<eos>``."""
    return [tokenizer(line) + [EOS] for line in read_lines(path) if line.strip()]


def _build_vocab(sentences: Sequence[Sequence[str]], min_count: int, max_vocab: int | None) -> Vocabulary:
    """Words in first-appearance order; rare words and those beyond the most frequent are left out."""
    counts = Counter(word for sentence in sentences for word in sentence)
    reserved = (EOS, UNK)
    kept = [word for word, count in counts.items() if count >= min_count or word in reserved]
    if max_vocab is not None:
        ranked = sorted((w for w in kept if w not in reserved), key=lambda w: -counts[w])  # stable: ties by first use
        keep = set(ranked[: max_vocab - len(reserved)]).union(reserved)
        kept = [word for word in kept if word in keep]
    return Vocabulary(kept, [counts[word] for word in kept], unk_token=UNK)


def _encode(vocab: Vocabulary, sentences: Iterable[Sequence[str]]) -> np.ndarray:
    return vocab.encode(word for sentence in sentences for word in sentence)


def load_text_corpus(
    train: PathLike,
    valid: PathLike | None = None,
    test: PathLike | None = None,
    tokenizer: str | Callable[[str], list[str]] = "whitespace",
    min_count: int = 1,
    max_vocab: int | None = None,
    valid_fraction: float = 0.05,
) -> TextCorpus:
    """Read a language-model corpus: every non-blank line is a sentence, its tokens then ``<eos>``.

    The vocabulary comes from the training sentences only, numbered in order of first appearance
    (so a PTB file gets the book's ids); it always holds ``<eos>`` and ``<unk>``. Words seen fewer
    than ``min_count`` times, or not among the ``max_vocab - 2`` most frequent (``max_vocab`` counts
    ``<eos>`` and ``<unk>``; ties go to the word seen first), map to ``<unk>``, as do the valid/test
    words missing from it. Without ``valid``, the last ``valid_fraction`` of the training lines
    (rounded, at least one, leaving at least one) become the validation set and are left out of the
    vocabulary; ``valid_from_train`` is then True.
    """
    if isinstance(min_count, bool) or not isinstance(min_count, int) or min_count < 1:
        raise UsageError(f"min_count must be an integer >= 1, got {min_count!r}")
    if max_vocab is not None and (isinstance(max_vocab, bool) or not isinstance(max_vocab, int) or max_vocab < 2):
        raise UsageError(f"max_vocab must be an integer >= 2 (it counts <eos> and <unk>), got {max_vocab!r}")
    if not 0 < valid_fraction <= 0.5:
        raise UsageError(f"valid_fraction must be in (0, 0.5], got {valid_fraction!r}")
    tokenize_line = tokenizer if callable(tokenizer) else get_tokenizer(tokenizer)

    train_sentences = _sentences(train, tokenize_line)
    if valid is not None:
        valid_sentences = _sentences(valid, tokenize_line)
    else:
        n = len(train_sentences)
        if n < 2:
            raise DataError("has only one line, too few to hold out a validation part: pass --valid", train)
        n_valid = min(n - 1, max(1, round(n * valid_fraction)))
        train_sentences, valid_sentences = train_sentences[:-n_valid], train_sentences[-n_valid:]
    test_sentences = _sentences(test, tokenize_line) if test is not None else None

    vocab = _build_vocab(train_sentences, min_count, max_vocab)
    return TextCorpus(
        train=_encode(vocab, train_sentences),
        valid=_encode(vocab, valid_sentences),
        test=_encode(vocab, test_sentences) if test_sentences is not None else None,
        vocab=vocab,
        valid_from_train=valid is None,
    )


# ---------------------------------------------------------------------------------- TSV files


def _split_tsv_line(line: str, path: PathLike | None, number: int, fields: tuple[str, str]) -> tuple[str, str]:
    """``FIRST<TAB>SECOND`` split on the first tab, both parts stripped and non-empty, else DataError."""
    first, tab, second = line.partition("\t")
    if not tab:
        raise DataError(f"expected '{fields[0]}<TAB>{fields[1]}', found no tab in {line[:60]!r}", path, number)
    first, second = first.strip(), second.strip()
    for value, name in ((first, fields[0]), (second, fields[1])):
        if not value:
            raise DataError(f"empty {name.lower()} in {line[:60]!r}", path, number)
    return first, second


def _read_tsv(path: PathLike, fields: tuple[str, str]) -> tuple[list[str], list[str]]:
    """The two columns of a TSV file; only the blank lines at its very end may be blank."""
    lines = read_lines(path)
    end = len(lines)
    while not lines[end - 1].strip():  # read_lines guarantees a non-blank line, so this stops
        end -= 1
    firsts, seconds = [], []
    for number, line in enumerate(lines[:end], start=1):
        if not line.strip():
            raise DataError(f"blank line: every line must be '{fields[0]}<TAB>{fields[1]}'", path, number)
        first, second = _split_tsv_line(line, path, number, fields)
        firsts.append(first)
        seconds.append(second)
    return firsts, seconds


def read_labeled_tsv(path: PathLike) -> tuple[list[str], list[str]]:
    """``(labels, texts)`` of a ``LABEL<TAB>TEXT`` file, split on the first tab, both parts stripped.

    Item ``i`` comes from line ``i + 1``: a blank line is an error except at the end of the file.
    """
    return _read_tsv(path, ("LABEL", "TEXT"))


def read_parallel_tsv(path: PathLike) -> tuple[list[str], list[str]]:
    """``(sources, targets)`` of a ``SOURCE<TAB>TARGET`` file, with the rules of :func:`read_labeled_tsv`."""
    return _read_tsv(path, ("SOURCE", "TARGET"))


_INTEGER_RE = re.compile(r"[+-]?[0-9]+")


def _label_order(labels: Iterable[str]) -> list[str]:
    """Sorted unique labels: numerically when all are integers ("2" before "10"), else as strings."""
    unique = set(labels)
    if all(_INTEGER_RE.fullmatch(label) for label in unique):
        return sorted(unique, key=lambda label: (int(label), label))
    return sorted(unique)


def _format_labels(labels: Sequence[str], limit: int = 20) -> str:
    shown = ", ".join(labels[:limit])
    return shown + (f", ... ({len(labels)} in all)" if len(labels) > limit else "")


@dataclass(frozen=True)
class LabelSet:
    """The classes of a classifier: ``labels[i]`` is the name of class id ``i``."""

    labels: tuple[str, ...]

    @classmethod
    def from_labels(cls, labels: Iterable[str], path: PathLike | None = None) -> LabelSet:
        """The sorted unique ``labels`` of a training file ``path``; fewer than two is a DataError."""
        ordered = _label_order(labels)
        if not ordered:
            raise DataError("no labels: a classifier needs at least two", path)
        if len(ordered) < 2:
            raise DataError(f"only one label ({ordered[0]}): a classifier needs at least two", path)
        return cls(tuple(ordered))

    def __len__(self) -> int:
        return len(self.labels)

    def encode(self, labels: Iterable[str], path: PathLike | None = None) -> np.ndarray:
        """Class ids (int64) of ``labels`` read from ``path``; an unseen label is a DataError naming its line."""
        index = {label: i for i, label in enumerate(self.labels)}
        ids = []
        for number, label in enumerate(labels, start=1):
            if label not in index:
                raise DataError(
                    f"label {label!r} was not in the training data (known labels: {_format_labels(self.labels)})",
                    path, number,
                )
            ids.append(index[label])
        return np.asarray(ids, dtype=np.int64)

    def decode(self, ids: Iterable[int]) -> list[str]:
        """The label names of class ids."""
        return [self.labels[int(i)] for i in ids]

    def to_list(self) -> list[str]:
        """JSON-able contents (for checkpoints)."""
        return list(self.labels)

    @classmethod
    def from_list(cls, data: object) -> LabelSet:
        """Inverse of :meth:`to_list`: a list of at least two unique non-empty strings, order kept."""
        if not isinstance(data, list) or not all(isinstance(label, str) and label for label in data):
            raise DataError(f"a label set must be a list of non-empty strings, got {data!r:.80}")
        if len(set(data)) != len(data):
            raise DataError(f"a label set has duplicate labels: {data!r:.80}")
        if len(data) < 2:
            raise DataError(f"a label set needs at least two labels, got {data!r}")
        return cls(tuple(data))


__all__ = [
    "TOKENIZERS", "LabelSet", "LazyTokenizer", "Tokenizer", "register_tokenizer", "TextCorpus",
    "get_tokenizer", "load_text_corpus", "read_labeled_tsv",
    "read_lines", "read_parallel_tsv",
]
