"""`zeronlp word2vec | similar | analogy` end to end on a tiny corpus file."""

import json

import pytest

from zeronlp.cli import main as run
from zeronlp.embeddings.keyedvectors import KeyedVectors


@pytest.fixture()
def corpus(tmp_path):
    lines = ["You say goodbye and I say hello."] * 30 + ["The cat eats fish. The dog eats meat."] * 30
    path = tmp_path / "corpus.txt"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize("model", ["cbow", "skipgram", "ppmi", "book-cbow", "book-skipgram"])
def test_word2vec_command_writes_outputs(tmp_path, corpus, model, capsys):
    out = tmp_path / model
    rc = run(
        [
            "word2vec",
            "--corpus",
            str(corpus),
            "--model",
            model,
            "--dim",
            "4",
            "--epochs",
            "1",
            "--min-count",
            "1",
            "--window",
            "2",
            "--out",
            str(out),
            "--plot-words",
            "you,i,cat,dog,say",
            "--quiet",
        ]
    )
    assert rc == 0
    wv = KeyedVectors.load(out / "vectors.safetensors")
    assert "goodbye" in wv and wv.vector_size == 4
    assert KeyedVectors.load_word2vec_format(out / "vectors.txt").index_to_key == wv.index_to_key
    metrics = json.loads((out / "metrics.json").read_text())
    assert {"test_analogy_accuracy", "test_wordsim353_spearman", "test_simlex999_spearman"} <= set(metrics["final"])
    report = json.loads((out / "report.json").read_text())
    assert report["config"]["model"] == model
    assert (out / "pca.png").read_bytes()[:4] == b"\x89PNG"
    assert "analogy accuracy" in capsys.readouterr().out

    run(["similar", "cat", "--vectors", str(out / "vectors.safetensors"), "--topn", "3"])
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3 and "cat" not in [line.split("\t")[0] for line in lines]
    run(["analogy", "you", "say", "i", "--vectors", str(out / "vectors.txt")])
    assert len(capsys.readouterr().out.splitlines()) == 5
    assert run(["similar", "unicorn", "--vectors", str(out / "vectors.safetensors")]) == 2
    assert "'unicorn' not in vocabulary" in capsys.readouterr().err


def test_missing_inputs(tmp_path, capsys):
    assert run(["similar", "cat", "--vectors", str(tmp_path / "none.safetensors")]) == 2
    assert "none.safetensors: no such vectors file" in capsys.readouterr().err
    assert run(["word2vec", "--corpus", str(tmp_path / "none.txt"), "--out", str(tmp_path / "o")]) == 2
    assert "none.txt: no such file" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_word2vec_resume_reuses_saved_vectors(tmp_path, corpus):
    out = tmp_path / "run"
    base = ["word2vec", "--corpus", str(corpus), "--dim", "4", "--min-count", "1", "--out", str(out), "--quiet"]
    assert run(base + ["--resume"]) == 2
    assert run(base) == 0
    before = KeyedVectors.load(out / "vectors.safetensors")
    corpus.write_text("")  # resuming must not read (or retrain on) the corpus again
    assert run(base + ["--resume"]) == 0
    after = KeyedVectors.load(out / "vectors.safetensors")
    assert (before.vectors == after.vectors).all()
    assert "test_analogy_accuracy" in json.loads((out / "metrics.json").read_text())["final"]


def test_book_cbow_learns_and_resumes_exactly(tmp_path, corpus, monkeypatch):
    """The book's CBOW trains through the Trainer: its loss falls, and a mid-epoch Ctrl-C resumes exactly."""
    from zeronlp.tasks import word2vec
    from zeronlp.train import Trainer

    sentences = word2vec.load_sentences(corpus)
    options = dict(dim=8, window=1, min_count=1, negative=2, epochs=3, batch_size=16, lr=0.05)
    straight, history = word2vec.train_book_model(sentences, out_dir=tmp_path / "a", **options)
    assert history[-1]["loss"] < 0.6 * history[0]["loss"]

    original, calls = Trainer.train_step, {"n": 0}

    def interrupted(self, batch):
        calls["n"] += 1
        if calls["n"] == 30:  # inside the second epoch
            raise KeyboardInterrupt
        return original(self, batch)

    monkeypatch.setattr(Trainer, "train_step", interrupted)
    with pytest.raises(KeyboardInterrupt):
        word2vec.train_book_model(sentences, out_dir=tmp_path / "b", **options)
    monkeypatch.setattr(Trainer, "train_step", original)
    resumed, history_b = word2vec.train_book_model(sentences, out_dir=tmp_path / "b", resume=True, **options)
    assert [row["loss"] for row in history_b] == [row["loss"] for row in history]
    assert (resumed.vectors == straight.vectors).all()


def test_reports_are_valid_json_with_coverage_and_no_made_up_scores(tmp_path, corpus, capsys):
    out = tmp_path / "run"
    assert run(["word2vec", "--corpus", str(corpus), "--dim", "4", "--min-count", "1", "--out", str(out),
                "--plot-words", "zebra,unicorn", "--quiet"]) == 0
    stdout = capsys.readouterr().out
    assert "WordSim-353 Spearman: not enough pairs in the vocabulary (" in stdout
    assert "pca.png" not in stdout

    def refuse(constant):  # json accepts NaN/Infinity unless told not to
        raise AssertionError(f"invalid JSON constant {constant}")

    for name in ("report.json", "metrics.json"):
        data = json.loads((out / name).read_text(), parse_constant=refuse)
        metrics = data["metrics"] if name == "report.json" else data["final"]
        prefix = "" if name == "report.json" else "test_"
        assert metrics[f"{prefix}simlex999_spearman"] is None
        assert metrics[f"{prefix}simlex999_pairs_total"] == 999
        assert 0 <= metrics[f"{prefix}simlex999_coverage"] < 0.1
        assert "not enough pairs" in metrics[f"{prefix}simlex999_note"]
    assert not (out / "pca.png").exists()


def test_similar_matches_case_by_the_one_rule(tmp_path, corpus, capsys):
    out = tmp_path / "run"
    assert run(["word2vec", "--corpus", str(corpus), "--dim", "4", "--min-count", "1", "--out", str(out),
                "--quiet"]) == 0
    capsys.readouterr()
    assert run(["similar", "Cat", "--vectors", str(out), "--topn", "2"]) == 0  # only "cat" is known
    assert len(capsys.readouterr().out.splitlines()) == 2


@pytest.mark.parametrize("model", ["cbow", "skipgram"])
def test_word2vec_workers_on_the_command_line(tmp_path, corpus, model):
    """`--workers 2` trains with two kernel threads and records the setting."""
    out = tmp_path / model
    assert run(["word2vec", "--corpus", str(corpus), "--model", model, "--dim", "8", "--epochs", "2",
                "--min-count", "1", "--window", "2", "--workers", "2", "--out", str(out), "--quiet"]) == 0
    wv = KeyedVectors.load(out / "vectors.safetensors")
    assert wv.vector_size == 8 and "cat" in wv
    assert json.loads((out / "report.json").read_text())["config"]["workers"] == 2
    with pytest.raises(SystemExit) as bad:
        run(["word2vec", "--corpus", str(corpus), "--model", model, "--workers", "0", "--out", str(out)])
    assert bad.value.code == 2


@pytest.mark.parametrize("model", ["cbow", "ppmi"])
def test_a_corpus_too_small_for_min_count_is_a_one_line_error(tmp_path, model, capsys):
    path = tmp_path / "tiny.txt"
    path.write_text("the cat sat on the mat\na dog ran in the park\n")
    assert run(["word2vec", "--model", model, "--corpus", str(path), "--out", str(tmp_path / "w"), "--quiet"]) == 2
    assert "--min-count 1" in capsys.readouterr().err
