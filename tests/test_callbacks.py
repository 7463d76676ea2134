"""Callbacks: the event order of a run, the state they read, and the CLI progress bar."""

from __future__ import annotations

import io
import math

import pytest
from helpers import keyed_dataset

from rnnviz.core.callbacks import (
    EventRecorder,
    PrintProgress,
    TrainerCallback,
    TrainerControl,
    TrainerState,
)
from rnnviz.core.data import Dataset
from rnnviz.core.models import ModelConfig
from rnnviz.core.train import TrainConfig, train

TINY = ModelConfig(cell="gru", embed_dim=8, hidden_size=8, num_layers=1, dropout=0.0,
                   embed_dropout=0.0)
BATCH = 16


pytestmark = pytest.mark.usefixtures("one_torch_thread_per_test")
# Noise characters with one class key ("甲乙丙") somewhere in each text; 15 steps per epoch at
# batch 16.
TRAIN, DEV = keyed_dataset(240, 0, max_noise=10), keyed_dataset(60, 1, max_noise=10)


def run(callbacks: list[TrainerCallback], dev: Dataset | None = DEV, **overrides: object):
    settings: dict = {"batch_size": BATCH, "lr": 1e-2, "warmup_steps": 0, "patience": 0,
                      "eval_every": 5, "max_steps": 12}
    return train(TINY, TrainConfig(**{**settings, **overrides}), TRAIN, dev, callbacks)


def test_event_order() -> None:
    recorder = EventRecorder()
    run([recorder])
    steps = ["step_end"] * 5
    assert recorder.events == [
        "train_begin", *steps, "evaluate", *steps, "evaluate", "step_end", "step_end",
        "evaluate", "train_end",
    ]


def test_no_evaluate_events_without_a_dev_set() -> None:
    recorder = EventRecorder()
    run([recorder], dev=None, max_steps=7)
    assert recorder.events == ["train_begin", *["step_end"] * 7, "train_end"]


class StateLog(TrainerCallback):
    """Copies what each hook sees."""

    def __init__(self) -> None:
        self.begin: dict = {}
        self.steps: list[dict] = []
        self.evals: list[dict] = []
        self.end: dict = {}

    def on_train_begin(self, state: TrainerState, control: TrainerControl) -> None:
        self.begin = {"step": state.step, "total": state.total_steps, "device": state.device}

    def on_step_end(self, state: TrainerState, control: TrainerControl) -> None:
        self.steps.append({
            "step": state.step, "epoch": state.epoch, "elapsed": state.elapsed_s,
            "speed": state.samples_per_s, "eta": state.eta_s, "loss": state.loss,
            "total": state.total_steps,
        })

    def on_evaluate(self, state: TrainerState, control: TrainerControl) -> None:
        self.evals.append({
            "step": state.step, "history_len": len(state.history),
            "last_is_newest": state.last_eval is state.history[-1],
            "best": state.best_dev_accuracy, "best_step": state.best_step,
            "acc": state.last_eval["dev_accuracy"],
        })

    def on_train_end(self, state: TrainerState, control: TrainerControl) -> None:
        self.end = {"step": state.step, "elapsed": state.elapsed_s}


def test_state_fields_progress_sensibly() -> None:
    log = StateLog()
    run([log], max_steps=20, eval_every=4)
    assert log.begin == {"step": 0, "total": 20, "device": "cpu"}

    assert [s["step"] for s in log.steps] == list(range(1, 21))
    assert all(s["total"] == 20 for s in log.steps)
    per_epoch = math.ceil(len(TRAIN) / BATCH)
    assert [s["epoch"] for s in log.steps] == pytest.approx([k / per_epoch for k in range(1, 21)])
    elapsed = [s["elapsed"] for s in log.steps]
    assert elapsed == sorted(elapsed) and elapsed[0] > 0
    for s in log.steps:
        assert s["speed"] == pytest.approx(s["step"] * BATCH / s["elapsed"])
        assert s["eta"] == pytest.approx(s["elapsed"] / s["step"] * (20 - s["step"]))
        assert math.isfinite(s["loss"]) and s["loss"] > 0
    assert log.steps[-1]["eta"] == 0

    assert [e["step"] for e in log.evals] == [4, 8, 12, 16, 20]
    assert [e["history_len"] for e in log.evals] == [1, 2, 3, 4, 5]
    assert all(e["last_is_newest"] for e in log.evals)
    for i, e in enumerate(log.evals):
        seen = [x["acc"] for x in log.evals[: i + 1]]
        assert e["best"] == max(seen)
        assert e["best_step"] == log.evals[seen.index(max(seen))]["step"]
    assert log.end["step"] == 20 and log.end["elapsed"] >= elapsed[-1]


def test_control_stop_records_the_reason() -> None:
    control = TrainerControl()
    assert not control.should_stop
    control.stop("because")
    assert control.should_stop and control.reason == "because"
    control = TrainerControl()
    control.stop()
    assert control.reason == "stopped by user"


def test_print_progress_draws_a_bar() -> None:
    stream = io.StringIO()
    bar = PrintProgress(stream, every_s=0)
    state = TrainerState(total_steps=24, step=12, epoch=0.5, loss=1.2345, train_accuracy=0.5,
                         samples_per_s=100.0, eta_s=3.0)
    bar.on_step_end(state, TrainerControl())
    out = stream.getvalue()
    assert out.startswith("\r[" + "#" * 12 + "." * 12 + "] step 12/24 ")
    assert "loss 1.2345" in out and "acc 0.500" in out and "ETA     3s" in out

    state.last_eval = {"dev_loss": 0.75, "dev_accuracy": 0.8}
    state.best_dev_accuracy, state.best_step = 0.8, 12
    bar.on_evaluate(state, TrainerControl())
    assert "dev acc 0.8000 (best 0.8000 @ step 12) *" in stream.getvalue()
    state.stop_reason, state.elapsed_s = "stopped by user", 2.5
    bar.on_train_end(state, TrainerControl())
    assert stream.getvalue().endswith("training ended after 2.5s (stopped by user)\n")


def test_print_progress_is_throttled_but_always_shows_the_last_step() -> None:
    stream = io.StringIO()
    bar = PrintProgress(stream, every_s=3600)
    state = TrainerState(total_steps=24)
    state.step = 1
    bar.on_step_end(state, TrainerControl())
    first = stream.getvalue()
    for step in range(2, 24):
        state.step = step
        bar.on_step_end(state, TrainerControl())
    assert stream.getvalue() == first  # nothing redrawn within the hour
    state.step = 24
    bar.on_step_end(state, TrainerControl())
    assert stream.getvalue()[len(first):].startswith("\r[" + "#" * 24 + "] step 24/24")


def test_print_progress_in_a_real_run() -> None:
    stream = io.StringIO()
    run([PrintProgress(stream, every_s=0)], max_steps=10)
    out = stream.getvalue()
    assert out.count("\r[") == 10
    assert "step 10/10" in out
    assert out.count("dev acc") == 2
    assert "training ended after" in out
