"""How many torch threads a training child gets (rnnviz.jobs.process): its share of the cores
among the jobs the runner has running, decided as it starts and followed while it runs."""

from __future__ import annotations

import os
import threading
import time

import pytest
import torch

from rnnviz.jobs.process import available_cores, machine_cores, run_in_subprocess, threads_for
from ui.jobs import JobRunner

pytestmark = pytest.mark.usefixtures("one_torch_thread_per_module")


@pytest.mark.parametrize(("running", "cores", "threads"), [
    (1, 2, 2),  # alone on two cores: both
    (2, 2, 1),  # two at once: one each
    (3, 2, 1),  # more jobs than cores: never fewer than one
    (0, 4, 4),  # asked before it counts itself: as if alone
    (2, 16, 8),
    (3, 16, 5),
])
def test_each_running_job_gets_its_share_of_the_cores(running: int, cores: int,
                                                      threads: int) -> None:
    assert threads_for(running, cores) == threads
    assert threads_for(running, cores) * max(1, running) <= max(cores, max(1, running))


def test_trainings_leave_one_core_to_the_pages_unless_told(monkeypatch) -> None:
    monkeypatch.delenv("RNNVIZ_TRAIN_CORES", raising=False)
    assert machine_cores() == len(os.sched_getaffinity(0))
    assert available_cores() == max(1, machine_cores() - 1)
    monkeypatch.setenv("RNNVIZ_TRAIN_CORES", "3")  # a dedicated machine, or several servers
    assert available_cores() == 3 and threads_for(2) == 1 and threads_for(1) == 3
    for junk in ("0", "two", ""):
        monkeypatch.setenv("RNNVIZ_TRAIN_CORES", junk)
        assert available_cores() == max(1, machine_cores() - 1)


def test_the_decision_reads_the_runners_running_jobs() -> None:
    """What the training pages pass: ``threads_for(runner.counts()[0])`` asked in the job."""
    runner = JobRunner(max_running=2)
    started, decided = threading.Barrier(2), threading.Barrier(2)

    def alone(job) -> int:
        return threads_for(runner.counts()[0], cores=2)

    def together(job) -> int:
        started.wait(30)  # both are running
        threads = threads_for(runner.counts()[0], cores=2)
        decided.wait(30)  # neither ends before the other has decided
        return threads

    job = runner.start("alone", alone)
    assert job.wait(30) and job.result == 2
    jobs = [runner.start(f"j{i}", together) for i in range(2)]
    assert all(job.wait(30) for job in jobs)
    assert [job.result for job in jobs] == [1, 1]


# Targets run in the child: module-level, so the spawned interpreter can import them by name.


def follow_threads(job) -> dict:
    """Its torch threads at the start, and each new count it is told while it runs."""
    seen = [torch.get_num_threads()]
    job.update(started=True)
    deadline = time.monotonic() + 60
    while len(seen) < 2 and time.monotonic() < deadline:
        job.should_stop()  # what the trainer asks at every step
        if torch.get_num_threads() != seen[-1]:
            seen.append(torch.get_num_threads())
        time.sleep(0.01)
    return {"seen": seen, "wait_policy": os.environ.get("OMP_WAIT_POLICY")}


class Watch:
    """A job that notes when the child has started."""

    started = False

    def update(self, **fields) -> None:
        self.started = self.started or fields.get("started", False)

    def should_stop(self) -> bool:
        return False


def test_a_running_child_follows_the_count_it_is_given() -> None:
    """A run that started alone gives a core back when a second one starts."""
    job = Watch()
    # Alone until the child is running; then a second job starts.
    result = run_in_subprocess(job, follow_threads, threads=lambda: 1 if job.started else 2,
                               poll_s=0.05)
    assert result["seen"] == [2, 1]
    # Waiting OpenMP threads sleep instead of spinning, unless the environment says otherwise.
    assert result["wait_policy"] == os.environ["OMP_WAIT_POLICY"]
