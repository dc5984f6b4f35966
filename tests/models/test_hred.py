"""HRED and VHRED on a synthetic dialogue task in which the reply depends on the turn two back."""

import numpy as np
import pytest

import zeronlp as zn
from zeronlp.models.hred import HRED, VHRED, build_dialogue_model
from zeronlp.models.vae import KLAnnealing
from zeronlp.train import Trainer, model_loss

SIZES = dict(embed_size=16, utterance_size=32, context_size=32, decoder_size=32)


def dialogues(rng, n):
    """Turn 1 names a key (4..7), turns 2 and 3 are small talk (8 or 9); the reply is ``key key+6``."""
    context = np.zeros((n, 3, 3), np.int64)  # pad 0, bos 1, eos 2
    keys = rng.integers(4, 8, n)
    context[:, :, 0], context[:, :, 2] = 1, 2
    context[:, 0, 1] = keys
    context[:, 1:, 1] = rng.integers(8, 10, (n, 2))
    reply = np.stack([np.ones(n, np.int64), keys, keys + 6, np.full(n, 2)], axis=1)
    return context, reply


def _accuracy(model, context, reply):
    return np.mean([g == list(r[1:3]) for g, r in zip(model.generate(context, max_len=4), reply)])


def _train(model, context, reply, steps, rng, lr=1e-2):
    opt = zn.optim.Adam(model.parameters(), lr=lr)
    for _ in range(steps):
        i = rng.integers(0, len(context), 64)
        loss = model.loss(context[i], reply[i])
        opt.zero_grad()
        loss.backward()
        opt.step()
    return float(loss.data)


def test_hred_uses_the_turn_two_back_and_beats_a_last_turn_model():
    rng = np.random.default_rng(0)
    context, reply = dialogues(rng, 2000)
    test_context, test_reply = dialogues(rng, 200)
    zn.manual_seed(0)
    hred = HRED(14, **SIZES)
    _train(hred, context, reply, 300, rng)
    assert _accuracy(hred, test_context, test_reply) > 0.7
    # the same model shown only the last turn (what seq2seq sees) cannot know the key: chance is 1/4
    zn.manual_seed(0)
    last_turn = HRED(14, **SIZES)
    _train(last_turn, context[:, -1:], reply, 100, rng)
    assert _accuracy(last_turn, test_context[:, -1:], test_reply) < 0.4


def test_hred_trains_with_the_trainer_and_pads_are_ignored():
    rng = np.random.default_rng(1)
    context, reply = dialogues(rng, 64)
    zn.manual_seed(0)
    model = HRED(14, **SIZES)
    trainer = Trainer(model, zn.optim.Adam(model.parameters(), lr=1e-2), model_loss, batch_size=32, quiet=True)
    history = trainer.fit((context, reply), epochs=2)
    assert np.isfinite(history[-1]["loss"])
    model.eval()
    padded = np.concatenate([reply, np.zeros((64, 2), np.int64)], axis=1)
    with zn.no_grad():
        np.testing.assert_allclose(model.loss(context, padded).data, model.loss(context, reply).data, rtol=1e-5)
        wider = np.concatenate([context, np.zeros((64, 3, 2), np.int64)], axis=2)  # longer turn padding
        np.testing.assert_allclose(model.encode_context(wider).data, model.encode_context(context).data, atol=1e-6)


def test_vhred_loss_kl_and_diverse_generation():
    rng = np.random.default_rng(2)
    context, reply = dialogues(rng, 500)
    zn.manual_seed(0)
    model = VHRED(14, latent_size=4, annealing=KLAnnealing("linear", x0=50), **SIZES)
    first = float(model.loss(context[:64], reply[:64]).data)
    assert model.last_terms["beta"] == 0.0
    last = _train(model, context, reply, 60, rng)
    assert last < first
    terms = model.last_terms
    assert terms["kl"] >= 0 and terms["beta"] == pytest.approx(1.0) and terms["tokens"] == 64 * 3
    zn.manual_seed(5)
    a = model.generate(context[:20], max_len=4, temperature=1.0)
    zn.manual_seed(5)
    assert model.generate(context[:20], max_len=4, temperature=1.0) == a  # reproducible with a seed
    zn.manual_seed(6)
    b = model.generate(context[:20], max_len=4, temperature=1.0)
    assert a != b  # z ~ p(z|c) (and sampling) vary the replies


def test_vhred_gradients_reach_prior_and_posterior():
    rng = np.random.default_rng(3)
    context, reply = dialogues(rng, 8)
    zn.manual_seed(0)
    model = VHRED(14, latent_size=3, annealing=KLAnnealing("constant"), **SIZES)
    model.loss(context, reply).backward()
    for name, param in model.named_parameters():
        if name.startswith(("prior", "posterior")):
            assert param.grad is not None and np.abs(param.grad).max() > 0, name


def test_config_round_trip():
    for model in (HRED(20, **SIZES), VHRED(20, latent_size=5, **SIZES)):
        rebuilt = build_dialogue_model(model.config())
        rebuilt.load_state_dict(model.state_dict())
        assert rebuilt.config() == model.config()
    with pytest.raises(ValueError, match="hred"):
        build_dialogue_model({"model": "seq2seq"})


def test_decoder_with_a_static_condition_equals_the_concatenation():
    """The decoder reads the condition as ``nn.LSTM(static=)`` (projected once per reply): HRED's loss and
    every gradient equal the concatenation of the condition to every step's input."""
    import zeronlp.functional as F

    rng = np.random.default_rng(5)
    context, reply = dialogues(rng, 6)
    zn.manual_seed(5)
    model = HRED(14, **SIZES)

    def concatenated(inputs, condition, state):
        n, steps = inputs.shape
        cond = F.broadcast_to(condition.reshape(n, 1, model.condition_size), (n, steps, model.condition_size))
        out, state = model.decoder(F.concat([model.embed(inputs), cond], axis=2), state)
        return model.output(out), state

    def loss_and_grads():
        model.zero_grad()
        loss = model.loss(context, reply)
        loss.backward()
        return [np.array(loss.data)] + [np.array(p.grad) for p in model.parameters()]

    got = loss_and_grads()
    model.decode = concatenated
    want = loss_and_grads()
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
