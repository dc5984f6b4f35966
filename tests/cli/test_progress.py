"""A run whose output is not a terminal is never silent: periodic progress lines through the
``zeronlp`` logger; ``--quiet`` silences them, the logger's level too."""

import re

import pytest

import zeronlp as zn
from zeronlp import progress
from zeronlp.cli import main


@pytest.fixture()
def corpus(tmp_path):
    path = tmp_path / "train.txt"
    path.write_text("\n".join(["you say goodbye and i say hello ."] * 60) + "\n")
    return path


def test_non_tty_run_writes_periodic_progress_lines(corpus, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(progress, "PROGRESS_INTERVAL", 0.0)  # a line after every step
    assert main(["lm", "train", "--train", str(corpus), "--epochs", "2", "--batch-size", "4", "--bptt", "5",
                 "--out", str(tmp_path / "run")]) == 0
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("epoch 2/2: step")]
    assert len(lines) >= 5
    assert re.fullmatch(r"epoch 2/2: step \d+/\d+ \(\d+%\)  loss \d+\.\d{4}  [\d,]+ tokens/s  "
                        r"[\d.]+ steps/s  ETA \d+:\d\d", lines[-1]), lines[-1]
    assert re.search(r"^epoch 1/2  loss .* valid_perplexity", err, re.M)  # the per-epoch line


def test_quiet_and_logger_level_silence_progress(corpus, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(progress, "PROGRESS_INTERVAL", 0.0)
    assert main(["lm", "train", "--train", str(corpus), "--epochs", "1", "--batch-size", "4", "--bptt", "5",
                 "--out", str(tmp_path / "q"), "--quiet"]) == 0
    assert capsys.readouterr().err == ""

    from zeronlp.tasks import binary_add

    try:
        zn.set_verbosity("warning")
        binary_add.train_variant("base", iterations=100, quiet=False)
        assert capsys.readouterr().err == ""
    finally:
        zn.set_verbosity("info")
    binary_add.train_variant("base", iterations=100, quiet=False)
    assert "base     final loss" in capsys.readouterr().err


def test_log_progress_line_format():
    bar = progress._LogProgress(range(3), total=10, desc="epoch 1/1", initial=4, interval=1e9)
    bar.set_postfix_str("loss 1.2345")
    assert list(bar) == [0, 1, 2] and bar.step == 7
    assert bar._line(2.0) == "epoch 1/1: step 7/10 (70%)  loss 1.2345  2.00 steps/s  ETA 0:01"
    assert progress.format_duration(3725) == "1:02:05"
