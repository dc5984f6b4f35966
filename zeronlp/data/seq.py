"""Sequence-to-sequence data: the book's toy tasks and the user's own parallel text.

**Shipped tasks** (:func:`load_seq`): addition (``16+75`` -> ``91``) and date formats. Each line of
``addition.txt`` / ``date.txt`` is a fixed-width question, then ``_`` and the answer:
``"16+75  _91  "``. The ``_`` starts the answer and doubles as the decoder's start symbol. The
character vocabulary is numbered in order of first appearance (question, then answer, line by
line), and the examples are shuffled with a fixed seed and split 90/10 exactly as the book's
``dataset/sequence.py`` does, so test accuracies compare with the book's.

**The user's parallel text** (:func:`load_parallel`): ``SOURCE<TAB>TARGET`` files read by
:func:`~zeronlp.data.read_parallel_tsv`, turned into fixed-width id rows by a :class:`SeqCodec`,
at the character level (the book's format: padding with spaces, a start symbol, no end symbol) or
the word level (``<pad>``, ``<s>``, ``</s>``, ``<unk>``).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import DataError, UsageError
from .files import open_dataset
from .textfiles import get_tokenizer, read_parallel_tsv

SEQ_DATASETS = {"addition": "addition.txt", "date": "date.txt"}
LEVELS = ("char", "word")
CHAR_PAD = " "
CHAR_START_CANDIDATES = ("_", "^", "\x02", "\ue000")  # the first one the data does not use starts answers
PAD_WORD, START_WORD, END_WORD, UNK_WORD = "<pad>", "<s>", "</s>", "<unk>"
MAX_LENGTH = 1 << 16  # a bound on a stored codec's padded lengths (rows are allocated with them)
MAX_LENGTH_PRODUCT = 1 << 24  # and on src_length x tgt_length (decoding allocates attention of that size)


class CharVocabulary:
    """Character <-> id mapping (``char_to_id``, ``id_to_char``) for the seq2seq tasks."""

    def __init__(self, chars: Iterable[str] = ()):
        self.id_to_char: dict[int, str] = {}
        self.char_to_id: dict[str, int] = {}
        for char in chars:
            self.add(char)

    def add(self, char: str) -> int:
        if len(char) != 1:
            raise UsageError(f"CharVocabulary: entries are single characters, got {char!r}")
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
        """Raise :class:`DataError` (a ValueError) naming every character of ``text`` outside the vocabulary."""
        unknown = sorted({c for c in text if c not in self.char_to_id})
        if unknown:
            known = "".join(sorted(self.char_to_id))
            raise DataError(
                f"characters not in the vocabulary: {', '.join(repr(c) for c in unknown)} "
                f"(in {text!r}; the vocabulary has {len(self)} characters: {known!r})"
            )

    def encode(self, text: str, length: int | None = None, pad: str = " ") -> np.ndarray:
        """Ids of ``text``, right-padded with ``pad`` to ``length`` (an error if it is longer)."""
        self.check(text)
        if length is not None:
            if len(text) > length:
                raise DataError(f"input {text!r} has {len(text)} characters; this model takes at most {length}")
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
        raise UsageError(f"unknown seq2seq data set {name!r}; choose one of {sorted(SEQ_DATASETS)}")
    questions, answers = [], []
    for number, line in enumerate(open_dataset(SEQ_DATASETS[name]), 1):
        line = line.rstrip("\n")
        if not line:
            continue
        split = line.find("_")
        if split < 0:
            raise DataError(f"no '_' separating question and answer: {line!r}", SEQ_DATASETS[name], number)
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


# ------------------------------------------------------------------------- text <-> id rows


class SeqCodec:
    """How the texts of a seq2seq task become fixed-width rows of ids, and generated ids text again.

    ``symbols[i]`` is the symbol of id ``i`` (one vocabulary for sources and targets, as the models
    share one ``vocab_size``). A source becomes its symbols padded with ``pad`` to ``src_length``
    (then reversed if ``reverse``, the book's trick, so the padding comes first); a target becomes
    ``start``, its symbols, ``end`` (word level) and padding, ``tgt_length`` ids in all.

    * ``level="char"``: the book's format. Symbols are characters, ``pad`` is a space, ``start`` is
      ``_`` (or another character the data does not use); there is no end symbol: an answer ends
      where the padding starts. A character outside ``symbols`` is an error.
    * ``level="word"``: symbols are the tokens of ``tokenizer`` (``"whitespace"`` or ``"simple"``),
      with ``<pad>``, ``<s>``, ``</s>`` and ``<unk>``; unknown words become ``<unk>``.
    """

    def __init__(self, level: str, symbols: Sequence[str], src_length: int, tgt_length: int, *,
                 pad: str, start: str, end: str | None = None, unk: str | None = None, reverse: bool = False,
                 tokenizer: str = "whitespace"):
        if level not in LEVELS:
            raise UsageError(f"level must be one of {LEVELS}, got {level!r}")
        self.level, self.symbols = level, list(symbols)
        self.ids = {symbol: i for i, symbol in enumerate(self.symbols)}
        if len(self.ids) != len(self.symbols):
            raise DataError("a seq2seq vocabulary has duplicate symbols")
        for name, symbol in (("pad", pad), ("start", start), ("end", end), ("unk", unk)):
            if symbol is not None and symbol not in self.ids:
                raise DataError(f"the {name} symbol {symbol!r} is not in the vocabulary")
        self.src_length, self.tgt_length = int(src_length), int(tgt_length)
        self.pad, self.start, self.end, self.unk = pad, start, end, unk
        self.reverse, self.tokenizer = bool(reverse), tokenizer
        self._split = list if level == "char" else get_tokenizer(tokenizer)

    # ---- construction ----------------------------------------------------------------------
    @classmethod
    def build(cls, level: str, sources: Sequence[str], targets: Sequence[str], reverse: bool = False,
              tokenizer: str = "whitespace", vocab_lines: int | None = None) -> SeqCodec:
        """The codec of a training set: padded lengths are the longest source and target; the symbols
        are those of the first ``vocab_lines`` pairs (all by default), in order of first appearance."""
        if level not in LEVELS:
            raise UsageError(f"level must be one of {LEVELS}, got {level!r}")
        split = list if level == "char" else get_tokenizer(tokenizer)
        source_tokens, target_tokens = [split(s) for s in sources], [split(t) for t in targets]
        seen: dict[str, None] = {}
        for tokens in _interleave(source_tokens[:vocab_lines], target_tokens[:vocab_lines]):
            seen.update(dict.fromkeys(tokens))
        src_length = max(len(tokens) for tokens in source_tokens)
        longest_target = max(len(tokens) for tokens in target_tokens)
        if level == "char":
            start = next((c for c in CHAR_START_CANDIDATES if c not in seen), None)
            if start is None:
                raise DataError(f"the data uses every candidate start symbol {CHAR_START_CANDIDATES}")
            symbols = list(dict.fromkeys([CHAR_PAD, start, *seen]))
            return cls("char", symbols, src_length, longest_target + 1, pad=CHAR_PAD, start=start, reverse=reverse)
        specials = [PAD_WORD, START_WORD, END_WORD, UNK_WORD]
        symbols = list(dict.fromkeys([*specials, *seen]))
        return cls("word", symbols, src_length, longest_target + 2, pad=PAD_WORD, start=START_WORD,
                   end=END_WORD, unk=UNK_WORD, reverse=reverse, tokenizer=tokenizer)

    @classmethod
    def from_char_vocabulary(cls, vocab: CharVocabulary, src_length: int, tgt_length: int,
                             reverse: bool = False, start: str = "_") -> SeqCodec:
        """The codec of a shipped task (:func:`load_seq`): the book's format."""
        return cls("char", vocab.chars, src_length, tgt_length, pad=CHAR_PAD, start=start, reverse=reverse)

    def to_config(self) -> dict[str, Any]:
        """JSON-able settings (without the symbols); :meth:`from_config` inverts it."""
        return {"level": self.level, "src_length": self.src_length, "tgt_length": self.tgt_length,
                "pad": self.pad, "start": self.start, "end": self.end, "unk": self.unk, "reverse": self.reverse,
                "tokenizer": self.tokenizer}

    @classmethod
    def from_config(cls, config: dict[str, Any], symbols: Sequence[str]) -> SeqCodec:
        """Rebuild from :meth:`to_config` and the symbols (also reads the older ``start_char`` runs).

        Both usually come from a file, so every field is checked (types, ranges, the special symbols
        among ``symbols``) and a problem is a :class:`DataError` naming the field.
        """
        if not isinstance(config, dict):
            raise DataError("not a seq2seq text configuration (expected a JSON object)")
        if not isinstance(symbols, (list, tuple)) or not all(isinstance(s, str) for s in symbols):
            raise DataError("field vocab: expected a list of strings")
        level = config.get("level", "char")
        if level not in LEVELS:
            raise DataError(f"field config/level: {str(level)[:40]!r} is not one of {', '.join(LEVELS)}")
        if level == "char" and not all(len(s) == 1 for s in symbols):
            raise DataError("field vocab: a character-level vocabulary holds single characters")
        lengths = {}
        for key in ("src_length", "tgt_length"):
            value = config.get(key)
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_LENGTH:
                raise DataError(f"field config/{key}: expected an integer in 1..{MAX_LENGTH}, got {str(value)[:40]!r}")
            lengths[key] = value
        if lengths["src_length"] * lengths["tgt_length"] > MAX_LENGTH_PRODUCT:
            raise DataError(f"fields config/src_length and config/tgt_length: {lengths['src_length']} x "
                            f"{lengths['tgt_length']} is more than {MAX_LENGTH_PRODUCT} positions")
        special = {"pad": config.get("pad", CHAR_PAD), "start": config.get("start", config.get("start_char", "_")),
                   "end": config.get("end"), "unk": config.get("unk")}
        for name, symbol in special.items():
            if symbol is not None and not isinstance(symbol, str):
                raise DataError(f"field config/{name}: expected a symbol (a string), got {str(symbol)[:40]!r}")
        reverse, tokenizer = config.get("reverse", False), config.get("tokenizer", "whitespace")
        if not isinstance(reverse, bool):
            raise DataError(f"field config/reverse: expected true or false, got {str(reverse)[:40]!r}")
        if not isinstance(tokenizer, str):
            raise DataError(f"field config/tokenizer: expected a tokenizer name, got {str(tokenizer)[:40]!r}")
        return cls(level, symbols, lengths["src_length"], lengths["tgt_length"], reverse=reverse,
                   tokenizer=tokenizer, **special)

    # ---- ids ---------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.symbols)

    @property
    def pad_id(self) -> int:
        return self.ids[self.pad]

    @property
    def start_id(self) -> int:
        return self.ids[self.start]

    @property
    def end_id(self) -> int | None:
        return self.ids[self.end] if self.end is not None else None

    @property
    def unit(self) -> str:
        return "characters" if self.level == "char" else "tokens"

    def tokens(self, text: str) -> list[str]:
        """The symbols of ``text`` as written (characters, or the tokenizer's words)."""
        return self._split(text)

    def unknown(self, text: str) -> list[str]:
        """The symbols of ``text`` outside the vocabulary, in order, each once (read as ``unk`` if there is one)."""
        return list(dict.fromkeys(t for t in self.tokens(text) if t not in self.ids))

    def _ids(self, tokens: list[str], length: int, what: str, extra: int = 0) -> list[int]:
        """Ids of ``tokens`` padded to ``length``; ``extra`` of them are the start/end symbols added."""
        shown = ("" if self.level == "char" else " ").join(tokens[1:len(tokens) - extra + 1] if extra else tokens)
        shown = repr(shown if len(shown) <= 60 else shown[:57] + "...")
        if len(tokens) > length:
            raise DataError(f"the {what} {shown} has {len(tokens) - extra} {self.unit}; the model takes at most "
                            f"{length - extra} (the longest in its training file)")
        if self.unk is None:
            unknown = sorted({t for t in tokens if t not in self.ids})
            if unknown:
                known = "".join(sorted(s for s in self.symbols if len(s) == 1))
                raise DataError(f"the {what} {shown} has {self.unit} not in the vocabulary: "
                                f"{', '.join(repr(c) for c in unknown)} (the vocabulary has {len(self)}: {known!r})")
            ids = [self.ids[t] for t in tokens]
        else:
            unk = self.ids[self.unk]
            ids = [self.ids.get(t, unk) for t in tokens]
        return ids + [self.pad_id] * (length - len(ids))

    def encode_source(self, text: str) -> np.ndarray:
        """Ids ``(src_length,)`` of a source (padded, reversed if the model was trained so)."""
        ids = self._ids(self.tokens(text), self.src_length, "source")
        return np.array(ids[::-1] if self.reverse else ids, dtype=np.int64)

    def encode_target(self, text: str) -> np.ndarray:
        """Ids ``(tgt_length,)`` of a target: start, symbols, end (word level), padding."""
        tokens = [self.start, *self.tokens(text)] + ([self.end] if self.end is not None else [])
        return np.array(self._ids(tokens, self.tgt_length, "target", 1 + (self.end is not None)), dtype=np.int64)

    def encode_pairs(self, sources: Sequence[str], targets: Sequence[str], path: str | os.PathLike | None = None,
                     first_line: int = 1) -> tuple[np.ndarray, np.ndarray]:
        """``(x, t)`` of aligned sources and targets read from ``path`` (errors name ``first_line + i``)."""
        x = np.empty((len(sources), self.src_length), dtype=np.int64)
        t = np.empty((len(targets), self.tgt_length), dtype=np.int64)
        for i, (source, target) in enumerate(zip(sources, targets)):
            try:
                x[i], t[i] = self.encode_source(source), self.encode_target(target)
            except DataError as err:
                raise DataError(str(err), path, first_line + i) from None
        return x, t

    # ---- back to text ------------------------------------------------------------------------
    def answer_tokens(self, ids: Iterable[int]) -> list[str]:
        """The symbols of generated ids, up to and including the end symbol (all of them at the char level)."""
        out = []
        for i in np.asarray(list(ids) if not isinstance(ids, np.ndarray) else ids).reshape(-1).tolist():
            out.append(self.symbols[int(i)])
            if out[-1] == self.end:
                break
        return out

    def decode(self, ids: Iterable[int]) -> str:
        """The answer text of generated ids: trailing padding dropped; words joined by spaces, up to the end."""
        tokens = self.answer_tokens(ids)
        if self.level == "char":
            return "".join(tokens).rstrip(self.pad)
        return " ".join(t for t in tokens if t not in (self.pad, self.end, self.start))

    def source_labels(self, text: str) -> list[str]:
        """The source's symbols as the model reads them, in written order, padded (labels of a heatmap)."""
        tokens = self.tokens(text)
        return tokens + [self.pad] * (self.src_length - len(tokens))

    def __repr__(self) -> str:
        return (f"SeqCodec({self.level}, {len(self)} symbols, src_length={self.src_length}, "
                f"tgt_length={self.tgt_length}, reverse={self.reverse})")


def _interleave(sources: Sequence[list[str]], targets: Sequence[list[str]]) -> Iterable[list[str]]:
    for source, target in zip(sources, targets):
        yield source
        yield target


# ------------------------------------------------------------------------- the user's files


@dataclass
class ParallelData:
    """The user's parallel text as id rows: ``train``, ``valid`` and ``test`` (or None) are ``(x, t)``.

    ``held_out`` is the number of lines cut from the end of the training file to validate on (0
    when a validation file was given); ``train_lines`` the number of lines the training file holds.
    """

    codec: SeqCodec
    train: tuple[np.ndarray, np.ndarray]
    valid: tuple[np.ndarray, np.ndarray]
    test: tuple[np.ndarray, np.ndarray] | None
    held_out: int
    train_lines: int


def load_parallel(train: str | os.PathLike, valid: str | os.PathLike | None = None,
                  test: str | os.PathLike | None = None, level: str = "char", tokenizer: str = "whitespace",
                  reverse: bool = False, valid_fraction: float = 0.1) -> ParallelData:
    """Read ``SOURCE<TAB>TARGET`` files and encode them for a seq2seq model.

    All files are read and checked before anything is returned (a :class:`DataError` names the
    file and line). The padded lengths are the longest source and target of the whole training
    file; a longer validation or test line is a DataError (the model could not read or write it).
    At the character level the vocabulary is every character of the training file (a character
    seen only in the validation or test file is a DataError); at the word level it is the words of
    the lines trained on, and other words become ``<unk>``. Without ``valid``, the last
    ``valid_fraction`` of the training lines (rounded, at least one, leaving at least one) are held
    out for validation.
    """
    if level not in LEVELS:
        raise UsageError(f"level must be one of {LEVELS}, got {level!r}")
    if not 0 < valid_fraction <= 0.5:
        raise UsageError(f"valid_fraction must be in (0, 0.5], got {valid_fraction!r}")
    get_tokenizer(tokenizer)
    sources, targets = read_parallel_tsv(train)
    valid_pairs = read_parallel_tsv(valid) if valid is not None else None
    test_pairs = read_parallel_tsv(test) if test is not None else None
    n = len(sources)
    held_out = 0
    if valid_pairs is None:
        if n < 2:
            raise DataError("has only one line, too few to hold out a validation part: pass a validation file", train)
        held_out = min(n - 1, max(1, round(n * valid_fraction)))
    trained = n - held_out
    codec = SeqCodec.build(level, sources, targets, reverse, tokenizer,
                           vocab_lines=n if level == "char" else trained)
    x, t = codec.encode_pairs(sources, targets, train)
    if valid_pairs is None:
        valid_rows = (x[trained:], t[trained:])
    else:
        valid_rows = codec.encode_pairs(*valid_pairs, valid)
    test_rows = codec.encode_pairs(*test_pairs, test) if test_pairs is not None else None
    return ParallelData(codec, (x[:trained], t[:trained]), valid_rows, test_rows, held_out, n)
