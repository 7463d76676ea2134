"""The background job runner, without a browser: start, progress, stop, errors, the cap on
concurrent jobs, and the heartbeat that stops a job whose page went away."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace

import pytest

import ui.jobs as jobs_module
from rnnviz.errors import RnnVizError
from ui.jobs import DONE, ERROR, QUEUED, RUNNING, STOPPED, Job, JobRunner


def _wait_for(predicate, timeout: float = 5.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()


def _count_to(job: Job, n: int) -> int:
    for i in range(1, n + 1):
        job.update(step=i, history=list(range(i)))
    return n * 10


def _until_stopped(job: Job, started: threading.Event | None = None) -> str:
    if started is not None:
        started.set()
    while not job.should_stop():
        job.update(alive=True)
        time.sleep(0.005)
    return "partial"


def test_job_runs_to_done_and_keeps_progress_and_result() -> None:
    job = JobRunner().start("count", _count_to, 50)
    assert job.wait(5)
    assert job.status == DONE
    assert job.result == 500
    snap = job.snapshot()
    assert snap["step"] == 50 and snap["history"] == list(range(50))
    assert job.elapsed_s >= 0 and job.finished_at is not None


def test_snapshot_is_a_copy_the_worker_cannot_change() -> None:
    job = Job(key="k")
    job.update(step=1)
    snap = job.snapshot()
    job.update(step=2)
    assert snap["step"] == 1 and job.snapshot()["step"] == 2


def test_stop_ends_a_running_job_and_keeps_its_partial_result() -> None:
    started = threading.Event()
    job = JobRunner().start("loop", _until_stopped, started)
    assert started.wait(5)
    assert _wait_for(lambda: job.status == RUNNING)
    job.stop()
    assert job.wait(5)
    assert job.status == STOPPED
    assert job.stop_reason == "user"
    assert job.result == "partial"


def test_an_exception_in_the_worker_is_captured_as_error() -> None:
    def boom(job: Job) -> None:
        raise ZeroDivisionError("no way")

    def bad_input(job: Job) -> None:
        raise RnnVizError("length must be at least 2", where="longdep.length")

    job = JobRunner().start("boom", boom)
    assert job.wait(5)
    assert job.status == ERROR
    assert job.error == "ZeroDivisionError: no way"
    # The user-facing error type is shown as its own message, with the field at fault.
    job = JobRunner().start("bad", bad_input)
    assert job.wait(5)
    assert job.error == "longdep.length: length must be at least 2"


def _one_slot_taken() -> tuple[JobRunner, Job]:
    """A one-slot runner and the job holding its slot (running until stopped)."""
    runner = JobRunner(max_running=1, poll_s=0.01)
    started = threading.Event()
    first = runner.start("a", _until_stopped, started)
    assert started.wait(5)
    return runner, first


def test_semaphore_caps_running_jobs_and_queues_the_rest() -> None:
    runner, first = _one_slot_taken()
    second = runner.start("b", _count_to, 3)
    time.sleep(0.1)  # give the second thread every chance to (wrongly) take a slot
    assert second.status == QUEUED
    assert runner.counts() == (1, 1)
    first.stop()
    assert second.wait(5)
    assert second.status == DONE and second.result == 30
    assert runner.counts() == (0, 0)


def test_slot_is_released_after_an_error() -> None:
    runner = JobRunner(max_running=1, poll_s=0.01)

    def boom(job: Job) -> None:
        raise RuntimeError("x")

    assert runner.start("a", boom).wait(5)
    job = runner.start("b", _count_to, 2)
    assert job.wait(5) and job.status == DONE


def test_a_queued_job_can_be_stopped_before_it_starts() -> None:
    runner, first = _one_slot_taken()
    queued = runner.start("b", _count_to, 3)
    queued.stop()
    assert queued.wait(5)
    assert queued.status == STOPPED and queued.result is None and queued.started_at is None
    first.stop()
    assert first.wait(5)


class _Clock:
    """A monotonic clock the test moves by hand: the heartbeat test then depends on no
    scheduling delay (a busy machine may pause any thread for seconds)."""

    def __init__(self) -> None:
        self.now = time.monotonic()

    def monotonic(self) -> float:
        return self.now


def _counting_until_stopped(job: Job, loops: list[int]) -> str:
    """``_until_stopped``, counting its checks of should_stop (each one reads the clock)."""
    while not job.should_stop():
        loops[0] += 1
        time.sleep(0.005)
    return "partial"


def _checked_again(job: Job, loops: list[int]) -> bool:
    """True once the worker has read the clock afresh (or has ended), within 60 s."""
    before = loops[0]
    return _wait_for(lambda: loops[0] > before + 1 or job.finished, timeout=60)


def test_job_stops_itself_when_the_heartbeat_goes_stale(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = _Clock()
    monkeypatch.setattr(jobs_module, "time", SimpleNamespace(monotonic=clock.monotonic))
    job = JobRunner(heartbeat_timeout_s=30).start("orphan", _counting_until_stopped, loops := [0])
    assert _wait_for(lambda: job.status == RUNNING, timeout=60), f"job is {job.status}"
    # While the page keeps beating every 20 s, the job runs past the 30 s timeout (at 40 s).
    for _ in range(2):
        clock.now += 20
        assert _checked_again(job, loops), "the worker stopped checking should_stop"
        assert job.status == RUNNING, f"stopped ({job.stop_reason}) though the page beat"
        job.beat()
    # Then the page goes away: 31 s after its last beat the job stops itself.
    clock.now += 29
    assert _checked_again(job, loops) and job.status == RUNNING
    clock.now += 2
    assert job.wait(60), "the job ran on 31 s after the last heartbeat"
    assert job.status == STOPPED
    assert job.stop_reason == "session ended"
    assert job.result == "partial"


def test_runner_rejects_a_zero_cap() -> None:
    with pytest.raises(RnnVizError, match="max_running"):
        JobRunner(max_running=0)
