"""Activation Functions: sigmoid, tanh, relu, leaky_relu, softplus, gelu, softmax, log_softmax."""

from __future__ import annotations

import math

import numpy as np

from .. import backend
from ..autograd import Function, Tensor
from . import vector_math
from .basic import check_axis, exp, mul, require_float, sub, sum, where


def sigmoid_array(x):
    """Numerically stable logistic function on a raw array: 1 / (1 + e^-x) = (1 + tanh(x/2)) / 2
    (float32 NumPy arrays: the compiled kernel of ``vector_math``)."""
    y = vector_math.elementwise("sigmoid", x)
    if y is not None:
        return y
    xp = backend.get_array_module(x)
    return (xp.tanh(x * x.dtype.type(0.5)) + 1) * x.dtype.type(0.5)


def _wide(x):
    """float16 is computed in float32 (exp and sums overflow in half precision), as PyTorch does on CPU."""
    return x.astype(np.float32) if x.dtype == np.float16 else x


class SigmoidFunction(Function):
    """y = 1 / (1 + e^-x);  dx = gy * y (1 - y)."""

    def forward(self, x):
        require_float("sigmoid", x)
        self.y = sigmoid_array(x)
        return self.y

    def backward(self, gy):
        y = self.y
        return gy * y * (1 - y)

    def backward_graph(self, gy):
        y = self.output()
        return mul(mul(gy, y), sub(1, y))


class TanhFunction(Function):
    """y = tanh x;  dx = gy (1 - y^2)."""

    def forward(self, x):
        require_float("tanh", x)
        y = vector_math.elementwise("tanh", x)
        self.y = backend.get_array_module(x).tanh(x) if y is None else y
        return self.y

    def backward(self, gy):
        return gy * (1 - self.y * self.y)

    def backward_graph(self, gy):
        y = self.output()
        return mul(gy, sub(1, mul(y, y)))


class ReLUFunction(Function):
    """y = max(0, x);  dx = gy where x > 0."""

    def forward(self, x):
        self.mask = x > 0
        return backend.get_array_module(x).maximum(x, x.dtype.type(0))  # relu(-inf) = 0, relu(nan) = nan

    def backward(self, gy):
        return gy * self.mask

    def backward_graph(self, gy):
        return mul(gy, self.mask.astype(gy.dtype))


class LeakyReLUFunction(Function):
    """y = x if x > 0 else a x;  dx = gy (1 or a)."""

    def __init__(self, slope: float = 0.01):
        self.slope = slope

    def forward(self, x):
        require_float("leaky_relu", x)
        xp = backend.get_array_module(x)
        self.factor = xp.where(x > 0, x.dtype.type(1), x.dtype.type(self.slope))
        return x * self.factor

    def backward(self, gy):
        return gy * self.factor

    def backward_graph(self, gy):
        return mul(gy, self.factor)


class SoftplusFunction(Function):
    """y = log(1 + e^{beta x}) / beta (y = x where beta x > threshold);  dx = gy sigmoid(beta x) (or gy)."""

    def __init__(self, beta: float = 1.0, threshold: float = 20.0):
        self.beta, self.threshold = beta, threshold

    def forward(self, x):
        require_float("softplus", x)
        xp = backend.get_array_module(x)
        bx = x * x.dtype.type(self.beta)
        self.linear = bx > self.threshold
        y = xp.logaddexp(x.dtype.type(0), bx) / x.dtype.type(self.beta)
        return xp.where(self.linear, x, y).astype(x.dtype, copy=False)

    def backward(self, gy):
        (x,) = self.inputs
        s = sigmoid_array(x.data * x.dtype.type(self.beta))
        return gy * backend.get_array_module(gy).where(self.linear, gy.dtype.type(1), s)

    def backward_graph(self, gy):
        (x,) = self.inputs
        s = sigmoid(mul(x, self.beta))
        return mul(gy, where(self.linear, 1.0, s))


def _erf(x):
    xp = backend.get_array_module(x)
    if xp is np:
        from scipy.special import erf
    else:
        from cupyx.scipy.special import erf
    return erf(x).astype(x.dtype, copy=False)


class GELUFunction(Function):
    """y = x Phi(x), Phi the standard normal CDF (or the tanh approximation);  dx = gy (Phi(x) + x phi(x))."""

    def __init__(self, approximate: str = "none"):
        if approximate not in ("none", "tanh"):
            raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def forward(self, x):
        require_float("gelu", x)
        return x * self._cdf_array(x)

    def _cdf_array(self, x):
        xp = backend.get_array_module(x)
        half = x.dtype.type(0.5)
        if self.approximate == "tanh":
            k = x.dtype.type(math.sqrt(2 / math.pi))
            return half * (1 + xp.tanh(k * (x + x.dtype.type(0.044715) * x * x * x)))
        return half * (1 + _erf(x * x.dtype.type(1 / math.sqrt(2))))

    def backward(self, gy):
        x = self.inputs[0].data
        xp = backend.get_array_module(x)
        if self.approximate == "tanh":
            k = math.sqrt(2 / math.pi)
            t = xp.tanh(k * (x + 0.044715 * x**3))
            d = 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * k * (1 + 3 * 0.044715 * x * x)
        else:
            d = self._cdf_array(x) + x * xp.exp(-0.5 * x * x) * x.dtype.type(1 / math.sqrt(2 * math.pi))
        return (gy * d).astype(gy.dtype, copy=False)

    def backward_graph(self, gy):
        (x,) = self.inputs
        if self.approximate == "tanh":
            k = math.sqrt(2 / math.pi)
            t = tanh(mul(k, x + 0.044715 * x**3))
            d = 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * k * (1 + 3 * 0.044715 * x * x)
        else:
            cdf = 0.5 * (1 + ErfFunction()(x * (1 / math.sqrt(2))))
            d = cdf + x * exp(-0.5 * x * x) * (1 / math.sqrt(2 * math.pi))
        return mul(gy, d)


class ErfFunction(Function):
    """y = erf x;  dx = gy 2/sqrt(pi) e^{-x^2}."""

    def forward(self, x):
        require_float("erf", x)
        return _erf(x)

    def backward(self, gy):
        x = self.inputs[0].data
        return gy * (backend.get_array_module(x).exp(-x * x) * x.dtype.type(2 / math.sqrt(math.pi)))

    def backward_graph(self, gy):
        (x,) = self.inputs
        return mul(gy, exp(mul(mul(x, x), -1.0)) * (2 / math.sqrt(math.pi)))


def _empty_axis(x, axis) -> bool:
    return x.ndim > 0 and x.shape[axis] == 0


class SoftmaxFunction(Function):
    """y_i = e^{x_i} / sum_j e^{x_j};  dx = y (gy - sum(gy y))."""

    def __init__(self, axis: int = -1):
        self.axis = axis

    def forward(self, x):
        require_float("softmax", x)
        self.axis = check_axis("softmax", self.axis, x.shape)
        if x.ndim == 0 or _empty_axis(x, self.axis):  # PyTorch: softmax of a 0-d tensor is 1, of nothing is empty
            with np.errstate(invalid="ignore"):
                self.y = (x - x) + x.dtype.type(1)  # nan for inf/nan, as exp(x - max) gives
            return self.y
        y = vector_math.softmax_last_axis(x) if self.axis == x.ndim - 1 else None
        if y is not None:
            self.y = y
            return y
        xp = backend.get_array_module(x)
        w = _wide(x)
        e = xp.exp(w - w.max(axis=self.axis, keepdims=True))
        self.y = (e / e.sum(axis=self.axis, keepdims=True)).astype(x.dtype, copy=False)
        return self.y

    def backward(self, gy):
        y = self.y
        gx = y * gy
        return gx - y * gx.sum(axis=self.axis, keepdims=True)

    def backward_graph(self, gy):
        y = self.output()
        gx = mul(y, gy)
        return sub(gx, mul(y, sum(gx, axis=self.axis, keepdims=True)))


def log_softmax_array(x, axis: int = -1):
    """log softmax on a raw array: x - max - log(sum(exp(x - max)))."""
    xp = backend.get_array_module(x)
    shifted = x - x.max(axis=axis, keepdims=True)
    return shifted - xp.log(xp.exp(shifted).sum(axis=axis, keepdims=True))


class LogSoftmaxFunction(Function):
    """y = x - logsumexp(x);  dx = gy - softmax(x) sum(gy)."""

    def __init__(self, axis: int = -1):
        self.axis = axis

    def forward(self, x):
        require_float("log_softmax", x)
        self.axis = check_axis("log_softmax", self.axis, x.shape)
        if x.ndim == 0 or _empty_axis(x, self.axis):
            with np.errstate(invalid="ignore"):
                self.y = x - x
            return self.y
        y = vector_math.softmax_last_axis(x, log=True) if self.axis == x.ndim - 1 else None
        self.y = log_softmax_array(_wide(x), self.axis).astype(x.dtype, copy=False) if y is None else y
        return self.y

    def backward(self, gy):
        xp = backend.get_array_module(gy)
        return gy - xp.exp(self.y) * gy.sum(axis=self.axis, keepdims=True)

    def backward_graph(self, gy):
        return sub(gy, mul(exp(self.output()), sum(gy, axis=self.axis, keepdims=True)))


def sigmoid(x) -> Tensor:
    return SigmoidFunction()(x)


def tanh(x) -> Tensor:
    return TanhFunction()(x)


def relu(x) -> Tensor:
    return ReLUFunction()(x)


def leaky_relu(x, negative_slope: float = 0.01) -> Tensor:
    return LeakyReLUFunction(negative_slope)(x)


def softplus(x, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """``log(1 + exp(beta x)) / beta``, linear above ``threshold`` (PyTorch's ``F.softplus``)."""
    return SoftplusFunction(beta, threshold)(x)


def gelu(x, approximate: str = "none") -> Tensor:
    """``x Phi(x)`` with the exact normal CDF, or ``approximate="tanh"`` (PyTorch's ``F.gelu``)."""
    return GELUFunction(approximate)(x)


def erf(x) -> Tensor:
    """The error function (its derivative is ``2/sqrt(pi) exp(-x^2)``)."""
    return ErfFunction()(x)


def softmax(x, axis: int = -1) -> Tensor:
    return SoftmaxFunction(axis)(x)


def log_softmax(x, axis: int = -1) -> Tensor:
    return LogSoftmaxFunction(axis)(x)
