"""Training reports through callbacks; the CLI and the app subscribe.

Modelled on transformers' trainer_callback: a ``TrainerState`` the callbacks read, a
``TrainerControl`` they may set (``should_stop`` is the Stop button), and a base class with
empty hooks. Each hook gets the state and the control, nothing vague.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from typing import Any, TextIO


@dataclass
class TrainerState:
    """What a run has done so far; ``history`` holds one dict per evaluation."""

    total_steps: int = 0
    epochs: int = 0
    step: int = 0
    epoch: float = 0.0
    loss: float = float("nan")  # running mean of the train loss since the last report
    train_accuracy: float = float("nan")
    samples_per_s: float = 0.0
    elapsed_s: float = 0.0
    eta_s: float | None = None
    device: str = "cpu"
    best_dev_accuracy: float = float("-inf")
    best_step: int = 0
    last_eval: dict[str, Any] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)
    stopped_early: bool = False
    stop_reason: str = ""


@dataclass
class TrainerControl:
    """Set by callbacks (or the UI's Stop button) to end a run; the best checkpoint is kept."""

    should_stop: bool = False
    reason: str = ""

    def stop(self, reason: str = "stopped by user") -> None:
        self.should_stop = True
        self.reason = reason


class TrainerCallback:
    """Override the hooks you need; every hook receives the state and the control."""

    def on_train_begin(self, state: TrainerState, control: TrainerControl) -> None: ...

    def on_step_end(self, state: TrainerState, control: TrainerControl) -> None: ...

    def on_evaluate(self, state: TrainerState, control: TrainerControl) -> None: ...

    def on_train_end(self, state: TrainerState, control: TrainerControl) -> None: ...


class PrintProgress(TrainerCallback):
    """CLI adapter: a one-line progress bar rewritten in place, one line per evaluation."""

    def __init__(self, stream: TextIO | None = None, every_s: float = 0.5) -> None:
        self.stream = stream or sys.stderr
        self.every_s = every_s
        self._last = 0.0

    def on_step_end(self, state: TrainerState, control: TrainerControl) -> None:
        now = time.monotonic()
        if now - self._last < self.every_s and state.step != state.total_steps:
            return
        self._last = now
        width = 24
        done = int(width * state.step / max(1, state.total_steps))
        eta = f"{state.eta_s:5.0f}s" if state.eta_s is not None else "   ?s"
        self.stream.write(
            f"\r[{'#' * done}{'.' * (width - done)}] step {state.step}/{state.total_steps} "
            f"epoch {state.epoch:4.2f} loss {state.loss:.4f} acc {state.train_accuracy:.3f} "
            f"{state.samples_per_s:6.0f} samples/s ETA {eta}"
        )
        self.stream.flush()

    def on_evaluate(self, state: TrainerState, control: TrainerControl) -> None:
        ev = state.last_eval
        mark = " *" if state.best_step == state.step else ""
        self.stream.write(
            f"\n  dev loss {ev['dev_loss']:.4f} dev acc {ev['dev_accuracy']:.4f} "
            f"(best {state.best_dev_accuracy:.4f} @ step {state.best_step}){mark}\n"
        )
        self.stream.flush()

    def on_train_end(self, state: TrainerState, control: TrainerControl) -> None:
        why = f" ({state.stop_reason})" if state.stop_reason else ""
        self.stream.write(f"\ntraining ended after {state.elapsed_s:.1f}s{why}\n")
        self.stream.flush()


class EventRecorder(TrainerCallback):
    """Records hook names in order (tests use it to pin the event sequence)."""

    def __init__(self) -> None:
        self.events: list[str] = []

    def on_train_begin(self, state: TrainerState, control: TrainerControl) -> None:
        self.events.append("train_begin")

    def on_step_end(self, state: TrainerState, control: TrainerControl) -> None:
        self.events.append("step_end")

    def on_evaluate(self, state: TrainerState, control: TrainerControl) -> None:
        self.events.append("evaluate")

    def on_train_end(self, state: TrainerState, control: TrainerControl) -> None:
        self.events.append("train_end")
