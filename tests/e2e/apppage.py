"""One browser tab on the app (``AppPage``): how the browser tests open pages, operate widgets
by their labels, and check that nothing went wrong."""

from __future__ import annotations

import re
from pathlib import Path

from appserver import ROOT, AppServer, PageInfo, routed_pages, wait_for_app
from helpers import missing
from playwright.sync_api import Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeout

OUTPUT = ROOT / "test-output"  # gitignored
SCREENSHOTS = OUTPUT / "screenshots"
VIEWPORT = {"width": 1400, "height": 1000}
# A page's first render pays torch/plotly imports once per server; 2 busy cores are slow.
expect.set_options(timeout=30_000)


class AppPage:
    """One browser tab on the app, with the checks every test makes."""

    def __init__(self, page: Page, server: AppServer) -> None:
        self.page = page
        self.server = server
        self.dialogs: list[str] = []  # alert()/confirm() texts: user text must never run
        self.page_errors: list[str] = []  # uncaught JavaScript errors
        page.on("dialog", self._on_dialog)
        page.on("pageerror", lambda err: self.page_errors.append(str(err)))

    def _on_dialog(self, dialog) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def open(self, info: PageInfo | str) -> AppPage:
        path = info.url_path if isinstance(info, PageInfo) else info
        self.page.goto(f"{self.server.url}/{path}")
        self.wait()
        return self

    def wait(self) -> None:
        wait_for_app(self.page)

    def settle(self) -> None:
        """After an interaction: let the rerun start, then wait for it to finish."""
        self.page.wait_for_timeout(300)
        self.wait()

    def sidebar_link(self, text: str):
        return self.page.get_by_test_id("stSidebarNavLink").filter(
            has_text=re.compile(rf"^\W*{re.escape(text)}\s*$"))

    def set_language(self, code: str) -> None:
        label = "English" if code == "en" else "中文"
        self.page.get_by_test_id("stSidebar").get_by_text(label, exact=True).click()
        self.settle()

    def slider(self, label: str):
        """A slider's keyboard-operable input (ArrowRight/Left step, Home/End jump)."""
        return self.page.locator(f'input[type=range][aria-label="{label}"]')

    def choose(self, label: str, option: str | re.Pattern) -> None:
        """Pick ``option`` in the selectbox labelled ``label``."""
        box = self.page.get_by_test_id("stSelectbox").filter(has_text=label).first
        combo = box.get_by_role("combobox")
        wanted = self.page.get_by_role("option", name=option).first
        for attempt in range(6):
            # A rerun that redraws the box while its list opens closes the list again: wait
            # until no script runs, then open it, by keyboard and by click in turn (ArrowDown
            # opens a box far down the page where a click may not).
            self.wait()
            combo.scroll_into_view_if_needed()
            if attempt % 2 == 0:
                combo.focus()
                combo.press("ArrowDown")
            else:
                combo.click()
            try:
                wanted.wait_for(state="visible", timeout=5_000)
                wanted.click(timeout=5_000)
                break
            except PlaywrightTimeout:
                self.page.keyboard.press("Escape")
        else:
            raise AssertionError(f"the selectbox {label!r} never offered {option!r}")
        self.settle()

    def upload(self, label: str, path: Path | str) -> None:
        """Give the file uploader labelled ``label`` a local file (the browser reads it itself)."""
        uploader = self.page.get_by_test_id("stFileUploader").filter(has_text=label).first
        uploader.locator("input[type=file]").set_input_files(str(path))
        self.settle()

    def metric_value(self, label: str) -> str:
        metric = self.page.get_by_test_id("stMetric").filter(
            has=self.page.get_by_test_id("stMetricLabel").get_by_text(label, exact=True))
        return metric.get_by_test_id("stMetricValue").inner_text().strip()

    def assert_healthy(self) -> None:
        expect(self.page.get_by_test_id("stException")).to_have_count(0)
        # Any modal (e.g. Streamlit's "Page not found") means the page asked for is not shown.
        expect(self.page.get_by_role("dialog")).to_have_count(0)
        assert self.dialogs == [], f"a dialog opened: {self.dialogs}"
        assert self.page_errors == [], f"JavaScript errors: {self.page_errors}"

    def screenshot(self, name: str) -> Path:
        """The whole page (Streamlit scrolls inside stMain, so grow the viewport to fit it)."""
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        height = self.page.evaluate(
            "() => { const m = document.querySelector('[data-testid=stMain]');"
            " return m ? m.scrollHeight : document.body.scrollHeight; }")
        self.page.set_viewport_size(
            {"width": VIEWPORT["width"], "height": min(max(height, 600), 12_000)}
        )
        self.page.wait_for_timeout(300)
        self.page.screenshot(path=str(path), full_page=True)
        self.page.set_viewport_size(VIEWPORT)
        return path


def existing(path: str) -> PageInfo:
    """The routed page for ``path``; skips (saying why) while its file is not written yet
    (fails under $RNNVIZ_REQUIRE_DATA, as in CI: helpers.missing)."""
    for info in routed_pages():
        if info.path == path:
            if not info.exists:
                missing(f"{path} does not exist yet (app.py routes it once it does)")
            return info
    raise AssertionError(f"app.py does not route {path}")
