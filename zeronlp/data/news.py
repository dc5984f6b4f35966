"""News headlines of NLP 100 Knocks chapters 6 and 8 (UCI News Aggregator), shipped with the package.

Each line of a news file is ``CATEGORY<TAB>TITLE``. The four categories map to class ids in the
fixed order of the exercise, :data:`CATEGORIES` = ``("b", "t", "e", "m")``:

====  ==  ======================
code  id  meaning
====  ==  ======================
b     0   business
t     1   science and technology
e     2   entertainment
m     3   health
====  ==  ======================

The shipped split (10,686 / 1,335 / 1,335 titles) is the exercise's 80/10/10 split.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

import numpy as np

from ..errors import DataError
from .files import open_dataset
from .textfiles import _split_tsv_line, read_lines

CATEGORIES: tuple[str, ...] = ("b", "t", "e", "m")
CATEGORY_NAMES: dict[str, str] = {
    "b": "business", "t": "science and technology", "e": "entertainment", "m": "health",
}
CATEGORY_TO_ID: dict[str, int] = {code: i for i, code in enumerate(CATEGORIES)}
SPLITS = ("train", "valid", "test")


def parse_news_lines(lines: Iterable[str], source: str = "<lines>") -> tuple[list[str], np.ndarray]:
    """Parse ``CATEGORY<TAB>TITLE`` lines into ``(titles, labels)``.

    Blank lines are skipped. A line without a tab, with a category other than b/t/e/m, or with an
    empty title raises :class:`DataError` (a ``ValueError``) naming ``source`` and the 1-based line.
    """
    titles: list[str] = []
    labels: list[int] = []
    for number, line in enumerate(lines, start=1):
        line = line.rstrip("\r\n")
        if not line.strip():
            continue
        category, title = _split_tsv_line(line, source, number, ("CATEGORY", "TITLE"))
        if category not in CATEGORY_TO_ID:
            raise DataError(f"unknown category {category!r} (expected one of {', '.join(CATEGORIES)})", source, number)
        titles.append(title)
        labels.append(CATEGORY_TO_ID[category])
    return titles, np.asarray(labels, dtype=np.int64)


def read_news_file(path: str | os.PathLike) -> tuple[list[str], np.ndarray]:
    """Read a user's ``CATEGORY<TAB>TITLE`` file (plain or gzip) into ``(titles, labels)``.

    Problems with the file (missing, not UTF-8, empty, a malformed line) raise :class:`DataError`.
    """
    return parse_news_lines(read_lines(path), os.fspath(path))


def load_news(split: str = "train") -> tuple[list[str], np.ndarray]:
    """Titles and int64 labels (ids in :data:`CATEGORIES` order) of a shipped split.

    ``split`` is ``"train"``, ``"valid"`` or ``"test"``.
    """
    if split not in SPLITS:
        raise ValueError(f"unknown news split {split!r}; use one of {', '.join(SPLITS)}")
    name = f"news.{split}.txt"
    return parse_news_lines(open_dataset(name), name)
