"""Layers and containers (``zeronlp.nn``), named and shaped like ``torch.nn``."""

from . import init
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
from .module import Module, Parameter

__all__ = [
    "init", "Module", "Parameter", "Linear", "Embedding", "Dropout", "LayerNorm", "ReLU", "Sigmoid",
    "Tanh", "LeakyReLU", "Softmax", "Sequential", "ModuleList",
]
