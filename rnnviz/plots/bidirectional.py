"""Figures for the bidirectional RNN page: the two passes, their states, their norms.

Positions are shown 1-based, as on the structure page: x_1 .. x_T, with h→_0 = 0 and
h←_{T+1} = 0 the initial states.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from rnnviz.content import Text
from rnnviz.plots.style import base_layout

FWD_COLOR, BWD_COLOR = "#1f77b4", "#ff7f0e"
_LAYOUT = base_layout(top=50)
_T = Text("plots/bidirectional")


def _arrow(x: float, ax: float, y: float, color: str) -> dict:
    return dict(x=x, y=y, ax=ax, ay=y, xref="x", yref="y", axref="x", ayref="y",
                showarrow=True, arrowhead=2, arrowcolor=color, arrowwidth=2, text="")


def bidirectional_diagram(tokens: Sequence[str], lang: str = "zh", max_tokens: int = 24,
                          highlight: int | None = None) -> go.Figure:
    """Inputs at the bottom, a forward row (→) and a backward row (←) of hidden states, and
    the output y_t = [h→_t ; h←_t] above each token; ``highlight`` (0-based) marks one
    position. Markers sit at x = 0 .. T-1; their labels count from 1."""
    tokens = list(tokens)[:max_tokens]
    T = len(tokens)
    x = list(range(T))
    fig = go.Figure()
    notes = []
    rows = ((1.0, FWD_COLOR, "h→", _T(lang, "forward"), 1),
            (2.0, BWD_COLOR, "h←", _T(lang, "backward"), -1))
    for y, color, sym, name, step in rows:
        for t in range(T - 1):
            a, b = (t, t + 1) if step > 0 else (t + 1, t)
            notes.append(_arrow(b - 0.2 * step, a + 0.2 * step, y, color))
        fig.add_trace(go.Scatter(
            x=x, y=[y] * T, mode="markers+text", name=name,
            marker={"size": 26, "color": color, "line": {"color": "#333"}},
            text=[f"{sym}<sub>{t + 1}</sub>" for t in x], textfont={"color": "white"},
            customdata=[t + 1 for t in x], hovertemplate=name + " t=%{customdata}<extra></extra>",
        ))
    fig.update_layout(annotations=notes)
    for t in x:  # x_t feeds both rows; both rows feed y_t
        fig.add_shape(type="line", x0=t, x1=t, y0=0.2, y1=2.8, line={"color": "#bbb", "width": 1})
    if highlight is not None and 0 <= highlight < T:
        fig.add_shape(type="rect", x0=highlight - 0.45, x1=highlight + 0.45, y0=-0.45, y1=3.45,
                      line={"color": "#d62728", "width": 2, "dash": "dot"})
    fig.add_trace(go.Scatter(x=x, y=[0.0] * T, mode="markers+text", text=tokens,
                             marker={"size": 26, "color": "#eee", "line": {"color": "#333"}},
                             name=_T(lang, "input"), hoverinfo="skip"))
    fig.add_trace(go.Scatter(x=x, y=[3.0] * T, mode="markers+text",
                             text=[f"y<sub>{t + 1}</sub>" for t in x],
                             marker={"size": 26, "color": "#9467bd", "symbol": "square"},
                             textfont={"color": "white"}, name=_T(lang, "output"),
                             hoverinfo="skip"))
    fig.update_xaxes(visible=False, range=[-0.7, T - 0.3])
    fig.update_yaxes(visible=False, range=[-0.6, 3.6])
    fig.update_layout(height=330, legend={"orientation": "h", "y": -0.05},
                      title=_T(lang, "diagram.title"), **_LAYOUT)
    return fig


def concat_states_figure(tokens: Sequence[str], forward: np.ndarray, backward: np.ndarray,
                         lang: str = "zh", max_units: int = 32) -> go.Figure:
    """[h→_t ; h←_t] as one heatmap: forward units on top, backward units below a divider."""
    f = forward[:, :max_units].T
    b = backward[:, :max_units].T
    z = np.concatenate([f, b], axis=0).astype(np.float32)  # (2H', T)
    H = f.shape[0]
    labels = [f"→{i}" for i in range(H)] + [f"←{i}" for i in range(H)]
    m = float(np.abs(z).max()) or 1.0
    fig = go.Figure(go.Heatmap(
        z=z.tolist(), x=list(range(1, len(tokens) + 1)), y=list(range(2 * H)), colorscale="RdBu",
        zmid=0, zmin=-m, zmax=m, customdata=[[lab] * len(tokens) for lab in labels],
        hovertemplate="%{customdata} t=%{x}: %{z:.3f}<extra></extra>",
    ))
    fig.add_hline(y=H - 0.5, line={"color": "black", "width": 3})
    fig.update_yaxes(autorange="reversed", tickvals=[H / 2 - 0.5, H + H / 2 - 0.5],
                     ticktext=[_T(lang, "concat.forward"), _T(lang, "concat.backward")])
    fig.update_xaxes(tickvals=list(range(1, len(tokens) + 1)), ticktext=list(tokens), tickangle=0)
    fig.update_layout(height=min(620, 160 + 8 * 2 * H), title=_T(lang, "concat.title", H=H),
                      **_LAYOUT)
    return fig


def direction_norms_figure(tokens: Sequence[str], forward_norm: np.ndarray,
                           backward_norm: np.ndarray, lang: str = "zh") -> go.Figure:
    """‖h→_t‖ and ‖h←_t‖ per token, side by side."""
    x = list(range(len(tokens)))
    fig = go.Figure()
    for y, name, color in ((forward_norm, _T(lang, "norms.forward"), FWD_COLOR),
                           (backward_norm, _T(lang, "norms.backward"), BWD_COLOR)):
        fig.add_trace(go.Bar(x=x, y=np.asarray(y, dtype=np.float32).tolist(), name=name,
                             marker_color=color, customdata=list(tokens),
                             hovertemplate="%{customdata}: %{y:.3f}<extra>" + name + "</extra>"))
    fig.update_xaxes(tickvals=x, ticktext=list(tokens), tickangle=0)
    fig.update_layout(barmode="group", height=320, legend={"orientation": "h", "y": -0.2},
                      title=_T(lang, "norms.title"), **_LAYOUT)
    return fig


__all__ = ["BWD_COLOR", "FWD_COLOR", "bidirectional_diagram", "concat_states_figure",
           "direction_norms_figure"]
