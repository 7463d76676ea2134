"""The padding page in a real browser, with the shipped models: the first question is answered
from the typed title's length, the reveal shows what each way of padding read, and typed markup
stays text."""

from __future__ import annotations

import pytest
from apppage import AppPage, existing
from playwright.sync_api import expect

from rnnviz.content import text
from rnnviz.core.text import make_tokenizer
from rnnviz.lessons.padding import PAD_TO

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("shipped_models")]
XSS_IMG = "<img src=x onerror=alert(1)>"


def test_pad_question_reveals_the_reads_and_typed_markup_stays_text(app: AppPage) -> None:
    app.open(existing("pages/padding.py"))
    box = app.page.get_by_role("textbox", name=text("zh", "padding", "text"), exact=True)
    box.fill(XSS_IMG)
    box.press("Enter")
    app.settle()
    n = len(make_tokenizer("char")(XSS_IMG))
    form = app.page.get_by_test_id("stForm").filter(
        has=app.page.get_by_test_id("stNumberInput")).first
    form.get_by_test_id("stNumberInput").locator("input").fill(str(PAD_TO - n))
    form.get_by_role("button", name=text("zh", "ui/quiz", "commit")).click()
    app.settle()
    main = app.page.get_by_test_id("stMain")
    expect(main.get_by_test_id("stAlertContentSuccess").first).to_contain_text(str(PAD_TO - n))
    expect(main.get_by_test_id("stDataFrame").first).to_be_visible()
    assert app.page.locator("img[src=x], img[onerror]").count() == 0
    app.assert_healthy()
    app.screenshot("padding-reads")
