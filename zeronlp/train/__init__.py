"""Training: the one Trainer loop, batch sources, callbacks, checkpoints, metrics and progress output."""

from ..errors import TrainingDiverged
from ..progress import log, progress
from .batches import BPTTWindows, MiniBatches, SampledBatches
from .callbacks import CarryState, EpochMetrics
from .checkpoint import apply_checkpoint, load_checkpoint, save_checkpoint
from .metrics import (
    accuracy,
    classification_report,
    confusion_matrix,
    format_report,
    precision_recall_f1,
    write_json,
    write_metrics,
)
from .trainer import BEST_MODEL_NAME, CHECKPOINT_NAME, Trainer, classification_loss, model_loss

__all__ = [
    "Trainer", "TrainingDiverged", "CHECKPOINT_NAME", "BEST_MODEL_NAME", "classification_loss", "model_loss",
    "MiniBatches", "BPTTWindows", "SampledBatches", "CarryState", "EpochMetrics",
    "save_checkpoint", "load_checkpoint", "apply_checkpoint", "accuracy", "confusion_matrix",
    "precision_recall_f1", "classification_report", "format_report", "write_metrics", "write_json", "progress", "log",
]
