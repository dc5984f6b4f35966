"""`zeronlp vae` on the user's own text files: train, then sample / interpolate / eval from the run directory
alone; bad files give one-line errors and leave nothing behind; an interrupted run (and its KL annealing)
resumes exactly; the saved model is checked before it is used."""

import json

import numpy as np
import pytest

from zeronlp.cli import main
from zeronlp.serialization import load, save
from zeronlp.tasks import vae
from zeronlp.train import Trainer

SENTENCES = ["you say goodbye and i say hello .", "the cat eats fish .", "the dog eats meat .", "a bird sings a song ."]
WORDS = {w for s in SENTENCES for w in s.split()}


@pytest.fixture()
def files(tmp_path):
    train = tmp_path / "train.txt"
    train.write_text("\n".join(SENTENCES * 30) + "\n")
    valid = tmp_path / "valid.txt"
    valid.write_text("\n".join(SENTENCES * 2) + "\n")
    test = tmp_path / "test.txt"
    test.write_text("the cat eats meat .\nyou say hello .\n")
    return train, valid, test


TINY = ["--epochs", "6", "--batch-size", "8", "--embed-size", "16", "--hidden-size", "32", "--latent-size", "4",
        "--lr", "0.01", "--anneal", "linear", "--anneal-steps", "40", "--threads", "1", "--quiet"]


def _lines(text):
    return [line for line in text.splitlines() if line.strip()]


def test_train_then_sample_interpolate_eval_from_the_run_directory(files, tmp_path, capsys):
    train, valid, test = files
    out = tmp_path / "run"
    assert main(["vae", "train", "--train", str(train), "--valid", str(valid), "--test", str(test),
                 "--out", str(out), *TINY]) == 0
    printed = capsys.readouterr().out
    metrics = json.loads((out / "metrics.json").read_text())
    config, history, final = metrics["config"], metrics["history"], metrics["final"]
    assert config["vocab_size"] == len(WORDS) + 4  # the words + <pad> <bos> <eos> <unk>
    assert config["anneal"] == "linear" and config["word_dropout"] == 0.3
    assert len(history) == 6
    for key in ("valid_nll", "valid_kl", "valid_elbo_nll", "valid_ppl_bound", "train_nll", "train_kl", "beta"):
        assert all(np.isfinite(row[key]) for row in history), key
    # linear annealing over 40 steps, 15 steps an epoch: beta after epochs 1, 2 and 3+
    assert [round(row["beta"], 3) for row in history[:4]] == [0.375, 0.75, 1.0, 1.0]
    for row in history:  # the bound is reconstruction + KL, and KL >= 0
        assert row["valid_elbo_nll"] == pytest.approx(row["valid_nll"] + row["valid_kl"])
        assert row["valid_kl"] >= 0
    assert history[-1]["valid_ppl_bound"] < 3.0 < history[0]["valid_ppl_bound"]  # learned (uniform: 18)
    assert final["test_sentences"] == 2 and final["test_tokens"] == 11  # 4 + 5 words, each sentence + <eos>
    assert f"{final['test_ppl_bound']:.2f}" in printed and "perplexity bound" in printed
    assert (out / "elbo.png").is_file() and (out / "kl.png").is_file()

    assert main(["vae", "sample", "--ckpt", str(out), "--n", "3", "--seed", "4", "--temperature", "1"]) == 0
    samples = _lines(capsys.readouterr().out)
    assert len(samples) == 3 and all(set(s.split()) <= WORDS | {"<unk>"} for s in samples)
    assert main(["vae", "sample", "--ckpt", str(out), "--n", "3", "--seed", "4", "--temperature", "1"]) == 0
    assert _lines(capsys.readouterr().out) == samples  # reproducible with a seed

    assert main(["vae", "interpolate", "the cat eats fish .", "a bird sings a song .", "--ckpt", str(out),
                 "--steps", "4"]) == 0
    path = _lines(capsys.readouterr().out)
    assert [line.split()[0] for line in path] == ["0.00", "0.33", "0.67", "1.00"]
    assert all(set(line.split()[1:]) <= WORDS | {"<unk>"} for line in path)

    assert main(["vae", "eval", "--ckpt", str(out), "--file", str(test), "--seed", "0"]) == 0
    line = capsys.readouterr().out
    assert str(test) in line and "over 2 sentences, 11 predicted tokens" in line


def test_interpolate_reads_unknown_words_as_unk_with_a_warning(files, tmp_path, capsys):
    train, valid, _ = files
    out = tmp_path / "run"
    assert main(["vae", "train", "--train", str(train), "--valid", str(valid), "--out", str(out),
                 *TINY[:1], "1", *TINY[2:]]) == 0
    capsys.readouterr()
    assert main(["vae", "interpolate", "the Cat eats zebras .", "the dog eats meat .", "--ckpt", str(out)]) == 0
    captured = capsys.readouterr()
    assert "'zebras'" in captured.err and "<unk>" in captured.err and "'Cat'" not in captured.err  # Cat -> cat
    assert len(_lines(captured.out)) == 5
    assert main(["vae", "interpolate", "   ", "the dog", "--ckpt", str(out)]) == 2
    assert "no words" in capsys.readouterr().err


@pytest.mark.parametrize("content, message", [
    (b"", "is empty"),
    (b"\n  \n", "is empty"),
    (b"good line\nbad \xff byte\n", "line 2"),
])
def test_bad_training_file_is_one_line_error_and_creates_no_run_directory(tmp_path, capsys, content, message):
    bad = tmp_path / "bad.txt"
    bad.write_bytes(content)
    out = tmp_path / "run"
    assert main(["vae", "train", "--train", str(bad), "--out", str(out), *TINY]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(bad) in err and message in err and err.startswith("zeronlp vae train: error")
    assert not out.exists()


def test_bad_valid_file_and_bad_options_fail_before_any_work(files, tmp_path, capsys):
    train, _, _ = files
    missing = tmp_path / "nope.txt"
    assert main(["vae", "train", "--train", str(train), "--valid", str(missing), "--out", str(tmp_path / "o")]) == 2
    assert str(missing) in capsys.readouterr().err
    for option in (["--word-dropout", "1.5"], ["--anneal", "cyclic"], ["--epochs", "0"], ["--max-length", "0"]):
        with pytest.raises(SystemExit) as exit_info:
            main(["vae", "train", "--train", str(train), "--out", str(tmp_path / "o"), *option])
        assert exit_info.value.code == 2
    assert main(["vae", "train", "--test", str(train), "--out", str(tmp_path / "o")]) == 2
    assert "--valid/--test need --train" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_interrupted_run_resumes_exactly_with_its_annealing(files, tmp_path, monkeypatch):
    """Interrupt inside epoch 2: the checkpoint holds the annealing's step; the resumed run continues with
    exactly the losses, KL weights, epoch sums and weights of the uninterrupted one."""
    train, valid, _ = files
    data = vae.load_sentences(train, valid)
    options = dict(epochs=2, batch_size=8, embed_size=8, hidden_size=8, latent_size=2, lr=0.01, anneal="linear",
                   anneal_steps=25, quiet=True, data=data)
    original = Trainer.train_step
    losses_straight = []

    def recording(self, batch):
        losses_straight.append(original(self, batch))
        return losses_straight[-1]

    monkeypatch.setattr(Trainer, "train_step", recording)
    straight = vae.train(out_dir=tmp_path / "a", **options)
    assert straight["model"].annealing.steps == 30  # 2 epochs of 15 batches

    calls, losses_resumed = {"n": 0}, []

    def interrupted(self, batch):
        calls["n"] += 1
        if calls["n"] == 20:  # epoch 1 has 15 batches: this is inside epoch 2
            raise KeyboardInterrupt
        losses_resumed.append(original(self, batch))
        return losses_resumed[-1]

    monkeypatch.setattr(Trainer, "train_step", interrupted)
    with pytest.raises(KeyboardInterrupt):
        vae.train(out_dir=tmp_path / "b", **options)
    record = load(tmp_path / "b" / "checkpoint.safetensors")
    assert record["position"] == 4 and record["callbacks"][0] == {"steps": 19}  # the annealing's position
    resumed = vae.train(out_dir=tmp_path / "b", resume=True, **options)
    assert losses_resumed == losses_straight  # every loss after the interrupt too (beta and word dropout)
    assert resumed["model"].annealing.steps == 30
    assert resumed["history"] == [{**row, "seconds": r["seconds"], "sentences_per_s": r["sentences_per_s"]}
                                  for row, r in zip(straight["history"], resumed["history"])]
    for name, value in straight["model"].state_dict().items():
        np.testing.assert_array_equal(resumed["model"].state_dict()[name], value)


def test_resume_with_another_annealing_is_refused(files, tmp_path, capsys):
    train, valid, _ = files
    out = tmp_path / "run"
    base = ["vae", "train", "--train", str(train), "--valid", str(valid), "--out", str(out), *TINY[2:]]
    assert main([*base, "--epochs", "1"]) == 0
    capsys.readouterr()
    assert main([*base, "--epochs", "2", "--resume", "--anneal", "logistic"]) == 2
    assert "cannot resume" in capsys.readouterr().err
    assert main([*base, "--epochs", "2", "--resume"]) == 0  # the same settings continue
    assert len(json.loads((out / "metrics.json").read_text())["history"]) == 2


def test_length_buckets_cover_every_sentence_once_in_batches_of_similar_length():
    rng = np.random.default_rng(0)
    sentences = [np.arange(int(n)) + 1 for n in rng.integers(3, 40, size=103)]
    tokens, lengths = vae.pad_sentences(sentences)
    batches = vae.LengthBuckets(tokens, lengths, batch_size=10, bucket=3)
    batches.start_epoch(np.random.default_rng(1))
    seen, spreads = [], []
    for i in range(len(batches)):
        x, n = batches.batch(i)
        assert x.shape[1] == n.max() and len(x) == (10 if i < 10 else 3)  # cut to its longest row
        spreads.append(n.max() - n.min())
        seen.extend(int(row) for row in batches.order[i * 10:(i + 1) * 10])
    assert sorted(seen) == list(range(103))
    shuffled = [np.ptp(lengths[rng.permutation(103)[:10]]) for _ in range(50)]
    assert np.mean(spreads) < 0.5 * np.mean(shuffled)  # sorted inside chunks of 30 rows: similar lengths
    state = batches.state_dict()
    again = vae.LengthBuckets(tokens, lengths, batch_size=10, bucket=3)
    again.load_state_dict(state)
    np.testing.assert_array_equal(again.batch(4)[0], batches.batch(4)[0])


def test_a_tampered_model_file_is_refused_before_building(files, tmp_path, capsys):
    train, valid, _ = files
    out = tmp_path / "run"
    assert main(["vae", "train", "--train", str(train), "--valid", str(valid), "--out", str(out),
                 *TINY[:1], "1", *TINY[2:]]) == 0
    record = load(out / "model.safetensors")
    record["config"]["vocab_size"] = 10 ** 6
    save(record, tmp_path / "bad.safetensors")
    capsys.readouterr()
    assert main(["vae", "sample", "--ckpt", str(tmp_path / "bad.safetensors")]) == 2
    err = capsys.readouterr().err
    assert "bad.safetensors" in err and "embed.weight" in err and err.count("\n") == 1
    assert main(["vae", "sample", "--ckpt", str(tmp_path / "nothing")]) == 2
    assert "no such run directory" in capsys.readouterr().err
