import json

import numpy as np
import pytest

import zeronlp as zn
from zeronlp import functional as F
from zeronlp import optim
from zeronlp.embeddings import KeyedVectors
from zeronlp.models.classifier import (
    ClassifierTrainer,
    MLPClassifier,
    SingleLayerNet,
    build_model,
    classification_report,
    load_classifier,
    loss_and_gradient,
    predict_proba,
    save_classifier,
)
from zeronlp.models.news_features import load_features, mean_word_vectors, save_features
from zeronlp.models.text_classifier import (
    PAD_ID,
    UNK_ID,
    TextClassifier,
    build_vocabulary,
    encode_titles,
    pretrained_matrix,
    reverse_within_length,
)
from zeronlp.train import load_checkpoint

# a tiny, separable "news" set: each class has its own cue words
CUES = {0: ["stocks", "bank", "profit"], 1: ["apple", "google", "phone"], 2: ["movie", "star", "music"],
        3: ["flu", "cancer", "health"]}
FILLER = ["the", "a", "new", "report", "says", "today"]


def tiny_titles(n_per_class=12, seed=0):
    rng = np.random.default_rng(seed)
    titles, labels = [], []
    for label, cues in CUES.items():
        for _ in range(n_per_class):
            words = list(rng.choice(FILLER, size=rng.integers(0, 5))) + [str(rng.choice(cues))]
            rng.shuffle(words)
            titles.append(" ".join(words))
            labels.append(label)
    return titles, np.array(labels, dtype=np.int64)


def tiny_vectors(dim=8, seed=0):
    words = sorted({w for ws in CUES.values() for w in ws} | set(FILLER))
    vectors = np.random.default_rng(seed).standard_normal((len(words), dim)).astype(np.float32)
    return KeyedVectors(words, vectors)


# ---------------------------------------------------------------- tasks 71-72


def test_task72_loss_and_gradient_match_numerical():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 6)).astype(np.float32)
    y = np.array([0, 3, 2, 1])
    zn.manual_seed(0)
    net = SingleLayerNet(6, 4)
    for n in (1, 4):
        loss, grad = loss_and_gradient(net, x[:n], y[:n])
        w = net.linear.weight.numpy().T.astype(np.float64)  # the exercise's W (in, classes)
        logits = x[:n].astype(np.float64) @ w
        p = np.exp(logits - logits.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        assert np.isclose(loss, -np.log(p[np.arange(n), y[:n]]).mean(), rtol=1e-5)
        onehot = np.eye(4)[y[:n]]
        np.testing.assert_allclose(grad, x[:n].T @ (p - onehot) / n, rtol=1e-4, atol=1e-6)
        xn, yn = x[:n].astype(np.float64), y[:n]
        assert zn.gradcheck(lambda w, xn=xn, yn=yn: F.softmax_cross_entropy(F.matmul(xn, w), yn), [w])


def test_single_layer_and_mlp_fit_separable_data():
    rng = np.random.default_rng(1)
    centers = rng.standard_normal((4, 5)) * 4
    y = np.repeat(np.arange(4), 20)
    x = (centers[y] + rng.standard_normal((80, 5)) * 0.3).astype(np.float32)
    for model, opt in ((SingleLayerNet(5, 4), "sgd"), (MLPClassifier(5, 4, 16, 2, 0.0), "adam")):
        zn.manual_seed(0)
        optimizer = optim.SGD(model.parameters(), lr=0.5) if opt == "sgd" else optim.Adam(model.parameters(), 1e-2)
        trainer = ClassifierTrainer(model, optimizer, batch_size=8, train_eval=(x, y), epoch_checkpoints=False)
        trainer.fit((x, y), valid=(x, y), epochs=20)
        assert trainer.history[-1]["train_accuracy"] == 1.0
        assert (predict_proba(model, x).argmax(1) == y).all()


# ---------------------------------------------------------------- text models


@pytest.mark.parametrize("encoder", ["mean", "cnn", "bigru"])
def test_text_classifier_fits_tiny_titles(encoder):
    titles, labels = tiny_titles()
    vocab = build_vocabulary(t.split() for t in titles)
    ids = encode_titles(titles, vocab)
    matrix, known = pretrained_matrix(vocab, tiny_vectors(16))
    assert known == len(vocab) - 2 and (matrix[PAD_ID] == 0).all()
    zn.manual_seed(0)
    model = TextClassifier(len(vocab), 16, 4, encoder=encoder, hidden_size=16, num_filters=8,
                           kernel_sizes=(2, 3), dropout=0.0, embeddings=matrix)
    trainer = ClassifierTrainer(model, optim.Adam(model.parameters(), lr=2e-2), batch_size=8,
                                epoch_checkpoints=False)
    trainer.fit((ids, labels), epochs=15)
    assert (predict_proba(model, ids).argmax(1) == labels).all()
    assert (model.embedding.weight.data[PAD_ID] == 0).all()  # padding stays zero


@pytest.mark.parametrize("encoder", ["mean", "cnn", "bigru"])
def test_padding_does_not_change_prediction(encoder):
    zn.manual_seed(0)
    model = TextClassifier(12, 6, 4, encoder=encoder, hidden_size=5, num_filters=3, kernel_sizes=(2, 3)).eval()
    ids = np.array([[3, 4, 5, 6, 0, 0, 0, 0, 0], [7, 0, 0, 0, 0, 0, 0, 0, 0]])
    with zn.no_grad():
        padded = model(ids).numpy()
        alone = np.concatenate([model(ids[:1, :4]).numpy(), model(ids[1:, :1]).numpy()])
    np.testing.assert_allclose(padded, alone, rtol=1e-5, atol=1e-6)


def test_text_classifier_gradcheck_cnn():
    """Embedding -> masked Conv1d/ReLU/max-over-time -> linear -> loss, checked end to end in float64."""
    from zeronlp.functional import embedding

    zn.set_default_dtype(np.float64)
    try:
        zn.manual_seed(0)
        model = TextClassifier(10, 4, 3, encoder="cnn", num_filters=3, kernel_sizes=(2, 3), dropout=0.0)
        ids = np.array([[2, 3, 4, 0], [5, 0, 0, 0], [6, 7, 8, 9]])
        lengths = (ids != 0).sum(1)
        positions = np.arange(4)[None, :]

        def loss(w):  # the model's encode() with the embedding weight as an input (no padding_idx)
            channels = embedding(ids, w).transpose(0, 2, 1)
            feats = []
            for k, conv in zip(model.kernel_sizes, model.convs):
                mask = positions[:, :5 - k] < np.maximum(lengths - k + 1, 1)[:, None]
                feats.append(F.max_over_time(F.relu(conv(channels)), mask))
            return F.softmax_cross_entropy(model.output(F.concat(feats, axis=1)), np.array([0, 1, 2]))

        assert zn.gradcheck(loss, [model.embedding.weight.data + 0.1])
    finally:
        zn.set_default_dtype(np.float32)


def test_reverse_within_length():
    ids = np.array([[1, 2, 3, 0], [4, 5, 0, 0], [6, 0, 0, 0]])
    out = reverse_within_length(ids, (ids != 0).sum(1))
    assert out.tolist() == [[3, 2, 1, 0], [5, 4, 0, 0], [6, 0, 0, 0]]


def test_empty_and_unknown_titles_are_defined():
    titles, _ = tiny_titles()
    vocab = build_vocabulary(t.split() for t in titles)
    ids = encode_titles(["", "zzz qqq", "stocks zzz"], vocab)
    assert ids[0].tolist()[:1] == [UNK_ID] and ids[1].tolist()[:2] == [UNK_ID, UNK_ID]
    assert ids[2, 0] == vocab["stocks"] and ids[2, 1] == UNK_ID
    vectors = tiny_vectors()
    feats = mean_word_vectors(["", "zzz qqq", "stocks"], vectors)
    assert (feats[:2] == 0).all() and np.allclose(feats[2], vectors["stocks"])
    zn.manual_seed(0)
    for encoder in ("mean", "cnn", "bigru"):
        model = TextClassifier(len(vocab), 8, 4, encoder=encoder, hidden_size=4, num_filters=2)
        probs = predict_proba(model, ids)
        assert probs.shape == (3, 4) and np.allclose(probs.sum(1), 1) and np.isfinite(probs).all()


# ---------------------------------------------------------------- checkpoints and persistence


def test_epoch_checkpoints_reload_to_identical_predictions(tmp_path):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((40, 6)).astype(np.float32)
    y = rng.integers(0, 4, 40)
    zn.manual_seed(0)
    model = MLPClassifier(6, 4, 8, 1, 0.2)
    opt = optim.Adam(model.parameters(), 1e-2)
    best = []
    trainer = ClassifierTrainer(model, opt, batch_size=8, out_dir=tmp_path, train_eval=(x, y),
                                on_best=lambda t: best.append(t.epoch))
    trainer.fit((x, y), valid=(x, y), epochs=3)
    files = sorted((tmp_path / "checkpoints").glob("epoch_*.safetensors"))
    assert [f.name for f in files] == ["epoch_001.safetensors", "epoch_002.safetensors", "epoch_003.safetensors"]
    assert {"train_loss", "train_accuracy", "valid_loss", "valid_accuracy"} <= set(trainer.history[-1])
    assert best and best[0] == 1
    fresh = MLPClassifier(6, 4, 8, 1, 0.2)
    fresh_opt = optim.Adam(fresh.parameters(), 1e-2)
    record = load_checkpoint(files[-1], fresh, fresh_opt)
    assert record["epoch"] == 3
    np.testing.assert_array_equal(predict_proba(fresh, x), predict_proba(model, x))
    assert fresh_opt.state_dict()["step_count"] == opt.state_dict()["step_count"]


def test_save_and_load_text_classifier(tmp_path):
    titles, labels = tiny_titles()
    vocab = build_vocabulary(t.split() for t in titles)
    config = {"kind": "cnn", "num_classes": 4, "vocab_size": len(vocab), "embedding_dim": 8,
              "num_filters": 4, "kernel_sizes": [2, 3], "dropout": 0.1}
    zn.manual_seed(0)
    model = build_model(config)
    save_classifier(tmp_path / "model.safetensors", model, config, vocab)
    loaded = load_classifier(tmp_path)
    expected = predict_proba(model, encode_titles(titles, vocab))
    np.testing.assert_array_equal(loaded.predict_proba(titles), expected)
    assert loaded.predict(["stocks"])[0] in ("b", "t", "e", "m")


def test_features_roundtrip(tmp_path):
    feats = {f"{k}_{s}": (np.ones((2, 3), np.float32) if k == "X" else np.zeros(2, np.int64))
             for s in ("train", "valid", "test") for k in ("X", "y")}
    save_features(tmp_path / "f.safetensors", feats)
    back = load_features(tmp_path / "f.safetensors")
    assert set(back) == set(feats) and back["X_train"].dtype == np.float32
    with pytest.raises(FileNotFoundError):
        load_features(tmp_path / "missing.safetensors")


# ---------------------------------------------------------------- metrics


def test_report_matches_hand_computed_confusion():
    targets = np.array([0, 0, 0, 1, 1, 2, 2, 2, 3, 3])
    predicted = np.array([0, 0, 1, 1, 2, 2, 2, 0, 3, 0])
    report = classification_report(predicted, targets)
    expected = np.array([[2, 1, 0, 0],
                         [0, 1, 1, 0],
                         [1, 0, 2, 0],
                         [1, 0, 0, 1]])
    np.testing.assert_array_equal(report["confusion_matrix"], expected)
    assert report["accuracy"] == 0.6
    b = report["per_class"]["b"]
    assert np.isclose(b["precision"], 2 / 4) and np.isclose(b["recall"], 2 / 3)
    assert np.isclose(b["f1"], 2 * (0.5 * 2 / 3) / (0.5 + 2 / 3))
    m = report["per_class"]["m"]
    assert m["precision"] == 1.0 and m["recall"] == 0.5 and m["support"] == 2
    f1s = [row["f1"] for row in report["per_class"].values()]
    assert np.isclose(report["macro_f1"], np.mean(f1s))
    with pytest.raises(ValueError):
        classification_report([0, 1], [0])


# ---------------------------------------------------------------- command line


def test_cli_train_predict_batch_sizes(tmp_path, capsys):
    from zeronlp.cli import main
    from zeronlp.data import load_news
    from zeronlp.data.vocab import tokenize

    # small random vectors for the training words keep this test fast (no word2vec training)
    words = sorted({w for t in load_news("train")[0] for w in tokenize(t)})
    vectors = KeyedVectors(words, np.random.default_rng(0).standard_normal((len(words), 8)).astype(np.float32))
    vec_file = tmp_path / "vec.txt"
    vectors.save_word2vec_format(vec_file)
    out = tmp_path / "lin"
    assert main(["classify", "train", "--model", "linear", "--vectors", str(vec_file), "--epochs", "2",
                 "--out", str(out), "--quiet"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert 0 <= metrics["final"]["test_accuracy"] <= 1 and "test_macro_f1" in metrics["final"]
    for name in ("curves_loss.png", "curves_accuracy.png", "confusion_matrix.png", "model.safetensors",
                 "checkpoints/epoch_002.safetensors"):
        assert (out / name).is_file(), name
    assert main(["classify", "train", "--model", "linear", "--vectors", str(vec_file), "--epochs", "3",
                 "--out", str(out), "--quiet", "--resume"]) == 0
    resumed = json.loads((out / "metrics.json").read_text())
    assert [row["epoch"] for row in resumed["history"]] == [1, 2, 3]
    assert resumed["history"][:2] == metrics["history"]
    assert (out / "checkpoints" / "epoch_003.safetensors").is_file()
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
    assert 0 <= json.loads((ens / "metrics.json").read_text())["final"]["test_accuracy"] <= 1
    assert main(["classify", "batch-sizes", "--features", str(out / "features.safetensors"), "--max-power", "1",
                 "--out", str(tmp_path / "bs"), "--quiet"]) == 0
    assert "| 2 |" in (tmp_path / "bs" / "batch_sizes.md").read_text()
    assert main(["classify", "predict", "--ckpt", str(tmp_path / "nothing"), "x"]) == 1
