"""Figures of the long-dependency, LSTM/GRU and bidirectional pages: what each one draws."""

from __future__ import annotations

import numpy as np
import pytest

from rnnviz.lessons.bidirectional import concat_directions
from rnnviz.lessons.gating import GateView, unit_means
from rnnviz.lessons.longdep import moving_average
from rnnviz.lessons.memory import memory_of
from rnnviz.plots.bidirectional import (
    bidirectional_diagram,
    concat_states_figure,
    direction_norms_figure,
)
from rnnviz.plots.gates import (
    gate_means_figure,
    gate_units_figure,
    gru_cell_figure,
    lstm_cell_figure,
    memory_figure,
)
from rnnviz.plots.longdep import curves_figure, length_sweep_figure


def _history(n: int) -> dict:
    rng = np.random.default_rng(0)
    return {k: {"step": list(range(1, n + 1)), "loss": rng.random(n).tolist(),
                "accuracy": rng.random(n).tolist()} for k in ("rnn", "lstm", "gru")}


def test_curves_figure_draws_smoothed_downsampled_lines_and_chance() -> None:
    h = _history(1000)
    fig = curves_figure(h, chance=0.25, total_steps=1200, lang="en", window=10, max_points=100)
    assert len(fig.data) == 6
    acc_rnn = next(t for t in fig.data if t.name == "RNN" and t.xaxis == "x2")
    assert len(acc_rnn.x) <= 100 and acc_rnn.x[0] == 1 and acc_rnn.x[-1] == 1000
    i = list(acc_rnn.x).index(1000)
    assert acc_rnn.y[i] == pytest.approx(moving_average(h["rnn"]["accuracy"], 10)[-1], rel=1e-6)
    assert fig.layout.xaxis.range == (0, 1200)  # the axis spans the whole budget
    hlines = [s.y0 for s in fig.layout.shapes]
    assert pytest.approx(0.25) in hlines and pytest.approx(np.log(4)) in hlines
    assert "loss" in fig.layout.annotations[0].text
    assert "损失" in curves_figure(h, 0.25, 1000).layout.annotations[0].text


def test_curves_figure_accepts_an_empty_history_at_the_start() -> None:
    empty = {k: {"step": [], "loss": [], "accuracy": []} for k in ("rnn", "lstm")}
    assert len(curves_figure(empty, 0.25, 300).data) == 0


def test_length_sweep_keeps_the_latest_run_per_length_in_order() -> None:
    runs = [{"length": 60, "rnn": 0.25, "lstm": 1.0, "gru": 1.0},
            {"length": 10, "rnn": 1.0, "lstm": 1.0, "gru": 1.0},
            {"length": 60, "rnn": 0.3, "lstm": 0.9, "gru": 1.0}]
    fig = length_sweep_figure(runs, 0.25, "en")
    rnn = next(t for t in fig.data if t.name == "RNN")
    assert list(rnn.x) == [10, 60] and list(rnn.y) == [1.0, 0.3]
    assert "sequence length" in fig.layout.xaxis.title.text


def _view(kind: str = "lstm", tokens: str = "好好学习") -> GateView:
    rng = np.random.default_rng(3)
    names = {"lstm": "ifgoch", "gru": "rznh"}[kind]
    return GateView(list(tokens), kind, 0, "forward",
                    {g: rng.uniform(-1, 1, (len(tokens), 6)) for g in names})


def test_gate_means_figure_shows_unit_means_with_token_ticks() -> None:
    view = _view()
    fig = gate_means_figure(view, "en")
    top, bottom = fig.data
    np.testing.assert_allclose(np.array(top.z), unit_means(view, ["i", "f", "o"]), rtol=1e-6)
    np.testing.assert_allclose(np.array(bottom.z), unit_means(view, ["g", "c", "h"]), rtol=1e-6)
    assert list(top.y) == ["input gate i_t", "forget gate f_t", "output gate o_t"]
    # Repeated characters stay separate columns: numeric x, tokens as tick labels.
    assert list(top.x) == [0, 1, 2, 3]
    assert list(fig.layout.xaxis2.ticktext) == ["好", "好", "学", "习"]
    assert fig.layout.coloraxis.cmin == 0 and fig.layout.coloraxis.cmax == 1
    gru = gate_means_figure(_view("gru"), "zh")
    assert list(gru.data[0].y) == ["重置门 r_t", "更新门 z_t"]


def test_gate_units_figure_draws_every_unit_up_to_the_cap() -> None:
    view = _view()
    fig = gate_units_figure(view, "c", "en", max_units=4)
    z = np.array(fig.data[0].z)
    assert z.shape == (4, 4)
    np.testing.assert_allclose(z, view.states["c"][:, :4].T, rtol=1e-6)
    assert fig.data[0].zmid == 0  # signed quantity: diverging scale around 0
    assert gate_units_figure(view, "f").data[0].zmin == 0


def test_memory_figure_draws_each_network_against_steps_back() -> None:
    rng = np.random.default_rng(4)
    memories = [memory_of("classifier", "lstm", rng.uniform(0.2, 0.7, (5, 8))),
                memory_of("longdep", "lstm", rng.uniform(0.8, 1.0, (9, 8)))]
    fig = memory_figure(memories, "en")
    classifier, longdep = fig.data
    assert list(classifier.x) == [0, 1, 2, 3, 4] and len(longdep.x) == 9
    np.testing.assert_allclose(longdep.y, memories[1].back, rtol=1e-6)
    assert fig.layout.yaxis.type == "log"
    assert "f" in fig.layout.yaxis.title.text and "cell path" in fig.layout.title.text
    gru = memory_of("longdep", "gru", rng.uniform(0.8, 1.0, (4, 3)))
    gru_fig = memory_figure([gru], "en")
    # The GRU's direct path runs through z and h, not f and c (issue 10 #6).
    assert "∏ z" in gru_fig.layout.yaxis.title.text and "∏ f" not in gru_fig.layout.yaxis.title.text
    assert "of h" in gru_fig.layout.title.text
    with pytest.raises(ValueError):
        memory_figure([*memories, gru], "en")


def test_cell_diagrams_draw_the_belt_and_the_gates() -> None:
    lstm, gru = lstm_cell_figure("en"), gru_cell_figure("en")
    texts = [a.text for a in lstm.layout.annotations]
    assert "c<sub>t−1</sub>" in texts and "c<sub>t</sub>" in texts
    assert sum(t == "σ" for t in texts) == 3 and "tanh" in texts  # f, i, o; candidate g
    belt = lstm.layout.shapes[0]
    assert belt.y0 == belt.y1 and belt.line.width == 6  # the conveyor belt along the top
    assert sum(a.text == "σ" for a in gru.layout.annotations) == 2  # r, z
    assert "LSTM" in lstm.layout.title.text and "单元" in lstm_cell_figure().layout.title.text


def test_bidirectional_figures() -> None:
    tokens = list("我去＿＿看病")
    diagram = bidirectional_diagram(tokens, "en", highlight=2)
    rows = {t.name: t for t in diagram.data}
    assert list(rows["input x_t"].text) == tokens
    assert len(rows["forward"].x) == len(tokens) == len(rows["backward"].x)
    arrows = [a for a in diagram.layout.annotations if a.showarrow]
    assert len(arrows) == 2 * (len(tokens) - 1)
    # forward arrows point right (x > ax), backward ones left
    assert sum(a.x > a.ax for a in arrows) == len(tokens) - 1
    marked = [sh for sh in diagram.layout.shapes if sh.type == "rect"]
    assert len(marked) == 1 and marked[0].x0 < 2 < marked[0].x1  # the blank is framed

    rng = np.random.default_rng(5)
    fwd, bwd = rng.normal(size=(6, 3)), rng.normal(size=(6, 3))
    fig = concat_states_figure(tokens, fwd, bwd, "en")
    view = lambda d, s: GateView(tokens, "lstm", 0, d, {"h": s})  # noqa: E731
    np.testing.assert_allclose(
        np.array(fig.data[0].z).T,
        concat_directions([view("forward", fwd), view("backward", bwd)]),
        rtol=1e-6,
    )
    assert fig.layout.shapes[0].y0 == 2.5  # the divider between the two halves

    norms = direction_norms_figure(tokens, np.arange(6.0), np.ones(6), "en")
    assert [t.type for t in norms.data] == ["bar", "bar"]
    assert list(norms.data[0].y) == [0, 1, 2, 3, 4, 5]
