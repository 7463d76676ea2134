"""Benchmark: the course's Text-RNN against ours, one change at a time.

    python bench/ablation.py [--epochs 5] [--threads 2] [--train-limit N] [--dev-limit N]
                             [--rungs course max_pool ...] [--out assets/benchmarks/ablation.json]

Trains each rung of rnnviz.lessons.ablation.RUNGS with the same loop, data, training settings
and seed, in this order:
  course         the course notes' model (gaussic's TRNNConfig): 2-layer GRU 128, embedding
                 64, last step, FC 128 - ReLU - FC, dropout 0.2
  max_pool       + max pooling over the real positions
  bidirectional  + a backward direction
  bigrams        + character-bigram embeddings
  ours           the shipped Text-RNN (ModelConfig's defaults: 2-layer BiLSTM, embedding
                 128 + bigram 64, max pooling, one linear layer)
then prints each rung's best dev accuracy, macro F1, parameters and time, and writes the JSON
the Text-RNN page reads (its figures come from this file, never typed in). Training settings:
TrainConfig's defaults (5 epochs, Adam 3e-3 with warm-up and cosine decay, label smoothing 0.1,
batch 128 with length bucketing, patience 2) plus the course's vocabulary cap of 5000 and the
shipped bigram cap of 18000. Data: $RNNVIZ_DATA_DIR (or ../shared/data)/thucnews. A benchmark,
not a test: it never asserts.
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
from rnnviz.lessons.ablation import (  # noqa: E402
    LADDER_FILE,
    RUNG_KEYS,
    ladder_training,
    run_ladder,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_split_arguments(parser)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu", help="cpu (default) or auto / cuda")
    parser.add_argument("--rungs", nargs="+", default=list(RUNG_KEYS), choices=RUNG_KEYS)
    parser.add_argument("--out", type=Path, default=LADDER_FILE,
                        help="the JSON the page reads (default: %(default)s)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    root, train_set, dev_set = load_splits(args)
    train_config = ladder_training(epochs=args.epochs, seed=args.seed, device=args.device)
    print(f"data {root}: train {len(train_set)}, dev {len(dev_set)}; epochs {args.epochs}, "
          f"seed {args.seed}, threads {torch.get_num_threads()}, device {args.device}, torch "
          f"{torch.__version__}", flush=True)
    keys = [k for k in RUNG_KEYS if k in args.rungs]
    results = run_ladder(train_set, dev_set, train_config, keys,
                         progress=lambda line: print("  " + line, flush=True))
    results.update({
        "command": "python bench/ablation.py " + shlex.join(sys.argv[1:]),
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "threads": torch.get_num_threads(),
                    "torch": torch.__version__, "python": platform.python_version()},
    })
    print(f"{'rung':<15}{'dev acc':>9}{'gain':>8}{'macro F1':>10}{'params':>12}{'seconds':>9}")
    previous = None
    for r in results["rungs"]:
        gain = "" if previous is None else f"{100 * (r['accuracy'] - previous):+.2f}"
        print(f"{r['key']:<15}{r['accuracy']:>9.4f}{gain:>8}{r['macro_f1']:>10.4f}"
              f"{r['params']:>12,}{r['seconds']:>9.1f}")
        previous = r["accuracy"]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_json(args.out, results)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
