"""Learning-rate schedulers: StepLR, CosineAnnealing, ReduceOnPlateau."""

from __future__ import annotations

import math
from typing import Any

from .optimizer import Optimizer


class LRScheduler:
    """Call ``step()`` once an epoch; the learning rate of every group is set from ``get_lr()``."""

    def __init__(self, optimizer: Optimizer):
        self.optimizer = optimizer
        self.base_lrs = [g["lr"] for g in optimizer.param_groups]
        self.epoch = 0

    def get_lr(self) -> list[float]:
        raise NotImplementedError

    def step(self, *_: Any) -> None:
        self.epoch += 1
        for group, lr in zip(self.optimizer.param_groups, self.get_lr()):
            group["lr"] = lr

    def state_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "optimizer"}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)


class StepLR(LRScheduler):
    """lr = base_lr * gamma^(epoch // step_size)."""

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1):
        super().__init__(optimizer)
        self.step_size, self.gamma = step_size, gamma

    def get_lr(self) -> list[float]:
        return [lr * self.gamma ** (self.epoch // self.step_size) for lr in self.base_lrs]


class CosineAnnealing(LRScheduler):
    """lr = eta_min + (base_lr - eta_min) (1 + cos(pi epoch / T_max)) / 2."""

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0):  # noqa: N803 - torch name
        super().__init__(optimizer)
        self.T_max, self.eta_min = T_max, eta_min

    def get_lr(self) -> list[float]:
        cos = (1 + math.cos(math.pi * min(self.epoch, self.T_max) / self.T_max)) / 2
        return [self.eta_min + (lr - self.eta_min) * cos for lr in self.base_lrs]


CosineAnnealingLR = CosineAnnealing


class ReduceOnPlateau:
    """Divide the learning rate by ``1/factor`` when the metric stops improving.

    The book's language-model recipe is ``ReduceOnPlateau(opt, factor=0.25, patience=0)``:
    lr / 4 whenever validation perplexity gets worse.
    """

    def __init__(self, optimizer: Optimizer, mode: str = "min", factor: float = 0.25, patience: int = 0,
                 min_lr: float = 0.0, threshold: float = 0.0):
        if mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")
        self.optimizer, self.mode, self.factor = optimizer, mode, factor
        self.patience, self.min_lr, self.threshold = patience, min_lr, threshold
        self.best: float | None = None
        self.bad_epochs = 0

    def _improved(self, metric: float) -> bool:
        if self.best is None:
            return True
        if self.mode == "min":
            return metric < self.best - self.threshold
        return metric > self.best + self.threshold

    def step(self, metric: float) -> None:
        if self._improved(metric):
            self.best, self.bad_epochs = metric, 0
            return
        self.bad_epochs += 1
        if self.bad_epochs > self.patience:
            for group in self.optimizer.param_groups:
                group["lr"] = max(group["lr"] * self.factor, self.min_lr)
            self.bad_epochs = 0

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "bad_epochs": self.bad_epochs}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best, self.bad_epochs = state["best"], state["bad_epochs"]


ReduceLROnPlateau = ReduceOnPlateau
