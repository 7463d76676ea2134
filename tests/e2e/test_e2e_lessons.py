"""The lesson pages, operated in a real browser: sliders move the numbers, live training starts
and stops, typed markup stays text. Expected numbers come from closed forms computed here."""

from __future__ import annotations

import re

import pytest
from apppage import AppPage, existing
from playwright.sync_api import expect

from rnnviz.content import text
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


def _commit_number(app: AppPage, value: float) -> None:
    """Type ``value`` into the page's first numeric question and commit it (ui/quiz.py)."""
    form = app.page.get_by_test_id("stForm").filter(
        has=app.page.get_by_test_id("stNumberInput")).first
    form.get_by_test_id("stNumberInput").locator("input").fill(f"{value:g}")
    form.get_by_role("button", name=text("zh", "ui/quiz", "commit")).click()
    app.settle()


def _questions_off(app: AppPage) -> None:
    """The teacher's switch: every question shown answered, nothing held back."""
    app.page.get_by_test_id("stSidebar").get_by_text(text("zh", "ui/quiz", "switch")).click()
    app.settle()


def test_gradients_powers_follow_the_sliders(app: AppPage) -> None:
    app.open(existing("pages/gradients.py"))
    main = app.page.get_by_test_id("stMain")
    # Predict, then reveal: the powers appear once a guess is committed (0.37 is within 20 %).
    labels = main.get_by_test_id("stMetricLabel")
    expect(labels.get_by_text("0.99^100", exact=True)).to_have_count(0)
    assert f"{0.99**100:.3f}" == "0.366" and f"{1.1**100:.1f}" == "13780.6"
    _commit_number(app, 0.37)
    expect(main.get_by_test_id("stAlertContentSuccess").first).to_contain_text("0.366")
    assert app.metric_value("0.99^100") == f"{0.99**100:.6g}"
    assert app.metric_value("1.1^100") == f"{1.1**100:.6g}"
    assert "13780.6" in _main_text(app)

    _questions_off(app)
    factor = app.slider(text("zh", "gradients", "powers.a"))
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
    agrees = text("zh", "bptt", "check.ok", worst=0.0, tol=1e-10).split("：")[0]
    worst_label = text("zh", "bptt", "check.worst")
    expect(main.get_by_test_id("stAlertContentSuccess").first).to_contain_text(agrees)
    worst = float(app.metric_value(worst_label))
    assert worst < 1e-10
    activation = text("zh", "bptt", "check.activation")
    app.page.get_by_test_id("stRadio").filter(has_text=activation).first.get_by_text("sigmoid").click()
    expect(main.get_by_test_id("stAlertContentSuccess").first).to_contain_text(agrees)
    app.wait()
    assert float(app.metric_value(worst_label)) < 1e-10

    T, full = 24, 24 * 25 // 2
    label = text("zh", "bptt", "trunc.kept")
    # The count is a question first: commit the right number, then the metric shows it.
    expect(main.get_by_test_id("stMetricLabel").get_by_text(label, exact=True)).to_have_count(0)
    _commit_number(app, _kept_terms(T, 6))
    right = main.get_by_test_id("stAlertContentSuccess").last
    expect(right).to_contain_text(str(_kept_terms(T, 6)))
    assert app.metric_value(label) == f"{_kept_terms(T, 6)} / {full}"
    _questions_off(app)
    window = app.slider(text("zh", "bptt", "trunc.k"))
    window.focus()
    window.press("Home")  # k = 1: each loss reaches only its own step
    kept = main.get_by_test_id("stMetric").filter(has_text=label)
    expect(kept).to_contain_text(f"{_kept_terms(T, 1)} / {full}")
    window.press("End")  # k = T: nothing is cut
    expect(kept).to_contain_text(f"{full} / {full}")
    app.wait()
    app.assert_healthy()
    app.screenshot("bptt-operated")


def test_rnn_structure_counts_the_shared_weight_and_shows_typed_markup_as_text(
    app: AppPage,
) -> None:
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
    # The untrained demo network reads the typed text character by character.
    sources = app.page.get_by_test_id("stRadio").filter(has_text="网络").first
    sources.get_by_text("未训练的演示 LSTM（读你的文本）", exact=True).click()
    app.settle()
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
    # GRU too: the same text through the other cell's demo network.
    cells = app.page.get_by_test_id("stRadio").filter(has_text="单元").first
    cells.get_by_text("GRU", exact=True).click()
    app.settle()
    sources = app.page.get_by_test_id("stRadio").filter(has_text="网络").first
    sources.get_by_text("未训练的演示 GRU（读你的文本）", exact=True).click()
    app.settle()
    assert tick_labels.all_text_contents() == demo_tokens(XSS_IMG)
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


def _commit(app: AppPage, option: str) -> None:
    """Answer the question whose form offers ``option``: choose it, then commit."""
    form = app.page.get_by_test_id("stForm").filter(has_text=option).first
    form.get_by_text(option, exact=True).click()
    form.get_by_role("button", name="提交答案").click()
    app.settle()


def test_bidirectional_blank_question_reveals_both_sides_and_typed_markup_stays_text(
        app: AppPage) -> None:
    app.open(existing("pages/bidirectional.py"))
    main = app.page.get_by_test_id("stMain")
    expect(main).to_contain_text("哪个方向的隐藏状态已经读到了「汽油」")
    expect(main).not_to_contain_text("前向 RNN 在空格处读过的")  # held back until answered
    _commit(app, "只有后向 h←")
    expect(main).to_contain_text("答对了")
    # The blank is drawn the same on both sides: 「＿＿」, never a lone 「＿」.
    expect(main).to_contain_text("前向 RNN 在空格处读过的：我今天去了＿＿")
    expect(main).to_contain_text("后向 RNN 在空格处读过的：＿＿，加满了一箱汽油。")
    box = app.page.get_by_label("输入一句话")
    box.fill(XSS_IMG)
    box.press("Enter")
    app.settle()
    assert_no_injected_markup(app)
    app.screenshot("bidirectional-answered")


def test_lstm_steps_token_buttons_move_the_step_and_typed_markup_stays_text(
        app: AppPage) -> None:
    app.open(existing("pages/lstm_steps.py"))
    main = app.page.get_by_test_id("stMain")
    expect(main).to_contain_text("第 1 步读入「中」")
    app.page.get_by_role("button", name="下一个字 ▶").click()
    expect(main).to_contain_text("第 2 步读入「国」")
    app.page.get_by_role("button", name="◀ 上一个字").click()
    expect(main).to_contain_text("第 1 步读入「中」")
    box = app.page.get_by_label("输入一句话")
    box.fill(XSS_SCRIPT)
    box.press("Enter")
    expect(main).to_contain_text("第 1 步读入「<」")
    app.wait()
    assert_no_injected_markup(app)
    app.screenshot("lstm_steps-stepped")
