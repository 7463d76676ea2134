"""Every page app.py routes renders in a real browser, in Chinese and in English, with no exception.

The page list is read from app.py, so a new page is covered here without editing this file; a
page app.py names whose file is not written yet is skipped, saying so.
"""

from __future__ import annotations

import pytest
from apppage import AppPage, existing
from appserver import page_titles, routed_pages
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e

PAGES = routed_pages()


def _h1(app: AppPage):
    return app.page.locator("[data-testid=stMain] h1").first


@pytest.mark.parametrize("info", PAGES, ids=[p.name for p in PAGES])
def test_page_renders_in_chinese_inside_the_app(app: AppPage, info) -> None:
    info = existing(info.path)
    app.open(info)
    titles = page_titles(info.path)
    if titles is not None:
        expect(_h1(app)).to_have_text(titles[0])
    # Run through app.py (shared sidebar), not as a stand-alone legacy page.
    expect(app.page.get_by_text("语言 / Language")).to_be_visible()
    expect(app.sidebar_link(info.title_zh)).to_have_attribute("aria-current", "page")
    app.assert_healthy()
    app.screenshot(info.name)


def test_english_switch_carries_across_every_page(app: AppPage) -> None:
    """Switch once in the sidebar; every page reached by its sidebar link is then in English."""
    pages = [p for p in PAGES if p.exists]
    app.open("")
    expect(_h1(app)).to_have_text(page_titles("pages/home.py")[0])
    app.set_language("en")
    expect(_h1(app)).to_have_text(page_titles("pages/home.py")[1])
    for info in pages:
        app.sidebar_link(info.title_en).click()
        titles = page_titles(info.path)
        if titles is not None:
            expect(_h1(app)).to_have_text(titles[1])
        app.wait()
        app.assert_healthy()
        # No Chinese left in the sidebar's navigation once English is chosen.
        nav = app.page.get_by_test_id("stSidebarNav").inner_text()
        assert not any("\u4e00" <= ch <= "\u9fff" for ch in nav), nav
    app.set_language("zh")  # back on the last page visited, now in Chinese
    titles = page_titles(pages[-1].path)
    if titles is not None:
        expect(_h1(app)).to_have_text(titles[0])
    app.assert_healthy()


def test_unknown_url_says_so_and_shows_the_home_page(app: AppPage) -> None:
    app.open("no-such-page")
    dialog = app.page.get_by_role("dialog")
    expect(dialog).to_contain_text("Page not found")
    expect(_h1(app)).to_have_text(page_titles("pages/home.py")[0])
    expect(app.page.get_by_test_id("stException")).to_have_count(0)
    dialog.get_by_role("button", name="Close").click()
    app.assert_healthy()
