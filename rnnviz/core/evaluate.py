"""Score a checkpoint on a labelled file: read the file in either format, put its labels in the
checkpoint's class order, and evaluate the model on it (``python -m rnnviz evaluate``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from rnnviz.core.checkpoint import Checkpoint
from rnnviz.core.data import CLASS_FILE, Dataset, detect_format, load_dataset
from rnnviz.core.metrics import EvalReport
from rnnviz.core.text import make_tokenizer
from rnnviz.core.train import encode_corpus, evaluate_batches, make_batches, resolve_device
from rnnviz.errors import RnnVizError


def align_classes(dataset: Dataset, classes: Sequence[str]) -> Dataset:
    """The dataset with its label ids renumbered to the checkpoint's class order.

    Every class the data declares must be one the model knows (a subset is fine: a file
    holding only some classes).
    """
    index = {c: i for i, c in enumerate(classes)}
    unknown = [c for c in dataset.classes if c not in index]
    if unknown:
        raise RnnVizError(
            f"the data's classes {unknown} are not the checkpoint's classes {list(classes)}",
            where=dataset.source,
        )
    labels = [index[dataset.classes[y]] for y in dataset.labels]
    return Dataset(dataset.texts, labels, list(classes), dataset.source)


def load_eval_data(path: Path, checkpoint: Checkpoint, classes_file: Path | None,
                   note: Callable[[str], None] | None = None) -> Dataset:
    """A labelled file in either format, strictly (a bad line or unknown label is an error),
    with its labels in the checkpoint's class order. ``note`` hears what was assumed."""
    fmt = detect_format(path)
    classes: Any = classes_file
    if classes is None:
        beside = path.parent / CLASS_FILE
        if fmt == "cnews" or not beside.is_file():
            # cnews labels are names: check them against the model's; a THUCNews file with
            # no class.txt is read with the model's own id -> name list.
            classes = list(checkpoint.classes)
            if fmt == "thucnews" and note is not None:
                note(f"note: no {CLASS_FILE} beside {path}: label ids read as the checkpoint's "
                     f"classes {classes}")
        else:
            classes = beside
    dataset, _ = load_dataset(path, classes=classes, fmt=fmt, strict=True)
    return align_classes(dataset, checkpoint.classes)


def evaluate_checkpoint(checkpoint: Checkpoint, dataset: Dataset, device: str = "auto",
                        batch_size: int = 256) -> EvalReport:
    """Score ``checkpoint`` on ``dataset`` (labels in the checkpoint's class order).

    Texts are read as at prediction time: the first ``config.max_len`` tokens.
    """
    dev = resolve_device(device)
    config = checkpoint.config
    tokenizer = make_tokenizer(config.tokenizer)
    ids = encode_corpus(dataset.texts, tokenizer, checkpoint.vocab, config.max_len)
    batches = make_batches(ids, dataset.labels, batch_size, shuffle=False, bucket=True)
    model = checkpoint.model.to(dev)
    try:
        return evaluate_batches(model, batches, list(checkpoint.classes), dev)
    finally:
        model.cpu()


__all__ = ["align_classes", "evaluate_checkpoint", "load_eval_data"]
