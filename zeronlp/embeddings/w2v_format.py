"""The C word2vec vector formats (and GloVe/fastText text files), read as a stream, written atomically.

Text: a header ``"<words> <dim>"`` (absent in GloVe files: ``no_header=True``), then one line
``word v1 ... v_dim`` per word, fields separated by single spaces. Binary: the same header line, then
per word ``word<space>`` followed by ``dim`` little-endian float32 values (and, in files written by
the C tool or zeronlp, a newline; gensim omits it).

A file may be gzip-, bzip2- or xz-compressed whatever its name: the compression is recognised by
its magic bytes. The file is read in chunks, so ``limit=N`` needs memory for ``N`` vectors only,
however large the file (the 3M-word GoogleNews file included). Arguments mean what they mean in
gensim's ``KeyedVectors.load_word2vec_format``: ``limit``, ``unicode_errors``, ``no_header``,
``datatype``, ``encoding``; a repeated word keeps its first vector, as in gensim. Everything wrong
with a file is a :class:`~zeronlp.errors.DataError` naming the path and the line (text) or the
byte offset (binary; in the decompressed data for a compressed file).
"""

from __future__ import annotations

import bz2
import codecs
import gzip
import logging
import lzma
import os
import stat
import zlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np

from ..errors import DataError, UsageError
from ..fileio import atomic_path

COMPRESSION_MAGIC = {b"\x1f\x8b": "gzip", b"BZh": "bz2", b"\xfd7zXZ\x00": "xz"}
_OPENERS: dict[str, Any] = {"gzip": lambda raw, mode: gzip.GzipFile(fileobj=raw, mode=mode),
                            "bz2": bz2.BZ2File, "xz": lzma.LZMAFile}
_DECOMPRESS_ERRORS = (OSError, EOFError, zlib.error, lzma.LZMAError, ValueError)
MAX_RATIO = 1032  # deflate's largest compression ratio: bounds what a gzip'd header may claim
CHUNK = 1 << 20  # bytes per read of a binary file
MAX_WORD_BYTES = 1 << 16  # a longer "word" means the file is not in the format it was read as
PathLike = str | os.PathLike
logger = logging.getLogger("zeronlp")


@dataclass
class VectorFile:
    """An open (decompressed) byte stream of a vectors file, its size on disk and its compression."""

    stream: IO[bytes]
    size: int
    compression: str | None

    @property
    def where(self) -> str:
        return " of the decompressed data" if self.compression else ""


def _regular_size(path: PathLike) -> int:
    """Size of ``path``, checked with ``stat`` before opening so that a FIFO or a device never blocks."""
    try:
        info = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        raise DataError("no such file", path) from None
    except OSError as err:
        raise DataError(f"cannot read: {err.strerror}", path) from None
    if not stat.S_ISREG(info.st_mode):
        kind = "a directory" if stat.S_ISDIR(info.st_mode) else "not a regular file"
        raise DataError(f"is {kind}: expected a word-vector file", path)
    return info.st_size


@contextmanager
def open_vector_file(path: PathLike) -> Iterator[VectorFile]:
    """Open ``path`` for reading, decompressing gzip/bz2/xz recognised by their magic bytes."""
    size = _regular_size(path)
    try:
        raw = open(path, "rb")
    except OSError as err:
        raise DataError(f"cannot read: {err.strerror}", path) from None
    try:
        head = raw.read(6)
        raw.seek(0)
        compression = next((name for magic, name in COMPRESSION_MAGIC.items() if head.startswith(magic)), None)
        stream: IO[bytes] = raw
        if compression:
            stream = _OPENERS[compression](raw, mode="rb")
        try:
            yield VectorFile(stream, size, compression)
        except _DECOMPRESS_ERRORS as err:
            if compression and not isinstance(err, DataError):
                raise DataError(f"starts like a {compression} file but cannot be decompressed ({err})", path) from None
            raise
        finally:
            if stream is not raw:
                stream.close()
    finally:
        raw.close()


def _check_arguments(limit: int | None, unicode_errors: str, encoding: str, datatype: Any) -> np.dtype:
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, (int, np.integer)) or limit < 1):
        raise UsageError(f"limit must be None (all words) or an integer >= 1, got {limit!r}")
    try:
        codecs.lookup_error(unicode_errors)
    except (LookupError, TypeError):
        raise UsageError(f"unknown unicode_errors handler {unicode_errors!r} (use 'strict', 'ignore' or "
                         "'replace')") from None
    try:
        codecs.lookup(encoding)
    except (LookupError, TypeError):
        raise UsageError(f"unknown encoding {encoding!r}") from None
    try:
        dtype = np.dtype(datatype)
    except TypeError:
        raise UsageError(f"datatype must be a NumPy float type, got {datatype!r}") from None
    if dtype.kind != "f":
        raise UsageError(f"datatype must be a NumPy float type (float16/32/64), got {dtype}")
    return dtype


def _parse_header(path: PathLike, line: bytes, encoding: str) -> tuple[int, int]:
    try:
        parts = line.decode(encoding).removeprefix("\ufeff").split()
        n_words, dim = (int(p) for p in parts)
    except (UnicodeDecodeError, ValueError):
        printable = line[:40].decode(encoding, errors="replace").isprintable()
        shown = repr(line[:40].decode(encoding, errors="replace")) if printable else "binary data"
        raise DataError(
            f"not a word-vector file: the first line should be '<number of words> <dimension>', found {shown} "
            "(a GloVe file has no header: pass no_header=True / --format no-header)", path, 1,
        ) from None
    if n_words < 0 or dim < 1:
        raise DataError(f"bad header: {n_words} words of dimension {dim}", path, 1)
    return n_words, dim


class _Rows:
    """A ``(rows, dim)`` array filled row by row: starts at a capacity the file can back, grows if needed."""

    def __init__(self, capacity: int, most: int, dim: int, dtype: np.dtype):
        self.most, self.dim, self.dtype = most, dim, dtype
        self.vectors = np.empty((min(capacity, most), dim), dtype=dtype)
        self.origins = np.empty(len(self.vectors), dtype=np.int64)  # line number or byte offset of each row
        self.words: list[str] = []
        self.seen: dict[str, int] = {}
        self.duplicates = 0

    def add(self, word: str, values: np.ndarray, origin: int) -> None:
        if word in self.seen:  # gensim: "duplicate word in word2vec file, ignoring all but first"
            self.duplicates += 1
            return
        n = len(self.words)
        if n == len(self.vectors):
            grown = min(self.most, max(2 * n, 1024))
            self.vectors = np.concatenate([self.vectors, np.empty((grown - n, self.dim), self.dtype)])
            self.origins = np.concatenate([self.origins, np.empty(grown - n, np.int64)])
        self.vectors[n] = values
        self.origins[n] = origin
        self.seen[word] = n
        self.words.append(word)

    def result(self, path: PathLike, where: str) -> tuple[list[str], np.ndarray]:
        n = len(self.words)
        vectors = self.vectors if n == len(self.vectors) else np.ascontiguousarray(self.vectors[:n])
        finite = np.isfinite(vectors).all(axis=1)
        if not finite.all():
            bad = int(np.flatnonzero(~finite)[0])
            word = self.words[bad]
            if where == "line":
                raise DataError(f"vector of {word!r} has a non-finite value", path, int(self.origins[bad]))
            raise DataError(f"vector of {word!r} at byte offset {self.origins[bad]}{where} has a non-finite value",
                            path)
        if self.duplicates:
            logger.warning(f"{path}: {self.duplicates} repeated words ignored (the first vector of each is kept)")
        return self.words, vectors


def read_word2vec(
    path: PathLike,
    binary: bool = False,
    limit: int | None = None,
    unicode_errors: str = "strict",
    no_header: bool = False,
    datatype: Any = np.float32,
    encoding: str = "utf-8",
) -> tuple[list[str], np.ndarray]:
    """``(words, vectors (V, dim) of datatype)`` from a word2vec text or binary file (see the module doc)."""
    dtype = _check_arguments(limit, unicode_errors, encoding, datatype)
    if binary and no_header:
        raise UsageError("no_header is only for text files (a binary file needs its header for the dimension)")
    most = limit if limit is not None else np.iinfo(np.int64).max
    with open_vector_file(path) as file:
        if no_header:
            return _read_text(path, file, None, None, most, unicode_errors, encoding, dtype)
        header = file.stream.readline(1024)
        if not header.endswith(b"\n"):
            raise DataError("missing header line '<number of words> <dimension>'", path, 1)
        n_words, dim = _parse_header(path, header, encoding)
        min_entry = 4 * dim + 2 if binary else 2 * dim + 1
        bound = (file.size * (MAX_RATIO if file.compression else 1)) // min_entry
        if not file.compression and min(n_words, most) > bound:  # (a cut-off download still gives its first words)
            raise DataError(f"header says {n_words} words of dimension {dim}, but the file has only {file.size} "
                            f"bytes (room for {bound} at most{'' if binary else ' as text'})", path, 1)
        reader = _read_binary if binary else _read_text
        return reader(path, file, n_words, dim, min(most, n_words), unicode_errors, encoding, dtype,
                      offset=len(header), bound=bound)


def _decode(raw: bytes, encoding: str, errors: str, path: PathLike, line: int | None, what: str,
            offset: int | None = None, where: str = "") -> str:
    try:
        return raw.decode(encoding, errors=errors)
    except UnicodeDecodeError as err:
        place = f" at byte offset {offset + err.start}{where}" if offset is not None else f" at byte {err.start}"
        name = "UTF-8" if codecs.lookup(encoding).name == "utf-8" else encoding
        raise DataError(f"invalid {name} in {what} ({err.reason}{place}); pass unicode_errors='ignore' "
                        "to drop such bytes", path, line) from None


def _read_text(path: PathLike, file: VectorFile, n_words: int | None, dim: int | None, most: int,
               unicode_errors: str, encoding: str, dtype: np.dtype, offset: int = 0,
               bound: int | None = None) -> tuple[list[str], np.ndarray]:
    first_line = 1 if n_words is None else 2
    rows: _Rows | None = None
    line_no = first_line - 1
    max_line = MAX_WORD_BYTES + 64 * dim if dim else 1 << 22  # bounds the memory a line without newline takes
    count = 0
    while count < most:
        raw = file.stream.readline(max_line)
        line_no += 1
        if not raw:
            if n_words is not None:
                raise DataError(f"header says {n_words} words but the file ends after {count}", path, line_no)
            break
        if len(raw) == max_line and not raw.endswith(b"\n"):
            raise DataError(f"line longer than {max_line} bytes: not a word-vector text file", path, line_no)
        text = _decode(raw, encoding, unicode_errors, path, line_no, "the line").rstrip()
        if not text and n_words is None:
            continue  # a blank line in a file without header (e.g. at its end)
        parts = text.split(" ")
        if dim is None:  # no header: the first line sets the dimension
            dim = len(parts) - 1
            if dim < 1:
                raise DataError(f"expected a word and its vector, got {text[:60]!r}", path, line_no)
        if rows is None:
            if bound is None:
                bound = (file.size * (MAX_RATIO if file.compression else 1)) // (2 * dim + 1) + 1
            rows = _Rows(min(most, bound), most, dim, dtype)
            max_line = MAX_WORD_BYTES + 64 * dim
        if len(parts) != dim + 1:
            raise DataError(f"expected a word and {dim} numbers, got {len(parts) - 1} numbers", path, line_no)
        try:
            values = np.array(parts[1:], dtype=dtype)
        except ValueError:
            raise DataError(f"vector of {parts[0]!r} has a value that is not a number", path, line_no) from None
        rows.add(parts[0], values, line_no)
        count += 1
    if rows is None:
        if n_words is None:
            raise DataError("has no vectors (an empty file?)", path)
        rows = _Rows(0, 0, dim, dtype)
    if n_words is not None and most == n_words:  # the whole file was read: only blank lines may follow
        for extra in iter(lambda: file.stream.readline(max_line), b""):
            line_no += 1
            if extra.strip():
                raise DataError(f"more lines than the {n_words} words the header announces", path, line_no)
    return rows.result(path, "line")


def _read_binary(path: PathLike, file: VectorFile, n_words: int, dim: int, most: int, unicode_errors: str,
                 encoding: str, dtype: np.dtype, offset: int = 0, bound: int | None = None
                 ) -> tuple[list[str], np.ndarray]:
    rows = _Rows(min(most, bound if bound is not None else most), most, dim, dtype)
    width = 4 * dim
    buf, pos, base = b"", 0, offset  # base: byte offset of buf[0] in the (decompressed) file
    eof = False
    count = 0
    while count < most:
        while pos < len(buf) and buf[pos] == 0x0A:  # the newline that ends the previous entry
            pos += 1
        space = buf.find(b" ", pos, pos + MAX_WORD_BYTES)
        if space < 0 or space + 1 + width > len(buf):
            if space < 0 and len(buf) - pos >= MAX_WORD_BYTES:
                raise DataError(f"no word ends within {MAX_WORD_BYTES} bytes from byte offset {base + pos}"
                                f"{file.where}: not a binary word2vec file (a text file? pass binary=False)", path)
            if eof:
                raise DataError(f"the file ends inside entry {count + 1} of {n_words} (byte offset {base + pos}"
                                f"{file.where}): truncated, or the header is wrong", path)
            more = file.stream.read(CHUNK)
            eof = not more
            buf, base, pos = buf[pos:] + more, base + pos, 0
            continue
        word = _decode(buf[pos:space], encoding, unicode_errors, path, None, f"the word of entry {count + 1}",
                       offset=base + pos, where=file.where).lstrip("\n")
        rows.add(word, np.frombuffer(buf, dtype="<f4", count=dim, offset=space + 1), base + pos)
        pos = space + 1 + width
        count += 1
    if most == n_words:  # the whole file was read: only newlines may follow
        rest = buf[pos:]
        while True:
            if rest.strip(b"\n"):
                skip = len(rest) - len(rest.lstrip(b"\n"))
                raise DataError(f"data after the {n_words} vectors the header announces (byte offset "
                                f"{base + pos + skip}{file.where})", path)
            base, pos = base + pos + len(rest), 0
            rest = file.stream.read(CHUNK)
            if not rest:
                break
    return rows.result(path, file.where)


def detect_format(path: PathLike, encoding: str = "utf-8") -> dict[str, bool]:
    """Guess ``{"binary": ..., "no_header": ...}`` of a word2vec/GloVe file from its first bytes.

    A text file's first line after the header is ``word`` and ``dim`` numbers; a binary file's first
    entry is not. A file whose first line is not ``"<words> <dim>"`` but a word and numbers is a
    text file without header (GloVe).
    """
    with open_vector_file(path) as file:
        first = file.stream.readline(1024)
        try:
            n_words, dim = _parse_header(path, first, encoding)
        except DataError:
            parts = first.decode(encoding, errors="replace").rstrip().split(" ")
            if len(parts) > 1 and _numbers(parts[1:]):
                return {"binary": False, "no_header": True}
            raise
        entry = file.stream.readline(MAX_WORD_BYTES + 64 * dim)
    try:
        parts = entry.decode(encoding).rstrip().split(" ")
    except UnicodeDecodeError:
        return {"binary": True, "no_header": False}
    text = len(parts) == dim + 1 and _numbers(parts[1:]) or (n_words == 0 and not entry.strip())
    return {"binary": not text, "no_header": False}


def _numbers(parts: Sequence[str]) -> bool:
    try:
        np.array(parts, dtype=np.float64)
    except ValueError:
        return False
    return True


def _compressor(path: Path, tmp: Path) -> IO[bytes]:
    """Write compressed when the name asks for it (``.gz``, ``.bz2``, ``.xz``), as gensim does."""
    suffix = path.suffix.lower()
    if suffix == ".gz":
        return gzip.open(tmp, "wb")
    if suffix == ".bz2":
        return bz2.open(tmp, "wb")
    if suffix == ".xz":
        return lzma.open(tmp, "wb")
    return open(tmp, "wb")


def write_word2vec(path: PathLike, words: Sequence[str], vectors: np.ndarray, binary: bool = False,
                   write_header: bool = True, block: int = 4096) -> None:
    """Write ``words`` and their ``vectors`` in the word2vec format (compressed by the name's suffix).

    Text values are the shortest decimal strings that read back to the same float32 (or float64)
    values. The file appears only when complete (temporary file + rename).
    """
    for word in words:
        if not word or any(ch in " \t\n\r\v\f" for ch in word):
            raise UsageError(f"cannot write word {word!r} to word2vec format: it is empty or has whitespace")
    path = Path(path)
    vectors = np.asarray(vectors)
    with atomic_path(path) as tmp:
        with _compressor(path, tmp) as f:
            if write_header:
                f.write(f"{len(words)} {vectors.shape[1]}\n".encode())
            for start in range(0, len(words), block):
                chunk = vectors[start:start + block]
                if binary:
                    rows = chunk.astype("<f4")
                    f.write(b"".join(word.encode("utf-8") + b" " + row.tobytes() + b"\n"
                                     for word, row in zip(words[start:start + block], rows)))
                else:
                    lines = (word + " " + " ".join(map(str, row)) + "\n"
                             for word, row in zip(words[start:start + block], chunk))
                    f.write("".join(lines).encode("utf-8"))
