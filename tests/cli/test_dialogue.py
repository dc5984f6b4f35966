"""``zeronlp dialogue``: train -> eval -> chat (stdin) end to end on a tiny dialogue file, the shipped
data sets, an exact resume after Ctrl-C (VHRED's KL annealing included), bad files and checkpoints."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest

import zeronlp as zn
from zeronlp.cli import main
from zeronlp.tasks import dialogue
from zeronlp.train import Trainer

TINY = ["--hidden", "16", "--embed", "8", "--batch-size", "16", "--lr", "0.01", "--threads", "1", "--quiet"]
GREETINGS = [("hello", "hi there"), ("how are you ?", "fine , thanks"), ("bye", "see you")]


def write_dialogues(path, count=40):
    """Dialogues of one or two fixed exchanges: a greeting and its answer."""
    blocks = []
    for i in range(count):
        a, b = GREETINGS[i % 3], GREETINGS[(i + 1) % 3]
        blocks.append("\n".join([a[0], a[1], *(b if i % 2 else ())]))
    path.write_text("\n\n".join(blocks) + "\n", encoding="utf-8")
    return path


def metrics(run):
    return json.loads((run / "metrics.json").read_text())


def chat(monkeypatch, capsys, run, text, *extra):
    capsys.readouterr()  # what came before
    monkeypatch.setattr("sys.stdin", io.StringIO(text))
    assert main(["dialogue", "chat", "--ckpt", str(run), "--threads", "1", *extra]) == 0
    return capsys.readouterr()


def test_train_eval_chat_on_the_users_file(tmp_path, capsys, monkeypatch):
    train, test = write_dialogues(tmp_path / "train.txt"), write_dialogues(tmp_path / "test.txt", 6)
    run = tmp_path / "r"
    # 32 units at lr 0.02: the replies below are learned with a margin (16 units at 0.01 sat on the edge,
    # where float rounding in the kernels decided between two replies)
    assert main(["dialogue", "train", "--train", str(train), "--test", str(test), "--epochs", "30", *TINY,
                 "--hidden", "32", "--lr", "0.02", "--out", str(run)]) == 0
    out = capsys.readouterr().out
    assert "test: NLL" in out and "distinct-1" in out
    assert {p.name for p in run.iterdir()} >= {"model.safetensors", "checkpoint.safetensors", "metrics.json",
                                               "loss.png"}
    result = metrics(run)
    assert result["config"]["context_turns"] == 3 and result["config"]["train_examples"] == 18 * 1 + 18 * 3
    assert result["final"]["test_nll"] < 1.0  # a memorised, fully determined toy task
    assert main(["dialogue", "eval", "--ckpt", str(run), "--test", str(test), "--samples", "1", "--threads", "1"]) == 0
    out = capsys.readouterr().out
    assert "test.txt (" in out and "reference: hi there" in out

    # one reply per non-empty line; an empty line starts a new dialogue; EOF ends
    captured = chat(monkeypatch, capsys, run, "hello\nhow are you ?\n\nhello\nWhat?\n")
    out = captured.out.splitlines()
    assert out[:3] == ["hi there", "fine , thanks", "hi there"] and len(out) == 4
    assert "'what'" in captured.err  # the note about unknown words goes to stderr

    # sampling is reproducible with a seed
    a = chat(monkeypatch, capsys, run, "hello\nbye\n", "--temperature", "2", "--seed", "3").out
    assert a == chat(monkeypatch, capsys, run, "hello\nbye\n", "--temperature", "2", "--seed", "3").out


def test_unknown_words_are_noted_on_stderr(tmp_path, capsys, monkeypatch):
    train, run = write_dialogues(tmp_path / "train.txt", 12), tmp_path / "r"
    assert main(["dialogue", "train", "--train", str(train), "--epochs", "1", *TINY, "--out", str(run)]) == 0
    captured = chat(monkeypatch, capsys, run, "hello zebra\n")
    assert len(captured.out.splitlines()) == 1 and "'zebra'" in captured.err
    model, codec, _ = dialogue.load_dialogue(run)  # respond(): sampled, reproducible with a seed
    replies = [dialogue.respond(model, codec, ["hello"], temperature=5.0, seed=s) for s in (1, 1, 2, 3, 4)]
    assert replies[0] == replies[1] and len(set(replies)) > 1


def test_context_turns_one_is_the_last_turn_baseline(tmp_path):
    train, run = write_dialogues(tmp_path / "train.txt", 12), tmp_path / "r"
    assert main(["dialogue", "train", "--train", str(train), "--context-turns", "1", "--epochs", "1", *TINY,
                 "--out", str(run)]) == 0
    model, codec, _ = dialogue.load_dialogue(run)
    assert codec.context_turns == 1 and model.kind == "hred"
    assert codec.encode_context(["a", "b", "hello"]).shape == (1, codec.max_tokens)


def _resume_args(data, run, epochs=3):
    return ["dialogue", "train", "--train", str(data), "--model", "vhred", "--latent", "4", "--epochs", str(epochs),
            *TINY, "--out", str(run)]


def test_ctrl_c_mid_epoch_then_resume_equals_an_uninterrupted_run(tmp_path, monkeypatch):
    data = write_dialogues(tmp_path / "train.txt", 40)  # 36 dialogues trained, 72 replies: 5 batches an epoch
    assert main(_resume_args(data, tmp_path / "straight")) == 0

    original, calls = Trainer.train_step, {"n": 0}

    def interrupted(self, batch):
        calls["n"] += 1
        if calls["n"] == 8:  # epoch 2, batch 3
            raise KeyboardInterrupt
        return original(self, batch)

    monkeypatch.setattr(Trainer, "train_step", interrupted)
    run = tmp_path / "interrupted"
    assert main(_resume_args(data, run)) == 130
    saved = zn.load(run / "checkpoint.safetensors")
    assert (saved["epoch"], saved["position"]) == (1, 2)
    assert saved["callbacks"][0] == {"steps": 7}  # the KL annealing's position
    monkeypatch.setattr(Trainer, "train_step", original)
    assert main(_resume_args(data, run) + ["--resume"]) == 0
    straight = zn.load(tmp_path / "straight" / "checkpoint.safetensors")
    resumed = zn.load(run / "checkpoint.safetensors")
    assert resumed["epoch"] == 3 and resumed["callbacks"][0] == straight["callbacks"][0] == {"steps": 15}
    for name, weights in straight["model"].items():
        np.testing.assert_array_equal(weights, resumed["model"][name], err_msg=name)
    for key in ("loss", "valid_loss", "valid_kl", "valid_distinct_1"):
        assert [row[key] for row in metrics(run)["history"]] == \
            [row[key] for row in metrics(tmp_path / "straight")["history"]], key


def test_resume_with_other_dialogues_is_refused(tmp_path, capsys):
    data, run = write_dialogues(tmp_path / "a.txt", 12), tmp_path / "r"
    assert main(_resume_args(data, run, epochs=1)) == 0
    other = tmp_path / "b.txt"
    other.write_text("new words here\nand a reply\n\nmore text\nmore replies\n", encoding="utf-8")
    assert main(_resume_args(other, run, epochs=2) + ["--resume"]) == 2
    assert "cannot resume" in capsys.readouterr().err


@pytest.mark.parametrize("content, message", [
    (b"", "is empty"),
    (b"hello\nhi\n\nlonely\n", "line 4: this dialogue has one turn only"),
    (b"hello\n\xff\n", "line 2: not valid UTF-8"),
])
def test_bad_training_file_exit_2_and_nothing_written(tmp_path, capsys, content, message):
    bad, run = tmp_path / "bad.txt", tmp_path / "r"
    bad.write_bytes(content)
    assert main(["dialogue", "train", "--train", str(bad), *TINY, "--out", str(run)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("zeronlp dialogue train: error: ") and str(bad) in err and message in err
    assert not run.exists()


def test_bad_options_and_checkpoints(tmp_path, capsys, monkeypatch):
    data = write_dialogues(tmp_path / "d.txt", 6)
    assert main(["dialogue", "train", "--data", "synthetic", "--train", str(data), "--out", str(tmp_path / "x")]) == 2
    assert "not both" in capsys.readouterr().err
    assert main(["dialogue", "train", "--valid", str(data), "--out", str(tmp_path / "x")]) == 2
    assert "need --train" in capsys.readouterr().err
    assert main(["dialogue", "eval", "--ckpt", str(tmp_path / "nothing")]) == 2
    assert "no such run directory" in capsys.readouterr().err
    monkeypatch.setattr("sys.stdin", io.StringIO("hello\n"))
    not_dialogue = tmp_path / "other.safetensors"
    zn.save({"model": {"w": np.zeros(2, np.float32)}, "config": {"model": "rnnlm"}, "vocab": ["a"]}, not_dialogue)
    assert main(["dialogue", "chat", "--ckpt", str(not_dialogue)]) == 2
    assert "field config/model" in capsys.readouterr().err


def test_a_tampered_checkpoint_is_refused_before_building(tmp_path, capsys):
    data, run = write_dialogues(tmp_path / "d.txt", 12), tmp_path / "r"
    assert main(["dialogue", "train", "--train", str(data), "--epochs", "1", *TINY, "--out", str(run)]) == 0
    record = zn.load(run / "model.safetensors")
    for field, value, message in (("vocab_size", 10 ** 9, "out of range"), ("decoder_size", 17, "does not match"),
                                  ("bos_id", 5, "bos_id"), ("model", "vhred", "latent_size: missing")):
        bad = dict(record, config=dict(record["config"], **{field: value}))
        zn.save(bad, tmp_path / "bad.safetensors")
        with pytest.raises(zn.errors.CheckpointError, match=message):
            dialogue.load_dialogue(tmp_path / "bad.safetensors")
    bad = dict(record, vocab=record["vocab"][:-1])
    zn.save(bad, tmp_path / "bad.safetensors")
    with pytest.raises(zn.errors.CheckpointError, match="vocab_size"):
        dialogue.load_dialogue(tmp_path / "bad.safetensors")


def test_synthetic_data_and_eval_of_a_shipped_run(tmp_path, capsys):
    run = tmp_path / "r"
    assert main(["dialogue", "train", "--data", "synthetic", "--max-train", "40", "--epochs", "1", *TINY,
                 "--out", str(run)]) == 0
    result = metrics(run)
    assert result["config"]["context_turns"] == 5 and result["config"]["test_examples"] == 1000
    assert "test_accuracy" in result["final"] and "valid_accuracy" in result["history"][0]
    assert result["config"]["valid_examples"] == 500  # the synthetic task is scored on its answers
    capsys.readouterr()
    assert main(["dialogue", "eval", "--ckpt", str(run), "--samples", "1", "--threads", "1"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("synthetic (1000 replies): accuracy ") and "reference: your " in out
