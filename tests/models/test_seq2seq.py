"""Seq2seq: data loading, small-data training, greedy vs beam search, end symbols, CLI and errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

import zeronlp as zn
from zeronlp.cli import main
from zeronlp.data import CharVocabulary, load_seq
from zeronlp.models import AttentionSeq2Seq, PeekySeq2Seq, Seq2Seq, build_seq2seq
from zeronlp.models.seq2seq import exact_match_accuracy
from zeronlp.models.seq2seq_cli import load_seq2seq, prepare_question, translate

MODELS = (Seq2Seq, PeekySeq2Seq, AttentionSeq2Seq)
START, END, PAD = 0, 1, 2


# ---------------------------------------------------------------- data


def test_load_addition_matches_the_book():
    (x, t), (x_test, t_test), vocab = load_seq("addition")
    assert x.shape == (45000, 7) and t.shape == (45000, 5) and x_test.shape == (5000, 7)
    assert x.dtype == np.int64 and len(vocab) == 13
    # the book prints these ids for the first training example ("71+118 " -> "_189 ")
    assert x[0].tolist() == [3, 0, 2, 0, 0, 11, 5] and t[0].tolist() == [6, 0, 11, 7, 5]
    assert vocab.decode(x[0]) == "71+118 " and vocab.decode(t[0]) == "_189 "
    (x_rev, _), _, _ = load_seq("addition", reverse=True)
    np.testing.assert_array_equal(x_rev, x[:, ::-1])


def test_load_date():
    (x, t), (x_test, t_test), vocab = load_seq("date")
    assert x.shape == (45000, 29) and t.shape == (45000, 11) and t_test.shape == (5000, 11)
    assert np.all(t[:, 0] == vocab.char_to_id["_"])
    assert vocab.decode(t_test[0])[5] == "-"
    with pytest.raises(ValueError, match="unknown seq2seq data set"):
        load_seq("dates")


def test_unknown_characters_are_named():
    vocab = CharVocabulary("0123456789+ _")
    with pytest.raises(ValueError, match=r"'x', 'z'"):
        vocab.encode("1+zx")
    with pytest.raises(ValueError, match="at most 7"):
        vocab.encode("12345678", length=7)
    assert vocab.encode("1+2", length=5).tolist() == vocab.encode("1+2  ").tolist()
    config = {"src_length": 7, "reverse": True}
    assert vocab.decode(prepare_question("12+3", vocab, config)[0]) == "   3+21"


# ---------------------------------------------------------------- small-data training


def _reverse_task(n: int, length: int, letters: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.integers(3, 3 + letters, (n, length))
    return x, np.concatenate([np.full((n, 1), START), x[:, ::-1]], axis=1)


def _fit(model, x, t, epochs: int, lr: float = 0.01, batch: int = 64) -> None:
    opt = zn.optim.Adam(model.parameters(), lr=lr)
    rng = np.random.default_rng(0)
    for _ in range(epochs):
        perm = rng.permutation(len(x))
        for start in range(0, len(x), batch):
            index = perm[start:start + batch]
            loss = model.loss(x[index], t[index])
            opt.zero_grad()
            loss.backward()
            zn.optim.clip_grad_norm_(model.parameters(), 5.0)
            opt.step()


def test_attention_learns_to_reverse_unseen_strings():
    zn.manual_seed(0)
    x, t = _reverse_task(512, 5, 4, seed=0)
    x_test, t_test = _reverse_task(200, 5, 4, seed=1)
    model = AttentionSeq2Seq(3 + 4, 8, 32)
    _fit(model, x, t, epochs=12)
    assert exact_match_accuracy(model, x_test, t_test) == 1.0


@pytest.mark.parametrize("cls", [Seq2Seq, PeekySeq2Seq])
def test_encoder_decoder_learns_to_copy_short_strings(cls):
    zn.manual_seed(0)
    rng = np.random.default_rng(0)
    x = np.array([[a, b, c] for a in range(3, 6) for b in range(3, 6) for c in range(3, 6)])
    x = np.concatenate([x] * 8)[rng.permutation(27 * 8)]
    t = np.concatenate([np.full((len(x), 1), START), x], axis=1)
    model = cls(6, 8, 32)
    _fit(model, x, t, epochs=25, batch=32)
    assert exact_match_accuracy(model, x[:27 * 2], t[:27 * 2]) == 1.0


# ---------------------------------------------------------------- decoding


@pytest.mark.parametrize("cls", MODELS)
def test_beam_one_is_greedy_and_wider_beams_score_at_least_as_well(cls):
    zn.manual_seed(1)
    model = cls(9, 8, 16)
    src = np.random.default_rng(2).integers(0, 9, (6, 5))
    greedy = model.generate(src, START, 6)
    beam1, scores1, _ = model.beam_search(src, START, 6, beam_size=1, return_attention=True)
    np.testing.assert_array_equal(greedy, beam1)
    _, scores4, _ = model.beam_search(src, START, 6, beam_size=4, return_attention=True)
    assert np.all(scores4 >= scores1 - 1e-5)  # float32 logits differ slightly by batch size
    # the reported score is the sequence's log-probability under teacher forcing
    with zn.no_grad():
        model.eval()
        tgt_in = np.concatenate([np.full((6, 1), START), greedy[:, :-1]], axis=1)
        log_p = zn.F.log_softmax(model(src, tgt_in)).data.astype(np.float64)
    expected = np.take_along_axis(log_p, greedy[:, :, None], axis=2).sum(axis=(1, 2))
    np.testing.assert_allclose(scores1, expected, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("cls", MODELS)
def test_decoding_stops_at_the_end_symbol(cls):
    zn.manual_seed(3)
    model = cls(9, 8, 16)
    src = np.random.default_rng(4).integers(0, 9, (5, 4))
    free = model.generate(src, START, 5)
    # make the end symbol likely but not certain: some rows end early, others later or never
    model.output.bias.data[END] += 2.0
    for ids in (model.generate(src, START, 5, end_id=END), model.beam_search(src, START, 5, 3, end_id=END)):
        for row in np.asarray(ids):
            hits = np.flatnonzero(row == END)
            if hits.size:
                assert np.all(row[hits[0]:] == END)
    model.output.bias.data[END] += 100.0
    np.testing.assert_array_equal(model.generate(src, START, 5, end_id=END), np.full((5, 5), END))
    np.testing.assert_array_equal(model.beam_search(src, START, 5, 2, end_id=END), np.full((5, 5), END))
    assert free.shape == (5, 5)


def test_trained_model_ends_with_end_symbol_not_padding():
    """Variable-length copies end with END then PAD; decoding with end_id yields END, not PAD."""
    zn.manual_seed(0)
    rng = np.random.default_rng(5)
    n, width = 400, 5
    lengths = rng.integers(1, 4, n)
    x = np.full((n, width), PAD)
    t = np.full((n, width + 1), PAD)
    t[:, 0] = START
    for i, k in enumerate(lengths):
        x[i, :k] = rng.integers(3, 6, k)
        t[i, 1:k + 1] = x[i, :k]
        t[i, k + 1] = END
    model = AttentionSeq2Seq(6, 8, 32)
    _fit(model, x, t, epochs=15)
    plain = model.generate(x[:50], START, width)
    assert (plain == t[:50, 1:]).all(axis=1).mean() == 1.0  # learned: END then PAD
    for ids in (model.generate(x[:50], START, width, end_id=END), model.beam_search(x[:50], START, width, 3, END)):
        for row, k in zip(np.asarray(ids), lengths[:50]):
            assert row[k] == END and np.all(row[k:] == END)


def test_attention_weights_for_plotting():
    zn.manual_seed(0)
    model = AttentionSeq2Seq(9, 8, 16, bidirectional=True)
    src = np.random.default_rng(6).integers(0, 9, (3, 7))
    ids, weights = model.generate(src, START, 4, return_attention=True)
    assert ids.shape == (3, 4) and weights.shape == (3, 4, 7)
    np.testing.assert_allclose(weights.sum(axis=-1), 1, rtol=1e-5)
    logits, train_weights = model(src, np.zeros((3, 4), dtype=np.int64), return_attention=True)
    assert logits.shape == (3, 4, 9) and train_weights.shape == (3, 4, 7)
    assert Seq2Seq(9, 8, 16).generate(src, START, 2, return_attention=True)[1] is None


def test_config_round_trip_and_bad_inputs():
    model = PeekySeq2Seq(9, 4, 8, bidirectional=True)
    clone = build_seq2seq(model.config())
    clone.load_state_dict(model.state_dict())
    src = np.random.default_rng(7).integers(0, 9, (2, 3))
    np.testing.assert_array_equal(model.generate(src, 0, 3), clone.generate(src, 0, 3))
    with pytest.raises(ValueError, match="even hidden_size"):
        AttentionSeq2Seq(9, 4, 7, bidirectional=True)
    with pytest.raises(TypeError, match="integers"):
        model.generate(np.zeros((2, 3)), 0, 3)
    with pytest.raises(ValueError, match="unknown seq2seq model"):
        build_seq2seq({"model": "transformer", "vocab_size": 3})


# ---------------------------------------------------------------- command line


def test_cli_train_resume_translate(tmp_path, capsys):
    out = tmp_path / "run"
    common = ["seq2seq", "train", "--data", "addition", "--model", "attention", "--hidden", "16", "--reverse",
              "--max-train", "256", "--max-test", "64", "--quiet", "--out", str(out)]
    assert main(common + ["--epochs", "1"]) == 0
    assert main(common + ["--epochs", "2", "--resume"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert [row["epoch"] for row in metrics["history"]] == [1, 2]
    assert 0.0 <= metrics["final"]["test_accuracy"] <= 1.0
    assert (out / "accuracy.png").is_file()
    capsys.readouterr()
    heatmap = tmp_path / "attention.png"
    assert main(["seq2seq", "translate", "--ckpt", str(out), "--heatmap", str(heatmap), "16+75"]) == 0
    answer = capsys.readouterr().out.splitlines()[0]
    assert heatmap.is_file() and len(answer) <= 4
    model, vocab, config = load_seq2seq(out)
    text, weights = translate(model, vocab, config, "16+75", beam_size=2)
    assert weights.shape == (4, 7) and config["reverse"] is True and config["model"] == "attention"
    assert main(["seq2seq", "translate", "--ckpt", str(out), "1a+7b"]) == 1
    assert "'a', 'b'" in capsys.readouterr().err


def test_cli_compare_small(tmp_path):
    out = tmp_path / "cmp"
    assert main(["seq2seq", "compare", "--data", "addition", "--epochs", "1", "--hidden", "8", "--max-train", "128",
                 "--max-test", "32", "--quiet", "--out", str(out)]) == 0
    final = json.loads((out / "metrics.json").read_text())["final"]
    assert set(final) == {"test_accuracy_baseline", "test_accuracy_reversed", "test_accuracy_reversed_peeky"}
    assert (out / "compare.png").is_file()


def test_book_initialization():
    zn.manual_seed(0)
    model = AttentionSeq2Seq(30, 16, 64, init="book")
    assert model.config()["init"] == "book"
    assert abs(float(model.encoder.embed.weight.data.std()) - 0.01) < 0.002
    assert np.all(model.decoder_lstm.bias_hh_l0.data == 0) and np.all(model.output.bias.data == 0)
    assert abs(float(model.output.weight.data.std()) - 1 / np.sqrt(128)) < 0.01
    with pytest.raises(ValueError, match="init must be"):
        Seq2Seq(5, 4, 8, init="xavier")
