"""Figure builders of the first three lessons (structure, gradients, BPTT), without Streamlit."""

from __future__ import annotations

import numpy as np
import pytest

from rnnviz.errors import RnnVizError
from rnnviz.lessons.bptt import GradientCheck
from rnnviz.lessons.gradients import ClipRun, clip_geometry
from rnnviz.plots.bptt import check_table, contributions_figure, grad_norm_figure
from rnnviz.plots.gradients import (
    clip_geometry_figure,
    clipping_figure,
    derivative_figure,
    jacobian_norm_figure,
    power_figure,
)
from rnnviz.plots.structure import hidden_heatmap, rnn_diagram

RED = "#d62728"


def _red_arrows(fig) -> int:
    return sum(1 for a in fig.layout.annotations if a.arrowcolor == RED)


@pytest.mark.parametrize("T", [1, 4, 10])
def test_diagram_highlights_every_use_of_the_chosen_weight(T: int) -> None:
    for weight in ("U", "W", "V"):
        fig = rnn_diagram(T, weight, "en")
        assert _red_arrows(fig) == T + 1  # each unrolled step plus the folded picture
        red_labels = [a.text for a in fig.layout.annotations if a.font and a.font.color == RED]
        assert red_labels == [f"<b>{weight}</b>"] * (T + 1)
        assert any(s.type == "path" for s in fig.layout.shapes)  # the folded self-loop
    nodes = sum(len(tr.x) for tr in rnn_diagram(T, None).data)
    assert nodes == 3 + 1 + 3 * T  # folded x, h, o; h_0; x_t, h_t, o_t per step
    assert _red_arrows(rnn_diagram(T, None)) == 0


def test_diagram_rejects_bad_arguments() -> None:
    with pytest.raises(RnnVizError, match="T must be"):
        rnn_diagram(0)
    with pytest.raises(RnnVizError, match="weight"):
        rnn_diagram(3, "Q")


def test_hidden_heatmap_is_units_by_time_with_the_step_framed() -> None:
    h = np.arange(12, dtype=float).reshape(4, 3) / 10  # T = 4, H = 3
    fig = hidden_heatmap(h, list("我爱语言"), step=2)
    np.testing.assert_allclose(fig.data[0].z, h.T, rtol=1e-6)
    assert list(fig.data[0].x) == ["1 我", "2 爱", "3 语", "4 言"]
    rect = fig.layout.shapes[0]
    assert (rect.x0, rect.x1) == (0.5, 1.5)  # around the second column
    with pytest.raises(RnnVizError):
        hidden_heatmap(h, list("我爱"))


def test_power_figure_curves_and_labels() -> None:
    fig = power_figure([0.99, 1.1], 100)
    np.testing.assert_allclose(fig.data[0].y, 0.99 ** np.arange(101), rtol=1e-12)
    np.testing.assert_allclose(fig.data[1].y[-1], 13780.61233982238, rtol=1e-12)
    texts = [a.text for a in fig.layout.annotations]
    assert "0.99<sup>100</sup> ≈ 0.366" in texts and "1.1<sup>100</sup> ≈ 1.378e+04" in texts
    assert fig.layout.yaxis.type == "log"
    # An underflow to 0 becomes a gap, not a point a log axis cannot draw.
    assert power_figure([0.0], 3).data[0].y[1:] == (None, None, None)


def test_jacobian_figure_drops_unplottable_values() -> None:
    fig = jacobian_norm_figure({"tanh": np.array([1.0, 0.0, np.inf, 0.5])}, "fro", 1.5, "en")
    assert fig.data[0].y == (1.0, None, None, 0.5)
    assert "Frobenius" in fig.layout.title.text and "1.5" in fig.layout.title.text


def test_jacobian_figure_draws_the_sigmoid_ceiling() -> None:
    bound = 0.9 ** np.arange(4)
    fig = jacobian_norm_figure({"sigmoid": np.array([1.0, 0.5, 0.2, 0.1])}, "spectral", 2.0,
                               "en", bound=bound)
    ceiling = fig.data[1]
    assert ceiling.line.dash == "dot" and "‖W‖₂/4" in ceiling.name
    np.testing.assert_allclose(ceiling.y, bound)


def test_derivative_figure_marks_the_peaks() -> None:
    fig = derivative_figure()
    peaks = {tr.text[0] for tr in fig.data if tr.mode == "markers+text"}
    assert peaks == {"max 0.25", "max 1.00"}


def test_clipping_figure_marks_divergence() -> None:
    loss = np.array([1.0, 1e20, np.nan, np.nan])
    runs = [
        ClipRun("none", 1.0, loss, np.array([5.0, 1e30, np.nan, np.nan])),
        ClipRun("norm", 2.0, np.array([1.0, 0.5, 0.3, 0.2]), np.ones(4)),
    ]
    fig = clipping_figure(runs, "en")
    marker = next(tr for tr in fig.data if tr.mode == "markers+text")
    assert marker.x == (2,) and marker.y == (1e20,) and "inf/NaN" in marker.text[0]
    names = [tr.name for tr in fig.data if tr.showlegend]
    assert names == ["no clipping", "clip by norm (2)"]
    # Loss curves on the left subplot, gradient norms on the right one.
    lines = [tr for tr in fig.data if tr.mode == "lines"]
    assert [tr.xaxis for tr in lines] == ["x", "x2", "x", "x2"]
    np.testing.assert_array_equal(lines[3].y, np.ones(4))


def test_clip_geometry_figure_draws_the_clipped_vectors() -> None:
    g = np.array([3.0, 0.8])
    fig = clip_geometry_figure(g, 1.0)
    by_norm, by_value = clip_geometry(g, 1.0)
    arrows = [tr for tr in fig.data if tr.mode == "lines+markers"]
    assert [tr.x[1] for tr in arrows] == [3.0, by_norm[0], by_value[0]]
    assert np.hypot(arrows[1].x[1], arrows[1].y[1]) == pytest.approx(1.0, rel=1e-5)


@pytest.mark.parametrize("c, norm_says, value_says", [
    (1.0, "by norm: shorter, same direction", "by value: direction turned by 23.7°"),
    (2.0, "by norm: shorter, same direction", "by value: direction turned by 6.9°"),
    (5.0, "by norm: unchanged (‖g‖ ≤ c)", "by value: unchanged (every |g_i| ≤ c)"),
])
def test_clip_geometry_legend_says_what_happened_to_this_g(
    c: float, norm_says: str, value_says: str
) -> None:
    """With c = 5 neither clipping touches g = (3, 0.8): the legend used to claim "by value:
    direction changes" whatever c was."""
    fig = clip_geometry_figure(np.array([3.0, 0.8]), c, "en")
    names = [tr.name for tr in fig.data if tr.mode == "lines+markers"]
    assert names == ["gradient g", norm_says, value_says]
    assert fig.layout.title.text.endswith(f"c = {c:g}")


def test_check_table_flags_rows_over_tolerance() -> None:
    rows = [GradientCheck("U", (5, 3), 1e-16, 0.4), GradientCheck("W", (5, 5), 1e-3, 0.2)]
    table = check_table(rows, 1e-10, "en")
    assert [r["parameter"] for r in table] == ["∂L/∂U", "∂L/∂W"]
    assert [r["< 1e-10?"] for r in table] == ["✅", "❌"]
    assert table[0]["shape"] == "5 × 3"


def test_grad_norm_figure_one_line_per_cell() -> None:
    fig = grad_norm_figure({"rnn": np.array([0.0, 1e-5, 0.4]), "gru": np.array([0.1, 0.2, 0.3])})
    assert [tr.name for tr in fig.data] == ["RNN", "GRU"]
    assert fig.data[0].y == (None, 1e-5, 0.4)
    assert fig.layout.yaxis.type == "log"


def test_grad_norm_figure_draws_the_lstm_cell_gradient_dashed() -> None:
    cell = np.array([0.2, 0.21, 0.22])
    fig = grad_norm_figure({"lstm": np.array([1e-3, 1e-2, 0.4])}, "en", cell=cell)
    solid, dashed = fig.data
    assert dashed.name == "LSTM cell ‖∂L/∂c_t‖" and dashed.line.dash == "dash"
    assert dashed.line.color == solid.line.color
    assert dashed.y == tuple(cell) and list(dashed.x) == [1, 2, 3]


def test_contributions_figure_blanks_cut_cells_and_draws_window_borders() -> None:
    T, k = 7, 3
    full = np.tril(np.ones((T, T)))
    cut = full.copy()
    cut[3:, :3] = 0
    cut[6:, :6] = 0
    fig = contributions_figure(full, cut, k)
    z_full, z_cut = (np.asarray(tr.z, dtype=float) for tr in fig.data)
    assert np.isfinite(z_full).sum() == full.sum()
    assert np.isfinite(z_cut).sum() == cut.sum()
    assert len(fig.layout.shapes) == 2 * 2  # borders after steps 3 and 6, both axes
