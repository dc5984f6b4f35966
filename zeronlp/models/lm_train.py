"""Training loop of the LSTM language models: stateful truncated BPTT on PTB, the book's recipe.

Each epoch reads the training corpus as ``batch_size`` parallel streams in windows of ``bptt``
steps, carrying the detached hidden state from window to window (the state is reset at the
start of every epoch). SGD with gradient clipping; after each epoch the validation perplexity is
measured and the learning rate divided by 4 when it got worse (``ReduceOnPlateau(factor=0.25)``).

Not in the book, on by default: an exponential moving average of the weights along the SGD path,
``avg <- d * avg + (1 - d) * theta`` after every step (d = 0.998, about the last 500 steps, after a
warm-up ``d_n = min(d, (1 + n) / (10 + n))``; see :class:`~zeronlp.optim.AveragedModel`).
Validation, the learning-rate schedule, the kept model and the test perplexity use the average;
training continues from the raw weights. At the book's constant lr 20 the raw weights bounce
around the minimum and the average sits near its centre (RNNLM, 4 epochs: test perplexity ~137
raw, ~119 averaged). ``average="none"`` is the book's recipe.
Every epoch writes ``OUT/checkpoint.safetensors`` (model, optimizer, scheduler, epoch, history,
RNG states, model config and vocabulary); the best model by validation perplexity is kept in
``OUT/model.safetensors`` and gives the final test perplexity. ``OUT/metrics.json`` is rewritten
after every epoch with the history so far. A NaN/inf loss stops the run with
:class:`~zeronlp.train.TrainingDiverged` and leaves the last good checkpoint untouched.
"""

from __future__ import annotations

import contextlib
import math
import time
from pathlib import Path
from typing import Any

import numpy as np

from .. import backend, optim
from ..data import BPTTBatcher, Vocabulary, load_ptb
from ..serialization import load, save
from ..train import TrainingDiverged, load_checkpoint, log, progress, save_checkpoint, write_metrics
from .rnnlm import RNNLM, BetterRNNLM, build_lm, perplexity

CHECKPOINT = "checkpoint.safetensors"
BEST_MODEL = "model.safetensors"

DEFAULTS = {
    # the book's settings (ch. 6): batch 20, bptt 35, SGD lr 20, clip 0.25; 4 / 40 epochs.
    # Not in the book: an exponential moving average of the weights (average="none" turns it off)
    "rnnlm": dict(epochs=4, batch_size=20, bptt=35, lr=20.0, clip=0.25, average="ema", ema_decay=0.998),
    "better": dict(epochs=40, batch_size=20, bptt=35, lr=20.0, clip=0.25, average="ema", ema_decay=0.998),
}
AVERAGES = ("ema", "none")


def _make_model(name: str, vocab_size: int, **overrides: Any) -> Any:
    if name == "rnnlm":
        return RNNLM(vocab_size, **overrides)
    if name == "better":
        return BetterRNNLM(vocab_size, **overrides)
    raise ValueError(f"unknown model {name!r}; use 'rnnlm' or 'better'")


def load_corpus(max_tokens: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray, Vocabulary]:
    """PTB train/valid/test ids and the vocabulary; ``max_tokens`` keeps the first N training tokens
    and the first N // 4 validation and test tokens (quick runs)."""
    train, vocab = load_ptb("train")
    valid, _ = load_ptb("valid")
    test, _ = load_ptb("test")
    if max_tokens is not None:
        if max_tokens < 100:
            raise ValueError(f"--max-tokens must be at least 100, got {max_tokens}")
        train, valid, test = train[:max_tokens], valid[: max(max_tokens // 4, 400)], test[: max(max_tokens // 4, 400)]
    return train, valid, test, vocab


def save_model(path: str | Path, model: Any, vocab: Vocabulary, **extra: Any) -> None:
    """Write model weights with the config and vocabulary needed to rebuild it (for generate/next)."""
    save({"model": dict(model.state_dict()), "config": model.config(), "vocab": vocab.to_dict(), **extra}, path)


def load_model(path: str | Path) -> tuple[Any, Vocabulary]:
    """Rebuild a language model and its vocabulary from a run directory or a checkpoint file.

    A directory means ``DIR/model.safetensors`` (the best model) or else ``DIR/checkpoint.safetensors``.
    """
    path = Path(path)
    if path.is_dir():
        candidates = [path / BEST_MODEL, path / CHECKPOINT]
        found = next((p for p in candidates if p.is_file()), None)
        if found is None:
            raise FileNotFoundError(
                f"{path}: no {BEST_MODEL} or {CHECKPOINT} (train with `zeronlp lm train --out {path}`)"
            )
        path = found
    record = load(path)
    if "config" not in record or "vocab" not in record:
        raise ValueError(f"{path}: not a language-model checkpoint (no model config or vocabulary)")
    model = build_lm(record["config"])
    model.load_state_dict(record["model"])
    model.eval()
    return model, Vocabulary.from_dict(record["vocab"])


def _make_average(model: Any, config: dict[str, Any]) -> optim.AveragedModel | None:
    if config["average"] == "none":
        return None
    return optim.AveragedModel(model, decay=config["ema_decay"], warmup=True)


def _evaluated_weights(averaged: optim.AveragedModel | None) -> Any:
    """The weights that are evaluated and kept: the average when there is one, else the model's own."""
    return averaged.applied() if averaged is not None else contextlib.nullcontext()


def train_lm(model_name: str = "rnnlm", epochs: int | None = None, batch_size: int | None = None,
             bptt: int | None = None, lr: float | None = None, clip: float | None = None,
             average: str | None = None, ema_decay: float | None = None,
             out_dir: str | Path | None = None, quiet: bool = False, resume: bool = False, seed: int = 0,
             max_tokens: int | None = None, eval_batch_size: int = 10,
             corpus: tuple[Any, Any, Any, Vocabulary] | None = None,
             model_kwargs: dict[str, Any] | None = None) -> dict[str, Any]:
    """Train ``rnnlm`` or ``better`` on PTB (or ``corpus=(train, valid, test, vocab)``).

    Returns ``{"model", "vocab", "history", "final", "config"}``; with ``out_dir`` also writes the
    checkpoint, ``model.safetensors``, ``metrics.json`` (``final.test_perplexity``) and ``ppl.png``.
    ``resume=True`` continues from ``out_dir/checkpoint.safetensors`` to the identical state.
    ``average="ema"`` (the default) evaluates, keeps and returns an exponential moving average of
    the weights (decay ``ema_decay`` per step) instead of the last iterate; ``"none"`` is the book.
    """
    defaults = DEFAULTS.get(model_name)
    if defaults is None:
        raise ValueError(f"unknown model {model_name!r}; use 'rnnlm' or 'better'")
    config = dict(defaults)
    overrides = dict(epochs=epochs, batch_size=batch_size, bptt=bptt, lr=lr, clip=clip, average=average,
                     ema_decay=ema_decay)
    for key, value in overrides.items():
        if value is not None:
            config[key] = value
    if config["average"] not in AVERAGES:
        raise ValueError(f"unknown average {config['average']!r}; use one of {', '.join(AVERAGES)}")
    config.update(model=model_name, seed=seed, max_tokens=max_tokens, eval_batch_size=eval_batch_size)
    backend.manual_seed(seed)
    train_ids, valid_ids, test_ids, vocab = corpus if corpus is not None else load_corpus(max_tokens)
    model = _make_model(model_name, len(vocab), **(model_kwargs or {}))
    optimizer = optim.SGD(model.parameters(), lr=config["lr"])
    scheduler = optim.ReduceOnPlateau(optimizer, factor=0.25, patience=0)
    averaged = _make_average(model, config)
    out = Path(out_dir) if out_dir is not None else None
    history: list[dict[str, Any]] = []
    best_ppl, start_epoch = math.inf, 0
    if resume:
        if out is None or not (out / CHECKPOINT).is_file():
            raise FileNotFoundError(f"cannot resume: no checkpoint at {out / CHECKPOINT if out else '(no --out)'}")
        record = load_checkpoint(out / CHECKPOINT, model, optimizer)
        if record.get("config", {}).get("name") != model.config()["name"]:
            raise ValueError(f"{out / CHECKPOINT} holds a {record['config'].get('name')!r} model, not {model_name!r}")
        scheduler.load_state_dict(record["scheduler"])
        if averaged is not None:
            if "average" in record:
                averaged.load_state_dict(record["average"])
            else:
                log(f"{out / CHECKPOINT} has no averaged weights: the {config['average']} average starts now", quiet)
        start_epoch, history = int(record["epoch"]), list(record["history"])
        best_ppl = float(record.get("best_valid_perplexity", math.inf))
        log(f"resumed from {out / CHECKPOINT} after epoch {start_epoch}", quiet)
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)

    batcher = BPTTBatcher(train_ids, config["batch_size"], config["bptt"])
    params = model.parameters()
    for epoch in range(start_epoch, config["epochs"]):
        model.train()
        model.reset_state()
        started, total, count = time.perf_counter(), 0.0, 0
        bar = progress(batcher, total=len(batcher), quiet=quiet, desc=f"epoch {epoch + 1}/{config['epochs']}")
        for step, (x, t) in enumerate(bar):
            loss = model.loss(x, t)
            value = float(loss.data)
            if not math.isfinite(value):
                kept = f"; the last good checkpoint is kept at {out / CHECKPOINT}" if out is not None else ""
                raise TrainingDiverged(
                    f"loss became {value} at epoch {epoch + 1}, window {step + 1}; stopping without saving{kept}. "
                    "Try a smaller --lr or a tighter gradient clip."
                )
            optimizer.zero_grad()
            loss.backward()
            if config["clip"]:
                optim.clip_grad_norm_(params, config["clip"])
            optimizer.step()
            if averaged is not None:
                averaged.update_parameters()
            total += value * t.size
            count += t.size
            if step % 20 == 0:
                bar.set_postfix_str(f"ppl {math.exp(min(total / count, 700)):.1f}")
        seconds = time.perf_counter() - started
        with _evaluated_weights(averaged):
            valid_ppl = perplexity(model, valid_ids, eval_batch_size, config["bptt"])
            if out is not None and valid_ppl < best_ppl:
                save_model(out / BEST_MODEL, model, vocab, epoch=epoch + 1, valid_perplexity=valid_ppl)
        row = {"epoch": epoch + 1, "train_perplexity": math.exp(min(total / max(count, 1), 700)),
               "valid_perplexity": valid_ppl, "lr": optimizer.lr, "seconds": seconds,
               "tokens_per_s": count / seconds}
        history.append(row)
        scheduler.step(valid_ppl)
        best_ppl = min(best_ppl, valid_ppl)
        if out is not None:
            extra = {"average": averaged.state_dict()} if averaged is not None else {}
            save_checkpoint(out / CHECKPOINT, model, optimizer, epoch=epoch + 1, history=history,
                            scheduler=scheduler.state_dict(), config=model.config(), vocab=vocab.to_dict(),
                            train_config=config, best_valid_perplexity=best_ppl, **extra)
            # the history so far, so a long run can be watched (final metrics come at the end)
            write_metrics(out, config, history, {"best_valid_perplexity": best_ppl, "epochs": len(history)})
        which = "valid ppl (EMA)" if averaged is not None else "valid ppl"
        log(f"epoch {epoch + 1}  train ppl {row['train_perplexity']:.2f}  {which} {valid_ppl:.2f}  "
            f"lr {row['lr']:g}  {seconds:.0f}s  {row['tokens_per_s']:,.0f} tokens/s", quiet)

    if out is not None and (out / BEST_MODEL).is_file():
        best, _ = load_model(out / BEST_MODEL)
        test_ppl = perplexity(best, test_ids, eval_batch_size, config["bptt"])
    else:
        with _evaluated_weights(averaged):
            test_ppl = perplexity(model, test_ids, eval_batch_size, config["bptt"])
    if averaged is not None:
        averaged.copy_to_model()  # the returned model holds the weights that were evaluated
    final = {"test_perplexity": test_ppl, "best_valid_perplexity": best_ppl, "epochs": len(history)}
    if out is not None:
        write_metrics(out, config, history, final)
        if history:
            from ..viz.plots import plot_curves

            plot_curves(history, ["train_perplexity", "valid_perplexity"], out / "ppl.png", ylabel="perplexity",
                        title=f"{model_name} on PTB", logy=True)
    log(f"test perplexity {test_ppl:.2f}", quiet)
    return {"model": model, "vocab": vocab, "history": history, "final": final, "config": config}
