"""``zeronlp lm train|generate|next|eval`` and ``zeronlp binary-add``: thin wrappers over the library."""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from .. import backend
from ..cli_common import add_common_args, start_run
from ..data.ptb import load_ptb, words_with_eos
from ..data.vocab import Vocabulary
from .lm_train import load_model, train_lm
from .rnnlm import generate, next_words, perplexity

# words the book's generator never emits (number token, unknown word, dollar sign)
SKIP_WORDS = ("N", "<unk>", "$")


def run_train(args: argparse.Namespace) -> int:
    if args.out is None:  # one directory per model, so `--model better` never meets an rnnlm checkpoint
        args.out = f"runs/{args.model}"
    out = start_run(args)
    result = train_lm(args.model, epochs=args.epochs, batch_size=args.batch_size, bptt=args.bptt, lr=args.lr,
                      clip=args.clip, average=args.average, ema_decay=args.ema_decay, out_dir=out,
                      quiet=args.quiet, resume=args.resume, seed=args.seed,
                      max_tokens=args.max_tokens)
    print(f"test perplexity {result['final']['test_perplexity']:.2f}; wrote {out}/metrics.json, {out}/ppl.png, "
          f"{out}/model.safetensors")
    return 0


def _load(args: argparse.Namespace) -> tuple[Any, Any]:
    backend.use_device(getattr(args, "device", "cpu"))
    backend.manual_seed(args.seed)
    return load_model(args.ckpt)


def run_generate(args: argparse.Namespace) -> int:
    model, vocab = _load(args)
    skip = [vocab.word_to_id[w] for w in SKIP_WORDS if w in vocab]
    words = generate(model, args.start.lower(), args.length, temperature=args.temperature, top_k=args.top_k,
                     vocab=vocab, skip_ids=skip)
    text = " ".join(words).replace(" <eos> ", "\n").replace(" <eos>", "")
    print(text)
    return 0


def run_next(args: argparse.Namespace) -> int:
    model, vocab = _load(args)
    context = " ".join(args.context).lower()
    print(f"after: {context!r}")
    for rank, (word, prob) in enumerate(next_words(model, context, args.k, vocab=vocab), 1):
        print(f"{rank:3d}. {word:<15s} {prob:.4f}")
    return 0


def text_file_ids(path: str | Path, vocab: Vocabulary) -> np.ndarray:
    """Ids of a text file read like PTB: whitespace-separated tokens, ``<eos>`` at every line end.

    Words outside ``vocab`` become ``<unk>`` with a warning that says how many; an empty file raises.
    """
    text = Path(path).read_text(encoding="utf-8")
    if not text.split():
        raise ValueError(f"{path}: no words to evaluate")
    words = words_with_eos(text)
    unknown = [w for w in words if w not in vocab]
    if unknown and vocab.unk_id is None:
        raise ValueError(f"{path}: {len(unknown):,} words are not in the model's vocabulary, e.g. {unknown[:3]}")
    if unknown:
        warnings.warn(f"{path}: {len(unknown):,} of {len(words):,} tokens are not in the model's vocabulary "
                      f"and count as {vocab.unk_token!r}", stacklevel=2)
    return vocab.encode(words)


def run_eval(args: argparse.Namespace) -> int:
    model, vocab = _load(args)
    if args.file is not None:
        ids, source = text_file_ids(args.file, vocab), args.file
    else:
        ids, ptb_vocab = load_ptb(args.split)
        if ptb_vocab.id_to_word != vocab.id_to_word:
            ids = vocab.encode(ptb_vocab.decode(ids))  # a model with its own vocabulary: re-encode by word
        source = f"PTB {args.split}"
    ppl = perplexity(model, ids, args.batch_size, args.bptt)
    print(f"{source}: perplexity {ppl:.2f} over {len(ids) - 1:,} predicted tokens")
    return 0


def run_binary_add(args: argparse.Namespace) -> int:
    from .binary_add import VARIANTS, run_experiments

    out = start_run(args)
    variants = args.variants.split(",") if args.variants else list(VARIANTS)
    run_experiments(variants, iterations=args.iterations, out_dir=out, seed=args.seed, quiet=args.quiet)
    return 0


def add_parser(subparsers: Any) -> None:
    """Register ``lm`` (train, generate, next, eval) and ``binary-add``."""
    lm = subparsers.add_parser("lm", help="LSTM language models on PTB (train, generate, next, eval)")
    lm_sub = lm.add_subparsers(dest="lm_command", metavar="{train,generate,next,eval}")
    lm.set_defaults(func=lambda args: (lm.print_help(), 2)[1])

    train = lm_sub.add_parser("train", help="train RNNLM / BetterRNNLM with truncated BPTT")
    train.add_argument("--model", choices=["rnnlm", "better"], default="rnnlm")
    train.add_argument("--epochs", type=int, default=None, help="default 4 (rnnlm) / 40 (better)")
    train.add_argument("--batch-size", type=int, default=None, help="parallel streams (default 20)")
    train.add_argument("--bptt", type=int, default=None, help="window length (default 35)")
    train.add_argument("--lr", type=float, default=None, help="SGD learning rate (default 20)")
    train.add_argument("--clip", type=float, default=None, help="gradient-norm clip (default 0.25)")
    train.add_argument("--average", choices=["ema", "none"], default=None,
                       help="evaluate and keep an exponential moving average of the weights (default: ema; "
                            "none = the book's recipe)")
    train.add_argument("--ema-decay", type=float, default=None, help="EMA decay per step (default 0.998)")
    train.add_argument("--max-tokens", type=int, default=None,
                       help="use only the first N training tokens (N/4 valid/test) for quick runs")
    add_common_args(train, "runs/MODEL")
    train.set_defaults(func=run_train, out=None)

    gen = lm_sub.add_parser("generate", help="sample text from a trained model")
    gen.add_argument("--ckpt", required=True, help="run directory (or .safetensors file) of `lm train`")
    gen.add_argument("--start", default="the meaning of life is", help="start words")
    gen.add_argument("--length", type=int, default=100)
    gen.add_argument("--temperature", type=float, default=1.0)
    gen.add_argument("--top-k", type=int, default=None)
    gen.add_argument("--seed", type=int, default=0)
    gen.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    gen.set_defaults(func=run_generate)

    nxt = lm_sub.add_parser("next", help="list the most probable next words after a context")
    nxt.add_argument("context", nargs="+", help='context words, e.g. "you say goodbye and i say"')
    nxt.add_argument("--ckpt", required=True, help="run directory (or .safetensors file) of `lm train`")
    nxt.add_argument("-k", type=int, default=10, help="how many words (default 10)")
    nxt.add_argument("--seed", type=int, default=0)
    nxt.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    nxt.set_defaults(func=run_next)

    ev = lm_sub.add_parser("eval", help="perplexity of a trained model on a PTB split or a text file")
    ev.add_argument("--ckpt", required=True, help="run directory (or .safetensors file) of `lm train`")
    ev.add_argument("--split", default="test", choices=["train", "valid", "test"], help="PTB split (default test)")
    ev.add_argument("--file", default=None, help="a text file instead (PTB-style: one sentence per line)")
    ev.add_argument("--batch-size", type=int, default=10, help="parallel streams (default 10, the book's)")
    ev.add_argument("--bptt", type=int, default=35, help="window length (default 35)")
    ev.add_argument("--seed", type=int, default=0)
    ev.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ev.set_defaults(func=run_eval)

    add = subparsers.add_parser("binary-add", help="seed 002's RNN learning 8-bit binary addition (5 variants)")
    add.add_argument("--iterations", type=int, default=10000, help="training steps per variant (default 10000)")
    add.add_argument("--variants", default=None, help="comma-separated subset of base,lr0.01,xavier,relu,tanh")
    add_common_args(add, "runs/binary_add")
    add.set_defaults(func=run_binary_add)


if __name__ == "__main__":  # pragma: no cover - convenience for `python -m zeronlp.models.lm_cli`
    from ..cli import main

    sys.exit(main(["lm", *sys.argv[1:]]))
