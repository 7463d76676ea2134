"""The THUCNews flags the training benchmarks share (--data-dir, --train-limit, --dev-limit)
and the train and dev sets they name, drawn by the app's own rule (run_datasets)."""

from __future__ import annotations

import argparse
from pathlib import Path

from rnnviz.core.data import Dataset
from rnnviz.core.training_data import run_datasets
from rnnviz.paths import data_dir


def add_split_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", type=Path, default=None, help="default: $RNNVIZ_DATA_DIR")
    parser.add_argument("--train-limit", type=int, default=0,
                        help="N training titles drawn with --seed (0 = all)")
    parser.add_argument("--dev-limit", type=int, default=0,
                        help="N dev titles drawn with --seed (0 = all)")


def load_splits(args: argparse.Namespace) -> tuple[Path, Dataset, Dataset]:
    """(the data folder, train, dev) as the flags name them; ``args.seed`` draws the limits."""
    root = args.data_dir or data_dir()
    train_set, dev_set, _ = run_datasets(root, None, None, seed=args.seed,
                                         train_limit=args.train_limit, dev_limit=args.dev_limit)
    assert train_set is not None  # need_train: always read
    return Path(root), train_set, dev_set
