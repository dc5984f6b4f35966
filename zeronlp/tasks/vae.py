"""Sentence VAE (Bowman et al. 2016) as library functions: train, sample, interpolate, evaluate.

Data: the shipped Penn Treebank (default) or the user's text files, one sentence per line
(``train=``, ``valid=``, ``test=``; read by :func:`~zeronlp.data.textfiles.load_text_corpus`, so a
bad file is a :class:`~zeronlp.errors.DataError` naming the file and line, raised before the run
directory exists). Each sentence becomes ``<bos> w_1 ... w_n <eos>``; training sentences longer
than ``max_length`` words are cut to their first ``max_length`` words (the ``<eos>`` kept);
validation and test sentences are scored whole.

Training goes through the one :class:`~zeronlp.train.Trainer`: Adam, gradient clipping, batches
of sentences of similar length (:class:`LengthBuckets`: shuffled, then sorted by length inside
chunks of 50 batches, so little of a batch is padding). The loss of a batch is the annealed
negative ELBO per predicted token::

    loss = sum_i [ -log p(x_i | z_i) + beta_t KL(q(z|x_i) || N(0, I)) ] / sum_i |x_i|,   z_i ~ q(z|x_i)

with the KL weight ``beta_t`` of the schedule ``anneal`` (``"logistic"``: Bowman's
``1 / (1 + exp(-k (t - anneal_steps)))``, ``k = 6.25 / anneal_steps``, so beta is 0.002 at step 0,
0.5 at ``anneal_steps`` and 0.998 at twice that; ``"linear"``: ``min(1, t / anneal_steps)``;
``"none"``: beta = 1 from the start) and word dropout (each decoder input word replaced by
``<unk>`` with probability ``word_dropout``). The schedule's position is a Trainer callback, so it
travels in every checkpoint and a resumed run continues it exactly.

After every epoch the validation set is scored in eval mode (beta = 1, no word dropout, one
``z ~ q(z|x)`` per sentence): ``valid_nll`` (reconstruction, nats per sentence), ``valid_kl``,
``valid_elbo_nll = nll + kl`` (the bound on ``-log p(x)``, which picks the kept model) and
``valid_ppl_bound = exp(sum of bounds / predicted tokens)``; the history also has the epoch's
``train_nll``, ``train_kl`` (per sentence, with word dropout) and the last ``beta``.

The run directory holds ``checkpoint.safetensors`` (resumable), ``model.safetensors`` (the best
weights with the model config, vocabulary and text options: all that :func:`sample`,
:func:`interpolate` and :func:`evaluate` need), ``metrics.json``, ``elbo.png`` and ``kl.png``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .. import backend, optim
from ..data.ptb import load_ptb, load_ptb_sentences
from ..data.textfiles import TextCorpus, get_tokenizer, load_text_corpus, read_lines
from ..data.vocab import Vocabulary, match_case
from ..errors import CheckpointError, DataError, UsageError
from ..models.vae import KLAnnealing, SentenceVAE, load_sentence_vae
from ..progress import logger
from ..train import MiniBatches, Trainer, log
from ..train.divergence import DivergenceGuard
from ..viz.plots import plot_curves

PAD, BOS, EOS, UNK = "<pad>", "<bos>", "<eos>", "<unk>"
SPECIALS = (PAD, BOS, EOS, UNK)  # ids 0..3: the SentenceVAE's default pad/bos/eos/unk ids
ANNEALINGS = ("logistic", "linear", "none")
# Bowman et al.: logistic annealing with k = 0.0025 around x0 = 2500 steps (k * x0 = 6.25), word dropout
DEFAULTS: dict[str, Any] = dict(epochs=10, batch_size=32, lr=1e-3, clip=5.0, embed_size=128, hidden_size=256,
                                latent_size=32, word_dropout=0.3, anneal="logistic", anneal_steps=2500,
                                max_length=50)
LOGISTIC_SHARPNESS = 6.25  # k * x0 of Bowman's schedule: beta(0) = 1 / (1 + e^6.25) = 0.002
BUCKET_BATCHES = 50  # LengthBuckets sorts by length inside chunks of this many batches
EVAL_TOKENS = 8192  # about this many token positions per evaluation batch (bounds the logits' memory)
CHECKPOINT_MINUTES = 10.0
PathLike = str | os.PathLike


# ---------------------------------------------------------------------------------------- data


@dataclass
class SentenceData:
    """Sentences as id arrays ``bos w_1 ... w_n eos`` of one run, with their vocabulary.

    ``text`` holds the options a trained model needs again (tokenizer, source, max_length);
    ``cut`` is the number of training sentences cut to ``max_length`` words.
    """

    vocab: Vocabulary
    train: list[np.ndarray]
    valid: list[np.ndarray]
    test: list[np.ndarray] | None
    text: dict[str, Any]
    valid_from_train: bool = False
    cut: int = 0


def sentence_vocabulary(words: list[str], counts: list[int] | None = None) -> Vocabulary:
    """``<pad> <bos> <eos> <unk>`` (ids 0-3), then ``words`` in their order (specials among them skipped)."""
    counts = counts if counts is not None else [0] * len(words)
    kept = [(w, c) for w, c in zip(words, counts) if w not in SPECIALS]
    return Vocabulary([*SPECIALS, *(w for w, _ in kept)], [0, 0, 0, 0, *(c for _, c in kept)], unk_token=UNK)


def _split_sentences(ids: np.ndarray, old: Vocabulary, vocab: Vocabulary) -> list[np.ndarray]:
    """A language-model id stream (``<eos>`` after every line) as sentences ``bos ... eos`` in ``vocab``."""
    mapping = np.array([vocab.word_to_id.get(w, vocab.unk_id) for w in old.id_to_word], dtype=np.int64)
    for word in (PAD, BOS):  # the literal words "<pad>" / "<bos>" in a text are unknown words, not markers
        if word in old.word_to_id:
            mapping[old.word_to_id[word]] = vocab.unk_id
    ends = np.flatnonzero(np.asarray(ids) == old.word_to_id[EOS])
    mapped = mapping[np.asarray(ids)]
    bos = np.array([vocab.word_to_id[BOS]], dtype=np.int64)
    return [np.concatenate([bos, part]) for part in np.split(mapped, ends + 1)[:-1]]


def _cut(sentences: list[np.ndarray], max_length: int) -> tuple[list[np.ndarray], int]:
    """Sentences of more than ``max_length`` words cut to their first ``max_length`` (``eos`` kept)."""
    out, cut = [], 0
    for s in sentences:
        if len(s) - 2 > max_length:
            s = np.concatenate([s[:max_length + 1], s[-1:]])
            cut += 1
        out.append(s)
    return out, cut


def load_sentences(train: PathLike | None = None, valid: PathLike | None = None, test: PathLike | None = None,
                   tokenizer: str = "whitespace", min_count: int = 1, max_vocab: int | None = None,
                   max_length: int = DEFAULTS["max_length"], max_sentences: int | None = None) -> SentenceData:
    """The sentences to train on: the shipped PTB, or the user's files (one sentence per non-blank line).

    The vocabulary comes from the training lines (``min_count``, ``max_vocab`` as for language
    models, plus the 4 special tokens; PTB: its 10,000 words); words outside it read as ``<unk>``.
    Without ``valid`` the last 5% of the training lines validate. ``max_sentences`` keeps the first N
    training sentences (validation and test stay whole).
    """
    for name, value in (("max_length", max_length), ("max_sentences", max_sentences)):
        if value is not None and (isinstance(value, bool) or int(value) != value or value < 1):
            raise UsageError(f"{name} must be a positive integer, got {value!r}")
    if train is None:
        if valid is not None or test is not None:
            raise UsageError("--valid/--test need --train (without --train the shipped PTB is used)")
        ids, ptb_vocab = load_ptb("train")
        corpus = TextCorpus(ids, load_ptb("valid")[0], load_ptb("test")[0], ptb_vocab, valid_from_train=False)
        text = {"tokenizer": "whitespace", "source": "ptb"}
    else:
        get_tokenizer(tokenizer)
        corpus = load_text_corpus(train, valid, test, tokenizer=tokenizer, min_count=min_count, max_vocab=max_vocab)
        text = {"tokenizer": tokenizer, "source": os.fspath(train)}
    vocab = sentence_vocabulary(corpus.vocab.id_to_word, corpus.vocab.counts)
    train_sentences = _split_sentences(corpus.train, corpus.vocab, vocab)[:max_sentences]
    train_sentences, cut = _cut(train_sentences, max_length)
    test_sentences = _split_sentences(corpus.test, corpus.vocab, vocab) if corpus.test is not None else None
    return SentenceData(vocab, train_sentences, _split_sentences(corpus.valid, corpus.vocab, vocab), test_sentences,
                        text | {"max_length": int(max_length)}, corpus.valid_from_train, cut)


def pad_sentences(sentences: list[np.ndarray], pad_id: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``(tokens (N, T), lengths (N,))``: the sentences padded with ``pad_id`` to the longest."""
    lengths = np.array([len(s) for s in sentences], dtype=np.int64)
    tokens = np.full((len(sentences), int(lengths.max(initial=2))), pad_id, dtype=np.int64)
    for row, s in zip(tokens, sentences):
        row[:len(s)] = s
    return tokens, lengths


class LengthBuckets(MiniBatches):
    """Mini-batches of ``(tokens, lengths)`` rows of similar length, each cut to its longest row.

    Every epoch: a random permutation, sorted by length inside chunks of ``bucket`` batches, cut
    into batches whose order is shuffled (the last, smaller batch stays last). The order is one
    array, so the state and exact resume are :class:`~zeronlp.train.MiniBatches`'s.
    """

    def __init__(self, tokens: np.ndarray, lengths: np.ndarray, batch_size: int, bucket: int = BUCKET_BATCHES):
        super().__init__(tokens, lengths, batch_size=batch_size)
        self.bucket = bucket

    def start_epoch(self, rng: np.random.Generator) -> None:
        n, size, lengths = self.num_examples, self.batch_size, self.arrays[1]
        perm = rng.permutation(n)
        chunk = size * self.bucket
        order = np.concatenate([p[np.argsort(lengths[p], kind="stable")]
                                for p in np.split(perm, range(chunk, n, chunk))])
        full = n // size
        shuffled = order[:full * size].reshape(full, size)[rng.permutation(full)]
        self.order = np.concatenate([shuffled.reshape(-1), order[full * size:]])

    def batch(self, index: int) -> tuple[Any, ...]:
        tokens, lengths = super().batch(index)
        return np.ascontiguousarray(tokens[:, :int(lengths.max())]), lengths


def elbo_of(model: SentenceVAE, sentences: list[np.ndarray], tokens_per_batch: int = EVAL_TOKENS) -> dict[str, float]:
    """The bound on a list of sentences in eval mode (no word dropout, beta = 1, one z ~ q(z|x) each).

    Returns per-sentence ``nll``, ``kl``, ``elbo_nll = nll + kl`` (nats), ``ppl_bound = exp(sum of
    bounds / predicted tokens)`` (an upper bound on the perplexity, words and ``<eos>`` predicted),
    ``sentences`` and ``tokens``. Sentences are scored in batches of similar length.
    """
    if not sentences:
        raise DataError("no sentences to evaluate")
    order = np.argsort([len(s) for s in sentences], kind="stable")
    sums = {"nll": 0.0, "kl": 0.0, "sentences": 0, "tokens": 0}
    start = 0
    while start < len(order):  # rows sorted by length: a batch grows while rows x its longest fit the budget
        end = start + 1
        while end < len(order) and (end + 1 - start) * len(sentences[order[end]]) <= tokens_per_batch:
            end += 1
        tokens, _ = pad_sentences([sentences[i] for i in order[start:end]], model.pad_id)
        for key, value in model.elbo_sums(tokens, batch_size=end - start).items():
            sums[key] += value
        start = end
    n, bound = sums["sentences"], sums["nll"] + sums["kl"]
    per_token = bound / max(sums["tokens"], 1)
    return {"nll": sums["nll"] / n, "kl": sums["kl"] / n, "elbo_nll": bound / n,
            "ppl_bound": float(np.exp(min(per_token, 700.0))), "sentences": n, "tokens": sums["tokens"]}


# ---------------------------------------------------------------------------------------- training


def make_annealing(anneal: str, anneal_steps: int) -> KLAnnealing:
    """The KL schedule of ``anneal`` (``logistic``, ``linear``, ``none``) centred on / ending at ``anneal_steps``."""
    if anneal not in ANNEALINGS:
        raise UsageError(f"unknown annealing {anneal!r}; use one of {', '.join(ANNEALINGS)}")
    if isinstance(anneal_steps, bool) or int(anneal_steps) != anneal_steps or anneal_steps < 1:
        raise UsageError(f"anneal_steps must be a positive integer, got {anneal_steps!r}")
    if anneal == "none":
        return KLAnnealing("constant")
    if anneal == "linear":
        return KLAnnealing("linear", x0=int(anneal_steps))
    return KLAnnealing("logistic", x0=int(anneal_steps), k=LOGISTIC_SHARPNESS / anneal_steps)


class TrainTerms:
    """Trainer callback and loss: the annealed per-token loss of a batch (module docstring), and the
    epoch's mean reconstruction NLL and KL per training sentence plus the current beta in the history.

    Its sums are saved in mid-epoch checkpoints (``state_dict``), so a resumed epoch reports the same.
    """

    def __init__(self, model: SentenceVAE):
        self.model = model
        self.sums = [0.0, 0.0, 0.0]  # nll, kl, sentences of this epoch so far

    def loss(self, model: SentenceVAE, batch: tuple[Any, ...]) -> Any:
        loss = model.loss(batch[0])
        terms = model.last_terms
        self.sums = [self.sums[0] + terms["nll"], self.sums[1] + terms["kl"], self.sums[2] + terms["sentences"]]
        return loss * (terms["sentences"] / max(terms["tokens"], 1))

    def on_epoch_start(self, trainer: Any) -> None:
        self.sums = [0.0, 0.0, 0.0]

    def on_epoch_end(self, trainer: Any, row: dict[str, Any]) -> None:
        n = max(self.sums[2], 1.0)
        row.update(train_nll=self.sums[0] / n, train_kl=self.sums[1] / n, beta=self.model.annealing.beta)

    def state_dict(self) -> dict[str, Any]:
        return {"sums": list(self.sums)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        sums = state.get("sums", [0.0, 0.0, 0.0]) if isinstance(state, dict) else None
        if not (isinstance(sums, list) and len(sums) == 3 and all(isinstance(v, (int, float)) for v in sums)):
            raise CheckpointError("field callbacks: the VAE's saved epoch sums are malformed")
        self.sums = [float(v) for v in sums]


def _settings(overrides: dict[str, Any]) -> dict[str, Any]:
    config = dict(DEFAULTS) | {k: v for k, v in overrides.items() if v is not None}
    for key in ("epochs", "batch_size", "embed_size", "hidden_size", "latent_size", "anneal_steps", "max_length"):
        if isinstance(config[key], bool) or int(config[key]) != config[key] or config[key] < 1:
            raise UsageError(f"{key} must be a positive integer, got {config[key]!r}")
    if not config["lr"] > 0:
        raise UsageError(f"lr must be positive, got {config['lr']}")
    if config["clip"] < 0:
        raise UsageError(f"clip must be >= 0 (0 = no clipping), got {config['clip']}")
    if not 0 <= config["word_dropout"] < 1:
        raise UsageError(f"word_dropout must be in [0, 1), got {config['word_dropout']}")
    make_annealing(config["anneal"], config["anneal_steps"])  # checks the name
    return config


def train(*, train: PathLike | None = None, valid: PathLike | None = None, test: PathLike | None = None,
          tokenizer: str = "whitespace", min_count: int = 1, max_vocab: int | None = None,
          max_length: int | None = None, max_sentences: int | None = None, epochs: int | None = None,
          batch_size: int | None = None, lr: float | None = None, clip: float | None = None,
          embed_size: int | None = None, hidden_size: int | None = None, latent_size: int | None = None,
          word_dropout: float | None = None, anneal: str | None = None, anneal_steps: int | None = None,
          out_dir: PathLike | None = None, quiet: bool = False, resume: bool = False, seed: int = 0,
          checkpoint_minutes: float | None = None, data: SentenceData | None = None,
          max_minutes: float | None = None) -> dict[str, Any]:
    """Train a :class:`~zeronlp.models.SentenceVAE` on PTB or the user's ``train`` file (module docstring).

    Unset options take :data:`DEFAULTS`. ``data`` passes sentences already loaded (tests).
    Returns ``{"model", "vocab", "history", "final", "config"}``; ``final`` has the test bound
    (``test_nll``, ``test_kl``, ``test_elbo_nll``, ``test_ppl_bound``) of the best weights when there
    is a test set. With ``out_dir`` writes the run directory.
    """
    config = _settings(dict(epochs=epochs, batch_size=batch_size, lr=lr, clip=clip, embed_size=embed_size,
                            hidden_size=hidden_size, latent_size=latent_size, word_dropout=word_dropout,
                            anneal=anneal, anneal_steps=anneal_steps, max_length=max_length))
    if data is None:
        data = load_sentences(train, valid, test, tokenizer, min_count, max_vocab, config["max_length"],
                              max_sentences)
    if data.valid_from_train:
        log(f"no --valid file: the last 5% of the lines of {train} are the validation set", quiet)
    if data.cut:
        log(f"{data.cut:,} of {len(data.train):,} training sentences cut to {config['max_length']} words "
            "(--max-length)", quiet)
    config.update(seed=seed, max_sentences=max_sentences, train_sentences=len(data.train),
                  vocab_size=len(data.vocab), cut_sentences=data.cut, **data.text)
    backend.manual_seed(seed)
    annealing = make_annealing(config["anneal"], config["anneal_steps"])
    net = SentenceVAE(len(data.vocab), config["embed_size"], config["hidden_size"], config["latent_size"],
                      word_dropout=config["word_dropout"], annealing=annealing)
    terms = TrainTerms(net)
    tokens, lengths = pad_sentences(data.train, net.pad_id)
    batches = LengthBuckets(tokens, lengths, config["batch_size"])
    trainer = Trainer(
        net, optim.Adam(net.parameters(), lr=config["lr"]), terms.loss, max_grad_norm=config["clip"] or None,
        callbacks=[annealing, terms], monitor="valid_elbo_nll", mode="min", out_dir=out_dir, quiet=quiet,
        unit="sentences", meta={"config": net.config(), "vocab": data.vocab.to_dict(), "text": data.text},
        config=config, checkpoint_minutes=(checkpoint_minutes or CHECKPOINT_MINUTES) if out_dir is not None else None,
        divergence=DivergenceGuard(), max_minutes=max_minutes)

    def validate(model: SentenceVAE) -> dict[str, float]:
        result = elbo_of(model, data.valid)
        return {k: result[k] for k in ("nll", "kl", "elbo_nll", "ppl_bound")}

    history = trainer.fit(batches, valid=validate, epochs=config["epochs"], resume=resume)
    trainer.restore_best()
    final: dict[str, Any] = {}
    if data.test is not None:
        final = {f"test_{k}": v for k, v in elbo_of(net, data.test).items()}
    else:
        log("no --test file: no test bound", quiet)
    trainer.write_metrics(final)
    if out_dir is not None and history and trainer.comm.is_main:
        title = (f"sentence VAE on {data.text['source']} "
                 f"(anneal {config['anneal']}, word dropout {config['word_dropout']})")
        plot_curves(history, ["train_nll", "valid_nll", "valid_elbo_nll"], Path(out_dir) / "elbo.png",
                    ylabel="nats per sentence", title=title)
        plot_curves(history, ["train_kl", "valid_kl"], Path(out_dir) / "kl.png", ylabel="KL (nats per sentence)",
                    title=title)
    return {"model": net, "vocab": data.vocab, "history": history,
            "final": final | {"best_valid_elbo_nll": trainer.best, "epochs": len(history)}, "config": config}


# ---------------------------------------------------------------------------- using a trained model


def _words(ids: list[int], vocab: Vocabulary) -> str:
    return " ".join(vocab.decode(ids))


def sentence_ids(text: str, vocab: Vocabulary, options: dict[str, Any],
                 where: str = "sentence") -> tuple[list[int], list[str]]:
    """``bos w_1 ... w_n eos`` ids of ``text`` tokenized as the model's training text was, each word
    matched by :func:`~zeronlp.data.vocab.match_case`; also the words that read as ``<unk>``."""
    words = [match_case(w, vocab) for w in get_tokenizer(str(options.get("tokenizer", "whitespace")))(text)]
    if not words:
        raise UsageError(f"{where}: no words given")
    unknown = [w for w in words if w not in vocab or w in (PAD, BOS, EOS)]
    ids = [vocab.word_to_id[BOS], *(vocab.unk_id if w in unknown else vocab.word_to_id[w] for w in words),
           vocab.word_to_id[EOS]]
    return ids, unknown


def sample(run: PathLike, n: int = 5, temperature: float = 0.0, max_len: int | None = None,
           seed: int | None = None) -> list[str]:
    """``n`` sentences decoded from ``z ~ N(0, I)`` (the prior): greedily when ``temperature`` is 0
    (the paper's), else each word drawn from ``softmax(logits / temperature)``.

    ``max_len``: at most this many words (default: the run's ``max_length``). ``seed`` reseeds the
    backend's Generator first (None: use it as it is).
    """
    if int(n) != n or n < 1:
        raise UsageError(f"n must be a positive integer, got {n!r}")
    if not temperature >= 0:
        raise UsageError(f"temperature must be >= 0, got {temperature}")
    model, vocab, options = load_sentence_vae(run)
    if seed is not None:
        backend.manual_seed(seed)
    return [_words(ids, vocab) for ids in model.sample(int(n), max_len or options["max_length"], temperature)]


def interpolate(run: PathLike, a: str, b: str, steps: int = 5, max_len: int | None = None) -> list[tuple[float, str]]:
    """Greedy decodings of ``steps`` evenly spaced points ``(1 - t) mu(a) + t mu(b)`` between the
    posterior means of sentences ``a`` and ``b`` (both ends included): ``[(t, sentence), ...]``.

    Words of ``a`` and ``b`` outside the model's vocabulary read as ``<unk>``, with a logged warning
    naming them.
    """
    if int(steps) != steps or steps < 2:
        raise UsageError(f"steps must be an integer >= 2, got {steps!r}")
    model, vocab, options = load_sentence_vae(run)
    ends = []
    for name, text in (("first sentence", a), ("second sentence", b)):
        ids, unknown = sentence_ids(text, vocab, options, name)
        if unknown:
            logger.warning(f"{name}: {', '.join(repr(w) for w in unknown[:10])} not in the model's vocabulary "
                           f"of {len(vocab):,} words: read as {UNK}")
        ends.append(ids)
    decoded = model.interpolate(ends[0], ends[1], int(steps), max_len or options["max_length"])
    return [(i / (steps - 1), _words(ids, vocab)) for i, ids in enumerate(decoded)]


def file_sentences(path: PathLike, vocab: Vocabulary, options: dict[str, Any]) -> list[np.ndarray]:
    """Sentences (``bos ... eos`` ids) of the non-blank lines of a text file; unknown words read as
    ``<unk>`` with a warning saying how many."""
    sentences, unknown, total = [], 0, 0
    for number, line in enumerate(read_lines(path), start=1):
        if not line.strip():
            continue
        try:
            ids, missing = sentence_ids(line, vocab, options)
        except UsageError:
            raise DataError("no words on this line after tokenizing", path, number) from None
        sentences.append(np.asarray(ids, dtype=np.int64))
        unknown, total = unknown + len(missing), total + len(ids) - 2
    if unknown:
        logger.warning(f"{path}: {unknown:,} of {total:,} words are not in the model's vocabulary and read as {UNK}")
    return sentences


def evaluate(run: PathLike, split: str = "test", file: PathLike | None = None) -> dict[str, Any]:
    """The bound of a trained run on a PTB split or a text file (one sentence per line), whole sentences.

    Returns ``{"source", "nll", "kl", "elbo_nll", "ppl_bound", "sentences", "tokens"}`` (see :func:`elbo_of`).
    """
    model, vocab, options = load_sentence_vae(run)
    if file is not None:
        sentences, source = file_sentences(file, vocab, options), os.fspath(file)
    else:
        if split not in ("train", "valid", "test"):
            raise UsageError(f"unknown PTB split {split!r}; use train, valid or test")
        bos, eos = vocab.word_to_id[BOS], vocab.word_to_id[EOS]
        sentences = [np.array([bos, *vocab.encode(words), eos], dtype=np.int64) for words in load_ptb_sentences(split)]
        source = f"PTB {split}"
    return {"source": source} | elbo_of(model, sentences)
