"""Figures for the long-term dependency page: live training curves and accuracy against T."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from rnnviz.i18n import pick
from rnnviz.lessons.longdep import KIND_NAMES, downsample_indices, moving_average
from rnnviz.plots.style import base_layout

KIND_COLORS = {"rnn": "#d62728", "lstm": "#1f77b4", "gru": "#2ca02c"}
_LAYOUT = base_layout(top=50)


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
    fig = make_subplots(
        rows=1, cols=2, horizontal_spacing=0.08,
        subplot_titles=(pick(lang, "训练损失（交叉熵）", "training loss (cross-entropy)"),
                        pick(lang, "准确率（每批都是新序列）", "accuracy (every batch is new)")),
    )  # fmt: skip
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
                           hovertemplate="step %{x}<br>%{y:.3f}<extra>" + KIND_NAMES[kind] + "</extra>"),
                row=1, col=col,
            )  # fmt: skip
    chance_text = pick(lang, f"随机猜测 {chance:.0%}", f"chance {chance:.0%}")
    fig.add_hline(y=math.log(1 / chance), line={"dash": "dash", "color": "#888"}, row=1, col=1,
                  annotation_text=f"ln {round(1 / chance)}", annotation_position="top right")  # fmt: skip
    fig.add_hline(y=chance, line={"dash": "dash", "color": "#888"}, row=1, col=2,
                  annotation_text=chance_text, annotation_position="top right")  # fmt: skip
    fig.update_xaxes(range=[0, max(1, total_steps)], title_text=pick(lang, "训练步数", "training step"))
    fig.update_yaxes(range=[0, 1.05], row=1, col=2)
    fig.update_yaxes(rangemode="tozero", row=1, col=1)
    fig.update_layout(height=360, legend={"orientation": "h", "y": -0.25}, **_LAYOUT)
    return fig


def length_sweep_figure(
    runs: Sequence[Mapping[str, float]], chance: float, lang: str = "zh"
) -> go.Figure:
    """Held-out accuracy against sequence length T, one line per model, over the runs so far.

    runs: dicts with "length" and one accuracy per model kind (a later run at the same T
    replaces an earlier one).
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
                       hovertemplate="T=%{x}<br>%{y:.1%}<extra>" + name + "</extra>")
        )  # fmt: skip
    fig.add_hline(y=chance, line={"dash": "dash", "color": "#888"},
                  annotation_text=pick(lang, "随机猜测", "chance"), annotation_position="bottom right")  # fmt: skip
    fig.update_layout(
        height=320, title=pick(lang, "你的运行：留出集准确率 vs 序列长度 T",
                               "Your runs: held-out accuracy vs sequence length T"),
        xaxis_title=pick(lang, "序列长度 T", "sequence length T"),
        yaxis={"range": [0, 1.05], "tickformat": ".0%"}, **_LAYOUT,
    )  # fmt: skip
    return fig
