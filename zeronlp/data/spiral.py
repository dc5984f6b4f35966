"""The spiral data set of the book's first experiment: interleaved arms, one class per arm."""

from __future__ import annotations

import numpy as np

from .. import backend


def spiral(num_classes: int = 3, points_per_class: int = 100, seed: int | None = 1920,
           noise: float = 0.2) -> tuple[np.ndarray, np.ndarray]:
    """Points on ``num_classes`` spiral arms: x = r (sin theta, cos theta) with
    r = i / N and theta = 4 r + 2 pi c / C + noise (the book's ``load_data``, for any C).

    Returns ``x`` (C*N, 2) float32 and integer labels ``t`` (C*N,). ``seed=None`` draws from the
    backend's host Generator.
    """
    if num_classes < 1 or points_per_class < 1:
        raise ValueError(f"spiral needs at least one class and one point, got {num_classes}, {points_per_class}")
    rng = backend.get_host_rng() if seed is None else np.random.default_rng(seed)
    radius = np.arange(points_per_class) / points_per_class
    x = np.empty((num_classes * points_per_class, 2), dtype=np.float32)
    t = np.empty(num_classes * points_per_class, dtype=np.int64)
    for c in range(num_classes):
        theta = 4.0 * radius + 2 * np.pi * c / num_classes + rng.standard_normal(points_per_class) * noise
        rows = slice(c * points_per_class, (c + 1) * points_per_class)
        x[rows, 0] = radius * np.sin(theta)
        x[rows, 1] = radius * np.cos(theta)
        t[rows] = c
    return x, t
