"""SGD, AdaGrad, RMSprop, Adam and AdamW, with PyTorch's update rules (updates are in place)."""

from __future__ import annotations

import math
from typing import Any

from .. import backend
from .optimizer import Optimizer


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
        param.data -= group["lr"] * grad


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
        m *= beta1
        m += (1 - beta1) * grad
        v *= beta2
        v += (1 - beta2) * (grad * grad)
        step_size = lr / (1 - beta1**t)
        denom = xp.sqrt(v) / math.sqrt(1 - beta2**t)
        denom += group["eps"]
        param.data -= (step_size * m / denom).astype(param.data.dtype, copy=False)


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter); default weight_decay 0.01 like PyTorch."""

    decoupled = True

    def __init__(self, params: Any, lr: float = 0.001, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.01):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)
