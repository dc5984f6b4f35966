import gzip
import os
import threading
from contextlib import contextmanager

import numpy as np
import pytest

from zeronlp.data import (
    TOKENIZERS,
    LabelSet,
    TextCorpus,
    get_tokenizer,
    load_ptb,
    load_text_corpus,
    read_labeled_tsv,
    read_lines,
    read_parallel_tsv,
)
from zeronlp.data.files import dataset_path
from zeronlp.data.textfiles import register_tokenizer
from zeronlp.data.vocab import tokenize
from zeronlp.errors import DataError, UsageError


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
    return path


@contextmanager
def raises_data_error(path, line=None, match=None):
    """Like ``pytest.raises(DataError)``, also asserting that the error names ``path`` (and ``line``)."""
    with pytest.raises(DataError, match=match) as info:
        yield info
    err = info.value
    assert err.path == str(path) and err.line == line
    assert str(err).startswith(f"{path}, line {line}: " if line is not None else f"{path}: ")


# ------------------------------------------------------------------------------------- read_lines


def test_read_lines_crlf_bom_and_final_newline(tmp_path):
    path = write(tmp_path, "a.txt", "\ufefffirst line\r\nsecond\n\nlast")
    assert read_lines(path) == ["first line", "second", "", "last"]
    assert read_lines(write(tmp_path, "b.txt", "one\ntwo\n")) == ["one", "two"]


def test_read_lines_gzip_detected_by_magic_bytes(tmp_path):
    path = write(tmp_path, "corpus.txt", gzip.compress("\ufeffhello world\r\nsecond\n".encode()))
    assert read_lines(path) == ["hello world", "second"]
    # a ``.gz`` name on a plain file does not make it gzip
    assert read_lines(write(tmp_path, "plain.gz", "just text\n")) == ["just text"]


def test_read_lines_missing_file(tmp_path):
    path = tmp_path / "nope.txt"
    with raises_data_error(path, match="no such file"):
        read_lines(path)


def test_read_lines_directory(tmp_path):
    with raises_data_error(tmp_path, match="directory"):
        read_lines(tmp_path)


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="no /dev/zero")
def test_read_lines_device_refused():
    with raises_data_error("/dev/zero", match="not a regular file"):
        read_lines("/dev/zero")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no os.mkfifo on this platform")
def test_read_lines_fifo_refused_without_blocking(tmp_path):
    path = tmp_path / "pipe"
    os.mkfifo(path)
    outcome = []

    def attempt():
        try:
            read_lines(path)
        except DataError as err:
            outcome.append(err)

    thread = threading.Thread(target=attempt, daemon=True)
    thread.start()
    thread.join(timeout=5)
    if thread.is_alive():  # unblock the reader so the test run can end, then fail
        with open(path, "w"):
            pass
        pytest.fail("read_lines blocked on a FIFO")
    assert len(outcome) == 1 and outcome[0].path == str(path)
    assert "not a regular file" in str(outcome[0])


def test_read_lines_invalid_utf8_names_line_and_offset(tmp_path):
    path = write(tmp_path, "latin1.txt", b"ok\nfine\ncaf\xe9 au lait\n")
    with raises_data_error(path, line=3, match=r"not valid UTF-8: byte 0xe9 at byte offset 11"):
        read_lines(path)


def test_read_lines_invalid_utf8_inside_gzip(tmp_path):
    path = write(tmp_path, "x.txt", gzip.compress(b"\xff\n"))
    with raises_data_error(path, line=1, match="offset 0"):
        read_lines(path)


def test_read_lines_corrupt_gzip(tmp_path):
    path = write(tmp_path, "broken.txt", gzip.compress(b"some text\n")[:-6])
    with raises_data_error(path, match="gzip"):
        read_lines(path)


@pytest.mark.parametrize("content", ["", "\n", "  \n\t\n", "\ufeff\r\n"])
def test_read_lines_empty(tmp_path, content):
    path = write(tmp_path, "empty.txt", content)
    with raises_data_error(path, match="is empty"):
        read_lines(path)


# -------------------------------------------------------------------------------------- tokenizers


def test_tokenizers():
    assert {"whitespace", "simple", "ja"} <= set(TOKENIZERS)
    assert get_tokenizer("whitespace")("The cat 's  N. \t sat") == ["The", "cat", "'s", "N.", "sat"]
    assert get_tokenizer("simple") is tokenize
    assert get_tokenizer("simple")("You say goodbye.") == ["you", "say", "goodbye", "."]
    with pytest.raises(UsageError, match="unknown tokenizer 'bpe'.*whitespace, simple, ja"):
        get_tokenizer("bpe")


def test_register_tokenizer(tmp_path):
    register_tokenizer("chars", lambda text: [ch for ch in text if not ch.isspace()])
    try:
        assert get_tokenizer("chars")("ab c") == ["a", "b", "c"]
        with pytest.raises(UsageError, match="exists already"):
            register_tokenizer("chars", str.split)
        corpus = load_text_corpus(write(tmp_path, "t.txt", "ab\nba\n"), tokenizer="chars")
        assert corpus.vocab.decode(corpus.train) == ["a", "b", "<eos>"]
    finally:
        del TOKENIZERS["chars"]
    for name, tokenizer in (("", str.split), ("two words", str.split), ("x", "not callable")):
        with pytest.raises(UsageError):
            register_tokenizer(name, tokenizer)


JAPANESE = {  # sentence -> its words, as UniDic splits them (short-unit words)
    "吾輩は猫である。": ["吾輩", "は", "猫", "で", "ある", "。"],
    "名前はまだ無い。": ["名前", "は", "まだ", "無い", "。"],
    "私は東京で日本語を勉強しています。": ["私", "は", "東京", "で", "日本", "語", "を", "勉強", "し", "て", "い",
                                           "ます", "。"],
    "今日は いい天気ですね": ["今日", "は", "いい", "天気", "です", "ね"],  # a space is not a word
    "NLP100本ノックをPythonで解く": ["NLP", "100", "本", "ノック", "を", "Python", "で", "解く"],
}


def test_japanese_tokenizer_word_boundaries():
    pytest.importorskip("fugashi", reason="the [ja] extra (fugashi, unidic-lite) is not installed")
    pytest.importorskip("unidic_lite", reason="the [ja] extra (fugashi, unidic-lite) is not installed")
    split = get_tokenizer("ja")
    for sentence, words in JAPANESE.items():
        assert split(sentence) == words, sentence
    assert TOKENIZERS["ja"]("猫である") == ["猫", "で", "ある"]  # the registry entry itself works too
    assert split("") == []


def test_japanese_corpus(tmp_path):
    pytest.importorskip("fugashi")
    pytest.importorskip("unidic_lite")
    path = write(tmp_path, "ja.txt", "吾輩は猫である。\n名前はまだ無い。\n")
    corpus = load_text_corpus(path, valid=path, tokenizer="ja")
    assert corpus.vocab.decode(corpus.train[:7]) == ["吾輩", "は", "猫", "で", "ある", "。", "<eos>"]


def test_japanese_tokenizer_missing_extra(monkeypatch):
    import sys

    from zeronlp.data.textfiles import LazyTokenizer, _japanese

    monkeypatch.setitem(sys.modules, "fugashi", None)  # as if it were not installed
    with pytest.raises(UsageError, match=r"pip install 'zeronlp\[ja\]'"):
        LazyTokenizer(_japanese, "test").load()


# ------------------------------------------------------------------------------ load_text_corpus


def words(corpus_ids, vocab):
    return vocab.decode(corpus_ids)


def test_corpus_eos_blank_lines_and_unk(tmp_path):
    train = write(tmp_path, "train.txt", "a b a\n\n  \nc a\n")
    valid = write(tmp_path, "valid.txt", "a z\n")
    test = write(tmp_path, "test.txt", "\ufeffb\r\nq c\r\n")
    corpus = load_text_corpus(train, valid, test)
    assert isinstance(corpus, TextCorpus) and corpus.valid_from_train is False
    vocab = corpus.vocab
    # first-appearance order, <unk> appended because the text never uses it
    assert list(vocab) == ["a", "b", "<eos>", "c", "<unk>"]
    for ids in (corpus.train, corpus.valid, corpus.test):
        assert ids.dtype == np.int64
    assert words(corpus.train, vocab) == ["a", "b", "a", "<eos>", "c", "a", "<eos>"]
    assert words(corpus.valid, vocab) == ["a", "<unk>", "<eos>"]
    assert words(corpus.test, vocab) == ["b", "<eos>", "<unk>", "c", "<eos>"]
    assert load_text_corpus(train, valid).test is None


def test_corpus_simple_tokenizer(tmp_path):
    train = write(tmp_path, "train.txt", "Hello, World!\nhello again\n")
    corpus = load_text_corpus(train, train, tokenizer="simple")
    assert words(corpus.train, corpus.vocab) == ["hello", ",", "world", "!", "<eos>", "hello", "again", "<eos>"]


def test_corpus_min_count(tmp_path):
    train = write(tmp_path, "train.txt", "x y x\nz x y\n")
    corpus = load_text_corpus(train, train, min_count=2)
    assert list(corpus.vocab) == ["x", "y", "<eos>", "<unk>"]
    assert words(corpus.train, corpus.vocab) == ["x", "y", "x", "<eos>", "<unk>", "x", "y", "<eos>"]


def test_corpus_max_vocab_counts_eos_and_unk(tmp_path):
    # counts: a 4, b 3, c 2, d 1, e 2 (c before e: ties go to the word seen first)
    train = write(tmp_path, "train.txt", "d a b c\na b e\na b a c e\n")
    corpus = load_text_corpus(train, train, max_vocab=5)
    assert len(corpus.vocab) == 5
    assert set(corpus.vocab) == {"a", "b", "c", "<eos>", "<unk>"}
    assert words(corpus.train, corpus.vocab)[:4] == ["<unk>", "a", "b", "c"]
    tiny = load_text_corpus(train, train, max_vocab=2)
    assert list(tiny.vocab) == ["<eos>", "<unk>"]


def test_corpus_literal_unk_keeps_its_place(tmp_path):
    train = write(tmp_path, "train.txt", "the <unk> sat\n")
    corpus = load_text_corpus(train, train)
    assert list(corpus.vocab) == ["the", "<unk>", "sat", "<eos>"]
    assert corpus.vocab.unk_id == 1


def test_corpus_valid_split_from_train(tmp_path):
    lines = [f"w{i} common" for i in range(100)]
    train = write(tmp_path, "train.txt", "\n".join(lines) + "\n")
    corpus = load_text_corpus(train)
    assert corpus.valid_from_train is True
    vocab = corpus.vocab
    eos = vocab["<eos>"]
    assert int((corpus.train == eos).sum()) == 95 and int((corpus.valid == eos).sum()) == 5
    assert words(corpus.train, vocab)[-3:] == ["w94", "common", "<eos>"]
    # the held-out lines' words are not in the vocabulary
    assert "w95" not in vocab and words(corpus.valid, vocab)[:3] == ["<unk>", "common", "<eos>"]
    assert int((load_text_corpus(train, valid_fraction=0.2).valid == eos).sum()) == 20


@pytest.mark.parametrize("n_lines,n_valid", [(2, 1), (3, 1), (30, 2)])
def test_corpus_valid_split_small(tmp_path, n_lines, n_valid):
    train = write(tmp_path, "train.txt", "".join(f"line {i}\n" for i in range(n_lines)))
    corpus = load_text_corpus(train)
    eos = corpus.vocab["<eos>"]
    assert int((corpus.valid == eos).sum()) == n_valid
    assert int((corpus.train == eos).sum()) == n_lines - n_valid


def test_corpus_one_line_needs_valid(tmp_path):
    train = write(tmp_path, "train.txt", "\nonly one line here\n\n")
    with raises_data_error(train, match="--valid"):
        load_text_corpus(train)
    assert load_text_corpus(train, train).valid_from_train is False


def test_corpus_errors_name_the_right_file(tmp_path):
    train = write(tmp_path, "train.txt", "a b\nc d\n")
    empty = write(tmp_path, "valid.txt", "\n")
    with raises_data_error(empty, match="is empty"):
        load_text_corpus(train, empty)
    bad = write(tmp_path, "test.txt", b"a\n\x80\n")
    with raises_data_error(bad, line=2, match="UTF-8"):
        load_text_corpus(train, train, bad)


@pytest.mark.parametrize("kwargs,match", [
    ({"min_count": 0}, "min_count"),
    ({"max_vocab": 1}, "max_vocab"),
    ({"valid_fraction": 0.0}, "valid_fraction"),
    ({"valid_fraction": 0.6}, "valid_fraction"),
    ({"tokenizer": "nope"}, "tokenizer"),
])
def test_corpus_usage_errors(tmp_path, kwargs, match):
    train = write(tmp_path, "train.txt", "a b\nc d\n")
    with pytest.raises(UsageError, match=match):
        load_text_corpus(train, **kwargs)


# ------------------------------------------------------------------------------------- TSV files


def test_read_labeled_tsv(tmp_path):
    path = write(tmp_path, "train.tsv", "\ufeffpos\tgreat film\r\n neg \t dull\tand long \n\n\n")
    labels, texts = read_labeled_tsv(path)
    assert labels == ["pos", "neg"]
    assert texts == ["great film", "dull\tand long"]  # split on the first tab only


def test_read_parallel_tsv_gzip(tmp_path):
    path = write(tmp_path, "pairs.txt", gzip.compress("16+75\t91\nJ'ai très faim.\tI am hungry.\n".encode()))
    assert read_parallel_tsv(path) == (["16+75", "J'ai très faim."], ["91", "I am hungry."])


@pytest.mark.parametrize("reader,text,line,match", [
    (read_labeled_tsv, "a\tfine\nno tab here\n", 2, "expected 'LABEL<TAB>TEXT', found no tab"),
    (read_labeled_tsv, "a\tfine\n \ttext\n", 2, "empty label"),
    (read_labeled_tsv, "a\tfine\nb\t  \n", 2, "empty text"),
    (read_labeled_tsv, "a\tfine\n\nb\tmore\n", 2, "blank line"),
    (read_labeled_tsv, "a\tfine\nb\tok\n   \nc\tx\n", 3, "blank line"),
    (read_parallel_tsv, "x\ty\nsource only\n", 2, "expected 'SOURCE<TAB>TARGET'"),
    (read_parallel_tsv, "x\ty\n\tz\n", 2, "empty source"),
    (read_parallel_tsv, "x\ty\nz\t\n", 2, "empty target"),
])
def test_tsv_errors_name_file_and_line(tmp_path, reader, text, line, match):
    path = write(tmp_path, "data.tsv", text)
    with raises_data_error(path, line=line, match=match):
        reader(path)


@pytest.mark.parametrize("reader", [read_labeled_tsv, read_parallel_tsv])
def test_tsv_empty_file(tmp_path, reader):
    path = write(tmp_path, "empty.tsv", "\n\n")
    with raises_data_error(path, match="is empty"):
        reader(path)


# -------------------------------------------------------------------------------------- LabelSet


def test_labelset_numeric_and_lexicographic_order():
    assert LabelSet.from_labels(["10", "1", "0", "2", "1"]).labels == ("0", "1", "2", "10")
    assert LabelSet.from_labels(["-1", "1"]).labels == ("-1", "1")
    assert LabelSet.from_labels(["b", "10", "a", "2"]).labels == ("10", "2", "a", "b")
    assert LabelSet.from_labels(["pos", "neg", "pos"]).labels == ("neg", "pos")


def test_labelset_needs_two_labels(tmp_path):
    path = tmp_path / "train.tsv"
    with raises_data_error(path, match=r"only one label \(spam\).*at least two"):
        LabelSet.from_labels(["spam", "spam"], path)
    with pytest.raises(DataError, match="at least two"):
        LabelSet.from_labels([])


def test_labelset_encode_and_unknown_label(tmp_path):
    train = write(tmp_path, "train.tsv", "pos\tgood\nneg\tbad\n")
    test = write(tmp_path, "test.tsv", "neg\tmeh\npos\tyes\nneutral\tso-so\n")
    labels = LabelSet.from_labels(read_labeled_tsv(train)[0], train)
    ids = labels.encode(["pos", "neg", "pos"])
    assert ids.dtype == np.int64 and ids.tolist() == [1, 0, 1]
    assert labels.decode(ids) == ["pos", "neg", "pos"]
    with raises_data_error(test, line=3, match=r"label 'neutral'.*known labels: neg, pos"):
        labels.encode(read_labeled_tsv(test)[0], test)


def test_labelset_round_trip_keeps_order():
    labels = LabelSet.from_labels(["3", "20", "100"])
    restored = LabelSet.from_list(labels.to_list())
    assert restored == labels and restored.to_list() == ["3", "20", "100"] and len(restored) == 3
    assert LabelSet.from_list(["z", "a"]).labels == ("z", "a")  # a checkpoint's order is kept as is


@pytest.mark.parametrize("data", [["a"], ["a", "a"], ["a", ""], ["a", 1], "ab", None, []])
def test_labelset_from_list_validates(data):
    with pytest.raises(DataError):
        LabelSet.from_list(data)


def test_corpus_on_ptb_files_matches_load_ptb():
    corpus = load_text_corpus(*(dataset_path(f"ptb.{split}.txt") for split in ("train", "valid", "test")))
    train_ids, vocab = load_ptb("train")
    assert list(corpus.vocab) == list(vocab)
    assert np.array_equal(corpus.train, train_ids)
    assert np.array_equal(corpus.valid, load_ptb("valid")[0]) and np.array_equal(corpus.test, load_ptb("test")[0])
