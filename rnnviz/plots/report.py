"""What the classifier pages tabulate: the per-class report table, the model comparison, the
text coloured by token importance, and the example sentences.

Everything user-visible takes ``lang``; nothing here imports Streamlit. The importance HTML is
the one place user text becomes markup, so every token and every attribute is escaped here.
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rnnviz.content import Text
from rnnviz.core.classes import display_class
from rnnviz.core.metrics import ClassScores, EvalReport
from rnnviz.errors import RnnVizError
from rnnviz.paths import EXAMPLES_DIR

EXAMPLES_FILE = EXAMPLES_DIR / "examples.json"
_T = Text("plots/report")  # the words: content/<lang>/plots/report.md
MODEL_NAMES = {"textrnn": "Text-RNN", "textrcnn": "RCNN"}  # names, the same in every language


# ---- per-class table -----------------------------------------------------------------------


def as_report(metrics: EvalReport | Mapping[str, Any] | None) -> EvalReport | None:
    """An EvalReport from a checkpoint's stored ``metrics`` JSON (or one already built)."""
    if metrics is None or isinstance(metrics, EvalReport):
        return metrics
    return EvalReport.from_json(dict(metrics))


def _row(name: str, s: ClassScores, digits: int) -> dict[str, Any]:
    return {"name": name, "precision": round(s.precision, digits),
            "recall": round(s.recall, digits), "f1": round(s.f1, digits),
            "support": int(s.support)}


def per_class_rows(report: EvalReport, lang: str = "zh", digits: int = 4) -> list[dict[str, Any]]:
    """The classic TextRNN table: one row per class (display names), then accuracy, macro and
    weighted averages. Keys: name, precision, recall, f1, support (accuracy sits in f1, as in
    sklearn's classification_report)."""
    rows = [_row(display_class(c, lang), report.per_class[c], digits) for c in report.classes]
    rows.append({"name": _T(lang, "row.accuracy"), "precision": None, "recall": None,
                 "f1": round(report.accuracy, digits), "support": report.n})
    rows.append(_row(_T(lang, "row.macro"), report.macro, digits))
    rows.append(_row(_T(lang, "row.weighted"), report.weighted, digits))
    return rows


def table_columns(lang: str = "zh") -> dict[str, str]:
    """Column headers for ``per_class_rows`` in ``lang``."""
    return {key: _T(lang, f"col.{key}") for key in ("name", "precision", "recall", "f1", "support")}


def localized_rows(rows: Iterable[Mapping[str, Any]],
                   columns: Mapping[str, str]) -> list[dict[str, Any]]:
    """Rows with their keys renamed to the column headers (what a table widget shows)."""
    return [{columns.get(k, k): v for k, v in row.items()} for row in rows]


# ---- model comparison ----------------------------------------------------------------------


@dataclass(frozen=True)
class ModelSummary:
    """One row of the comparison table: a shipped or a session-trained classifier."""

    name: str
    source: str  # "shipped" | "session" | "upload"
    model: str  # textrnn | textrcnn
    cell: str
    accuracy: float | None  # dev accuracy, None without a stored report
    macro_f1: float | None
    params: int
    seconds: float | None  # training time
    device: str


def summarize_checkpoint(checkpoint: Any, name: str, source: str) -> ModelSummary:
    """A comparison row from a ``rnnviz.core.checkpoint.Checkpoint`` (its stored dev report and
    info)."""
    report = as_report(checkpoint.metrics)
    info = checkpoint.info or {}
    params = info.get("params")
    if not isinstance(params, int):
        params = sum(p.numel() for p in checkpoint.model.parameters())
    seconds = info.get("seconds")
    return ModelSummary(
        name=name, source=source, model=checkpoint.config.model, cell=checkpoint.config.cell,
        accuracy=None if report is None else report.accuracy,
        macro_f1=None if report is None else report.macro.f1, params=params,
        seconds=float(seconds) if isinstance(seconds, int | float) else None,
        device=str(info.get("device", "?")),
    )


def format_seconds(seconds: float | None, lang: str = "zh") -> str:
    """"1 分 05 秒" / "1 min 05 s"; "—" when unknown."""
    if seconds is None or not math.isfinite(seconds):
        return "—"
    if seconds < 60:
        return _T(lang, "seconds.s", s=seconds)
    m, s = divmod(int(round(seconds)), 60)
    if m < 60:
        return _T(lang, "seconds.min", m=m, s=s)
    h, m = divmod(m, 60)
    return _T(lang, "seconds.h", h=h, m=m)


def comparison_rows(models: Sequence[ModelSummary], lang: str = "zh") -> list[dict[str, Any]]:
    """The comparison table, best dev accuracy first (models without a report last)."""
    sources = {s: _T(lang, f"source.{s}") for s in ("shipped", "session", "upload")}
    col = {k: _T(lang, f"cmp.{k}") for k in ("model", "source", "architecture", "accuracy",
                                              "macro_f1", "params", "seconds", "device")}
    ordered = sorted(models, key=lambda m: -m.accuracy if m.accuracy is not None else math.inf)
    return [{
        col["model"]: m.name,
        col["source"]: sources.get(m.source, m.source),
        col["architecture"]: f"{MODEL_NAMES.get(m.model, m.model)} · {m.cell.upper()}",
        col["accuracy"]: None if m.accuracy is None else round(m.accuracy, 4),
        col["macro_f1"]: None if m.macro_f1 is None else round(m.macro_f1, 4),
        col["params"]: m.params,
        col["seconds"]: format_seconds(m.seconds, lang),
        col["device"]: m.device,
    } for m in ordered]


# ---- tokens coloured by importance ---------------------------------------------------------


@dataclass(frozen=True)
class TokenStyle:
    token: str
    weight: float  # signed importance in [-1, 1]
    background: str  # CSS rgba()
    unknown: bool


_TOWARD = (214, 39, 40)  # red: pushed towards the predicted class
_AWAY = (31, 119, 180)  # blue: pushed away from it


def token_styles(tokens: Sequence[str], importance: np.ndarray,
                 unknown: Sequence[bool]) -> list[TokenStyle]:
    """A background per token whose opacity is |importance| (red towards, blue away)."""
    weights = np.clip(np.nan_to_num(np.asarray(importance, dtype=np.float64)), -1.0, 1.0)
    if not (len(tokens) == len(weights) == len(unknown)):
        raise RnnVizError(f"{len(tokens)} tokens, {len(weights)} importances and "
                          f"{len(unknown)} unknown flags: they must match", where="importance")
    out = []
    for token, w, unk in zip(tokens, weights.tolist(), unknown, strict=True):
        r, g, b = _TOWARD if w >= 0 else _AWAY
        out.append(TokenStyle(token, float(w), f"rgba({r},{g},{b},{abs(w) * 0.85:.3f})", bool(unk)))
    return out


# Characters Markdown (or Streamlit's $math$) would read as syntax; numeric references keep them
# literal even where the HTML ends up inside st.markdown.
# One table, applied in one pass (escaping twice would break "&#x27;" at its "#").
_ESCAPES = {
    **{ord(c): f"&#{ord(c)};" for c in "\\`*_{}[]()#+-!|~$:"},
    **{ord(c): html.escape(c, quote=True) for c in "&<>\"'"},
}


def escape_token(token: str) -> str:
    """HTML-escape (quotes too, as html.escape) and neutralise Markdown syntax characters."""
    return token.translate(_ESCAPES)


def importance_html(tokens: Sequence[str], importance: np.ndarray, unknown: Sequence[bool],
                    lang: str = "zh") -> str:
    """The text as the model read it, one span per token, coloured by importance.

    Unknown tokens (read as <UNK>) get a dashed outline. Every token is escaped: typed text can
    never become markup or script.
    """
    spans = []
    for s in token_styles(tokens, importance, unknown):
        tip = _T(lang, "importance.tip.unknown" if s.unknown else "importance.tip", weight=s.weight)
        border = "1px dashed #555" if s.unknown else "1px solid transparent"
        spans.append(
            f'<span title="{escape_token(tip)}" style="background:{s.background};'
            f'border:{border};border-radius:3px;padding:1px 2px;margin:1px;'
            f'display:inline-block">{escape_token(s.token)}</span>'
        )
    return '<div style="line-height:2.1;font-size:1.15rem">' + "".join(spans) + "</div>"


# ---- example sentences ---------------------------------------------------------------------


@dataclass(frozen=True)
class Example:
    text: str
    label: str  # THUCNews class name


def load_examples(path: str | Path = EXAMPLES_FILE) -> list[Example]:
    """The predict page's example sentences: a JSON list of {"text": ..., "label": ...}."""
    path = Path(path)
    try:
        items = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return []
    except (OSError, json.JSONDecodeError) as exc:
        raise RnnVizError(f"cannot read the examples ({exc})", where=str(path)) from None
    if not isinstance(items, list):
        raise RnnVizError("expected a JSON list", where=str(path))
    out = []
    for i, item in enumerate(items):
        if not (isinstance(item, dict) and isinstance(item.get("text"), str)
                and isinstance(item.get("label"), str)):
            raise RnnVizError("each example needs a string text and label", where=f"{path}[{i}]")
        out.append(Example(item["text"], item["label"]))
    return out


__all__ = [
    "EXAMPLES_FILE", "MODEL_NAMES", "Example", "ModelSummary", "TokenStyle", "as_report",
    "comparison_rows", "escape_token", "format_seconds", "importance_html", "load_examples",
    "localized_rows", "per_class_rows", "summarize_checkpoint", "table_columns", "token_styles",
]
