"""``zeronlp seq2seq train|compare|translate``: encoder-decoder models on the book's addition and date
tasks or on the user's ``SOURCE<TAB>TARGET`` files (see :mod:`zeronlp.tasks.seq2seq`)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ..data.textfiles import TOKENIZERS
from ..models.seq2seq import SEQ2SEQ_MODELS
from ..tasks import seq2seq
from .common import (
    add_command_group,
    add_common_args,
    add_inference_args,
    add_time_budget_arg,
    positive_float,
    positive_int,
    use_device,
)


def _data_args(args: argparse.Namespace) -> dict[str, Any]:
    return dict(train=args.train, valid=args.valid, test=args.test, level=args.level, tokenizer=args.tokenizer,
                max_train=args.max_train, max_test=args.max_test)


def _training_args(args: argparse.Namespace) -> dict[str, Any]:
    return dict(epochs=args.epochs, batch_size=args.batch_size, hidden_size=args.hidden, wordvec_size=args.wordvec,
                lr=args.lr, max_grad_norm=args.max_grad_norm, init=args.init, seed=args.seed,
                checkpoint_minutes=args.checkpoint_minutes, max_minutes=args.max_minutes)


def run_train(args: argparse.Namespace) -> int:
    use_device(args)
    result = seq2seq.train(args.data, args.model, args.reverse, bidirectional=args.bidirectional, out_dir=args.out,
                           quiet=args.quiet, resume=args.resume, **_data_args(args), **_training_args(args))
    config, final = result["config"], result["final"]
    title = f"{config['data']}: {seq2seq.variant_name(args.model, args.reverse, args.bidirectional)}"
    split = config["per_epoch_eval"]
    scores = [f"{name} accuracy {final[f'{name}_accuracy'] * 100:.2f}%" for name in ("valid", "test")
              if f"{name}_accuracy" in final]
    when = (f"after {len(result['history'])} epochs" if split == "test"
            else f"best epoch of {len(result['history'])}, by valid accuracy")
    print(f"{title}: {', '.join(scores)} ({when}; exact match)")
    extra = ", attention.png" if args.model in seq2seq.ATTENTION_MODELS else ""
    print(f"wrote {args.out}/model.safetensors, checkpoint.safetensors, metrics.json, accuracy.png{extra}")
    return 0


def run_compare(args: argparse.Namespace) -> int:
    use_device(args)
    result = seq2seq.compare(args.data, out_dir=args.out, quiet=args.quiet, resume=args.resume, **_data_args(args),
                             **_training_args(args))
    split = "test" if args.train is None else "valid"
    for label, values in result["series"].items():
        print(f"{label:18s} {split} accuracy {values[-1] * 100:6.2f}%")
    print(f"wrote {args.out}/compare.png, {args.out}/metrics.json (one run directory per variant)")
    return 0


def run_translate(args: argparse.Namespace) -> int:
    use_device(args)
    result = seq2seq.translate(args.ckpt, args.text, args.beam, heatmap=args.heatmap, plot=not args.no_heatmap)
    if result["unknown"]:
        print("note: not in the model's vocabulary, read as <unk>: " + ", ".join(repr(w) for w in result["unknown"]),
              file=sys.stderr)
    print(result["answer"])
    if result["heatmap"] is not None and not args.quiet:
        print(f"wrote {result['heatmap']}")
    if result.get("heads_heatmap") is not None and not args.quiet:
        print(f"wrote {result['heads_heatmap']} (every head of the last layer)")
    return 0


def _add_data_args(parser: argparse.ArgumentParser) -> None:
    data = parser.add_argument_group("data (default: the shipped addition task)")
    data.add_argument("--data", choices=list(seq2seq.SHIPPED), default=None,
                      help="a shipped task of the book: addition (default) or date")
    data.add_argument("--train", help="your training file: SOURCE<TAB>TARGET lines (UTF-8, may be gzipped)")
    data.add_argument("--valid", help="validation file, same format (default: the last 10%% of the --train lines)")
    data.add_argument("--test", help="test file, same format, scored once with the best model")
    data.add_argument("--level", choices=["char", "word"], default="char",
                      help="symbols of your files: characters (the book's format) or words (default char)")
    data.add_argument("--tokenizer", choices=list(TOKENIZERS), default="whitespace",
                      help="words with --level word: whitespace-separated as written, or simple (lower-case, "
                           "punctuation split off)")
    data.add_argument("--max-train", type=positive_int, default=None, help="use only the first N training examples")
    data.add_argument("--max-test", type=positive_int, default=None,
                      help="evaluate on the first N evaluation (and test) examples")


def _add_training_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--epochs", type=positive_int, default=25, help="training epochs (default 25)")
    parser.add_argument("--batch-size", type=positive_int, default=128, help="examples per step")
    parser.add_argument("--hidden", type=positive_int, default=None,
                        help="hidden units (default 128; 256 on date); the transformer's d_model (default 128)")
    parser.add_argument("--wordvec", type=positive_int, default=16, help="embedding size (default 16)")
    parser.add_argument("--lr", type=positive_float, default=1e-3,
                        help="Adam learning rate (default 0.001; the transformer's peak, after a short warm-up)")
    parser.add_argument("--max-grad-norm", type=positive_float, default=5.0, help="gradient clipping (default 5)")
    parser.add_argument("--init", choices=["pytorch", "book"], default="pytorch",
                        help="weight initialization: PyTorch's layer defaults (default) or the book's")
    parser.add_argument("--checkpoint-minutes", type=positive_float, default=10.0,
                        help="also checkpoint inside an epoch every N minutes")
    add_time_budget_arg(parser)


def register(subparsers: Any) -> None:
    commands = add_command_group(subparsers, "seq2seq",
        "encoder-decoder models: addition, dates, or your parallel text",
        ["train", "compare", "translate"])

    train = commands.add_parser("train", help="train one model; per-epoch exact-match accuracy")
    _add_data_args(train)
    train.add_argument("--model", choices=list(SEQ2SEQ_MODELS), default="base",
                       help="base: encoder state starts the decoder; peeky: it is fed at every step; attention; "
                            "transformer: 2+2 pre-norm layers, 4 heads (per-head heatmap in translate)")
    train.add_argument("--reverse", action="store_true", help="reverse the input sequences (the book's trick)")
    train.add_argument("--bidirectional", action="store_true", help="bidirectional encoder")
    _add_training_args(train)
    add_common_args(train, "runs/seq2seq")
    train.set_defaults(func=run_train)

    compare = commands.add_parser("compare", help="base / reversed / peeky+reversed on one plot (book fig. 7-26)")
    _add_data_args(compare)
    _add_training_args(compare)
    add_common_args(compare, "runs/seq2seq-compare")
    compare.set_defaults(func=run_compare)

    trans = commands.add_parser("translate", help="answer one input with a trained model; attention heatmap")
    trans.add_argument("--ckpt", required=True, help="the run directory of `train` (or a .safetensors file in it)")
    trans.add_argument("text", help='the input, e.g. "august 7, 1995" or "16+75"')
    trans.add_argument("--beam", type=positive_int, default=1, help="beam size (default 1 = greedy)")
    trans.add_argument("--heatmap", default=None,
                       help="PNG of the attention (attention models; default: attention.png in the run directory)")
    trans.add_argument("--no-heatmap", action="store_true", help="do not write the attention heatmap")
    trans.add_argument("--quiet", action="store_true", help="print only the answer")
    add_inference_args(trans)
    trans.set_defaults(func=run_translate)
