"""Reading the C word2vec vector formats, with errors that name the file and the line.

Text: a header ``"<words> <dim>"`` then one ``word v1 ... v_dim`` line per word.
Binary: the same header line, then per word ``word<space>`` followed by ``dim`` little-endian
float32 values (and, in files written by the C tool or zeronlp, a newline; gensim omits it).
"""

from __future__ import annotations

import os

import numpy as np


def _header(path, line: bytes) -> tuple[int, int]:
    try:
        parts = line.decode("utf-8").split()
        n_words, dim = (int(p) for p in parts)
    except (UnicodeDecodeError, ValueError):
        raise ValueError(
            f"{path}: line 1: bad header {line[:80]!r}, expected '<number of words> <dimension>'"
        ) from None
    if n_words < 0 or dim < 1:
        raise ValueError(f"{path}: line 1: bad header: {n_words} words of dimension {dim}")
    return n_words, dim


def read_word2vec(path: str | os.PathLike, binary: bool = False) -> tuple[list[str], np.ndarray]:
    """``(words, vectors float32 (V, dim))`` from a word2vec file."""
    data = open(path, "rb").read()
    newline = data.find(b"\n")
    if newline < 0:
        raise ValueError(f"{path}: line 1: missing header line '<number of words> <dimension>'")
    n_words, dim = _header(path, data[:newline])
    reader = _read_binary if binary else _read_text
    words, vectors = reader(path, data, newline + 1, n_words, dim)
    seen: dict[str, int] = {}
    for i, word in enumerate(words):
        if word in seen:
            raise ValueError(f"{path}: line {i + 2}: word {word!r} repeats line {seen[word] + 2}")
        seen[word] = i
    return words, vectors


def _read_text(path, data: bytes, pos: int, n_words: int, dim: int):
    lines = data[pos:].split(b"\n")
    while lines and not lines[-1].strip():
        lines.pop()
    if len(lines) != n_words:
        which = "fewer" if len(lines) < n_words else "more"
        raise ValueError(
            f"{path}: line {len(lines) + 1}: header says {n_words} words but the file has {which} "
            f"({len(lines)} vector lines)"
        )
    words: list[str] = []
    vectors = np.empty((n_words, dim), dtype=np.float32)
    for i, raw in enumerate(lines):
        line_no = i + 2
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as err:
            raise ValueError(
                f"{path}: line {line_no}: invalid UTF-8 ({err.reason} at byte {err.start})"
            ) from None
        parts = text.rstrip().split(" ")
        if len(parts) != dim + 1:
            raise ValueError(
                f"{path}: line {line_no}: expected a word and {dim} numbers, got {len(parts) - 1} numbers"
            )
        try:
            vectors[i] = np.array(parts[1:], dtype=np.float32)
        except ValueError:
            raise ValueError(
                f"{path}: line {line_no}: vector of {parts[0]!r} has a value that is not a number"
            ) from None
        words.append(parts[0])
    return words, vectors


def _read_binary(path, data: bytes, pos: int, n_words: int, dim: int):
    words: list[str] = []
    vectors = np.empty((n_words, dim), dtype=np.float32)
    width = 4 * dim
    for i in range(n_words):
        line_no = i + 2
        while pos < len(data) and data[pos : pos + 1] == b"\n":
            pos += 1
        space = data.find(b" ", pos)
        if space < 0 or space + width > len(data):
            raise ValueError(
                f"{path}: line {line_no}: file ends inside entry {i + 1} of {n_words} "
                "(truncated, or not a binary word2vec file)"
            )
        try:
            word = data[pos:space].decode("utf-8")
        except UnicodeDecodeError as err:
            raise ValueError(f"{path}: line {line_no}: invalid UTF-8 in word ({err.reason})") from None
        if not word or "\n" in word:
            raise ValueError(f"{path}: line {line_no}: empty or malformed word {word!r}")
        words.append(word)
        vectors[i] = np.frombuffer(data, dtype="<f4", count=dim, offset=space + 1)
        pos = space + 1 + width
    if data[pos:].strip(b"\n"):
        raise ValueError(f"{path}: line {n_words + 2}: data after the {n_words} vectors the header announces")
    if not np.isfinite(vectors).all():
        bad = int(np.flatnonzero(~np.isfinite(vectors).all(axis=1))[0])
        raise ValueError(f"{path}: line {bad + 2}: vector of {words[bad]!r} has a non-finite value")
    return words, vectors
