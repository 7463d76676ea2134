"""The lessons' races (rnnviz/lessons/lockstep.py): every model sees the same batch at each
step, the history is measured before each update, and Stop or the time budget ends a race the
same way."""

from __future__ import annotations

import itertools

import pytest
import torch
from torch import nn

from rnnviz.lessons.lockstep import copy_history, race


def _models() -> tuple[dict[str, nn.Module], dict[str, torch.optim.Optimizer]]:
    torch.manual_seed(0)
    models = {"a": nn.Linear(3, 2), "b": nn.Linear(3, 2)}
    return models, {k: torch.optim.SGD(m.parameters(), lr=0.1) for k, m in models.items()}


def _batches():
    gen = torch.Generator().manual_seed(1)
    while True:
        x = torch.randn(8, 3, generator=gen)
        yield x, (x[:, 0] > 0).long()


def test_every_model_sees_the_same_batch_and_the_history_is_measured_before_the_update(
) -> None:
    models, optims = _models()
    seen: dict[str, list[torch.Tensor]] = {"a": [], "b": []}
    before: dict[str, list[float]] = {"a": [], "b": []}
    batches = _batches()

    def forward(kind: str, model: nn.Module, x: torch.Tensor, step: int) -> torch.Tensor:
        seen[kind].append(x)
        logits = model(x)
        y = (x[:, 0] > 0).long()
        before[kind].append(nn.functional.cross_entropy(logits, y).item())
        return logits

    run = race(models, optims, steps=5, next_batch=lambda: next(batches), forward=forward)
    assert run.steps_done == 5 and not run.stopped and run.reason == ""
    assert all(torch.equal(a, b) for a, b in zip(seen["a"], seen["b"], strict=True))
    for kind in models:
        assert run.history[kind]["step"] == [1, 2, 3, 4, 5]
        assert run.history[kind]["loss"] == pytest.approx(before[kind])


def test_reports_come_at_the_start_and_every_report_every_steps_as_copies() -> None:
    models, optims = _models()
    batches = _batches()
    reports = []
    run = race(models, optims, steps=6, next_batch=lambda: next(batches),
               forward=lambda kind, model, x, step: model(x), report_every=2,
               report=lambda step, elapsed, history: reports.append((step, history)))
    assert [step for step, _ in reports] == [0, 2, 4]  # the caller reports the end itself
    assert len(reports[1][1]["a"]["step"]) == 2  # a copy: it did not grow with the race
    assert copy_history(run.history) == run.history and copy_history(run.history) is not run.history


def test_stop_and_the_time_budget_end_a_race_and_say_why(monkeypatch: pytest.MonkeyPatch) -> None:
    models, optims = _models()
    batches = _batches()
    asked = itertools.count()
    run = race(models, optims, steps=100, next_batch=lambda: next(batches),
               forward=lambda kind, model, x, step: model(x),
               should_stop=lambda: next(asked) >= 3)
    assert (run.steps_done, run.stopped, run.reason) == (3, True, "stopped")

    clock = itertools.count(0.0, 1.0)  # one second per look at the clock
    monkeypatch.setattr("rnnviz.lessons.lockstep.time.monotonic", lambda: next(clock))
    run = race(models, optims, steps=100, next_batch=lambda: next(batches),
               forward=lambda kind, model, x, step: model(x), time_budget_s=4.5)
    assert run.stopped and run.reason == "time budget" and 0 < run.steps_done < 100


def test_after_step_runs_once_per_model_per_step() -> None:
    models, optims = _models()
    batches = _batches()
    calls = []
    race(models, optims, steps=3, next_batch=lambda: next(batches),
         forward=lambda kind, model, x, step: model(x),
         after_step=lambda kind, model: calls.append(kind))
    assert calls == ["a", "b"] * 3
