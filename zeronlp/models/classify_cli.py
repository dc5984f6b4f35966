"""``zeronlp classify features | train | predict | evaluate | batch-sizes``: NLP 100 Knocks ch. 8."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np

from ..cli_common import add_common_args, start_run
from ..train import log, write_json

DEFAULT_OUT = "runs/classify"


def run_features(args: argparse.Namespace) -> int:
    """Task 70 (+ 71-72 printed): mean word vectors saved as safetensors."""
    from .. import backend
    from .classifier import SingleLayerNet, loss_and_gradient
    from .news_features import news_features, save_features
    from .news_training import get_vectors

    out = start_run(args)
    vectors = get_vectors(out, args.vectors, args.quiet, args.seed)
    features = news_features(vectors)
    path = save_features(out / "features.safetensors", features)
    for split in ("train", "valid", "test"):
        print(f"X_{split} {features[f'X_{split}'].shape}  y_{split} {features[f'y_{split}'].shape}")
    print(f"wrote {path} and {out / 'vectors.bin'}")
    # tasks 71-72 on an untrained single-layer net
    from .. import functional as F

    backend.manual_seed(args.seed)
    net = SingleLayerNet(features["X_train"].shape[1])
    x, y = features["X_train"], features["y_train"]
    np.set_printoptions(precision=4, suppress=True)
    print("task 71: softmax(x_1 W) =", F.softmax(net(x[:1])).numpy())
    print("task 71: softmax(X[:4] W) =\n", F.softmax(net(x[:4])).numpy())
    for n in (1, 4):
        loss, grad = loss_and_gradient(net, x[:n], y[:n])
        print(f"task 72: first {n}: loss {loss:.6f}, dL/dW shape {grad.shape}, |dL/dW| {np.linalg.norm(grad):.6f}")
        print("  dL/dW[:3] =", grad[:3])
    return 0


def run_train(args: argparse.Namespace) -> int:
    from .news_training import train_news_classifier

    out = start_run(args)
    result = train_news_classifier(
        args.model, out, vectors_file=args.vectors, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
        optimizer=args.optimizer, scheduler=args.scheduler, hidden_size=args.hidden_size, depth=args.depth,
        dropout=args.dropout, num_filters=args.num_filters, kernel_sizes=args.kernel_sizes,
        weight_decay=args.weight_decay, epoch_checkpoints=True if args.epoch_checkpoints else None,
        seed=args.seed, quiet=args.quiet, resume=args.resume)
    final = result["final"]
    print(f"{args.model}: test accuracy {final['test_accuracy']:.4f}  macro-F1 {final['test_macro_f1']:.4f}  "
          f"(train {final['train_accuracy']:.4f}, valid {final['valid_accuracy']:.4f}, best epoch "
          f"{final['best_epoch']})")
    print(f"wrote {out}/model.safetensors, metrics.json, curves_loss.png, curves_accuracy.png, confusion_matrix.png")
    return 0


def _load_all(paths: list[str]) -> list[Any]:
    from .classifier import load_classifier

    return [load_classifier(path) for path in paths]


def _mean_proba(classifiers: list[Any], titles: list[str]) -> np.ndarray:
    """Probabilities averaged over the given classifiers (one classifier: its own)."""
    return np.mean([c.predict_proba(titles) for c in classifiers], axis=0)


def run_predict(args: argparse.Namespace) -> int:
    from ..data.news import CATEGORY_NAMES

    classifiers = _load_all(args.ckpt)
    labels = classifiers[0].labels
    titles = list(args.titles)
    probabilities = _mean_proba(classifiers, titles)
    for title, row in zip(titles, probabilities):
        label = labels[int(row.argmax())]
        if args.json:
            print(json.dumps({"title": title, "label": label,
                              "probabilities": {k: float(p) for k, p in zip(labels, row)}}))
        else:
            probs = "  ".join(f"{k} {p:.3f}" for k, p in zip(labels, row))
            print(f"{label} ({CATEGORY_NAMES.get(label, label)})  [{probs}]  {title}")
    return 0


def run_evaluate(args: argparse.Namespace) -> int:
    """Evaluate one model, or the average of several (an ensemble), on a split or a user's file."""
    from ..data.news import load_news, read_news_file
    from ..viz.plots import plot_heatmap
    from .classifier import classification_report, format_report

    classifiers = _load_all(args.ckpt)
    titles, targets = read_news_file(args.file) if args.file else load_news(args.split)
    predicted = _mean_proba(classifiers, titles).argmax(axis=1)
    report = classification_report(predicted, targets, classifiers[0].labels)
    print(format_report(report))
    if args.out:
        out = Path(args.out)
        name = "file" if args.file else args.split
        plot_heatmap(report["confusion_matrix"], out / "confusion_matrix.png", row_labels=report["labels"],
                     col_labels=report["labels"], xlabel="predicted", ylabel="true", annotate=True, cmap="Blues",
                     title=f"{name}: accuracy {report['accuracy']:.3f}")
        final = {f"{name}_accuracy": report["accuracy"], f"{name}_macro_f1": report["macro_f1"],
                 f"{name}_per_class": report["per_class"], f"{name}_confusion_matrix": report["confusion_matrix"]}
        write_json(out / "metrics.json", {"config": {"ckpt": args.ckpt, "split": name}, "history": [],
                                          "final": final})
        print(f"wrote {out}/metrics.json and confusion_matrix.png")
    return 0


def run_batch_sizes(args: argparse.Namespace) -> int:
    """Task 77 (and 78 with --device cuda): seconds per epoch for batch sizes 1, 2, 4, ..., 128."""
    from .news_features import load_features, news_features, save_features
    from .news_training import batch_size_table, get_vectors

    out = start_run(args)
    if args.features:
        features = load_features(args.features)
    else:
        features = news_features(get_vectors(out, args.vectors, args.quiet, args.seed))
        save_features(out / "features.safetensors", features)
    sizes = [2**i for i in range(args.max_power + 1)]
    rows = batch_size_table(features, sizes, epochs=args.epochs, lr=args.lr, seed=args.seed)
    lines = [f"| batch size | seconds / epoch ({args.device}) | train loss | valid accuracy |",
             "|---:|---:|---:|---:|"]
    lines += [f"| {r['batch_size']} | {r['seconds_per_epoch']:.3f} | {r['train_loss']:.4f} | "
              f"{r['valid_accuracy']:.4f} |" for r in rows]
    print("\n".join(lines))
    write_json(out / "batch_sizes.json", {"device": args.device, "epochs": args.epochs, "lr": args.lr, "rows": rows})
    (out / "batch_sizes.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    log(f"wrote {out}/batch_sizes.md and batch_sizes.json", args.quiet)
    return 0


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser("classify", help="news headline classification (NLP 100 Knocks ch. 8)")
    sub = parser.add_subparsers(dest="classify_command", metavar="STEP")
    parser.set_defaults(func=lambda args: (parser.print_help(), 2)[1])

    features = sub.add_parser("features", help="task 70: mean word vectors of the titles (+ tasks 71-72 printed)")
    features.add_argument("--vectors", help="word2vec .bin/.txt file (default: train word2vec on PTB + titles)")
    add_common_args(features, f"{DEFAULT_OUT}/features")
    features.set_defaults(func=run_features)

    train = sub.add_parser("train", help="train a classifier; report accuracy, per-class P/R/F1, confusion matrix")
    from .news_training import MODELS

    train.add_argument("--model", choices=MODELS, default="linear",
                       help="linear (task 73), mlp (task 79) on mean vectors; mean, bigru, cnn on token ids")
    train.add_argument("--vectors", help="word2vec .bin/.txt file (default: train word2vec on PTB + titles)")
    train.add_argument("--epochs", type=int)
    train.add_argument("--batch-size", type=int)
    train.add_argument("--lr", type=float)
    train.add_argument("--optimizer", choices=["sgd", "adam", "adamw", "rmsprop", "adagrad"])
    train.add_argument("--scheduler", choices=["cosine", "none"], help="learning-rate schedule over the epochs")
    train.add_argument("--hidden-size", type=int)
    train.add_argument("--depth", type=int, help="hidden layers of the mlp")
    train.add_argument("--dropout", type=float)
    train.add_argument("--num-filters", type=int, help="cnn: filters per kernel size")
    train.add_argument("--kernel-sizes", type=int, nargs="+", help="cnn: kernel widths (default 2 3 4)")
    train.add_argument("--weight-decay", type=float, default=0.0)
    train.add_argument("--epoch-checkpoints", action="store_true",
                       help="keep OUT/checkpoints/epoch_NNN.safetensors (always on for linear)")
    add_common_args(train, f"{DEFAULT_OUT}/train")
    train.set_defaults(func=run_train)

    predict = sub.add_parser("predict", help="classify titles with a trained model")
    predict.add_argument("--ckpt", required=True, action="append",
                         help="output directory of `classify train` (or its model file); repeat to average models")
    predict.add_argument("--json", action="store_true", help="one JSON object per title")
    predict.add_argument("titles", nargs="+", help="news titles")
    predict.set_defaults(func=run_predict)

    evaluate = sub.add_parser("evaluate", help="accuracy, per-class P/R/F1, confusion matrix of one model or "
                              "an ensemble (repeat --ckpt)")
    evaluate.add_argument("--ckpt", required=True, action="append", help="trained model directory (repeatable)")
    evaluate.add_argument("--split", choices=["train", "valid", "test"], default="test")
    evaluate.add_argument("--file", help="a CATEGORY<TAB>TITLE file instead of a shipped split")
    evaluate.add_argument("--out", help="write metrics.json and confusion_matrix.png here")
    evaluate.set_defaults(func=run_evaluate)

    sizes = sub.add_parser("batch-sizes", help="task 77: time per epoch for batch sizes 1, 2, 4, ..., 128")
    sizes.add_argument("--features", help="features.safetensors from `classify features` (default: make them)")
    sizes.add_argument("--vectors", help="word2vec .bin/.txt file")
    sizes.add_argument("--epochs", type=int, default=1)
    sizes.add_argument("--lr", type=float, default=1.0)
    sizes.add_argument("--max-power", type=int, default=7, help="largest batch size is 2**N (default 7: 128)")
    add_common_args(sizes, f"{DEFAULT_OUT}/batch_sizes")
    sizes.set_defaults(func=run_batch_sizes)
