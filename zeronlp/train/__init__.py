"""Training: the Trainer loop, checkpoints, metrics and progress output."""

from .checkpoint import load_checkpoint, save_checkpoint
from .metrics import accuracy, confusion_matrix, perplexity, precision_recall_f1, write_json, write_metrics
from .progress import log, progress
from .trainer import CHECKPOINT_NAME, Trainer, TrainingDiverged

__all__ = [
    "Trainer", "TrainingDiverged", "CHECKPOINT_NAME", "save_checkpoint", "load_checkpoint", "accuracy",
    "perplexity", "confusion_matrix", "precision_recall_f1", "write_metrics", "write_json", "progress", "log",
]
