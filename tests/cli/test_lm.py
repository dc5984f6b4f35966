"""`zeronlp lm` on the user's own text files: train, then generate / next / eval from the saved run;
bad files give one-line errors and leave no checkpoint; a mid-epoch interrupt resumes exactly."""

import json

import numpy as np
import pytest

from zeronlp.cli import main
from zeronlp.tasks import lm
from zeronlp.train import Trainer

SENTENCES = ["you say goodbye and i say hello .", "the cat eats fish .", "the dog eats meat ."]


@pytest.fixture()
def files(tmp_path):
    train = tmp_path / "train.txt"
    train.write_text("\n".join(SENTENCES * 40) + "\n")
    valid = tmp_path / "valid.txt"
    valid.write_text("\n".join(SENTENCES * 3) + "\n")
    test = tmp_path / "test.txt"
    test.write_text("the cat eats meat .\nyou say hello .\n")
    return train, valid, test


TINY = ["--epochs", "8", "--batch-size", "4", "--bptt", "6", "--lr", "5", "--clip", "1", "--quiet"]


def test_train_on_own_files_then_generate_next_eval(files, tmp_path, capsys):
    train, valid, test = files
    out = tmp_path / "run"
    assert main(["lm", "train", "--train", str(train), "--valid", str(valid), "--test", str(test),
                 "--out", str(out), *TINY]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["config"]["vocab_size"] == 15  # 13 words + <eos> + <unk>
    assert metrics["final"]["test_perplexity"] < 3.0  # the tiny language is learned (uniform would be 15)
    assert len(metrics["history"]) == 8
    capsys.readouterr()

    assert main(["lm", "next", "--ckpt", str(out), "you say goodbye and i say", "-k", "2"]) == 0
    assert "  1. hello" in capsys.readouterr().out
    assert main(["lm", "generate", "--ckpt", str(out), "--start", "the cat", "--length", "6"]) == 0
    assert capsys.readouterr().out.startswith("the cat")
    assert main(["lm", "eval", "--ckpt", str(out), "--file", str(test)]) == 0
    assert "perplexity" in capsys.readouterr().out


def test_without_valid_the_last_lines_validate(files, tmp_path, capsys):
    train, _, _ = files
    out = tmp_path / "run"
    assert main(["lm", "train", "--train", str(train), "--out", str(out), *TINY[:-1]]) == 0
    captured = capsys.readouterr()
    assert "the last 5% of the lines" in captured.out + captured.err
    assert "no --test file" in captured.out + captured.err
    assert "test_perplexity" not in json.loads((out / "metrics.json").read_text())["final"]


@pytest.mark.parametrize("content, message", [
    (b"", "is empty"),
    (b"\n  \n", "is empty"),
    (b"good line\nbad \xff byte\n", "line 2"),
])
def test_bad_training_file_is_one_line_error_and_leaves_no_checkpoint(tmp_path, capsys, content, message):
    bad = tmp_path / "bad.txt"
    bad.write_bytes(content)
    out = tmp_path / "run"
    assert main(["lm", "train", "--train", str(bad), "--out", str(out), *TINY]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(bad) in err and message in err
    assert not (out / "checkpoint.safetensors").exists() and not (out / "model.safetensors").exists()


def test_options_are_validated_before_any_work(files, tmp_path, capsys):
    train, _, _ = files
    for option in (["--epochs", "0"], ["--lr", "-1"], ["--batch-size", "0"]):
        with pytest.raises(SystemExit) as exit_info:
            main(["lm", "train", "--train", str(train), "--out", str(tmp_path / "o"), *option])
        assert exit_info.value.code == 2
    assert not (tmp_path / "o").exists()
    assert main(["lm", "train", "--valid", str(train), "--out", str(tmp_path / "o")]) == 2
    assert "--valid/--test need --train" in capsys.readouterr().err


def test_stateful_lm_resumes_mid_epoch_to_the_same_next_loss(files, tmp_path, monkeypatch):
    """Interrupt inside an epoch (the hidden state is carried across windows): the resumed run
    continues with exactly the losses and weights of the uninterrupted one."""
    train, valid, _ = files
    corpus = lm.load_corpus(str(train), str(valid))
    options = dict(epochs=2, batch_size=4, bptt=6, lr=5.0, clip=1.0, quiet=True, corpus=corpus,
                   model_kwargs=dict(wordvec_size=8, hidden_size=8))
    losses_straight = []
    original = Trainer.train_step

    def recording(self, batch):
        value = original(self, batch)
        losses_straight.append(value)
        return value

    monkeypatch.setattr(Trainer, "train_step", recording)
    straight = lm.train("rnnlm", out_dir=tmp_path / "a", **options)

    calls, losses_resumed = {"n": 0}, []

    def interrupted(self, batch):
        calls["n"] += 1
        if calls["n"] == 23:  # epoch 1 has 19 windows: this is inside epoch 2
            raise KeyboardInterrupt
        value = original(self, batch)
        losses_resumed.append(value)
        return value

    monkeypatch.setattr(Trainer, "train_step", interrupted)
    with pytest.raises(KeyboardInterrupt):
        lm.train("rnnlm", out_dir=tmp_path / "b", **options)
    assert len(losses_resumed) == 22
    resumed = lm.train("rnnlm", out_dir=tmp_path / "b", resume=True, **options)
    assert losses_resumed == losses_straight  # the next loss after the interrupt, and all after it
    for name, value in straight["model"].state_dict().items():
        np.testing.assert_array_equal(resumed["model"].state_dict()[name], value)
    assert resumed["history"][-1]["valid_perplexity"] == straight["history"][-1]["valid_perplexity"]


TINY_TRANSFORMER = ["--model", "transformer", "--epochs", "6", "--batch-size", "4", "--bptt", "12", "--lr", "3e-3",
                    "--d-model", "32", "--layers", "2", "--heads", "2", "--ff", "64", "--dropout", "0.0",
                    "--warmup", "30", "--quiet"]


def test_transformer_train_then_generate_next_eval(files, tmp_path, capsys):
    train, valid, test = files
    out = tmp_path / "run"
    assert main(["lm", "train", "--train", str(train), "--valid", str(valid), "--test", str(test),
                 "--out", str(out), *TINY_TRANSFORMER]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    config = metrics["config"]
    assert config["model"] == "transformer" and config["bptt"] == 12 and config["d_model"] == 32
    assert config["warmup_steps"] == 10  # capped at a tenth of the run's 6 x 18 steps
    assert metrics["final"]["test_perplexity"] < 3.0  # the tiny language is learned (uniform would be 15)
    lrs = [row["lr"] for row in metrics["history"]]
    assert lrs == sorted(lrs, reverse=True) and lrs[-1] < 1e-6  # the per-step cosine decays to 0
    capsys.readouterr()

    assert main(["lm", "next", "--ckpt", str(out), "you say goodbye and i say", "-k", "2"]) == 0
    assert "  1. hello" in capsys.readouterr().out
    assert main(["lm", "generate", "--ckpt", str(out), "--start", "the cat", "--length", "30", "--seed", "1"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("the cat") and len(text.split()) > 20  # longer than the window: it slides
    assert main(["lm", "eval", "--ckpt", str(out), "--file", str(test)]) == 0
    reported = float(capsys.readouterr().out.split("perplexity ")[1].split()[0])
    assert reported < 3.0  # the model's own window (12), not the LSTMs' default 35 (beyond its max_len)


def test_transformer_options_are_refused_for_the_lstms(files, tmp_path, capsys):
    train, _, _ = files
    assert main(["lm", "train", "--train", str(train), "--out", str(tmp_path / "r"), "--d-model", "32"]) == 2
    assert "only for --model transformer" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


def test_max_minutes_stops_the_run_inside_its_first_epoch(files, tmp_path, monkeypatch):
    from zeronlp.train import trainer as trainer_module

    train, valid, test = files
    steps = {"n": 0}
    original = Trainer.train_step

    def counted(self, batch):
        steps["n"] += 1
        return original(self, batch)

    monkeypatch.setattr(Trainer, "train_step", counted)
    ticks = iter(range(0, 10**6, 30))  # every reading of the clock is 30 s later: the 0.5-minute budget
    monkeypatch.setattr(trainer_module.time, "perf_counter", lambda: float(next(ticks)))  # ends epoch 1 early
    out = tmp_path / "run"
    assert main(["lm", "train", "--train", str(train), "--valid", str(valid), "--test", str(test),
                 "--out", str(out), "--max-minutes", "0.5", *TINY]) == 0
    monkeypatch.undo()
    metrics = json.loads((out / "metrics.json").read_text())
    assert len(metrics["history"]) == 1 and 0 < metrics["history"][0]["partial_epoch"] < 1
    assert steps["n"] < 10 and "test_perplexity" in metrics["final"]


def test_short_texts_bad_seed_and_resume_on_other_data_are_one_line_errors(files, tmp_path, capsys):
    train, valid, _ = files
    one = tmp_path / "one.txt"
    one.write_text("hello\n")
    out = tmp_path / "run"
    assert main(["lm", "train", "--train", str(train), "--valid", str(one), "--out", str(out), *TINY]) == 2
    assert "validation text has 2 tokens" in capsys.readouterr().err and not out.exists()  # before any epoch
    assert main(["lm", "train", "--train", str(one), "--valid", str(valid), "--out", str(out), *TINY]) == 2
    assert "too short for batch_size 4" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["lm", "train", "--train", str(train), "--seed", "-1", *TINY])
    assert "--seed: must be an integer >= 0" in capsys.readouterr().err

    short = ["--epochs", "1", *TINY[2:]]
    assert main(["lm", "train", "--train", str(train), "--valid", str(valid), "--out", str(out), *short]) == 0
    other = tmp_path / "other.txt"  # as many words, other words: the rows would mean other words
    other.write_text(train.read_text().replace("cat", "cow"))
    argv = ["lm", "train", "--train", str(other), "--valid", str(valid), "--out", str(out), "--resume"]
    assert main([*argv, "--epochs", "2", *TINY[2:]]) == 2
    assert "another vocab" in capsys.readouterr().err
    assert main(["lm", "train", "--train", str(train), "--valid", str(valid), "--out", str(out), "--resume",
                 "--epochs", "2", *TINY[2:6], "--lr", "1", *TINY[8:]]) == 2
    assert "lr 5" in capsys.readouterr().err
