"""Page 5 (LSTM & GRU) under AppTest: the drawn cell and its equations, gate heatmaps of the
trained classifier, the trained long-dependency cells and the untrained demo, the memory
comparison behind its question, parameter counts, the shipped-model branch."""

from __future__ import annotations

import types
from pathlib import Path

import numpy as np
import pytest
import torch
from apptest_helpers import (
    answer_question,
    chart_specs,
    fake_load_shipped,
    open_page,
    plotly_values,
    ship_tiny_textrnn,
    traced_layers,
)
from streamlit.testing.v1 import AppTest
from torch import nn

from rnnviz.content import text
from rnnviz.core.cells import param_count
from rnnviz.lessons.gating import EXAMPLE_TEXTS
from rnnviz.lessons.longdep_models import load_shipped
from rnnviz.lessons.memory import run_cell, sequence, steps_back_gain
from rnnviz.paths import MODELS_DIR

PAGE = "pages/lstm_gru.py"


def _median_back(keep: np.ndarray) -> np.ndarray:
    return np.median(steps_back_gain(keep), axis=1)


def _words(key: str, **values: object) -> str:
    return text("zh", "lstm_gru", key, **values)


def _heatmap(at: AppTest) -> dict:
    return next(s for s in chart_specs(at) if any(t["type"] == "heatmap" for t in s["data"]))


def _memory(at: AppTest) -> dict:
    return next(s for s in chart_specs(at) if s["layout"].get("yaxis", {}).get("type") == "log")


def _trace(fig: dict, source: str, kind: str = "LSTM", T: int = 60) -> np.ndarray:
    name = text("zh", "plots/gates", f"memory.source.{source}", T=T)
    return plotly_values(next(t for t in fig["data"] if t["name"] == name)["y"])


def _longdep_run(kind: str):
    trained = load_shipped(60)
    tokens, x = sequence(trained.task, 0)
    return tokens, run_cell(trained.models[kind], x)


@pytest.fixture
def at(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> AppTest:
    """The page with no news classifier installed (the classifier branch has its own tests)."""
    return open_page(PAGE, monkeypatch=monkeypatch, models_dir=tmp_path)


@pytest.fixture
def shipped(monkeypatch: pytest.MonkeyPatch) -> AppTest:
    """The page with the real shipped news classifier."""
    if not (MODELS_DIR / "textrnn.safetensors").is_file():
        from helpers import missing

        missing("no shipped Text-RNN")
    return open_page(PAGE, monkeypatch=monkeypatch, models_dir=MODELS_DIR)


def test_defaults_show_the_trained_long_dependency_lstm_and_hold_answers_back(at: AppTest) -> None:
    assert len(at.get("plotly_chart")) == 2  # the cell and the gates; memory waits for q_keep
    tokens, run = _longdep_run("lstm")
    heat = _heatmap(at)
    top, bottom = heat["data"]
    assert heat["layout"]["xaxis2"]["ticktext"] == tokens
    assert top["y"] == ["输入门 i_t", "遗忘门 f_t", "输出门 o_t"]
    np.testing.assert_allclose(top["z"][1], run.states["f"].mean(axis=1), rtol=1e-5)
    assert at.success[0].value == _words("shown.longdep", kind="LSTM", T=60)
    assert _words("no_classifier") in [c.value for c in at.caption]
    source = at.code[0].value
    assert "def lstm_step" in source and "c_t = f_t * c_prev + i_t * g_t" in source
    # The course's notation, with PyTorch's names explained beside it (issue 10 #1).
    assert any(r"U_f x_t + W_f h_{t-1} + b_f" in m.value for m in at.markdown)
    assert any("weight_ih" in c.value for c in at.caption)
    # Attribution (issue 10 #8): the forget gate is Gers, Schmidhuber & Cummins 2000.
    assert "Gers" in at.markdown[0].value and "2000" in at.markdown[0].value
    assert len(at.dataframe) == 1  # the gate summary; the parameter table waits for q_params
    assert {r.key for r in at.radio} >= {"quiz_q_keep_choice"}
    assert any(n.key == "quiz_q_params_number" for n in at.number_input)


def test_the_demo_network_follows_the_text_and_the_bias(at: AppTest) -> None:
    at.radio(key="gates_source_lstm").set_value("demo").run()
    assert _heatmap(at)["layout"]["xaxis2"]["ticktext"] == list(EXAMPLE_TEXTS[0])
    assert "未训练" in at.info[0].value
    before = np.array(_heatmap(at)["data"][0]["z"][1])
    at.slider(key="gates_bias").set_value(3.0).run()
    after = np.array(_heatmap(at)["data"][0]["z"][1])
    assert after.mean() > before.mean() + 0.3  # the forget gate opens
    at.text_input(key="gates_text").set_value("门控 LSTM").run()
    assert _heatmap(at)["layout"]["xaxis2"]["ticktext"] == list("门控LSTM")
    at.selectbox(key="gates_example").set_value(EXAMPLE_TEXTS[1]).run()
    assert at.text_input(key="gates_text").value == EXAMPLE_TEXTS[1]
    at.text_input(key="gates_text").set_value("   ").run()
    assert not at.exception and "at least one character" in at.error[0].value


def test_the_bias_slider_moves_the_demo_line_while_a_trained_network_is_shown(
        shipped: AppTest) -> None:
    # Issue 10 #3: with the trained classifier on screen the slider used to change nothing.
    at = shipped
    assert at.radio(key="gates_source_lstm").value == "classifier"
    at.sidebar.toggle(key="quiz_on").set_value(False).run()
    heat = _heatmap(at)
    fig = _memory(at)
    demo, classifier, longdep = (_trace(fig, s) for s in ("demo", "classifier", "longdep"))
    at.slider(key="gates_bias").set_value(3.0).run()
    assert not at.exception
    moved = _memory(at)
    opened = _trace(moved, "demo")
    assert (opened[1:] > demo[1:]).all() and opened[-1] > 100 * demo[-1]  # the demo opened ...
    np.testing.assert_array_equal(_trace(moved, "classifier"), classifier)  # ... the trained
    np.testing.assert_array_equal(_trace(moved, "longdep"), longdep)  # networks stay as trained
    assert _heatmap(at) == heat  # the classifier's heatmap does not pretend to move


def test_the_keep_question_reveals_the_live_winner_and_follows_the_slider(
        shipped: AppTest) -> None:
    at = shipped
    answer_question(at, "q_keep", "classifier")
    assert not at.exception
    fig = _memory(at)
    d = min(len(t["x"]) for t in fig["data"]) - 1
    names = {text("zh", "plots/gates", f"memory.source.{s}", T=60): s
             for s in ("classifier", "longdep", "demo")}
    best = max(fig["data"], key=lambda t: plotly_values(t["y"])[d])
    assert names[best["name"]] == "longdep"  # at bias 0 the trained-to-remember LSTM wins
    [shown] = [w.value for w in at.warning if w.value.startswith("不对")]
    assert _words("q_keep.opt.longdep", kind="LSTM") in shown
    story = _words("memory.story.classifier.lstm", d=d, mean=0, p=0, p_all=0, steps=0)
    assert any(m.value.startswith(story[:8]) for m in at.markdown)
    # The GRU: a new question. At bias 0 its trained network wins too; open the demo GRU's
    # gates by hand and the demo keeps the most: the page asks again and reveals that.
    at.radio(key="gates_kind").set_value("gru").run()
    answer_question(at, "q_keep", "longdep")
    assert any(s.value.startswith("答对了") for s in at.success)
    at.slider(key="gates_bias").set_value(3.0).run()
    answer_question(at, "q_keep", "demo")
    fig = _memory(at)
    best = max(fig["data"], key=lambda t: plotly_values(t["y"])[d])
    assert text("zh", "plots/gates", "memory.source.demo") == best["name"]
    assert any(s.value.startswith("答对了") for s in at.success)


def test_the_gru_view_is_trained_and_its_memory_chart_is_about_z_and_h(at: AppTest) -> None:
    at.radio(key="gates_kind").set_value("gru").run()
    assert not at.exception
    assert at.radio(key="gates_source_gru").value == "longdep"
    assert at.success[0].value == _words("shown.longdep", kind="GRU", T=60)  # no stale promise
    assert "def gru_step" in at.code[0].value
    assert _heatmap(at)["data"][0]["y"] == ["重置门 r_t", "更新门 z_t"]
    at.sidebar.toggle(key="quiz_on").set_value(False).run()
    fig = _memory(at)
    # Issue 10 #6: the GRU's direct path is h through z, not c through f.
    assert fig["layout"]["title"]["text"] == text("zh", "plots/gates", "memory.title.gru")
    assert "∏ z" in fig["layout"]["yaxis"]["title"]["text"]
    assert "∏ f" not in fig["layout"]["yaxis"]["title"]["text"]
    _, run = _longdep_run("gru")
    np.testing.assert_allclose(_trace(fig, "longdep"), _median_back(run.states["z"]),
                               rtol=1e-6)
    assert any(r"\frac{\partial h_t}{\partial h_{t-1}}" in latex.value for latex in at.latex)
    at.radio(key="gates_mode").set_value("units").run()
    at.selectbox(key="gates_gate").set_value("z").run()
    units = _heatmap(at)["data"][0]
    np.testing.assert_allclose(np.array(units["z"]), run.states["z"].T, rtol=1e-5)


def test_the_parameter_question_reveals_the_count_of_the_chosen_cell(at: AppTest) -> None:
    at.number_input(key="gates_input").set_value(10).run()
    at.number_input(key="gates_hidden").set_value(20).run()
    answer_question(at, "q_params", 1)
    assert not at.exception
    assert any(f"{param_count('lstm', 10, 20)}" in w.value for w in at.warning)  # 2560
    counts = {row.iloc[0]: row.iloc[2] for _, row in at.dataframe[-1].value.iterrows()}
    assert counts == {"RNN": 640, "GRU": 1920, "LSTM": 2560}  # G * (H*I + H*H + 2H)
    for name, module in (("RNN", nn.RNN), ("GRU", nn.GRU), ("LSTM", nn.LSTM)):
        assert counts[name] == sum(p.numel() for p in module(10, 20).parameters())
    at.radio(key="gates_kind").set_value("gru").run()  # another cell: a new question
    answer_question(at, "q_params", 1920)
    assert any(s.value.startswith("答对了") and "1920" in s.value for s in at.success)


def test_shipped_classifier_is_used_when_available(at: AppTest, monkeypatch) -> None:
    torch.manual_seed(0)
    lstm = nn.LSTM(5, 7, num_layers=2, batch_first=True, bidirectional=True)
    tokens = list("样例文本")
    layers = traced_layers(lstm, tokens)
    predictor = types.SimpleNamespace(
        predict=lambda text: types.SimpleNamespace(tokens=tokens, layers=layers),
        model=types.SimpleNamespace(rnn=lstm))
    fake_load_shipped(monkeypatch, lambda name: predictor if name == "textrnn" else None)
    at.run()
    assert at.radio(key="gates_source_lstm").options[0] == _words("source.classifier")
    at.radio(key="gates_source_lstm").set_value("classifier").run()
    assert not at.exception
    assert at.success[0].value == _words("shown.classifier")
    assert len(at.selectbox(key="gates_layer").options) == 4  # 2 layers x 2 directions
    heat = _heatmap(at)
    np.testing.assert_allclose(heat["data"][0]["z"][1], layers[0].states["f"].mean(axis=1),
                               rtol=1e-5)
    at.selectbox(key="gates_layer").set_value((1, "backward")).run()
    assert not at.exception
    at.sidebar.toggle(key="quiz_on").set_value(False).run()  # the classifier's line: layer 1
    np.testing.assert_allclose(_trace(_memory(at), "classifier"),  # forward, as labelled
                               _median_back(layers[0].states["f"]), rtol=1e-5)
    # The shipped classifier is an LSTM: for the GRU the page says so and shows trained GRUs.
    at.radio(key="gates_kind").set_value("gru").run()
    assert at.radio(key="gates_source_gru").options == [
        _words("source.longdep", kind="GRU", T=60), _words("source.demo", kind="GRU")]
    assert _words("other_classifier", kind="GRU", shipped="LSTM") in [c.value for c in at.caption]


def test_questions_off_show_every_answer(at: AppTest) -> None:
    at.sidebar.toggle(key="quiz_on").set_value(False).run()
    assert not at.exception
    assert len(at.get("plotly_chart")) == 3 and len(at.dataframe) == 3
    answers = text("zh", "ui/quiz", "answer", answer="")
    assert len([i for i in at.info if i.value.startswith(answers)]) == 2


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
    at.radio(key="gates_source_lstm").set_value("classifier").run()
    assert not at.exception
    assert at.success[0].value == _words("shown.classifier")
    assert len(at.selectbox(key="gates_layer").options) == 4
    heat = _heatmap(at)
    assert heat["layout"]["xaxis2"]["ticktext"] == list(EXAMPLE_TEXTS[0])
    assert len(heat["data"][0]["z"]) == 3  # i, f, o of the classifier's layer 1 forward
