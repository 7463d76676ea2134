"""Figures for the classifier pages: the Text-RNN and RCNN drawn from their ModelConfig, live
training curves, the confusion matrix, class probabilities and per-token gate heatmaps."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from rnnviz.core.cells import GATES, gate_label
from rnnviz.core.data import display_class
from rnnviz.core.metrics import EvalReport
from rnnviz.core.models import ModelConfig
from rnnviz.errors import RnnVizError
from rnnviz.i18n import pick
from rnnviz.lessons.gating import SIGMOID_GATES
from rnnviz.plots.style import base_layout

_LAYOUT = base_layout(top=50)
_COLORS = {"token": "#e9ecef", "embed": "#8ecae6", "forward": "#ffb703", "backward": "#fb8500",
           "proj": "#b5e48c", "pool": "#cdb4db", "fc": "#90be6d", "out": "#f4a261"}  # fmt: skip
SAMPLE_TOKENS = ("央", "行", "降", "息")  # what the diagrams feed in: a 4-character title
MAX_CURVE_POINTS = 300
CELL_NAMES = {"rnn": "RNN", "lstm": "LSTM", "gru": "GRU"}
POOLING_NAMES = {
    "last": ("最后状态 h_T", "last state h_T"), "mean": ("平均池化", "mean pooling"),
    "max": ("最大池化", "max pooling"), "meanmax": ("平均+最大池化", "mean + max pooling"),
}  # fmt: skip
_POOL_SHORT = {"last": ("h_T", "h_T"), "mean": ("平均", "mean"), "max": ("最大", "max"), "meanmax": ("平均+最大", "mean+max")}


# ---- architecture diagrams -----------------------------------------------------------------


class _Diagram:
    """Nodes as scatter markers (hover shows the equation), arrows as annotations set at once."""

    def __init__(self) -> None:
        self.traces: list[go.Scatter] = []
        self.notes: list[dict] = []

    def nodes(self, name: str, xs: Sequence[float], y: float | Sequence[float], labels: Sequence[str],
              hovers: Sequence[str], color: str, size: int = 40, symbol: str = "square") -> None:
        ys = [y] * len(xs) if isinstance(y, int | float) else list(y)
        self.traces.append(go.Scatter(
            x=list(xs), y=ys, mode="markers+text", name=name, text=list(labels),
            hovertext=list(hovers), hoverinfo="text", textfont={"size": 12},
            marker={"size": size, "color": color, "symbol": symbol, "line": {"color": "#444", "width": 1}},
        ))  # fmt: skip

    def arrow(self, x0: float, y0: float, x1: float, y1: float, label: str = "", dash: bool = False,
              shrink: float = 0.22, label_dy: float = 0.0) -> None:
        d = float(np.hypot(x1 - x0, y1 - y0)) or 1.0
        ux, uy = (x1 - x0) / d, (y1 - y0) / d
        self.notes.append(dict(
            x=x1 - ux * shrink, y=y1 - uy * shrink, ax=x0 + ux * shrink, ay=y0 + uy * shrink,
            xref="x", yref="y", axref="x", ayref="y", text="", showarrow=True, arrowhead=2,
            arrowwidth=1.4, arrowcolor="#999" if dash else "#555",
        ))  # fmt: skip
        if label:
            self.note((x0 + x1) / 2, (y0 + y1) / 2 + label_dy, label, size=12, color="#c0392b")

    def note(self, x: float, y: float, text: str, size: int = 12, color: str = "#333", **kw: Any) -> None:
        self.notes.append(dict(x=x, y=y, text=text, showarrow=False, font={"size": size, "color": color}, **kw))

    def figure(self, title: str, x_range: tuple[float, float], y_range: tuple[float, float]) -> go.Figure:
        fig = go.Figure(self.traces)
        fig.update_layout(annotations=self.notes, title=title, showlegend=False,
                          height=int(90 * (y_range[1] - y_range[0]) + 80), **_LAYOUT)  # fmt: skip
        fig.update_xaxes(visible=False, range=list(x_range))
        fig.update_yaxes(visible=False, range=list(y_range))
        return fig


def _token_rows(d: _Diagram, tokens: Sequence[str], config: ModelConfig, lang: str) -> list[float]:
    xs = [float(i) for i in range(len(tokens))]
    d.nodes("tokens", xs, 0, list(tokens), [f"x<sub>{t + 1}</sub> = {tok}" for t, tok in enumerate(tokens)],
            _COLORS["token"], size=30)  # fmt: skip
    d.nodes("embedding", xs, 1, [f"e<sub>{t + 1}</sub>" for t in range(len(tokens))],
            [f"e<sub>{t + 1}</sub> = Embedding[x<sub>{t + 1}</sub>] ∈ ℝ<sup>{config.input_size}</sup>"
             for t in range(len(tokens))], _COLORS["embed"])  # fmt: skip
    for x in xs:
        d.arrow(x, 0, x, 1)
    vocab = config.vocab_size if config.vocab_size > 2 else "|V|"  # before training the vocabulary is unknown
    d.note(-0.6, 1, pick(lang, f"嵌入表<br>{vocab}×{config.embed_dim}", f"embedding table<br>{vocab}×{config.embed_dim}"),
           xanchor="right", align="right")  # fmt: skip
    return xs


_SHIFT = 0.3  # both directions: forward nodes sit left of the column, backward ones right


def _recurrent_row(d: _Diagram, xs: Sequence[float], y: float, inputs: Sequence[tuple[Sequence[float], float]],
                   layer: int, backward: bool, config: ModelConfig, name: str, lang: str) -> None:
    """One layer and direction at height ``y``: U from each input row (x positions, height),
    one shared W along time (right to left if backward)."""
    cell = CELL_NAMES[config.cell]
    arrow = "←" if backward else "→"
    prev = "+" if backward else "−"
    d.nodes(name, xs, y, [f"{arrow}h<sub>{t + 1}</sub>" for t in range(len(xs))],
            [f"{cell} {pick(lang, '层', 'layer')} {layer + 1} {arrow}: h<sub>t</sub> = {cell}(U x<sub>t</sub>, "
             f"W h<sub>t{prev}1</sub>), H={config.hidden_size}" for _ in xs],
            _COLORS["backward" if backward else "forward"], size=36)  # fmt: skip
    for k, (src_xs, y_src) in enumerate(inputs):
        for i, (x0, x) in enumerate(zip(src_xs, xs, strict=True)):
            # One "U" and one "W" per row: the same matrices are used at every step.
            d.arrow(x0, y_src, x, y, "U" if i == len(xs) - 1 and k == 0 else "")
    pairs = list(zip(xs[1:], xs[:-1], strict=True)) if backward else list(zip(xs[:-1], xs[1:], strict=True))
    for i, (a, b) in enumerate(pairs):
        d.arrow(a, y, b, y, "W" if i == len(pairs) // 2 else "", label_dy=0.2)
    side = pick(lang, "（反向）" if backward else "（正向）" if config.directions == 2 else "",
                " (backward)" if backward else " (forward)" if config.directions == 2 else "")
    d.note(-0.6, y, pick(lang, f"{cell} 第 {layer + 1} 层{side}<br>H={config.hidden_size}",
                         f"{cell} layer {layer + 1}{side}<br>H={config.hidden_size}"), xanchor="right", align="right")  # fmt: skip


def _head(d: _Diagram, x: float, y: float, width: int, config: ModelConfig, lang: str) -> None:
    """FC (width -> C) then softmax over the classes."""
    d.nodes("fc", [x], y, ["FC"], [f"z = V v + c ∈ ℝ<sup>{config.num_classes}</sup> ({width} → {config.num_classes})"],
            _COLORS["fc"], size=46)  # fmt: skip
    d.nodes("softmax", [x], y + 1, ["softmax"], [f"p = softmax(z): {config.num_classes} " + pick(lang, "类", "classes")],
            _COLORS["out"], size=58, symbol="circle")  # fmt: skip
    d.arrow(x, y, x, y + 1, shrink=0.3)
    d.note(x + 1.6, y, pick(lang, f"全连接 V：{width}→{config.num_classes}", f"fully connected V: {width}→{config.num_classes}"))
    d.note(x + 1.6, y + 1, pick(lang, f"{config.num_classes} 个类别的概率", f"probabilities of {config.num_classes} classes"))


def textrnn_figure(config: ModelConfig, lang: str = "zh", tokens: Sequence[str] = SAMPLE_TOKENS) -> go.Figure:
    """Text-RNN as configured: embedding → stacked (bi)RNN with shared U, W → pooling → FC → softmax.

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
        _recurrent_row(d, fwd_xs, y, inputs, layer, False, config, f"layer {layer + 1} forward", lang)
        top = [(fwd_xs, y, False)]
        if bi:
            _recurrent_row(d, bwd_xs, y + 1, inputs, layer, True, config, f"layer {layer + 1} backward", lang)
            top.append((bwd_xs, y + 1, True))
        inputs = [(row_xs, row_y) for row_xs, row_y, _ in top]  # layer l+1 reads [→h_t; ←h_t]
        y += 2 if bi else 1
    mid = (xs[0] + xs[-1]) / 2
    width = config.hidden_size * config.directions * (2 if config.pooling == "meanmax" else 1)
    zh, en = POOLING_NAMES[config.pooling]
    d.nodes("pooling", [mid], y, [pick(lang, *_POOL_SHORT[config.pooling])],
            [pick(lang, f"{zh}：得到 {width} 维向量 v", f"{en}: a {width}-dim vector v")], _COLORS["pool"], size=50,
            symbol="diamond")  # fmt: skip
    for row_xs, row_y, backward in top:
        # "last": the forward direction ends at t = T, the backward one at t = 1.
        sources = ([row_xs[0]] if backward else [row_xs[-1]]) if config.pooling == "last" else row_xs
        for x in sources:
            d.arrow(x, row_y, mid, y, dash=config.pooling != "last", shrink=0.25)
    concat = pick(lang, "两个方向拼接，" if bi else "", "both directions joined, " if bi else "")
    d.note(mid + 1.9, y, f"{pick(lang, zh, en)}<br>{concat}{width}" + pick(lang, " 维", "-dim"))
    _head(d, mid, y + 1, width, config, lang)
    title = pick(lang, f"Text-RNN：{config.num_layers} 层{'双向 ' if bi else ''}{CELL_NAMES[config.cell]}，U、W 在所有时间步共享",
                 f"Text-RNN: {config.num_layers}-layer {'bidirectional ' if bi else ''}{CELL_NAMES[config.cell]}, U and W shared by every step")  # fmt: skip
    return d.figure(title, (-2.3, len(xs) + 1.6), (-0.6, y + 2.6))


def textrcnn_figure(config: ModelConfig, lang: str = "zh", tokens: Sequence[str] = SAMPLE_TOKENS) -> go.Figure:
    """RCNN (Lai et al., 2015): left context (forward RNN), word embedding, right context
    (backward RNN) concatenated per token → y_t = tanh(W[c_l; e; c_r] + b) → max over time → FC."""
    d = _Diagram()
    xs = _token_rows(d, tokens, config, lang)
    H, E, P = config.hidden_size, config.input_size, config.rcnn_proj
    left, right = [x - _SHIFT for x in xs], [x + _SHIFT for x in xs]
    _recurrent_row(d, left, 2, [(xs, 1.0)], config.num_layers - 1, False, config, "left context", lang)
    _recurrent_row(d, right, 3, [(xs, 1.0)], config.num_layers - 1, True, config, "right context", lang)
    layers = pick(lang, f"共 {config.num_layers} 层双向 {CELL_NAMES[config.cell]}，画出最上层",
                  f"{config.num_layers}-layer bidirectional {CELL_NAMES[config.cell]}, top layer shown")  # fmt: skip
    d.note(xs[-1] + 1.5, 2.5, pick(lang, "→h：左侧上下文 c<sub>l</sub>(t)<br>←h：右侧上下文 c<sub>r</sub>(t)",
                                   "→h: left context c<sub>l</sub>(t)<br>←h: right context c<sub>r</sub>(t)") + "<br>" + layers)  # fmt: skip
    d.nodes("projection", xs, 4.3, [f"y<sub>{t + 1}</sub>" for t in range(len(xs))],
            [f"y<sub>{t + 1}</sub> = tanh(W[c<sub>l</sub>; e<sub>{t + 1}</sub>; c<sub>r</sub>] + b) ∈ ℝ<sup>{P}</sup>" for t in range(len(xs))],
            _COLORS["proj"], size=40)  # fmt: skip
    for x, xl, xr in zip(xs, left, right, strict=True):
        d.arrow(xl, 2, x, 4.3)
        d.arrow(xr, 3, x, 4.3)
        d.arrow(x, 1, x, 4.3, dash=True, shrink=0.2)  # e_t joins the concatenation directly
    d.note(-0.6, 4.3, pick(lang, f"tanh 投影<br>[{H}; {E}; {H}] → {P}", f"tanh projection<br>[{H}; {E}; {H}] → {P}"),
           xanchor="right", align="right")  # fmt: skip
    mid = (xs[0] + xs[-1]) / 2
    d.nodes("pooling", [mid], 5.5, [pick(lang, "最大", "max")],
            [pick(lang, f"逐维取时间上的最大值：{P} 维", f"max over time, per dimension: {P}-dim")],
            _COLORS["pool"], size=50, symbol="diamond")  # fmt: skip
    for x in xs:
        d.arrow(x, 4.3, mid, 5.5, dash=True, shrink=0.25)
    d.note(mid + 1.9, 5.5, pick(lang, f"时间上最大池化<br>{P} 维", f"max-pool over time<br>{P}-dim"))
    _head(d, mid, 6.5, P, config, lang)
    title = pick(lang, f"RCNN：双向 {CELL_NAMES[config.cell]} 的左右上下文 + 词向量 → tanh → 最大池化",
                 f"RCNN: {CELL_NAMES[config.cell]} left/right context + embedding → tanh → max-pool")  # fmt: skip
    return d.figure(title, (-2.3, len(xs) + 2.4), (-0.6, 8.6))


def architecture_figure(config: ModelConfig, lang: str = "zh") -> go.Figure:
    """The diagram of whichever model ``config`` describes."""
    return textrnn_figure(config, lang) if config.model == "textrnn" else textrcnn_figure(config, lang)


# ---- training curves -----------------------------------------------------------------------


def thin(points: Sequence[Any], max_points: int = MAX_CURVE_POINTS) -> list[Any]:
    """At most ``max_points`` evenly spaced items, always keeping the first and the last."""
    n = len(points)
    if n <= max_points:
        return list(points)
    idx = np.unique(np.linspace(0, n - 1, max_points).round().astype(int))
    return [points[i] for i in idx]


def training_curves_figure(history: Sequence[Mapping[str, Any]], live: Sequence[Mapping[str, Any]] = (),
                           lang: str = "zh") -> go.Figure:
    """Loss (left) and accuracy (right) against the step: the running train values (``live``,
    published while training; else the history's), and the dev set at each evaluation."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=(pick(lang, "损失", "loss"), pick(lang, "准确率", "accuracy")))
    train = [(p["step"], p["loss"], p["accuracy"]) for p in live] or [
        (h["step"], h.get("train_loss"), h.get("train_accuracy")) for h in history]  # fmt: skip
    train = thin(train)
    dev = thin([h for h in history if "dev_loss" in h])
    names = (pick(lang, "训练集", "train"), pick(lang, "验证集", "dev"))
    for col, k in ((1, 1), (2, 2)):
        fig.add_trace(go.Scatter(x=[t[0] for t in train], y=[t[k] for t in train], mode="lines", name=names[0],
                                 legendgroup="train", showlegend=col == 1, line={"color": "#1f77b4"}), row=1, col=col)  # fmt: skip
        key = "dev_loss" if col == 1 else "dev_accuracy"
        fig.add_trace(go.Scatter(x=[h["step"] for h in dev], y=[h[key] for h in dev], mode="lines+markers",
                                 name=names[1], legendgroup="dev", showlegend=col == 1, line={"color": "#d62728"}),
                      row=1, col=col)  # fmt: skip
    fig.update_xaxes(title_text=pick(lang, "训练步", "step"))
    fig.update_yaxes(range=[0, 1], row=1, col=2)
    fig.update_layout(height=320, legend={"orientation": "h", "y": -0.25}, **_LAYOUT)
    return fig


# ---- evaluation ----------------------------------------------------------------------------


def confusion_figure(report: EvalReport, lang: str = "zh") -> go.Figure:
    """Rows = true class, columns = predicted; the count in each cell, coloured by the share of
    its row (so a small class is as visible as a large one)."""
    cm = np.asarray(report.confusion_matrix, dtype=np.int64)
    names = [display_class(c, lang) for c in report.classes]
    rows = cm.sum(axis=1, keepdims=True)
    share = np.divide(cm, rows, out=np.zeros(cm.shape, dtype=np.float64), where=rows > 0)
    fig = go.Figure(go.Heatmap(
        z=share.round(4).tolist(), x=names, y=names, text=cm.tolist(), texttemplate="%{text}",
        colorscale="Blues", zmin=0, zmax=1, colorbar={"title": pick(lang, "行占比", "row share")},
        hovertemplate=pick(lang, "真实 %{y} → 预测 %{x}<br>%{text} 条（%{z:.1%}）",
                           "true %{y} → predicted %{x}<br>%{text} texts (%{z:.1%})") + "<extra></extra>",
    ))  # fmt: skip
    fig.update_layout(
        title=pick(lang, f"混淆矩阵（{report.n} 条，准确率 {report.accuracy:.2%}）",
                   f"Confusion matrix ({report.n} texts, accuracy {report.accuracy:.2%})"),
        xaxis_title=pick(lang, "预测类别", "predicted"), yaxis_title=pick(lang, "真实类别", "true"),
        height=160 + 36 * len(names), **_LAYOUT,
    )  # fmt: skip
    fig.update_yaxes(autorange="reversed")
    return fig


def probability_figure(probabilities: Mapping[str, float], label: str, lang: str = "zh") -> go.Figure:
    """Horizontal bars, most probable on top; the predicted class in red."""
    items = sorted(probabilities.items(), key=lambda kv: kv[1])
    fig = go.Figure(go.Bar(
        x=[float(p) for _, p in items], y=[display_class(c, lang) for c, _ in items], orientation="h",
        marker={"color": ["#d62728" if c == label else "#9aa0a6" for c, _ in items]},
        text=[f"{p:.1%}" for _, p in items], textposition="outside",
        hovertemplate="%{y}: %{x:.2%}<extra></extra>",
    ))  # fmt: skip
    fig.update_layout(title=pick(lang, "各类别概率", "Class probabilities"), height=120 + 26 * len(items),
                      xaxis={"range": [0, 1.15], "tickformat": ".0%"}, **_LAYOUT)  # fmt: skip
    return fig


# ---- per-token states ----------------------------------------------------------------------


def _axis(name: str, row: int) -> str:
    """Plotly's axis names: "x", "x2", ... (traces) or "xaxis", "xaxis2", ... (layout)."""
    return name if row == 1 else f"{name}{row}"


def token_states_figure(trace: Any, tokens: Sequence[str], lang: str = "zh", unit: int | None = None) -> go.Figure:
    """One layer and direction of a prediction (a ``rnnviz.core.predict.TokenTrace``): the sigmoid
    gates (0..1), the signed states (candidate, cell c, hidden h) and ||h_t|| at every token,
    averaged over the hidden units, or for hidden unit ``unit``."""
    names = [g for g in GATES[trace.kind] if g in trace.states]
    H = trace.states[names[0]].shape[1]
    if unit is not None and not 0 <= unit < H:
        raise RnnVizError(f"unit must be in 0..{H - 1}, got {unit}", where="unit")

    def values(g: str) -> np.ndarray:
        s = np.asarray(trace.states[g], dtype=np.float32)
        return s.mean(axis=1) if unit is None else s[:, unit]

    groups = [[g for g in names if g in SIGMOID_GATES], [g for g in names if g not in SIGMOID_GATES]]
    groups = [g for g in groups if g]
    heights = [len(g) for g in groups] + [1]
    x = list(range(len(tokens)))
    custom = list(tokens)
    traces = []
    for row, group in enumerate(groups, start=1):
        z = np.stack([values(g) for g in group])
        bound = float(np.abs(z).max()) or 1.0
        colors = ({"colorscale": "Viridis", "zmin": 0, "zmax": 1} if group[0] in SIGMOID_GATES
                  else {"colorscale": "RdBu", "zmid": 0, "zmin": -bound, "zmax": bound})  # fmt: skip
        traces.append(go.Heatmap(
            z=z.tolist(), x=x, y=[gate_label(trace.kind, g, lang) for g in group], customdata=[custom] * len(group),
            hovertemplate="%{y}<br>%{customdata}: %{z:.3f}<extra></extra>", showscale=False,
            xaxis=_axis("x", row), yaxis=_axis("y", row), **colors,
        ))  # fmt: skip
    norm = np.asarray(trace.hidden_norm, dtype=np.float32)
    rows = len(heights)
    traces.append(go.Heatmap(
        z=[norm.tolist()], x=x, y=["‖h_t‖"], customdata=[custom], colorscale="Greys", reversescale=True, zmin=0,
        hovertemplate="‖h_t‖<br>%{customdata}: %{z:.3f}<extra></extra>", showscale=False,
        xaxis=_axis("x", rows), yaxis=_axis("y", rows),
    ))  # fmt: skip
    # Rows stacked top to bottom by hand (make_subplots costs ~30 ms per figure, and this one
    # is redrawn for every typed text).
    gap = 0.05
    unit_h = (1 - gap * (rows - 1)) / sum(heights)
    axes: dict[str, Any] = {}
    top = 1.0
    for row, h in enumerate(heights, start=1):
        bottom = max(0.0, top - h * unit_h)
        last = row == rows
        axes[_axis("yaxis", row)] = {"domain": [bottom, top], "anchor": _axis("x", row), "autorange": "reversed"}
        axes[_axis("xaxis", row)] = {"anchor": _axis("y", row), "matches": None if row == 1 else "x",
                                     "showticklabels": last, **({"tickvals": x, "ticktext": custom, "tickangle": 0} if last else {})}  # fmt: skip
        top = bottom - gap
    which = pick(lang, f"单元 {unit}", f"unit {unit}") if unit is not None else pick(lang, f"{H} 个单元的平均", f"mean of {H} units")
    direction = pick(lang, "正向", "forward") if trace.direction == "forward" else pick(lang, "反向", "backward")
    return go.Figure(traces, layout=dict(
        title=pick(lang, f"第 {trace.layer + 1} 层 · {direction} · {CELL_NAMES[trace.kind]}（{which}）",
                   f"Layer {trace.layer + 1} · {direction} · {CELL_NAMES[trace.kind]} ({which})"),
        height=110 + 34 * sum(heights), **axes, **_LAYOUT,
    ))  # fmt: skip


__all__ = ["architecture_figure", "confusion_figure", "probability_figure", "textrcnn_figure",
           "textrnn_figure", "thin", "token_states_figure", "training_curves_figure"]
