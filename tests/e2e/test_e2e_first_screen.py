"""The first screen is the app's, on a freshly started server.

Until app.py's st.navigation has run once, Streamlit treats the folder pages/ beside app.py as a
legacy multipage app: it would draw its own list of the file names ("app", "bidirectional",
"bptt", ...) while app.py starts, and run a file such as pages/bptt.py on its own (without
app.py's sidebar) for the address /bptt. Each test here starts its own server, records in the
browser every state the DOM goes through from the first byte (a MutationObserver installed
before the page loads, so no state falls between two polls), and checks it afterwards.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from apppage import OUTPUT, VIEWPORT
from appserver import ROOT, AppServer, page_titles, routed_pages, wait_for_app
from playwright.sync_api import Browser, Page, expect

from rnnviz.content import text

pytestmark = pytest.mark.e2e

# Streamlit's own names for the legacy pages: the main script's stem and each file's stem,
# underscores shown as spaces (streamlit.navigation.page infers them from the file names).
RAW_NAMES = {"app", *(p.stem.replace("_", " ") for p in (ROOT / "pages").glob("*.py"))}
LANGUAGE_LABEL = text("zh", "ui/common", "language")  # app.py's language switch, in the sidebar
HOME_TITLE = page_titles(routed_pages()[0].path)[0]
LEGACY = "bptt"  # a file stem: pages/bptt.py (its address in the app is another slug)

# Every DOM state, from before the first byte: each distinct list of sidebar navigation links
# and each distinct page title (the main area's h1) in the order they appeared.
RECORDER = """
(() => {
  const log = window.__firstScreen = {nav: [], titles: [], states: 0};
  const seen = new Set();
  const record = () => {
    log.states += 1;
    const links = [...document.querySelectorAll('[data-testid=stSidebarNavLink]')]
      .map(a => (a.textContent || '').trim());
    const key = JSON.stringify(links);
    if (links.length && !seen.has(key)) { seen.add(key); log.nav.push(links); }
    const h1 = document.querySelector('[data-testid=stMain] h1');
    const title = h1 && (h1.textContent || '').trim();
    if (title && !log.titles.includes(title)) log.titles.push(title);
  };
  new MutationObserver(record).observe(document, {childList: true, subtree: true,
                                                  characterData: true, attributes: true});
})();
"""


def _norm(name: str) -> str:
    return re.sub(r"[\s_]+", " ", name).strip().lower()


@pytest.fixture
def fresh_server(request: pytest.FixtureRequest) -> Iterator[AppServer]:
    """A server of its own, started for this test: no session has run app.py on it yet."""
    app = AppServer(OUTPUT / f"e2e-first-screen-{request.node.name}.log")
    app.start()
    yield app
    app.stop()


def _visit(browser: Browser, server: AppServer, path: str) -> dict:
    """Open ``path`` in a new tab, wait until the app's own navigation is drawn and the script
    is idle, and return everything the recorder saw on the way."""
    context = browser.new_context(viewport=VIEWPORT, locale="zh-CN")
    context.add_init_script(RECORDER)
    try:
        return _recorded(context.new_page(), server, path)
    finally:
        context.close()


def _recorded(page: Page, server: AppServer, path: str) -> dict:
    page.goto(f"{server.url}/{path}")
    wait_for_app(page, timeout_ms=120_000)  # a fresh server's first run imports torch
    titles = [info.title_zh for info in routed_pages()]
    links = page.get_by_test_id("stSidebarNavLink")
    try:
        expect(links.first).to_be_visible(timeout=60_000)
        wait_for_app(page, timeout_ms=60_000)
        expect(page.get_by_test_id("stSidebar")).to_contain_text(LANGUAGE_LABEL)
        in_app = True
    except AssertionError:
        in_app = False
    log = page.evaluate("() => window.__firstScreen")
    assert in_app, (f"/{path} did not end in app.py (its navigation and language switch); "
                    f"navigation drawn: {log['nav']}; pages shown: {log['titles']}")
    assert log["states"] > 0, "the recorder saw no DOM change"
    # The app's own navigation, in app.py's order (a link reads its icon, then its title;
    # with many pages Streamlit shows the first ones and a "View more" button).
    shown = [t.split("\n")[-1].strip() for t in links.all_inner_texts()]
    assert shown and shown == titles[: len(shown)], shown
    return log


def _assert_only_the_apps_home(log: dict) -> None:
    """No list of file names was ever drawn, and no page but the app's home was ever shown (a
    legacy page run on its own shows its own title, without app.py's sidebar)."""
    raw = [links for links in log["nav"] if {_norm(t) for t in links} & RAW_NAMES]
    assert raw == [], f"Streamlit's list of pages/ file names was drawn: {raw[0]}"
    assert log["titles"] == [HOME_TITLE], f"pages shown on the way: {log['titles']}"


def test_a_fresh_server_shows_the_apps_navigation_from_the_first_paint(
    fresh_server: AppServer, browser: Browser
) -> None:
    _assert_only_the_apps_home(_visit(browser, fresh_server, ""))
    # Once the app has run, a file stem is an unknown address: the home page, inside app.py.
    _assert_only_the_apps_home(_visit(browser, fresh_server, LEGACY))


def test_a_file_stem_as_a_fresh_servers_first_address_runs_inside_app_py(
    fresh_server: AppServer, browser: Browser
) -> None:
    """The worst case: the very first request names pages/bptt.py by its stem. It must not run
    that file on its own; the student lands on the app's home page."""
    _assert_only_the_apps_home(_visit(browser, fresh_server, LEGACY))
