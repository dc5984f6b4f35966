"""Export the computational graph behind a tensor in Graphviz DOT (the book's graph pictures).

The DOT text is built at the autograd layer (:func:`zeronlp.autograd.graph_to_dot`, also
``Tensor.to_dot()``), since it needs only Tensor and Function; this module adds writing it to a file
and showing it in Jupyter: :func:`graph` returns a :class:`DotGraph`, the DOT text itself (a ``str``)
that a notebook draws as SVG when Graphviz's ``dot`` program is installed, and shows as source otherwise.
"""

from __future__ import annotations

import html
import shutil
import subprocess

from ..autograd import Tensor, graph_to_dot

__all__ = ["graph", "graph_to_dot", "DotGraph", "render_svg"]

DOT_TIMEOUT = 30.0  # seconds for Graphviz to lay out a graph


def render_svg(dot: str) -> str | None:
    """The graph drawn by Graphviz's ``dot -Tsvg``, or None when ``dot`` is not installed or fails."""
    program = shutil.which("dot")
    if program is None:
        return None
    try:
        done = subprocess.run([program, "-Tsvg"], input=dot.encode("utf-8"), capture_output=True,
                              timeout=DOT_TIMEOUT, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if done.returncode != 0:
        return None
    svg = done.stdout.decode("utf-8", "replace")
    start = svg.find("<svg")  # drop the XML prolog and DOCTYPE: the SVG goes inside HTML
    return svg[start:] if start >= 0 else None


class DotGraph(str):
    """DOT source (a ``str``, so existing code keeps working) with Jupyter displays: ``_repr_svg_``
    draws it with Graphviz when ``dot`` is installed; ``_repr_html_`` shows that drawing, or the
    DOT source with a hint when there is no ``dot``."""

    _svg: str | None
    _rendered = False

    @property
    def source(self) -> str:
        return str(self)

    def svg(self) -> str | None:
        """The SVG drawing (rendered once), or None without Graphviz."""
        if not self._rendered:
            self._svg, self._rendered = render_svg(str(self)), True
        return self._svg

    def _repr_svg_(self) -> str | None:
        return self.svg()

    def _repr_html_(self) -> str:
        svg = self.svg()
        if svg is not None:
            return f"<div class='zeronlp-graph'>{svg}</div>"
        return ("<div class='zeronlp-graph'><small>Graphviz's <code>dot</code> is not installed "
                "(apt-get install graphviz): the graph's DOT source</small>"
                f"<pre>{html.escape(str(self))}</pre></div>")


def graph(output: Tensor, path: str | None = None, verbose: bool = False) -> DotGraph:
    """Return the DOT text of ``output``'s graph (drawn as SVG in Jupyter), and write it to ``path`` if given."""
    dot = graph_to_dot(output, verbose=verbose)
    if path is not None:
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(dot)
    return DotGraph(dot)
