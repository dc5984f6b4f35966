"""Multi-turn dialogues: a synthetic memory task, the shipped chatterbot corpus, the user's files.

A dialogue is a list of turns (strings), two at least. Every turn from the second on is a *reply*
to the turns before it: :func:`dialogue_examples` turns dialogues into ``(context turns, reply)``
examples, with at most ``max_context`` turns of context (the last ones).

* :func:`synthetic_dialogues` — made by zeronlp from a seed (like the book's addition and date sets):
  turn 1 states a fact (``my pet is a cat .``), the partner acknowledges it, 0 or 1 pair of small talk
  follow, then ``what is my pet ?`` is answered ``your pet is a cat .``. The answer is determined by
  the first turn, three or more turns before it, so a model that sees only the last turn (the
  question) can do no better than guess one of the slot's 8 values.
* :func:`load_chatterbot` — the English part of chatterbot-corpus 1.3.3 (BSD licence, see
  ``datasets/LICENSE-chatterbot-corpus.txt``), shipped gzip-compressed: 2,026 conversations, 4,403 turns.
* :func:`read_dialogues` — the user's file: UTF-8 (or gzip of it), one dialogue per block, one turn per
  line, blocks separated by blank lines. A bad file is a :class:`~zeronlp.errors.DataError` naming the
  file and line.

:class:`DialogueCodec` maps turns to the id arrays of :class:`~zeronlp.models.HRED`: a turn is
``bos w_1 .. w_n eos pad ..`` (``max_tokens`` wide), a context is ``context_turns`` such rows with
missing (earlier than the dialogue) turns all-pad *before* the real ones.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from ..errors import DataError, UsageError
from .files import read_dataset_bytes
from .textfiles import get_tokenizer, read_lines

PathLike = str | os.PathLike
Dialogue = list[str]

CHATTERBOT_FILE = "chatterbot-english.txt"
CHATTERBOT_DIALOGUES, CHATTERBOT_TURNS = 2026, 4403

# ---------------------------------------------------------------------------------- the synthetic task

SLOTS: dict[str, tuple[str, ...]] = {
    "color": ("red", "blue", "green", "yellow", "black", "white", "pink", "gray"),
    "pet": ("cat", "dog", "fish", "bird", "horse", "rabbit", "snake", "turtle"),
    "city": ("paris", "tokyo", "rome", "cairo", "lima", "oslo", "delhi", "sydney"),
    "fruit": ("apple", "banana", "cherry", "grape", "lemon", "mango", "peach", "plum"),
    "number": ("two", "three", "four", "five", "six", "seven", "eight", "nine"),
    "name": ("alice", "bob", "carol", "dave", "eve", "frank", "grace", "heidi"),
}
ACKNOWLEDGEMENTS = ("ok .", "got it .", "i see .", "nice .")
SMALL_TALK = (  # (question, its one answer)
    ("how are you ?", "i am fine ."),
    ("what time is it ?", "it is noon ."),
    ("is it raining ?", "no , it is sunny ."),
    ("do you like music ?", "yes , i do ."),
    ("where do you live ?", "i live here ."),
    ("are you busy ?", "not really ."),
)
MAX_SMALL_TALK = 1
SYNTHETIC_SIZES = {"train": 4000, "valid": 500, "test": 1000}
SYNTHETIC_CONTEXT = 3 + 2 * MAX_SMALL_TALK  # turns of context that always reach back to the fact


def synthetic_dialogues(n: int, seed: int | Sequence[int] = 0, max_small_talk: int = MAX_SMALL_TALK) -> list[Dialogue]:
    """``n`` dialogues of the memory task, the same for the same ``seed`` (see the module docstring).

    Each is ``[fact, acknowledgement, (question, answer) * k, "what is my SLOT ?", "your SLOT is VALUE ."]``
    with ``k`` in ``0..max_small_talk``: the last reply depends on the first turn, ``3 + 2k`` turns back
    (the fact is 2 + 2k turns before the question).
    """
    if int(n) != n or n < 0:
        raise UsageError(f"the number of dialogues must be a non-negative integer, got {n!r}")
    rng = np.random.default_rng(seed)
    slots = list(SLOTS)
    dialogues = []
    for _ in range(n):
        slot = slots[rng.integers(len(slots))]
        value = SLOTS[slot][rng.integers(len(SLOTS[slot]))]
        turns = [f"my {slot} is {value} .", ACKNOWLEDGEMENTS[rng.integers(len(ACKNOWLEDGEMENTS))]]
        for _ in range(rng.integers(max_small_talk + 1)):
            turns += SMALL_TALK[rng.integers(len(SMALL_TALK))]
        turns += [f"what is my {slot} ?", f"your {slot} is {value} ."]
        dialogues.append(turns)
    return dialogues


def synthetic_splits(seed: int = 0, sizes: dict[str, int] | None = None) -> dict[str, list[Dialogue]]:
    """The task's ``train``/``valid``/``test`` dialogues, each split drawn from its own seed sequence."""
    sizes = {**SYNTHETIC_SIZES, **(sizes or {})}
    return {name: synthetic_dialogues(sizes[name], seed=[seed, index])
            for index, name in enumerate(("train", "valid", "test"))}


# ---------------------------------------------------------------------------------------- files


def parse_dialogues(lines: Sequence[str], path: PathLike | None = None) -> list[Dialogue]:
    """Dialogues from the lines of a file: blocks of non-blank lines (turns), separated by blank lines.

    Surrounding whitespace of a turn is dropped. A block of one turn (nothing replies to it) is a
    :class:`DataError` naming its line; so is a file without any dialogue.
    """
    dialogues: list[Dialogue] = []
    block: list[str] = []
    start = 0

    def close() -> None:
        if len(block) == 1:
            raise DataError("this dialogue has one turn only; a dialogue needs a turn and a reply, one per line "
                            "(dialogues are separated by a blank line)", path, start)
        if block:
            dialogues.append(list(block))
        block.clear()

    for number, line in enumerate(lines, 1):
        text = line.strip()
        if "\x00" in text:
            raise DataError("holds a NUL byte: a binary file, not text", path, number)
        if not text:
            close()
            continue
        if not block:
            start = number
        block.append(text)
    close()
    if not dialogues:
        raise DataError("holds no dialogue", path)
    return dialogues


def read_dialogues(path: PathLike) -> list[Dialogue]:
    """The dialogues of the user's file (see the module docstring); :class:`DataError` on a bad file."""
    return parse_dialogues(read_lines(path), path)


def load_chatterbot() -> list[Dialogue]:
    """The shipped English chatterbot-corpus conversations (2,026 dialogues, 4,403 turns)."""
    text = read_dataset_bytes(CHATTERBOT_FILE).decode("utf-8")
    return parse_dialogues(text.split("\n"), CHATTERBOT_FILE)


def split_dialogues(dialogues: Sequence[Dialogue], fractions: Sequence[float] = (0.8, 0.1, 0.1),
                    seed: int = 0) -> list[list[Dialogue]]:
    """The dialogues shuffled with ``seed`` (a fixed split, whatever the training seed) and cut into
    parts of the given fractions (the last part takes the rest)."""
    order = np.random.default_rng(seed).permutation(len(dialogues))
    bounds = np.floor(np.cumsum(fractions[:-1]) * len(dialogues)).astype(int)
    return [[dialogues[i] for i in part] for part in np.split(order, bounds)]


def dialogue_examples(dialogues: Iterable[Dialogue], max_context: int,
                      last_only: bool = False) -> tuple[list[list[str]], list[str]]:
    """``(contexts, replies)``: every turn from the second on (only the last with ``last_only``) as a
    reply to the at most ``max_context`` turns before it."""
    if int(max_context) != max_context or max_context < 1:
        raise UsageError(f"max_context must be a positive integer, got {max_context!r}")
    contexts: list[list[str]] = []
    replies: list[str] = []
    for turns in dialogues:
        for i in range(len(turns) - 1 if last_only else 1, len(turns)):
            contexts.append(list(turns[max(0, i - max_context):i]))
            replies.append(turns[i])
    return contexts, replies


# ---------------------------------------------------------------------------------------- ids

PAD, BOS, EOS, UNK = "<pad>", "<bos>", "<eos>", "<unk>"
SPECIALS = (PAD, BOS, EOS, UNK)  # ids 0..3, the defaults of HRED/VHRED


class DialogueCodec:
    """Turns <-> ids: ``symbols`` (the 4 specials, then words by frequency), a tokenizer by name,
    ``context_turns`` (K) and ``max_tokens`` (T, a turn's width with bos and eos; longer turns are cut)."""

    def __init__(self, symbols: Sequence[str], tokenizer: str = "simple", context_turns: int = 2,
                 max_tokens: int = 32):
        if tuple(symbols[:len(SPECIALS)]) != SPECIALS:
            raise ValueError(f"DialogueCodec: the symbols must start with {', '.join(SPECIALS)}")
        if len(set(symbols)) != len(symbols):
            raise ValueError("DialogueCodec: the symbols repeat")
        if int(context_turns) != context_turns or context_turns < 1:
            raise ValueError(f"DialogueCodec: context_turns must be a positive integer, got {context_turns!r}")
        if int(max_tokens) != max_tokens or max_tokens < 3:
            raise ValueError(f"DialogueCodec: max_tokens must be an integer >= 3, got {max_tokens!r}")
        self.symbols = list(symbols)
        self.ids = {s: i for i, s in enumerate(self.symbols)}
        self.tokenizer, self.split = tokenizer, get_tokenizer(tokenizer)
        self.context_turns, self.max_tokens = int(context_turns), int(max_tokens)
        self.pad_id, self.bos_id, self.eos_id, self.unk_id = range(len(SPECIALS))

    @classmethod
    def build(cls, turns: Iterable[str], tokenizer: str = "simple", context_turns: int = 2, max_tokens: int = 32,
              min_count: int = 1, max_vocab: int | None = None) -> DialogueCodec:
        """A codec whose words are those of ``turns`` seen ``min_count`` times (the ``max_vocab`` most
        frequent at most, ties in first-appearance order)."""
        split = get_tokenizer(tokenizer)
        counts = Counter(word for turn in turns for word in split(turn))
        words = [w for w, c in sorted(counts.items(), key=lambda wc: -wc[1]) if c >= min_count and w not in SPECIALS]
        if max_vocab is not None:
            words = words[:max_vocab]
        return cls([*SPECIALS, *words], tokenizer, context_turns, max_tokens)

    def __len__(self) -> int:
        return len(self.symbols)

    def words(self, text: str) -> list[str]:
        return self.split(text)

    def unknown(self, text: str) -> list[str]:
        """The words of ``text`` the vocabulary lacks (read as ``<unk>``)."""
        return [w for w in self.words(text) if w not in self.ids]

    def encode_turn(self, text: str) -> np.ndarray:
        """``bos w_1 .. w_n eos pad ..`` of width ``max_tokens`` (words beyond ``max_tokens - 2`` are cut)."""
        row = np.full(self.max_tokens, self.pad_id, dtype=np.int64)
        ids = [self.ids.get(w, self.unk_id) for w in self.words(text)[:self.max_tokens - 2]]
        row[:len(ids) + 2] = [self.bos_id, *ids, self.eos_id]
        return row

    def encode_context(self, turns: Sequence[str]) -> np.ndarray:
        """``(context_turns, max_tokens)``: the last turns, missing ones all-pad before them."""
        out = np.full((self.context_turns, self.max_tokens), self.pad_id, dtype=np.int64)
        kept = list(turns)[-self.context_turns:]
        for k, turn in enumerate(kept, self.context_turns - len(kept)):
            out[k] = self.encode_turn(turn)
        return out

    def encode(self, contexts: Sequence[Sequence[str]], replies: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """``(context (N, K, T), reply (N, T))`` arrays of examples."""
        n = len(replies)
        context = np.full((n, self.context_turns, self.max_tokens), self.pad_id, dtype=np.int64)
        reply = np.full((n, self.max_tokens), self.pad_id, dtype=np.int64)
        for i, (turns, text) in enumerate(zip(contexts, replies)):
            context[i] = self.encode_context(turns)
            reply[i] = self.encode_turn(text)
        return context, reply

    def tokens(self, ids: Iterable[int]) -> list[str]:
        """The words of ``ids`` (bos/pad skipped, up to eos)."""
        out = []
        for i in ids:
            i = int(i)
            if i == self.eos_id:
                break
            if i not in (self.pad_id, self.bos_id):
                out.append(self.symbols[i] if 0 <= i < len(self.symbols) else UNK)
        return out

    def decode(self, ids: Iterable[int]) -> str:
        return " ".join(self.tokens(ids))

    def to_config(self) -> dict[str, Any]:
        return {"tokenizer": self.tokenizer, "context_turns": self.context_turns, "max_tokens": self.max_tokens}

    @classmethod
    def from_config(cls, config: dict[str, Any], symbols: Sequence[str]) -> DialogueCodec:
        return cls(symbols, config["tokenizer"], config["context_turns"], config["max_tokens"])


def distinct_n(sentences: Iterable[Sequence[str]], n: int) -> float:
    """Distinct-n (Li et al. 2016): distinct n-grams over all n-grams of the ``sentences`` (0 if none)."""
    grams = [tuple(s[i:i + n]) for s in sentences for i in range(len(s) - n + 1)]
    return len(set(grams)) / len(grams) if grams else 0.0
