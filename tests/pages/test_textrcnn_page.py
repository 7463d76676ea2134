"""The RCNN training page under AppTest: the drawn RCNN follows its widgets, a tiny run on
THUCNews reports, and the comparison table lists it beside the shipped models."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from apptest_helpers import chart_specs, open_page, stop_jobs
from helpers import tiny_checkpoint
from streamlit.testing.v1 import AppTest

from rnnviz.core.metrics import classification_report
from rnnviz.core.models import count_parameters

PAGE = "pages/textrcnn.py"


@pytest.fixture
def at(monkeypatch, tmp_path: Path) -> Iterator[AppTest]:
    at = open_page(PAGE, monkeypatch=monkeypatch, models_dir=tmp_path)  # no shipped models
    yield at
    stop_jobs(at)


def _diagram(at: AppTest) -> dict:
    return chart_specs(at)[0]


def test_the_rcnn_diagram_follows_the_widgets(at: AppTest) -> None:
    names = [t["name"] for t in _diagram(at)["data"]]
    assert {"left context", "right context", "projection", "pooling"} <= set(names)
    at.select_slider(key="rcnn_proj").set_value(64).run()
    at.select_slider(key="rcnn_hidden").set_value(32).run()
    notes = " ".join(a.get("text", "") for a in _diagram(at)["layout"]["annotations"])
    assert "[32; 64; 32] → 64" in notes  # [c_l; e; c_r] -> P, with E = 64 by default
    assert "还没有可比较的模型" in at.info[-1].value


def test_tiny_run_reports_and_joins_the_comparison(at: AppTest, thucnews_dir: Path) -> None:
    at.select_slider(key="rcnn_hidden").set_value(16)
    at.select_slider(key="rcnn_embed").set_value(16)
    at.select_slider(key="rcnn_proj").set_value(32)
    at.number_input(key="rcnn_limit").set_value(300)
    at.slider(key="rcnn_epochs").set_value(1)
    at.run()
    at.button(key="rcnn_start").click().run()
    job = at.session_state["jobs_registry"]["rcnn_job"]
    assert job.wait(120) and job.status == "done"
    at.run()
    assert not at.exception
    outcome = job.result
    assert outcome.checkpoint.config.model == "textrcnn" and outcome.checkpoint.config.rcnn_proj == 32
    assert "训练报告" in [h.value for h in at.header]
    specs = chart_specs(at)
    heat = next(s for s in specs if s["data"][0]["type"] == "heatmap")
    assert heat["data"][0]["text"] == outcome.report.confusion_matrix
    row = at.dataframe[-1].value.iloc[0]
    assert row["模型"] == outcome.name and row["来源"] == "本次训练"
    assert row["参数量"] == count_parameters(outcome.checkpoint.model)
    assert row["准确率"] == pytest.approx(round(outcome.report.accuracy, 4))
    assert row["宏平均 F1"] == pytest.approx(round(outcome.report.macro.f1, 4))
    assert row["设备"] == outcome.device


def _shipped(folder: Path, model: str, accuracy_hits: int) -> None:
    y_true = [0, 0, 1, 1]
    y_pred = y_true[:accuracy_hits] + [1 - y for y in y_true[accuracy_hits:]]
    report = classification_report(y_true, y_pred, ["finance", "sports"])
    info = {"seconds": 90.0, "device": "cuda", "params": 1234}
    tiny_checkpoint(model, metrics=report.to_json(), info=info).save(folder / f"{model}.safetensors")


def test_shipped_models_are_compared_best_first(monkeypatch, tmp_path: Path) -> None:
    _shipped(tmp_path, "textrnn", 3)
    _shipped(tmp_path, "textrcnn", 4)
    at = open_page(PAGE, monkeypatch=monkeypatch, models_dir=tmp_path)
    table = at.dataframe[-1].value
    assert list(table["模型"]) == ["RCNN（内置）", "Text-RNN（内置）"]
    assert list(table["准确率"]) == [1.0, 0.75] and list(table["训练用时"]) == ["1 分 30 秒"] * 2
    assert list(table["设备"]) == ["cuda", "cuda"] and list(table["参数量"]) == [1234, 1234]
