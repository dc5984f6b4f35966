"""Activation Functions: sigmoid, tanh, relu, leaky_relu, softmax, log_softmax."""

from __future__ import annotations

from .. import backend
from ..autograd import Function, Tensor


def sigmoid_array(x):
    """Numerically stable logistic function on a raw array: 1 / (1 + e^-x) = (1 + tanh(x/2)) / 2."""
    xp = backend.get_array_module(x)
    return (xp.tanh(x * x.dtype.type(0.5)) + 1) * x.dtype.type(0.5)


class SigmoidFunction(Function):
    """y = 1 / (1 + e^-x);  dx = gy * y (1 - y)."""

    def forward(self, x):
        self.y = sigmoid_array(x)
        return self.y

    def backward(self, gy):
        y = self.y
        return gy * y * (1 - y)


class TanhFunction(Function):
    """y = tanh x;  dx = gy (1 - y^2)."""

    def forward(self, x):
        self.y = backend.get_array_module(x).tanh(x)
        return self.y

    def backward(self, gy):
        return gy * (1 - self.y * self.y)


class ReLUFunction(Function):
    """y = max(0, x);  dx = gy where x > 0."""

    def forward(self, x):
        self.mask = x > 0
        return x * self.mask

    def backward(self, gy):
        return gy * self.mask


class LeakyReLUFunction(Function):
    """y = x if x > 0 else a x;  dx = gy (1 or a)."""

    def __init__(self, slope: float = 0.01):
        self.slope = slope

    def forward(self, x):
        xp = backend.get_array_module(x)
        self.factor = xp.where(x > 0, x.dtype.type(1), x.dtype.type(self.slope))
        return x * self.factor

    def backward(self, gy):
        return gy * self.factor


class SoftmaxFunction(Function):
    """y_i = e^{x_i} / sum_j e^{x_j};  dx = y (gy - sum(gy y))."""

    def __init__(self, axis: int = -1):
        self.axis = axis

    def forward(self, x):
        xp = backend.get_array_module(x)
        e = xp.exp(x - x.max(axis=self.axis, keepdims=True))
        self.y = e / e.sum(axis=self.axis, keepdims=True)
        return self.y

    def backward(self, gy):
        y = self.y
        gx = y * gy
        return gx - y * gx.sum(axis=self.axis, keepdims=True)


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
        self.y = log_softmax_array(x, self.axis)
        return self.y

    def backward(self, gy):
        xp = backend.get_array_module(gy)
        return gy - xp.exp(self.y) * gy.sum(axis=self.axis, keepdims=True)


def sigmoid(x) -> Tensor:
    return SigmoidFunction()(x)


def tanh(x) -> Tensor:
    return TanhFunction()(x)


def relu(x) -> Tensor:
    return ReLUFunction()(x)


def leaky_relu(x, negative_slope: float = 0.01) -> Tensor:
    return LeakyReLUFunction(negative_slope)(x)


def softmax(x, axis: int = -1) -> Tensor:
    return SoftmaxFunction(axis)(x)


def log_softmax(x, axis: int = -1) -> Tensor:
    return LogSoftmaxFunction(axis)(x)
