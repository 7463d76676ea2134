"""Figures for the LSTM & GRU page: the drawn cells, gate heatmaps over time, and how much
memory each network's keep gates let through."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from rnnviz.content import Text
from rnnviz.core.cells import GATES, gate_label
from rnnviz.lessons.gating import SIGMOID_GATES, GateView, unit_means
from rnnviz.lessons.memory import Memory
from rnnviz.plots.style import base_layout

_LAYOUT = base_layout(top=50)
_GATE_FILL = {"sigma": "#fde2b3", "tanh": "#cfe3f7", "op": "#ffffff"}
_SOURCE_COLORS = {"classifier": "#9467bd", "longdep": "#1f77b4", "demo": "#7f7f7f"}
_T = Text("plots/gates")


def _token_axis(fig: go.Figure, tokens: Sequence[str], **where: int) -> None:
    # Numeric x with token tick labels: repeated characters must stay separate columns.
    fig.update_xaxes(tickvals=list(range(len(tokens))), ticktext=list(tokens), tickangle=0,
                     **where)


def _box(fig: go.Figure, x: float, y: float, text: str, fill: str, w: float = 0.5,
         h: float = 0.4, round_: bool = False) -> None:
    shape = "circle" if round_ else "rect"
    fig.add_shape(type=shape, x0=x - w / 2, x1=x + w / 2, y0=y - h / 2, y1=y + h / 2,
                  line={"color": "#444", "width": 1.5}, fillcolor=fill, layer="above")
    fig.add_annotation(x=x, y=y, text=text, showarrow=False, font={"size": 14})


def _arrow(fig: go.Figure, x0: float, y0: float, x1: float, y1: float, color: str = "#444",
           width: float = 1.5) -> None:
    fig.add_annotation(x=x1, y=y1, ax=x0, ay=y0, xref="x", yref="y", axref="x", ayref="y",
                       showarrow=True, arrowhead=2, arrowwidth=width, arrowcolor=color, text="")


def _line(fig: go.Figure, x0: float, y0: float, x1: float, y1: float) -> None:
    fig.add_shape(type="line", x0=x0, x1=x1, y0=y0, y1=y1, line={"color": "#444", "width": 2})


def _cell_frame(fig: go.Figure, title: str, height: int) -> go.Figure:
    fig.add_shape(type="rect", x0=0.6, x1=7.4, y0=0.3, y1=4.6,
                  line={"color": "#bbb", "dash": "dot"}, fillcolor="rgba(0,0,0,0.02)",
                  layer="below")
    fig.update_xaxes(visible=False, range=[-0.2, 8.4])
    fig.update_yaxes(visible=False, range=[-0.5, 5.3], scaleanchor="x")
    fig.update_layout(height=height, title=title, showlegend=False, **_LAYOUT)
    return fig


def _belt(color: str, state: str, caption: str) -> go.Figure:
    """A new cell figure with its memory line along the top, from state_{t-1} to state_t."""
    fig = go.Figure()
    fig.add_shape(type="line", x0=0, x1=8, y0=4, y1=4, line={"color": color, "width": 6})
    for x, sub in ((0, "t−1"), (8, "t")):
        fig.add_annotation(x=x, y=4.35, text=f"{state}<sub>{sub}</sub>", showarrow=False,
                           font={"color": color})
    fig.add_annotation(x=4, y=4.95, showarrow=False, font={"color": color}, text=caption)
    return fig


def _inputs(fig: go.Figure, right: float) -> None:
    """h_{t-1} from the left and x_t from below, joined and carried to every gate."""
    _line(fig, 0, 1, right, 1)
    _line(fig, 1, 0, 1, 1)
    fig.add_annotation(x=0, y=1.3, text="h<sub>t−1</sub>", showarrow=False)
    fig.add_annotation(x=1, y=-0.2, text="x<sub>t</sub>", showarrow=False)


def lstm_cell_figure(lang: str = "zh") -> go.Figure:
    """The LSTM cell: the cell state c runs along the top like a conveyor belt (colah's
    picture), touched only by an elementwise × f_t (forget) and + i_t ⊙ g_t (write); o_t gates
    what leaves as h_t."""
    fig = _belt("#d62728", "c", _T(lang, "lstm.belt"))
    _inputs(fig, 5.6)
    gates = [(1.8, "σ", "f<sub>t</sub>", "sigma"), (2.9, "σ", "i<sub>t</sub>", "sigma"),
             (3.8, "tanh", "g<sub>t</sub>", "tanh"), (5.6, "σ", "o<sub>t</sub>", "sigma")]
    for x, op, name, fill in gates:
        _box(fig, x, 2.0, op, _GATE_FILL[fill], w=0.7)
        _arrow(fig, x, 1.0, x, 1.8)
        fig.add_annotation(x=x + 0.5, y=2.55, text=name, showarrow=False)
    _box(fig, 1.8, 4, "×", _GATE_FILL["op"], 0.45, 0.45, round_=True)  # forget
    _arrow(fig, 1.8, 2.2, 1.8, 3.77)
    _box(fig, 3.35, 3.0, "×", _GATE_FILL["op"], 0.45, 0.45, round_=True)  # i ⊙ g
    _arrow(fig, 2.9, 2.2, 3.15, 2.9)
    _arrow(fig, 3.8, 2.2, 3.55, 2.9)
    _box(fig, 3.35, 4, "+", _GATE_FILL["op"], 0.45, 0.45, round_=True)  # write
    _arrow(fig, 3.35, 3.22, 3.35, 3.77)
    _box(fig, 6.4, 3.2, "tanh", _GATE_FILL["tanh"], w=0.7)
    _arrow(fig, 6.4, 4, 6.4, 3.4)
    _box(fig, 6.4, 2.0, "×", _GATE_FILL["op"], 0.45, 0.45, round_=True)  # o ⊙ tanh(c)
    _arrow(fig, 6.4, 3.0, 6.4, 2.22)
    _arrow(fig, 5.95, 2.0, 6.17, 2.0)
    _line(fig, 6.63, 2.0, 8, 2.0)
    _arrow(fig, 7.0, 2.0, 7.0, 0.7)
    fig.add_annotation(x=8, y=2.3, text="h<sub>t</sub>", showarrow=False)
    fig.add_annotation(x=7.35, y=0.6, text="h<sub>t</sub>", showarrow=False)
    fig.add_annotation(x=1.8, y=4.55, text="⊙ f<sub>t</sub>", showarrow=False,
                       font={"size": 12})
    fig.add_annotation(x=3.35, y=4.55, text="+ i<sub>t</sub>⊙g<sub>t</sub>", showarrow=False,
                       font={"size": 12})
    return _cell_frame(fig, _T(lang, "lstm.title"), 380)


def gru_cell_figure(lang: str = "zh") -> go.Figure:
    """The GRU cell: h itself is the belt; z_t mixes the old h and the candidate n_t
    (h_t = (1 − z_t)⊙n_t + z_t⊙h_{t−1}, the convention of Cho et al. 2014 and torch)."""
    fig = _belt("#2ca02c", "h", _T(lang, "gru.belt"))
    _inputs(fig, 5.2)
    for x, op, name, fill in ((1.8, "σ", "r<sub>t</sub>", "sigma"),
                              (3.0, "σ", "z<sub>t</sub>", "sigma"),
                              (5.2, "tanh", "n<sub>t</sub>", "tanh")):
        _box(fig, x, 2.0, op, _GATE_FILL[fill], w=0.7)
        _arrow(fig, x, 1.0, x, 1.8)
        fig.add_annotation(x=x - 0.5, y=2.45, text=name, showarrow=False)
    _box(fig, 3.0, 4, "×", _GATE_FILL["op"], 0.45, 0.45, round_=True)  # z ⊙ h_{t-1}
    _arrow(fig, 3.0, 2.2, 3.0, 3.77)
    _box(fig, 4.3, 1.45, "×", _GATE_FILL["op"], 0.4, 0.4, round_=True)  # r ⊙ (W h + b_hn)
    _arrow(fig, 2.15, 1.9, 4.1, 1.5)
    _arrow(fig, 4.48, 1.55, 4.85, 1.85)
    _box(fig, 4.1, 3.0, "1−z", _GATE_FILL["op"], 0.6, 0.4)
    _arrow(fig, 3.2, 2.2, 3.85, 2.8)
    _box(fig, 5.2, 3.0, "×", _GATE_FILL["op"], 0.45, 0.45, round_=True)  # (1 - z) ⊙ n
    _arrow(fig, 4.4, 3.0, 4.97, 3.0)
    _arrow(fig, 5.2, 2.2, 5.2, 2.78)
    _box(fig, 5.2, 4, "+", _GATE_FILL["op"], 0.45, 0.45, round_=True)
    _arrow(fig, 5.2, 3.22, 5.2, 3.77)
    _arrow(fig, 6.6, 4.0, 6.6, 2.0)
    fig.add_annotation(x=6.95, y=1.85, text="h<sub>t</sub>", showarrow=False)
    fig.add_annotation(x=3.0, y=4.55, text="⊙ z<sub>t</sub>", showarrow=False,
                       font={"size": 12})
    fig.add_annotation(x=5.2, y=4.55, text="+ (1−z<sub>t</sub>)⊙n<sub>t</sub>",
                       showarrow=False, font={"size": 12})
    return _cell_frame(fig, _T(lang, "gru.title"), 380)


def gate_means_figure(view: GateView, lang: str = "zh") -> go.Figure:
    """Every gate's mean over the hidden units at each token: sigmoid gates (0..1) on top,
    the signed quantities (candidate, cell, hidden) below on a symmetric scale."""
    gates = list(GATES[view.kind])
    top = [g for g in gates if g in SIGMOID_GATES]
    bottom = [g for g in gates if g not in SIGMOID_GATES]
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.06,
                        row_heights=[len(top), len(bottom)])
    for row, names, axis in ((1, top, "coloraxis"), (2, bottom, "coloraxis2")):
        z = unit_means(view, names).astype(np.float32)
        labels = [gate_label(view.kind, g, lang) for g in names]
        fig.add_trace(
            go.Heatmap(z=z.tolist(), x=list(range(len(view.tokens))), y=labels, coloraxis=axis,
                       customdata=[list(view.tokens)] * len(names),
                       hovertemplate="%{y}<br>%{customdata}: %{z:.3f}<extra></extra>"),
            row=row, col=1,
        )
    signed = float(np.abs(unit_means(view, bottom)).max()) or 1.0
    fig.update_layout(
        coloraxis={"colorscale": "Viridis", "cmin": 0, "cmax": 1,
                   "colorbar": {"title": "σ", "len": 0.45, "y": 0.78}},
        coloraxis2={"colorscale": "RdBu", "cmid": 0, "cmin": -signed, "cmax": signed,
                    "colorbar": {"title": "±", "len": 0.45, "y": 0.22}},
        height=120 + 42 * len(gates),
        title=_T(lang, "means.title", kind=view.kind.upper(), units=view.hidden_size),
        **_LAYOUT,
    )
    fig.update_yaxes(autorange="reversed")  # gates top to bottom in equation order
    _token_axis(fig, view.tokens, row=2, col=1)
    return fig


def gate_units_figure(view: GateView, gate: str, lang: str = "zh",
                      max_units: int = 64) -> go.Figure:
    """One gate, every unit (up to ``max_units``) at every token."""
    s = view.states[gate][:, :max_units].T.astype(np.float32)  # (H, T)
    if gate in SIGMOID_GATES:
        colors = {"colorscale": "Viridis", "zmin": 0, "zmax": 1}
    else:
        m = float(np.abs(s).max()) or 1.0
        colors = {"colorscale": "RdBu", "zmid": 0, "zmin": -m, "zmax": m}
    fig = go.Figure(go.Heatmap(
        z=s.tolist(), x=list(range(len(view.tokens))), y=list(range(s.shape[0])),
        customdata=[list(view.tokens)] * s.shape[0],
        hovertemplate=_T(lang, "units.hover"), **colors,
    ))
    fig.update_layout(
        height=min(560, 140 + 9 * s.shape[0]),
        title=_T(lang, "units.title", gate=gate_label(view.kind, gate, lang)),
        yaxis_title=_T(lang, "units.y"), **_LAYOUT,
    )
    _token_axis(fig, view.tokens)
    return fig


def memory_figure(memories: Sequence[Memory], lang: str = "zh") -> go.Figure:
    """For each network, the median unit's product of its last d keep gates against d (log
    axis): how much of the memory d steps before the end still reaches the end along
    the direct path. For an LSTM the keep gate is f (the cell path), for a GRU z
    (h_t = (1 − z_t)⊙n_t + z_t⊙h_{t−1}); rnnviz.lessons.memory computes both."""
    kinds = {m.kind for m in memories}
    if len(kinds) != 1:
        raise ValueError(f"one cell kind per figure, got {sorted(kinds)}")
    kind = kinds.pop()
    fig = go.Figure()
    for m in memories:
        name = _T(lang, f"memory.source.{m.source}", T=m.steps + 1)
        fig.add_trace(go.Scatter(
            x=list(range(m.steps + 1)), y=np.maximum(m.back, 1e-30).astype(np.float32).tolist(),
            mode="lines+markers", name=name, marker={"size": 4},
            line={"color": _SOURCE_COLORS[m.source], "width": 2},
            hovertemplate=_T(lang, "memory.hover", name=name),
        ))
    fig.update_layout(
        height=340, title=_T(lang, f"memory.title.{kind}"),
        xaxis_title=_T(lang, "memory.x"),
        yaxis={"title": _T(lang, f"memory.y.{kind}"), "type": "log", "exponentformat": "power"},
        legend={"orientation": "h", "y": -0.3}, **_LAYOUT,
    )
    return fig


__all__ = ["gate_means_figure", "gate_units_figure", "gru_cell_figure", "lstm_cell_figure",
           "memory_figure"]
