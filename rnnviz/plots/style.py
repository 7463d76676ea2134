"""The look every figure shares, built once per process."""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go
import plotly.io as pio

# plotly_white's layout part only. Naming the template ("plotly_white") makes plotly copy and
# validate the whole template, defaults for every trace type included, into each figure: the
# predict page's two figures took 1.8x as long (bench/figure_cost.py). Every figure here sets
# its own colours.
LIGHT = go.layout.Template(layout=pio.templates["plotly_white"].layout)


def base_layout(top: int = 50) -> dict[str, Any]:
    """Layout arguments shared by the figures: the light template and tight margins."""
    return {"template": LIGHT, "margin": {"l": 10, "r": 10, "t": top, "b": 10}}


__all__ = ["LIGHT", "base_layout"]
