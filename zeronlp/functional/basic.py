"""Elementary differentiable Functions: arithmetic, reductions, shapes and indexing.

Every binary op broadcasts like NumPy; its backward reduces the upstream gradient back to each
input's shape with :func:`sum_to_array` (the book's Repeat node forward is Sum backward, and
vice versa).
"""

from __future__ import annotations

import builtins
from typing import Any

import numpy as np

from .. import backend
from ..autograd import Function, Tensor, as_tensor

# ---------------------------------------------------------------------------- helpers


def sum_to_array(array: Any, shape: tuple[int, ...]) -> Any:
    """Sum ``array`` down to ``shape`` (the reverse of broadcasting)."""
    if array.shape == tuple(shape):
        return array
    lead = array.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(i + lead for i, n in enumerate(shape) if n == 1 and array.shape[i + lead] != 1)
    result = array.sum(axis=axes, keepdims=True)
    if lead > 0:
        result = result.reshape(result.shape[lead:])
    return result.reshape(shape)


def _broadcast_error(op: str, a: Any, b: Any) -> ValueError:
    return ValueError(f"{op}: shapes {tuple(a.shape)} and {tuple(b.shape)} cannot be broadcast together")


def _binary_arrays(op: str, a: Any, b: Any) -> None:
    try:
        np.broadcast_shapes(a.shape, b.shape)
    except ValueError:
        raise _broadcast_error(op, a, b) from None


def _reduced_shape(shape: tuple[int, ...], axis: Any) -> tuple[int, ...]:
    axes = {a % len(shape) for a in ((axis,) if isinstance(axis, int) else axis)}
    return tuple(n for i, n in enumerate(shape) if i not in axes)


def _reduce_grad_shape(gy: Any, shape: tuple[int, ...], axis: Any, keepdims: bool) -> Any:
    """Reshape the gradient of a reduction so that it broadcasts back over the reduced axes."""
    ndim = len(shape)
    if axis is None:
        axes = tuple(range(ndim))
    elif isinstance(axis, int):
        axes = (axis,)
    else:
        axes = tuple(axis)
    if not keepdims and ndim > 0:
        axes = sorted(a % ndim for a in axes)
        new_shape = list(gy.shape)
        for a in axes:
            new_shape.insert(a, 1)
        gy = gy.reshape(new_shape)
    return gy


# ---------------------------------------------------------------------------- arithmetic


class Add(Function):
    """y = a + b;  da = sum_to(gy), db = sum_to(gy)."""

    def forward(self, a, b):
        _binary_arrays("add", a, b)
        self.shapes = (a.shape, b.shape)
        return a + b

    def backward(self, gy):
        return sum_to_array(gy, self.shapes[0]), sum_to_array(gy, self.shapes[1])


class Sub(Function):
    """y = a - b;  da = sum_to(gy), db = -sum_to(gy)."""

    def forward(self, a, b):
        _binary_arrays("sub", a, b)
        self.shapes = (a.shape, b.shape)
        return a - b

    def backward(self, gy):
        return sum_to_array(gy, self.shapes[0]), -sum_to_array(gy, self.shapes[1])


class Mul(Function):
    """y = a * b;  da = sum_to(gy * b), db = sum_to(gy * a)."""

    def forward(self, a, b):
        _binary_arrays("mul", a, b)
        self.a, self.b = a, b
        return a * b

    def backward(self, gy):
        a, b = self.a, self.b
        return sum_to_array(gy * b, a.shape), sum_to_array(gy * a, b.shape)


class Div(Function):
    """y = a / b;  da = sum_to(gy / b), db = sum_to(-gy * a / b^2)."""

    def forward(self, a, b):
        _binary_arrays("div", a, b)
        self.a, self.b = a, b
        return a / b

    def backward(self, gy):
        a, b = self.a, self.b
        ga = gy / b
        return sum_to_array(ga, a.shape), sum_to_array(-ga * a / b, b.shape)


class Neg(Function):
    """y = -x;  dx = -gy."""

    def forward(self, x):
        return -x

    def backward(self, gy):
        return -gy


class Pow(Function):
    """y = x^c for a constant c;  dx = c x^(c-1) gy."""

    def __init__(self, exponent: float):
        self.exponent = exponent

    def forward(self, x):
        self.x = x
        return x**self.exponent

    def backward(self, gy):
        c = self.exponent
        return (c * self.x ** (c - 1)) * gy


class Exp(Function):
    """y = e^x;  dx = y gy."""

    def forward(self, x):
        self.y = backend.get_array_module(x).exp(x)
        return self.y

    def backward(self, gy):
        return gy * self.y


class Log(Function):
    """y = ln x;  dx = gy / x."""

    def forward(self, x):
        self.x = x
        return backend.get_array_module(x).log(x)

    def backward(self, gy):
        return gy / self.x


class Cast(Function):
    """y = x as another dtype;  dx = gy cast back."""

    def __init__(self, dtype: Any):
        self.dtype = dtype

    def forward(self, x):
        self.x_dtype = x.dtype
        return x.astype(self.dtype)

    def backward(self, gy):
        return gy.astype(self.x_dtype)


# ---------------------------------------------------------------------------- matmul


def _check_matmul(a: Any, b: Any) -> None:
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(f"matmul: scalars are not allowed, got shapes {tuple(a.shape)} and {tuple(b.shape)}")
    inner_a = a.shape[-1]
    inner_b = b.shape[0] if b.ndim == 1 else b.shape[-2]
    if inner_a != inner_b:
        raise ValueError(
            f"matmul: shapes {tuple(a.shape)} and {tuple(b.shape)} do not align "
            f"({inner_a} != {inner_b} in the contracted dimension)"
        )
    try:
        np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    except ValueError:
        raise _broadcast_error("matmul", a, b) from None


class MatMul(Function):
    """Y = A @ B (batched, broadcasting);  dA = gY @ B^T, dB = A^T @ gY (summed over broadcast)."""

    def forward(self, a, b):
        _check_matmul(a, b)
        self.a, self.b = a, b
        return a @ b

    def backward(self, gy):
        a, b = self.a, self.b
        a2 = a[None, :] if a.ndim == 1 else a
        b2 = b[:, None] if b.ndim == 1 else b
        g2 = gy
        if a.ndim == 1:
            g2 = g2[..., None, :]
        if b.ndim == 1:
            g2 = g2[..., None]
        ga = g2 @ b2.swapaxes(-1, -2)
        gb = a2.swapaxes(-1, -2) @ g2
        if a.ndim == 1:
            ga = ga[..., 0, :]
        if b.ndim == 1:
            gb = gb[..., 0]
        return sum_to_array(ga, a.shape), sum_to_array(gb, b.shape)


# ---------------------------------------------------------------------------- reductions


class Sum(Function):
    """y = sum(x, axis);  dx = broadcast(gy) back to x's shape (the Repeat node)."""

    def __init__(self, axis: Any = None, keepdims: bool = False):
        self.axis, self.keepdims = axis, keepdims

    def forward(self, x):
        self.shape = x.shape
        return x.sum(axis=self.axis, keepdims=self.keepdims)

    def backward(self, gy):
        xp = backend.get_array_module(gy)
        gy = _reduce_grad_shape(gy, self.shape, self.axis, self.keepdims)
        return xp.broadcast_to(gy, self.shape).copy()


class Mean(Function):
    """y = mean(x, axis);  dx = broadcast(gy) / n."""

    def __init__(self, axis: Any = None, keepdims: bool = False):
        self.axis, self.keepdims = axis, keepdims

    def forward(self, x):
        self.shape = x.shape
        kept = _reduced_shape(x.shape, self.axis) if self.axis is not None else ()
        self.count = int(np.prod([n for n in x.shape])) // builtins.max(1, int(np.prod(kept)))
        with np.errstate(invalid="ignore", divide="ignore"):  # mean of nothing is nan, like NumPy/PyTorch
            y = x.sum(axis=self.axis, keepdims=self.keepdims) / x.dtype.type(self.count)
        return y.astype(x.dtype, copy=False)

    def backward(self, gy):
        xp = backend.get_array_module(gy)
        gy = _reduce_grad_shape(gy, self.shape, self.axis, self.keepdims)
        return (xp.broadcast_to(gy, self.shape) / builtins.max(self.count, 1)).astype(gy.dtype)


class Max(Function):
    """y = max(x, axis);  dx = gy at the arg-max positions (ties share the gradient equally)."""

    def __init__(self, axis: Any = None, keepdims: bool = False):
        self.axis, self.keepdims = axis, keepdims

    def forward(self, x):
        self.x = x
        self.y = x.max(axis=self.axis, keepdims=True)
        if self.keepdims:
            return self.y
        return self.y.reshape(() if self.axis is None else _reduced_shape(x.shape, self.axis))

    def backward(self, gy):
        gy = _reduce_grad_shape(gy, self.x.shape, self.axis, self.keepdims)
        mask = self.x == self.y
        count = mask.sum(axis=self.axis, keepdims=True)
        return (mask * (gy / count)).astype(self.x.dtype)


class BroadcastTo(Function):
    """y = broadcast(x, shape) (the Repeat node);  dx = sum_to(gy, x.shape)."""

    def __init__(self, shape: tuple[int, ...]):
        self.shape = tuple(shape)

    def forward(self, x):
        self.x_shape = x.shape
        try:
            return backend.get_array_module(x).broadcast_to(x, self.shape)
        except ValueError:
            raise ValueError(f"broadcast_to: cannot broadcast shape {tuple(x.shape)} to {self.shape}") from None

    def backward(self, gy):
        return sum_to_array(gy, self.x_shape)


class SumTo(Function):
    """y = sum_to(x, shape) (the Sum node);  dx = broadcast(gy, x.shape)."""

    def __init__(self, shape: tuple[int, ...]):
        self.shape = tuple(shape)

    def forward(self, x):
        self.x_shape = x.shape
        return sum_to_array(x, self.shape)

    def backward(self, gy):
        return backend.get_array_module(gy).broadcast_to(gy, self.x_shape).copy()


# ---------------------------------------------------------------------------- shapes


class Reshape(Function):
    """y = reshape(x);  dx = reshape(gy, x.shape)."""

    def __init__(self, shape: tuple[int, ...]):
        self.shape = tuple(shape)

    def forward(self, x):
        self.x_shape = x.shape
        try:
            return x.reshape(self.shape)
        except ValueError:
            raise ValueError(f"reshape: cannot reshape {tuple(x.shape)} into {self.shape}") from None

    def backward(self, gy):
        return gy.reshape(self.x_shape)


class Transpose(Function):
    """y = x with axes permuted;  dx = gy with the inverse permutation."""

    def __init__(self, axes: Any = None):
        self.axes = axes

    def forward(self, x):
        self.ndim = x.ndim
        return x.transpose(self.axes)

    def backward(self, gy):
        if self.axes is None:
            return gy.transpose()
        inverse = np.argsort([a % self.ndim for a in self.axes])
        return gy.transpose(tuple(int(i) for i in inverse))


def _has_advanced_index(index: Any) -> bool:
    items = index if isinstance(index, tuple) else (index,)
    return builtins.any(not isinstance(i, (slice, int, type(None), type(Ellipsis))) for i in items)


class GetItem(Function):
    """y = x[index];  dx = zeros with gy scatter-added at index (repeated indices accumulate)."""

    def __init__(self, index: Any):
        self.index = index

    def forward(self, x):
        self.x_shape, self.x_dtype = x.shape, x.dtype
        try:
            return x[self.index]
        except IndexError as err:
            raise IndexError(f"getitem: index {self.index!r} is invalid for shape {tuple(x.shape)}: {err}") from None

    def backward(self, gy):
        xp = backend.get_array_module(gy)
        gx = xp.zeros(self.x_shape, dtype=gy.dtype)
        if _has_advanced_index(self.index):
            xp.add.at(gx, self.index, gy)  # repeated indices accumulate (numpy and cupy alike)
        else:
            gx[self.index] = gy
        return gx


class Concat(Function):
    """y = concat(x_1..x_n, axis);  dx_i = the slice of gy that came from x_i."""

    def __init__(self, axis: int = 0):
        self.axis = axis

    def forward(self, *xs):
        xp = backend.get_array_module(xs[0])
        self.sizes = [x.shape[self.axis] for x in xs]
        try:
            return xp.concatenate(xs, axis=self.axis)
        except ValueError:
            raise ValueError(f"concat: shapes {[tuple(x.shape) for x in xs]} differ off axis {self.axis}") from None

    def backward(self, gy):
        xp = backend.get_array_module(gy)
        splits = np.cumsum(self.sizes)[:-1].tolist()
        return tuple(xp.split(gy, splits, axis=self.axis))


class Stack(Function):
    """y = stack(x_1..x_n, axis);  dx_i = gy taken at position i of the new axis."""

    def __init__(self, axis: int = 0):
        self.axis = axis

    def forward(self, *xs):
        xp = backend.get_array_module(xs[0])
        try:
            return xp.stack(xs, axis=self.axis)
        except ValueError:
            raise ValueError(f"stack: shapes {[tuple(x.shape) for x in xs]} must be equal") from None

    def backward(self, gy):
        xp = backend.get_array_module(gy)
        return tuple(xp.take(gy, i, axis=self.axis) for i in range(gy.shape[self.axis]))


class Split(Function):
    """(y_1..y_n) = split(x, sections, axis);  dx = concat(gy_i) (zeros for unused outputs)."""

    def __init__(self, sections: Any, axis: int = 0):
        self.sections, self.axis = sections, axis

    def forward(self, x):
        xp = backend.get_array_module(x)
        outputs = xp.split(x, self.sections, axis=self.axis)
        self.shapes = [o.shape for o in outputs]
        self.dtype = x.dtype
        return tuple(outputs)

    def backward(self, *gys):
        xp = backend.get_array_module(next(g for g in gys if g is not None))
        parts = [g if g is not None else xp.zeros(s, dtype=self.dtype) for g, s in zip(gys, self.shapes)]
        return xp.concatenate(parts, axis=self.axis)


class Where(Function):
    """y = where(cond, a, b);  da = gy where cond, db = gy elsewhere (each summed to its shape)."""

    def __init__(self, condition: Any):
        self.condition = condition

    def forward(self, a, b):
        self.shapes = (a.shape, b.shape)
        xp = backend.get_array_module(a)
        self.condition = xp.asarray(self.condition)
        return xp.where(self.condition, a, b)

    def backward(self, gy):
        zero = gy.dtype.type(0)
        xp = backend.get_array_module(gy)
        ga = xp.where(self.condition, gy, zero)
        gb = xp.where(self.condition, zero, gy)
        return sum_to_array(ga, self.shapes[0]), sum_to_array(gb, self.shapes[1])


class Clip(Function):
    """y = min(max(x, lo), hi);  dx = gy where lo <= x <= hi, else 0."""

    def __init__(self, low: float | None, high: float | None):
        self.low, self.high = low, high

    def forward(self, x):
        self.x = x
        return backend.get_array_module(x).clip(x, self.low, self.high)

    def backward(self, gy):
        xp = backend.get_array_module(gy)
        mask = xp.ones(self.x.shape, dtype=bool)
        if self.low is not None:
            mask &= self.x >= self.low
        if self.high is not None:
            mask &= self.x <= self.high
        return gy * mask


# ---------------------------------------------------------------------------- public API


def _match_scalar(a: Any, b: Any) -> tuple[Any, Any]:
    """Give a Python number the dtype of the other operand, so ``2 * x`` stays float32."""
    if isinstance(a, (int, float)) and not isinstance(a, bool) and hasattr(b, "dtype") and b.dtype.kind == "f":
        a = backend.get_array_module(getattr(b, "data", b)).asarray(a, dtype=b.dtype)
    elif isinstance(b, (int, float)) and not isinstance(b, bool) and hasattr(a, "dtype") and a.dtype.kind == "f":
        b = backend.get_array_module(getattr(a, "data", a)).asarray(b, dtype=a.dtype)
    return a, b


def add(a, b) -> Tensor:
    return Add()(*_match_scalar(a, b))


def sub(a, b) -> Tensor:
    return Sub()(*_match_scalar(a, b))


def mul(a, b) -> Tensor:
    return Mul()(*_match_scalar(a, b))


def div(a, b) -> Tensor:
    return Div()(*_match_scalar(a, b))


def neg(x) -> Tensor:
    return Neg()(x)


def pow(x, exponent: float) -> Tensor:  # noqa: A001 - mirrors torch.pow
    if isinstance(exponent, Tensor):
        return exp(mul(exponent, log(x)))
    return Pow(exponent)(x)


def exp(x) -> Tensor:
    return Exp()(x)


def log(x) -> Tensor:
    return Log()(x)


def cast(x, dtype: Any) -> Tensor:
    return Cast(dtype)(x)


def matmul(a, b) -> Tensor:
    return MatMul()(a, b)


def sum(x, axis: Any = None, keepdims: bool = False) -> Tensor:  # noqa: A001
    return Sum(axis, keepdims)(x)


def mean(x, axis: Any = None, keepdims: bool = False) -> Tensor:
    return Mean(axis, keepdims)(x)


def max(x, axis: Any = None, keepdims: bool = False) -> Tensor:  # noqa: A001
    return Max(axis, keepdims)(x)


def broadcast_to(x, shape: tuple[int, ...]) -> Tensor:
    x = as_tensor(x)
    if x.shape == tuple(shape):
        return x
    return BroadcastTo(shape)(x)


def sum_to(x, shape: tuple[int, ...]) -> Tensor:
    x = as_tensor(x)
    if x.shape == tuple(shape):
        return x
    return SumTo(shape)(x)


def reshape(x, shape: tuple[int, ...]) -> Tensor:
    return Reshape(shape)(x)


def transpose(x, axes: Any = None) -> Tensor:
    return Transpose(axes)(x)


def getitem(x, index: Any) -> Tensor:
    if isinstance(index, Tensor):
        index = index.data
    elif isinstance(index, tuple):
        index = tuple(i.data if isinstance(i, Tensor) else i for i in index)
    return GetItem(index)(x)


def concat(xs, axis: int = 0) -> Tensor:
    return Concat(axis)(*xs)


cat = concat


def stack(xs, axis: int = 0) -> Tensor:
    return Stack(axis)(*xs)


def split(x, sections: Any, axis: int = 0) -> tuple[Tensor, ...]:
    result = Split(sections, axis)(x)
    return result if isinstance(result, tuple) else (result,)


def where(condition: Any, a, b) -> Tensor:
    if isinstance(condition, Tensor):
        condition = condition.data
    return Where(condition)(*_match_scalar(a, b))


def clip(x, low: float | None = None, high: float | None = None) -> Tensor:
    return Clip(low, high)(x)


clamp = clip
