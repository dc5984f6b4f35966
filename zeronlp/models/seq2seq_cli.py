"""``zeronlp seq2seq``: train, compare and run the book's encoder-decoder models on addition / date.

``train`` writes ``OUT/checkpoint.safetensors`` every epoch (model, optimizer, vocabulary, config,
history, RNG state), ``OUT/accuracy.png`` and ``OUT/metrics.json`` (``test_accuracy``: exact match
of the greedy answer). ``compare`` trains base / reversed / peeky+reversed and plots them together
like the book's figure; ``translate`` loads a checkpoint, answers one question and, for attention
models, writes the attention heatmap.
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path
from typing import Any

import numpy as np

from .. import backend, optim
from ..cli_common import add_common_args, start_run
from ..data.seq import CharVocabulary, load_seq
from ..optim import clip_grad_norm_
from ..train import load_checkpoint, log, progress, save_checkpoint, write_metrics
from ..viz.plots import plot_curves, plot_heatmap, plot_series
from .seq2seq import build_seq2seq, exact_match_accuracy

CHECKPOINT = "checkpoint.safetensors"
DEFAULT_HIDDEN = {"addition": 128, "date": 256}
START_CHAR = "_"


def train_seq2seq(data: str = "addition", model: str = "base", reverse: bool = False, epochs: int = 25,
                  batch_size: int = 128, hidden_size: int | None = None, wordvec_size: int = 16,
                  bidirectional: bool = False, lr: float = 1e-3, max_grad_norm: float = 5.0,
                  out_dir: str | Path | None = None, quiet: bool = True, resume: bool = False,
                  max_train: int | None = None, max_test: int | None = None, init: str = "pytorch") -> dict[str, Any]:
    """Train a seq2seq model with Adam and gradient clipping, as the book does.

    After every epoch: exact-match accuracy of greedy answers on the test split, a history row, and
    (with ``out_dir``) a checkpoint. Returns ``{"model", "history", "final", "vocab", "config"}``.
    """
    (x_train, t_train), (x_test, t_test), vocab = load_seq(data, reverse=reverse)
    if max_train is not None:
        x_train, t_train = x_train[:max_train], t_train[:max_train]
    if max_test is not None:
        x_test, t_test = x_test[:max_test], t_test[:max_test]
    hidden_size = hidden_size or DEFAULT_HIDDEN[data]
    net = build_seq2seq({"model": model, "vocab_size": len(vocab), "wordvec_size": wordvec_size,
                         "hidden_size": hidden_size, "bidirectional": bidirectional, "init": init})
    optimizer = optim.Adam(net.parameters(), lr=lr)
    config = net.config() | {"data": data, "reverse": reverse, "src_length": int(x_train.shape[1]),
                             "tgt_length": int(t_train.shape[1]), "start_char": START_CHAR,
                             "batch_size": batch_size, "lr": lr, "max_grad_norm": max_grad_norm}
    path = Path(out_dir) / CHECKPOINT if out_dir is not None else None
    history: list[dict[str, Any]] = []
    epoch = 0
    if resume:
        if path is None or not path.is_file():
            raise FileNotFoundError(f"cannot resume: no checkpoint at {path}")
        record = load_checkpoint(path, net, optimizer)
        if record.get("config", {}).get("model") != model or record["config"].get("data") != data:
            raise ValueError(f"cannot resume: {path} holds a {record['config'].get('model')} model on "
                             f"{record['config'].get('data')}, not {model} on {data}")
        epoch, history = int(record["epoch"]), list(record.get("history", []))
        log(f"resumed from {path} at epoch {epoch}", quiet)
    num_batches = math.ceil(len(x_train) / batch_size)
    while epoch < epochs:
        started, losses = time.perf_counter(), []
        permutation = backend.get_host_rng().permutation(len(x_train))
        bar = progress(range(num_batches), total=num_batches, quiet=quiet, desc=f"epoch {epoch + 1}/{epochs}")
        for batch in bar:
            index = permutation[batch * batch_size:(batch + 1) * batch_size]
            loss = net.loss(x_train[index], t_train[index])
            value = float(loss.data)
            if not math.isfinite(value):
                raise ValueError(f"seq2seq: the loss became {value} at epoch {epoch + 1}; try a smaller --lr")
            optimizer.zero_grad()
            loss.backward()
            clip_grad_norm_(net.parameters(), max_grad_norm)
            optimizer.step()
            losses.append(value)
            if batch % 20 == 0:
                bar.set_postfix_str(f"loss {np.mean(losses[-50:]):.4f}")
        bar.close()
        train_seconds = time.perf_counter() - started
        epoch += 1
        accuracy = exact_match_accuracy(net, x_test, t_test)
        history.append({"epoch": epoch, "loss": float(np.mean(losses)), "test_accuracy": accuracy,
                        "seconds": train_seconds})
        log(f"epoch {epoch}  loss {np.mean(losses):.4f}  test accuracy {accuracy * 100:.2f}%  "
            f"({train_seconds:.1f} s)", quiet)
        if path is not None:
            save_checkpoint(path, net, optimizer, epoch=epoch, history=history, vocab=vocab.chars, config=config)
    final = {"test_accuracy": history[-1]["test_accuracy"] if history else float("nan"),
             "train_loss": history[-1]["loss"] if history else float("nan")}
    return {"model": net, "history": history, "final": final, "vocab": vocab, "config": config}


def _variant_name(args: argparse.Namespace) -> str:
    return f"{args.model}{' reversed' if args.reverse else ''}{' bidirectional' if args.bidirectional else ''}"


def run_train(args: argparse.Namespace) -> int:
    out = start_run(args)
    result = train_seq2seq(args.data, args.model, args.reverse, args.epochs, args.batch_size, args.hidden,
                           args.wordvec, args.bidirectional, args.lr, args.max_grad_norm, out, args.quiet,
                           args.resume, args.max_train, args.max_test, args.init)
    title = f"{args.data}: {_variant_name(args)}"
    plot_curves(result["history"], ["test_accuracy"], out / "accuracy.png", ylabel="test accuracy (exact match)",
                title=title)
    write_metrics(out, vars(args) | {"func": None} | result["config"], result["history"], result["final"])
    print(f"{title}: test accuracy {result['final']['test_accuracy'] * 100:.2f}% after {args.epochs} epochs; "
          f"wrote {out}/{CHECKPOINT}, {out}/accuracy.png, {out}/metrics.json")
    return 0


COMPARE_VARIANTS = (("baseline", "base", False), ("reversed", "base", True), ("reversed + peeky", "peeky", True))


def run_compare(args: argparse.Namespace) -> int:
    out = start_run(args)
    series, final, history = {}, {}, []
    for label, model, reverse in COMPARE_VARIANTS:
        backend.manual_seed(args.seed)
        key = label.replace(" + ", "_").replace(" ", "_")
        log(f"== {label}", args.quiet)
        result = train_seq2seq(args.data, model, reverse, args.epochs, args.batch_size, args.hidden, args.wordvec,
                               False, args.lr, args.max_grad_norm, out / key, args.quiet, args.resume,
                               args.max_train, args.max_test, args.init)
        series[label] = [row["test_accuracy"] for row in result["history"]]
        final[f"test_accuracy_{key}"] = result["final"]["test_accuracy"]
        history += [row | {"variant": key} for row in result["history"]]
    plot_series(series, out / "compare.png", xlabel="epoch", ylabel="test accuracy (exact match)",
                title=f"seq2seq on {args.data}")
    write_metrics(out, vars(args) | {"func": None}, history, final)
    for label, values in series.items():
        print(f"{label:18s} {values[-1] * 100:6.2f}%")
    print(f"wrote {out}/compare.png, {out}/metrics.json")
    return 0


def prepare_question(text: str, vocab: CharVocabulary, config: dict[str, Any]) -> np.ndarray:
    """The ids ``(1, src_length)`` of a question: padded with spaces, reversed if the model was trained so."""
    ids = vocab.encode(text, length=int(config["src_length"]))
    return (ids[::-1] if config.get("reverse") else ids)[None, :].copy()


def load_seq2seq(ckpt: str | Path) -> tuple[Any, CharVocabulary, dict[str, Any]]:
    """``(model, vocab, config)`` from a checkpoint file or the directory holding one."""
    path = Path(ckpt)
    if path.is_dir():
        path = path / CHECKPOINT
    if not path.is_file():
        raise FileNotFoundError(f"no seq2seq checkpoint at {path}")
    record = load_checkpoint(path, restore_rng=False)
    if "config" not in record or "vocab" not in record:
        raise ValueError(f"{path} is not a seq2seq checkpoint (no config/vocab; made by `zeronlp seq2seq train`?)")
    config = record["config"]
    model = build_seq2seq(config)
    model.load_state_dict(record["model"])
    model.eval()
    return model, CharVocabulary(record["vocab"]), config


def translate(model: Any, vocab: CharVocabulary, config: dict[str, Any], text: str,
              beam_size: int = 1) -> tuple[str, np.ndarray | None]:
    """The model's answer to ``text`` and its attention weights ``(answer_len, src_length)`` (or None).

    Attention columns follow the question as written (un-reversed for reversed-input models).
    """
    src = prepare_question(text, vocab, config)
    start_id = vocab.char_to_id[config.get("start_char", START_CHAR)]
    length = int(config["tgt_length"]) - 1
    if beam_size > 1:
        ids, _, weights = model.beam_search(src, start_id, length, beam_size, return_attention=True)
    else:
        ids, weights = model.generate(src, start_id, length, return_attention=True)
    answer = vocab.decode(backend.to_numpy(ids)[0])
    if weights is None:
        return answer, None
    weights = backend.to_numpy(weights)[0]
    return answer, (weights[:, ::-1] if config.get("reverse") else weights)


def run_translate(args: argparse.Namespace) -> int:
    backend.use_device(getattr(args, "device", "cpu"))
    model, vocab, config = load_seq2seq(args.ckpt)
    answer, weights = translate(model, vocab, config, args.text, args.beam)
    print(answer.rstrip())
    if weights is None:
        log(f"(a {config['model']} model has no attention; no heatmap written)", args.quiet)
        return 0
    src_chars = list(args.text.ljust(int(config["src_length"])))
    heatmap = Path(args.heatmap) if args.heatmap else Path(args.ckpt if Path(args.ckpt).is_dir()
                                                            else Path(args.ckpt).parent) / "attention.png"
    plot_heatmap(weights, heatmap, row_labels=list(answer), col_labels=[c if c != " " else "␣" for c in src_chars],
                 xlabel="input", ylabel="output", title=f"attention: {args.text!r} -> {answer.rstrip()!r}")
    log(f"wrote {heatmap}", args.quiet)
    return 0


def _add_training_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", choices=["addition", "date"], default="addition")
    parser.add_argument("--epochs", type=int, default=25, help="training epochs (default 25)")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--hidden", type=int, default=None, help="hidden units (default 128 addition, 256 date)")
    parser.add_argument("--wordvec", type=int, default=16, help="character embedding size (default 16)")
    parser.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate (default 0.001)")
    parser.add_argument("--max-grad-norm", type=float, default=5.0, help="gradient clipping (default 5)")
    parser.add_argument("--max-train", type=int, default=None, help="use only the first N training examples")
    parser.add_argument("--max-test", type=int, default=None, help="evaluate on the first N test examples")
    parser.add_argument("--init", choices=["pytorch", "book"], default="pytorch",
                        help="weight initialization: PyTorch's layer defaults (default) or the book's")


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser("seq2seq", help="encoder-decoder models on the addition and date tasks")
    commands = parser.add_subparsers(dest="seq2seq_command", metavar="SUBCOMMAND", required=True)

    train = commands.add_parser("train", help="train one model, report per-epoch exact-match test accuracy")
    _add_training_args(train)
    train.add_argument("--model", choices=["base", "peeky", "attention"], default="base")
    train.add_argument("--reverse", action="store_true", help="reverse the input sequences (the book's trick)")
    train.add_argument("--bidirectional", action="store_true", help="bidirectional encoder")
    add_common_args(train, "runs/seq2seq")
    train.set_defaults(func=run_train)

    compare = commands.add_parser("compare", help="base / reversed / peeky+reversed on one plot (book fig. 7-26)")
    _add_training_args(compare)
    add_common_args(compare, "runs/seq2seq-compare")
    compare.set_defaults(func=run_compare)

    trans = commands.add_parser("translate", help="answer one question with a trained model; attention heatmap")
    trans.add_argument("--ckpt", required=True, help="checkpoint file or the --out directory of `train`")
    trans.add_argument("text", help='the question, e.g. "august 7, 1995" or "16+75"')
    trans.add_argument("--beam", type=int, default=1, help="beam size (default 1 = greedy)")
    trans.add_argument("--heatmap", default=None, help="PNG path (default: attention.png beside the checkpoint)")
    trans.add_argument("--quiet", action="store_true")
    trans.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    trans.set_defaults(func=run_translate)
