"""Weight initializers (in place on a Parameter or array).

Values are drawn on the host from the backend's seeded host Generator and copied to the device,
so the same seed gives the same initial weights on CPU and GPU.
"""

from __future__ import annotations

import math
from typing import Any

from .. import backend
from ..autograd import Tensor


def _array(param: Any) -> Any:
    return param.data if isinstance(param, Tensor) else param


def _fans(shape: tuple[int, ...]) -> tuple[int, int]:
    """fan_in, fan_out of a weight (out, in, *kernel) like PyTorch."""
    if len(shape) < 2:
        return shape[0], shape[0]
    receptive = math.prod(shape[2:]) if len(shape) > 2 else 1
    return shape[1] * receptive, shape[0] * receptive


def _fill(param: Any, values: Any) -> Any:
    array = _array(param)
    xp = backend.get_array_module(array)
    array[...] = xp.asarray(values.astype(array.dtype))
    return param


def uniform_(param: Any, low: float = 0.0, high: float = 1.0) -> Any:
    array = _array(param)
    return _fill(param, backend.get_host_rng().uniform(low, high, size=array.shape))


def normal_(param: Any, mean: float = 0.0, std: float = 1.0) -> Any:
    array = _array(param)
    return _fill(param, backend.get_host_rng().normal(mean, std, size=array.shape))


def zeros_(param: Any) -> Any:
    _array(param)[...] = 0
    return param


def ones_(param: Any) -> Any:
    _array(param)[...] = 1
    return param


def xavier_uniform_(param: Any, gain: float = 1.0) -> Any:
    """U(-a, a) with a = gain * sqrt(6 / (fan_in + fan_out)) (Glorot & Bengio)."""
    fan_in, fan_out = _fans(_array(param).shape)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(param, -bound, bound)


def xavier_normal_(param: Any, gain: float = 1.0) -> Any:
    """N(0, std^2) with std = gain * sqrt(2 / (fan_in + fan_out))."""
    fan_in, fan_out = _fans(_array(param).shape)
    return normal_(param, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)))


def kaiming_uniform_(param: Any, a: float = 0.0, nonlinearity: str = "relu") -> Any:
    """U(-b, b) with b = gain * sqrt(3 / fan_in) (He et al.); gain sqrt(2) for ReLU."""
    fan_in, _ = _fans(_array(param).shape)
    gain = math.sqrt(2.0 / (1 + a * a)) if nonlinearity in ("relu", "leaky_relu") else 1.0
    bound = gain * math.sqrt(3.0 / fan_in)
    return uniform_(param, -bound, bound)


def kaiming_normal_(param: Any, a: float = 0.0, nonlinearity: str = "relu") -> Any:
    """N(0, std^2) with std = gain / sqrt(fan_in)."""
    fan_in, _ = _fans(_array(param).shape)
    gain = math.sqrt(2.0 / (1 + a * a)) if nonlinearity in ("relu", "leaky_relu") else 1.0
    return normal_(param, 0.0, gain / math.sqrt(fan_in))


# short names as in the book and the issue
xavier_uniform = glorot_uniform = glorot_uniform_ = xavier_uniform_
xavier_normal = glorot_normal = glorot_normal_ = xavier_normal_
kaiming_uniform = he_uniform = he_uniform_ = kaiming_uniform_
kaiming_normal = he_normal = he_normal_ = kaiming_normal_
normal = normal_
uniform = uniform_
