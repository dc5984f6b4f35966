"""``zeronlp spiral``: the book's first experiment, a two-layer net on the spiral data set."""

from __future__ import annotations

import argparse
from typing import Any

from . import optim
from .cli_common import add_common_args, start_run
from .data import spiral
from .models import TwoLayerNet
from .train import Trainer, log, write_metrics
from .viz.plots import plot_curves, plot_decision_boundary


def train_spiral(classes: int = 3, hidden: int = 10, epochs: int = 300, lr: float = 1.0, batch_size: int = 30,
                 points: int = 100, out_dir: Any = None, quiet: bool = True, resume: bool = False,
                 seed: int = 0) -> dict[str, Any]:
    """Train TwoLayerNet with SGD on a spiral; evaluate on a second spiral drawn with another seed."""
    x, t = spiral(classes, points, seed=1920 + seed)
    x_test, t_test = spiral(classes, points, seed=7 + seed)
    model = TwoLayerNet(2, hidden, classes)
    optimizer = optim.SGD(model.parameters(), lr=lr)
    trainer = Trainer(model, optimizer, batch_size=batch_size, out_dir=out_dir, quiet=True)
    trainer.fit((x, t), valid=(x, t), epochs=epochs, resume=resume)
    history = [{"epoch": r["epoch"], "loss": r["loss"], "accuracy": r["valid_accuracy"]} for r in trainer.history]
    train_eval = trainer.evaluate((x, t))
    test_eval = trainer.evaluate((x_test, t_test))
    final = {"train_loss": train_eval["loss"], "train_accuracy": train_eval["accuracy"],
             "test_loss": test_eval["loss"], "test_accuracy": test_eval["accuracy"]}
    log(f"final loss {final['train_loss']:.4f}  train accuracy {final['train_accuracy']:.4f}  "
        f"test accuracy (fresh spiral) {final['test_accuracy']:.4f}", quiet)
    return {"model": model, "history": history, "final": final, "data": (x, t)}


def run(args: argparse.Namespace) -> int:
    out = start_run(args)
    result = train_spiral(args.classes, args.hidden, args.epochs, args.lr, args.batch_size, args.points,
                          out_dir=out, quiet=args.quiet, resume=args.resume, seed=args.seed)
    model, (x, t) = result["model"], result["data"]
    plot_curves(result["history"], ["loss"], out / "loss.png", ylabel="loss", title="spiral: training loss")
    plot_decision_boundary(lambda grid: model.predict(grid), x, t, out / "decision_boundary.png",
                           title=f"spiral, {args.classes} classes, hidden {args.hidden}")
    write_metrics(out, vars(args) | {"func": None}, result["history"], result["final"])
    print(f"wrote {out}/loss.png, {out}/decision_boundary.png, {out}/metrics.json")
    return 0


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser("spiral", help="train a two-layer net on the spiral data set")
    parser.add_argument("--classes", type=int, default=3, help="number of spiral arms (default 3)")
    parser.add_argument("--hidden", type=int, default=10, help="hidden units (default 10)")
    parser.add_argument("--epochs", type=int, default=300)
    parser.add_argument("--lr", type=float, default=1.0)
    parser.add_argument("--batch-size", type=int, default=30)
    parser.add_argument("--points", type=int, default=100, help="points per class (default 100)")
    add_common_args(parser, "runs/spiral")
    parser.set_defaults(func=run)
