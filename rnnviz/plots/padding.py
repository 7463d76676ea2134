"""Figures for the padding page: how far padding moves the state a classifier reads, the
per-step state norms over a padded row, and the three schemes' stored dev accuracies."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from rnnviz.content import Text
from rnnviz.lessons.padding import DIRECTIONS, SCHEMES, PaddingView, StoredResults
from rnnviz.plots.style import base_layout

SCHEME_COLORS = {"post": "#d62728", "pre": "#1f77b4", "packed": "#2ca02c"}
_DASH = {"forward": "solid", "backward": "dot", "both": "dash"}
_LAYOUT = base_layout(top=60)
_T = Text("plots/padding")


def drift_figure(view: PaddingView, lang: str = "zh") -> go.Figure:
    """cos(state read at the last position, packed state) against the number k of padding
    steps after (post) or before (pre) the title, per direction; the title's own k at L is
    marked."""
    fig = go.Figure()
    parts = list(DIRECTIONS[:view.directions]) + (["both"] if view.directions > 1 else [])
    for scheme in ("post", "pre"):
        for part in parts:
            y = view.drift[scheme][part]
            name = _T(lang, "drift.line", scheme=_T(lang, f"scheme.{scheme}"),
                      part=_T(lang, f"part.{part}"))
            fig.add_trace(go.Scatter(
                x=list(range(len(y))), y=np.asarray(y, dtype=np.float32).tolist(),
                mode="lines+markers", name=name, marker={"size": 4},
                line={"color": SCHEME_COLORS[scheme], "dash": _DASH[part], "width": 2},
                hovertemplate=name + "<br>k=%{x}: cos=%{y:.3f}<extra></extra>"))
    if 0 <= view.pads < len(view.drift["post"]["both"]):
        fig.add_vline(x=view.pads, line={"color": "#888", "dash": "dash"},
                      annotation_text=_T(lang, "drift.marker", L=view.length, k=view.pads),
                      annotation_position="top left")
    fig.update_xaxes(title_text=_T(lang, "drift.x"))
    fig.update_yaxes(title_text=_T(lang, "drift.y"))
    fig.update_layout(height=380, title=_T(lang, "drift.title", n=view.n),
                      legend={"orientation": "h", "y": -0.25}, **_LAYOUT)
    return fig


def norms_figure(view: PaddingView, lang: str = "zh") -> go.Figure:
    """‖h_t‖ of the top layer at every position of the post-padded row (title, then PAD), each
    direction, beside the packed run over the title alone."""
    fig = go.Figure()
    labels = [f"{t + 1} {tok}" for t, tok in enumerate(view.tokens)]
    labels += [f"{t + 1} PAD" for t in range(view.n, view.length)]
    for scheme in ("post", "packed"):
        norms = view.norms[scheme]  # (steps, D)
        for d, direction in enumerate(DIRECTIONS[:view.directions]):
            name = _T(lang, "norms.line", scheme=_T(lang, f"scheme.{scheme}"),
                      part=_T(lang, f"part.{direction}"))
            fig.add_trace(go.Scatter(
                x=labels[:len(norms)], y=norms[:, d].astype(np.float32).tolist(),
                mode="lines+markers", name=name,
                line={"color": SCHEME_COLORS[scheme], "dash": _DASH[direction], "width": 2},
                hovertemplate=name + "<br>%{x}: %{y:.3f}<extra></extra>"))
    if view.pads > 0:
        fig.add_vrect(x0=view.n - 0.5, x1=view.length - 0.5, fillcolor="#999", opacity=0.12,
                      line_width=0, annotation_text=_T(lang, "norms.pad"),
                      annotation_position="top left")
    fig.update_xaxes(title_text=_T(lang, "norms.x"), type="category")
    fig.update_yaxes(title_text=_T(lang, "norms.y"))
    fig.update_layout(height=380, title=_T(lang, "norms.title"),
                      legend={"orientation": "h", "y": -0.3}, **_LAYOUT)
    return fig


def accuracy_figure(stored: StoredResults, lang: str = "zh") -> go.Figure:
    """The three schemes' best dev accuracies (bars, labelled) from bench/padding.py."""
    names = [_T(lang, f"scheme.{s}") for s in SCHEMES]
    values = [stored.accuracy[s] for s in SCHEMES]
    fig = go.Figure(go.Bar(
        x=names, y=values, marker={"color": [SCHEME_COLORS[s] for s in SCHEMES]},
        text=[f"{v:.2%}" for v in values], textposition="outside",
        hovertemplate="%{x}: %{y:.2%}<extra></extra>"))
    low = min(values)
    fig.update_yaxes(title_text=_T(lang, "accuracy.y"), tickformat=".0%",
                     range=[max(0.0, low - 0.1), min(1.0, max(values) + 0.04)])
    fig.update_layout(height=340, title=_T(lang, "accuracy.title", n=stored.dev_examples),
                      showlegend=False, **_LAYOUT)
    return fig


__all__ = ["SCHEME_COLORS", "accuracy_figure", "drift_figure", "norms_figure"]
