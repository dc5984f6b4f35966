"""``zeronlp lm train|generate|next|eval``: language models on PTB or the user's text."""

from __future__ import annotations

import argparse
from typing import Any

from ..data.textfiles import TOKENIZERS
from ..tasks import lm
from .common import (
    add_command_group,
    add_common_args,
    add_inference_args,
    add_time_budget_arg,
    positive_float,
    positive_int,
    use_device,
)


def run_train(args: argparse.Namespace) -> int:
    out = args.out or f"runs/{args.model}"  # one directory per model: `--model better` never meets an rnnlm run
    use_device(args)
    result = lm.train(args.model, train=args.train, valid=args.valid, test=args.test, tokenizer=args.tokenizer,
                      min_count=args.min_count, max_vocab=args.max_vocab, epochs=args.epochs,
                      batch_size=args.batch_size, bptt=args.bptt, lr=args.lr, clip=args.clip, average=args.average,
                      ema_decay=args.ema_decay, out_dir=out, quiet=args.quiet, resume=args.resume, seed=args.seed,
                      max_tokens=args.max_tokens, checkpoint_minutes=args.checkpoint_minutes, warmup=args.warmup,
                      weight_decay=args.weight_decay, d_model=args.d_model, num_layers=args.layers,
                      nhead=args.heads, dim_feedforward=args.ff, dropout=args.dropout, max_minutes=args.max_minutes)
    final = result["final"]
    if "test_perplexity" in final:
        where = (f" on the first {final['test_tokens']:,} test tokens (--max-tokens; `zeronlp lm eval` measures "
                 "the whole test set)" if args.max_tokens else f" on {final['test_tokens']:,} test tokens")
        print(f"test perplexity {final['test_perplexity']:.2f}{where}")
    print(f"best valid perplexity {final['best_valid_perplexity']:.2f}; wrote {out}/model.safetensors, "
          f"{out}/metrics.json, {out}/ppl.png")
    return 0


def run_generate(args: argparse.Namespace) -> int:
    use_device(args)
    print(lm.generate_text(args.ckpt, args.start, args.length, args.temperature, args.top_k))
    return 0


def run_next(args: argparse.Namespace) -> int:
    use_device(args)
    context = " ".join(args.context)
    print(f"after: {context!r}")
    for rank, (word, prob) in enumerate(lm.most_likely_next(args.ckpt, context, args.k), 1):
        print(f"{rank:3d}. {word:<15s} {prob:.4f}")
    return 0


def run_eval(args: argparse.Namespace) -> int:
    use_device(args)
    result = lm.evaluate(args.ckpt, args.split, args.file, args.batch_size, args.bptt)
    print(f"{result['source']}: perplexity {result['perplexity']:.2f} over {result['tokens']:,} predicted tokens")
    return 0


def register(subparsers: Any) -> None:
    commands = add_command_group(subparsers, "lm",
        "LSTM and Transformer language models on PTB or your text (train, generate, next, eval)",
        ["train", "generate", "next", "eval"])

    train = commands.add_parser("train", help="train RNNLM / BetterRNNLM / a Transformer on BPTT windows")
    train.add_argument("--model", choices=list(lm.DEFAULTS), default="rnnlm",
                       help="rnnlm: the book's small LSTM; better: 2-layer LSTM 650 with dropout and tied weights; "
                            "transformer: 4-layer pre-norm decoder-only Transformer (d 256, 4 heads, tied weights), "
                            "AdamW with warm-up and cosine decay")
    data = train.add_argument_group("data (default: the shipped Penn Treebank)")
    data.add_argument("--train", help="training text, one sentence a line")
    data.add_argument("--valid", help="validation text (default: the last 5%% of the --train lines)")
    data.add_argument("--test", help="test text (default: none, no test perplexity)")
    data.add_argument("--tokenizer", choices=list(TOKENIZERS), default="whitespace",
                      help="whitespace: split on spaces (PTB style, text already tokenized); simple: lower-case "
                           "and split off punctuation (the book's preprocess)")
    data.add_argument("--min-count", type=positive_int, default=1, help="rarer training words become <unk>")
    data.add_argument("--max-vocab", type=positive_int, default=None,
                      help="keep the N most frequent words (counting <eos>, <unk>)")
    data.add_argument("--max-tokens", type=positive_int, default=None,
                      help="use only the first N training tokens (N/4 valid/test) for quick runs")
    train.add_argument("--epochs", type=positive_int, default=None,
                       help="default 4 (rnnlm) / 40 (better) / 10 (transformer)")
    train.add_argument("--batch-size", type=positive_int, default=None, help="parallel streams (default 20)")
    train.add_argument("--bptt", type=positive_int, default=None,
                       help="window length (default 35; transformer 64, also its max_len)")
    train.add_argument("--lr", type=positive_float, default=None,
                       help="learning rate (default: SGD 20; transformer: AdamW peak 5e-4)")
    train.add_argument("--clip", type=positive_float, default=None,
                       help="gradient-norm clip (default 0.25; transformer 1.0)")
    train.add_argument("--average", choices=list(lm.AVERAGES), default=None,
                       help="evaluate and keep an exponential moving average of the weights (default: ema; "
                            "none = the book's recipe; transformer: none)")
    train.add_argument("--ema-decay", type=float, default=None, help="EMA decay per step (default 0.998)")
    train.add_argument("--checkpoint-minutes", type=positive_float, default=10.0,
                       help="also checkpoint inside an epoch every N minutes (default 10)")
    add_time_budget_arg(train)
    tf = train.add_argument_group("transformer (--model transformer only)")
    tf.add_argument("--d-model", type=positive_int, default=None, help="model width (default 256)")
    tf.add_argument("--layers", type=positive_int, default=None, help="decoder layers (default 4)")
    tf.add_argument("--heads", type=positive_int, default=None, help="attention heads (default 4)")
    tf.add_argument("--ff", type=positive_int, default=None, help="feed-forward width (default 1024)")
    tf.add_argument("--dropout", type=float, default=None, help="dropout (default 0.2)")
    tf.add_argument("--warmup", type=int, default=None,
                    help="linear warm-up steps before the cosine decay (default 1000, at most a tenth of the run)")
    tf.add_argument("--weight-decay", type=float, default=None, help="AdamW weight decay (default 0.01)")
    add_common_args(train, "runs/MODEL")
    train.set_defaults(func=run_train, out=None)

    def add_ckpt(p: argparse.ArgumentParser) -> None:
        p.add_argument("--ckpt", required=True, help="run directory (or .safetensors file) of `lm train`")
        add_inference_args(p)

    rule = "Words are looked up as written, and in lower case when only that form is known; others read as <unk>."
    gen = commands.add_parser("generate", help="sample text from a trained model", epilog=rule)
    gen.add_argument("--start", default="the meaning of life is", help="start words")
    gen.add_argument("--length", type=positive_int, default=100, help="words to sample")
    gen.add_argument("--temperature", type=positive_float, default=1.0,
                     help="below 1: more likely words; above 1: more varied")
    gen.add_argument("--top-k", type=positive_int, default=None)
    add_ckpt(gen)
    gen.set_defaults(func=run_generate)

    nxt = commands.add_parser("next", help="list the most probable next words after a context", epilog=rule)
    nxt.add_argument("context", nargs="+", help='context words, e.g. "you say goodbye and i say"')
    nxt.add_argument("-k", type=positive_int, default=10, help="how many words (default 10)")
    add_ckpt(nxt)
    nxt.set_defaults(func=run_next)

    ev = commands.add_parser("eval", help="perplexity of a trained model on a PTB split or a text file")
    ev.add_argument("--split", default="test", choices=["train", "valid", "test"], help="PTB split (default test)")
    ev.add_argument("--file", default=None, help="a text file instead (one sentence per line)")
    ev.add_argument("--batch-size", type=positive_int, default=10, help="parallel streams (default 10, the book's)")
    ev.add_argument("--bptt", type=positive_int, default=None,
                    help="window length (default 35; a transformer: the window it was trained on)")
    add_ckpt(ev)
    ev.set_defaults(func=run_eval)
