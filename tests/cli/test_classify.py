"""``zeronlp classify`` end to end on the user's own LABEL<TAB>TEXT files (and the shipped news)."""

import json

import numpy as np
import pytest

from zeronlp.cli import main
from zeronlp.data import load_news, tokenize
from zeronlp.embeddings import KeyedVectors
from zeronlp.serialization import load
from zeronlp.train import Trainer

POSITIVE = ["great", "wonderful", "excellent", "loved", "superb"]
NEGATIVE = ["awful", "terrible", "boring", "hated", "dreadful"]
FILLER = ["the", "film", "was", "a", "story", "plot", "acting", "really", "this", "movie"]


def make_lines(n, seed, labels=("pos", "neg")):
    """``n`` lines ``LABEL<TAB>TEXT`` whose label is given away by one keyword among filler words."""
    rng = np.random.default_rng(seed)
    lines = []
    for i in range(n):
        label = labels[i % 2]
        words = list(rng.choice(FILLER, size=rng.integers(1, 5)))
        words.insert(int(rng.integers(0, len(words) + 1)), str(rng.choice(POSITIVE if i % 2 == 0 else NEGATIVE)))
        lines.append(f"{label}\t{' '.join(words)}")
    return lines


def write(path, lines):
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def files(tmp_path):
    """train (60 lines), valid (20), test (20) and a small word-vector file covering their words."""
    words = sorted(set(POSITIVE + NEGATIVE + FILLER))
    matrix = np.random.default_rng(0).standard_normal((len(words), 16)).astype(np.float32) * 0.5
    for i, word in enumerate(words):  # like pretrained vectors, the sentiment words share a direction
        matrix[i, 0] += 2.0 if word in POSITIVE else -2.0 if word in NEGATIVE else 0.0
    vectors = KeyedVectors(words, matrix)
    vectors.save_word2vec_format(tmp_path / "vec.txt")
    return {"train": write(tmp_path / "train.tsv", make_lines(60, 1)),
            "valid": write(tmp_path / "valid.tsv", make_lines(20, 2)),
            "test": write(tmp_path / "test.tsv", make_lines(20, 3)),
            "vectors": tmp_path / "vec.txt"}


def train_args(files, out, model="mean", *extra):
    return ["classify", "train", "--model", model, "--train", str(files["train"]), "--vectors", str(files["vectors"]),
            "--out", str(out), "--quiet", *extra]


@pytest.mark.parametrize("model, options", [
    ("linear", ["--epochs", "30"]),
    ("mean", ["--epochs", "15", "--lr", "0.02", "--batch-size", "8"]),
])
def test_train_predict_evaluate_own_files(files, tmp_path, capsys, model, options):
    out = tmp_path / "run"
    assert main(train_args(files, out, model, "--valid", str(files["valid"]), "--test", str(files["test"]),
                           *options)) == 0
    assert "test accuracy" in capsys.readouterr().out
    metrics = json.loads((out / "metrics.json").read_text())
    final = metrics["final"]
    assert final["test_accuracy"] >= 0.9 and final["valid_accuracy"] >= 0.9, final
    assert set(final["test_per_class"]) == {"neg", "pos"}
    assert metrics["config"]["valid_from_train"] is False
    for name in ("checkpoint.safetensors", "model.safetensors", "vectors.bin", "curves_loss.png",
                 "curves_accuracy.png", "confusion_matrix.png"):
        assert (out / name).is_file(), name
    assert (out / "checkpoints" / "epoch_001.safetensors").is_file() == (model == "linear")  # task 76
    assert load(out / "model.safetensors")["labels"] == ["neg", "pos"]

    assert main(["classify", "predict", "--ckpt", str(out), "--json", "a wonderful and superb film",
                 "this was a dreadful boring movie"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [row["label"] for row in rows] == ["pos", "neg"]
    assert set(rows[0]["probabilities"]) == {"neg", "pos"} and np.isclose(sum(rows[0]["probabilities"].values()), 1)

    assert main(["classify", "evaluate", "--ckpt", str(out), "--file", str(files["test"]),
                 "--out", str(tmp_path / "ev")]) == 0
    printed = capsys.readouterr().out
    assert "test.tsv" in printed and "accuracy" in printed
    evaluated = json.loads((tmp_path / "ev" / "metrics.json").read_text())["final"]
    assert evaluated["accuracy"] == pytest.approx(final["test_accuracy"])
    assert (tmp_path / "ev" / "confusion_matrix.png").is_file()


def test_without_valid_and_test_holds_out_the_last_tenth(files, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(train_args(files, out, "linear", "--epochs", "3")) == 0
    printed = capsys.readouterr().out
    assert "no test metrics" in printed and "lines 55-60" in printed
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["config"]["valid_from_train"] is True
    assert metrics["config"]["data"]["valid"].endswith("lines 55-60")
    assert not any(key.startswith("test_") for key in metrics["final"])
    assert "valid_confusion_matrix" in metrics["final"]


def test_features_on_own_files(files, tmp_path, capsys):
    out = tmp_path / "feat"
    assert main(["classify", "features", "--train", str(files["train"]), "--valid", str(files["valid"]),
                 "--vectors", str(files["vectors"]), "--out", str(out), "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "X_train (60, 16)" in printed and "X_valid (20, 16)" in printed and "X_test" not in printed
    assert "loss and gradient (task 72) on the first 4" in printed
    assert main(["classify", "batch-sizes", "--features", str(out / "features.safetensors"), "--max-power", "2",
                 "--out", str(tmp_path / "bs"), "--quiet"]) == 0
    assert "| 4 |" in (tmp_path / "bs" / "batch_sizes.md").read_text()


BAD_FILES = {
    # role: which file is bad; content; the line that must be named (None: the file as a whole)
    "empty": ("train", b"", None),
    "no tab": ("train", b"pos\tgreat film\nneg awful film\npos\tloved it\n", 2),
    "one label": ("train", b"pos\tgreat film\npos\tloved it\npos\tsuperb\n", None),
    "invalid utf-8": ("train", b"pos\tgreat film\nneg\tawful film\npos\tloved \xff\xfe it\n", 3),
    "blank line in the middle": ("train", b"pos\tgreat film\nneg\tawful film\n\npos\tloved it\nneg\tboring\n", 3),
    "empty label": ("valid", b"pos\tgreat film\n\tawful film\n", 2),
    "unseen test label": ("test", b"pos\tgreat film\nneutral\tthe film\n", 2),
}


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_bad_file_is_a_one_line_error_and_leaves_no_checkpoint(files, tmp_path, capsys, case):
    role, content, line = BAD_FILES[case]
    bad = tmp_path / f"bad_{role}.tsv"
    bad.write_bytes(content)
    paths = {"train": files["train"], "valid": files["valid"], "test": files["test"], role: bad}
    out = tmp_path / "run"
    argv = ["classify", "train", "--model", "mean", "--train", str(paths["train"]), "--valid", str(paths["valid"]),
            "--test", str(paths["test"]), "--vectors", str(files["vectors"]), "--out", str(out), "--quiet"]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("zeronlp classify train: error: ") and len(err.splitlines()) == 1, err
    assert str(bad) in err
    if line is not None:
        assert f"line {line}" in err
    assert not (out / "checkpoint.safetensors").exists() and not (out / "model.safetensors").exists()
    assert not out.exists()  # nothing at all was written


def test_bad_vectors_and_missing_run_are_one_line_errors(files, tmp_path, capsys):
    bad = tmp_path / "vec.bin"
    bad.write_bytes(b"not a header\n")
    out = tmp_path / "run"
    assert main(["classify", "train", "--train", str(files["train"]), "--vectors", str(bad), "--out", str(out)]) == 2
    assert str(bad) in capsys.readouterr().err and not out.exists()
    assert main(["classify", "predict", "--ckpt", str(tmp_path / "nothing"), "x"]) == 2
    assert "nothing: no such run directory or checkpoint file" in capsys.readouterr().err
    assert main(train_args(files, out, "linear", "--resume")) == 2
    assert "cannot resume" in capsys.readouterr().err and not out.exists()


def test_resume_with_other_labels_is_refused(files, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(train_args(files, out, "linear", "--epochs", "1")) == 0
    files["train"] = write(tmp_path / "other.tsv", make_lines(60, 1, labels=("good", "bad")))
    assert main(train_args(files, out, "linear", "--epochs", "2", "--resume")) == 2
    assert "other labels" in capsys.readouterr().err


def test_interrupted_training_resumes_exactly(files, tmp_path, monkeypatch):
    """Ctrl-C in the middle of epoch 2, then --resume: the same losses and final weights as one run."""
    original = Trainer.train_step
    losses, interrupt_at = [], {"call": None}

    def recording_step(self, batch):
        if interrupt_at["call"] is not None and len(losses) + 1 == interrupt_at["call"]:
            interrupt_at["call"] = None
            raise KeyboardInterrupt
        losses.append(original(self, batch))
        return losses[-1]

    monkeypatch.setattr(Trainer, "train_step", recording_step)
    options = ["--epochs", "3", "--batch-size", "8", "--dropout", "0.3", "--lr", "0.01"]  # 7 steps an epoch
    assert main(train_args(files, tmp_path / "whole", "mean", *options)) == 0
    whole = list(losses)
    assert len(whole) == 21

    losses.clear()
    interrupt_at["call"] = 11  # the 4th step of epoch 2
    assert main(train_args(files, tmp_path / "split", "mean", *options)) == 130
    assert losses == whole[:10]
    record = load(tmp_path / "split" / "checkpoint.safetensors")
    assert (record["epoch"], record["position"]) == (1, 3)
    assert main(train_args(files, tmp_path / "split", "mean", *options, "--resume")) == 0
    assert losses == whole  # the next loss after resuming, and every one after it, as in the uninterrupted run

    for name in ("checkpoint.safetensors", "model.safetensors"):
        a, b = load(tmp_path / "whole" / name)["model"], load(tmp_path / "split" / name)["model"]
        assert set(a) == set(b) and all(np.array_equal(a[k], b[k]) for k in a), name
    history = [json.loads((tmp_path / run / "metrics.json").read_text())["history"] for run in ("whole", "split")]
    keys = ("epoch", "loss", "train_loss", "train_accuracy", "valid_loss", "valid_accuracy")
    assert [[row[k] for k in keys] for row in history[0]] == [[row[k] for k in keys] for row in history[1]]


def test_word2vec_trained_on_own_texts_when_no_vectors_given(files, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["classify", "train", "--model", "mean", "--train", str(files["train"]), "--epochs", "2",
                 "--out", str(out)]) == 0
    captured = capsys.readouterr()
    printed = captured.out + captured.err  # results on stdout, progress (the zeronlp logger) on stderr
    assert "trained word2vec on the training texts" in printed
    assert KeyedVectors.load_word2vec_format(out / "vectors.bin", binary=True).vector_size == 300


def test_shipped_news_train_resume_predict_evaluate(tmp_path, capsys):
    # small random vectors for the training words keep this test fast (no word2vec training)
    words = sorted({w for t in load_news("train")[0] for w in tokenize(t)})
    vectors = KeyedVectors(words, np.random.default_rng(0).standard_normal((len(words), 8)).astype(np.float32))
    vec_file = tmp_path / "vec.txt"
    vectors.save_word2vec_format(vec_file)
    out = tmp_path / "lin"
    assert main(["classify", "train", "--model", "linear", "--vectors", str(vec_file), "--epochs", "2",
                 "--out", str(out), "--quiet"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert 0.4 <= metrics["final"]["test_accuracy"] <= 1 and "test_macro_f1" in metrics["final"]
    assert set(metrics["final"]["test_per_class"]) == {"b", "t", "e", "m"}
    for name in ("curves_loss.png", "curves_accuracy.png", "confusion_matrix.png", "model.safetensors",
                 "features.safetensors", "checkpoints/epoch_002.safetensors"):
        assert (out / name).is_file(), name
    assert main(["classify", "train", "--model", "linear", "--vectors", str(vec_file), "--epochs", "3",
                 "--out", str(out), "--quiet", "--resume"]) == 0
    resumed = json.loads((out / "metrics.json").read_text())
    assert [row["epoch"] for row in resumed["history"]] == [1, 2, 3]
    assert resumed["history"][:2] == metrics["history"]
    capsys.readouterr()
    assert main(["classify", "predict", "--ckpt", str(out), "--json", "Fed raises rates as inflation climbs"]) == 0
    answer = json.loads(capsys.readouterr().out.strip())
    assert answer["label"] in ("b", "t", "e", "m") and np.isclose(sum(answer["probabilities"].values()), 1)
    cnn = tmp_path / "cnn"
    assert main(["classify", "train", "--model", "cnn", "--vectors", str(vec_file), "--epochs", "1",
                 "--batch-size", "512", "--num-filters", "4", "--kernel-sizes", "2", "3", "--out", str(cnn),
                 "--quiet"]) == 0
    assert main(["classify", "predict", "--ckpt", str(cnn), "Fed raises rates", ""]) == 0
    ens = tmp_path / "ens"
    assert main(["classify", "evaluate", "--ckpt", str(out), "--ckpt", str(cnn), "--out", str(ens)]) == 0
    assert 0 <= json.loads((ens / "metrics.json").read_text())["final"]["accuracy"] <= 1
    assert main(["classify", "batch-sizes", "--features", str(out / "features.safetensors"), "--max-power", "1",
                 "--out", str(tmp_path / "bs"), "--quiet"]) == 0
    assert "| 2 |" in (tmp_path / "bs" / "batch_sizes.md").read_text()


def test_japanese_texts_with_the_ja_tokenizer(tmp_path, capsys):
    """--tokenizer ja splits unsegmented Japanese into words; predict uses the tokenizer stored with the model."""
    pytest.importorskip("fugashi")
    cats = ["猫が好きです。", "猫はかわいいです。", "私の猫は寝ています。", "猫と遊びました。"]
    dogs = ["犬が好きです。", "犬は走ります。", "私の犬は吠えています。", "犬と散歩しました。"]
    lines = [f"猫\t{t}" for t in cats] * 8 + [f"犬\t{t}" for t in dogs] * 8
    train = tmp_path / "ja.tsv"
    train.write_text("\n".join(lines[::2] + lines[1::2]) + "\n", encoding="utf-8")
    out = tmp_path / "run"
    assert main(["classify", "train", "--model", "mean", "--train", str(train), "--tokenizer", "ja",
                 "--epochs", "15", "--out", str(out), "--quiet"]) == 0
    capsys.readouterr()
    assert main(["classify", "predict", "--ckpt", str(out), "うちの猫は寝ています。", "犬が走ります。"]) == 0
    predicted = [line.split()[0] for line in capsys.readouterr().out.splitlines()]
    assert predicted == ["猫", "犬"]
    from zeronlp.models.classifier import load_classifier

    assert load_classifier(out).config["tokenizer"] == "ja"
