"""Benchmark: how long the memory-network page's training makes a class wait.

    python bench/memnet_training.py [--steps 1000] [--langs zh en] [--seeds 0] [--threads 1]
                                    [--lstm-lr 0.001]

For each language and seed, with the page's settings (rnnviz.lessons.memnet.MemNetConfig
defaults, K = 3 hops, each model at its own learning rate; --steps overrides the budget,
--lstm-lr the LSTM's rate), times
  memnet    - the memory network alone (train_comparison with models=("memnet",));
  lstm      - the LSTM alone, on the same batches;
  both      - the page's run: both models in lockstep, then the held-out sweep;
  job       - the same run as the page starts it: run_in_subprocess(train_job) from a fresh
              spawned interpreter (torch imported there first), as ui.jobs' worker thread does;
and prints the wall time, the CPU time it used (this process's, or the child's for "job":
what the wall time is on a quiet core), the wall time per training step, and the held-out
accuracy by kind of question (pooled over the swept story lengths) and at the longest stories.
The load average is printed first: on a shared machine the wall times grow with it. A
benchmark, not a test: it never asserts.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from rnnviz.jobs.process import run_in_subprocess  # noqa: E402
from rnnviz.lessons.memnet import (  # noqa: E402
    KINDS,
    MemNetConfig,
    MemNetResult,
    train_comparison,
    train_job,
)


class _Quiet:
    """A job that takes progress and never stops (what ui.jobs' Job offers the worker)."""

    def update(self, **fields: object) -> None:
        pass

    def should_stop(self) -> bool:
        return False


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _report(label: str, seconds: float, cpu: float, result: MemNetResult) -> None:
    per_step = 1000 * result.elapsed_s / max(1, result.steps_done)
    parts = [f"{label:7s} {seconds:6.1f} s wall  {cpu:6.1f} s CPU  "
             f"{per_step:5.1f} ms/step wall (training + sweep)"]
    for name in result.state:
        longest = max(result.config.eval_lengths)
        acc = "  ".join(f"{kind} {result.accuracy(name, kind):.1%} "
                        f"(@{longest}: {result.sweep[name][kind][longest]:.0%})" for kind in KINDS)
        parts.append(f"    {name:6s} params {result.params[name]:6d}  held-out {acc}")
    print("\n".join(parts), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=MemNetConfig().steps)
    parser.add_argument("--langs", nargs="+", default=["zh", "en"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--threads", type=int, default=1, help="torch threads (the app uses 1)")
    parser.add_argument("--skip-job", action="store_true", help="leave out the child-process run")
    parser.add_argument("--lstm-lr", type=float, default=MemNetConfig().lstm_lr,
                        help="the LSTM's Adam learning rate (the page's default)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores; "
          f"{args.threads} torch thread(s); {args.steps} steps", flush=True)
    for lang in args.langs:
        for seed in args.seeds:
            config = MemNetConfig(lang=lang, seed=seed, steps=args.steps, lstm_lr=args.lstm_lr)
            print(f"\n== {lang}, seed {seed}, {config.hops} hops, batch {config.batch_size}, "
                  f"stories {config.min_sentences}-{config.max_sentences} sentences, "
                  f"Adam lr memnet {config.memnet_lr:g} / lstm {config.lstm_lr:g}", flush=True)
            for label, models in (("memnet", ("memnet",)), ("lstm", ("lstm",)),
                                  ("both", ("memnet", "lstm"))):
                start, cpu = time.perf_counter(), time.process_time()
                result = train_comparison(MemNetConfig(lang=lang, seed=seed, steps=args.steps,
                                                       lstm_lr=args.lstm_lr, models=models))
                _report(label, time.perf_counter() - start, time.process_time() - cpu, result)
            if not args.skip_job:
                start, cpu = time.perf_counter(), _children_cpu()
                result = run_in_subprocess(_Quiet(), train_job, config, threads=args.threads)
                _report("job", time.perf_counter() - start, _children_cpu() - cpu, result)


if __name__ == "__main__":
    main()
