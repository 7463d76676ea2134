"""Figures for the memory-network page: the live training curves of both models, each hop's
attention over a story's sentences, and held-out accuracy against story length."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from rnnviz.content import Text
from rnnviz.lessons.longdep import downsample_indices, moving_average
from rnnviz.lessons.memnet import KINDS, MemNetResult, Story, chance, kind_name, model_name
from rnnviz.plots.style import base_layout

_T = Text("plots/memnet")
MODEL_COLORS = {"memnet": "#9467bd", "lstm": "#1f77b4"}
KIND_DASH = {"person": "solid", "thing": "dash"}
_LAYOUT = base_layout(top=50)


def curves_figure(history: Mapping[str, Mapping[str, Sequence[float]]], total_steps: int,
                  lang: str = "zh", window: int = 25, max_points: int = 200) -> go.Figure:
    """Training loss and accuracy per step (trailing mean over ``window`` steps), one line per
    model, down-sampled to ``max_points``; the x axis spans the whole run."""
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.08,
                        subplot_titles=(_T(lang, "curves.loss"), _T(lang, "curves.accuracy")))
    for name, h in history.items():
        steps = list(h["step"])
        if not steps:
            continue
        keep = downsample_indices(len(steps), max_points)
        x = [steps[i] for i in keep]
        for col, key in ((1, "loss"), (2, "accuracy")):
            y = moving_average(h[key], window)[keep]
            fig.add_trace(go.Scatter(
                x=x, y=y.astype("float32").tolist(), mode="lines", name=model_name(name, lang),
                legendgroup=name, showlegend=col == 1,
                line={"color": MODEL_COLORS[name], "width": 2},
                hovertemplate=_T(lang, "curves.hover")), row=1, col=col)
    fig.update_xaxes(range=[0, max(1, total_steps)], title_text=_T(lang, "curves.x"))
    fig.update_yaxes(range=[0, 1.05], row=1, col=2)
    fig.update_yaxes(rangemode="tozero", row=1, col=1)
    fig.update_layout(height=340, legend={"orientation": "h", "y": -0.28}, **_LAYOUT)
    return fig


def sentence_labels(story: Story, width: int = 28) -> list[str]:
    """"1 小明去了厨房" …, a supporting sentence starred, long ones cut to ``width``."""
    out = []
    for i, sentence in enumerate(story.sentences):
        text = sentence if len(sentence) <= width else sentence[:width - 1] + "…"
        out.append(f"{'★ ' if i in story.support else ''}{i + 1} {text}")
    return out


def attention_figure(story: Story, attention: np.ndarray, lang: str = "zh") -> go.Figure:
    """Each hop's attention over the story's sentences: one column per hop, one row per
    sentence (the story reads top to bottom), the weight written in each cell. ★ marks the
    sentences that answer the question (when the story says)."""
    attention = np.asarray(attention, dtype=float)  # (K, n)
    K, n = attention.shape
    hops = [_T(lang, "attention.hop", k=k) for k in range(1, K + 1)]
    labels = sentence_labels(story)
    fig = go.Figure(go.Heatmap(
        z=attention.T.astype("float32"), x=hops, y=labels, zmin=0, zmax=1,
        colorscale="Purples", colorbar={"title": {"text": "p"}, "thickness": 12},
        text=[[f"{v:.2f}" for v in row] for row in attention.T], texttemplate="%{text}",
        hovertemplate=_T(lang, "attention.hover")))
    fig.update_yaxes(autorange="reversed", type="category")
    fig.update_xaxes(side="top", type="category")
    fig.update_layout(height=120 + 34 * n, title=_T(lang, "attention.title"), **_LAYOUT)
    return fig


def sweep_figure(result: MemNetResult, lang: str = "zh") -> go.Figure:
    """Held-out accuracy against story length: a line per model and kind of question (solid
    1 hop, dashed 2 hops). Dotted: guessing one of the places."""
    fig = go.Figure()
    for name, kinds in result.sweep.items():
        for kind in KINDS:
            points = sorted(kinds.get(kind, {}).items())
            if not points:
                continue
            label = _T(lang, "sweep.line", model=model_name(name, lang),
                       kind=kind_name(kind, lang))
            fig.add_trace(go.Scatter(
                x=[n for n, _ in points], y=[a for _, a in points], mode="lines+markers",
                name=label, line={"color": MODEL_COLORS[name], "dash": KIND_DASH[kind]},
                marker={"size": 8},
                hovertemplate=_T(lang, "sweep.hover") + f"<extra>{label}</extra>"))
    guess = chance(result)  # the same level the page's verdict compares with
    fig.add_hline(y=guess, line={"dash": "dot", "color": "#888"},
                  annotation_text=_T(lang, "sweep.chance", p=guess),
                  annotation_position="bottom right")
    fig.update_layout(
        height=360, title=_T(lang, "sweep.title", n=result.config.eval_per_length),
        xaxis_title=_T(lang, "sweep.x"), yaxis={"range": [0, 1.05], "tickformat": ".0%"},
        legend={"orientation": "h", "y": -0.25}, **_LAYOUT)
    return fig


__all__ = ["MODEL_COLORS", "attention_figure", "curves_figure", "sentence_labels",
           "sweep_figure"]
