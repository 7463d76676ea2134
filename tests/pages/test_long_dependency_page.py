"""Page 4 (long-term dependency) under AppTest: controls, the shipped models' sweep behind a
question, a live run through the job runner, the three trained cells side by side, English."""

from __future__ import annotations

import numpy as np
import pytest
from apptest_helpers import answer_question, chart_specs, open_page, plotly_values
from streamlit.testing.v1 import AppTest

from rnnviz.content import text
from rnnviz.lessons.longdep_models import LENGTHS, learns_up_to, load_shipped, sweep
from rnnviz.lessons.memory import sequence, three_cells

PAGE = "pages/long_dependency.py"


def _words(key: str, **values: object) -> str:
    return text("zh", "long_dependency", key, **values)


def _runs(length: int, seed: int = 0):
    trained = load_shipped(length)
    tokens, x = sequence(trained.task, seed)
    return tokens, three_cells(trained.models, x)


def test_page_renders_task_examples_and_holds_the_answers_back(at: AppTest) -> None:
    assert "长期依赖" in at.title[0].value
    examples = at.code[0].value.splitlines()
    assert len(examples) == 3
    for line in examples:  # the label shown is the first symbol of the sequence shown
        seq, label = line.split("→")
        assert seq.split()[0] == label.strip() and label.strip() in "ABCD"
    assert at.session_state["longdep_T"] == 60
    jobs = at.session_state.get("jobs_registry", {})
    assert "longdep_job" not in jobs
    # Both questions ask before anything is drawn: no sweep, no cells, no run yet.
    assert not at.get("plotly_chart")
    assert {r.key for r in at.radio} >= {"quiz_q_reach_choice", "quiz_q_least_choice"}
    assert at.get("page_link")  # the next lesson is linked
    # The course's notation throughout (issue 10 #1): U x_t + W h_{t-1}, no W_hh / W_ih.
    assert any("U x_t+W h_{t-1}+b" in m.value for m in at.markdown)
    assert not any("W_{hh}" in m.value or "W_{ih}" in m.value for m in at.markdown)


def test_the_reach_question_reveals_the_shipped_sweep(at: AppTest) -> None:
    accuracy = sweep()
    reach = learns_up_to(accuracy, "rnn")
    wrong = next(str(n) for n in LENGTHS if n != reach)
    answer_question(at, "q_reach", wrong)
    assert not at.exception
    [shown] = [w.value for w in at.warning if w.value.startswith("不对")]
    assert _words(f"q_reach.opt.{reach}") in shown and _words(f"q_reach.opt.{wrong}") in shown
    sweep_chart = chart_specs(at)[0]
    assert sweep_chart["layout"]["title"]["text"] == text("zh", "plots/longdep",
                                                           "sweep.title.shipped")
    rnn = next(t for t in sweep_chart["data"] if t["name"] == "RNN")
    assert list(plotly_values(rnn["x"])) == list(LENGTHS)
    np.testing.assert_allclose(plotly_values(rnn["y"]), [accuracy[n]["rnn"] for n in LENGTHS])
    # The why quotes the RNN's accuracy at every length.
    assert all(f"T={n}: {accuracy[n]['rnn']:.0%}" in at.caption[0].value for n in LENGTHS)


def test_start_runs_a_job_to_done_and_the_curves_and_sweep_render(at: AppTest) -> None:
    at.sidebar.toggle(key="quiz_on").set_value(False).run()
    at.slider(key="longdep_T").set_value(10)
    at.select_slider(key="longdep_steps").set_value(50)
    at.number_input(key="longdep_seed").set_value(4)
    at.checkbox(key="longdep_chrono").uncheck()
    at.button(key="longdep_start").click().run()
    assert not at.exception
    job = at.session_state["jobs_registry"]["longdep_job"]
    assert job.wait(30), job.status
    assert job.status == "done", job.error
    assert job.result.steps_done == 50 and job.result.config.length == 10
    assert job.result.config.seed == 4 and not job.result.config.gate_bias_init
    at.run()
    assert not at.exception
    specs = chart_specs(at)
    curves = next(s for s in specs if len(s["data"]) == 6)  # loss + accuracy for 3 models
    assert {t["name"] for t in curves["data"]} == {"RNN", "LSTM", "GRU"}
    assert max(max(t["x"]) for t in curves["data"]) == 50
    yours = text("zh", "plots/longdep", "sweep.title.yours")
    sweep_chart = next(s for s in specs if s["layout"].get("title", {}).get("text") == yours)
    assert [t["x"] for t in sweep_chart["data"]] == [[10], [10], [10]]
    table = at.dataframe[0].value
    assert list(table.iloc[:, 0]) == ["RNN", "LSTM", "GRU"]
    # A rerun does not record the same run twice.
    at.run()
    assert len(at.session_state["longdep_runs"]) == 1


def test_stop_button_stops_a_running_job(at: AppTest) -> None:
    at.select_slider(key="longdep_steps").set_value(400)
    at.button(key="longdep_start").click().run()
    at.button(key="longdep_stop").click().run()
    assert not at.exception
    job = at.session_state["jobs_registry"]["longdep_job"]
    assert job.wait(30)
    assert job.status == "stopped" and job.stop_reason == "user"
    at.run()
    assert not at.exception
    assert "longdep_runs" not in at.session_state  # a stopped run is not compared


@pytest.mark.parametrize("length", [20, 60])
def test_the_three_cells_question_follows_the_trained_models(length: int) -> None:
    at = open_page(PAGE)
    at.select_slider(key="longdep_cells_T").set_value(length).run()
    tokens, runs = _runs(length)
    least = min(runs, key=lambda k: runs[k].carry[-1])  # the reference: argmin of the gains
    wrong = next(k for k in runs if k != least)
    answer_question(at, "q_least", wrong)
    assert not at.exception
    [shown] = [w.value for w in at.warning if w.value.startswith("不对")]
    assert _words(f"q_least.opt.{least}") in shown.split("答案是")[-1]
    assert any(f"{runs['rnn'].carry[-1]:.2g}" in c.value for c in at.caption)
    # Revealed: the step starts at the end, one metric per cell, the states and the gains.
    assert at.slider(key="longdep_cells_t").value == length
    metrics = {m.label: m.value for m in at.metric}
    assert metrics[_words("cells.metric.lstm", t=length)] == f"{runs['lstm'].carry[-1]:.2g}"
    states, carry = chart_specs(at)
    assert len(states["data"]) == 3 and len(carry["data"]) == 3
    np.testing.assert_allclose(plotly_values(carry["data"][0]["y"]), runs["rnn"].carry,
                               rtol=1e-6)
    rows = at.dataframe[-1].value
    assert list(rows.iloc[:, 1]) == [load_shipped(length).task.token_name(r.answer)
                                     for r in runs.values()]


def test_the_step_slider_moves_the_three_cells_together(at: AppTest) -> None:
    at.sidebar.toggle(key="quiz_on").set_value(False).run()
    tokens, runs = _runs(60)
    at.slider(key="longdep_cells_t").set_value(5).run()
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics[_words("cells.metric.rnn", t=5)] == f"{runs['rnn'].carry[4]:.2g}"
    states, carry = chart_specs(at)[-2:]
    assert len(plotly_values(carry["data"][1]["y"])) == 5  # drawn up to step 5
    lstm_c = np.array(states["data"][1]["z"], dtype=float)  # units x steps, blank after t
    assert not np.isnan(lstm_c[:, :5]).any() and np.isnan(lstm_c[:, 5:]).all()
    np.testing.assert_allclose(lstm_c[:, :5], runs["lstm"].memory[:5].T, rtol=1e-5)
    # Another sequence: another first symbol in the code line, the step kept in range.
    at.number_input(key="longdep_cells_seed").set_value(3).run()
    assert at.code[-1].value.split()[0] == _runs(60, seed=3)[0][0]
    at.select_slider(key="longdep_cells_T").set_value(10).run()
    assert not at.exception and at.slider(key="longdep_cells_t").value == 5


def test_questions_off_reveal_everything(at: AppTest) -> None:
    at.sidebar.toggle(key="quiz_on").set_value(False).run()
    assert not at.exception
    assert len(chart_specs(at)) == 3  # the shipped sweep, the states, the gains
    answers = text("zh", "ui/quiz", "answer", answer="")
    assert len([i for i in at.info if i.value.startswith(answers)]) == 2


def test_english(at: AppTest) -> None:
    at.sidebar.radio(key="lang").set_value("en").run()
    assert not at.exception
    assert "Long-term dependency" in at.title[0].value
    assert any("Key points" in s.value for s in at.subheader)
    assert any(r.key == "quiz_q_least_choice" for r in at.radio)
