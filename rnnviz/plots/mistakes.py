"""The error explorer's confusion matrix: the classifier page's figure with a clickable marker
on every cell and the chosen cell outlined.

Plotly heatmap cells send no selection events to Streamlit, so each cell carries an invisible
square scatter marker (trace 1, point index = true * C + predicted) that a click selects.
"""

from __future__ import annotations

import plotly.graph_objects as go

from rnnviz.content import Text
from rnnviz.core.classes import display_class
from rnnviz.core.metrics import EvalReport
from rnnviz.plots.classifier import confusion_figure

_T = Text("plots/mistakes")
CELLS_TRACE = 1  # the index of the markers' trace in the figure


def error_matrix_figure(report: EvalReport, lang: str = "zh",
                        selected: tuple[int, int] | None = None) -> go.Figure:
    """``confusion_figure`` plus a marker per cell (hover: the count and what a click does) and
    an outline around ``selected`` = (true, predicted)."""
    fig = confusion_figure(report, lang)
    names = [display_class(c, lang) for c in report.classes]
    C = len(names)
    cm = report.confusion_matrix
    fig.update_traces(hoverinfo="skip", hovertemplate=None, selector={"type": "heatmap"})
    fig.add_trace(go.Scatter(
        x=[names[j] for i in range(C) for j in range(C)],
        y=[names[i] for i in range(C) for j in range(C)],
        customdata=[[cm[i][j]] for i in range(C) for j in range(C)],
        mode="markers", showlegend=False, name="cells",
        marker={"symbol": "square", "size": 30, "color": "rgba(0,0,0,0)"},
        hovertemplate=_T(lang, "cell.hover") + "<extra></extra>",
    ))
    if selected is not None:
        i, j = selected
        fig.add_shape(type="rect", x0=j - 0.5, x1=j + 0.5, y0=i - 0.5, y1=i + 0.5,
                      line={"color": "#d62728", "width": 3})
    fig.update_layout(clickmode="event+select", dragmode=False)
    return fig


def clicked_cell(points: list[dict], num_classes: int) -> tuple[int, int] | None:
    """(true, predicted) of the first clicked cell marker in a Streamlit selection's points."""
    for point in points:
        if point.get("curve_number") == CELLS_TRACE and "point_index" in point:
            i, j = divmod(int(point["point_index"]), num_classes)
            if 0 <= i < num_classes:
                return i, j
    return None


__all__ = ["CELLS_TRACE", "clicked_cell", "error_matrix_figure"]
