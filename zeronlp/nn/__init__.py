"""Layers and containers (``zeronlp.nn``), named and shaped like ``torch.nn``."""

from . import init
from .attention import DotProductAttention, MultiheadAttention, ScaledDotProductAttention  # noqa: E402
from .conv import Conv1d  # noqa: E402
from .layers import (
    Dropout,
    Embedding,
    LayerNorm,
    LeakyReLU,
    Linear,
    ModuleList,
    ReLU,
    Sequential,
    Sigmoid,
    Softmax,
    Tanh,
)
from .loss import BCEWithLogitsLoss, CrossEntropyLoss, MSELoss
from .module import Module, Parameter
from .recurrent import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell  # noqa: E402
from .transformer import (  # noqa: E402
    LearnedPositionalEmbedding,
    PositionalEncoding,
    Transformer,
    TransformerDecoder,
    TransformerDecoderLayer,
    TransformerEncoder,
    TransformerEncoderLayer,
    generate_square_subsequent_mask,
)
