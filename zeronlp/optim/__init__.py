"""Optimizers, gradient clipping and learning-rate schedulers (``zeronlp.optim``)."""

from . import lr_scheduler
from .clip import clip_grad_norm_
from .lr_scheduler import CosineAnnealing, CosineAnnealingLR, ReduceLROnPlateau, ReduceOnPlateau, StepLR
from .optimizer import Optimizer
from .optimizers import SGD, AdaGrad, Adagrad, Adam, AdamW, RMSprop

__all__ = [
    "Optimizer", "SGD", "AdaGrad", "Adagrad", "RMSprop", "Adam", "AdamW", "clip_grad_norm_",
    "StepLR", "CosineAnnealing", "CosineAnnealingLR", "ReduceOnPlateau", "ReduceLROnPlateau", "lr_scheduler",
]
