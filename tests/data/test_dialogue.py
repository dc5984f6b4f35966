"""Dialogue data: the synthetic memory task (deterministic; the answer needs a turn >= 2 back), the
user's file format and every way it can be wrong, the shipped chatterbot corpus, the id codec."""

from __future__ import annotations

import gzip
from collections import Counter, defaultdict
from fnmatch import fnmatch
from pathlib import Path

import numpy as np
import pytest
import tomllib

from zeronlp.data.dialogue import (
    CHATTERBOT_DIALOGUES,
    CHATTERBOT_TURNS,
    SLOTS,
    DialogueCodec,
    dialogue_examples,
    distinct_n,
    load_chatterbot,
    parse_dialogues,
    read_dialogues,
    split_dialogues,
    synthetic_dialogues,
    synthetic_splits,
)
from zeronlp.data.files import DATASETS_DIR
from zeronlp.errors import DataError

ROOT = Path(__file__).resolve().parents[2]


# ---------------------------------------------------------------------------------- synthetic


def test_synthetic_task_is_deterministic_and_seeded():
    assert synthetic_dialogues(50, seed=3) == synthetic_dialogues(50, seed=3)
    assert synthetic_dialogues(50, seed=3) != synthetic_dialogues(50, seed=4)
    splits = synthetic_splits(0, {"train": 30, "valid": 5, "test": 7})
    assert [len(splits[k]) for k in ("train", "valid", "test")] == [30, 5, 7]
    assert splits["train"] == synthetic_splits(0, {"train": 30})["train"]  # a split does not depend on the others
    assert splits["train"][:5] != splits["test"][:5]


def test_the_answer_is_the_fact_of_the_first_turn():
    for turns in synthetic_dialogues(300, seed=1):
        assert len(turns) in (4, 6)
        _, slot, _, value, _ = turns[0].split()
        assert value in SLOTS[slot]
        assert turns[-2] == f"what is my {slot} ?" and turns[-1] == f"your {slot} is {value} ."
        # the value is said nowhere else: the reply must reach back to turn 1, three or more turns before it
        assert not any(value in turn.split() for turn in turns[1:-1])
        assert len(turns) - 1 >= 3


def test_a_model_that_sees_fewer_turns_cannot_know_the_answer():
    """With the last two turns (the question and the turn before it) the same context is followed by
    many different answers: the best any such model can do is guess the most frequent one."""
    dialogues = synthetic_dialogues(4000, seed=2)
    contexts, replies = dialogue_examples(dialogues, max_context=2, last_only=True)
    by_context = defaultdict(Counter)
    for context, reply in zip(contexts, replies):
        assert not any(reply.split()[3] in turn.split() for turn in context)
        by_context[tuple(context)][reply] += 1
    best_guess = sum(max(c.values()) for c in by_context.values()) / len(replies)
    assert best_guess < 0.2  # 8 values a slot: about 1/8
    # with enough context (3 turns reach the fact when there is no small talk; 5 always do) the answer is determined
    contexts, replies = dialogue_examples(dialogues, max_context=5, last_only=True)
    assert all(reply.split()[3] == context[0].split()[3] for context, reply in zip(contexts, replies))


# ------------------------------------------------------------------------------- examples


def test_every_turn_from_the_second_on_is_a_reply_within_a_window():
    dialogues = [["a", "b", "c", "d"], ["x", "y"]]
    contexts, replies = dialogue_examples(dialogues, max_context=2)
    assert replies == ["b", "c", "d", "y"]
    assert contexts == [["a"], ["a", "b"], ["b", "c"], ["x"]]
    assert dialogue_examples(dialogues, max_context=1, last_only=True) == ([["c"], ["x"]], ["d", "y"])


def test_split_is_fixed_and_complete():
    dialogues = [[str(i), "r"] for i in range(50)]
    parts = split_dialogues(dialogues, (0.8, 0.1, 0.1), seed=0)
    assert [len(p) for p in parts] == [40, 5, 5]
    assert sorted(d[0] for p in parts for d in p) == sorted(d[0] for d in dialogues)
    assert parts == split_dialogues(dialogues, (0.8, 0.1, 0.1), seed=0)


# ------------------------------------------------------------------------------- the user's file


def test_reads_blocks_of_turns(tmp_path):
    path = tmp_path / "d.txt"
    path.write_bytes("\ufeffhi there\r\n  hello!  \r\n\r\n\r\n \t\nhow are you?\nfine.\nand you?\n".encode())
    assert read_dialogues(path) == [["hi there", "hello!"], ["how are you?", "fine.", "and you?"]]
    gz = tmp_path / "d.gz"
    gz.write_bytes(gzip.compress(b"a\nb\n\nc\nd"))
    assert read_dialogues(gz) == [["a", "b"], ["c", "d"]]


@pytest.mark.parametrize("content, message, line", [
    (b"", "empty", None),
    (b"\n \n\t\n", "empty", None),
    (b"hello\nworld\n\n\xff\xfe bad\nok\n", "not valid UTF-8", 4),
    (b"a\nb\n\nlonely turn\n\nc\nd\n", "one turn only", 4),
    (b"a\nb\n\nc\nd\n\nlast one\n", "one turn only", 7),
    (b"a\nb\x00c\n", "NUL byte", 2),
    (b"\x1f\x8b\x08garbage", "gzip", None),
])
def test_bad_files_name_the_file_and_line(tmp_path, content, message, line):
    path = tmp_path / "bad.txt"
    path.write_bytes(content)
    with pytest.raises(DataError, match=message) as info:
        read_dialogues(path)
    assert info.value.path == str(path) and info.value.line == line
    assert str(path) in str(info.value)


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        read_dialogues(tmp_path / "nope.txt")
    with pytest.raises(DataError, match="directory"):
        read_dialogues(tmp_path)
    with pytest.raises(DataError, match="no dialogue"):
        parse_dialogues([])


# ------------------------------------------------------------------------------- shipped corpus


def test_shipped_chatterbot_corpus_loads_with_its_counts():
    dialogues = load_chatterbot()
    assert len(dialogues) == CHATTERBOT_DIALOGUES == 2026
    assert sum(len(d) for d in dialogues) == CHATTERBOT_TURNS == 4403
    assert dialogues[0] == ["What is AI?", "Artificial Intelligence is the branch of engineering and science "
                            "devoted to constructing machines that think."]
    assert all(len(d) >= 2 and all(t and t == t.strip() and "\n" not in t for t in d) for d in dialogues)
    assert Counter(len(d) for d in dialogues)[2] == 1946


def test_shipped_corpus_has_its_licence_and_is_packaged():
    licence = (DATASETS_DIR / "LICENSE-chatterbot-corpus.txt").read_text(encoding="utf-8")
    assert "Copyright (c) 2016, Gunther Cox" in licence and "BSD 3-Clause" in licence
    assert "chatterbot-corpus 1.3.3" in licence and "PyPI" in licence
    globs = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["zeronlp"]
    for name in ("chatterbot-english.txt.gz", "LICENSE-chatterbot-corpus.txt"):
        assert any(fnmatch(f"datasets/{name}", pattern) for pattern in globs), name


# ------------------------------------------------------------------------------- codec


def test_codec_encodes_turns_and_contexts():
    codec = DialogueCodec.build(["Hello there !", "hello you"], "simple", context_turns=3, max_tokens=5)
    assert codec.symbols[:4] == ["<pad>", "<bos>", "<eos>", "<unk>"] and codec.symbols[4] == "hello"
    np.testing.assert_array_equal(codec.encode_turn("hello you"), [1, 4, codec.ids["you"], 2, 0])
    assert codec.encode_turn("hello hello hello hello").tolist() == [1, 4, 4, 4, 2]  # cut to max_tokens
    assert codec.encode_turn("goodbye")[1] == codec.unk_id and codec.unknown("Goodbye you") == ["goodbye"]
    context = codec.encode_context(["a", "hello", "there"][-2:])
    assert (context[0] == 0).all() and context[1, 1] == 4  # missing turns are all-pad, before the real ones
    assert codec.encode_context(["x", "hello", "there", "you"])[0, 1] == 4  # only the last 3 turns
    ctx, rep = codec.encode([["hello"]], ["there you"])
    assert ctx.shape == (1, 3, 5) and rep.shape == (1, 5)
    assert codec.decode(rep[0]) == "there you"
    assert DialogueCodec.from_config(codec.to_config(), codec.symbols).symbols == codec.symbols
    with pytest.raises(ValueError, match="start with"):
        DialogueCodec(["a", "b"])


def test_distinct_n():
    replies = [["i", "am", "fine"], ["i", "am", "here"], []]
    assert distinct_n(replies, 1) == pytest.approx(4 / 6)
    assert distinct_n(replies, 2) == pytest.approx(3 / 4)
    assert distinct_n([[]], 2) == 0.0
