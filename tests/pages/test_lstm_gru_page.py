"""Page 5 (LSTM & GRU) under AppTest: the drawn cell, gate heatmaps of the typed text, the
step function's source, parameter counts, the cell path, and the shipped-model branch."""

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
    traced_layers,
)
from streamlit.testing.v1 import AppTest
from torch import nn

from rnnviz.lessons.gating import EXAMPLE_TEXTS

PAGE = "pages/lstm_gru.py"


def _heatmap(at: AppTest) -> dict:
    return next(s for s in chart_specs(at) if any(t["type"] == "heatmap" for t in s["data"]))



@pytest.fixture
def at(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> AppTest:
    """The page on its untrained demo network: no shipped models (the shipped-model branch
    has its own tests below)."""
    return open_page(PAGE, monkeypatch=monkeypatch, models_dir=tmp_path)


def test_defaults_show_cell_gates_source_and_parameter_counts(at: AppTest) -> None:
    assert len(at.get("plotly_chart")) == 3  # the cell, the gates, the cell path
    heat = _heatmap(at)
    top, bottom = heat["data"]
    assert len(top["x"]) == len(EXAMPLE_TEXTS[0])
    assert heat["layout"]["xaxis2"]["ticktext"] == list(EXAMPLE_TEXTS[0])
    assert top["y"] == ["输入门 i_t", "遗忘门 f_t", "输出门 o_t"]
    assert "def lstm_step" in at.code[0].value and "c_t = f_t * c_prev + i_t * g_t" in at.code[0].value
    assert "未训练" in at.info[0].value  # says which network is shown
    counts = {row.iloc[0]: row.iloc[2] for _, row in at.dataframe[1].value.iterrows()}
    for name, module in (("RNN", nn.RNN), ("GRU", nn.GRU), ("LSTM", nn.LSTM)):
        assert counts[name] == sum(p.numel() for p in module(128, 128).parameters())
    assert len(at.latex) >= 6


def test_gru_units_view_and_sizes(at: AppTest) -> None:
    at.radio(key="gates_kind").set_value("gru").run()
    assert not at.exception
    assert "def gru_step" in at.code[0].value
    assert _heatmap(at)["data"][0]["y"] == ["重置门 r_t", "更新门 z_t"]
    at.radio(key="gates_mode").set_value("units").run()
    at.selectbox(key="gates_gate").set_value("z").run()
    assert not at.exception
    units = _heatmap(at)["data"][0]
    assert len(units["z"]) == 24 and len(units["z"][0]) == len(EXAMPLE_TEXTS[0])
    at.number_input(key="gates_input").set_value(10).run()
    at.number_input(key="gates_hidden").set_value(20).run()
    counts = {row.iloc[0]: row.iloc[2] for _, row in at.dataframe[1].value.iterrows()}
    assert counts == {"RNN": 640, "GRU": 1920, "LSTM": 2560}  # G * (H*I + H*H + 2H)


def test_typed_text_and_gate_bias_change_the_pictures(at: AppTest) -> None:
    at.text_input(key="gates_text").set_value("门控 LSTM").run()
    assert _heatmap(at)["layout"]["xaxis2"]["ticktext"] == list("门控LSTM")
    path = lambda: next(s for s in chart_specs(at) if s["layout"]["yaxis"].get("type") == "log")  # noqa: E731
    before = np.array(path()["data"][1]["y"])
    at.slider(key="gates_bias").set_value(3.0).run()
    after = np.array(path()["data"][1]["y"])
    assert after[0] > before[0] * 10  # open forget gates: the cell path keeps far more
    at.selectbox(key="gates_example").set_value(EXAMPLE_TEXTS[1]).run()
    assert at.text_input(key="gates_text").value == EXAMPLE_TEXTS[1]
    at.text_input(key="gates_text").set_value("   ").run()
    assert not at.exception and "at least one character" in at.error[0].value


def test_shipped_classifier_is_used_when_available(at: AppTest, monkeypatch) -> None:
    torch.manual_seed(0)
    lstm = nn.LSTM(5, 7, num_layers=2, batch_first=True, bidirectional=True)
    tokens = list("样例文本")
    layers = traced_layers(lstm, tokens)
    predictor = types.SimpleNamespace(predict=lambda text: types.SimpleNamespace(tokens=tokens, layers=layers))
    fake_load_shipped(monkeypatch, lambda name: predictor if name == "textrnn" else None)
    at.run()
    assert not at.exception
    assert "已训练" in at.success[0].value
    assert len(at.selectbox(key="gates_layer").options) == 4  # 2 layers x 2 directions
    heat = _heatmap(at)
    np.testing.assert_allclose(heat["data"][0]["z"][1], layers[0].states["f"].mean(axis=1), rtol=1e-5)
    at.selectbox(key="gates_layer").set_value((1, "backward")).run()
    assert not at.exception
    # GRU is not in the shipped LSTM: the demo GRU is shown instead, and the page says so.
    at.radio(key="gates_kind").set_value("gru").run()
    assert "未训练" in at.info[0].value


def test_english(at: AppTest) -> None:
    at.sidebar.radio(key="lang").set_value("en").run()
    assert not at.exception
    assert "LSTM and GRU" in at.title[0].value
    assert _heatmap(at)["data"][0]["y"] == ["input gate i_t", "forget gate f_t", "output gate o_t"]
    assert any("Key points" in s.value for s in at.subheader)


def test_with_a_real_shipped_checkpoint(at: AppTest, tmp_path: Path, monkeypatch) -> None:
    import ui.models

    ship_tiny_textrnn(tmp_path, "".join(EXAMPLE_TEXTS), num_layers=2)  # a 2-layer BiLSTM
    monkeypatch.setattr(ui.models, "MODELS_DIR", tmp_path)
    at.run()
    assert not at.exception
    assert "已训练" in at.success[0].value
    assert len(at.selectbox(key="gates_layer").options) == 4
    heat = _heatmap(at)
    assert heat["layout"]["xaxis2"]["ticktext"] == list(EXAMPLE_TEXTS[0])
    assert len(heat["data"][0]["z"]) == 3  # i, f, o of the classifier's layer 0 forward
