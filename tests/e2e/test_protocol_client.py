"""The classroom benchmark's websocket client (bench/st_client.py) sees what a browser sees.

bench/classroom.py's figures rest on it: its sessions must get the same answers as the core,
with the widgets they set taking effect, or the latencies it reports would time something else.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import pytest
from appserver import ROOT, AppServer

from rnnviz.core.classes import display_class
from rnnviz.core.predict import Predictor

sys.path.insert(0, str(ROOT / "bench"))
from classroom_protocol import TEXT_LABEL, span_text  # noqa: E402
from st_client import StreamlitSession, kind  # noqa: E402

pytestmark = pytest.mark.e2e
T = TypeVar("T")
SENTENCE = "央行宣布下调存款准备金率零点五个百分点"


def run_async(make: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine on its own thread: Playwright's sync API holds this thread's event loop."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(lambda: asyncio.run(make())).result(timeout=180)


def test_protocol_session_gets_the_cores_prediction(
    warm_server: AppServer, shipped_models: dict[str, Path]
) -> None:
    shipped = shipped_models["textrnn"]

    async def predict() -> tuple[StreamlitSession, object]:
        session = StreamlitSession(warm_server.url)
        try:
            await session.open("predict-and-gates", 60)
            session.set_string(session.widget("text_area", TEXT_LABEL), SENTENCE)
            return session, await session.rerun(timeout_s=60)
        finally:
            await session.close()

    session, run = run_async(predict)
    expected = Predictor.from_file(shipped).predict(SENTENCE)  # the page's default model
    answer = run.first(lambda e: kind(e) == "alert" and "预测类别" in e.alert.body)
    assert answer is not None, "the run drew no answer"
    p = expected.probabilities[expected.label]
    assert (
        f"**{display_class(expected.label, 'zh')}**（{expected.label}），概率 {p:.1%}"
        in answer[1].alert.body
    )
    tokens = run.first(lambda e: kind(e) == "markdown" and "line-height" in e.markdown.body)
    assert tokens is not None and span_text(tokens[1].markdown.body) == "".join(expected.tokens)
    assert answer[0] >= run.started and run.finished_at >= answer[0]
    assert session.exceptions == []


def test_protocol_session_widgets_take_effect_and_stale_elements_go(warm_server: AppServer) -> None:
    async def switch_language() -> tuple[str, str, bool]:
        session = StreamlitSession(warm_server.url)
        try:
            await session.open("predict-and-gates", 60)
            before = session.find("text_area", "")
            session.set_string(session.widget("radio", "语言 / Language"), "English")
            await session.rerun(timeout_s=60)
            after = session.find("text_area", "")
            return before.label, after.label, session.find("text_area", TEXT_LABEL) is not None
        finally:
            await session.close()

    before, after, chinese_left = run_async(switch_language)
    assert before == TEXT_LABEL
    assert after == "Or type a Chinese news title"
    assert not chinese_left  # the Chinese widget of the first run is no longer on the page


def test_choosing_a_layer_reruns_only_the_gate_panel(warm_server: AppServer) -> None:
    """The predict page's gate panel is a fragment: another layer redraws it, not the answer."""

    async def choose_layer() -> tuple[object, object, str]:
        session = StreamlitSession(warm_server.url)
        try:
            await session.open("predict-and-gates", 60)
            session.set_string(session.widget("text_area", TEXT_LABEL), SENTENCE)
            full = await session.rerun(timeout_s=60)
            layer = session.widget("selectbox", "层 / 方向")
            fragment = session.fragment_of(layer)
            session.set_string(layer, "第 2 层 · 正向")  # a selectbox sends its shown option
            part = await session.rerun(fragment_id=fragment, timeout_s=60)
            return full, part, fragment
        finally:
            await session.close()

    full, part, fragment = run_async(choose_layer)
    assert fragment
    assert full.first(lambda e: kind(e) == "alert") is not None
    assert part.first(lambda e: kind(e) == "alert") is None  # the answer was not recomputed
    chart = part.first(lambda e: kind(e) == "plotly_chart")
    assert chart is not None and (
        "第 2 层 · 正向" in json.loads(chart[1].plotly_chart.spec)["layout"]["title"]["text"]
    )
