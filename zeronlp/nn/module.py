"""Module and Parameter: containers that register parameters and sub-modules by attribute."""

from __future__ import annotations

import html
from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

import numpy as np

from .. import backend
from ..autograd import Tensor, array_of


class Parameter(Tensor):
    """A Tensor that a Module owns and an optimizer updates (always ``requires_grad``)."""

    def __init__(self, data: Any, name: str | None = None):
        super().__init__(data, requires_grad=True, name=name)

    def __repr__(self) -> str:
        return f"Parameter(shape={self.shape}, dtype={self.dtype})"


class Module:
    """Base class of all layers and models (PyTorch-shaped).

    Assigning a :class:`Parameter` or a ``Module`` to an attribute registers it; ``model(x)``
    calls :meth:`forward`; ``state_dict()`` names parameters by their dotted attribute path.
    """

    def __init__(self) -> None:
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "training", True)

    def __setattr__(self, name: str, value: Any) -> None:
        if "_parameters" not in self.__dict__:
            raise RuntimeError(f"{type(self).__name__}.__init__ must call super().__init__() first")
        for registry in (self._parameters, self._modules, self._buffers):
            registry.pop(name, None)
        if isinstance(value, Parameter):
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._modules[name] = value
        object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        for registry in (self._parameters, self._modules, self._buffers):
            registry.pop(name, None)
        object.__delattr__(self, name)

    def register_buffer(self, name: str, array: Any) -> None:
        """Keep a non-trainable array in ``state_dict`` (e.g. running statistics)."""
        self._buffers[name] = True
        object.__setattr__(self, name, array)

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        if param is None:
            object.__setattr__(self, name, None)
        else:
            setattr(self, name, param)

    def add_module(self, name: str, module: Module) -> None:
        setattr(self, name, module)

    # ---- calling -------------------------------------------------------------------------
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.forward(*args, **kwargs)

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    # ---- traversal -------------------------------------------------------------------------
    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        yield prefix, self
        for name, module in self._modules.items():
            yield from module.named_modules(f"{prefix}.{name}" if prefix else name)

    def modules(self) -> Iterator[Module]:
        for _, module in self.named_modules():
            yield module

    def children(self) -> Iterator[Module]:
        yield from self._modules.values()

    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, Parameter]]:
        """(dotted name, parameter) pairs; a parameter shared by two modules is listed once."""
        seen: set[int] = set()
        for module_name, module in self.named_modules(prefix):
            for name, param in module._parameters.items():
                if id(param) in seen:
                    continue
                seen.add(id(param))
                yield (f"{module_name}.{name}" if module_name else name), param

    def parameters(self) -> list[Parameter]:
        return [p for _, p in self.named_parameters()]

    def named_buffers(self) -> Iterator[tuple[str, Any]]:
        for module_name, module in self.named_modules():
            for name in module._buffers:
                yield (f"{module_name}.{name}" if module_name else name), getattr(module, name)

    def num_parameters(self) -> int:
        return sum(p.size for p in self.parameters())

    # ---- modes -----------------------------------------------------------------------------
    def train(self, mode: bool = True) -> Module:
        for module in self.modules():
            object.__setattr__(module, "training", mode)
        return self

    def eval(self) -> Module:
        return self.train(False)

    def zero_grad(self) -> None:
        for p in self.parameters():
            p.grad = None

    def to(self, device: str) -> Module:
        """Move every parameter and buffer to ``device`` in place ("cpu" or "cuda")."""
        for p in self.parameters():
            p.data = backend.to_device(p.data, device)
            p.grad = None
        for module in self.modules():
            for name in module._buffers:
                object.__setattr__(module, name, backend.to_device(getattr(module, name), device))
        return self

    # ---- state -----------------------------------------------------------------------------
    def state_dict(self) -> OrderedDict[str, np.ndarray]:
        """Every parameter and buffer by dotted name, as host NumPy arrays (copies)."""
        state: OrderedDict[str, np.ndarray] = OrderedDict()
        for name, param in self.named_parameters():
            state[name] = backend.to_numpy(param.data).copy()
        for name, buffer in self.named_buffers():
            state[name] = backend.to_numpy(buffer).copy()
        return state

    def load_state_dict(self, state: dict[str, Any], strict: bool = True) -> tuple[list[str], list[str]]:
        """Copy arrays into parameters by name; returns (missing, unexpected) keys.

        With ``strict=True`` missing or unexpected keys raise ``KeyError``; a shape mismatch always
        raises ``ValueError`` naming the parameter and both shapes.
        """
        own = dict(self.named_parameters())
        buffers = {name for name, _ in self.named_buffers()}
        missing = [k for k in list(own) + sorted(buffers) if k not in state]
        unexpected = [k for k in state if k not in own and k not in buffers]
        if strict and (missing or unexpected):
            raise KeyError(f"load_state_dict: missing keys {missing}, unexpected keys {unexpected}")
        xp = backend.xp()
        for name, value in state.items():
            array = np.asarray(backend.to_numpy(array_of(value)))
            if name in own:
                param = own[name]
                if tuple(array.shape) != param.shape:
                    raise ValueError(
                        f"load_state_dict: {name} has shape {param.shape} in the model "
                        f"but {tuple(array.shape)} in the state dict"
                    )
                param.data = xp.asarray(array.astype(param.dtype, copy=False)).copy()
            elif name in buffers:
                module_name, _, attr = name.rpartition(".")
                module = dict(self.named_modules())[module_name]
                object.__setattr__(module, attr, xp.asarray(array).copy())
        return missing, unexpected

    def extra_repr(self) -> str:
        return ""

    def _repr_html_(self) -> str:
        """Jupyter's view: a table of the parameters (dotted name, shape, count) with the total, and
        the module tree folded below it."""
        rows = "".join(f"<tr><td style='text-align:left'><code>{html.escape(name)}</code></td>"
                       f"<td style='text-align:left'>{tuple(p.shape)}</td><td>{p.size:,}</td></tr>"
                       for name, p in self.named_parameters())
        total = self.num_parameters()
        return (f"<div class='zeronlp-module'><b>{html.escape(type(self).__name__)}</b>: {total:,} parameters"
                f"{' (training mode)' if self.training else ' (eval mode)'}"
                "<table><thead><tr><th style='text-align:left'>parameter</th><th style='text-align:left'>shape</th>"
                f"<th>count</th></tr></thead><tbody>{rows}</tbody><tfoot><tr><th style='text-align:left'>total</th>"
                f"<td></td><th>{total:,}</th></tr></tfoot></table>"
                f"<details><summary>modules</summary><pre>{html.escape(repr(self))}</pre></details></div>")

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__}({self.extra_repr()}"]
        for name, module in self._modules.items():
            child = repr(module).replace("\n", "\n  ")
            lines.append(f"  ({name}): {child}")
        return "\n".join(lines) + (")" if len(lines) == 1 else "\n)")
