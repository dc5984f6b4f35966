"""A recurrent step's GEMM on a weight packed once (``zeronlp.functional.packed_gemm``) vs NumPy's BLAS.

Each case is one step product ``out = a @ rows^T`` — ``a`` (batch, K), the weight ``rows`` (N, K) — as an
LSTM layer runs it T times a sequence: forward ``h W_hh^T`` (K = H, N = 4H) and backward ``dZ W_hh``
(K = 4H, N = H). With ``--threads 2`` the columns are split in two and each thread multiplies its half on
one BLAS thread, as the LSTM's steps split by hidden units do (zeronlp's threads and BLAS's alike). The
BLAS side is ``np.matmul`` on a contiguous (K, N) copy (what the steps used before). Both run in one
process, alternating (A B A B); GFLOP/s are medians of ``repeat`` x 20 products each; ratio = BLAS time /
packed time (> 1: the packed kernel is faster). Packing happens once, outside the timing (once a sequence
in the layers).

    python -m benchmarks step_gemm --repeat 5 [--threads 1]
"""

from __future__ import annotations

import statistics
import threading
import time
from typing import Any

import numpy as np

from zeronlp.functional import packed_gemm, vector_math

CASES = (  # batch, K, N: forward and backward of the 650-unit LM layer, of the book's seq2seq layers
    (20, 650, 2600),
    (20, 2600, 650),
    (128, 128, 512),
    (128, 256, 1024),
    (64, 650, 2600),
)


def _products(batch: int, depth: int, columns: int, parts: int) -> tuple[Any, Any]:
    rng = np.random.default_rng(0)
    a = rng.standard_normal((batch, depth)).astype(np.float32)
    cuts = [columns * k // parts for k in range(parts + 1)]
    rows = [rng.standard_normal((cuts[k + 1] - cuts[k], depth)).astype(np.float32) for k in range(parts)]
    outs = [np.empty((batch, r.shape[0]), dtype=np.float32) for r in rows]
    blas = [packed_gemm.BlasWeight(r) for r in rows]
    packed = [packed_gemm.PackedWeight(r, packed_gemm._kernels()) for r in rows]

    def run(weights: list[Any]) -> Any:
        def part(k: int, *_: Any) -> None:
            for _ in range(20):
                weights[k](a, outs[k])

        def all_parts() -> None:
            if parts == 1:
                part(0)
            else:
                threads = [threading.Thread(target=part, args=(k,)) for k in range(parts)]
                for t in threads:
                    t.start()
                for t in threads:
                    t.join()
        return all_parts

    return run(blas), run(packed)


def run(repeat: int = 5, args: Any = None) -> list[dict[str, Any]]:
    """Time every case; print and return rows with GFLOP/s and the ratio."""
    if packed_gemm._kernels() is None:
        print("# numba is not installed: no packed kernel to time")
        return []
    if not packed_gemm.cpu_suits():
        print("# this CPU does not get the packed kernel (AVX-512, or no AVX2 + FMA); timed anyway")
    parts = min(2, vector_math.get_num_threads())
    if getattr(args, "threads", None):
        parts = min(parts, args.threads)
    from threadpoolctl import threadpool_limits

    rows = []
    with threadpool_limits(1, user_api="blas"):  # each part on one BLAS thread
        for batch, depth, columns in CASES:
            blas, packed = _products(batch, depth, columns, parts)
            blas(), packed()  # warm up
            times: dict[str, list[float]] = {"blas": [], "packed": []}
            for _ in range(repeat):
                for name, fn in (("blas", blas), ("packed", packed)):
                    start = time.perf_counter()
                    fn()
                    times[name].append((time.perf_counter() - start) / 20)
            flop = 2 * batch * depth * columns
            blas_s, packed_s = statistics.median(times["blas"]), statistics.median(times["packed"])
            row = {"case": f"{batch} x {depth} x {columns}", "threads": parts, "blas_gflops": flop / blas_s / 1e9,
                   "packed_gflops": flop / packed_s / 1e9, "ratio": blas_s / packed_s}
            print(f"{row['case']:18s} {parts} thread(s)  BLAS {row['blas_gflops']:6.1f} GFLOP/s   "
                  f"packed {row['packed_gflops']:6.1f} GFLOP/s   ratio {row['ratio']:.2f}x", flush=True)
            rows.append(row)
    return rows
