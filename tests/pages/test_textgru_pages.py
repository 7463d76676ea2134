"""The course's Text-RNN (textgru) as a third shipped model on every page that offers models:
the Text-RNN page's "course's model vs ours" (stored reports side by side, the ladder read
from its JSON), the predict page's model list, the step-by-step page's GRU list and the
LSTM & GRU page's trained GRU. Tiny checkpoints stand in for the shipped files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from apptest_helpers import open_page

from rnnviz.content import text
from rnnviz.core.checkpoint import Checkpoint
from rnnviz.core.classes import THUCNEWS_CLASSES
from rnnviz.core.config import ModelConfig
from rnnviz.core.metrics import classification_report
from rnnviz.core.models import build_model
from rnnviz.core.text import Vocab, make_tokenizer
from rnnviz.lessons import ablation as ab
from rnnviz.lessons.gating import EXAMPLE_TEXTS
from ui.training import shipped_label

PAGE = "pages/textrnn.py"
CLASSES = list(THUCNEWS_CLASSES)
VOCAB = Vocab.build([make_tokenizer("char")("".join(EXAMPLE_TEXTS) + "国足主帅谈世界杯")])


def _report(right: float, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(len(CLASSES)), 20)
    pred = np.where(rng.random(len(y)) < right, y, (y + 1) % len(CLASSES))
    return classification_report(y, pred, CLASSES).to_json()


@pytest.fixture
def shipped(tmp_path: Path) -> dict[str, dict]:
    """textgru (the course's GRU) and textrnn (a BiLSTM), each with a stored dev report."""
    small = dict(embed_dim=6, hidden_size=5, vocab_size=len(VOCAB), num_classes=len(CLASSES),
                 bigram_dim=0)
    configs = {"textgru": ModelConfig(**{**ab.COURSE_MODEL, **small, "fc_hidden": 7}),
               "textrnn": ModelConfig(**small, num_layers=2)}
    reports = {"textgru": _report(0.6, 0), "textrnn": _report(0.9, 1)}
    for name, config in configs.items():
        torch.manual_seed(0)
        Checkpoint(model=build_model(config).eval(), config=config, vocab=VOCAB, classes=CLASSES,
                   metrics=reports[name]).save(tmp_path / f"{name}.safetensors")
    return reports


def _ladder(tmp_path: Path) -> Path:
    rungs = [{"key": k, "accuracy": a, "macro_f1": a, "params": 10**6, "seconds": 60,
              "best_step": 100} for k, a in zip(ab.RUNG_KEYS, (0.85, 0.86, 0.87, 0.88, 0.885),
                                                 strict=True)]
    path = tmp_path / "ablation.json"
    path.write_text(json.dumps({"version": 1, "train": {"epochs": 5},
                                "data": {"train": 45000, "dev": 10000}, "rungs": rungs,
                                "command": "python bench/ablation.py"}))
    return path


def test_textrnn_page_puts_the_course_model_beside_ours_and_reads_the_ladder(
        monkeypatch, tmp_path: Path, shipped) -> None:
    monkeypatch.setattr(ab, "LADDER_FILE", _ladder(tmp_path))
    at = open_page(PAGE, monkeypatch=monkeypatch, models_dir=tmp_path)
    metrics = {m.label: m.value for m in at.metric}
    course = shipped["textgru"]["accuracy"]
    ours = shipped["textrnn"]["accuracy"]
    assert metrics[text("zh", "textrnn", "course.metric.course")] == f"{course:.2%}"
    assert metrics[text("zh", "textrnn", "course.metric.ours")] == f"{ours:.2%}"
    side = next(d.value for d in at.dataframe if len(d.value) == len(CLASSES) + 2)
    assert side.iloc[-2, 1] == pytest.approx(round(course, 4))
    ladder = at.dataframe[-1].value
    assert list(ladder.iloc[:, 3]) == ["—", "+1.00", "+1.00", "+1.00", "+0.50"]
    caption = text("zh", "textrnn", "ladder.caption", epochs=5, train=45000, dev=10000,
                   biggest=ab.rung_name("max_pool", "zh"), command="")
    assert any(c.value.startswith(caption.split("`")[0]) for c in at.caption)


def test_textrnn_page_without_the_files_says_what_is_missing(monkeypatch, tmp_path) -> None:
    monkeypatch.setattr(ab, "LADDER_FILE", tmp_path / "absent.json")
    at = open_page(PAGE, monkeypatch=monkeypatch, models_dir=tmp_path)
    shown = [i.value for i in at.info]
    assert text("zh", "textrnn", "course.missing") in shown
    assert text("zh", "textrnn", "ladder.missing") in shown


def test_predict_page_offers_the_course_model(monkeypatch, tmp_path: Path, shipped) -> None:
    at = open_page("pages/predict.py", monkeypatch=monkeypatch, models_dir=tmp_path)
    label = shipped_label("textgru")
    assert label == text("zh", "ui/training", "shipped",
                         model=text("zh", "ui/training", "name.textgru"))
    assert label in at.selectbox(key="predict_model").options
    at.selectbox(key="predict_model").set_value(label).run()
    assert not at.exception
    assert "GRU" in at.caption[0].value


def test_step_by_step_page_lists_the_trained_gru(monkeypatch, tmp_path: Path, shipped) -> None:
    at = open_page("pages/lstm_steps.py", monkeypatch=monkeypatch, models_dir=tmp_path)
    at.radio(key="steps_kind").set_value("gru").run()
    assert not at.exception
    shipped_gru = text("zh", "lstm_steps", "model.shipped", name="textgru")
    assert at.selectbox(key="steps_model_gru").options[0] == shipped_gru
    at.selectbox(key="steps_model_gru").set_value(shipped_gru).run()
    assert not at.exception
    at.radio(key="steps_kind").set_value("lstm").run()
    assert shipped_gru not in at.selectbox(key="steps_model_lstm").options


def test_lstm_gru_page_shows_the_trained_gru_classifier(monkeypatch, tmp_path: Path,
                                                        shipped) -> None:
    at = open_page("pages/lstm_gru.py", monkeypatch=monkeypatch, models_dir=tmp_path)
    at.radio(key="gates_kind").set_value("gru").run()
    assert not at.exception
    source = at.radio(key="gates_source_gru")
    assert source.options[0] == text("zh", "lstm_gru", "source.classifier")
    source.set_value("classifier").run()
    assert at.success[0].value == text("zh", "lstm_gru", "shown.classifier")
    assert len(at.selectbox(key="gates_layer").options) == 2  # two GRU layers, one direction
