"""The class route in a real browser: from the home page's map to the first lesson, then by each
page's "next stop" link, all the way to the predict page."""

from __future__ import annotations

import pytest
from apppage import AppPage
from appserver import page_titles
from playwright.sync_api import expect

from rnnviz.content import text
from ui.route import ROUTE

pytestmark = pytest.mark.e2e


def _h1(app: AppPage):
    return app.page.locator("[data-testid=stMain] h1").first


def _link(app: AppPage, label: str):
    return app.page.get_by_test_id("stPageLink-NavLink").filter(has_text=label).first


def test_walk_the_route_from_the_map_to_predict_by_next_links(app: AppPage) -> None:
    pages = [s.page for s in ROUTE]
    walk = ROUTE[1:pages.index("predict") + 1]
    app.open("")
    _link(app, f"1. {walk[0].title('zh')}").click()
    for i, stop in enumerate(walk):
        app.wait()
        expect(_h1(app)).to_have_text(page_titles(stop.path)[0])
        expect(app.sidebar_link(stop.title("zh"))).to_have_attribute("aria-current", "page")
        app.assert_healthy()
        if i + 1 < len(walk):
            after = walk[i + 1]
            link = _link(app, text("zh", "ui/lesson", "next", title=after.title("zh")))
            link.scroll_into_view_if_needed()
            link.click()
