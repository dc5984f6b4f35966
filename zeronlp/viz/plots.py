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
    if ax.get_legend_handles_labels()[0]:
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
    if xkey == "epoch":
        ax.xaxis.set_major_locator(_pyplot().MaxNLocator(integer=True))
    return _save(fig, path)


def smooth(values: Sequence[float], window: int) -> np.ndarray:
    """Centred moving average over ``window`` points (shorter at the ends), NaN-free input assumed."""
    values = np.asarray(values, dtype=np.float64)
    if window <= 1 or len(values) < 3:
        return values
    kernel = np.ones(min(window, len(values)))
    total = np.convolve(values, kernel, mode="same")
    count = np.convolve(np.ones_like(values), kernel, mode="same")
    return total / count


def plot_series(series: dict[str, Sequence[float]], path: str | os.PathLike, xlabel: str = "",
                ylabel: str = "", title: str = "", logy: bool = False, smooth_window: int = 0) -> Path:
    """One line per named series (e.g. the binary-addition variants' loss curves).

    ``smooth_window > 1`` draws each raw series faintly with its moving average over it.
    """
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for name, values in series.items():
        xs = np.arange(1, len(values) + 1)
        if smooth_window > 1:
            line, = ax.plot(xs, values, alpha=0.25, linewidth=0.8)
            ax.plot(xs, smooth(values, smooth_window), color=line.get_color(), label=name)
        else:
            ax.plot(xs, values, label=name)
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


def repel_labels(points: np.ndarray, width: float, height: float, iterations: int = 200) -> np.ndarray:
    """Label positions near ``points`` (N, 2) that do not overlap: boxes of ``width`` x ``height``
    (data units) pushed apart pairwise, and pulled back towards their points."""
    labels = points.astype(np.float64) + [0.3 * width, 0.3 * height]
    for _ in range(iterations):
        dx = labels[:, None, 0] - labels[None, :, 0]
        dy = labels[:, None, 1] - labels[None, :, 1]
        overlap = (np.abs(dx) < width) & (np.abs(dy) < height)
        np.fill_diagonal(overlap, False)
        if not overlap.any():
            break
        push_x = np.where(overlap, np.sign(dx + 1e-9) * (width - np.abs(dx)), 0.0).sum(axis=1)
        push_y = np.where(overlap, np.sign(dy + 1e-9) * (height - np.abs(dy)), 0.0).sum(axis=1)
        labels += 0.25 * np.stack([push_x, push_y], axis=1)
        labels += 0.02 * (points - labels)
    return labels


def plot_labeled_points(points: np.ndarray, labels: Sequence[str], path: str | os.PathLike,
                        title: str = "", xlabel: str = "", ylabel: str = "") -> Path:
    """Scatter 2-D ``points`` (N, 2), each with its label placed so that labels do not overlap
    (a thin line joins a label that had to move to its point)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 7))
    ax.scatter(points[:, 0], points[:, 1], s=14, zorder=3)
    span = np.ptp(points, axis=0) + 1e-9
    longest = max((len(label) for label in labels), default=1)
    positions = repel_labels(points, width=0.0125 * span[0] * longest, height=0.035 * span[1])
    for label, point, position in zip(labels, points, positions):
        moved = np.linalg.norm((position - point) / span) > 0.03
        ax.annotate(label, tuple(point), xytext=tuple(position), textcoords="data", fontsize=9,
                    arrowprops={"arrowstyle": "-", "color": "0.6", "linewidth": 0.6} if moved else None)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    return _save(fig, path)


def plot_confusion(matrix: np.ndarray, labels: Sequence[str], path: str | os.PathLike, title: str = "") -> Path:
    """A confusion matrix (rows: true class, columns: predicted) coloured by each row's share, every
    cell showing its count and that share."""
    plt = _pyplot()
    matrix = np.asarray(matrix)
    shares = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    size = max(5.0, 1.1 * len(labels) + 2.5)
    fig, ax = plt.subplots(figsize=(size + 1.0, size))
    image = ax.imshow(shares, cmap="Blues", vmin=0.0, vmax=1.0)
    fig.colorbar(image, ax=ax, label="share of the true class")
    ax.set_xticks(range(len(labels)), labels=list(labels), rotation=30, ha="right")
    ax.set_yticks(range(len(labels)), labels=list(labels))
    for i in range(matrix.shape[0]):
        for j in range(matrix.shape[1]):
            ax.text(j, i, f"{matrix[i, j]:,}\n{shares[i, j]:.0%}", ha="center", va="center", fontsize=9,
                    color="white" if shares[i, j] > 0.5 else "black")
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    if title:
        ax.set_title(title)
    return _save(fig, path)


def plot_dendrogram(linkage: np.ndarray, labels: Sequence[str], path: str | os.PathLike, title: str = "",
                    ylabel: str = "distance") -> Path:
    """A dendrogram of a SciPy ``linkage`` matrix (e.g. Ward clustering of word vectors), leaves labelled."""
    from scipy.cluster.hierarchy import dendrogram

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(max(6.0, 0.18 * len(labels) + 2), 5))
    dendrogram(np.asarray(linkage, dtype=np.float64), labels=list(labels), ax=ax, leaf_rotation=90,
               leaf_font_size=7 if len(labels) > 60 else 9)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    return _save(fig, path)


def plot_word_map(points: np.ndarray, labels: Sequence[str], path: str | os.PathLike,
                  groups: Sequence[int] | None = None, title: str = "", xlabel: str = "",
                  ylabel: str = "") -> Path:
    """Words on a 2-D map (t-SNE, PCA): each point labelled, coloured by its group (e.g. k-means cluster)."""
    plt = _pyplot()
    points = np.asarray(points)
    fig, ax = plt.subplots(figsize=(9, 8))
    colours = None if groups is None else np.asarray(groups)
    scatter = ax.scatter(points[:, 0], points[:, 1], s=14, c=colours, cmap="tab10" if groups is not None else None)
    for label, (x, y) in zip(labels, points):
        ax.annotate(label, (x, y), fontsize=7, xytext=(2, 2), textcoords="offset points")
    if groups is not None and len(set(colours.tolist())) <= 20:
        ax.legend(*scatter.legend_elements(), title="cluster", loc="best", fontsize=7)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    return _save(fig, path)
