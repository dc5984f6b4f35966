"""Shape and indexing ops named as in PyTorch: squeeze, unsqueeze, flatten, expand, repeat/tile,
permute, flip, pad, gather/take_along_axis, masked_fill.

Most are compositions of :mod:`.basic` Functions (reshape, broadcast_to, transpose, getitem, where),
so their gradients, and gradients of gradients, come from those; :class:`Pad` is its own Function.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import backend
from ..autograd import Function, Tensor, as_tensor
from ..errors import UsageError
from .basic import broadcast_to, check_axis, getitem, reshape, transpose, where
from .embedding import IdOutOfRangeError


def _sizes(op: str, sizes: tuple) -> tuple[int, ...]:
    """``f(x, 2, 3)`` or ``f(x, (2, 3))``: the sizes as a tuple of ints."""
    if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)):
        sizes = tuple(sizes[0])
    if not all(isinstance(n, (int, np.integer)) and not isinstance(n, bool) for n in sizes):
        raise TypeError(f"{op}: sizes must be ints, got {sizes!r}")
    return tuple(int(n) for n in sizes)


def squeeze(x, axis: Any = None) -> Tensor:
    """Drop size-1 dimensions (all, or those in ``axis``; a named axis of another size is kept, as in PyTorch)."""
    x = as_tensor(x)
    axes = check_axis("squeeze", axis, x.shape)
    if axes is None:
        axes = tuple(range(x.ndim))
    axes = axes if isinstance(axes, tuple) else (axes,)
    shape = tuple(n for i, n in enumerate(x.shape) if not (i in axes and n == 1))
    return x if shape == x.shape else reshape(x, shape)


def unsqueeze(x, axis: int) -> Tensor:
    """Insert a size-1 dimension at ``axis`` (``-1`` appends one)."""
    x = as_tensor(x)
    axis = check_axis("unsqueeze", axis, (1,) * (x.ndim + 1))
    return reshape(x, x.shape[:axis] + (1,) + x.shape[axis:])


def flatten(x, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Merge dimensions ``start_dim..end_dim`` into one (a 0-d tensor becomes shape (1,))."""
    x = as_tensor(x)
    if x.ndim == 0:
        check_axis("flatten", start_dim, (1,))
        return reshape(x, (1,))
    start, end = check_axis("flatten", start_dim, x.shape), check_axis("flatten", end_dim, x.shape)
    if start > end:
        raise UsageError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim} for shape {x.shape}")
    merged = int(np.prod(x.shape[start:end + 1]))
    return reshape(x, x.shape[:start] + (merged,) + x.shape[end + 1:])


def expand(x, *sizes) -> Tensor:
    """Broadcast to ``sizes`` without copying data (``-1`` keeps a dimension), as ``Tensor.expand``."""
    x = as_tensor(x)
    sizes = _sizes("expand", sizes)
    if len(sizes) < x.ndim:
        raise UsageError(f"expand: {len(sizes)} sizes {sizes} for a tensor of shape {x.shape}")
    lead = len(sizes) - x.ndim
    shape = tuple(x.shape[i - lead] if n == -1 and i >= lead else n for i, n in enumerate(sizes))
    if any(n < 0 for n in shape):
        raise UsageError(f"expand: sizes {sizes} are invalid for shape {x.shape} (-1 only for existing dimensions)")
    try:
        np.broadcast_shapes(x.shape, shape)
        if np.broadcast_shapes(x.shape, shape) != shape:
            raise ValueError
    except ValueError:
        raise UsageError(f"expand: cannot expand shape {x.shape} to {shape}") from None
    return broadcast_to(x, shape)


def tile(x, *reps) -> Tensor:
    """Repeat the whole tensor ``reps[i]`` times along each dimension (``np.tile`` / ``torch.tile``)."""
    x = as_tensor(x)
    reps = _sizes("tile", reps)
    if any(r < 0 for r in reps):
        raise UsageError(f"tile: repetitions must be >= 0, got {reps}")
    ndim = max(len(reps), x.ndim)
    reps = (1,) * (ndim - len(reps)) + reps
    shape = (1,) * (ndim - x.ndim) + x.shape
    interleaved = reshape(x, tuple(v for n in shape for v in (1, n)))
    spread = broadcast_to(interleaved, tuple(v for r, n in zip(reps, shape) for v in (r, n)))
    return reshape(spread, tuple(r * n for r, n in zip(reps, shape)))


def repeat(x, *sizes) -> Tensor:
    """``Tensor.repeat`` of PyTorch (= ``tile``; needs at least as many sizes as dimensions)."""
    x = as_tensor(x)
    sizes = _sizes("repeat", sizes)
    if len(sizes) < x.ndim:
        raise UsageError(f"repeat: {len(sizes)} sizes {sizes} for a tensor of shape {x.shape} (need >= {x.ndim})")
    return tile(x, sizes)


def permute(x, *dims) -> Tensor:
    """Reorder the dimensions (``x.permute(2, 0, 1)``)."""
    x = as_tensor(x)
    dims = _sizes("permute", dims)
    if len(dims) != x.ndim or sorted(d % max(x.ndim, 1) for d in dims) != list(range(x.ndim)):
        raise UsageError(f"permute: dims {dims} are not a permutation of the {x.ndim} dimensions of shape {x.shape}")
    return transpose(x, dims)


def flip(x, axis: Any) -> Tensor:
    """Reverse the order of elements along ``axis`` (an int or a tuple)."""
    x = as_tensor(x)
    axes = check_axis("flip", axis, x.shape)
    axes = axes if isinstance(axes, tuple) else (axes,) if axes is not None else ()
    return getitem(x, tuple(slice(None, None, -1) if i in axes else slice(None) for i in range(x.ndim)))


class Pad(Function):
    """y = x surrounded by ``value`` (``widths[i] = (before, after)`` for each dimension);  dx = gy[inner]."""

    def __init__(self, widths: tuple[tuple[int, int], ...], value: float = 0.0):
        self.widths, self.value = widths, value

    def forward(self, x):
        xp = backend.get_array_module(x)
        self.inner = tuple(slice(b, b + n) for (b, _), n in zip(self.widths, x.shape))
        return xp.pad(x, self.widths, constant_values=x.dtype.type(self.value))

    def backward(self, gy):
        return gy[self.inner]

    def backward_graph(self, gy):
        return getitem(gy, self.inner)


def pad(x, pad: Any, value: float = 0.0) -> Tensor:
    """Constant padding as ``torch.nn.functional.pad``: ``pad = (last_before, last_after, prev_before, ...)``."""
    x = as_tensor(x)
    pad = tuple(pad)
    if len(pad) % 2 or len(pad) // 2 > x.ndim or not all(isinstance(p, (int, np.integer)) for p in pad):
        raise UsageError(f"pad: needs an even number (<= 2 * {x.ndim}) of ints, got {pad} for shape {x.shape}")
    if any(p < 0 for p in pad):
        raise UsageError(f"pad: negative padding {pad} is not supported (slice the tensor instead)")
    widths = [(0, 0)] * x.ndim
    for i in range(len(pad) // 2):
        widths[x.ndim - 1 - i] = (int(pad[2 * i]), int(pad[2 * i + 1]))
    return Pad(tuple(widths), value)(x)


def take_along_axis(x, indices, axis: int) -> Tensor:
    """``y[..., i, ...] = x[..., indices[..., i, ...], ...]`` along ``axis`` (``np.take_along_axis``);
    its gradient scatter-adds back (repeated indices accumulate)."""
    x = as_tensor(x)
    index = backend.xp().asarray(indices.data if isinstance(indices, Tensor) else indices)
    if index.dtype.kind not in "iu":
        raise TypeError(f"take_along_axis: indices must be integers, got dtype {index.dtype}")
    if index.ndim != x.ndim or x.ndim == 0:
        raise UsageError(f"take_along_axis: indices of shape {tuple(index.shape)} need the same number (>= 1) "
                         f"of dimensions as the input of shape {x.shape}")
    axis = check_axis("take_along_axis", axis, x.shape)
    if any(m > n for d, (m, n) in enumerate(zip(index.shape, x.shape)) if d != axis):
        raise UsageError(f"take_along_axis: indices of shape {tuple(index.shape)} are larger than the input "
                         f"{x.shape} off axis {axis}")
    n = x.shape[axis]
    if index.size and (int(index.min()) < -n or int(index.max()) >= n):
        raise IdOutOfRangeError(f"take_along_axis: index out of range for size {n} along axis {axis}")
    xp = backend.get_array_module(index)
    grid = list(xp.ix_(*[xp.arange(m) for m in index.shape])) if index.ndim else []
    grid[axis] = index % n if n else index
    return getitem(x, tuple(grid))


def gather(x, dim: int, index) -> Tensor:
    """PyTorch's ``torch.gather(input, dim, index)``: :func:`take_along_axis` with torch's argument order."""
    return take_along_axis(x, index, dim)


def masked_fill(x, mask: Any, value: float) -> Tensor:
    """``value`` where the boolean ``mask`` (broadcast to x's shape) is True, else x;  dx = gy where not mask."""
    x = as_tensor(x)
    mask = mask.data if isinstance(mask, Tensor) else backend.xp().asarray(mask)
    if mask.dtype != bool:
        raise TypeError(f"masked_fill: mask must be boolean, got dtype {mask.dtype}")
    try:
        fits = np.broadcast_shapes(mask.shape, x.shape) == x.shape
    except ValueError:
        fits = False
    if not fits:
        raise UsageError(f"masked_fill: mask of shape {tuple(mask.shape)} does not broadcast to {x.shape}")
    fill = backend.get_array_module(x.data).asarray(value, dtype=x.dtype)
    return where(mask, fill, x)
