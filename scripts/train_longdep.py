"""Train the long-dependency models the app ships (assets/models/longdep/T<T>.safetensors).

    python scripts/train_longdep.py                 # every length in LENGTHS
    python scripts/train_longdep.py --lengths 10 60 # some of them

For each T: an RNN, an LSTM and a GRU trained with the page's recipe from each seed of
RECIPE.seeds (rnnviz/lessons/longdep_models.py); per cell the run with the median validation
accuracy is kept and its held-out accuracy recorded in the file. One torch thread: the same
command gives the same files on the same torch version.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rnnviz.lessons.longdep_models import (  # noqa: E402
    LENGTHS,
    LONGDEP_DIR,
    RECIPE,
    path_for,
    save_set,
    train_shipped,
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lengths", type=int, nargs="+", default=list(LENGTHS),
                        choices=LENGTHS, help="sequence lengths T to train (default: all)")
    parser.add_argument("--out-dir", type=Path, default=LONGDEP_DIR)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    for length in args.lengths:
        start = time.monotonic()
        trained = train_shipped(length, RECIPE, log=print)
        trained.info["seconds"] = round(time.monotonic() - start, 1)
        trained.info["created"] = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
        path = save_set(trained, path_for(length, args.out_dir))
        shown = ", ".join(f"{k} {a:.3f}" for k, a in trained.accuracy.items())
        print(f"T={length}: held-out accuracy {shown}; {path} ({path.stat().st_size} bytes, "
              f"{trained.info['seconds']} s)", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
