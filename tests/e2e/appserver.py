"""Start the real app (`streamlit run app.py`) on a free loopback port, and drive it in Chromium.

Shared by the browser tests (tests/e2e/conftest.py) and the classroom benchmark
(bench/classroom.py), so both measure the app exactly as a class would use it: the server
runs in its own process group (killed whole at the end), listens on 127.0.0.1 only, and the
browser is Debian's chromium, never a downloaded build.
"""

from __future__ import annotations

import ast
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--no-first-run",
]
# Set once the script has run to its end (not while it runs, not before the first run).
APP_IDLE = "[data-testid=stApp][data-test-script-state=notRunning]"
APP_CONNECTED = "[data-testid=stApp][data-test-connection-state=CONNECTED]"


def free_port() -> int:
    """A loopback port nobody listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class AppServer:
    """``streamlit run app.py`` as a subprocess; ``start()`` returns once /_stcore/health is ok."""

    def __init__(self, log_path: Path, env: dict[str, str] | None = None,
                 startup_timeout_s: float = 120.0) -> None:
        self.log_path = Path(log_path)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.startup_timeout_s = startup_timeout_s
        # One torch thread per forward pass, as a class deployment runs (docs/deploy.md).
        self.env = {
            **os.environ, "RNNVIZ_TORCH_THREADS": "1", "PYTHONUNBUFFERED": "1", **(env or {})
        }
        self.proc: subprocess.Popen | None = None
        self._log = None

    @property
    def command(self) -> list[str]:
        return [
            sys.executable, "-m", "streamlit", "run", "app.py",
            "--server.headless", "true", "--server.port", str(self.port),
            "--server.address", "127.0.0.1", "--server.fileWatcherType", "none",
            "--browser.gatherUsageStats", "false",
        ]

    @property
    def pid(self) -> int:
        assert self.proc is not None, "server not started"
        return self.proc.pid

    def start(self) -> str:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            self.command, cwd=ROOT, env=self.env, stdout=self._log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,  # own group: stop() kills it all
        )
        deadline = time.monotonic() + self.startup_timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.stop()
                raise RuntimeError(f"streamlit exited with status {self.proc.returncode} before "
                                   f"it was healthy; its log:\n{self.log_tail()}")
            if self.healthy():
                return self.url
            time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"streamlit was not healthy on {self.url} after "
                           f"{self.startup_timeout_s:.0f} s; its log:\n{self.log_tail()}")

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2) as r:
                return r.status == 200 and r.read().strip() == b"ok"
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
            return False

    def log_tail(self, chars: int = 6000) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")[-chars:]
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=15)
            except ProcessLookupError:
                pass
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> AppServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def check_chromium() -> None:
    """Raise (never skip) when Debian's chromium is missing: CI must notice."""
    if not os.access(CHROMIUM, os.X_OK):
        raise RuntimeError(
            f"{CHROMIUM} not found: install Debian's chromium (scripts/test.sh does, as root), "
            "or deselect the browser tests with -m 'not e2e'"
        )


def wait_for_app(page, timeout_ms: float = 60_000) -> None:
    """Wait until the browser is connected and the script has run to its end."""
    page.wait_for_selector(APP_CONNECTED, state="attached", timeout=timeout_ms)
    page.wait_for_selector(APP_IDLE, state="attached", timeout=timeout_ms)


# --- the pages app.py routes, read from its source so a new page is covered without edits ---


@dataclass(frozen=True)
class PageInfo:
    path: str  # "pages/gradients.py"
    title_zh: str  # the sidebar link text
    title_en: str
    slug: str  # the url_path (differs from the file stem on purpose, see app.py)
    default: bool = False  # the default page is served at "/", not at its url_path

    @property
    def url_path(self) -> str:
        return "" if self.default else self.slug

    @property
    def exists(self) -> bool:
        return (ROOT / self.path).is_file()

    @property
    def name(self) -> str:
        return Path(self.path).stem


def routed_pages() -> list[PageInfo]:
    """Every page on the class route (ui/route.py), in app.py's order."""
    from ui.route import ROUTE

    return [PageInfo(s.path, s.title("zh"), s.title("en"), s.slug, default=i == 0)
            for i, s in enumerate(ROUTE)]


def page_titles(path: str) -> tuple[str, str] | None:
    """The page's h1 in Chinese and English: section ``title`` of its content document."""
    from rnnviz.content import documents, text

    doc = Path(path).stem
    if doc in documents("zh"):
        return text("zh", doc, "title"), text("en", doc, "title")
    tree = ast.parse((ROOT / path).read_text(encoding="utf-8"))  # not moved to content/ yet
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr == "title" and node.args
                and isinstance(node.args[0], ast.Call) and len(node.args[0].args) == 2
                and all(isinstance(a, ast.Constant) for a in node.args[0].args)):
            zh, en = (a.value for a in node.args[0].args)
            return zh, en
    return None
