"""Language models: fused output layer, TBPTT batches, learning, generation, resume, NaN, CLI."""

import json
import warnings

import numpy as np
import pytest

import zeronlp as zn
from zeronlp.data import BPTTBatcher, TextCorpus, Vocabulary
from zeronlp.models import RNNLM, BetterRNNLM, generate, next_words, perplexity
from zeronlp.models.rnnlm import linear_softmax_cross_entropy, load_lm
from zeronlp.tasks import lm
from zeronlp.train import CHECKPOINT_NAME as CHECKPOINT
from zeronlp.train import TrainingDiverged

WORDS = "you say goodbye and i say hello .".split()


@pytest.fixture(scope="module")
def corpus():
    vocab = Vocabulary.build(WORDS, unk_token="<unk>")
    ids = vocab.encode(WORDS * 60)
    return TextCorpus(ids, ids[:200], ids[:200], vocab, False), {"tokenizer": "whitespace", "source": "tiny"}


def load_model(path):
    model, vocab, _ = load_lm(path)
    return model, vocab


def _train(corpus, **kwargs):
    options = dict(epochs=6, batch_size=4, bptt=8, lr=5.0, clip=1.0, quiet=True, corpus=corpus,
                   model_kwargs=dict(wordvec_size=16, hidden_size=16))
    options.update(kwargs)
    return lm.train("rnnlm", **options)


# ---------------------------------------------------------------------------- building blocks


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_fused_head_gradcheck_and_matches_composition(reduction):
    rng = np.random.default_rng(0)
    h, w, b = rng.standard_normal((6, 4)), rng.standard_normal((7, 4)), rng.standard_normal(7)
    t = rng.integers(0, 7, 6)
    zn.gradcheck(lambda h, w, b: linear_softmax_cross_entropy(h, w, b, t, reduction), [h, w, b])
    fused = [zn.Tensor(a, requires_grad=True) for a in (h, w, b)]
    plain = [zn.Tensor(a, requires_grad=True) for a in (h, w, b)]
    loss1 = linear_softmax_cross_entropy(*fused, t, reduction)
    loss2 = zn.F.softmax_cross_entropy(zn.F.linear(*plain), t, reduction=reduction)
    loss1.backward()
    loss2.backward()
    np.testing.assert_allclose(loss1.data, loss2.data)
    for a, c in zip(fused, plain):
        np.testing.assert_allclose(a.grad, c.grad, atol=1e-12)


def test_model_loss_equals_logits_loss():
    zn.manual_seed(0)
    model = BetterRNNLM(50, 8, 8, dropout=0.0)
    x = np.arange(12).reshape(2, 6) % 50
    t = (x + 1) % 50
    fused = model.loss(x, t).item()
    model.reset_state()
    plain = zn.F.softmax_cross_entropy(model(x), t).item()
    assert fused == pytest.approx(plain, rel=1e-5)
    assert model.embed.weight is model.output_layer()[0]  # tied weights
    names = [n for n, _ in model.named_parameters()]
    assert names.count("embed.weight") == 1 and "lstm.weight_hh_l1" in names


def test_bptt_batcher_streams():
    batcher = BPTTBatcher(np.arange(23), batch_size=2, bptt=4)
    windows = list(batcher)
    assert len(batcher) == len(windows) == 3
    x, t = windows[0]
    np.testing.assert_array_equal(x, [[0, 1, 2, 3], [11, 12, 13, 14]])
    np.testing.assert_array_equal(t, x + 1)
    np.testing.assert_array_equal(windows[1][0][:, 0], [4, 15])  # the streams continue
    assert windows[-1][0].shape == (2, 3)
    assert len(BPTTBatcher(np.arange(23), 2, 4, drop_last=True)) == 2
    with pytest.raises(ValueError, match="too short"):
        BPTTBatcher(np.arange(2), batch_size=4, bptt=3)


def test_state_is_carried_and_detached():
    zn.manual_seed(0)
    model = RNNLM(20, 6, 6)
    x = np.ones((2, 3), dtype=np.int64)
    first = model(x).data.copy()
    assert model.state is not None and model.state[0].creator is None
    second = model(x).data
    assert not np.allclose(first, second)  # continues from the stored state
    model.reset_state()
    np.testing.assert_allclose(model(x).data, first)


def test_bad_input_raises_value_error():
    model = RNNLM(20, 6, 6)
    with pytest.raises(ValueError, match=r"targets of shape \(2, 4\).*\(2, 3\)"):
        model.loss(np.ones((2, 3), dtype=np.int64), np.ones((2, 4), dtype=np.int64))
    with pytest.raises(ValueError, match="integer"):
        model(np.ones((2, 3), dtype=np.float32))


# ---------------------------------------------------------------------------- training


def test_tiny_corpus_is_learned(corpus):
    result = _train(corpus)
    history = result["history"]
    assert history[-1]["train_perplexity"] < 1.1
    assert result["final"]["test_perplexity"] < 1.1
    assert history[0]["lr"] == 5.0


@pytest.mark.parametrize("average", ["ema", "none"])
def test_kept_model_is_the_weight_average_unless_turned_off(corpus, tmp_path, average):
    result = _train(corpus, epochs=1, out_dir=tmp_path, average=average)
    record = zn.load(tmp_path / CHECKPOINT)
    kept, _ = load_model(tmp_path)
    kept_weights = kept.state_dict()
    raw = record["model"]
    if average == "none":
        assert "average" not in record
        expected = raw
    else:
        assert record["average"]["n_averaged"] == len(BPTTBatcher(corpus[0].train, 4, 8))
        expected = record["average"]["weights"]
        assert not np.allclose(expected["lstm.weight_hh_l0"], raw["lstm.weight_hh_l0"])
    for name, value in expected.items():
        np.testing.assert_array_equal(kept_weights[name], value)
        np.testing.assert_array_equal(result["model"].state_dict()[name], value)
    with pytest.raises(ValueError, match="unknown average 'swa'"):
        _train(corpus, epochs=1, average="swa")


def test_resume_gives_identical_next_epoch(corpus, tmp_path):
    straight = _train(corpus, epochs=2, out_dir=tmp_path / "a")
    _train(corpus, epochs=1, out_dir=tmp_path / "b")
    resumed = _train(corpus, epochs=2, out_dir=tmp_path / "b", resume=True)
    assert resumed["history"][1]["train_perplexity"] == straight["history"][1]["train_perplexity"]
    assert resumed["history"][1]["valid_perplexity"] == straight["history"][1]["valid_perplexity"]
    metrics = json.loads((tmp_path / "b" / "metrics.json").read_text())
    assert metrics["final"]["test_perplexity"] == pytest.approx(straight["final"]["test_perplexity"])
    assert (tmp_path / "b" / "ppl.png").stat().st_size > 0


def test_nan_loss_stops_and_keeps_checkpoint(corpus, tmp_path, monkeypatch):
    _train(corpus, epochs=1, out_dir=tmp_path)
    before = (tmp_path / CHECKPOINT).read_bytes()
    from zeronlp.models import rnnlm

    original = rnnlm._LanguageModel.loss
    calls = {"n": 0}

    def poisoned(self, ids, targets, reduction="mean"):
        calls["n"] += 1
        loss = original(self, ids, targets, reduction)
        if self.training and calls["n"] > 3:
            loss.data = loss.data * np.float32("nan")
        return loss

    monkeypatch.setattr(rnnlm._LanguageModel, "loss", poisoned)
    with pytest.raises(TrainingDiverged, match="loss became nan.*last good checkpoint"):
        _train(corpus, epochs=2, out_dir=tmp_path, resume=True)
    assert (tmp_path / CHECKPOINT).read_bytes() == before


# ---------------------------------------------------------------------------- generation


@pytest.fixture(scope="module")
def trained(corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("lm")
    _train(corpus, out_dir=out)
    return out


def test_next_words_sorted_and_probabilities(trained):
    model, vocab = load_model(trained)
    ranked = next_words(model, "you say goodbye and i say", k=5, vocab=vocab)
    probs = [p for _, p in ranked]
    assert probs == sorted(probs, reverse=True) and sum(probs) <= 1 + 1e-6
    assert ranked[0][0] == "hello"
    assert next_words(model, "you say", k=1, vocab=vocab)[0][0] == "goodbye"


def test_generate_reproducible_and_unknown_words_warn(trained, capsys):
    model, vocab = load_model(trained)
    zn.manual_seed(3)
    a = generate(model, "you say", 10, vocab=vocab)
    zn.manual_seed(3)
    b = generate(model, "you say", 10, vocab=vocab)
    assert a == b and len(a) == 12 and a[:2] == ["you", "say"]
    out = generate(model, "zebra say", 3, vocab=vocab, top_k=2, temperature=0.5)
    assert "'zebra' is not in the vocabulary (8 words); read as '<unk>'" in capsys.readouterr().err
    assert out[0] == "<unk>"
    assert generate(model, "You SAY", 1, vocab=vocab)[:2] == ["you", "say"]  # the lower-case rule
    ids = generate(model, [vocab["you"]], 4)
    assert all(isinstance(i, int) for i in ids)


def test_perplexity_of_untrained_model_is_near_vocab_size():
    zn.manual_seed(0)
    ids = np.random.default_rng(0).integers(0, 30, 500)
    ppl = perplexity(RNNLM(30, 8, 8), ids, batch_size=5, bptt=10)
    assert 20 < ppl < 45


def test_cli_train_generate_next(tmp_path, capsys, monkeypatch):
    from zeronlp.cli import main

    monkeypatch.chdir(tmp_path)
    out = tmp_path / "runs" / "rnnlm"  # the default --out is one directory per model
    assert main(["lm", "train", "--max-tokens", "1500", "--epochs", "1", "--batch-size", "5", "--bptt", "10",
                 "--quiet"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["final"]["test_perplexity"] > 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert main(["lm", "generate", "--ckpt", str(out), "--start", "the meaning of life is", "--length", "5"]) == 0
        assert main(["lm", "next", "--ckpt", str(out), "you say goodbye and i say", "-k", "3"]) == 0
    text = capsys.readouterr().out
    assert "the meaning of life is" in text and " 3. " in text


def test_cli_eval_split_and_file(trained, tmp_path, capsys):
    from zeronlp.cli import main

    model, vocab = load_model(trained)
    sample = tmp_path / "sample.txt"
    sample.write_text("you say goodbye and i say hello . " * 6 + "you say zebra .")  # one line, no <eos>
    # the tiny vocabulary has no <eos>: "zebra" and the line end are unknown
    assert main(["lm", "eval", "--ckpt", str(trained), "--file", str(sample), "--batch-size", "2",
                 "--bptt", "5"]) == 0
    expected = perplexity(model, vocab.encode(sample.read_text().split() + ["<eos>"]), 2, 5)
    captured = capsys.readouterr()
    assert "2 of 53 tokens are not in the model's vocabulary" in captured.err
    assert f"perplexity {expected:.2f} over 52 predicted tokens" in captured.out
    assert expected < 10  # the tiny corpus was learned

    # a PTB split is re-encoded by word when the model has its own vocabulary (here: 9 words)
    assert main(["lm", "eval", "--ckpt", str(trained), "--split", "valid"]) == 0
    ptb_ids, ptb_vocab = zn.data.load_ptb("valid")
    expected = perplexity(model, vocab.encode(ptb_vocab.decode(ptb_ids)), 10, 35)
    assert f"PTB valid: perplexity {expected:.2f} over {len(ptb_ids) - 1:,}" in capsys.readouterr().out

    (tmp_path / "empty.txt").write_text("\n \n")
    assert main(["lm", "eval", "--ckpt", str(trained), "--file", str(tmp_path / "empty.txt")]) == 2
    assert f"{tmp_path / 'empty.txt'}: is empty" in capsys.readouterr().err


def test_fused_head_row_chunks_match_composition():
    rng = np.random.default_rng(1)
    h, w, b = (rng.standard_normal(s).astype(np.float32) for s in ((300, 8), (50, 8), (50,)))
    t = rng.integers(0, 50, 300)
    fused = [zn.Tensor(a, requires_grad=True) for a in (h, w, b)]
    plain = [zn.Tensor(a, requires_grad=True) for a in (h, w, b)]
    loss1 = linear_softmax_cross_entropy(*fused, t)
    loss2 = zn.F.softmax_cross_entropy(zn.F.linear(*plain), t)
    loss1.backward()
    loss2.backward()
    assert loss1.dtype == np.float32
    np.testing.assert_allclose(loss1.data, loss2.data, rtol=1e-5)
    for a, c in zip(fused, plain):
        np.testing.assert_allclose(a.grad, c.grad, atol=1e-6)


def test_metrics_json_follows_the_run_epoch_by_epoch(corpus, tmp_path, monkeypatch):
    real, calls = lm.perplexity, []

    def interrupted_on_second_validation(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(lm, "perplexity", interrupted_on_second_validation)
    with pytest.raises(KeyboardInterrupt):
        _train(corpus, epochs=3, out_dir=tmp_path)
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert [row["epoch"] for row in metrics["history"]] == [1]
    assert metrics["final"]["epochs"] == 1 and "test_perplexity" not in metrics["final"]
    assert metrics["final"]["best_valid_perplexity"] == pytest.approx(metrics["history"][0]["valid_perplexity"])
