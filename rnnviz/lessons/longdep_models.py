"""The RNN, LSTM and GRU trained on remember-the-first-symbol, shipped with the app.

For each sequence length T in ``LENGTHS``, ``scripts/train_longdep.py`` trains the three models
with the page's own recipe (``rnnviz.lessons.longdep.train_side_by_side``: 32 hidden units,
Adam, clipping 1.0, chrono gate-bias init) for ``RECIPE.steps`` steps from each of the three
seeds in ``RECIPE.seeds`` and keeps, per cell, the run with the median validation accuracy: a
typical run, neither the luckiest nor the unluckiest (a plain RNN at T = 60 learns it partly
from one seed in three). Its accuracy on a separate held-out set is recorded in the file, with
every seed's validation accuracy. One file per T,
``assets/models/longdep/T<T>.safetensors``, holds the three models' weights (names prefixed
"rnn.", "lstm.", "gru.") and, in the safetensors metadata, JSON strings: each model's
``LongDepConfig``, its seed and accuracies, and how the file was made.

Loading reads the header first and checks the format marker, each config, and every tensor's
name, shape and dtype against the architecture that config builds, then loads the weights
with ``strict=True``. Nothing is unpickled.

Shipped rather than trained on the page: thirty students opening the lesson would otherwise
train ninety models at once; these load in milliseconds and are the same for everyone.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, fields
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors

from rnnviz.core.atomic import write_atomically
from rnnviz.errors import RnnVizError
from rnnviz.lessons.longdep import (
    KINDS,
    FirstSymbolClassifier,
    FirstSymbolTask,
    LongDepConfig,
    build_model,
    train_side_by_side,
)
from rnnviz.paths import MODELS_DIR

LONGDEP_DIR = MODELS_DIR / "longdep"
LENGTHS = (10, 20, 30, 40, 60, 100)
FORMAT = "rnnviz-longdep"
FORMAT_VERSION = 1
MAX_BYTES = 2 * 2**20  # a file holds about 11k float32 weights (~46 kB)
# Evaluation sets never share a seed with training batches (seeds 0, 1, 2) or with each other.
VAL_SEED = 7_000_001  # picks the best seed per cell
HELD_OUT_SEED = 8_000_003  # the accuracy recorded in the file
SWEEP_SEED = 9_000_011  # the accuracy the page shows, measured at load
_DTYPES = {torch.float32: "F32"}


@dataclass(frozen=True)
class Recipe:
    """How the shipped models are trained (recorded in every file)."""

    steps: int = 600
    seeds: tuple[int, ...] = (0, 1, 2)
    val_size: int = 1000
    held_out_size: int = 4000


RECIPE = Recipe()


@dataclass
class TrainedSet:
    """The three models trained at one sequence length."""

    length: int
    models: dict[str, FirstSymbolClassifier]  # eval mode; never trained further
    configs: dict[str, LongDepConfig]
    accuracy: dict[str, float]  # held-out accuracy recorded when the file was made
    val_accuracy: dict[str, float] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def task(self) -> FirstSymbolTask:
        return next(iter(self.configs.values())).task()


def path_for(length: int, directory: Path | None = None) -> Path:
    return (directory or LONGDEP_DIR) / f"T{length}.safetensors"


def initial_model(trained: TrainedSet, kind: str) -> FirstSymbolClassifier:
    """The ``kind`` model as it was before training: ``build_model`` draws the same initial
    weights from the same config (seed and chrono init), as ``train_side_by_side`` did."""
    return build_model(kind, trained.configs[kind]).eval()


@torch.inference_mode()
def held_out_accuracy(model: FirstSymbolClassifier, task: FirstSymbolTask, size: int,
                      seed: int) -> float:
    """Accuracy on ``size`` fresh sequences drawn from ``seed`` (the model is not switched
    between train and eval mode: it may be shared by every session)."""
    x, y = task.sample(size, torch.Generator().manual_seed(seed))
    return float((model(x).argmax(-1) == y).float().mean())


def train_shipped(length: int, recipe: Recipe = RECIPE, log: Any = None) -> TrainedSet:
    """Train the three models for ``length`` as the shipped files are made (see module doc)."""
    runs: dict[str, list[tuple[float, int, FirstSymbolClassifier, LongDepConfig]]] = {
        k: [] for k in KINDS}
    for seed in recipe.seeds:
        config = LongDepConfig(length=length, steps=recipe.steps, seed=seed)
        result = train_side_by_side(config)
        task = config.task()
        for kind, model in result.models.items():
            model.eval()
            val = held_out_accuracy(model, task, recipe.val_size, VAL_SEED)
            if log is not None:
                log(f"T={length} seed={seed} {kind}: validation accuracy {val:.3f}")
            runs[kind].append((val, seed, model, config))
    # The median run per cell (sorted by accuracy, then seed, so ties break the same way).
    best = {k: sorted(r, key=lambda run: run[:2])[len(r) // 2] for k, r in runs.items()}
    models = {k: best[k][2] for k in KINDS}
    configs = {k: best[k][3] for k in KINDS}
    task = configs["rnn"].task()
    accuracy = {k: held_out_accuracy(models[k], task, recipe.held_out_size, HELD_OUT_SEED)
                for k in KINDS}
    info = {"recipe": {"steps": recipe.steps, "seeds": list(recipe.seeds),
                       "val_size": recipe.val_size, "held_out_size": recipe.held_out_size,
                       "val_seed": VAL_SEED, "held_out_seed": HELD_OUT_SEED},
            "val_accuracy_by_seed": {k: {str(run[1]): round(run[0], 4) for run in r}
                                     for k, r in runs.items()},
            "script": "scripts/train_longdep.py", "torch": torch.__version__,
            "threads": torch.get_num_threads()}
    return TrainedSet(length, models, configs, accuracy,
                      {k: round(best[k][0], 4) for k in KINDS}, info)


def save_set(trained: TrainedSet, path: Path) -> Path:
    """Write ``trained`` as one safetensors file, atomically."""
    tensors = {}
    for kind, model in trained.models.items():
        for name, t in model.state_dict().items():
            t = t.detach().cpu().to(torch.float32).contiguous()
            if not bool(torch.isfinite(t).all()):
                raise RnnVizError(f"{kind}.{name} holds NaN or inf; nothing was saved")
            tensors[f"{kind}.{name}"] = t
    models = {k: {"config": trained.configs[k].to_dict(), "seed": trained.configs[k].seed,
                  "val_accuracy": trained.val_accuracy.get(k),
                  "held_out_accuracy": round(trained.accuracy[k], 4)} for k in trained.models}
    metadata = {"format": FORMAT, "format_version": str(FORMAT_VERSION),
                "length": str(trained.length), "models": json.dumps(models),
                "info": json.dumps(trained.info)}
    return write_atomically(path, save_safetensors(tensors, metadata=metadata))


def _config(raw: Any, kind: str, length: int, label: str) -> LongDepConfig:
    names = {f.name for f in fields(LongDepConfig)}
    if not isinstance(raw, dict) or set(raw) != names:
        raise RnnVizError(f"the {kind} config must name exactly the LongDepConfig fields",
                          where=label)
    config = LongDepConfig(**raw)  # validates every value
    if config.length != length:
        raise RnnVizError(f"the {kind} model was trained at T={config.length}, the file says "
                          f"T={length}", where=label)
    return config


def load_set(path: Path) -> TrainedSet:
    """Read and check one shipped file; raises RnnVizError naming it for anything unsound."""
    label = str(path)
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise RnnVizError("the file is missing (run scripts/train_longdep.py)",
                          where=label) from None
    if size > MAX_BYTES:
        raise RnnVizError(f"the file has {size} bytes, more than {MAX_BYTES}", where=label)
    try:
        with safe_open(str(path), framework="pt") as f:
            metadata = f.metadata() or {}
            header = {k: (f.get_slice(k).get_dtype(), tuple(f.get_slice(k).get_shape()))
                      for k in f.keys()}  # noqa: SIM118 (safe_open is not a mapping)
    except Exception as exc:  # safetensors raises its own error types on a damaged file
        raise RnnVizError(f"not a readable safetensors file ({exc})", where=label) from None
    if metadata.get("format") != FORMAT or metadata.get("format_version") != str(FORMAT_VERSION):
        raise RnnVizError(f"not an {FORMAT} v{FORMAT_VERSION} file", where=label)
    try:
        length = int(metadata["length"])
        described = json.loads(metadata["models"])
        info = json.loads(metadata.get("info", "{}"))
    except (KeyError, ValueError, TypeError) as exc:
        raise RnnVizError(f"bad metadata ({exc})", where=label) from None
    if not isinstance(described, dict) or set(described) != set(KINDS):
        raise RnnVizError(f"the file must hold exactly the models {KINDS}", where=label)
    models, configs, accuracy, val = {}, {}, {}, {}
    expected: dict[str, tuple[str, tuple[int, ...]]] = {}
    for kind in KINDS:
        entry = described[kind]
        config = _config(entry.get("config") if isinstance(entry, dict) else None, kind,
                         length, label)
        acc = entry.get("held_out_accuracy")
        if not isinstance(acc, int | float) or not 0 <= acc <= 1 or math.isnan(acc):
            raise RnnVizError(f"the {kind} held-out accuracy is not a number in 0..1",
                              where=label)
        model = build_model(kind, config)
        for name, t in model.state_dict().items():
            expected[f"{kind}.{name}"] = (_DTYPES[t.dtype], tuple(t.shape))
        models[kind], configs[kind], accuracy[kind] = model, config, float(acc)
        val[kind] = entry.get("val_accuracy")
    if header != expected:
        wrong = sorted(set(header.items()) ^ set(expected.items()), key=str)[:3]
        raise RnnVizError(f"tensor names, dtypes or shapes differ from the architecture: {wrong}",
                          where=label)
    tensors = load_safetensors(path.read_bytes())
    for kind, model in models.items():
        prefix = f"{kind}."
        own = {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}
        if not all(bool(torch.isfinite(v).all()) for v in own.values()):
            raise RnnVizError(f"the {kind} weights hold NaN or inf", where=label)
        model.load_state_dict(own, strict=True)
        model.eval()
    return TrainedSet(length, models, configs, accuracy, val, info)


@cache
def load_shipped(length: int) -> TrainedSet:
    """The shipped models for ``length``, loaded once per process and shared (read only)."""
    if length not in LENGTHS:
        raise RnnVizError(f"no shipped models for T={length}; choose one of {LENGTHS}",
                          where="length")
    return load_set(path_for(length))


@lru_cache(maxsize=4)
def sweep(size: int = 1000, seed: int = SWEEP_SEED) -> dict[int, dict[str, float]]:
    """Held-out accuracy of every shipped model, T -> kind -> accuracy, measured now on
    ``size`` fresh sequences per T (process-wide cache)."""
    out = {}
    for length in LENGTHS:
        trained = load_shipped(length)
        out[length] = {k: held_out_accuracy(m, trained.task, size, seed)
                       for k, m in trained.models.items()}
    return out


def learns_up_to(accuracy_by_length: dict[int, dict[str, float]], kind: str = "rnn",
                 threshold: float = 0.9) -> int | None:
    """The longest T up to which ``kind`` learned the task (held-out accuracy at least
    ``threshold`` at that T and every shorter one); None when it fails the shortest."""
    answer = None
    for length in sorted(accuracy_by_length):
        if accuracy_by_length[length][kind] < threshold:
            break
        answer = length
    return answer


__all__ = ["FORMAT", "LENGTHS", "LONGDEP_DIR", "RECIPE", "Recipe", "TrainedSet",
           "held_out_accuracy", "initial_model", "learns_up_to", "load_set", "load_shipped",
           "path_for", "save_set", "sweep", "train_shipped"]
