"""SentenceVAE: the KL term against its closed form, gradients, annealing, learning and posterior collapse."""

import math

import numpy as np
import pytest

import zeronlp as zn
from zeronlp.errors import CheckpointError
from zeronlp.gradcheck import gradcheck
from zeronlp.models.vae import (
    KLAnnealing,
    SentenceVAE,
    build_sentence_vae,
    check_vae_config,
    gaussian_kl,
    reparameterize,
    sample_with_kl,
    vae_parameter_shapes,
    word_dropout,
)

SENTENCES = [[4, 5, 6, 7], [4, 5, 8, 9], [10, 11, 12], [10, 13, 12, 14, 15], [6, 7, 8], [9, 9, 4],
             [15, 14, 13, 12], [5, 10]]


def _batch(sentences=SENTENCES):
    width = max(len(s) for s in sentences) + 2
    batch = np.zeros((len(sentences), width), np.int64)  # pad 0, bos 1, eos 2
    for i, s in enumerate(sentences):
        batch[i, :len(s) + 2] = [1, *s, 2]
    return batch


def _kl_full_covariance(mu_q, var_q, mu_p, var_p):
    """KL(N(mu_q, S_q) || N(mu_p, S_p)) = 1/2 [tr(S_p^-1 S_q) + d^T S_p^-1 d - k + ln det S_p / det S_q]."""
    s_q, s_p = np.diag(var_q), np.diag(var_p)
    inv = np.linalg.inv(s_p)
    d = mu_p - mu_q
    return 0.5 * (np.trace(inv @ s_q) + d @ inv @ d - len(mu_q) + np.log(np.linalg.det(s_p) / np.linalg.det(s_q)))


def test_gaussian_kl_matches_the_closed_form():
    rng = np.random.default_rng(0)
    mu, logvar = rng.standard_normal((3, 4)), rng.standard_normal((3, 4)) * 0.5
    mu_p, logvar_p = rng.standard_normal((3, 4)), rng.standard_normal((3, 4)) * 0.5
    standard = gaussian_kl(zn.tensor(mu), zn.tensor(logvar)).data
    general = gaussian_kl(zn.tensor(mu), zn.tensor(logvar), zn.tensor(mu_p), zn.tensor(logvar_p)).data
    for i in range(3):
        expected = _kl_full_covariance(mu[i], np.exp(logvar[i]), np.zeros(4), np.ones(4))
        np.testing.assert_allclose(standard[i], expected, rtol=1e-10)
        expected = _kl_full_covariance(mu[i], np.exp(logvar[i]), mu_p[i], np.exp(logvar_p[i]))
        np.testing.assert_allclose(general[i], expected, rtol=1e-10)
    assert gaussian_kl(zn.tensor(np.zeros((1, 4))), zn.tensor(np.zeros((1, 4)))).data[0] == 0.0
    with pytest.raises(ValueError, match="both"):
        gaussian_kl(zn.tensor(mu), zn.tensor(logvar), prior_mu=zn.tensor(mu_p))


def test_gaussian_kl_and_reparameterisation_gradients():
    rng = np.random.default_rng(1)
    mu, logvar, mu_p, logvar_p = (rng.standard_normal((2, 3)) for _ in range(4))
    assert gradcheck(gaussian_kl, [mu, logvar])
    assert gradcheck(gaussian_kl, [mu, logvar, mu_p, logvar_p])

    def sampled(m, lv):
        zn.manual_seed(5)  # the same eps every call: z is a deterministic function of (mu, logvar)
        return reparameterize(m, lv)

    assert gradcheck(sampled, [mu, logvar])
    zn.manual_seed(5)
    z = reparameterize(zn.tensor(mu), zn.tensor(logvar)).data
    zn.manual_seed(5)
    eps = zn.backend.get_rng().standard_normal(mu.shape)
    np.testing.assert_allclose(z, mu + np.exp(logvar / 2) * eps)


def test_whole_loss_gradcheck_float64():
    zn.set_default_dtype(np.float64)
    try:
        zn.manual_seed(0)
        model = SentenceVAE(16, embed_size=5, hidden_size=6, latent_size=3, word_dropout=0.0,
                            annealing=KLAnnealing("constant", max_beta=0.7))
        batch = _batch(SENTENCES[:3])
        for layer, name in ((model.to_logvar, "weight"), (model.latent_to_hidden, "bias")):
            original = getattr(layer, name)

            def loss_of(value, layer=layer, name=name, original=original):
                object.__setattr__(layer, name, value)
                try:
                    zn.manual_seed(1)
                    return model.loss(batch)
                finally:
                    object.__setattr__(layer, name, original)

            assert gradcheck(loss_of, [original.data.copy()])
        assert model.last_terms["beta"] == 0.7
    finally:
        zn.set_default_dtype(np.float32)


def test_kl_annealing_schedules_and_state():
    logistic = KLAnnealing("logistic", x0=100, k=0.1)
    assert logistic(100) == pytest.approx(0.5) and logistic(0) < 1e-4 and logistic(200) > 0.9999
    linear = KLAnnealing("linear", x0=10, max_beta=0.5)
    assert [linear(s) for s in (0, 5, 10, 50)] == [0.0, 0.25, 0.5, 0.5]
    assert KLAnnealing("constant")(0) == 1.0
    for _ in range(7):
        linear.step()
    assert linear.beta == pytest.approx(0.35)
    fresh = KLAnnealing("linear", x0=10, max_beta=0.5)
    fresh.load_state_dict(linear.state_dict())
    assert fresh.steps == 7
    with pytest.raises(ValueError, match="kind"):
        KLAnnealing("cyclic")


def test_word_dropout_spares_bos_and_padding():
    zn.manual_seed(0)
    ids = np.array([[1, 5, 6, 7, 0, 0]] * 200)
    out = word_dropout(ids, 0.5, unk_id=3, keep=(ids == 0) | (ids == 1))
    assert (out[:, 0] == 1).all() and (out[:, 4:] == 0).all()
    rate = (out[:, 1:4] == 3).mean()
    assert 0.4 < rate < 0.6
    assert word_dropout(ids, 0.0, 3) is ids


def _train(word_drop, annealing, steps=300):
    zn.manual_seed(0)
    model = SentenceVAE(16, embed_size=16, hidden_size=32, latent_size=4, word_dropout=word_drop,
                        annealing=annealing)
    opt = zn.optim.Adam(model.parameters(), lr=1e-2)
    batch = _batch()
    for _ in range(steps):
        loss = model.loss(batch)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model, model.elbo_terms(batch)


def test_learns_a_tiny_corpus_and_annealing_with_word_dropout_avoids_collapse():
    model, terms = _train(0.5, KLAnnealing("linear", x0=100))
    start = math.log(16) * 5  # about the NLL of a sentence under uniform guessing
    assert terms["elbo_nll"] < 3.0 < start
    assert terms["kl"] > 0.5  # z carries information about the sentence
    mu, _ = model.encode(_batch())
    assert sum(a == b for a, b in zip(model.decode_greedy(mu.data), SENTENCES)) >= 4
    _, collapsed = _train(0.0, KLAnnealing("constant"))
    assert collapsed["kl"] < 0.05 < terms["kl"] / 10  # the paper's collapse without the two tricks


def test_sample_and_interpolate_are_reproducible():
    model = SentenceVAE(16, embed_size=8, hidden_size=8, latent_size=2)
    zn.manual_seed(2)
    a = model.sample(3, max_len=6)
    zn.manual_seed(2)
    assert model.sample(3, max_len=6) == a and len(a) == 3 and all(len(s) <= 6 for s in a)
    zn.manual_seed(2)
    t = model.sample(2, max_len=6, temperature=1.0)
    zn.manual_seed(2)
    assert model.sample(2, max_len=6, temperature=1.0) == t
    path = model.interpolate([1, 4, 5, 2], [1, 10, 11, 12, 2], steps=4, max_len=6)
    assert len(path) == 4
    with pytest.raises(ValueError, match="steps"):
        model.interpolate([1, 2], [1, 2], steps=1)


def test_config_round_trip():
    model = SentenceVAE(20, latent_size=5, word_dropout=0.3)
    rebuilt = build_sentence_vae(model.config())
    rebuilt.load_state_dict(model.state_dict())
    assert rebuilt.config() == model.config() and model.config()["model"] == "vae"


def test_config_keeps_the_annealing_schedule():
    model = SentenceVAE(20, annealing=KLAnnealing("linear", x0=30, max_beta=0.5))
    rebuilt = build_sentence_vae(model.config())
    assert rebuilt.annealing.config() == {"kind": "linear", "x0": 30, "k": 0.0025, "max_beta": 0.5}
    assert rebuilt.annealing.steps == 0


def test_shape_formula_matches_the_built_model_and_bad_configs_are_refused():
    model = SentenceVAE(23, embed_size=5, hidden_size=7, latent_size=3)
    config = check_vae_config(model.config())
    assert vae_parameter_shapes(config) == {k: v.shape for k, v in model.state_dict().items()}
    for change, field in (({"vocab_size": -1}, "vocab_size"), ({"unk_id": 23}, "unk_id"), ({"bos_id": 0}, "ids"),
                          ({"word_dropout": "x"}, "word_dropout"), ({"annealing": {"kind": "cyclic"}}, "kind")):
        with pytest.raises(CheckpointError, match=field):
            check_vae_config(model.config() | change, "m.safetensors")


def test_sample_with_kl_is_reparameterize_and_gaussian_kl():
    rng = np.random.default_rng(3)
    mu, logvar = zn.tensor(rng.standard_normal((4, 3))), zn.tensor(rng.standard_normal((4, 3)))
    zn.manual_seed(7)
    z, kl = sample_with_kl(mu, logvar)
    zn.manual_seed(7)
    np.testing.assert_allclose(z.data, reparameterize(mu, logvar).data, rtol=1e-12)
    np.testing.assert_allclose(kl.data, gaussian_kl(mu, logvar).data, rtol=1e-12)


def test_training_gradients_are_bitwise_repeatable():
    """The same step twice gives the same gradients bit for bit (exact resume depends on it), whatever
    the memory layout of the graph's Functions."""
    zn.manual_seed(0)
    model = SentenceVAE(16, embed_size=8, hidden_size=8, latent_size=2, annealing=KLAnnealing("constant"))
    grads, keep = [], []
    for _ in range(6):
        keep.append(np.empty(int(np.random.default_rng().integers(1, 4096)), np.uint8))  # move the allocations
        zn.manual_seed(1)
        model.zero_grad()
        model.loss(_batch()).backward()
        grads.append({name: p.grad.copy() for name, p in model.named_parameters()})
    for other in grads[1:]:
        for name, grad in grads[0].items():
            np.testing.assert_array_equal(other[name], grad, err_msg=name)
