import gzip

import numpy as np
import pytest

from zeronlp.data import CATEGORIES, load_news, read_news_file
from zeronlp.data.news import CATEGORY_TO_ID, parse_news_lines
from zeronlp.errors import DataError


def test_shipped_splits():
    sizes = {"train": 10_686, "valid": 1_335, "test": 1_335}
    for split, size in sizes.items():
        titles, labels = load_news(split)
        assert len(titles) == labels.size == size
        assert labels.dtype == np.int64
        assert set(np.unique(labels).tolist()) == {0, 1, 2, 3}
        assert all(isinstance(t, str) and t for t in titles)
    assert CATEGORIES == ("b", "t", "e", "m")
    titles, labels = load_news("train")
    assert titles[0].startswith("Woman Hears For The First Time") and labels[0] == CATEGORY_TO_ID["m"]
    assert np.bincount(labels).tolist() == [4460, 1240, 4241, 745]
    with pytest.raises(ValueError, match="split"):
        load_news("dev")


def test_user_file_plain_and_gzip(tmp_path):
    text = "b\tStocks rally\n\n t \t  Apple unveils phone  \r\nm\tFlu season\n"
    plain = tmp_path / "news.txt"
    plain.write_text(text, encoding="utf-8")
    packed = tmp_path / "news.txt.gz"
    packed.write_bytes(gzip.compress(text.encode()))
    for path in (plain, packed):
        titles, labels = read_news_file(path)
        assert titles == ["Stocks rally", "Apple unveils phone", "Flu season"]
        assert labels.tolist() == [0, 1, 3]


@pytest.mark.parametrize("line,message", [
    ("b Stocks rally without tab", "no tab"),
    ("x\tUnknown category", "unknown category 'x'"),
    ("e\t   ", "empty title"),
])
def test_malformed_line_names_file_and_line(tmp_path, line, message):
    path = tmp_path / "bad.txt"
    path.write_text(f"b\tFine title\n{line}\n", encoding="utf-8")
    with pytest.raises(DataError, match=rf"bad\.txt, line 2: .*{message}") as info:
        read_news_file(path)
    assert info.value.line == 2 and info.value.path == str(path)


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match="nope.txt: no such file"):
        read_news_file(tmp_path / "nope.txt")


def test_gzip_recognised_by_content_not_name(tmp_path):
    path = tmp_path / "news.tsv"
    path.write_bytes(gzip.compress("\ufeffe\tA film\r\n".encode()))
    titles, labels = read_news_file(path)
    assert titles == ["A film"] and labels.tolist() == [2]


def test_parse_lines_empty():
    titles, labels = parse_news_lines([])
    assert titles == [] and labels.dtype == np.int64 and labels.size == 0
