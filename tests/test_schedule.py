"""The LR schedule and the time budget (rnnviz/core/schedule.py): by steps it is the warm-up +
cosine it always was; under a budget it reaches its floor when the time is up (a fake clock
stands in for the wall), and the budget keeps back what the final evaluation takes. Also how
train() uses them (a dev sample during the run, the whole dev set at the end, evaluations by
seconds) and the embeddings' larger steps (rnnviz/core/train.py param_groups)."""

from __future__ import annotations

import math
import time

import pytest
import torch
from helpers import build_with_bigram_keys, keyed_dataset

from rnnviz.core.config import ModelConfig, TrainConfig
from rnnviz.core.schedule import (
    FLOOR,
    RESERVE_MAX_SHARE,
    RESERVE_SAFETY,
    WARMUP_SHARE,
    Budget,
    LRSchedule,
    cosine,
)
from rnnviz.core.train import param_groups, train


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: float = 100.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def reference_factor(step: int, total: int, warmup: int, schedule: str) -> float:
    """The step-based schedule as train.py wrote it before budgets were fitted (written out
    independently: linear warm-up, then 0.05 + 0.95 * (1 + cos(pi * progress)) / 2)."""
    warmup = min(warmup, total // 5)
    if warmup and step < warmup:
        return (step + 1) / warmup
    if schedule == "constant":
        return 1.0
    progress = (step - warmup) / max(1, total - warmup)
    return 0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


@pytest.mark.parametrize(("total", "warmup", "schedule"), [
    (1000, 100, "cosine"), (40, 100, "cosine"), (37, 0, "cosine"), (500, 30, "constant"),
])
def test_by_steps_it_is_the_warm_up_and_cosine_it_was(total: int, warmup: int,
                                                        schedule: str) -> None:
    lr = LRSchedule(total, warmup, schedule)
    for step in range(total + 1):  # LambdaLR asks once per step, in order
        assert lr(step) == pytest.approx(reference_factor(step, total, warmup, schedule), abs=1e-12)
    assert cosine(1.0) == FLOOR and cosine(0.0) == 1.0


def test_under_a_budget_the_lr_reaches_its_floor_when_the_time_is_up() -> None:
    clock = Clock()
    budget = Budget(60.0, started_at=clock(), clock=clock)
    clock.now += 5.0  # the child's start-up and the data: before training starts
    budget.start_training()
    stop_at = budget.stop_at()
    # A step limit far away (the epochs cap): only the time decides.
    lr = LRSchedule(total_steps=10**6, warmup_steps=100, budget=budget)
    factors, step = [lr(0)], 0
    while clock() < stop_at:
        clock.now = min(stop_at, clock.now + 0.05)  # 20 steps a second
        step += 1
        factors.append(lr(step))
    assert lr(step) == pytest.approx(FLOOR)
    assert step < 10**6 / 100  # still far from the step limit
    peak = factors.index(1.0)
    assert peak == 99  # the 100-step warm-up (5 s of 55) ends by its steps
    after = factors[peak:]
    assert all(b <= a for a, b in zip(after, after[1:], strict=False))  # then only falls
    # Half-way through the training window, half-way down the cosine (no warm-up).
    clock2 = Clock(0.0)
    b2 = Budget(60.0, started_at=0.0, clock=clock2)
    b2.start_training()
    lr2 = LRSchedule(10**6, 0, budget=b2)
    assert lr2(0) == 1.0
    clock2.now = b2.stop_at() / 2
    assert lr2(1) == pytest.approx(cosine(0.5))


def test_a_slow_machine_ends_the_warm_up_by_time() -> None:
    """Two steps a second: 100 warm-up steps would be most of a 60-second run."""
    clock = Clock(0.0)
    budget = Budget(60.0, started_at=0.0, clock=clock)
    budget.start_training()
    lr = LRSchedule(10**6, 100, budget=budget)
    window = budget.stop_at()
    factors = []
    for step in range(200):
        clock.now = step * 0.5
        if clock.now > window:
            break
        factors.append(lr(step))
    first_peak = next(i for i, f in enumerate(factors) if f >= 1.0 - 1e-12)
    assert first_peak < 100  # before the 100th step ...
    assert first_peak * 0.5 == pytest.approx(WARMUP_SHARE * window, abs=0.5)  # ... at 20 %
    assert factors[-1] == pytest.approx(cosine(1.0), abs=0.01)


def test_the_budget_keeps_back_the_final_evaluation() -> None:
    clock = Clock(0.0)
    budget = Budget(60.0, started_at=0.0, final_eval_examples=11_000, clock=clock)
    margin = min(1.0, 0.02 * 60.0)
    assert budget.reserve_s() == pytest.approx(margin)  # nothing timed yet
    budget.start_training()
    clock.now = 5.0
    budget.trained(128)  # a first step of 5 s (one-off costs): not a speed to plan with
    assert budget.reserve_s() == pytest.approx(margin)
    clock.now = 7.0
    budget.trained(1280)  # then 2 s for 1280 examples: evaluation guessed at half their share
    guess = 0.5 * 2.0 / 1280
    assert budget.reserve_s() == pytest.approx(RESERVE_SAFETY * 11_000 * guess + margin)
    budget.evaluated(1000, 0.25)  # then measured: 0.25 ms per example
    reserve = RESERVE_SAFETY * 11_000 * 0.25 / 1000 + margin
    assert budget.reserve_s() == pytest.approx(reserve)
    assert budget.stop_at() == pytest.approx(60.0 - reserve)
    clock.now = 60.0 - reserve - 0.01
    assert not budget.expired() and budget.remaining_s() == pytest.approx(reserve + 0.01)
    clock.now = 60.0 - reserve
    assert budget.expired() and budget.progress() == pytest.approx(1.0)
    # A tiny budget keeps back a tiny margin, not a whole second.
    assert Budget(0.5, started_at=0.0, clock=clock).reserve_s() == pytest.approx(0.01)
    # An estimate beyond reason (evaluation slower than the budget) keeps back half of it.
    slow = Budget(60.0, started_at=0.0, final_eval_examples=11_000, clock=clock)
    slow.evaluated(100, 10.0)
    assert slow.reserve_s() == pytest.approx(RESERVE_MAX_SHARE * 60.0)


def test_the_budget_counts_from_the_button_not_from_training() -> None:
    clock = Clock(1000.0)
    budget = Budget(30.0, started_at=990.0, clock=clock)  # pressed 10 s ago
    assert budget.remaining_s() == pytest.approx(20.0)
    assert budget.progress() == 0.0  # training has not started
    budget.start_training()
    clock.now = 1000.0 + (budget.stop_at() - 1000.0) / 4
    assert budget.progress() == pytest.approx(0.25)


def test_a_budget_spent_before_training_still_trains_one_step_and_scores_the_whole_dev_set(
) -> None:
    """The run was asked for long ago (its budget is gone): one step, then the kept weights
    are scored on the whole dev set, though evaluations during the run use a sample."""
    train_set, dev_set = keyed_dataset(120, 0, max_noise=8), keyed_dataset(90, 1, max_noise=8)
    config = ModelConfig(cell="gru", embed_dim=8, hidden_size=8, num_layers=1)
    tc = TrainConfig(batch_size=16, epochs=5, time_budget_s=30.0, dev_sample=40,
                     eval_every_s=5.0, patience=0)
    result = train(config, tc, train_set, dev_set, started_at=time.monotonic() - 60.0)
    state = result.state
    assert state is not None and state.step == 1 and "time budget" in state.stop_reason
    assert [h["step"] for h in result.history] == [1]
    assert result.dev_report is not None and result.dev_report.n == len(dev_set.texts)
    assert state.best_dev_accuracy == result.dev_report.accuracy


def test_evaluations_by_seconds_replace_the_per_epoch_ones() -> None:
    train_set, dev_set = keyed_dataset(160, 0, max_noise=8), keyed_dataset(60, 1, max_noise=8)
    config = ModelConfig(cell="gru", embed_dim=8, hidden_size=8, num_layers=1)

    def evaluated_steps(every_s: float) -> list[int]:
        tc = TrainConfig(batch_size=16, max_steps=12, eval_every_s=every_s, patience=0)
        return [h["step"] for h in train(config, tc, train_set, dev_set).history]

    assert evaluated_steps(1e-9) == list(range(1, 13))  # due after every step
    assert evaluated_steps(1e6) == [12]  # never due: only the end (no per-epoch ones)


def test_the_embeddings_can_take_larger_steps() -> None:
    """Adam's first step moves every coordinate with a gradient by the LR (m / sqrt(v) is the
    gradient's sign): the embedding tables by lr x embed_lr_scale, the rest by lr."""
    config = ModelConfig(vocab_size=12, num_classes=3, embed_dim=4, hidden_size=5, num_layers=1,
                         bigram_dim=3, bigram_vocab=6)
    model = build_with_bigram_keys(config)
    groups = param_groups(model, 1e-3, 10.0)
    names = {id(p): n for n, p in model.named_parameters()}
    assert [sorted(names[id(p)] for p in g["params"]) for g in groups][1] == [
        "bigram.weight", "embedding.weight"]
    assert sum(len(g["params"]) for g in groups) == len(list(model.parameters()))
    assert param_groups(model, 1e-3) == [{"params": list(model.parameters())}]
    optimizer = torch.optim.Adam(groups, lr=1e-3, eps=1e-12)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    ids = torch.tensor([[3, 4, 5, 6]])
    torch.nn.functional.cross_entropy(model(ids, torch.tensor([4])), torch.tensor([1])).backward()
    optimizer.step()
    moved = {n: (p.detach() - before[n]).abs() for n, p in model.named_parameters()}
    used = moved["embedding.weight"][3:7]
    assert torch.allclose(used[used > 0], torch.tensor(1e-2), rtol=1e-3)
    weights = moved["rnn.weight_hh_l0"]
    assert torch.allclose(weights[weights > 0], torch.tensor(1e-3), rtol=1e-3)
