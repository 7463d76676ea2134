"""Figures for the recursive-networks page: the tree with its node vectors, ‖∂root/∂leaf‖
against leaf depth, and the toy task's curves and held-out accuracy by depth (words:
content/<lang>/plots/recursive.md)."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from rnnviz.content import Text
from rnnviz.lessons.longdep import downsample_indices, moving_average
from rnnviz.lessons.recursive import KINDS, LeafGradients, Span, ToyResult, TreeRun, kind_name
from rnnviz.plots.style import base_layout

SHAPE_COLORS = {"chain": "#d62728", "balanced": "#1f77b4", "merges": "#2ca02c"}
KIND_COLORS = {"tree": "#2ca02c", "chain": "#d62728"}
_SELECTED = "#d62728"
_CHILD = "#ff7f0e"
_LOG_Y = {"type": "log", "exponentformat": "power"}
_T = Text("plots/recursive")


def node_positions(run: TreeRun) -> dict[Span, tuple[float, float]]:
    """(x, y) of every node: leaf i at (i, 0); an inner node midway between its children, at
    its height (1 + its taller child's), so a chain climbs one level per word."""
    pos: dict[Span, tuple[float, float]] = {(i, i + 1): (float(i), 0.0)
                                            for i in range(len(run.words))}
    for s in run.inner:  # children come before their parent
        (lx, ly), (rx, ry) = (pos[c] for c in run.children[s])
        pos[s] = ((lx + rx) / 2, max(ly, ry) + 1)
    return pos


def _vector_text(v: np.ndarray) -> str:
    return "[" + ", ".join(f"{x:.2f}" for x in v) + "]"


def tree_figure(run: TreeRun, selected: Span | None = None, lang: str = "zh") -> go.Figure:
    """The forest over the sentence: every node coloured and labelled by ‖p‖, its vector on
    hover; ``selected`` ringed in red, its two children in orange."""
    pos = node_positions(run)
    ex, ey = [], []
    for s, (left, right) in run.children.items():
        for c in (left, right):
            ex += [pos[s][0], pos[c][0], None]
            ey += [pos[s][1], pos[c][1], None]
    leaves = [(i, i + 1) for i in range(len(run.words))]
    norms = {s: float(np.linalg.norm(v)) for s, v in run.vectors.items()}
    top = max(norms.values())
    traces = [go.Scatter(x=ex, y=ey, mode="lines", line={"color": "#9aa0a6", "width": 2},
                         hoverinfo="skip", showlegend=False)]
    for group, spans, symbol in (("leaf", leaves, "square"), ("inner", run.inner, "circle")):
        traces.append(go.Scatter(
            x=[pos[s][0] for s in spans], y=[pos[s][1] for s in spans], mode="markers+text",
            marker={"size": 34, "symbol": symbol, "color": [norms[s] for s in spans],
                    "colorscale": "Viridis", "cmin": 0, "cmax": top,
                    "line": {"width": 1.5, "color": "#333"},
                    "colorbar": {"title": {"text": "‖p‖"}} if group == "inner" else None,
                    "showscale": group == "inner"},
            text=[f"{norms[s]:.2f}" for s in spans], textfont={"size": 11, "color": "white"},
            hovertext=[_T(lang, f"hover.{group}", words=html.escape(run.text(s)),
                          vector=_vector_text(run.vectors[s]), norm=norms[s]) for s in spans],
            hoverinfo="text", name=_T(lang, f"node.{group}"), showlegend=False,
        ))
    traces.append(go.Scatter(
        x=[float(i) for i in range(len(run.words))], y=[-0.55] * len(run.words), mode="text",
        text=[html.escape(w) for w in run.words], textfont={"size": 15}, hoverinfo="skip",
        showlegend=False,
    ))
    if selected is not None and selected in run.children:
        marks = [(selected, _SELECTED), *((c, _CHILD) for c in run.children[selected])]
        traces.append(go.Scatter(
            x=[pos[s][0] for s, _ in marks], y=[pos[s][1] for s, _ in marks], mode="markers",
            marker={"size": 46, "color": "rgba(0,0,0,0)", "symbol": "circle-open",
                    "line": {"width": 4, "color": [c for _, c in marks]}},
            hoverinfo="skip", showlegend=False, name="selected",
        ))
    levels = max(y for _, y in pos.values())
    fig = go.Figure(traces)
    fig.update_layout(
        height=int(150 + 62 * levels), showlegend=False, dragmode=False, **base_layout(top=10),
        xaxis={"visible": False, "range": [-0.7, len(run.words) - 0.3]},
        yaxis={"visible": False, "range": [-0.9, levels + 0.5]},
    )
    return fig


def gradient_figure(grads: Sequence[LeafGradients], words: Sequence[str],
                    lang: str = "zh") -> go.Figure:
    """‖∂root/∂leaf‖ against each leaf's depth (log scale), one series per tree shape."""
    fig = go.Figure()
    for g in grads:
        order = np.argsort(g.depths, kind="stable")
        fig.add_trace(go.Scatter(
            x=g.depths[order].tolist(), y=[float(v) for v in g.norms[order]],
            mode="markers+lines", name=_T(lang, f"shape.{g.shape}"),
            line={"color": SHAPE_COLORS.get(g.shape, "#555"), "width": 1, "dash": "dot"},
            marker={"size": 11, "color": SHAPE_COLORS.get(g.shape, "#555")},
            text=[html.escape(words[i]) for i in order],
            hovertemplate=_T(lang, "grad.hover") + f"<extra>{_T(lang, f'shape.{g.shape}')}</extra>",
        ))
    fig.update_layout(
        height=360, **base_layout(top=40), title=_T(lang, "grad.title"),
        xaxis={"title": _T(lang, "grad.x"), "dtick": 1},
        yaxis={"title": _T(lang, "grad.y"), **_LOG_Y},
        legend={"orientation": "h", "y": -0.25},
    )
    return fig


def toy_curves_figure(history: Mapping[str, Mapping[str, Sequence[float]]], chance: float,
                      total_steps: int, lang: str = "zh", window: int = 20,
                      max_points: int = 200) -> go.Figure:
    """Training loss and accuracy per step (trailing mean over ``window`` steps), tree network
    against chain RNN; down-sampled so a live redraw stays small; dashed: chance."""
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.08,
                        subplot_titles=(_T(lang, "curves.loss"), _T(lang, "curves.accuracy")))
    for kind in KINDS:
        h = history.get(kind)
        if not h or not h["step"]:
            continue
        keep = downsample_indices(len(h["step"]), max_points)
        x = [h["step"][i] for i in keep]
        name = kind_name(kind, lang)
        for col, key in ((1, "loss"), (2, "accuracy")):
            y = moving_average(h[key], window)[keep]
            fig.add_trace(go.Scatter(
                x=x, y=y.astype("float32").tolist(), mode="lines", name=name, legendgroup=kind,
                showlegend=col == 1, line={"color": KIND_COLORS[kind], "width": 2},
                hovertemplate="%{x}: %{y:.3f}<extra>" + name + "</extra>",
            ), row=1, col=col)
    fig.add_hline(y=chance, line={"dash": "dash", "color": "#888"}, row=1, col=2,
                  annotation_text=_T(lang, "chance", chance=chance),
                  annotation_position="top right")
    fig.update_xaxes(range=[0, max(1, total_steps)], title_text=_T(lang, "curves.x"))
    fig.update_yaxes(range=[0, 1.05], row=1, col=2)
    fig.update_yaxes(rangemode="tozero", row=1, col=1)
    fig.update_layout(height=340, legend={"orientation": "h", "y": -0.3}, **base_layout(top=40))
    return fig


def depth_accuracy_figure(result: ToyResult, lang: str = "zh") -> go.Figure:
    """Held-out accuracy by the expression's depth (nesting), one bar per model and depth."""
    depths = sorted(result.depth_counts)
    fig = go.Figure()
    for kind in KINDS:
        fig.add_trace(go.Bar(
            x=depths, y=[result.by_depth[kind][d] for d in depths], name=kind_name(kind, lang),
            marker={"color": KIND_COLORS[kind]},
            customdata=[result.depth_counts[d] for d in depths],
            hovertemplate=_T(lang, "depth.hover") + f"<extra>{kind_name(kind, lang)}</extra>",
        ))
    fig.add_hline(y=result.chance, line={"dash": "dash", "color": "#888"},
                  annotation_text=_T(lang, "chance", chance=result.chance),
                  annotation_position="top right")
    fig.update_layout(
        height=320, barmode="group", title=_T(lang, "depth.title"), **base_layout(top=40),
        xaxis={"title": _T(lang, "depth.x"), "dtick": 1},
        yaxis={"range": [0, 1.05], "tickformat": ".0%"},
        legend={"orientation": "h", "y": -0.3},
    )
    return fig


__all__ = ["depth_accuracy_figure", "gradient_figure", "node_positions", "toy_curves_figure",
           "tree_figure"]
