"""Runs survive interruption exactly and numbers never lie about themselves (issue 16, items 2-4).

* SIGINT at any moment of a step (before or after the optimizer update, with dropout drawing masks)
  and ``resume=True`` give the bit-identical weights of the uninterrupted run;
* an interrupted run without a run directory says that nothing was saved;
* a diverging run stops with ``TrainingDiverged`` and keeps no diverged weights; a perplexity too
  large for float64 is ``inf`` with a warning, never a clamped e^700;
* temporary files of killed writers are removed at the start of a run; a live writer's are kept;
* a resumed classifier run refuses word vectors other than those its run directory was made from.
"""

import os
import signal
import subprocess
import sys

import numpy as np
import pytest

from zeronlp import optim
from zeronlp.embeddings import KeyedVectors
from zeronlp.errors import CheckpointError, DataError, TrainingDiverged
from zeronlp.fileio import clean_stale_temp_files
from zeronlp.models.rnnlm import perplexity_of
from zeronlp.tasks import classify, lm
from zeronlp.train.divergence import DivergenceGuard

SENTENCES = ["you say goodbye and i say hello .", "the cat eats fish .", "the dog eats meat ."]


@pytest.fixture()
def corpus(tmp_path):
    train, valid = tmp_path / "train.txt", tmp_path / "valid.txt"
    train.write_text("\n".join(SENTENCES * 20) + "\n")
    valid.write_text("\n".join(SENTENCES * 2) + "\n")
    return lm.load_corpus(str(train), str(valid), str(valid))


def lm_options(corpus, **changes):
    return dict(epochs=2, batch_size=4, bptt=6, lr=5.0, clip=1.0, quiet=True, corpus=corpus,
                model_kwargs=dict(wordvec_size=8, hidden_size=8, num_layers=2, dropout=0.5, tie_weights=True)) | changes


def sigint_at_step(monkeypatch, optimizer_class, step, when):
    """Send a real SIGINT to this process at optimizer step ``step``, ``when`` = "before"/"after" the update."""
    original, calls = optimizer_class.step, {"n": 0}

    def step_with_signal(self, *args, **kwargs):
        calls["n"] += 1
        if when == "before" and calls["n"] == step:
            os.kill(os.getpid(), signal.SIGINT)
        result = original(self, *args, **kwargs)
        if when == "after" and calls["n"] == step:
            os.kill(os.getpid(), signal.SIGINT)
        return result

    monkeypatch.setattr(optimizer_class, "step", step_with_signal)


def assert_same_weights(a, b):
    a, b = a.state_dict(), b.state_dict()
    assert set(a) == set(b)
    for name in a:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)


@pytest.mark.parametrize("step, when", [(3, "before"), (3, "after"), (12, "before")])
def test_lm_with_dropout_resumes_bit_exact_after_sigint(corpus, tmp_path, monkeypatch, step, when):
    whole = lm.train("better", out_dir=tmp_path / "whole", **lm_options(corpus))
    with monkeypatch.context() as patch:
        sigint_at_step(patch, optim.SGD, step, when)
        with pytest.raises(KeyboardInterrupt):
            lm.train("better", out_dir=tmp_path / "split", **lm_options(corpus))
    resumed = lm.train("better", out_dir=tmp_path / "split", resume=True, **lm_options(corpus))
    assert_same_weights(whole["model"], resumed["model"])
    assert resumed["final"]["test_perplexity"] == whole["final"]["test_perplexity"]


def test_interrupt_without_a_run_directory_says_nothing_was_saved(corpus, monkeypatch, capsys):
    sigint_at_step(monkeypatch, optim.SGD, 2, "after")
    with pytest.raises(KeyboardInterrupt):
        lm.train("better", **lm_options(corpus))
    assert "interrupted: nothing was saved" in capsys.readouterr().err


def test_diverging_lm_stops_and_keeps_no_best_model(corpus, tmp_path):
    with pytest.raises(TrainingDiverged, match="no checkpoint was written") as err:
        lm.train("rnnlm", out_dir=tmp_path / "run", **lm_options(corpus, lr=1e6, clip=0.25, model_kwargs=dict(
            wordvec_size=8, hidden_size=8)))
    assert "3 x the best step" in str(err.value)
    assert not (tmp_path / "run" / "model.safetensors").exists()
    assert not (tmp_path / "run" / "checkpoint.safetensors").exists()


def test_perplexity_overflow_is_inf_with_a_warning(capsys):
    assert perplexity_of(1e5) == float("inf")
    assert np.isnan(perplexity_of(float("nan")))
    err = capsys.readouterr().err
    assert "reported as inf" in err and "NaN" in err
    assert perplexity_of(700.0) == pytest.approx(np.exp(700.0))  # large but finite: the real number


def test_divergence_rule_and_its_saved_state():
    guard = DivergenceGuard(window=4)
    for value in (5.0, 4.0, 3.5, 3.0, 3.2, 9.0):  # a spike well within 3 x 3.0 + 2 on average
        guard.observe(value)
    restored = DivergenceGuard(window=4)
    restored.load_state_dict(guard.state_dict())
    assert restored.state_dict() == guard.state_dict()
    with pytest.raises(TrainingDiverged, match="mean of the last 4 steps"):
        for value in (40.0, 40.0, 40.0):
            restored.observe(value)
    with pytest.raises(CheckpointError):
        DivergenceGuard().load_state_dict({"recent": ["x"], "best": None, "steps": 1})


def test_stale_temporary_files_are_removed_live_ones_kept(corpus, tmp_path):
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead = int(finished.stdout)
    stale = [run / f".checkpoint.safetensors.{dead}.0badc0de.tmp",
             run / "checkpoints" / f".epoch_001.safetensors.{dead}.12345678.tmp"]
    live = run / f".metrics.json.{os.getppid()}.abcdef01.tmp"
    other = run / "notes.tmp"
    for path in (*stale, live, other):
        path.write_bytes(b"partial")
    lm.train("rnnlm", out_dir=run, **lm_options(corpus, epochs=1, model_kwargs=dict(wordvec_size=4, hidden_size=4)))
    assert not any(path.exists() for path in stale)
    assert live.exists() and other.exists()
    assert clean_stale_temp_files(run) == []


# ------------------------------------------------------------------------------ classifier runs

WORDS = ["great", "awful", "film", "plot", "the", "was"]


@pytest.fixture()
def tsv(tmp_path):
    rng = np.random.default_rng(0)
    lines = [f"{'pos' if i % 2 == 0 else 'neg'}\t{'great' if i % 2 == 0 else 'awful'} "
             f"{' '.join(rng.choice(WORDS[2:], 3))}" for i in range(40)]
    (tmp_path / "train.tsv").write_text("\n".join(lines) + "\n")
    (tmp_path / "valid.tsv").write_text("\n".join(lines[:10]) + "\n")
    for name, seed in (("a.txt", 0), ("b.txt", 1)):
        matrix = np.random.default_rng(seed).standard_normal((len(WORDS), 8)).astype(np.float32)
        KeyedVectors(WORDS, matrix).save_word2vec_format(tmp_path / name)
    return tmp_path


def classify_options(tsv, **changes):
    return dict(train=tsv / "train.tsv", valid=tsv / "valid.tsv", vectors=tsv / "a.txt", epochs=3, batch_size=4,
                hidden_size=16, depth=2, dropout=0.5, quiet=True) | changes


@pytest.mark.parametrize("step, when", [(7, "before"), (13, "after")])
def test_mlp_classifier_with_dropout_resumes_bit_exact_after_sigint(tsv, monkeypatch, step, when):
    whole = classify.train("mlp", out_dir=tsv / "whole", **classify_options(tsv))
    with monkeypatch.context() as patch:
        sigint_at_step(patch, optim.Adam, step, when)
        with pytest.raises(KeyboardInterrupt):
            classify.train("mlp", out_dir=tsv / "split", **classify_options(tsv))
    resumed = classify.train("mlp", out_dir=tsv / "split", resume=True, **classify_options(tsv))
    assert_same_weights(whole["model"], resumed["model"])
    assert resumed["final"]["valid_accuracy"] == whole["final"]["valid_accuracy"]


def test_resume_refuses_other_vectors_and_uses_the_runs_own_without_any(tsv, monkeypatch):
    with monkeypatch.context() as patch:
        sigint_at_step(patch, optim.SGD, 5, "after")
        with pytest.raises(KeyboardInterrupt):
            classify.train("linear", out_dir=tsv / "run", **classify_options(tsv))
    with pytest.raises(CheckpointError, match="was made from a.txt .* this run passes b.txt"):
        classify.train("linear", out_dir=tsv / "run", resume=True, **classify_options(tsv, vectors=tsv / "b.txt"))
    result = classify.train("linear", out_dir=tsv / "run", resume=True, **classify_options(tsv, vectors=None))
    assert len(result["history"]) == 3


def test_nan_vectors_stop_before_training_naming_the_file(tsv):
    bad = tsv / "nan.txt"
    bad.write_text(f"{len(WORDS)} 2\n" + "".join(f"{w} {'nan' if w == 'film' else 1} 1\n" for w in WORDS))
    with pytest.raises(DataError, match=f"{bad}.*non-finite"):
        classify.train("linear", out_dir=tsv / "run", **classify_options(tsv, vectors=bad))
    assert not (tsv / "run" / "checkpoint.safetensors").exists()
