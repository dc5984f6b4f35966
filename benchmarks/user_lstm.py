"""A user's own LSTM language model built from ``nn`` layers — not the shipped models' fused paths.

``nn.Embedding(10000, 650) -> nn.LSTM(650, 650, num_layers=2, batch_first=True) -> nn.Linear(650, 10000)
-> softmax cross-entropy``, SGD, batch 20 x 35 (issue 17's model), against the same model in PyTorch
CPU, alternating in one process. Reports tokens/s of a training step and the ratio.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .harness import blas_description, interleaved, median, report, torch_or_none

VOCAB, EMBED, HIDDEN, BATCH, BPTT = 10000, 650, 650, 20, 35


def _batches(count: int) -> list[tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(0)
    return [(rng.integers(0, VOCAB, (BATCH, BPTT)), rng.integers(0, VOCAB, (BATCH, BPTT))) for _ in range(count)]


def zeronlp_step(batches: list) -> Any:
    import zeronlp as zn
    import zeronlp.functional as F

    zn.manual_seed(0)
    embed, lstm, head = zn.nn.Embedding(VOCAB, EMBED), zn.nn.LSTM(EMBED, HIDDEN, 2, batch_first=True), \
        zn.nn.Linear(HIDDEN, VOCAB)
    params = embed.parameters() + lstm.parameters() + head.parameters()
    opt = zn.optim.SGD(params, lr=1.0)

    def step() -> None:
        for x, t in batches:
            y, _ = lstm(embed(x))
            loss = F.softmax_cross_entropy(head(y), t)
            opt.zero_grad()
            loss.backward()
            opt.step()

    return step


def torch_step(torch: Any, batches: list) -> Any:
    torch.manual_seed(0)
    embed, lstm = torch.nn.Embedding(VOCAB, EMBED), torch.nn.LSTM(EMBED, HIDDEN, 2, batch_first=True)
    head = torch.nn.Linear(HIDDEN, VOCAB)
    params = [*embed.parameters(), *lstm.parameters(), *head.parameters()]
    opt = torch.optim.SGD(params, lr=1.0)
    data = [(torch.from_numpy(x), torch.from_numpy(t)) for x, t in batches]

    def step() -> None:
        for x, t in data:
            y, _ = lstm(embed(x))
            loss = torch.nn.functional.cross_entropy(head(y).reshape(-1, VOCAB), t.reshape(-1))
            opt.zero_grad()
            loss.backward()
            opt.step()

    return step


def run(repeat: int, args: Any) -> None:
    batches = _batches(2 if args.quick else 5)
    print(f"# {blas_description()}")
    fns = {"zeronlp": zeronlp_step(batches)}
    torch = torch_or_none()
    if torch is not None:
        if args.threads:
            torch.set_num_threads(args.threads)
        fns["pytorch"] = torch_step(torch, batches)
    times = interleaved(fns, repeat)
    tokens = len(batches) * BATCH * BPTT
    rows = [(name, median(values), f"{tokens / median(values):,.0f} tokens/s") for name, values in times.items()]
    report(f"user's LSTM LM from nn layers: {len(batches)} training steps of {BATCH}x{BPTT}", rows,
           "pytorch" if torch is not None else "zeronlp")
