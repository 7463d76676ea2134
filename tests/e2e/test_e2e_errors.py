"""The error page in a real browser: upload a model and a labelled file, click a cell of the
confusion matrix to list its titles, and one click on a listed title opens it on the predict
page, with that model, showing what the core predicts (and its two attribution panels).

The titles, their order and the prediction are checked against the core run here, in the test
process, on the same files.
"""

from __future__ import annotations

import random
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from apppage import AppPage, existing
from playwright.sync_api import expect

from rnnviz.core.checkpoint import Checkpoint
from rnnviz.core.classes import THUCNEWS_CLASSES, display_class
from rnnviz.core.mistakes import (
    cell_examples,
    load_labelled_upload,
    most_common_confusion,
    predict_dataset,
)
from rnnviz.core.models import ModelConfig, build_model
from rnnviz.core.predict import Predictor
from rnnviz.core.text import PAD, UNK, Vocab

pytestmark = pytest.mark.e2e

UPLOAD_OPTION = "上传 .safetensors 模型…"
POOLS = {"体育": "球赛冠军队员比分联赛主场", "财经": "银行利率股市基金投资理财",
         "科技": "芯片手机网络软件数据智能", "娱乐": "电影明星演唱会综艺导演"}


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> tuple[Path, Path]:
    """(an untrained Text-RNN over THUCNews's ten classes, weights scaled up so that it errs in
    several cells; 60 labelled titles in cnews format, classes named in Chinese)."""
    folder = tmp_path_factory.mktemp("errors")
    rng = random.Random(0)
    rows = []
    for i in range(60):
        label = list(POOLS)[i % len(POOLS)]
        rows.append(label + "\t" + "".join(rng.choice(POOLS[label]) for _ in range(8)))
    data = folder / "titles.txt"
    data.write_text("\n".join(rows) + "\n", encoding="utf-8")
    vocab = Vocab((PAD, UNK, *sorted(set("".join(POOLS.values())))))
    config = ModelConfig(vocab_size=len(vocab), num_classes=len(THUCNEWS_CLASSES), embed_dim=8,
                         hidden_size=6, num_layers=1, max_len=64)
    torch.manual_seed(5)
    model = build_model(config).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(3.0)
    ckpt = folder / "toy.safetensors"
    Checkpoint(model, config, vocab, list(THUCNEWS_CLASSES)).save(ckpt)
    return ckpt, data


def test_one_click_from_a_mistake_to_the_predict_view(app: AppPage, files) -> None:
    ckpt, data = files
    predictor = Predictor.from_file(ckpt)
    dataset, _ = load_labelled_upload(data.read_bytes(), data.name, predictor.classes)
    preds = predict_dataset(predictor, dataset)
    true, pred = most_common_confusion(preds.confusion())
    first = cell_examples(preds, true, pred)[0]  # the page's first cell: most confident first
    assert true != pred and np.isfinite(first.p_pred)

    app.open(existing("pages/errors.py"))
    app.choose("模型", UPLOAD_OPTION)
    app.upload("RNN Lab 保存的模型", ckpt)
    app.page.get_by_test_id("stRadio").filter(has_text="带标签的标题").get_by_text(
        "上传带标签的文件").click()
    app.settle()
    app.upload("带标签的标题", data)
    main = app.page.get_by_test_id("stMain")
    names = [display_class(c, "zh") for c in predictor.classes]
    # The page starts on the most frequent confusion, most confident title first.
    expect(main).to_contain_text(f"条真实类别为 {names[true]} 的标题被模型判为 {names[pred]}")
    expect(main.get_by_text(first.text, exact=True).first).to_be_visible()
    app.assert_healthy()
    app.screenshot("errors-cell")
    # A click on a cell of the matrix lists that cell: its marker (trace 1, true * C + pred).
    C = len(predictor.classes)
    markers = main.get_by_test_id("stPlotlyChart").first.locator("g.scatterlayer path.point")

    def click_cell(t: int, p: int) -> None:
        markers.nth(t * C + p).click(force=True)
        app.settle()

    cm = preds.confusion()
    t2, p2 = next((t, p) for t in range(C) for p in range(C) if cm[t, p] and (t, p) != (true, pred))
    click_cell(t2, p2)
    judged = "判对" if t2 == p2 else f"判为 {names[p2]}"
    expect(main).to_contain_text(f"条真实类别为 {names[t2]} 的标题被模型{judged}")
    expect(main.get_by_text(cell_examples(preds, t2, p2)[0].text, exact=True).first).to_be_visible()
    click_cell(true, pred)
    expect(main.get_by_text(first.text, exact=True).first).to_be_visible()

    main.get_by_role("button", name="🔍").first.click()
    app.wait()
    expect(main.locator("h1").first).to_contain_text("预测与门控")
    area = app.page.get_by_label("或输入一段中文新闻标题")
    expect(area).to_have_value(first.text)
    expected = predictor.predict(first.text)
    box = main.get_by_test_id("stAlertContentSuccess").filter(has_text="预测类别")
    expect(box).to_contain_text(
        f"预测类别：{display_class(expected.label, 'zh')}（{expected.label}）")
    expect(box).to_contain_text(f"{expected.probabilities[expected.label]:.1%}")
    assert expected.label_index == pred
    # Where it came from, and the way back.
    expect(main.get_by_test_id("stAlertContentInfo").first).to_contain_text(
        re.compile("从「错在哪里」页打开"))
    # The two attribution panels on that title: each a fragment behind its switch.
    for label in ("比较「梯度 × 输入」与遮挡法", "显示每个模型在这段文本上的连通度"):
        app.page.get_by_text(label).click()
        app.settle()
    expect(main).to_contain_text("梯度 × 输入")
    expect(main).to_contain_text("答案能回溯多远")
    # probabilities, gates, the two attributions, the evidence, connectivity
    expect(main.get_by_test_id("stPlotlyChart")).to_have_count(5)
    app.assert_healthy()
    app.screenshot("errors-opened-in-predict")
