"""``zeronlp seq2seq``: end to end on small TSV files the tests write (char and word level), the
shipped tasks, bad files (exit code 2, nothing written), and an exact resume after Ctrl-C."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest

import zeronlp as zn
from zeronlp.cli import main
from zeronlp.train import Trainer

ENGLISH = "one two three four five six".split()
SPANISH = "uno dos tres cuatro cinco seis".split()
FAST = ["--model", "attention", "--hidden", "32", "--wordvec", "8", "--batch-size", "32", "--lr", "0.01"]


def write_reverse_task(path, lines=500, seed=0):
    """Strings of 3-5 letters over 'abcd' and their reversals."""
    rng = random.Random(seed)
    with open(path, "w", encoding="utf-8") as handle:
        for _ in range(lines):
            text = "".join(rng.choice("abcd") for _ in range(rng.randint(3, 5)))
            handle.write(f"{text}\t{text[::-1]}\n")
    return path


def write_number_words(path, lines=500, seed=0):
    """1-4 English number words and their Spanish translation, word by word."""
    rng = random.Random(seed)
    with open(path, "w", encoding="utf-8") as handle:
        for _ in range(lines):
            idx = [rng.randrange(6) for _ in range(rng.randint(1, 4))]
            handle.write(" ".join(ENGLISH[i] for i in idx) + "\t" + " ".join(SPANISH[i] for i in idx) + "\n")
    return path


def metrics(run):
    return json.loads((run / "metrics.json").read_text())


def test_char_level_train_then_translate(tmp_path, capsys):
    data, run = write_reverse_task(tmp_path / "reverse.tsv"), tmp_path / "run"
    assert main(["seq2seq", "train", "--train", str(data), *FAST, "--epochs", "8", "--out", str(run)]) == 0
    captured = capsys.readouterr()
    out = captured.out + captured.err  # results on stdout, progress (the zeronlp logger) on stderr
    assert "the last 50 of the 500 lines" in out and "valid accuracy" in out
    result = metrics(run)
    assert result["final"]["valid_accuracy"] >= 0.95
    assert result["config"]["per_epoch_eval"] == "valid" and "valid_accuracy" in result["history"][-1]
    assert {p.name for p in run.iterdir()} >= {"model.safetensors", "checkpoint.safetensors", "metrics.json",
                                               "accuracy.png", "attention.png"}
    for beam in ("1", "3"):
        assert main(["seq2seq", "translate", "--ckpt", str(run), "--beam", beam, "--quiet", "abcdd"]) == 0
        assert capsys.readouterr().out == "ddcba\n"
    assert main(["seq2seq", "translate", "--ckpt", str(run), "abxd"]) == 2
    assert "'x'" in capsys.readouterr().err


def test_word_level_with_valid_and_test_files(tmp_path, capsys):
    train, valid, test = (write_number_words(tmp_path / f"{name}.tsv", lines, seed)
                          for name, lines, seed in (("train", 500, 0), ("valid", 60, 1), ("test", 60, 2)))
    run = tmp_path / "run"
    assert main(["seq2seq", "train", "--train", str(train), "--valid", str(valid), "--test", str(test),
                 "--level", "word", *FAST, "--reverse", "--epochs", "8", "--quiet", "--out", str(run)]) == 0
    final = metrics(run)["final"]
    assert final["valid_accuracy"] >= 0.95 and final["test_accuracy"] >= 0.95
    capsys.readouterr()
    heatmap = tmp_path / "heat.png"
    assert main(["seq2seq", "translate", "--ckpt", str(run), "--heatmap", str(heatmap), "six one two"]) == 0
    assert capsys.readouterr().out.splitlines()[0] == "seis uno dos" and heatmap.is_file()
    assert main(["seq2seq", "translate", "--ckpt", str(run / "model.safetensors"), "--beam", "4", "--no-heatmap",
                 "four seven"]) == 0
    captured = capsys.readouterr()
    assert captured.out.split()[0] == "cuatro" and "'seven'" in captured.err


GOOD = "abc\tcba\nba\tab\n"
BAD_FILES = {  # content, what the message says, the line it names (None: the whole file)
    "empty": (b"", "is empty", None),
    "no tab": (b"abc\tcba\nabc cba\n", "found no tab", 2),
    "blank line": (b"abc\tcba\n\nba\tab\n", "blank line", 2),
    "invalid utf-8": (b"abc\tcba\nab\xff\tba\n", "not valid UTF-8", 2),
    "empty target": (b"abc\tcba\nab\t \n", "empty target", 2),
}


@pytest.mark.parametrize("role", ["--train", "--valid", "--test"])
@pytest.mark.parametrize("case", list(BAD_FILES))
def test_a_bad_file_is_one_error_line_and_leaves_no_run(tmp_path, capsys, case, role):
    content, message, line = BAD_FILES[case]
    bad = tmp_path / "bad.tsv"
    bad.write_bytes(content)
    good = tmp_path / "good.tsv"
    good.write_text(GOOD * 5, encoding="utf-8")
    files = {"--train": good, "--valid": good, "--test": good, role: bad}
    run = tmp_path / "run"
    argv = ["seq2seq", "train", "--epochs", "1", "--out", str(run)]
    for flag, path in files.items():
        argv += [flag, str(path)]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("zeronlp seq2seq train: error: ")
    where = f"{bad}, line {line}: " if line is not None else f"{bad}: "
    assert where in err and message in err
    assert not run.exists()


@pytest.mark.parametrize("valid, message", [
    ("abc\tcba\nabcdef\tfedcba\n", "line 2: the source 'abcdef' has 6 characters; the model takes at most 3"),
    ("abc\tcba\nab\txyz\n", "line 2: the target 'xyz' has characters not in the vocabulary: 'x', 'y', 'z'"),
])
def test_valid_lines_the_model_cannot_take_are_errors(tmp_path, capsys, valid, message):
    train, bad = tmp_path / "train.tsv", tmp_path / "valid.tsv"
    train.write_text(GOOD * 5, encoding="utf-8")
    bad.write_text(valid, encoding="utf-8")
    run = tmp_path / "run"
    assert main(["seq2seq", "train", "--train", str(train), "--valid", str(bad), "--out", str(run)]) == 2
    assert f"{bad}, {message}" in capsys.readouterr().err
    assert not run.exists()


@pytest.mark.parametrize("argv, message", [
    (["--data", "addition", "--train", "t.tsv"], "either a shipped task"),
    (["--level", "word"], "--level word needs --train"),
    (["--valid", "v.tsv"], "--valid/--test need --train"),
    (["--train", "missing.tsv"], "missing.tsv: no such file"),
    (["--data", "date", "--bidirectional", "--hidden", "15"], "even hidden size"),
])
def test_usage_errors(tmp_path, capsys, argv, message):
    run = tmp_path / "run"
    assert main(["seq2seq", "train", *argv, "--out", str(run)]) == 2
    assert message in capsys.readouterr().err
    assert not run.exists()


def _train_args(data, run, epochs=3):
    return ["seq2seq", "train", "--train", str(data), *FAST, "--epochs", str(epochs), "--quiet", "--out", str(run)]


def test_ctrl_c_mid_epoch_then_resume_equals_an_uninterrupted_run(tmp_path, monkeypatch):
    data = write_reverse_task(tmp_path / "reverse.tsv", lines=200)  # 180 trained: 6 batches an epoch
    assert main(_train_args(data, tmp_path / "straight")) == 0

    original, calls = Trainer.train_step, {"n": 0}

    def interrupted(self, batch):
        calls["n"] += 1
        if calls["n"] == 9:  # epoch 2, batch 3
            raise KeyboardInterrupt
        return original(self, batch)

    monkeypatch.setattr(Trainer, "train_step", interrupted)
    run = tmp_path / "interrupted"
    assert main(_train_args(data, run)) == 130
    saved = zn.load(run / "checkpoint.safetensors")
    assert (saved["epoch"], saved["position"]) == (1, 2)
    monkeypatch.setattr(Trainer, "train_step", original)
    assert main(_train_args(data, run) + ["--resume"]) == 0
    straight = zn.load(tmp_path / "straight" / "checkpoint.safetensors")
    resumed = zn.load(run / "checkpoint.safetensors")
    assert resumed["epoch"] == 3 and set(straight["model"]) == set(resumed["model"])
    for name, weights in straight["model"].items():
        np.testing.assert_array_equal(weights, resumed["model"][name], err_msg=name)
    assert [row["valid_accuracy"] for row in metrics(run)["history"]] == \
        [row["valid_accuracy"] for row in metrics(tmp_path / "straight")["history"]]


def test_resume_with_another_training_file_is_refused(tmp_path, capsys):
    first, run = write_reverse_task(tmp_path / "a.tsv", lines=60), tmp_path / "run"
    assert main(_train_args(first, run, epochs=1)) == 0
    other = tmp_path / "b.tsv"
    other.write_text("xyz\tzyx\nzy\tyz\n" * 30, encoding="utf-8")
    assert main(_train_args(other, run, epochs=2) + ["--resume"]) == 2
    assert "cannot resume" in capsys.readouterr().err


def test_shipped_task_train_resume_translate(tmp_path, capsys):
    run = tmp_path / "run"
    common = ["seq2seq", "train", "--data", "addition", "--model", "attention", "--hidden", "16", "--reverse",
              "--max-train", "256", "--max-test", "64", "--quiet", "--out", str(run)]
    assert main(common + ["--epochs", "1"]) == 0
    assert main(common + ["--epochs", "2", "--resume"]) == 0
    result = metrics(run)
    assert [row["epoch"] for row in result["history"]] == [1, 2]
    assert all("test_accuracy" in row and "test_loss" in row and "valid_accuracy" not in row
               for row in result["history"])  # the book evaluates on its test split: named so
    assert result["final"]["test_accuracy"] == result["history"][-1]["test_accuracy"]
    assert result["config"]["per_epoch_eval"] == "test"
    assert zn.load(run / "model.safetensors")["epoch"] == 2  # no selection on the test split: the last epoch
    capsys.readouterr()
    heatmap = tmp_path / "attention.png"
    assert main(["seq2seq", "translate", "--ckpt", str(run), "--heatmap", str(heatmap), "16+75"]) == 0
    answer = capsys.readouterr().out.splitlines()[0]
    assert heatmap.is_file() and len(answer) <= 4
    assert main(["seq2seq", "translate", "--ckpt", str(run), "1a+7b"]) == 2
    assert "'a', 'b'" in capsys.readouterr().err


def test_compare_small(tmp_path, capsys):
    out = tmp_path / "cmp"
    assert main(["seq2seq", "compare", "--data", "addition", "--epochs", "1", "--hidden", "8", "--max-train", "128",
                 "--max-test", "32", "--quiet", "--out", str(out)]) == 0
    final = metrics(out)["final"]
    assert set(final) == {"test_accuracy_baseline", "test_accuracy_reversed", "test_accuracy_reversed_peeky"}
    assert (out / "compare.png").is_file() and (out / "reversed_peeky" / "model.safetensors").is_file()
    assert "reversed + peeky" in capsys.readouterr().out
    assert main(["seq2seq", "translate", "--ckpt", str(out / "reversed_peeky"), "--quiet", "1+2"]) == 0


def test_transformer_char_level_train_then_translate(tmp_path, capsys):
    data, run = write_reverse_task(tmp_path / "reverse.tsv"), tmp_path / "run"
    assert main(["seq2seq", "train", "--train", str(data), "--model", "transformer", "--hidden", "32",
                 "--batch-size", "32", "--lr", "0.003", "--epochs", "25", "--quiet", "--out", str(run)]) == 0
    result = metrics(run)
    assert result["final"]["valid_accuracy"] >= 0.95
    assert result["config"]["model"] == "transformer" and result["config"]["warmup_steps"] == 37  # 25 x 15 / 10
    assert {p.name for p in run.iterdir()} >= {"model.safetensors", "accuracy.png", "attention.png"}
    capsys.readouterr()
    for beam in ("1", "3"):
        assert main(["seq2seq", "translate", "--ckpt", str(run), "--beam", beam, "--quiet", "abcdd"]) == 0
        assert capsys.readouterr().out == "ddcba\n"
    assert main(["seq2seq", "translate", "--ckpt", str(run), "bcaa"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("aacb\n") and "attention_heads.png" in out
    assert (run / "attention_heads.png").stat().st_size > 0
    assert main(["seq2seq", "train", "--train", str(data), "--model", "transformer", "--bidirectional",
                 "--out", str(tmp_path / "bad")]) == 2
    assert "not the transformer" in capsys.readouterr().err
