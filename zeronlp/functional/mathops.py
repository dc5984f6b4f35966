"""Elementwise math, extra reductions and comparisons: sqrt, abs, sin, cos, minimum/maximum, min,
var/std, logsumexp, cumsum, and eq/ne/lt/le/gt/ge/isnan/isinf/isfinite (boolean masks, no gradient)."""

from __future__ import annotations

import builtins
from typing import Any

import numpy as np

from .. import backend
from ..autograd import Function, Tensor, as_tensor
from ..errors import UsageError
from .basic import (
    _binary_arrays,
    _match_scalar,
    _reduce_grad_shape,
    broadcast_to,
    cast,
    check_axis,
    div,
    exp,
    flip_array,
    getitem,
    mean,
    mul,
    neg,
    promote,
    require_float,
    reshape,
    sub,
    sum,
    sum_to,
    sum_to_array,
)
from .basic import max as _max


class Sqrt(Function):
    """y = sqrt x;  dx = gy / (2 y)."""

    def forward(self, x):
        require_float("sqrt", x)
        self.y = backend.get_array_module(x).sqrt(x)
        return self.y

    def backward(self, gy):
        return gy / (self.y * self.y.dtype.type(2))

    def backward_graph(self, gy):
        return div(gy, mul(self.output(), 2.0))


class Abs(Function):
    """y = |x|;  dx = gy sign(x) (0 at 0, as in PyTorch)."""

    def forward(self, x):
        if x.dtype == bool:
            raise TypeError("abs: not defined for a boolean tensor")
        self.sign = backend.get_array_module(x).sign(x)
        return backend.get_array_module(x).abs(x)

    def backward(self, gy):
        return gy * self.sign.astype(gy.dtype)

    def backward_graph(self, gy):
        return mul(gy, self.sign.astype(gy.dtype))


class Sin(Function):
    """y = sin x;  dx = gy cos x."""

    def forward(self, x):
        require_float("sin", x)
        return backend.get_array_module(x).sin(x)

    def backward(self, gy):
        return gy * backend.get_array_module(gy).cos(self.inputs[0].data)

    def backward_graph(self, gy):
        return mul(gy, cos(self.inputs[0]))


class Cos(Function):
    """y = cos x;  dx = -gy sin x."""

    def forward(self, x):
        require_float("cos", x)
        return backend.get_array_module(x).cos(x)

    def backward(self, gy):
        return -gy * backend.get_array_module(gy).sin(self.inputs[0].data)

    def backward_graph(self, gy):
        return neg(mul(gy, sin(self.inputs[0])))


class Maximum(Function):
    """y = max(a, b) elementwise;  da = gy where a > b, db = gy where b > a, half each on ties (PyTorch)."""

    def forward(self, a, b):
        _binary_arrays("maximum", a, b)
        a, b = promote(a, b)
        xp = backend.get_array_module(a)
        self.shapes = (a.shape, b.shape)
        self.wa = self._share(a, b)
        return xp.maximum(a, b)

    @staticmethod
    def _share(a, b):
        dtype = np.result_type(a.dtype, b.dtype)
        dtype = dtype if dtype.kind == "f" else np.dtype(np.float32)
        return (a > b).astype(dtype) + (a == b).astype(dtype) * dtype.type(0.5)

    def backward(self, gy):
        wa = self.wa.astype(gy.dtype, copy=False)
        return sum_to_array(gy * wa, self.shapes[0]), sum_to_array(gy * (1 - wa), self.shapes[1])

    def backward_graph(self, gy):
        wa = self.wa.astype(gy.dtype, copy=False)
        return sum_to(mul(gy, wa), self.shapes[0]), sum_to(mul(gy, 1 - wa), self.shapes[1])


class LogSumExp(Function):
    """y = log sum_i e^{x_i} over ``axis`` (stable: m + log sum e^{x - m});  dx = gy e^{x - y}."""

    def __init__(self, axis: Any = None, keepdims: bool = False):
        self.axis, self.keepdims = axis, keepdims

    def forward(self, x):
        require_float("logsumexp", x)
        xp = backend.get_array_module(x)
        self.axis = check_axis("logsumexp", self.axis, x.shape)
        self.shape = x.shape
        w = x.astype(np.float32) if x.dtype == np.float16 else x
        if w.size == 0:
            m = xp.zeros(np.sum(w, axis=self.axis, keepdims=True).shape, dtype=w.dtype)
        else:
            m = w.max(axis=self.axis, keepdims=True)
            m = xp.where(xp.isinf(m), w.dtype.type(0), m)  # rows of -inf give -inf, +inf gives +inf
        with np.errstate(divide="ignore"):
            y = xp.log(xp.exp(w - m).sum(axis=self.axis, keepdims=True)) + m
        self.y_kept = y.astype(x.dtype, copy=False)
        return self.y_kept if self.keepdims else self.y_kept.reshape(
            _reduce_shape(x.shape, self.axis))

    def backward(self, gy):
        xp = backend.get_array_module(gy)
        gy = _reduce_grad_shape(gy, self.shape, self.axis, self.keepdims)
        return gy * xp.exp(self.inputs[0].data - self.y_kept)

    def backward_graph(self, gy):
        (x,) = self.inputs
        kept = _reduce_grad_shape(gy.data, self.shape, self.axis, self.keepdims).shape
        y = reshape(self.output(), kept)
        return mul(broadcast_to(reshape(gy, kept), self.shape), exp(sub(x, y)))


def _reduce_shape(shape, axis):
    if axis is None:
        return ()
    axes = axis if isinstance(axis, tuple) else (axis,)
    return tuple(n for i, n in enumerate(shape) if i not in axes)


class CumSum(Function):
    """y_i = sum_{j <= i} x_j along ``axis``;  dx = reversed cumsum of gy."""

    def __init__(self, axis: int):
        self.axis = axis

    def forward(self, x):
        if x.ndim == 0:
            self.axis = check_axis("cumsum", self.axis, (1,))
            return x.copy()
        self.axis = check_axis("cumsum", self.axis, x.shape)
        xp = backend.get_array_module(x)
        if x.dtype == np.float16:  # accumulate in float32
            return xp.cumsum(x, axis=self.axis, dtype=np.float32).astype(np.float16)
        return xp.cumsum(x, axis=self.axis)

    def backward(self, gy):
        if gy.ndim == 0:
            return gy
        xp = backend.get_array_module(gy)
        return flip_array(xp.cumsum(flip_array(gy, self.axis), axis=self.axis), self.axis)

    def backward_graph(self, gy):
        if gy.ndim == 0:
            return gy
        index = tuple(slice(None, None, -1) if i == self.axis else slice(None) for i in range(gy.ndim))
        return getitem(cumsum(getitem(gy, index), self.axis), index)


# ---------------------------------------------------------------------------- public API


def sqrt(x) -> Tensor:
    return Sqrt()(x)


def abs(x) -> Tensor:  # noqa: A001 - mirrors torch.abs
    return Abs()(x)


def sin(x) -> Tensor:
    return Sin()(x)


def cos(x) -> Tensor:
    return Cos()(x)


def maximum(a, b) -> Tensor:
    """Elementwise maximum with broadcasting (ties split the gradient, as in PyTorch)."""
    return Maximum()(*_match_scalar(a, b))


def minimum(a, b) -> Tensor:
    """Elementwise minimum: ``-maximum(-a, -b)``."""
    a, b = _match_scalar(a, b)
    a, b = as_tensor(a), as_tensor(b)
    if a.dtype == bool or b.dtype == bool:  # -x is not defined on bools: min of bools is "and"
        if a.dtype == b.dtype:
            return as_tensor(backend.get_array_module(a.data).minimum(a.data, b.data))
        a, b = (cast(a, b.dtype), b) if a.dtype == bool else (a, cast(b, a.dtype))
    return neg(maximum(neg(a), neg(b)))


def _renamed(err: Exception, inner: str, op: str) -> Exception:
    """The same error, its message saying ``op:`` instead of the ``inner:`` Function it is built from."""
    message = str(err)
    renamed = type(err)(op + message[len(inner):] if message.startswith(inner + ":") else f"{op}: {message}")
    return renamed


def min(x, axis: Any = None, keepdims: bool = False) -> Tensor:  # noqa: A001
    """Smallest element over ``axis``: ``-max(-x)``."""
    try:
        return neg(_max(neg(x), axis=axis, keepdims=keepdims))
    except (ValueError, TypeError) as err:  # name this op, not the max it is built from
        raise _renamed(err, "max", "min") from None


def var(x, axis: Any = None, keepdims: bool = False, correction: int = 1) -> Tensor:
    """Variance ``sum((x - mean)^2) / (N - correction)``; PyTorch's default ``correction=1`` (unbiased)."""
    x = as_tensor(x)
    require_float("var", x.data)
    normal = check_axis("var", tuple(axis) if isinstance(axis, list) else axis, x.shape)
    axes = range(x.ndim) if normal is None else normal if isinstance(normal, tuple) else (normal,)
    count = int(np.prod([x.shape[a] for a in axes]))
    centered = sub(x, mean(x, axis=normal, keepdims=True))
    with np.errstate(divide="ignore", invalid="ignore"):
        # as PyTorch: max(0, N - correction) degrees of freedom, so too few elements give nan/inf, not -0
        dof = float(builtins.max(0, count - correction))
        return div(sum(mul(centered, centered), axis=normal, keepdims=keepdims), dof)


def std(x, axis: Any = None, keepdims: bool = False, correction: int = 1) -> Tensor:
    """Standard deviation ``sqrt(var(x))`` (unbiased by default, as in PyTorch)."""
    try:
        variance = var(x, axis, keepdims, correction)
    except (ValueError, TypeError) as err:
        raise _renamed(err, "var", "std") from None
    return sqrt(variance)


def logsumexp(x, axis: Any = None, keepdims: bool = False) -> Tensor:
    """``log(sum(exp(x)))`` over ``axis``, computed without overflow."""
    return LogSumExp(tuple(axis) if isinstance(axis, list) else axis, keepdims)(x)


def cumsum(x, axis: int) -> Tensor:
    """Running sum along ``axis`` (PyTorch's ``dim``)."""
    if axis is None:
        raise UsageError("cumsum: give the axis to sum along")
    return CumSum(axis)(x)


def _compare(op: str, fn: Any, a: Any, b: Any) -> Tensor:
    a_data = a.data if isinstance(a, Tensor) else a
    b_data = b.data if isinstance(b, Tensor) else b
    xp = backend.xp()
    a_data, b_data = xp.asarray(a_data), xp.asarray(b_data)
    _binary_arrays(op, a_data, b_data)
    return Tensor(fn(a_data, b_data))


def eq(a, b) -> Tensor:
    """Boolean mask ``a == b`` (no gradient)."""
    return _compare("eq", np.equal, a, b)


def ne(a, b) -> Tensor:
    """Boolean mask ``a != b``."""
    return _compare("ne", np.not_equal, a, b)


def lt(a, b) -> Tensor:
    """Boolean mask ``a < b``."""
    return _compare("lt", np.less, a, b)


def le(a, b) -> Tensor:
    """Boolean mask ``a <= b``."""
    return _compare("le", np.less_equal, a, b)


def gt(a, b) -> Tensor:
    """Boolean mask ``a > b``."""
    return _compare("gt", np.greater, a, b)


def ge(a, b) -> Tensor:
    """Boolean mask ``a >= b``."""
    return _compare("ge", np.greater_equal, a, b)


def isnan(x) -> Tensor:
    return Tensor(backend.get_array_module(as_tensor(x).data).isnan(as_tensor(x).data))


def isinf(x) -> Tensor:
    return Tensor(backend.get_array_module(as_tensor(x).data).isinf(as_tensor(x).data))


def isfinite(x) -> Tensor:
    return Tensor(backend.get_array_module(as_tensor(x).data).isfinite(as_tensor(x).data))


__all__ = ["sqrt", "abs", "sin", "cos", "maximum", "minimum", "min", "var", "std", "logsumexp", "cumsum",
           "eq", "ne", "lt", "le", "gt", "ge", "isnan", "isinf", "isfinite"]
