"""Figures for the LSTM & GRU page: the drawn cells, gate heatmaps over time, the cell path."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from rnnviz.core.cells import GATES, gate_label
from rnnviz.i18n import pick
from rnnviz.lessons.gating import SIGMOID_GATES, GateView, unit_means
from rnnviz.plots.style import base_layout

_LAYOUT = base_layout(top=50)
_GATE_FILL = {"sigma": "#fde2b3", "tanh": "#cfe3f7", "op": "#ffffff"}


def _token_axis(fig: go.Figure, tokens: Sequence[str], **where: int) -> None:
    # Numeric x with token tick labels: repeated characters must stay separate columns.
    fig.update_xaxes(tickvals=list(range(len(tokens))), ticktext=list(tokens), tickangle=0, **where)


def _box(fig: go.Figure, x: float, y: float, text: str, fill: str, w: float = 0.5,
         h: float = 0.4, round_: bool = False) -> None:
    shape = "circle" if round_ else "rect"
    fig.add_shape(type=shape, x0=x - w / 2, x1=x + w / 2, y0=y - h / 2, y1=y + h / 2,
                  line={"color": "#444", "width": 1.5}, fillcolor=fill, layer="above")  # fmt: skip
    fig.add_annotation(x=x, y=y, text=text, showarrow=False, font={"size": 14})


def _arrow(fig: go.Figure, x0: float, y0: float, x1: float, y1: float, color: str = "#444",
           width: float = 1.5) -> None:
    fig.add_annotation(x=x1, y=y1, ax=x0, ay=y0, xref="x", yref="y", axref="x", ayref="y",
                       showarrow=True, arrowhead=2, arrowwidth=width, arrowcolor=color, text="")  # fmt: skip


def _cell_frame(fig: go.Figure, title: str, height: int) -> go.Figure:
    fig.add_shape(type="rect", x0=0.6, x1=7.4, y0=0.3, y1=4.6, line={"color": "#bbb", "dash": "dot"},
                  fillcolor="rgba(0,0,0,0.02)", layer="below")  # fmt: skip
    fig.update_xaxes(visible=False, range=[-0.2, 8.4])
    fig.update_yaxes(visible=False, range=[-0.5, 5.3], scaleanchor="x")
    fig.update_layout(height=height, title=title, showlegend=False, **_LAYOUT)
    return fig


def _belt(color: str, state: str, caption: str) -> go.Figure:
    """A new cell figure with its memory line along the top, from state_{t-1} to state_t."""
    fig = go.Figure()
    fig.add_shape(type="line", x0=0, x1=8, y0=4, y1=4, line={"color": color, "width": 6})
    fig.add_annotation(x=0, y=4.35, text=f"{state}<sub>t−1</sub>", showarrow=False, font={"color": color})
    fig.add_annotation(x=8, y=4.35, text=f"{state}<sub>t</sub>", showarrow=False, font={"color": color})
    fig.add_annotation(x=4, y=4.95, showarrow=False, font={"color": color}, text=caption)
    return fig


def lstm_cell_figure(lang: str = "zh") -> go.Figure:
    """The LSTM cell: the cell state c runs along the top like a conveyor belt, touched only by
    an elementwise × f_t (forget) and + i_t ⊙ g_t (write); o_t gates what leaves as h_t."""
    fig = _belt("#d62728", "c", pick(lang, "细胞状态：传送带（只有逐元素 × 和 +）",
                                     "cell state: a conveyor belt (only elementwise × and +)"))  # fmt: skip
    fig.add_shape(type="line", x0=0, x1=1, y0=1, y1=1, line={"color": "#444", "width": 2})
    fig.add_annotation(x=0, y=1.3, text="h<sub>t−1</sub>", showarrow=False)
    fig.add_annotation(x=1, y=-0.2, text="x<sub>t</sub>", showarrow=False)
    fig.add_shape(type="line", x0=1, x1=1, y0=0, y1=1, line={"color": "#444", "width": 2})
    fig.add_shape(type="line", x0=1, x1=5.6, y0=1, y1=1, line={"color": "#444", "width": 2})
    gates = [(1.8, "σ", "f<sub>t</sub>", "sigma"), (2.9, "σ", "i<sub>t</sub>", "sigma"),
             (3.8, "tanh", "g<sub>t</sub>", "tanh"), (5.6, "σ", "o<sub>t</sub>", "sigma")]  # fmt: skip
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
    fig.add_shape(type="line", x0=6.63, x1=8, y0=2.0, y1=2.0, line={"color": "#444", "width": 2})
    _arrow(fig, 7.0, 2.0, 7.0, 0.7)
    fig.add_annotation(x=8, y=2.3, text="h<sub>t</sub>", showarrow=False)
    fig.add_annotation(x=7.35, y=0.6, text="h<sub>t</sub>", showarrow=False)
    fig.add_annotation(x=1.8, y=4.55, text="⊙ f<sub>t</sub>", showarrow=False, font={"size": 12})
    fig.add_annotation(x=3.35, y=4.55, text="+ i<sub>t</sub>⊙g<sub>t</sub>", showarrow=False,
                       font={"size": 12})  # fmt: skip
    return _cell_frame(fig, pick(lang, "LSTM 单元", "The LSTM cell"), 380)


def gru_cell_figure(lang: str = "zh") -> go.Figure:
    """The GRU cell: h itself is the belt; z_t mixes the old h and the candidate n_t."""
    fig = _belt("#2ca02c", "h", pick(lang, "隐藏状态本身就是传送带：h_t = z_t⊙h_{t−1} + (1−z_t)⊙n_t",
                                     "the hidden state is the belt: h_t = z_t⊙h_{t−1} + (1−z_t)⊙n_t"))  # fmt: skip
    fig.add_shape(type="line", x0=0, x1=5.2, y0=1, y1=1, line={"color": "#444", "width": 2})
    fig.add_shape(type="line", x0=1, x1=1, y0=0, y1=1, line={"color": "#444", "width": 2})
    fig.add_annotation(x=0, y=1.3, text="h<sub>t−1</sub>", showarrow=False)
    fig.add_annotation(x=1, y=-0.2, text="x<sub>t</sub>", showarrow=False)
    for x, op, name, fill in ((1.8, "σ", "r<sub>t</sub>", "sigma"), (3.0, "σ", "z<sub>t</sub>", "sigma"),
                              (5.2, "tanh", "n<sub>t</sub>", "tanh")):  # fmt: skip
        _box(fig, x, 2.0, op, _GATE_FILL[fill], w=0.7)
        _arrow(fig, x, 1.0, x, 1.8)
        fig.add_annotation(x=x - 0.5, y=2.45, text=name, showarrow=False)
    _box(fig, 3.0, 4, "×", _GATE_FILL["op"], 0.45, 0.45, round_=True)  # z ⊙ h_{t-1}
    _arrow(fig, 3.0, 2.2, 3.0, 3.77)
    _box(fig, 4.3, 1.45, "×", _GATE_FILL["op"], 0.4, 0.4, round_=True)  # r ⊙ (W_hn h + b_hn)
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
    fig.add_annotation(x=3.0, y=4.55, text="⊙ z<sub>t</sub>", showarrow=False, font={"size": 12})
    fig.add_annotation(x=5.2, y=4.55, text="+ (1−z<sub>t</sub>)⊙n<sub>t</sub>", showarrow=False,
                       font={"size": 12})  # fmt: skip
    return _cell_frame(fig, pick(lang, "GRU 单元", "The GRU cell"), 380)


def gate_means_figure(view: GateView, lang: str = "zh") -> go.Figure:
    """Every gate's mean over the hidden units at each token: sigmoid gates (0..1) on top,
    the signed quantities (candidate, cell, hidden) below on a symmetric scale."""
    gates = list(GATES[view.kind])
    top = [g for g in gates if g in SIGMOID_GATES]
    bottom = [g for g in gates if g not in SIGMOID_GATES]
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.06,
                        row_heights=[len(top), len(bottom)])  # fmt: skip
    for row, names, axis in ((1, top, "coloraxis"), (2, bottom, "coloraxis2")):
        z = unit_means(view, names).astype(np.float32)
        labels = [gate_label(view.kind, g, lang) for g in names]
        fig.add_trace(
            go.Heatmap(z=z.tolist(), x=list(range(len(view.tokens))), y=labels, coloraxis=axis,
                       customdata=[[tok for tok in view.tokens]] * len(names),
                       hovertemplate="%{y}<br>%{customdata}: %{z:.3f}<extra></extra>"),
            row=row, col=1,
        )  # fmt: skip
    signed = float(np.abs(unit_means(view, bottom)).max()) or 1.0
    fig.update_layout(
        coloraxis={"colorscale": "Viridis", "cmin": 0, "cmax": 1,
                   "colorbar": {"title": "σ", "len": 0.45, "y": 0.78}},
        coloraxis2={"colorscale": "RdBu", "cmid": 0, "cmin": -signed, "cmax": signed,
                    "colorbar": {"title": "±", "len": 0.45, "y": 0.22}},
        height=120 + 42 * len(gates),
        title=pick(lang, f"{view.kind.upper()} 各门（对 {view.hidden_size} 个单元取平均）随时间变化",
                   f"{view.kind.upper()} gates over time (mean over {view.hidden_size} units)"),
        **_LAYOUT,
    )  # fmt: skip
    fig.update_yaxes(autorange="reversed")  # gates top to bottom in equation order
    _token_axis(fig, view.tokens, row=2, col=1)
    return fig


def gate_units_figure(view: GateView, gate: str, lang: str = "zh", max_units: int = 64) -> go.Figure:
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
        hovertemplate=pick(lang, "单元 %{y}", "unit %{y}") + "<br>%{customdata}: %{z:.3f}<extra></extra>",
        **colors,
    ))  # fmt: skip
    fig.update_layout(
        height=min(560, 140 + 9 * s.shape[0]),
        title=gate_label(view.kind, gate, lang) + pick(lang, "：每个单元", ": every unit"),
        yaxis_title=pick(lang, "隐藏单元", "hidden unit"), **_LAYOUT,
    )  # fmt: skip
    _token_axis(fig, view.tokens)
    return fig


def cell_path_figure(tokens: Sequence[str], gain: np.ndarray, lang: str = "zh") -> go.Figure:
    """prod_{s>t} f_s per token: how much of c_t reaches the last step along the belt alone.
    Median and the strongest unit over the hidden units, on a log axis."""
    median = np.median(gain, axis=1)
    best = gain.max(axis=1)
    x = list(range(len(tokens)))
    fig = go.Figure()
    for y, name, color in ((best, pick(lang, "最长记忆的单元", "longest-memory unit"), "#d62728"),
                           (median, pick(lang, "单元中位数", "median unit"), "#1f77b4")):  # fmt: skip
        fig.add_trace(go.Scatter(x=x, y=np.maximum(y, 1e-30).astype(np.float32).tolist(),
                                 mode="lines+markers", name=name, line={"color": color},
                                 customdata=list(tokens),
                                 hovertemplate="%{customdata}: %{y:.3g}<extra>" + name + "</extra>"))  # fmt: skip
    fig.update_layout(
        height=320, yaxis_type="log", legend={"orientation": "h", "y": -0.2},
        title=pick(lang, "∂c_T/∂c_t 沿细胞通路 = ∏ f_s（s > t）",
                   "∂c_T/∂c_t along the cell path = ∏ f_s (s > t)"), **_LAYOUT,
    )  # fmt: skip
    _token_axis(fig, tokens)
    return fig
