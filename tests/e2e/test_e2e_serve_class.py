"""Several app servers behind nginx (scripts/serve_class.sh): the proxy serves, each browser
stays on one replica (page, websocket and upload alike), and stopping leaves nothing behind.

One launcher with 2 replicas serves the module; the last test stops it. Ports are chosen free
by the launcher at test time; every wait is bounded.
"""

from __future__ import annotations

import importlib.util
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import psutil
import pytest
from apppage import AppPage, existing
from classserver import ROOT, SCRIPT, ClassServer, require_nginx
from helpers import tiny_checkpoint
from playwright.sync_api import Browser, BrowserContext, expect

from rnnviz.core.predict import Predictor

pytestmark = pytest.mark.e2e

UPLOAD_OPTION = "上传 .safetensors 模型…"
TEXT = "股市球赛股市"


def load_launcher():
    spec = importlib.util.spec_from_file_location("serve_class", ROOT / "scripts/serve_class.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["serve_class"] = module  # its dataclasses look their module up
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module


def port_is_free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def get(url: str, cookie: str = "") -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers={"Cookie": cookie} if cookie else {})
    with urllib.request.urlopen(request, timeout=30) as r:
        return r.status, {k.lower(): v for k, v in r.headers.items()}, r.read()


def route_of(set_cookie: str) -> str:
    m = re.search(r"rnnlab_route=([0-9a-f]{32})", set_cookie)
    assert m, f"no route cookie in {set_cookie!r}"
    return m.group(1)


def gone(pid: int, created: float) -> bool:
    """No such process any more (a zombie waiting for init to reap it runs nothing)."""
    try:
        p = psutil.Process(pid)
        return p.create_time() != created or p.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


@pytest.fixture(scope="module")
def nginx() -> str:
    return require_nginx()


@pytest.fixture(scope="module")
def launcher(nginx: str, tmp_path_factory) -> Iterator[ClassServer]:
    tmp = tmp_path_factory.mktemp("serve-class")
    server = ClassServer(2, tmp / "state.json", tmp / "launcher.log", ["--max-jobs", "1"])
    server.start()
    yield server
    server.stop()  # a no-op when the last test stopped it already


# ---- without servers -----------------------------------------------------------------------


def test_generated_config_is_valid_nginx_and_writes_only_to_its_run_dir(nginx: str,
                                                                        tmp_path: Path) -> None:
    module = load_launcher()
    conf = module.nginx_config(tmp_path, "127.0.0.1", 8080, ["127.0.0.1:9001", "10.0.0.2:8501"],
                               31)
    (tmp_path / "nginx-tmp").mkdir()
    (tmp_path / "nginx.conf").write_text(conf)
    check = subprocess.run([nginx, "-t", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf"),
                            "-e", str(tmp_path / "err.log")], capture_output=True, text=True,
                           timeout=30)
    assert check.returncode == 0, check.stderr
    assert "hash $rnnlab_route consistent;" in conf
    assert not re.search(r"^\s*ip_hash", conf, flags=re.M)  # one NAT would be one replica
    assert "server 10.0.0.2:8501" in conf
    assert "proxy_set_header Upgrade $http_upgrade;" in conf
    stream = conf[conf.index("location /_stcore/stream"):]
    assert "proxy_read_timeout 1d;" in stream[: stream.index("}")]
    # Everything nginx writes (pid, logs, temp files) stays in the run directory.
    files = re.findall(r"^\s*(pid|error_log|access_log|\w+_temp_path)\s+([^\s;]+)", conf,
                       flags=re.M)
    assert len(files) == 8
    assert all(Path(path).is_relative_to(tmp_path) for _, path in files), files


def test_a_busy_replica_port_is_refused_before_anything_starts(nginx: str) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        run = subprocess.run(["bash", str(SCRIPT), "1", "--ports", str(port)], cwd=ROOT,
                             capture_output=True, text=True, timeout=60,
                             env={**os.environ, "PYTHON": sys.executable})
    assert run.returncode == 1
    assert f"replica port(s) already in use: [{port}]" in run.stderr
    assert "replica 1:" not in run.stdout  # nothing was started


def test_a_failure_after_the_replicas_started_stops_them(nginx: str, tmp_path: Path) -> None:
    # An nginx that accepts the config (-t) but cannot start: the replica is running by then.
    fake = tmp_path / "nginx"
    fake.write_text('#!/bin/sh\ncase " $* " in *" -t "*) exec "$REAL_NGINX" "$@";; esac\n'
                    'echo "bind() failed (simulated)" >&2; exit 1\n')
    fake.chmod(0o755)
    run = subprocess.run(["bash", str(SCRIPT), "1", "--nginx", str(fake), "--no-warm"], cwd=ROOT,
                         capture_output=True, text=True, timeout=400,
                         env={**os.environ, "PYTHON": sys.executable, "REAL_NGINX": nginx})
    assert run.returncode == 1, run.stdout + run.stderr
    assert "nginx exited with status 1" in run.stderr and "simulated" in run.stderr
    m = re.search(r"replica 1: http://127\.0\.0\.1:(\d+) \(pid (\d+)", run.stdout)
    assert m, run.stdout
    port, pid = int(m.group(1)), int(m.group(2))
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    assert port_is_free(port)
    run_dir = re.search(r"run directory (\S+)", run.stdout)
    assert run_dir and not Path(run_dir.group(1)).exists()


# ---- one launcher, 2 replicas ----------------------------------------------------------------


def test_the_proxy_answers_and_keeps_each_browser_on_one_replica(launcher: ClassServer) -> None:
    status, _, body = get(f"{launcher.url}/_stcore/health")
    assert (status, body.strip()) == (200, b"ok")
    replicas = {f"127.0.0.1:{r['port']}" for r in launcher.state["replicas"]}
    # New browsers (no cookie) are spread over both replicas, each given its route cookie...
    seen: dict[str, str] = {}
    for _ in range(24):
        _, headers, _ = get(f"{launcher.url}/_stcore/health")
        seen.setdefault(headers["x-upstream"], route_of(headers["set-cookie"]))
    assert set(seen) == replicas
    # ...and a browser with its cookie stays where it was sent, with no new cookie.
    for upstream, route in seen.items():
        for path in ("/", "/_stcore/health", "/_stcore/host-config"):
            _, headers, _ = get(f"{launcher.url}{path}", cookie=f"rnnlab_route={route}")
            assert headers["x-upstream"] == upstream
            assert "rnnlab_route" not in headers.get("set-cookie", "")


def test_replicas_share_one_cookie_secret_and_each_has_its_job_cap(
        launcher: ClassServer) -> None:
    secrets, caps = set(), set()
    for replica in launcher.state["replicas"]:
        proc = psutil.Process(replica["pid"])
        env = proc.environ()
        secrets.add(env["STREAMLIT_SERVER_COOKIE_SECRET"])
        caps.add(env["RNNVIZ_MAX_JOBS"])
        assert not any(s in " ".join(proc.cmdline()) for s in secrets)  # not shown by `ps`
    assert len(secrets) == 1 and len(next(iter(secrets))) >= 32
    assert caps == {"1"}


def _context_on(browser: Browser, url: str, upstream: str) -> BrowserContext:
    """A fresh browser (context) that nginx sent to ``upstream`` (new ones land at random)."""
    for _ in range(16):
        context = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="zh-CN")
        if context.request.get(f"{url}/_stcore/health").headers["x-upstream"] == upstream:
            return context
        context.close()
    raise AssertionError(f"16 new browsers and none was sent to {upstream}")


def test_two_browsers_work_through_the_proxy_each_on_its_replica(
        launcher: ClassServer, browser: Browser, tmp_path: Path) -> None:
    checkpoint = tmp_path / "tiny.safetensors"
    tiny_checkpoint().save(checkpoint)
    expected = Predictor.from_file(checkpoint).predict(TEXT)
    proxy = SimpleNamespace(url=launcher.url)
    upstreams = [f"127.0.0.1:{r['port']}" for r in launcher.state["replicas"]]
    tabs, answered, uploads = [], {}, {}
    for upstream in upstreams:
        context = _context_on(browser, launcher.url, upstream)
        page = context.new_page()
        answered[upstream], uploads[upstream] = set(), []
        page.on("response", lambda r, seen=answered[upstream]: seen.add(
            r.headers.get("x-upstream")) if r.url.startswith(launcher.url) else None)
        page.on("request", lambda r, puts=uploads[upstream]: puts.append(r.url)
                if r.method == "PUT" and "/_stcore/upload_file/" in r.url else None)
        tabs.append((upstream, context, AppPage(page, proxy).open(existing("pages/predict.py"))))
    # Both sessions are open at once, one on each replica; each uploads and predicts.
    for _, _, app in tabs:
        app.choose("模型", UPLOAD_OPTION)
        app.upload("RNN Lab 保存的模型", checkpoint)  # an upload: 400 without affinity
        area = app.page.get_by_label("或输入一段中文新闻标题")
        area.fill(TEXT)
        area.press("Control+Enter")  # a widget rerun over the websocket
        area.blur()
        app.settle()
        box = app.page.get_by_test_id("stAlertContentSuccess").filter(has_text="预测类别")
        expect(box).to_contain_text(f"{expected.probabilities[expected.label]:.1%}")
        app.assert_healthy()
    for upstream, context, _ in tabs:
        assert answered[upstream] == {upstream}, f"{upstream}: answered by {answered[upstream]}"
        assert uploads[upstream], "no upload request was made"
        # The session lives on its replica only: the same upload sent straight to the other
        # one is refused as an unknown session (what happens without affinity). The XSRF
        # token is the cookie's, so only the session check can refuse it.
        other = next(u for u in upstreams if u != upstream)
        xsrf = next(c["value"] for c in context.cookies() if c["name"] == "_streamlit_xsrf")
        direct = context.request.put(
            uploads[upstream][0].replace(launcher.url, f"http://{other}"),
            headers={"X-Xsrftoken": xsrf},
            multipart={"file": {"name": "x", "mimeType": "text/plain", "buffer": b"x"}})
        assert direct.status == 400 and "Invalid session_id" in direct.text(), direct.text()
    routes = {}
    for upstream, context, _ in tabs:
        routes[upstream] = next(c["value"] for c in context.cookies()
                                if c["name"] == "rnnlab_route")
        context.close()  # closes the websocket: nginx logs it then
    # nginx's own record: every request of each browser, websocket and upload included, went
    # to its one replica.
    log = Path(launcher.state["nginx"]["access_log"])
    for upstream, route in routes.items():
        lines = []
        for _ in range(100):
            lines = [ln for ln in log.read_text().splitlines() if f"route={route}" in ln]
            if any('"GET /_stcore/stream' in ln for ln in lines):
                break
            time.sleep(0.1)
        assert {re.search(r"upstream=(\S+)", ln).group(1) for ln in lines} == {upstream}
        assert any('"GET /_stcore/stream' in ln and '" 101 ' in ln for ln in lines)
        assert any('"PUT /_stcore/upload_file/' in ln and '" 204 ' in ln for ln in lines)


def test_ctrl_c_stops_every_process_and_frees_every_port(launcher: ClassServer) -> None:
    state = launcher.state
    started = [psutil.Process(launcher.pid)]
    for pid in [state["nginx"]["pid"], *(r["pid"] for r in state["replicas"])]:
        proc = psutil.Process(pid)
        started += [proc, *proc.children(recursive=True)]  # nginx workers, app job processes
    assert len(started) >= 5  # launcher, nginx master + worker, 2 replicas
    created = {p.pid: p.create_time() for p in started}
    ports = [state["port"], *(r["port"] for r in state["replicas"])]
    assert launcher.stop(signal.SIGINT) == 0, launcher.log_tail()
    assert "stopped: nginx and every replica" in launcher.log_tail()
    left = [pid for pid, t in created.items() if not gone(pid, t)]
    assert left == [], [psutil.Process(p).cmdline() for p in left]
    assert [p for p in ports if not port_is_free(p)] == []
    assert not Path(state["run_dir"]).exists()  # the temporary run directory is removed
    assert not launcher.state_file.exists()
