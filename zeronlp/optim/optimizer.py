"""Optimizer base class: parameter groups, zero_grad, state_dict."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import backend


class Optimizer:
    """Holds parameter groups (dicts with ``params`` and hyperparameters) and per-parameter state.

    Subclasses implement :meth:`update` for one parameter; ``step()`` skips parameters without a
    gradient. ``state_dict()`` holds plain arrays and numbers, so ``zn.save`` can store it.
    """

    def __init__(self, params: Any, defaults: dict[str, Any]):
        params = list(params)
        if not params:
            raise ValueError(f"{type(self).__name__} got an empty parameter list")
        groups = params if isinstance(params[0], dict) else [{"params": params}]
        self.defaults = defaults
        self.param_groups: list[dict[str, Any]] = []
        for group in groups:
            full = dict(defaults)
            full.update(group)
            full["params"] = list(group["params"])
            self.param_groups.append(full)
        self.state: dict[int, dict[str, Any]] = {}
        self.step_count = 0

    def zero_grad(self) -> None:
        for group in self.param_groups:
            for p in group["params"]:
                p.grad = None

    def step(self) -> None:
        self.step_count += 1
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None or not p.requires_grad:
                    continue
                self.update(p, p.grad, self.state.setdefault(id(p), {}), group)

    def update(self, param: Any, grad: Any, state: dict[str, Any], group: dict[str, Any]) -> None:
        raise NotImplementedError

    def _params(self) -> list[Any]:
        return [p for group in self.param_groups for p in group["params"]]

    def state_dict(self) -> dict[str, Any]:
        """Hyperparameters per group and state per parameter index, as host arrays and numbers."""
        state = {}
        for index, p in enumerate(self._params()):
            for key, value in self.state.get(id(p), {}).items():
                state.setdefault(str(index), {})[key] = (
                    backend.to_numpy(value).copy() if hasattr(value, "shape") else value
                )
        groups = [{k: v for k, v in g.items() if k != "params"} for g in self.param_groups]
        return {"state": state, "param_groups": groups, "step_count": self.step_count}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        params = self._params()
        groups = state_dict["param_groups"]
        if len(groups) != len(self.param_groups):
            raise ValueError(
                f"optimizer state has {len(groups)} parameter groups, this optimizer has {len(self.param_groups)}"
            )
        for group, saved in zip(self.param_groups, groups):
            group.update({k: (v.item() if isinstance(v, np.ndarray) and v.ndim == 0 else v) for k, v in saved.items()})
        xp = backend.xp()
        self.state = {}
        for index, values in state_dict["state"].items():
            p = params[int(index)]
            self.state[id(p)] = {
                k: (xp.asarray(v).copy() if isinstance(v, np.ndarray) and v.ndim > 0 else
                    (v.item() if isinstance(v, np.ndarray) else v))
                for k, v in values.items()
            }
        self.step_count = int(state_dict.get("step_count", 0))

    @property
    def lr(self) -> float:
        return self.param_groups[0]["lr"]

    @lr.setter
    def lr(self, value: float) -> None:
        for group in self.param_groups:
            group["lr"] = value
