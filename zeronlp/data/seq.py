"""The book's toy sequence-to-sequence tasks: addition (``16+75`` -> ``91``) and date formats.

Each line of ``addition.txt`` / ``date.txt`` is a fixed-width question, then ``_`` and the answer:
``"16+75  _91  "``. The ``_`` starts the answer and doubles as the decoder's start symbol. The
character vocabulary is numbered in order of first appearance (question, then answer, line by
line), and the examples are shuffled with a fixed seed and split 90/10 exactly as the book's
``dataset/sequence.py`` does, so test accuracies compare with the book's.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from .files import open_dataset

SEQ_DATASETS = {"addition": "addition.txt", "date": "date.txt"}


class CharVocabulary:
    """Character <-> id mapping (``char_to_id``, ``id_to_char``) for the seq2seq tasks."""

    def __init__(self, chars: Iterable[str] = ()):
        self.id_to_char: dict[int, str] = {}
        self.char_to_id: dict[str, int] = {}
        for char in chars:
            self.add(char)

    def add(self, char: str) -> int:
        if len(char) != 1:
            raise ValueError(f"CharVocabulary: entries are single characters, got {char!r}")
        if char not in self.char_to_id:
            index = len(self.char_to_id)
            self.char_to_id[char] = index
            self.id_to_char[index] = char
        return self.char_to_id[char]

    def __len__(self) -> int:
        return len(self.char_to_id)

    def __contains__(self, char: str) -> bool:
        return char in self.char_to_id

    @property
    def chars(self) -> list[str]:
        """The characters in id order (what a checkpoint stores)."""
        return [self.id_to_char[i] for i in range(len(self))]

    def check(self, text: str) -> None:
        """Raise ``ValueError`` naming every character of ``text`` outside the vocabulary."""
        unknown = sorted({c for c in text if c not in self.char_to_id})
        if unknown:
            known = "".join(sorted(self.char_to_id))
            raise ValueError(
                f"characters not in the vocabulary: {', '.join(repr(c) for c in unknown)} "
                f"(in {text!r}; the vocabulary has {len(self)} characters: {known!r})"
            )

    def encode(self, text: str, length: int | None = None, pad: str = " ") -> np.ndarray:
        """Ids of ``text``, right-padded with ``pad`` to ``length`` (an error if it is longer)."""
        self.check(text)
        if length is not None:
            if len(text) > length:
                raise ValueError(f"input {text!r} has {len(text)} characters; this model takes at most {length}")
            text = text + pad * (length - len(text))
        return np.array([self.char_to_id[c] for c in text], dtype=np.int64)

    def decode(self, ids: Sequence[int] | np.ndarray, stop: str | None = None) -> str:
        """The string of ``ids``; with ``stop`` it ends before the first ``stop`` character."""
        text = "".join(self.id_to_char[int(i)] for i in np.asarray(ids).ravel())
        if stop is not None and stop in text:
            text = text[:text.index(stop)]
        return text

    def __repr__(self) -> str:
        return f"CharVocabulary({len(self)} characters: {''.join(self.chars)!r})"


def read_seq_lines(name: str) -> tuple[list[str], list[str]]:
    """(questions, answers) of a shipped task; each answer keeps its leading ``_``."""
    if name not in SEQ_DATASETS:
        raise ValueError(f"unknown seq2seq data set {name!r}; choose one of {sorted(SEQ_DATASETS)}")
    questions, answers = [], []
    for number, line in enumerate(open_dataset(SEQ_DATASETS[name]), 1):
        line = line.rstrip("\n")
        if not line:
            continue
        split = line.find("_")
        if split < 0:
            raise ValueError(f"{SEQ_DATASETS[name]}, line {number}: no '_' separating question and answer: {line!r}")
        questions.append(line[:split])
        answers.append(line[split:])
    return questions, answers


def load_seq(name: str = "addition", reverse: bool = False, seed: int | None = 1984
             ) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray], CharVocabulary]:
    """Load ``"addition"`` or ``"date"`` as ``(x_train, t_train), (x_test, t_test), vocab``.

    ``x`` holds the question ids ``(N, T_in)``, ``t`` the answer ids ``(N, T_out)`` starting with the
    id of ``_``. ``reverse=True`` reverses every question (the book's "reversed input" trick).
    The split shuffles with ``numpy.random.RandomState(seed)`` and keeps the last 10% for testing,
    like the book (``seed=None`` keeps file order).
    """
    questions, answers = read_seq_lines(name)
    vocab = CharVocabulary()
    for question, answer in zip(questions, answers):
        for char in question:
            vocab.add(char)
        for char in answer:
            vocab.add(char)
    lookup = vocab.char_to_id
    x = np.array([[lookup[c] for c in q] for q in questions], dtype=np.int64)
    t = np.array([[lookup[c] for c in a] for a in answers], dtype=np.int64)
    indices = np.arange(len(x))
    if seed is not None:
        np.random.RandomState(seed).shuffle(indices)
    x, t = x[indices], t[indices]
    split_at = len(x) - len(x) // 10
    x_train, x_test = x[:split_at], x[split_at:]
    t_train, t_test = t[:split_at], t[split_at:]
    if reverse:
        x_train, x_test = x_train[:, ::-1].copy(), x_test[:, ::-1].copy()
    return (x_train, t_train), (x_test, t_test), vocab


def vocab_from_chars(chars: Sequence[str]) -> CharVocabulary:
    """Rebuild a vocabulary from :attr:`CharVocabulary.chars` (as stored in a checkpoint)."""
    return CharVocabulary(chars)

