"""Figures for the classifier pages: the Text-RNN and RCNN drawn from their ModelConfig, live
training curves, the confusion matrix, class probabilities and per-token gate heatmaps.

The words are in content/<lang>/plots/classifier.md; the notation (U input->hidden, W
hidden->hidden, V hidden->output; W^(2) for RCNN's projection, Lai et al. 2015's name) stays
here with the numbers it labels.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from rnnviz.content import Text
from rnnviz.core.cells import GATES, gate_label
from rnnviz.core.classes import display_class
from rnnviz.core.config import CELL_NAMES
from rnnviz.core.curves import MAX_CURVE_POINTS, thin
from rnnviz.core.metrics import EvalReport
from rnnviz.core.models import ModelConfig
from rnnviz.errors import RnnVizError
from rnnviz.lessons.gating import SIGMOID_GATES
from rnnviz.plots.style import base_layout

_T = Text("plots/classifier")
_LAYOUT = base_layout(top=50)
_COLORS = {
    "token": "#e9ecef", "embed": "#8ecae6", "forward": "#ffb703", "backward": "#fb8500",
    "proj": "#b5e48c", "pool": "#cdb4db", "fc": "#90be6d", "out": "#f4a261",
}
SAMPLE_TOKENS = ("央", "行", "降", "息")  # what the diagrams feed in: a 4-character title


# ---- architecture diagrams -----------------------------------------------------------------


class _Diagram:
    """Nodes as scatter markers (hover shows the equation), arrows as annotations set at once."""

    def __init__(self) -> None:
        self.traces: list[go.Scatter] = []
        self.notes: list[dict] = []

    def nodes(self, name: str, xs: Sequence[float], y: float | Sequence[float],
              labels: Sequence[str], hovers: Sequence[str], color: str, size: int = 40,
              symbol: str = "square") -> None:
        ys = [y] * len(xs) if isinstance(y, int | float) else list(y)
        marker = {"size": size, "color": color, "symbol": symbol,
                  "line": {"color": "#444", "width": 1}}
        self.traces.append(go.Scatter(
            x=list(xs), y=ys, mode="markers+text", name=name, text=list(labels),
            hovertext=list(hovers), hoverinfo="text", textfont={"size": 12}, marker=marker,
        ))

    def arrow(self, x0: float, y0: float, x1: float, y1: float, label: str = "",
              dash: bool = False, shrink: float = 0.22, label_dy: float = 0.0) -> None:
        d = float(np.hypot(x1 - x0, y1 - y0)) or 1.0
        ux, uy = (x1 - x0) / d, (y1 - y0) / d
        self.notes.append(dict(
            x=x1 - ux * shrink, y=y1 - uy * shrink, ax=x0 + ux * shrink, ay=y0 + uy * shrink,
            xref="x", yref="y", axref="x", ayref="y", text="", showarrow=True, arrowhead=2,
            arrowwidth=1.4, arrowcolor="#999" if dash else "#555",
        ))
        if label:
            self.note((x0 + x1) / 2, (y0 + y1) / 2 + label_dy, label, size=12, color="#c0392b")

    def note(self, x: float, y: float, text: str, size: int = 12, color: str = "#333",
             **kw: Any) -> None:
        self.notes.append(dict(x=x, y=y, text=text, showarrow=False,
                               font={"size": size, "color": color}, **kw))

    def figure(self, title: str, x_range: tuple[float, float],
               y_range: tuple[float, float]) -> go.Figure:
        fig = go.Figure(self.traces)
        fig.update_layout(annotations=self.notes, title=title, showlegend=False,
                          height=int(90 * (y_range[1] - y_range[0]) + 80), **_LAYOUT)
        fig.update_xaxes(visible=False, range=list(x_range))
        fig.update_yaxes(visible=False, range=list(y_range))
        return fig


def embedding_widths(config: ModelConfig) -> tuple[int, int]:
    """(token embedding, bigram embedding) widths of the vectors e_t the RNN reads.

    A trained config says whether bigrams were found (``bigram_vocab``); before training the
    trainer will add a bigram embedding whenever ``bigram_dim`` > 0 (rnnviz/core/train.py), so
    the drawing of a configuration about to be trained shows it too.
    """
    trained = config.vocab_size > 2
    bigram = config.bigram_dim if (config.bigram_vocab or not trained) else 0
    return config.embed_dim, bigram


def _width_label(config: ModelConfig) -> str:
    E, B = embedding_widths(config)
    return f"{E}+{B}" if B else str(E)


def _token_rows(d: _Diagram, tokens: Sequence[str], config: ModelConfig, lang: str) -> list[float]:
    xs = [float(i) for i in range(len(tokens))]
    E, B = embedding_widths(config)
    d.nodes("tokens", xs, 0, list(tokens),
            [f"x<sub>{t + 1}</sub> = {tok}" for t, tok in enumerate(tokens)],
            _COLORS["token"], size=30)
    if B:  # e_t = [token embedding; embedding of the bigram (x_{t-1}, x_t)]
        hovers = [f"e<sub>{t}</sub> = [Embedding[x<sub>{t}</sub>]; "
                  f"Bigram[x<sub>{t - 1}</sub>x<sub>{t}</sub>]] ∈ ℝ<sup>{E + B}</sup>"
                  for t in range(1, len(tokens) + 1)]
    else:
        hovers = [f"e<sub>{t}</sub> = Embedding[x<sub>{t}</sub>] ∈ ℝ<sup>{E}</sup>"
                  for t in range(1, len(tokens) + 1)]
    d.nodes("embedding", xs, 1, [f"e<sub>{t + 1}</sub>" for t in range(len(tokens))], hovers,
            _COLORS["embed"])
    for x in xs:
        d.arrow(x, 0, x, 1)
    # Before training the vocabulary is unknown.
    vocab = config.vocab_size if config.vocab_size > 2 else "|V|"
    table = (_T(lang, "embedding_table.bigram", vocab=vocab, dim=E, bigram=B) if B
             else _T(lang, "embedding_table", vocab=vocab, dim=E))
    d.note(-0.6, 1, table, xanchor="right", align="right")
    return xs


_SHIFT = 0.3  # both directions: forward nodes sit left of the column, backward ones right


def _recurrent_row(d: _Diagram, xs: Sequence[float], y: float,
                   inputs: Sequence[tuple[Sequence[float], float]], layer: int, backward: bool,
                   config: ModelConfig, name: str, lang: str) -> None:
    """One layer and direction at height ``y``: U from each input row (x positions, height),
    one shared W along time (right to left if backward)."""
    cell = CELL_NAMES[config.cell]
    arrow = "←" if backward else "→"
    bi = config.directions == 2
    # Layer 1 reads e_t; layer l reads layer l-1's states at t (both directions if bi).
    if layer == 0:
        source = "e<sub>t</sub>"
    elif bi:
        source = f"[→h<sub>t</sub>; ←h<sub>t</sub>]<sup>({layer})</sup>"
    else:
        source = f"h<sub>t</sub><sup>({layer})</sup>"
    hover = _T(lang, "recurrent.hover", cell=cell, layer=layer + 1, arrow=arrow, input=source,
               prev="+" if backward else "−", H=config.hidden_size)
    d.nodes(name, xs, y, [f"{arrow}h<sub>{t + 1}</sub>" for t in range(len(xs))],
            [hover] * len(xs), _COLORS["backward" if backward else "forward"], size=36)
    for k, (src_xs, y_src) in enumerate(inputs):
        for i, (x0, x) in enumerate(zip(src_xs, xs, strict=True)):
            # One "U" and one "W" per row: the same matrices are used at every step.
            d.arrow(x0, y_src, x, y, "U" if i == len(xs) - 1 and k == 0 else "")
    if backward:
        pairs = list(zip(xs[1:], xs[:-1], strict=True))
    else:
        pairs = list(zip(xs[:-1], xs[1:], strict=True))
    for i, (a, b) in enumerate(pairs):
        d.arrow(a, y, b, y, "W" if i == len(pairs) // 2 else "", label_dy=0.2)
    key = ("recurrent.label.backward" if backward else "recurrent.label.forward") if bi \
        else "recurrent.label"
    d.note(-0.6, y, _T(lang, key, cell=cell, layer=layer + 1, H=config.hidden_size),
           xanchor="right", align="right")


def _head(d: _Diagram, x: float, y: float, width: int, config: ModelConfig, lang: str) -> None:
    """FC (width -> C) then softmax over the classes."""
    C = config.num_classes
    d.nodes("fc", [x], y, ["FC"], [f"z = V v + c ∈ ℝ<sup>{C}</sup> ({width} → {C})"],
            _COLORS["fc"], size=46)
    d.nodes("softmax", [x], y + 1, ["softmax"], [_T(lang, "softmax.hover", C=C)],
            _COLORS["out"], size=58, symbol="circle")
    d.arrow(x, y, x, y + 1, shrink=0.3)
    d.note(x + 1.6, y, _T(lang, "fc.note", width=width, C=C))
    d.note(x + 1.6, y + 1, _T(lang, "softmax.note", C=C))


def textrnn_figure(config: ModelConfig, lang: str = "zh",
                   tokens: Sequence[str] = SAMPLE_TOKENS) -> go.Figure:
    """Text-RNN as configured: embedding -> stacked (bi)RNN with shared U, W -> pooling -> FC ->
    softmax.

    Bidirectional: each layer has a forward row and a backward row (their own U, W), and the
    next layer reads both.
    """
    d = _Diagram()
    xs = _token_rows(d, tokens, config, lang)
    bi = config.directions == 2
    fwd_xs = [x - _SHIFT for x in xs] if bi else xs
    bwd_xs = [x + _SHIFT for x in xs]
    inputs: list[tuple[Sequence[float], float]] = [(xs, 1.0)]
    y = 2.0
    top: list[tuple[Sequence[float], float, bool]] = []
    for layer in range(config.num_layers):
        _recurrent_row(d, fwd_xs, y, inputs, layer, False, config, f"layer {layer + 1} forward",
                       lang)
        top = [(fwd_xs, y, False)]
        if bi:
            _recurrent_row(d, bwd_xs, y + 1, inputs, layer, True, config,
                           f"layer {layer + 1} backward", lang)
            top.append((bwd_xs, y + 1, True))
        inputs = [(row_xs, row_y) for row_xs, row_y, _ in top]  # layer l+1 reads [→h_t; ←h_t]
        y += 2 if bi else 1
    mid = (xs[0] + xs[-1]) / 2
    pooling = config.pooling
    width = config.hidden_size * config.directions * (2 if pooling == "meanmax" else 1)
    name = _T(lang, "pool.last_bi" if bi and pooling == "last" else f"pool.{pooling}")
    d.nodes("pooling", [mid], y, [_T(lang, f"pool.short.{pooling}")],
            [_T(lang, "pool.hover", name=name, width=width)], _COLORS["pool"], size=50,
            symbol="diamond")
    for row_xs, row_y, backward in top:
        # "last": the forward direction ends at t = T, the backward one at t = 1.
        ends = [row_xs[0]] if backward else [row_xs[-1]]
        sources = ends if pooling == "last" else row_xs
        for x in sources:
            d.arrow(x, row_y, mid, y, dash=pooling != "last", shrink=0.25)
    d.note(mid + 1.9, y, _T(lang, "pool.note.bi" if bi else "pool.note", name=name, width=width))
    _head(d, mid, y + 1, width, config, lang)
    title = _T(lang, "textrnn.title.bi" if bi else "textrnn.title", layers=config.num_layers,
               cell=CELL_NAMES[config.cell])
    return d.figure(title, (-2.3, len(xs) + 1.6), (-0.6, y + 2.6))


def textrcnn_figure(config: ModelConfig, lang: str = "zh",
                    tokens: Sequence[str] = SAMPLE_TOKENS) -> go.Figure:
    """RCNN (Lai et al., 2015): left context (forward RNN), word embedding, right context
    (backward RNN) concatenated per token -> y_t = tanh(W2 [c_l; e; c_r] + b2) -> max over
    time -> FC."""
    d = _Diagram()
    xs = _token_rows(d, tokens, config, lang)
    H, P = config.hidden_size, config.rcnn_proj
    cell = CELL_NAMES[config.cell]
    left, right = [x - _SHIFT for x in xs], [x + _SHIFT for x in xs]
    top = config.num_layers - 1
    _recurrent_row(d, left, 2, [(xs, 1.0)], top, False, config, "left context", lang)
    _recurrent_row(d, right, 3, [(xs, 1.0)], top, True, config, "right context", lang)
    d.note(xs[-1] + 1.5, 2.5, _T(lang, "rcnn.contexts", layers=config.num_layers, cell=cell))
    hovers = [f"y<sub>{t}</sub> = tanh(W<sup>(2)</sup>[c<sub>l</sub>({t}); e<sub>{t}</sub>; "
              f"c<sub>r</sub>({t})] + b<sup>(2)</sup>) ∈ ℝ<sup>{P}</sup>"
              for t in range(1, len(xs) + 1)]
    d.nodes("projection", xs, 4.3, [f"y<sub>{t + 1}</sub>" for t in range(len(xs))], hovers,
            _COLORS["proj"], size=40)
    for x, xl, xr in zip(xs, left, right, strict=True):
        d.arrow(xl, 2, x, 4.3)
        d.arrow(xr, 3, x, 4.3)
        d.arrow(x, 1, x, 4.3, dash=True, shrink=0.2)  # e_t joins the concatenation directly
    d.note(-0.6, 4.3, _T(lang, "rcnn.proj.note", H=H, E=_width_label(config), P=P),
           xanchor="right", align="right")
    mid = (xs[0] + xs[-1]) / 2
    d.nodes("pooling", [mid], 5.5, [_T(lang, "pool.short.max")],
            [_T(lang, "rcnn.pool.hover", P=P)], _COLORS["pool"], size=50, symbol="diamond")
    for x in xs:
        d.arrow(x, 4.3, mid, 5.5, dash=True, shrink=0.25)
    d.note(mid + 1.9, 5.5, _T(lang, "rcnn.pool.note", P=P))
    _head(d, mid, 6.5, P, config, lang)
    return d.figure(_T(lang, "rcnn.title", cell=cell), (-2.3, len(xs) + 2.4), (-0.6, 8.6))


def architecture_figure(config: ModelConfig, lang: str = "zh") -> go.Figure:
    """The diagram of whichever model ``config`` describes."""
    if config.model == "textrnn":
        return textrnn_figure(config, lang)
    return textrcnn_figure(config, lang)


# ---- training curves -----------------------------------------------------------------------


def training_curves_figure(history: Sequence[Mapping[str, Any]],
                           live: Sequence[Mapping[str, Any]] = (),
                           lang: str = "zh") -> go.Figure:
    """Loss (left) and accuracy (right) against the step: the running train values (``live``,
    published while training; else the history's), and the dev set at each evaluation."""
    fig = make_subplots(rows=1, cols=2,
                        subplot_titles=(_T(lang, "curves.loss"), _T(lang, "curves.accuracy")))
    train = [(p["step"], p["loss"], p["accuracy"]) for p in live] or [
        (h["step"], h.get("train_loss"), h.get("train_accuracy")) for h in history]
    train = thin(train)
    dev = thin([h for h in history if "dev_loss" in h])
    names = (_T(lang, "curves.train"), _T(lang, "curves.dev"))
    for col in (1, 2):
        fig.add_trace(go.Scatter(
            x=[t[0] for t in train], y=[t[col] for t in train], mode="lines", name=names[0],
            legendgroup="train", showlegend=col == 1, line={"color": "#1f77b4"},
        ), row=1, col=col)
        key = "dev_loss" if col == 1 else "dev_accuracy"
        fig.add_trace(go.Scatter(
            x=[h["step"] for h in dev], y=[h[key] for h in dev], mode="lines+markers",
            name=names[1], legendgroup="dev", showlegend=col == 1, line={"color": "#d62728"},
        ), row=1, col=col)
    fig.update_xaxes(title_text=_T(lang, "curves.step"))
    fig.update_yaxes(range=[0, 1], row=1, col=2)
    fig.update_layout(height=320, legend={"orientation": "h", "y": -0.25}, **_LAYOUT)
    return fig


# ---- evaluation ----------------------------------------------------------------------------


def confusion_figure(report: EvalReport, lang: str = "zh") -> go.Figure:
    """Rows = true class, columns = predicted; the count in each cell, coloured by the share of
    its row (so a small class is as visible as a large one; the diagonal is the recall)."""
    cm = np.asarray(report.confusion_matrix, dtype=np.int64)
    names = [display_class(c, lang) for c in report.classes]
    rows = cm.sum(axis=1, keepdims=True)
    share = np.divide(cm, rows, out=np.zeros(cm.shape, dtype=np.float64), where=rows > 0)
    fig = go.Figure(go.Heatmap(
        z=share.round(4).tolist(), x=names, y=names, text=cm.tolist(), texttemplate="%{text}",
        colorscale="Blues", zmin=0, zmax=1, colorbar={"title": _T(lang, "confusion.colorbar")},
        hovertemplate=_T(lang, "confusion.hover") + "<extra></extra>",
    ))
    fig.update_layout(
        title=_T(lang, "confusion.title", n=report.n, accuracy=report.accuracy),
        xaxis_title=_T(lang, "confusion.x"), yaxis_title=_T(lang, "confusion.y"),
        height=160 + 36 * len(names), **_LAYOUT,
    )
    fig.update_yaxes(autorange="reversed")
    return fig


def probability_figure(probabilities: Mapping[str, float], label: str,
                       lang: str = "zh") -> go.Figure:
    """Horizontal bars, most probable on top; the predicted class in red."""
    items = sorted(probabilities.items(), key=lambda kv: kv[1])
    fig = go.Figure(go.Bar(
        x=[float(p) for _, p in items], y=[display_class(c, lang) for c, _ in items],
        orientation="h",
        marker={"color": ["#d62728" if c == label else "#9aa0a6" for c, _ in items]},
        text=[f"{p:.1%}" for _, p in items], textposition="outside",
        hovertemplate="%{y}: %{x:.2%}<extra></extra>",
    ))
    fig.update_layout(title=_T(lang, "probs.title"), height=120 + 26 * len(items),
                      xaxis={"range": [0, 1.15], "tickformat": ".0%"}, **_LAYOUT)
    return fig


# ---- per-token states ----------------------------------------------------------------------


def _axis(name: str, row: int) -> str:
    """Plotly's axis names: "x", "x2", ... (traces) or "xaxis", "xaxis2", ... (layout)."""
    return name if row == 1 else f"{name}{row}"


def token_states_figure(trace: Any, tokens: Sequence[str], lang: str = "zh",
                        unit: int | None = None) -> go.Figure:
    """One layer and direction of a prediction (a ``rnnviz.core.predict.TokenTrace``): the
    sigmoid gates (0..1), the signed states (candidate, cell c, hidden h) and ||h_t|| at every
    token, averaged over the hidden units, or for hidden unit ``unit``."""
    names = [g for g in GATES[trace.kind] if g in trace.states]
    H = trace.states[names[0]].shape[1]
    if unit is not None and not 0 <= unit < H:
        raise RnnVizError(f"unit must be in 0..{H - 1}, got {unit}", where="unit")

    def values(g: str) -> np.ndarray:
        s = np.asarray(trace.states[g], dtype=np.float32)
        return s.mean(axis=1) if unit is None else s[:, unit]

    sigmoid = [g for g in names if g in SIGMOID_GATES]
    groups = [g for g in (sigmoid, [g for g in names if g not in SIGMOID_GATES]) if g]
    heights = [len(g) for g in groups] + [1]
    x = list(range(len(tokens)))
    custom = list(tokens)
    traces = []
    for row, group in enumerate(groups, start=1):
        z = np.stack([values(g) for g in group])
        bound = float(np.abs(z).max()) or 1.0
        if group[0] in SIGMOID_GATES:
            colors = {"colorscale": "Viridis", "zmin": 0, "zmax": 1}
        else:
            colors = {"colorscale": "RdBu", "zmid": 0, "zmin": -bound, "zmax": bound}
        traces.append(go.Heatmap(
            z=z.tolist(), x=x, y=[gate_label(trace.kind, g, lang) for g in group],
            customdata=[custom] * len(group),
            hovertemplate="%{y}<br>%{customdata}: %{z:.3f}<extra></extra>", showscale=False,
            xaxis=_axis("x", row), yaxis=_axis("y", row), **colors,
        ))
    norm = np.asarray(trace.hidden_norm, dtype=np.float32)
    rows = len(heights)
    traces.append(go.Heatmap(
        z=[norm.tolist()], x=x, y=["‖h_t‖"], customdata=[custom], colorscale="Greys",
        reversescale=True, zmin=0, hovertemplate="‖h_t‖<br>%{customdata}: %{z:.3f}<extra></extra>",
        showscale=False, xaxis=_axis("x", rows), yaxis=_axis("y", rows),
    ))
    # Rows stacked top to bottom by hand (make_subplots costs ~30 ms per figure, and this one
    # is redrawn for every typed text).
    gap = 0.05
    unit_h = (1 - gap * (rows - 1)) / sum(heights)
    axes: dict[str, Any] = {}
    top = 1.0
    for row, h in enumerate(heights, start=1):
        bottom = max(0.0, top - h * unit_h)
        last = row == rows
        axes[_axis("yaxis", row)] = {"domain": [bottom, top], "anchor": _axis("x", row),
                                     "autorange": "reversed"}
        ticks = {"tickvals": x, "ticktext": custom, "tickangle": 0} if last else {}
        axes[_axis("xaxis", row)] = {"anchor": _axis("y", row),
                                     "matches": None if row == 1 else "x",
                                     "showticklabels": last, **ticks}
        top = bottom - gap
    which = _T(lang, "states.unit", unit=unit) if unit is not None \
        else _T(lang, "states.mean", H=H)
    direction = _T(lang, f"states.direction.{trace.direction}")
    title = _T(lang, "states.title", layer=trace.layer + 1, direction=direction,
               cell=CELL_NAMES[trace.kind], which=which)
    return go.Figure(traces, layout=dict(title=title, height=110 + 34 * sum(heights), **axes,
                                         **_LAYOUT))


__all__ = ["MAX_CURVE_POINTS", "architecture_figure", "confusion_figure", "embedding_widths",
           "probability_figure", "textrcnn_figure", "textrnn_figure", "thin", "token_states_figure",
           "training_curves_figure"]
