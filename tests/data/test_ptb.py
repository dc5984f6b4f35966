import numpy as np
import pytest

from zeronlp.data import load_ptb, load_ptb_sentences
from zeronlp.data.files import MD5, verify_dataset


def test_train_sizes_and_book_ids():
    ids, vocab = load_ptb("train")
    assert ids.dtype == np.int64
    assert ids.size == 929_589
    assert len(vocab) == 10_000
    # the book numbers words by first appearance: the file starts with 24 distinct words
    assert ids[:24].tolist() == list(range(24))
    assert vocab.decode(ids[:3]) == ["aer", "banknote", "berlitz"]
    n_lines = len(load_ptb_sentences("train"))
    assert int((ids == vocab["<eos>"]).sum()) == n_lines == 42_068
    assert load_ptb("train")[0] is ids  # cached


def test_valid_test_use_train_vocabulary():
    train_ids, vocab = load_ptb("train")
    for split, size in (("valid", 73_760), ("test", 82_430)):
        ids, same_vocab = load_ptb(split)
        assert same_vocab is vocab
        assert ids.size == size and ids.max() < len(vocab)
    with pytest.raises(ValueError, match="split"):
        load_ptb("dev")


@pytest.mark.parametrize("name", sorted(MD5))
def test_shipped_files_match_manifest(name):
    assert verify_dataset(name)
