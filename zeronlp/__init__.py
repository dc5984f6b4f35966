"""zeronlp: deep learning for natural language, built from zero on NumPy.

``import zeronlp as zn``; ``zn.tensor``, ``zn.no_grad``, ``zn.nn``, ``zn.optim``,
``zn.functional`` (alias ``F``), ``zn.embeddings``, ``zn.save``/``zn.load``, ``zn.manual_seed``,
``zn.gradcheck``, ``zn.grad`` (gradients as Tensors, higher order with ``create_graph``), tensor
factories (``zn.zeros``, ``zn.randn``, ``zn.arange``, ...), and the errors zeronlp raises on purpose
(``zn.ZeronlpError`` and its family).
"""

# _blas_spin first: it sets OpenBLAS's idle spin before NumPy loads OpenBLAS; _malloc_tuning: glibc's
# thresholds, so a step's large arrays are reused instead of faulted in again at every step
from . import _blas_spin, _malloc_tuning, backend, data, embeddings, functional, models, nn, optim, tasks, train, viz
from . import functional as F  # noqa: N812 - the conventional alias
from .autograd import Function, Tensor, as_tensor, enable_grad, grad, is_grad_enabled, no_grad, tensor
from .backend import get_default_dtype, get_num_threads, manual_seed, set_default_dtype, set_num_threads, use_device
from .errors import CheckpointError, DataError, TrainingDiverged, UnknownWordError, UsageError, ZeronlpError
from .functional.creation import (
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
from .gradcheck import gradcheck, gradgradcheck
from .progress import set_verbosity
from .serialization import load, save

__version__ = "0.1.0"

__all__ = [
    "Tensor", "Function", "tensor", "as_tensor", "no_grad", "enable_grad", "is_grad_enabled", "grad",
    "zeros", "ones", "full", "eye", "arange", "rand", "randn",
    "zeros_like", "ones_like", "full_like", "rand_like", "randn_like", "gradgradcheck",
    "functional", "F", "nn", "optim", "viz",
    "data", "embeddings", "models", "train", "backend", "manual_seed", "use_device", "set_num_threads",
    "get_num_threads",
    "get_default_dtype", "set_default_dtype", "gradcheck", "save", "load",
    "ZeronlpError", "DataError", "CheckpointError", "TrainingDiverged", "UsageError", "UnknownWordError",
    "set_verbosity", "tasks",
]
