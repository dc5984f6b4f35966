"""BLAS threads when the machine is idle and when another process competes for the cores.

Work: training steps of the book's RNNLM (vocabulary 10,000, batch 20 x 35; forward, backward, SGD)
with NumPy's BLAS limited to 1 thread, to every core, and to what ``--threads auto`` picks
(:func:`zeronlp.cli.common.auto_threads`: the cores not busy by the 1-minute load average). Each
setting runs in alternation, first with the machine as it is, then with a competing process that
keeps BLAS busy on all cores (as a second training would). Ratios are speeds against 1 thread.

OpenBLAS threads spin while waiting for work: with more threads than free cores they steal time
from each other and from the competitor, and a run can become many times slower.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from .harness import blas_description, interleaved, median, report

COMPETITOR = ("import numpy as np\n"
              "a = np.random.default_rng(0).random((800, 800))\n"
              "while True:\n    a = (a @ a) / 800.0\n")


def _steps(count: int) -> Any:
    import zeronlp as zn
    from zeronlp.models import RNNLM

    zn.manual_seed(0)
    model = RNNLM(10000, 100, 100)
    opt = zn.optim.SGD(model.parameters(), lr=20.0)
    rng = np.random.default_rng(0)
    x, t = rng.integers(0, 10000, (20, 35)), rng.integers(0, 10000, (20, 35))

    def run() -> None:
        for _ in range(count):
            loss = model.loss(x, t)
            opt.zero_grad()
            loss.backward()
            opt.step()

    return run


def _limited(run: Any, threads: int) -> Any:
    def call() -> None:
        with threadpool_limits(limits=threads):
            run()

    return call


def _measure(repeat: int, steps: int, label: str) -> None:
    from zeronlp.cli.common import auto_threads

    cores = os.cpu_count() or 1
    auto = auto_threads()
    run = _steps(steps)
    settings = {"1 thread": 1, f"{cores} threads (all)": cores, f"auto ({auto})": auto}
    times = interleaved({name: _limited(run, n) for name, n in settings.items()}, repeat)
    load = os.getloadavg()[0]
    rows = [(name, median(values), f"min {min(values):.3f} max {max(values):.3f}") for name, values in times.items()]
    report(f"{label}: {steps} RNNLM training steps, load average {load:.2f} on {cores} cores", rows, "1 thread")


def run(repeat: int, args: Any) -> None:
    steps = 5 if args.quick else 20
    print(f"# {blas_description()}")
    _measure(repeat, steps, "as the machine is")
    competitor = subprocess.Popen([sys.executable, "-c", COMPETITOR])
    try:
        time.sleep(2.0)
        _measure(repeat, steps, "with a competing BLAS process on all cores")
    finally:
        competitor.kill()
        competitor.wait()
