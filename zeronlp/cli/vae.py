"""``zeronlp vae train|sample|interpolate|eval``: the sentence VAE (Bowman et al. 2016) on PTB or your text."""

from __future__ import annotations

import argparse
from typing import Any

from ..data.textfiles import TOKENIZERS
from ..tasks import vae
from .common import (
    add_command_group,
    add_common_args,
    add_inference_args,
    add_time_budget_arg,
    fraction,
    positive_float,
    positive_int,
    use_device,
)

DEFAULT_RUN = "runs/vae"


def non_negative_float(text: str) -> float:
    """argparse type: a finite float >= 0 (0 included, unlike :func:`positive_float`)."""
    return 0.0 if text.strip() in ("0", "0.0", "0.") else positive_float(text)


def _bound_line(prefix: str, result: dict[str, Any]) -> str:
    return (f"{prefix}: NLL bound {result['elbo_nll']:.2f} nats/sentence (reconstruction {result['nll']:.2f} "
            f"+ KL {result['kl']:.3g}), perplexity bound {result['ppl_bound']:.2f} over {result['sentences']:,} "
            f"sentences, {result['tokens']:,} predicted tokens")


def run_train(args: argparse.Namespace) -> int:
    use_device(args)
    result = vae.train(train=args.train, valid=args.valid, test=args.test, tokenizer=args.tokenizer,
                       min_count=args.min_count, max_vocab=args.max_vocab, max_length=args.max_length,
                       max_sentences=args.max_sentences, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                       clip=args.clip, embed_size=args.embed_size, hidden_size=args.hidden_size,
                       latent_size=args.latent_size, word_dropout=args.word_dropout, anneal=args.anneal,
                       anneal_steps=args.anneal_steps, out_dir=args.out, quiet=args.quiet, resume=args.resume,
                       seed=args.seed, checkpoint_minutes=args.checkpoint_minutes,
                       max_minutes=args.max_minutes)
    final = result["final"]
    if "test_elbo_nll" in final:
        print(_bound_line("test", {k.removeprefix("test_"): v for k, v in final.items() if k.startswith("test_")}))
    print(f"best valid NLL bound {final['best_valid_elbo_nll']:.2f} nats/sentence; wrote {args.out}/model.safetensors, "
          f"{args.out}/metrics.json, {args.out}/elbo.png, {args.out}/kl.png")
    return 0


def run_sample(args: argparse.Namespace) -> int:
    use_device(args)
    for sentence in vae.sample(args.ckpt, args.n, args.temperature, args.max_len):
        print(sentence)
    return 0


def run_interpolate(args: argparse.Namespace) -> int:
    use_device(args)
    for t, sentence in vae.interpolate(args.ckpt, args.first, args.second, args.steps, args.max_len):
        print(f"{t:.2f}  {sentence}")
    return 0


def run_eval(args: argparse.Namespace) -> int:
    use_device(args)
    result = vae.evaluate(args.ckpt, args.split, args.file)
    print(_bound_line(result["source"], result))
    return 0


def register(subparsers: Any) -> None:
    commands = add_command_group(subparsers, "vae",
        "sentence VAE (Bowman et al. 2016) on PTB or your text (train, sample, interpolate, eval)",
        ["train", "sample", "interpolate", "eval"])
    defaults = vae.DEFAULTS

    train = commands.add_parser(
        "train", help="train an LSTM sentence VAE with KL annealing and word dropout",
        description="Train an LSTM encoder -> z -> LSTM decoder on sentences (one per line). The KL term is "
                    "weighted by beta, annealed from 0 to 1, and decoder inputs are replaced by <unk> at the "
                    "word-dropout rate; without both (--anneal none --word-dropout 0) the KL usually collapses "
                    "to ~0 and z is ignored. Each epoch reports the validation NLL bound, KL and perplexity bound.")
    data = train.add_argument_group("data (default: the shipped Penn Treebank)")
    data.add_argument("--train", help="training text, one sentence a line (plain or gzip UTF-8)")
    data.add_argument("--valid", help="validation text (default: the last 5%% of the --train lines)")
    data.add_argument("--test", help="test text (default: none, no test bound)")
    data.add_argument("--tokenizer", choices=list(TOKENIZERS), default="whitespace",
                      help="whitespace: split on spaces (text already tokenized); simple: lower-case and split "
                           "off punctuation")
    data.add_argument("--min-count", type=positive_int, default=1, help="rarer training words become <unk>")
    data.add_argument("--max-vocab", type=positive_int, default=None,
                      help="keep the N most frequent words (counting <eos>, <unk>)")
    data.add_argument("--max-length", type=positive_int, default=defaults["max_length"],
                      help="training sentences longer than this many words are cut to their first N words "
                           "(validation and test are scored whole)")
    data.add_argument("--max-sentences", type=positive_int, default=None,
                      help="use only the first N training sentences (quick runs; valid/test stay whole)")
    model = train.add_argument_group("model")
    model.add_argument("--embed-size", type=positive_int, default=defaults["embed_size"], help="word vector size")
    model.add_argument("--hidden-size", type=positive_int, default=defaults["hidden_size"],
                       help="LSTM size (encoder and decoder)")
    model.add_argument("--latent-size", type=positive_int, default=defaults["latent_size"], help="size of z")
    model.add_argument("--word-dropout", type=fraction, default=defaults["word_dropout"],
                       help="probability that a decoder input word is replaced by <unk> in training (0: off)")
    model.add_argument("--anneal", choices=list(vae.ANNEALINGS), default=defaults["anneal"],
                       help="KL weight schedule: logistic (Bowman's, beta = 0.5 at --anneal-steps), linear (0 to 1 "
                            "over --anneal-steps), none (beta = 1 from the start)")
    model.add_argument("--anneal-steps", type=positive_int, default=defaults["anneal_steps"],
                       help="optimizer steps to the middle (logistic) or end (linear) of the annealing")
    train.add_argument("--epochs", type=positive_int, default=defaults["epochs"],
                       help="passes over the training sentences")
    train.add_argument("--batch-size", type=positive_int, default=defaults["batch_size"], help="sentences per batch")
    train.add_argument("--lr", type=positive_float, default=defaults["lr"], help="Adam learning rate")
    train.add_argument("--clip", type=positive_float, default=defaults["clip"], help="gradient-norm clip")
    train.add_argument("--checkpoint-minutes", type=positive_float, default=10.0,
                       help="also checkpoint inside an epoch every N minutes (default 10)")
    add_time_budget_arg(train)
    add_common_args(train, DEFAULT_RUN)
    train.set_defaults(func=run_train)

    def add_ckpt(p: argparse.ArgumentParser, decodes: bool = True) -> None:
        p.add_argument("--ckpt", default=DEFAULT_RUN, help="run directory (or .safetensors file) of `vae train`")
        if decodes:
            p.add_argument("--max-len", type=positive_int, default=None,
                           help="at most N words a sentence (default: the run's --max-length)")
        add_inference_args(p)

    smp = commands.add_parser("sample", help="decode sentences from random points z ~ N(0, I) of the prior")
    smp.add_argument("--n", type=positive_int, default=5, help="how many sentences")
    smp.add_argument("--temperature", type=non_negative_float, default=0.0,
                     help="0: greedy decoding of each z (the paper's); above 0: words drawn from "
                          "softmax(logits / T) (default: 0)")
    add_ckpt(smp)
    smp.set_defaults(func=run_sample)

    itp = commands.add_parser(
        "interpolate", help="decode points on the line between two sentences' codes (homotopy)",
        epilog="The sentences are tokenized as the training text was; each word is looked up as written, and "
               "in lower case when only that form is known. Other words read as <unk>, with a warning naming "
               "them (the model was trained with <unk> in place of rare words, so it still has a code).")
    itp.add_argument("first", help='the first sentence, e.g. "the company said it expects higher sales"')
    itp.add_argument("second", help="the second sentence")
    itp.add_argument("--steps", type=positive_int, default=5, help="points from first to second, both included (>= 2)")
    add_ckpt(itp)
    itp.set_defaults(func=run_interpolate)

    ev = commands.add_parser("eval", help="NLL bound, KL and perplexity bound on a PTB split or a text file",
                             epilog="One z ~ q(z|x) is drawn per sentence (--seed), so the bound varies slightly "
                                    "with the seed.")
    ev.add_argument("--split", default="test", choices=["train", "valid", "test"], help="PTB split (default test)")
    ev.add_argument("--file", default=None, help="a text file instead (one sentence per line)")
    add_ckpt(ev, decodes=False)
    ev.set_defaults(func=run_eval)
