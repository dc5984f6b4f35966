"""``zeronlp classify features|train|predict|evaluate|batch-sizes``: text classification.

NLP 100 Knocks ch. 8 on the shipped news titles by default; any ``LABEL<TAB>TEXT`` files with
``--train [--valid] [--test]``. Each command parses, makes one call into :mod:`zeronlp.tasks.classify`
and prints.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

import numpy as np

from ..data.textfiles import TOKENIZERS
from ..tasks import classify
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

DEFAULT_OUT = classify.DEFAULT_OUT


def _non_negative(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text!r}") from None
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {text}")
    return value


def run_features(args: argparse.Namespace) -> int:
    """Task 70 (+ 71-72 printed): mean word vectors saved as safetensors."""
    use_device(args)
    result = classify.features(vectors=args.vectors, train=args.train, valid=args.valid, test=args.test,
                               out_dir=args.out, seed=args.seed, quiet=args.quiet, limit=args.limit,
                               tokenizer=args.tokenizer)
    arrays = result["features"]
    for split in ("train", "valid", "test"):
        if f"X_{split}" in arrays:
            print(f"X_{split} {arrays[f'X_{split}'].shape}  y_{split} {arrays[f'y_{split}'].shape}")
    print(f"wrote {result['path']} and {result['vectors_path']}")
    np.set_printoptions(precision=4, suppress=True)
    print("softmax(x_1 W) of an untrained net (NLP 100 task 71) =", result["task71"]["first"])
    print("softmax(X[:4] W) (task 71) =\n", result["task71"]["first4"])
    for row in result["task72"]:
        print(f"loss and gradient (task 72) on the first {row['n']}: loss {row['loss']:.6f}, "
              f"dL/dW shape {row['grad'].shape}, "
              f"|dL/dW| {np.linalg.norm(row['grad']):.6f}")
        print("  dL/dW[:3] =", row["grad"][:3])
    return 0


def run_train(args: argparse.Namespace) -> int:
    use_device(args)
    result = classify.train(
        args.model, train=args.train, valid=args.valid, test=args.test, vectors=args.vectors, out_dir=args.out,
        epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, optimizer=args.optimizer,
        scheduler=args.scheduler, hidden_size=args.hidden_size, depth=args.depth, dropout=args.dropout,
        num_filters=args.num_filters, kernel_sizes=args.kernel_sizes, weight_decay=args.weight_decay,
        epoch_checkpoints=True if args.epoch_checkpoints else None, seed=args.seed, quiet=args.quiet,
        resume=args.resume, checkpoint_minutes=args.checkpoint_minutes, tokenizer=args.tokenizer,
        max_minutes=args.max_minutes)
    final = result["final"]
    if "test_accuracy" in final:
        print(f"{args.model}: test accuracy {final['test_accuracy']:.4f}  macro-F1 {final['test_macro_f1']:.4f}  "
              f"(train {final['train_accuracy']:.4f}, valid {final['valid_accuracy']:.4f}, "
              f"best epoch {final['best_epoch']})")
    else:
        print(f"{args.model}: valid accuracy {final['valid_accuracy']:.4f}  macro-F1 {final['valid_macro_f1']:.4f}  "
              f"(train {final['train_accuracy']:.4f}, best epoch {final['best_epoch']}); "
              "no --test file, so no test metrics")
    if result["valid_from_train"]:
        print(f"validation set: {result['sources']['valid']} (held out, no --valid)")
    print(f"wrote {args.out}/model.safetensors, metrics.json, curves_loss.png, curves_accuracy.png, "
          "confusion_matrix.png")
    return 0


def run_predict(args: argparse.Namespace) -> int:
    use_device(args)
    for row in classify.predict(args.ckpt, args.texts):
        if args.json:
            print(json.dumps(row))
        else:
            probabilities = "  ".join(f"{k} {p:.3f}" for k, p in row["probabilities"].items())
            described = f" ({row['description']})" if row["description"] != row["label"] else ""
            print(f"{row['label']}{described}  [{probabilities}]  {row['text']}")
    return 0


def run_evaluate(args: argparse.Namespace) -> int:
    """One model, or the average of several (an ensemble), on a news split or the user's file."""
    use_device(args)
    report = classify.evaluate(args.ckpt, file=args.file, split=args.split, out_dir=args.out)
    print(f"{report['name']}: {len(args.ckpt)} model{'s' if len(args.ckpt) > 1 else ''}")
    print(classify.format_report(report))
    if args.out:
        print(f"wrote {args.out}/metrics.json and confusion_matrix.png")
    return 0


def run_batch_sizes(args: argparse.Namespace) -> int:
    """Task 77 (and 78 with --device cuda): seconds per epoch for batch sizes 1, 2, 4, ..., 2**N."""
    use_device(args)
    result = classify.batch_sizes(features=args.features, vectors=args.vectors, train=args.train, valid=args.valid,
                                  sizes=[2**i for i in range(args.max_power + 1)], epochs=args.epochs, lr=args.lr,
                                  seed=args.seed, out_dir=args.out, quiet=args.quiet,
                                  tokenizer=args.tokenizer)
    print(result["table"])
    print(f"wrote {args.out}/batch_sizes.md and batch_sizes.json")
    return 0


def _add_data_args(parser: argparse.ArgumentParser, test: bool = True) -> None:
    data = parser.add_argument_group("data (default: the shipped NLP-100 news titles, labels b/t/e/m)")
    data.add_argument("--train", help="training file, one LABEL<TAB>TEXT per line (any labels, at least two)")
    data.add_argument("--valid", help="validation file, LABEL<TAB>TEXT (default: the last 10%% of the --train lines)")
    if test:
        data.add_argument("--test", help="test file, LABEL<TAB>TEXT (default: none, no test metrics)")
    data.add_argument("--vectors", help="word2vec .bin/.txt file (default: train word2vec here: on PTB + the "
                                        "titles for the news, on the --train texts for your data)")
    data.add_argument("--tokenizer", choices=list(TOKENIZERS), default="simple",
                      help="how texts are split into words (simple: lower-case, punctuation split off; "
                           "ja: Japanese, the [ja] extra); stored with the model for predict")


def register(subparsers: Any) -> None:
    sub = add_command_group(subparsers, "classify",
        "text classification: NLP 100 ch. 8 news, or your LABEL<TAB>TEXT",
        ["features", "train", "predict", "evaluate", "batch-sizes"])

    features = sub.add_parser("features", help="mean word vectors of the texts as features, and the softmax and "
                              "gradient of an untrained single-layer net (NLP 100 tasks 70-72)")
    _add_data_args(features)
    features.add_argument("--limit", type=positive_int, default=None,
                          help="read only the first N vectors of --vectors (e.g. 300000 of the GoogleNews file)")
    add_common_args(features, f"{DEFAULT_OUT}/features")
    features.set_defaults(func=run_features)

    train = sub.add_parser("train", help="train a classifier; report accuracy, per-class P/R/F1, confusion matrix")
    train.add_argument("--model", choices=classify.MODELS, default="linear",
                       help="linear: single-layer net, mlp: hidden layers (NLP 100 tasks 73, 79), both on mean word "
                            "vectors; mean, bigru, cnn: on the words themselves")
    _add_data_args(train)
    defaults = ", ".join(f"{kind} {d['epochs']}" for kind, d in classify.DEFAULTS.items())
    train.add_argument("--epochs", type=positive_int, help=f"default per model: {defaults}")
    train.add_argument("--batch-size", type=positive_int, help="default 32 (mlp 64)")
    train.add_argument("--lr", type=positive_float, help="default: sgd 1.0 for linear, adam 1e-3 (mean 2e-3)")
    train.add_argument("--optimizer", choices=classify.OPTIMIZERS, help="default: sgd for linear, else adam")
    train.add_argument("--scheduler", choices=classify.SCHEDULERS, help="learning-rate schedule over the epochs")
    train.add_argument("--hidden-size", type=positive_int)
    train.add_argument("--depth", type=positive_int, help="hidden layers of the mlp")
    train.add_argument("--dropout", type=fraction)
    train.add_argument("--num-filters", type=positive_int, help="cnn: filters per kernel size")
    train.add_argument("--kernel-sizes", type=positive_int, nargs="+", help="cnn: kernel widths (default 2 3 4)")
    train.add_argument("--weight-decay", type=_non_negative, default=0.0)
    train.add_argument("--checkpoint-minutes", type=positive_float, default=10.0,
                       help="also checkpoint inside an epoch every N minutes")
    add_time_budget_arg(train)
    train.add_argument("--epoch-checkpoints", action="store_true",
                       help="keep OUT/checkpoints/epoch_NNN.safetensors (always on for linear)")
    add_common_args(train, f"{DEFAULT_OUT}/train")
    train.set_defaults(func=run_train)

    predict = sub.add_parser("predict", help="classify texts with a trained model (labels of its training data)")
    predict.add_argument("--ckpt", required=True, action="append",
                         help="output directory of `classify train` (or its model file); repeat to average models")
    predict.add_argument("--json", action="store_true", help="one JSON object per text")
    predict.add_argument("texts", nargs="+", metavar="TEXT", help="texts to classify")
    add_inference_args(predict)
    predict.set_defaults(func=run_predict)

    evaluate = sub.add_parser("evaluate", help="accuracy, per-class P/R/F1, confusion matrix of one model or "
                              "an ensemble (repeat --ckpt)")
    evaluate.add_argument("--ckpt", required=True, action="append", help="trained model directory (repeatable)")
    evaluate.add_argument("--file", help="a LABEL<TAB>TEXT file (default: a shipped news split)")
    evaluate.add_argument("--split", choices=["train", "valid", "test"], default="test",
                          help="shipped news split when there is no --file (default test)")
    evaluate.add_argument("--out", help="write metrics.json and confusion_matrix.png here")
    add_inference_args(evaluate)
    evaluate.set_defaults(func=run_evaluate)

    sizes = sub.add_parser("batch-sizes", help="seconds per epoch for batch sizes 1, 2, 4, ..., 128 (NLP 100 task 77)")
    sizes.add_argument("--features", help="features.safetensors from `classify features` (default: make them)")
    _add_data_args(sizes, test=False)
    sizes.add_argument("--epochs", type=positive_int, default=1, help="epochs per batch size")
    sizes.add_argument("--lr", type=positive_float, default=1.0, help="SGD learning rate")
    sizes.add_argument("--max-power", type=int, choices=range(0, 13), default=7, metavar="N",
                       help="largest batch size is 2**N, N in 0..12 (default 7: 128)")
    add_common_args(sizes, f"{DEFAULT_OUT}/batch_sizes")
    sizes.set_defaults(func=run_batch_sizes)
