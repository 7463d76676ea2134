"""The predict page under AppTest: each shipped model (tiny ones trained here, and the real ones
when present), uploads (a good checkpoint, a pickle, a foreign safetensors), HTML in the text,
empty text, and the unit view."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from apptest_helpers import chart_specs, open_page, plotly_values
from helpers import FINANCE_POOL, GAME_POOL, SPORTS_POOL, one_torch_thread, pooled_dataset
from safetensors.torch import save as save_safetensors
from streamlit.testing.v1 import AppTest

from rnnviz.core.checkpoint import Checkpoint
from rnnviz.core.data import Dataset, display_class
from rnnviz.core.models import ModelConfig
from rnnviz.core.predict import Predictor
from rnnviz.core.train import TrainConfig, train
from rnnviz.paths import MODELS_DIR
from rnnviz.plots.report import load_examples

PAGE = "pages/predict.py"
TEXT = "基金利率上涨，股市大涨"


def _synthetic(n: int, seed: int) -> Dataset:
    pools = {"stocks": FINANCE_POOL, "sports": SPORTS_POOL, "game": GAME_POOL}
    return pooled_dataset(n, seed, pools)


def _train(model: str, cell: str) -> Checkpoint:
    torch.manual_seed(0)
    config = ModelConfig(model=model, cell=cell, embed_dim=8, hidden_size=6, num_layers=2 if model == "textrnn" else 1,
                         bidirectional=True, rcnn_proj=8)  # fmt: skip
    tc = TrainConfig(epochs=4, batch_size=16, lr=1e-2, warmup_steps=0, patience=0, device="cpu")
    result = train(config, tc, _synthetic(150, 0), _synthetic(60, 1))
    return Checkpoint.from_train_result(result, info={"data_source": "synthetic"})


@pytest.fixture(scope="module")
def shipped_dir(tmp_path_factory) -> Path:
    with one_torch_thread():
        folder = tmp_path_factory.mktemp("models")
        _train("textrnn", "lstm").save(folder / "textrnn.safetensors")
        _train("textrcnn", "gru").save(folder / "textrcnn.safetensors")
    return folder


@pytest.fixture
def at(monkeypatch, shipped_dir: Path) -> AppTest:
    return open_page(PAGE, monkeypatch=monkeypatch, models_dir=shipped_dir)


def _check_prediction(at: AppTest, predictor: Predictor, text: str) -> None:
    want = predictor.predict(text)
    assert not at.exception and not at.error
    assert display_class(want.label, "zh") in at.success[0].value and f"（{want.label}）" in at.success[0].value
    charts = chart_specs(at)
    bars = next(c for c in charts if c["data"][0]["type"] == "bar")["data"][0]
    got = dict(zip(bars["y"], plotly_values(bars["x"]), strict=True))
    for name, p in want.probabilities.items():
        assert got[display_class(name, "zh")] == pytest.approx(p, abs=1e-6)
    states = next(c for c in charts if c["data"][0]["type"] == "heatmap" and "‖h_t‖" in json.dumps(c, ensure_ascii=False))
    norm = states["data"][-1]
    layer = want.layers[0]  # layer 1, forward: the default choice
    np.testing.assert_allclose(plotly_values(norm["z"][0]), layer.hidden_norm, rtol=1e-5, atol=1e-6)
    assert states["layout"]["xaxis3"]["ticktext"] == want.tokens


@pytest.mark.parametrize("label", ["Text-RNN（内置）", "RCNN（内置）"])
def test_each_shipped_model_predicts_and_shows_its_gates(at: AppTest, shipped_dir: Path, label: str) -> None:
    at.selectbox(key="predict_model").set_value(label).run()
    at.text_area(key="predict_text").set_value(TEXT).run()
    name = "textrnn" if label.startswith("Text") else "textrcnn"
    predictor = Predictor.from_file(shipped_dir / f"{name}.safetensors")
    _check_prediction(at, predictor, TEXT)
    layers = at.selectbox(key="predict_layer").options
    assert len(layers) == len(predictor.predict(TEXT).layers) == (4 if name == "textrnn" else 2)
    # The stored dev report, on demand: accuracy and the per-class table with averages.
    assert not at.dataframe
    at.toggle(key="predict_show_report").set_value(True).run()
    report = predictor.checkpoint.metrics
    assert any(m.value == f"{report['accuracy']:.2%}" for m in at.metric)
    table = at.dataframe[0].value
    assert list(table.iloc[:3, 0]) == ["股票", "体育", "游戏"] and table.iloc[-1, 0] == "加权平均"


def test_example_choice_fills_the_text_and_unit_view(at: AppTest) -> None:
    example = load_examples()[3].text
    assert at.selectbox(key="predict_example").options[3] == example + "（股票）"  # its class beside it
    at.selectbox(key="predict_example").set_value(example).run()
    assert at.text_area(key="predict_text").value == example
    at.radio(key="predict_view").set_value("unit").run()
    at.number_input(key="predict_unit").set_value(2).run()
    assert not at.exception
    states = next(c for c in chart_specs(at) if "‖h_t‖" in json.dumps(c, ensure_ascii=False))
    assert "单元 2" in states["layout"]["title"]["text"]


@pytest.mark.parametrize("evil", ["<script>alert(1)</script>", "<img src=x onerror=alert(1)>"])
def test_html_in_the_text_is_shown_escaped(at: AppTest, evil: str) -> None:
    at.text_area(key="predict_text").set_value(evil + "股市").run()
    assert not at.exception
    markdown = [m.value for m in at.markdown]
    tokens = next(m for m in markdown if "<span" in m)
    assert "&lt;" in tokens and "&gt;" in tokens
    assert not any("<script" in m or "<img" in m for m in markdown)


def test_empty_text_gets_a_friendly_message(at: AppTest) -> None:
    for text in ("", "   \n\t"):
        at.text_area(key="predict_text").set_value(text).run()
        assert not at.exception and not at.error
        assert "请输入一句话" in at.info[-1].value
        assert not at.get("plotly_chart")


def test_long_text_and_unknown_tokens_are_announced(at: AppTest) -> None:
    at.text_area(key="predict_text").set_value("股市" * 300 + "龘").run()  # 601 tokens, max_len 512
    assert not at.exception and not at.error
    assert "只读了前 512 个词元（共 601 个）" in at.warning[0].value
    at.text_area(key="predict_text").set_value("股市龘靐").run()
    assert not at.warning and any("2 个词元不在词表中" in c.value for c in at.caption)
    tokens = next(m.value for m in at.markdown if "<span" in m.value)
    assert tokens.count("dashed") == 2


def test_control_characters_only_are_not_an_error(at: AppTest) -> None:
    at.text_area(key="predict_text").set_value("\u200b\u200b").run()
    assert not at.exception and not at.error and "没有可读的字" in at.info[-1].value


def test_uploads_good_pickle_and_foreign(at: AppTest, shipped_dir: Path) -> None:
    upload = at.selectbox(key="predict_model").options[-1]
    at.selectbox(key="predict_model").set_value(upload).run()
    at.file_uploader(key="predict_upload").set_value(
        ("evil.safetensors", pickle.dumps({"weights": [1, 2, 3]}), "application/octet-stream")).run()
    assert not at.exception and "pickle" in at.error[0].value and "refused" in at.error[0].value
    foreign = save_safetensors({"w": torch.zeros(2, 2)})
    at.file_uploader(key="predict_upload").set_value(("other.safetensors", foreign, "application/octet-stream")).run()
    assert "not from RNN Lab" in at.error[0].value
    # A sound checkpoint without a stored report: predicts, and says there is no report.
    ckpt = Predictor.from_file(shipped_dir / "textrcnn.safetensors").checkpoint
    bare = Checkpoint(ckpt.model, ckpt.config, ckpt.vocab, ckpt.classes).to_bytes()
    at.file_uploader(key="predict_upload").set_value(("mine.safetensors", bare, "application/octet-stream")).run()
    at.text_area(key="predict_text").set_value(TEXT).run()
    _check_prediction(at, Predictor.from_bytes(bare, "mine.safetensors"), TEXT)
    at.toggle(key="predict_show_report").set_value(True).run()
    assert any("没有保存验证集报告" in i.value for i in at.info)


def test_no_shipped_model_yet(monkeypatch, tmp_path: Path) -> None:
    at = open_page(PAGE, monkeypatch=monkeypatch, models_dir=tmp_path)
    assert "还没有内置模型" in at.info[0].value
    assert at.selectbox(key="predict_model").options == ["上传 .safetensors 模型…"]
    assert at.get("file_uploader") and not at.get("plotly_chart")


@pytest.mark.skipif(not all((MODELS_DIR / f"{n}.safetensors").is_file() for n in ("textrnn", "textrcnn")),
                    reason="the shipped models are not trained yet")  # fmt: skip
def test_the_real_shipped_models(monkeypatch) -> None:
    at = open_page(PAGE, monkeypatch=monkeypatch, models_dir=MODELS_DIR)
    text = "国足主场两球战胜对手，世预赛出线形势明朗"
    at.text_area(key="predict_text").set_value(text).run()
    for label, name in (("Text-RNN（内置）", "textrnn"), ("RCNN（内置）", "textrcnn")):
        at.selectbox(key="predict_model").set_value(label).run()
        predictor = Predictor.from_file(MODELS_DIR / f"{name}.safetensors")
        _check_prediction(at, predictor, text)


def test_english(at: AppTest) -> None:
    at.sidebar.radio(key="lang").set_value("en").run()
    assert not at.exception
    assert "Predict" in at.title[0].value and "Predicted:" in at.success[0].value
