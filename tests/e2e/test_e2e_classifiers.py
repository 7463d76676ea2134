"""The classifier pages in a real browser: train a small model and stop it, download it, predict
with it; predict with an uploaded and with the shipped checkpoint; refuse hostile uploads.

Every label and probability the page shows is checked against ``Predictor`` run here, in the
test process, on the same checkpoint file.
"""

from __future__ import annotations

import pickle
import random
import re
from pathlib import Path

import pytest
import torch
from apppage import AppPage, existing
from playwright.sync_api import expect

from rnnviz.core.checkpoint import Checkpoint
from rnnviz.core.classes import THUCNEWS_CLASSES, display_class
from rnnviz.core.models import ModelConfig, build_model
from rnnviz.core.predict import Prediction, Predictor
from rnnviz.core.text import PAD, UNK, Vocab
from rnnviz.plots.report import load_examples

pytestmark = pytest.mark.e2e

SENTENCE = "国足主场两球战胜对手，世预赛出线形势明朗"
MARKUP = "<script>alert(1)</script> <img src=x onerror=alert(1)>"
UPLOAD_OPTION = "上传 .safetensors 模型…"


# --- files the browser uploads ---------------------------------------------------------------


@pytest.fixture(scope="module")
def toy_checkpoint(tmp_path_factory) -> Path:
    """A small untrained Text-RNN over the characters of the examples (weights scaled up so the
    ten probabilities differ visibly)."""
    texts = [SENTENCE, MARKUP, *(e.text for e in load_examples())]
    vocab = Vocab((PAD, UNK, *sorted({ch for t in texts for ch in t if not ch.isspace()})))
    config = ModelConfig(vocab_size=len(vocab), num_classes=len(THUCNEWS_CLASSES), embed_dim=8,
                         hidden_size=6, num_layers=2, max_len=64)
    torch.manual_seed(3)
    model = build_model(config).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(3.0)
    path = tmp_path_factory.mktemp("ckpt") / "toy.safetensors"
    Checkpoint(model, config, vocab, list(THUCNEWS_CLASSES)).save(path)
    return path


class _Marker:
    """Unpickling this creates the marker file: proof that a pickle ran code."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def _training_file(path: Path, lines: int = 6000, seed: int = 0) -> Path:
    """cnews format (label<TAB>title): four classes with their own characters, easy to learn."""
    rng = random.Random(seed)
    pools = {"体育": "球赛冠军队员比分联赛主场", "财经": "银行利率股市基金投资理财",
             "科技": "芯片手机网络软件数据智能", "娱乐": "电影明星演唱会综艺导演"}
    common = "的了在是今日新发布"
    rows = []
    for i in range(lines):
        label = list(pools)[i % len(pools)]
        rows.append(label + "\t" + "".join(
            rng.choice(pools[label] + common) for _ in range(rng.randint(6, 16))
        ))
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


# --- page helpers ----------------------------------------------------------------------------


def type_text(app: AppPage, text: str) -> None:
    area = app.page.get_by_label("或输入一段中文新闻标题")
    area.fill(text)
    area.press("Control+Enter")  # a text area commits on Ctrl+Enter (or blur)
    area.blur()  # else a later click elsewhere blurs it mid-way (a rerun closes open menus)
    app.settle()


def shown_prediction(app: AppPage) -> tuple[str, str, str]:
    """(class shown in Chinese, class name, probability text) from the page's answer box."""
    box = app.page.get_by_test_id("stAlertContentSuccess").filter(has_text="预测类别")
    expect(box).to_be_visible()
    m = re.search(r"预测类别：(.+?)（(.+?)），概率 ([\d.]+%)", box.inner_text())
    assert m, box.inner_text()
    return m.group(1), m.group(2), m.group(3)


def shown_tokens(app: AppPage) -> list[str]:
    """The coloured token spans (rnnviz.plots.report.importance_html), as the browser shows them."""
    spans = app.page.locator("[data-testid=stMarkdownContainer] div[style*='line-height'] > span")
    expect(spans.first).to_be_visible()
    return spans.all_text_contents()


def assert_matches(app: AppPage, expected: Prediction) -> None:
    zh, name, prob = shown_prediction(app)
    assert (zh, name) == (display_class(expected.label, "zh"), expected.label)
    assert prob == f"{expected.probabilities[expected.label]:.1%}"
    assert shown_tokens(app) == expected.tokens


# --- predict page ----------------------------------------------------------------------------


def test_predict_uploaded_checkpoint_shows_what_the_core_computes(
    app: AppPage, toy_checkpoint: Path
) -> None:
    app.open(existing("pages/predict.py"))
    app.choose("模型", UPLOAD_OPTION)
    app.upload("RNN Lab 保存的模型", toy_checkpoint)
    predictor = Predictor.from_file(toy_checkpoint)
    examples = load_examples()
    if examples:  # the page starts with the first example sentence
        assert_matches(app, predictor.predict(examples[0].text))
    type_text(app, SENTENCE)
    assert_matches(app, predictor.predict(SENTENCE))
    # Look inside: one unit of the second layer's backward direction.
    app.choose("层 / 方向", "第 2 层 · 反向")
    app.page.get_by_test_id("stRadio").filter(has_text="视图").get_by_text("单个单元").click()
    app.settle()
    expect(app.page.get_by_label(re.compile(r"单元（0–5）"))).to_be_visible()
    app.assert_healthy()
    app.screenshot("predict-uploaded")


def test_predict_page_shows_typed_markup_as_text(app: AppPage, toy_checkpoint: Path) -> None:
    app.open(existing("pages/predict.py"))
    app.choose("模型", UPLOAD_OPTION)
    app.upload("RNN Lab 保存的模型", toy_checkpoint)
    type_text(app, MARKUP)
    expected = Predictor.from_file(toy_checkpoint).predict(MARKUP)
    assert "<" in expected.tokens and ">" in expected.tokens
    assert_matches(app, expected)  # every "<", "=", "(" shown literally, one span each
    assert app.page.locator("img[src=x], img[onerror]").count() == 0
    scripts = app.page.locator("script").evaluate_all("els => els.map(e => e.textContent)")
    assert not any("alert(1)" in s for s in scripts)
    app.assert_healthy()  # includes: no alert dialog opened
    app.screenshot("predict-markup-typed")


def test_predict_refuses_a_pickle_without_running_it(app: AppPage, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.safetensors"
    evil.write_bytes(pickle.dumps({"state_dict": _Marker(marker)}))
    app.open(existing("pages/predict.py"))
    app.choose("模型", UPLOAD_OPTION)
    app.upload("RNN Lab 保存的模型", evil)
    error = app.page.get_by_test_id("stAlertContentError")
    expect(error).to_contain_text("无法使用这个文件")
    expect(error).to_contain_text("pickle")
    expect(error).to_contain_text("evil.safetensors")
    assert not marker.exists(), "the server unpickled the upload"
    app.assert_healthy()


@pytest.mark.parametrize(("name", "option"), [("textrnn", "Text-RNN"), ("textrcnn", "RCNN")])
def test_predict_with_a_shipped_model(
    app: AppPage, shipped_models: dict[str, Path], name: str, option: str
) -> None:
    path = shipped_models[name]
    app.open(existing("pages/predict.py"))
    app.choose("模型", re.compile(rf"^{option}（内置）"))
    type_text(app, SENTENCE)
    assert_matches(app, Predictor.from_file(path).predict(SENTENCE))
    app.assert_healthy()
    app.screenshot(f"predict-shipped-{name}")


# --- training pages --------------------------------------------------------------------------


def test_textrnn_trains_stops_and_its_download_predicts_the_same(
    app: AppPage, tmp_path: Path
) -> None:
    app.open(existing("pages/textrnn.py"))
    # The class preset is the default: choose every setting by hand instead.
    app.page.get_by_test_id("stRadio").filter(has_text="训练方式").get_by_text("自定义").click()
    app.settle()
    for label in ("隐藏单元数 H", "嵌入维度 E"):  # the smallest model
        slider = app.slider(label)
        slider.focus()
        slider.press("Home")
        app.settle()
    app.page.get_by_test_id("stRadio").filter(has_text="数据来源").get_by_text("上传文件").click()
    app.settle()
    app.upload("训练文件", _training_file(tmp_path / "titles.txt"))
    main = app.page.get_by_test_id("stMain")
    expect(main.get_by_test_id("stAlertContentSuccess")).to_contain_text("条训练样本，4 个类别")
    epochs = app.slider("训练轮数 epochs")
    epochs.focus()
    epochs.press("End")  # a long run, so Stop surely comes before its end
    app.settle()

    app.page.get_by_role("button", name="开始训练").click()
    progress = main.get_by_test_id("stProgress")
    # Stop only once a step is done (step 0 is shown before the first): the run then always
    # has weights to keep, so the download below is always checked.
    expect(progress).to_contain_text(re.compile(r"第 [1-9]\d*/\d+ 步"), timeout=180_000)
    app.page.get_by_role("button", name="停止（保留最好的模型）").click()
    expect(main).to_contain_text(re.compile(r"已手动停止（\d+\.\d 秒）"), timeout=60_000)
    app.wait()
    app.assert_healthy()
    app.screenshot("textrnn-stopped")
    save = app.page.get_by_role("button", name="下载模型（.safetensors）")
    expect(save).to_be_visible()
    expect(main).not_to_contain_text("在第一步之前就停止了")
    expect(main).to_contain_text("你按了停止")
    with app.page.expect_download() as info:
        save.click()
    path = tmp_path / "trained.safetensors"
    info.value.save_as(path)
    predictor = Predictor.from_file(path)
    assert predictor.config.hidden_size == 16 and predictor.config.embed_dim == 16

    # The model just trained is offered on the predict page, and predicts as its download does.
    app.page.get_by_role("link", name=re.compile("用它预测、看门控")).click()
    expect(app.page.get_by_test_id("stMain").locator("h1").first).to_contain_text("预测与门控")
    app.wait()
    app.choose("模型", re.compile(r"^本次训练："))
    type_text(app, "球赛冠军队员比分")
    assert_matches(app, predictor.predict("球赛冠军队员比分"))
    app.assert_healthy()


def test_textrcnn_upload_lists_bad_lines_and_refuses_a_gbk_file(
    app: AppPage, tmp_path: Path
) -> None:
    app.open(existing("pages/textrcnn.py"))
    app.page.get_by_test_id("stRadio").filter(has_text="数据来源").get_by_text("上传文件").click()
    app.settle()
    data = _training_file(tmp_path / "t.txt", lines=40).read_bytes()
    lines = data.split(b"\n")
    lines[4] = "体育\t国足".encode("gbk")  # line 5: a GBK line in a UTF-8 file
    lines[9] = "只有一列".encode()  # line 10: no tab
    mixed = tmp_path / "mixed.txt"
    mixed.write_bytes(b"\n".join(lines))
    app.upload("训练文件", mixed)
    main = app.page.get_by_test_id("stMain")
    expect(main.get_by_test_id("stAlertContentWarning")).to_contain_text(
        "读取 40 行，保留 38 行，跳过 2 行"
    )
    listing = main.get_by_test_id("stCode").filter(has_text="第 5 行").inner_text()
    assert "第 5 行：不是有效的 UTF-8" in listing and "像是 GBK 编码" in listing
    assert "第 10 行：应为用制表符分隔的 2 列" in listing
    expect(main.get_by_test_id("stAlertContentSuccess")).to_contain_text("38 条训练样本")

    gbk = tmp_path / "gbk.txt"
    gbk.write_bytes("体育\t国足主场两球战胜对手\n财经\t银行上调存款利率\n".encode("gbk"))
    app.upload("训练文件", gbk)
    expect(main.get_by_test_id("stAlertContentError")).to_contain_text("GBK")
    app.assert_healthy()
    app.screenshot("textrcnn-bad-upload")
