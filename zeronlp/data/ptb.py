"""The Penn Treebank (Mikolov's language-model split), shipped compressed inside the package.

Tokens are the whitespace-separated words of each line with ``<eos>`` at every line end, exactly as
the book's ``dataset/ptb.py``; ids are numbered in first-appearance order of the training file, so
they match the book's ids. Validation and test are encoded with the training vocabulary.
"""

from __future__ import annotations

from functools import cache

import numpy as np

from .files import open_dataset
from .vocab import Vocabulary

SPLITS = ("train", "valid", "test")
EOS = "<eos>"


def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise ValueError(f"unknown PTB split {split!r}; use one of {', '.join(SPLITS)}")


def words_with_eos(text: str) -> list[str]:
    """PTB tokens of ``text``: whitespace-separated words, ``<eos>`` at every line end."""
    return text.replace("\n", f" {EOS} ").split()


@cache
def _ptb_words(split: str) -> tuple[str, ...]:
    return tuple(words_with_eos(open_dataset(f"ptb.{split}.txt").read()))


def load_ptb_sentences(split: str = "train") -> list[list[str]]:
    """The lines of a PTB split as token lists (no ``<eos>``): the corpus for word2vec."""
    _check_split(split)
    return [line.split() for line in open_dataset(f"ptb.{split}.txt").read().splitlines() if line.strip()]


@cache
def _ptb_vocab() -> Vocabulary:
    return Vocabulary.build(_ptb_words("train"), order="first", unk_token="<unk>")


@cache
def _ptb_ids(split: str) -> np.ndarray:
    ids = _ptb_vocab().encode(_ptb_words(split))
    ids.setflags(write=False)
    return ids


def load_ptb(split: str = "train") -> tuple[np.ndarray, Vocabulary]:
    """Token ids (int64, read-only, cached) of a PTB split and the training vocabulary (10,000 words).

    The training split has 929,589 tokens including the ``<eos>`` that ends every line.
    """
    _check_split(split)
    return _ptb_ids(split), _ptb_vocab()
