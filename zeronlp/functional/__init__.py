"""Pure differentiable Functions (``import zeronlp.functional as F``).

Importing this package also gives :class:`~zeronlp.autograd.Tensor` its operators and array
methods (``+ - * / @ **``, indexing, ``sum``, ``reshape``, ``T``, ...): see :mod:`.operators`.
"""

from .activation import erf, gelu, leaky_relu, log_softmax, relu, sigmoid, softmax, softplus, tanh
from .attention import (  # noqa: E402
    attention,
    causal_mask,
    dot_product_attention,
    padding_mask,
    scaled_dot_product_attention,
)
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
from .conv import conv1d, conv1d_output_length, max_over_time  # noqa: E402
from .creation import (
    arange,
    eye,
    full,
    full_like,
    ones,
    ones_like,
    rand,
    rand_like,
    randn,
    randn_like,
    zeros,
    zeros_like,
)
from .embedding import IdOutOfRangeError, InvalidIdsError, as_ids, embedding
from .fused import linear_cross_entropy
from .layers import dropout, layer_norm, linear
from .loss import (
    binary_cross_entropy_with_logits,
    cross_entropy,
    mse,
    mse_loss,
    sigmoid_cross_entropy,
    softmax_cross_entropy,
)
from .mathops import (
    abs,
    cos,
    cumsum,
    eq,
    ge,
    gt,
    isfinite,
    isinf,
    isnan,
    le,
    logsumexp,
    lt,
    maximum,
    min,
    minimum,
    ne,
    sin,
    sqrt,
    std,
    var,
)
from .negative_sampling import negative_sampling_loss
from .operators import attach_tensor_methods
from .recurrent import gru, gru_cell, lstm, lstm_cell, rnn, rnn_cell
from .shape import (
    expand,
    flatten,
    flip,
    gather,
    masked_fill,
    pad,
    permute,
    repeat,
    squeeze,
    take_along_axis,
    tile,
    unsqueeze,
)

attach_tensor_methods()
