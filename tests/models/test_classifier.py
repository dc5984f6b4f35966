import numpy as np
import pytest

import zeronlp as zn
from zeronlp import functional as F
from zeronlp import optim
from zeronlp.embeddings import KeyedVectors
from zeronlp.errors import CheckpointError, DataError
from zeronlp.models.classifier import (
    VECTORS_FILE,
    LoadedClassifier,
    MLPClassifier,
    SingleLayerNet,
    build_model,
    load_classifier,
    mean_word_vectors,
    predict_proba,
    save_classifier,
)
from zeronlp.models.text_classifier import (
    PAD_ID,
    UNK_ID,
    TextClassifier,
    build_vocabulary,
    encode_texts,
    pretrained_matrix,
    reverse_within_length,
)
from zeronlp.serialization import load, save
from zeronlp.tasks.classify import classification_report, load_features, loss_and_gradient, save_features  # noqa: F401
from zeronlp.train import EpochMetrics, Trainer, load_checkpoint

NEWS_LABELS = ["b", "t", "e", "m"]


def train_metrics(data):
    """EpochMetrics function: train-set loss/accuracy in eval mode (what tasks.classify.train records)."""
    return EpochMetrics(lambda trainer, row: {f"train_{k}": v for k, v in trainer.evaluate(data).items()})


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
        trainer = Trainer(model, optimizer, batch_size=8, callbacks=[train_metrics((x, y))],
                          monitor="valid_accuracy", mode="max", quiet=True)
        trainer.fit((x, y), valid=(x, y), epochs=20)
        assert trainer.history[-1]["train_accuracy"] == 1.0
        assert (predict_proba(model, x).argmax(1) == y).all()


# ---------------------------------------------------------------- text models


@pytest.mark.parametrize("encoder", ["mean", "cnn", "bigru"])
def test_text_classifier_fits_tiny_titles(encoder):
    titles, labels = tiny_titles()
    vocab = build_vocabulary(t.split() for t in titles)
    ids = encode_texts(titles, vocab)
    matrix, known = pretrained_matrix(vocab, tiny_vectors(16))
    assert known == len(vocab) - 2 and (matrix[PAD_ID] == 0).all()
    zn.manual_seed(0)
    model = TextClassifier(len(vocab), 16, 4, encoder=encoder, hidden_size=16, num_filters=8,
                           kernel_sizes=(2, 3), dropout=0.0, embeddings=matrix)
    trainer = Trainer(model, optim.Adam(model.parameters(), lr=2e-2), batch_size=8, quiet=True)
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
    ids = encode_texts(["", "zzz qqq", "stocks zzz"], vocab)
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
    trainer = Trainer(model, opt, batch_size=8, out_dir=tmp_path, callbacks=[train_metrics((x, y))],
                      monitor="valid_accuracy", mode="max", keep_epoch_checkpoints=True, quiet=True)
    trainer.fit((x, y), valid=(x, y), epochs=3)
    files = sorted((tmp_path / "checkpoints").glob("epoch_*.safetensors"))
    assert [f.name for f in files] == ["epoch_001.safetensors", "epoch_002.safetensors", "epoch_003.safetensors"]
    assert {"train_loss", "train_accuracy", "valid_loss", "valid_accuracy"} <= set(trainer.history[-1])
    best = max(row["valid_accuracy"] for row in trainer.history)
    assert trainer.best == best and trainer.history[trainer.best_epoch - 1]["valid_accuracy"] == best
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
    save_classifier(tmp_path / "model.safetensors", model, config, NEWS_LABELS, vocab)
    loaded = load_classifier(tmp_path)
    assert isinstance(loaded, LoadedClassifier) and loaded.labels == NEWS_LABELS
    expected = predict_proba(model, encode_texts(titles, vocab))
    np.testing.assert_array_equal(loaded.predict_proba(titles), expected)
    assert loaded.predict(["stocks"])[0] in NEWS_LABELS


def test_load_feature_classifier_reads_the_fixed_vectors_file(tmp_path):
    """The vectors file is always VECTORS_FILE beside the model: a name in the config is never opened."""
    vectors = tiny_vectors(8)
    config = {"kind": "linear", "num_classes": 2, "in_features": 8, "vectors": "../../elsewhere.bin"}
    zn.manual_seed(0)
    model = build_model(config)
    save_classifier(tmp_path / "model.safetensors", model, config, ["neg", "pos"])
    with pytest.raises(CheckpointError, match=VECTORS_FILE):
        load_classifier(tmp_path)  # no vectors.bin yet
    vectors.save_word2vec_format(tmp_path / VECTORS_FILE, binary=True)
    loaded = load_classifier(tmp_path / "model.safetensors")
    texts = ["stocks profit", "movie star"]
    np.testing.assert_allclose(loaded.predict_proba(texts), predict_proba(model, mean_word_vectors(texts, vectors)))
    assert set(loaded.predict(texts)) <= {"neg", "pos"}


@pytest.mark.parametrize("change, message", [
    ({"labels": ["only"]}, "label set"),
    ({"labels": ["a", "a"]}, "label set"),
    ({"labels": ["a", "b", "c"]}, "classes"),
    ({"config": {"kind": "transformer", "num_classes": 2}}, "field config/kind: 'transformer' is not one of"),
    ({"vocab": None}, "vocabulary"),
    ({"model": {}}, "field model: the tensors do not match the stored config"),
])
def test_load_classifier_rejects_inconsistent_files(tmp_path, change, message):
    titles, _ = tiny_titles()
    vocab = build_vocabulary(t.split() for t in titles)
    config = {"kind": "mean", "num_classes": 2, "vocab_size": len(vocab), "embedding_dim": 4}
    save_classifier(tmp_path / "m.safetensors", build_model(config), config, ["neg", "pos"], vocab)
    record = load(tmp_path / "m.safetensors")
    record.update(change)
    save(record, tmp_path / "m.safetensors")
    with pytest.raises(CheckpointError, match=message):
        load_classifier(tmp_path / "m.safetensors")
    with pytest.raises(CheckpointError, match="missing: no such run directory"):
        load_classifier(tmp_path / "missing")


def test_features_roundtrip(tmp_path):
    feats = {f"{k}_{s}": (np.ones((2, 3), np.float32) if k == "X" else np.zeros(2, np.int64))
             for s in ("train", "valid", "test") for k in ("X", "y")}
    save_features(tmp_path / "f.safetensors", feats, ["neg", "pos"])
    back, labels = load_features(tmp_path / "f.safetensors")
    assert set(back) == set(feats) and back["X_train"].dtype == np.float32 and labels == ["neg", "pos"]
    with pytest.raises(DataError, match="missing.safetensors"):
        load_features(tmp_path / "missing.safetensors")


# ---------------------------------------------------------------- metrics


def test_report_matches_hand_computed_confusion():
    targets = np.array([0, 0, 0, 1, 1, 2, 2, 2, 3, 3])
    predicted = np.array([0, 0, 1, 1, 2, 2, 2, 0, 3, 0])
    report = classification_report(predicted, targets, NEWS_LABELS)
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
        classification_report([0, 1], [0], ["a", "b"])
