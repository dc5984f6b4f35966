"""`zeronlp vectors` (NLP 100 ch. 7, tasks 60-69) on small generated vector files, and Japanese text
through the pluggable tokenizer: an LM and word2vec trained on a small Japanese file from the CLI."""

import gzip
import json
import sys

import numpy as np
import pytest

from zeronlp.cli import build_parser, main
from zeronlp.embeddings import KeyedVectors
from zeronlp.tasks import vectors
from zeronlp.tasks.vectors import read_questions


@pytest.fixture(scope="module")
def vector_file(tmp_path_factory):
    """A GoogleNews-like ``.bin.gz``: capitals = their country + one shared offset (so analogies work),
    two far-apart groups of countries (so clusters exist), the WordSim-353 words, and filler."""
    rng = np.random.default_rng(0)
    dim = 16
    pairs = {}  # capital -> country, from the capital-common-countries section
    for section, (a, b, c, d) in read_questions():
        if section == "capital-common-countries":
            pairs.setdefault(a, b)
            pairs.setdefault(c, d)
    countries = list(dict.fromkeys(pairs.values()))
    offset = rng.normal(size=dim) * 2
    centres = rng.normal(size=(2, dim)) * 6
    table = {}
    for i, country in enumerate(countries):
        table[country] = centres[i % 2] + rng.normal(size=dim)
    for capital, country in pairs.items():
        table[capital] = table[country] + offset + 0.05 * rng.normal(size=dim)
    table["United_States"] = rng.normal(size=dim)
    table["U.S."] = table["United_States"] + 0.3 * rng.normal(size=dim)
    for word in ["love", "sex", "tiger", "cat", "book", "paper", "computer", "keyboard", "plane", "car", "train",
                 "money", "cash", "bank", "king", "queen"]:
        table.setdefault(word, rng.normal(size=dim))
    for i in range(50):
        table[f"filler{i}"] = rng.normal(size=dim) * 3
    kv = KeyedVectors(list(table), np.stack(list(table.values())).astype(np.float32))
    path = tmp_path_factory.mktemp("vectors") / "tiny-GoogleNews.bin.gz"
    kv.save_word2vec_format(path, binary=True)
    assert gzip.open(path).read(8)  # really gzip'd
    return path, kv


def run(capsys, *args):
    code = main(["vectors", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_queries_61_to_63(vector_file, capsys):
    path, kv = vector_file
    code, out, _ = run(capsys, "similarity", "United_States", "U.S.", "--vectors", str(path))
    assert code == 0 and float(out) == pytest.approx(kv.similarity("United_States", "U.S."), abs=1e-4)
    code, out, _ = run(capsys, "similar", "United_States", "--topn", "3", "--vectors", str(path))
    assert code == 0 and out.splitlines()[0].startswith("U.S.\t") and len(out.splitlines()) == 3
    code, out, _ = run(capsys, "analogy", "Madrid", "Spain", "Athens", "--vectors", str(path))
    assert code == 0 and out.splitlines()[0].startswith("Greece\t")
    code, _, err = run(capsys, "similar", "Atlantis", "--vectors", str(path))
    assert code == 2 and "'Atlantis' is not among the" in err


def test_analogies_64_65_and_wordsim_66(vector_file, tmp_path, capsys):
    path, _ = vector_file
    code, out, _ = run(capsys, "analogies", "--vectors", str(path), "--out", str(tmp_path))
    assert code == 0
    semantic = float(out.splitlines()[0].split("accuracy ")[1].split("%")[0])
    assert semantic > 90  # the planted capital offset answers capital-common-countries
    lines = (tmp_path / "analogies.txt").read_text().splitlines()
    assert lines[0] == ": capital-common-countries"
    a, b, c, d, predicted, score = lines[1].split()
    assert predicted == d and 0 < float(score) <= 1
    assert any(line.endswith(" - -") for line in lines)  # questions with unknown words are marked
    code, out, _ = run(capsys, "wordsim", "--vectors", str(path))
    assert code == 0 and out.startswith("spearman ")
    pairs = tmp_path / "combined.csv"  # WordSim-353's csv, with its header line
    pairs.write_text("Word 1,Word 2,Human (mean)\nlove,sex,6.77\ntiger,cat,7.35\nbook,paper,7.46\n"
                     "computer,keyboard,7.62\nplane,car,5.77\nmoney,cash,9.15\nking,queen,8.58\nfoo,bar,1.0\n")
    code, out, _ = run(capsys, "wordsim", "--vectors", str(path), "--pairs", str(pairs))
    assert code == 0 and "on 7 pairs (1 with unknown words left out)" in out


def test_clusters_and_maps_67_to_69(vector_file, tmp_path, capsys):
    pytest.importorskip("sklearn")
    path, _ = vector_file
    code, out, _ = run(capsys, "kmeans", "--vectors", str(path), "--k", "2")
    assert code == 0
    clusters = [set(line.split(": ")[1].split(", ")) for line in out.splitlines()]
    assert len(clusters) == 2 and {"Greece", "Spain"} <= clusters[0] | clusters[1]
    for step, png in (("ward", "dendrogram.png"), ("tsne", "tsne.png"), ("pca", "pca.png")):
        code, out, _ = run(capsys, step, "--vectors", str(path), "--out", str(tmp_path), "--k", "2")
        assert code == 0 and png in out
        assert (tmp_path / png).read_bytes().startswith(b"\x89PNG")
    code, _, _ = run(capsys, "kmeans", "--vectors", str(path), "--words", "Greece,Spain,France,Atlantis", "--k", "3")
    assert code == 0
    code, _, err = run(capsys, "kmeans", "--vectors", str(path), "--words", "Greece,Atlantis", "--k", "3")
    assert code == 2 and "only 1 of the given words" in err


def test_the_two_groups_are_the_two_clusters(vector_file):
    pytest.importorskip("sklearn")
    _, kv = vector_file
    result = vectors.kmeans(kv, k=2)
    countries = result["words"]
    assert len(countries) > 15 and "Athens" not in countries  # country names only
    groups = {frozenset(c) for c in result["clusters"]}
    expected = {frozenset(countries[0::2]), frozenset(countries[1::2])}  # the fixture alternates the centres
    assert groups == expected
    linkage = vectors.ward(kv)["linkage"]
    assert linkage.shape == (len(countries) - 1, 4)


def test_report_limit_and_missing_extra(vector_file, tmp_path, capsys, monkeypatch):
    path, kv = vector_file
    pytest.importorskip("sklearn")
    code, out, _ = run(capsys, "report", "--vectors", str(path), "--out", str(tmp_path), "--quiet", "--k", "2")
    assert code == 0
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["words"] == len(kv)
    assert report["63_analogy"]["top"][0][0] == "Greece"
    assert report["65_analogy_accuracy"]["semantic"]["accuracy"] > 0.9
    assert "spearman" in report["66_wordsim353"] and len(report["67_kmeans"]["clusters"]) == 2
    for png in ("dendrogram.png", "tsne.png", "pca.png"):
        assert (tmp_path / png).is_file()
    # --limit: only the first words are read
    code, _, _ = run(capsys, "report", "--vectors", str(path), "--out", str(tmp_path / "lim"), "--quiet",
                     "--limit", "10", "--k", "2")
    report = json.loads((tmp_path / "lim" / "report.json").read_text())
    assert code == 0 and report["words"] == 10 and "error" in report["61_similarity"]
    # scikit-learn missing: one line naming the extra
    monkeypatch.setitem(sys.modules, "sklearn", None)
    monkeypatch.setitem(sys.modules, "sklearn.cluster", None)
    code, _, err = run(capsys, "kmeans", "--vectors", str(path))
    assert code == 2 and "pip install 'zeronlp[cluster]'" in err


def test_glove_and_run_directory(vector_file, tmp_path, capsys):
    _, kv = vector_file
    glove = tmp_path / "glove.6B.16d.txt"
    kv.save_word2vec_format(glove, write_header=False)
    code, out, _ = run(capsys, "analogy", "Madrid", "Spain", "Athens", "--vectors", str(glove), "--topn", "1")
    assert code == 0 and out.startswith("Greece\t")
    kv.save(tmp_path / "vectors.safetensors")  # what `zeronlp word2vec --out DIR` leaves
    code, out, _ = run(capsys, "similarity", "Spain", "Greece", "--vectors", str(tmp_path))
    assert code == 0 and float(out) == pytest.approx(kv.similarity("Spain", "Greece"), abs=1e-4)
    code, _, err = run(capsys, "similar", "Spain", "--vectors", str(tmp_path / "nothing"))
    assert code == 2 and "no such file" in err


# --------------------------------------------------------------------------- Japanese text (issue 20)

JAPANESE_LINES = [
    "吾輩は猫である。", "名前はまだ無い。", "猫は魚を食べる。", "犬は肉を食べる。", "私は猫が好きです。",
    "私は犬が好きです。", "猫と犬は友達である。", "今日は天気がいい。", "明日は雨が降る。", "猫は窓の外を見る。",
]


@pytest.fixture()
def japanese_file(tmp_path):
    pytest.importorskip("fugashi", reason="the [ja] extra (fugashi, unidic-lite) is not installed")
    pytest.importorskip("unidic_lite", reason="the [ja] extra (fugashi, unidic-lite) is not installed")
    path = tmp_path / "ja.txt"
    path.write_text("\n".join(JAPANESE_LINES * 12) + "\n", encoding="utf-8")
    return path


def _accepts_ja(*command):
    """Whether the command's --tokenizer option offers 'ja' (its choices come from the CLI module)."""
    try:
        build_parser().parse_args([*command, "--tokenizer", "ja"])
    except SystemExit:
        return False
    return True


def test_lm_and_word2vec_on_japanese_from_the_cli(japanese_file, tmp_path, capsys):
    if not (_accepts_ja("lm", "train") and _accepts_ja("word2vec")):
        pytest.skip("`--tokenizer` of lm train / word2vec does not list 'ja' yet (choices=sorted(TOKENIZERS))")
    out = tmp_path / "lm"
    assert main(["lm", "train", "--train", str(japanese_file), "--tokenizer", "ja", "--out", str(out),
                 "--epochs", "2", "--batch-size", "4", "--bptt", "6", "--quiet"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["config"]["tokenizer"] == "ja"
    assert metrics["config"]["vocab_size"] < 40  # words, not whole sentences or characters
    assert main(["word2vec", "--corpus", str(japanese_file), "--tokenizer", "ja", "--model", "skipgram",
                 "--dim", "8", "--epochs", "1", "--min-count", "1", "--out", str(tmp_path / "w2v"),
                 "--quiet"]) == 0
    capsys.readouterr()
    assert main(["vectors", "similar", "猫", "--vectors", str(tmp_path / "w2v"), "--topn", "3"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 3


def test_lm_and_word2vec_on_japanese_tasks(japanese_file, tmp_path):
    from zeronlp.tasks import lm, word2vec

    result = lm.train("rnnlm", train=japanese_file, tokenizer="ja", epochs=1, batch_size=4, bptt=6,
                      out_dir=tmp_path / "lm", quiet=True)
    words = set(result["vocab"].id_to_word)
    assert {"吾輩", "猫", "で", "ある", "。", "食べる"} <= words and "吾輩は猫である" not in words
    vectors_result = word2vec.train("skipgram", japanese_file, dim=8, epochs=1, min_count=1, tokenizer="ja",
                                    out_dir=tmp_path / "w2v", quiet=True)
    assert "猫" in vectors_result["vectors"] and "名前" in vectors_result["vectors"]
