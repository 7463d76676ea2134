"""Classification metrics: accuracy, per-class precision/recall/F1, the confusion matrix and the
report text."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np


@dataclass
class ClassScores:
    precision: float
    recall: float
    f1: float
    support: int


@dataclass
class EvalReport:
    """What ``evaluate`` prints: the classic TextRNN report and matrix, and its JSON form."""

    accuracy: float
    loss: float
    n: int
    classes: list[str]
    per_class: dict[str, ClassScores]
    macro: ClassScores
    weighted: ClassScores
    confusion_matrix: list[list[int]]  # rows = true class, columns = predicted class
    seconds: float = 0.0

    def to_json(self) -> dict:
        out = asdict(self)
        out["per_class"] = {k: asdict(v) for k, v in self.per_class.items()}
        return out

    @classmethod
    def from_json(cls, data: dict) -> EvalReport:
        return cls(
            accuracy=float(data["accuracy"]), loss=float(data["loss"]), n=int(data["n"]),
            classes=list(data["classes"]),
            per_class={k: ClassScores(**v) for k, v in data["per_class"].items()},
            macro=ClassScores(**data["macro"]), weighted=ClassScores(**data["weighted"]),
            confusion_matrix=[list(map(int, r)) for r in data["confusion_matrix"]],
            seconds=float(data.get("seconds", 0.0)),
        )


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int) -> np.ndarray:
    cm = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(cm, (np.asarray(y_true), np.asarray(y_pred)), 1)
    return cm


def classification_report(
    y_true: np.ndarray, y_pred: np.ndarray, classes: list[str], *, loss: float = float("nan"),
    seconds: float = 0.0,
) -> EvalReport:
    """Scores from the confusion matrix; a class never predicted has precision 0 (as sklearn's
    zero_division=0), one absent from the data has recall 0 and support 0."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    cm = confusion_matrix(y_true, y_pred, len(classes))
    tp = np.diag(cm).astype(float)
    predicted, support = cm.sum(0).astype(float), cm.sum(1).astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(predicted > 0, tp / predicted, 0.0)
        recall = np.where(support > 0, tp / support, 0.0)
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
    per_class = {
        name: ClassScores(float(precision[i]), float(recall[i]), float(f1[i]), int(support[i]))
        for i, name in enumerate(classes)
    }
    n = int(len(y_true))
    weights = support / max(1.0, support.sum())
    macro = ClassScores(float(precision.mean()), float(recall.mean()), float(f1.mean()), n)
    weighted = ClassScores(
        float((precision * weights).sum()), float((recall * weights).sum()),
        float((f1 * weights).sum()), n,
    )
    accuracy = float(tp.sum() / n) if n else 0.0
    return EvalReport(accuracy, float(loss), n, list(classes), per_class, macro, weighted,
                      cm.tolist(), float(seconds))


def format_report(report: EvalReport, display_names: list[str] | None = None, *,
                  split: str = "dev") -> str:
    """The classic TextRNN printout: summary line, precision/recall/F1 table, confusion matrix.

    ``split`` names what was evaluated ("dev", or the data file's name): the classic printout
    says "Test" whatever it scored, and a dev score read as a test score overstates the model.
    """
    names = display_names or report.classes
    width = max(12, *(len(n) + 2 for n in names))
    lines = [
        f"Evaluated on {split} (n={report.n}): Loss: {report.loss:>6.4f}, "
        f"Acc: {report.accuracy:>7.2%}",
        "Precision, Recall and F1-Score...",
        f"{'':>{width}}{'precision':>10}{'recall':>10}{'f1-score':>10}{'support':>10}",
    ]
    for key, name in zip(report.classes, names, strict=True):
        s = report.per_class[key]
        lines.append(f"{name:>{width}}{s.precision:>10.4f}{s.recall:>10.4f}{s.f1:>10.4f}{s.support:>10d}")
    lines.append("")
    lines.append(f"{'accuracy':>{width}}{'':>20}{report.accuracy:>10.4f}{report.n:>10d}")
    for label, s in (("macro avg", report.macro), ("weighted avg", report.weighted)):
        lines.append(f"{label:>{width}}{s.precision:>10.4f}{s.recall:>10.4f}{s.f1:>10.4f}{s.support:>10d}")
    lines.append("Confusion Matrix...")
    for row in report.confusion_matrix:
        lines.append(" ".join(f"{v:>5d}" for v in row))
    lines.append(f"Time usage: {report.seconds:.2f}s")
    return "\n".join(lines)
