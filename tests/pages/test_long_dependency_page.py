"""Page 4 (long-term dependency) under AppTest: controls, a live run through the job runner,
finished curves and the accuracy-vs-T chart, English switching."""

from __future__ import annotations

from pathlib import Path

from apptest_helpers import APP, chart_specs
from streamlit.testing.v1 import AppTest

PAGE = "pages/long_dependency.py"


def test_page_renders_task_examples_and_no_run_yet(at: AppTest) -> None:
    assert "长期依赖" in at.title[0].value
    examples = at.code[0].value.splitlines()
    assert len(examples) == 3
    for line in examples:  # the label shown is the first symbol of the sequence shown
        seq, label = line.split("→")
        assert seq.split()[0] == label.strip() and label.strip() in "ABCD"
    assert at.session_state["longdep_T"] == 60
    assert "jobs_registry" not in at.session_state or "longdep_job" not in at.session_state["jobs_registry"]
    assert not at.get("plotly_chart")  # no chart before a run
    if (Path(APP).parent / "pages" / "lstm_gru.py").exists():
        assert at.get("page_link")  # the next lesson is linked


def test_start_runs_a_job_to_done_and_the_curves_and_sweep_render(at: AppTest) -> None:
    at.slider(key="longdep_T").set_value(10)
    at.select_slider(key="longdep_steps").set_value(50)
    at.button(key="longdep_start").click().run()
    assert not at.exception
    job = at.session_state["jobs_registry"]["longdep_job"]
    assert job.wait(30), job.status
    assert job.status == "done", job.error
    assert job.result.steps_done == 50 and job.result.config.length == 10
    at.run()
    assert not at.exception
    specs = chart_specs(at)
    curves = next(s for s in specs if len(s["data"]) == 6)  # loss + accuracy for 3 models
    assert {t["name"] for t in curves["data"]} == {"RNN", "LSTM", "GRU"}
    assert max(max(t["x"]) for t in curves["data"]) == 50
    sweep = next(s for s in specs if "T" in s["layout"].get("title", {}).get("text", ""))
    assert [t["x"] for t in sweep["data"]] == [[10], [10], [10]]
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


def test_english(at: AppTest) -> None:
    at.sidebar.radio(key="lang").set_value("en").run()
    assert not at.exception
    assert "Long-term dependency" in at.title[0].value
    assert any("Key points" in s.value for s in at.subheader)
