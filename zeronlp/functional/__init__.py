"""Pure differentiable Functions (``import zeronlp.functional as F``)."""

from .activation import leaky_relu, log_softmax, relu, sigmoid, softmax, tanh
from .basic import (
    add,
    broadcast_to,
    cast,
    cat,
    clamp,
    clip,
    concat,
    div,
    exp,
    getitem,
    log,
    matmul,
    max,
    mean,
    mul,
    neg,
    pow,
    reshape,
    split,
    stack,
    sub,
    sum,
    sum_to,
    transpose,
    where,
)
from .embedding import embedding
from .layers import dropout, layer_norm, linear
from .loss import (
    binary_cross_entropy_with_logits,
    cross_entropy,
    mse,
    mse_loss,
    sigmoid_cross_entropy,
    softmax_cross_entropy,
)

__all__ = [
    "add", "sub", "mul", "div", "neg", "pow", "exp", "log", "cast", "matmul", "sum", "mean", "max",
    "broadcast_to", "sum_to", "reshape", "transpose", "getitem", "concat", "cat", "stack", "split",
    "where", "clip", "clamp", "sigmoid", "tanh", "relu", "leaky_relu", "softmax", "log_softmax",
    "softmax_cross_entropy", "cross_entropy", "sigmoid_cross_entropy", "binary_cross_entropy_with_logits",
    "mse", "mse_loss", "dropout", "linear", "layer_norm", "embedding",
]
