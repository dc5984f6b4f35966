"""Timing helpers shared by the benchmarks: medians of repeats, ratios, a results table."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any


def time_call(fn: Callable[[], Any], repeat: int, warmup: int = 1) -> list[float]:
    """Wall-clock seconds of ``fn()`` for ``repeat`` runs after ``warmup`` untimed runs."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def interleaved(fns: dict[str, Callable[[], Any]], repeat: int, warmup: int = 1) -> dict[str, list[float]]:
    """Time several functions in alternation (A B A B ...), so machine noise hits all of them alike."""
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeat):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return times


def median(values: list[float]) -> float:
    return statistics.median(values)


PEAK_SIZE = 2048


def gemm_peak_fns(torch: Any = None, size: int = PEAK_SIZE, products: int = 3,
                  device: str = "cpu") -> tuple[dict[str, Callable[[], Any]], float]:
    """Callables that run ``products`` float32 ``size``-cubed GEMMs, one through NumPy's BLAS and (with
    ``torch``) one through PyTorch's, and the floating-point operations each call does (2 size^3 a
    product). Timed in the same alternation as the libraries, the faster one's rate is the machine's
    GEMM peak of the moment — a large square GEMM is BLAS's best case, which a model's smaller and
    thinner products approach but do not pass by more than a few percent — so the model's product FLOPs
    over that rate are a floor for its time (shared machines change speed from minute to minute, which
    is why this is measured beside the libraries and not once). ``device="cuda"``: the same through
    CuPy (cuBLAS) and PyTorch CUDA, each call ending in a device synchronisation."""
    import numpy as np

    rng = np.random.default_rng(0)
    a = rng.standard_normal((size, size), dtype=np.float32)
    b = rng.standard_normal((size, size), dtype=np.float32)
    if device == "cuda":
        import cupy

        xa, xb = cupy.asarray(a), cupy.asarray(b)
        xout = cupy.empty_like(xa)

        def array_gemms() -> None:
            for _ in range(products):
                cupy.matmul(xa, xb, out=xout)
            cupy.cuda.get_current_stream().synchronize()
    else:
        out = np.empty_like(a)

        def array_gemms() -> None:
            for _ in range(products):
                np.matmul(a, b, out=out)

    fns: dict[str, Callable[[], Any]] = {"peak numpy" if device == "cpu" else "peak cupy": array_gemms}
    if torch is not None:
        ta, tb = torch.from_numpy(a).to(device), torch.from_numpy(b).to(device)
        tout = torch.empty_like(ta)

        def torch_gemms() -> None:
            for _ in range(products):
                torch.mm(ta, tb, out=tout)
            if device == "cuda":
                torch.cuda.synchronize()

        fns["peak torch"] = torch_gemms
    return fns, 2.0 * size**3 * products


def report(title: str, rows: list[tuple[str, float, str]], reference: str, unit: str = "s") -> None:
    """Print medians and the speed ratio of each row against ``reference`` (>1 means faster)."""
    ref = dict((name, value) for name, value, _ in rows)[reference]
    print(f"\n{title}")
    print(f"{'':24s} {'median ' + unit:>14s} {'speed vs ' + reference:>18s}")
    for name, value, note in rows:
        print(f"{name:24s} {value:14.5f} {ref / value:17.2f}x  {note}")


def blas_description() -> str:
    """NumPy's BLAS and the kernel set it chose, e.g. ``OpenBLAS 0.3.31 (Haswell kernels)``.

    OpenBLAS picks its kernels from the CPU id unless ``OPENBLAS_CORETYPE`` forces a set; on CPUs
    newer than the OpenBLAS release (or with a forced older set) it runs AVX2 kernels on AVX-512
    hardware, which halves GEMM throughput. Needs ``threadpoolctl`` (the ``bench`` extra).
    """
    import os

    import numpy  # noqa: F401 - loads the BLAS that threadpoolctl inspects

    forced = os.environ.get("OPENBLAS_CORETYPE")
    suffix = f", OPENBLAS_CORETYPE={forced}" if forced else ""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return f"BLAS unknown (install threadpoolctl){suffix}"
    blas = [lib for lib in threadpool_info() if lib.get("user_api") == "blas"]
    if not blas:
        return f"BLAS unknown{suffix}"
    # NumPy's own copy when several libraries bundle one (e.g. scipy's)
    lib = next((b for b in blas if "numpy" in b.get("filepath", "") + b.get("prefix", "")), blas[0])
    name = lib.get("internal_api", "blas")
    name = {"openblas": "OpenBLAS", "mkl": "MKL"}.get(name, name)
    return (f"{name} {lib.get('version')} ({lib.get('architecture')} kernels, {lib.get('num_threads')} threads"
            f"{suffix}), recurrent steps on {step_gemm_description()}")


def step_gemm_description() -> str:
    """Which product zeronlp's recurrent steps use on this machine: the packed weights or BLAS."""
    from zeronlp.functional import packed_gemm

    return packed_gemm.step_product()


LAST_RUN_BEGIN, LAST_RUN_END = "<!-- last run: written by the benchmark -->", "<!-- end of last run -->"


def record_last_run(readme: Any, text: str) -> None:
    """Replace the block between the last-run markers of ``readme`` with ``text`` (append it if absent),
    leaving the hand-written measurements and explanations around it untouched."""
    from pathlib import Path

    path = Path(readme)
    old = path.read_text(encoding="utf-8") if path.is_file() else ""
    block = f"{LAST_RUN_BEGIN}\n{text.rstrip()}\n{LAST_RUN_END}"
    start, end = old.find(LAST_RUN_BEGIN), old.find(LAST_RUN_END)
    if start != -1 and end > start:
        new = old[:start] + block + old[end + len(LAST_RUN_END):]
    else:
        new = old.rstrip() + ("\n\n" if old else "") + block + "\n"
    path.write_text(new, encoding="utf-8")


def torch_or_none() -> Any:
    try:
        import torch
    except ImportError:
        return None
    return torch
