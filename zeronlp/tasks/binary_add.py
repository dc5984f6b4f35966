"""The RNN course notes' experiment as a library function: five RNN variants learn 8-bit binary addition.

Each variant (:data:`~zeronlp.models.binary_add.VARIANTS`) trains a
:class:`~zeronlp.models.binary_add.BinaryAdder` through the one :class:`~zeronlp.train.Trainer`: one
random pair ``a, b < 128`` per step (drawn from the seeded host Generator), loss
``sum_t (y_t - d_t)^2 / 2``, plain SGD. An "epoch" is ``record_every`` steps, so the history holds
the mean loss of every 100 steps (the seed's plot interval). A variant whose loss explodes to
NaN/inf is recorded as diverged instead of stopping the experiment.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from .. import backend, distributed, optim
from ..errors import TrainingDiverged, UsageError
from ..models.binary_add import VARIANTS, BinaryAdder, to_bits
from ..train import SampledBatches, Trainer, log, write_metrics
from ..viz.plots import plot_series


def _sample_pair(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    a, b = rng.integers(0, 128, size=2)
    return to_bits([a]), to_bits([b]), to_bits([a + b])


def _squared_error(model: BinaryAdder, batch: tuple[Any, ...]) -> Any:
    a_bits, b_bits, target = batch
    diff = model(a_bits, b_bits) - target
    return (diff * diff).sum() * 0.5


def train_variant(name: str, iterations: int = 10000, seed: int = 0, record_every: int = 100,
                  out_dir: str | os.PathLike | None = None, resume: bool = False,
                  quiet: bool = True) -> dict[str, Any]:
    """Train one variant; ``{"variant", ..., "losses", "final_loss", "accuracy", "diverged"}``.

    ``losses`` is the mean loss of every ``record_every`` steps; ``final_loss`` the mean of the
    last 10 of them (the last 1,000 steps).
    """
    if name not in VARIANTS:
        raise UsageError(f"unknown variant {name!r}; use one of {', '.join(VARIANTS)}")
    if iterations < record_every:
        raise UsageError(f"iterations must be at least {record_every}, got {iterations}")
    spec = VARIANTS[name]
    backend.manual_seed(seed)
    model = BinaryAdder(spec["activation"], spec["init"])
    trainer = Trainer(model, optim.SGD(model.parameters(), lr=spec["lr"]), _squared_error, out_dir=out_dir,
                      quiet=True, config={"variant": name, **spec, "iterations": iterations, "seed": seed})
    diverged = False
    with np.errstate(over="ignore", invalid="ignore"):
        try:
            trainer.fit(SampledBatches(_sample_pair, record_every), epochs=iterations // record_every, resume=resume)
        except TrainingDiverged:
            diverged = True
        accuracy = model.accuracy()
    losses = [row["loss"] for row in trainer.history]
    result = {"variant": name, **spec, "losses": losses, "accuracy": accuracy, "diverged": diverged,
              "final_loss": float(np.mean(losses[-10:])) if losses else float("nan")}
    log(f"{name:8s} final loss {result['final_loss']:.4f}  accuracy {accuracy:.4f}"
        + ("  (diverged: loss not finite)" if diverged else ""), quiet)
    return result


def run_experiments(variants: list[str] | None = None, iterations: int = 10000,
                    out_dir: str | os.PathLike | None = None, seed: int = 0, quiet: bool = False,
                    resume: bool = False) -> list[dict[str, Any]]:
    """Train every variant; with ``out_dir`` write ``loss.png`` (all curves), ``results.md``,
    ``metrics.json`` and one resumable run directory per variant."""
    names = variants or list(VARIANTS)
    unknown = [v for v in names if v not in VARIANTS]
    if unknown:
        raise UsageError(f"unknown variants {unknown}; use some of {', '.join(VARIANTS)}")
    out = Path(out_dir) if out_dir is not None else None
    results = [train_variant(name, iterations, seed, out_dir=out / name if out else None, resume=resume,
                             quiet=quiet) for name in names]
    table = ["| variant | activation | lr | init | final loss | accuracy |", "|---|---|---:|---|---:|---:|"]
    table += [f"| {r['variant']} | {r['activation']} | {r['lr']} | {r['init']} | {r['final_loss']:.4f} | "
              f"{r['accuracy']:.4f} |" for r in results]
    log("\n".join(table), quiet)
    if out is not None and distributed.init().is_main:  # with MPI ranks, rank 0 writes
        plot_series({r["variant"]: r["losses"] for r in results}, out / "loss.png", xlabel="training step / 100",
                    ylabel="loss (sum over 8 bits), mean of 100 steps", smooth_window=9,
                    title="binary addition: simple RNN variants (faint: raw, solid: moving average)")
        (out / "results.md").write_text("\n".join(table) + "\n")
        final = {f"{r['variant']}_accuracy": r["accuracy"] for r in results}
        final.update({f"{r['variant']}_final_loss": r["final_loss"] for r in results})
        write_metrics(out, {"iterations": iterations, "seed": seed, "variants": names},
                      [{k: v for k, v in r.items() if k != "losses"} for r in results], final)
    return results
