"""Page 6 (bidirectional RNN) under AppTest: the blank example, both directions' states and
their concatenation, separate weights, and the shipped-model branch."""

from __future__ import annotations

import types
from pathlib import Path

import numpy as np
import pytest
import torch
from apptest_helpers import (
    chart_specs,
    fake_load_shipped,
    open_page,
    ship_tiny_textrnn,
    shown_metrics,
    traced_layers,
)
from streamlit.testing.v1 import AppTest
from torch import nn

from rnnviz.lessons.gating import EXAMPLE_TEXTS, FILL_BLANK_EXAMPLES

PAGE = "pages/bidirectional.py"


def _norms(at: AppTest) -> dict:
    return next(s for s in chart_specs(at) if s["data"] and s["data"][0]["type"] == "bar")



@pytest.fixture
def at(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> AppTest:
    """The page on its untrained demo network: no shipped models (the shipped-model branch
    has its own tests below)."""
    return open_page(PAGE, monkeypatch=monkeypatch, models_dir=tmp_path)


def test_defaults_show_blank_context_states_and_separate_weights(at: AppTest) -> None:
    texts = [m.value for m in at.markdown]
    assert any(t.endswith("我肚子疼得厉害，所以去＿") for t in texts)  # forward context at the blank
    assert any(t.endswith("＿＿挂号看病。") for t in texts)  # backward context
    assert len(at.get("plotly_chart")) == 3  # diagram, concatenated states, norms
    norms = _norms(at)
    assert [t["name"] for t in norms["data"]] == ["前向 ‖h→_t‖", "后向 ‖h←_t‖"]
    assert len(norms["data"][0]["y"]) == len(EXAMPLE_TEXTS[0])
    metrics = shown_metrics(at)
    check = next(v for k, v in metrics.items() if "nn.LSTM" in k)
    assert float(check) < 1e-5  # stepwise concatenation == nn.LSTM(bidirectional=True) output
    assert metrics["每个方向（第 0 层）"] == "4,032" and metrics["两个方向合计（第 0 层）"] == "8,064"
    assert metrics["模块全部参数"] == f"{sum(p.numel() for p in nn.LSTM(16, 24, bidirectional=True).parameters()):,}"
    weights = at.dataframe[0].value
    assert list(weights.iloc[:, 0]) == ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"]
    assert (weights["‖fwd − bwd‖_F"] > 0).all()


def test_changed_example_and_text(at: AppTest) -> None:
    at.selectbox(key="bidir_example").set_value(1).run()
    assert not at.exception
    assert any(m.value.endswith("＿＿，加满了九十五号汽油。") for m in at.markdown)
    diagram = next(s for s in chart_specs(at) if s["data"][0]["type"] == "scatter")
    assert diagram["data"][2]["text"][:3] == list(FILL_BLANK_EXAMPLES[1][0][:3])
    at.text_input(key="bidir_text").set_value("双向网络").run()
    norms = _norms(at)
    assert norms["layout"]["xaxis"]["ticktext"] == list("双向网络")
    # The backward state at the first token has read the whole sentence: it differs from
    # the forward one, which has read one character.
    assert norms["data"][0]["y"][0] != pytest.approx(norms["data"][1]["y"][0])
    at.text_input(key="bidir_text").set_value(" ").run()
    assert not at.exception and at.error


def test_shipped_bilstm_is_used_when_available(at: AppTest, monkeypatch) -> None:
    torch.manual_seed(0)
    rnn = nn.LSTM(5, 6, batch_first=True, bidirectional=True)
    tokens = list("新闻标题")
    layers = traced_layers(rnn, tokens)
    predictor = types.SimpleNamespace(
        predict=lambda text: types.SimpleNamespace(tokens=tokens, layers=layers),
        model=types.SimpleNamespace(rnn=rnn),
    )
    fake_load_shipped(monkeypatch, lambda name: predictor)
    at.run()
    assert not at.exception
    assert "已训练" in at.success[0].value
    norms = _norms(at)
    np.testing.assert_allclose(norms["data"][1]["y"], np.linalg.norm(layers[1].states["h"], axis=1), rtol=1e-5)
    weights = at.dataframe[0].value
    W, W_rev = rnn.weight_hh_l0.detach(), rnn.weight_hh_l0_reverse.detach()
    assert weights.iloc[1]["‖fwd − bwd‖_F"] == pytest.approx(float(torch.linalg.norm(W - W_rev)), abs=1e-4)
    assert shown_metrics(at)["模块全部参数"] == f"{sum(p.numel() for p in rnn.parameters()):,}"


def test_english(at: AppTest) -> None:
    at.sidebar.radio(key="lang").set_value("en").run()
    assert not at.exception
    assert at.title[0].value == "Bidirectional RNN"
    assert any("Key points" in s.value for s in at.subheader)
    assert [t["name"] for t in _norms(at)["data"]] == ["forward ‖h→_t‖", "backward ‖h←_t‖"]


def test_with_a_real_shipped_checkpoint(at: AppTest, tmp_path: Path, monkeypatch) -> None:
    import ui.models

    model = ship_tiny_textrnn(tmp_path, EXAMPLE_TEXTS[0], num_layers=1)
    monkeypatch.setattr(ui.models, "MODELS_DIR", tmp_path)
    at.run()
    assert not at.exception
    assert "已训练" in at.success[0].value
    assert len(_norms(at)["data"][0]["y"]) == len(EXAMPLE_TEXTS[0])
    metrics = shown_metrics(at)
    assert metrics["每个方向（第 0 层）"] == f"{4 * (6 * 8 + 6 * 6 + 2 * 6):,}"
    assert metrics["模块全部参数"] == f"{sum(p.numel() for p in model.rnn.parameters()):,}"
