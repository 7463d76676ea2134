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
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from rnnviz.core.callbacks import TrainerCallback, TrainerControl, TrainerState
from rnnviz.core.checkpoint import Checkpoint
from rnnviz.core.data import THUCNEWS_CLASSES, Dataset, LoadReport, load_dataset_bytes, load_split
from rnnviz.core.metrics import EvalReport
from rnnviz.core.models import ModelConfig, count_parameters
from rnnviz.core.predict import Predictor
from rnnviz.core.train import TrainConfig, train
from rnnviz.errors import RnnVizError
from rnnviz.i18n import pick
from rnnviz.jobs.process import JobLike, run_in_subprocess
from rnnviz.paths import data_dir, download_dir
from rnnviz.plots.classifier import MAX_CURVE_POINTS, thin

STOPPED_BY_USER = "stopped by user"
MIN_DEV_EXAMPLES = 200


# ---- data ----------------------------------------------------------------------------------


def find_thucnews(roots: Sequence[Path] | None = None) -> Path | None:
    """The first THUCNews folder (train.txt + class.txt) under the data dir or the download
    cache, or None on a fresh machine."""
    if roots is None:
        roots = [data_dir(), download_dir()]
    for root in roots:
        for folder in (Path(root) / "thucnews", Path(root)):
            if (folder / "train.txt").is_file() and (folder / "class.txt").is_file():
                return folder
    return None


def sample(dataset: Dataset, n: int, seed: int = 0) -> Dataset:
    """``n`` examples drawn at random (all of them, in order, when ``n`` is 0 or too large).

    Random, not the first ``n``: an uploaded file sorted by class would otherwise give a
    quick run one class only.
    """
    if n <= 0 or n >= len(dataset):
        return dataset
    rng = np.random.default_rng(seed)
    return dataset.take(sorted(rng.choice(len(dataset), size=n, replace=False).tolist()))


def split_dev(dataset: Dataset, fraction: float = 0.1, seed: int = 0) -> tuple[Dataset, Dataset]:
    """(train, dev): a random ``fraction`` held out as the dev set (at least one example each)."""
    if len(dataset) < 2:
        raise RnnVizError("need at least 2 examples to hold some out as a dev set", where=dataset.source)
    order = np.random.default_rng(seed).permutation(len(dataset)).tolist()
    k = min(len(dataset) - 1, max(1, round(len(dataset) * fraction)))
    return dataset.take(sorted(order[k:])), dataset.take(sorted(order[:k]))


def check_trainable(dataset: Dataset) -> None:
    """Refuse data a classifier cannot learn from: fewer than two classes present."""
    present = sum(1 for c in dataset.class_counts() if c)
    if present < 2:
        raise RnnVizError(f"the training data holds {present} class(es); a classifier needs at "
                          "least two", where=dataset.source)  # fmt: skip


@dataclass
class Upload:
    """An uploaded training file (and optional class.txt and dev file), parsed."""

    train: Dataset
    dev: Dataset | None
    reports: list[LoadReport]
    assumed_classes: bool  # a THUCNews-format file came without class.txt: THUCNews's ten used


def parse_upload(train_bytes: bytes, train_name: str, classes_bytes: bytes | None = None,
                 dev_bytes: bytes | None = None, dev_name: str = "dev") -> Upload:
    """Parse uploads leniently: bad lines are skipped and listed (with line numbers) in the
    reports; a file with no usable line raises RnnVizError. The dev file must use the same
    classes as the training file."""
    from rnnviz.core.data import detect_format

    fmt = detect_format(train_bytes, train_name)
    assumed = fmt == "thucnews" and classes_bytes is None
    classes: Any = classes_bytes if classes_bytes is not None else (list(THUCNEWS_CLASSES) if assumed else None)
    train_set, report = load_dataset_bytes(train_bytes, train_name, classes=classes, fmt=fmt)
    check_trainable(train_set)
    reports, dev_set = [report], None
    if dev_bytes is not None:
        dev_set, dev_report = load_dataset_bytes(dev_bytes, dev_name, classes=train_set.classes,
                                                 fmt=detect_format(dev_bytes, dev_name))  # fmt: skip
        reports.append(dev_report)
    return Upload(train_set, dev_set, reports, assumed)


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
                "samples_per_s": state.samples_per_s, "eta_s": state.eta_s, "elapsed_s": state.elapsed_s,
                "device": state.device, "best_dev_accuracy": state.best_dev_accuracy,
            },
        )  # fmt: skip

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
    seed = spec.train_config.seed
    if spec.folder is not None:
        job.update(phase="loading")
        train_set, _ = load_split(spec.folder, "train")
        dev_set = load_split(spec.folder, "dev")[0] if (Path(spec.folder) / "dev.txt").is_file() else None
        source = str(spec.folder)
    elif spec.train_data is not None:
        train_set, dev_set, source = spec.train_data, spec.dev_data, spec.train_data.source
    else:
        raise RnnVizError("no training data chosen")
    if dev_set is None:
        train_set, dev_set = split_dev(train_set, 0.1, seed)
    train_set = sample(train_set, spec.train_limit, seed)
    dev_set = sample(dev_set, spec.dev_limit, seed)
    check_trainable(train_set)
    return train_set, dev_set, source


def run_training(job: JobLike, spec: TrainingSpec) -> TrainingOutcome:
    """Train ``spec`` reporting to ``job``; Stop keeps the best weights seen so far."""
    train_set, dev_set, source = _data(job, spec)
    tc = spec.train_config
    if not tc.eval_every:
        tc = TrainConfig(**{**tc.to_dict(), "eval_every": plan_eval_every(len(train_set), tc, spec.evaluations)})
    control = TrainerControl()
    if job.should_stop():
        control.stop(STOPPED_BY_USER)
    progress = JobProgress(job)
    result = train(spec.model_config, tc, train_set, dev_set, [progress], control)
    state = result.state or TrainerState()
    info = {"name": spec.name, "data_source": source, "train_examples": len(train_set),
            "dev_examples": len(dev_set), "steps": state.step, "stop_reason": state.stop_reason}  # fmt: skip
    checkpoint = predictor = None
    data = b""
    if state.step:
        checkpoint = Checkpoint.from_train_result(result, info=info)
        data = checkpoint.to_bytes()
        predictor = Predictor(checkpoint, name=spec.name)
    return TrainingOutcome(
        name=spec.name, checkpoint=checkpoint, predictor=predictor, checkpoint_bytes=data,
        report=result.dev_report, history=list(result.history), seconds=result.seconds,
        device=result.device, steps=state.step, total_steps=state.total_steps,
        stop_reason=state.stop_reason, params=count_parameters(result.model),
        train_examples=len(train_set), dev_examples=len(dev_set), info=info,
    )


def train_in_subprocess(job: JobLike, spec: TrainingSpec) -> TrainingOutcome:
    """``run_training`` in a child process (rnnviz.jobs.process): the server's other sessions
    keep the interpreter while it trains. The model comes back as its checkpoint bytes and is
    loaded here by the same checked loader as any checkpoint file."""
    job.update(phase="starting")  # a fresh interpreter imports torch first: a few seconds
    outcome: TrainingOutcome = run_in_subprocess(job, _train_for_parent, spec)
    if outcome.checkpoint_bytes:
        outcome.predictor = Predictor.from_bytes(outcome.checkpoint_bytes, name=outcome.name)
        outcome.checkpoint = outcome.predictor.checkpoint
    return outcome


def _train_for_parent(job: JobLike, spec: TrainingSpec) -> TrainingOutcome:
    # The bytes carry the model across; a Predictor (a lock, a live module) does not pickle.
    return replace(run_training(job, spec), checkpoint=None, predictor=None)


def describe_config(config: ModelConfig, lang: str = "zh") -> str:
    """A short name for a run: "Text-RNN · 双向 LSTM 1×64 · 字"."""
    model = "Text-RNN" if config.model == "textrnn" else "RCNN"
    bi = pick(lang, "双向 ", "bi-") if config.model == "textrnn" and config.bidirectional else ""
    tok = pick(lang, "字", "char") if config.tokenizer == "char" else pick(lang, "词", "word")
    return f"{model} · {bi}{config.cell.upper()} {config.num_layers}×{config.hidden_size} · {tok}"


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
                                base_url=base_url, progress=progress, **overrides)  # fmt: skip
    except _StopDownload:
        return None


__all__ = ["JobProgress", "TrainingOutcome", "TrainingSpec", "Upload", "check_trainable",
           "describe_config", "find_thucnews", "parse_upload", "plan_eval_every", "run_download",
           "run_training", "sample", "split_dev", "train_in_subprocess"]
