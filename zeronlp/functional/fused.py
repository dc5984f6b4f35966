"""Fused output layer + loss: ``linear`` followed by ``softmax_cross_entropy`` as one Function.

A language model's or a classifier's last two steps, ``logits = h W^T + b`` over a large vocabulary and
the cross-entropy of the integer targets, are the largest arrays of the model: (N, V) logits, read
and written by every pass of the softmax and again by its gradient. :func:`linear_cross_entropy`
computes the same value as ``softmax_cross_entropy(linear(h, W, b), t)`` but

* runs the softmax in blocks of rows small enough to stay in the CPU's cache (max, shift, exp, sum,
  normalize and subtract the one-hot target while the block is hot: one trip through memory where
  the composition makes about six);
* stores ``softmax(z) - onehot(t)`` in place of the logits during forward, so backward is only the
  three GEMMs, with the per-row loss weights applied to the (N, H) side instead of the (N, V) one;
* under ``no_grad`` keeps only one panel of logits (at most ``_GEMM_ROWS`` rows), and no gradient;
* reuses its logits buffer from one call to the next instead of allocating (and page-faulting) it.

Any model gets it: ``F.linear_cross_entropy(h, linear.weight, linear.bias, targets)`` in place of
``F.softmax_cross_entropy(linear(h), targets)``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import backend
from ..autograd import Function, Tensor, is_grad_enabled
from . import cuda_kernels, vector_math
from .basic import promote, require_float
from .layers import linear
from .loss import softmax_cross_entropy

_REDUCTIONS = ("mean", "sum", "none")
# bytes of logits per softmax block: a core's L2 (512 KiB on Zen 3, 1-2 MiB on recent Intel); measured
# on the (700, 10000) LSTM-LM heads (2-core Zen 3): 256 KiB-1 MiB blocks alike, 64 KiB ones 10-20%
# slower (more NumPy calls)
_BLOCK_BYTES = 512 * 1024
# rows per GEMM: enough for BLAS to run near its peak (a GEMM of a few rows runs at a fraction of it,
# and each call synchronizes BLAS's threads); a 35 x 20 LM window is one GEMM
_GEMM_ROWS = 1024
# (rows, vocab, dtype, array module) -> spare (rows, vocab) buffers from earlier training steps
_POOL: dict[tuple[Any, ...], list[Any]] = {}


def _block_rows(vocab: int, itemsize: int, xp: Any) -> tuple[int, int]:
    """(rows per GEMM, rows per softmax block) on this array module."""
    if xp is not np:  # a GPU runs the whole array at once
        return 1 << 62, 1 << 62
    return _GEMM_ROWS, max(1, _BLOCK_BYTES // max(1, vocab * itemsize))


def _give_back(key: tuple[Any, ...], buffer: Any) -> None:
    """Keep a logits buffer for the next call of the same shape (at most two per shape)."""
    pool = _POOL.setdefault(key, [])
    if len(pool) < 2:
        pool.append(buffer)


def _compiled_rows(kernel: Any, h: Any, w_t: Any, bias: Any, targets: Any, losses: Any, z: Any, keep: bool) -> None:
    """Forward on NumPy float32 arrays: per panel of rows, the logits in one GEMM (BLAS's threads), then
    the compiled softmax cross-entropy over the panel's rows in zeronlp's threads. ``z`` is the (N, V)
    array that keeps D for backward (``keep``), or one panel's buffer (no grad)."""
    has_bias = bias is not None
    bias = bias if has_bias else h[0, :0]
    targets = np.ascontiguousarray(targets, dtype=np.intp)
    n = h.shape[0]
    panel = max(1, min(_GEMM_ROWS, n))
    for p0 in range(0, n, panel):
        p1 = min(p0 + panel, n)
        zp = z[p0:p1] if keep else z[:p1 - p0]
        np.matmul(h[p0:p1], w_t, out=zp)
        t, loss = targets[p0:p1], losses[p0:p1]
        vector_math.parallel_rows(
            p1 - p0, lambda r0, r1, zp=zp, t=t, loss=loss: kernel(zp, bias, has_bias, t, loss, keep, r0, r1)
        )


def _numpy_rows(h: Any, w_t: Any, bias: Any, targets: Any, losses: Any, z: Any, keep: bool, panel: int,
                block: int) -> None:
    """The same forward in array operations (NumPy or CuPy; float64; without numba): per panel of rows
    one GEMM, then the softmax in blocks of rows that stay in cache."""
    xp = backend.get_array_module(h)
    n = h.shape[0]
    for p0 in range(0, n, panel):
        p1 = min(p0 + panel, n)
        zp = z[p0:p1] if keep else z[:p1 - p0]
        xp.matmul(h[p0:p1], w_t, out=zp)
        for b0 in range(0, p1 - p0, block):
            b1 = min(b0 + block, p1 - p0)
            zb = zp[b0:b1]
            rows = xp.arange(b1 - b0)
            tb = targets[p0 + b0:p0 + b1]
            if bias is not None:
                zb += bias
            m = zb.max(axis=1)
            zb -= m[:, None]
            z_t = zb[rows, tb]
            xp.exp(zb, out=zb)
            s = zb.sum(axis=1)
            lb = losses[p0 + b0:p0 + b1]
            xp.log(s, out=lb)
            lb -= z_t
            if keep:
                xp.reciprocal(s, out=s)
                zb *= s[:, None]
                zb[rows, tb] -= 1


class LinearCrossEntropy(Function):
    """L = sum_n w_n [log sum_v exp(z_nv) - z_{n,t_n}] with z = h W^T + b, w_n = 1/N_valid (mean),
    1 (sum), or the per-row loss (``none``); rows whose target is ``ignore_index`` get w_n = 0.

    Let p_n = softmax(z_n) and e_t the one-hot vector of t. Then dL/dz_n = w_n (p_n - e_{t_n}), and
    with D = P - E (the (N, V) matrix of those rows, no weights) and w the row weights times gy:

        dh = diag(w) (D W),   dW = D^T (diag(w) h),   db = w^T D.

    The row weights are applied to the small (N, H) factors, so D (computed in forward, in the
    buffer that held the logits) is never scaled. Forward, block by block of rows b:
    ``z_b = h_b W^T + b``, ``m = max z_b``, ``e = exp(z_b - m)``, ``s = sum e``,
    ``loss_n = log s_n - (z_{n,t_n} - m_n)``, then (when a gradient may be asked) ``D_b = e / s - E_b``.
    Equal to ``softmax_cross_entropy(linear(h, W, b), t)`` up to float rounding.
    """

    fresh_grads = True  # backward's arrays are new and kept nowhere: leaves take them without a copy

    def __init__(self, targets: Any, ignore_index: int = -100, reduction: str = "mean"):
        if reduction not in _REDUCTIONS:
            raise ValueError(f"reduction must be one of {_REDUCTIONS}, got {reduction!r}")
        self.targets, self.ignore_index, self.reduction = targets, ignore_index, reduction

    def forward(self, h, weight, bias=None):
        xp = backend.get_array_module(h)
        require_float("linear_cross_entropy", h)
        if weight.ndim != 2 or (bias is not None and tuple(bias.shape) != (weight.shape[0],)):
            raise ValueError(
                f"linear_cross_entropy: weight must be (num_classes, in_features) and bias (num_classes,), "
                f"got shapes {tuple(weight.shape)} and {None if bias is None else tuple(bias.shape)}"
            )
        if h.ndim == 0 or h.shape[-1] != weight.shape[1]:
            raise ValueError(f"linear_cross_entropy: input of shape {tuple(h.shape)} does not match weight of shape "
                             f"{tuple(weight.shape)} (expected last dimension {weight.shape[1]})")
        if h.dtype != weight.dtype:
            h, weight = promote(h, weight)
        t = self.targets
        if tuple(t.shape) != tuple(h.shape[:-1]):
            raise ValueError(f"linear_cross_entropy: input of shape {tuple(h.shape)} needs targets of shape "
                             f"{tuple(h.shape[:-1])}, got {tuple(t.shape)}")
        n, vocab, dtype = math.prod(h.shape[:-1]), weight.shape[0], h.dtype
        h2 = h.reshape(n, h.shape[-1])
        flat_t = t.reshape(-1)
        fused = cuda_kernels.get("softmax_xent", h2, weight, *(() if bias is None else (bias,)))
        if fused is not None:  # CuPy: one GEMM, the bias, one launch for the loss and D (in place)
            return self._fused(fused, h, h2, weight, bias, flat_t, t.shape, vocab)
        valid = flat_t != self.ignore_index
        safe_t = xp.where(valid, flat_t, 0)
        if n and (int(safe_t.min()) < 0 or int(safe_t.max()) >= vocab):
            bad = flat_t[valid & ((flat_t < 0) | (flat_t >= vocab))]
            raise ValueError(f"linear_cross_entropy: target {int(bad[0])} is out of range for {vocab} classes "
                             f"(valid ids are 0..{vocab - 1}, or ignore_index={self.ignore_index})")
        keep = is_grad_enabled()
        panel, block = _block_rows(vocab, dtype.itemsize, xp)
        panel = min(panel, max(n, 1))
        # the whole (N, V) array holds D for backward; without grad one panel of logits will do
        key = (n if keep else panel, vocab, dtype.str, xp.__name__)
        try:
            z = _POOL[key].pop()
        except (KeyError, IndexError):
            z = xp.empty(key[:2], dtype=dtype)
        w_t = weight.T
        losses = xp.empty(n, dtype=dtype)
        compiled = vector_math.kernels(h2, weight, *(() if bias is None else (bias,)))
        if compiled is not None:  # the same math, one compiled pass per row, rows over threads
            _compiled_rows(compiled["softmax_xent_rows"], h2, w_t, bias, safe_t, losses, z, keep)
        else:
            _numpy_rows(h2, w_t, bias, safe_t, losses, z, keep, panel, block)
        losses *= valid
        self.valid, self.shape = valid, t.shape
        self.count = int(valid.sum())  # 0 when every target is ignored: the mean is nan (PyTorch)
        if keep:
            self.d, self.h, self.weight, self.key, self.has_bias = z, h2, weight, key, bias is not None
            self.in_shape = h.shape
        else:
            _give_back(key, z)
        if self.reduction == "mean":
            if not self.count:
                return xp.asarray(np.nan, dtype=dtype)
            return xp.asarray(losses.sum() / dtype.type(self.count)).astype(dtype)
        if self.reduction == "sum":
            return losses.sum().astype(dtype)
        return losses.reshape(t.shape)

    def _fused(self, kernel: Any, h: Any, h2: Any, weight: Any, bias: Any, flat_t: Any, shape: tuple,
               vocab: int) -> Any:
        """The forward on CuPy arrays: z = h W^T (+ b), then :func:`cuda_kernels.softmax_xent_rows` turns z
        into D in place and gives the losses, the valid flags and the count (checking the targets)."""
        xp = backend.get_array_module(h2)
        dtype, keep = h2.dtype, is_grad_enabled()
        z = xp.dot(h2, weight.T)
        if bias is not None:
            z += bias
        losses, valid, _, count, bad = cuda_kernels.softmax_xent_rows(kernel, z, flat_t, self.ignore_index,
                                                                      keep, out=z)
        if bad is not None:
            raise ValueError(f"linear_cross_entropy: target {bad} is out of range for {vocab} classes "
                             f"(valid ids are 0..{vocab - 1}, or ignore_index={self.ignore_index})")
        self.valid, self.shape, self.count = valid, shape, count
        if keep:
            self.d, self.h, self.weight, self.key, self.has_bias = z, h2, weight, None, bias is not None
            self.in_shape = h.shape
        if self.reduction == "mean":
            return xp.asarray(losses.sum() / dtype.type(count)).astype(dtype) if count else \
                xp.asarray(np.nan, dtype=dtype)
        if self.reduction == "sum":
            return losses.sum().astype(dtype)
        return losses.reshape(shape)

    def backward(self, gy):
        d, h, weight = self.d, self.h, self.weight
        dtype = d.dtype
        w = self.valid.astype(dtype)
        if self.reduction == "mean":
            w *= gy / dtype.type(self.count) if self.count else 0
        elif self.reduction == "sum":
            w *= gy
        else:
            w *= gy.reshape(-1)
        need = self.needs_input_grad or (True, True, True)

        def input_grad() -> Any:
            dh = d @ weight
            dh *= w[:, None]
            return dh.reshape(self.in_shape)

        def weight_grad() -> Any:
            return (d.T @ (h * w[:, None])).astype(dtype, copy=False)

        if need[0] and need[1] and backend.get_array_module(d) is np:
            macs = d.size * h.shape[1]
            dh, dw = vector_math.side_by_side(input_grad, weight_grad, (macs, macs))
        else:
            dh = input_grad() if need[0] else None
            dw = weight_grad() if need[1] else None
        if not self.has_bias:
            return dh, dw
        db = (w @ d) if need[2] else None
        return dh, dw, db

    def decompose(self, h, weight, bias=None):
        """The composition it equals (for create_graph): softmax_cross_entropy(linear(h, W, b), t)."""
        return softmax_cross_entropy(linear(h, weight, bias), self.targets, ignore_index=self.ignore_index,
                                     reduction=self.reduction)

    def release(self) -> None:
        d = self.__dict__.get("d")
        if d is not None and self.key is not None:  # the fused CuPy forward's z is CuPy's pool's
            _give_back(self.key, d)
        super().release()


def linear_cross_entropy(h, weight, bias, targets: Any, reduction: str = "mean", ignore_index: int = -100) -> Tensor:
    """Cross-entropy of integer ``targets`` (...) under softmax(h W^T + b), for ``h`` of shape (..., in),
    ``weight`` (num_classes, in), ``bias`` (num_classes,) or None.

    The same value and gradients as ``softmax_cross_entropy(linear(h, weight, bias), targets,
    ignore_index=..., reduction=...)`` (PyTorch: ``cross_entropy(linear(h, W, b), t)``), fused and in
    cache-sized blocks of rows: see :class:`LinearCrossEntropy`. ``reduction`` is ``"mean"`` over the
    targets that are not ``ignore_index``, ``"sum"``, or ``"none"`` (a loss per target).
    """
    t = targets.data if isinstance(targets, Tensor) else targets
    xp = backend.get_array_module(h.data if isinstance(h, Tensor) else h)
    t = xp.asarray(t)
    if t.dtype.kind not in "iu":
        raise TypeError(f"linear_cross_entropy: targets must be integer class ids, got dtype {t.dtype}")
    fn = LinearCrossEntropy(t, ignore_index, reduction)
    return fn(h, weight) if bias is None else fn(h, weight, bias)


__all__ = ["LinearCrossEntropy", "linear_cross_entropy"]
