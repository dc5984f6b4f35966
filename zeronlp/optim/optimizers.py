"""SGD, AdaGrad, RMSprop, Adam and AdamW, with PyTorch's update rules (updates are in place)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import backend
from ..functional import cuda_kernels, vector_math
from .optimizer import Optimizer

# elements per block of Adam's update on the CPU: 4 arrays' blocks + 2 work blocks = 3 MiB of float32, in
# cache (L2 + the shared L3); measured on the 784-1000-1000-10 MLP's parameters, 2-core Zen 3: the
# step 12.6-12.8 ms vs 13.2-19.3 ms unblocked (2^15 to 2^19 alike), same bits
_BLOCK = 1 << 17
# False: Adam runs its NumPy form (tests flip it to compare the two)
USE_NUMBA = True
_KERNELS: dict[str, Any] = {}


def _adam_kernel(p, g, m, v, beta1, one_minus_beta1, beta2, one_minus_beta2, bias2, eps, step_size):  # pragma: no cover
    """Adam's update of flat arrays in one pass, compiled by numba: the NumPy form's operations in its
    order and dtype (scalars given in the arrays' dtype), so the same bits:

        m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;  p -= (s m) / (sqrt(v) / c2 + eps)
    with s = lr / (1 - b1^t) and c2 = sqrt(1 - b2^t).
    """
    for i in range(p.size):
        gi = g[i]
        mi = m[i] * beta1 + gi * one_minus_beta1
        vi = v[i] * beta2 + (gi * gi) * one_minus_beta2
        m[i] = mi
        v[i] = vi
        p[i] -= (mi * step_size) / (np.sqrt(vi) / bias2 + eps)


def _numba_adam() -> Any:
    """:func:`_adam_kernel` compiled by numba (cached on disk), or None without numba."""
    kernel = _KERNELS.get("adam")
    if kernel is None:
        try:
            import numba
        except ImportError:
            kernel = False
        else:
            kernel = numba.njit(cache=True, nogil=True, error_model="numpy")(_adam_kernel)
        _KERNELS["adam"] = kernel
    return kernel or None


def _with_weight_decay(param: Any, grad: Any, weight_decay: float) -> Any:
    return grad + weight_decay * param.data if weight_decay else grad


class SGD(Optimizer):
    """v = mu v + g;  p -= lr (g + mu v if nesterov else v)  (plain: p -= lr g)."""

    def __init__(self, params: Any, lr: float = 0.01, momentum: float = 0.0, nesterov: bool = False,
                 weight_decay: float = 0.0, dampening: float = 0.0):
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("nesterov momentum needs momentum > 0 and dampening = 0")
        super().__init__(params, dict(lr=lr, momentum=momentum, nesterov=nesterov,
                                      weight_decay=weight_decay, dampening=dampening))

    def update(self, param, grad, state, group):
        grad = _with_weight_decay(param, grad, group["weight_decay"])
        momentum = group["momentum"]
        if momentum:
            if "momentum_buffer" not in state:
                state["momentum_buffer"] = grad.copy()
            else:
                buf = state["momentum_buffer"]
                buf *= momentum
                buf += (1 - group["dampening"]) * grad
            buf = state["momentum_buffer"]
            grad = grad + momentum * buf if group["nesterov"] else buf
        vector_math.subtract_scaled(param.data, group["lr"], grad)


class AdaGrad(Optimizer):
    """h += g^2;  p -= lr g / (sqrt(h) + eps)."""

    def __init__(self, params: Any, lr: float = 0.01, eps: float = 1e-10, weight_decay: float = 0.0,
                 initial_accumulator_value: float = 0.0):
        super().__init__(params, dict(lr=lr, eps=eps, weight_decay=weight_decay,
                                      initial_accumulator_value=initial_accumulator_value))

    def update(self, param, grad, state, group):
        xp = backend.get_array_module(param.data)
        grad = _with_weight_decay(param, grad, group["weight_decay"])
        if "sum" not in state:
            state["sum"] = xp.full_like(param.data, group["initial_accumulator_value"])
        state["sum"] += grad * grad
        param.data -= group["lr"] * grad / (xp.sqrt(state["sum"]) + group["eps"])


Adagrad = AdaGrad


class RMSprop(Optimizer):
    """h = a h + (1 - a) g^2;  p -= lr g / (sqrt(h) + eps)."""

    def __init__(self, params: Any, lr: float = 0.01, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0.0, momentum: float = 0.0):
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum))

    def update(self, param, grad, state, group):
        xp = backend.get_array_module(param.data)
        grad = _with_weight_decay(param, grad, group["weight_decay"])
        if "square_avg" not in state:
            state["square_avg"] = xp.zeros_like(param.data)
        avg = state["square_avg"]
        avg *= group["alpha"]
        avg += (1 - group["alpha"]) * grad * grad
        step = grad / (xp.sqrt(avg) + group["eps"])
        if group["momentum"]:
            if "momentum_buffer" not in state:
                state["momentum_buffer"] = xp.zeros_like(param.data)
            buf = state["momentum_buffer"]
            buf *= group["momentum"]
            buf += step
            step = buf
        param.data -= group["lr"] * step


class Adam(Optimizer):
    """m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2;  p -= lr m_hat / (sqrt(v_hat) + eps).

    ``decoupled=True`` (AdamW) decays weights directly: p -= lr wd p, instead of adding wd p to g.
    """

    decoupled = False

    def __init__(self, params: Any, lr: float = 0.001, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0):
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay))

    def update(self, param, grad, state, group):
        xp = backend.get_array_module(param.data)
        beta1, beta2 = group["betas"]
        lr, wd = group["lr"], group["weight_decay"]
        if self.decoupled:
            if wd:
                param.data *= 1 - lr * wd
        else:
            grad = _with_weight_decay(param, grad, wd)
        if "exp_avg" not in state:
            state["step"] = 0
            state["exp_avg"] = xp.zeros_like(param.data)
            state["exp_avg_sq"] = xp.zeros_like(param.data)
        state["step"] += 1
        m, v, t = state["exp_avg"], state["exp_avg_sq"], state["step"]
        step_size = lr / (1 - beta1**t)
        arrays = (param.data, grad, m, v)
        fused = cuda_kernels.get("adam", *arrays) if grad.shape == m.shape else None
        if fused is not None:  # CuPy: the update in one launch (the NumPy form below makes ~12)
            c = m.dtype.type
            fused(grad, c(beta1), c(1 - beta1), c(beta2), c(1 - beta2), c(math.sqrt(1 - beta2**t)), c(group["eps"]),
                  c(step_size), param.data, m, v)
            return
        if (xp is np and grad.dtype == m.dtype and grad.shape == m.shape and m.dtype.kind == "f"
                and all(a.flags.c_contiguous for a in arrays)):
            kernel = _numba_adam() if USE_NUMBA and m.dtype in (np.float32, np.float64) else None
            eps, bias2 = group["eps"], math.sqrt(1 - beta2**t)
            flat = [a.reshape(-1) for a in arrays]
            if kernel is not None:
                # one pass: read p, g, m, v once, write p, m, v once (the NumPy form makes ~26 passes)
                c = m.dtype.type
                kernel(*flat, c(beta1), c(1 - beta1), c(beta2), c(1 - beta2), c(bias2), c(eps), c(step_size))
                return
            if m.size > _BLOCK:
                # the same operations in the same order (bit-identical), block by block with two
                # cache-sized work arrays: no temporary of the parameter's size
                tmp, upd = self._scratch(m.dtype)
                for start in range(0, m.size, _BLOCK):
                    p_, g, m_, v_ = (a[start:start + _BLOCK] for a in flat)
                    n = g.size
                    tb, ub = tmp[:n], upd[:n]
                    m_ *= beta1
                    np.multiply(g, 1 - beta1, out=tb)
                    m_ += tb
                    v_ *= beta2
                    np.multiply(g, g, out=tb)
                    tb *= 1 - beta2
                    v_ += tb
                    np.sqrt(v_, out=tb)
                    tb /= bias2
                    tb += eps
                    np.multiply(m_, step_size, out=ub)
                    ub /= tb
                    p_ -= ub
                return
        m *= beta1
        m += (1 - beta1) * grad
        v *= beta2
        v += (1 - beta2) * (grad * grad)
        denom = xp.sqrt(v) / math.sqrt(1 - beta2**t)
        denom += group["eps"]
        param.data -= (step_size * m / denom).astype(param.data.dtype, copy=False)

    def _scratch(self, dtype: Any) -> tuple[Any, Any]:
        """Two work blocks of ``_BLOCK`` elements (kept on the optimizer, not in its state)."""
        pool = self.__dict__.setdefault("_work", {})
        if dtype.str not in pool:
            pool[dtype.str] = (np.empty(_BLOCK, dtype), np.empty(_BLOCK, dtype))
        return pool[dtype.str]


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter); default weight_decay 0.01 like PyTorch."""

    decoupled = True

    def __init__(self, params: Any, lr: float = 0.001, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.01):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)
