"""Learning-rate schedulers: StepLR, CosineAnnealing, ReduceOnPlateau (stepped once an epoch) and
LambdaLR, WarmupCosine (``per_step = True``: stepped after every optimizer step by the Trainer)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from .optimizer import Optimizer


class LRScheduler:
    """Call ``step()`` once an epoch; the learning rate of every group is set from ``get_lr()``.

    A scheduler with ``per_step = True`` counts optimizer steps instead (``epoch`` is then the number
    of steps taken): the Trainer steps it after every optimizer step, not at the end of an epoch.
    """

    per_step = False

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
        """Restore what :meth:`state_dict` gave; a key this scheduler does not have is an error."""
        unknown = sorted(str(k) for k in state if k not in self.__dict__ or k == "optimizer")
        if unknown:
            raise ValueError(f"{type(self).__name__}.load_state_dict: unknown keys {unknown[:5]}")
        self.__dict__.update(state)


class StepLR(LRScheduler):
    """lr = base_lr * gamma^(epoch // step_size)."""

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1):
        super().__init__(optimizer)
        self.step_size, self.gamma = step_size, gamma

    def get_lr(self) -> list[float]:
        return [lr * self.gamma ** (self.epoch // self.step_size) for lr in self.base_lrs]


class CosineAnnealing(LRScheduler):
    """lr = eta_min + (base_lr - eta_min) (1 + cos(pi min(epoch, T_max) / T_max)) / 2: one half cosine from
    base_lr down to eta_min, then eta_min. (:class:`CosineAnnealingLR` is PyTorch's, which goes on along the
    cosine past T_max and climbs back.)"""

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0):  # noqa: N803 - torch name
        super().__init__(optimizer)
        self.T_max, self.eta_min = T_max, eta_min

    def get_lr(self) -> list[float]:
        cos = (1 + math.cos(math.pi * min(self.epoch, self.T_max) / self.T_max)) / 2
        return [self.eta_min + (lr - self.eta_min) * cos for lr in self.base_lrs]


class CosineAnnealingLR(CosineAnnealing):
    """PyTorch's ``CosineAnnealingLR``: lr = eta_min + (base_lr - eta_min) (1 + cos(pi epoch / T_max)) / 2
    for every epoch, so past T_max it rises again (period 2 T_max)."""

    def get_lr(self) -> list[float]:
        cos = (1 + math.cos(math.pi * self.epoch / self.T_max)) / 2
        return [self.eta_min + (lr - self.eta_min) * cos for lr in self.base_lrs]


class LambdaLR(LRScheduler):
    """lr = base_lr * lr_lambda(step), stepped after every optimizer step (``per_step``).

    ``lr_lambda`` is not saved in ``state_dict`` (only the step count is): rebuild it the same way
    before ``load_state_dict``. The factor for step 0 is applied at construction, as in PyTorch.
    """

    per_step = True

    def __init__(self, optimizer: Optimizer, lr_lambda: Callable[[int], float]):
        super().__init__(optimizer)
        self.lr_lambda = lr_lambda
        self._apply()

    def get_lr(self) -> list[float]:
        factor = self.lr_lambda(self.epoch)
        return [lr * factor for lr in self.base_lrs]

    def _apply(self) -> None:
        for group, lr in zip(self.optimizer.param_groups, self.get_lr()):
            group["lr"] = lr

    def state_dict(self) -> dict[str, Any]:
        return {k: v for k, v in super().state_dict().items() if k != "lr_lambda"}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self._apply()


class WarmupCosine(LambdaLR):
    """Linear warm-up from 0 to base_lr over ``warmup_steps`` optimizer steps, then a cosine decay
    to ``eta_min`` at ``total_steps`` (and ``eta_min`` after it): the Transformer recipe.

    lr(s) = base_lr (s + 1) / warmup for s < warmup; else
    eta_min + (base_lr - eta_min) (1 + cos(pi min(1, (s - warmup) / (total - warmup)))) / 2.
    """

    def __init__(self, optimizer: Optimizer, warmup_steps: int, total_steps: int, eta_min: float = 0.0):
        if warmup_steps < 0 or total_steps < 1:
            raise ValueError(f"WarmupCosine: need warmup_steps >= 0 and total_steps >= 1, "
                             f"got {warmup_steps} and {total_steps}")
        self.warmup_steps, self.total_steps, self.eta_min = int(warmup_steps), int(total_steps), eta_min
        super().__init__(optimizer, lambda step: 1.0)

    def get_lr(self) -> list[float]:
        step = self.epoch
        if step < self.warmup_steps:
            return [lr * (step + 1) / self.warmup_steps for lr in self.base_lrs]
        span = max(self.total_steps - self.warmup_steps, 1)
        cos = (1 + math.cos(math.pi * min(1.0, (step - self.warmup_steps) / span))) / 2
        return [self.eta_min + (lr - self.eta_min) * cos for lr in self.base_lrs]


class ReduceOnPlateau:
    """Multiply the learning rate by ``factor`` when the metric has not improved for more than ``patience``
    epochs, then wait ``cooldown`` epochs before counting again; never below ``min_lr``, and a change
    smaller than ``eps`` is not made.

    Improved means, for ``mode="min"``: metric < best - threshold (``threshold_mode="abs"``) or
    metric < best (1 - threshold) (``"rel"``); for ``"max"``: metric > best + threshold or
    metric > best (1 + threshold). The defaults are the
    book's language-model recipe, ``ReduceOnPlateau(opt, factor=0.25, patience=0)``: lr / 4 whenever
    validation perplexity gets worse. :class:`ReduceLROnPlateau` has PyTorch's defaults.
    """

    def __init__(self, optimizer: Optimizer, mode: str = "min", factor: float = 0.25, patience: int = 0,
                 min_lr: float = 0.0, threshold: float = 0.0, threshold_mode: str = "abs", cooldown: int = 0,
                 eps: float = 0.0):
        if mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")
        if threshold_mode not in ("rel", "abs"):
            raise ValueError(f"threshold_mode must be 'rel' or 'abs', got {threshold_mode!r}")
        if not 0.0 < factor < 1.0:
            raise ValueError(f"factor must be in (0, 1), got {factor}")
        self.optimizer, self.mode, self.factor = optimizer, mode, factor
        self.patience, self.min_lr, self.threshold = patience, min_lr, threshold
        self.threshold_mode, self.cooldown, self.eps = threshold_mode, cooldown, eps
        self.best: float | None = None
        self.bad_epochs = 0
        self.cooldown_left = 0

    def _improved(self, metric: float) -> bool:
        if self.best is None:
            return True
        if self.threshold_mode == "rel":  # PyTorch's formulas, also for negative metrics
            if self.mode == "min":
                return metric < self.best * (1.0 - self.threshold)
            return metric > self.best * (1.0 + self.threshold)
        if self.mode == "min":
            return metric < self.best - self.threshold
        return metric > self.best + self.threshold

    def step(self, metric: float) -> None:
        metric = float(metric)
        if self._improved(metric):
            self.best, self.bad_epochs = metric, 0
        else:
            self.bad_epochs += 1
        if self.cooldown_left > 0:
            self.cooldown_left -= 1
            self.bad_epochs = 0
        if self.bad_epochs > self.patience:
            for group in self.optimizer.param_groups:
                lr = max(group["lr"] * self.factor, self.min_lr)
                if group["lr"] - lr > self.eps:
                    group["lr"] = lr
            self.cooldown_left, self.bad_epochs = self.cooldown, 0

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "bad_epochs": self.bad_epochs, "cooldown_left": self.cooldown_left}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best, self.bad_epochs = state["best"], state["bad_epochs"]
        self.cooldown_left = state.get("cooldown_left", 0)  # checkpoints from before cooldown existed


class ReduceLROnPlateau(ReduceOnPlateau):
    """PyTorch's ``ReduceLROnPlateau``, with its defaults: factor 0.1, patience 10, a relative threshold of
    1e-4, no cooldown, eps 1e-8."""

    def __init__(self, optimizer: Optimizer, mode: str = "min", factor: float = 0.1, patience: int = 10,
                 threshold: float = 1e-4, threshold_mode: str = "rel", cooldown: int = 0, min_lr: float = 0.0,
                 eps: float = 1e-8):
        super().__init__(optimizer, mode=mode, factor=factor, patience=patience, min_lr=min_lr, threshold=threshold,
                         threshold_mode=threshold_mode, cooldown=cooldown, eps=eps)
