"""Sequence-to-sequence experiments (DLfS 2 ch. 7-8) as library functions: train, compare, translate.

Data: the book's shipped tasks (``data="addition"`` or ``"date"``) or the user's own
``SOURCE<TAB>TARGET`` files (``train=``, ``valid=``, ``test=``; ``level="char"`` or ``"word"``, see
:func:`zeronlp.data.seq.load_parallel`). Every file is read and checked before the run directory is
created, so a bad file leaves nothing behind.

Training is the book's recipe through the one :class:`~zeronlp.train.Trainer`: Adam, gradient
clipping, the loss ``model.loss(x, t)``, and after every epoch the exact-match accuracy of the
greedy answers (and the teacher-forced loss) on an evaluation set:

* **shipped tasks** have no validation split; as in the book, the per-epoch evaluation is on the
  *test* split, and the history says so (``test_accuracy``, ``test_loss``). Nothing is selected
  on it: the kept model (``model.safetensors``) is the last epoch's, and ``final`` reports the last
  epoch's test accuracy, the figure the book and the README quote.
* **the user's data** is evaluated on ``valid`` (or on the last 10% of the training lines, held
  out, when no validation file is given): ``valid_accuracy``, ``valid_loss``. The best epoch by
  ``valid_accuracy`` is kept, and the test file, if any, is scored once with it at the end.

The run directory holds ``checkpoint.safetensors`` (every epoch and on Ctrl-C: exact resume with
``resume=True``), ``model.safetensors`` (weights, model config, text format, vocabulary),
``metrics.json``, ``accuracy.png`` and, for attention models, ``attention.png`` (the attention of
the first evaluation example). :func:`translate` answers one input with a trained run.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from .. import backend, distributed, optim
from ..data.seq import LEVELS, SeqCodec, load_parallel, load_seq
from ..data.textfiles import get_tokenizer
from ..errors import UsageError
from ..models.seq2seq import SEQ2SEQ_MODELS, build_seq2seq, exact_match_accuracy
from ..models.seq2seq_io import load_seq2seq, model_file
from ..models.seq2seq_io import translate as translate_text
from ..train import CHECKPOINT_NAME, EpochMetrics, MiniBatches, Trainer, log, model_loss, write_metrics
from ..train.checkpoint import check_resume_vocabulary
from ..train.divergence import DivergenceGuard
from ..viz.attention import attention_figure
from ..viz.plots import plot_curves, plot_heatmap, plot_series

SHIPPED = ("addition", "date")
DEFAULT_HIDDEN = {"addition": 128, "date": 256}
USER_HIDDEN = 128
# the Transformer (``model="transformer"``): hidden_size is d_model; Adam with a linear warm-up over
# at most TRANSFORMER_WARMUP steps (a tenth of the run at most), then a cosine decay, per step
TRANSFORMER = dict(d_model=128, nhead=4, num_encoder_layers=2, num_decoder_layers=2, dim_feedforward=512,
                   dropout=0.1)
TRANSFORMER_WARMUP = 200
ATTENTION_MODELS = ("attention", "transformer")
VALID_FRACTION = 0.1
CHECKPOINT_MINUTES = 10.0  # mid-epoch checkpoints of a run with a run directory (None: this default)
COMPARE_VARIANTS = (("baseline", "base", False), ("reversed", "base", True), ("reversed + peeky", "peeky", True))
PathLike = str | os.PathLike


# ---------------------------------------------------------------------------------------- data


@dataclass
class Seq2SeqData:
    """Encoded data of one run. ``per_epoch`` is the set evaluated after every epoch, ``per_epoch_split``
    its name (``"test"`` for the shipped tasks, ``"valid"`` for the user's data); ``test`` is the set
    scored once at the end (user data with a test file), else None."""

    name: str
    codec: SeqCodec
    train: tuple[np.ndarray, np.ndarray]
    per_epoch: tuple[np.ndarray, np.ndarray]
    per_epoch_split: str
    test: tuple[np.ndarray, np.ndarray] | None
    notes: tuple[str, ...] = ()

    def reversed(self, reverse: bool) -> Seq2SeqData:
        """The same data with the sources reversed (``reverse=True``) or as written."""
        if reverse == self.codec.reverse:
            return self
        codec = SeqCodec.from_config(self.codec.to_config() | {"reverse": bool(reverse)}, self.codec.symbols)

        def flip(pair: tuple[np.ndarray, np.ndarray] | None) -> tuple[np.ndarray, np.ndarray] | None:
            return None if pair is None else (np.ascontiguousarray(pair[0][:, ::-1]), pair[1])

        return replace(self, codec=codec, train=flip(self.train), per_epoch=flip(self.per_epoch),
                       test=flip(self.test))


def load_data(data: str | None = None, *, train: PathLike | None = None, valid: PathLike | None = None,
              test: PathLike | None = None, level: str = "char", tokenizer: str = "whitespace",
              reverse: bool = False, max_train: int | None = None, max_test: int | None = None) -> Seq2SeqData:
    """The shipped task ``data`` (default ``"addition"``) or the user's files, encoded for a model.

    ``max_train`` / ``max_test`` keep the first N training / evaluation (and test) examples.
    """
    if level not in LEVELS:
        raise UsageError(f"level must be one of {', '.join(LEVELS)}, got {level!r}")
    get_tokenizer(tokenizer)
    for name, value in (("max_train", max_train), ("max_test", max_test)):
        if value is not None and (int(value) != value or value < 1):
            raise UsageError(f"{name} must be a positive integer, got {value!r}")
    if train is None:
        if valid is not None or test is not None:
            raise UsageError("--valid/--test need --train (without --train a shipped task is used)")
        data = data or "addition"
        if data not in SHIPPED:
            raise UsageError(f"unknown seq2seq data set {data!r}; choose one of {', '.join(SHIPPED)}, "
                             "or pass your own files with --train")
        if level != "char":
            raise UsageError(f"the shipped {data!r} task is character level; --level word needs --train")
        (x, t), (x_test, t_test), vocab = load_seq(data)
        codec = SeqCodec.from_char_vocabulary(vocab, x.shape[1], t.shape[1])
        result = Seq2SeqData(data, codec, (x[:max_train], t[:max_train]), (x_test[:max_test], t_test[:max_test]),
                             "test", None)
        return result.reversed(reverse)
    if data is not None:
        raise UsageError(f"pass either a shipped task ({data!r}) or --train, not both")
    parallel = load_parallel(train, valid, test, level=level, tokenizer=tokenizer, valid_fraction=VALID_FRACTION)
    notes = []
    if parallel.held_out:
        notes.append(f"no --valid file: the last {parallel.held_out} of the {parallel.train_lines} lines of "
                     f"{os.fspath(train)} are held out for validation")
    x, t = parallel.train
    test_pair = parallel.test
    result = Seq2SeqData(os.fspath(train), parallel.codec, (x[:max_train], t[:max_train]),
                         tuple(a[:max_test] for a in parallel.valid), "valid",
                         tuple(a[:max_test] for a in test_pair) if test_pair is not None else None, tuple(notes))
    return result.reversed(reverse)


def evaluator(x: np.ndarray, t: np.ndarray, codec: SeqCodec, batch_size: int = 1000) -> Any:
    """``fn(model) -> {"accuracy", "loss"}``: exact match of the greedy answers, mean teacher-forced loss."""
    def evaluate(model: Any) -> dict[str, float]:
        total = 0.0
        for start in range(0, len(x), batch_size):
            rows = slice(start, start + batch_size)
            total += float(model.loss(x[rows], t[rows]).data) * len(x[rows])
        return {"accuracy": exact_match_accuracy(model, x, t, batch_size, end_id=codec.end_id),
                "loss": total / len(x)}

    return evaluate


# ------------------------------------------------------------------------------------ training


def _check_settings(model: str, hidden_size: int, wordvec_size: int, bidirectional: bool, lr: float,
                    init: str) -> None:
    if model not in SEQ2SEQ_MODELS:
        raise UsageError(f"unknown seq2seq model {model!r}; choose one of {', '.join(SEQ2SEQ_MODELS)}")
    for name, value in (("hidden_size", hidden_size), ("wordvec_size", wordvec_size)):
        if int(value) != value or value < 1:
            raise UsageError(f"{name} must be a positive integer, got {value!r}")
    if bidirectional and hidden_size % 2:
        raise UsageError(f"a bidirectional encoder needs an even hidden size, got {hidden_size}")
    if not lr > 0:
        raise UsageError(f"lr must be positive, got {lr}")
    if init not in ("pytorch", "book"):
        raise UsageError(f"init must be 'pytorch' or 'book', got {init!r}")
    if model == "transformer" and (bidirectional or init != "pytorch"):
        raise UsageError("--bidirectional and --init are for the LSTM models, not the transformer")
    if model == "transformer" and hidden_size % TRANSFORMER["nhead"]:
        raise UsageError(f"the transformer's hidden size (d_model) must be divisible by its "
                         f"{TRANSFORMER['nhead']} heads, got {hidden_size}")


def _network(model: str, vocab_size: int, codec: SeqCodec, hidden_size: int, wordvec_size: int,
             bidirectional: bool, init: str) -> Any:
    if model != "transformer":
        return build_seq2seq({"model": model, "vocab_size": vocab_size, "wordvec_size": wordvec_size,
                              "hidden_size": hidden_size, "bidirectional": bidirectional, "init": init})
    return build_seq2seq({"model": model, "vocab_size": vocab_size, "max_len": max(codec.src_length, codec.tgt_length),
                          "positional": "sinusoidal", "norm_first": True, "tie_weights": True, "pad_id": None,
                          "activation": "relu", **TRANSFORMER, "d_model": hidden_size})


def train(data: str | None = None, model: str = "base", reverse: bool = False, *, train: PathLike | None = None,
          valid: PathLike | None = None, test: PathLike | None = None, level: str = "char",
          tokenizer: str = "whitespace", epochs: int = 25, batch_size: int = 128, hidden_size: int | None = None,
          wordvec_size: int = 16, bidirectional: bool = False, lr: float = 1e-3, max_grad_norm: float = 5.0,
          init: str = "pytorch", max_train: int | None = None, max_test: int | None = None,
          out_dir: PathLike | None = None, seed: int = 0, quiet: bool = False, resume: bool = False,
          checkpoint_minutes: float | None = None, prepared: Seq2SeqData | None = None,
          max_minutes: float | None = None) -> dict[str, Any]:
    """Train a ``"base"``, ``"peeky"``, ``"attention"`` or ``"transformer"`` seq2seq model with Adam
    and gradient clipping (the Transformer: ``hidden_size`` is its d_model, default 128, and the
    learning rate warms up linearly, then decays on a cosine, per step; see ``TRANSFORMER``).

    ``data``: ``"addition"`` (default) or ``"date"``; or the user's ``train`` file (``valid``/``test``
    optional, ``level`` ``"char"`` or ``"word"``, ``tokenizer`` for words). ``reverse``: feed the
    sources reversed (the book's trick). ``hidden_size`` defaults to 128 (256 on date). ``prepared``:
    data from :func:`load_data` (then the data arguments are not used). ``max_minutes``: a wall-clock
    budget for the run (:class:`~zeronlp.train.Trainer`). See the module docstring
    for what is evaluated, kept and written.

    Returns ``{"model", "history", "final", "config", "vocab"}`` (``vocab``: the :class:`SeqCodec`).
    ``final``: ``test_accuracy`` (shipped: the last epoch's; user data: the best model's, with a test
    file), ``valid_accuracy`` (user data: the best model's), ``train_loss`` (last epoch).
    """
    prepared = prepared.reversed(reverse) if prepared is not None else load_data(
        data, train=train, valid=valid, test=test, level=level, tokenizer=tokenizer, reverse=reverse,
        max_train=max_train, max_test=max_test)
    shipped = prepared.per_epoch_split == "test"
    if model == "transformer":
        hidden_size = hidden_size or TRANSFORMER["d_model"]
    hidden_size = hidden_size or (DEFAULT_HIDDEN[prepared.name] if shipped else USER_HIDDEN)
    _check_settings(model, hidden_size, wordvec_size, bidirectional, lr, init)
    codec = prepared.codec
    for note in prepared.notes:
        log(note, quiet)
    out = Path(out_dir) if out_dir is not None else None
    if resume:
        check_resume_vocabulary(out, codec.symbols)

    backend.manual_seed(seed)
    net = _network(model, len(codec), codec, hidden_size, wordvec_size, bidirectional, init)
    optimizer = optim.Adam(net.parameters(), lr=lr)
    batches = MiniBatches(*prepared.train, batch_size=batch_size)
    scheduler, warmup = None, None
    if model == "transformer":
        total = epochs * len(batches)
        warmup = min(TRANSFORMER_WARMUP, total // 10)
        scheduler = optim.WarmupCosine(optimizer, warmup, total)
    model_config = net.config() | codec.to_config() | {"data": prepared.name if shipped else "tsv"}
    run_config = {
        "data": prepared.name, "train": _path(train), "valid": _path(valid), "test": _path(test), "level": codec.level,
        "tokenizer": codec.tokenizer if codec.level == "word" else None, "model": model, "reverse": reverse,
        "epochs": epochs, "batch_size": batch_size, "hidden_size": hidden_size, "wordvec_size": wordvec_size,
        "bidirectional": bidirectional, "lr": lr, "max_grad_norm": max_grad_norm, "init": init, "seed": seed,
        "max_train": max_train, "max_test": max_test, "per_epoch_eval": prepared.per_epoch_split,
        "train_examples": len(prepared.train[0]), "eval_examples": len(prepared.per_epoch[0]),
        "vocab_size": len(codec), "src_length": codec.src_length, "tgt_length": codec.tgt_length,
    }
    if warmup is not None:
        run_config["warmup_steps"] = warmup
    evaluate = evaluator(*prepared.per_epoch, codec)
    if shipped:  # the book's schedule: the test split after every epoch, named so; no selection on it
        callbacks = [EpochMetrics(lambda tr, _: {f"test_{k}": v for k, v in tr.evaluate(evaluate).items()})]
        per_epoch, monitor = None, "epoch"
    else:
        callbacks, per_epoch, monitor = [], evaluate, "valid_accuracy"
    trainer = Trainer(net, optimizer, model_loss, batch_size=batch_size, max_grad_norm=max_grad_norm,
                      scheduler=scheduler, callbacks=callbacks, monitor=monitor, mode="max", out_dir=out, quiet=quiet,
                      unit="tokens",
                      meta={"config": model_config, "vocab": codec.symbols}, config=run_config,
                      checkpoint_minutes=(checkpoint_minutes or CHECKPOINT_MINUTES) if out is not None else None,
                      divergence=DivergenceGuard(), max_minutes=max_minutes)
    history = trainer.fit(batches, valid=per_epoch, epochs=epochs, resume=resume)
    accuracy_key = f"{prepared.per_epoch_split}_accuracy"
    final: dict[str, Any] = {"train_loss": history[-1]["loss"]}
    if shipped:
        final["test_accuracy"] = history[-1]["test_accuracy"]
    else:
        # the best epoch's weights, saved in out_dir (without one, the last epoch's stay)
        restored = trainer.restore_best()
        final["valid_accuracy"] = trainer.best if restored else history[-1]["valid_accuracy"]
        which = f"epoch {trainer.best_epoch}, the best by valid accuracy" if restored else "the last epoch"
        if prepared.test is not None:
            scores = trainer.evaluate(evaluator(*prepared.test, codec))
            final |= {"test_accuracy": scores["accuracy"], "test_loss": scores["loss"]}
            log(f"test accuracy {scores['accuracy'] * 100:.2f}% (exact match; weights of {which})", quiet)
    trainer.write_metrics(final)
    if out is not None and trainer.comm.is_main:  # with MPI ranks, rank 0 writes
        title = f"{Path(prepared.name).name}: {variant_name(model, reverse, bidirectional)}"
        plot_curves(history, [accuracy_key], out / "accuracy.png",
                    ylabel=f"{prepared.per_epoch_split} accuracy (exact match)", title=title)
        if model in ATTENTION_MODELS:
            _plot_first_attention(net, codec, prepared.per_epoch[0][0], out / "attention.png")
    return {"model": net, "history": history, "final": final, "config": run_config | {"model_config": model_config},
            "vocab": codec}


_train_run = train  # for compare(), whose ``train`` argument is a file


def _path(value: PathLike | None) -> str | None:
    return os.fspath(value) if value is not None else None


def variant_name(model: str, reverse: bool, bidirectional: bool = False) -> str:
    return f"{model}{' reversed' if reverse else ''}{' bidirectional' if bidirectional else ''}"


def _shown(symbol: str) -> str:
    return "␣" if symbol == " " else symbol


def _plot_first_attention(model: Any, codec: SeqCodec, source_ids: np.ndarray, path: Path) -> Path:
    ids, weights = model.generate(source_ids[None, :], codec.start_id, codec.tgt_length - 1, end_id=codec.end_id,
                                  return_attention=True)
    output = codec.answer_tokens(backend.to_numpy(ids)[0])
    weights = backend.to_numpy(weights)[0][:len(output)]
    source = [codec.symbols[int(i)] for i in source_ids]
    if codec.reverse:
        source, weights = source[::-1], weights[:, ::-1]
    return plot_attention(weights, source, output, path, title="attention: first evaluation example")


def plot_attention(weights: np.ndarray, input_tokens: list[str], output_tokens: list[str], path: PathLike,
                   title: str = "") -> Path:
    """The attention heatmap: one row per output symbol, one column per input symbol (spaces shown as ␣),
    cropped to the real input and output (trailing padding dropped)."""
    columns, rows = _unpadded_length(input_tokens), _unpadded_length(output_tokens)
    return plot_heatmap(np.asarray(weights)[:rows, :columns], path,
                        row_labels=[_shown(s) for s in output_tokens[:rows]],
                        col_labels=[_shown(s) for s in input_tokens[:columns]], xlabel="input (source)",
                        ylabel="output (generated)", title=title)


PADDING = (" ", "<pad>", "")


def _unpadded_length(tokens: list[str]) -> int:
    """How many tokens remain when trailing padding is dropped (at least one)."""
    length = len(tokens)
    while length > 1 and tokens[length - 1] in PADDING:
        length -= 1
    return length


def compare(data: str | None = None, *, train: PathLike | None = None, valid: PathLike | None = None,
            test: PathLike | None = None, level: str = "char", tokenizer: str = "whitespace",
            variants: tuple[tuple[str, str, bool], ...] = COMPARE_VARIANTS, out_dir: PathLike | None = None,
            max_train: int | None = None, max_test: int | None = None, quiet: bool = False, resume: bool = False,
            **settings: Any) -> dict[str, Any]:
    """Train each ``(label, model, reverse)`` variant (default: base, reversed, peeky + reversed, the
    book's fig. 7-26) with the same seed, each in ``out_dir/<label>``; plot their per-epoch accuracy
    together (``compare.png``). ``settings``: the other arguments of :func:`train`.

    Returns ``{"series": {label: accuracies}, "final": {"<split>_accuracy_<label>": ...}, "history",
    "results": {label: train() result}, "config"}``.
    """
    prepared = load_data(data, train=train, valid=valid, test=test, level=level, tokenizer=tokenizer,
                         max_train=max_train, max_test=max_test)
    out = Path(out_dir) if out_dir is not None else None
    split = prepared.per_epoch_split
    series: dict[str, list[float]] = {}
    final: dict[str, Any] = {}
    history: list[dict[str, Any]] = []
    results: dict[str, Any] = {}
    for label, model, reverse in variants:
        key = label.replace(" + ", "_").replace(" ", "_")
        log(f"== {label}", quiet)
        variant_dir = out / key if out is not None else None
        result = _train_run(model=model, reverse=reverse, prepared=prepared, out_dir=variant_dir, quiet=quiet,
                       resume=resume and variant_dir is not None and (variant_dir / CHECKPOINT_NAME).is_file(),
                       max_train=max_train, max_test=max_test, **settings)
        results[label] = result
        series[label] = [row[f"{split}_accuracy"] for row in result["history"]]
        final[f"{split}_accuracy_{key}"] = series[label][-1]
        if "test_accuracy" in result["final"] and split != "test":
            final[f"test_accuracy_{key}"] = result["final"]["test_accuracy"]
        history += [row | {"variant": key} for row in result["history"]]
    config = {"data": prepared.name, "variants": [list(v) for v in variants], "max_train": max_train,
              "max_test": max_test, **settings}
    if out is not None and distributed.init().is_main:
        plot_series(series, out / "compare.png", xlabel="epoch", ylabel=f"{split} accuracy (exact match)",
                    title=f"seq2seq on {Path(prepared.name).name}")
        write_metrics(out, config, history, final)
    return {"series": series, "final": final, "history": history, "results": results, "config": config}


# ------------------------------------------------------------------------------------ inference


def translate(ckpt: PathLike, text: str, beam_size: int = 1, heatmap: PathLike | None = None,
              plot: bool = True) -> dict[str, Any]:
    """Answer ``text`` with a trained run (its directory or a ``.safetensors`` file of it).

    Returns ``{"answer", "translation" (a :class:`~zeronlp.models.seq2seq_io.Translation`), "model"
    (its kind), "heatmap" (the path written, or None), "unknown" (words read as ``<unk>``)}``. For
    attention models with ``plot``, the attention heatmap goes to ``heatmap`` (default:
    ``attention.png`` in the run directory; for the averaged heads of a Transformer's last layer), and
    for a Transformer (greedy) every head of its last layer to ``attention_heads.png`` beside it
    (``"heads_heatmap"``).
    """
    if int(beam_size) != beam_size or beam_size < 1:
        raise UsageError(f"beam size must be a positive integer, got {beam_size!r}")
    model, codec = load_seq2seq(ckpt)
    result = translate_text(model, codec, text, beam_size)
    written = None
    if plot and result.weights is not None:
        written = Path(heatmap) if heatmap is not None else model_file(ckpt).parent / "attention.png"
        plot_attention(result.weights, result.input_tokens, result.output_tokens, written,
                       title="attention" + (" (last layer, mean of the heads)" if model.kind == "transformer" else ""))
    heads = None
    if plot and written is not None and model.kind == "transformer" and beam_size == 1:
        heads = plot_attention_heads(model, codec, text.strip(), written.with_name("attention_heads.png"))
    return {"answer": result.answer, "translation": result, "model": model.kind, "heatmap": written,
            "heads_heatmap": heads, "unknown": codec.unknown(text.strip())}


def plot_attention_heads(model: Any, codec: SeqCodec, text: str, path: PathLike) -> Path:
    """Every head of a Transformer's last decoder layer attending over the source (greedy answer), one
    panel each, cropped like :func:`plot_attention`."""
    src = codec.encode_source(text)[None, :]
    ids, weights = model.generate(src, codec.start_id, codec.tgt_length - 1, end_id=codec.end_id,
                                  return_attention="heads")
    output = codec.answer_tokens(backend.to_numpy(ids)[0])
    heads = backend.to_numpy(weights)[0, -1][:, :len(output)]  # (heads, outputs, source)
    source = codec.source_labels(text)
    if codec.reverse:
        heads = heads[:, :, ::-1]
    columns, rows = _unpadded_length(source), _unpadded_length(output)
    figure = attention_figure(heads[:, :rows, :columns], [_shown(s) for s in source[:columns]],
                              [_shown(s) for s in output[:rows]], title="last decoder layer, per head")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    return path
