"""The Text-RNN training page under AppTest: the diagram follows the widgets, a tiny run on
THUCNews goes to its report and onto the predict page, Stop keeps the best weights (on an
uploaded file), and a bad upload is listed line by line."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from apptest_helpers import chart_specs, open_page, shown_metrics, stop_jobs
from streamlit.testing.v1 import AppTest

from rnnviz.content import text
from rnnviz.plots.report import per_class_rows

PAGE = "pages/textrnn.py"


def zh(doc: str, key: str, **values: object) -> str:
    """What the page shows in Chinese for ``key`` of ``doc`` (content/zh/<doc>.md)."""
    return text("zh", doc, key, **values)


@pytest.fixture
def at(monkeypatch, tmp_path: Path) -> Iterator[AppTest]:
    # No shipped models: only this session's.
    at = open_page(PAGE, monkeypatch=monkeypatch, models_dir=tmp_path)
    yield at
    stop_jobs(at)


def tiny(at: AppTest, prefix: str, limit: int = 300, epochs: int = 2) -> None:
    """Hidden 16, few hundred lines, no early stopping: a run of a second or two."""
    at.radio(key=f"{prefix}_mode").set_value("custom").run()  # the class preset is the default
    at.select_slider(key=f"{prefix}_hidden").set_value(16)
    at.select_slider(key=f"{prefix}_embed").set_value(16)
    at.number_input(key=f"{prefix}_limit").set_value(limit)
    at.slider(key=f"{prefix}_epochs").set_value(epochs)
    at.number_input(key=f"{prefix}_patience").set_value(0)
    at.run()


def job_of(at: AppTest, prefix: str):
    return at.session_state["jobs_registry"][f"{prefix}_job"]


def run_to_end(at: AppTest, prefix: str) -> object:
    at.button(key=f"{prefix}_start").click().run()
    assert not at.exception
    job = job_of(at, prefix)
    assert job.wait(120), "the training job did not finish"
    at.run()  # what the live view's end-of-run rerun does in a browser
    assert not at.exception
    return job


def test_the_diagram_follows_the_widgets(at: AppTest) -> None:
    def rows() -> list[str]:
        return [t["name"] for t in chart_specs(at)[0]["data"] if t["name"].startswith("layer")]

    at.radio(key="train_mode").set_value("custom").run()  # the class preset is the default
    assert rows() == ["layer 1 forward"]
    at.slider(key="train_layers").set_value(2).run()
    at.toggle(key="train_bidirectional").set_value(True).run()
    assert rows() == ["layer 1 forward", "layer 1 backward", "layer 2 forward", "layer 2 backward"]
    at.radio(key="train_cell").set_value("gru").run()
    assert "GRU" in chart_specs(at)[0]["layout"]["title"]["text"]


def test_tiny_run_reports_and_feeds_the_predict_page(at: AppTest, thucnews_dir: Path) -> None:
    assert at.radio(key="train_source").value == "folder"
    tiny(at, "train")
    job = run_to_end(at, "train")
    assert job.status == "done"
    outcome = job.result
    assert outcome.train_examples == 300 and outcome.steps == 2 * 5
    assert zh("ui/training", "report.header") in [h.value for h in at.header]
    # The per-class table and the confusion matrix are the run's dev report, with Chinese names.
    table = at.dataframe[0].value
    want = per_class_rows(outcome.report, "zh")
    assert list(table.iloc[:, 0]) == [r["name"] for r in want] and table.iloc[0, 0] == "财经"
    np.testing.assert_allclose(table.iloc[:10, 3].to_numpy(dtype=float),
                               [r["f1"] for r in want[:10]])
    confusion = next(c for c in chart_specs(at) if c["data"][0]["type"] == "heatmap")["data"][0]
    assert confusion["text"] == outcome.report.confusion_matrix and confusion["x"][7] == "体育"
    metrics = shown_metrics(at)
    assert metrics[zh("ui/training", "metric.dev_accuracy")] == f"{outcome.report.accuracy:.2%}"
    assert metrics[zh("ui/training", "metric.device")] == outcome.device
    assert at.get("download_button")
    # The classic printout names the split it scored: the dev set, never "Test".
    classic = at.code[-1].value
    assert classic.startswith(f"Evaluated on dev (n={outcome.report.n})") and "Test" not in classic
    train_name = zh("plots/classifier", "curves.train")
    curves = next(c for c in chart_specs(at)
                  if c["data"][0]["type"] == "scatter" and c["data"][0]["name"] == train_name)
    # The dev points, one per evaluation.
    assert curves["data"][1]["x"] == [h["step"] for h in outcome.history]
    # The trained model is offered on the predict page.
    at.switch_page("pages/predict.py").run()
    session = zh("ui/models", "model.session", name=outcome.name)
    assert session in at.selectbox(key="predict_model").options
    at.selectbox(key="predict_model").set_value(session).run()
    assert not at.exception and "预测类别" in at.success[0].value
    typed = at.text_area(key="predict_text").value
    assert outcome.predictor.predict(typed).label in at.success[0].value


def _upload_data(n: int, seed: int = 0) -> bytes:
    """A cnews-format file (label name<TAB>text) with two easy classes."""
    rng = np.random.default_rng(seed)
    pools = {"财经": "股市基金银行利率上涨", "体育": "球队比赛冠军进球主场"}
    lines = [f"{label}\t{''.join(rng.choice(list(pools[label]), 10))}"
             for label in rng.choice(list(pools), n)]
    return "\n".join(lines).encode()


def test_stop_keeps_the_best_model_and_its_report(at: AppTest) -> None:
    at.radio(key="train_source").set_value("upload").run()
    upload = ("news.txt", _upload_data(3000), "text/plain")
    at.file_uploader(key="train_upload_train").set_value(upload).run()
    assert "3000 条训练样本，2 个类别" in at.success[0].value
    tiny(at, "train", limit=3000, epochs=20)
    at.select_slider(key="train_batch").set_value(16).run()
    at.button(key="train_start").click().run()
    job = job_of(at, "train")
    end = time.monotonic() + 60
    while not job.snapshot().get("progress", {}).get("step") and time.monotonic() < end:
        time.sleep(0.02)
    at.button(key="train_stop").click().run()
    assert job.wait(60) and job.status == "stopped"
    at.run()
    assert not at.exception
    outcome = job.result
    assert 0 < outcome.steps < outcome.total_steps and outcome.checkpoint is not None
    assert any(zh("ui/training", "stopped.user") == i.value for i in at.info)
    stopped = zh("ui/jobs", "stopped.user", seconds=0.0).split("（")[0]  # "已手动停止"
    assert any(w.value.startswith(stopped) for w in at.warning)
    dev_accuracy = zh("ui/training", "metric.dev_accuracy")
    assert shown_metrics(at)[dev_accuracy] == f"{outcome.report.accuracy:.2%}"
    assert outcome.dev_examples == 300  # no dev file: a tenth of the upload held out


def test_bad_uploads_are_listed_by_line(at: AppTest) -> None:
    at.radio(key="train_source").set_value("upload").run()
    mixed = "体育\t国足晋级\n这一行没有制表符\n财经\t股市大涨\n体育\t\n".encode()
    at.file_uploader(key="train_upload_train").set_value(("mixed.txt", mixed, "text/plain")).run()
    assert not at.exception
    assert "跳过 2 行" in at.warning[0].value
    assert at.code[0].value.splitlines() == [
        "第 2 行：应为用制表符分隔的 2 列（类别、文本），实际 1 列", "第 4 行：文本为空"]
    assert not at.button(key="train_start").disabled  # the good lines can still be used
    empty = ("none.txt", "体育\t\n财经\t \n".encode(), "text/plain")
    at.file_uploader(key="train_upload_train").set_value(empty).run()
    assert "no valid lines" in at.error[0].value and "line 1" in at.error[0].value
    assert at.button(key="train_start").disabled


def test_english(at: AppTest) -> None:
    at.sidebar.radio(key="lang").set_value("en").run()
    assert not at.exception and at.title[0].value == text("en", "textrnn", "title")
    assert at.button(key="train_start").label == "Start training"
