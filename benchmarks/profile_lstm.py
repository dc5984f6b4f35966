"""Where the LSTM-LM step's time goes: a cProfile of one model, the output layer alone, the GEMMs alone.

    python -m benchmarks.profile_lstm step generic-fused train [--threads 1]   # cProfile, top functions
    python -m benchmarks.profile_lstm head [--hidden 650] [--threads 1]        # fused vs unfused output layer
    python -m benchmarks.profile_lstm gemm [--threads 1]                       # NumPy's BLAS vs torch, same GEMMs
    python -m benchmarks.profile_lstm peak [--threads 1]                       # GEMM peak vs each library's LSTM

Everything alternates in one process (A B A B) and reports medians, like the benchmarks.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import statistics
import time

import numpy as np

import zeronlp as zn
import zeronlp.functional as F

from . import lstm
from .harness import blas_description


def _alternate(fns: dict, repeat: int) -> dict[str, float]:
    for fn in fns.values():
        fn()
    times: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(repeat):
        for k, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[k].append(time.perf_counter() - start)
    return {k: statistics.median(v) for k, v in times.items()}


def profile_step(name: str, mode: str, windows: int = 3) -> None:
    from zeronlp.data import load_ptb

    _, vocab = load_ptb("train")
    data = lstm._windows(windows)
    make = lstm.generic_fns if name.startswith("generic") else lstm.zeronlp_fns
    train, evaluate = make(name, data, len(vocab))
    fn = train if mode == "train" else evaluate
    fn()
    profiler = cProfile.Profile()
    start = time.perf_counter()
    profiler.enable()
    fn()
    fn()
    profiler.disable()
    print(f"{name} {mode}: {(time.perf_counter() - start) / (2 * windows) * 1e3:.0f} ms per window under cProfile")
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(14)
    print(out.getvalue())


def head(hidden: int, rows: int = 700, vocab: int = 10000, repeat: int = 9) -> None:
    rng = np.random.default_rng(0)
    h = zn.Tensor(rng.standard_normal((rows, hidden)).astype(np.float32) * 0.1, requires_grad=True)
    w = zn.Tensor(rng.standard_normal((vocab, hidden)).astype(np.float32) * 0.1, requires_grad=True)
    b = zn.Tensor(np.zeros(vocab, np.float32), requires_grad=True)
    t = rng.integers(0, vocab, rows)
    heads = {"unfused": lambda: F.softmax_cross_entropy(F.linear(h, w, b), t),
             "F.linear_cross_entropy": lambda: F.linear_cross_entropy(h, w, b, t)}
    fns = {}
    for name, loss in heads.items():
        def train(loss=loss):
            loss().backward()
            h.grad = w.grad = b.grad = None

        def evaluate(loss=loss):
            with zn.no_grad():
                loss()
        fns[f"{name} train"], fns[f"{name} eval"] = train, evaluate
    for k, v in _alternate(fns, repeat).items():
        print(f"  {k:32s} {v * 1e3:8.1f} ms   (N={rows}, H={hidden}, V={vocab})")


def gemm(repeat: int = 7) -> None:
    import torch

    rng = np.random.default_rng(0)
    shapes = {"output layer 700x650 @ 650x10000": (700, 650, 10000),
              "LSTM step 20x650 @ 650x2600": (20, 650, 2600),
              "LSTM input projection 700x650 @ 650x2600": (700, 650, 2600)}
    for name, (m, k, n) in shapes.items():
        a, b = rng.standard_normal((m, k)).astype(np.float32), rng.standard_normal((k, n)).astype(np.float32)
        c = np.empty((m, n), np.float32)
        ta, tb, tc = torch.from_numpy(a), torch.from_numpy(b), torch.empty((m, n))
        calls = 3 if m > 100 else 100

        def np_mm(a=a, b=b, c=c, calls=calls):
            for _ in range(calls):
                np.matmul(a, b, out=c)

        def torch_mm(ta=ta, tb=tb, tc=tc, calls=calls):
            for _ in range(calls):
                torch.mm(ta, tb, out=tc)
        medians = _alternate({"numpy": np_mm, "torch": torch_mm}, repeat)
        flops = 2 * m * k * n * calls
        print(f"  {name:42s} " + "  ".join(f"{lib} {flops / s / 1e9:5.0f} GFLOP/s" for lib, s in medians.items()))


def peak(repeat: int = 7) -> None:
    """The core's practical float32 GEMM peak (2048^3, NumPy and torch) against the GFLOP/s each library's
    2-layer 650-unit LSTM reaches on a 20 x 35 window (forward, no grad): how far above PyTorch any LSTM
    built on GEMMs could get here. Each library is timed in a block of its own (not alternated): one
    library's idle threads, spinning or asleep, would otherwise slow the other at 2 threads."""
    import torch

    from zeronlp import nn as znn

    rng = np.random.default_rng(0)
    a, b = rng.random((2048, 2048), dtype=np.float32), rng.random((2048, 2048), dtype=np.float32)
    c, ta, tb = np.empty_like(a), torch.from_numpy(a), torch.from_numpy(b)
    medians = {**_alternate({"numpy": lambda: np.matmul(a, b, out=c)}, repeat),
               **_alternate({"torch": lambda: ta @ tb}, repeat)}
    print("  sgemm 2048^3               " + "  ".join(f"{lib} {2 * 2048**3 / t / 1e9:5.0f} GFLOP/s"
                                                      for lib, t in medians.items()))
    x = rng.random((20, 35, 650), dtype=np.float32)
    ours, theirs = znn.LSTM(650, 650, num_layers=2, batch_first=True), torch.nn.LSTM(650, 650, 2, batch_first=True)
    tx = torch.from_numpy(x)

    def zeronlp_lstm():
        with zn.no_grad():
            ours(zn.Tensor(x))

    def torch_lstm():
        with torch.no_grad():
            theirs(tx)
    flops = 2 * 2 * (2 * 700 * 650 * 2600)  # 2 layers x (input projection + recurrent GEMMs)
    medians = {**_alternate({"zeronlp": zeronlp_lstm}, repeat), **_alternate({"torch": torch_lstm}, repeat)}
    print("  LSTM-650 x2 forward        " + "  ".join(f"{lib} {flops / t / 1e9:5.0f} GFLOP/s ({t * 1e3:.1f} ms)"
                                                      for lib, t in medians.items()))


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks.profile_lstm", description=__doc__)
    p.add_argument("what", choices=["step", "head", "gemm", "peak"])
    p.add_argument("model", nargs="?", default="generic-fused")
    p.add_argument("mode", nargs="?", default="train", choices=["train", "eval"])
    p.add_argument("--hidden", type=int, default=650)
    p.add_argument("--threads", type=int, default=None)
    args = p.parse_args()
    limits = None
    if args.threads:
        from threadpoolctl import threadpool_limits

        from zeronlp.functional import vector_math

        limits = threadpool_limits(args.threads, user_api="blas")
        vector_math.set_num_threads(args.threads)
        try:
            import torch

            torch.set_num_threads(args.threads)
        except ImportError:
            pass
    print(f"# {blas_description()}, load {os.getloadavg()[0]:.1f}")
    if args.what == "step":
        profile_step(args.model, args.mode)
    elif args.what == "head":
        head(args.hidden)
    elif args.what == "peak":
        peak()
    else:
        gemm()
    del limits


if __name__ == "__main__":
    main()
