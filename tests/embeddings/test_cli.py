import argparse
import json

import pytest

from zeronlp.embeddings.cli import add_parser
from zeronlp.embeddings.keyedvectors import KeyedVectors


def run(argv):
    parser = argparse.ArgumentParser(prog="zeronlp")
    add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


@pytest.fixture()
def corpus(tmp_path):
    lines = ["You say goodbye and I say hello."] * 30 + ["The cat eats fish. The dog eats meat."] * 30
    path = tmp_path / "corpus.txt"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize("model", ["cbow", "skipgram", "ppmi"])
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
    assert capsys.readouterr().out == ""

    run(["similar", "cat", "--vectors", str(out / "vectors.safetensors"), "--topn", "3"])
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3 and "cat" not in [line.split("\t")[0] for line in lines]
    run(["analogy", "you", "say", "i", "--vectors", str(out / "vectors.txt")])
    assert len(capsys.readouterr().out.splitlines()) == 5
    with pytest.raises(SystemExit, match="'unicorn'"):
        run(["similar", "unicorn", "--vectors", str(out / "vectors.safetensors")])


def test_missing_inputs(tmp_path):
    with pytest.raises(SystemExit, match="not found"):
        run(["similar", "cat", "--vectors", str(tmp_path / "none.safetensors")])
    with pytest.raises(SystemExit, match="not found"):
        run(["word2vec", "--corpus", str(tmp_path / "none.txt"), "--out", str(tmp_path / "o")])


def test_word2vec_resume_reuses_saved_vectors(tmp_path, corpus):
    out = tmp_path / "run"
    base = ["word2vec", "--corpus", str(corpus), "--dim", "4", "--min-count", "1", "--out", str(out), "--quiet"]
    with pytest.raises(SystemExit, match="cannot resume"):
        run(base + ["--resume"])
    assert run(base) == 0
    before = KeyedVectors.load(out / "vectors.safetensors")
    corpus.write_text("")  # resuming must not read (or retrain on) the corpus again
    assert run(base + ["--resume"]) == 0
    after = KeyedVectors.load(out / "vectors.safetensors")
    assert (before.vectors == after.vectors).all()
    assert "test_analogy_accuracy" in json.loads((out / "metrics.json").read_text())["final"]
