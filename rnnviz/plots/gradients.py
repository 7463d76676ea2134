"""Figures for the vanishing/exploding-gradients page (words: content/<lang>/plots/gradients.md)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from rnnviz.content import Text
from rnnviz.lessons.gradients import (
    ClipEffect,
    ClipRun,
    activation_derivative,
    clip_effects,
    power_curve,
)
from rnnviz.plots.style import base_layout

ACT_COLORS = {"tanh": "#1f77b4", "sigmoid": "#ff7f0e", "relu": "#2ca02c"}
CLIP_COLORS = {"none": "#d62728", "norm": "#1f77b4", "value": "#9467bd"}
_LAYOUT = base_layout(top=40)
_LOG_Y = {"type": "log", "exponentformat": "power"}  # 10^-12, not SI prefixes like "1p"
_T = Text("plots/gradients")


def _finite_or_none(v: np.ndarray) -> list[float | None]:
    """Plotly JSON has no inf/NaN and a log axis no 0: leave a gap instead."""
    return [float(x) if np.isfinite(x) and x > 0 else None for x in v]


def power_figure(factors: Sequence[float], T: int, lang: str = "zh") -> go.Figure:
    """factor**t for t = 0..T on a log axis, one line per factor, the end value labelled."""
    fig = go.Figure()
    t = np.arange(T + 1)
    for f in factors:
        curve = power_curve(f, T)
        fig.add_trace(go.Scatter(
            x=t, y=_finite_or_none(curve), mode="lines", name=f"{f:g}<sup>t</sup>",
            hovertemplate="t=%{x}<br>%{y:.4g}<extra>" + f"{f:g}" + "</extra>"))
        fig.add_annotation(x=T, y=float(np.log10(curve[-1])) if curve[-1] > 0 else 0,
                           text=f"{f:g}<sup>{T}</sup> ≈ {curve[-1]:.4g}", showarrow=True,
                           ax=-60, ay=-25 if f >= 1 else 25)
    fig.add_hline(y=1.0, line={"dash": "dot", "color": "#888"})
    fig.update_layout(height=360, title=_T(lang, "power.title"), xaxis_title=_T(lang, "power.x"),
                      yaxis={**_LOG_Y, "title": _T(lang, "power.y")}, **_LAYOUT)
    return fig


def jacobian_norm_figure(
    norms: Mapping[str, np.ndarray],
    norm: str,
    spectral_radius: float,
    lang: str = "zh",
    bound: np.ndarray | None = None,
) -> go.Figure:
    """‖∂h_T/∂h_t‖ against the distance T - t, one line per activation, log axis; ``bound``:
    the sigmoid's guaranteed ceiling (max|sigmoid'| · ‖W‖₂)^(T-t), dotted."""
    fig = go.Figure()
    for act, values in norms.items():
        fig.add_trace(go.Scatter(
            x=np.arange(len(values)), y=_finite_or_none(values), mode="lines", name=act,
            line={"color": ACT_COLORS.get(act)},
            hovertemplate="T−t=%{x}<br>%{y:.3g}<extra>" + act + "</extra>"))
    if bound is not None:
        name = _T(lang, "jac.bound")
        fig.add_trace(go.Scatter(
            x=np.arange(len(bound)), y=_finite_or_none(bound), mode="lines", name=name,
            line={"color": ACT_COLORS["sigmoid"], "dash": "dot"},
            hovertemplate="T−t=%{x}<br>%{y:.3g}<extra>" + name + "</extra>"))
    fig.add_hline(y=1.0, line={"dash": "dot", "color": "#888"})
    fig.update_layout(
        height=380, yaxis={**_LOG_Y, "title": _T(lang, "jac.y")},
        title=_T(lang, "jac.title", norm=_T(lang, f"jac.norm.{norm}"), rho=spectral_radius),
        xaxis_title=_T(lang, "jac.x"), **_LAYOUT,
    )
    return fig


def derivative_figure(lang: str = "zh") -> go.Figure:
    """sigmoid'(z) (peak 1/4) and tanh'(z) (peak 1) with their maxima marked."""
    z = np.linspace(-6, 6, 241)
    fig = go.Figure()
    for act in ("sigmoid", "tanh"):
        d = activation_derivative(z, act)
        i = int(np.argmax(d))
        fig.add_trace(go.Scatter(x=z, y=d, mode="lines", name=f"{act}'(z)",
                                 line={"color": ACT_COLORS[act]}))
        fig.add_trace(go.Scatter(
            x=[z[i]], y=[d[i]], mode="markers+text", text=[f"max {d[i]:.2f}"],
            textposition="top right", marker={"color": ACT_COLORS[act], "size": 9},
            showlegend=False, hoverinfo="skip"))
    fig.update_layout(height=380, title=_T(lang, "deriv.title"), xaxis_title="z",
                      yaxis={"range": [0, 1.15], "title": "f'(z)"}, **_LAYOUT)
    return fig


def clipping_figure(runs: Sequence[ClipRun], lang: str = "zh") -> go.Figure:
    """Loss (left) and gradient norm before clipping (right) per training step, log axes."""
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.08,
                        subplot_titles=(_T(lang, "clip.loss"), _T(lang, "clip.gnorm")))
    for run in runs:
        color, name = CLIP_COLORS[run.mode], _T(lang, f"clip.{run.mode}")
        if run.mode != "none":
            name += f" ({run.threshold:g})"
        steps = np.arange(len(run.loss))
        for col, values in ((1, run.loss), (2, run.grad_norm)):
            fig.add_trace(
                go.Scatter(x=steps, y=_finite_or_none(values), mode="lines", name=name,
                           line={"color": color, "width": 3 if run.mode == "none" else 2},
                           legendgroup=run.mode, showlegend=col == 1),
                row=1, col=col,
            )
        if run.diverged_at is not None:
            last = run.loss[: run.diverged_at]
            y_mark = float(np.nanmax(last[np.isfinite(last)])) if np.isfinite(last).any() else 1.0
            fig.add_trace(
                go.Scatter(x=[run.diverged_at], y=[y_mark], mode="markers+text",
                           marker={"symbol": "x", "size": 14, "color": color},
                           text=[_T(lang, "clip.diverged", step=run.diverged_at)],
                           textposition="middle right", showlegend=False, legendgroup=run.mode),
                row=1, col=1,
            )
    fig.update_yaxes(type="log", exponentformat="power")
    fig.update_xaxes(title_text=_T(lang, "clip.x"))
    fig.update_layout(height=380, legend={"orientation": "h", "y": -0.2}, **_LAYOUT)
    return fig


def clip_effect_label(mode: str, effect: ClipEffect, lang: str = "zh") -> str:
    """What one clipping did to g, in words: unchanged, shorter in the same direction, or
    turned by its angle. Computed from the clipped vector, never assumed from the mode."""
    if not effect.changed:
        return _T(lang, f"geom.{mode}.same")
    if effect.kept_direction:
        return _T(lang, f"geom.{mode}.shorter")
    return _T(lang, f"geom.{mode}.turned", angle=effect.angle)


def clip_geometry_figure(g: np.ndarray, threshold: float, lang: str = "zh") -> go.Figure:
    """One 2-D gradient, its norm-clipped (circle) and value-clipped (box) versions, each
    labelled with what the clipping actually did for this g and threshold."""
    g = np.asarray(g, dtype=np.float64)
    effects = clip_effects(g, threshold)
    fig = go.Figure()
    c = threshold
    th = np.linspace(0, 2 * np.pi, 181)
    fig.add_trace(go.Scatter(x=c * np.cos(th), y=c * np.sin(th), mode="lines",
                             line={"dash": "dot", "color": CLIP_COLORS["norm"]},
                             name=_T(lang, "geom.circle"), hoverinfo="skip"))
    fig.add_trace(go.Scatter(x=[-c, c, c, -c, -c], y=[-c, -c, c, c, -c], mode="lines",
                             line={"dash": "dot", "color": CLIP_COLORS["value"]},
                             name=_T(lang, "geom.box"), hoverinfo="skip"))
    arrows = [(g, "none", _T(lang, "geom.g"))]
    arrows += [(e.clipped, mode, clip_effect_label(mode, e, lang)) for mode, e in effects.items()]
    for vec, key, name in arrows:
        fig.add_trace(go.Scatter(
            x=[0, vec[0]], y=[0, vec[1]], mode="lines+markers", name=name,
            line={"color": CLIP_COLORS[key], "width": 3}, marker={"size": [0, 10]},
            hovertemplate=f"({vec[0]:.2f}, {vec[1]:.2f})<extra>{name}</extra>"))
    lim = 1.15 * max(float(np.abs(g).max()), threshold)
    fig.update_xaxes(range=[-lim, lim], zeroline=True)
    fig.update_yaxes(range=[-lim, lim], scaleanchor="x", zeroline=True)
    fig.update_layout(height=380, title=_T(lang, "geom.title", c=threshold),
                      legend={"orientation": "h", "y": -0.15}, **_LAYOUT)
    return fig
