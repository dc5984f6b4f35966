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
from ..autograd import Function, Tensor, array_of, as_tensor
from ..errors import UsageError

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


def check_axis(op: str, axis: Any, shape: tuple[int, ...]) -> Any:
    """``axis`` (None, an int or a tuple) checked against ``shape``; out of range is a UsageError naming ``op``."""
    if axis is None:
        return None
    ndim = len(shape)
    items = axis if isinstance(axis, (tuple, list)) else (axis,)
    for a in items:
        if isinstance(a, bool) or not isinstance(a, (int, np.integer)):
            raise TypeError(f"{op}: axis must be an int or a tuple of ints, got {axis!r}")
        if not -builtins.max(ndim, 1) <= a < builtins.max(ndim, 1) or (ndim == 0 and a not in (0, -1)):
            raise UsageError(f"{op}: axis {a} is out of range for a tensor of shape {tuple(shape)} ({ndim} dimensions)")
    if ndim == 0:
        return None
    if isinstance(axis, (tuple, list)):
        normal = tuple(int(a) % ndim for a in axis)
        if len(set(normal)) != len(normal):
            raise UsageError(f"{op}: axis {axis!r} repeats a dimension")
        return normal
    return int(axis) % ndim


def require_float(op: str, x: Any) -> None:
    """Ops whose result is not an integer (exp, sigmoid, mean, ...) refuse integer/bool input."""
    if x.dtype.kind not in "fc":
        raise TypeError(
            f"{op}: needs a floating-point input, got dtype {x.dtype} (shape {tuple(x.shape)}); "
            "cast it first, e.g. x.astype(np.float32)"
        )


def promote(a: Any, b: Any) -> tuple[Any, Any]:
    """PyTorch's promotion for mixed inputs: an integer/bool array meets a float one as that float dtype
    (NumPy would turn float32 + int64 into float64), and a 0-d operand of the same kind takes the dtype
    of the other (float32 + a float64 scalar stays float32)."""
    if a.dtype == b.dtype:
        return a, b
    ka, kb = a.dtype.kind, b.dtype.kind
    if ka == "f" and kb in "iub":
        return a, b.astype(a.dtype)
    if kb == "f" and ka in "iub":
        return a.astype(b.dtype), b
    if ka == kb or {ka, kb} <= {"i", "u"}:  # same category: a 0-d operand takes the other's dtype
        if a.ndim == 0 and b.ndim > 0:
            return a.astype(b.dtype), b
        if b.ndim == 0 and a.ndim > 0:
            return a, b.astype(a.dtype)
    return a, b


def flip_array(array: Any, axis: int) -> Any:
    return array[tuple(slice(None, None, -1) if i == axis else slice(None) for i in range(array.ndim))]


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
        a, b = promote(a, b)
        return a + b

    def backward(self, gy):
        return sum_to_array(gy, self.shapes[0]), sum_to_array(gy, self.shapes[1])

    def backward_graph(self, gy):
        return sum_to(gy, self.shapes[0]), sum_to(gy, self.shapes[1])


class Sub(Function):
    """y = a - b;  da = sum_to(gy), db = -sum_to(gy)."""

    def forward(self, a, b):
        _binary_arrays("sub", a, b)
        self.shapes = (a.shape, b.shape)
        a, b = promote(a, b)
        return a - b

    def backward(self, gy):
        return sum_to_array(gy, self.shapes[0]), -sum_to_array(gy, self.shapes[1])

    def backward_graph(self, gy):
        return sum_to(gy, self.shapes[0]), neg(sum_to(gy, self.shapes[1]))


class Mul(Function):
    """y = a * b;  da = sum_to(gy * b), db = sum_to(gy * a)."""

    def forward(self, a, b):
        _binary_arrays("mul", a, b)
        self.a, self.b = promote(a, b)
        return self.a * self.b

    def backward(self, gy):
        a, b = self.a, self.b
        ga = sum_to_array(gy * b, a.shape) if self.needs_input_grad[0] else None
        gb = sum_to_array(gy * a, b.shape) if self.needs_input_grad[1] else None
        return ga, gb

    def backward_graph(self, gy):
        a, b = self.inputs
        return sum_to(mul(gy, b), a.shape), sum_to(mul(gy, a), b.shape)


class Div(Function):
    """y = a / b;  da = sum_to(gy / b), db = sum_to(-gy * a / b^2)."""

    def forward(self, a, b):
        _binary_arrays("div", a, b)
        a, b = promote(a, b)
        if a.dtype.kind in "iub" and b.dtype.kind in "iub":  # true division of integers, as in PyTorch
            a, b = a.astype(backend.get_default_dtype()), b.astype(backend.get_default_dtype())
        self.a, self.b = a, b
        return a / b

    def backward(self, gy):
        a, b = self.a, self.b
        ga = gy / b
        return sum_to_array(ga, a.shape), sum_to_array(-ga * a / b, b.shape)

    def backward_graph(self, gy):
        a, b = self.inputs
        ga = div(gy, b)
        return sum_to(ga, a.shape), sum_to(neg(div(mul(ga, a), b)), b.shape)


class Neg(Function):
    """y = -x;  dx = -gy."""

    def forward(self, x):
        return -x

    def backward(self, gy):
        return -gy

    def backward_graph(self, gy):
        return neg(gy)


class Pow(Function):
    """y = x^c for a constant c;  dx = c x^(c-1) gy."""

    def __init__(self, exponent: float):
        self.exponent = exponent

    def forward(self, x):
        self.x = x
        if x.dtype.kind in "iub" and (isinstance(self.exponent, float) or self.exponent < 0):
            raise TypeError(f"pow: integer tensor (dtype {x.dtype}) to a non-integer or negative power "
                            f"{self.exponent!r}; cast it to float first")
        return x**self.exponent

    def backward(self, gy):
        c = self.exponent
        return (x_scalar(c, gy) * self.x ** (c - 1)) * gy

    def backward_graph(self, gy):
        (x,) = self.inputs
        c = self.exponent
        return mul(mul(pow(x, c - 1), c), gy)


class Exp(Function):
    """y = e^x;  dx = y gy."""

    def forward(self, x):
        require_float("exp", x)
        self.y = backend.get_array_module(x).exp(x)
        return self.y

    def backward(self, gy):
        return gy * self.y

    def backward_graph(self, gy):
        return mul(gy, self.output())


class Log(Function):
    """y = ln x;  dx = gy / x."""

    def forward(self, x):
        require_float("log", x)
        self.x = x
        return backend.get_array_module(x).log(x)

    def backward(self, gy):
        return gy / self.x

    def backward_graph(self, gy):
        return div(gy, self.inputs[0])


class Cast(Function):
    """y = x as another dtype;  dx = gy cast back."""

    def __init__(self, dtype: Any):
        self.dtype = dtype

    def forward(self, x):
        self.x_dtype = x.dtype
        return x.astype(self.dtype)

    def backward(self, gy):
        return gy.astype(self.x_dtype)

    def backward_graph(self, gy):
        return cast(gy, self.x_dtype)


# ---------------------------------------------------------------------------- matmul


def _matmul_views(a_shape: tuple, b_shape: tuple) -> tuple[tuple, tuple, tuple]:
    """Shapes of A, B and gY as batched matrices (a 1-D operand becomes a row / a column)."""
    a2 = (1,) + tuple(a_shape) if len(a_shape) == 1 else tuple(a_shape)
    b2 = tuple(b_shape) + (1,) if len(b_shape) == 1 else tuple(b_shape)
    batch = np.broadcast_shapes(a2[:-2], b2[:-2])
    return a2, b2, tuple(batch) + (a2[-2], b2[-1])


def _swap_last(x: Tensor) -> Tensor:
    axes = tuple(range(x.ndim - 2)) + (x.ndim - 1, x.ndim - 2)
    return transpose(x, axes)


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
        self.a, self.b = promote(a, b)
        return self.a @ self.b

    def backward(self, gy):
        a, b = self.a, self.b
        a_shape, b_shape, g_shape = _matmul_views(a.shape, b.shape)
        a2, b2, g2 = a.reshape(a_shape), b.reshape(b_shape), gy.reshape(g_shape)
        ga = sum_to_array(g2 @ b2.swapaxes(-1, -2), a_shape).reshape(a.shape) if self.needs_input_grad[0] else None
        gb = sum_to_array(a2.swapaxes(-1, -2) @ g2, b_shape).reshape(b.shape) if self.needs_input_grad[1] else None
        return ga, gb

    def backward_graph(self, gy):
        a, b = self.inputs
        a_shape, b_shape, g_shape = _matmul_views(a.shape, b.shape)
        a2, b2, g2 = reshape(a, a_shape), reshape(b, b_shape), reshape(gy, g_shape)
        ga = reshape(sum_to(matmul(g2, _swap_last(b2)), a_shape), a.shape)
        gb = reshape(sum_to(matmul(_swap_last(a2), g2), b_shape), b.shape)
        return ga, gb


# ---------------------------------------------------------------------------- reductions


class Sum(Function):
    """y = sum(x, axis);  dx = broadcast(gy) back to x's shape (the Repeat node)."""

    def __init__(self, axis: Any = None, keepdims: bool = False):
        self.axis, self.keepdims = axis, keepdims

    def forward(self, x):
        self.axis = check_axis("sum", self.axis, x.shape)
        self.shape = x.shape
        if x.dtype == np.float16:  # accumulate in float32, as PyTorch does
            return x.sum(axis=self.axis, keepdims=self.keepdims, dtype=np.float32).astype(np.float16)
        return x.sum(axis=self.axis, keepdims=self.keepdims)

    def backward(self, gy):
        xp = backend.get_array_module(gy)
        gy = _reduce_grad_shape(gy, self.shape, self.axis, self.keepdims)
        return xp.broadcast_to(gy, self.shape).copy()

    def backward_graph(self, gy):
        kept = _reduce_grad_shape(gy.data, self.shape, self.axis, self.keepdims).shape
        return broadcast_to(reshape(gy, kept), self.shape)


class Mean(Function):
    """y = mean(x, axis);  dx = broadcast(gy) / n."""

    def __init__(self, axis: Any = None, keepdims: bool = False):
        self.axis, self.keepdims = axis, keepdims

    def forward(self, x):
        require_float("mean", x)
        self.axis = check_axis("mean", self.axis, x.shape)
        self.shape = x.shape
        kept = _reduced_shape(x.shape, self.axis) if self.axis is not None else ()
        self.count = int(np.prod([n for n in x.shape])) // builtins.max(1, int(np.prod(kept)))
        acc = np.float32 if x.dtype == np.float16 else x.dtype  # float16 sums overflow: accumulate in float32
        with np.errstate(invalid="ignore", divide="ignore"):  # mean of nothing is nan, like NumPy/PyTorch
            y = x.sum(axis=self.axis, keepdims=self.keepdims, dtype=acc) / np.dtype(acc).type(self.count)
        return backend.get_array_module(x).asarray(y).astype(x.dtype, copy=False)

    def backward(self, gy):
        xp = backend.get_array_module(gy)
        gy = _reduce_grad_shape(gy, self.shape, self.axis, self.keepdims)
        return (xp.broadcast_to(gy, self.shape) / gy.dtype.type(builtins.max(self.count, 1))).astype(gy.dtype)

    def backward_graph(self, gy):
        kept = _reduce_grad_shape(gy.data, self.shape, self.axis, self.keepdims).shape
        return div(broadcast_to(reshape(gy, kept), self.shape), builtins.max(self.count, 1))


class Max(Function):
    """y = max(x, axis);  dx = gy at the arg-max positions (ties share the gradient equally)."""

    def __init__(self, axis: Any = None, keepdims: bool = False):
        self.axis, self.keepdims = axis, keepdims

    def forward(self, x):
        self.axis = check_axis("max", self.axis, x.shape)
        reduced = x.shape if self.axis is None else [x.shape[a] for a in np.atleast_1d(self.axis)]
        if x.size == 0 or 0 in reduced:
            raise UsageError(f"max: cannot reduce an empty axis (input shape {tuple(x.shape)}, axis {self.axis})")
        self.x = x
        self.y = x.max(axis=self.axis, keepdims=True)
        if self.keepdims:
            return self.y
        return self.y.reshape(() if self.axis is None else _reduced_shape(x.shape, self.axis))

    def _weights(self):
        mask = self.x == self.y
        return (mask / mask.sum(axis=self.axis, keepdims=True)).astype(self.x.dtype)

    def backward(self, gy):
        gy = _reduce_grad_shape(gy, self.x.shape, self.axis, self.keepdims)
        return (self._weights() * gy).astype(self.x.dtype)

    def backward_graph(self, gy):
        kept = _reduce_grad_shape(gy.data, self.x.shape, self.axis, self.keepdims).shape
        return mul(broadcast_to(reshape(gy, kept), self.x.shape), self._weights())


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

    def backward_graph(self, gy):
        return sum_to(gy, self.x_shape)


class SumTo(Function):
    """y = sum_to(x, shape) (the Sum node);  dx = broadcast(gy, x.shape)."""

    def __init__(self, shape: tuple[int, ...]):
        self.shape = tuple(shape)

    def forward(self, x):
        self.x_shape = x.shape
        try:
            fits = len(self.shape) <= x.ndim and np.broadcast_shapes(self.shape, x.shape) == tuple(x.shape)
        except ValueError:
            fits = False
        if not fits:
            raise UsageError(f"sum_to: shape {tuple(x.shape)} cannot be summed to {self.shape} "
                             f"({self.shape} does not broadcast to {tuple(x.shape)})")
        return sum_to_array(x, self.shape)

    def backward(self, gy):
        return backend.get_array_module(gy).broadcast_to(gy, self.x_shape).copy()

    def backward_graph(self, gy):
        return broadcast_to(gy, self.x_shape)


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

    def backward_graph(self, gy):
        return reshape(gy, self.x_shape)


class Transpose(Function):
    """y = x with axes permuted;  dx = gy with the inverse permutation."""

    def __init__(self, axes: Any = None):
        self.axes = axes

    def forward(self, x):
        self.ndim = x.ndim
        if self.axes is not None:
            axes = check_axis("transpose", tuple(self.axes), x.shape) if x.ndim else tuple(self.axes)
            if len(axes) != x.ndim:
                raise UsageError(f"transpose: axes {tuple(self.axes)} do not permute the {x.ndim} dimensions "
                                 f"of shape {tuple(x.shape)}")
            self.axes = axes
        return x.transpose(self.axes)

    def _inverse(self):
        if self.axes is None:
            return None
        return tuple(int(i) for i in np.argsort([a % self.ndim for a in self.axes]))

    def backward(self, gy):
        return gy.transpose(self._inverse())

    def backward_graph(self, gy):
        return transpose(gy, self._inverse())


def _has_advanced_index(index: Any) -> bool:
    items = index if isinstance(index, tuple) else (index,)
    return builtins.any(not isinstance(i, (slice, int, type(None), type(Ellipsis))) for i in items)


class InvalidIndexError(UsageError, IndexError):
    """An index out of range for the tensor: a UsageError naming the op, and the IndexError that
    Python's indexing protocol (and PyTorch) raise."""


class GetItem(Function):
    """y = x[index];  dx = zeros with gy scatter-added at index (repeated indices accumulate)."""

    def __init__(self, index: Any):
        self.index = index

    def forward(self, x):
        self.x_shape, self.x_dtype = x.shape, x.dtype
        try:
            return x[self.index]
        except (IndexError, TypeError, ValueError) as err:
            kind = InvalidIndexError if isinstance(err, IndexError) else UsageError
            raise kind(f"getitem: index {self.index!r} is invalid for shape {tuple(x.shape)}: {err}") from None

    def backward(self, gy):
        return _scatter_add(gy, self.index, self.x_shape)

    def backward_graph(self, gy):
        return GetItemGrad(self.index, self.x_shape)(gy)


def _scatter_add(gy: Any, index: Any, shape: tuple[int, ...]) -> Any:
    xp = backend.get_array_module(gy)
    gx = xp.zeros(shape, dtype=gy.dtype)
    if _has_advanced_index(index):
        xp.add.at(gx, index, gy)  # repeated indices accumulate (numpy and cupy alike)
    else:
        gx[index] = gy
    return gx


class GetItemGrad(Function):
    """y = zeros(shape) with x scatter-added at index (GetItem's backward);  dx = gy[index]."""

    def __init__(self, index: Any, shape: tuple[int, ...]):
        self.index, self.shape = index, shape

    def forward(self, x):
        return _scatter_add(x, self.index, self.shape)

    def backward(self, gy):
        return gy[self.index]

    def backward_graph(self, gy):
        return getitem(gy, self.index)


class Concat(Function):
    """y = concat(x_1..x_n, axis);  dx_i = the slice of gy that came from x_i."""

    def __init__(self, axis: int = 0):
        self.axis = axis

    def forward(self, *xs):
        if not xs:
            raise UsageError("concat: needs at least one tensor")
        xp = backend.get_array_module(xs[0])
        if any(x.ndim != xs[0].ndim or x.ndim == 0 for x in xs):
            raise UsageError(f"concat: tensors need the same number (>= 1) of dimensions, got shapes "
                             f"{[tuple(x.shape) for x in xs]}")
        self.axis = check_axis("concat", self.axis, xs[0].shape)
        self.sizes = [x.shape[self.axis] for x in xs]
        xs = _promote_all(xs)
        try:
            return xp.concatenate(xs, axis=self.axis)
        except ValueError:
            raise ValueError(f"concat: shapes {[tuple(x.shape) for x in xs]} differ off axis {self.axis}") from None

    def backward(self, gy):
        xp = backend.get_array_module(gy)
        splits = np.cumsum(self.sizes)[:-1].tolist()
        return tuple(xp.split(gy, splits, axis=self.axis))

    def backward_graph(self, gy):
        return split(gy, np.cumsum(self.sizes)[:-1].tolist(), axis=self.axis)


def _promote_all(xs: Any) -> Any:
    """Mixed float and integer inputs meet as the float dtype (PyTorch's promotion)."""
    floats = [x.dtype for x in xs if x.dtype.kind == "f"]
    if not floats or all(x.dtype == xs[0].dtype for x in xs):
        return xs
    target = np.result_type(*floats)
    return [x.astype(target, copy=False) for x in xs]


class Stack(Function):
    """y = stack(x_1..x_n, axis);  dx_i = gy taken at position i of the new axis."""

    def __init__(self, axis: int = 0):
        self.axis = axis

    def forward(self, *xs):
        if not xs:
            raise UsageError("stack: needs at least one tensor")
        xp = backend.get_array_module(xs[0])
        self.axis = check_axis("stack", self.axis, (1,) + tuple(xs[0].shape))
        try:
            return xp.stack(_promote_all(xs), axis=self.axis)
        except ValueError:
            raise ValueError(f"stack: shapes {[tuple(x.shape) for x in xs]} must be equal") from None

    def backward(self, gy):
        xp = backend.get_array_module(gy)
        return tuple(xp.take(gy, i, axis=self.axis) for i in range(gy.shape[self.axis]))

    def backward_graph(self, gy):
        lead = (slice(None),) * self.axis
        return tuple(getitem(gy, lead + (i,)) for i in range(gy.shape[self.axis]))


class Split(Function):
    """(y_1..y_n) = split(x, sections, axis);  dx = concat(gy_i) (zeros for unused outputs)."""

    def __init__(self, sections: Any, axis: int = 0):
        self.sections, self.axis = sections, axis

    def forward(self, x):
        xp = backend.get_array_module(x)
        if x.ndim == 0:
            raise UsageError("split: cannot split a 0-d tensor")
        self.axis = check_axis("split", self.axis, x.shape)
        try:
            outputs = xp.split(x, self.sections, axis=self.axis)
        except (ValueError, TypeError) as err:
            raise UsageError(f"split: cannot split shape {tuple(x.shape)} into {self.sections!r} "
                             f"along axis {self.axis}: {err}") from None
        self.shapes = [o.shape for o in outputs]
        self.dtype = x.dtype
        return tuple(outputs)

    def backward(self, *gys):
        xp = backend.get_array_module(next(g for g in gys if g is not None))
        parts = [g if g is not None else xp.zeros(s, dtype=self.dtype) for g, s in zip(gys, self.shapes)]
        return xp.concatenate(parts, axis=self.axis)

    def backward_graph(self, *gys):
        xp = backend.get_array_module(next(g for g in gys if g is not None).data)
        parts = [g if g is not None else Tensor(xp.zeros(s, dtype=self.dtype)) for g, s in zip(gys, self.shapes)]
        return concat(parts, axis=self.axis)


class Where(Function):
    """y = where(cond, a, b);  da = gy where cond, db = gy elsewhere (each summed to its shape)."""

    def __init__(self, condition: Any):
        self.condition = condition

    def forward(self, a, b):
        self.shapes = (a.shape, b.shape)
        xp = backend.get_array_module(a)
        self.condition = xp.asarray(self.condition)
        try:
            np.broadcast_shapes(self.condition.shape, a.shape, b.shape)
        except ValueError:
            raise ValueError(f"where: condition {tuple(self.condition.shape)}, a {tuple(a.shape)} and "
                             f"b {tuple(b.shape)} cannot be broadcast together") from None
        if self.condition.dtype != bool:
            raise TypeError(f"where: condition must be boolean, got dtype {self.condition.dtype}")
        a, b = promote(a, b)
        return xp.where(self.condition, a, b)

    def backward(self, gy):
        zero = gy.dtype.type(0)
        xp = backend.get_array_module(gy)
        ga = xp.where(self.condition, gy, zero)
        gb = xp.where(self.condition, zero, gy)
        return sum_to_array(ga, self.shapes[0]), sum_to_array(gb, self.shapes[1])

    def backward_graph(self, gy):
        zero = gy.dtype.type(0)
        ga = where(self.condition, gy, zero)
        gb = where(self.condition, zero, gy)
        return sum_to(ga, self.shapes[0]), sum_to(gb, self.shapes[1])


class Clip(Function):
    """y = min(max(x, lo), hi);  dx = gy where lo <= x <= hi, else 0."""

    def __init__(self, low: float | None, high: float | None):
        self.low, self.high = low, high

    def forward(self, x):
        if x.dtype.kind in "iub" and any(isinstance(b, float) for b in (self.low, self.high)):
            x = x.astype(backend.get_default_dtype())  # PyTorch: an integer tensor clamped to floats
        self.x = x
        return backend.get_array_module(x).clip(x, self.low, self.high)

    def _mask(self):
        xp = backend.get_array_module(self.x)
        mask = xp.ones(self.x.shape, dtype=bool)
        if self.low is not None:
            mask &= self.x >= self.low
        if self.high is not None:
            mask &= self.x <= self.high
        return mask.astype(self.x.dtype)

    def backward(self, gy):
        return gy * self._mask()

    def backward_graph(self, gy):
        return mul(gy, self._mask())


# ---------------------------------------------------------------------------- public API


def x_scalar(value: float, like: Any) -> Any:
    """A Python number as a 0-d array of ``like``'s float dtype (so float32 stays float32)."""
    return like.dtype.type(value) if like.dtype.kind == "f" else value


def _match_scalar(a: Any, b: Any) -> tuple[Any, Any]:
    """Give a Python number the dtype of the other operand, so ``2 * x`` stays float32."""
    if isinstance(a, (int, float)) and not isinstance(a, bool) and hasattr(b, "dtype") and b.dtype.kind == "f":
        a = backend.get_array_module(array_of(b)).asarray(a, dtype=b.dtype)
    elif isinstance(b, (int, float)) and not isinstance(b, bool) and hasattr(a, "dtype") and a.dtype.kind == "f":
        b = backend.get_array_module(array_of(a)).asarray(b, dtype=a.dtype)
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
    return Sum(tuple(axis) if isinstance(axis, list) else axis, keepdims)(x)


def mean(x, axis: Any = None, keepdims: bool = False) -> Tensor:
    return Mean(tuple(axis) if isinstance(axis, list) else axis, keepdims)(x)


def max(x, axis: Any = None, keepdims: bool = False) -> Tensor:  # noqa: A001
    return Max(tuple(axis) if isinstance(axis, list) else axis, keepdims)(x)


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
    if isinstance(xs, Tensor) or not hasattr(xs, "__len__"):
        raise TypeError(f"concat: expects a list of tensors, got {type(xs).__name__}")
    return Concat(axis)(*xs)


cat = concat


def stack(xs, axis: int = 0) -> Tensor:
    if isinstance(xs, Tensor) or not hasattr(xs, "__len__"):
        raise TypeError(f"stack: expects a list of tensors, got {type(xs).__name__}")
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
