"""bench/classroom.py's sessions over the app's websocket protocol (bench/st_client.py).

A student opens the predict page, then loops: set the text area to a unique news title, rerun,
and time the run until the label and that text's tokens have arrived; think; repeat. The
trainer opens the Text-RNN page, picks small settings and starts a training run on the
THUCNews folder, restarting it when it finishes, until the phase ends, then presses Stop. Both
do what a browser tab sends, with none of its rendering cost on this machine.
"""

from __future__ import annotations

import asyncio
import html
import random
import re
import time
from collections.abc import Callable
from typing import Any

from st_client import SessionLost, StreamlitSession, kind

TEXT_LABEL = "或输入一段中文新闻标题"


def _answer_arrived(expected_tokens: str) -> Callable[[Any], bool]:
    """The element that completes an answer: the token spans of exactly this text."""

    def match(element: Any) -> bool:
        if kind(element) != "markdown" or "line-height" not in element.markdown.body:
            return False
        return span_text(element.markdown.body) == expected_tokens

    return match


def span_text(markup: str) -> str:
    """The text of rnnviz.plots.report.importance_html's spans, unescaped as the browser shows
    it."""
    spans = re.findall(r"<span[^>]*>(.*?)</span>", markup, flags=re.S)
    return "".join(html.unescape(t) for t in spans)


async def student(url: str, page_path: str, expected: Callable[[str], str], titles: list[str],
                  index: int, start_at: list[float], stop_at: list[float], think_s: float,
                  timeout_s: float, stats: Any, slow_after_s: float) -> None:
    """One student predicting until ``stop_at``; figures go to ``stats``
    (classroom.PhaseStats)."""
    session = StreamlitSession(url)
    try:
        t0 = time.perf_counter()
        await session.open(page_path, timeout_s)
        area = session.widget("text_area", TEXT_LABEL)
        stats.open_s.append(time.perf_counter() - t0)
        while time.perf_counter() < start_at[0]:  # everyone starts together once all are in
            await asyncio.sleep(0.05)
        await asyncio.sleep(random.Random(index).uniform(0, think_s))  # not all in one instant
        i = 0
        while time.perf_counter() < stop_at[0]:
            text = f"{titles[(index + i) % len(titles)]}{index}{i}"  # unique: the page must change
            i += 1
            session.set_string(area, text)
            try:
                run = await session.rerun(timeout_s=timeout_s)
            except TimeoutError:
                stats.timeouts += 1
                continue
            answer = run.first(_answer_arrived(expected(text)))
            alert = run.first(lambda e: kind(e) == "alert" and "预测类别" in e.alert.body)
            if answer is None or alert is None:
                stats.exceptions += 1  # the run ended without this text's answer
                continue
            latency = max(answer[0], alert[0]) - run.started
            stats.latencies.append(latency)
            if latency > slow_after_s:
                stats.slow.append((run.started - start_at[0], index, latency))
            await asyncio.sleep(think_s)
    except (SessionLost, OSError, LookupError, TimeoutError) as exc:
        print(f"  session {index}: lost ({type(exc).__name__}: {str(exc)[:120]})", flush=True)
        stats.lost += 1
    finally:
        stats.exceptions += len(session.exceptions)
        await session.close()


async def trainer(url: str, page_path: str, stop: asyncio.Event, timeout_s: float,
                  report: dict) -> None:
    """One student training a small Text-RNN (H = E = 32, quick mode) until ``stop`` is set."""
    session = StreamlitSession(url)
    try:
        await session.open(page_path, timeout_s)
        source = session.find("radio", "数据来源")
        if source is None or "THUCNews 数据目录" not in list(source.options):
            report["error"] = ("no THUCNews folder on the server (set RNNVIZ_DATA_DIR); the "
                               "protocol client cannot upload files: use --client browser")
            return
        report["data"] = "THUCNews folder, quick mode"
        mode = session.find("radio", "训练方式")  # the class preset is the default: go custom
        if mode is not None:
            session.set_string(mode.id, next(o for o in mode.options if o.startswith("自定义")))
            await session.rerun(timeout_s=timeout_s)
        for label in ("隐藏单元数 H", "嵌入维度 E"):
            session.set_strings(session.widget("slider", label), ["32"])
        epochs = session.find("slider", "训练轮数 epochs")
        session.set_slider(epochs.id, epochs.max)  # one run outlasts the phase
        await session.rerun(timeout_s=timeout_s)
        while not stop.is_set():
            start = session.find("button", "开始训练")
            running = session.find("button", "停止（保留最好的模型）") is not None
            if not running and start is not None and not start.disabled:
                await session.click(start.id, timeout_s)  # none running: (re)start
                report["runs"] = report.get("runs", 0) + 1
            await asyncio.sleep(1.0)  # the page's live fragment reruns on its own timer meanwhile
            bar = session.find("progress", "")
            if bar is not None:
                report["progress"] = bar.text
        stop_button = session.find("button", "停止（保留最好的模型）")
        if stop_button is not None:
            await session.click(stop_button.id, timeout_s)
            deadline = time.perf_counter() + timeout_s
            while time.perf_counter() < deadline and session.find("alert", "已手动停止") is None:
                await asyncio.sleep(0.5)
            report["stopped"] = session.find("alert", "已手动停止") is not None
        if session.exceptions:
            report["error"] = f"exception on the training page: {session.exceptions[0][:160]}"
    except (SessionLost, OSError, LookupError, TimeoutError) as exc:
        report["error"] = f"{type(exc).__name__}: {str(exc)[:160]}"
    finally:
        await session.close()


__all__ = ["TEXT_LABEL", "span_text", "student", "trainer"]
