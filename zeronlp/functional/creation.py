"""Tensor factories named as in PyTorch: zeros, ones, full, eye, arange, rand, randn and ``*_like``.

Floats get the default dtype (float32) unless ``dtype`` is given; random ones draw from the
backend's one Generator, so :func:`zeronlp.manual_seed` makes them repeatable.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import backend
from ..autograd import Tensor, as_tensor
from ..errors import UsageError


def _shape(op: str, shape: tuple) -> tuple[int, ...]:
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    if not all(isinstance(n, (int, np.integer)) and not isinstance(n, bool) for n in shape):
        raise TypeError(f"{op}: sizes must be ints, got {shape!r}")
    if any(n < 0 for n in shape):
        raise UsageError(f"{op}: sizes must be >= 0, got {tuple(shape)}")
    return tuple(int(n) for n in shape)


def _float_dtype(op: str, dtype: Any) -> Any:
    dtype = np.dtype(backend.get_default_dtype() if dtype is None else dtype)
    return dtype


def _make(array: Any, requires_grad: bool) -> Tensor:
    return Tensor(array, requires_grad=requires_grad)


def zeros(*shape, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """A tensor of zeros: ``zeros(2, 3)`` or ``zeros((2, 3))``."""
    return _make(backend.xp().zeros(_shape("zeros", shape), dtype=_float_dtype("zeros", dtype)), requires_grad)


def ones(*shape, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """A tensor of ones."""
    return _make(backend.xp().ones(_shape("ones", shape), dtype=_float_dtype("ones", dtype)), requires_grad)


def full(shape: Any, fill_value: float, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """A tensor of ``fill_value`` (an int fill gives int64 unless ``dtype`` says otherwise, as in PyTorch)."""
    shape = _shape("full", (shape,) if isinstance(shape, (int, np.integer)) else (tuple(shape),))
    if dtype is None:
        dtype = np.int64 if isinstance(fill_value, (int, np.integer)) and not isinstance(fill_value, bool) \
            else bool if isinstance(fill_value, bool) else backend.get_default_dtype()
    return _make(backend.xp().full(shape, fill_value, dtype=dtype), requires_grad)


def eye(n: int, m: int | None = None, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """The ``n x m`` identity matrix."""
    _shape("eye", (n,) if m is None else (n, m))
    return _make(backend.xp().eye(n, m, dtype=_float_dtype("eye", dtype)), requires_grad)


def arange(start: float, end: float | None = None, step: float = 1, dtype: Any = None,
           requires_grad: bool = False) -> Tensor:
    """``start, start + step, ...`` below ``end``; int64 for int arguments, else the default float dtype."""
    if end is None:
        start, end = 0, start
    if step == 0:
        raise UsageError("arange: step must be nonzero")
    if dtype is None:
        ints = all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in (start, end, step))
        dtype = np.int64 if ints else backend.get_default_dtype()
    return _make(backend.xp().arange(start, end, step, dtype=dtype), requires_grad)


def _sample(name: str, method: str, shape: tuple, dtype: Any, requires_grad: bool) -> Tensor:
    """Draw ``shape`` from the backend Generator's ``method`` (float32/64 drawn directly, float16 cast)."""
    dtype = _float_dtype(name, dtype)
    if dtype.kind != "f":
        raise TypeError(f"{name}: dtype must be floating, got {dtype}")
    draw = dtype if dtype in (np.float32, np.float64) else np.float32
    array = getattr(backend.get_rng(), method)(_shape(name, shape), dtype=draw).astype(dtype, copy=False)
    return _make(array, requires_grad)


def rand(*shape, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Uniform samples in [0, 1) from the backend's Generator."""
    return _sample("rand", "random", shape, dtype, requires_grad)


def randn(*shape, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Standard normal samples from the backend's Generator."""
    return _sample("randn", "standard_normal", shape, dtype, requires_grad)


def _like(x: Any) -> Tensor:
    return as_tensor(x)


def zeros_like(x, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    x = _like(x)
    return zeros(x.shape, dtype=dtype or x.dtype, requires_grad=requires_grad)


def ones_like(x, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    x = _like(x)
    return ones(x.shape, dtype=dtype or x.dtype, requires_grad=requires_grad)


def full_like(x, fill_value: float, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    x = _like(x)
    return full(x.shape, fill_value, dtype=dtype or x.dtype, requires_grad=requires_grad)


def rand_like(x, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    x = _like(x)
    return rand(x.shape, dtype=dtype or x.dtype, requires_grad=requires_grad)


def randn_like(x, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    x = _like(x)
    return randn(x.shape, dtype=dtype or x.dtype, requires_grad=requires_grad)


__all__ = ["zeros", "ones", "full", "eye", "arange", "rand", "randn",
           "zeros_like", "ones_like", "full_like", "rand_like", "randn_like"]
