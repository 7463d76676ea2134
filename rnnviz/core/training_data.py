"""The data a training run in the app uses: an uploaded file parsed, a random sample of a
quick run, a dev set held out when none was given, and the check that a classifier can learn
from it."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from rnnviz.core.classes import THUCNEWS_CLASSES
from rnnviz.core.data import (
    Dataset,
    LoadReport,
    detect_format,
    load_dataset_bytes,
    load_split,
    thucnews_folder,
)
from rnnviz.errors import RnnVizError


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
        raise RnnVizError("need at least 2 examples to hold some out as a dev set",
                          where=dataset.source)
    order = np.random.default_rng(seed).permutation(len(dataset)).tolist()
    k = min(len(dataset) - 1, max(1, round(len(dataset) * fraction)))
    return dataset.take(sorted(order[k:])), dataset.take(sorted(order[:k]))


def run_datasets(folder: str | os.PathLike[str] | None, train_data: Dataset | None,
                 dev_data: Dataset | None, *, seed: int, train_limit: int = 0,
                 dev_limit: int = 0, need_train: bool = True
                 ) -> tuple[Dataset | None, Dataset, str]:
    """(train, dev, source) of a training run of the app: a THUCNews folder's train.txt and
    dev.txt, or an upload's files; without a dev set, a random tenth of the training data held
    out; then ``train_limit`` / ``dev_limit`` examples drawn with ``seed``.

    The training job reads its data through here, and the error page rebuilds a run's dev set
    through here (``need_train=False`` skips reading train.txt when dev.txt exists), so both
    see the same titles in the same order.
    """
    if folder is not None:
        dev = load_split(folder, "dev")[0] if thucnews_folder(folder, "dev.txt") else None
        train = load_split(folder, "train")[0] if need_train or dev is None else None
        source = str(folder)
    elif train_data is not None:
        train, dev, source = train_data, dev_data, train_data.source
    else:
        raise RnnVizError("no training data chosen")
    if dev is None:
        train, dev = split_dev(train, 0.1, seed)
    train = sample(train, train_limit, seed) if train is not None and need_train else None
    return train, sample(dev, dev_limit, seed), source


def check_trainable(dataset: Dataset) -> None:
    """Refuse data a classifier cannot learn from: fewer than two classes present."""
    present = sum(1 for c in dataset.class_counts() if c)
    if present < 2:
        raise RnnVizError(f"the training data holds {present} class(es); a classifier needs at "
                          "least two", where=dataset.source)


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
    fmt = detect_format(train_bytes, train_name)
    assumed = fmt == "thucnews" and classes_bytes is None
    classes: Any = classes_bytes
    if assumed:
        classes = list(THUCNEWS_CLASSES)
    train_set, report = load_dataset_bytes(train_bytes, train_name, classes=classes, fmt=fmt)
    check_trainable(train_set)
    reports, dev_set = [report], None
    if dev_bytes is not None:
        dev_set, dev_report = load_dataset_bytes(dev_bytes, dev_name, classes=train_set.classes,
                                                 fmt=detect_format(dev_bytes, dev_name))
        reports.append(dev_report)
    return Upload(train_set, dev_set, reports, assumed)


__all__ = ["Upload", "check_trainable", "parse_upload", "sample", "split_dev"]
