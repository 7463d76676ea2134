"""The course's Text-RNN against ours, one change at a time.

The course notes' model is the classic TensorFlow TextRNN of gaussic/text-classification-cnn-rnn
(``TRNNConfig``, rnn_model.py): characters embedded in 64 dimensions, two GRU layers of 128
reading to the last step, dropout 0.2 (keep 0.8) after each layer, then FC(128) -> dropout ->
ReLU -> FC. RNN Lab's shipped Text-RNN differs from it in several ways; the ladder below adds
them one at a time, trained by the same loop on the same data with the same seed
(bench/ablation.py), so each rung's gain is what that one change buys:

    course         the course's model (shipped as assets/models/textgru.safetensors)
    max_pool       + max pooling over the real positions instead of the last state
    bidirectional  + a second direction reading right to left
    bigrams        + a character-bigram embedding (64) beside each character's
    ours           the shipped Text-RNN: 2-layer BiLSTM, embedding 128 + bigram 64, max pooling,
                   one linear layer, dropout 0.5, embedding dropout 0.2

The page reads bench/ablation.py's JSON (``load_ladder``); it never types a figure in.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rnnviz.content import Text
from rnnviz.core.classes import display_class
from rnnviz.core.config import ModelConfig, TrainConfig
from rnnviz.core.jsonfile import read_json
from rnnviz.core.metrics import EvalReport
from rnnviz.errors import RnnVizError
from rnnviz.paths import ASSETS_DIR

# gaussic/text-classification-cnn-rnn, rnn_model.py TRNNConfig and TextRNN.
COURSE_MODEL: dict[str, Any] = dict(
    model="textrnn", cell="gru", num_layers=2, bidirectional=False, pooling="last",
    embed_dim=64, hidden_size=128, fc_hidden=128, dropout=0.2, embed_dropout=0.0, bigram_dim=0)
# Training settings every rung shares: our loop's defaults, the course's vocabulary cap (5000
# characters; THUCNews titles use fewer) and the shipped Text-RNN's bigram cap.
LADDER_TRAINING: dict[str, Any] = dict(max_vocab=5000, max_bigrams=18000)
RUNGS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("course", COURSE_MODEL),
    ("max_pool", {**COURSE_MODEL, "pooling": "max"}),
    ("bidirectional", {**COURSE_MODEL, "pooling": "max", "bidirectional": True}),
    ("bigrams", {**COURSE_MODEL, "pooling": "max", "bidirectional": True, "bigram_dim": 64}),
    ("ours", {"model": "textrnn"}),  # ModelConfig's defaults are the shipped Text-RNN's
)
RUNG_KEYS = tuple(key for key, _ in RUNGS)
LADDER_FILE = ASSETS_DIR / "benchmarks" / "ablation.json"
LADDER_VERSION = 1
_T = Text("lessons/ablation")


def rung_config(key: str) -> ModelConfig:
    """The model settings of one rung (vocabulary and class counts come from the data)."""
    for name, settings in RUNGS:
        if name == key:
            return ModelConfig(**settings)
    raise RnnVizError(f"unknown rung {key!r}; choose one of {', '.join(RUNG_KEYS)}")


def ladder_training(**overrides: Any) -> TrainConfig:
    """The training settings every rung shares, with ``overrides`` (epochs, seed, ...)."""
    return TrainConfig(**{**LADDER_TRAINING, **overrides})


@dataclass
class RungResult:
    key: str
    accuracy: float  # best dev accuracy
    macro_f1: float
    params: int
    seconds: float
    best_step: int
    config: dict[str, Any] = field(default_factory=dict)


@dataclass
class Ladder:
    """bench/ablation.py's measurement, checked: the rungs in ladder order."""

    rungs: list[RungResult]
    train: dict[str, Any]  # the shared TrainConfig
    data: dict[str, Any]  # train / dev sizes
    extra: dict[str, Any] = field(default_factory=dict)  # command, machine, date

    @property
    def command(self) -> str:
        """The command that measured it, safe inside a Markdown code span."""
        return str(self.extra.get("command", "")).replace("`", "'")

    def rung(self, key: str) -> RungResult:
        for r in self.rungs:
            if r.key == key:
                return r
        raise RnnVizError(f"the measurement has no rung {key!r}")

    def gains(self) -> list[float | None]:
        """Each rung's dev accuracy minus the previous rung's (None for the first)."""
        pairs = zip(self.rungs[:-1], self.rungs[1:], strict=True)
        return [None, *(b.accuracy - a.accuracy for a, b in pairs)]

    def biggest_gain(self) -> str:
        """The rung whose change bought the most accuracy."""
        gains = self.gains()
        best = max(range(1, len(gains)), key=lambda i: gains[i] or 0.0)
        return self.rungs[best].key


def run_ladder(
    train_set: Any, dev_set: Any, train_config: TrainConfig, keys: Sequence[str] = RUNG_KEYS,
    progress: Callable[[str], None] | None = None, callbacks: Sequence[Any] = (),
) -> dict[str, Any]:
    """Train each rung with ``train_config`` on the same data; the JSON the page reads."""
    from rnnviz.core.models import count_parameters
    from rnnviz.core.train import train

    rungs = []
    for key in keys:
        config = rung_config(key)
        result = train(config, train_config, train_set, dev_set, callbacks)
        report = result.dev_report
        if report is None:
            raise RnnVizError("the ladder needs a dev set to score each rung")
        state = result.state
        rungs.append({
            "key": key, "accuracy": report.accuracy, "macro_f1": report.macro.f1,
            "params": count_parameters(result.model), "seconds": round(result.seconds, 1),
            "best_step": state.best_step if state is not None else 0,
            "config": {k: v for k, v in result.config.to_dict().items()
                       if k not in ("vocab_size", "num_classes")},
        })
        if progress is not None:
            progress(f"{key}: dev accuracy {report.accuracy:.4f}, macro F1 {report.macro.f1:.4f}, "
                     f"{rungs[-1]['params']:,} parameters, {result.seconds:.0f}s")
    return {"version": LADDER_VERSION, "train": train_config.to_dict(),
            "data": {"train": len(train_set), "dev": len(dev_set)}, "rungs": rungs}


def parse_ladder(data: Any, where: str = "ablation.json") -> Ladder:
    """Check what bench/ablation.py wrote; RnnVizError naming the fault otherwise."""
    try:
        if not isinstance(data, dict) or data.get("version") != LADDER_VERSION:
            raise ValueError(f"expected a version {LADDER_VERSION} results object")
        rungs = []
        for r in data["rungs"]:
            if r["key"] not in RUNG_KEYS:
                raise ValueError(f"unknown rung {r['key']!r}")
            rung = RungResult(key=r["key"], accuracy=float(r["accuracy"]),
                              macro_f1=float(r["macro_f1"]), params=int(r["params"]),
                              seconds=float(r["seconds"]), best_step=int(r["best_step"]),
                              config=dict(r.get("config", {})))
            if not (0.0 <= rung.accuracy <= 1.0 and 0.0 <= rung.macro_f1 <= 1.0):
                raise ValueError(f"{rung.key}: a score outside [0, 1]")
            rungs.append(rung)
        if [r.key for r in rungs] != [k for k in RUNG_KEYS if k in {r.key for r in rungs}]:
            raise ValueError("the rungs are out of order")
        if len(rungs) < 2:
            raise ValueError("fewer than two rungs")
        extra = {k: v for k, v in data.items() if k not in ("version", "rungs", "train", "data")}
        return Ladder(rungs=rungs, train=dict(data["train"]), data=dict(data["data"]),
                      extra=extra)
    except (KeyError, TypeError, ValueError) as exc:
        raise RnnVizError(f"not an ablation benchmark result ({exc}); rerun bench/ablation.py",
                          where=where) from None


def load_ladder(path: Path | None = None) -> Ladder | None:
    """The stored ladder (default: LADDER_FILE, looked up at each call); None while
    bench/ablation.py has not written one."""
    path = LADDER_FILE if path is None else path
    data = read_json(path)
    return None if data is None else parse_ladder(data, path.name)


def rung_name(key: str, lang: str = "zh") -> str:
    """A rung as the table names it: "② + max pooling"."""
    if key not in RUNG_KEYS:
        raise RnnVizError(f"unknown rung {key!r}")
    return _T(lang, f"rung.{key}")


def ladder_rows(ladder: Ladder, lang: str = "zh") -> list[dict[str, Any]]:
    """The ladder as a table: each rung, what it changes, its dev accuracy and macro F1, the
    gain over the rung above it, and its parameter count."""
    rows = []
    for rung, gain in zip(ladder.rungs, ladder.gains(), strict=True):
        rows.append({
            _T(lang, "col.rung"): rung_name(rung.key, lang),
            _T(lang, "col.change"): _T(lang, f"change.{rung.key}"),
            _T(lang, "col.accuracy"): f"{rung.accuracy:.2%}",
            _T(lang, "col.gain"): "—" if gain is None else f"{100 * gain:+.2f}",
            _T(lang, "col.f1"): round(rung.macro_f1, 4),
            _T(lang, "col.params"): f"{rung.params / 1e6:.2f} M",
        })
    return rows


def side_by_side(course: EvalReport, ours: EvalReport, lang: str = "zh") -> list[dict[str, Any]]:
    """Per-class F1 of the course's model and ours on the same dev set, then accuracy and
    macro F1; the last column is ours minus the course's."""
    if list(course.classes) != list(ours.classes) or course.n != ours.n:
        raise RnnVizError("the two reports are not on the same dev set (classes or size differ)")
    course_name, ours_name, diff = (_T(lang, k) for k in ("col.course", "col.ours", "col.diff"))

    def row(name: str, a: float, b: float) -> dict[str, Any]:
        return {_T(lang, "col.class"): name, course_name: round(a, 4), ours_name: round(b, 4),
                diff: f"{100 * (b - a):+.2f}"}

    rows = [row(display_class(c, lang), course.per_class[c].f1, ours.per_class[c].f1)
            for c in course.classes]
    rows.append(row(_T(lang, "row.accuracy"), course.accuracy, ours.accuracy))
    rows.append(row(_T(lang, "row.macro"), course.macro.f1, ours.macro.f1))
    return rows


__all__ = ["COURSE_MODEL", "LADDER_FILE", "LADDER_TRAINING", "RUNGS", "RUNG_KEYS", "Ladder",
           "RungResult", "ladder_rows", "ladder_training", "load_ladder", "parse_ladder",
           "run_ladder", "rung_config", "rung_name", "side_by_side"]
