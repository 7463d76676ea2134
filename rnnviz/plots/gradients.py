"""Figures for the vanishing/exploding-gradients page."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from rnnviz.i18n import pick
from rnnviz.lessons.gradients import ClipRun, activation_derivative, clip_geometry, power_curve
from rnnviz.plots.style import base_layout

ACT_COLORS = {"tanh": "#1f77b4", "sigmoid": "#ff7f0e", "relu": "#2ca02c"}
CLIP_COLORS = {"none": "#d62728", "norm": "#1f77b4", "value": "#9467bd"}
_LAYOUT = base_layout(top=40)
_LOG_Y = {"type": "log", "exponentformat": "power"}  # 10^-12, not SI prefixes like "1p"


def _finite_or_none(v: np.ndarray) -> list[float | None]:
    """Plotly JSON has no inf/NaN: leave a gap instead."""
    return [float(x) if np.isfinite(x) and x > 0 else None for x in v]


def power_figure(factors: Sequence[float], T: int, lang: str = "zh") -> go.Figure:
    """factor**t for t = 0..T on a log axis, one line per factor, the end value labelled."""
    fig = go.Figure()
    t = np.arange(T + 1)
    for f in factors:
        curve = power_curve(f, T)
        fig.add_trace(
            go.Scatter(x=t, y=_finite_or_none(curve), mode="lines", name=f"{f:g}<sup>t</sup>",
                       hovertemplate="t=%{x}<br>%{y:.4g}<extra>" + f"{f:g}" + "</extra>")
        )  # fmt: skip
        fig.add_annotation(x=T, y=float(np.log10(curve[-1])) if curve[-1] > 0 else 0,
                           text=f"{f:g}<sup>{T}</sup> ≈ {curve[-1]:.4g}", showarrow=True,
                           ax=-60, ay=-25 if f >= 1 else 25)  # fmt: skip
    fig.add_hline(y=1.0, line={"dash": "dot", "color": "#888"})
    fig.update_layout(
        height=360, title=pick(lang, "连乘 T 个相同因子", "A product of T equal factors"),
        xaxis_title=pick(lang, "步数 t", "steps t"),
        yaxis={**_LOG_Y, "title": "factor<sup>t</sup>"}, **_LAYOUT,
    )  # fmt: skip
    return fig


def jacobian_norm_figure(
    norms: Mapping[str, np.ndarray], norm: str, spectral_radius: float, lang: str = "zh"
) -> go.Figure:
    """‖∂h_T/∂h_t‖ against the distance T - t, one line per activation, log axis."""
    name = pick(lang, "谱范数", "spectral norm") if norm == "spectral" else pick(lang, "Frobenius 范数", "Frobenius norm")
    fig = go.Figure()
    for act, values in norms.items():
        fig.add_trace(
            go.Scatter(x=np.arange(len(values)), y=_finite_or_none(values), mode="lines", name=act,
                       line={"color": ACT_COLORS.get(act)},
                       hovertemplate="T−t=%{x}<br>%{y:.3g}<extra>" + act + "</extra>")
        )  # fmt: skip
    fig.add_hline(y=1.0, line={"dash": "dot", "color": "#888"})
    fig.update_layout(
        height=380, yaxis=_LOG_Y,
        title=pick(lang, f"‖∂h_T/∂h_t‖（{name}），W 的谱半径 ρ = {spectral_radius:g}",
                   f"‖∂h_T/∂h_t‖ ({name}), spectral radius of W ρ = {spectral_radius:g}"),
        xaxis_title=pick(lang, "距离 T − t（步）", "distance T − t (steps)"), **_LAYOUT,
    )  # fmt: skip
    return fig


def derivative_figure(lang: str = "zh") -> go.Figure:
    """sigmoid'(z) (peak 1/4) and tanh'(z) (peak 1) with their maxima marked."""
    z = np.linspace(-6, 6, 241)
    fig = go.Figure()
    for act in ("sigmoid", "tanh"):
        d = activation_derivative(z, act)
        i = int(np.argmax(d))
        fig.add_trace(go.Scatter(x=z, y=d, mode="lines", name=f"{act}'(z)", line={"color": ACT_COLORS[act]}))
        fig.add_trace(
            go.Scatter(x=[z[i]], y=[d[i]], mode="markers+text", text=[f"max {d[i]:.2f}"],
                       textposition="top right", marker={"color": ACT_COLORS[act], "size": 9},
                       showlegend=False, hoverinfo="skip")
        )  # fmt: skip
    fig.update_layout(
        height=380, title=pick(lang, "激活函数的导数", "Derivatives of the activations"),
        xaxis_title="z", yaxis={"range": [0, 1.15]}, **_LAYOUT,
    )  # fmt: skip
    return fig


def clipping_figure(runs: Sequence[ClipRun], lang: str = "zh") -> go.Figure:
    """Loss (left) and gradient norm before clipping (right) per training step, log axes."""
    labels = {
        "none": pick(lang, "不裁剪", "no clipping"),
        "norm": pick(lang, "按范数裁剪", "clip by norm"),
        "value": pick(lang, "按值裁剪", "clip by value"),
    }
    fig = make_subplots(
        rows=1, cols=2, horizontal_spacing=0.08,
        subplot_titles=(pick(lang, "训练损失", "training loss"),
                        pick(lang, "裁剪前的梯度范数 ‖g‖", "gradient norm ‖g‖ before clipping")),
    )  # fmt: skip
    for run in runs:
        color, name = CLIP_COLORS[run.mode], labels[run.mode]
        if run.mode != "none":
            name += f" ({run.threshold:g})"
        steps = np.arange(len(run.loss))
        for col, values in ((1, run.loss), (2, run.grad_norm)):
            fig.add_trace(
                go.Scatter(x=steps, y=_finite_or_none(values), mode="lines", name=name,
                           line={"color": color, "width": 3 if run.mode == "none" else 2},
                           legendgroup=run.mode, showlegend=col == 1),
                row=1, col=col,
            )  # fmt: skip
        if run.diverged_at is not None:
            last = run.loss[: run.diverged_at]
            y_mark = float(np.nanmax(last[np.isfinite(last)])) if np.isfinite(last).any() else 1.0
            fig.add_trace(
                go.Scatter(x=[run.diverged_at], y=[y_mark], mode="markers+text",
                           marker={"symbol": "x", "size": 14, "color": color},
                           text=[pick(lang, f"第 {run.diverged_at} 步：inf/NaN",
                                      f"step {run.diverged_at}: inf/NaN")],
                           textposition="middle right", showlegend=False, legendgroup=run.mode),
                row=1, col=1,
            )  # fmt: skip
    fig.update_yaxes(type="log", exponentformat="power")
    fig.update_xaxes(title_text=pick(lang, "训练步", "training step"))
    fig.update_layout(height=380, legend={"orientation": "h", "y": -0.2}, **_LAYOUT)
    return fig


def clip_geometry_figure(g: np.ndarray, threshold: float, lang: str = "zh") -> go.Figure:
    """One 2-D gradient, its norm-clipped (circle) and value-clipped (box) versions."""
    by_norm, by_value = clip_geometry(g, threshold)
    fig = go.Figure()
    th = np.linspace(0, 2 * np.pi, 181)
    fig.add_trace(go.Scatter(x=threshold * np.cos(th), y=threshold * np.sin(th), mode="lines",
                             line={"dash": "dot", "color": CLIP_COLORS["norm"]},
                             name=pick(lang, "‖g‖ = 阈值", "‖g‖ = threshold"), hoverinfo="skip"))
    c = threshold
    fig.add_trace(go.Scatter(x=[-c, c, c, -c, -c], y=[-c, -c, c, c, -c], mode="lines",
                             line={"dash": "dot", "color": CLIP_COLORS["value"]},
                             name=pick(lang, "|g_i| = 阈值", "|g_i| = threshold"), hoverinfo="skip"))
    for vec, key, name in (
        (g, "none", pick(lang, "原梯度 g", "gradient g")),
        (by_norm, "norm", pick(lang, "按范数裁剪：方向不变", "by norm: same direction")),
        (by_value, "value", pick(lang, "按值裁剪：方向改变", "by value: direction changes")),
    ):
        fig.add_trace(go.Scatter(x=[0, vec[0]], y=[0, vec[1]], mode="lines+markers", name=name,
                                 line={"color": CLIP_COLORS[key], "width": 3},
                                 marker={"size": [0, 10]},
                                 hovertemplate=f"({vec[0]:.2f}, {vec[1]:.2f})<extra>{name}</extra>"))
    lim = 1.15 * max(float(np.abs(g).max()), threshold)
    fig.update_xaxes(range=[-lim, lim], zeroline=True)
    fig.update_yaxes(range=[-lim, lim], scaleanchor="x", zeroline=True)
    fig.update_layout(height=380, title=pick(lang, "二维示意", "In two dimensions"),
                      legend={"orientation": "h", "y": -0.15}, **_LAYOUT)
    return fig
