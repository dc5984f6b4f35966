"""``zeronlp dialogue train|eval|chat``: HRED and VHRED on the synthetic memory task, the shipped
chatterbot corpus, or the user's dialogue files (see :mod:`zeronlp.tasks.dialogue`)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ..data.textfiles import TOKENIZERS
from ..tasks import dialogue
from .common import (
    add_command_group,
    add_common_args,
    add_inference_args,
    add_time_budget_arg,
    fraction,
    non_negative_int,
    positive_float,
    positive_int,
    use_device,
)


def non_negative_float(text: str) -> float:
    """argparse type: a finite float >= 0 (a temperature)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text!r}") from None
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {text}")
    return value


def _percent(value: float) -> str:
    return f"{value * 100:.2f}%"


def _scores_line(scores: dict[str, Any], prefix: str = "") -> str:
    parts = []
    if f"{prefix}accuracy" in scores:
        parts.append(f"accuracy {_percent(scores[f'{prefix}accuracy'])} (exact match)")
    parts.append(f"NLL {scores[f'{prefix}nll']:.4f}/token")
    if scores.get(f"{prefix}kl"):
        parts.append(f"KL {scores[f'{prefix}kl']:.4f}/token")
    parts.append(f"perplexity {scores[f'{prefix}perplexity']:.3f}")
    if f"{prefix}distinct_1" in scores:
        parts.append(f"distinct-1 {scores[f'{prefix}distinct_1']:.4f}, distinct-2 {scores[f'{prefix}distinct_2']:.4f}")
    return ", ".join(parts)


def run_train(args: argparse.Namespace) -> int:
    use_device(args)
    result = dialogue.train(
        args.data, args.model, train=args.train, valid=args.valid, test=args.test, context_turns=args.context_turns,
        max_tokens=args.max_tokens, tokenizer=args.tokenizer, min_count=args.min_count, max_vocab=args.max_vocab,
        max_train=args.max_train, epochs=args.epochs, batch_size=args.batch_size, embed_size=args.embed,
        hidden_size=args.hidden, latent_size=args.latent, word_dropout=args.word_dropout,
        kl_anneal_steps=args.kl_anneal_steps, lr=args.lr, max_grad_norm=args.max_grad_norm, out_dir=args.out,
        seed=args.seed, quiet=args.quiet, resume=args.resume, checkpoint_minutes=args.checkpoint_minutes,
        max_minutes=args.max_minutes)
    config, final = result["config"], result["final"]
    print(f"{config['data']}: {args.model}, {config['context_turns']} turn(s) of context, "
          f"{len(result['history'])} epochs")
    print(f"valid (best epoch): {_scores_line(final, 'valid_')}")
    if "test_nll" in final:
        print(f"test: {_scores_line(final, 'test_')}")
    extra = ", accuracy.png" if "valid_accuracy" in final else ""
    print(f"wrote {args.out}/model.safetensors, checkpoint.safetensors, metrics.json, loss.png{extra}")
    return 0


def run_eval(args: argparse.Namespace) -> int:
    use_device(args)
    result = dialogue.evaluate(args.ckpt, args.data, test=args.test, temperature=args.temperature, seed=args.seed,
                               samples=args.samples)
    print(f"{result['data']} ({result['examples']} replies): {_scores_line(result['scores'])}")
    for context, reference, reply in result["samples"]:
        print()
        for turn in context:
            print(f"  > {turn}")
        print(f"  reference: {reference}")
        print(f"  model:     {reply}")
    return 0


def run_chat(args: argparse.Namespace) -> int:
    use_device(args)
    chat = dialogue.Conversation(args.ckpt, temperature=args.temperature, seed=args.seed)
    interactive = sys.stdin.isatty()
    if interactive:
        print("type a turn and press Enter; an empty line starts a new dialogue; Ctrl-D ends", file=sys.stderr)
    for line in sys.stdin:
        text = line.strip()
        if not text:
            chat.reset()
            if interactive:
                print("(new dialogue)", file=sys.stderr)
            continue
        unknown = chat.unknown(text)
        if unknown and not args.quiet:
            print("note: not in the model's vocabulary, read as <unk>: " + ", ".join(repr(w) for w in unknown),
                  file=sys.stderr)
        print(chat.say(text), flush=True)
    return 0


def register(subparsers: Any) -> None:
    commands = add_command_group(subparsers, "dialogue",
                                 "hierarchical dialogue models (HRED, VHRED): train, evaluate, chat",
                                 ["train", "eval", "chat"])

    train = commands.add_parser("train", help="train HRED or VHRED; per-epoch NLL, distinct-1/2 (and accuracy)")
    data = train.add_argument_group("data (default: the synthetic memory task)")
    data.add_argument("--data", choices=list(dialogue.SHIPPED), default=None,
                      help="synthetic: a fact in turn 1 is asked for turns later (exact-match accuracy); "
                           "chatterbot: the shipped English chatterbot corpus")
    data.add_argument("--train", help="your dialogues: one per block, one turn per line, blocks separated by a "
                                      "blank line (UTF-8, may be gzipped)")
    data.add_argument("--valid", help="validation dialogues, same format (default: the last 10%% of --train)")
    data.add_argument("--test", help="test dialogues, same format, scored once with the best model")
    data.add_argument("--tokenizer", choices=list(TOKENIZERS), default="simple",
                      help="words of a turn: simple (lower-case, punctuation split off) or whitespace")
    data.add_argument("--context-turns", type=positive_int, default=None,
                      help="turns of context a reply sees (default 5 on synthetic, else 3); "
                           "1 = only the last turn, the seq2seq baseline")
    data.add_argument("--max-tokens", type=positive_int, default=None,
                      help="a turn's width in tokens, with its start and end marks (default 12 on synthetic, "
                           "else 32; longer turns are cut)")
    data.add_argument("--min-count", type=positive_int, default=1, help="keep words seen this often (others: <unk>)")
    data.add_argument("--max-vocab", type=positive_int, default=None, help="keep the N most frequent words at most")
    data.add_argument("--max-train", type=positive_int, default=None, help="use only the first N training dialogues")
    train.add_argument("--model", choices=list(dialogue.MODELS), default="hred",
                       help="hred: utterance LSTM, context GRU, LSTM decoder; vhred: adds a latent z per reply "
                            "(prior/posterior networks, KL annealing, word dropout)")
    train.add_argument("--epochs", type=positive_int, default=10, help="training epochs")
    train.add_argument("--batch-size", type=positive_int, default=64, help="replies per step")
    train.add_argument("--embed", type=positive_int, default=64, help="word embedding size")
    train.add_argument("--hidden", type=positive_int, default=128,
                       help="hidden size of the utterance encoder, context GRU and decoder")
    train.add_argument("--latent", type=positive_int, default=32, help="VHRED: size of z")
    train.add_argument("--word-dropout", type=fraction, default=None,
                       help="decoder input words replaced by <unk> while training (default 0; VHRED 0.25)")
    train.add_argument("--kl-anneal-steps", type=positive_int, default=None,
                       help="VHRED: the KL weight rises linearly from 0 to 1 over N steps (default: half the run)")
    train.add_argument("--lr", type=positive_float, default=1e-3, help="Adam learning rate")
    train.add_argument("--max-grad-norm", type=positive_float, default=5.0, help="gradient clipping")
    train.add_argument("--checkpoint-minutes", type=positive_float, default=10.0,
                       help="also checkpoint inside an epoch every N minutes")
    add_time_budget_arg(train)
    add_common_args(train, "runs/dialogue")
    train.set_defaults(func=run_train)

    evaluate = commands.add_parser("eval", help="score a trained run: NLL, perplexity, distinct-1/2 (accuracy on "
                                                "synthetic)")
    evaluate.add_argument("--ckpt", required=True, help="the run directory of `train` (or a .safetensors file in it)")
    evaluate.add_argument("--data", choices=list(dialogue.SHIPPED), default=None,
                          help="the test split of a shipped data set (default: the one the run was trained on)")
    evaluate.add_argument("--test", help="your test dialogues (same format as --train)")
    evaluate.add_argument("--temperature", type=non_negative_float, default=0.0,
                          help="0: greedy replies; else sampled from softmax(logits / T)")
    evaluate.add_argument("--samples", type=non_negative_int, default=3,
                          help="print the first N test contexts with the replies")
    evaluate.add_argument("--quiet", action="store_true", help="less output")
    add_inference_args(evaluate)
    evaluate.set_defaults(func=run_eval)

    chat = commands.add_parser("chat", help="answer turns read from stdin, one per line (an empty line starts a "
                                            "new dialogue)")
    chat.add_argument("--ckpt", required=True, help="the run directory of `train` (or a .safetensors file in it)")
    chat.add_argument("--temperature", type=non_negative_float, default=0.0,
                      help="0: greedy replies; else sampled from softmax(logits / T)")
    chat.add_argument("--quiet", action="store_true", help="no notes about unknown words")
    add_inference_args(chat)
    chat.set_defaults(func=run_chat)
