"""Run `scripts/serve_class.sh N` (N app replicas behind nginx) from a test or a benchmark.

Shared by tests/e2e/test_e2e_serve_class.py and bench/classroom.py --replicas, as appserver.py
is for one server: the launcher runs in its own session, is stopped as a teacher stops it
(Ctrl-C, i.e. SIGINT), and must then have stopped everything it started.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "serve_class.sh"


def find_nginx() -> str | None:
    """Debian's nginx (in /usr/sbin, which a normal user's PATH may lack)."""
    found = shutil.which("nginx")
    if found:
        return found
    return "/usr/sbin/nginx" if os.access("/usr/sbin/nginx", os.X_OK) else None


def require_nginx() -> str:
    """nginx's path; without it fail, as the browser tests do without chromium (CI and root
    machines install it with scripts/test.sh), or skip saying why where it cannot be installed
    (not root, outside CI)."""
    found = find_nginx()
    if found:
        return found
    reason = ("Debian's nginx not found: scripts/test.sh installs it when run as root "
              "(apt-get install nginx); or deselect these tests with -m 'not e2e'")
    in_ci = os.environ.get("RNNVIZ_REQUIRE_DATA", "").strip() not in ("", "0") or os.environ.get(
        "CI")
    if in_ci or os.geteuid() == 0:
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason + " (not root here, so it cannot be installed)")


class ClassServer:
    """``scripts/serve_class.sh replicas *args``; ``start()`` returns once it serves (its
    --state-file exists), ``stop()`` sends SIGINT and returns its exit status."""

    def __init__(self, replicas: int, state_file: Path, log_path: Path,
                 args: list[str] | None = None, env: dict[str, str] | None = None,
                 startup_timeout_s: float = 300.0) -> None:
        self.replicas = replicas
        self.state_file = Path(state_file)
        self.log_path = Path(log_path)
        self.args = list(args or [])
        self.env = {**os.environ, "PYTHON": sys.executable, "PYTHONUNBUFFERED": "1", **(env or {})}
        self.startup_timeout_s = startup_timeout_s
        self.proc: subprocess.Popen | None = None
        self.state: dict[str, Any] = {}

    @property
    def command(self) -> list[str]:
        return ["bash", str(SCRIPT), str(self.replicas), "--state-file", str(self.state_file),
                "--startup-timeout", str(self.startup_timeout_s), *self.args]

    @property
    def url(self) -> str:
        return self.state["url"]

    @property
    def pid(self) -> int:
        assert self.proc is not None, "not started"
        return self.proc.pid

    def start(self) -> str:
        self.state_file.unlink(missing_ok=True)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(self.command, cwd=ROOT, env=self.env, stdout=log,
                                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         start_new_session=True)
        deadline = time.monotonic() + self.startup_timeout_s + 60
        while not self.state_file.is_file():
            if self.proc.poll() is not None:
                raise RuntimeError(f"serve_class.sh exited with status {self.proc.returncode} "
                                   f"before serving; its output:\n{self.log_tail()}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"serve_class.sh was not serving after "
                                   f"{self.startup_timeout_s + 60:.0f} s:\n{self.log_tail()}")
            time.sleep(0.3)
        self.state = json.loads(self.state_file.read_text(encoding="utf-8"))
        return self.url

    def log_tail(self, chars: int = 6000) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")[-chars:]
        except OSError:
            return "(no output)"

    def stop(self, sig: int = signal.SIGINT, timeout_s: float = 90.0) -> int | None:
        """Stop it as a teacher does (Ctrl-C); kill what is left if it does not exit in time
        (a safety net: the tests check it never has to)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            os.kill(self.proc.pid, sig)
            try:
                self.proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self._kill_everything()
        return self.proc.returncode

    def _kill_everything(self) -> None:
        assert self.proc is not None
        pids = [self.proc.pid, self.state.get("nginx", {}).get("pid")]
        pids += [r["pid"] for r in self.state.get("replicas", [])]
        for pid in pids:
            if pid:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(pid, signal.SIGKILL)
        self.proc.wait(timeout=15)

    def __enter__(self) -> ClassServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
