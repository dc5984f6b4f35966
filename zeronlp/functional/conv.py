"""1-D convolution by im2col (one GEMM forward, two GEMMs backward) and max-pooling over time.

Shapes follow PyTorch: input ``(N, C_in, L)``, weight ``(C_out, C_in, K)``, output
``(N, C_out, L_out)`` with ``L_out = (L + 2P - K) // S + 1`` (stride ``S``, zero padding ``P``).
"""

from __future__ import annotations

from typing import Any

from .. import backend
from ..autograd import Function, Tensor
from ..errors import UsageError
from . import basic
from .shape import pad


def conv1d_output_length(length: int, kernel_size: int, stride: int = 1, padding: int = 0) -> int:
    """``(L + 2P - K) // S + 1``: the number of windows a 1-D convolution produces."""
    if stride < 1 or padding < 0 or kernel_size < 1:
        raise UsageError(f"conv1d: kernel_size and stride must be >= 1 and padding >= 0, got kernel_size="
                         f"{kernel_size}, stride={stride}, padding={padding}")
    return (length + 2 * padding - kernel_size) // stride + 1


def im2col_1d(x: Any, kernel_size: int, stride: int, padding: int) -> Any:
    """Windows of ``x (N, C, L)`` as rows: ``col[n, l, c*K + k] = x_pad[n, c, l*S + k]``, shape (N, L_out, C*K)."""
    xp = backend.get_array_module(x)
    n, c, length = x.shape
    if padding:
        x = xp.pad(x, ((0, 0), (0, 0), (padding, padding)))
    else:
        x = xp.ascontiguousarray(x)
    out_len = conv1d_output_length(length, kernel_size, stride, padding)
    s_n, s_c, s_l = x.strides
    windows = xp.lib.stride_tricks.as_strided(
        x, shape=(n, out_len, c, kernel_size), strides=(s_n, s_l * stride, s_c, s_l))
    return windows.reshape(n, out_len, c * kernel_size)  # copies: the window rows become contiguous


def col2im_1d(col: Any, shape: tuple[int, int, int], kernel_size: int, stride: int, padding: int) -> Any:
    """Adjoint of :func:`im2col_1d`: add each window row back onto the positions it was read from."""
    xp = backend.get_array_module(col)
    n, c, length = shape
    out_len = col.shape[1]
    gx = xp.zeros((n, c, length + 2 * padding), dtype=col.dtype)
    col = col.reshape(n, out_len, c, kernel_size)
    span = stride * (out_len - 1) + 1
    for k in range(kernel_size):  # K strided slice-adds instead of N*L_out*C*K scalar adds
        gx[:, :, k:k + span:stride] += col[:, :, :, k].transpose(0, 2, 1)
    return gx[:, :, padding:padding + length] if padding else gx


class Conv1dFunction(Function):
    """y[n, o, l] = b[o] + sum_{c,k} W[o, c, k] x_pad[n, c, l S + k].

    With col = im2col(x) (N L_out, C K) and W2 = W.reshape(C_out, C K):  Y = col W2^T + b;
    dW2 = gY^T col, db = sum gY, dx = col2im(gY W2).
    """

    def __init__(self, stride: int = 1, padding: int = 0):
        self.stride, self.padding = stride, padding

    def forward(self, x, weight, bias=None):
        if x.ndim != 3 or weight.ndim != 3 or x.shape[1] != weight.shape[1]:
            raise ValueError(
                f"conv1d: input of shape {tuple(x.shape)} (expected (N, C_in, L)) does not match weight "
                f"of shape {tuple(weight.shape)} (C_out, C_in, K)"
            )
        if x.dtype != weight.dtype:  # integer input meets the float weight as that float (as linear)
            x, weight = basic.promote(x, weight)
        c_out, c_in, k = weight.shape
        out_len = conv1d_output_length(x.shape[2], k, self.stride, self.padding)
        if out_len < 1:
            raise ValueError(
                f"conv1d: input length {x.shape[2]} with padding {self.padding} is shorter than the "
                f"kernel size {k} (output length (L + 2P - K) // S + 1 = {out_len})"
            )
        n = x.shape[0]
        # 2-D GEMMs: NumPy's batched (3-D) matmul leaves BLAS for a slow loop on transposed operands
        col = im2col_1d(x, k, self.stride, self.padding).reshape(n * out_len, c_in * k)
        self.col, self.weight, self.x_shape, self.has_bias = col, weight, x.shape, bias is not None
        y = col @ weight.reshape(c_out, c_in * k).T  # (N L_out, C_out)
        if bias is not None:
            y += bias
        return y.reshape(n, out_len, c_out).transpose(0, 2, 1)

    def backward(self, gy):
        c_out, c_in, k = self.weight.shape
        n, _, out_len = gy.shape
        flat_gy = gy.transpose(0, 2, 1).reshape(n * out_len, c_out)  # one copy, rows (n, l)
        # (col^T gY)^T: OpenBLAS is several times slower at gY^T col with its long inner dimension
        gw = (self.col.T @ flat_gy).T.reshape(self.weight.shape)
        gcol = (flat_gy @ self.weight.reshape(c_out, c_in * k)).reshape(n, out_len, c_in * k)
        gx = col2im_1d(gcol, self.x_shape, k, self.stride, self.padding)
        if self.has_bias:
            return gx, gw, flat_gy.sum(axis=0)
        return gx, gw

    def decompose(self, x, weight, bias=None):
        """im2col from strided slices, one matmul: the same convolution from simple Functions."""
        c_out, c_in, k = weight.shape
        n, length = x.shape[0], x.shape[2]
        out_len = conv1d_output_length(length, k, self.stride, self.padding)
        if self.padding:
            x = pad(x, (self.padding, self.padding))
        span = self.stride * (out_len - 1) + 1
        cols = basic.stack([x[:, :, j:j + span:self.stride] for j in range(k)], axis=-1)  # (N, C, L_out, K)
        cols = basic.reshape(basic.transpose(cols, (0, 2, 1, 3)), (n * out_len, c_in * k))
        y = basic.matmul(cols, basic.transpose(basic.reshape(weight, (c_out, c_in * k))))
        if bias is not None:
            y = y + bias
        return basic.transpose(basic.reshape(y, (n, out_len, c_out)), (0, 2, 1))


def conv1d(x, weight, bias=None, stride: int = 1, padding: int = 0) -> Tensor:
    """1-D convolution (cross-correlation, as in PyTorch) of ``x (N, C_in, L)`` with ``weight (C_out, C_in, K)``."""
    if stride < 1 or padding < 0:
        raise ValueError(f"conv1d: stride must be >= 1 and padding >= 0, got stride={stride}, padding={padding}")
    if bias is None:
        return Conv1dFunction(stride, padding)(x, weight)
    return Conv1dFunction(stride, padding)(x, weight, bias)


class MaxOverTime(Function):
    """y[n, c] = max_{l : mask[n, l]} x[n, c, l] (0 when no position is valid);  dx = gy at the arg-max.

    ``x`` is ``(N, C, L)``; ``mask`` is ``(N, L)`` boolean (True = a real position) or None (all valid).
    """

    def __init__(self, mask: Any = None):
        self.mask = mask

    def forward(self, x):
        xp = backend.get_array_module(x)
        if x.ndim != 3 or x.shape[2] == 0:
            raise ValueError(f"max_over_time: input must be (N, C, L) with L >= 1, got shape {tuple(x.shape)}")
        if self.mask is not None:
            if self.mask.shape != (x.shape[0], x.shape[2]):
                raise ValueError(
                    f"max_over_time: mask of shape {tuple(self.mask.shape)} does not match input "
                    f"{tuple(x.shape)} (expected ({x.shape[0]}, {x.shape[2]}))"
                )
            lowest = -xp.inf if x.dtype.kind == "f" else xp.iinfo(x.dtype).min if x.dtype.kind in "iu" else False
            x = xp.where(self.mask[:, None, :], x, x.dtype.type(lowest))
        self.shape = x.shape
        self.argmax = x.argmax(axis=2)
        y = x.max(axis=2)
        self.empty = None
        if self.mask is not None:
            self.empty = ~self.mask.any(axis=1)
            y[self.empty] = 0
        return y

    def backward(self, gy):
        xp = backend.get_array_module(gy)
        if self.empty is not None:
            gy = gy * ~self.empty[:, None]
        n, c, _ = self.shape
        gx = xp.zeros(self.shape, dtype=gy.dtype)
        gx[xp.arange(n)[:, None], xp.arange(c)[None, :], self.argmax] = gy
        return gx

    def decompose(self, x):
        if self.mask is not None:
            x = basic.where(self.mask[:, None, :], x, -float("inf"))
        y = basic.max(x, axis=2)
        if self.empty is not None:
            y = basic.where(self.empty[:, None], 0.0, y)
        return y


def max_over_time(x, mask: Any = None) -> Tensor:
    """Max-pool ``x (N, C, L)`` over the whole time axis, ignoring positions where ``mask`` is False."""
    if isinstance(mask, Tensor):
        mask = mask.data
    if mask is not None:
        xp = backend.xp()
        mask = xp.asarray(mask).astype(bool, copy=False)
    return MaxOverTime(mask)(x)
