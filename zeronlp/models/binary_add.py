"""Seed 002's experiment: a simple RNN learns to add two 8-bit binary numbers, bit by bit.

At step t the network reads bit t (least significant first) of a and b, and must output bit t of
a + b, so it has to carry the "carry" in its hidden state:

    h_t = act(x_t W_in + h_{t-1} W),   y_t = sigmoid(h_t W_out),   L = sum_t (y_t - d_t)^2 / 2

with 2 inputs, 16 hidden units, no biases, one example per step and plain SGD, as in the seed's
course notebook. Variants (the seed's): ``base`` (sigmoid, lr 0.1, weights N(0, 1)), ``lr0.01``,
``xavier`` (N(0, 1/fan_in)), ``relu`` and ``tanh`` hidden activations. The network is written with
zeronlp's simple Functions (matmul, activations) step by step, so backpropagation through time is
just ``loss.backward()`` over the unrolled graph.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from .. import backend
from .. import functional as F
from ..autograd import Tensor, no_grad

BITS = 8
HIDDEN = 16
VARIANTS: dict[str, dict[str, Any]] = {
    "base": dict(activation="sigmoid", lr=0.1, init="normal"),
    "lr0.01": dict(activation="sigmoid", lr=0.01, init="normal"),
    "xavier": dict(activation="sigmoid", lr=0.1, init="xavier"),
    "relu": dict(activation="relu", lr=0.1, init="normal"),
    "tanh": dict(activation="tanh", lr=0.1, init="normal"),
}
_ACTIVATIONS = {"sigmoid": F.sigmoid, "relu": F.relu, "tanh": F.tanh}


def to_bits(numbers: Any) -> np.ndarray:
    """(N,) integers < 256 -> (N, 8) bits, least significant first."""
    numbers = np.asarray(numbers, dtype=np.int64)
    return ((numbers[:, None] >> np.arange(BITS)) & 1).astype(np.float32)


class BinaryAdder:
    """The seed's RNN: W_in (2, 16), W (16, 16), W_out (16, 1), no biases."""

    def __init__(self, activation: str = "sigmoid", init: str = "normal", hidden: int = HIDDEN):
        if activation not in _ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(_ACTIVATIONS)}, got {activation!r}")
        rng = backend.get_rng()

        def weight(rows: int, cols: int) -> Tensor:
            scale = 1.0 if init == "normal" else 1.0 / math.sqrt(rows)  # Xavier: N(0, 1/fan_in)
            return Tensor((rng.standard_normal((rows, cols)) * scale).astype(np.float32), requires_grad=True)

        if init not in ("normal", "xavier"):
            raise ValueError(f"init must be 'normal' or 'xavier', got {init!r}")
        self.w_in, self.w, self.w_out = weight(2, hidden), weight(hidden, hidden), weight(hidden, 1)
        self.activation, self.hidden = _ACTIVATIONS[activation], hidden

    def parameters(self) -> list[Tensor]:
        return [self.w_in, self.w, self.w_out]

    def forward(self, a_bits: np.ndarray, b_bits: np.ndarray) -> Tensor:
        """Output bit probabilities (N, 8) for (N, 8) input bits."""
        h: Any = np.zeros((a_bits.shape[0], self.hidden), dtype=np.float32)
        outputs = []
        for t in range(BITS):
            x = np.stack([a_bits[:, t], b_bits[:, t]], axis=1)
            h = self.activation(F.matmul(x, self.w_in) + F.matmul(h, self.w))
            outputs.append(F.sigmoid(F.matmul(h, self.w_out)))
        return F.concat(outputs, axis=1)

    def accuracy(self) -> float:
        """Fraction of all 128 x 128 sums a + b (a, b < 128) with every output bit right."""
        a, b = np.divmod(np.arange(128 * 128), 128)
        with no_grad():
            y = self.forward(to_bits(a), to_bits(b)).data
        return float((np.round(y) == to_bits(a + b)).all(axis=1).mean())


def train_variant(name: str, iterations: int = 10000, seed: int = 0, record_every: int = 100) -> dict[str, Any]:
    """Train one variant; returns ``{"losses": [...], "final_loss", "accuracy", "diverged"}``.

    ``losses`` holds the loss of every ``record_every``-th example (the seed's plot_interval).
    """
    if name not in VARIANTS:
        raise ValueError(f"unknown variant {name!r}; use one of {', '.join(VARIANTS)}")
    spec = VARIANTS[name]
    backend.manual_seed(seed)
    model = BinaryAdder(spec["activation"], spec["init"])
    rng = backend.get_host_rng()
    lr = np.float32(spec["lr"])
    losses: list[float] = []
    with np.errstate(over="ignore", invalid="ignore"):
        for i in range(iterations):
            a, b = rng.integers(0, 128, size=2)
            y = model.forward(to_bits([a]), to_bits([b]))
            diff = y - to_bits([a + b])
            loss = (diff * diff).sum() * 0.5
            for p in model.parameters():
                p.grad = None
            loss.backward()
            for p in model.parameters():
                p.data -= lr * p.grad
            if i % record_every == 0:
                losses.append(float(loss.data))
        accuracy = model.accuracy()
    tail = [v for v in losses[-10:]]
    final_loss = float(np.mean(tail)) if tail else float("nan")
    return {"variant": name, **spec, "losses": losses, "final_loss": final_loss, "accuracy": accuracy,
            "diverged": not all(np.isfinite(losses))}


def run_experiments(variants: list[str] | None = None, iterations: int = 10000, out_dir: str | Path | None = None,
                    seed: int = 0, quiet: bool = False) -> list[dict[str, Any]]:
    """Train every variant; with ``out_dir`` write ``loss.png`` (all curves), ``results.md`` and ``metrics.json``."""
    from ..train import log, write_metrics

    results = []
    for name in variants or list(VARIANTS):
        result = train_variant(name, iterations, seed)
        results.append(result)
        log(f"{name:8s} final loss {result['final_loss']:.4f}  accuracy {result['accuracy']:.4f}"
            + ("  (diverged: loss not finite)" if result["diverged"] else ""), quiet)
    table = ["| variant | activation | lr | init | final loss | accuracy |", "|---|---|---:|---|---:|---:|"]
    for r in results:
        table.append(f"| {r['variant']} | {r['activation']} | {r['lr']} | {r['init']} | {r['final_loss']:.4f} | "
                     f"{r['accuracy']:.4f} |")
    if not quiet:
        print("\n".join(table))
    if out_dir is not None:
        from ..viz.plots import plot_series

        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        plot_series({r["variant"]: r["losses"] for r in results}, out / "loss.png",
                    xlabel="iteration / 100", ylabel="loss (sum over 8 bits)",
                    title="binary addition: simple RNN variants")
        (out / "results.md").write_text("\n".join(table) + "\n")
        final = {f"{r['variant']}_accuracy": r["accuracy"] for r in results}
        final.update({f"{r['variant']}_final_loss": r["final_loss"] for r in results})
        write_metrics(out, {"iterations": iterations, "seed": seed, "variants": [r["variant"] for r in results]},
                      [{k: v for k, v in r.items() if k != "losses"} for r in results], final)
    return results
