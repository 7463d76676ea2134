"""A run's learning-rate schedule and its wall-clock budget; no torch here.

The LR schedule is a linear warm-up, then a cosine decay from the peak to ``FLOOR`` x the peak
(Loshchilov & Hutter 2017, SGDR, without restarts; or a constant LR). The decay is driven by the
run's *progress*, from 0 to 1: steps taken / the step limit, and, when the run has a time
budget, seconds trained / seconds it may train, whichever is further along. So the decay ends
when the run ends, whichever limit ends it: a 60-second run on a slow machine still finishes
at the floor instead of being cut off at a high LR.

The budget (``Budget``) is counted from the moment the user pressed the button (``started_at``,
a ``time.monotonic()`` reading, the same clock in every process of the machine), so starting
the training process, reading the data and the final evaluation on the whole dev set all come
out of it. The trainer times its evaluations and keeps back what the final one will take
(``reserve_s``): training stops early enough for the scored model to be ready at the deadline.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

FLOOR = 0.05  # the LR at the end of the decay, as a share of the peak
WARMUP_SHARE = 0.2  # warm-up never takes more than this share of a run
# Before any evaluation was timed, one example's evaluation is guessed from the training steps:
# a forward pass without the backward is about a third of a step; half is the cautious guess.
EVAL_PER_TRAIN = 0.5
RESERVE_SAFETY = 1.25  # the final evaluation's estimate is multiplied by this
RESERVE_MARGIN_S = 1.0  # and this is added (the checkpoint's trip back to the page) ...
RESERVE_MARGIN_SHARE = 0.02  # ... or this share of the budget, when it is smaller
RESERVE_MAX_SHARE = 0.5  # the reserve never takes more than this share of the budget


def cosine(progress: float) -> float:
    """The decay's LR multiplier at ``progress`` in [0, 1]: 1 at 0, ``FLOOR`` at 1."""
    p = min(1.0, max(0.0, progress))
    return FLOOR + (1 - FLOOR) * 0.5 * (1 + math.cos(math.pi * p))


@dataclass
class Budget:
    """``seconds`` of wall-clock time from ``started_at`` (on ``clock``) to a scored model.

    ``final_eval_examples``: the examples scored after training stops (the whole dev set, and
    the dev sample when the last step was not evaluated); their time is kept back.
    """

    seconds: float
    started_at: float
    final_eval_examples: int = 0
    clock: Callable[[], float] = time.monotonic
    _train_from: float | None = field(default=None, init=False)
    _speed_from: float | None = field(default=None, init=False)  # the end of the first step
    _trained: int = field(default=0, init=False)  # examples trained on after the first step
    _eval_s: float = field(default=0.0, init=False)  # seconds spent evaluating
    _eval_n: int = field(default=0, init=False)  # examples evaluated
    _eval_s_at_speed_from: float = field(default=0.0, init=False)

    @property
    def deadline(self) -> float:
        return self.started_at + self.seconds

    def start_training(self) -> None:
        """The first training step is about to run: the schedule's time axis starts here."""
        self._train_from = self.clock()

    def trained(self, examples: int) -> None:
        """A step trained on ``examples`` more (the fallback estimate of evaluation speed).
        The first step is not counted: it pays one-off costs (memory, lazy set-up) and can
        take seconds, which would make the estimate, and the reserve, absurd."""
        if self._speed_from is None:
            self._speed_from = self.clock()
            self._eval_s_at_speed_from = self._eval_s
            return
        self._trained += examples

    def evaluated(self, examples: int, seconds: float) -> None:
        """An evaluation of ``examples`` took ``seconds``."""
        self._eval_n += examples
        self._eval_s += seconds

    def eval_s_per_example(self) -> float:
        """Measured on the evaluations so far; before the first, guessed from training speed
        (its time net of evaluations); 0 before anything was timed."""
        if self._eval_n:
            return self._eval_s / self._eval_n
        if self._trained and self._speed_from is not None:
            train_s = self.clock() - self._speed_from - (self._eval_s - self._eval_s_at_speed_from)
            return EVAL_PER_TRAIN * max(0.0, train_s) / self._trained
        return 0.0

    def reserve_s(self) -> float:
        """Seconds kept back before the deadline: the final evaluation's estimated time with a
        safety factor, plus a small margin for handing the model over; never more than
        ``RESERVE_MAX_SHARE`` of the budget (an estimate that says more is not to be trusted
        with the whole run)."""
        margin = min(RESERVE_MARGIN_S, RESERVE_MARGIN_SHARE * self.seconds)
        estimate = self.final_eval_examples * self.eval_s_per_example()
        return min(RESERVE_SAFETY * estimate + margin, RESERVE_MAX_SHARE * self.seconds)

    def stop_at(self) -> float:
        """When training must stop (on ``clock``): the deadline less the reserve."""
        return self.deadline - self.reserve_s()

    def expired(self) -> bool:
        return self.clock() >= self.stop_at()

    def remaining_s(self) -> float:
        """Seconds to the deadline (negative once past it)."""
        return self.deadline - self.clock()

    def progress(self) -> float:
        """The share of the training window used: 0 when training starts, 1 at ``stop_at``."""
        if self._train_from is None:
            return 0.0
        window = self.stop_at() - self._train_from
        if window <= 0:
            return 1.0
        return min(1.0, max(0.0, (self.clock() - self._train_from) / window))


class LRSchedule:
    """The LR multiplier after ``step`` optimizer steps (what ``LambdaLR`` calls).

    Progress is ``step / total_steps``, or the budget's share of time used when that is further
    along (``Budget.progress``). The warm-up lasts ``warmup_steps`` steps (at most a fifth of
    ``total_steps``) or ``WARMUP_SHARE`` of the progress, whichever ends first; the cosine
    decay then runs over the rest of the progress and reaches ``FLOOR`` when it is 1.
    Progress never goes back (the reserve behind a budget's end may shrink as evaluations are
    timed), so the LR only falls after the warm-up.
    """

    def __init__(self, total_steps: int, warmup_steps: int, schedule: str = "cosine",
                 budget: Budget | None = None) -> None:
        self.total_steps = max(1, total_steps)
        self.warmup = min(warmup_steps, self.total_steps // 5)
        self.schedule = schedule
        self.budget = budget
        self._progress = 0.0
        self._decay_from: float | None = None  # the progress at which the warm-up ended

    def progress(self, step: int) -> float:
        p = step / self.total_steps
        if self.budget is not None:
            p = max(p, self.budget.progress())
        self._progress = max(self._progress, min(1.0, p))
        return self._progress

    def __call__(self, step: int) -> float:
        p = self.progress(step)
        if self._decay_from is None:
            if self.warmup and step < self.warmup and p < WARMUP_SHARE:
                return min(1.0, max((step + 1) / self.warmup, p / WARMUP_SHARE))
            self._decay_from = p  # by steps alone: warmup / total_steps, as it always was
        if self.schedule == "constant":
            return 1.0
        start = self._decay_from
        return cosine((p - start) / (1 - start) if start < 1 else 1.0)


__all__ = ["FLOOR", "RESERVE_MAX_SHARE", "WARMUP_SHARE", "Budget", "LRSchedule", "cosine"]
