"""The book's first experiment as a library function: a two-layer net on the spiral data set."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from .. import backend, optim
from ..data import spiral
from ..models import TwoLayerNet
from ..train import Trainer
from ..viz.plots import plot_curves, plot_decision_boundary


def train(classes: int = 3, hidden: int = 10, epochs: int = 300, lr: float = 1.0, batch_size: int = 30,
          points: int = 100, out_dir: str | os.PathLike | None = None, quiet: bool = True, resume: bool = False,
          seed: int = 0) -> dict[str, Any]:
    """Train TwoLayerNet with SGD on a spiral; evaluate on a second spiral drawn with another seed.

    With ``out_dir``: checkpoint, ``metrics.json``, ``loss.png`` and ``decision_boundary.png``.
    Returns ``{"model", "history", "final", "data", "config"}``.
    """
    config = dict(classes=classes, hidden=hidden, epochs=epochs, lr=lr, batch_size=batch_size, points=points,
                  seed=seed)
    x, t = spiral(classes, points, seed=1920 + seed)
    x_test, t_test = spiral(classes, points, seed=7 + seed)
    backend.manual_seed(seed)
    model = TwoLayerNet(2, hidden, classes)
    trainer = Trainer(model, optim.SGD(model.parameters(), lr=lr), batch_size=batch_size, out_dir=out_dir,
                      quiet=True, monitor=None, config=config)
    trainer.fit((x, t), valid=(x, t), epochs=epochs, resume=resume)
    history = [{"epoch": r["epoch"], "loss": r["loss"], "accuracy": r["valid_accuracy"]} for r in trainer.history]
    train_eval, test_eval = trainer.evaluate((x, t)), trainer.evaluate((x_test, t_test))
    final = {"train_loss": train_eval["loss"], "train_accuracy": train_eval["accuracy"],
             "test_loss": test_eval["loss"], "test_accuracy": test_eval["accuracy"]}
    trainer.write_metrics(final)
    if out_dir is not None and trainer.comm.is_main:  # with MPI ranks, rank 0 writes
        out = Path(out_dir)
        plot_curves(history, ["loss"], out / "loss.png", ylabel="loss", title="spiral: training loss")
        plot_decision_boundary(lambda grid: model.predict(grid), x, t, out / "decision_boundary.png",
                               title=f"spiral, {classes} classes, hidden {hidden}")
    return {"model": model, "history": history, "final": final, "data": (x, t), "config": config}
