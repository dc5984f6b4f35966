"""Optimizers, gradient clipping, learning-rate schedulers and weight averaging (``zeronlp.optim``)."""

from . import lr_scheduler
from .averaging import AveragedModel
from .clip import clip_grad_norm_
from .lr_scheduler import (
    CosineAnnealing,
    CosineAnnealingLR,
    LambdaLR,
    ReduceLROnPlateau,
    ReduceOnPlateau,
    StepLR,
    WarmupCosine,
)
from .optimizer import Optimizer
from .optimizers import SGD, AdaGrad, Adagrad, Adam, AdamW, RMSprop

