"""rnnviz/core/mistakes.py: the error lists and the confusion matrix equal an independent recount
from the model's own one-title-at-a-time predictions; the dev set of an app run is rebuilt
exactly; uploads in both formats; fingerprints; bad input gets a clear message."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import (
    FINANCE_POOL,
    GAME_POOL,
    SPORTS_POOL,
    build_with_bigram_keys,
    pooled_dataset,
)

from rnnviz.core.checkpoint import Checkpoint
from rnnviz.core.data import Dataset
from rnnviz.core.evaluate import evaluate_checkpoint
from rnnviz.core.mistakes import (
    DatasetPredictions,
    cell_examples,
    check_against_report,
    dataset_fingerprint,
    hardest_examples,
    hardest_per_class,
    load_labelled_upload,
    model_fingerprint,
    predict_dataset,
    thucnews_dev_file,
)
from rnnviz.core.models import ModelConfig
from rnnviz.core.predict import Predictor
from rnnviz.core.text import PAD, UNK, Vocab
from rnnviz.core.training_data import run_datasets
from rnnviz.errors import RnnVizError

pytestmark = pytest.mark.usefixtures("one_torch_thread_per_module")

POOLS = {"stocks": FINANCE_POOL, "sports": SPORTS_POOL, "game": GAME_POOL}
CLASSES = list(POOLS)


def _predictor(model: str = "textrnn", seed: int = 0, **fields: object) -> Predictor:
    """An untrained 3-class model over the pools' characters, weights scaled up so that its
    answers spread over the classes (every kind of cell in the matrix)."""
    torch.manual_seed(seed)
    chars = sorted(set("".join(POOLS.values())))
    vocab = Vocab((PAD, UNK, *chars))
    settings: dict = dict(model=model, vocab_size=len(vocab), num_classes=3, embed_dim=6,
                          hidden_size=5, num_layers=1, rcnn_proj=4, max_len=12)
    settings.update(fields)
    config = ModelConfig(**settings)
    net = build_with_bigram_keys(config)
    with torch.no_grad():
        for p in net.parameters():
            p.mul_(4.0)
    return Predictor(Checkpoint(net, config, vocab, list(CLASSES)), name="tiny")


def _data(n: int = 90, seed: int = 1) -> Dataset:
    return pooled_dataset(n, seed, POOLS)


@pytest.fixture(scope="module")
def predictor() -> Predictor:
    return _predictor(bigram_dim=3, bigram_vocab=20)


@pytest.fixture(scope="module")
def preds(predictor: Predictor) -> DatasetPredictions:
    return predict_dataset(predictor, _data(), batch_size=7)  # several uneven batches


def _one_by_one(predictor: Predictor, data: Dataset) -> list[tuple[int, int, np.ndarray]]:
    """(true, predicted, probabilities) per title, each title its own unpadded forward."""
    out = []
    for text, y in zip(data.texts, data.labels, strict=True):
        p = predictor.predict(text, with_trace=False)
        probs = np.array([p.probabilities[c] for c in predictor.classes])
        out.append((y, p.label_index, probs))
    return out


def test_error_lists_equal_an_independent_recount(predictor: Predictor,
                                                  preds: DatasetPredictions) -> None:
    data = _data()
    reference = _one_by_one(predictor, data)
    np.testing.assert_allclose(preds.probs, np.stack([r[2] for r in reference]), atol=1e-5)
    assert preds.y_true.tolist() == data.labels
    cm = np.zeros((3, 3), dtype=int)
    for y, p, _ in reference:
        cm[y, p] += 1
    np.testing.assert_array_equal(preds.confusion(), cm)
    assert (cm - np.diag(np.diag(cm))).sum() > 0, "the tiny model must make mistakes"
    for t in range(3):
        for p in range(3):
            rows = [i for i, (y, q, _) in enumerate(reference) if (y, q) == (t, p)]
            # Most confident first, by the predicted class's probability; ties in data order.
            by_pred = sorted(rows, key=lambda i: (-reference[i][2][p], i))
            got = cell_examples(preds, t, p)
            assert [e.row for e in got] == by_pred
            assert [e.text for e in got] == [data.texts[i] for i in by_pred]
            for e in got:
                assert (e.true, e.pred) == (t, p)
                assert e.p_true == pytest.approx(reference[e.row][2][t], abs=1e-5)
                assert e.p_pred == pytest.approx(reference[e.row][2][p], abs=1e-5)
            by_true = sorted(rows, key=lambda i: (reference[i][2][t], i))
            assert [e.row for e in cell_examples(preds, t, p, "p_true_asc")] == by_true
        hardest = sorted([i for i, r in enumerate(reference) if r[0] == t],
                         key=lambda i: (reference[i][2][t], i))[:4]
        assert [e.row for e in hardest_examples(preds, t, 4)] == hardest
    assert [len(v) for v in hardest_per_class(preds, 2).values()] == [2, 2, 2]


def test_the_recount_is_the_evaluate_command_s_report(predictor: Predictor,
                                                      preds: DatasetPredictions) -> None:
    report = evaluate_checkpoint(predictor.checkpoint, _data(), device="cpu")
    assert preds.report().confusion_matrix == report.confusion_matrix
    assert preds.report().accuracy == pytest.approx(report.accuracy)
    assert preds.loss == pytest.approx(report.loss, rel=1e-4)
    check = check_against_report(preds, report)
    assert check.comparable and check.differing == 0
    # Another report of other data is not comparable; a moved title is counted once.
    assert not check_against_report(preds, evaluate_checkpoint(
        predictor.checkpoint, _data(30, 5), device="cpu")).comparable
    moved = [row[:] for row in report.confusion_matrix]
    i = next(r for r in range(3) if moved[r][r])
    moved[i][i] -= 1
    moved[i][(i + 1) % 3] += 1
    report.confusion_matrix = moved
    assert check_against_report(preds, report).differing == 1


def test_an_empty_cell_is_an_empty_list_and_bad_cells_are_refused(
        preds: DatasetPredictions) -> None:
    cm = preds.confusion()
    empty = [(t, p) for t in range(3) for p in range(3) if cm[t, p] == 0]
    for t, p in empty:
        assert cell_examples(preds, t, p) == []
    with pytest.raises(RnnVizError, match="outside 0..2"):
        cell_examples(preds, 3, 0)
    with pytest.raises(RnnVizError, match="unknown order"):
        cell_examples(preds, 0, 0, "random")
    with pytest.raises(RnnVizError, match="outside"):
        hardest_examples(preds, -1)


def test_predictions_are_read_only_and_every_row_sums_to_one(preds: DatasetPredictions) -> None:
    np.testing.assert_allclose(preds.probs.sum(axis=1), 1.0, atol=1e-5)
    with pytest.raises(ValueError):
        preds.probs[0, 0] = 1.0


def test_unreadable_titles_are_left_out_and_unknown_ones_flagged(predictor: Predictor) -> None:
    data = Dataset(["股市上涨", "\u200b\u200b", "龘靐", "球队进球"], [0, 1, 2, 1], CLASSES, "t")
    preds = predict_dataset(predictor, data)
    assert preds.skipped == 1 and preds.n == 3
    assert preds.source_index.tolist() == [0, 2, 3]
    assert preds.all_unknown.tolist() == [False, True, False]
    assert cell_examples(preds, 2, int(preds.y_pred[1]))[0].all_unknown
    with pytest.raises(RnnVizError, match="anything readable"):
        predict_dataset(predictor, Dataset(["\u200b"], [0], CLASSES, "t"))
    with pytest.raises(RnnVizError, match="no titles"):
        predict_dataset(predictor, Dataset([], [], CLASSES, "t"))


def test_data_with_classes_the_model_does_not_know_is_refused(predictor: Predictor) -> None:
    data = Dataset(["股市"], [0], ["weather"], "w.txt")
    with pytest.raises(RnnVizError, match=r"w.txt: the data's classes \['weather'\]"):
        predict_dataset(predictor, data)
    # Classes in another order are put in the model's order.
    data = Dataset(["股市上涨", "球队进球"], [1, 0], ["sports", "stocks"], "o.txt")
    assert predict_dataset(predictor, data).y_true.tolist() == [0, 1]


def test_fingerprints_name_content(predictor: Predictor, tmp_path: Path) -> None:
    path = tmp_path / "m.safetensors"
    predictor.checkpoint.save(path)
    assert model_fingerprint(Predictor.from_file(path)) == model_fingerprint(predictor)
    assert model_fingerprint(_predictor(seed=1)) != model_fingerprint(_predictor(seed=2))
    data = _data(10)
    assert dataset_fingerprint(data) == dataset_fingerprint(_data(10))
    relabelled = Dataset(data.texts, [(y + 1) % 3 for y in data.labels], CLASSES, "x")
    assert dataset_fingerprint(relabelled) != dataset_fingerprint(data)


def _thucnews(folder: Path, dev: bool) -> Path:
    folder.mkdir(parents=True)
    data = _data(120, 3)
    lines = [f"{t}\t{y}" for t, y in zip(data.texts, data.labels, strict=True)]
    (folder / "class.txt").write_text("\n".join(CLASSES) + "\n", encoding="utf-8")
    (folder / "train.txt").write_text("\n".join(lines[:90]) + "\n", encoding="utf-8")
    if dev:
        (folder / "dev.txt").write_text("\n".join(lines[90:]) + "\n", encoding="utf-8")
    return folder


@pytest.mark.parametrize("case", ["folder_dev", "folder_no_dev", "upload_dev", "upload_no_dev"])
def test_the_dev_set_of_an_app_run_is_rebuilt_exactly(tmp_path: Path, case: str) -> None:
    from rnnviz.core.config import TrainConfig
    from rnnviz.jobs.training import TrainingSpec
    from rnnviz.jobs.training import _data as job_data

    class Job:
        def update(self, **_: object) -> None: ...

        def should_stop(self) -> bool:
            return False

    spec = TrainingSpec(ModelConfig(), TrainConfig(seed=3), "run", dev_limit=20)
    if case.startswith("folder"):
        spec.folder = _thucnews(tmp_path / "thucnews", dev=case == "folder_dev")
    else:
        spec.train_data = _data(80, 4)
        spec.dev_data = _data(40, 5) if case == "upload_dev" else None
    _, dev, _ = job_data(Job(), spec)
    _, rebuilt, _ = run_datasets(spec.folder, spec.train_data, spec.dev_data,
                                 seed=spec.train_config.seed, dev_limit=spec.dev_limit,
                                 need_train=False)
    assert (rebuilt.texts, rebuilt.labels, rebuilt.classes) == (dev.texts, dev.labels,
                                                                dev.classes)
    assert 0 < len(rebuilt) <= 20
    with pytest.raises(RnnVizError, match="no training data"):
        run_datasets(None, None, None, seed=0)


def test_the_dev_file_is_found_in_the_data_directory(tmp_path: Path) -> None:
    assert thucnews_dev_file([tmp_path]) is None
    _thucnews(tmp_path / "thucnews", dev=True)
    assert thucnews_dev_file([tmp_path]) == tmp_path / "thucnews" / "dev.txt"


def test_uploaded_labelled_files_in_both_formats() -> None:
    classes = ["finance", "sports", "game"]
    # THUCNews format without class.txt: ids are the model's classes; a bad line is listed.
    data, report = load_labelled_upload("股市上涨\t0\n球队进球\t1\n坏行\n".encode(), "u.txt",
                                        classes)
    assert data.labels == [0, 1] and data.classes == classes
    assert report.issues_total == 1 and report.issues[0].line == 3
    # With its own class.txt in another order: put in the model's order.
    data, _ = load_labelled_upload("股市上涨\t1\n".encode(), "u.txt", classes,
                                   b"sports\nfinance\ngame\n")
    assert data.labels == [0]
    # cnews: label names, THUCNews's in Chinese too.
    data, _ = load_labelled_upload("体育\t国足进球\ngame\t新版本上线\n".encode(), "c.txt", classes)
    assert [data.classes[y] for y in data.labels] == ["sports", "game"]
    with pytest.raises(RnnVizError, match="c.txt: the data's classes"):
        load_labelled_upload("天气\t明天下雨\n体育\t进球\n".encode(), "c.txt", classes)
    with pytest.raises(RnnVizError, match="cannot tell the format"):
        load_labelled_upload(b"just text\n", "x.txt", classes)


def test_the_most_common_confusion_is_the_largest_off_diagonal_cell() -> None:
    from rnnviz.core.mistakes import most_common_confusion

    assert most_common_confusion(np.array([[9, 1, 3], [3, 9, 0], [0, 2, 9]])) == (0, 2)
    assert most_common_confusion(np.diag([5, 5, 5])) is None  # no mistakes
