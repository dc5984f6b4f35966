"""Matplotlib plots written to PNG (Agg backend, no display needed)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, path: str | os.PathLike) -> Path:
    """Write ``fig`` as a PNG (creating the folder) and free it."""
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    _pyplot().close(fig)
    return path


def _decorate(ax: Any, xlabel: str, ylabel: str, title: str, logy: bool) -> None:
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    if logy:
        ax.set_yscale("log")
    ax.grid(alpha=0.3)
    ax.legend()


def plot_curves(history: list[dict[str, Any]], keys: Sequence[str], path: str | os.PathLike,
                ylabel: str = "", title: str = "", xkey: str = "epoch", logy: bool = False) -> Path:
    """Plot ``history[i][key]`` against ``history[i][xkey]`` for each key present; save PNG."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    for key in keys:
        points = [(row[xkey], row[key]) for row in history if key in row]
        if points:
            xs, ys = zip(*points)
            ax.plot(xs, ys, marker="o" if len(xs) < 30 else None, label=key)
    _decorate(ax, xkey, ylabel, title, logy)
    return _save(fig, path)


def plot_series(series: dict[str, Sequence[float]], path: str | os.PathLike, xlabel: str = "",
                ylabel: str = "", title: str = "", logy: bool = False) -> Path:
    """One line per named series (e.g. the binary-addition variants' loss curves)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for name, values in series.items():
        ax.plot(np.arange(1, len(values) + 1), values, label=name)
    _decorate(ax, xlabel, ylabel, title, logy)
    return _save(fig, path)


def plot_decision_boundary(predict: Any, x: np.ndarray, t: np.ndarray, path: str | os.PathLike,
                           resolution: float = 0.01, title: str = "") -> Path:
    """Colour the plane by ``predict(points) -> class ids`` and scatter the data on top."""
    plt = _pyplot()
    x_min, x_max = x[:, 0].min() - 0.1, x[:, 0].max() + 0.1
    y_min, y_max = x[:, 1].min() - 0.1, x[:, 1].max() + 0.1
    xx, yy = np.meshgrid(np.arange(x_min, x_max, resolution), np.arange(y_min, y_max, resolution))
    grid = np.c_[xx.ravel(), yy.ravel()].astype(np.float32)
    zz = np.asarray(predict(grid)).reshape(xx.shape)
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.contourf(xx, yy, zz, alpha=0.3, cmap="viridis")
    ax.scatter(x[:, 0], x[:, 1], c=t, s=12, cmap="viridis", edgecolors="k", linewidths=0.3)
    ax.set_xlim(x_min, x_max)
    ax.set_ylim(y_min, y_max)
    if title:
        ax.set_title(title)
    return _save(fig, path)


def plot_heatmap(matrix: np.ndarray, path: str | os.PathLike, row_labels: Sequence[str] = (),
                 col_labels: Sequence[str] = (), xlabel: str = "", ylabel: str = "", title: str = "",
                 annotate: bool = False, cmap: str = "Greys") -> Path:
    """A labelled heatmap (attention weights, confusion matrices)."""
    plt = _pyplot()
    matrix = np.asarray(matrix)
    height = max(3.0, 0.35 * matrix.shape[0] + 1.5)
    width = max(3.5, 0.35 * matrix.shape[1] + 2.0)
    fig, ax = plt.subplots(figsize=(width, height))
    image = ax.imshow(matrix, cmap=cmap, aspect="auto")
    fig.colorbar(image, ax=ax)
    if len(col_labels):
        ax.set_xticks(range(len(col_labels)), labels=list(col_labels), rotation=90)
    if len(row_labels):
        ax.set_yticks(range(len(row_labels)), labels=list(row_labels))
    if annotate:
        for i in range(matrix.shape[0]):
            for j in range(matrix.shape[1]):
                ax.text(j, i, f"{matrix[i, j]:g}", ha="center", va="center", fontsize=8,
                        color="white" if matrix[i, j] > matrix.max() / 2 else "black")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    return _save(fig, path)


def plot_labeled_points(points: np.ndarray, labels: Sequence[str], path: str | os.PathLike,
                        title: str = "") -> Path:
    """Scatter 2-D ``points`` (N, 2), each annotated with its label (e.g. words on their PCA plane)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 6))
    ax.scatter(points[:, 0], points[:, 1], s=12)
    for label, (x, y) in zip(labels, points):
        ax.annotate(label, (x, y), fontsize=9, xytext=(3, 3), textcoords="offset points")
    ax.set_title(title)
    return _save(fig, path)
