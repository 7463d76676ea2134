"""Figures for the RNN-structure page: the folded/unrolled diagram and the hidden-state heatmap."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from rnnviz.content import Text
from rnnviz.errors import RnnVizError
from rnnviz.plots.style import LIGHT

WEIGHTS = ("U", "W", "V")
MAX_UNROLL = 10
_HI = "#d62728"  # the highlighted weight
_LO = "#9aa0a6"
_NODE = {"x": "#8ecae6", "h": "#ffb703", "o": "#90be6d"}
_Y = {"x": 0.0, "h": 1.0, "o": 2.0}
_DX = 1.3  # horizontal distance between unrolled steps
_R = 0.2  # node radius in data units: arrows stop at the node's edge
_T = Text("plots/structure")


def _sub(t: int | str) -> str:
    return f"<sub>{t}</sub>"


# Annotations are collected as plain dicts and set once: fig.add_annotation re-validates the
# whole tuple on every call, which made a 10-step diagram take most of a second.
def _edge(notes: list[dict], x0: float, y0: float, x1: float, y1: float, on: bool) -> None:
    """An arrow from (x0, y0) to (x1, y1), shortened so it starts and ends at node edges."""
    d = np.hypot(x1 - x0, y1 - y0)
    ux, uy = (x1 - x0) / d, (y1 - y0) / d
    notes.append(dict(
        x=x1 - ux * _R, y=y1 - uy * _R, ax=x0 + ux * _R, ay=y0 + uy * _R,
        xref="x", yref="y", axref="x", ayref="y", text="", showarrow=True,
        arrowhead=2, arrowsize=1.2, arrowwidth=3.5 if on else 1.6, arrowcolor=_HI if on else _LO,
    ))


def _label(notes: list[dict], x: float, y: float, name: str, on: bool) -> None:
    notes.append(dict(
        x=x, y=y, text=f"<b>{name}</b>" if on else name, showarrow=False,
        font={"size": 17 if on else 14, "color": _HI if on else "#444"},
    ))


def rnn_diagram(T: int = 4, highlight: str | None = "W", lang: str = "zh") -> go.Figure:
    """The folded RNN (left) and the same network unrolled for T steps (right).

    Every step uses the same U (x→h), W (h→h) and V (h→o); ``highlight`` draws one of them in
    red everywhere it is used. Nodes are scatter markers, so hovering shows their equation.
    """
    if not 1 <= T <= MAX_UNROLL:
        raise RnnVizError(f"T must be between 1 and {MAX_UNROLL}, got {T}", where="T")
    if highlight is not None and highlight not in WEIGHTS:
        raise RnnVizError(f"unknown weight {highlight!r}; choose U, W or V", where="highlight")
    notes: list[dict] = []
    on = {w: w == highlight for w in WEIGHTS}
    nodes: list[tuple[float, str, str, str]] = []  # (x, kind, label, hover)
    eq = {
        "x": _T(lang, "input"),
        "h": "h = f(U x + W h<sub>prev</sub> + b)",
        "o": "o = V h + c",
    }

    # Folded: x -> h -> o with a self-loop W on h.
    fx = 0.0
    for kind in ("x", "h", "o"):
        nodes.append((fx, kind, kind, eq[kind]))
    _edge(notes, fx, 0, fx, 1, on["U"])
    _edge(notes, fx, 1, fx, 2, on["V"])
    _label(notes, fx - 0.22, 0.5, "U", on["U"])
    _label(notes, fx - 0.22, 1.5, "V", on["V"])
    loop = dict(
        type="path",
        path=f"M {fx + 0.17},{1.12} C {fx + 0.8},{1.6} {fx + 0.8},{0.4} {fx + 0.17},{0.88}",
        line={"color": _HI if on["W"] else _LO, "width": 3.5 if on["W"] else 1.6},
    )
    _edge(notes, fx + 0.3, 0.83, fx, 1.0, on["W"])  # the loop's arrowhead
    _label(notes, fx + 0.72, 1.0, "W", on["W"])

    # The "unfold" arrow between the two pictures.
    notes.append(dict(
        x=1.75, y=1.0, ax=1.0, ay=1.0, xref="x", yref="y", axref="x", ayref="y",
        text="", showarrow=True, arrowhead=3, arrowwidth=2, arrowcolor="#555",
    ))
    notes.append(dict(x=1.375, y=1.25, text=_T(lang, "unfold"), showarrow=False))

    # Unrolled: h_0, then steps 1..T.
    x0 = 2.2
    nodes.append((x0, "h", "h" + _sub(0), _T(lang, "h0")))
    for t in range(1, T + 1):
        x = x0 + _DX * t
        nodes.append((x, "x", "x" + _sub(t), f"{eq['x']} x{_sub(t)}"))
        nodes.append(
            (x, "h", "h" + _sub(t), f"h{_sub(t)} = f(U x{_sub(t)} + W h{_sub(t - 1)} + b)")
        )
        nodes.append((x, "o", "o" + _sub(t), f"o{_sub(t)} = V h{_sub(t)} + c"))
        _edge(notes, x, 0, x, 1, on["U"])
        _edge(notes, x, 1, x, 2, on["V"])
        _edge(notes, x - _DX, 1, x, 1, on["W"])
        _label(notes, x - 0.2, 0.5, "U", on["U"])
        _label(notes, x - 0.2, 1.5, "V", on["V"])
        _label(notes, x - _DX / 2, 1.16, "W", on["W"])

    traces = []
    for kind in ("x", "h", "o"):
        pts = [n for n in nodes if n[1] == kind]
        traces.append(
            go.Scatter(
                x=[p[0] for p in pts], y=[_Y[kind]] * len(pts), mode="markers+text",
                marker={"size": 40, "color": _NODE[kind], "line": {"width": 1.5, "color": "#333"}},
                text=[p[2] for p in pts], textfont={"size": 14}, hovertext=[p[3] for p in pts],
                hoverinfo="text", name=_T(lang, f"node.{kind}"),
            )
        )
    return go.Figure(
        data=traces,
        layout={
            "annotations": notes, "shapes": [loop], "height": 330, "showlegend": False,
            "margin": {"l": 10, "r": 10, "t": 10, "b": 10}, "template": LIGHT,
            "dragmode": False,
            "xaxis": {"visible": False, "range": [-0.6, x0 + _DX * T + 0.6]},
            "yaxis": {"visible": False, "range": [-0.45, 2.45]},
        },
    )


def hidden_heatmap(
    h: np.ndarray, chars: Sequence[str], step: int | None = None, lang: str = "zh"
) -> go.Figure:
    """Hidden units (rows) × time (columns) for h of shape (T, H); ``step`` (1-based) is framed."""
    T, H = h.shape
    if len(chars) != T:
        raise RnnVizError(f"{len(chars)} characters for {T} time steps")
    cols = [f"{t} {ch}" for t, ch in enumerate(chars, start=1)]
    rows = [f"h[{i}]" for i in range(1, H + 1)]
    fig = go.Figure(
        go.Heatmap(
            z=h.T.astype(np.float32), x=cols, y=rows, colorscale="RdBu_r", zmid=0,
            texttemplate="%{z:.2f}", textfont={"size": 11},
            hovertemplate=_T(lang, "heatmap.hover"),
            colorbar={"title": "h"},
        )
    )
    if step is not None:
        fig.add_shape(
            type="rect", x0=step - 1.5, x1=step - 0.5, y0=-0.5, y1=H - 0.5, xref="x", yref="y",
            line={"color": "#111", "width": 3},
        )
    fig.update_layout(
        height=60 + 34 * H, margin={"l": 10, "r": 10, "t": 10, "b": 10}, template=LIGHT,
        xaxis={"title": _T(lang, "heatmap.x"), "side": "bottom"},
        yaxis={"autorange": "reversed"},
    )
    return fig
