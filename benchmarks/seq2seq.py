"""Seconds per training epoch of the book's seq2seq models: zeronlp vs PyTorch, same process.

Models at the book's sizes (embedding 16; hidden 128 on addition, 256 on date; batch 128) train on
real batches of the shipped data: forward, cross-entropy, backward, gradient clipping at 5, Adam.
Training steps of the two libraries alternate batch by batch (``repeat`` x a fixed number of
batches each), so that load on the machine hits both alike; the median seconds per batch is
extrapolated to one epoch of 45,000 examples (352 batches).
ratio = PyTorch s/epoch / zeronlp s/epoch (> 1: zeronlp is faster).

    python -m benchmarks seq2seq --repeat 5 [--device cuda]       (or: python benchmarks/seq2seq.py 5)

With ``--device cuda`` zeronlp runs on CuPy and PyTorch on CUDA, the data set already on the GPU for
both, and every timed step ends in a synchronisation of the device.
"""

from __future__ import annotations

import math
import statistics
import sys
import time
from typing import Any

import numpy as np

import zeronlp as zn
from zeronlp.data import load_seq
from zeronlp.models import AttentionSeq2Seq, PeekySeq2Seq, Seq2Seq

BATCH = 128
EPOCH_BATCHES = math.ceil(45000 / BATCH)
CASES = (  # name, data, model class, hidden size, batches per timing
    ("Seq2Seq / addition", "addition", Seq2Seq, 128, 20),
    ("PeekySeq2Seq / addition", "addition", PeekySeq2Seq, 128, 20),
    ("AttentionSeq2Seq / date", "date", AttentionSeq2Seq, 256, 6),
)


def _torch_model(kind: str, vocab: int, wordvec: int, hidden: int) -> Any:
    import torch
    from torch import nn

    class TorchSeq2Seq(nn.Module):
        """The same three models in PyTorch (h of the encoder starts the decoder, c starts at zero)."""

        def __init__(self) -> None:
            super().__init__()
            self.enc_embed = nn.Embedding(vocab, wordvec)
            self.enc = nn.LSTM(wordvec, hidden, batch_first=True)
            self.dec_embed = nn.Embedding(vocab, wordvec)
            self.dec = nn.LSTM(wordvec + (hidden if kind == "peeky" else 0), hidden, batch_first=True)
            self.out = nn.Linear(hidden * (1 if kind == "base" else 2), vocab)

        def forward(self, src: Any, tgt_in: Any) -> Any:
            hs, (h, c) = self.enc(self.enc_embed(src))
            state = (h, torch.zeros_like(c))
            e = self.dec_embed(tgt_in)
            if kind == "peeky":
                peek = h[0][:, None, :].expand(-1, tgt_in.shape[1], -1)
                out, _ = self.dec(torch.cat([e, peek], dim=2), state)
                return self.out(torch.cat([out, peek], dim=2))
            out, _ = self.dec(e, state)
            if kind == "attention":
                weights = torch.softmax(out @ hs.transpose(1, 2), dim=-1)
                out = torch.cat([weights @ hs, out], dim=2)
            return self.out(out)

    return TorchSeq2Seq()


def _zeronlp_step(model: Any, optimizer: Any, x: Any, t: Any, device: str) -> Any:
    """One training step on the batch starting at row ``i`` of ``x``/``t`` (arrays on zeronlp's device)."""
    def step(i: int) -> None:
        loss = model.loss(x[i:i + BATCH], t[i:i + BATCH])
        optimizer.zero_grad()
        loss.backward()
        zn.optim.clip_grad_norm_(model.parameters(), 5.0)
        optimizer.step()
        if device == "cuda":
            zn.backend.xp().cuda.get_current_stream().synchronize()

    return step


def _torch_step(model: Any, optimizer: Any, x: np.ndarray, t: np.ndarray, device: str) -> Any:
    import torch

    xs, ts = torch.from_numpy(x).to(device), torch.from_numpy(t).to(device)

    def step(i: int) -> None:
        src, tgt = xs[i:i + BATCH], ts[i:i + BATCH]
        logits = model(src, tgt[:, :-1])
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), tgt[:, 1:].reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        optimizer.step()
        if device == "cuda":
            torch.cuda.synchronize()

    return step


def _alternate(steps: list[Any], rows: int, batches: int, offset: int) -> list[list[float]]:
    """Seconds of each training step, alternating the libraries batch by batch (same batches for each)."""
    times: list[list[float]] = [[] for _ in steps]
    for b in range(batches):
        i = (offset + b) * BATCH % (rows - BATCH)
        for k, step in enumerate(steps):
            start = time.perf_counter()
            step(i)
            times[k].append(time.perf_counter() - start)
    return times


def run(repeat: int = 3, args: Any = None) -> list[dict[str, Any]]:
    """Time every case ``repeat`` times; print and return rows with medians (s/epoch) and ratios."""
    try:
        import torch
    except ImportError:
        torch = None
    device = getattr(args, "device", "cpu") or "cpu"
    zn.use_device(device)
    zn.manual_seed(0)
    quick = bool(getattr(args, "quick", False))
    rows = []
    for name, data, cls, hidden, batches in CASES:
        batches = 2 if quick else batches
        (x, t), _, vocab = load_seq(data)
        model = cls(len(vocab), 16, hidden)
        ours = _zeronlp_step(model, zn.optim.Adam(model.parameters(), lr=1e-3), zn.backend.to_device(x),
                             zn.backend.to_device(t), device)
        theirs = None
        if torch is not None:
            torch.manual_seed(0)
            reference = _torch_model(cls.kind, len(vocab), 16, hidden).to(device)
            theirs = _torch_step(reference, torch.optim.Adam(reference.parameters(), lr=1e-3), x, t, device)
        steps = [ours] if theirs is None else [ours, theirs]
        _alternate(steps, len(x), 2, 0)  # warm up allocators and BLAS
        samples = _alternate(steps, len(x), batches * repeat, 2)
        ours_s, theirs_s = samples[0], samples[1] if theirs is not None else []
        row: dict[str, Any] = {"case": name, "zeronlp_s_per_epoch": statistics.median(ours_s) * EPOCH_BATCHES}
        if theirs_s:
            row["torch_s_per_epoch"] = statistics.median(theirs_s) * EPOCH_BATCHES
            row["ratio"] = row["torch_s_per_epoch"] / row["zeronlp_s_per_epoch"]
        rows.append(row)
        torch_text = (f"   torch {row['torch_s_per_epoch']:7.1f} s/epoch   ratio {row['ratio']:.2f}x"
                      if "ratio" in row else "   (torch not installed)")
        print(f"{name:26s} zeronlp {row['zeronlp_s_per_epoch']:7.1f} s/epoch{torch_text}", flush=True)
    zn.use_device("cpu")
    if torch is not None:
        where = "CUDA" if device == "cuda" else f"{torch.get_num_threads()} threads"
        print(f"(torch {torch.__version__}, {where}; numpy {np.__version__}; "
              f"median of {len(ours_s)} batches each, extrapolated to {EPOCH_BATCHES} batches of {BATCH})")
    return rows


if __name__ == "__main__":
    run(int(sys.argv[1]) if len(sys.argv) > 1 else 3)
