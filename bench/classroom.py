"""Benchmark: a class on one server — N students predicting while one trains.

    python bench/classroom.py [--sessions 30] [--duration 60] [--baseline-duration 20]
                              [--think 5] [--client protocol|browser] [--model PATH]
                              [--no-trainer] [--also-without-trainer] [--render-charts]
                              [--replicas N | --url URL] [--verbose]

Starts the app as a class would (`streamlit run app.py` on 127.0.0.1, torch 1 thread, see
docs/deploy.md), or with --replicas N the class deployment of several processes
(scripts/serve_class.sh N: N replicas behind nginx with sticky sessions; every session then
goes through nginx), or uses a server already running at --url (no memory or CPU figures
then: its processes may not be on this machine), and drives sessions over its websocket:

  baseline   - 1 session predicting alone for --baseline-duration seconds;
  class      - one session trains a Text-RNN on the training page (quick mode, H = E = 32, run
               restarted if it finishes) while --sessions sessions predict for --duration s;
  class-idle - (with --also-without-trainer) the same class with nobody training.

Sessions (--client): "protocol" (default) speaks Streamlit's websocket protocol
(bench/st_client.py, bench/classroom_protocol.py): the messages a browser tab sends, with no
rendering on this machine, so the figures are the server's. "browser" uses one headless
Chromium (Debian's /usr/bin/chromium), one context per student; it can upload a checkpoint
(--model, or a stand-in when no model is shipped) and a training file, and it measures typing
to the answer on screen, but thirty renderers take the server's cores.

A predicting session opens the predict page, then loops: type a unique news title, submit,
wait until the label and that text's tokens have arrived (protocol) or are on screen
(browser), think --think seconds (default 5; typing a title with a pinyin input method and
reading the answer takes a student longer, so this is a busy class). Each session's first
title comes at a random moment within its first think, not all in one instant. The model is
the shipped Text-RNN (protocol), or --model / the shipped model / a random stand-in of the
shipped size that every browser session uploads (the app keeps one copy per content hash).

Prints, per phase: predictions, latency p50/p95/max, errors (exception boxes, timeouts, lost
sessions), the server's peak RSS (psutil, children included), the time sessions took to open
the page, predictions/s and the cores the server and the browser kept busy; the ratios to the
baseline; then the targets (no errors, p95 < 1 s, peak < 2 GB).

With --client browser the browser runs on the server's machine, while in a class each
student's browser renders on the student's own computer: by default it does not draw the
Plotly charts (it blocks the chart component's script; the server still builds and sends
every figure); --render-charts draws them too (the most pessimistic case). Other work on the
machine inflates every figure: the load average is printed. A benchmark, not a test: it never
asserts. It targets the 127.0.0.1 servers it starts itself, or --url.

With --replicas the peak RSS and the server's cores are those of every replica, nginx and the
training processes together, and the nginx access log says how many websocket sessions each
replica served (its run directory, with every replica's log, is kept and printed).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import os
import random
import re
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "e2e"))

import classroom_protocol as protocol  # noqa: E402
import psutil  # noqa: E402
import torch  # noqa: E402
from appserver import (  # noqa: E402
    APP_CONNECTED,
    APP_IDLE,
    CHROMIUM,
    CHROMIUM_ARGS,
    AppServer,
    check_chromium,
)
from classserver import ClassServer, find_nginx  # noqa: E402
from playwright.async_api import Page, async_playwright  # noqa: E402
from st_client import StreamlitSession  # noqa: E402

from rnnviz.core.checkpoint import Checkpoint, load_checkpoint  # noqa: E402
from rnnviz.core.models import ModelConfig, build_model  # noqa: E402
from rnnviz.core.text import PAD, UNK, Vocab, make_tokenizer  # noqa: E402
from rnnviz.paths import MODELS_DIR  # noqa: E402

TARGET_P95_S = 1.0
TARGET_PEAK_BYTES = 2 * 2**30
PREDICT_PATH = "predict-and-gates"
TRAIN_PATH = "train-textrnn"
UPLOAD_OPTION = "上传 .safetensors 模型…"
TITLES = [
    "中国女排三比零战胜对手提前锁定冠军",
    "央行宣布下调存款准备金率零点五个百分点",
    "新款手机发布搭载自研芯片",
    "沪指午后震荡走高券商板块领涨",
    "城东新盘周末开盘均价每平米两万八",
    "教育部发布通知中小学课后服务",
    "电影票房突破十亿主演亮相发布会",
    "网络游戏新版本上线玩家排队",
    "多地出台政策稳定房地产市场",
    "科学家发现新型材料可提高电池寿命",
]
# The coloured token spans the predict page draws (rnnviz.plots.report.importance_html).
TOKENS_JS = """(expected) => {
  const spans = document.querySelectorAll(
    "[data-testid=stMarkdownContainer] div[style*='line-height'] > span");
  const ok = document.querySelector("[data-testid=stAlertContentSuccess]");
  return ok !== null && Array.from(spans, s => s.textContent).join("") === expected;
}"""


# ---- the model every session predicts with -------------------------------------------------


def stand_in_checkpoint(path: Path) -> Path:
    """A random Text-RNN of the shipped size (as bench/trace_latency.py builds it)."""
    chars = sorted(set("".join(TITLES))) + [chr(0x4E00 + i) for i in range(5000)]
    itos = list(dict.fromkeys([PAD, UNK, *chars]))[:5000]
    classes = ["finance", "realty", "stocks", "education", "science", "society", "politics",
               "sports", "game", "entertainment"]
    config = ModelConfig(model="textrnn", embed_dim=128, hidden_size=128, num_layers=2,
                         vocab_size=len(itos), num_classes=len(classes))
    torch.manual_seed(0)
    Checkpoint(build_model(config).eval(), config, Vocab(tuple(itos)), classes).save(path)
    return path


@dataclass
class ModelChoice:
    upload: Path | None  # None: the shipped model, selected by default on the page
    description: str
    tokenizer: object
    max_len: int

    def expected(self, text: str) -> str:
        return "".join(self.tokenizer(text)[: self.max_len])  # type: ignore[operator]


def choose_model(arg: str | None, tmp: Path) -> ModelChoice:
    shipped = MODELS_DIR / "textrnn.safetensors"
    if arg:
        path, upload, what = Path(arg), Path(arg), f"uploaded {arg}"
    elif shipped.is_file():
        path, upload, what = shipped, None, f"shipped {shipped.relative_to(ROOT)}"
    else:
        path = upload = stand_in_checkpoint(tmp / "stand-in.safetensors")
        what = "uploaded random stand-in of the shipped size (no shipped model yet)"
    ck = load_checkpoint(path)
    c = ck.config
    what += f" [{c.model} {c.cell} L={c.num_layers} H={c.hidden_size} {c.tokenizer}]"
    return ModelChoice(upload, what, make_tokenizer(c.tokenizer), c.max_len)


# ---- server memory -------------------------------------------------------------------------


class ServerWatch:
    """Samples, every ``every_s``: the server's RSS (children included), for its peak, and the CPU
    time of the server and of this benchmark's own Chromium processes.

    CPU is summed per process over first and last sighting, so a browser process that exits
    (a closed context) keeps what it used. ``include_root=False`` counts only the process's
    descendants (serve_class.sh's launcher is not part of the server)."""

    def __init__(self, pid: int, every_s: float = 0.2, include_root: bool = True) -> None:
        self.proc = psutil.Process(pid)
        self.include_root = include_root
        self.every_s = every_s
        self.peak = 0
        self._cpu: dict[tuple[str, int], list[float]] = {}  # (side, pid) -> [first, last] CPU s
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _server_procs(self) -> list[psutil.Process]:
        root = [self.proc] if self.include_root else []
        return [*root, *self.proc.children(recursive=True)]

    def _sample(self) -> int:
        rss = 0
        browser = []
        for p in psutil.Process().children(recursive=True):
            with contextlib.suppress(psutil.Error):  # a renderer may exit while we look
                if "chrom" in p.name().lower():
                    browser.append(p)
        for side, procs in (("server", self._server_procs()), ("browser", browser)):
            for p in procs:
                with contextlib.suppress(psutil.Error):  # it may exit between the calls
                    t = p.cpu_times()
                    cpu = t.user + t.system
                    if side == "server":
                        rss += p.memory_info().rss
                    with self._lock:
                        self._cpu.setdefault((side, p.pid), [cpu, cpu])[1] = cpu
        return rss

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            try:
                self.peak = max(self.peak, self._sample())
            except psutil.Error:
                return

    def reset_peak(self) -> None:
        self.peak = self._sample()

    def reset_cpu(self) -> None:
        with self._lock:
            self._cpu.clear()
        self._sample()

    def cpu_seconds(self) -> dict[str, float]:
        """CPU seconds used since ``reset_cpu``, by side ("server", "browser")."""
        self._sample()
        out = {"server": 0.0, "browser": 0.0}
        with self._lock:
            for (side, _), (first, last) in self._cpu.items():
                out[side] += last - first
        return out

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


class NoWatch:
    """--url: the server's processes are not ours to measure; every figure is nan."""

    peak = float("nan")

    def reset_peak(self) -> None:
        pass

    def reset_cpu(self) -> None:
        pass

    def cpu_seconds(self) -> dict[str, float]:
        return {"server": float("nan"), "browser": float("nan")}

    def stop(self) -> None:
        pass


class RunningServer:
    """--url: a server (or proxy) somebody else started and will stop."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")
        self.pid = None
        self.log_path = None

    def start(self) -> str:
        return self.url

    def stop(self) -> None:
        pass


def websockets_per_replica(access_log: Path) -> dict[str, int]:
    """Websocket sessions each replica served, from nginx's access log (serve_class.py's format:
    a websocket is logged when it closes, with status 101)."""
    counts: collections.Counter[str] = collections.Counter()
    with contextlib.suppress(OSError):
        for line in access_log.read_text(encoding="utf-8", errors="replace").splitlines():
            m = re.search(r'"GET /_stcore/stream[^"]*" 101 .*upstream=(\S+)', line)
            if m:
                counts[m.group(1)] += 1
    return dict(sorted(counts.items()))


# ---- sessions ------------------------------------------------------------------------------


@dataclass
class PhaseStats:
    latencies: list[float] = field(default_factory=list)
    slow: list[tuple[float, int, float]] = field(default_factory=list)  # (at s, session, latency s)
    exceptions: int = 0
    timeouts: int = 0
    lost: int = 0
    open_s: list[float] = field(default_factory=list)
    wall_s: float = 0.0
    server_cpu_s: float = 0.0
    browser_cpu_s: float = 0.0


async def wait_idle(page: Page, timeout_s: float) -> None:
    await page.wait_for_selector(APP_CONNECTED, state="attached", timeout=timeout_s * 1000)
    await page.wait_for_selector(APP_IDLE, state="attached", timeout=timeout_s * 1000)


async def settle(page: Page, timeout_s: float) -> None:
    await page.wait_for_timeout(300)
    await wait_idle(page, timeout_s)


async def choose_option(page: Page, label: str, option: str) -> None:
    combo = page.get_by_test_id("stSelectbox").filter(has_text=label).first.get_by_role("combobox")
    await combo.focus()
    await combo.press("ArrowDown")
    await page.get_by_role("option", name=option).first.click()


async def open_predict(page: Page, url: str, model: ModelChoice, timeout_s: float) -> None:
    await page.goto(f"{url}/{PREDICT_PATH}", timeout=timeout_s * 1000)
    await wait_idle(page, timeout_s)
    if model.upload is not None:
        await choose_option(page, "模型", UPLOAD_OPTION)
        await settle(page, timeout_s)
        uploader = page.get_by_test_id("stFileUploader").locator("input[type=file]")
        await uploader.set_input_files(str(model.upload))
    await page.wait_for_selector("[data-testid=stAlertContentSuccess]", timeout=timeout_s * 1000)
    await wait_idle(page, timeout_s)


async def new_context(browser, render_charts: bool):
    context = await browser.new_context(viewport={"width": 1200, "height": 900}, locale="zh-CN")
    if not render_charts:  # the chart's script never loads: its place says so, nothing is drawn
        await context.route("**/PlotlyChart.*.js", lambda route: route.abort())
    return context


async def student(browser, url: str, model: ModelChoice, index: int, start_at: list[float],
                  stop_at: list[float], think_s: float, timeout_s: float, stats: PhaseStats,
                  render_charts: bool) -> None:
    context = await new_context(browser, render_charts)
    page = await context.new_page()
    try:
        t0 = time.perf_counter()
        await open_predict(page, url, model, timeout_s)
        stats.open_s.append(time.perf_counter() - t0)
        while time.perf_counter() < start_at[0]:  # everyone starts together once all are in
            await asyncio.sleep(0.05)
        area = page.get_by_label("或输入一段中文新闻标题")
        # Students do not press Enter in the same instant: each starts somewhere in its first think.
        await asyncio.sleep(random.Random(index).uniform(0, think_s))
        i = 0
        while time.perf_counter() < stop_at[0]:
            text = f"{TITLES[(index + i) % len(TITLES)]}{index}{i}"  # unique: the page must change
            i += 1
            await area.fill(text)
            t0 = time.perf_counter()
            await area.press("Control+Enter")
            try:
                # Polled every 25 ms, not every animation frame: the check costs the browser no CPU.
                await page.wait_for_function(TOKENS_JS, arg=model.expected(text), polling=25,
                                             timeout=timeout_s * 1000)
            except Exception:
                if page.is_closed() or await page.locator(APP_CONNECTED).count() == 0:
                    stats.lost += 1
                    return
                stats.timeouts += 1
                continue
            stats.latencies.append(time.perf_counter() - t0)
            if stats.latencies[-1] > TARGET_P95_S:
                stats.slow.append((t0 - start_at[0], index, stats.latencies[-1]))
            if await page.get_by_test_id("stException").count():
                stats.exceptions += 1
            await wait_idle(page, timeout_s)
            await page.wait_for_timeout(think_s * 1000)
    except Exception as exc:  # the page or the browser went away
        print(f"  session {index}: lost ({type(exc).__name__}: {str(exc)[:120]})", flush=True)
        stats.lost += 1
    finally:
        await context.close()


async def trainer(browser, url: str, stop: asyncio.Event, timeout_s: float, tmp: Path,
                  report: dict, render_charts: bool) -> None:
    """One student training a Text-RNN (quick mode, small model) until the phase ends."""
    context = await new_context(browser, render_charts)
    page = await context.new_page()
    try:
        await page.goto(f"{url}/{TRAIN_PATH}", timeout=timeout_s * 1000)
        await wait_idle(page, timeout_s)
        # The class preset is the default: the custom mode (quick, small model) instead.
        await page.get_by_test_id("stRadio").filter(has_text="训练方式").get_by_text(
            "自定义").click()
        await settle(page, timeout_s)
        for label in ("隐藏单元数 H", "嵌入维度 E"):  # 64 -> 32: small settings
            slider = page.locator(f'input[type=range][aria-label="{label}"]')
            await slider.focus()
            await slider.press("ArrowLeft")
            await settle(page, timeout_s)
        source = page.get_by_test_id("stRadio").filter(has_text="数据来源")
        if await source.get_by_text("THUCNews 数据目录").count():
            report["data"] = "THUCNews folder, quick mode (5000 titles)"
        else:
            await source.get_by_text("上传文件").click()
            await settle(page, timeout_s)
            data = tmp / "titles.txt"
            labels = ["体育", "财经", "科技"]
            data.write_text("".join(f"{labels[i % 3]}\t{TITLES[i % len(TITLES)]}{i}\n"
                                    for i in range(5000)), encoding="utf-8")
            uploader = page.get_by_test_id("stFileUploader").filter(has_text="训练文件").first
            await uploader.locator("input[type=file]").set_input_files(str(data))
            await settle(page, timeout_s)
            report["data"] = "an uploaded 5000-line file"
        epochs = page.locator('input[type=range][aria-label="训练轮数 epochs"]')
        await epochs.focus()
        await epochs.press("End")  # 20 epochs: one run outlasts the phase
        await settle(page, timeout_s)
        start = page.get_by_role("button", name="开始训练")
        stop_button = page.get_by_role("button", name="停止（保留最好的模型）")
        while not stop.is_set():
            # None running: (re)start.
            if await stop_button.count() == 0 and await start.is_enabled():
                await start.click()
                report["runs"] = report.get("runs", 0) + 1
                await stop_button.wait_for(timeout=timeout_s * 1000)
            await asyncio.sleep(1.0)
            bar = page.get_by_test_id("stProgress")
            if await bar.count():
                report["progress"] = (await bar.first.inner_text()).strip()
        if await stop_button.count():
            await stop_button.click()
            await page.wait_for_selector("text=已手动停止", timeout=timeout_s * 1000)
            report["stopped"] = True
    except Exception as exc:
        report["error"] = f"{type(exc).__name__}: {str(exc)[:160]}"
    finally:
        await context.close()


async def run_phase(browser, url: str, model: ModelChoice, sessions: int, duration_s: float,
                    args: argparse.Namespace, with_trainer: bool, tmp: Path,
                    watch: ServerWatch | NoWatch) -> tuple[PhaseStats, dict]:
    """``browser`` is None for protocol clients (--client protocol)."""
    think_s, timeout_s, render = args.think, args.timeout, args.render_charts
    stats, train_report, stop = PhaseStats(), {}, asyncio.Event()
    watch.reset_peak()  # the whole phase: sessions opening their pages included
    train_task = None
    if with_trainer:
        if browser is None:
            train = protocol.trainer(url, TRAIN_PATH, stop, timeout_s, train_report)
        else:
            train = trainer(browser, url, stop, timeout_s, tmp, train_report, render)
        train_task = asyncio.create_task(train)
        await asyncio.sleep(5.0)  # let the training job start before the class arrives
    far = time.perf_counter() + 10**6
    start_at, stop_at = [far], [far]
    tasks = []
    for i in range(sessions):
        if browser is None:
            one = protocol.student(url, PREDICT_PATH, model.expected, TITLES, i, start_at,
                                   stop_at, think_s, timeout_s, stats, TARGET_P95_S)
        else:
            one = student(browser, url, model, i, start_at, stop_at, think_s, timeout_s, stats,
                          render)
        tasks.append(asyncio.create_task(one))
        await asyncio.sleep(0.1)  # students arrive over a few seconds, not in one instant
    # Start the clock once every session has its page open (or has failed to).
    while len(stats.open_s) + stats.lost < sessions and not all(t.done() for t in tasks):
        await asyncio.sleep(0.1)
    start_at[0] = time.perf_counter()
    stop_at[0] = start_at[0] + duration_s
    watch.reset_cpu()  # the measured window only
    await asyncio.gather(*tasks)
    stats.wall_s = time.perf_counter() - start_at[0]
    cpu = watch.cpu_seconds()
    stats.server_cpu_s, stats.browser_cpu_s = cpu["server"], cpu["browser"]
    stop.set()
    if train_task is not None:
        await train_task
    train_report["peak_rss"] = watch.peak
    return stats, train_report


# ---- report --------------------------------------------------------------------------------


async def warm_up(browser, url: str, timeout_s: float) -> None:
    """One visit pays the imports; a fresh server's first session also shows "Page not found"
    on deep links (docs/deploy.md)."""
    if browser is None:
        session = StreamlitSession(url)
        try:
            await session.open("", timeout_s)
        finally:
            await session.close()
        return
    warm = await browser.new_page()
    await warm.goto(url)
    await wait_idle(warm, timeout_s)
    await warm.close()


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def _row(name: str, sessions: int, s: PhaseStats, peak: int) -> tuple[float, float, float]:
    p50, p95 = _pct(s.latencies, 50), _pct(s.latencies, 95)
    mx = max(s.latencies, default=float("nan"))
    opened = f"{statistics.median(s.open_s):.1f}/{max(s.open_s):.1f}" if s.open_s else "-"
    print(f"{name:<10}{sessions:>8} {len(s.latencies):>11} {p50 * 1000:>8.0f} "
          f"{p95 * 1000:>8.0f} {mx * 1000:>8.0f}   {s.exceptions:>3}/{s.timeouts:>3}/{s.lost:>3}"
          f"     {peak / 2**20:>8.0f}   {opened:>9}")
    return p50, p95, mx


def make_server(args: argparse.Namespace, tmp: Path) -> AppServer | ClassServer | RunningServer:
    """One `streamlit run app.py`, serve_class.sh's replicas behind nginx, or --url."""
    if args.url:
        return RunningServer(args.url)
    if args.replicas:
        if find_nginx() is None:
            sys.exit("--replicas needs Debian's nginx (apt-get install nginx)")
        # The run directory is kept: nginx's access log and every replica's log stay readable.
        return ClassServer(args.replicas, tmp / "serve_class.json", tmp / "serve_class.log",
                           ["--run-dir", str(tmp / "serve_class")])
    return AppServer(tmp / "server.log")


def describe(server: AppServer | ClassServer | RunningServer) -> str:
    if isinstance(server, ClassServer):
        replicas = ", ".join(r["url"] for r in server.state["replicas"])
        return (f"nginx {server.url} in front of {server.replicas} replica(s) ({replicas}; "
                f"RNNVIZ_MAX_JOBS={server.state['max_jobs']} each)")
    if isinstance(server, RunningServer):
        return f"running server {server.url} (--url: no memory or CPU figures)"
    return f"server {server.url} (pid {server.pid})"


async def main_async(args: argparse.Namespace) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="classroom-"))
    model = choose_model(args.model, tmp)
    if args.client == "protocol" and model.upload is not None:
        sys.exit("the protocol client cannot upload a checkpoint (--model, or no shipped model): "
                 "use --client browser")
    if args.client == "browser":
        check_chromium()
    server = make_server(args, tmp)
    server.start()
    watch: ServerWatch | NoWatch = NoWatch()
    if server.pid is not None:  # serve_class.sh's own launcher process is not the server
        watch = ServerWatch(server.pid, include_root=not isinstance(server, ClassServer))
    try:
        async with contextlib.AsyncExitStack() as stack:
            browser = None
            if args.client == "browser":
                p = await stack.enter_async_context(async_playwright())
                browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                stack.push_async_callback(browser.close)
            await warm_up(browser, server.url, args.timeout)
            print(f"{describe(server)}, model: {model.description}", flush=True)
            if browser is None:
                clients = ("websocket protocol clients (bench/st_client.py): nothing rendered "
                           "on this machine")
            else:
                charts = "drawn" if args.render_charts else "not drawn (--render-charts)"
                clients = f"Chromium contexts on this machine, charts {charts}"
            print(f"think {args.think:.1f} s, timeout {args.timeout:.0f} s, sessions are "
                  f"{clients} ({psutil.cpu_count()} CPUs)\n", flush=True)
            results = {}

            async def phase(name: str, sessions: int, duration_s: float, training: bool) -> None:
                results[name] = (sessions, *await run_phase(
                    browser, server.url, model, sessions, duration_s, args, training, tmp, watch))

            if args.baseline_duration > 0:
                print(f"baseline: 1 session for {args.baseline_duration:.0f} s ...", flush=True)
                await phase("baseline", 1, args.baseline_duration, False)
            if args.also_without_trainer and args.trainer:
                print(f"class-idle: {args.sessions} sessions, nobody training, for "
                      f"{args.duration:.0f} s ...", flush=True)
                await phase("class-idle", args.sessions, args.duration, False)
            trainer_note = " + 1 training" if args.trainer else ""
            print(f"class: {args.sessions} sessions{trainer_note} for {args.duration:.0f} s ...",
                  flush=True)
            await phase("class", args.sessions, args.duration, args.trainer)
    finally:
        server.stop()  # first: whatever failed, never leave the server running
        watch.stop()

    print("\nphase     sessions predictions  p50(ms)  p95(ms)  max(ms)   exc/timeout/lost  "
          "peakRSS(MiB)  open s p50/max")
    figures = {name: _row(name, n, stats, tr["peak_rss"])
               for name, (n, stats, tr) in results.items()}
    for name, (_, s, _) in results.items():
        if s.wall_s > 0:
            print(f"{name}: {len(s.latencies) / s.wall_s:.1f} predictions/s; cores busy: server "
                  f"{s.server_cpu_s / s.wall_s:.2f}, browser (same machine) "
                  f"{s.browser_cpu_s / s.wall_s:.2f}")
    if args.verbose:
        for name, (_, s, _) in results.items():
            for at, who, latency in sorted(s.slow):
                print(f"  slow {name}: session {who} at {at:6.1f} s took {latency:.2f} s")
    print(f"load average at the end: {' '.join(f'{x:.1f}' for x in os.getloadavg())} "
          f"(other work on this machine inflates every figure)")
    if "baseline" in figures:
        b = figures["baseline"]
        for name, c in figures.items():
            if name != "baseline":
                print(f"ratio {name}/baseline: p50 {c[0] / b[0]:.1f}x, p95 {c[1] / b[1]:.1f}x, "
                      f"max {c[2] / b[2]:.1f}x")
    train = results["class"][2]
    if args.trainer:
        print(f"trainer: data {train.get('data', '?')}, runs started {train.get('runs', 0)}, "
              f"last progress '{train.get('progress', '-')}', stopped "
              f"{train.get('stopped', False)}"
              + (f", ERROR {train['error']}" if "error" in train else ""))
    if isinstance(server, ClassServer):
        spread = websockets_per_replica(Path(server.state["nginx"]["access_log"]))
        print("websocket sessions per replica (nginx access log, warm-up and trainer included): "
              + (", ".join(f"{u} {n}" for u, n in spread.items()) or "none logged"))
    errors = sum(s.exceptions + s.timeouts + s.lost for _, s, _ in results.values())
    errors += "error" in train
    peak = max(tr["peak_rss"] for _, _, tr in results.values())
    p95 = figures["class"][1]
    print("targets: "
          f"errors {errors} (0) {'ok' if errors == 0 else 'MISSED'}; "
          f"class p95 {p95:.2f} s (< {TARGET_P95_S:.0f} s) "
          f"{'ok' if p95 < TARGET_P95_S else 'MISSED'}; "
          f"peak RSS {peak / 2**30:.2f} GiB (< 2 GiB) "
          f"{'ok' if peak < TARGET_PEAK_BYTES else 'MISSED'}")
    if isinstance(server, ClassServer):
        print(f"serve_class.sh output: {server.log_path}; nginx and replica logs: "
              f"{server.state['run_dir']}")
    elif server.log_path is not None:
        print(f"server log: {server.log_path}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sessions", type=int, default=30,
                    help="students predicting at once (default 30)")
    ap.add_argument("--duration", type=float, default=60.0,
                    help="seconds of the class phase (default 60)")
    ap.add_argument("--baseline-duration", type=float, default=20.0,
                    help="seconds of the 1-session baseline (0 skips it; default 20)")
    ap.add_argument("--think", type=float, default=5.0,
                    help="seconds between a result and the next text (default 5)")
    ap.add_argument("--timeout", type=float, default=30.0,
                    help="seconds before a prediction counts as timed out")
    ap.add_argument("--model", help="a checkpoint to upload instead of the shipped model / "
                                    "stand-in")
    ap.add_argument("--no-trainer", dest="trainer", action="store_false",
                    help="no training session")
    ap.add_argument("--verbose", action="store_true",
                    help="list every prediction slower than 1 s, and when")
    ap.add_argument("--client", choices=["protocol", "browser"], default="protocol",
                    help="sessions speak the app's websocket protocol (default; nothing rendered "
                         "here) or are Chromium contexts on this machine (renders, uploads; "
                         "costs this machine's CPU)")
    ap.add_argument("--render-charts", action="store_true",
                    help="draw the Plotly charts in the benchmark's browser too (students' work, "
                         "on this machine)")
    ap.add_argument("--also-without-trainer", action="store_true",
                    help="also run the class phase with nobody training (what the training run "
                         "costs)")
    where = ap.add_mutually_exclusive_group()
    where.add_argument("--replicas", type=int, default=0,
                       help="serve the class from N app replicas behind nginx "
                            "(scripts/serve_class.sh N) instead of one process")
    where.add_argument("--url", default="",
                       help="use a server already running there (e.g. serve_class.sh's proxy) "
                            "instead of starting one; its replicas must have run the app once")
    args = ap.parse_args()
    torch.set_num_threads(1)
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
