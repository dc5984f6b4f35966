"""Language models as library functions: train on PTB or the user's text, evaluate, generate.

:func:`train` is the book's recipe (DLfS 2 ch. 6): stateful truncated BPTT (``batch_size`` parallel
streams read in windows of ``bptt`` steps, the detached hidden state carried from window to window
and reset every epoch), SGD with gradient clipping, the learning rate divided by 4 when the
validation perplexity gets worse. Not in the book, on by default: the model that is evaluated and
kept is an exponential moving average of the weights along the SGD path (``average="none"`` is the
book's recipe exactly): at the book's constant lr 20 the raw weights bounce around the minimum and
the average sits near its centre (RNNLM, 4 epochs: test perplexity ~137 raw, ~119 averaged).

The run directory holds ``checkpoint.safetensors`` (resumable: every epoch, on Ctrl-C, and every
``checkpoint_minutes``, 10 by default), ``model.safetensors`` (the best weights by validation
perplexity, with the model config, vocabulary and text options), ``metrics.json`` and ``ppl.png``.
Temporary files left there by a killed earlier run are removed at the start.

A run whose loss runs away stops with :class:`~zeronlp.errors.TrainingDiverged` (NaN/inf, or the
rule of :class:`~zeronlp.train.divergence.DivergenceGuard`) without saving the diverged weights; a
perplexity too large for float64 is reported as ``inf`` with a warning, never as a clamped number.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from .. import backend, optim
from ..data.ptb import load_ptb
from ..data.textfiles import TextCorpus, get_tokenizer, load_text_corpus, read_lines
from ..data.vocab import Vocabulary, match_case
from ..errors import DataError, UsageError
from ..models.rnnlm import MODELS, generate, load_lm, next_words, perplexity, perplexity_of
from ..progress import logger
from ..train import BPTTWindows, CarryState, EpochMetrics, Trainer, log, model_loss
from ..train.divergence import DivergenceGuard
from ..viz.plots import plot_curves

# the book's settings (ch. 6): batch 20, bptt 35, SGD lr 20, clip 0.25; 4 / 40 epochs.
# Not in the book: an exponential moving average of the weights (average="none" turns it off)
DEFAULTS: dict[str, dict[str, Any]] = {
    "rnnlm": dict(epochs=4, batch_size=20, bptt=35, lr=20.0, clip=0.25, average="ema", ema_decay=0.998),
    "better": dict(epochs=40, batch_size=20, bptt=35, lr=20.0, clip=0.25, average="ema", ema_decay=0.998),
    # a pre-norm decoder-only Transformer on windows of bptt tokens (max_len = bptt), each window read
    # on its own: AdamW (betas 0.9/0.98, weight decay 0.01), linear warm-up over `warmup` optimizer
    # steps (at most a tenth of the run) then a cosine decay to 0, stepped after every step
    "transformer": dict(epochs=10, batch_size=20, bptt=64, lr=5e-4, clip=1.0, average="none", ema_decay=0.998,
                        warmup=1000, weight_decay=0.01, betas=(0.9, 0.98), d_model=256, num_layers=4, nhead=4,
                        dim_feedforward=1024, dropout=0.2, tie_weights=True),
}
TRANSFORMER_OPTIONS = ("warmup", "weight_decay", "d_model", "num_layers", "nhead", "dim_feedforward", "dropout")
WARMUP_FRACTION = 0.1  # the warm-up never takes more than this part of the run's optimizer steps
AVERAGES = ("ema", "none")
CHECKPOINT_MINUTES = 10.0  # mid-epoch checkpoints of a run with a run directory (None: this default)
PTB_TEXT = {"tokenizer": "whitespace"}
# words the book's generator never emits (number token, unknown word, dollar sign)
SKIP_WORDS = ("N", "<unk>", "$")


def load_corpus(train: str | os.PathLike | None = None, valid: str | os.PathLike | None = None,
                test: str | os.PathLike | None = None, tokenizer: str = "whitespace", min_count: int = 1,
                max_vocab: int | None = None, max_tokens: int | None = None) -> tuple[TextCorpus, dict[str, Any]]:
    """The corpus to train on and its text options: the shipped PTB, or the user's files.

    ``max_tokens`` keeps the first N training tokens and the first max(N // 4, 400) validation and
    test tokens (quick runs).
    """
    if train is None:
        if valid is not None or test is not None:
            raise UsageError("--valid/--test need --train (without --train the shipped PTB is used)")
        ids, vocab = load_ptb("train")
        corpus = TextCorpus(ids, load_ptb("valid")[0], load_ptb("test")[0], vocab, valid_from_train=False)
        text = dict(PTB_TEXT, source="ptb")
    else:
        corpus = load_text_corpus(train, valid, test, tokenizer=tokenizer, min_count=min_count, max_vocab=max_vocab)
        text = {"tokenizer": tokenizer, "source": os.fspath(train)}
    if max_tokens is not None:
        if max_tokens < 100:
            raise UsageError(f"max_tokens must be at least 100, got {max_tokens}")
        short = max(max_tokens // 4, 400)
        corpus = TextCorpus(corpus.train[:max_tokens], corpus.valid[:short],
                            corpus.test[:short] if corpus.test is not None else None, corpus.vocab,
                            corpus.valid_from_train)
    return corpus, text


def _settings(model: str, overrides: dict[str, Any]) -> dict[str, Any]:
    if model not in DEFAULTS:
        raise UsageError(f"unknown model {model!r}; use one of {', '.join(DEFAULTS)}")
    config = dict(DEFAULTS[model])
    given = {k: v for k, v in overrides.items() if v is not None}
    unused = sorted(k for k in given if k not in config)
    if unused:
        raise UsageError(f"{', '.join(unused)}: only for --model transformer, not {model}")
    config.update(given)
    if model == "transformer":
        _check_transformer_settings(config)
    if config["average"] not in AVERAGES:
        raise UsageError(f"unknown average {config['average']!r}; use one of {', '.join(AVERAGES)}")
    for key in ("epochs", "batch_size", "bptt"):
        if int(config[key]) != config[key] or config[key] < 1:
            raise UsageError(f"{key} must be a positive integer, got {config[key]!r}")
    if not config["lr"] > 0:
        raise UsageError(f"lr must be positive, got {config['lr']}")
    if config["clip"] < 0:
        raise UsageError(f"clip must be >= 0 (0 = no clipping), got {config['clip']}")
    if not 0 < config["ema_decay"] < 1:
        raise UsageError(f"ema_decay must be in (0, 1), got {config['ema_decay']}")
    return config


def _check_transformer_settings(config: dict[str, Any]) -> None:
    for key in ("d_model", "num_layers", "nhead", "dim_feedforward"):
        if int(config[key]) != config[key] or config[key] < 1:
            raise UsageError(f"{key} must be a positive integer, got {config[key]!r}")
    if config["d_model"] % config["nhead"]:
        raise UsageError(f"d_model {config['d_model']} must be divisible by the number of heads {config['nhead']}")
    if int(config["warmup"]) != config["warmup"] or config["warmup"] < 0:
        raise UsageError(f"warmup must be a non-negative number of steps, got {config['warmup']!r}")
    if not 0 <= config["dropout"] < 1:
        raise UsageError(f"dropout must be in [0, 1), got {config['dropout']}")
    if config["weight_decay"] < 0:
        raise UsageError(f"weight_decay must be >= 0, got {config['weight_decay']}")


def _network(model: str, vocab_size: int, config: dict[str, Any], model_kwargs: dict[str, Any] | None) -> Any:
    if model != "transformer":
        return MODELS[model](vocab_size, **(model_kwargs or {}))
    kwargs = {k: config[k] for k in ("d_model", "num_layers", "nhead", "dim_feedforward", "dropout", "tie_weights")}
    return MODELS[model](vocab_size, max_len=config["bptt"], **kwargs | (model_kwargs or {}))


def _optimizer(model: str, net: Any, config: dict[str, Any], steps_per_epoch: int, quiet: bool) -> tuple[Any, Any]:
    """The book's SGD + lr / 4 on a worse validation perplexity for the LSTMs; AdamW with a warm-up
    and a cosine decay (per optimizer step) for the Transformer."""
    if model != "transformer":
        optimizer = optim.SGD(net.parameters(), lr=config["lr"])
        return optimizer, optim.ReduceOnPlateau(optimizer, factor=0.25, patience=0)
    optimizer = optim.AdamW(net.parameters(), lr=config["lr"], betas=tuple(config["betas"]),
                            weight_decay=config["weight_decay"])
    total = config["epochs"] * steps_per_epoch
    warmup = min(int(config["warmup"]), int(WARMUP_FRACTION * total))
    if warmup < config["warmup"]:
        log(f"warm-up shortened to {warmup} steps (a tenth of the run's {total} steps)", quiet)
    config["warmup_steps"] = warmup
    return optimizer, optim.WarmupCosine(optimizer, warmup, total)


def train(model: str = "rnnlm", *, train: str | os.PathLike | None = None, valid: str | os.PathLike | None = None,
          test: str | os.PathLike | None = None, tokenizer: str = "whitespace", min_count: int = 1,
          max_vocab: int | None = None, epochs: int | None = None, batch_size: int | None = None,
          bptt: int | None = None, lr: float | None = None, clip: float | None = None, average: str | None = None,
          ema_decay: float | None = None, out_dir: str | os.PathLike | None = None, quiet: bool = False,
          resume: bool = False, seed: int = 0, max_tokens: int | None = None, eval_batch_size: int = 10,
          checkpoint_minutes: float | None = None, corpus: tuple[TextCorpus, dict[str, Any]] | None = None,
          model_kwargs: dict[str, Any] | None = None, warmup: int | None = None, weight_decay: float | None = None,
          d_model: int | None = None, num_layers: int | None = None, nhead: int | None = None,
          dim_feedforward: int | None = None, dropout: float | None = None,
          max_minutes: float | None = None) -> dict[str, Any]:
    """Train ``model`` (``"rnnlm"``, ``"better"`` or ``"transformer"``) on PTB, or on the user's ``train`` file.

    ``warmup``, ``weight_decay``, ``d_model``, ``num_layers``, ``nhead``, ``dim_feedforward`` and
    ``dropout`` set the Transformer (``DEFAULTS["transformer"]``; its ``max_len`` is ``bptt``).
    Returns ``{"model", "vocab", "history", "final", "config"}``; ``final["test_perplexity"]`` is
    measured (book protocol: ``eval_batch_size`` streams, state carried) with the best weights
    when there is a test set. With ``out_dir`` writes the run directory (module docstring).
    ``max_minutes``: a wall-clock budget for the run (resumed parts included); the epoch running when
    it is spent ends early and is evaluated, then the run stops (its row has ``partial_epoch``).
    """
    config = _settings(model, dict(epochs=epochs, batch_size=batch_size, bptt=bptt, lr=lr, clip=clip,
                                   average=average, ema_decay=ema_decay, warmup=warmup, weight_decay=weight_decay,
                                   d_model=d_model, num_layers=num_layers, nhead=nhead,
                                   dim_feedforward=dim_feedforward, dropout=dropout))
    get_tokenizer(tokenizer)  # an unknown name fails before any file is read
    corpus, text = corpus if corpus is not None else load_corpus(train, valid, test, tokenizer, min_count,
                                                                 max_vocab, max_tokens)
    if corpus.valid_from_train:
        log(f"no --valid file: the last 5% of the lines of {train} are the validation set", quiet)
    batches = BPTTWindows(corpus.train, config["batch_size"], config["bptt"])
    for split, ids in (("validation", corpus.valid), ("test", corpus.test)):  # found now, not after an epoch
        if ids is not None and len(ids) < eval_batch_size + 1:
            raise DataError(f"the {split} text has {len(ids)} tokens: evaluation in {eval_batch_size} streams "
                            f"needs at least {eval_batch_size + 1}")
    config.update(model=model, seed=seed, max_tokens=max_tokens, eval_batch_size=eval_batch_size,
                  vocab_size=len(corpus.vocab), **text)
    backend.manual_seed(seed)
    net = _network(model, len(corpus.vocab), config, model_kwargs)
    optimizer, scheduler = _optimizer(model, net, config, len(batches), quiet)
    averaged = (optim.AveragedModel(net, decay=config["ema_decay"], warmup=True)
                if config["average"] == "ema" else None)
    stateful = [CarryState(net)] if model != "transformer" else []  # the Transformer reads each window alone
    trainer = Trainer(
        net, optimizer, model_loss, max_grad_norm=config["clip"] or None,
        scheduler=scheduler, averaged=averaged,
        callbacks=[*stateful, EpochMetrics(lambda _, row: {
            "train_perplexity": perplexity_of(row["loss"], "train perplexity")})],
        monitor="valid_perplexity", mode="min", out_dir=out_dir, quiet=quiet, unit="tokens",
        meta={"config": net.config(), "vocab": corpus.vocab.to_dict(), "text": text}, config=config,
        checkpoint_minutes=(checkpoint_minutes or CHECKPOINT_MINUTES) if out_dir is not None else None,
        divergence=DivergenceGuard(), max_minutes=max_minutes)

    def validate(m: Any) -> dict[str, float]:
        return {"perplexity": perplexity(m, corpus.valid, eval_batch_size, config["bptt"])}

    history = trainer.fit(batches, valid=validate, epochs=config["epochs"], resume=resume)
    if not trainer.restore_best() and averaged is not None:
        averaged.copy_to_model()  # no run directory: the returned model holds the evaluated weights
    final: dict[str, Any] = {}
    if corpus.test is not None:
        final["test_perplexity"] = perplexity(net, corpus.test, eval_batch_size, config["bptt"])
        final["test_tokens"] = len(corpus.test) - 1  # predicted tokens (a slice of the test set with max_tokens)
    else:
        log("no --test file: no test perplexity", quiet)
    trainer.write_metrics(final)
    if out_dir is not None and history and trainer.comm.is_main:  # with MPI ranks, rank 0 writes
        plot_curves(history, ["train_perplexity", "valid_perplexity"], Path(out_dir) / "ppl.png",
                    ylabel="perplexity", title=f"{model} on {text['source']}", logy=True)
    return {"model": net, "vocab": corpus.vocab, "history": history,
            "final": final | {"best_valid_perplexity": trainer.best, "epochs": len(history)}, "config": config}


# ---------------------------------------------------------------------------- using a trained model


def text_to_words(text: str, options: dict[str, Any], vocab: Vocabulary) -> list[str]:
    """Words of ``text`` tokenized as the model's training text was (``options`` from :func:`load_lm`),
    each matched to the vocabulary by the one rule of :func:`~zeronlp.data.vocab.match_case`
    (as written, else in lower case)."""
    words = get_tokenizer(str(options.get("tokenizer", "whitespace")))(text)
    if not words:
        raise UsageError("no words given: type at least one word")
    return [match_case(word, vocab) for word in words]


def file_ids(path: str | os.PathLike, vocab: Vocabulary, options: dict[str, Any]) -> np.ndarray:
    """Ids of a text file tokenized like the model's corpus, ``<eos>`` after every non-blank line.

    Words outside ``vocab`` become ``<unk>`` with a warning that says how many.
    """
    words = [w for line in read_lines(path) if line.strip() for w in [*text_to_words(line, options, vocab), "<eos>"]]
    if not words:
        raise DataError("no words to evaluate", path)
    unknown = sum(w not in vocab for w in words)
    if unknown and vocab.unk_id is None:
        raise DataError(f"{unknown:,} words are not in the model's vocabulary", path)
    if unknown:
        logger.warning(f"{path}: {unknown:,} of {len(words):,} tokens are not in the model's vocabulary "
                       f"and count as {vocab.unk_token!r}")
    return vocab.encode(words)


def evaluate(ckpt: str | os.PathLike, split: str = "test", file: str | os.PathLike | None = None,
             batch_size: int = 10, bptt: int | None = None) -> dict[str, Any]:
    """Perplexity of a trained model on a PTB split or a text file: ``{"source", "perplexity", "tokens"}``.

    ``bptt``: the window length, by default 35 (the book's) for the LSTMs and the window the model
    was trained on (its ``max_len``) for the Transformer, which reads each window on its own."""
    model, vocab, options = load_lm(ckpt)
    bptt = bptt or getattr(model, "max_len", None) or 35
    if file is not None:
        ids, source = file_ids(file, vocab, options), os.fspath(file)
    else:
        ids, ptb_vocab = load_ptb(split)
        if ptb_vocab.id_to_word != vocab.id_to_word:
            ids = vocab.encode(ptb_vocab.decode(ids))  # a model with its own vocabulary: re-encode by word
        source = f"PTB {split}"
    return {"source": source, "perplexity": perplexity(model, ids, batch_size, bptt), "tokens": len(ids) - 1}


def generate_text(ckpt: str | os.PathLike, start: str, length: int = 100, temperature: float = 1.0,
                  top_k: int | None = None) -> str:
    """Text sampled from a trained model after ``start`` (uses the backend's seeded Generator)."""
    model, vocab, options = load_lm(ckpt)
    skip = [vocab.word_to_id[w] for w in SKIP_WORDS if w in vocab]
    words = generate(model, text_to_words(start, options, vocab), length, temperature=temperature, top_k=top_k,
                     vocab=vocab, skip_ids=skip)
    return " ".join(words).replace(" <eos> ", "\n").replace(" <eos>", "")


def most_likely_next(ckpt: str | os.PathLike, context: str, k: int = 10) -> list[tuple[str, float]]:
    """The ``k`` most probable next words after ``context`` with their probabilities."""
    model, vocab, options = load_lm(ckpt)
    return next_words(model, text_to_words(context, options, vocab), k, vocab=vocab)
