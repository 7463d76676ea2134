"""Page 6 (bidirectional RNN) under AppTest: the blank examples and their questions, both
directions' states and their concatenation, separate weights and the parameter question, and
the shipped-model branch."""

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
    ship_tiny_textrnn,
    shown_metrics,
    traced_layers,
)
from streamlit.testing.v1 import AppTest
from torch import nn

from rnnviz.content import text
from rnnviz.lessons.bidirectional import context_split, fill_blank_examples
from rnnviz.lessons.gating import EXAMPLE_TEXTS

PAGE = "pages/bidirectional.py"
DOC = "bidirectional"
EXAMPLES = fill_blank_examples("zh")


def _w(key: str, lang: str = "zh", **values: object) -> str:
    return text(lang, DOC, key, **values)


def _norms(at: AppTest) -> dict:
    return next(s for s in chart_specs(at) if s["data"] and s["data"][0]["type"] == "bar")


def _diagram(at: AppTest) -> dict:
    return next(s for s in chart_specs(at) if s["data"][0]["type"] == "scatter")


def _markdown(at: AppTest) -> list[str]:
    return [m.value for m in at.markdown]


@pytest.fixture
def at(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> AppTest:
    """The page on its untrained demo network: no shipped models (the shipped-model branch
    has its own tests below)."""
    return open_page(PAGE, monkeypatch=monkeypatch, models_dir=tmp_path)


def test_defaults_ask_before_showing_what_each_direction_has_read(at: AppTest) -> None:
    left, right = context_split(EXAMPLES[0].tokens, EXAMPLES[0].blank)
    forward_read = _w("blank.forward", left=left)
    assert forward_read not in _markdown(at)  # held back until the student answers
    assert {r.key for r in at.radio} >= {"quiz_q_clue_choice", "quiz_q_same_choice"}
    assert [n.key for n in at.number_input] == ["quiz_q_params_number"]
    assert len(at.get("plotly_chart")) == 3  # diagram, concatenated states, norms
    norms = _norms(at)
    assert [t["name"] for t in norms["data"]] == [text("zh", "plots/bidirectional", k)
                                                  for k in ("norms.forward", "norms.backward")]
    assert len(norms["data"][0]["y"]) == len(EXAMPLE_TEXTS[0])
    check = shown_metrics(at)[_w("states.check")]
    assert float(check) < 1e-5  # stepwise concatenation == nn.LSTM(bidirectional=True) output
    weights = at.dataframe[0].value
    assert list(weights.iloc[:, 0]) == ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"]
    assert weights.iloc[0, 1].startswith("U→") and weights.iloc[1, 1].startswith("W→")
    assert (weights["‖fwd − bwd‖_F"] > 0).all()
    assert _w("weights.note.demo") in _markdown(at)


def test_the_clue_question_reveals_both_contexts_with_the_same_blank(at: AppTest) -> None:
    answer_question(at, "q_clue", "forward")
    assert not at.exception
    right_option = _w("q_clue.opt.backward")
    assert any(right_option in w.value for w in at.warning)  # the reveal says backward
    e = EXAMPLES[0]
    left, right = context_split(e.tokens, e.blank)
    shown = _markdown(at)
    assert _w("blank.forward", left=left) in shown and _w("blank.backward", right=right) in shown
    assert left.endswith("＿＿") and right.startswith("＿＿")  # one blank, drawn the same
    assert any(e.clue in m and e.answer in m for m in shown)  # the shared-left sentence


def test_another_example_changes_the_diagram_and_the_contexts(at: AppTest) -> None:
    at.selectbox(key="bidir_example").set_value(1).run()
    assert not at.exception
    e = EXAMPLES[1]
    inputs = _diagram(at)["data"][2]
    assert inputs["text"] == e.tokens and inputs["text"][e.blank] == "＿＿"
    answer_question(at, "q_clue", "backward")
    assert any(s.value.startswith("答对了") for s in at.success)
    _, right = context_split(e.tokens, e.blank)
    assert _w("blank.backward", right=right) in _markdown(at)
    assert e.clue in right


def test_the_forward_states_question_reveals_the_live_spreads(at: AppTest) -> None:
    answer_question(at, "q_same", "same")
    assert any(s.value.startswith("答对了") for s in at.success)
    metrics = shown_metrics(at)
    assert float(metrics[_w("blank.spread.forward")]) < 1e-6
    assert float(metrics[_w("blank.spread.backward")]) > 1e-3


def test_the_parameter_question_reveals_the_module_count(at: AppTest) -> None:
    demo = nn.LSTM(16, 24, bidirectional=True)
    one = sum(p.numel() for n, p in demo.named_parameters() if n.endswith("_l0"))
    assert _w("params.per_direction") not in shown_metrics(at)  # held back
    answer_question(at, "q_params", one)  # one direction only: wrong
    assert any(w.value.startswith("不对") and f"{2 * one:,}" in w.value for w in at.warning)
    metrics = shown_metrics(at)
    assert metrics[_w("params.per_direction")] == f"{one:,}" == "4,032"
    assert metrics[_w("params.layer")] == "8,064"
    assert metrics[_w("params.module")] == f"{sum(p.numel() for p in demo.parameters()):,}"


def test_typed_text_changes_the_states_and_blank_text_is_an_error(at: AppTest) -> None:
    at.text_input(key="bidir_text").set_value("双向网络").run()
    norms = _norms(at)
    assert norms["layout"]["xaxis"]["ticktext"] == list("双向网络")
    # The backward state at the first token has read the whole sentence: it differs from
    # the forward one, which has read one character.
    assert norms["data"][0]["y"][0] != pytest.approx(norms["data"][1]["y"][0])
    at.text_input(key="bidir_text").set_value(" ").run()
    assert not at.exception and at.error


def test_shipped_bilstm_is_used_and_asked_about_when_available(at: AppTest, monkeypatch) -> None:
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
    assert at.success[0].value == _w("states.shipped")
    norms = _norms(at)
    np.testing.assert_allclose(norms["data"][1]["y"], np.linalg.norm(layers[1].states["h"], axis=1),
                               rtol=1e-5)
    weights = at.dataframe[0].value
    W, W_rev = rnn.weight_hh_l0.detach(), rnn.weight_hh_l0_reverse.detach()
    assert weights.iloc[1]["‖fwd − bwd‖_F"] == pytest.approx(float(torch.linalg.norm(W - W_rev)),
                                                            abs=1e-4)
    # The parameter question now asks about this module: 2 × 4 (H·I + H·H + 2H).
    both = 2 * 4 * (6 * 5 + 6 * 6 + 2 * 6)
    answer_question(at, "q_params", both)
    assert any(s.value.startswith("答对了") for s in at.success)
    metrics = shown_metrics(at)
    assert metrics[_w("params.layer")] == f"{both:,}"
    assert metrics[_w("params.module")] == f"{sum(p.numel() for p in rnn.parameters()):,}"
    assert _w("weights.note.trained") in _markdown(at)


def test_english(at: AppTest) -> None:
    at.sidebar.radio(key="lang").set_value("en").run()
    assert not at.exception
    assert at.title[0].value == "Bidirectional RNN"
    assert any("Key points" in s.value for s in at.subheader)
    assert [t["name"] for t in _norms(at)["data"]] == ["forward ‖h→_t‖", "backward ‖h←_t‖"]
    english = fill_blank_examples("en")
    assert at.selectbox(key="bidir_example").options == [e.sentence for e in english]
    assert _diagram(at)["data"][2]["text"] == english[0].tokens
    assert any(_w("q_clue.prompt", "en", blank=r"\_\_\_", clue="petrol") in m
               for m in _markdown(at))
    at.sidebar.toggle(key="quiz_on").set_value(False).run()
    assert any(i.value == "Answer: " + _w("q_clue.opt.backward", "en") for i in at.info)
    assert any(m.endswith(r"Today I went to the \_\_\_") for m in _markdown(at))


def test_questions_off_show_every_answer(at: AppTest) -> None:
    at.sidebar.toggle(key="quiz_on").set_value(False).run()
    assert not at.exception
    answers = [i.value for i in at.info if i.value.startswith(text("zh", "ui/quiz", "answer",
                                                                  answer=""))]
    assert len(answers) == 3
    assert answers[0].endswith(_w("q_clue.opt.backward")) and answers[2].endswith("8,064")
    assert _w("params.per_direction") in shown_metrics(at)


def test_with_a_real_shipped_checkpoint(at: AppTest, tmp_path: Path, monkeypatch) -> None:
    import ui.models

    model = ship_tiny_textrnn(tmp_path, EXAMPLE_TEXTS[0], num_layers=1)
    monkeypatch.setattr(ui.models, "MODELS_DIR", tmp_path)
    at.run()
    assert not at.exception
    assert at.success[0].value == _w("states.shipped")
    assert len(_norms(at)["data"][0]["y"]) == len(EXAMPLE_TEXTS[0])
    at.sidebar.toggle(key="quiz_on").set_value(False).run()
    metrics = shown_metrics(at)
    assert metrics[_w("params.per_direction")] == f"{4 * (6 * 8 + 6 * 6 + 2 * 6):,}"
    assert metrics[_w("params.module")] == f"{sum(p.numel() for p in model.rnn.parameters()):,}"
