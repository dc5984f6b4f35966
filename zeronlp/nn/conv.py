"""Convolution layers: :class:`Conv1d` (PyTorch's shapes and initialization)."""

from __future__ import annotations

import math
from typing import Any

from .. import backend
from ..autograd import Tensor
from ..functional.conv import conv1d, conv1d_output_length
from . import init
from .module import Module, Parameter


class Conv1d(Module):
    """1-D convolution over ``(N, C_in, L)`` giving ``(N, C_out, L_out)``, ``L_out = (L + 2P - K) // S + 1``.

    ``weight`` is ``(out_channels, in_channels, kernel_size)``, ``bias`` ``(out_channels,)``; both start
    U(-1/sqrt(C_in K), 1/sqrt(C_in K)) as in PyTorch, so a torch ``state_dict`` loads by name.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
                 padding: int = 0, bias: bool = True):
        super().__init__()
        if min(in_channels, out_channels, kernel_size, stride) < 1 or padding < 0:
            raise ValueError(
                f"Conv1d: channels, kernel_size and stride must be >= 1 and padding >= 0, got "
                f"in={in_channels}, out={out_channels}, kernel_size={kernel_size}, stride={stride}, padding={padding}"
            )
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding
        bound = 1 / math.sqrt(in_channels * kernel_size)
        dtype = backend.get_default_dtype()
        weight = backend.xp().zeros((out_channels, in_channels, kernel_size), dtype=dtype)
        self.weight = Parameter(init.uniform_(weight, -bound, bound))
        if bias:
            self.bias = Parameter(init.uniform_(backend.xp().zeros(out_channels, dtype=dtype), -bound, bound))
        else:
            self.bias = None

    def output_length(self, length: int) -> int:
        """``(L + 2P - K) // S + 1``."""
        return conv1d_output_length(length, self.kernel_size, self.stride, self.padding)

    def forward(self, x: Any) -> Tensor:
        return conv1d(x, self.weight, self.bias, self.stride, self.padding)

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding}")
