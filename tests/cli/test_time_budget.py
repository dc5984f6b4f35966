"""`--max-minutes` reaches the Trainer from every training command that offers it (the budget
itself is tested in tests/train/test_trainer.py and end to end in tests/cli/test_lm.py)."""

import pytest

from zeronlp.cli import build_parser, main
from zeronlp.train import Trainer

SENTENCES = ["you say goodbye and i say hello .", "the cat eats fish .", "the dog eats meat ."]


class Reached(Exception):
    pass


@pytest.fixture()
def captured(monkeypatch):
    seen = {}

    def fake_init(self, *args, **kwargs):
        seen["max_minutes"] = kwargs.get("max_minutes")
        raise Reached

    monkeypatch.setattr(Trainer, "__init__", fake_init)
    return seen


def _text(tmp_path):
    path = tmp_path / "train.txt"
    path.write_text("\n".join(SENTENCES * 20) + "\n")
    return path


def _pairs(tmp_path):
    path = tmp_path / "pairs.tsv"
    path.write_text("".join(f"{a}\t{a[::-1]}\n" for a in ["abc", "hello", "cat", "dog"] * 10))
    return path


def _labelled(tmp_path):
    path = tmp_path / "labels.tsv"
    path.write_text("".join(f"{label}\t{text}\n" for label, text in [("a", "good fine"), ("b", "bad poor")] * 20))
    return path


def _dialogues(tmp_path):
    path = tmp_path / "dialogues.txt"
    path.write_text("\n\n".join("hello\nhi there\nhow are you ?\nfine ." for _ in range(20)) + "\n")
    return path


COMMANDS = {
    "lm": lambda p: ["lm", "train", "--train", str(_text(p))],
    "seq2seq": lambda p: ["seq2seq", "train", "--train", str(_pairs(p))],
    "classify": lambda p: ["classify", "train", "--model", "bigru", "--train", str(_labelled(p))],
    "vae": lambda p: ["vae", "train", "--train", str(_text(p))],
    "dialogue": lambda p: ["dialogue", "train", "--train", str(_dialogues(p))],
}


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_max_minutes_is_passed_to_the_trainer(command, tmp_path, captured):
    argv = [*COMMANDS[command](tmp_path), "--out", str(tmp_path / "run"), "--quiet", "--max-minutes", "2.5"]
    with pytest.raises(Reached):
        main(argv)
    assert captured["max_minutes"] == 2.5


@pytest.mark.parametrize("value", ["0", "-1", "soon"])
def test_max_minutes_must_be_a_positive_number(value, capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["lm", "train", "--max-minutes", value])
    assert "max-minutes" in capsys.readouterr().err
