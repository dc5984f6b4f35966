"""Data files shipped inside the package (``zeronlp/datasets/``), found without any network access.

Files are stored gzip-compressed where that helps; :func:`open_dataset` opens either form as text.
The md5 sums are those of the uncompressed originals listed in ``shared/data/MANIFEST.md``.
"""

from __future__ import annotations

import gzip
import hashlib
import io
from pathlib import Path

DATASETS_DIR = Path(__file__).resolve().parent.parent / "datasets"

MD5 = {
    "ptb.train.txt": "f26c4b92c5fdc7b3f8c7cdcb991d8420",
    "ptb.valid.txt": "aa0affc06ff7c36e977d7cd49e3839bf",
    "ptb.test.txt": "8b80168b89c18661a38ef683c0dc3721",
    "questions-words.txt": "8b7461cbf7ecc0aec9b32eb626821105",
    "wordsim353.tsv": "fa3334003a2c00a47810856c5813a990",
    "simlex999.txt": "ea3b421726e288d9c368d3db0f1831a4",
}


def dataset_path(name: str) -> Path:
    """Path of the shipped file ``name`` (``"ptb.train.txt"``; a ``.gz`` copy is found too)."""
    for candidate in (DATASETS_DIR / name, DATASETS_DIR / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    known = ", ".join(sorted(MD5))
    raise FileNotFoundError(f"no data file {name!r} in {DATASETS_DIR} (known: {known})")


def read_dataset_bytes(name: str) -> bytes:
    """The uncompressed bytes of the shipped file ``name``."""
    path = dataset_path(name)
    data = path.read_bytes()
    return gzip.decompress(data) if path.suffix == ".gz" else data


def open_dataset(name: str) -> io.StringIO:
    """The shipped file ``name`` as a UTF-8 text stream (decompressed in memory)."""
    return io.StringIO(read_dataset_bytes(name).decode("utf-8"))


def verify_dataset(name: str) -> bool:
    """True when the shipped copy of ``name`` has the md5 sum of the original file."""
    return hashlib.md5(read_dataset_bytes(name)).hexdigest() == MD5[name]
