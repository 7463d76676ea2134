"""Figures and the check table for the BPTT page."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from rnnviz.i18n import pick
from rnnviz.lessons.bptt import GradientCheck
from rnnviz.plots.style import base_layout

CELL_COLORS = {"rnn": "#d62728", "lstm": "#1f77b4", "gru": "#2ca02c"}
CELL_NAMES = {"rnn": "RNN", "lstm": "LSTM", "gru": "GRU"}
_LAYOUT = base_layout(top=40)


def check_table(rows: Sequence[GradientCheck], tolerance: float, lang: str = "zh") -> list[dict]:
    """The hand-vs-autograd rows as records for st.dataframe (numbers in scientific notation)."""
    return [
        {
            pick(lang, "参数", "parameter"): f"∂L/∂{r.name}",
            pick(lang, "形状", "shape"): " × ".join(map(str, r.shape)),
            pick(lang, "最大梯度 |g|", "max |g|"): f"{r.max_abs_grad:.3e}",
            pick(lang, "最大绝对差", "max abs difference"): f"{r.max_abs_diff:.2e}",
            pick(lang, f"< {tolerance:g}？", f"< {tolerance:g}?"): "✅" if r.max_abs_diff < tolerance else "❌",
        }
        for r in rows
    ]


def grad_norm_figure(norms: Mapping[str, np.ndarray], lang: str = "zh") -> go.Figure:
    """‖∂L/∂h_t‖ against t (loss on the last step only), one line per cell, log axis."""
    fig = go.Figure()
    for kind, values in norms.items():
        t = np.arange(1, len(values) + 1)
        y = [float(v) if v > 0 else None for v in values]
        fig.add_trace(
            go.Scatter(x=t, y=y, mode="lines", name=CELL_NAMES[kind], line={"color": CELL_COLORS[kind]},
                       hovertemplate="t=%{x}<br>%{y:.3g}<extra>" + CELL_NAMES[kind] + "</extra>")
        )  # fmt: skip
    fig.update_layout(
        height=380, yaxis={"type": "log", "exponentformat": "power"},
        title=pick(lang, "‖∂L/∂h_t‖：损失只在最后一步", "‖∂L/∂h_t‖ with the loss on the last step only"),
        xaxis_title=pick(lang, "时刻 t", "time step t"), **_LAYOUT,
    )  # fmt: skip
    return fig


def contributions_figure(full: np.ndarray, truncated: np.ndarray, k: int, lang: str = "zh") -> go.Figure:
    """‖∂L_t/∂h_s‖ as two heatmaps (full BPTT, truncated with window k); zeros left blank."""
    T = full.shape[0]
    ticks = np.arange(1, T + 1)
    fig = make_subplots(
        rows=1, cols=2, horizontal_spacing=0.1,
        subplot_titles=(pick(lang, "完整 BPTT", "full BPTT"),
                        pick(lang, f"截断 BPTT（窗口 k = {k}）", f"truncated BPTT (window k = {k})")),
    )  # fmt: skip
    log_full = np.log10(np.where(full > 0, full, np.nan))
    lo, hi = float(np.nanmin(log_full)), float(np.nanmax(log_full))
    hover = pick(lang, "损失 L_%{y} → h_%{x}<br>log₁₀‖∂L_t/∂h_s‖ = %{z:.2f}<extra></extra>",
                 "loss L_%{y} → h_%{x}<br>log₁₀‖∂L_t/∂h_s‖ = %{z:.2f}<extra></extra>")  # fmt: skip
    for col, m in ((1, full), (2, truncated)):
        z = np.log10(np.where(m > 0, m, np.nan)).astype(np.float32)
        fig.add_trace(
            go.Heatmap(z=z, x=ticks, y=ticks, zmin=lo, zmax=hi, colorscale="Viridis",
                       showscale=col == 2, colorbar={"title": "log₁₀"}, hovertemplate=hover),
            row=1, col=col,
        )  # fmt: skip
    # Window boundaries on the right panel (axes x2, y2): no gradient flows across them. Plain
    # dicts set once; add_vline per line re-validates every shape and takes ~0.5 s for k = 1.
    line = {"color": "#d62728", "width": 2, "dash": "dash"}
    borders = []
    for start in range(k, T, k):
        b = start + 0.5
        borders.append({"type": "line", "xref": "x2", "yref": "y2 domain", "x0": b, "x1": b, "y0": 0, "y1": 1, "line": line})
        borders.append({"type": "line", "xref": "x2 domain", "yref": "y2", "x0": 0, "x1": 1, "y0": b, "y1": b, "line": line})
    fig.update_layout(shapes=borders)
    fig.update_xaxes(title_text=pick(lang, "隐藏状态 h_s 的时刻 s", "hidden state step s"))
    fig.update_yaxes(title_text=pick(lang, "损失 L_t 的时刻 t", "loss step t"), autorange="reversed")
    fig.update_layout(height=420, **_LAYOUT)
    return fig
