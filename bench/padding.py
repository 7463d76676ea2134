"""Benchmark: what padding at the end costs. The same small model trained three ways.

    python bench/padding.py [--epochs 10] [--threads 2] [--train-limit N] [--dev-limit N]
                            [--out assets/benchmarks/padding.json]

One bidirectional LSTM (rnnviz.lessons.padding.Recipe: embedding 64, hidden 64, one layer, a
linear layer on what it reads last, Adam 1e-3, batch 128, titles cut to 32 characters, 10
epochs, the best dev epoch kept) is trained on THUCNews three times from the same initial
weights and the same batch order:
  post    titles padded at the end to 32, classified from out[:, -1] (the field's TextRNN);
  pre     titles padded at the front to 32, classified from out[:, -1] (Keras' default);
  packed  pack_padded_sequence, classified from h_n (what rnnviz's models do).
It prints each run's dev accuracy per epoch and the best, and writes the JSON the padding page
reads (the figures on the page come from this file, never typed in). Data:
$RNNVIZ_DATA_DIR (or ../shared/data)/thucnews. A benchmark, not a test: it never asserts.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import shlex
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402
from splits import add_split_arguments, load_splits  # noqa: E402

from rnnviz.core.jsonfile import write_json  # noqa: E402
from rnnviz.lessons.padding import RESULTS_FILE, Recipe, compare_schemes  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_split_arguments(parser)
    parser.add_argument("--epochs", type=int, default=Recipe.epochs)
    parser.add_argument("--seed", type=int, default=Recipe.seed)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=RESULTS_FILE,
                        help="the JSON the page reads (default: %(default)s)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    root, train_set, dev_set = load_splits(args)
    recipe = Recipe(epochs=args.epochs, seed=args.seed)
    print(f"data {root}: train {len(train_set)}, dev {len(dev_set)}; {recipe}; threads "
          f"{torch.get_num_threads()}, torch {torch.__version__}", flush=True)
    results = compare_schemes(recipe, train_set.texts, train_set.labels, dev_set.texts,
                              dev_set.labels, len(train_set.classes),
                              progress=lambda line: print("  " + line, flush=True))
    results.update({
        "command": "python bench/padding.py " + shlex.join(sys.argv[1:]),
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "threads": torch.get_num_threads(),
                    "torch": torch.__version__, "python": platform.python_version()},
    })
    print(f"{'scheme':<8}{'best dev':>10}{'epoch':>7}{'seconds':>9}  dev accuracy per epoch")
    for scheme, run in results["runs"].items():
        per_epoch = " ".join(f"{a:.4f}" for a in run["history"])
        print(f"{scheme:<8}{run['dev_accuracy']:>10.4f}{run['best_epoch']:>7}"
              f"{run['seconds']:>9.1f}  {per_epoch}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_json(args.out, results)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
