"""The training and download jobs the classifier pages run in the background, without Streamlit.

A job function takes a ``job`` first: anything with ``update(**fields)`` (publish progress:
put new objects in, never mutate what was published) and ``should_stop() -> bool`` (the Stop
button, or the page going away). ``ui.jobs`` runs them on a worker thread; a training run goes
on from there into a child process (``train_in_subprocess``, rnnviz/jobs/process.py) so that
it does not share the server's interpreter. Tests call them directly with a small recorder.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch

from rnnviz.content import Text
from rnnviz.core.callbacks import TrainerCallback, TrainerControl, TrainerState
from rnnviz.core.checkpoint import Checkpoint
from rnnviz.core.config import CELL_NAMES, ModelConfig, TrainConfig
from rnnviz.core.curves import MAX_CURVE_POINTS, thin
from rnnviz.core.data import Dataset
from rnnviz.core.metrics import EvalReport
from rnnviz.core.models import count_parameters
from rnnviz.core.predict import Predictor
from rnnviz.core.training_data import check_trainable, run_datasets
from rnnviz.core.training_run import train_to_checkpoint
from rnnviz.jobs.process import JobLike, run_in_subprocess
from rnnviz.paths import download_dir

_T = Text("jobs/training")
STOPPED_BY_USER = "stopped by user"
MIN_DEV_EXAMPLES = 200


# ---- training ------------------------------------------------------------------------------


@dataclass
class TrainingSpec:
    """What to train on what. Either ``folder`` (a THUCNews folder, loaded by the job) or
    ``train_data`` (an upload); without dev data a random tenth of the training set is held out."""

    model_config: ModelConfig
    train_config: TrainConfig
    name: str
    folder: Path | None = None
    train_data: Dataset | None = None
    dev_data: Dataset | None = None
    train_limit: int = 0  # 0 = all
    dev_limit: int = 0
    evaluations: int = 12  # dev evaluations over the run (sets eval_every when it is 0)
    preset: str = ""  # "class": the class preset (rnnviz/jobs/class_preset.py); "" = by hand
    # When the time budget starts (time.monotonic(), one clock for the whole machine):
    # train_in_subprocess sets it as the run leaves the queue; None = when training starts.
    started_at: float | None = None


@dataclass
class TrainingOutcome:
    name: str
    checkpoint: Checkpoint | None  # None when stopped before the first step
    predictor: Predictor | None
    checkpoint_bytes: bytes
    report: EvalReport | None  # the best dev report (the kept weights')
    history: list[dict]
    seconds: float
    device: str
    steps: int
    total_steps: int
    stop_reason: str
    params: int
    train_examples: int
    dev_examples: int
    info: dict = field(default_factory=dict)


def plan_eval_every(n_train: int, tc: TrainConfig, evaluations: int) -> int:
    """Steps between dev evaluations so that a run has about ``evaluations`` of them."""
    steps = tc.max_steps or tc.epochs * math.ceil(n_train / tc.batch_size)
    return max(1, math.ceil(steps / max(1, evaluations)))


class JobProgress(TrainerCallback):
    """Publishes the trainer's state to the job (at most every ``every_s``, and at every
    evaluation) and turns the job's Stop into ``control.stop``."""

    def __init__(self, job: JobLike, every_s: float = 0.25) -> None:
        self.job = job
        self.every_s = every_s
        self._last = -math.inf
        self.live: list[dict] = []

    def _publish(self, state: TrainerState) -> None:
        self._last = time.monotonic()
        if state.step and (not self.live or self.live[-1]["step"] != state.step):
            point = {"step": state.step, "loss": state.loss, "accuracy": state.train_accuracy}
            live = [*self.live, point]
            self.live = thin(live, MAX_CURVE_POINTS) if len(live) > 2 * MAX_CURVE_POINTS else live
        self.job.update(
            phase="training", live=self.live, history=list(state.history),
            progress={
                "step": state.step, "total_steps": state.total_steps, "epoch": state.epoch,
                "epochs": state.epochs, "loss": state.loss, "accuracy": state.train_accuracy,
                "samples_per_s": state.samples_per_s, "eta_s": state.eta_s,
                "elapsed_s": state.elapsed_s, "device": state.device,
                "best_dev_accuracy": state.best_dev_accuracy,
                "threads": torch.get_num_threads(),
            },
        )

    def on_train_begin(self, state: TrainerState, control: TrainerControl) -> None:
        self._publish(state)

    def on_step_end(self, state: TrainerState, control: TrainerControl) -> None:
        if self.job.should_stop() and not control.should_stop:
            control.stop(STOPPED_BY_USER)
        if time.monotonic() - self._last >= self.every_s or state.step == state.total_steps:
            self._publish(state)

    def on_evaluate(self, state: TrainerState, control: TrainerControl) -> None:
        self._publish(state)

    def on_train_end(self, state: TrainerState, control: TrainerControl) -> None:
        self._publish(state)


def _data(job: JobLike, spec: TrainingSpec) -> tuple[Dataset, Dataset, str]:
    if spec.folder is not None:
        job.update(phase="loading")
    train_set, dev_set, source = run_datasets(
        spec.folder, spec.train_data, spec.dev_data, seed=spec.train_config.seed,
        train_limit=spec.train_limit, dev_limit=spec.dev_limit)
    assert train_set is not None  # need_train: always read
    check_trainable(train_set)
    return train_set, dev_set, source


def run_training(job: JobLike, spec: TrainingSpec) -> TrainingOutcome:
    """Train ``spec`` reporting to ``job``; Stop keeps the best weights seen so far."""
    train_set, dev_set, source = _data(job, spec)
    tc = spec.train_config
    if not tc.eval_every and not tc.eval_every_s:
        tc = replace(tc, eval_every=plan_eval_every(len(train_set), tc, spec.evaluations))
    control = TrainerControl()
    if job.should_stop():
        control.stop(STOPPED_BY_USER)
    run = train_to_checkpoint(spec.model_config, tc, train_set, dev_set, [JobProgress(job)],
                              control, source={"name": spec.name, "data_source": source},
                              started_at=spec.started_at)
    result, state, checkpoint = run.result, run.state, run.checkpoint
    return TrainingOutcome(
        name=spec.name, checkpoint=checkpoint,
        predictor=Predictor(checkpoint, name=spec.name) if checkpoint is not None else None,
        checkpoint_bytes=checkpoint.to_bytes() if checkpoint is not None else b"",
        report=result.dev_report, history=list(result.history), seconds=result.seconds,
        device=result.device, steps=state.step, total_steps=state.total_steps,
        stop_reason=state.stop_reason, params=count_parameters(result.model),
        train_examples=len(train_set), dev_examples=len(dev_set), info=run.info,
    )


def train_in_subprocess(job: JobLike, spec: TrainingSpec,
                        threads: int | Callable[[], int] | None = None) -> TrainingOutcome:
    """``run_training`` in a child process (rnnviz.jobs.process): the server's other sessions
    keep the interpreter while it trains. The model comes back as its checkpoint bytes and is
    loaded here by the same checked loader as any checkpoint file.

    The time budget starts now (the run has left the queue): the child's start-up is in it.
    ``threads``: the child's torch threads, or a function the parent asks again while the
    child runs (``run_in_subprocess``).
    """
    if spec.started_at is None:
        spec = replace(spec, started_at=time.monotonic())
    job.update(phase="starting")  # a fresh interpreter imports torch first: a few seconds
    outcome: TrainingOutcome = run_in_subprocess(job, _train_for_parent, spec, threads=threads)
    if outcome.checkpoint_bytes:
        outcome.predictor = Predictor.from_bytes(outcome.checkpoint_bytes, name=outcome.name)
        outcome.checkpoint = outcome.predictor.checkpoint
    return outcome


def _train_for_parent(job: JobLike, spec: TrainingSpec) -> TrainingOutcome:
    # The bytes carry the model across; a Predictor (a lock, a live module) does not pickle.
    return replace(run_training(job, spec), checkpoint=None, predictor=None)


def describe_config(config: ModelConfig, lang: str = "zh") -> str:
    """A short name for a run: "Text-RNN · 双向 LSTM 1×64 · 字"."""
    both_ways = config.model == "textrnn" and config.bidirectional
    return _T(lang, "run_name.bi" if both_ways else "run_name",
              model="Text-RNN" if config.model == "textrnn" else "RCNN",
              cell=CELL_NAMES[config.cell], size=f"{config.num_layers}×{config.hidden_size}",
              tokens=_T(lang, f"tokens.{config.tokenizer}"))


# ---- download ------------------------------------------------------------------------------


class _StopDownload(Exception):
    """Raised from the progress callback to leave the transfer (the .part file is kept)."""


def run_download(job: JobLike, dest: Path | None = None, base_url: str | None = None,
                 **overrides: Any) -> Path | None:
    """Fetch THUCNews with progress published as ``files`` {name: (done, total)}; returns the
    folder, or None when stopped (a later run resumes). ``overrides`` go to download_dataset."""
    from rnnviz.core.download import download_dataset

    files: dict[str, tuple[int, int | None]] = {}

    def progress(name: str, done: int, total: int | None) -> None:
        if job.should_stop():
            raise _StopDownload
        files[name] = (done, total)
        job.update(files=dict(files), current=name)

    try:
        return download_dataset("thucnews", dest if dest is not None else download_dir(),
                                base_url=base_url, progress=progress, **overrides)
    except _StopDownload:
        return None


__all__ = ["JobProgress", "TrainingOutcome", "TrainingSpec", "describe_config", "plan_eval_every",
           "run_download", "run_training", "train_in_subprocess"]
