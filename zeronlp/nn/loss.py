"""Loss modules named and shaped as in ``torch.nn``: CrossEntropyLoss, MSELoss, BCEWithLogitsLoss."""

from __future__ import annotations

from typing import Any

from .. import backend
from .. import functional as F
from ..autograd import Tensor, array_of, as_tensor
from ..errors import UsageError
from .module import Module

_REDUCTIONS = ("mean", "sum", "none")


def _check_reduction(name: str, reduction: str) -> str:
    if reduction not in _REDUCTIONS:
        raise UsageError(f"{name}: reduction must be one of {_REDUCTIONS}, got {reduction!r}")
    return reduction


class CrossEntropyLoss(Module):
    """Softmax cross-entropy with PyTorch's layout: input ``(C,)``, ``(N, C)`` or ``(N, C, d1, ...)``
    (classes on dimension 1) and integer targets ``()``, ``(N,)`` or ``(N, d1, ...)``; targets equal
    to ``ignore_index`` are skipped. Float targets of the input's shape are class probabilities.

    Runs the fused :func:`zeronlp.functional.softmax_cross_entropy` (classes last) after moving the
    class dimension to the end; ``F.softmax_cross_entropy`` itself keeps the book's classes-last layout.
    """

    def __init__(self, ignore_index: int = -100, reduction: str = "mean", label_smoothing: float = 0.0):
        super().__init__()
        self.ignore_index = ignore_index
        self.reduction = _check_reduction("CrossEntropyLoss", reduction)
        if not 0.0 <= label_smoothing <= 1.0:
            raise UsageError(f"CrossEntropyLoss: label_smoothing must be in [0, 1], got {label_smoothing}")
        self.label_smoothing = label_smoothing

    def forward(self, input: Any, target: Any) -> Tensor:  # noqa: A002 - PyTorch's argument name
        x = as_tensor(input)
        xp = backend.get_array_module(x.data)
        t = array_of(target)
        t = t if hasattr(t, "dtype") else xp.asarray(t)
        if x.ndim == 0:
            raise UsageError("CrossEntropyLoss: input must have a class dimension, got a 0-d tensor")
        logits = x if x.ndim <= 2 else F.transpose(x, (0,) + tuple(range(2, x.ndim)) + (1,))
        if t.dtype.kind == "f" and tuple(t.shape) == x.shape:  # class probabilities
            probs = t if x.ndim <= 2 else xp.moveaxis(t, 1, -1)
            return self._soft(logits, probs)
        if self.label_smoothing:
            ids = F.as_ids(t, "CrossEntropyLoss")
            hard = F.softmax_cross_entropy(logits, ids, self.ignore_index, "none")
            uniform = -F.mean(F.log_softmax(logits), axis=-1)
            valid = (ids != self.ignore_index).astype(x.dtype)
            eps = self.label_smoothing
            losses = (hard * (1 - eps) + uniform * eps) * valid
            if self.reduction == "none":
                return losses
            total = F.sum(losses)
            if self.reduction == "sum":
                return total
            count = float(valid.sum())
            # every target ignored: the mean is nan (PyTorch) and the gradient zero, not 0/0 = nan
            return total / count if count else total + float("nan")
        return F.softmax_cross_entropy(logits, t, self.ignore_index, self.reduction)

    def _soft(self, logits: Tensor, probs: Any) -> Tensor:
        if self.label_smoothing:
            probs = probs * (1 - self.label_smoothing) + self.label_smoothing / logits.shape[-1]
        losses = -F.sum(F.log_softmax(logits) * probs.astype(logits.dtype), axis=-1)
        if self.reduction == "none":
            return losses
        total = F.sum(losses)
        return total if self.reduction == "sum" else total / float(max(losses.size, 1) if losses.ndim else 1)

    def extra_repr(self) -> str:
        return f"ignore_index={self.ignore_index}, reduction={self.reduction!r}"


class MSELoss(Module):
    """Mean squared error ``mean((input - target)^2)`` (``reduction`` ``"mean"``, ``"sum"`` or ``"none"``)."""

    def __init__(self, reduction: str = "mean"):
        super().__init__()
        self.reduction = _check_reduction("MSELoss", reduction)

    def forward(self, input: Any, target: Any) -> Tensor:  # noqa: A002
        return F.mse(input, target, reduction=self.reduction)


class BCEWithLogitsLoss(Module):
    """Binary cross-entropy on logits, computed stably: ``-[t log s(x) + (1 - t) log(1 - s(x))]``.

    ``pos_weight`` (broadcast over the last dimension, as in PyTorch) scales the positive term.
    """

    def __init__(self, reduction: str = "mean", pos_weight: Any = None):
        super().__init__()
        self.reduction = _check_reduction("BCEWithLogitsLoss", reduction)
        self.pos_weight = pos_weight

    def forward(self, input: Any, target: Any) -> Tensor:  # noqa: A002
        if self.pos_weight is None:
            return F.binary_cross_entropy_with_logits(input, target, reduction=self.reduction)
        x = as_tensor(input)
        xp = backend.get_array_module(x.data)
        t = xp.asarray(array_of(target))
        if tuple(t.shape) != x.shape:
            raise UsageError(f"BCEWithLogitsLoss: logits {x.shape} and targets {tuple(t.shape)} differ in shape")
        t = t.astype(x.dtype)
        pw = xp.asarray(array_of(self.pos_weight), dtype=x.dtype)
        # (1 - t) x + (1 + (pw - 1) t) softplus(-x)
        losses = (1 - t) * x + (1 + (pw - 1) * t) * F.softplus(-x)
        if self.reduction == "none":
            return losses
        return F.sum(losses) if self.reduction == "sum" else F.mean(losses)
