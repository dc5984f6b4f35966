"""Export the computational graph behind a tensor in Graphviz DOT (the book's graph pictures).

The DOT text is built at the autograd layer (:func:`zeronlp.autograd.graph_to_dot`, also
``Tensor.to_dot()``), since it needs only Tensor and Function; this module adds writing it to a file.
"""

from __future__ import annotations

from ..autograd import Tensor, graph_to_dot

__all__ = ["graph", "graph_to_dot"]


def graph(output: Tensor, path: str | None = None, verbose: bool = False) -> str:
    """Return the DOT text of ``output``'s graph, and write it to ``path`` if given."""
    dot = graph_to_dot(output, verbose=verbose)
    if path is not None:
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(dot)
    return dot
