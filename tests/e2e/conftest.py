"""Browser fixtures: one real app server and one Chromium per test session, a fresh page per test.

Run: ``python -m pytest tests/e2e -m e2e``. Without /usr/bin/chromium these tests fail (CI
installs it); a developer without it deselects them with ``-m "not e2e"``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from apppage import OUTPUT, SCREENSHOTS, VIEWPORT, AppPage
from appserver import CHROMIUM, CHROMIUM_ARGS, AppServer, check_chromium, wait_for_app
from playwright.sync_api import Browser, sync_playwright


@pytest.fixture(scope="session")
def server() -> Iterator[AppServer]:
    for stale in SCREENSHOTS.glob("FAILED-*.png"):  # from an earlier run
        stale.unlink()
    app = AppServer(OUTPUT / "e2e-server.log")
    app.start()
    yield app
    app.stop()


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    try:
        check_chromium()
    except RuntimeError as exc:
        pytest.fail(str(exc))
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture(scope="session")
def warm_server(server: AppServer, browser: Browser) -> AppServer:
    """Open the app once before the tests.

    The first session a fresh server sees, if it opens any page but the default one, gets
    Streamlit's "Page not found" modal over the right page (streamlit/streamlit#9992): the
    server learns the st.navigation pages only on its first run. docs/deploy.md has the teacher
    open the app once after starting it; so do the tests. It also pays the imports once.
    """
    page = browser.new_page()
    page.goto(server.url)
    wait_for_app(page)
    page.close()
    return server


@pytest.fixture
def app(browser: Browser, warm_server: AppServer, request) -> Iterator[AppPage]:
    context = browser.new_context(viewport=VIEWPORT, locale="zh-CN")
    page = context.new_page()
    view = AppPage(page, warm_server)
    yield view
    failed = getattr(request.node, "rep_call", None)
    if failed is not None and failed.failed:
        view.screenshot(f"FAILED-{request.node.name}")
    context.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call):
    report = yield
    if report.when == "call":
        item.rep_call = report  # the app fixture reads it to screenshot a failure
    return report
