"""What a classifier gets wrong on a labelled set: every title's class probabilities, the
confusion matrix recounted from them, the titles behind one cell, and each class's hardest titles.

``predict_dataset`` runs the model once over the whole set (batched by length, under
``torch.inference_mode``) and keeps the probabilities as an (N, C) array; everything after that
is array indexing, so a page can cache one ``DatasetPredictions`` per (model, data) and answer
every cell change from it. Fingerprints (``model_fingerprint``, ``dataset_fingerprint``) name a
model and a data set by content, which is what such a process-wide cache needs as its key.

Not ``errors.py``: that module holds the package's exception type.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from rnnviz import paths
from rnnviz.core.classes import CLASS_NAMES_ZH
from rnnviz.core.data import (
    CLASS_FILE,
    Dataset,
    LoadReport,
    detect_format,
    load_dataset_bytes,
    parse_classes,
    thucnews_folder,
)
from rnnviz.core.evaluate import align_classes
from rnnviz.core.metrics import EvalReport, classification_report
from rnnviz.core.predict import Predictor
from rnnviz.core.text import PAD_ID, UNK_ID, encode_text
from rnnviz.errors import RnnVizError

# The two orders a cell's titles can be listed in, each a stated key.
ORDERS = ("p_pred_desc", "p_true_asc")


@dataclass(frozen=True)
class DatasetPredictions:
    """A model's class probabilities for every readable title of a labelled set.

    Row i is the title ``texts[i]``, line ``source_index[i]`` of the data set. Arrays are
    read-only: one object is shared by every session that looks at the same model and data.
    """

    texts: tuple[str, ...]
    source_index: np.ndarray  # (N,) int64: the title's index in the data set
    y_true: np.ndarray  # (N,) int64, in the model's class order
    probs: np.ndarray  # (N, C) float32 softmax probabilities
    classes: tuple[str, ...]
    all_unknown: np.ndarray  # (N,) bool: every token of the title was read as <UNK>
    skipped: int  # titles with nothing readable (only spaces or control characters)
    loss: float  # mean cross-entropy over the N titles
    seconds: float  # what the predictions cost

    @property
    def n(self) -> int:
        return len(self.texts)

    @property
    def y_pred(self) -> np.ndarray:
        """(N,) the predicted class: the most probable (the first one on a tie, as argmax)."""
        return self.probs.argmax(axis=1)

    def confusion(self) -> np.ndarray:
        """(C, C) int64 counts: rows = true class, columns = predicted class."""
        C = len(self.classes)
        cm = np.zeros((C, C), dtype=np.int64)
        np.add.at(cm, (self.y_true, self.y_pred), 1)
        return cm

    def report(self) -> EvalReport:
        """Accuracy, per-class scores and the confusion matrix of these predictions."""
        return classification_report(self.y_true, self.y_pred, list(self.classes),
                                     loss=self.loss, seconds=self.seconds)


@dataclass(frozen=True)
class Example:
    """One title with what the model made of it."""

    row: int  # index into the DatasetPredictions
    text: str
    true: int
    pred: int
    p_true: float  # probability of the true class
    p_pred: float  # probability of the predicted class (the largest)
    all_unknown: bool


def _readonly(a: np.ndarray) -> np.ndarray:
    a.setflags(write=False)
    return a


def predict_dataset(predictor: Predictor, dataset: Dataset,
                    batch_size: int = 256) -> DatasetPredictions:
    """Class probabilities for every title of ``dataset`` (its labels put in the model's class
    order first; data whose classes the model does not know is refused with RnnVizError).

    Titles are batched by length (little padding; the model packs each batch to its lengths)
    and read as the predictor reads a typed text: the first ``max_len`` tokens. Titles with
    nothing readable are left out and counted in ``skipped``. Thread-safe: the shared model is
    only read, under ``torch.inference_mode``.
    """
    if batch_size < 1:
        raise RnnVizError("batch_size must be at least 1", where="batch_size")
    if len(dataset) == 0:
        raise RnnVizError("the data holds no titles", where=dataset.source)
    start = time.perf_counter()
    data = align_classes(dataset, predictor.classes)
    config = predictor.config
    kept: list[int] = []
    ids: list[list[int]] = []
    for i, text in enumerate(data.texts):
        try:
            encoded = encode_text(text, predictor.tokenizer, predictor.vocab, config.max_len)
        except RnnVizError:
            continue  # nothing readable: counted in ``skipped``
        kept.append(i)
        ids.append(encoded.ids)
    if not kept:
        raise RnnVizError("no title in the data has anything readable", where=dataset.source)
    n, C = len(kept), len(predictor.classes)
    probs = np.zeros((n, C), dtype=np.float32)
    y_true = np.array([data.labels[i] for i in kept], dtype=np.int64)
    log_p_true = np.zeros(n, dtype=np.float64)
    order = sorted(range(n), key=lambda r: len(ids[r]))
    with torch.inference_mode():
        for s in range(0, n, batch_size):
            rows = order[s : s + batch_size]
            lengths = torch.tensor([len(ids[r]) for r in rows])
            batch = torch.full((len(rows), int(lengths.max())), PAD_ID, dtype=torch.long)
            for j, r in enumerate(rows):
                batch[j, : len(ids[r])] = torch.tensor(ids[r])
            log_p = torch.log_softmax(predictor.model(batch, lengths).float(), dim=-1)
            index = torch.tensor(rows)
            probs[index.numpy()] = log_p.exp().numpy()
            log_p_true[index.numpy()] = log_p[torch.arange(len(rows)), torch.from_numpy(
                y_true[index.numpy()])].double().numpy()
    return DatasetPredictions(
        texts=tuple(data.texts[i] for i in kept),
        source_index=_readonly(np.array(kept, dtype=np.int64)),
        y_true=_readonly(y_true), probs=_readonly(probs), classes=tuple(predictor.classes),
        all_unknown=_readonly(np.array([all(t == UNK_ID for t in row) for row in ids])),
        skipped=len(data) - n, loss=float(-log_p_true.mean()),
        seconds=time.perf_counter() - start,
    )


def _example(preds: DatasetPredictions, row: int, y_pred: np.ndarray) -> Example:
    t, p = int(preds.y_true[row]), int(y_pred[row])
    return Example(row=row, text=preds.texts[row], true=t, pred=p,
                   p_true=float(preds.probs[row, t]), p_pred=float(preds.probs[row, p]),
                   all_unknown=bool(preds.all_unknown[row]))


def _check_class(preds: DatasetPredictions, c: int, what: str) -> None:
    if not 0 <= c < len(preds.classes):
        raise RnnVizError(f"class index {c} is outside 0..{len(preds.classes) - 1}", where=what)


def cell_examples(preds: DatasetPredictions, true: int, pred: int,
                  order: str = "p_pred_desc") -> list[Example]:
    """The titles of class ``true`` the model put in class ``pred`` (an off-diagonal cell: its
    mistakes; a diagonal one: its right answers). An empty list when the cell is empty.

    ``order``: "p_pred_desc" lists the most confident first (probability of the predicted
    class, highest first); "p_true_asc" the farthest from right first (probability of the true
    class, lowest first). Ties keep the data's order.
    """
    _check_class(preds, true, "true class")
    _check_class(preds, pred, "predicted class")
    if order not in ORDERS:
        raise RnnVizError(f"unknown order {order!r}; choose one of {', '.join(ORDERS)}",
                          where="order")
    y_pred = preds.y_pred
    rows = np.flatnonzero((preds.y_true == true) & (y_pred == pred))
    key = -preds.probs[rows, pred] if order == "p_pred_desc" else preds.probs[rows, true]
    rows = rows[np.argsort(key, kind="stable")]
    return [_example(preds, int(r), y_pred) for r in rows]


def hardest_examples(preds: DatasetPredictions, true: int, k: int = 10) -> list[Example]:
    """The ``k`` titles of class ``true`` whose true class the model found least probable
    (lowest first; ties keep the data's order). Some may still be right."""
    _check_class(preds, true, "true class")
    rows = np.flatnonzero(preds.y_true == true)
    rows = rows[np.argsort(preds.probs[rows, true], kind="stable")][: max(0, k)]
    y_pred = preds.y_pred
    return [_example(preds, int(r), y_pred) for r in rows]


def hardest_per_class(preds: DatasetPredictions, k: int = 10) -> dict[int, list[Example]]:
    """``hardest_examples`` for every class (a class absent from the data: an empty list)."""
    return {c: hardest_examples(preds, c, k) for c in range(len(preds.classes))}


def most_common_confusion(cm: np.ndarray) -> tuple[int, int] | None:
    """(true, predicted) of the off-diagonal cell with the most titles (the first in row order
    on a tie); None when there is no mistake."""
    off = np.array(cm, dtype=np.int64)
    np.fill_diagonal(off, -1)
    if off.max() <= 0:
        return None
    i, j = divmod(int(off.argmax()), off.shape[1])
    return i, j


@dataclass(frozen=True)
class ReportCheck:
    """How a recount compares with a stored report of the same data."""

    comparable: bool  # same classes and the same number of titles
    differing: int  # titles counted in another cell (half the L1 distance of the matrices)
    stored_n: int


def check_against_report(preds: DatasetPredictions, stored: EvalReport) -> ReportCheck:
    """Does the recount give the stored report's confusion matrix? (A stored report of other
    data, or other classes, is not comparable.)"""
    cm = preds.confusion()
    if list(stored.classes) != list(preds.classes) or stored.n != preds.n:
        return ReportCheck(False, 0, stored.n)
    other = np.asarray(stored.confusion_matrix, dtype=np.int64)
    return ReportCheck(True, int(np.abs(cm - other).sum()) // 2, stored.n)


# ---- names by content, for caches --------------------------------------------------------

_fingerprints: weakref.WeakKeyDictionary[Predictor, str] = weakref.WeakKeyDictionary()
_fingerprint_lock = threading.Lock()


def model_fingerprint(predictor: Predictor) -> str:
    """SHA-256 of the model's weights, configuration, vocabulary and classes: the same for two
    copies of one checkpoint, different for any other model. Computed once per predictor."""
    with _fingerprint_lock:
        known = _fingerprints.get(predictor)
    if known is not None:
        return known
    h = hashlib.sha256()
    h.update(repr(sorted(predictor.config.to_dict().items())).encode())
    h.update("\x00".join(predictor.classes).encode())
    h.update("\x00".join(predictor.vocab.itos).encode())
    for name, t in sorted(predictor.model.state_dict().items()):
        h.update(name.encode())
        h.update(t.detach().cpu().contiguous().numpy().tobytes())
    digest = h.hexdigest()
    with _fingerprint_lock:
        _fingerprints[predictor] = digest
    return digest


def dataset_fingerprint(dataset: Dataset) -> str:
    """SHA-256 of a data set's classes, titles and labels."""
    h = hashlib.sha256()
    h.update("\x00".join(dataset.classes).encode())
    h.update(b"\x01")
    h.update("\x00".join(dataset.texts).encode())
    h.update(np.asarray(dataset.labels, dtype=np.int64).tobytes())
    return h.hexdigest()


# ---- where the labelled titles come from --------------------------------------------------


def thucnews_dev_file(roots: Sequence[str | os.PathLike[str]] | None = None) -> Path | None:
    """THUCNews's dev.txt (with class.txt beside it) in the data directory or the download
    cache; None when there is none (a fresh machine)."""
    for root in roots if roots is not None else (paths.data_dir(), paths.download_dir()):
        folder = thucnews_folder(root, "dev.txt", CLASS_FILE)
        if folder is not None:
            return folder / "dev.txt"
    return None


def load_labelled_upload(data: bytes, name: str, model_classes: Sequence[str],
                         classes_bytes: bytes | None = None) -> tuple[Dataset, LoadReport]:
    """An uploaded labelled file in either training-page format, read leniently (bad lines
    skipped and listed in the report), with its labels in the model's class order.

    A THUCNews-format file (text<TAB>label id) without a class.txt reads its ids as the
    model's classes; a cnews file (label<TAB>text) names them (THUCNews's in Chinese too).
    """
    fmt = detect_format(data, name)
    if fmt == "cnews" and classes_bytes is None:
        dataset, report = load_dataset_bytes(data, name, fmt=fmt)  # classes: the names seen
        # A cnews file names THUCNews's classes in Chinese ("体育" for "sports"): take those too.
        by_chinese = {CLASS_NAMES_ZH.get(c, c): c for c in model_classes}
        renamed = [c if c in model_classes else by_chinese.get(c, c) for c in dataset.classes]
        dataset = Dataset(dataset.texts, dataset.labels, renamed, dataset.source)
    else:
        classes = (parse_classes(classes_bytes, CLASS_FILE) if classes_bytes is not None
                   else list(model_classes))
        dataset, report = load_dataset_bytes(data, name, classes=classes, fmt=fmt)
    return align_classes(dataset, model_classes), report


__all__ = [
    "ORDERS", "DatasetPredictions", "Example", "ReportCheck", "cell_examples",
    "check_against_report", "dataset_fingerprint", "hardest_examples", "hardest_per_class",
    "load_labelled_upload", "model_fingerprint", "most_common_confusion", "predict_dataset",
    "thucnews_dev_file",
]
