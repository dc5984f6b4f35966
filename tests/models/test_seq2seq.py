"""Seq2seq models: data loading and text format, small-data training, greedy vs beam search, end symbols,
loading a trained run. The command line is tested in ``tests/cli/test_seq2seq.py``."""

from __future__ import annotations

import numpy as np
import pytest

import zeronlp as zn
from zeronlp.data import CharVocabulary, load_seq
from zeronlp.data.seq import SeqCodec
from zeronlp.models import AttentionSeq2Seq, PeekySeq2Seq, Seq2Seq, build_seq2seq
from zeronlp.models.seq2seq import exact_match_accuracy
from zeronlp.models.seq2seq_io import load_seq2seq, translate

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
    with pytest.raises(zn.DataError, match=r"'x', 'z'"):
        vocab.encode("1+zx")
    with pytest.raises(ValueError, match="at most 7"):
        vocab.encode("12345678", length=7)
    assert vocab.encode("1+2", length=5).tolist() == vocab.encode("1+2  ").tolist()
    codec = SeqCodec.from_char_vocabulary(vocab, 7, 5, reverse=True)
    assert vocab.decode(codec.encode_source("12+3")) == "   3+21"
    with pytest.raises(zn.DataError, match=r"'a', 'b'"):
        codec.encode_source("1a+7b")
    with pytest.raises(zn.DataError, match="at most 7"):
        codec.encode_source("1234+5678")


def test_char_codec_is_the_books_format():
    codec = SeqCodec.build("char", ["ab c", "b"], ["x_y", "xy"])
    assert codec.src_length == 4 and codec.tgt_length == 4  # the longest target + the start symbol
    assert codec.start not in "ab cx_y" and codec.pad == " " and codec.end is None
    x, t = codec.encode_pairs(["b"], ["xy"])
    assert [codec.symbols[i] for i in x[0]] == list("b   ")
    assert [codec.symbols[i] for i in t[0]] == [codec.start, "x", "y", " "]
    assert codec.decode(t[0, 1:]) == "xy" and codec.source_labels("b") == list("b   ")
    rebuilt = SeqCodec.from_config(codec.to_config(), codec.symbols)
    np.testing.assert_array_equal(rebuilt.encode_source("ab c"), codec.encode_source("ab c"))
    with pytest.raises(zn.DataError, match=r"data.tsv, line 3: the source 'abcab' has 5 characters; .* at most 4"):
        codec.encode_pairs(["abcab"], ["x"], "data.tsv", first_line=3)


def test_word_codec_has_pad_start_end_and_unk():
    codec = SeqCodec.build("word", ["one two", "three"], ["uno dos", "tres"], vocab_lines=1)
    assert codec.symbols[:4] == ["<pad>", "<s>", "</s>", "<unk>"] and "three" not in codec.ids
    assert codec.src_length == 2 and codec.tgt_length == 4  # start + 2 words + end
    t = codec.encode_target("uno dos")
    assert [codec.symbols[i] for i in t] == ["<s>", "uno", "dos", "</s>"]
    assert [codec.symbols[i] for i in codec.encode_source("three")] == ["<unk>", "<pad>"]
    assert codec.unknown("one three four three") == ["three", "four"]
    end = codec.end_id
    assert codec.decode([codec.ids["uno"], end, codec.ids["dos"]]) == "uno"
    assert codec.answer_tokens([codec.ids["uno"], end, end]) == ["uno", "</s>"]
    simple = SeqCodec.build("word", ["Hello, World!"], ["hi"], tokenizer="simple")
    assert simple.tokens("Hello, World!") == ["hello", ",", "world", "!"]
    with pytest.raises(zn.UsageError, match="level"):
        SeqCodec.build("byte", ["a"], ["b"])


def test_exact_match_with_an_end_symbol_ignores_what_follows_it():
    class Echo:  # "generates" fixed ids
        def __init__(self, ids):
            self.ids = np.asarray(ids)

        def generate(self, src, start_id, length, end_id=None):
            return self.ids

    t = np.array([[0, 5, 1, 2], [0, 6, 7, 1]])  # start 0, end 1, pad 2
    assert exact_match_accuracy(Echo([[5, 1, 1], [6, 7, 1]]), t[:, :2], t, end_id=1) == 1.0
    assert exact_match_accuracy(Echo([[5, 1, 1], [6, 7, 2]]), t[:, :2], t, end_id=1) == 0.5
    assert exact_match_accuracy(Echo([[5, 1, 1], [6, 7, 1]]), t[:, :2], t) == 0.5  # without: every position


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
        build_seq2seq({"model": "gpt", "vocab_size": 3})


# ---------------------------------------------------------------- a trained run


def test_load_a_run_and_translate(tmp_path):
    codec = SeqCodec.build("word", ["one two", "three"], ["uno dos", "tres"], reverse=True)
    model = AttentionSeq2Seq(len(codec), 4, 8)
    zn.save({"model": dict(model.state_dict()), "config": model.config() | codec.to_config(),
             "vocab": codec.symbols}, tmp_path / "model.safetensors")
    loaded, loaded_codec = load_seq2seq(tmp_path)
    assert loaded_codec.symbols == codec.symbols and loaded_codec.reverse and not loaded.training
    for beam in (1, 3):
        result = translate(loaded, loaded_codec, "two one", beam_size=beam)
        assert result.weights.shape == (len(result.output_tokens), 2)
        assert result.input_tokens == ["two", "one"] and len(result.output_tokens) <= 3
        if result.output_tokens[-1] == "</s>":
            assert "</s>" not in result.answer
    (tmp_path / "empty").mkdir()
    with pytest.raises(zn.CheckpointError, match="no model.safetensors or checkpoint.safetensors"):
        load_seq2seq(tmp_path / "empty")
    with pytest.raises(zn.CheckpointError, match="no such run directory"):
        load_seq2seq(tmp_path / "missing")
    zn.save({"model": {}, "vocab": []}, tmp_path / "other.safetensors")
    with pytest.raises(zn.CheckpointError, match="not a seq2seq model"):
        load_seq2seq(tmp_path / "other.safetensors")


def test_book_initialization():
    zn.manual_seed(0)
    model = AttentionSeq2Seq(30, 16, 64, init="book")
    assert model.config()["init"] == "book"
    assert abs(float(model.encoder.embed.weight.data.std()) - 0.01) < 0.002
    assert np.all(model.decoder_lstm.bias_hh_l0.data == 0) and np.all(model.output.bias.data == 0)
    assert abs(float(model.output.weight.data.std()) - 1 / np.sqrt(128)) < 0.01
    with pytest.raises(ValueError, match="init must be"):
        Seq2Seq(5, 4, 8, init="xavier")


def test_peeky_decoder_with_a_static_input_equals_the_books_concatenation():
    """PeekySeq2Seq feeds h to its decoder LSTM as ``static`` (projected once); the loss and every
    gradient must equal the book's form, h concatenated to the embedding at every step."""
    import zeronlp.functional as F

    zn.manual_seed(4)
    model = PeekySeq2Seq(13, 8, 16)
    rng = np.random.default_rng(4)
    src, tgt = rng.integers(0, 13, (5, 7)), rng.integers(0, 13, (5, 6))

    def concatenated(tokens, state, memory):
        n, steps = tokens.shape
        peek = F.broadcast_to(memory["h"].reshape(n, 1, 16), (n, steps, 16))
        out, state = model.decoder_lstm(F.concat([model.decoder_embed(tokens), peek], axis=2), state)
        return model.output(F.concat([out, peek], axis=2)), state, None

    def loss_and_grads():
        model.zero_grad()
        loss = model.loss(src, tgt)
        loss.backward()
        grads = [np.array(p.grad.data if isinstance(p.grad, zn.Tensor) else p.grad) for p in model.parameters()]
        return [np.array(loss.data), *grads]

    got = loss_and_grads()
    model.decode = concatenated
    want = loss_and_grads()
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
