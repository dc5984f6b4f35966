"""Recurrent Functions: a whole sequence of one RNN/LSTM/GRU layer direction in one graph node.

Each fused Function takes time-major input ``x`` of shape ``(T, B, I)`` and the initial state(s)
``(B, H)`` and returns the outputs ``(T, B, H)`` and the final state(s). Speed comes from
(DESIGN.md, "Speed" 1):

* the input projection ``x W_ih^T + b`` for all ``T`` steps is one GEMM;
* each step runs only the recurrent GEMM ``h W_hh^T`` (on W_hh packed once per sequence,
  :mod:`packed_gemm`, where that is faster than BLAS) and in-place elementwise gates on
  preallocated ``(T, B, ·)`` buffers (sigmoid is computed through ``tanh``: s(x) = (1 + tanh(x/2)) / 2);
* backward walks the steps once, storing the pre-activation gradients ``dZ`` of all steps, then
  gets ``dW_ih``, ``dW_hh``, the biases and ``dx`` from single GEMMs over the stacked steps.

Weights follow PyTorch: ``weight_ih (G*H, I)``, ``weight_hh (G*H, H)`` with gate order LSTM
``i, f, g, o`` and GRU ``r, z, n`` (``b_hn`` inside the reset product). ``reverse=True`` runs the
sequence backwards (the second direction of a bidirectional layer); outputs stay aligned with
the input positions.

The ``*_cell`` functions below are the same cells composed from simple Functions (linear, sigmoid,
tanh, mul, add); they are the readable reference that tests prove the fused versions equal, and
what ``nn.LSTMCell`` & co. use.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import backend
from ..autograd import Function, Tensor, is_grad_enabled
from . import activation, basic, cuda_kernels, packed_gemm, vector_math
from .layers import linear

# ---------------------------------------------------------------------------- helpers


def _common_float(op: str, *arrays: Any) -> list[Any]:
    """The inputs of a recurrent Function in one float dtype, as ``linear`` promotes: the dtype NumPy gives
    the float arrays together (float32 weights meet a float64 input as float64), and integer or boolean
    ones (token features, 0/1 states) as that float. Nones stay None."""
    floats = [a for a in arrays if a is not None and a.dtype.kind == "f"]
    bad = [a for a in arrays if a is not None and a.dtype.kind not in "fiub"]
    if not floats or bad:
        kinds = ", ".join(str(a.dtype) for a in arrays if a is not None)
        raise TypeError(f"{op}: needs floating-point weights and an input of numbers, got dtypes {kinds}")
    dtype = np.result_type(*floats)
    return [a if a is None or a.dtype == dtype else a.astype(dtype) for a in arrays]


def _check_shapes(op: str, x: Any, h0: Any, w_ih: Any, w_hh: Any, gates: int, *biases: Any) -> None:
    if x.ndim != 3 or x.shape[0] == 0:
        raise ValueError(f"{op}: input must be (seq_len >= 1, batch, input_size), got shape {tuple(x.shape)}")
    hidden = w_hh.shape[1]
    if w_ih.shape[0] != gates * hidden or w_hh.shape[0] != gates * hidden:
        raise ValueError(
            f"{op}: weight_ih {tuple(w_ih.shape)} and weight_hh {tuple(w_hh.shape)} must have "
            f"{gates} * hidden_size = {gates * hidden} rows"
        )
    for name, bias in zip(("bias_ih", "bias_hh"), biases):
        per_sequence = op == "lstm" and name == "bias_ih" and x.ndim == 3
        if bias is not None and tuple(bias.shape) != (gates * hidden,) and not (
                per_sequence and tuple(bias.shape) == (x.shape[1], gates * hidden)):
            allowed = f"({gates * hidden},)" + (f" or (batch, {gates * hidden})" if per_sequence else "")
            raise ValueError(f"{op}: {name} of shape {tuple(bias.shape)} must be {allowed}")
    if x.shape[2] != w_ih.shape[1]:
        raise ValueError(
            f"{op}: input of shape {tuple(x.shape)} has input_size {x.shape[2]}, but weight_ih of shape "
            f"{tuple(w_ih.shape)} expects {w_ih.shape[1]}"
        )
    if tuple(h0.shape) != (x.shape[1], hidden):
        raise ValueError(
            f"{op}: hidden state of shape {tuple(h0.shape)} does not match (batch, hidden_size) = "
            f"{(x.shape[1], hidden)} for input of shape {tuple(x.shape)}"
        )


def _time_major(x: Any, reverse: bool) -> Any:
    xp = backend.get_array_module(x)
    return xp.ascontiguousarray(x[::-1] if reverse else x)


def _wants(function: Function, index: int) -> bool:
    """Whether input ``index`` needs a gradient (skip its GEMM otherwise)."""
    inputs = getattr(function, "inputs", None)
    return inputs is None or inputs[index].requires_grad


def _starts_at_zero(h0: Any) -> bool:
    """Whether the initial state is all zeros (NumPy arrays only), so the first step's recurrent GEMM
    h_0 W_hh^T is zero and is skipped: an encoder's first step, any sequence started from no state
    (with a NaN or inf in W_hh that step then gives 0 where 0 * inf would give NaN)."""
    return isinstance(h0, np.ndarray) and not h0.any()


def _input_and_recurrent_grads(dz: Any, x: Any, hs: Any, zero_h0: bool = False,
                               dz_rec: Any = None) -> tuple[Any, Any]:
    """dW_ih = dZ^T X and dW_hh = dZ_rec^T H_prev over all steps (dZ_rec = dZ but for the GRU, whose
    recurrent side has its own): two GEMMs, side by side on two threads where that pays
    (:func:`vector_math.side_by_side`), each into its own contiguous array, which a gradient-norm clip and
    an optimizer step then read in one pass (one GEMM dZ^T [X | H_prev] left two strided views: the clip
    copied them, SGD fell back to NumPy's temporaries). With ``zero_h0`` the first step's rows of H_prev
    are zero: dW_hh leaves them out."""
    dz_rec = dz if dz_rec is None else dz_rec
    rows = dz.shape[0]
    first = hs.shape[1] if zero_h0 and rows > hs.shape[1] else 0  # rows of step 0 to leave out
    x2, h2 = x.reshape(rows, x.shape[-1]), hs[:-1].reshape(rows, hs.shape[-1])

    def input_grad() -> Any:
        return dz.T @ x2

    def recurrent_grad() -> Any:
        return dz_rec[first:].T @ h2[first:]

    if not isinstance(dz, np.ndarray):
        return input_grad(), recurrent_grad()
    macs = (dz.shape[1] * rows * x2.shape[1], dz_rec.shape[1] * (rows - first) * h2.shape[1])
    return vector_math.side_by_side(input_grad, recurrent_grad, macs)


# multiply-adds of one step's recurrent GEMM (B x H x G*H) from which the steps are split over threads.
# Measured on 2 cores (one LSTM layer, forward and forward + backward, split vs one BLAS GEMM per step
# on two threads): H = 650, B = 20 (34M) 1.10x / 1.11x; H = 650, B = 64 (108M) 0.91-1.05x / 1.02-1.05x;
# H = 256, B = 128 (34M) 1.11-1.19x / 1.07-1.15x; H = 512, B = 20 (21M) 1.04x / 1.11x; H = 384, B = 20
# (12M) 1.03x / 1.11x; H = 128, B = 128 (8M) 0.84x / 0.75x; H = 128, B = 20 (1M) 1.03x / 0.87x: below
# ~10M a barrier per step costs more than it saves
SPLIT_MIN_MACS = 10_000_000
# ... and by batch rows instead when each thread gets at least ROW_SPLIT_MIN_ROWS rows and the step has
# ROW_SPLIT_MIN_MACS or more, or at least ROW_SPLIT_WIDE_ROWS rows and hidden <= ROW_SPLIT_MAX_HIDDEN.
# Measured on 2 cores, T = 20, forward / forward + backward, rows against units: B = 128, H = 128
# 1.10x / 1.09x; B = 256, H = 128 1.06x / 1.09x; B = 128, H = 256 1.01x / 1.03x; B = 256, H = 256
# 1.02x / 1.04x; B = 64, H = 256 0.96x / 0.99x; B = 64, H = 384 0.95x / 0.98x; B = 128, H = 512 0.92x /
# 0.97x; B = 64, H = 650 0.96x / 0.97x (each thread packs all of W_hh for its rows at every step, which
# its fewer rows pay for). Rows against one thread and BLAS's two (below SPLIT_MIN_MACS): B = 64, H = 64
# 1.25x / 1.16x; B = 128, H = 64 1.33x / 1.29x; B = 512, H = 32 1.42x / 1.33x; B = 64, H = 128 1.23x /
# 1.16x; B = 128, H = 128 1.26x / 1.21x. With the weight packed once per sequence (packed_gemm) rows
# against units: B = 64, H = 650 1.03x / 1.04x; B = 128, H = 512 1.06x / 1.02x; B = 64, H = 384 1.04x /
# 0.99x; B = 64, H = 256 1.08x / 1.18x; B = 128, H = 256 1.03x / 1.04x; B = 20, H = 650 0.98x / 0.94x
ROW_SPLIT_MIN_ROWS = 32
ROW_SPLIT_MIN_MACS = 1_000_000
ROW_SPLIT_WIDE_ROWS = 64
ROW_SPLIT_MAX_HIDDEN = 256

StepRange = tuple[int, int, int, int]  # rows b0:b1 and hidden units u0:u1 that one thread runs


def _step_ranges(batch: int, hidden: int, gates: int) -> list[StepRange]:
    """How a sequence's steps are shared among threads: one ``(b0, b1, u0, u1)`` per thread.

    Sequences of a batch are independent, so with enough rows each thread runs its own rows through
    all the steps (its GEMMs and gate math) and the threads meet only at the end. With few rows (a
    language model's batch of 20) each thread owns a range of hidden units instead and the threads
    meet at every step. One range: the steps run on this thread, and BLAS uses its own threads inside
    each step GEMM. Split only when BLAS's threads sleep soon after each call
    (:func:`backend.blas_threads_sleep`)."""
    whole = [(0, batch, 0, hidden)]
    threads = vector_math.get_num_threads()
    if threads < 2 or not backend.blas_threads_sleep():
        return whole
    macs = batch * hidden * gates * hidden
    by_units = macs >= SPLIT_MIN_MACS and hidden >= 64
    # rows a thread needs for the split by rows: with the weight packed once (packed_gemm), 32; with BLAS,
    # which packs W_hh again for each thread's rows at every step, a wide layer's rows split only from 64
    # rows a thread and up to ROW_SPLIT_MAX_HIDDEN units, else by units
    if packed_gemm.cpu_suits() or not by_units:
        rows_each = ROW_SPLIT_MIN_ROWS
    else:
        rows_each = ROW_SPLIT_WIDE_ROWS if hidden <= ROW_SPLIT_MAX_HIDDEN else batch + 1
    if batch >= 2 * rows_each and macs >= ROW_SPLIT_MIN_MACS:
        parts = min(threads, batch // rows_each)
        cuts = [batch * k // parts for k in range(parts + 1)]
        return [(cuts[k], cuts[k + 1], 0, hidden) for k in range(parts)]
    if by_units:
        bounds = _unit_bounds(hidden, min(threads, hidden // 32))
        return [(0, batch, bounds[k], bounds[k + 1]) for k in range(len(bounds) - 1)]
    return whole


def _fewest_rows(ranges: list[StepRange]) -> int:
    """The batch rows of the smallest range: the row count a weight shared by all of them is packed for."""
    return min(b1 - b0 for b0, b1, _, _ in ranges)


def _run_ranges(ranges: list[StepRange], run: Any) -> None:
    """``run(b0, b1, u0, u1, barrier)`` for each range, side by side when there are several; the
    barrier (None for row ranges, which never wait for each other) is met once per step."""
    if len(ranges) == 1:
        run(*ranges[0], None)
        return
    by_units = ranges[0][2:] != ranges[-1][2:]
    vector_math.run_parts(len(ranges), lambda k, barrier: run(*ranges[k], barrier if by_units else None))


def _unit_bounds(hidden: int, parts: int) -> list[int]:
    """Unit ranges of ``parts`` threads, cut at multiples of 8 (whole AVX vectors of float32)."""
    cuts = [min(hidden, (hidden * k // parts + 4) // 8 * 8) for k in range(1, parts)]
    return [0, *cuts, hidden]


def _sigmoid_(a: Any) -> Any:
    """In-place sigmoid via tanh: a <- (1 + tanh(a / 2)) / 2."""
    xp = backend.get_array_module(a)
    half = a.dtype.type(0.5)
    a *= half
    xp.tanh(a, out=a)
    a *= half
    a += half
    return a


def _lstm_steps_numpy(gates: Any, hs: Any, cs: Any, tanh_c: Any, weight: Any, peep: Any,
                      skip_first: bool = False) -> None:
    """The LSTM forward steps in NumPy/CuPy ufuncs, in place on the (T, B, ·) buffers of
    :meth:`LSTMFunction.forward` (the reference the compiled step kernel must equal; CuPy arrays,
    float64, peepholes, no numba). ``tanh_c`` has T rows when kept for backward, else one;
    ``skip_first``: h_0 is zero, so step 0 has no recurrent GEMM."""
    xp = backend.get_array_module(gates)
    T, B, H4 = gates.shape
    H, dtype = H4 // 4, gates.dtype
    # sigmoid(a) = 0.5 tanh(0.5 a) + 0.5 on i, f, o; plain tanh on g: scale, tanh, scale, shift
    scale = xp.full(4 * H, 0.5, dtype=dtype)
    scale[2 * H:3 * H] = 1
    shift = xp.full(4 * H, 0.5, dtype=dtype)
    shift[2 * H:3 * H] = 0
    rec = xp.empty((B, 4 * H), dtype=dtype)
    ig = xp.empty((B, H), dtype=dtype)
    for t in range(T):
        a = gates[t]
        if t > 0 or not skip_first:
            weight(hs[t], rec)
            a += rec
        if peep is not None:
            a[:, :H] += peep[0] * cs[t]
            a[:, H:2 * H] += peep[1] * cs[t]
            z_o = a[:, 3 * H:].copy()
        a *= scale
        xp.tanh(a, out=a)
        a *= scale
        a += shift
        i, f, g, o = a[:, :H], a[:, H:2 * H], a[:, 2 * H:3 * H], a[:, 3 * H:]
        c = cs[t + 1]
        xp.multiply(f, cs[t], out=c)
        xp.multiply(i, g, out=ig)
        c += ig
        if peep is not None:
            z_o += peep[2] * c
            o[...] = _sigmoid_(z_o)
        tc = tanh_c[min(t, tanh_c.shape[0] - 1)]
        xp.tanh(c, out=tc)
        xp.multiply(o, tc, out=hs[t + 1])


def _lstm_steps_fused(kernel: Any, gates: Any, hs: Any, cs: Any, tanh_c: Any, weight: Any,
                      skip_first: bool = False) -> None:
    """The LSTM forward steps on CuPy arrays, in place as :func:`_lstm_steps_numpy`: per step one GEMM
    and one launch of the fused gate kernel (:mod:`cuda_kernels`) instead of a dozen ufunc launches."""
    xp = backend.get_array_module(gates)
    T, B, H4 = gates.shape
    H, last_row = H4 // 4, tanh_c.shape[0] - 1
    rec = xp.empty((B, H4), dtype=gates.dtype)
    for t in range(T):
        if t > 0 or not skip_first:
            weight(hs[t], rec)
        else:
            rec.fill(0)
        kernel(rec, t, min(t, last_row), B, H, gates, cs, tanh_c, hs, size=B * H)


def _lstm_steps_compiled(step: Any, gates: Any, hs: Any, cs: Any, tanh_c: Any, w_hh: Any,
                         skip_first: bool = False) -> None:
    """The LSTM forward steps on NumPy float32 buffers with the compiled gate kernel, in place as
    :func:`_lstm_steps_numpy` (and as there, ``skip_first`` leaves out step 0's GEMM of a zero h_0).

    With several threads set (:func:`_step_ranges`), each thread runs its own batch rows through every
    step (GEMM and gate math, BLAS on one thread), or, with few rows, owns a range of hidden units: it
    runs h_{t-1} W_hh^T over its units' gate columns alone (its own packed copy of those columns) and
    their gate math, and the threads meet once per step, when h_t is whole. One multithreaded BLAS GEMM
    per step scales poorly at B = 20 rows (20 x 650 x 2600 on OpenBLAS: 0.94 -> 0.72 ms from one to two
    threads; split, 0.49 ms), and leaves the gate math on one thread."""
    T, B, H4 = gates.shape
    H = H4 // 4
    each_step = tanh_c.shape[0] == T  # kept for backward, else one buffer
    ranges = _step_ranges(B, H, 4)
    rows = _fewest_rows(ranges)
    whole_weight = packed_gemm.pack(w_hh, rows) if ranges[0][2:] == (0, H) else None  # shared by row ranges

    def run(b0: int, b1: int, u0: int, u1: int, barrier: Any) -> None:
        # h W^T over the gate rows of W_hh of these units, in gate order i, f, g, o, packed once
        weight = whole_weight if (u0, u1) == (0, H) else packed_gemm.pack(w_hh.reshape(4, H, H)[:, u0:u1], rows)
        rec = np.empty((b1 - b0, 4 * (u1 - u0)), dtype=gates.dtype)
        for t in range(T):
            if t > 0 or not skip_first:
                weight(hs[t, b0:b1], rec)
            else:
                rec.fill(0)
            step(gates[t, b0:b1], rec, cs[t, b0:b1], cs[t + 1, b0:b1], tanh_c[t if each_step else 0, b0:b1],
                 hs[t + 1, b0:b1], u0, u1)
            if barrier is not None:
                barrier.wait()

    _run_ranges(ranges, run)


def _gru_step_recurrent(t: int, skip_first: bool, hs: Any, weight: Any, gh: Any) -> None:
    """gh <- h_{t-1} W_hh^T by ``weight(h, out)`` (zero at step 0 when h_0 is zero: no GEMM)."""
    if t > 0 or not skip_first:
        weight(hs[t], gh)
    else:
        gh.fill(0)


def _gru_steps_numpy(gi: Any, gh: Any, b_hh: Any, hs: Any, acts: Any, hn_part: Any, weight: Any,
                     skip_first: bool = False) -> None:
    """The GRU forward steps in NumPy/CuPy ufuncs, in place on :meth:`GRUFunction.forward`'s buffers (the
    reference the compiled step kernel must equal; CuPy arrays, float64, no numba)."""
    xp = backend.get_array_module(gi)
    H = hs.shape[-1]
    for t in range(gi.shape[0]):
        _gru_step_recurrent(t, skip_first, hs, weight, gh)
        if b_hh is not None:
            gh += b_hh
        rz = acts[t, :, :2 * H]
        xp.add(gi[t, :, :2 * H], gh[:, :2 * H], out=rz)
        _sigmoid_(rz)
        hn_part[t] = gh[:, 2 * H:]
        n = acts[t, :, 2 * H:]
        xp.multiply(acts[t, :, :H], gh[:, 2 * H:], out=n)
        n += gi[t, :, 2 * H:]
        xp.tanh(n, out=n)
        h = hs[t + 1]
        xp.subtract(hs[t], n, out=h)
        h *= acts[t, :, H:2 * H]
        h += n


def _gru_steps_fused(kernel: Any, gi: Any, b_hh: Any, hs: Any, acts: Any, hn_part: Any, weight: Any,
                     skip_first: bool) -> None:
    """The GRU forward steps on CuPy arrays, in place as :func:`_gru_steps_numpy`: per step one GEMM and
    one launch of the fused gate kernel (:mod:`cuda_kernels`)."""
    xp = backend.get_array_module(gi)
    T, B, H3 = gi.shape
    gh = xp.empty((B, H3), dtype=gi.dtype)
    for t in range(T):
        _gru_step_recurrent(t, skip_first, hs, weight, gh)
        kernel(gi, gh, gh if b_hh is None else b_hh, b_hh is not None, t, B, H3 // 3, acts, hn_part, hs,
               size=B * (H3 // 3))


def _row_ranges(batch: int, hidden: int, gates: int) -> list[StepRange]:
    """:func:`_step_ranges` for kernels that take whole rows only (the GRU's): no split where that
    would split the hidden units."""
    ranges = _step_ranges(batch, hidden, gates)
    return ranges if ranges[0][2:] == (0, hidden) else [(0, batch, 0, hidden)]


def _gru_steps_compiled(step: Any, gi: Any, b_hh: Any, hs: Any, acts: Any, hn_part: Any, w_hh: Any,
                        skip_first: bool) -> None:
    """The GRU forward steps with the compiled gate kernel, in place as :func:`_gru_steps_numpy`; with
    several threads and enough rows each thread runs its own batch rows through every step (W_hh packed
    once for all of them: :mod:`packed_gemm`)."""
    T, B, H3 = gi.shape
    ranges = _row_ranges(B, H3 // 3, 3)
    weight = packed_gemm.pack(w_hh, _fewest_rows(ranges))

    def run(b0: int, b1: int, u0: int, u1: int, barrier: Any) -> None:
        gh = np.empty((b1 - b0, H3), dtype=gi.dtype)
        for t in range(T):
            _gru_step_recurrent(t, skip_first, hs[:, b0:b1], weight, gh)
            if b_hh is not None:
                gh += b_hh
            step(gi[t, b0:b1], gh, hs[t, b0:b1], acts[t, b0:b1], hn_part[t, b0:b1], hs[t + 1, b0:b1])

    _run_ranges(ranges, run)


def _gru_gate_grads_step(dh, gy_t, acts_t, hn_t, h_prev, d_in, d_rec, has_gy, one):  # pragma: no cover
    """One backward step of the GRU gate math, every (b, j) in one pass (compiled by numba).

    In: dh = dL/dh_t from step t+1 (``gy_t`` added in place when ``has_gy``), the activations
    ``acts_t`` = (r, z, n), ``hn_t`` = h_{t-1} W_hn^T + b_hn, h_{t-1}. Out: the input-side gradients
    ``d_in`` = (dr', dz', dn'), the recurrent side ``d_rec`` = (dr', dz', dn' r), and dh <- dh z; the
    caller then adds d_rec W_hh (a GEMM) to dh:

        dn' = dh (1 - z)(1 - n^2),  dz' = dh (h_{t-1} - n) z (1 - z),  dr' = dn' hn r (1 - r).
    The products of :meth:`GRUFunction.backward`'s NumPy loop, without its (T, B, H) factor arrays and its
    eight ufunc calls per step; loops over row slices from 0, which LLVM vectorizes.
    """
    B, H = dh.shape
    for b in range(B):
        dhb = dh[b]
        if has_gy:
            gyb = gy_t[b]
            for j in range(H):
                dhb[j] += gyb[j]
        ab, ib, rb = acts_t[b], d_in[b], d_rec[b]
        r_, z_, n_ = ab[:H], ab[H:2 * H], ab[2 * H:]
        ir, iz, i_n = ib[:H], ib[H:2 * H], ib[2 * H:]
        rr, rz, rn = rb[:H], rb[H:2 * H], rb[2 * H:]
        hnb, hpb = hn_t[b], h_prev[b]
        for j in range(H):
            dhv, r, z, n = dhb[j], r_[j], z_[j], n_[j]
            dn = dhv * ((one - z) * (one - n * n))
            dz = dhv * ((hpb[j] - n) * z * (one - z))
            dr = dn * (hnb[j] * r * (one - r))
            ir[j], iz[j], i_n[j] = dr, dz, dn
            rr[j], rz[j], rn[j] = dr, dz, dn * r
            dhb[j] = dhv * z


def _lstm_gate_grads_step(dh, dc, gy_t, a_t, c_prev, tanh_c_t, d_t, peep, has_gy, one, u0):  # pragma: no cover
    """One backward step of the LSTM gate math for the hidden units u0 <= j < u0 + n, every (b, j) in one
    pass (compiled by numba); ``dh`` is those units' (B, n) dL/dh_t, every other array has all H units.

    In: dh = dL/dh_t from step t+1 (``gy_t`` is added to it in place when ``has_gy``), dc = dL/dc_t
    from step t+1, the activations ``a_t`` = (i, f, g, o), c_{t-1}, tanh(c_t), the peephole weights
    ``peep`` = (p_i, p_f, p_o) (zeros without peepholes). Out: ``d_t`` = the pre-activation gradients
    (di, df, dg, do) and, in place, dc <- dL/dc_{t-1}; dh is then d_t W_hh (a GEMM, outside):

        do = dh tanh(c_t) o (1 - o),  dc += dh o (1 - tanh^2 c_t) + do p_o,
        di = dc g i (1 - i),  df = dc c_{t-1} f (1 - f),  dg = dc i (1 - g^2),
        dc_{t-1} = dc f + di p_i + df p_f.
    The same products as the NumPy loop of :meth:`LSTMFunction.backward`, without its (T, B, 4H)
    factor arrays and its seven ufunc calls per step. Every loop runs from 0 over row slices, which LLVM
    vectorizes (indexing at an offset j = u0 + jj left the loop scalar: 86 vs 27 us for 128 x 128,
    measured). ``one`` is 1 in the arrays' dtype (an integer 1 would make numba compute float32 in float64).
    """
    B, n = dh.shape
    H = c_prev.shape[1]
    u1 = u0 + n
    p_i, p_f, p_o = peep[0, u0:u1], peep[1, u0:u1], peep[2, u0:u1]
    for b in range(B):
        dhb = dh[b]
        if has_gy:
            gyb = gy_t[b, u0:u1]
            for j in range(n):
                dhb[j] += gyb[j]
        ab, db = a_t[b], d_t[b]
        i_, f_, g_, o_ = ab[u0:u1], ab[H + u0:H + u1], ab[2 * H + u0:2 * H + u1], ab[3 * H + u0:3 * H + u1]
        di_, df_, dg_, do_ = db[u0:u1], db[H + u0:H + u1], db[2 * H + u0:2 * H + u1], db[3 * H + u0:3 * H + u1]
        dcb, cpb, tcb = dc[b, u0:u1], c_prev[b, u0:u1], tanh_c_t[b, u0:u1]
        for j in range(n):
            dhv, i, f, g, o, tc = dhb[j], i_[j], f_[j], g_[j], o_[j], tcb[j]
            do = dhv * tc * o * (one - o)
            dcv = dcb[j] + dhv * o * (one - tc * tc) + do * p_o[j]
            di = dcv * g * i * (one - i)
            df = dcv * cpb[j] * f * (one - f)
            di_[j], df_[j], dg_[j], do_[j] = di, df, dcv * i * (one - g * g), do
            dcb[j] = dcv * f + di * p_i[j] + df * p_f[j]


# the compiled kernel once loaded; None: not tried yet; False: numba is not installed
_KERNELS: dict[str, Any] = {}
# False: every LSTM backward runs the NumPy loop (tests flip it to compare the two)
USE_NUMBA = True


def _numba_kernel(function: Any) -> Any:
    """``function`` compiled by numba (cached on disk), or None without numba."""
    kernel = _KERNELS.get(function.__name__)
    if kernel is None:
        try:
            import numba
        except ImportError:
            kernel = False
        else:
            kernel = numba.njit(cache=True, fastmath=True, nogil=True)(function)
        _KERNELS[function.__name__] = kernel
    return kernel or None


def _numba_gate_grads() -> Any:
    """:func:`_lstm_gate_grads_step` compiled by numba, or None without numba."""
    return _numba_kernel(_lstm_gate_grads_step)


# ---------------------------------------------------------------------------- Elman RNN


class RNNFunction(Function):
    """h_t = act(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh), act = tanh or relu; y = (h_1..h_T).

    Backward: dz_t = (dy_t + dh_t) act'(z_t), dh_{t-1} = dz_t W_hh;
    dW_ih = sum_t dz_t^T x_t, dW_hh = sum_t dz_t^T h_{t-1}, db = sum_t dz_t, dx_t = dz_t W_ih.
    Inputs ``x, h0, weight_ih, weight_hh[, bias_ih, bias_hh]``; outputs ``y, h_n``.
    """

    fresh_grads = True  # backward's arrays are new and kept nowhere: leaves take them without a copy

    def __init__(self, nonlinearity: str = "tanh", reverse: bool = False):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"rnn: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        self.nonlinearity, self.reverse = nonlinearity, reverse

    def forward(self, x, h0, w_ih, w_hh, b_ih=None, b_hh=None):
        xp = backend.get_array_module(x)
        x, h0, w_ih, w_hh, b_ih, b_hh = _common_float("rnn", x, h0, w_ih, w_hh, b_ih, b_hh)
        _check_shapes("rnn", x, h0, w_ih, w_hh, 1, b_ih, b_hh)
        T, B, _ = x.shape
        H = w_hh.shape[1]
        x = _time_major(x, self.reverse)
        hs = xp.empty((T + 1, B, H), dtype=x.dtype)  # hs[0] = h0, hs[t+1] = h_t
        hs[0] = h0
        z = hs[1:]
        xp.matmul(x.reshape(T * B, x.shape[-1]), w_ih.T, out=z.reshape(T * B, H))
        if b_ih is not None:
            z += b_ih + b_hh
        tmp = xp.empty((B, H), dtype=x.dtype)
        relu = self.nonlinearity == "relu"
        weight = packed_gemm.pack(w_hh, B)  # h W_hh^T
        skip_first = _starts_at_zero(h0)
        for t in range(T):
            if t > 0 or not skip_first:
                weight(hs[t], tmp)
                z[t] += tmp
            if relu:
                xp.maximum(z[t], 0, out=z[t])
            else:
                xp.tanh(z[t], out=z[t])
        self.x, self.hs, self.w_ih, self.w_hh, self.has_bias = x, hs, w_ih, w_hh, b_ih is not None
        self.zero_h0 = skip_first
        y = z[::-1] if self.reverse else z
        return xp.ascontiguousarray(y), hs[T].copy()

    def decompose(self, x, h0, w_ih, w_hh, b_ih=None, b_hh=None):
        """The step-by-step reference (for create_graph)."""
        return rnn_reference(x, h0, w_ih, w_hh, b_ih, b_hh, self.nonlinearity, self.reverse)

    def backward(self, gy, gh_n):
        xp = backend.get_array_module(self.hs)
        hs, w_hh = self.hs, self.w_hh
        T, B, H = hs.shape[0] - 1, hs.shape[1], hs.shape[2]
        h = hs[1:]
        dz = (h > 0).astype(h.dtype) if self.nonlinearity == "relu" else 1 - h * h  # act'(z), then dz
        if gy is not None:
            gy = gy[::-1] if self.reverse else gy
        dh = xp.zeros((B, H), dtype=h.dtype) if gh_n is None else gh_n.copy()
        wants_h0 = _wants(self, 1)
        weight = packed_gemm.pack(w_hh.T, B)  # dz W_hh
        for t in range(T - 1, -1, -1):
            if gy is not None:
                dh += gy[t]
            dz[t] *= dh
            if t > 0 or wants_h0:  # dh_{-1} only for an h0 that needs it
                weight(dz[t], dh)
        return self._weight_grads(dz, dh if wants_h0 else None, H)

    def _weight_grads(self, dz, dh0, rows):
        T, B = dz.shape[:2]
        dz2 = dz.reshape(T * B, rows)
        dx = None
        if _wants(self, 0):
            dx = (dz2 @ self.w_ih).reshape(T, B, self.w_ih.shape[1])
            if self.reverse:
                dx = dx[::-1]
        dw_ih, dw_hh = _input_and_recurrent_grads(dz2, self.x, self.hs, self.zero_h0)
        grads = (dx, dh0, dw_ih, dw_hh)
        if self.has_bias:
            db = dz2.sum(axis=0)
            grads += (db, db.copy())
        return grads


# ---------------------------------------------------------------------------- LSTM


class LSTMFunction(Function):
    """LSTM over a sequence, PyTorch gate order (i, f, g, o):

    (i, f, g, o) = (s, s, tanh, s)(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh),
    c_t = f c_{t-1} + i g,  h_t = o tanh(c_t)  (s = sigmoid).
    Peephole (Gers & Schmidhuber; not in PyTorch): i and f also get p_i c_{t-1}, p_f c_{t-1}, and o gets
    p_o c_t, with ``peephole`` = (p_i, p_f, p_o) of shape (3, H).

    Backward, with dh = dy_t + dh_t and dc carried from step t+1:
    do = dh tanh(c_t), dc += dh o (1 - tanh^2 c_t), di = dc g, df = dc c_{t-1}, dg = dc i,
    dc_{t-1} = dc f, dh_{t-1} = dZ_t W_hh with dZ the pre-activation gradients (times s' or tanh').
    Inputs ``x, h0, c0, weight_ih, weight_hh[, bias_ih, bias_hh][, peephole]``; outputs ``y, h_n, c_n``.
    ``bias_ih`` may also be (B, 4H): one row per sequence, added at every step (an input that is the same
    at every step, projected once instead of T times: ``nn.LSTM(..., static=s)``); its gradient is then
    sum_t dZ_t per sequence.
    """

    fresh_grads = True  # backward's arrays are new and kept nowhere: leaves take them without a copy

    def __init__(self, has_bias: bool = True, peephole: bool = False, reverse: bool = False):
        self.has_bias, self.peephole, self.reverse = has_bias, peephole, reverse

    def forward(self, x, h0, c0, w_ih, w_hh, *rest):
        xp = backend.get_array_module(x)
        x, h0, c0, w_ih, w_hh, *rest = _common_float("lstm", x, h0, c0, w_ih, w_hh, *rest)
        _check_shapes("lstm", x, h0, w_ih, w_hh, 4)
        if tuple(c0.shape) != tuple(h0.shape):
            raise ValueError(
                f"lstm: cell state of shape {tuple(c0.shape)} must match hidden state {tuple(h0.shape)}"
            )
        b_ih, b_hh = (rest[0], rest[1]) if self.has_bias else (None, None)
        _check_shapes("lstm", x, h0, w_ih, w_hh, 4, b_ih, b_hh)
        peep = rest[-1] if self.peephole else None
        T, B, _ = x.shape
        H = w_hh.shape[1]
        dtype = x.dtype
        x = _time_major(x, self.reverse)
        training = is_grad_enabled()
        # gates: pre-activations, then (in place) activations i, f, g, o for every step
        gates = xp.matmul(x.reshape(T * B, x.shape[-1]), w_ih.T).reshape(T, B, 4 * H)
        if b_ih is not None:
            gates += b_ih + b_hh
        hs = xp.empty((T + 1, B, H), dtype=dtype)
        cs = xp.empty((T + 1, B, H), dtype=dtype)
        # tanh(c_t) of every step is kept for backward; without grad one (B, H) buffer will do
        tanh_c = xp.empty((T if training else 1, B, H), dtype=dtype)
        hs[0], cs[0] = h0, c0
        compiled = None if peep is not None else vector_math.kernels(gates, hs, w_hh)
        skip_first = _starts_at_zero(h0)
        fused = None if peep is not None else cuda_kernels.get("lstm_forward", gates, hs, w_hh)
        if compiled is not None:  # each step's gate math in one compiled pass (vector_math)
            _lstm_steps_compiled(compiled["lstm_gates_forward"], gates, hs, cs, tanh_c, w_hh, skip_first)
        elif fused is not None:  # CuPy: each step's gate math in one kernel launch
            _lstm_steps_fused(fused, gates, hs, cs, tanh_c, packed_gemm.pack(w_hh, B), skip_first)
        else:
            _lstm_steps_numpy(gates, hs, cs, tanh_c, packed_gemm.pack(w_hh, B), peep, skip_first)
        if training:
            self.x, self.hs, self.cs, self.tanh_c, self.gates = x, hs, cs, tanh_c, gates
            self.zero_h0 = skip_first
            self.w_ih, self.w_hh, self.peep = w_ih, w_hh, peep
            self.per_sequence_bias = b_ih is not None and b_ih.ndim == 2
        y = hs[1:][::-1] if self.reverse else hs[1:]
        return xp.ascontiguousarray(y), hs[T].copy(), cs[T].copy()

    def decompose(self, x, h0, c0, w_ih, w_hh, *rest):
        """The step-by-step reference (for create_graph)."""
        biases = rest[:2] if self.has_bias else (None, None)
        peephole = rest[-1] if self.peephole else None
        return lstm_reference(x, h0, c0, w_ih, w_hh, *biases, peephole, self.reverse)

    def backward(self, gy, gh_n, gc_n):
        xp = backend.get_array_module(self.hs)
        cs, tanh_c, peep = self.cs, self.tanh_c, self.peep
        T, B, H = tanh_c.shape
        dtype = tanh_c.dtype
        if gy is not None:
            gy = gy[::-1] if self.reverse else gy
        dh = xp.zeros((B, H), dtype=dtype) if gh_n is None else gh_n.astype(dtype, copy=True)
        dc = xp.zeros((B, H), dtype=dtype) if gc_n is None else gc_n.astype(dtype, copy=True)
        kernel = _numba_gate_grads() if USE_NUMBA and xp is np and dtype in (np.float32, np.float64) else None
        fused = None if peep is not None else cuda_kernels.get("lstm_backward", self.gates, dh, dc)
        if kernel is not None:
            dz = self._steps_numba(kernel, gy, dh, dc)
        elif fused is not None:
            dz = self._steps_fused(fused, gy, dh, dc)
        else:
            dz = self._steps_numpy(gy, dh, dc)
        T4 = dz.reshape(T * B, 4 * H)
        dx = None
        if _wants(self, 0):
            dx = (T4 @ self.w_ih).reshape(T, B, self.w_ih.shape[1])
            if self.reverse:
                dx = dx[::-1]
        dw_ih, dw_hh = _input_and_recurrent_grads(T4, self.x, self.hs, self.zero_h0)
        grads = (dx, dh if _wants(self, 1) else None, dc, dw_ih, dw_hh)
        if self.has_bias:
            db = T4.sum(axis=0)
            grads += (dz.sum(axis=0) if self.per_sequence_bias else db.copy(), db)
        if peep is not None:
            dpeep = xp.stack([
                (dz[..., :H] * cs[:-1]).sum(axis=(0, 1)),
                (dz[..., H:2 * H] * cs[:-1]).sum(axis=(0, 1)),
                (dz[..., 3 * H:] * cs[1:]).sum(axis=(0, 1)),
            ])
            grads += (dpeep,)
        return grads

    def _steps_numba(self, kernel, gy, dh, dc):
        """The backward walk over the steps with the gate math in one compiled pass per step. Split over
        threads as the forward steps (:func:`_lstm_steps_compiled`): a thread that owns rows walks them
        back alone; one that owns a range of units computes their gate gradients dZ_t, waits until dZ_t
        is whole, then dh_{t-1} of its units alone (dZ_t times its columns of W_hh); dc stays within
        each thread's rows or units."""
        a, cs, tanh_c, w_hh, peep = self.gates, self.cs, self.tanh_c, self.w_hh, self.peep
        T, B, H = tanh_c.shape
        dtype = a.dtype
        dz = np.empty((T, B, 4 * H), dtype=dtype)
        peep_arr = np.zeros((3, H), dtype=dtype) if peep is None else np.ascontiguousarray(peep, dtype=dtype)
        gy = None if gy is None else np.ascontiguousarray(gy, dtype=dtype)
        one = dtype.type(1)
        wants_h0 = _wants(self, 1)  # else no dh_{-1} = dZ_0 W_hh (an encoder's zero start state)

        ranges = _step_ranges(B, H, 4) if dtype == np.float32 and peep is None else [(0, B, 0, H)]
        rows = _fewest_rows(ranges)
        whole_weight = packed_gemm.pack(w_hh.T, rows) if ranges[0][2:] == (0, H) else None  # shared by rows

        def run(b0: int, b1: int, u0: int, u1: int, barrier: Any) -> None:
            # dZ_t W_hh[:, units], packed once
            weight = whole_weight if (u0, u1) == (0, H) else packed_gemm.pack(w_hh[:, u0:u1].T, rows)
            dh_u = np.ascontiguousarray(dh[b0:b1, u0:u1])
            dc_rows = dc[b0:b1]
            for t in range(T - 1, -1, -1):
                gy_t = dh_u if gy is None else gy[t, b0:b1]
                kernel(dh_u, dc_rows, gy_t, a[t, b0:b1], cs[t, b0:b1], tanh_c[t, b0:b1], dz[t, b0:b1], peep_arr,
                       gy is not None, one, u0)
                if barrier is not None:
                    barrier.wait()
                if t > 0 or wants_h0:
                    weight(dz[t, b0:b1], dh_u)
            dh[b0:b1, u0:u1] = dh_u

        _run_ranges(ranges, run)
        return dz

    def _steps_fused(self, kernel, gy, dh, dc):
        """The backward walk on CuPy arrays: per step one launch of the fused gate-gradient kernel
        (:mod:`cuda_kernels`, the formulas of :meth:`_steps_numpy`) and one GEMM dZ_t W_hh."""
        xp = backend.get_array_module(self.hs)
        a, cs, tanh_c = self.gates, self.cs, self.tanh_c
        T, B, H = tanh_c.shape
        dz = xp.empty((T, B, 4 * H), dtype=a.dtype)
        gy = None if gy is None else xp.ascontiguousarray(gy, dtype=a.dtype)
        weight = packed_gemm.pack(self.w_hh.T, B)  # dZ_t W_hh
        wants_h0 = _wants(self, 1)
        for t in range(T - 1, -1, -1):
            kernel(a, cs, tanh_c, dh if gy is None else gy, dh, gy is not None, t, B, H, dz, dc, size=B * H)
            if t > 0 or wants_h0:
                weight(dz[t], dh)
        return dz

    def _steps_numpy(self, gy, dh, dc):
        """The backward walk over the steps in NumPy ufuncs (the reference; CuPy arrays, no numba)."""
        xp = backend.get_array_module(self.hs)
        a, cs, tanh_c, w_hh, peep = self.gates, self.cs, self.tanh_c, self.w_hh, self.peep
        T, B, H = tanh_c.shape
        dtype = a.dtype
        i, f, g, o = a[..., :H], a[..., H:2 * H], a[..., 2 * H:3 * H], a[..., 3 * H:]
        # factors for every step at once: dZ_t = [dc, dc, dc, dh] * partner * activation'
        # (in place on two buffers: s' = s (1 - s) on i, f, o, tanh' = 1 - g^2 on g)
        factor = xp.subtract(1, a)
        factor *= a
        fg = factor[..., 2 * H:3 * H]
        xp.multiply(g, g, out=fg)
        xp.subtract(1, fg, out=fg)
        factor[..., :H] *= g
        factor[..., H:2 * H] *= cs[:-1]
        fg *= i
        factor[..., 3 * H:] *= tanh_c
        o_dtanh = xp.multiply(tanh_c, tanh_c)
        xp.subtract(1, o_dtanh, out=o_dtanh)
        o_dtanh *= o
        dz = xp.empty((T, B, 4 * H), dtype=dtype)
        tmp = xp.empty((B, H), dtype=dtype)
        wants_h0 = _wants(self, 1)
        weight = packed_gemm.pack(w_hh.T, B)  # dZ_t W_hh
        for t in range(T - 1, -1, -1):
            if gy is not None:
                dh += gy[t]
            xp.multiply(dh, o_dtanh[t], out=tmp)
            dc += tmp
            d = dz[t]
            xp.multiply(factor[t, :, 3 * H:], dh, out=d[:, 3 * H:])
            if peep is not None:
                dc += d[:, 3 * H:] * peep[2]
            # the i, f, g blocks all scale dc: one broadcast multiply over (B, 3, H)
            xp.multiply(factor[t, :, :3 * H].reshape(B, 3, H), dc[:, None, :],
                        out=d[:, :3 * H].reshape(B, 3, H))
            dc *= f[t]
            if peep is not None:
                dc += d[:, :H] * peep[0]
                dc += d[:, H:2 * H] * peep[1]
            if t > 0 or wants_h0:
                weight(d, dh)
        return dz


# ---------------------------------------------------------------------------- GRU


class GRUFunction(Function):
    """GRU over a sequence, PyTorch gate order (r, z, n):

    r = s(x W_ir^T + b_ir + h W_hr^T + b_hr),  z = s(x W_iz^T + b_iz + h W_hz^T + b_hz),
    n = tanh(x W_in^T + b_in + r (h W_hn^T + b_hn)),  h_t = (1 - z) n + z h_{t-1}.

    Backward, with dh = dy_t + dh_t: dn' = dh (1 - z)(1 - n^2), dz' = dh (h_{t-1} - n) z (1 - z),
    dr' = dn' (h W_hn^T + b_hn) r (1 - r); the input side gets [dr', dz', dn'], the recurrent side
    [dr', dz', dn' r], and dh_{t-1} = dh z + [dr', dz', dn' r] W_hh.
    Inputs ``x, h0, weight_ih, weight_hh[, bias_ih, bias_hh]``; outputs ``y, h_n``.
    """

    fresh_grads = True  # backward's arrays are new and kept nowhere: leaves take them without a copy

    def __init__(self, reverse: bool = False):
        self.reverse = reverse

    def forward(self, x, h0, w_ih, w_hh, b_ih=None, b_hh=None):
        xp = backend.get_array_module(x)
        x, h0, w_ih, w_hh, b_ih, b_hh = _common_float("gru", x, h0, w_ih, w_hh, b_ih, b_hh)
        _check_shapes("gru", x, h0, w_ih, w_hh, 3, b_ih, b_hh)
        T, B, _ = x.shape
        H = w_hh.shape[1]
        dtype = x.dtype
        x = _time_major(x, self.reverse)
        gi = xp.matmul(x.reshape(T * B, x.shape[-1]), w_ih.T).reshape(T, B, 3 * H)
        if b_ih is not None:
            gi += b_ih
        acts = xp.empty((T, B, 3 * H), dtype=dtype)  # r, z, n
        hn_part = xp.empty((T, B, H), dtype=dtype)  # h W_hn^T + b_hn
        hs = xp.empty((T + 1, B, H), dtype=dtype)
        hs[0] = h0
        compiled = vector_math.kernels(gi, hs, w_hh, *(() if b_hh is None else (b_hh,)))
        skip_first = _starts_at_zero(h0)
        fused = cuda_kernels.get("gru_forward", gi, hs, w_hh, *(() if b_hh is None else (b_hh,)))
        if compiled is not None:  # each step's gate math in one compiled pass (vector_math)
            _gru_steps_compiled(compiled["gru_gates_forward"], gi, b_hh, hs, acts, hn_part, w_hh, skip_first)
        elif fused is not None:  # CuPy: each step's gate math in one kernel launch
            _gru_steps_fused(fused, gi, b_hh, hs, acts, hn_part, packed_gemm.pack(w_hh, B), skip_first)
        else:
            gh = xp.empty((B, 3 * H), dtype=dtype)
            _gru_steps_numpy(gi, gh, b_hh, hs, acts, hn_part, packed_gemm.pack(w_hh, B), skip_first)
        self.x, self.hs, self.acts, self.hn_part = x, hs, acts, hn_part
        self.zero_h0 = skip_first
        self.w_ih, self.w_hh, self.has_bias = w_ih, w_hh, b_ih is not None
        y = hs[1:][::-1] if self.reverse else hs[1:]
        return xp.ascontiguousarray(y), hs[T].copy()

    def decompose(self, x, h0, w_ih, w_hh, b_ih=None, b_hh=None):
        """The step-by-step reference (for create_graph)."""
        return gru_reference(x, h0, w_ih, w_hh, b_ih, b_hh, self.reverse)

    def _steps_numba(self, kernel, gy, dh, d_in, d_rec, wants_h0):
        """The backward walk with the gate math in one compiled pass per step; with several threads and
        enough rows each thread walks its own batch rows back (:func:`_row_ranges`)."""
        acts, hs, hn_part, w_hh = self.acts, self.hs, self.hn_part, self.w_hh
        T, B, H = hn_part.shape
        dtype = acts.dtype
        gy = None if gy is None else np.ascontiguousarray(gy, dtype=dtype)
        one = dtype.type(1)
        ranges = _row_ranges(B, H, 3) if dtype == np.float32 else [(0, B, 0, H)]
        weight = packed_gemm.pack(w_hh.T, _fewest_rows(ranges))  # d_rec W_hh

        def run(b0: int, b1: int, u0: int, u1: int, barrier: Any) -> None:
            dh_rows, back = dh[b0:b1], np.empty((b1 - b0, H), dtype=dtype)
            for t in range(T - 1, -1, -1):
                gy_t = dh_rows if gy is None else gy[t, b0:b1]
                kernel(dh_rows, gy_t, acts[t, b0:b1], hn_part[t, b0:b1], hs[t, b0:b1], d_in[t, b0:b1],
                       d_rec[t, b0:b1], gy is not None, one)
                if t > 0 or wants_h0:
                    weight(d_rec[t, b0:b1], back)
                    dh_rows += back

        _run_ranges(ranges, run)

    def _steps_fused(self, kernel, gy, dh, d_in, d_rec, wants_h0):
        """The backward walk on CuPy arrays: per step one launch of the fused gate-gradient kernel
        (:mod:`cuda_kernels`, the formulas of :meth:`_steps_numpy`, which also adds the last step's
        d_rec W_hh to dh) and one GEMM."""
        xp = backend.get_array_module(self.hs)
        acts, hs, hn_part = self.acts, self.hs, self.hn_part
        T, B, H = hn_part.shape
        gy = None if gy is None else xp.ascontiguousarray(gy, dtype=acts.dtype)
        weight = packed_gemm.pack(self.w_hh.T, B)  # d_rec W_hh
        back, has_back = xp.empty_like(dh), False
        for t in range(T - 1, -1, -1):
            kernel(acts, hn_part, hs, dh if gy is None else gy, back, gy is not None, has_back, t, B, H,
                   d_in, d_rec, dh, size=B * H)
            has_back = t > 0 or wants_h0
            if has_back:
                weight(d_rec[t], back)
        if has_back:
            dh += back

    def _steps_numpy(self, gy, dh, d_in, d_rec, wants_h0):
        """The backward walk in NumPy ufuncs (the reference; CuPy arrays, no numba)."""
        xp = backend.get_array_module(self.hs)
        acts, hs, w_hh = self.acts, self.hs, self.w_hh
        H = hs.shape[2]
        r, z, n = acts[..., :H], acts[..., H:2 * H], acts[..., 2 * H:]
        n_factor = (1 - z) * (1 - n * n)
        z_factor = (hs[:-1] - n) * z * (1 - z)
        r_factor = self.hn_part * r * (1 - r)
        back = xp.empty_like(dh)
        weight = packed_gemm.pack(w_hh.T, dh.shape[0])  # d_rec W_hh
        for t in range(acts.shape[0] - 1, -1, -1):
            if gy is not None:
                dh += gy[t]
            di, dr_ = d_in[t], d_rec[t]
            xp.multiply(dh, n_factor[t], out=di[:, 2 * H:])
            xp.multiply(dh, z_factor[t], out=di[:, H:2 * H])
            xp.multiply(di[:, 2 * H:], r_factor[t], out=di[:, :H])
            dr_[:, :2 * H] = di[:, :2 * H]
            xp.multiply(di[:, 2 * H:], r[t], out=dr_[:, 2 * H:])
            if t == 0 and not wants_h0:
                break
            dh *= z[t]
            weight(dr_, back)
            dh += back

    def backward(self, gy, gh_n):
        xp = backend.get_array_module(self.hs)
        acts, hs = self.acts, self.hs
        T, B = acts.shape[:2]
        H = hs.shape[2]
        dtype = acts.dtype
        if gy is not None:
            gy = gy[::-1] if self.reverse else gy
        d_in = xp.empty((T, B, 3 * H), dtype=dtype)
        d_rec = xp.empty((T, B, 3 * H), dtype=dtype)
        dh = xp.zeros((B, H), dtype=dtype) if gh_n is None else gh_n.copy()
        wants_h0 = _wants(self, 1)
        numba_ok = USE_NUMBA and xp is np and dtype in (np.float32, np.float64)
        kernel = _numba_kernel(_gru_gate_grads_step) if numba_ok else None
        fused = cuda_kernels.get("gru_backward", acts, dh)
        if kernel is not None:
            self._steps_numba(kernel, gy, dh, d_in, d_rec, wants_h0)
        elif fused is not None:
            self._steps_fused(fused, gy, dh, d_in, d_rec, wants_h0)
        else:
            self._steps_numpy(gy, dh, d_in, d_rec, wants_h0)
        di2 = d_in.reshape(T * B, 3 * H)
        dr2 = d_rec.reshape(T * B, 3 * H)
        dx = None
        if _wants(self, 0):
            dx = (di2 @ self.w_ih).reshape(T, B, self.w_ih.shape[1])
            if self.reverse:
                dx = dx[::-1]
        dw_ih, dw_hh = _input_and_recurrent_grads(di2, self.x, hs, self.zero_h0, dr2)
        grads = (dx, dh if wants_h0 else None, dw_ih, dw_hh)
        if self.has_bias:
            grads += (di2.sum(axis=0), dr2.sum(axis=0))
        return grads


# ---------------------------------------------------------------------------- public API


def _bias_args(bias_ih: Any, bias_hh: Any) -> tuple:
    if (bias_ih is None) != (bias_hh is None):
        raise ValueError("give both bias_ih and bias_hh, or neither")
    return () if bias_ih is None else (bias_ih, bias_hh)


def rnn(x, h0, weight_ih, weight_hh, bias_ih=None, bias_hh=None, nonlinearity: str = "tanh",
        reverse: bool = False) -> tuple[Tensor, Tensor]:
    """Elman RNN over time-major ``x`` (T, B, I) from ``h0`` (B, H): returns ``(y (T, B, H), h_n)``."""
    return RNNFunction(nonlinearity, reverse)(x, h0, weight_ih, weight_hh, *_bias_args(bias_ih, bias_hh))


def lstm(x, h0, c0, weight_ih, weight_hh, bias_ih=None, bias_hh=None, peephole=None,
         reverse: bool = False) -> tuple[Tensor, Tensor, Tensor]:
    """LSTM over time-major ``x`` (T, B, I): returns ``(y (T, B, H), h_n, c_n)``.

    ``peephole``: optional (3, H) weights (p_i, p_f, p_o) of peephole connections (not in PyTorch).
    """
    args = (x, h0, c0, weight_ih, weight_hh, *_bias_args(bias_ih, bias_hh))
    if peephole is not None:
        args += (peephole,)
    return LSTMFunction(bias_ih is not None, peephole is not None, reverse)(*args)


def gru(x, h0, weight_ih, weight_hh, bias_ih=None, bias_hh=None,
        reverse: bool = False) -> tuple[Tensor, Tensor]:
    """GRU over time-major ``x`` (T, B, I) from ``h0`` (B, H): returns ``(y (T, B, H), h_n)``."""
    return GRUFunction(reverse)(x, h0, weight_ih, weight_hh, *_bias_args(bias_ih, bias_hh))


# ---------------------------------------------------------------------------- reference cells


def _gate_projection(op, x, h, weight_ih, weight_hh, bias_ih, bias_hh) -> tuple[Tensor, Tensor]:
    per_sequence = bias_ih is not None and getattr(bias_ih, "ndim", 1) == 2  # (B, G*H): one row per sequence
    try:
        a, b = linear(x, weight_ih, None if per_sequence else bias_ih), linear(h, weight_hh, bias_hh)
        if per_sequence:
            a = a + bias_ih
    except (ValueError, TypeError) as err:  # name the cell the user called, then the linear inside it
        raise type(err)(f"{op}: {err}") from None
    if a.shape != b.shape:
        raise ValueError(f"{op}: input {tuple(x.shape)} and hidden state {tuple(h.shape)} give gate "
                         f"pre-activations of shapes {tuple(a.shape)} and {tuple(b.shape)}, which differ")
    return a, b


def rnn_cell(x, h, weight_ih, weight_hh, bias_ih=None, bias_hh=None, nonlinearity: str = "tanh") -> Tensor:
    """One step h' = act(x W_ih^T + b_ih + h W_hh^T + b_hh), composed of simple Functions."""
    a, b = _gate_projection("rnn_cell", x, h, weight_ih, weight_hh, bias_ih, bias_hh)
    if nonlinearity == "tanh":
        return activation.tanh(a + b)
    if nonlinearity == "relu":
        return activation.relu(a + b)
    raise ValueError(f"rnn_cell: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")


def lstm_cell(x, h, c, weight_ih, weight_hh, bias_ih=None, bias_hh=None,
              peephole=None) -> tuple[Tensor, Tensor]:
    """One LSTM step (i, f, g, o gates), composed of simple Functions: returns ``(h', c')``."""
    a, b = _gate_projection("lstm_cell", x, h, weight_ih, weight_hh, bias_ih, bias_hh)
    zi, zf, zg, zo = basic.split(a + b, 4, axis=-1)
    if peephole is not None:
        zi = zi + peephole[0] * c
        zf = zf + peephole[1] * c
    i, f, g = activation.sigmoid(zi), activation.sigmoid(zf), activation.tanh(zg)
    c_next = f * c + i * g
    if peephole is not None:
        zo = zo + peephole[2] * c_next
    h_next = activation.sigmoid(zo) * activation.tanh(c_next)
    return h_next, c_next


def gru_cell(x, h, weight_ih, weight_hh, bias_ih=None, bias_hh=None) -> Tensor:
    """One GRU step (r, z, n gates, b_hn inside the reset product), composed of simple Functions."""
    a, b = _gate_projection("gru_cell", x, h, weight_ih, weight_hh, bias_ih, bias_hh)
    ar, az, an = basic.split(a, 3, axis=-1)
    br, bz, bn = basic.split(b, 3, axis=-1)
    r, z = activation.sigmoid(ar + br), activation.sigmoid(az + bz)
    n = activation.tanh(an + r * bn)
    return (1 - z) * n + z * h


def _unroll(cell, x, states, reverse: bool):
    steps = range(x.shape[0] - 1, -1, -1) if reverse else range(x.shape[0])
    outputs: dict[int, Tensor] = {}
    for t in steps:
        states = cell(x[t], states)
        outputs[t] = states[0]
    return basic.stack([outputs[t] for t in range(x.shape[0])], axis=0), states


def rnn_reference(x, h0, weight_ih, weight_hh, bias_ih=None, bias_hh=None, nonlinearity: str = "tanh",
                  reverse: bool = False) -> tuple[Tensor, Tensor]:
    """:func:`rnn` step by step with :func:`rnn_cell` (slow; the tests' reference)."""
    def step(xt, s):
        return (rnn_cell(xt, s[0], weight_ih, weight_hh, bias_ih, bias_hh, nonlinearity),)

    y, (h,) = _unroll(step, x, (h0,), reverse)
    return y, h


def lstm_reference(x, h0, c0, weight_ih, weight_hh, bias_ih=None, bias_hh=None, peephole=None,
                   reverse: bool = False) -> tuple[Tensor, Tensor, Tensor]:
    """:func:`lstm` step by step with :func:`lstm_cell` (slow; the tests' reference)."""
    def step(xt, s):
        return lstm_cell(xt, s[0], s[1], weight_ih, weight_hh, bias_ih, bias_hh, peephole)

    y, (h, c) = _unroll(step, x, (h0, c0), reverse)
    return y, h, c


def gru_reference(x, h0, weight_ih, weight_hh, bias_ih=None, bias_hh=None,
                  reverse: bool = False) -> tuple[Tensor, Tensor]:
    """:func:`gru` step by step with :func:`gru_cell` (slow; the tests' reference)."""
    def step(xt, s):
        return (gru_cell(xt, s[0], weight_ih, weight_hh, bias_ih, bias_hh),)

    y, (h,) = _unroll(step, x, (h0,), reverse)
    return y, h


__all__ = [
    "RNNFunction", "LSTMFunction", "GRUFunction", "rnn", "lstm", "gru", "rnn_cell", "lstm_cell", "gru_cell",
    "rnn_reference", "lstm_reference", "gru_reference",
]
