"""Export the computational graph behind a tensor in Graphviz DOT (the book's graph pictures)."""

from __future__ import annotations

from ..autograd import Tensor


def _tensor_label(t: Tensor, verbose: bool) -> str:
    label = t.name or ""
    if verbose:
        label = f"{label}: " if label else ""
        label += f"{t.shape} {t.dtype}"
    return label


def graph_to_dot(output: Tensor, verbose: bool = False) -> str:
    """DOT text: tensors as orange ovals, Functions as blue boxes, edges in data-flow direction."""
    lines = ["digraph g {"]
    seen: set[int] = set()

    def add_tensor(t: Tensor) -> None:
        if id(t) not in seen:
            seen.add(id(t))
            lines.append(f'{id(t)} [label="{_tensor_label(t, verbose)}", color=orange, style=filled]')

    add_tensor(output)
    stack = [output.creator] if output.creator is not None else []
    while stack:
        function = stack.pop()
        if id(function) in seen or not hasattr(function, "inputs"):
            continue
        seen.add(id(function))
        lines.append(f'{id(function)} [label="{type(function).__name__}", color=lightblue, style=filled, shape=box]')
        for x in function.inputs:
            add_tensor(x)
            lines.append(f"{id(x)} -> {id(function)}")
            if x.creator is not None:
                stack.append(x.creator)
        for ref in function.outputs:
            y = ref()
            if y is not None:
                add_tensor(y)
                lines.append(f"{id(function)} -> {id(y)}")
    lines.append("}")
    return "\n".join(lines) + "\n"


def graph(output: Tensor, path: str | None = None, verbose: bool = False) -> str:
    """Return the DOT text of ``output``'s graph, and write it to ``path`` if given."""
    dot = graph_to_dot(output, verbose=verbose)
    if path is not None:
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(dot)
    return dot
