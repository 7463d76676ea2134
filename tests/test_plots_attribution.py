"""rnnviz/plots/mistakes.py and rnnviz/plots/attribution.py: the figures show the core's numbers
(the counts per cell, the scaled attributions, connectivity over positions), clicks map to
cells, flagged tokens are marked, and names from files are escaped."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers import build_with_bigram_keys

from rnnviz.content import text
from rnnviz.core.attribution import compare, gradients, scaled
from rnnviz.core.checkpoint import Checkpoint
from rnnviz.core.metrics import classification_report
from rnnviz.core.models import ModelConfig
from rnnviz.core.predict import Predictor
from rnnviz.core.text import PAD, UNK, Vocab
from rnnviz.plots.attribution import (
    attribution_figure,
    connectivity_figure,
    connectivity_rows,
    disagreement_rows,
)
from rnnviz.plots.mistakes import CELLS_TRACE, clicked_cell, error_matrix_figure

pytestmark = pytest.mark.usefixtures("one_torch_thread_per_module")
CLASSES = ["stocks", "sports", "game"]


def _predictor(seed: int = 0, **fields: object) -> Predictor:
    torch.manual_seed(seed)
    vocab = Vocab((PAD, UNK, *"股市基金银行利率上涨球队"))
    settings: dict = dict(vocab_size=len(vocab), num_classes=3, embed_dim=6, hidden_size=5,
                          num_layers=1, bigram_dim=3, bigram_vocab=20)
    settings.update(fields)
    config = ModelConfig(**settings)
    net = build_with_bigram_keys(config)
    with torch.no_grad():
        for p in net.parameters():
            p.mul_(3.0)
    return Predictor(Checkpoint(net, config, vocab, CLASSES))


def test_error_matrix_has_a_clickable_marker_per_cell_and_outlines_the_choice() -> None:
    y_true, y_pred = np.array([0, 0, 1, 2, 2, 2]), np.array([0, 1, 1, 2, 0, 0])
    report = classification_report(y_true, y_pred, CLASSES)
    fig = error_matrix_figure(report, "en", selected=(2, 0))
    heat, cells = fig.data[0], fig.data[CELLS_TRACE]
    assert heat.type == "heatmap" and heat.hoverinfo == "skip"
    assert cells.type == "scatter" and len(cells.x) == 9
    assert [c[0] for c in cells.customdata] == np.asarray(report.confusion_matrix).ravel().tolist()
    assert (cells.y[7], cells.x[7]) == ("game", "sports")  # point 7 = true 2, predicted 1
    [shape] = fig.layout.shapes
    assert (shape.x0, shape.x1, shape.y0, shape.y1) == (-0.5, 0.5, 1.5, 2.5)
    assert "click" in cells.hovertemplate
    assert text("zh", "plots/mistakes", "cell.hover").startswith("真实")


def test_a_click_maps_to_its_cell() -> None:
    assert clicked_cell([{"curve_number": CELLS_TRACE, "point_index": 7}], 3) == (2, 1)
    assert clicked_cell([{"curve_number": 0, "point_index": 7}], 3) is None  # the heatmap
    assert clicked_cell([], 3) is None
    assert clicked_cell([{"curve_number": CELLS_TRACE, "point_index": 99}], 3) is None


def test_attribution_figure_shows_the_three_scaled_rows_and_marks_disagreements() -> None:
    predictor = _predictor()
    t = "股市上涨银行利率球队"
    c = compare(predictor, t, predictor.predict(t).layers)
    fig = attribution_figure(c, CLASSES, "en")
    heat, marks = fig.data
    np.testing.assert_allclose(heat.z[0], scaled(c.gradients.grad_x_input), atol=1e-4)
    np.testing.assert_allclose(heat.z[1], scaled(c.occlusion.drop_deleted), atol=1e-4)
    np.testing.assert_allclose(heat.z[2], scaled(c.occlusion.drop_unk), atol=1e-4)
    assert list(fig.layout.xaxis.ticktext) == c.tokens
    assert list(marks.x) == [d.position for d in c.disagreements]
    # Hover: the probability without the token and, where the answer changes, the new class.
    k = c.label_index
    for t_, hover in enumerate(heat.customdata[1]):
        assert f"{100 * c.occlusion.deleted[t_]:.1f}%" in hover
        flipped = c.occlusion.deleted_label[t_] != k
        assert ("the answer becomes" in hover) == bool(flipped)
    rows = disagreement_rows(c, "en")
    assert len(rows) == len(c.disagreements)
    for row, d in zip(rows, c.disagreements, strict=True):
        assert row["position"] == d.position + 1 and row["token"] == d.token
        assert row["gradient × input (±1)"] == round(d.gradient, 3)
        assert row["likely reason"] == text("en", "plots/attribution", f"reason.{d.reason}")


def test_connectivity_figure_scales_each_model_to_its_largest() -> None:
    a, b = _predictor(0), _predictor(1, bidirectional=False, pooling="last")
    t = "股市上涨银行"
    curves = [("<b>a</b>", gradients(a, t)), ("b", gradients(b, t))]
    fig = connectivity_figure(curves, "en")
    assert [tr.name for tr in fig.data] == ["&lt;b&gt;a&lt;/b&gt;", "b"]
    for trace, (_, g) in zip(fig.data, curves, strict=True):
        np.testing.assert_allclose(trace.y, g.connectivity / g.connectivity.max(), atol=1e-4)
        assert list(trace.x) == list(range(1, len(t) + 1))
    assert list(fig.layout.xaxis.ticktext) == list(t)
    word = Predictor(Checkpoint(b.model, b.config.__class__(**{**b.config.to_dict(),
                                                               "tokenizer": "word"}),
                                b.vocab, CLASSES))
    mixed = connectivity_figure([curves[0], ("w", gradients(word, t))], "en")
    assert mixed.layout.xaxis.ticktext is None  # other tokens: positions only
    rows = connectivity_rows(curves, [CLASSES, CLASSES], "en")
    assert rows[1]["connectivity on the first half"] == f"{curves[1][1].first_half_share:.0%}"


def test_evidence_figure_shows_each_token_s_pool_wins_and_gate_saturation() -> None:
    from rnnviz.plots.attribution import evidence_figure

    predictor = _predictor()
    t = "股市上涨银行利率球队"
    c = compare(predictor, t, predictor.predict(t).layers)
    clear, narrow, sat = evidence_figure(c, "en").data
    wins = [c.pool.wins(i) for i in range(len(t))]
    np.testing.assert_array_equal(np.add(clear.y, narrow.y), wins)
    assert list(narrow.y) == [c.pool.close_wins(i) for i in range(len(t))]
    np.testing.assert_allclose(sat.y, np.mean([c.saturation[g] for g in "ifo"], axis=0),
                               atol=1e-4)
    plain = _predictor(cell="rnn", pooling="mean", bigram_dim=0, bigram_vocab=0)
    assert evidence_figure(compare(plain, t, plain.predict(t).layers), "en") is None
