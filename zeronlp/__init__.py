"""zeronlp: deep learning for natural language, built from zero on NumPy.

``import zeronlp as zn``; ``zn.tensor``, ``zn.no_grad``, ``zn.nn``, ``zn.optim``,
``zn.functional`` (alias ``F``), ``zn.save``/``zn.load``, ``zn.manual_seed``, ``zn.gradcheck``.
"""

from . import backend, data, functional, models, nn, optim, train, viz
from . import functional as F  # noqa: N812 - the conventional alias
from .autograd import Function, Tensor, as_tensor, enable_grad, is_grad_enabled, no_grad, tensor
from .backend import get_default_dtype, manual_seed, set_default_dtype, use_device
from .gradcheck import gradcheck
from .serialization import CheckpointError, load, save

__version__ = "0.1.0"


def __getattr__(name: str):
    # word vectors pull in numba and scipy: import them on first use
    if name == "embeddings":
        import importlib

        return importlib.import_module(".embeddings", __name__)
    raise AttributeError(f"module 'zeronlp' has no attribute {name!r}")

__all__ = [
    "Tensor", "Function", "tensor", "as_tensor", "no_grad", "enable_grad", "is_grad_enabled",
    "functional", "F", "nn", "optim", "viz",
    "data", "models", "train", "embeddings", "backend", "manual_seed", "use_device",
    "get_default_dtype", "set_default_dtype", "gradcheck", "save", "load", "CheckpointError",
]
