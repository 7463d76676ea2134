"""Training curves kept short: a run publishes its loss and accuracy at every step, a figure
draws a few hundred points at most."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

MAX_CURVE_POINTS = 300


def thin(points: Sequence[Any], max_points: int = MAX_CURVE_POINTS) -> list[Any]:
    """At most ``max_points`` evenly spaced items, always keeping the first and the last."""
    n = len(points)
    if n <= max_points:
        return list(points)
    idx = np.unique(np.linspace(0, n - 1, max_points).round().astype(int))
    return [points[i] for i in idx]


__all__ = ["MAX_CURVE_POINTS", "thin"]
