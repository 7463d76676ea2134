"""Jobs in a child process (rnnviz.jobs.process): progress comes back, Stop goes in, errors and
crashes come back as clear errors, and training there gives what training here gives."""

from __future__ import annotations

import os
import time

import numpy as np
import pytest
import torch
from test_jobs_training import Recorder, _spec

from rnnviz.errors import RnnVizError
from rnnviz.jobs.process import run_in_subprocess
from rnnviz.jobs.training import STOPPED_BY_USER, run_training, train_in_subprocess

pytestmark = pytest.mark.usefixtures("one_torch_thread_per_module")


# Targets run in the child: module-level, so the spawned interpreter can import them by name.


def count_to(job, n: int) -> int:
    for i in range(1, n + 1):
        job.update(step=i, pid=os.getpid())
    return n * (n + 1) // 2


def tick_until_stopped(job) -> str:
    ticks = 0
    deadline = time.monotonic() + 60
    while not job.should_stop():
        ticks += 1
        job.update(progress={"step": ticks})
        time.sleep(0.02)
        if time.monotonic() > deadline:
            return "never stopped"
    return f"stopped after {ticks}"


def refuse(job, kind: str) -> None:
    if kind == "user":
        raise RnnVizError("line 3: unknown label 'x'", where="train.txt")
    raise KeyError("boom")


def crash(job) -> None:
    os._exit(3)


def torch_threads(job) -> int:
    return torch.get_num_threads()


def niceness(job) -> int:
    return os.nice(0)


def test_updates_arrive_in_order_from_another_process_and_the_result_returns() -> None:
    job = Recorder()
    assert run_in_subprocess(job, count_to, 4) == 10
    assert [u["step"] for u in job.updates] == [1, 2, 3, 4]
    assert {u["pid"] for u in job.updates} != {os.getpid()}  # it really ran elsewhere


def test_stop_reaches_the_child() -> None:
    job = Recorder(stop_after=3)
    result = run_in_subprocess(job, tick_until_stopped)
    assert result.startswith("stopped after ") and int(result.split()[-1]) >= 3


def test_user_errors_stay_user_errors_and_others_name_their_type() -> None:
    with pytest.raises(RnnVizError, match=r"train.txt: line 3: unknown label 'x'"):
        run_in_subprocess(Recorder(), refuse, "user")
    with pytest.raises(RuntimeError, match=r"KeyError: 'boom'"):
        run_in_subprocess(Recorder(), refuse, "bug")


def test_a_child_that_dies_is_reported_not_waited_for() -> None:
    with pytest.raises(RnnVizError, match=r"ended unexpectedly \(exit code 3\)"):
        run_in_subprocess(Recorder(), crash)


def test_the_child_uses_the_threads_asked_for() -> None:
    assert run_in_subprocess(Recorder(), torch_threads, threads=2) == 2
    assert run_in_subprocess(Recorder(), torch_threads, threads=1) == 1


def test_the_child_runs_at_a_lower_cpu_priority_than_the_server() -> None:
    here = os.nice(0)
    assert run_in_subprocess(Recorder(), niceness, nice=10) == min(19, here + 10)
    assert run_in_subprocess(Recorder(), niceness, nice=0) == here


def test_training_in_a_child_process_matches_training_here() -> None:
    here = run_training(Recorder(), _spec(epochs=2))
    job = Recorder()
    there = train_in_subprocess(job, _spec(epochs=2))
    # Same seed, one thread: the same run, step for step; the model comes back as its bytes.
    assert [h["dev_loss"] for h in there.history] == pytest.approx(
        [h["dev_loss"] for h in here.history], rel=1e-5)
    assert there.steps == here.steps
    assert there.report.accuracy == pytest.approx(here.report.accuracy)
    assert [u["progress"]["step"] for u in job.updates if "progress" in u][-1] == there.steps
    assert job.updates[0] == {"phase": "starting"}  # shown while the child imports torch
    text = "基金利率上涨"
    np.testing.assert_allclose(
        [there.predictor.predict(text).probabilities[c] for c in there.checkpoint.classes],
        [here.predictor.predict(text).probabilities[c] for c in here.checkpoint.classes],
        rtol=1e-4, atol=1e-6)
    assert there.checkpoint.info["steps"] == there.steps


def test_stopping_a_child_training_keeps_its_best_weights() -> None:
    outcome = train_in_subprocess(Recorder(stop_after=3), _spec(epochs=50))
    assert outcome.stop_reason == STOPPED_BY_USER and 3 <= outcome.steps < outcome.total_steps
    assert outcome.predictor is not None and outcome.checkpoint is not None
