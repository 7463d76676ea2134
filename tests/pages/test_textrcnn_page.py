"""The RCNN training page under AppTest: the drawn RCNN follows its widgets, a tiny run on
THUCNews reports, and the comparison table lists it beside the shipped models."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from apptest_helpers import chart_specs, open_page, stop_jobs
from helpers import tiny_checkpoint
from streamlit.testing.v1 import AppTest

from rnnviz.content import text
from rnnviz.core.config import ModelConfig
from rnnviz.core.metrics import classification_report
from rnnviz.core.models import count_parameters
from rnnviz.plots.classifier import embedding_widths

PAGE = "pages/textrcnn.py"
CMP = {k: text("zh", "plots/report", f"cmp.{k}") for k in (
    "model", "source", "accuracy", "macro_f1", "params", "seconds", "device")}


@pytest.fixture
def at(monkeypatch, tmp_path: Path) -> Iterator[AppTest]:
    at = open_page(PAGE, monkeypatch=monkeypatch, models_dir=tmp_path)  # no shipped models
    yield at
    stop_jobs(at)


def _diagram(at: AppTest) -> dict:
    return chart_specs(at)[0]


def test_the_rcnn_diagram_follows_the_widgets(at: AppTest) -> None:
    at.radio(key="rcnn_mode").set_value("custom").run()  # the class preset is the default
    names = [t["name"] for t in _diagram(at)["data"]]
    assert {"left context", "right context", "projection", "pooling"} <= set(names)
    at.select_slider(key="rcnn_proj").set_value(64).run()
    at.select_slider(key="rcnn_hidden").set_value(32).run()
    notes = " ".join(a.get("text", "") for a in _diagram(at)["layout"]["annotations"])
    # [c_l; e; c_r] -> P: E = 64 by default, plus the bigram embedding training adds.
    B = embedding_widths(ModelConfig(model="textrcnn"))[1]
    assert B == ModelConfig.bigram_dim > 0
    assert f"[32; 64+{B}; 32] → 64" in notes
    assert at.info[-1].value == text("zh", "ui/training", "comparison.empty")


def test_the_page_says_what_the_shipped_text_rnn_does(at: AppTest) -> None:
    """Issue 10 #9: the contrast with Text-RNN must not say it reads only the last state."""
    shown = " ".join(m.value for m in at.markdown)
    assert text("zh", "textrcnn", "contrast") in shown
    assert "只看最后状态不同" not in shown
    at.sidebar.radio(key="lang").set_value("en").run()
    shown = " ".join(m.value for m in at.markdown)
    assert "reads only the last state" not in shown and "max-pools" in shown
    assert at.title[0].value == text("en", "textrcnn", "title")


def test_tiny_run_reports_and_joins_the_comparison(at: AppTest, thucnews_dir: Path) -> None:
    at.radio(key="rcnn_mode").set_value("custom").run()  # the class preset is the default
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
    config = outcome.checkpoint.config
    assert config.model == "textrcnn" and config.rcnn_proj == 32
    assert text("zh", "ui/training", "report.header") in [h.value for h in at.header]
    specs = chart_specs(at)
    heat = next(s for s in specs if s["data"][0]["type"] == "heatmap")
    assert heat["data"][0]["text"] == outcome.report.confusion_matrix
    row = at.dataframe[-1].value.iloc[0]
    assert row[CMP["model"]] == outcome.name
    assert row[CMP["source"]] == text("zh", "plots/report", "source.session")
    assert row[CMP["params"]] == count_parameters(outcome.checkpoint.model)
    assert row[CMP["accuracy"]] == pytest.approx(round(outcome.report.accuracy, 4))
    assert row[CMP["macro_f1"]] == pytest.approx(round(outcome.report.macro.f1, 4))
    assert row[CMP["device"]] == outcome.device
    # The drawn projection width is the trained model's own.
    config = outcome.checkpoint.config
    E, B = embedding_widths(config)
    assert outcome.checkpoint.model.proj.in_features == 2 * config.hidden_size + E + B


def _shipped(folder: Path, model: str, accuracy_hits: int) -> None:
    y_true = [0, 0, 1, 1]
    y_pred = y_true[:accuracy_hits] + [1 - y for y in y_true[accuracy_hits:]]
    report = classification_report(y_true, y_pred, ["finance", "sports"])
    info = {"seconds": 90.0, "device": "cuda", "params": 1234}
    checkpoint = tiny_checkpoint(model, metrics=report.to_json(), info=info)
    checkpoint.save(folder / f"{model}.safetensors")


def test_shipped_models_are_compared_best_first(monkeypatch, tmp_path: Path) -> None:
    _shipped(tmp_path, "textrnn", 3)
    _shipped(tmp_path, "textrcnn", 4)
    at = open_page(PAGE, monkeypatch=monkeypatch, models_dir=tmp_path)
    table = at.dataframe[-1].value
    shipped = [text("zh", "ui/training", "shipped", model=m) for m in ("RCNN", "Text-RNN")]
    assert list(table[CMP["model"]]) == shipped == ["RCNN（内置）", "Text-RNN（内置）"]
    assert list(table[CMP["accuracy"]]) == [1.0, 0.75]
    assert list(table[CMP["seconds"]]) == ["1 分 30 秒"] * 2
    assert list(table[CMP["device"]]) == ["cuda", "cuda"]
    assert list(table[CMP["params"]]) == [1234, 1234]
