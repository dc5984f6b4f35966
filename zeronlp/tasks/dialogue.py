"""Dialogue models (HRED, VHRED) as library functions: train, evaluate, respond, chat.

Data (:mod:`zeronlp.data.dialogue`): ``data="synthetic"`` (the memory task zeronlp generates: the
last reply depends on the first turn), ``"chatterbot"`` (the shipped English chatterbot corpus,
split 80/10/10 by dialogue with a fixed seed), or the user's files (``train=``, ``valid=`` — else the
last 10% of the training dialogues are held out —, ``test=``). Every turn from the second on is a
reply to the ``context_turns`` turns before it; with ``context_turns=1`` the model sees only the
last turn, i.e. it is the seq2seq baseline (the same model and loop, one option).

Training goes through the one :class:`~zeronlp.train.Trainer`: Adam, gradient clipping, the loss
``model.loss(context, reply)`` (per reply token), each batch cut to its longest turn. After every
epoch the model is scored on the validation split (:func:`dialogue_scores`): per-token NLL and
perplexity, distinct-1/2 of its greedy replies, and on the synthetic task the exact-match accuracy
of the answers (the last reply of each dialogue). The best epoch is kept (by ``valid_accuracy`` on
the synthetic task, else by ``valid_loss``), then scored once on the test split. VHRED's KL weight
is annealed linearly from 0 to 1 over ``kl_anneal_steps`` optimizer steps; the annealing is a
Trainer callback, so a resumed run continues it exactly.

The run directory holds ``checkpoint.safetensors`` (resumable), ``model.safetensors`` (the best
weights with the model and text config, the vocabulary and what data it was trained on: ``chat``
needs nothing else), ``metrics.json`` and ``loss.png`` (``accuracy.png`` on the synthetic task).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .. import backend, optim
from ..data.dialogue import (
    SPECIALS,
    SYNTHETIC_CONTEXT,
    DialogueCodec,
    dialogue_examples,
    distinct_n,
    load_chatterbot,
    read_dialogues,
    split_dialogues,
    synthetic_splits,
)
from ..data.textfiles import TOKENIZERS, get_tokenizer
from ..errors import CheckpointError, UsageError
from ..models.hred import HRED, build_dialogue_model
from ..models.vae import KLAnnealing, inference
from ..serialization import check_shapes, config_choice, config_float, config_int, load, run_file
from ..train import MiniBatches, Trainer, log
from ..train.checkpoint import check_resume_vocabulary
from ..train.divergence import DivergenceGuard
from ..viz.plots import plot_curves

SHIPPED = ("synthetic", "chatterbot")
MODELS = ("hred", "vhred")
DEFAULT_CONTEXT = {"synthetic": SYNTHETIC_CONTEXT, "chatterbot": 3, "user": 3}
DEFAULT_MAX_TOKENS = {"synthetic": 12, "chatterbot": 32, "user": 32}  # a turn's width, bos and eos included
VALID_FRACTION = 0.1
CHATTERBOT_SPLIT = (0.8, 0.1, 0.1)
CHECKPOINT_MINUTES = 10.0
MAX_SIZE = 1 << 24  # bound on a size in a stored config; the stored tensors bound the rest
MAX_TOKENS = 4096
PathLike = str | os.PathLike


# ---------------------------------------------------------------------------------------- data


@dataclass
class DialogueData:
    """Encoded examples of one run: ``(context (N, K, T), reply (N, T))`` per split (``test`` may be
    None). ``scored``: whether exact-match accuracy means something (the synthetic task's answers);
    ``source``: what the data was, stored with the model so ``evaluate`` can find the test split again."""

    name: str
    codec: DialogueCodec
    train: tuple[np.ndarray, np.ndarray]
    valid: tuple[np.ndarray, np.ndarray]
    test: tuple[np.ndarray, np.ndarray] | None
    scored: bool
    source: dict[str, Any]
    notes: tuple[str, ...] = ()


def _positive(name: str, value: Any, low: int = 1) -> None:
    if value is not None and (isinstance(value, bool) or int(value) != value or value < low):
        raise UsageError(f"{name} must be an integer >= {low}, got {value!r}")


def _splits(data: str | None, train: PathLike | None, valid: PathLike | None, test: PathLike | None,
            ) -> tuple[str, dict[str, list[list[str]] | None], bool, dict[str, Any], list[str]]:
    """``(name, {"train", "valid", "test"} dialogues, last_only for evaluation, source, notes)``."""
    if train is None:
        if valid is not None or test is not None:
            raise UsageError("--valid/--test need --train (without --train a shipped data set is used)")
        data = data or "synthetic"
        if data not in SHIPPED:
            raise UsageError(f"unknown dialogue data set {data!r}; choose one of {', '.join(SHIPPED)}, "
                             "or pass your own file with --train")
        if data == "synthetic":
            return data, dict(synthetic_splits(0)), True, {"data": "synthetic", "seed": 0}, []
        parts = split_dialogues(load_chatterbot(), CHATTERBOT_SPLIT, seed=0)
        return data, dict(zip(("train", "valid", "test"), parts)), False, {"data": "chatterbot"}, []
    if data is not None:
        raise UsageError(f"pass either a shipped data set ({data!r}) or --train, not both")
    dialogues = read_dialogues(train)
    notes = []
    if valid is not None:
        held_out = read_dialogues(valid)
    else:
        if len(dialogues) < 2:
            raise UsageError(f"{os.fspath(train)} holds one dialogue: pass --valid FILE too, or more dialogues")
        count = max(1, round(len(dialogues) * VALID_FRACTION))
        dialogues, held_out = dialogues[:-count], dialogues[-count:]
        notes.append(f"no --valid file: the last {count} of the {len(dialogues) + count} dialogues of "
                     f"{os.fspath(train)} are held out for validation")
    splits = {"train": dialogues, "valid": held_out, "test": read_dialogues(test) if test is not None else None}
    return os.fspath(train), splits, False, {"data": "files"}, notes


def load_data(data: str | None = None, *, train: PathLike | None = None, valid: PathLike | None = None,
              test: PathLike | None = None, context_turns: int | None = None, max_tokens: int | None = None,
              tokenizer: str = "simple", min_count: int = 1, max_vocab: int | None = None,
              max_train: int | None = None) -> DialogueData:
    """The shipped ``data`` set (default ``"synthetic"``) or the user's files, as id arrays.

    ``context_turns``: turns of context a reply sees (default 5 on the synthetic task, enough to reach
    its first turn; else 3); ``max_tokens``: a turn's width in tokens with bos and eos (default 12 on
    the synthetic task, else 32; longer turns are cut). ``max_train`` keeps the first N training
    dialogues. The vocabulary is made from the training turns (``min_count``, ``max_vocab``). Every
    reply is a training example; the synthetic task's validation and test examples are its answers
    only (the last reply of each dialogue), on which exact-match accuracy is measured.
    """
    _positive("context_turns", context_turns)
    _positive("max_tokens", max_tokens, 3)
    _positive("min_count", min_count)
    _positive("max_vocab", max_vocab)
    _positive("max_train", max_train)
    get_tokenizer(tokenizer)
    name, splits, last_only, source, notes = _splits(data, train, valid, test)
    kind = name if name in SHIPPED else "user"
    context_turns = context_turns or DEFAULT_CONTEXT[kind]
    max_tokens = max_tokens or DEFAULT_MAX_TOKENS[kind]
    train_dialogues = splits["train"][:max_train] if max_train is not None else splits["train"]
    codec = DialogueCodec.build((turn for d in train_dialogues for turn in d), tokenizer, context_turns, max_tokens,
                                min_count, max_vocab)

    def encode(dialogues: list[list[str]] | None, last: bool) -> tuple[np.ndarray, np.ndarray] | None:
        if dialogues is None:
            return None
        return codec.encode(*dialogue_examples(dialogues, context_turns, last_only=last))

    return DialogueData(name, codec, encode(train_dialogues, False), encode(splits["valid"], last_only),
                        encode(splits["test"], last_only), last_only, source, tuple(notes))


# ------------------------------------------------------------------------------------ scoring


def trim(ids: Any, pad_id: int = 0) -> Any:
    """``ids (..., T)`` cut to its longest row (pads only at the end of a row): a batch of short
    turns does not pay for the longest turn of the data set. The models ignore trailing pads."""
    width = int((ids != pad_id).sum(axis=-1).max()) if ids.size else 1
    return ids[..., :max(width, 1)]


def dialogue_loss(model: Any, batch: Any) -> Any:
    """The Trainer's loss: ``model.loss(context, reply)`` on the batch cut to its longest turn."""
    context, reply = batch
    return model.loss(trim(context, model.pad_id), trim(reply, model.pad_id))


def reply_tokens(model: HRED, codec: DialogueCodec, context: np.ndarray, temperature: float = 0.0,
                 batch_size: int = 256) -> list[list[str]]:
    """The words of the model's reply to each context (greedy, or sampled with ``temperature``)."""
    out: list[list[str]] = []
    for start in range(0, len(context), batch_size):
        ids = model.generate(trim(context[start:start + batch_size], codec.pad_id), max_len=codec.max_tokens - 1,
                             temperature=temperature)
        out += [codec.tokens(row) for row in ids]
    return out


def dialogue_scores(model: HRED, codec: DialogueCodec, context: np.ndarray, reply: np.ndarray, *,
                    scored: bool = False, temperature: float = 0.0, batch_size: int = 256,
                    generate: bool = True) -> dict[str, float]:
    """Scores of ``model`` on examples (call in eval mode, without gradients).

    ``loss``: per reply token, the model's loss (HRED: the NLL; VHRED: the bound NLL + KL, z from the
    posterior), ``nll`` and ``kl`` its parts (``kl`` 0 for HRED), ``perplexity = exp(loss)``;
    ``distinct_1``/``distinct_2`` of the generated replies; with ``scored``, ``accuracy``: the
    fraction of generated replies equal to the reference word for word.
    """
    nll = kl = 0.0
    tokens = 0
    for start in range(0, len(reply), batch_size):
        ctx = trim(context[start:start + batch_size], codec.pad_id)
        rep = trim(reply[start:start + batch_size], codec.pad_id)
        loss = float(model.loss(ctx, rep).data)
        terms = getattr(model, "last_terms", None)
        if terms:
            nll, kl, tokens = nll + terms["nll"], kl + terms["kl"], tokens + terms["tokens"]
        else:
            count = int((rep[:, 1:] != codec.pad_id).sum())
            nll, tokens = nll + loss * count, tokens + count
    tokens = max(tokens, 1)
    bound = (nll + kl) / tokens
    scores = {"loss": bound, "nll": nll / tokens, "kl": kl / tokens,
              "perplexity": math.exp(bound) if bound < 700 else float("inf")}
    if generate:
        replies = reply_tokens(model, codec, context, temperature, batch_size)
        scores |= {"distinct_1": distinct_n(replies, 1), "distinct_2": distinct_n(replies, 2),
                   "reply_length": float(np.mean([len(r) for r in replies])) if replies else 0.0}
        if scored:
            scores["accuracy"] = float(np.mean([r == codec.tokens(t) for r, t in zip(replies, reply)]))
    return scores


# ------------------------------------------------------------------------------------ training


def _check_settings(model: str, sizes: dict[str, int], lr: float, word_dropout: float | None) -> None:
    if model not in MODELS:
        raise UsageError(f"unknown dialogue model {model!r}; choose one of {', '.join(MODELS)}")
    for name, value in sizes.items():
        _positive(name, value)
    if not lr > 0:
        raise UsageError(f"lr must be positive, got {lr}")
    if word_dropout is not None and not 0 <= word_dropout < 1:
        raise UsageError(f"word_dropout must be in [0, 1), got {word_dropout}")


def train(data: str | None = None, model: str = "hred", *, train: PathLike | None = None,
          valid: PathLike | None = None, test: PathLike | None = None, context_turns: int | None = None,
          max_tokens: int | None = None, tokenizer: str = "simple", min_count: int = 1, max_vocab: int | None = None,
          max_train: int | None = None, epochs: int = 10, batch_size: int = 64, embed_size: int = 64,
          hidden_size: int = 128, latent_size: int = 32, word_dropout: float | None = None,
          kl_anneal_steps: int | None = None, lr: float = 1e-3, max_grad_norm: float = 5.0,
          out_dir: PathLike | None = None, seed: int = 0, quiet: bool = False, resume: bool = False,
          checkpoint_minutes: float | None = None, prepared: DialogueData | None = None,
          max_minutes: float | None = None) -> dict[str, Any]:
    """Train an ``"hred"`` or ``"vhred"`` dialogue model (see the module docstring).

    ``hidden_size`` is the width of the utterance encoder, the context GRU and the decoder;
    ``word_dropout`` defaults to 0 for HRED and 0.25 for VHRED; ``kl_anneal_steps`` (VHRED) to half
    of the run's optimizer steps. ``prepared``: data from :func:`load_data` (the data arguments are
    then not used).

    Returns ``{"model", "history", "final", "config", "codec"}``. ``final``: ``valid_*`` of the best
    epoch and, when there is a test split, ``test_*`` scores of the best model
    (:func:`dialogue_scores`), plus ``train_loss`` of the last epoch.
    """
    prepared = prepared if prepared is not None else load_data(
        data, train=train, valid=valid, test=test, context_turns=context_turns, max_tokens=max_tokens,
        tokenizer=tokenizer, min_count=min_count, max_vocab=max_vocab, max_train=max_train)
    sizes = {"epochs": epochs, "batch_size": batch_size, "embed_size": embed_size, "hidden_size": hidden_size,
             "latent_size": latent_size}
    _check_settings(model, sizes, lr, word_dropout)
    _positive("kl_anneal_steps", kl_anneal_steps, 0)
    codec = prepared.codec
    for note in prepared.notes:
        log(note, quiet)
    out = Path(out_dir) if out_dir is not None else None
    if resume:
        check_resume_vocabulary(out, codec.symbols, unit="words")

    backend.manual_seed(seed)
    batches = MiniBatches(*prepared.train, batch_size=batch_size)
    settings: dict[str, Any] = {"model": model, "vocab_size": len(codec), "embed_size": embed_size,
                                "utterance_size": hidden_size, "context_size": hidden_size,
                                "decoder_size": hidden_size,
                                "word_dropout": word_dropout if word_dropout is not None else
                                (0.25 if model == "vhred" else 0.0)}
    callbacks: list[Any] = []
    if model == "vhred":
        if kl_anneal_steps is None:
            kl_anneal_steps = max(1, epochs * len(batches) // 2)
        settings["latent_size"] = latent_size
    net = build_dialogue_model(settings)
    if model == "vhred":
        net.annealing = KLAnnealing("linear", x0=kl_anneal_steps)
        callbacks.append(net.annealing)  # its step count is saved in every checkpoint: exact resume
    optimizer = optim.Adam(net.parameters(), lr=lr)
    model_config = net.config() | codec.to_config()
    run_config = {
        "data": prepared.name, "train": _path(train), "valid": _path(valid), "test": _path(test), "model": model,
        "context_turns": codec.context_turns, "max_tokens": codec.max_tokens, "tokenizer": codec.tokenizer,
        "min_count": min_count, "max_vocab": max_vocab, "max_train": max_train, "epochs": epochs,
        "batch_size": batch_size, "embed_size": embed_size, "hidden_size": hidden_size,
        "latent_size": latent_size if model == "vhred" else None, "word_dropout": net.word_dropout,
        "kl_anneal_steps": kl_anneal_steps if model == "vhred" else None, "lr": lr, "max_grad_norm": max_grad_norm,
        "seed": seed, "train_examples": len(prepared.train[1]), "valid_examples": len(prepared.valid[1]),
        "test_examples": len(prepared.test[1]) if prepared.test is not None else 0, "vocab_size": len(codec),
    }

    def per_epoch(m: Any) -> dict[str, float]:
        return dialogue_scores(m, codec, *prepared.valid, scored=prepared.scored)

    monitor, mode = ("valid_accuracy", "max") if prepared.scored else ("valid_loss", "min")
    trainer = Trainer(net, optimizer, dialogue_loss, batch_size=batch_size, max_grad_norm=max_grad_norm,
                      callbacks=callbacks, monitor=monitor, mode=mode, out_dir=out, quiet=quiet, unit="replies",
                      meta={"config": model_config, "vocab": codec.symbols, "data": prepared.source},
                      config=run_config,
                      checkpoint_minutes=(checkpoint_minutes or CHECKPOINT_MINUTES) if out is not None else None,
                      divergence=DivergenceGuard(), max_minutes=max_minutes)
    history = trainer.fit(batches, valid=per_epoch, epochs=epochs, resume=resume)
    restored = trainer.restore_best()
    best = history[trainer.best_epoch - 1] if restored and trainer.best_epoch else history[-1]
    final: dict[str, Any] = {"train_loss": history[-1]["loss"]}
    final |= {k: v for k, v in best.items() if k.startswith("valid_")}
    if prepared.test is not None:
        final |= {f"test_{k}": v for k, v in trainer.evaluate(
            lambda m: dialogue_scores(m, codec, *prepared.test, scored=prepared.scored)).items()}
    trainer.write_metrics(final)
    if out is not None and trainer.comm.is_main:
        title = f"{Path(prepared.name).name}: {model}, {codec.context_turns} turn(s) of context"
        plot_curves(history, ["loss", "valid_loss"], out / "loss.png", ylabel="loss per reply token", title=title)
        if prepared.scored:
            plot_curves(history, ["valid_accuracy"], out / "accuracy.png",
                        ylabel="valid accuracy (exact match of the answers)", title=title)
    return {"model": net, "history": history, "final": final, "config": run_config | {"model_config": model_config},
            "codec": codec}


def _path(value: PathLike | None) -> str | None:
    return os.fspath(value) if value is not None else None


# ------------------------------------------------------------------------------------ loading


def check_dialogue_config(config: Any, source: Any = "config") -> dict[str, Any]:
    """The fields of a stored dialogue model config, checked (types, ranges); builds nothing."""
    kind = config_choice(config, "model", source, MODELS)
    checked: dict[str, Any] = {"model": kind}
    for key in ("vocab_size", "embed_size", "utterance_size", "context_size", "decoder_size"):
        checked[key] = config_int(config, key, source, low=1, high=MAX_SIZE)
    if kind == "vhred":
        checked["latent_size"] = config_int(config, "latent_size", source, low=1, high=MAX_SIZE)
    checked["word_dropout"] = config_float(config, "word_dropout", source, 0.0, 1.0, default=0.0, high_open=True)
    for key, expected in zip(("pad_id", "bos_id", "eos_id", "unk_id"), range(len(SPECIALS))):
        checked[key] = config_int(config, key, source, low=expected, high=expected)
    text = {"tokenizer": config_choice(config, "tokenizer", source, list(TOKENIZERS)),
            "context_turns": config_int(config, "context_turns", source, low=1, high=MAX_TOKENS),
            "max_tokens": config_int(config, "max_tokens", source, low=3, high=MAX_TOKENS)}
    return checked | {"text": text}


def _lstm(prefix: str, gates: int, fan_in: int, hidden: int) -> dict[str, tuple[int, ...]]:
    return {f"{prefix}.weight_ih_l0": (gates * hidden, fan_in), f"{prefix}.weight_hh_l0": (gates * hidden, hidden),
            f"{prefix}.bias_ih_l0": (gates * hidden,), f"{prefix}.bias_hh_l0": (gates * hidden,)}


def dialogue_parameter_shapes(config: dict[str, Any]) -> dict[str, tuple[int, ...]]:
    """Name -> shape of every parameter of the model a checked config describes (no allocation)."""
    v, e = config["vocab_size"], config["embed_size"]
    hu, hc, hd = config["utterance_size"], config["context_size"], config["decoder_size"]
    latent = config.get("latent_size", 0) if config["model"] == "vhred" else 0
    cond = hc + latent
    shapes = {"embed.weight": (v, e), **_lstm("utterance_encoder", 4, e, hu), **_lstm("context_rnn", 3, hu, hc),
              "decoder_init.weight": (hd, cond), "decoder_init.bias": (hd,), **_lstm("decoder", 4, e + cond, hd),
              "output.weight": (v, hd), "output.bias": (v,)}
    if latent:
        for net, fan_in in (("prior", hc), ("posterior", hc + hu)):
            shapes |= {f"{net}.0.weight": (hc, fan_in), f"{net}.0.bias": (hc,),
                       f"{net}.2.weight": (2 * latent, hc), f"{net}.2.bias": (2 * latent,)}
    return shapes


def load_dialogue(path: PathLike) -> tuple[HRED, DialogueCodec, dict[str, Any]]:
    """``(model, codec, data source)`` of a trained run (its directory or one of its files), in eval mode.

    The file is data: its config is checked (types, ranges, agreement with the vocabulary and with the
    stored tensors' shapes) before the model is built; a problem is a :class:`CheckpointError`.
    """
    file = run_file(path, made_by="zeronlp dialogue train")
    record = load(file)
    config = record.get("config") if isinstance(record, dict) else None
    symbols = record.get("vocab") if isinstance(record, dict) else None
    if not isinstance(config, dict) or not isinstance(symbols, list) or not isinstance(record.get("model"), dict):
        raise CheckpointError(f"{file}: not a dialogue model (no config, vocabulary or weights; "
                              "made by `zeronlp dialogue train`?)")
    checked = check_dialogue_config(config, file)
    text = checked.pop("text")
    if checked["vocab_size"] != len(symbols):
        raise CheckpointError(f"{file}: field config/vocab_size: the model config says {checked['vocab_size']} "
                              f"words, the vocabulary has {len(symbols)}")
    if not all(isinstance(s, str) for s in symbols):
        raise CheckpointError(f"{file}: field vocab: expected a list of strings")
    check_shapes(record["model"], dialogue_parameter_shapes(checked), file)
    try:
        codec = DialogueCodec(symbols, **text)
        model = build_dialogue_model(checked)
        model.load_state_dict(record["model"])
    except (ValueError, KeyError, TypeError) as err:
        raise CheckpointError(f"{file}: cannot rebuild the dialogue model: {err}") from None
    model.eval()
    source = record.get("data") if isinstance(record.get("data"), dict) else {}
    return model, codec, source


# ------------------------------------------------------------------------------------ inference


def evaluate(ckpt: PathLike, data: str | None = None, *, test: PathLike | None = None,
             temperature: float = 0.0, seed: int = 0, samples: int = 0) -> dict[str, Any]:
    """Score a trained run on a test set: the test split of ``data`` (default: the data it was trained
    on), or the user's ``test`` file. Returns ``{"scores"}`` (:func:`dialogue_scores`), ``"data"``,
    ``"examples"`` and ``"samples"``: the first ``samples`` ``(context, reference, reply)`` triples."""
    if not temperature >= 0:
        raise UsageError(f"temperature must be >= 0, got {temperature}")
    model, codec, source = load_dialogue(ckpt)
    if test is not None and data is not None:
        raise UsageError(f"pass either a shipped data set ({data!r}) or --test, not both")
    scored = False
    if test is not None:
        name, dialogues = os.fspath(test), read_dialogues(test)
    else:
        name = data or source.get("data")
        if name not in SHIPPED:
            raise UsageError("this run was trained on your files: pass the file to score with --test FILE")
        if name == "synthetic":
            dialogues, scored = synthetic_splits(0)["test"], True
        else:
            dialogues = split_dialogues(load_chatterbot(), CHATTERBOT_SPLIT, seed=0)[2]
    contexts, replies = dialogue_examples(dialogues, codec.context_turns, last_only=scored)
    context, reply = codec.encode(contexts, replies)
    backend.manual_seed(seed)
    with inference(model):
        scores = dialogue_scores(model, codec, context, reply, scored=scored, temperature=temperature)
        shown = []
        if samples:
            generated = reply_tokens(model, codec, context[:samples], temperature)
            shown = [(contexts[i], replies[i], " ".join(generated[i])) for i in range(min(samples, len(replies)))]
    return {"scores": scores, "data": name, "examples": len(replies), "samples": shown}


def respond(model: HRED, codec: DialogueCodec, turns: list[str], temperature: float = 0.0,
            seed: int | None = None) -> str:
    """The model's reply to the dialogue ``turns`` so far (its last ``context_turns``); greedy, or
    sampled with ``temperature`` from the backend's Generator, seeded with ``seed`` if given (VHRED
    draws its z from it too): the same seed gives the same reply."""
    if seed is not None:
        backend.manual_seed(seed)
    if not temperature >= 0:
        raise UsageError(f"temperature must be >= 0, got {temperature}")
    if not turns or not turns[-1].strip():
        raise UsageError("nothing to answer: the last turn is empty")
    context = trim(codec.encode_context([t.strip() for t in turns])[None], codec.pad_id)
    ids = model.generate(context, max_len=codec.max_tokens - 1, temperature=temperature)
    return codec.decode(ids[0])


class Conversation:
    """A dialogue with a trained run: :meth:`say` a turn, get the reply; :meth:`reset` starts anew.

    ``seed`` seeds the backend's Generator once, so the same turns give the same replies (VHRED draws
    its z, and ``temperature > 0`` its words, from it)."""

    def __init__(self, ckpt: PathLike, temperature: float = 0.0, seed: int | None = None):
        if not temperature >= 0:
            raise UsageError(f"temperature must be >= 0, got {temperature}")
        self.model, self.codec, _ = load_dialogue(ckpt)
        self.temperature = temperature
        self.turns: list[str] = []
        if seed is not None:
            backend.manual_seed(seed)

    def say(self, text: str) -> str:
        self.turns.append(text.strip())
        reply = respond(self.model, self.codec, self.turns, self.temperature)
        self.turns.append(reply)
        return reply

    def reset(self) -> None:
        self.turns = []

    def unknown(self, text: str) -> list[str]:
        return self.codec.unknown(text)
