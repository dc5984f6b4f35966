"""Visualization: the computational graph (DOT) and matplotlib plots (``zeronlp.viz.plots``)."""

from .graph import graph, graph_to_dot

__all__ = ["graph", "graph_to_dot"]
