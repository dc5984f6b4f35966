import numpy as np
import pytest

from zeronlp.data import Vocabulary, preprocess, tokenize


def test_tokenize_like_book():
    assert tokenize("You say goodbye and I say hello.") == [
        "you",
        "say",
        "goodbye",
        "and",
        "i",
        "say",
        "hello",
        ".",
    ]
    assert tokenize("Don't stop, snack-food!") == ["don't", "stop", ",", "snack-food", "!"]


def test_preprocess_matches_book():
    corpus, word_to_id, id_to_word = preprocess("You say goodbye and I say hello.")
    assert corpus.tolist() == [0, 1, 2, 3, 4, 1, 5, 6]
    assert word_to_id == {"you": 0, "say": 1, "goodbye": 2, "and": 3, "i": 4, "hello": 5, ".": 6}
    assert id_to_word == {v: k for k, v in word_to_id.items()}


def test_build_orders_and_min_count():
    words = "b a b c a b d".split()
    first = Vocabulary.build(words)
    assert first.id_to_word == ["b", "a", "c", "d"]
    assert first.counts == [3, 2, 1, 1]
    freq = Vocabulary.build([["c", "a"], ["a", "b", "b", "b"]], order="frequency", min_count=2)
    assert freq.id_to_word == ["b", "a"]
    assert "c" not in freq and "a" in freq and len(freq) == 2


def test_encode_decode_and_unknown():
    vocab = Vocabulary.build("the cat sat".split())
    ids = vocab.encode(["cat", "the"])
    assert ids.dtype == np.int64 and ids.tolist() == [1, 0]
    assert vocab.decode(ids) == ["cat", "the"]
    with pytest.raises(KeyError, match=r"'dog'.*size 3"):
        vocab.encode(["cat", "dog"])
    with pytest.raises(KeyError, match="dog"):
        vocab["dog"]
    with pytest.raises(IndexError, match="7"):
        vocab.decode([7])
    with_unk = Vocabulary.build("the cat sat".split(), unk_token="<unk>")
    assert with_unk.encode(["dog", "cat"]).tolist() == [with_unk.unk_id, 1]


def test_save_load_roundtrip(tmp_path):
    vocab = Vocabulary.build("ünï cödé the the".split(), unk_token="<unk>")
    path = tmp_path / "vocab.json"
    vocab.save(path)
    back = Vocabulary.load(path)
    assert back.id_to_word == vocab.id_to_word and back.counts == vocab.counts
    assert back.unk_token == "<unk>"
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ValueError, match="bad.json"):
        Vocabulary.load(tmp_path / "bad.json")
