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

from rnnviz import content
from rnnviz.core.checkpoint import Checkpoint
from rnnviz.core.classes import display_class
from rnnviz.core.data import Dataset
from rnnviz.core.models import ModelConfig
from rnnviz.core.predict import Predictor
from rnnviz.core.train import TrainConfig, train
from rnnviz.paths import MODELS_DIR
from rnnviz.plots.report import load_examples

PAGE = "pages/predict.py"
TEXT = "基金利率上涨，股市大涨"


def zh(key: str, doc: str = "predict", **values: object) -> str:
    """What the page shows in Chinese for ``key`` of ``doc`` (content/zh/<doc>.md)."""
    return content.text("zh", doc, key, **values)


SHIPPED = {name: zh("shipped", "ui/training", model=model)
           for name, model in (("textrnn", "Text-RNN"), ("textrcnn", "RCNN"))}


def _synthetic(n: int, seed: int) -> Dataset:
    pools = {"stocks": FINANCE_POOL, "sports": SPORTS_POOL, "game": GAME_POOL}
    return pooled_dataset(n, seed, pools)


def _train(model: str, cell: str) -> Checkpoint:
    torch.manual_seed(0)
    config = ModelConfig(model=model, cell=cell, embed_dim=8, hidden_size=6,
                         num_layers=2 if model == "textrnn" else 1, bidirectional=True,
                         rcnn_proj=8)
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
    p = want.probabilities[want.label]
    assert at.success[0].value == zh("answer", name=display_class(want.label, "zh"),
                                     label=want.label, p=p)
    assert display_class(want.label, "zh") in at.success[0].value
    charts = chart_specs(at)
    bars = next(c for c in charts if c["data"][0]["type"] == "bar")["data"][0]
    got = dict(zip(bars["y"], plotly_values(bars["x"]), strict=True))
    for name, p in want.probabilities.items():
        assert got[display_class(name, "zh")] == pytest.approx(p, abs=1e-6)
    states = next(c for c in charts if c["data"][0]["type"] == "heatmap"
                  and "‖h_t‖" in json.dumps(c, ensure_ascii=False))
    norm = states["data"][-1]
    layer = want.layers[0]  # layer 1, forward: the default choice
    np.testing.assert_allclose(plotly_values(norm["z"][0]), layer.hidden_norm, rtol=1e-5,
                               atol=1e-6)
    assert states["layout"]["xaxis3"]["ticktext"] == want.tokens
    # The caption names the rows this cell kind has (a GRU has no cell state c).
    captions = [c.value for c in at.caption]
    assert zh(f"states.caption.{layer.kind}") in captions


@pytest.mark.parametrize("name", ["textrnn", "textrcnn"])
def test_each_shipped_model_predicts_and_shows_its_gates(at: AppTest, shipped_dir: Path,
                                                         name: str) -> None:
    at.selectbox(key="predict_model").set_value(SHIPPED[name]).run()
    at.text_area(key="predict_text").set_value(TEXT).run()
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
    assert list(table.iloc[:3, 0]) == ["股票", "体育", "游戏"]
    assert table.iloc[-1, 0] == zh("row.weighted", "plots/report")
    # The classic printout says what the stored report scored: the dev set.
    n = predictor.checkpoint.metrics["n"]
    assert at.code[-1].value.startswith(f"Evaluated on dev (n={n})")


def test_example_choice_fills_the_text_and_unit_view(at: AppTest) -> None:
    example = load_examples()[3].text
    # Its class beside it.
    option = zh("example.option", text=example, label="股票")
    assert at.selectbox(key="predict_example").options[3] == option == example + "（股票）"
    at.selectbox(key="predict_example").set_value(example).run()
    assert at.text_area(key="predict_text").value == example
    at.radio(key="predict_view").set_value("unit").run()
    at.number_input(key="predict_unit").set_value(2).run()
    assert not at.exception
    states = next(c for c in chart_specs(at) if "‖h_t‖" in json.dumps(c, ensure_ascii=False))
    assert zh("states.unit", "plots/classifier", unit=2) in states["layout"]["title"]["text"]


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
        assert at.info[-1].value == zh("empty")
        assert not at.get("plotly_chart")


def test_long_text_and_unknown_tokens_are_announced(at: AppTest) -> None:
    # 601 tokens, max_len 512.
    at.text_area(key="predict_text").set_value("股市" * 300 + "龘").run()
    assert not at.exception and not at.error
    assert at.warning[0].value == zh("truncated", n=512, total=601)
    at.text_area(key="predict_text").set_value("股市龘靐").run()
    assert not at.warning and zh("unknown", n=2) in [c.value for c in at.caption]
    tokens = next(m.value for m in at.markdown if "<span" in m.value)
    assert tokens.count("dashed") == 2


def test_control_characters_only_are_not_an_error(at: AppTest) -> None:
    at.text_area(key="predict_text").set_value("\u200b\u200b").run()
    assert not at.exception and not at.error and at.info[-1].value == zh("unreadable")


def test_uploads_good_pickle_and_foreign(at: AppTest, shipped_dir: Path) -> None:
    upload = at.selectbox(key="predict_model").options[-1]
    assert upload == zh("upload.option", "ui/models")
    at.selectbox(key="predict_model").set_value(upload).run()
    evil = ("evil.safetensors", pickle.dumps({"weights": [1, 2, 3]}), "application/octet-stream")
    at.file_uploader(key="predict_upload").set_value(evil).run()
    assert not at.exception and "pickle" in at.error[0].value and "refused" in at.error[0].value
    foreign = save_safetensors({"w": torch.zeros(2, 2)})
    other = ("other.safetensors", foreign, "application/octet-stream")
    at.file_uploader(key="predict_upload").set_value(other).run()
    assert "not from RNN Lab" in at.error[0].value
    # A sound checkpoint without a stored report: predicts, and says there is no report.
    ckpt = Predictor.from_file(shipped_dir / "textrcnn.safetensors").checkpoint
    bare = Checkpoint(ckpt.model, ckpt.config, ckpt.vocab, ckpt.classes).to_bytes()
    mine = ("mine.safetensors", bare, "application/octet-stream")
    at.file_uploader(key="predict_upload").set_value(mine).run()
    at.text_area(key="predict_text").set_value(TEXT).run()
    _check_prediction(at, Predictor.from_bytes(bare, "mine.safetensors"), TEXT)
    at.toggle(key="predict_show_report").set_value(True).run()
    assert zh("report.none", "ui/training") in [i.value for i in at.info]


def test_no_shipped_model_yet(monkeypatch, tmp_path: Path) -> None:
    at = open_page(PAGE, monkeypatch=monkeypatch, models_dir=tmp_path)
    assert at.info[0].value == zh("no_shipped", "ui/models")
    assert at.selectbox(key="predict_model").options == [zh("upload.option", "ui/models")]
    assert at.get("file_uploader") and not at.get("plotly_chart")


@pytest.mark.usefixtures("shipped_models")  # skips, or fails in CI, without them
def test_the_real_shipped_models(monkeypatch) -> None:
    at = open_page(PAGE, monkeypatch=monkeypatch, models_dir=MODELS_DIR)
    text = "国足主场两球战胜对手，世预赛出线形势明朗"
    at.text_area(key="predict_text").set_value(text).run()
    for name, label in SHIPPED.items():
        at.selectbox(key="predict_model").set_value(label).run()
        predictor = Predictor.from_file(MODELS_DIR / f"{name}.safetensors")
        _check_prediction(at, predictor, text)


def test_english(at: AppTest) -> None:
    at.sidebar.radio(key="lang").set_value("en").run()
    assert not at.exception
    assert at.title[0].value == content.text("en", "predict", "title")
    assert at.success[0].value.startswith("Predicted: **")
    example = load_examples()[3]
    option = f"{example.text} ({display_class(example.label, 'en')})"  # no Chinese parentheses
    assert at.selectbox(key="predict_example").options[3] == option


# ---- two attributions, and how far back the answer reaches -------------------------------


def test_two_attributions_side_by_side(at: AppTest, shipped_dir: Path) -> None:
    from rnnviz.core.attribution import compare, scaled
    from rnnviz.plots.attribution import disagreement_rows

    at.text_area(key="predict_text").set_value(TEXT).run()
    assert not at.get("plotly_chart")[2:], "off until asked for: no extra forwards per keystroke"
    at.toggle(key="predict_show_attribution").set_value(True).run()
    assert not at.exception and not at.error
    predictor = Predictor.from_file(shipped_dir / "textrnn.safetensors")
    pred = predictor.predict(TEXT)
    c = compare(predictor, TEXT, pred.layers)
    chart = next(s for s in chart_specs(at) if len(s["data"]) == 2
                 and s["data"][0]["type"] == "heatmap" and s["data"][1].get("mode") == "text")
    z = [plotly_values(row) for row in chart["data"][0]["z"]]
    np.testing.assert_allclose(z[0], pred.importance, atol=1e-4)  # the colours above
    np.testing.assert_allclose(z[1], scaled(c.occlusion.drop_deleted), atol=1e-4)
    np.testing.assert_allclose(z[2], scaled(c.occlusion.drop_unk), atol=1e-4)
    assert chart["layout"]["xaxis"]["ticktext"] == pred.tokens
    if c.disagreements:
        table = at.dataframe[0].value
        assert table.to_dict("records") == disagreement_rows(c, "zh")
    else:
        assert zh("attr.agree") in [s.value for s in at.success]
    # The evidence per token: this model max-pools and has gates.
    evidence = next(s for s in chart_specs(at) if s["layout"].get("title", {}).get("text")
                    == zh("ev.title", "plots/attribution"))
    wins = plotly_values(evidence["data"][0]["y"]) + plotly_values(evidence["data"][1]["y"])
    assert wins.tolist() == [c.pool.wins(t) for t in range(len(pred.tokens))]


def test_every_model_s_reach_on_the_same_text(at: AppTest, shipped_dir: Path) -> None:
    from rnnviz.core.attribution import gradients

    at.text_area(key="predict_text").set_value(TEXT).run()
    at.toggle(key="predict_show_reach").set_value(True).run()
    assert not at.exception and not at.error
    chart = next(s for s in chart_specs(at) if s["data"][0]["type"] == "scatter"
                 and s["data"][0].get("mode") == "lines+markers")
    assert [t["name"] for t in chart["data"]] == list(SHIPPED.values())
    for trace, name in zip(chart["data"], SHIPPED, strict=True):
        g = gradients(Predictor.from_file(shipped_dir / f"{name}.safetensors"), TEXT)
        np.testing.assert_allclose(plotly_values(trace["y"]),
                                   g.connectivity / g.connectivity.max(), atol=1e-4)
    table = at.dataframe[0].value
    assert list(table.iloc[:, 0]) == list(SHIPPED.values())


def test_a_title_of_unknown_characters_only_is_said_so(at: AppTest) -> None:
    at.text_area(key="predict_text").set_value("龘靐").run()
    assert not at.exception and not at.error
    assert at.warning[0].value == zh("all_unknown", n=2)
    at.toggle(key="predict_show_attribution").set_value(True).run()
    assert zh("attr.unknown") in [i.value for i in at.info]


def test_occlusion_is_refused_for_a_long_text(at: AppTest) -> None:
    at.text_area(key="predict_text").set_value("股市" * 40).run()
    at.toggle(key="predict_show_attribution").set_value(True).run()
    assert not at.exception
    assert zh("attr.too_long", n=80, max=64) in [i.value for i in at.info]


def test_an_upload_is_offered_on_the_error_page_too(at: AppTest, shipped_dir: Path) -> None:
    upload = at.selectbox(key="predict_model").options[-1]
    at.selectbox(key="predict_model").set_value(upload).run()
    data = (shipped_dir / "textrcnn.safetensors").read_bytes()
    at.file_uploader(key="predict_upload").set_value(
        ("mine.safetensors", data, "application/octet-stream")).run()
    label = zh("model.uploaded", "ui/models", name="mine.safetensors")
    at.run()  # listed from the next rerun on
    assert label in at.selectbox(key="predict_model").options
    at.switch_page("pages/errors.py").run()
    assert label in at.selectbox(key="errors_model").options
