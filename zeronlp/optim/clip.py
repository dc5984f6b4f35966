"""Gradient clipping by global norm."""

from __future__ import annotations

import math
from typing import Any

from .. import backend
from ..autograd import Tensor


def clip_grad_norm_(params: Any, max_norm: float) -> float:
    """Scale all gradients by min(1, max_norm / ||g||) where ||g|| is the norm over all of them.

    ``params`` is an iterable of tensors, or one tensor (as in PyTorch). Returns the total norm before
    clipping (``inf``/``nan`` when a gradient is not finite).
    """
    if isinstance(params, Tensor):
        params = [params]
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return 0.0
    xp = backend.get_array_module(grads[0])
    total = math.sqrt(float(sum(xp.vdot(g.ravel(), g.ravel()) for g in grads)))
    rate = max_norm / (total + 1e-6)
    if rate < 1:
        for g in grads:
            g *= g.dtype.type(rate)
    return total
