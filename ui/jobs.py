"""Background jobs for long runs (training) that survive Streamlit reruns.

The pattern: a worker thread touches only its ``Job`` (a plain dict
under a lock, a ``threading.Event`` for Stop, a heartbeat time); a page draws the job from a
fragment that reruns every second (``live_view``); the Stop button sets the event. The worker
never calls ``st.*``. One process-wide ``JobRunner`` (built in ``st.cache_resource``) caps how
many jobs run at once with a ``BoundedSemaphore``; the others wait as "queued". A job whose
page stopped beating its heartbeat (the tab was closed) stops itself, so an abandoned session
never holds a slot. A CPU-heavy job (training) hands its work on to a child process from the
worker thread (rnnviz/jobs/process.py) and relays its progress and Stop.

Worker side::

    def work(job: Job, config) -> Result:
        for step in ...:
            if job.should_stop():
                break
            job.update(progress=snapshot)  # put new objects in; never mutate what you put
        return result

Page side::

    if st.button("Start"):
        start_job("mypage_job", work, config)
    live_view("mypage_job", draw)  # draw(job) reads job.snapshot(), job.status, job.result
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import streamlit as st

from rnnviz.content import Text
from rnnviz.errors import RnnVizError
from ui.lang import lang

log = logging.getLogger(__name__)

QUEUED, RUNNING, DONE, STOPPED, ERROR = "queued", "running", "done", "stopped", "error"
FINISHED = frozenset({DONE, STOPPED, ERROR})
STOP_BY_USER = "user"
STOP_SESSION_ENDED = "session ended"

_REGISTRY_KEY = "jobs_registry"  # session_state key: {job key -> Job}
_T = Text("ui/jobs")  # the words: content/<lang>/ui/jobs.md


@dataclass(eq=False)
class Job:
    """One background run: what the worker reports, and how the page stops it."""

    key: str
    state: dict[str, Any] = field(default_factory=dict)  # worker writes, page reads (locked)
    stop_event: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None
    status: str = QUEUED
    error: str = ""
    result: Any = None
    stop_reason: str = ""
    heartbeat_timeout_s: float = 30.0
    created_at: float = field(default_factory=time.monotonic)
    started_at: float | None = None
    finished_at: float | None = None
    _heartbeat: float = field(default_factory=time.monotonic)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # --- worker side (plain Python, no Streamlit) ---
    def update(self, **fields: Any) -> None:
        """Publish progress. Put new objects in: the page may be reading the old ones."""
        with self._lock:
            self.state.update(fields)

    def should_stop(self) -> bool:
        """True once Stop was pressed or the page has not been seen for heartbeat_timeout_s."""
        if self.stop_event.is_set():
            return True
        if time.monotonic() - self._heartbeat > self.heartbeat_timeout_s:
            self.stop(STOP_SESSION_ENDED)
            return True
        return False

    # --- page side ---
    def snapshot(self) -> dict[str, Any]:
        """A shallow copy of the state, safe to read while the worker goes on."""
        with self._lock:
            return dict(self.state)

    def beat(self) -> None:
        """The page is still watching (called on every redraw)."""
        self._heartbeat = time.monotonic()

    def stop(self, reason: str = STOP_BY_USER) -> None:
        with self._lock:
            if not self.stop_reason:
                self.stop_reason = reason
        self.stop_event.set()

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    @property
    def elapsed_s(self) -> float:
        if self.started_at is None:
            return 0.0
        return (self.finished_at or time.monotonic()) - self.started_at

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the worker ends (tests and scripts); True if it has."""
        if self.thread is not None:
            self.thread.join(timeout)
        return self.finished

    def _set_status(self, status: str) -> None:
        with self._lock:
            self.status = status
            now = time.monotonic()
            if status == RUNNING:
                self.started_at = now
            elif status in FINISHED:
                self.finished_at = now


class JobRunner:
    """Starts jobs on daemon threads; at most ``max_running`` run at once, the rest queue."""

    def __init__(
        self, max_running: int = 2, heartbeat_timeout_s: float = 30.0, poll_s: float = 0.2
    ) -> None:
        if max_running < 1:
            raise RnnVizError("max_running must be at least 1", where="max_running")
        self.max_running = max_running
        self.heartbeat_timeout_s = heartbeat_timeout_s
        self.poll_s = poll_s
        self._slots = threading.BoundedSemaphore(max_running)
        self._lock = threading.Lock()
        self._running = 0
        self._queued = 0

    def counts(self) -> tuple[int, int]:
        """(running, queued) jobs across all sessions of this process."""
        with self._lock:
            return self._running, self._queued

    def start(self, key: str, target: Callable[..., Any], *args: Any, **kwargs: Any) -> Job:
        """Run ``target(job, *args, **kwargs)`` on a new thread; its return value is job.result."""
        job = Job(key=key, heartbeat_timeout_s=self.heartbeat_timeout_s)
        with self._lock:
            self._queued += 1
        job.thread = threading.Thread(
            target=self._work, args=(job, target, args, kwargs), name=f"job-{key}", daemon=True
        )
        job.thread.start()
        return job

    def _work(self, job: Job, target: Callable[..., Any], args: tuple, kwargs: dict) -> None:
        # Wait for a slot, still answering Stop and the heartbeat while queued.
        acquired = False
        while not acquired:
            if job.should_stop():
                with self._lock:
                    self._queued -= 1
                job._set_status(STOPPED)
                return
            acquired = self._slots.acquire(timeout=self.poll_s)
        with self._lock:
            self._queued -= 1
            self._running += 1
        job._set_status(RUNNING)
        try:
            job.result = target(job, *args, **kwargs)
            job._set_status(STOPPED if job.stop_event.is_set() else DONE)
        except Exception as exc:  # the page shows it; the server log keeps the traceback
            log.exception("job %s failed", job.key)
            job.error = str(exc) if isinstance(exc, RnnVizError) else f"{type(exc).__name__}: {exc}"
            job._set_status(ERROR)
        finally:
            with self._lock:
                self._running -= 1
            self._slots.release()


# --- Streamlit side: one runner per process, jobs kept in the session ---


@st.cache_resource
def job_runner() -> JobRunner:
    """The process-wide runner. RNNVIZ_MAX_JOBS caps concurrent jobs (default 2 = cores here)."""
    return JobRunner(max_running=max(1, int(os.environ.get("RNNVIZ_MAX_JOBS", "2"))))


def _registry() -> dict[str, Job]:
    return st.session_state.setdefault(_REGISTRY_KEY, {})


def start_job(key: str, target: Callable[..., Any], *args: Any, **kwargs: Any) -> Job:
    """Start ``target(job, *args, **kwargs)`` for this session under ``key``.

    A job already running under the same key is stopped first (one run per key).
    """
    old = _registry().get(key)
    if old is not None and not old.finished:
        old.stop()
    job = job_runner().start(key, target, *args, **kwargs)
    _registry()[key] = job
    return job


def get_job(key: str) -> Job | None:
    return _registry().get(key)


def stop_job(key: str) -> None:
    job = get_job(key)
    if job is not None:
        job.stop()


def forget_job(key: str) -> None:
    """Stop the job (if running) and drop it from the session."""
    job = _registry().pop(key, None)
    if job is not None and not job.finished:
        job.stop()


def status_message(job: Job, lang: str = "zh") -> str:
    """One line for the page: queued / running / done / stopped / error."""
    if job.status == QUEUED:
        running, queued = job_runner().counts()
        return _T(lang, "queued", running=running, limit=job_runner().max_running, queued=queued)
    if job.status == RUNNING:
        return _T(lang, "running", seconds=job.elapsed_s)
    if job.status == DONE:
        return _T(lang, "done", seconds=job.elapsed_s)
    if job.status == STOPPED:
        ended = job.stop_reason == STOP_SESSION_ENDED
        return _T(lang, "stopped.session_ended" if ended else "stopped.user",
                  seconds=job.elapsed_s)
    return _T(lang, "error", error=job.error)


def job_progress(job: Job, label: Callable[[Any], str]) -> Any | None:
    """Draw ``job``'s status line and, once it has published ``progress`` (anything with
    ``step`` and ``total_steps``), a progress bar labelled ``label(progress)``; returns that
    progress (None before the first report) for the page to draw its curves from."""
    (st.error if job.status == ERROR else st.caption)(status_message(job, lang()))
    progress = job.snapshot().get("progress")
    if progress is not None:
        st.progress(progress.step / progress.total_steps, text=label(progress))
    return progress


def keep_jobs_alive(every_s: float = 10.0) -> None:
    """Beat this session's unfinished jobs every ``every_s`` seconds from whatever page is open.

    Call once in app.py (it runs on every page): a training job then survives the student
    switching pages, and still stops about heartbeat_timeout_s after the tab is closed.
    """
    if any(not job.finished for job in _registry().values()):
        st.fragment(_beat_all, run_every=every_s)()


def _beat_all() -> None:
    for job in _registry().values():
        job.beat()


def live_view(key: str, draw: Callable[[Job], None], every_s: float = 1.0) -> None:
    """Draw job ``key`` with ``draw(job)`` in a fragment that reruns every ``every_s`` seconds
    while the job is queued or running, beating its heartbeat; once it ends, one full rerun
    lets the rest of the page see the result. Draws nothing when there is no such job.
    """
    job = get_job(key)
    if job is None:
        return
    st.fragment(_live_body, run_every=None if job.finished else every_s)(key, draw)


def _live_body(key: str, draw: Callable[[Job], None]) -> None:
    job = get_job(key)
    if job is None:
        return
    job.beat()
    draw(job)
    if job.finished and _in_fragment_rerun():
        # A timed redraw saw the end: one full rerun stops the timer (the next run registers
        # the fragment without run_every) and lets the rest of the page draw the result.
        st.rerun()


def _in_fragment_rerun() -> bool:
    """True when only the fragment is running, not the whole page."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    return bool(ctx is not None and ctx.fragment_ids_this_run)


__all__ = [
    "DONE", "ERROR", "FINISHED", "QUEUED", "RUNNING", "STOPPED", "Job", "JobRunner",
    "forget_job", "get_job", "job_progress", "job_runner", "keep_jobs_alive", "live_view",
    "start_job",
    "status_message", "stop_job",
]
