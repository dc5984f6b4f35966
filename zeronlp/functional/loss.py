"""Loss Functions: fused softmax cross-entropy, fused sigmoid cross-entropy, mean squared error."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import backend
from ..autograd import Function, Tensor, is_grad_enabled
from . import cuda_kernels, vector_math
from .activation import log_softmax_array, sigmoid, sigmoid_array, softmax
from .basic import mul, promote, require_float, reshape, sub

_REDUCTIONS = ("mean", "sum", "none")


def _check_reduction(reduction: str) -> None:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"reduction must be one of {_REDUCTIONS}, got {reduction!r}")


class SoftmaxCrossEntropy(Function):
    """L = -log softmax(x)[t], averaged over targets != ignore_index;  dx = (softmax(x) - onehot(t)) / N.

    Targets are integer class ids of any leading shape; the one-hot matrix is never built.
    """

    def __init__(self, targets: Any, ignore_index: int = -100, reduction: str = "mean"):
        self.targets, self.ignore_index, self.reduction = targets, ignore_index, reduction

    def forward(self, logits):
        xp = backend.get_array_module(logits)
        t = self.targets
        require_float("softmax_cross_entropy", logits)
        if logits.ndim < 1 or t.shape != logits.shape[:-1] or logits.shape[-1] == 0:
            raise ValueError(
                f"softmax_cross_entropy: logits of shape {tuple(logits.shape)} need targets of shape "
                f"{tuple(logits.shape[:-1])}, got {tuple(t.shape)}"
            )
        num_classes = logits.shape[-1]
        flat_x = logits.reshape(math.prod(logits.shape[:-1]), num_classes)
        flat_t = t.reshape(-1)
        self.shape, self.log_p, self.d = logits.shape, None, None
        fused = cuda_kernels.get("softmax_xent", flat_x)
        if fused is not None:  # CuPy: one launch per call, and one synchronisation (the targets' check)
            losses, self.valid, self.d, self.count, bad = cuda_kernels.softmax_xent_rows(
                fused, xp.ascontiguousarray(flat_x), flat_t, self.ignore_index, is_grad_enabled())
            self.safe_t = None  # made from the targets if backward_graph asks
            if bad is not None:
                self._out_of_range(bad, num_classes)
        else:
            valid = flat_t != self.ignore_index
            safe_t = xp.where(valid, flat_t, 0)
            if flat_t.size and (int(safe_t.min()) < 0 or int(safe_t.max()) >= num_classes):
                self._out_of_range(int(flat_t[valid & ((flat_t < 0) | (flat_t >= num_classes))][0]), num_classes)
            self.safe_t, self.valid = safe_t, valid
            compiled = vector_math.kernels(flat_x)
            if compiled is not None:  # one compiled pass per row (vector_math), rows over threads
                losses = self._compiled(compiled["softmax_xent_rows_into"], flat_x, safe_t) * valid
            else:
                log_p = log_softmax_array(flat_x.astype(np.float32) if flat_x.dtype == np.float16 else flat_x)
                losses = -log_p[xp.arange(flat_t.size), safe_t] * valid
                self.log_p = log_p
            self.count = int(valid.sum())  # 0 when every target is ignored: the mean is nan, as in PyTorch
        if self.reduction == "mean":
            if not self.count:
                return xp.asarray(np.nan, dtype=logits.dtype)
            return xp.asarray(losses.sum() / losses.dtype.type(self.count)).astype(logits.dtype)
        if self.reduction == "sum":
            return losses.sum().astype(logits.dtype)
        return losses.reshape(t.shape).astype(logits.dtype)

    def _out_of_range(self, target: int, num_classes: int) -> None:
        raise ValueError(
            f"softmax_cross_entropy: target {target} is out of range for {num_classes} classes "
            f"(valid ids are 0..{num_classes - 1}, or ignore_index={self.ignore_index})"
        )

    def _compiled(self, kernel, flat_x, safe_t):
        """Losses of every row; with grad enabled, D = softmax(x) - onehot(t) kept for backward."""
        flat_x = np.ascontiguousarray(flat_x)
        targets = np.ascontiguousarray(safe_t, dtype=np.intp)
        losses = np.empty(flat_x.shape[0], dtype=flat_x.dtype)
        keep = is_grad_enabled()
        d = np.empty_like(flat_x) if keep else flat_x  # nothing is written without grad
        vector_math.parallel_rows(flat_x.shape[0], lambda r0, r1: kernel(flat_x, d, targets, losses, keep, r0, r1))
        if keep:
            self.d = d
        return losses

    def backward(self, gy):
        if self.d is not None:  # the compiled forward kept D: one pass to weight it
            gx = self.d * self._row_weights(gy)[:, None]
            return gx.reshape(self.shape).astype(gy.dtype, copy=False)
        xp = backend.get_array_module(self.log_p)
        gx = xp.exp(self.log_p)
        rows = xp.arange(self.safe_t.size)
        gx[rows, self.safe_t] -= 1
        gx *= self._row_weights(gy)[:, None]
        return gx.reshape(self.shape).astype(gy.dtype, copy=False)

    def _row_weights(self, gy):
        weight = self.valid.astype(self.log_p.dtype if self.d is None else self.d.dtype)
        if self.reduction == "mean":  # every target ignored: loss nan, gradient 0 (PyTorch)
            weight *= gy / gy.dtype.type(self.count) if self.count else 0
        elif self.reduction == "sum":
            weight *= gy
        else:
            weight *= gy.reshape(-1)
        return weight

    def backward_graph(self, gy):
        """dx = (softmax(x) - onehot(t)) * w with w the row weights (valid / N times gy), as Functions."""
        xp = backend.get_array_module(self.valid)
        (x,) = self.inputs
        num_classes = self.shape[-1]
        if self.safe_t is None:  # the fused forward keeps the targets and valid flags only
            self.safe_t = xp.where(self.valid != 0, self.targets.reshape(-1), 0)
        onehot = xp.zeros((self.safe_t.size, num_classes), dtype=x.dtype)
        onehot[xp.arange(self.safe_t.size), self.safe_t] = 1
        valid = self.valid.astype(x.dtype)
        if self.reduction == "mean":
            weight = mul(reshape(gy, (1,)), valid / x.dtype.type(self.count) if self.count else valid)
        elif self.reduction == "sum":
            weight = mul(reshape(gy, (1,)), valid)
        else:
            weight = mul(reshape(gy, (-1,)), valid)
        p = softmax(reshape(x, (-1, num_classes)))
        return reshape(mul(sub(p, onehot), reshape(weight, (-1, 1))), self.shape)


class SigmoidCrossEntropy(Function):
    """L = -[t log s(x) + (1-t) log(1 - s(x))] with s the sigmoid;  dx = (s(x) - t) / N."""

    def __init__(self, targets: Any, reduction: str = "mean"):
        self.targets, self.reduction = targets, reduction

    def forward(self, x):
        xp = backend.get_array_module(x)
        require_float("sigmoid_cross_entropy", x)
        t = self.targets.astype(x.dtype)
        if t.shape != x.shape:
            raise ValueError(
                f"sigmoid_cross_entropy: logits {tuple(x.shape)} and targets {tuple(t.shape)} differ in shape"
            )
        # log(1 + e^-|x|) + max(x, 0) - x t  is the stable form of the loss
        losses = xp.logaddexp(0, -xp.abs(x)) + xp.maximum(x, 0) - x * t
        self.x, self.t = x, t
        if self.reduction == "mean":
            return losses.mean().astype(x.dtype)
        if self.reduction == "sum":
            return losses.sum().astype(x.dtype)
        return losses.astype(x.dtype)

    def backward(self, gy):
        gx = sigmoid_array(self.x) - self.t
        if self.reduction == "mean":
            return gx * (gy / gy.dtype.type(max(self.x.size, 1)))
        return gx * gy

    def backward_graph(self, gy):
        gx = sub(sigmoid(self.inputs[0]), self.t)
        if self.reduction == "mean":
            return mul(gx, gy / max(self.x.size, 1))
        return mul(gx, gy)


class MSE(Function):
    """L = mean((x - t)^2);  dx = 2 (x - t) / N, dt = -dx."""

    def __init__(self, reduction: str = "mean"):
        self.reduction = reduction

    def forward(self, x, t):
        if x.shape != t.shape:
            raise ValueError(f"mse: input {tuple(x.shape)} and target {tuple(t.shape)} differ in shape")
        x, t = promote(x, t)
        require_float("mse", x)
        self.diff = x - t
        sq = self.diff * self.diff
        if self.reduction == "mean":
            return sq.mean().astype(x.dtype)
        if self.reduction == "sum":
            return sq.sum().astype(x.dtype)
        return sq

    def backward(self, gy):
        scale = 2 / max(self.diff.size, 1) if self.reduction == "mean" else 2
        gx = self.diff * (gy * gy.dtype.type(scale))
        return gx, -gx

    def backward_graph(self, gy):
        x, t = self.inputs
        scale = 2 / max(self.diff.size, 1) if self.reduction == "mean" else 2
        gx = mul(sub(x, t), mul(gy, scale))
        return gx, mul(gx, -1.0)


def _targets_array(targets: Any) -> Any:
    if isinstance(targets, Tensor):
        targets = targets.data
    xp = backend.xp()
    array = targets if backend.get_array_module(targets) is xp and hasattr(targets, "dtype") else xp.asarray(targets)
    return array


def softmax_cross_entropy(logits, targets, ignore_index: int = -100, reduction: str = "mean") -> Tensor:
    """Cross-entropy of integer ``targets`` under ``softmax(logits)`` (logits ``(..., C)``)."""
    _check_reduction(reduction)
    t = _targets_array(targets)
    if t.dtype.kind not in "iu":
        if t.dtype.kind == "f" and np.all(backend.to_numpy(t) == np.round(backend.to_numpy(t))):
            t = t.astype(np.int64)
        else:
            raise TypeError(f"softmax_cross_entropy: targets must be integer class ids, got dtype {t.dtype}")
    return SoftmaxCrossEntropy(t, ignore_index, reduction)(logits)


cross_entropy = softmax_cross_entropy


def sigmoid_cross_entropy(logits, targets, reduction: str = "mean") -> Tensor:
    """Binary cross-entropy of 0/1 ``targets`` under ``sigmoid(logits)``, computed stably."""
    _check_reduction(reduction)
    return SigmoidCrossEntropy(_targets_array(targets), reduction)(logits)


binary_cross_entropy_with_logits = sigmoid_cross_entropy


def mse(x, t, reduction: str = "mean") -> Tensor:
    """Mean squared error between ``x`` and ``t``."""
    _check_reduction(reduction)
    return MSE(reduction)(x, t)


mse_loss = mse
