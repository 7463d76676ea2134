"""Several small models trained in lockstep on the same batches.

The lessons' live races (RNN vs LSTM vs GRU on long-term dependency, a tree network vs a chain
RNN, a memory network vs an LSTM) all run this loop: every model sees the same batch at every
step, the history records each model's training loss and accuracy on that batch (measured
before the update, so on examples it has not trained on yet), and a race stops the same way
on Stop or at its time budget.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from torch import Tensor, nn

History = dict[str, dict[str, list[float]]]  # model -> {"step", "loss", "accuracy"} per step


@dataclass
class Race:
    """What a race left: the history, the steps run, and whether (and why) it stopped early."""

    history: History
    steps_done: int
    stopped: bool
    reason: str  # "" when it ran every step; "stopped" (the Stop button) or "time budget"
    started: float  # time.monotonic() at the start, for the caller's elapsed time


def copy_history(history: History) -> History:
    """A copy to publish while the race goes on (the lists keep growing)."""
    return {k: {name: list(v) for name, v in h.items()} for k, h in history.items()}


def race(models: Mapping[str, nn.Module], optimizers: Mapping[str, Any], *, steps: int,
         next_batch: Callable[[], tuple[Any, Tensor]],
         forward: Callable[[str, nn.Module, Any, int], Tensor],
         clip_norm: float = 0.0, report_every: int = 0, time_budget_s: float = 0.0,
         should_stop: Callable[[], bool] | None = None,
         report: Callable[[int, float, History], None] | None = None,
         after_step: Callable[[str, nn.Module], None] | None = None) -> Race:
    """Train ``models`` for ``steps`` steps; ``next_batch()`` draws (inputs, labels) once per
    step for all of them, ``forward(kind, model, inputs, step)`` gives a model's logits.

    Cross-entropy loss, gradient-norm clipping at ``clip_norm`` (0 = off), then each model's
    optimizer step and ``after_step(kind, model)`` (a scheduler, a weight kept at zero).
    ``report(step, elapsed_s, history_copy)`` is called at the start and every
    ``report_every`` steps; the caller reports the end itself, after its own evaluation.
    """
    history: History = {k: {"step": [], "loss": [], "accuracy": []} for k in models}
    start = time.monotonic()
    step, stopped, reason = 0, False, ""

    def publish() -> None:
        if report is not None:
            report(step, time.monotonic() - start, copy_history(history))

    publish()
    while step < steps:
        if should_stop is not None and should_stop():
            stopped, reason = True, "stopped"
            break
        if time_budget_s and time.monotonic() - start > time_budget_s:
            stopped, reason = True, "time budget"
            break
        inputs, y = next_batch()
        step += 1
        for kind, model in models.items():
            logits = forward(kind, model, inputs, step)
            loss = nn.functional.cross_entropy(logits, y)
            optimizers[kind].zero_grad()
            loss.backward()
            if clip_norm:
                nn.utils.clip_grad_norm_(model.parameters(), clip_norm)
            optimizers[kind].step()
            if after_step is not None:
                after_step(kind, model)
            h = history[kind]
            h["step"].append(step)
            h["loss"].append(loss.item())
            h["accuracy"].append((logits.argmax(-1) == y).float().mean().item())
        if report_every and step % report_every == 0 and step < steps:
            publish()
    return Race(history, step, stopped, reason, start)


__all__ = ["History", "Race", "copy_history", "race"]
