"""Attention weights as a matplotlib figure, for notebooks (``zeronlp serve`` draws the same in HTML).

``attention_figure(translate(model, codec, "six one two"))`` or ``attention_figure(weights, input_tokens,
output_tokens)``; weights ``(outputs, inputs)`` for one head or ``(heads, outputs, inputs)`` for several
(one panel each). The figure is made without pyplot, so a notebook shows it once (as the cell's value)
and nothing is left open in pyplot's list of figures.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import UsageError

__all__ = ["attention_figure"]


def attention_figure(weights: Any, input_tokens: Sequence[str] | None = None,
                     output_tokens: Sequence[str] | None = None, title: str = "", cmap: str = "Blues") -> Any:
    """A ``matplotlib.figure.Figure`` of the attention ``weights``, rows labelled by ``output_tokens`` and
    columns by ``input_tokens``. ``weights`` may also be what ``seq2seq_io.translate`` returns (a
    ``Translation``), whose tokens are then used."""
    from matplotlib.figure import Figure

    if hasattr(weights, "weights") and hasattr(weights, "input_tokens"):
        input_tokens = input_tokens if input_tokens is not None else weights.input_tokens
        output_tokens = output_tokens if output_tokens is not None else weights.output_tokens
        title = title or getattr(weights, "answer", "")
        weights = weights.weights
    if weights is None:
        raise UsageError("this model has no attention weights to draw")
    heads = np.asarray(weights, dtype=np.float64)
    if heads.ndim == 2:
        heads = heads[None]
    if heads.ndim != 3 or heads.shape[1] == 0 or heads.shape[2] == 0:
        raise UsageError(f"attention weights must be (outputs, inputs) or (heads, outputs, inputs), got {heads.shape}")
    outputs, inputs = heads.shape[1:]
    for name, tokens, size in (("input_tokens", input_tokens, inputs), ("output_tokens", output_tokens, outputs)):
        if tokens is not None and len(tokens) != size:
            raise UsageError(f"{name} has {len(tokens)} labels for {size} {name.split('_')[0]}s of the weights")
    width, height = max(3.0, 0.4 * inputs + 1.6), max(2.5, 0.4 * outputs + 1.2)
    fig = Figure(figsize=(width * len(heads), height), layout="constrained")
    axes = fig.subplots(1, len(heads), squeeze=False)[0]
    for h, (ax, matrix) in enumerate(zip(axes, heads)):
        image = ax.imshow(matrix, cmap=cmap, vmin=0.0, vmax=max(1e-12, float(matrix.max())), aspect="auto")
        ax.set_xticks(range(inputs), labels=list(input_tokens) if input_tokens is not None else range(inputs),
                      rotation=90)
        ax.set_yticks(range(outputs), labels=list(output_tokens) if output_tokens is not None else range(outputs))
        ax.set_xlabel("input")
        if h == 0:
            ax.set_ylabel("output")
        if len(heads) > 1:
            ax.set_title(f"head {h + 1}")
    fig.colorbar(image, ax=list(axes), shrink=0.8)
    if title:
        fig.suptitle(title)
    return fig
