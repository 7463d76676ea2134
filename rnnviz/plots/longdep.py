"""Figures for the long-term dependency page: live training curves, accuracy against T, and
three trained cells reading the same sequence."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from rnnviz.content import Text
from rnnviz.lessons.longdep import KIND_NAMES, downsample_indices, moving_average
from rnnviz.lessons.memory import CellRun
from rnnviz.plots.style import base_layout

KIND_COLORS = {"rnn": "#d62728", "lstm": "#1f77b4", "gru": "#2ca02c"}
_KIND_DASH = {"rnn": "solid", "lstm": "solid", "gru": "dot"}  # LSTM and GRU often overlap
_LAYOUT = base_layout(top=50)
_T = Text("plots/longdep")


def curves_figure(
    history: Mapping[str, Mapping[str, Sequence[float]]],
    chance: float,
    total_steps: int,
    lang: str = "zh",
    window: int = 20,
    max_points: int = 200,
) -> go.Figure:
    """Loss and accuracy per step (trailing mean over ``window`` steps), one line per model.

    Lines are down-sampled to ``max_points`` so a live redraw stays small; the x axis spans
    the whole budget so it does not jump while the run grows. Dashed: chance level.
    """
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.08,
                        subplot_titles=(_T(lang, "curves.loss"), _T(lang, "curves.accuracy")))
    for kind, h in history.items():
        steps = list(h["step"])
        if not steps:
            continue
        keep = downsample_indices(len(steps), max_points)
        x = [steps[i] for i in keep]
        for col, name in ((1, "loss"), (2, "accuracy")):
            y = moving_average(h[name], window)[keep]
            fig.add_trace(
                go.Scatter(x=x, y=y.astype("float32").tolist(), mode="lines",
                           name=KIND_NAMES[kind], legendgroup=kind, showlegend=col == 1,
                           line={"color": KIND_COLORS[kind], "width": 2},
                           hovertemplate=_T(lang, "curves.hover", name=KIND_NAMES[kind])),
                row=1, col=col,
            )
    fig.add_hline(y=math.log(1 / chance), line={"dash": "dash", "color": "#888"}, row=1, col=1,
                  annotation_text=f"ln {round(1 / chance)}", annotation_position="top right")
    fig.add_hline(y=chance, line={"dash": "dash", "color": "#888"}, row=1, col=2,
                  annotation_text=_T(lang, "chance.value", chance=f"{chance:.0%}"),
                  annotation_position="top right")
    fig.update_xaxes(range=[0, max(1, total_steps)], title_text=_T(lang, "curves.x"))
    fig.update_yaxes(range=[0, 1.05], row=1, col=2)
    fig.update_yaxes(rangemode="tozero", row=1, col=1)
    fig.update_layout(height=360, legend={"orientation": "h", "y": -0.25}, **_LAYOUT)
    return fig


def length_sweep_figure(
    runs: Sequence[Mapping[str, float]], chance: float, lang: str = "zh", shipped: bool = False
) -> go.Figure:
    """Held-out accuracy against sequence length T, one line per model.

    runs: dicts with "length" and one accuracy per model kind (a later run at the same T
    replaces an earlier one). ``shipped``: the runs are the shipped models (another title).
    """
    by_length: dict[int, Mapping[str, float]] = {}
    for run in runs:
        by_length[int(run["length"])] = run
    lengths = sorted(by_length)
    fig = go.Figure()
    for kind, name in KIND_NAMES.items():
        pts = [(T, by_length[T][kind]) for T in lengths if kind in by_length[T]]
        if not pts:
            continue
        fig.add_trace(
            go.Scatter(x=[p[0] for p in pts], y=[p[1] for p in pts], mode="lines+markers",
                       name=name, line={"color": KIND_COLORS[kind]}, marker={"size": 9},
                       hovertemplate=_T(lang, "sweep.hover", name=name))
        )
    fig.add_hline(y=chance, line={"dash": "dash", "color": "#888"},
                  annotation_text=_T(lang, "chance"), annotation_position="bottom right")
    fig.update_layout(
        height=320, title=_T(lang, "sweep.title.shipped" if shipped else "sweep.title.yours"),
        xaxis_title=_T(lang, "sweep.x"),
        yaxis={"range": [0, 1.05], "tickformat": ".0%"}, **_LAYOUT,
    )
    return fig


def cells_states_figure(runs: Mapping[str, CellRun], tokens: Sequence[str], t: int,
                        lang: str = "zh", max_units: int = 32) -> go.Figure:
    """Each cell's memory state (RNN h, LSTM c, GRU h), units × steps, up to step t (1-based):
    the steps not read yet stay blank, so moving t steps the three cells together."""
    kinds = list(runs)
    fig = make_subplots(rows=1, cols=len(kinds), horizontal_spacing=0.04,
                        subplot_titles=[_T(lang, f"cells.state.{k}") for k in kinds])
    T = len(tokens)
    for col, kind in enumerate(kinds, start=1):
        s = runs[kind].memory[:, :max_units].T.astype(np.float32)  # (H, T)
        shown = np.where(np.arange(T) < t, s, np.nan)
        m = float(np.abs(s).max()) or 1.0
        fig.add_trace(go.Heatmap(
            z=[[None if math.isnan(v) else float(v) for v in row] for row in shown],
            x=list(range(1, T + 1)), y=list(range(s.shape[0])), zmid=0, zmin=-m, zmax=m,
            colorscale="RdBu", showscale=False, customdata=[list(tokens)] * s.shape[0],
            hovertemplate=_T(lang, "cells.state.hover"),
        ), row=1, col=col)
        fig.add_vline(x=t, line={"color": "#333", "width": 1, "dash": "dot"}, row=1, col=col)
    fig.update_xaxes(range=[0.5, T + 0.5], title_text=_T(lang, "cells.x"))
    fig.update_yaxes(showticklabels=False)
    fig.update_layout(height=300, **_LAYOUT)
    return fig


def carry_figure(runs: Mapping[str, CellRun], t: int, lang: str = "zh") -> go.Figure:
    """How much of the first symbol each cell still carries at steps 1..t (log axis): the
    spectral norm of the Jacobian of the path from step 1 (rnnviz.lessons.memory)."""
    T = max(len(r.carry) for r in runs.values())
    fig = go.Figure()
    for kind, run in runs.items():
        y = np.maximum(run.carry[:t], 1e-30).astype(np.float32)
        name = _T(lang, f"carry.{kind}")
        fig.add_trace(go.Scatter(
            x=list(range(1, t + 1)), y=y.tolist(), mode="lines+markers", name=name,
            line={"color": KIND_COLORS[kind], "width": 2, "dash": _KIND_DASH[kind]},
            marker={"size": 4}, hovertemplate=_T(lang, "carry.hover", name=name),
        ))
    fig.add_vline(x=t, line={"color": "#333", "width": 1, "dash": "dot"})
    fig.update_layout(
        height=340, title=_T(lang, "carry.title"),
        xaxis={"range": [0.5, T + 0.5], "title": _T(lang, "cells.x")},
        yaxis={"title": _T(lang, "carry.y"), "type": "log", "exponentformat": "power"},
        legend={"orientation": "h", "y": -0.3}, **_LAYOUT,
    )
    return fig


__all__ = ["KIND_COLORS", "carry_figure", "cells_states_figure", "curves_figure",
           "length_sweep_figure"]
