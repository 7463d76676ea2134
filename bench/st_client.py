"""A Streamlit session spoken over the app's own websocket protocol, for load benchmarks.

A browser tab and this client send the server the same messages: ``BackMsg.rerun_script`` with
the page and every widget's value (``WidgetStates``), and read the same ``ForwardMsg`` stream
(``new_session``, ``delta`` elements at their ``delta_path``, ``auto_rerun`` timers of
fragments, ``script_finished``). The server cannot tell the difference and does the same work;
the client costs a few milliseconds of CPU per run instead of a browser renderer's hundreds, so
thirty of them measure the server, not the benchmark's own browser.

What a browser also does and this client does not: render, upload files (the HTTP upload
endpoint and its XSRF cookie), or run component scripts. Messages the server would send as a
cached reference are tracked like the browser does (``cached_message_hashes``).

Only used by bench/; it targets 127.0.0.1 servers the benchmark starts itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import websockets
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.Element_pb2 import Element
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState

FINISHED_FOR_RERUN = ForwardMsg.ScriptFinishedStatus.FINISHED_EARLY_FOR_RERUN
FRAGMENT_FINISHED = ForwardMsg.ScriptFinishedStatus.FINISHED_FRAGMENT_RUN_SUCCESSFULLY


class SessionLost(Exception):
    """The websocket closed."""


@dataclass
class Run:
    """One script run as the client saw it: the elements drawn, in arrival order, with times."""

    started: float
    fragment_id: str = ""
    elements: list[tuple[float, Element]] = field(default_factory=list)
    finished: asyncio.Event = field(default_factory=asyncio.Event)
    finished_at: float | None = None
    status: int | None = None

    def first(self, match: Callable[[Element], bool]) -> tuple[float, Element] | None:
        return next(((t, e) for t, e in self.elements if match(e)), None)


def kind(element: Element) -> str:
    return element.WhichOneof("type") or ""


def body(element: Element) -> Any:
    """The element's own proto (``element.text_area``, ``element.alert``, ...)."""
    return getattr(element, kind(element))


class StreamlitSession:
    """One browser tab's worth of protocol: connect, open a page, set widgets, rerun."""

    def __init__(self, url: str) -> None:
        self.ws_url = url.replace("http://", "ws://").rstrip("/") + "/_stcore/stream"
        self.page_name = ""
        self.page_hash = ""
        self.widgets: dict[str, WidgetState] = {}  # id -> last value sent (as a browser keeps them)
        self.page: dict[tuple[int, ...], Element] = {}  # what the page shows now, by delta path
        self.exceptions: list[str] = []
        self._cached: set[str] = set()
        self._drawn: set[tuple[int, ...]] = set()  # delta paths the current script run drew
        self._fragments: dict[tuple[int, ...], str] = {}  # delta path -> fragment id
        self._ws: Any = None
        self._reader: asyncio.Task | None = None
        self._timers: dict[str, asyncio.Task] = {}  # fragment id -> its auto-rerun loop
        self._run: Run | None = None
        self._closed = asyncio.Event()
        self._lock = asyncio.Lock()  # one rerun request in flight per session, as in a browser

    # -- connection ------------------------------------------------------------------------

    async def open(self, page_name: str, timeout_s: float) -> Run:
        """Connect and run ``page_name`` (its url path) as a first visit does."""
        self._ws = await asyncio.wait_for(
            websockets.connect(self.ws_url, subprotocols=["streamlit"], max_size=None,
                               open_timeout=timeout_s),
            timeout_s)
        self._reader = asyncio.create_task(self._read())
        self.page_name = page_name
        return await self.rerun(timeout_s=timeout_s)

    async def close(self) -> None:
        for task in self._timers.values():
            task.cancel()
        if self._ws is not None:
            with contextlib.suppress(Exception):
                await self._ws.close()
        if self._reader is not None:
            with contextlib.suppress(BaseException):
                await self._reader

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    # -- widgets ---------------------------------------------------------------------------

    def find(self, element_kind: str, label: str) -> Any | None:
        """The widget/element of ``element_kind`` whose label (or body) contains ``label``."""
        for element in self.page.values():
            if kind(element) == element_kind:
                proto = body(element)
                if label in (getattr(proto, "label", "") or getattr(proto, "body", "")):
                    return proto
        return None

    def widget(self, element_kind: str, label: str) -> str:
        proto = self.find(element_kind, label)
        if proto is None:
            raise LookupError(f"no {element_kind} labelled {label!r} on the page")
        return proto.id

    def set_string(self, widget_id: str, value: str) -> None:
        self.widgets[widget_id] = WidgetState(id=widget_id, string_value=value)

    def set_int(self, widget_id: str, value: int) -> None:
        self.widgets[widget_id] = WidgetState(id=widget_id, int_value=value)

    def set_strings(self, widget_id: str, values: list[str]) -> None:
        """A select_slider or multiselect: the options as they are displayed."""
        state = WidgetState(id=widget_id)
        state.string_array_value.data.extend(values)
        self.widgets[widget_id] = state

    def set_slider(self, widget_id: str, value: float) -> None:
        state = WidgetState(id=widget_id)
        state.double_array_value.data.append(value)
        self.widgets[widget_id] = state

    async def click(self, widget_id: str, timeout_s: float) -> Run:
        """A button press: a trigger sent with one rerun only, as the browser does."""
        return await self.rerun(trigger=WidgetState(id=widget_id, trigger_value=True),
                                timeout_s=timeout_s)

    # -- runs ------------------------------------------------------------------------------

    async def rerun(self, *, trigger: WidgetState | None = None, fragment_id: str = "",
                    timeout_s: float = 30.0) -> Run:
        """Run the page (or only the fragment ``fragment_id``, as a browser does when a widget
        inside one changes) with the widgets' values and ``trigger``; return once it finished."""
        run = await self._send(trigger=trigger, fragment_id=fragment_id, waited=True)
        await self.wait(run, timeout_s)
        return run

    def fragment_of(self, widget_id: str) -> str:
        """The fragment a widget is drawn in ("" when it is not in one)."""
        for path, element in self.page.items():
            if getattr(body(element), "id", None) == widget_id:
                return self._fragments.get(path, "")
        raise LookupError(f"no widget {widget_id!r} on the page")

    async def _send(
        self, *, trigger: WidgetState | None = None, fragment_id: str = "", waited: bool = False
    ) -> Run:
        async with self._lock:
            if self.closed:
                raise SessionLost("the websocket is closed")
            msg = BackMsg()
            state = msg.rerun_script
            state.page_name = self.page_name
            state.page_script_hash = self.page_hash
            state.fragment_id = fragment_id
            state.is_auto_rerun = bool(fragment_id)
            state.widget_states.widgets.extend(self.widgets.values())
            if trigger is not None:
                state.widget_states.widgets.append(trigger)
            state.cached_message_hashes.extend(self._cached)
            run = Run(started=time.perf_counter(), fragment_id=fragment_id)
            if waited:  # a timed fragment run is not one the caller waits for
                self._run = run
            if not fragment_id:
                for task in self._timers.values():  # the full run registers them anew
                    task.cancel()
                self._timers.clear()
            await self._ws.send(msg.SerializeToString())
        return run

    async def wait(self, run: Run, timeout_s: float) -> None:
        done = asyncio.create_task(run.finished.wait())
        lost = asyncio.create_task(self._closed.wait())
        try:
            await asyncio.wait({done, lost}, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED)
        finally:
            done.cancel()
            lost.cancel()
        if not run.finished.is_set():
            if self.closed:
                raise SessionLost("the websocket closed during a run")
            raise TimeoutError(f"no script_finished within {timeout_s:.0f} s")

    async def _read(self) -> None:
        try:
            async for data in self._ws:
                msg = ForwardMsg()
                msg.ParseFromString(data)
                self._handle(msg, time.perf_counter())
        except websockets.ConnectionClosed:
            pass
        finally:
            self._closed.set()

    def _handle(self, msg: ForwardMsg, now: float) -> None:
        what = msg.WhichOneof("type")
        if msg.metadata.cacheable and msg.hash:
            self._cached.add(msg.hash)
        run = self._run
        if what == "new_session":  # a script run starts
            self._drawn = set()
        elif what == "navigation":  # the page this run is on (app.py's st.navigation resolved it)
            self.page_hash = msg.navigation.page_script_hash
        elif what == "delta" and msg.delta.WhichOneof("type") == "new_element":
            element = msg.delta.new_element
            path = tuple(msg.metadata.delta_path)
            self.page[path] = element
            self._fragments[path] = msg.delta.fragment_id
            self._drawn.add(path)
            if kind(element) == "exception":
                self.exceptions.append(element.exception.message)
            if run is not None:
                run.elements.append((now, element))
        elif what == "auto_rerun":
            self._start_timer(msg.auto_rerun.fragment_id, msg.auto_rerun.interval)
        elif what == "stop_auto_rerun":
            for fragment_id in msg.stop_auto_rerun.fragment_ids:
                task = self._timers.pop(fragment_id, None)
                if task is not None:
                    task.cancel()
        elif (what == "script_finished" and run is not None
              and msg.script_finished != FINISHED_FOR_RERUN):
            if (msg.script_finished == FRAGMENT_FINISHED) != bool(run.fragment_id):
                return  # a timed fragment run ended during a full run, or the other way round
            run.status = msg.script_finished
            run.finished_at = now
            run.finished.set()
            if run.fragment_id:
                return
            # A full run redraws the whole page: what it did not draw is gone (as the browser
            # clears stale elements). A fragment run redraws only its fragment.
            self.page = {path: e for path, e in self.page.items() if path in self._drawn}

    def _start_timer(self, fragment_id: str, interval_s: float) -> None:
        """A fragment with ``run_every``: the browser reruns it on a timer; so does this."""
        old = self._timers.pop(fragment_id, None)
        if old is not None:
            old.cancel()

        async def beat() -> None:
            while not self.closed:
                await asyncio.sleep(interval_s)
                with contextlib.suppress(Exception):
                    await self._send(fragment_id=fragment_id)

        self._timers[fragment_id] = asyncio.create_task(beat())


__all__ = ["Run", "SessionLost", "StreamlitSession", "body", "kind"]
