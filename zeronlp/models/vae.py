"""Sentence VAE (Bowman et al. 2016, "Generating Sentences from a Continuous Space").

An LSTM encoder reads a sentence x and gives a diagonal Gaussian ``q(z|x) = N(mu, diag(sigma^2))``
(``mu`` and ``log sigma^2`` from two Linear layers on its last state); ``z = mu + sigma * eps``,
``eps ~ N(0, I)`` drawn from the backend's Generator (the reparameterisation trick, so gradients
reach mu and sigma); an LSTM decoder starts from ``h_0 = W z + b`` and reads the sentence shifted
right. Training minimises the negative ELBO per sentence::

    L = -E_q[log p(x|z)] + beta * KL(q(z|x) || N(0, I)),   KL = -1/2 sum_j (1 + log s_j^2 - m_j^2 - s_j^2)

With a strong decoder the KL term collapses to 0 (z is ignored); the paper's two remedies are here:
**KL annealing** (``beta`` grows from 0 to 1 along the training steps, :class:`KLAnnealing`) and
**word dropout** (decoder inputs replaced by ``<unk>`` with probability ``word_dropout``, so the
decoder must lean on z). In eval mode the loss is the true bound (``beta = 1``, no word dropout).

Batches are ``tokens (N, T)``: ``bos w_1 ... w_n eos pad ...``. The shared pieces
(:func:`gaussian_kl`, :func:`reparameterize`, :class:`KLAnnealing`, :func:`word_dropout`) also
serve VHRED (:mod:`.hred`).
"""

from __future__ import annotations

import contextlib
import math
import os
from typing import Any

import numpy as np

from .. import backend, nn
from .. import functional as F
from ..autograd import Tensor, no_grad
from ..data.vocab import Vocabulary, vocabulary_from_record
from ..errors import CheckpointError
from ..serialization import (
    check_shapes,
    config_choice,
    config_float,
    config_int,
    load,
    run_file,
)

# ---------------------------------------------------------------------------- shared pieces


def gaussian_kl(mu: Any, logvar: Any, prior_mu: Any = None, prior_logvar: Any = None) -> Tensor:
    """``KL(N(mu, e^logvar) || N(prior_mu, e^prior_logvar))`` summed over the last axis, per row.

    Against the standard normal (no prior given): ``-1/2 sum(1 + logvar - mu^2 - e^logvar)``;
    against a diagonal Gaussian prior: ``1/2 sum(lv_p - lv_q + (e^lv_q + (mu_q - mu_p)^2) / e^lv_p - 1)``.
    """
    if prior_mu is None and prior_logvar is None:
        return -0.5 * F.sum(1.0 + logvar - mu * mu - F.exp(logvar), axis=-1)
    if prior_mu is None or prior_logvar is None:
        raise ValueError("gaussian_kl: give both prior_mu and prior_logvar, or neither")
    diff = mu - prior_mu
    return 0.5 * F.sum(prior_logvar - logvar + (F.exp(logvar) + diff * diff) * F.exp(-prior_logvar) - 1.0, axis=-1)


def reparameterize(mu: Tensor, logvar: Tensor) -> Tensor:
    """``z = mu + exp(logvar / 2) * eps`` with ``eps ~ N(0, I)`` from the backend's Generator."""
    eps = backend.get_rng().standard_normal(mu.shape).astype(mu.dtype)
    return mu + F.exp(0.5 * logvar) * eps


def sample_with_kl(mu: Tensor, logvar: Tensor) -> tuple[Tensor, Tensor]:
    """``(z, KL per row)``: :func:`reparameterize` and :func:`gaussian_kl` (standard-normal prior) in one graph.

    ``sigma = exp(logvar / 2)``, ``z = mu + sigma * eps``, ``KL = -1/2 sum(1 + logvar - mu^2 - sigma^2)``:
    the same values, built so that ``mu``, ``logvar`` and ``sigma`` each feed exactly two Functions. A
    tensor's gradient is then a sum of two parts, whose order cannot change the float result, so
    training (and a resumed run) is bitwise repeatable; with three or more parts from Functions of
    the same generation the autograd's order between them depends on where they sit in memory.
    """
    sigma = F.exp(0.5 * logvar)
    eps = backend.get_rng().standard_normal(mu.shape).astype(mu.dtype)
    return mu + sigma * eps, -0.5 * F.sum(1.0 + logvar - mu ** 2 - sigma ** 2, axis=-1)


def word_dropout(ids: Any, p: float, unk_id: int, keep: Any = None) -> Any:
    """``ids`` with each position replaced by ``unk_id`` with probability ``p`` (never where ``keep``)."""
    if p <= 0:
        return ids
    xp = backend.get_array_module(ids)
    drop = backend.get_rng().random(ids.shape) < p
    if keep is not None:
        drop &= ~keep
    return xp.where(drop, unk_id, ids)


class KLAnnealing:
    """The KL weight ``beta`` as a function of the training step (Bowman et al.'s KL cost annealing).

    ``kind="logistic"``: ``beta = 1 / (1 + exp(-k (step - x0)))`` (the paper's); ``"linear"``:
    ``beta = min(1, step / x0)``; ``"constant"``: ``beta = max_beta`` always (no annealing: shows the
    collapse). Scaled by ``max_beta``. The model calls :meth:`step` once per training loss; the object
    has ``state_dict``/``load_state_dict``, so passing it in the Trainer's ``callbacks`` saves and
    resumes the position exactly.
    """

    def __init__(self, kind: str = "logistic", x0: int = 2500, k: float = 0.0025, max_beta: float = 1.0):
        if kind not in ("logistic", "linear", "constant"):
            raise ValueError(f"KLAnnealing: kind must be 'logistic', 'linear' or 'constant', got {kind!r}")
        if x0 < 0 or k <= 0 or max_beta < 0:
            raise ValueError(f"KLAnnealing: need x0 >= 0, k > 0 and max_beta >= 0, got {x0}, {k}, {max_beta}")
        self.kind, self.x0, self.k, self.max_beta = kind, x0, k, max_beta
        self.steps = 0

    def __call__(self, step: int | None = None) -> float:
        step = self.steps if step is None else step
        if self.kind == "constant":
            return self.max_beta
        if self.kind == "linear":
            return self.max_beta * (min(1.0, step / self.x0) if self.x0 else 1.0)
        return self.max_beta / (1.0 + math.exp(-self.k * (step - self.x0)))

    @property
    def beta(self) -> float:
        return self(self.steps)

    def step(self) -> float:
        """Advance one training step; returns the beta to use for it."""
        beta = self(self.steps)
        self.steps += 1
        return beta

    def config(self) -> dict[str, Any]:
        """The schedule's settings (JSON-able): ``KLAnnealing(**config)`` rebuilds it at step 0."""
        return {"kind": self.kind, "x0": self.x0, "k": self.k, "max_beta": self.max_beta}

    def state_dict(self) -> dict[str, Any]:
        return {"steps": self.steps}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        steps = state.get("steps", 0) if isinstance(state, dict) else None
        if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 0:
            raise CheckpointError(f"field callbacks: the KL annealing's saved step {str(steps)[:40]!r} is not a "
                                  "non-negative integer")
        self.steps = int(steps)

    def __repr__(self) -> str:
        return (f"KLAnnealing(kind={self.kind!r}, x0={self.x0}, k={self.k}, max_beta={self.max_beta}, "
                f"steps={self.steps})")


def lengths_of(tokens: Any, pad_id: int) -> Any:
    """The number of non-pad positions of each row of ``tokens (N, T)`` (pads only at the end)."""
    return (tokens != pad_id).sum(axis=1)


def last_states(hs: Tensor, lengths: Any) -> Tensor:
    """``hs[i, lengths[i] - 1]`` for each row: the encoder state after the last real token ``(N, H)``."""
    xp = backend.get_array_module(hs.data)
    index = xp.maximum(xp.asarray(lengths) - 1, 0)
    return hs[xp.arange(hs.shape[0]), index]


@contextlib.contextmanager
def inference(model: nn.Module):
    """Eval mode and no gradients, restoring the model's mode afterwards."""
    was_training = model.training
    model.eval()
    try:
        with no_grad():
            yield
    finally:
        model.train(was_training)


def greedy_or_sample(logits: Any, temperature: float, rng: Any) -> Any:
    """Next ids from logits ``(N, V)``: argmax when ``temperature == 0``, else a softmax(logits / T) draw."""
    xp = backend.get_array_module(logits)
    if temperature == 0:
        return logits.argmax(axis=-1)
    z = logits.astype(np.float64) / temperature
    p = xp.exp(z - z.max(axis=-1, keepdims=True))
    cdf = xp.cumsum(p / p.sum(axis=-1, keepdims=True), axis=-1)
    u = xp.asarray(rng.random((logits.shape[0], 1)))
    return xp.minimum((cdf < u).sum(axis=-1), logits.shape[-1] - 1)


# ---------------------------------------------------------------------------- the model


class SentenceVAE(nn.Module):
    """Bowman et al.'s sentence VAE: LSTM encoder -> (mu, log sigma^2) -> z -> LSTM decoder.

    ``loss(tokens)`` is the annealed negative ELBO per sentence (see the module docstring);
    ``elbo_terms(tokens)`` gives its parts as floats; ``last_terms`` holds those of the last
    ``loss`` call (``nll``, ``kl``, ``beta``, ``tokens``, summed over the batch). ``sample(n)`` decodes
    from ``z ~ N(0, I)``, ``interpolate(a, b)`` from points on the line between two sentences'
    posterior means.
    """

    kind = "vae"

    def __init__(self, vocab_size: int, embed_size: int = 64, hidden_size: int = 128, latent_size: int = 16,
                 word_dropout: float = 0.25, bos_id: int = 1, eos_id: int = 2, pad_id: int = 0, unk_id: int = 3,
                 annealing: KLAnnealing | None = None):
        super().__init__()
        if not 0 <= word_dropout <= 1:
            raise ValueError(f"SentenceVAE: word_dropout must be in [0, 1], got {word_dropout}")
        self.vocab_size, self.embed_size, self.hidden_size = vocab_size, embed_size, hidden_size
        self.latent_size, self.word_dropout = latent_size, word_dropout
        self.bos_id, self.eos_id, self.pad_id, self.unk_id = bos_id, eos_id, pad_id, unk_id
        self.annealing = annealing if annealing is not None else KLAnnealing()
        self.embed = nn.Embedding(vocab_size, embed_size, padding_idx=pad_id)
        self.encoder = nn.LSTM(embed_size, hidden_size)
        self.to_mu = nn.Linear(hidden_size, latent_size)
        self.to_logvar = nn.Linear(hidden_size, latent_size)
        self.latent_to_hidden = nn.Linear(latent_size, hidden_size)
        self.decoder = nn.LSTM(embed_size, hidden_size)
        self.output = nn.Linear(hidden_size, vocab_size)
        self.last_terms: dict[str, float] = {}

    def config(self) -> dict[str, Any]:
        return {"model": self.kind, "vocab_size": self.vocab_size, "embed_size": self.embed_size,
                "hidden_size": self.hidden_size, "latent_size": self.latent_size,
                "word_dropout": self.word_dropout, "bos_id": self.bos_id, "eos_id": self.eos_id,
                "pad_id": self.pad_id, "unk_id": self.unk_id, "annealing": self.annealing.config()}

    def extra_repr(self) -> str:
        return f"vocab_size={self.vocab_size}, hidden_size={self.hidden_size}, latent_size={self.latent_size}"

    # ---- pieces --------------------------------------------------------------------------------
    def encode(self, tokens: Any) -> tuple[Tensor, Tensor]:
        """``(mu, logvar)``, each ``(N, latent)``, of q(z|x) for ``tokens (N, T)``."""
        tokens = F.as_ids(tokens, type(self).__name__, ndim=2)
        hs, _ = self.encoder(self.embed(tokens))
        h = last_states(hs, lengths_of(tokens, self.pad_id))
        return self.to_mu(h), self.to_logvar(h)

    def initial_state(self, z: Tensor) -> tuple[Tensor, Tensor]:
        h = self.latent_to_hidden(z)
        h = h.reshape(1, *h.shape)
        return h, Tensor(backend.xp().zeros(h.shape, dtype=h.dtype))

    def decode(self, inputs: Any, state: tuple[Tensor, Tensor]) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        """Logits ``(N, T, V)`` for decoder inputs ``(N, T)`` from ``state``, and the new state."""
        out, state = self.decoder(self.embed(inputs), state)
        return self.output(out), state

    # ---- training ------------------------------------------------------------------------------
    def forward(self, tokens: Any) -> tuple[Tensor, Tensor, Tensor]:
        """``(logits (N, T-1, V), mu, logvar)``: the reconstruction of ``tokens[:, 1:]``."""
        tokens = F.as_ids(tokens, type(self).__name__, ndim=2)
        mu, logvar = self.encode(tokens)
        z = reparameterize(mu, logvar) if self.training else mu
        inputs = tokens[:, :-1]
        if self.training:
            inputs = word_dropout(inputs, self.word_dropout, self.unk_id,
                                  keep=(inputs == self.pad_id) | (inputs == self.bos_id))
        logits, _ = self.decode(inputs, self.initial_state(z))
        return logits, mu, logvar

    def _terms(self, tokens: Any) -> tuple[Tensor, Tensor, int]:
        """Summed reconstruction NLL and KL of ``tokens``, and the number of predicted tokens:
        :meth:`forward`'s computation, with z and the KL from :func:`sample_with_kl` in training."""
        tokens = F.as_ids(tokens, type(self).__name__, ndim=2)
        mu, logvar = self.encode(tokens)
        if self.training:
            z, kl_rows = sample_with_kl(mu, logvar)
        else:
            z, kl_rows = mu, gaussian_kl(mu, logvar)
        inputs = tokens[:, :-1]
        if self.training:
            inputs = word_dropout(inputs, self.word_dropout, self.unk_id,
                                  keep=(inputs == self.pad_id) | (inputs == self.bos_id))
        logits, _ = self.decode(inputs, self.initial_state(z))
        targets = tokens[:, 1:]
        nll = F.softmax_cross_entropy(logits, targets, ignore_index=self.pad_id, reduction="sum")
        return nll, F.sum(kl_rows), int((targets != self.pad_id).sum())

    def loss(self, tokens: Any) -> Tensor:
        """``(NLL + beta KL) / N``: the annealed negative ELBO per sentence (beta = 1 in eval mode)."""
        nll, kl, count = self._terms(tokens)
        beta = self.annealing.step() if self.training else 1.0
        n = tokens.shape[0]
        self.last_terms = {"nll": float(nll.data), "kl": float(kl.data), "beta": beta, "tokens": count,
                           "sentences": n}
        return (nll + beta * kl) / n

    def elbo_terms(self, tokens: Any, batch_size: int = 256) -> dict[str, float]:
        """Reconstruction NLL, KL and the perplexity bound over ``tokens``, in eval mode (no word dropout).

        Returns per-sentence ``nll`` (reconstruction) and ``kl``, ``elbo_nll = nll + kl`` (the bound on
        -log p(x)), and ``ppl_bound = exp(total bound / tokens)``. z is drawn from q(z|x) (one sample).
        Each batch is cut to its longest row (pads only at the end), so rows sorted by length cost
        no padding; ``elbo_sums`` gives the sums the averages are made of.
        """
        sums = self.elbo_sums(tokens, batch_size)
        nll, kl, count = sums["nll"], sums["kl"], sums["tokens"]
        n = max(sums["sentences"], 1)
        return {"nll": nll / n, "kl": kl / n, "elbo_nll": (nll + kl) / n,
                "ppl_bound": math.exp(min((nll + kl) / max(count, 1), 700.0))}

    def elbo_sums(self, tokens: Any, batch_size: int = 256) -> dict[str, float]:
        """Summed reconstruction ``nll`` and ``kl`` over the rows of ``tokens (N, T)`` (eval mode, one
        z ~ q(z|x) each), with the number of ``sentences`` and predicted ``tokens``."""
        tokens = np.asarray(backend.to_numpy(tokens))
        nll = kl = 0.0
        count = 0
        with inference(self):
            for start in range(0, len(tokens), batch_size):
                rows = tokens[start:start + batch_size]
                width = max(int(lengths_of(rows, self.pad_id).max()), 2) if len(rows) else rows.shape[1]
                batch = F.as_ids(np.ascontiguousarray(rows[:, :width]), type(self).__name__, ndim=2)
                mu, logvar = self.encode(batch)
                z = reparameterize(mu, logvar)
                logits, _ = self.decode(batch[:, :-1], self.initial_state(z))
                nll += float(F.softmax_cross_entropy(logits, batch[:, 1:], ignore_index=self.pad_id,
                                                     reduction="sum").data)
                kl += float(F.sum(gaussian_kl(mu, logvar)).data)
                count += int((batch[:, 1:] != self.pad_id).sum())
        return {"nll": nll, "kl": kl, "sentences": len(tokens), "tokens": count}

    # ---- generation ----------------------------------------------------------------------------
    def decode_greedy(self, z: Any, max_len: int = 30, temperature: float = 0.0, rng: Any = None) -> list[list[int]]:
        """Decode each row of ``z (N, latent)`` until ``eos`` (not included) or ``max_len`` ids."""
        xp = backend.xp()
        rng = rng or backend.get_rng()
        with inference(self):
            z = z if isinstance(z, Tensor) else Tensor(xp.asarray(z, dtype=backend.get_default_dtype()))
            state = self.initial_state(z)
            tokens = xp.full((z.shape[0], 1), self.bos_id, dtype=np.int64)
            outputs = []
            for _ in range(max_len):
                logits, state = self.decode(tokens, state)
                tokens = greedy_or_sample(logits.data[:, -1], temperature, rng)[:, None]
                outputs.append(tokens[:, 0])
        ids = backend.to_numpy(xp.stack(outputs, axis=1)) if outputs else np.zeros((z.shape[0], 0), np.int64)
        result = []
        for row in ids.tolist():
            result.append(row[:row.index(self.eos_id)] if self.eos_id in row else row)
        return result

    def sample(self, n: int, max_len: int = 30, temperature: float = 0.0) -> list[list[int]]:
        """``n`` sentences (id lists) decoded from ``z ~ N(0, I)`` (greedy, or sampled with a temperature)."""
        z = backend.get_rng().standard_normal((n, self.latent_size)).astype(backend.get_default_dtype())
        return self.decode_greedy(z, max_len, temperature)

    def interpolate(self, a: Any, b: Any, steps: int = 5, max_len: int = 30) -> list[list[int]]:
        """Greedy decodings of ``steps`` points from mu(a) to mu(b) (``a``, ``b``: token id sequences
        ``bos ... eos``), both ends included: the paper's homotopies."""
        if steps < 2:
            raise ValueError(f"interpolate: steps must be at least 2, got {steps}")
        width = max(len(a), len(b))
        batch = np.full((2, width), self.pad_id, dtype=np.int64)
        batch[0, :len(a)], batch[1, :len(b)] = a, b
        with inference(self):
            mu, _ = self.encode(batch)
        ends = mu.data
        t = backend.xp().linspace(0.0, 1.0, steps, dtype=ends.dtype)[:, None]
        return self.decode_greedy((1 - t) * ends[0] + t * ends[1], max_len)


def build_sentence_vae(config: dict[str, Any]) -> SentenceVAE:
    """Rebuild a :class:`SentenceVAE` from its :meth:`~SentenceVAE.config` (the annealing at step 0)."""
    options = {k: v for k, v in config.items() if k not in ("model", "annealing")}
    if config.get("model", "vae") != "vae":
        raise ValueError(f"build_sentence_vae: not a VAE config (model={config.get('model')!r})")
    annealing = config.get("annealing")
    return SentenceVAE(**options, annealing=KLAnnealing(**annealing) if annealing is not None else None)


# ---------------------------------------------------------------------------- loading a trained run

MAX_SIZE = 1 << 24  # a bound on any one size in a stored config; the tensors then bound the rest
SPECIAL_IDS = ("pad_id", "bos_id", "eos_id", "unk_id")


def check_vae_config(config: Any, source: Any = "config") -> dict[str, Any]:
    """A stored :meth:`SentenceVAE.config`, checked field by field (types, ranges); builds nothing.

    Raises :class:`CheckpointError` naming ``source`` and the field.
    """
    config_choice(config, "model", source, ("vae",))
    checked: dict[str, Any] = {"model": "vae"}
    for key in ("vocab_size", "embed_size", "hidden_size", "latent_size"):
        checked[key] = config_int(config, key, source, low=1, high=MAX_SIZE)
    checked["word_dropout"] = config_float(config, "word_dropout", source, 0.0, 1.0)
    for key in SPECIAL_IDS:
        checked[key] = config_int(config, key, source, low=0, high=checked["vocab_size"] - 1)
    if len({checked[key] for key in SPECIAL_IDS}) != len(SPECIAL_IDS):
        raise CheckpointError(f"{source}: field config: {', '.join(SPECIAL_IDS)} must be four different ids")
    annealing = config.get("annealing", {"kind": "logistic", "x0": 2500, "k": 0.0025, "max_beta": 1.0})
    where = "config/annealing/"
    checked["annealing"] = {
        "kind": config_choice(annealing, "kind", source, ("logistic", "linear", "constant"), where=where),
        "x0": config_int(annealing, "x0", source, low=0, where=where),
        "k": config_float(annealing, "k", source, 1e-12, 1e6, where=where),
        "max_beta": config_float(annealing, "max_beta", source, 0.0, 1e6, where=where)}
    return checked


def vae_parameter_shapes(config: dict[str, Any]) -> dict[str, tuple[int, ...]]:
    """Name and shape of every parameter of the :class:`SentenceVAE` a checked ``config`` describes."""
    vocab, embed, hidden, latent = (config[k] for k in ("vocab_size", "embed_size", "hidden_size", "latent_size"))
    shapes: dict[str, tuple[int, ...]] = {"embed.weight": (vocab, embed)}
    for name in ("encoder", "decoder"):
        shapes |= {f"{name}.weight_ih_l0": (4 * hidden, embed), f"{name}.weight_hh_l0": (4 * hidden, hidden),
                   f"{name}.bias_ih_l0": (4 * hidden,), f"{name}.bias_hh_l0": (4 * hidden,)}
    for name in ("to_mu", "to_logvar"):
        shapes |= {f"{name}.weight": (latent, hidden), f"{name}.bias": (latent,)}
    shapes |= {"latent_to_hidden.weight": (hidden, latent), "latent_to_hidden.bias": (hidden,),
               "output.weight": (vocab, hidden), "output.bias": (vocab,)}
    return shapes


def load_sentence_vae(path: str | os.PathLike) -> tuple[SentenceVAE, Vocabulary, dict[str, Any]]:
    """``(model, vocabulary, text options)`` of a trained sentence VAE, in eval mode.

    ``path`` is a run directory of ``zeronlp vae train`` (its ``model.safetensors``, else its
    ``checkpoint.safetensors``) or one of those files. The file is data: its config is checked
    (types, ranges, agreement with the vocabulary, the special tokens and the shape of every stored
    tensor) before the model is built.
    """
    path = run_file(path, made_by="zeronlp vae train")
    record = load(path)
    if not isinstance(record, dict) or not isinstance(record.get("config"), dict) or "vocab" not in record:
        raise CheckpointError(f"{path}: not a sentence-VAE checkpoint (no model config or vocabulary)")
    if record["config"].get("model") != "vae":
        raise CheckpointError(f"{path}: not a sentence-VAE checkpoint (its model is "
                              f"{str(record['config'].get('model', record['config'].get('name')))[:40]!r})")
    config = check_vae_config(record["config"], path)
    check_shapes(record.get("model"), vae_parameter_shapes(config), path)
    vocab = vocabulary_from_record(record, config["vocab_size"], path)
    if vocab.unk_id != config["unk_id"]:
        raise CheckpointError(f"{path}: field vocab/unk_token: its id is {vocab.unk_id}, the model's unk_id is "
                              f"{config['unk_id']}")
    text = record.get("text", {})
    if not isinstance(text, dict) or not isinstance(text.get("tokenizer", "whitespace"), str):
        raise CheckpointError(f"{path}: field text: expected {{'tokenizer': NAME, ...}}")
    text = dict(text)
    text["tokenizer"] = text.get("tokenizer", "whitespace")
    text["max_length"] = config_int(text, "max_length", path, low=1, high=MAX_SIZE, default=50, where="text/")
    try:
        model = build_sentence_vae(config)
        model.load_state_dict(record["model"])
    except (KeyError, TypeError, ValueError) as err:
        raise CheckpointError(f"{path}: cannot rebuild the model: {err}") from None
    model.eval()
    return model, vocab, text
