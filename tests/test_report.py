"""Tables and token colouring of the classifier pages: the per-class table against
scikit-learn, the comparison rows against the models themselves, and HTML that cannot inject."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from sklearn.metrics import classification_report as sk_report

from rnnviz.content import text
from rnnviz.core.checkpoint import Checkpoint
from rnnviz.core.classes import THUCNEWS_CLASSES, display_class
from rnnviz.core.metrics import classification_report
from rnnviz.core.models import ModelConfig, build_model
from rnnviz.core.text import PAD, UNK, Vocab
from rnnviz.errors import RnnVizError
from rnnviz.plots.report import (
    EXAMPLES_FILE,
    ModelSummary,
    comparison_rows,
    escape_token,
    format_seconds,
    importance_html,
    load_examples,
    localized_rows,
    per_class_rows,
    summarize_checkpoint,
    table_columns,
    token_styles,
)

CLASSES = ["finance", "sports", "game"]


def _report(seed: int = 0):
    rng = np.random.default_rng(seed)
    y_true = rng.integers(0, 3, 120)
    y_pred = np.where(rng.random(120) < 0.6, y_true, rng.integers(0, 3, 120))
    return classification_report(y_true, y_pred, CLASSES, loss=0.7), y_true, y_pred


@pytest.mark.parametrize("seed", range(3))
def test_per_class_rows_match_sklearn(seed: int) -> None:
    report, y_true, y_pred = _report(seed)
    want = sk_report(y_true, y_pred, labels=[0, 1, 2], target_names=CLASSES, output_dict=True,
                     zero_division=0)
    rows = {r["name"]: r for r in per_class_rows(report, "en", digits=12)}
    for name in CLASSES:
        got, ref = rows[display_class(name, "en")], want[name]
        assert (got["precision"], got["recall"], got["f1"]) == pytest.approx(
            (ref["precision"], ref["recall"], ref["f1-score"]), abs=1e-9)
        assert got["support"] == ref["support"]
    for ours, theirs in (("macro avg", "macro avg"), ("weighted avg", "weighted avg")):
        assert rows[ours]["f1"] == pytest.approx(want[theirs]["f1-score"], abs=1e-9)
        assert rows[ours]["precision"] == pytest.approx(want[theirs]["precision"], abs=1e-9)
        assert rows[ours]["support"] == 120
    assert rows["accuracy"]["f1"] == pytest.approx(want["accuracy"])
    assert rows["accuracy"]["precision"] is None


def test_per_class_rows_use_chinese_class_names_and_localized_headers() -> None:
    report, *_ = _report()
    rows = per_class_rows(report, "zh")
    summary = [text("zh", "plots/report", k) for k in ("row.accuracy", "row.macro", "row.weighted")]
    assert [r["name"] for r in rows] == ["财经", "体育", "游戏", *summary]
    assert summary == ["准确率", "宏平均", "加权平均"]
    shown = localized_rows(rows, table_columns("zh"))
    assert list(shown[0]) == ["类别", "精确率", "召回率", "F1", "样本数"]
    assert shown[0]["样本数"] == report.per_class["finance"].support


def _checkpoint(model: str, metrics: dict | None, info: dict | None = None) -> Checkpoint:
    torch.manual_seed(0)
    vocab = Vocab((PAD, UNK, *"股市球赛"))
    config = ModelConfig(model=model, vocab_size=len(vocab), num_classes=3, embed_dim=4,
                         hidden_size=5, num_layers=1, rcnn_proj=6)
    return Checkpoint(build_model(config).eval(), config, vocab, CLASSES, metrics=metrics,
                      info=info or {})


def test_summary_reads_the_stored_report_and_counts_parameters() -> None:
    report, *_ = _report()
    ckpt = _checkpoint("textrcnn", report.to_json(), {"seconds": 12.5, "device": "cuda"})
    s = summarize_checkpoint(ckpt, "mine", "session")
    assert s.accuracy == pytest.approx(report.accuracy)
    assert s.macro_f1 == pytest.approx(report.macro.f1)
    # No "params" in info: counted from the model.
    assert s.params == sum(p.numel() for p in ckpt.model.parameters())
    assert (s.seconds, s.device, s.model) == (12.5, "cuda", "textrcnn")
    bare = summarize_checkpoint(_checkpoint("textrnn", None), "bare", "upload")
    assert bare.accuracy is None and bare.seconds is None and bare.device == "?"


def test_comparison_rows_best_first_models_without_report_last() -> None:
    rows = comparison_rows([
        ModelSummary("a", "session", "textrnn", "gru", 0.8, 0.79, 100, 61.0, "cpu"),
        ModelSummary("b", "upload", "textrnn", "lstm", None, None, 50, None, "?"),
        ModelSummary("c", "shipped", "textrcnn", "lstm", 0.9, 0.88, 200, 5.0, "cuda"),
    ], "en")
    assert [r["model"] for r in rows] == ["c", "a", "b"]
    assert rows[0]["architecture"] == "RCNN · LSTM" and rows[0]["source"] == "shipped"
    assert rows[1]["training time"] == "1 min 01 s" and rows[2]["accuracy"] is None
    assert rows[0]["parameters"] == 200 and rows[0]["macro F1"] == 0.88


def test_format_seconds() -> None:
    assert format_seconds(5.25, "en") == "5.2 s"
    assert format_seconds(3725, "zh") == "1 小时 02 分"
    assert format_seconds(None) == "—" and format_seconds(float("nan")) == "—"


def test_token_styles_colour_by_sign_and_size() -> None:
    styles = token_styles(["a", "b", "c"], np.array([1.0, -0.5, 0.0]), [False, True, False])
    assert styles[0].background == "rgba(214,39,40,0.850)"  # towards: red, full
    assert styles[1].background == "rgba(31,119,180,0.425)"  # away: blue, half
    assert styles[2].background.endswith(",0.000)") and styles[1].unknown
    with pytest.raises(RnnVizError, match="must match"):
        token_styles(["a"], np.zeros(2), [False])


@pytest.mark.parametrize("evil", ["<script>alert(1)</script>", '<img src=x onerror=alert(1)>',
                                  '" onmouseover="x'])
def test_importance_html_escapes_every_token(evil: str) -> None:
    tokens = [evil, *list(evil)]  # as one token and as characters
    unknown = [True] + [False] * (len(tokens) - 1)
    out = importance_html(tokens, np.linspace(-1, 1, len(tokens)), unknown, "en")
    assert "<script" not in out and "<img" not in out and 'onmouseover="' not in out
    # Only our own tags remain: every "<" opens a span or div we wrote.
    assert set(re.findall(r"<\/?(\w+)", out)) == {"div", "span"}
    assert f">{escape_token(evil)}</span>" in out and "&lt;" in out or "&quot;" in out
    assert out.count("dashed") == 1 and "not in the vocabulary" in out


def test_escaped_forms_of_tags() -> None:
    assert escape_token("<script>") == "&lt;script&gt;"
    assert escape_token("<img src=x onerror=alert(1)>") == (
        "&lt;img src=x onerror=alert&#40;1&#41;&gt;")
    assert escape_token('"') == "&quot;" and escape_token("'") == "&#x27;"


@given(st.text(max_size=40))
def test_escape_token_round_trips_and_leaves_no_markup(text: str) -> None:
    out = escape_token(text)
    assert html.unescape(out) == text  # the browser shows exactly what was typed
    assert not set(out) & set("<>\"'`*_[]$")


def test_markdown_and_math_syntax_stays_literal() -> None:
    assert escape_token("$x$") == "&#36;x&#36;" and escape_token("**b**") == "&#42;&#42;b&#42;&#42;"
    assert escape_token("[a](javascript:x)") == "&#91;a&#93;&#40;javascript&#58;x&#41;"
    assert escape_token("&") == "&amp;" and escape_token("中") == "中"


def test_shipped_examples_cover_every_thucnews_class() -> None:
    examples = load_examples()
    assert len(examples) >= 12
    assert {e.label for e in examples} == set(THUCNEWS_CLASSES)
    assert all(4 <= len(e.text) <= 40 for e in examples)


def test_examples_not_copied_from_the_dataset(thucnews_dir: Path) -> None:
    titles = set()
    for split in ("train.txt", "dev.txt"):
        lines = (thucnews_dir / split).read_text("utf-8").splitlines()
        titles |= {line.split("\t")[0] for line in lines}
    assert not [e.text for e in load_examples() if e.text in titles]


def test_bad_examples_file_names_the_entry(tmp_path: Path) -> None:
    path = tmp_path / "examples.json"
    path.write_text(json.dumps([{"text": "ok", "label": "sports"}, {"text": 3}]), "utf-8")
    with pytest.raises(RnnVizError, match=r"examples.json\[1\]"):
        load_examples(path)
    assert load_examples(tmp_path / "absent.json") == []
    assert EXAMPLES_FILE.name == "examples.json"
