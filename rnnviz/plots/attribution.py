"""Figures and the table of the predict page's attribution panels: gradient x input next to
occlusion (rnnviz/core/attribution.py), the tokens where they disagree, and connectivity over
positions for several models on one text.

Colours follow the token importance of the predict page: red pushed towards the predicted
class, blue away from it. The words are in content/<lang>/plots/attribution.md.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go

from rnnviz.content import Text
from rnnviz.core.attribution import Comparison, Gradients, scaled
from rnnviz.core.classes import display_class
from rnnviz.plots.style import base_layout

_T = Text("plots/attribution")
_LAYOUT = base_layout(top=50)


def _signed(v: float, digits: int = 3) -> str:
    return f"{v:+.{digits}f}"


def attribution_figure(c: Comparison, classes: Sequence[str], lang: str = "zh") -> go.Figure:
    """Three rows over the tokens, each scaled so its strongest token is +-1: gradient x input,
    the drop of p_k when the token is deleted, and when it is read as <UNK>. Hover gives the
    raw numbers; a token flagged as a disagreement is marked above the rows."""
    occ = c.occlusion
    k = c.label_index
    T = len(c.tokens)
    x = list(range(T))

    def flips(labels: np.ndarray) -> list[str]:
        return [_T(lang, "flip", name=display_class(classes[int(y)], lang))
                if 0 <= int(y) != k else "" for y in labels]

    rows = [_T(lang, "row.gradient"), _T(lang, "row.delete"), _T(lang, "row.unk")]
    z = [scaled(c.gradients.grad_x_input), scaled(occ.drop_deleted), scaled(occ.drop_unk)]
    hover_g = [_T(lang, "hover.gradient", token=html.escape(tok), value=_signed(v))
               for tok, v in zip(c.tokens, c.gradients.grad_x_input.tolist(), strict=True)]

    def hover_occ(p: np.ndarray, logit: np.ndarray, labels: np.ndarray) -> list[str]:
        out = []
        for tok, p_t, z_t, flip in zip(c.tokens, p.tolist(), logit.tolist(), flips(labels),
                                       strict=True):
            if np.isnan(p_t):
                out.append(_T(lang, "hover.none", token=html.escape(tok)))
                continue
            out.append(_T(lang, "hover.occlusion", token=html.escape(tok), p=p_t,
                          dp=_signed(100 * (occ.base_probability - p_t), 1),
                          dz=_signed(occ.base_logit - z_t)) + flip)
        return out

    hovers = [hover_g, hover_occ(occ.deleted, occ.deleted_logit, occ.deleted_label),
              hover_occ(occ.unk, occ.unk_logit, occ.unk_label)]
    fig = go.Figure(go.Heatmap(
        z=[np.nan_to_num(r).round(4).tolist() for r in z], x=x, y=rows, customdata=hovers,
        colorscale="RdBu", reversescale=True, zmid=0, zmin=-1, zmax=1,
        hovertemplate="%{customdata}<extra></extra>",
        colorbar={"title": _T(lang, "colorbar"), "len": 0.9},
    ))
    marks = [d.position for d in c.disagreements]
    fig.add_trace(go.Scatter(
        x=marks, y=[rows[0]] * len(marks), mode="text", text=["◆"] * len(marks),
        textposition="top center", textfont={"size": 14, "color": "#222"}, showlegend=False,
        hovertemplate=_T(lang, "hover.flagged") + "<extra></extra>",
    ))
    fig.update_layout(
        title=_T(lang, "title", name=display_class(classes[k], lang),
                 p=occ.base_probability),
        height=260, **_LAYOUT,
    )
    fig.update_xaxes(tickvals=x, ticktext=list(c.tokens), tickangle=0)
    fig.update_yaxes(autorange="reversed")
    return fig


def disagreement_rows(c: Comparison, lang: str = "zh") -> list[dict[str, Any]]:
    """The table of disagreeing tokens: position, token, both scaled attributions, and the
    evidence (max-pool wins with close runner-ups, layer-1 gate saturation, next bigram)."""
    col = {k: _T(lang, f"col.{k}") for k in ("position", "token", "gradient", "occlusion",
                                              "pool", "saturation", "bigram", "reason")}
    rows = []
    for d in c.disagreements:
        pool = "—" if d.pool_wins is None else _T(lang, "pool.cell", wins=d.pool_wins,
                                                    dims=d.pool_dims, close=d.pool_close)
        rows.append({
            col["position"]: d.position + 1,
            col["token"]: d.token,
            col["gradient"]: round(d.gradient, 3),
            col["occlusion"]: round(d.occlusion, 3),
            col["pool"]: pool,
            col["saturation"]: "—" if d.saturation is None else f"{d.saturation:.0%}",
            col["bigram"]: "—" if d.bigram_next is None else _T(lang, f"bool.{d.bigram_next}"),
            col["reason"]: _T(lang, f"reason.{d.reason}"),
        })
    return rows


def evidence_figure(c: Comparison, lang: str = "zh") -> go.Figure | None:
    """The evidence at every token: how many max-pool dimensions it wins, clearly or narrowly
    (bars), and the share of layer 1's sigmoid gate units saturated there (line, right axis).
    None when the model neither max-pools nor has gates."""
    if c.pool is None and c.saturation is None:
        return None
    T = len(c.tokens)
    x = list(range(T))
    fig = go.Figure()
    if c.pool is not None:
        narrow = [c.pool.close_wins(t) for t in range(T)]
        clear = [c.pool.wins(t) - n for t, n in enumerate(narrow)]
        for name, values, color in ((_T(lang, "ev.clear"), clear, "#1f77b4"),
                                    (_T(lang, "ev.narrow"), narrow, "#ff7f0e")):
            fig.add_trace(go.Bar(x=x, y=values, name=name, marker={"color": color},
                                 hovertemplate="%{y}<extra>" + name + "</extra>"))
    if c.saturation is not None:
        share = np.mean(np.stack(list(c.saturation.values())), axis=0)
        fig.add_trace(go.Scatter(
            x=x, y=share.round(4).tolist(), name=_T(lang, "ev.saturated"), yaxis="y2",
            mode="lines+markers", line={"color": "#2ca02c"},
            hovertemplate="%{y:.0%}<extra></extra>",
        ))
    fig.update_layout(
        title=_T(lang, "ev.title"), barmode="stack", height=300,
        yaxis={"title": _T(lang, "ev.y") if c.pool is not None else ""},
        yaxis2={"title": _T(lang, "ev.y2"), "overlaying": "y", "side": "right",
                "range": [0, 1], "tickformat": ".0%", "showgrid": False},
        legend={"orientation": "h", "y": -0.25}, **_LAYOUT,
    )
    fig.update_xaxes(tickvals=x, ticktext=list(c.tokens), tickangle=0)
    return fig


def connectivity_figure(curves: Sequence[tuple[str, Gradients]], lang: str = "zh") -> go.Figure:
    """One line per model: ||dz_k/de_s|| over positions s, divided by that model's largest (so
    the shapes compare; hover gives the raw norm). Ticks show the tokens when every model
    read the same ones."""
    fig = go.Figure()
    token_lists = [g.tokens for _, g in curves]
    same = all(t == token_lists[0] for t in token_lists)
    for name, g in curves:
        v = np.asarray(g.connectivity, dtype=np.float64)
        top = float(v.max()) or 1.0
        fig.add_trace(go.Scatter(
            x=list(range(1, len(v) + 1)), y=(v / top).round(4).tolist(), mode="lines+markers",
            name=html.escape(name), customdata=[[html.escape(t), float(r)]
                                                for t, r in zip(g.tokens, v.tolist(),
                                                                strict=True)],
            hovertemplate=_T(lang, "conn.hover") + "<extra>" + html.escape(name) + "</extra>",
        ))
    fig.update_layout(title=_T(lang, "conn.title"), height=340,
                      xaxis_title=_T(lang, "conn.x"), yaxis_title=_T(lang, "conn.y"),
                      legend={"orientation": "h", "y": -0.3}, **_LAYOUT)
    if same and token_lists:
        positions = list(range(1, len(token_lists[0]) + 1))
        fig.update_xaxes(tickvals=positions, ticktext=list(token_lists[0]), tickangle=0)
    fig.update_yaxes(range=[0, 1.05])
    return fig


def connectivity_rows(curves: Sequence[tuple[str, Gradients]], classes: Sequence[Sequence[str]],
                      lang: str = "zh") -> list[dict[str, Any]]:
    """Per model: its answer, and the share of its connectivity on the first half of the text."""
    col = {k: _T(lang, f"conn.col.{k}") for k in ("model", "answer", "first_half")}
    return [{col["model"]: name,
             col["answer"]: display_class(names[g.label_index], lang),
             col["first_half"]: f"{g.first_half_share:.0%}"}
            for (name, g), names in zip(curves, classes, strict=True)]


__all__ = ["attribution_figure", "connectivity_figure", "connectivity_rows", "disagreement_rows",
           "evidence_figure"]
