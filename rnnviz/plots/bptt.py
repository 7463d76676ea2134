"""Figures and the check table for the BPTT page (words: content/<lang>/plots/bptt.md)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from rnnviz.content import Text
from rnnviz.lessons.bptt import GradientCheck
from rnnviz.plots.style import base_layout

CELL_COLORS = {"rnn": "#d62728", "lstm": "#1f77b4", "gru": "#2ca02c"}
CELL_NAMES = {"rnn": "RNN", "lstm": "LSTM", "gru": "GRU"}
_LAYOUT = base_layout(top=40)
_T = Text("plots/bptt")


def check_table(rows: Sequence[GradientCheck], tolerance: float, lang: str = "zh") -> list[dict]:
    """The hand-vs-autograd rows as records for st.dataframe (numbers in scientific notation)."""
    return [
        {
            _T(lang, "table.param"): f"∂L/∂{r.name}",
            _T(lang, "table.shape"): " × ".join(map(str, r.shape)),
            _T(lang, "table.grad"): f"{r.max_abs_grad:.3e}",
            _T(lang, "table.diff"): f"{r.max_abs_diff:.2e}",
            _T(lang, "table.ok", tol=tolerance): "✅" if r.max_abs_diff < tolerance else "❌",
        }
        for r in rows
    ]


def _positive(values: np.ndarray) -> list[float | None]:
    """A log axis cannot draw 0 (an underflow): leave a gap."""
    return [float(v) if v > 0 else None for v in values]


def grad_norm_figure(
    norms: Mapping[str, np.ndarray], lang: str = "zh", cell: np.ndarray | None = None
) -> go.Figure:
    """‖∂L/∂h_t‖ against t (loss on the last step only), one solid line per cell, log axis;
    ``cell``: the LSTM's ‖∂L/∂c_t‖, drawn dashed in the LSTM's colour."""
    fig = go.Figure()
    hover = "t=%{x}<br>%{y:.3g}<extra>"
    for kind, values in norms.items():
        name = CELL_NAMES[kind]
        fig.add_trace(go.Scatter(
            x=np.arange(1, len(values) + 1), y=_positive(values), mode="lines", name=name,
            line={"color": CELL_COLORS[kind]}, hovertemplate=hover + name + "</extra>"))
    if cell is not None:
        name = _T(lang, "reach.cell")
        fig.add_trace(go.Scatter(
            x=np.arange(1, len(cell) + 1), y=_positive(cell), mode="lines", name=name,
            line={"color": CELL_COLORS["lstm"], "dash": "dash"},
            hovertemplate=hover + name + "</extra>"))
    fig.update_layout(
        height=380, title=_T(lang, "reach.title"), xaxis_title=_T(lang, "reach.x"),
        yaxis={"type": "log", "exponentformat": "power", "title": _T(lang, "reach.y")},
        **_LAYOUT,
    )
    return fig


def contributions_figure(
    full: np.ndarray, truncated: np.ndarray, k: int, lang: str = "zh"
) -> go.Figure:
    """‖∂L_t/∂h_s‖ as two heatmaps (full BPTT, truncated with window k); zeros left blank."""
    T = full.shape[0]
    ticks = np.arange(1, T + 1)
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.1,
                        subplot_titles=(_T(lang, "trunc.full"), _T(lang, "trunc.cut", k=k)))
    log_full = np.log10(np.where(full > 0, full, np.nan))
    lo, hi = float(np.nanmin(log_full)), float(np.nanmax(log_full))
    hover = _T(lang, "trunc.hover")
    for col, m in ((1, full), (2, truncated)):
        z = np.log10(np.where(m > 0, m, np.nan)).astype(np.float32)
        fig.add_trace(
            go.Heatmap(z=z, x=ticks, y=ticks, zmin=lo, zmax=hi, colorscale="Viridis",
                       showscale=col == 2, colorbar={"title": "log₁₀"}, hovertemplate=hover),
            row=1, col=col,
        )
    # Window boundaries on the right panel (axes x2, y2): no gradient flows across them. Plain
    # dicts set once; add_vline per line re-validates every shape and takes ~0.5 s for k = 1.
    line = {"color": "#d62728", "width": 2, "dash": "dash"}
    borders = []
    for start in range(k, T, k):
        b = start + 0.5
        borders.append({"type": "line", "xref": "x2", "yref": "y2 domain", "x0": b, "x1": b,
                        "y0": 0, "y1": 1, "line": line})
        borders.append({"type": "line", "xref": "x2 domain", "yref": "y2", "x0": 0, "x1": 1,
                        "y0": b, "y1": b, "line": line})
    fig.update_layout(shapes=borders)
    fig.update_xaxes(title_text=_T(lang, "trunc.x"))
    fig.update_yaxes(title_text=_T(lang, "trunc.y"), autorange="reversed")
    fig.update_layout(height=420, **_LAYOUT)
    return fig
