"""One GRU layer, forward + backward of sum(y^2): zeronlp's ``nn.GRU`` vs PyTorch's ``nn.GRU``, same process.

Shapes: a seq2seq-sized layer (batch 128, input 64, hidden 128, 20 steps) and a language-model-sized one
(batch 20, input 650, hidden 650, 35 steps). The two libraries' steps alternate (A B A B) on the same
input; medians of ``repeat`` x 10 steps each. ratio = PyTorch ms / zeronlp ms (> 1: zeronlp faster).

    python -m benchmarks gru --repeat 5 [--threads 1]
"""

from __future__ import annotations

import statistics
import time
from typing import Any

import numpy as np

import zeronlp as zn

CASES = (  # batch, input, hidden, steps
    (128, 64, 128, 20),
    (20, 650, 650, 35),
)


def _steps(batch: int, inputs: int, hidden: int, steps: int) -> list[Any]:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, steps, inputs)).astype(np.float32)
    zn.manual_seed(0)
    ours = zn.nn.GRU(inputs, hidden, batch_first=True)

    def zeronlp_step() -> None:
        y, _ = ours(zn.Tensor(x))
        (y * y).sum().backward()

    fns = [zeronlp_step]
    try:
        import torch
    except ImportError:
        return fns
    torch.manual_seed(0)
    theirs = torch.nn.GRU(inputs, hidden, batch_first=True)
    x_torch = torch.from_numpy(x)

    def torch_step() -> None:
        y, _ = theirs(x_torch)
        (y * y).sum().backward()

    return fns + [torch_step]


def run(repeat: int = 5, args: Any = None) -> list[dict[str, Any]]:
    """Time every case; print and return rows with the medians (ms) and the ratio."""
    per_repeat = 2 if getattr(args, "quick", False) else 10
    rows = []
    for batch, inputs, hidden, steps in CASES:
        fns = _steps(batch, inputs, hidden, steps)
        for fn in fns:  # warm up: kernels compiled, buffers allocated
            fn()
        times: list[list[float]] = [[] for _ in fns]
        for _ in range(repeat * per_repeat):
            for k, fn in enumerate(fns):
                start = time.perf_counter()
                fn()
                times[k].append(time.perf_counter() - start)
        row: dict[str, Any] = {"case": f"B={batch} I={inputs} H={hidden} T={steps}",
                               "zeronlp_ms": statistics.median(times[0]) * 1e3}
        text = f"{row['case']:28s} zeronlp {row['zeronlp_ms']:8.2f} ms"
        if len(fns) > 1:
            row["torch_ms"] = statistics.median(times[1]) * 1e3
            row["ratio"] = row["torch_ms"] / row["zeronlp_ms"]
            text += f"   torch {row['torch_ms']:8.2f} ms   ratio {row['ratio']:.2f}x"
        print(text, flush=True)
        rows.append(row)
    return rows
