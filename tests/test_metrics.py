"""Classification metrics against scikit-learn (an independent implementation)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, precision_recall_fscore_support
from sklearn.metrics import confusion_matrix as sk_confusion_matrix

from rnnviz.core.metrics import EvalReport, classification_report, confusion_matrix, format_report

CLASSES = ["finance", "realty", "stocks", "education", "science"]


def assert_matches_sklearn(y_true: np.ndarray, y_pred: np.ndarray,
                           classes: list[str]) -> EvalReport:
    report = classification_report(y_true, y_pred, classes, loss=0.5)
    labels = list(range(len(classes)))
    p, r, f, s = precision_recall_fscore_support(
        y_true, y_pred, labels=labels, average=None, zero_division=0
    )
    for i, name in enumerate(classes):
        got = report.per_class[name]
        assert (got.precision, got.recall, got.f1) == pytest.approx((p[i], r[i], f[i]), abs=1e-12)
        assert got.support == s[i]
    for average, got in (("macro", report.macro), ("weighted", report.weighted)):
        want = precision_recall_fscore_support(
            y_true, y_pred, labels=labels, average=average, zero_division=0
        )[:3]
        assert (got.precision, got.recall, got.f1) == pytest.approx(want, abs=1e-12), average
    assert report.accuracy == pytest.approx(accuracy_score(y_true, y_pred))
    assert report.confusion_matrix == sk_confusion_matrix(y_true, y_pred, labels=labels).tolist()
    assert report.n == len(y_true)
    return report


@pytest.mark.parametrize("seed", range(6))
def test_random_predictions_match_sklearn(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(5, 300))
    y_true = rng.integers(0, len(CLASSES), n)
    # Mostly right, sometimes wrong: every kind of cell gets counts.
    y_pred = np.where(rng.random(n) < 0.6, y_true, rng.integers(0, len(CLASSES), n))
    assert_matches_sklearn(y_true, y_pred, CLASSES)


def test_class_never_predicted_has_zero_precision() -> None:
    y_true = np.array([0, 1, 2, 2, 3, 4])
    y_pred = np.array([0, 0, 2, 2, 3, 3])  # classes 1 and 4 never predicted
    report = assert_matches_sklearn(y_true, y_pred, CLASSES)
    assert report.per_class["realty"].precision == 0.0
    assert report.per_class["science"].f1 == 0.0


def test_class_absent_from_data_has_zero_recall_and_support() -> None:
    y_true = np.array([0, 0, 1, 1, 2])
    y_pred = np.array([0, 4, 1, 1, 2])  # class 4 predicted but never true; 3 appears nowhere
    report = assert_matches_sklearn(y_true, y_pred, CLASSES)
    assert report.per_class["science"].support == 0
    assert report.per_class["science"].recall == 0.0
    assert report.per_class["education"] == report.per_class["science"].__class__(0.0, 0.0, 0.0, 0)
    # Weighted scores ignore support-0 classes; macro counts them as zeros.
    assert report.macro.f1 < report.weighted.f1


def test_all_wrong_and_all_right() -> None:
    y = np.array([0, 1, 2, 3, 4, 0])
    wrong = assert_matches_sklearn(y, (y + 1) % 5, CLASSES)
    assert wrong.accuracy == 0.0 and wrong.macro.f1 == 0.0
    right = assert_matches_sklearn(y, y, CLASSES)
    assert right.accuracy == 1.0 and right.weighted.f1 == pytest.approx(1.0)


def test_confusion_matrix_rows_are_true_columns_predicted() -> None:
    cm = confusion_matrix(np.array([0, 0, 1]), np.array([1, 1, 1]), 3)
    assert cm.tolist() == [[0, 2, 0], [0, 1, 0], [0, 0, 0]]


def test_json_round_trip() -> None:
    rng = np.random.default_rng(1)
    y_true, y_pred = rng.integers(0, 5, 50), rng.integers(0, 5, 50)
    report = classification_report(y_true, y_pred, CLASSES, loss=1.25, seconds=0.5)
    payload = json.loads(json.dumps(report.to_json()))  # survives real JSON text
    assert {"accuracy", "loss", "n", "per_class", "confusion_matrix", "classes"} <= set(payload)
    assert EvalReport.from_json(payload) == report


def test_format_report_has_table_and_matrix() -> None:
    y_true = np.array([0, 0, 1, 2, 2, 2])
    y_pred = np.array([0, 1, 1, 2, 2, 0])
    report = classification_report(y_true, y_pred, CLASSES[:3], loss=0.75, seconds=1.5)
    text = format_report(report, ["财经", "房产", "股票"])
    lines = text.splitlines()
    # It says what was scored (a dev split by default), never "Test" for a dev evaluation.
    assert lines[0] == "Evaluated on dev (n=6): Loss: 0.7500, Acc:  66.67%"
    assert "test" not in text.lower()
    assert format_report(report, split="held-out.txt").startswith("Evaluated on held-out.txt (n=6)")
    header = next(line for line in lines if "precision" in line and "recall" in line)
    assert header.split() == ["precision", "recall", "f1-score", "support"]
    row = next(line for line in lines if line.strip().startswith("股票"))
    s = report.per_class["stocks"]
    assert row.split()[1:] == [f"{s.precision:.4f}", f"{s.recall:.4f}", f"{s.f1:.4f}", "3"]
    assert "stocks" not in text  # display names replace the keys
    matrix_at = lines.index("Confusion Matrix...")
    matrix = [[int(v) for v in line.split()] for line in lines[matrix_at + 1: matrix_at + 4]]
    assert matrix == report.confusion_matrix
    assert any(line.split()[:2] == ["macro", "avg"] for line in lines)
    assert lines[-1] == "Time usage: 1.50s"


def test_cli_evaluate_names_the_file_it_scored(tmp_path, capsys) -> None:
    from helpers import tiny_checkpoint

    from rnnviz.cli import main

    path = tiny_checkpoint().save(tmp_path / "model.safetensors")
    data = tmp_path / "held-out.txt"
    data.write_text("finance\t股市\nsports\t球赛\nsports\t球市\n", encoding="utf-8")
    assert main(["evaluate", "--checkpoint", str(path), "--data", str(data)]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert first.startswith("Evaluated on held-out.txt (n=3): Loss: ")
