"""Benchmark: training samples/s by device and by number of processes (torchrun + DDP).

    python bench/train_scale.py                                   # CPU: 1 process x 1 thread,
                                                                  # 1 x 2 threads, 2 x 1 thread
    python bench/train_scale.py --devices cpu cuda --layouts 1x1  # CPU vs GPU (bench/gpu_check.sh)

Each run is the real command line: ``python -m rnnviz train`` for one process, ``python -m
torch.distributed.run --standalone --nproc-per-node P -m rnnviz train`` for P > 1, with the
shipped model settings, the same *global* batch (``--global-batch``, split evenly between the
processes: the same optimisation, only spread out) and ``--steps`` steps on the training split
alone (no dev set, so no evaluation pauses a run). samples/s = examples trained per second
between the first and the last progress record of the run's history (its first
``--steps``/``RECORDS`` steps, start-up, tokenising and vocabulary are left out).

A layout ``PxT`` is P processes with T torch threads each: on a 2-core machine ``1x2`` and
``2x1`` use the same cores, so the table says what DDP buys over intra-op threads there.
Data: THUCNews from ``--data-dir`` / $RNNVIZ_DATA_DIR, or ``--synthetic N`` titles drawn like
THUCNews's (10-30 characters from 5,000, ten classes) where the data is absent. A benchmark,
not a test: it never asserts; ``--json FILE`` keeps the table.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rnnviz.core.checkpoint import load_checkpoint  # noqa: E402
from rnnviz.core.data import find_thucnews, thucnews_folder  # noqa: E402
from rnnviz.paths import data_dir  # noqa: E402

RECORDS = 6  # progress records per run; the first window is the warm-up, left out


def layout(text: str) -> tuple[int, int]:
    try:
        processes, threads = (int(x) for x in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"a layout is PROCESSESxTHREADS, got {text!r}") from None
    if processes < 1 or threads < 1:
        raise argparse.ArgumentTypeError(f"a layout needs at least 1x1, got {text!r}")
    return processes, threads


def training_folder(args: argparse.Namespace, scratch: Path) -> tuple[Path, str]:
    """A folder holding train.txt and class.txt only (no dev.txt: no evaluation pauses)."""
    folder = scratch / "data"
    folder.mkdir()
    if args.synthetic:
        rng = random.Random(0)
        chars = [chr(0x4E00 + i) for i in range(5000)]
        (folder / "class.txt").write_text("\n".join(f"c{i}" for i in range(10)) + "\n",
                                          encoding="utf-8")
        lines = ("".join(rng.choices(chars, k=rng.randint(10, 30))) + f"\t{rng.randrange(10)}\n"
                 for _ in range(args.synthetic))
        (folder / "train.txt").write_text("".join(lines), encoding="utf-8")
        return folder, f"synthetic ({args.synthetic} random titles)"
    root = args.data_dir or find_thucnews() or data_dir()
    source = thucnews_folder(root, "train.txt", "class.txt")
    if source is None:
        sys.exit(f"no THUCNews train.txt under {root}: pass --data-dir, or --synthetic N")
    for name in ("train.txt", "class.txt"):
        (folder / name).symlink_to((source / name).resolve())
    return folder, str(source)


def run_one(model: str, device: str, processes: int, threads: int, args: argparse.Namespace,
            folder: Path, scratch: Path) -> dict:
    batch = max(1, args.global_batch // processes)
    out = scratch / f"{model}-{device}-{processes}x{threads}.safetensors"
    train = ["train", "--model", model, "--data-dir", str(folder), "--device", device,
             "--batch-size", str(batch), "--max-steps", str(args.steps),
             "--eval-every", str(max(1, args.steps // RECORDS)), "--threads", str(threads),
             "--quiet", "--out", str(out)]
    if model == "textrnn":
        train += ["--max-bigrams", "18000"]  # as shipped (README)
    if args.train_limit:
        train += ["--train-limit", str(args.train_limit)]
    if processes == 1:
        command = [sys.executable, "-m", "rnnviz", *train]
    else:
        command = [sys.executable, "-m", "torch.distributed.run", "--standalone",
                   "--nproc-per-node", str(processes), "-m", "rnnviz", *train]
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "PYTHONIOENCODING": "utf-8"}
    started = time.perf_counter()
    proc = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    row = {"model": model, "device": device, "processes": processes, "threads": threads,
           "batch_per_process": batch, "global_batch": batch * processes, "wall_s": round(wall, 1)}
    if proc.returncode != 0:
        tail = " | ".join(proc.stderr.strip().splitlines()[-3:])
        return {**row, "error": f"exit {proc.returncode}: {tail}"}
    history = load_checkpoint(out).history
    first, last = history[0], history[-1]
    steps = last["step"] - first["step"]
    seconds = last["elapsed_s"] - first["elapsed_s"]
    return {**row, "steps": steps, "seconds": round(seconds, 2),
            "samples_per_s": round(steps * batch * processes / max(seconds, 1e-9), 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", nargs="+", default=["cpu"], choices=["cpu", "cuda"])
    parser.add_argument("--layouts", nargs="+", type=layout, default=[(1, 1), (1, 2), (2, 1)],
                        metavar="PxT", help="processes x threads each (default: 1x1 1x2 2x1)")
    parser.add_argument("--models", nargs="+", default=["textrnn", "textrcnn"],
                        choices=["textrnn", "textrcnn"])
    parser.add_argument("--global-batch", type=int, default=128, help="as shipped: 128")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--train-limit", type=int, default=0, help="first N titles (0 = all)")
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--synthetic", type=int, default=0, metavar="N",
                        help="N random titles instead of THUCNews")
    parser.add_argument("--json", type=Path, default=None, help="also write the rows here")
    args = parser.parse_args()

    import torch

    with tempfile.TemporaryDirectory(prefix="train_scale_") as tmp:
        scratch = Path(tmp)
        folder, source = training_folder(args, scratch)
        print(f"data {source}; {args.steps} steps, global batch {args.global_batch}; "
              f"{os.cpu_count()} CPUs, torch {torch.__version__}, "
              f"GPUs {torch.cuda.device_count() if torch.cuda.is_available() else 0}",
              flush=True)
        rows = []
        for model in args.models:
            for device in args.devices:
                for processes, threads in args.layouts:
                    row = run_one(model, device, processes, threads, args, folder, scratch)
                    rows.append(row)
                    print(f"  {model:<9}{device:<5}{processes}x{threads}: "
                          f"{row.get('samples_per_s', row.get('error'))}", flush=True)

    base: dict[str, float] = {}
    print(f"{'model':<10}{'device':<7}{'procs x threads':>16}{'batch/proc':>11}"
          f"{'samples/s':>11}{'x first':>9}{'wall s':>8}")
    for row in rows:
        rate = row.get("samples_per_s")
        first = base.setdefault(row["model"], rate or 0.0)
        ratio = f"{rate / first:.2f}" if rate and first else "-"
        shown = f"{rate:.0f}" if rate else "failed"
        print(f"{row['model']:<10}{row['device']:<7}{row['processes']:>10} x {row['threads']:<3}"
              f"{row['batch_per_process']:>11}{shown:>11}{ratio:>9}{row['wall_s']:>8}")
        if "error" in row:
            print(f"    {row['error']}")
    print("samples/s: examples trained per second after the first window (start-up, data and "
          "warm-up left out); 'x first': against the model's first row. On a shared machine "
          "these figures are provisional: rerun in a quiet window.")
    if args.json:
        args.json.write_text(json.dumps({"source": source, "steps": args.steps,
                                         "global_batch": args.global_batch, "rows": rows},
                                        indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
