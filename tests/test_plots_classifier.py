"""Figures of the classifier pages: the diagrams follow the ModelConfig, the curves, confusion
matrix and probabilities carry the numbers they were given, and the per-token heatmaps show the
states of a real model (checked against torch's own LSTM/GRU output)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rnnviz.core.checkpoint import Checkpoint
from rnnviz.core.metrics import classification_report
from rnnviz.core.models import ModelConfig, build_model
from rnnviz.core.predict import Predictor
from rnnviz.core.text import PAD, UNK, Vocab
from rnnviz.errors import RnnVizError
from rnnviz.plots.classifier import (
    MAX_CURVE_POINTS,
    architecture_figure,
    confusion_figure,
    probability_figure,
    textrcnn_figure,
    textrnn_figure,
    thin,
    token_states_figure,
    training_curves_figure,
)


def _names(fig) -> list[str]:
    return [t.name for t in fig.data]


def _notes(fig) -> str:
    return " | ".join(a.text for a in fig.layout.annotations if a.text)


@pytest.mark.parametrize(("layers", "bidirectional"), [(1, False), (2, True), (3, False)])
def test_textrnn_diagram_has_one_row_per_layer_and_direction(layers: int,
                                                              bidirectional: bool) -> None:
    config = ModelConfig(model="textrnn", cell="gru", num_layers=layers,
                         bidirectional=bidirectional, hidden_size=48, embed_dim=32,
                         pooling="last")
    fig = textrnn_figure(config, "en")
    rows = [n for n in _names(fig) if n.startswith("layer")]
    assert len(rows) == layers * (2 if bidirectional else 1)
    assert ("layer 1 backward" in rows) == bidirectional
    hover = fig.data[_names(fig).index("layer 1 forward")].hovertext
    assert len(hover) == 4 and all("GRU" in h and "H=48" in h for h in hover)
    width = 48 * (2 if bidirectional else 1)
    assert f"fully connected V: {width}→10" in _notes(fig)
    # One U and one W label per row: the weights are shared across time.
    assert _notes(fig).count("| W |") + _notes(fig).startswith("W") == len(rows)
    # Layer 1 reads the embeddings e_t; a higher layer reads the layer below (both directions
    # when bidirectional), as torch.nn.GRU stacks them.
    assert all("U·e<sub>t</sub>" in h for h in hover)
    if layers > 1:
        upper = fig.data[_names(fig).index("layer 2 forward")].hovertext[0]
        below = "[→h<sub>t</sub>; ←h<sub>t</sub>]" if bidirectional else "h<sub>t</sub>"
        assert f"U·{below}<sup>(1)</sup>" in upper and "e<sub>t</sub>" not in upper
        rnn = torch.nn.GRU(32, 48, num_layers=layers, bidirectional=bidirectional)
        assert rnn.weight_ih_l1.shape[1] == 48 * (2 if bidirectional else 1)
    title = fig.layout.title.text
    assert ("bidirectional GRU" in title) == bidirectional and f"{layers}-layer" in title


def test_textrnn_pooling_changes_the_links_and_the_width() -> None:
    def arrows_into_pool(pooling: str) -> int:
        config = ModelConfig(num_layers=1, bidirectional=True, hidden_size=8, pooling=pooling)
        fig = textrnn_figure(config)
        pool = fig.data[_names(fig).index("pooling")]
        px, py = pool.x[0], pool.y[0]
        return sum(1 for a in fig.layout.annotations
                   if a.showarrow and np.hypot(a.x - px, a.y - py) < 0.3)

    assert arrows_into_pool("last") == 2  # →h_T and ←h_1
    assert arrows_into_pool("max") == 8  # every position, both directions
    config = ModelConfig(num_layers=1, bidirectional=True, hidden_size=8, pooling="meanmax")
    fig = textrnn_figure(config, "en")
    assert "32-dim" in _notes(fig)  # (mean, max) x 2 directions x 8
    # The width the drawing gives FC is the width TextRNN's own fc reads.
    assert build_model(config).fc.in_features == 32 and "V: 32→10" in _notes(fig)
    last = textrnn_figure(ModelConfig(num_layers=1, bidirectional=True, pooling="last"), "en")
    assert "→h_T and ←h_1" in last.data[_names(last).index("pooling")].hovertext[0]


def test_textrcnn_diagram_shows_contexts_projection_and_max_pool() -> None:
    config = ModelConfig(model="textrcnn", cell="lstm", hidden_size=20, embed_dim=12,
                         rcnn_proj=40, num_layers=2, bigram_dim=0)
    fig = architecture_figure(config, "en")
    names = _names(fig)
    assert {"left context", "right context", "projection", "pooling", "fc", "softmax"} <= set(names)
    assert "[20; 12; 20] → 40" in _notes(fig) and "2-layer bidirectional LSTM" in _notes(fig)
    proj = fig.data[names.index("projection")]
    assert all("ℝ<sup>40</sup>" in h and "W<sup>(2)</sup>" in h for h in proj.hovertext)
    rnn_default = architecture_figure(ModelConfig(model="textrnn")).data[-1].name
    assert rnn_default == textrnn_figure(ModelConfig()).data[-1].name
    assert "RCNN" in textrcnn_figure(config, "zh").layout.title.text


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_rcnn_title_says_bidirectional_in_both_languages(lang: str) -> None:
    title = textrcnn_figure(ModelConfig(model="textrcnn", cell="gru"), lang).layout.title.text
    assert ("双向 GRU" if lang == "zh" else "bidirectional GRU") in title


def test_the_drawn_embedding_width_is_the_one_training_builds(thucnews_dir) -> None:
    """Before training the drawing shows E + the bigram width the trainer adds; the trained
    TextRCNN's own projection reads exactly [H; E + B; H]."""
    from rnnviz.core.config import TrainConfig
    from rnnviz.core.data import load_split
    from rnnviz.core.train import train

    config = ModelConfig(model="textrcnn", embed_dim=8, bigram_dim=6, hidden_size=5,
                         rcnn_proj=7, num_layers=1)
    assert "[5; 8+6; 5] → 7" in _notes(textrcnn_figure(config, "en"))
    data, _ = load_split(thucnews_dir, "train")
    result = train(config, TrainConfig(max_steps=1, batch_size=16, device="cpu"), data.subset(200))
    assert result.config.bigram_vocab > 0
    assert result.model.proj.in_features == 2 * 5 + 8 + 6
    notes = _notes(textrcnn_figure(result.config, "en"))
    assert "[5; 8+6; 5] → 7" in notes and "+ bigram table ×6" in notes
    no_bigrams = ModelConfig(**{**result.config.to_dict(), "bigram_vocab": 0})
    assert build_model(no_bigrams).proj.in_features == 2 * 5 + 8
    assert "[5; 8; 5] → 7" in _notes(textrcnn_figure(no_bigrams, "en"))


def test_thin_keeps_ends_and_caps_the_count() -> None:
    points = list(range(1000))
    out = thin(points, 50)
    assert out[0] == 0 and out[-1] == 999 and len(out) <= 50 and out == sorted(out)
    assert thin(points[:10], 50) == points[:10]


def test_training_curves_plot_live_train_points_and_dev_evaluations() -> None:
    history = [{"step": s, "train_loss": 2.0 / s, "train_accuracy": 0.1 * s, "dev_loss": 1.5 / s,
                "dev_accuracy": 0.09 * s} for s in (1, 2, 3)]
    live = [{"step": s, "loss": 3.0 - 0.1 * s, "accuracy": 0.05 * s} for s in range(1, 31)]
    fig = training_curves_figure(history, live, "en")
    train_loss, dev_loss, train_acc, dev_acc = fig.data
    assert list(train_loss.x) == list(range(1, 31)) and train_loss.y[0] == pytest.approx(2.9)
    assert list(dev_loss.y) == pytest.approx([1.5, 0.75, 0.5])
    assert list(dev_acc.y) == pytest.approx([0.09, 0.18, 0.27])
    assert train_acc.y[-1] == pytest.approx(1.5)
    assert (train_loss.name, dev_loss.name) == ("train", "dev")
    # Without live points the history's train values are drawn; thousands of points are thinned.
    fig = training_curves_figure(history, [], "en")
    assert list(fig.data[0].y) == pytest.approx([2.0, 1.0, 2 / 3])
    many = [{"step": s, "loss": 1.0, "accuracy": 0.5} for s in range(5000)]
    assert len(training_curves_figure([], many).data[0].x) <= MAX_CURVE_POINTS


def test_confusion_figure_counts_and_row_shares_with_class_names() -> None:
    y_true = np.array([0, 0, 0, 1, 1, 2])
    y_pred = np.array([0, 1, 0, 1, 1, 1])
    report = classification_report(y_true, y_pred, ["finance", "sports", "game"])
    heat = confusion_figure(report, "zh").data[0]
    assert list(heat.x) == ["财经", "体育", "游戏"] and list(heat.y) == ["财经", "体育", "游戏"]
    assert [list(r) for r in heat.text] == [[2, 1, 0], [0, 2, 0], [0, 1, 0]]
    z = np.array(heat.z)
    np.testing.assert_allclose(z.sum(axis=1), 1.0, atol=1e-3)  # shares rounded to 4 digits
    assert z[0, 0] == pytest.approx(2 / 3, abs=1e-4)
    assert list(confusion_figure(report, "en").data[0].x) == ["finance", "sports", "game"]


def test_probability_figure_sorted_with_the_prediction_marked() -> None:
    probs = {"finance": 0.1, "sports": 0.7, "game": 0.2}
    bar = probability_figure(probs, "sports", "zh").data[0]
    assert list(bar.y) == ["财经", "游戏", "体育"]  # ascending: the top bar is the most probable
    assert list(bar.x) == pytest.approx([0.1, 0.2, 0.7])
    assert list(bar.marker.color).count("#d62728") == 1 and bar.marker.color[-1] == "#d62728"


@pytest.fixture(scope="module", params=["lstm", "gru"])
def predictor(request) -> Predictor:
    torch.manual_seed(0)
    vocab = Vocab((PAD, UNK, *"股市大涨球队夺冠"))
    config = ModelConfig(model="textrnn", cell=request.param, vocab_size=len(vocab),
                         num_classes=2, embed_dim=6, hidden_size=5, num_layers=2,
                         bidirectional=True)
    return Predictor(Checkpoint(build_model(config).eval(), config, vocab, ["stocks", "sports"]))


def test_token_states_show_the_models_own_states(predictor: Predictor) -> None:
    pred = predictor.predict("股市大涨球队")
    T = len(pred.tokens)
    # Reference: torch's module output for the top layer, both directions.
    with torch.inference_mode():
        ids = torch.tensor([predictor.vocab.encode(pred.tokens)])
        out, _ = predictor.model.rnn(predictor.model.embed(ids))
    top_backward = pred.layers[-1]
    assert (top_backward.layer, top_backward.direction) == (1, "backward")
    np.testing.assert_allclose(top_backward.states["h"], out[0, :, 5:].numpy(), atol=1e-5)

    fig = token_states_figure(top_backward, pred.tokens, "en")
    by_label = {tuple(t.y)[i]: np.array(t.z[i]) for t in fig.data for i in range(len(t.y))}
    h = out[0, :, 5:].numpy()
    np.testing.assert_allclose(by_label["hidden state h_t"], h.mean(axis=1), atol=1e-5)
    np.testing.assert_allclose(by_label["‖h_t‖"], np.linalg.norm(h, axis=1), atol=1e-5)
    assert fig.layout.xaxis3.ticktext == tuple(pred.tokens) and len(by_label["‖h_t‖"]) == T
    gate = "forget gate f_t" if predictor.config.cell == "lstm" else "update gate z_t"
    assert gate in by_label and by_label[gate].min() >= 0 and by_label[gate].max() <= 1

    unit = token_states_figure(top_backward, pred.tokens, "en", unit=3)
    by_label = {tuple(t.y)[i]: np.array(t.z[i]) for t in unit.data for i in range(len(t.y))}
    np.testing.assert_allclose(by_label["hidden state h_t"], out[0, :, 5 + 3].numpy(), atol=1e-5)
    assert "unit 3" in unit.layout.title.text
    with pytest.raises(RnnVizError, match="unit must be in 0..4"):
        token_states_figure(top_backward, pred.tokens, unit=5)
