"""Optimizers, gradient clipping and learning-rate schedulers (``zeronlp.optim``)."""

from . import lr_scheduler
from .clip import clip_grad_norm_
from .lr_scheduler import CosineAnnealing, CosineAnnealingLR, ReduceLROnPlateau, ReduceOnPlateau, StepLR
from .optimizer import Optimizer
from .optimizers import SGD, AdaGrad, Adagrad, Adam, AdamW, RMSprop

