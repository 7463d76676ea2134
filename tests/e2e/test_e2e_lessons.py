"""The lesson pages, operated in a real browser: sliders move the numbers, live training starts
and stops, typed markup stays text. Expected numbers come from closed forms computed here."""

from __future__ import annotations

import re

import pytest
from apppage import AppPage, existing
from playwright.sync_api import expect

from rnnviz.lessons.gating import demo_tokens

pytestmark = pytest.mark.e2e

XSS_SCRIPT = "<script>alert(1)</script>"
XSS_IMG = "<img src=x onerror=alert(1)>"


def _main_text(app: AppPage) -> str:
    return app.page.get_by_test_id("stMain").inner_text()


def assert_no_injected_markup(app: AppPage) -> None:
    """Typed markup never becomes an element, and nothing ran (no alert dialog)."""
    assert app.page.locator("img[src=x], img[onerror]").count() == 0
    scripts = app.page.locator("script").evaluate_all("els => els.map(e => e.textContent)")
    assert not any("alert(1)" in s for s in scripts)
    app.assert_healthy()


def test_gradients_powers_follow_the_sliders(app: AppPage) -> None:
    app.open(existing("pages/gradients.py"))
    main = app.page.get_by_test_id("stMain")
    # The formula line and the two metrics, against Python's own float powers.
    expect(main.get_by_test_id("stMarkdownContainer").filter(has_text="0.366").first).to_be_visible()
    assert f"{0.99**100:.3f}" == "0.366" and f"{1.1**100:.1f}" == "13780.6"
    assert "13780.6" in _main_text(app)
    assert app.metric_value("0.99^100") == f"{0.99**100:.6g}"
    assert app.metric_value("1.1^100") == f"{1.1**100:.6g}"

    factor = app.slider("因子 a")
    factor.focus()
    factor.press("ArrowRight")  # 0.99 -> 1.00: the vanishing product becomes flat
    expect(main.get_by_test_id("stMetricLabel").get_by_text("1^100", exact=True)).to_be_visible()
    assert app.metric_value("1^100") == "1"
    factor.press("End")  # 1.50
    expect(main.get_by_test_id("stMetricLabel").get_by_text("1.5^100", exact=True)).to_be_visible()
    assert app.metric_value("1.5^100") == f"{1.5**100:.6g}"
    steps = app.slider("T")
    steps.focus()
    steps.press("Home")  # T = 1
    expect(main.get_by_test_id("stMetricLabel").get_by_text("1.5^1", exact=True)).to_be_visible()
    assert app.metric_value("1.5^1") == "1.5"
    assert app.metric_value("1.1^1") == "1.1"
    app.wait()
    app.assert_healthy()
    app.screenshot("gradients-operated")


def _kept_terms(T: int, k: int) -> int:
    """(t, s) pairs with s <= t in the same length-k window: sum of w(w+1)/2 over the windows."""
    full, rest = divmod(T, k)
    return full * k * (k + 1) // 2 + rest * (rest + 1) // 2


def test_bptt_check_passes_and_truncation_keeps_the_window_terms(app: AppPage) -> None:
    app.open(existing("pages/bptt.py"))
    main = app.page.get_by_test_id("stMain")
    expect(main.get_by_test_id("stAlertContentSuccess")).to_contain_text("手写 BPTT 与 autograd 一致")
    worst = float(app.metric_value("所有梯度的最大绝对差"))
    assert worst < 1e-10
    app.page.get_by_test_id("stRadio").filter(has_text="激活函数 f").first.get_by_text("sigmoid").click()
    expect(main.get_by_test_id("stAlertContentSuccess")).to_contain_text("手写 BPTT 与 autograd 一致")
    app.wait()
    assert float(app.metric_value("所有梯度的最大绝对差")) < 1e-10

    T, full = 24, 24 * 25 // 2
    label = "保留的 (t, s) 项"
    assert app.metric_value(label) == f"{_kept_terms(T, 6)} / {full}"
    window = app.slider("窗口 k")
    window.focus()
    window.press("Home")  # k = 1: each loss reaches only its own step
    expect(main.get_by_test_id("stMetric").filter(has_text=label)).to_contain_text(f"{_kept_terms(T, 1)} / {full}")
    window.press("End")  # k = T: nothing is cut
    expect(main.get_by_test_id("stMetric").filter(has_text=label)).to_contain_text(f"{full} / {full}")
    app.wait()
    app.assert_healthy()


def test_rnn_structure_counts_the_shared_weight_and_shows_typed_markup_as_text(app: AppPage) -> None:
    app.open(existing("pages/rnn_structure.py"))
    main = app.page.get_by_test_id("stMain")
    expect(main).to_contain_text("展开 4 步后它被用了 4 次")
    unroll = app.slider("展开步数 T")
    unroll.focus()
    unroll.press("ArrowRight")
    expect(main).to_contain_text("展开 5 步后它被用了 5 次")

    box = app.page.get_by_label("输入文字")
    box.fill(XSS_SCRIPT)
    box.press("Enter")
    expect(main).to_contain_text("第 3 步读入「c」")  # "<", "s", "c": one character per step
    step = app.slider("查看第 t 步")
    step.focus()
    step.press("Home")
    expect(main).to_contain_text("第 1 步读入「<」")
    app.wait()
    assert_no_injected_markup(app)


def test_lstm_gru_heatmap_labels_typed_markup_as_text(app: AppPage) -> None:
    app.open(existing("pages/lstm_gru.py"))
    box = app.page.get_by_label("或输入文本")
    box.fill(XSS_IMG)
    box.press("Enter")
    app.settle()
    heatmap = app.page.locator(".st-key-gates_heatmap")  # a keyed element carries st-key-<key>
    tick_labels = heatmap.locator(".xaxislayer-above text")  # every x axis of the subplots
    expect(tick_labels.first).to_be_attached()
    # Each token is one tick label, shown literally ("<", "i", "m", "g", ...).
    assert tick_labels.all_text_contents() == demo_tokens(XSS_IMG)
    assert_no_injected_markup(app)
    # GRU too: the same text through the other cell.
    app.page.get_by_test_id("stRadio").filter(has_text="单元").first.get_by_text("GRU", exact=True).click()
    app.settle()
    assert_no_injected_markup(app)
    app.screenshot("lstm_gru-markup-typed")


def test_long_dependency_training_starts_and_stops(app: AppPage) -> None:
    app.open(existing("pages/long_dependency.py"))
    steps = app.slider("训练步数")
    steps.focus()
    steps.press("End")  # the longest run, so Stop surely comes before the end
    app.settle()
    app.page.get_by_role("button", name="开始训练").click()
    main = app.page.get_by_test_id("stMain")
    progress = main.get_by_test_id("stProgress")
    expect(progress).to_be_visible(timeout=60_000)
    expect(progress).to_contain_text(re.compile(r"第 \d+/400 步"))
    app.page.get_by_role("button", name="停止").click()
    expect(main).to_contain_text(re.compile(r"已手动停止（\d+\.\d 秒）"), timeout=60_000)
    app.wait()
    app.assert_healthy()
    app.screenshot("long_dependency-stopped")
