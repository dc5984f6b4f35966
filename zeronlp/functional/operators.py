"""Tensor's arithmetic operators and array methods, attached from here (DeZero's ``setup_variable``).

:mod:`zeronlp.autograd` defines :class:`~zeronlp.autograd.Tensor` without them, so the engine
imports nothing above it; ``zeronlp.functional`` calls :func:`attach_tensor_methods` when it is
imported (``import zeronlp`` always imports it), after which ``x * y + 1``, ``x @ w``, ``x[0]``,
``x.sum()`` or ``x.T`` build the graph through the Functions of :mod:`zeronlp.functional.basic`.
"""

from __future__ import annotations

from typing import Any

from ..autograd import Tensor
from . import activation, basic, mathops, shape


def _add(self, other):
    return basic.add(self, other)


def _radd(self, other):
    return basic.add(other, self)


def _sub(self, other):
    return basic.sub(self, other)


def _rsub(self, other):
    return basic.sub(other, self)


def _mul(self, other):
    return basic.mul(self, other)


def _rmul(self, other):
    return basic.mul(other, self)


def _truediv(self, other):
    return basic.div(self, other)


def _rtruediv(self, other):
    return basic.div(other, self)


def _matmul(self, other):
    return basic.matmul(self, other)


def _rmatmul(self, other):
    return basic.matmul(other, self)


def _pow(self, exponent):
    return basic.pow(self, exponent)


def _neg(self):
    return basic.neg(self)


def _getitem(self, index):
    return basic.getitem(self, index)


def _sum(self, axis=None, keepdims: bool = False):
    return basic.sum(self, axis=axis, keepdims=keepdims)


def _mean(self, axis=None, keepdims: bool = False):
    return basic.mean(self, axis=axis, keepdims=keepdims)


def _max(self, axis=None, keepdims: bool = False):
    return basic.max(self, axis=axis, keepdims=keepdims)


def _exp(self):
    return basic.exp(self)


def _log(self):
    return basic.log(self)


def _reshape(self, *shape):
    """``x.reshape(2, 3)`` or ``x.reshape((2, 3))``."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    return basic.reshape(self, shape)


def _transpose(self, *axes):
    """``x.transpose()`` reverses the axes; ``x.transpose(1, 0, 2)`` or ``x.transpose((1, 0, 2))``."""
    if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
        axes = tuple(axes[0])
    return basic.transpose(self, axes or None)


def _T(self):  # noqa: N802 - the property is named like NumPy's and PyTorch's
    return basic.transpose(self, None)


def _astype(self, dtype: Any):
    """A differentiable cast (the gradient is cast back to the input's dtype)."""
    return basic.cast(self, dtype)


def _dims(fn):
    """A method taking sizes as ``x.f(2, 3)`` or ``x.f((2, 3))``."""
    def method(self, *sizes):
        return fn(self, *sizes)
    method.__doc__ = fn.__doc__
    return method


def _reduction(fn):
    def method(self, axis=None, keepdims: bool = False, **kwargs):
        return fn(self, axis=axis, keepdims=keepdims, **kwargs)
    method.__doc__ = fn.__doc__
    return method


def _unary(fn):
    def method(self, *args, **kwargs):
        return fn(self, *args, **kwargs)
    method.__doc__ = fn.__doc__
    return method


TENSOR_METHODS: dict[str, Any] = {
    "__add__": _add, "__radd__": _radd, "__sub__": _sub, "__rsub__": _rsub,
    "__mul__": _mul, "__rmul__": _rmul, "__truediv__": _truediv, "__rtruediv__": _rtruediv,
    "__matmul__": _matmul, "__rmatmul__": _rmatmul, "__pow__": _pow, "__neg__": _neg,
    "__getitem__": _getitem,
    "sum": _sum, "mean": _mean, "max": _max, "exp": _exp, "log": _log,
    "reshape": _reshape, "view": _reshape, "transpose": _transpose, "T": property(_T), "astype": _astype,
    "__abs__": _unary(mathops.abs), "abs": _unary(mathops.abs), "sqrt": _unary(mathops.sqrt),
    "sin": _unary(mathops.sin), "cos": _unary(mathops.cos), "tanh": _unary(activation.tanh),
    "sigmoid": _unary(activation.sigmoid), "relu": _unary(activation.relu),
    "softmax": _unary(activation.softmax), "log_softmax": _unary(activation.log_softmax),
    "pow": _pow, "clamp": _unary(basic.clip), "clip": _unary(basic.clip),
    "maximum": _unary(mathops.maximum), "minimum": _unary(mathops.minimum),
    "min": _reduction(mathops.min), "var": _reduction(mathops.var), "std": _reduction(mathops.std),
    "logsumexp": _reduction(mathops.logsumexp), "cumsum": _unary(mathops.cumsum),
    "eq": _unary(mathops.eq), "ne": _unary(mathops.ne), "lt": _unary(mathops.lt), "le": _unary(mathops.le),
    "gt": _unary(mathops.gt), "ge": _unary(mathops.ge), "isnan": _unary(mathops.isnan),
    "squeeze": _unary(shape.squeeze), "unsqueeze": _unary(shape.unsqueeze), "flatten": _unary(shape.flatten),
    "expand": _dims(shape.expand), "repeat": _dims(shape.repeat), "tile": _dims(shape.tile),
    "permute": _dims(shape.permute), "flip": _unary(shape.flip), "gather": _unary(shape.gather),
    "take_along_axis": _unary(shape.take_along_axis), "masked_fill": _unary(shape.masked_fill),
}


def attach_tensor_methods(cls: type = Tensor) -> None:
    """Give ``cls`` (Tensor) its operators and array methods; running it twice changes nothing."""
    for name, method in TENSOR_METHODS.items():
        setattr(cls, name, method)
