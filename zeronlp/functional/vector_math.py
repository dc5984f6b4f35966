"""exp, sigmoid and tanh for float32 that a compiler can vectorize, and the numba kernels built on them.

NumPy's float32 ``exp`` and ``tanh`` on AVX2 machines run at 1.6 and 2.6 ns per element (NumPy 2.4,
Zen 3, measured in ``benchmarks/README_lstm.md``); a language model's softmax over a 10,000-word
vocabulary spends most of its non-GEMM time there. The functions below are the classic Cephes
single-precision algorithms written as straight-line arithmetic, so LLVM (through numba) turns a
loop over them into AVX2 / AVX-512 code:

* ``exp(x)``: ``n = round(x / ln 2)``, ``r = x - n ln 2`` (in two parts, Cody-Waite), ``exp(r)`` by a
  degree-7 polynomial, and ``2^n`` made directly in the float's exponent bits. At most 1 ulp from the
  exact value (NumPy's: 2.5) for ``-87.3 <= x <= 88.7``; ``0`` below (where the exact value is
  subnormal, < 1.2e-38), ``inf`` above, ``nan`` for ``nan``.
* ``sigmoid(x) = 1 / (1 + exp(-x))`` (no cancellation on either side).
* ``tanh(x)``: ``x + x^3 P(x^2)`` for ``|x| < 0.625`` (Cephes ``tanhf``), ``sign(x) (1 - 2 / (exp(2|x|) + 1))``
  above: a few ulp, and exact 0 for 0.

:func:`kernels` compiles them lazily (numba is imported on first use) and returns ``None`` without
numba; callers keep their NumPy path for that case, for float64 (gradient checks) and for CuPy
arrays. Tests compare every kernel with its NumPy form (``tests/functional/test_vector_math.py``).
"""

from __future__ import annotations

import itertools
import queue
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from .. import backend

# False: the callers use their NumPy paths (tests flip it to compare the two)
USE_NUMBA = True
_KERNELS: dict[str, Any] = {}
_FASTMATH = {"contract", "arcp", "nsz"}  # no nnan / ninf: nan and inf must still come out right


def _build() -> dict[str, Any] | None:  # pragma: no cover - compiled code; covered through kernels()
    # The helpers the cached kernels call are module globals, not closure cells: numba keys its disk cache
    # on a kernel's closure contents, which differ in every process for compiled functions, so every
    # process compiled all kernels again (3-4 s) and added another entry to the cache files.
    global exp_reduced, exp32, exp32_nonpositive, sigmoid32, tanh32, row_max, exp_sum, softmax_into, row_loss
    try:
        import numba
        from numba import types
        from numba.core import cgutils
        from numba.extending import intrinsic
    except ImportError:
        return None

    @intrinsic
    def bits_to_float32(typingctx, bits):
        """The float32 whose IEEE bits are the low 32 bits of the integer ``bits``."""
        if not isinstance(bits, types.Integer):
            return None

        def codegen(context, builder, signature, args):
            value = args[0]
            if bits.bitwidth != 32:
                value = builder.trunc(value, cgutils.int32_t)
            return builder.bitcast(value, context.get_value_type(types.float32))

        return types.float32(bits), codegen

    f32 = np.float32
    # the scalar functions keep a strict operation order (exp32's range reduction depends on it); the
    # kernels may reassociate, which lets LLVM vectorize their sums. LLVM inlines the functions into
    # the kernels with each instruction's own flags (numba's inline="always" would apply the
    # kernel's flags to them instead).
    jit = numba.njit(fastmath=_FASTMATH, error_model="numpy")
    kernel = numba.njit(cache=True, nogil=True, fastmath=_FASTMATH | {"reassoc"}, error_model="numpy")

    @jit
    def exp_reduced(xc):
        """(p, n) with exp(xc) = p 2^n: n = round(xc / ln 2), p = exp(xc - n ln 2) by the polynomial
        (for -87.34 <= xc <= 88.73)."""
        n = np.floor(xc * f32(1.44269504088896341) + f32(0.5))
        r = xc - n * f32(0.693359375)
        r = r - n * f32(-2.12194440e-4)
        p = f32(1.9875691500e-4)
        p = p * r + f32(1.3981999507e-3)
        p = p * r + f32(8.3334519073e-3)
        p = p * r + f32(4.1665795894e-2)
        p = p * r + f32(1.6666665459e-1)
        p = p * r + f32(5.0000001201e-1)
        p = p * r * r + r + f32(1.0)
        return p, np.int32(n)

    @jit
    def exp32(x):
        lo, hi = f32(-87.33654), f32(88.72283)
        p, ni = exp_reduced(min(max(x, lo), hi))
        # 2^n as 2^n1 2^n2 with n1 = n >> 1: both halves are normal floats for every n in
        # [-126, 128] (2^n itself is not at the ends: x near -87.3 and near 88.7)
        n1 = ni >> np.int32(1)
        y = p * bits_to_float32((n1 + np.int32(127)) << np.int32(23))
        y = y * bits_to_float32((ni - n1 + np.int32(127)) << np.int32(23))
        y = f32(0.0) if x < lo else y
        y = f32(np.inf) if x > hi else y
        return x if x != x else y  # nan stays nan

    @jit
    def exp32_nonpositive(x):
        """exp32(x) for x <= 0 (a row minus its maximum), bit for bit: there n is in [-126, 0], so 2^n is
        one normal float and one scaling multiply rounds as exp32's two do; no overflow branch (a row
        with a nan can give x > 0 here, and its sum is nan either way)."""
        lo = f32(-87.33654)
        p, ni = exp_reduced(max(x, lo))
        y = p * bits_to_float32((ni + np.int32(127)) << np.int32(23))
        y = f32(0.0) if x < lo else y
        return x if x != x else y

    @jit
    def sigmoid32(x):
        return f32(1.0) / (f32(1.0) + exp32(-x))

    @jit
    def tanh32(x):
        ax = abs(x)
        z = x * x
        small = ((((f32(-5.70498872745e-3) * z + f32(2.06390887954e-2)) * z - f32(5.37397155531e-2)) * z
                  + f32(1.33314422036e-1)) * z - f32(3.33332819422e-1)) * z * x + x
        big = f32(1.0) - f32(2.0) / (exp32(ax + ax) + f32(1.0))
        big = -big if x < 0 else big
        return small if ax < f32(0.625) else big

    @kernel
    def exp_(a):
        flat = a.reshape(-1)
        for k in range(flat.size):
            flat[k] = exp32(flat[k])

    @kernel
    def sigmoid_(a):
        flat = a.reshape(-1)
        for k in range(flat.size):
            flat[k] = sigmoid32(flat[k])

    @kernel
    def tanh_(a):
        flat = a.reshape(-1)
        for k in range(flat.size):
            flat[k] = tanh32(flat[k])

    @numba.njit(fastmath=_FASTMATH | {"nnan", "reassoc"}, error_model="numpy")
    def row_max(row):
        # eight independent maxima, which LLVM packs into one vector register (a single running max
        # is a dependency chain it does not vectorize); nnan is safe here: a nan in the row still
        # makes the row's sum, and so its loss, nan through exp32
        V = row.size
        m0 = m1 = m2 = m3 = m4 = m5 = m6 = m7 = row[0]
        V8 = V - V % 8
        for v in range(0, V8, 8):
            m0, m1, m2, m3 = max(m0, row[v]), max(m1, row[v + 1]), max(m2, row[v + 2]), max(m3, row[v + 3])
            m4, m5, m6, m7 = max(m4, row[v + 4]), max(m5, row[v + 5]), max(m6, row[v + 6]), max(m7, row[v + 7])
        m = max(max(max(m0, m1), max(m2, m3)), max(max(m4, m5), max(m6, m7)))
        for v in range(V8, V):
            m = max(m, row[v])
        return m

    row = numba.njit(inline="always", fastmath=_FASTMATH | {"reassoc"}, error_model="numpy")

    @row
    def exp_sum(src, m):
        """sum_v exp(src_v - m), nothing written."""
        s = f32(0.0)
        for v in range(src.size):
            s += exp32_nonpositive(src[v] - m)
        return s

    @row
    def softmax_into(src, dst, m):
        """dst <- softmax(src) given m = max src; returns sum_v exp(src_v - m) (``dst`` may be ``src``)."""
        s = f32(0.0)
        for v in range(src.size):
            e = exp32_nonpositive(src[v] - m)
            dst[v] = e
            s += e
        inv = f32(1.0) / s
        for v in range(src.size):
            dst[v] *= inv
        return s

    @row
    def row_loss(src, dst, t, keep):
        """loss = log sum_v exp(src_v - m) - (src_t - m), m = max src; with ``keep``,
        dst <- softmax(src) - onehot(t) (``dst`` may be ``src``: the row is read before it is written)."""
        m = row_max(src)
        shifted_t = src[t] - m
        if keep:
            s = softmax_into(src, dst, m)
            dst[t] -= f32(1.0)
        else:  # evaluation: only the sum, nothing written
            s = exp_sum(src, m)
        return np.log(s) - shifted_t

    @kernel
    def softmax_xent_rows(z, bias, has_bias, targets, losses, keep, r0, r1):
        """Rows r0..r1 of a logits panel, in place (the fused head's own buffer): z_n += bias, then
        :func:`row_loss` with ``dst = src = z_n``."""
        V = z.shape[1]
        for n in range(r0, r1):
            row = z[n]
            if has_bias:
                for v in range(V):
                    row[v] += bias[v]
            losses[n] = row_loss(row, row, targets[n], keep)

    @kernel
    def softmax_xent_rows_into(z, out, targets, losses, keep, r0, r1):
        """Rows r0..r1 of logits that must stay as they are (a graph's tensor): :func:`row_loss` with
        ``src = z_n``, ``dst = out_n``."""
        for n in range(r0, r1):
            losses[n] = row_loss(z[n], out[n], targets[n], keep)

    @kernel
    def softmax_rows(x, out, log, r0, r1):
        """Rows r0..r1: out = softmax(x) or, with ``log``, out = (x - m) - log sum exp(x - m)."""
        V = x.shape[1]
        for n in range(r0, r1):
            src, dst = x[n], out[n]
            m = row_max(src)
            if log:
                log_s = np.log(exp_sum(src, m))
                # two passes: in one, the kernel's reassociation turns (x - m) - log_s into
                # x - (m + log_s), which loses log_s next to a large m (log_softmax of [512, 512] gave
                # -0.693176 instead of -0.693147)
                for v in range(V):
                    dst[v] = src[v] - m
                for v in range(V):
                    dst[v] -= log_s
            else:
                softmax_into(src, dst, m)

    @kernel
    def lstm_gates_forward(a, rec, c_prev, c, tanh_c, h, u0, u1):
        """One LSTM step after its recurrent GEMM, for the hidden units u0 <= j < u1 (0, H: all of them),
        every (b, j) in one pass: a <- act(a + rec) with (i, f, g, o) = (s, s, tanh, s);
        c = f c_prev + i g; tanh_c = tanh(c); h = o tanh_c. ``a`` is the step's (B, 4H) pre-activations,
        ``rec`` = h_{t-1} W_hh^T over these units' gate columns alone: (B, 4n), n = u1 - u0, gate order
        i, f, g, o (so threads that each own a range of units can run their steps side by side)."""
        B, H = c.shape
        n = u1 - u0
        # every loop runs from 0 over a slice: LLVM does not vectorize numba's loops that start
        # elsewhere (range(2H, 3H) ran 6x slower, measured)
        for b in range(B):
            i, f = a[b, u0:u1], a[b, H + u0:H + u1]
            g, o = a[b, 2 * H + u0:2 * H + u1], a[b, 3 * H + u0:3 * H + u1]
            ri, rf, rg, ro = rec[b, :n], rec[b, n:2 * n], rec[b, 2 * n:3 * n], rec[b, 3 * n:4 * n]
            cb, cpb, tb, hb = c[b, u0:u1], c_prev[b, u0:u1], tanh_c[b, u0:u1], h[b, u0:u1]
            for j in range(n):
                i[j] = sigmoid32(i[j] + ri[j])
            for j in range(n):
                f[j] = sigmoid32(f[j] + rf[j])
            for j in range(n):
                g[j] = tanh32(g[j] + rg[j])
            for j in range(n):
                o[j] = sigmoid32(o[j] + ro[j])
            for j in range(n):
                cv = f[j] * cpb[j] + i[j] * g[j]
                cb[j] = cv
                tv = tanh32(cv)
                tb[j] = tv
                hb[j] = o[j] * tv

    @kernel
    def gru_gates_forward(gi, gh, h_prev, acts, hn_part, h):
        """One GRU step after its recurrent GEMM (``gh`` = h W_hh^T + b_hh), every (b, j) in one pass:
        r = s(gi_r + gh_r), z = s(gi_z + gh_z), n = tanh(gi_n + r gh_n), h = (h_prev - n) z + n;
        ``acts`` <- (r, z, n), ``hn_part`` <- gh_n (both kept for backward)."""
        B, H = h.shape
        for b in range(B):
            ir, iz, i_n = gi[b, :H], gi[b, H:2 * H], gi[b, 2 * H:]
            hr, hz, hn = gh[b, :H], gh[b, H:2 * H], gh[b, 2 * H:]
            r, z, n = acts[b, :H], acts[b, H:2 * H], acts[b, 2 * H:]
            hp, ho, kept = h_prev[b], h[b], hn_part[b]
            for j in range(H):
                r[j] = sigmoid32(ir[j] + hr[j])
            for j in range(H):
                z[j] = sigmoid32(iz[j] + hz[j])
            for j in range(H):
                kept[j] = hn[j]
                n[j] = tanh32(r[j] * hn[j] + i_n[j])
            for j in range(H):
                ho[j] = (hp[j] - n[j]) * z[j] + n[j]

    @numba.njit(cache=True, nogil=True, error_model="numpy")  # no fast-math: NumPy's exact roundings
    def subtract_scaled_(y, a, x, k0, k1):
        """y[k] -= a x[k] for k0 <= k < k1 over the flat arrays: a x rounded, then the difference, as
        NumPy's ``y -= a * x``, in one pass and without the temporary."""
        ys, xs = y.reshape(-1)[k0:k1], x.reshape(-1)[k0:k1]
        for k in range(ys.size):
            ys[k] -= a * xs[k]

    return {"exp_": exp_, "sigmoid_": sigmoid_, "tanh_": tanh_, "softmax_xent_rows": softmax_xent_rows,
            "softmax_xent_rows_into": softmax_xent_rows_into, "softmax_rows": softmax_rows,
            "lstm_gates_forward": lstm_gates_forward, "gru_gates_forward": gru_gates_forward,
            "subtract_scaled_": subtract_scaled_}


def kernels(*arrays: Any) -> dict[str, Any] | None:
    """The compiled float32 kernels when every array is a NumPy float32 array and numba is installed
    (and :data:`USE_NUMBA` is on), else ``None`` (the caller then runs its NumPy form)."""
    if not USE_NUMBA or not all(type(a) is np.ndarray and a.dtype == np.float32 for a in arrays):
        return None
    built = _KERNELS.get("all")
    if built is None:
        built = _build() or False
        _KERNELS["all"] = built
    return built or None


def subtract_scaled(y: Any, a: float, x: Any) -> None:
    """``y -= a * x`` in place with ``a * x`` rounded to y's dtype first, exactly as NumPy computes it
    (an optimizer's step). For C-contiguous float32 NumPy arrays of one shape: one compiled pass, in
    chunks over the threads, without NumPy's temporary (a 26 MB weight: 4.2 ms -> 2.1 ms on one
    thread, 1.3 ms on two, measured); otherwise NumPy."""
    compiled = kernels(y, x) if y.shape == x.shape and y.flags.c_contiguous and x.flags.c_contiguous else None
    if compiled is None:
        y -= a * x
        return
    kernel, scale = compiled["subtract_scaled_"], y.dtype.type(a)
    parallel_rows(y.size, lambda k0, k1: kernel(y, scale, x, k0, k1), min_rows=1 << 18, pieces=1)


def elementwise(name: str, x: Any) -> Any:
    """``sigmoid`` or ``tanh`` of a float32 NumPy array through its compiled kernel (a new C-ordered
    array), or None when the kernels do not apply (the caller then uses NumPy)."""
    compiled = kernels(x)
    if compiled is None:
        return None
    y = np.array(x, dtype=np.float32, order="C", copy=True)
    compiled[name + "_"](y)
    return y


def softmax_last_axis(x: Any, log: bool = False) -> Any:
    """softmax (or log-softmax) over the last axis of a float32 NumPy array, rows over threads, or None
    when the kernels do not apply."""
    compiled = kernels(x)
    if compiled is None or x.ndim == 0 or x.shape[-1] == 0:
        return None
    x2 = np.ascontiguousarray(x).reshape(-1, x.shape[-1])
    out = np.empty_like(x2)
    kernel = compiled["softmax_rows"]
    parallel_rows(x2.shape[0], lambda r0, r1: kernel(x2, out, log, r0, r1), min_rows=max(1, 65536 // x2.shape[1]))
    return out.reshape(x.shape)


# ---------------------------------------------------------------------------- threads

_POOL: dict[str, Any] = {"size": 0, "executor": None}


def set_num_threads(count: int | None) -> None:
    """Threads for these kernels alone (BLAS untouched): :func:`zeronlp.set_num_threads` with
    ``blas=False``."""
    backend.set_num_threads(count, blas=False)


def get_num_threads() -> int:
    """The kernels' thread count (:func:`zeronlp.get_num_threads`)."""
    return backend.get_num_threads()


def _executor(threads: int) -> ThreadPoolExecutor:
    """The worker threads, remade when the thread count changed."""
    if _POOL["executor"] is None or _POOL["size"] != threads:
        if _POOL["executor"] is not None:
            _POOL["executor"].shutdown(wait=True)
        _POOL["executor"] = ThreadPoolExecutor(threads, thread_name_prefix="zeronlp")
        _POOL["size"] = threads
    return _POOL["executor"]


def parallel_rows(rows: int, work: Callable[[int, int], None], min_rows: int = 64, pieces: int = 4) -> int:
    """Run ``work(r0, r1)`` over ``[0, rows)`` in threads (the compiled kernels release the GIL); in the
    calling thread alone when one thread is set or the rows are few.

    The rows are cut into about ``pieces`` ranges per thread (at least ``min_rows`` each) that the
    threads take in turn, so a thread that loses its core for a while (to another library's spinning
    threads, say) leaves its share to the others instead of holding them all up: one range per thread
    made the LM heads up to 1.4x slower in the PyTorch benchmark's process. Returns the number of
    threads used."""
    threads = min(get_num_threads(), max(1, rows // min_rows))
    if threads <= 1:
        work(0, rows)
        return 1
    executor = _executor(get_num_threads())
    count = min(threads * pieces, max(1, rows // min_rows))
    bounds = [rows * k // count for k in range(count + 1)]
    taken = itertools.count()  # next() on it is atomic under the GIL

    def loop() -> None:
        for k in iter(taken.__next__, None):
            if k >= count:
                return
            work(bounds[k], bounds[k + 1])

    futures = [executor.submit(loop) for _ in range(threads - 1)]
    try:
        loop()
    finally:
        for future in futures:
            future.result()
    return threads


# seconds a thread of run_parts waits at a barrier for the others before it calls the run broken (a
# step takes milliseconds; this only ends a run whose other thread died or never started)
BARRIER_TIMEOUT = 120.0


class _PartThread(threading.Thread):
    """A thread that runs one part at a time and then waits, idle, for the next: starting a thread
    costs ~0.1 ms, handing a part to an idle one ~0.02 ms (measured), and an LSTM layer runs its steps
    through :func:`run_parts` twice per training step."""

    idle: list[_PartThread] = []
    lock = threading.Lock()
    started = itertools.count(1)

    def __init__(self) -> None:
        super().__init__(name=f"zeronlp-part-{next(self.started)}", daemon=True)
        self.jobs: queue.SimpleQueue[tuple[Callable[[], None], threading.Event]] = queue.SimpleQueue()
        self.start()

    @classmethod
    def take(cls) -> _PartThread:
        """An idle thread, or a new one when all are busy (so a part never waits behind another run's
        part: several callers at once, a part that never ends)."""
        with cls.lock:
            if cls.idle:
                return cls.idle.pop()
        return cls()

    def run(self) -> None:
        while True:
            job, ended = self.jobs.get()
            job()  # never raises: run_parts's jobs keep their errors
            with self.lock:
                self.idle.append(self)
            ended.set()  # after going idle, so the next run finds this thread


def run_parts(parts: int, work: Callable[[int, threading.Barrier], None]) -> None:
    """Run ``work(k, barrier)`` for k = 0 .. parts-1 at the same time, k = 0 in the calling thread and
    each other k on a thread of its own, with BLAS on one thread meanwhile; the works may meet at
    ``barrier.wait()`` (once per time step, say).

    Each part gets a thread to itself (an idle one kept from earlier runs, or a new one), never a place
    in a pool's queue: parts that wait for each other at a barrier would deadlock behind a queue. If a
    part raises, the barrier is broken so the others stop at their next wait, and the first exception
    is raised here after all parts have ended."""
    barrier = threading.Barrier(parts, timeout=BARRIER_TIMEOUT)
    errors: list[BaseException] = []
    ended = [threading.Event() for _ in range(1, parts)]

    def guarded(k: int) -> None:
        try:
            work(k, barrier)
        except threading.BrokenBarrierError as error:
            errors.append(error)
        except BaseException as error:  # noqa: BLE001 - handed to the caller below
            errors.insert(0, error)
            barrier.abort()

    with backend.single_threaded_blas():
        for k in range(1, parts):
            _PartThread.take().jobs.put((lambda k=k: guarded(k), ended[k - 1]))
        guarded(0)
        for event in ended:
            event.wait()
    if errors:
        if isinstance(errors[0], threading.BrokenBarrierError):
            raise RuntimeError(f"a parallel part did not reach its barrier within {BARRIER_TIMEOUT} s") from errors[0]
        raise errors[0]


# two independent products of a backward pass run side by side, each on one BLAS thread, when each has
# at least this many multiply-adds and neither is more than 25% larger than the other (else the larger
# one, alone on its core, takes longer than both on two). Measured on 2 cores, dh = D W
# and dW = D^T h one after the other on BLAS's two threads vs side by side: (700 x 10000) x 100 (the
# RNNLM's output layer) 18.9 vs 17.6 ms; x 650 (BetterRNNLM's) 122.7 vs 116.6 ms; (700 x 2600) x 650 (an
# LSTM-650 layer's dx and dW) 30.5 vs 28.9 ms; (3712 x 1024) x 256 22.5 vs 22.2 ms; (896 x 512) x 144
# (66M each) 1.53 vs 1.57 ms
SIDE_BY_SIDE_MIN_MACS = 200_000_000


def side_by_side(first: Callable[[], Any], second: Callable[[], Any], macs: tuple[int, int]) -> tuple[Any, Any]:
    """``(first(), second())`` for two independent BLAS products of ``macs`` multiply-adds: at the same
    time on one BLAS thread each where that pays (NumPy arrays, two or more threads, BLAS threads that
    sleep soon after each call, large and similar products), else one after the other on BLAS's threads.
    Two GEMMs of awkward shapes (an output layer's 10,000 x 100 gradients) keep a core each busier than
    one GEMM keeps two."""
    small, large = sorted(macs)
    if (get_num_threads() < 2 or small < SIDE_BY_SIDE_MIN_MACS or 4 * large > 5 * small
            or not backend.blas_threads_sleep()):
        return first(), second()
    results: list[Any] = [None, None]

    def work(k: int, barrier: threading.Barrier) -> None:
        results[k] = (first, second)[k]()

    run_parts(2, work)
    return results[0], results[1]


__all__ = ["USE_NUMBA", "get_num_threads", "kernels", "parallel_rows", "run_parts", "set_num_threads", "side_by_side"]
