"""Fused CUDA kernels for the CuPy backend: one launch where the NumPy form makes many.

On a GPU, a small array operation costs its launch (5-20 microseconds of Python and driver time),
not its arithmetic: an LSTM step written as NumPy ufuncs is a dozen launches around one GEMM, Adam's
update of one parameter a dozen more, and a softmax cross-entropy twenty. Each kernel here does one
of those jobs in a single ``cupy.ElementwiseKernel`` or ``cupy.RawKernel`` launch, computing the same
formulas as the NumPy form it replaces (which stays the reference: ``tests/gpu`` checks every kernel
against it). The kernels are compiled on first use; :func:`get` returns None unless every array
given is a CuPy array of float32 or float64, so NumPy code never reaches this module's CuPy import.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import backend

# False: the CuPy arrays take the NumPy-form path (tests flip it to compare the two)
USE_FUSED = True
_KERNELS: dict[str, Any] = {}
_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))

# LSTM forward step t, element (b, j) of (B, H), on the whole (T, B, 4H) / (T + 1, B, H) buffers (the
# step's rows found from t here, so that no slices are made per step): the pre-activations
# gates[t, b, g H + j] plus the recurrent product rec[b, g H + j] -> activations in place; sigmoid as
# 0.5 tanh(0.5 z) + 0.5 (the NumPy form's formula); tanh(c) goes to row tc_row of tanh_c
#   i, f, o = sigmoid(z_i, z_f, z_o);  g = tanh(z_g);  c_t = f c_{t-1} + i g;  h_t = o tanh(c_t)
_LSTM_FORWARD = """
const long long b = i / H, j = i % H, k = b * 4 * H + j, a0 = t * B * 4 * H + k;
const long long now = t * B * H + i, next = now + B * H;
const T half = 0.5;
T zi = a[a0] + rec[k], zf = a[a0 + H] + rec[k + H], zg = a[a0 + 2 * H] + rec[k + 2 * H];
T zo = a[a0 + 3 * H] + rec[k + 3 * H];
T si = tanh(zi * half) * half + half, sf = tanh(zf * half) * half + half;
T sg = tanh(zg), so = tanh(zo * half) * half + half;
a[a0] = si; a[a0 + H] = sf; a[a0 + 2 * H] = sg; a[a0 + 3 * H] = so;
T c = sf * cs[now] + si * sg;
T tc = tanh(c);
cs[next] = c;
tanh_c[tc_row * B * H + i] = tc;
hs[next] = so * tc;
"""

# LSTM backward step t, element (b, j), on the whole kept buffers as the forward: with dh = dh_t
# (+ dy_t) and the activations,
#   dc' = dc + dh o (1 - tanh(c)^2);  dz_o = dh tanh(c) o (1 - o);  dz_i = dc' g i (1 - i);
#   dz_f = dc' c_{t-1} f (1 - f);  dz_g = dc' i (1 - g^2);  dc_{t-1} = dc' f
_LSTM_BACKWARD = """
const long long b = i / H, j = i % H, a0 = t * B * 4 * H + b * 4 * H + j, now = t * B * H + i;
const T one = 1;
T d_h = has_gy ? dh[i] + gy[now] : dh[i];
T si = a[a0], sf = a[a0 + H], sg = a[a0 + 2 * H], so = a[a0 + 3 * H];
T tc = tanh_c[now];
T d_c = dc[i] + d_h * (so * (one - tc * tc));
dz[a0 + 3 * H] = ((one - so) * so * tc) * d_h;
dz[a0] = ((one - si) * si * sg) * d_c;
dz[a0 + H] = ((one - sf) * sf * cs[now]) * d_c;
dz[a0 + 2 * H] = ((one - sg * sg) * si) * d_c;
dc[i] = d_c * sf;
"""

# GRU forward step t, element (b, j) (PyTorch's gate order r, z, n), on the whole buffers: gi (T, B, 3H)
# input projections, gh (B, 3H) = h_{t-1} W_hh^T of this step, bh the recurrent bias (if has_bias):
#   r = sigmoid(gi_r + gh_r + bh_r);  z = sigmoid(gi_z + gh_z + bh_z);  hn = gh_n + bh_n;
#   n = tanh(r hn + gi_n);  h_t = (h_{t-1} - n) z + n;  acts[t] <- (r, z, n), hn_part[t] <- hn
_GRU_FORWARD = """
const long long b = i / H, j = i % H, k = b * 3 * H + j, g0 = t * B * 3 * H + k, now = t * B * H + i;
const T half = 0.5;
T hr = gh[k], hz = gh[k + H], hn = gh[k + 2 * H];
if (has_bias) { hr += bh[j]; hz += bh[j + H]; hn += bh[j + 2 * H]; }
T r = tanh((gi[g0] + hr) * half) * half + half;
T z = tanh((gi[g0 + H] + hz) * half) * half + half;
T n = tanh(r * hn + gi[g0 + 2 * H]);
acts[g0] = r; acts[g0 + H] = z; acts[g0 + 2 * H] = n;
hn_part[now] = hn;
hs[now + B * H] = (hs[now] - n) * z + n;
"""

# GRU backward step t, element (b, j): with dh = dh_t (+ the last step's dZ W_hh in back) (+ dy_t),
#   dn = dh (1 - z)(1 - n^2);  dz = dh (h_{t-1} - n) z (1 - z);  dr = dn hn r (1 - r);
#   d_in[t] <- (dr, dz, dn);  d_rec[t] <- (dr, dz, dn r);  dh <- dh z (d_rec[t] W_hh is added next step)
_GRU_BACKWARD = """
const long long b = i / H, j = i % H, g0 = t * B * 3 * H + b * 3 * H + j, now = t * B * H + i;
const T one = 1;
T d_h = dh[i];
if (has_back) d_h += back[i];
if (has_gy) d_h += gy[now];
T r = acts[g0], z = acts[g0 + H], n = acts[g0 + 2 * H];
T dn = d_h * ((one - z) * (one - n * n));
T dz = d_h * ((hs[now] - n) * z * (one - z));
T dr = dn * (hn_part[now] * r * (one - r));
d_in[g0] = dr; d_in[g0 + H] = dz; d_in[g0 + 2 * H] = dn;
d_rec[g0] = dr; d_rec[g0 + H] = dz; d_rec[g0 + 2 * H] = dn * r;
dh[i] = d_h * z;
"""

# Adam, element-wise (PyTorch's rule; s = lr / (1 - b1^t), c2 = sqrt(1 - b2^t)):
#   m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;  p -= s m / (sqrt(v) / c2 + eps)
_ADAM = """
T mi = m * beta1 + g * one_minus_beta1;
T vi = v * beta2 + (g * g) * one_minus_beta2;
m = mi;
v = vi;
p -= (mi * step_size) / (sqrt(vi) / bias2 + eps);
"""

# softmax cross-entropy, one block of 256 threads per row r of x (R, C), target t_r:
#   loss_r = log sum_c exp(x_rc - max_r) + max_r - x_{r t_r};  D_r = softmax(x_r) - onehot(t_r)
# A row whose target is ignore_index has loss 0, D_r = 0 and valid_r = 0 (else 1); stats[0] counts the
# valid rows, stats[1] is 1 when a target is out of range and stats[2] one such target, so that the
# host checks the targets and learns the count from one small copy. D is written when keep is set.
_SOFTMAX_XENT = r"""
template <typename T>
__device__ void softmax_xent_row(const T* x, const long long* t, T* d, T* loss, T* valid,
                                 long long* stats, const int keep, const long long C,
                                 const long long ignore) {
    __shared__ T shared[256];
    const long long r = blockIdx.x;
    const T* row = x + r * C;
    T* out = d + r * C;
    const long long target = t[r];
    if (target == ignore || target < 0 || target >= C) {
        if (threadIdx.x == 0) {
            loss[r] = 0;
            valid[r] = 0;
            if (target != ignore) {
                atomicExch((unsigned long long*)&stats[2], (unsigned long long)target);
                atomicExch((unsigned long long*)&stats[1], 1ULL);
            }
        }
        if (keep)
            for (long long c = threadIdx.x; c < C; c += blockDim.x) out[c] = 0;
        return;
    }
    T m = row[0];
    for (long long c = threadIdx.x; c < C; c += blockDim.x) m = max(m, row[c]);
    shared[threadIdx.x] = m;
    __syncthreads();
    for (int s = blockDim.x / 2; s > 0; s >>= 1) {
        if (threadIdx.x < s) shared[threadIdx.x] = max(shared[threadIdx.x], shared[threadIdx.x + s]);
        __syncthreads();
    }
    m = shared[0];
    __syncthreads();
    T total = 0;
    for (long long c = threadIdx.x; c < C; c += blockDim.x) total += exp(row[c] - m);
    shared[threadIdx.x] = total;
    __syncthreads();
    for (int s = blockDim.x / 2; s > 0; s >>= 1) {
        if (threadIdx.x < s) shared[threadIdx.x] += shared[threadIdx.x + s];
        __syncthreads();
    }
    total = shared[0];
    if (threadIdx.x == 0) {
        loss[r] = log(total) + m - row[target];
        valid[r] = 1;
        atomicAdd((unsigned long long*)&stats[0], 1ULL);
    }
    __syncthreads();  // thread 0 has read x[r, t_r]: D may now overwrite x (in place)
    if (keep) {
        const T inv = T(1) / total;
        for (long long c = threadIdx.x; c < C; c += blockDim.x)
            out[c] = exp(row[c] - m) * inv - (c == target ? T(1) : T(0));
    }
}

extern "C" __global__ void softmax_xent_rows_f32(const float* x, const long long* t, float* d, float* loss,
                                                 float* valid, long long* stats, const int keep,
                                                 const long long C, const long long ignore) {
    softmax_xent_row<float>(x, t, d, loss, valid, stats, keep, C, ignore);
}

extern "C" __global__ void softmax_xent_rows_f64(const double* x, const long long* t, double* d,
                                                 double* loss, double* valid, long long* stats,
                                                 const int keep, const long long C, const long long ignore) {
    softmax_xent_row<double>(x, t, d, loss, valid, stats, keep, C, ignore);
}
"""
SOFTMAX_BLOCK = 256


def _build(name: str) -> Any:
    import cupy

    if name == "lstm_forward":
        return cupy.ElementwiseKernel("raw T rec, int64 t, int64 tc_row, int64 B, int64 H",
                                      "raw T a, raw T cs, raw T tanh_c, raw T hs", _LSTM_FORWARD,
                                      "zeronlp_lstm_forward")
    if name == "lstm_backward":
        return cupy.ElementwiseKernel(
            "raw T a, raw T cs, raw T tanh_c, raw T gy, raw T dh, bool has_gy, int64 t, int64 B, int64 H",
            "raw T dz, raw T dc", _LSTM_BACKWARD, "zeronlp_lstm_backward")
    if name == "gru_forward":
        return cupy.ElementwiseKernel("raw T gi, raw T gh, raw T bh, bool has_bias, int64 t, int64 B, int64 H",
                                      "raw T acts, raw T hn_part, raw T hs", _GRU_FORWARD, "zeronlp_gru_forward")
    if name == "gru_backward":
        return cupy.ElementwiseKernel(
            "raw T acts, raw T hn_part, raw T hs, raw T gy, raw T back, bool has_gy, bool has_back, int64 t, "
            "int64 B, int64 H", "raw T d_in, raw T d_rec, raw T dh", _GRU_BACKWARD, "zeronlp_gru_backward")
    if name == "adam":
        return cupy.ElementwiseKernel(
            "T g, T beta1, T one_minus_beta1, T beta2, T one_minus_beta2, T bias2, T eps, T step_size",
            "T p, T m, T v", _ADAM, "zeronlp_adam")
    if name == "softmax_xent":
        module = cupy.RawModule(code=_SOFTMAX_XENT)
        return {"float32": module.get_function("softmax_xent_rows_f32"),
                "float64": module.get_function("softmax_xent_rows_f64")}
    raise KeyError(name)


def get(name: str, *arrays: Any) -> Any:
    """The fused kernel ``name`` (``lstm_forward``, ``lstm_backward``, ``gru_forward``, ``gru_backward``,
    ``adam``, ``softmax_xent``) when
    :data:`USE_FUSED` is on and every array is a CuPy float32/float64 array of one dtype, else None.
    (Called once per parameter and step: plain type and dtype comparisons, no dtype names.)"""
    if not USE_FUSED or not arrays:
        return None
    dtype = getattr(arrays[0], "dtype", None)
    if dtype not in _FLOATS:
        return None
    for a in arrays:
        if not type(a).__module__.startswith("cupy") or a.dtype != dtype:
            return None
    kernel = _KERNELS.get(name)
    if kernel is None:
        kernel = _KERNELS[name] = _build(name)
    return kernel


def softmax_xent_rows(kernel: dict[str, Any], x: Any, targets: Any, ignore_index: int, keep: bool,
                      out: Any = None) -> tuple[Any, Any, Any, int, int | None]:
    """One launch of ``kernel`` over the C-contiguous (R, C) ``x`` and its (R,) integer ``targets``.

    Returns the rows' losses (0 where the target is ``ignore_index``), their valid flags (1 or 0, in
    x's dtype), ``softmax(x) - onehot(t)`` with zero ignored rows when ``keep`` (else None; written
    into ``out`` when given, which may be ``x`` itself), the number of valid rows, and an out-of-range
    target if there is one (else None): the two numbers come back in one device-to-host copy, the
    only synchronisation."""
    xp = backend.get_array_module(x)
    rows, classes = x.shape
    t = xp.ascontiguousarray(targets, dtype=xp.int64)
    losses = xp.empty(rows, dtype=x.dtype)
    valid = xp.empty(rows, dtype=x.dtype)
    d = (xp.empty_like(x) if out is None else out) if keep else None
    stats = xp.zeros(3, dtype=xp.int64)
    if rows:
        kernel[x.dtype.name]((rows,), (SOFTMAX_BLOCK,), (x, t, d if keep else losses, losses, valid, stats,
                                                         np.int32(keep), np.int64(classes), np.int64(ignore_index)))
    count, flag, bad = (int(v) for v in stats.get())
    return losses, valid, d, count, (bad if flag else None)
