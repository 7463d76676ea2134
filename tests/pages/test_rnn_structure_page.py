"""The RNN-structure page renders, reacts to its widgets and switches language."""

from __future__ import annotations

import re

import numpy as np
import pytest
from apptest_helpers import answer_question, chart_specs, open_page
from streamlit.testing.v1 import AppTest

from rnnviz.content import text
from rnnviz.lessons.unrolled import demo_rnn, embed_text, run_rnn
from ui.route import stop

PAGE = "pages/rnn_structure.py"
DEFAULT_TEXT = text("zh", "rnn_structure", "demo.default_text")
HIGHLIGHT = "#d62728"


def _red_arrows(fig: dict) -> int:
    return sum(1 for a in fig["layout"]["annotations"] if a.get("arrowcolor") == HIGHLIGHT)


def test_defaults_show_diagram_heatmap_and_equation(at: AppTest) -> None:
    diagram, heatmap = chart_specs(at)
    # Default T = 4 and W highlighted: W is used on 4 unrolled links plus the folded loop.
    assert _red_arrows(diagram) == 4 + 1
    h_texts = next(t["text"] for t in diagram["data"] if t["name"] == "隐藏状态 h")
    assert h_texts[-1] == "h<sub>4</sub>"
    chars = embed_text(DEFAULT_TEXT)[0]
    assert heatmap["data"][0]["x"] == [f"{i} {ch}" for i, ch in enumerate(chars, 1)]
    equation = at.latex[-1].value
    assert r"h_{3} &=" in equation and r"\tanh" in equation
    # The numbers printed last are h_3 of the demo RNN.
    _, x = embed_text(DEFAULT_TEXT)
    h_3 = run_rnn(demo_rnn(), x).h[2]
    shown = [float(v) for v in re.findall(r"-?\d+\.\d+", equation)][-6:]
    np.testing.assert_allclose(shown, h_3, atol=0.005 + 1e-12)
    assert at.get("page_link")


def test_weight_choice_and_unroll_length_redraw_the_diagram(at: AppTest) -> None:
    at.slider(key="structure_T").set_value(7).run()
    at.radio(key="structure_weight").set_value("U").run()
    assert not at.exception
    diagram = chart_specs(at)[0]
    assert _red_arrows(diagram) == 7 + 1  # U on every step, plus the folded picture
    x_texts = next(t["text"] for t in diagram["data"] if t["name"] == "输入 x")
    assert x_texts[-1] == "x<sub>7</sub>"


def test_text_activation_and_step_change_the_demo(at: AppTest) -> None:
    at.text_input(key="structure_text").set_value("循环网络").run()
    at.radio(key="structure_act").set_value("relu").run()
    at.slider(key="structure_step").set_value(4).run()
    assert not at.exception
    heatmap = chart_specs(at)[1]
    assert heatmap["data"][0]["x"] == ["1 循", "2 环", "3 网", "4 络"]
    equation = at.latex[-1].value
    assert r"h_{4} &=" in equation and "ReLU" in equation
    _, x = embed_text("循环网络")
    h_4 = run_rnn(demo_rnn(activation="relu"), x).h[3]
    shown = [float(v) for v in re.findall(r"-?\d+\.\d+", equation)][-6:]
    np.testing.assert_allclose(shown, h_4, atol=0.005 + 1e-12)


def test_shorter_text_keeps_step_in_range_and_empty_text_is_an_error(at: AppTest) -> None:
    at.slider(key="structure_step").set_value(8).run()
    at.text_input(key="structure_text").set_value("你好").run()
    assert not at.exception
    assert at.slider(key="structure_step").value == 2
    at.text_input(key="structure_text").set_value("   ").run()
    assert not at.exception
    assert at.error and "text" in at.error[0].value


def test_english(at: AppTest) -> None:
    at.sidebar.radio(key="lang").set_value("en").run()
    assert not at.exception
    assert at.title[0].value.startswith("RNN structure")
    assert any("Key points" in s.value for s in at.subheader)
    assert next(t for t in chart_specs(at)[0]["data"] if t["name"] == "hidden h")


def test_the_default_text_reads_one_character_twice_and_the_heatmap_shows_two_states() -> None:
    chars, x = embed_text(DEFAULT_TEXT)
    h = run_rnn(demo_rnn(), x).h
    first = chars.index("你")
    second = chars.index("你", first + 1)
    assert np.allclose(x[first], x[second])  # the same input ...
    assert not np.allclose(h[first], h[second], atol=1e-3)  # ... a different state


def test_w_question_reveals_the_unrolled_length_and_follows_the_slider(at: AppTest) -> None:
    answer_question(at, "q_uses", 1)
    assert not at.exception
    assert any(w.value.startswith("不对") and "4" in w.value for w in at.warning)
    at.slider(key="structure_T").set_value(7).run()  # new numbers: a new question
    answer_question(at, "q_uses", 7)
    assert any(s.value.startswith("答对了") and "7" in s.value for s in at.success)


@pytest.mark.parametrize("typed, expected", [(DEFAULT_TEXT, "different"), ("aaa", "different")])
def test_same_character_question_answers_from_the_live_states(typed: str, expected: str) -> None:
    at = open_page(PAGE)
    at.text_input(key="structure_text").set_value(typed).run()
    answer_question(at, "q_same", "same")
    label = text("zh", "rnn_structure", f"q_same.opt.{expected}")
    assert any(label in w.value for w in at.warning)


def test_questions_off_show_the_answers_without_asking(at: AppTest) -> None:
    at.sidebar.toggle(key="quiz_on").set_value(False).run()
    assert not at.exception
    assert not [r for r in at.radio if r.key.startswith("quiz_")]
    assert any(i.value.startswith("答案") for i in at.info)


def test_answers_are_kept_per_session() -> None:
    one, two = open_page(PAGE), open_page(PAGE)
    answer_question(one, "q_uses", 4)
    two.run()
    assert any(s.value.startswith("答对了") for s in one.success)
    assert "quiz_answers" not in two.session_state or not two.session_state["quiz_answers"]
    assert [n for n in two.number_input if n.key == "quiz_q_uses_number"]


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_recursive_aside_names_the_lesson_that_teaches_it(lang: str) -> None:
    at = open_page(PAGE)
    if lang == "en":
        at.sidebar.radio(key="lang").set_value("en").run()
    title = stop("recursive").title(lang)
    aside = text(lang, "rnn_structure", "recursive", lesson=title)
    assert not at.exception and title in aside
    assert aside in [m.value for m in at.markdown]
