"""The training pages' presets, and what they were measured to reach.

* **class** (the default): all the training data, a wall-clock budget the teacher sets
  (``CLASS_BUDGET_S`` by default) counted from pressing the button, the LR decay fitted to it
  (rnnviz/core/schedule.py), a dev sample scored often enough to draw the curve and the whole
  dev set scored at the end. The model is what the shipped models prove (character + bigram
  embeddings, max pooling) at the size that learns most in a minute on two cores
  (bench/class_training.py; the choice is explained in ``CLASS_MODELS``).
* **quick**: the "custom" widgets as they start (``QUICK``): 5,000 titles, 3 epochs, a small
  model, scored on 1,000 dev titles: a fast look at the curve.

``bench/class_training.py`` trains both presets and writes ``BENCH_FILE``; the pages read the
figures from there (``load_figures``), never from numbers typed in.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rnnviz.core.config import MODELS, ModelConfig, TrainConfig
from rnnviz.core.jsonfile import read_json
from rnnviz.errors import RnnVizError
from rnnviz.jobs.training import MIN_DEV_EXAMPLES, TrainingSpec
from rnnviz.paths import ASSETS_DIR

BENCH_FILE = ASSETS_DIR / "benchmarks" / "class_training.json"
CLASS_BUDGET_S = 60
BUDGET_RANGE = (10, 300, 10)  # what the page's slider offers: low, high, step (seconds)
CLASS_EVALUATIONS = 12  # dev-sample evaluations over a budget: a curve of about a dozen points
CLASS_DEV_SAMPLE = 1000  # scored at each of them (~0.2 s each); the whole dev set at the end

# The class preset's models, chosen by short runs on the 2-core machine (issue 15: each run
# given the examples a quiet machine trains in the budget's training time, the LR decay fitted
# to it, scored on the whole dev set; bench/class_training.py measures the result): the
# shipped models' embeddings (128 + 64 for bigrams) and max pooling; one recurrent layer (two
# train at half the speed: Text-RNN 82.9 % against 85.8 % in the same time, before the
# embeddings' larger LR); H = 64, 1.6x as fast as H = 128: as good at a minute (Text-RNN 89.2
# against 89.6 %, RCNN 89.6 against 89.2 %), better at 30 s (88.0 against 87.2 %, 87.3 against
# 85.0 %), and so on a slower or shared machine.
CLASS_MODELS: dict[str, dict[str, Any]] = {
    "textrnn": dict(num_layers=1, hidden_size=64, bidirectional=True, pooling="max"),
    "textrcnn": dict(num_layers=1, hidden_size=64, rcnn_proj=256),
}
CLASS_TRAINING: dict[str, Any] = dict(
    batch_size=128, lr=3e-3, warmup_steps=100, patience=0,
    epochs=20,  # a cap only: the budget ends the run (a minute is about two epochs)
    # The embeddings learn at 10x the LR (rnnviz/core/train.py param_groups): the largest
    # single gain in a short run (one minute: ~85.5 % -> ~89 % dev in the issue-15 runs).
    embed_lr_scale=10.0,
)

# The "custom" widgets' starting values: today's quick run (issue 15 keeps it available).
QUICK: dict[str, Any] = dict(
    cell="lstm", num_layers=1, hidden_size=64, embed_dim=64, tokenizer="char",
    bidirectional=False, pooling="last", rcnn_proj=128,  # the model widgets
    epochs=3, quick=True, limit=5000, batch_size=64, lr=2e-3, patience=3, evaluations=12,
    max_steps=0, time_budget_s=600,  # the training widgets
)


def class_model_config(model: str) -> ModelConfig:
    """The class preset's architecture for ``model`` (textrnn or textrcnn)."""
    return ModelConfig.for_model(model, **CLASS_MODELS[model])


def class_train_config(budget_s: float = CLASS_BUDGET_S) -> TrainConfig:
    """The class preset's training: the budget ends the run and sets the evaluation rhythm."""
    return TrainConfig(**CLASS_TRAINING, time_budget_s=float(budget_s),
                       eval_every_s=budget_s / CLASS_EVALUATIONS, dev_sample=CLASS_DEV_SAMPLE)


def class_spec(model: str, budget_s: float = CLASS_BUDGET_S, name: str = "") -> TrainingSpec:
    """A class-preset run (the data is added by the caller: ``folder`` or an upload)."""
    return TrainingSpec(model_config=class_model_config(model),
                        train_config=class_train_config(budget_s), name=name or model,
                        evaluations=CLASS_EVALUATIONS, preset="class")


def quick_model_config(model: str) -> ModelConfig:
    """What the custom widgets build for ``model`` as they start."""
    q = QUICK
    common = dict(model=model, cell=q["cell"], num_layers=q["num_layers"],
                  hidden_size=q["hidden_size"], embed_dim=q["embed_dim"], tokenizer=q["tokenizer"])
    if model == "textrnn":
        return ModelConfig(**common, bidirectional=q["bidirectional"], pooling=q["pooling"])
    return ModelConfig(**common, bidirectional=True, rcnn_proj=q["rcnn_proj"])


def quick_limits(quick: bool, limit: int) -> tuple[int, int]:
    """(train, dev) examples of a custom run: a quick run samples both, 0 = all."""
    if not quick:
        return 0, 0
    return int(limit), max(MIN_DEV_EXAMPLES, int(limit) // 5)


def quick_spec(model: str, name: str = "") -> TrainingSpec:
    """The quick run as the custom widgets start it."""
    q = QUICK
    tc = TrainConfig(epochs=q["epochs"], batch_size=q["batch_size"], lr=q["lr"],
                     patience=q["patience"], max_steps=q["max_steps"],
                     time_budget_s=float(q["time_budget_s"]), device="auto")
    train_limit, dev_limit = quick_limits(q["quick"], q["limit"])
    return TrainingSpec(model_config=quick_model_config(model), train_config=tc,
                        name=name or model, train_limit=train_limit, dev_limit=dev_limit,
                        evaluations=q["evaluations"])


# ---- the measured figures ----------------------------------------------------------------


@dataclass(frozen=True)
class Measured:
    """One benchmark run: its dev accuracy (on ``dev_examples``) and seconds from the button."""

    model: str
    preset: str  # "class" or "quick"
    budget_s: float  # 0 for the quick preset
    jobs: int  # trainings running at once
    dev_accuracy: float
    dev_examples: int
    seconds: float


@dataclass(frozen=True)
class Figures:
    """What ``BENCH_FILE`` holds: the runs, the full runs (the shipped checkpoints) and the
    field's reference figures."""

    runs: tuple[Measured, ...]
    full: dict[str, tuple[float, float]]  # model -> (dev accuracy, seconds) of a full run
    peer: dict[str, float]  # model -> dev accuracy of the classic implementation
    cores: int

    def run(self, model: str, preset: str, budget_s: float = 0, jobs: int = 1) -> Measured | None:
        """The measured run nearest to ``budget_s`` among those of ``model``, ``preset`` and
        ``jobs``; None when there is none."""
        runs = [r for r in self.runs if (r.model, r.preset, r.jobs) == (model, preset, jobs)]
        return min(runs, key=lambda r: abs(r.budget_s - budget_s), default=None)

    def together(self, model: str, budget_s: float, jobs: int = 2) -> list[Measured]:
        """The class-preset runs of ``model`` that ran ``jobs`` at once at ``budget_s``."""
        return [r for r in self.runs if (r.model, r.preset, r.jobs, r.budget_s)
                == (model, "class", jobs, budget_s)]

    def budgets(self, model: str, jobs: int = 1) -> list[Measured]:
        """The class-preset runs of ``model`` with ``jobs`` trainings at once, shortest first."""
        return sorted((r for r in self.runs
                       if (r.model, r.preset, r.jobs) == (model, "class", jobs)),
                      key=lambda r: r.budget_s)


def _number(value: Any, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"not a number: {value!r}")
    if not (math.isfinite(value) and low <= value <= high):
        raise ValueError(f"out of range: {value!r}")
    return float(value)


def parse_figures(data: Any) -> Figures:
    """``BENCH_FILE``'s content checked; ValueError (or KeyError, TypeError) if malformed."""
    runs = tuple(
        Measured(model=str(r["model"]), preset=str(r["preset"]),
                 budget_s=_number(r["budget_s"], 0, 1e6), jobs=int(_number(r["jobs"], 1, 64)),
                 dev_accuracy=_number(r["dev_accuracy"], 0, 1),
                 dev_examples=int(_number(r["dev_examples"], 1, 1e9)),
                 seconds=_number(r["seconds"], 0, 1e6))
        for r in data["runs"])
    if any(r.model not in MODELS or r.preset not in ("class", "quick") for r in runs):
        raise ValueError("unknown model or preset")
    full = {m: (_number(v["dev_accuracy"], 0, 1), _number(v["seconds"], 0, 1e7))
            for m, v in data.get("full", {}).items() if m in MODELS}
    peer = {m: _number(v, 0, 1) for m, v in data.get("peer", {}).items() if m in MODELS}
    return Figures(runs, full, peer, int(_number(data["machine"]["cores"], 1, 4096)))


def load_figures(path: Path | None = None) -> Figures | None:
    """The benchmark's figures (``BENCH_FILE`` by default), or None when the file is absent or
    unreadable (the page then says the preset was not measured yet)."""
    try:
        data = read_json(Path(path if path is not None else BENCH_FILE))
        return None if data is None else parse_figures(data)
    except (OSError, RnnVizError, ValueError, KeyError, TypeError):
        return None


__all__ = ["BENCH_FILE", "BUDGET_RANGE", "CLASS_BUDGET_S", "CLASS_DEV_SAMPLE",
           "CLASS_EVALUATIONS", "CLASS_MODELS", "QUICK", "Figures", "Measured",
           "class_model_config", "class_spec", "class_train_config", "load_figures",
           "parse_figures", "quick_limits", "quick_model_config", "quick_spec"]
